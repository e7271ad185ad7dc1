// The chat widget in a real Chromium: send, acknowledgement, typing indicator, agent
// reply, history after a reload, and a server crash with a message typed while offline
// (reconnect with back-off; the message is stored exactly once).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SHOTS, Server, freePort, launch, until } from "./lib.mjs";

test("the widget chats, restores history, and survives a server crash", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sb-browser-"));
  const profile = mkdtempSync(join(tmpdir(), "sb-profile-"));
  const server = new Server(await freePort(), dir);
  await server.start();
  const token = JSON.parse(server.cli("user", "add", "--email", "ana@example.com", "--role", "support")).token;
  const context = await launch(profile, { width: 390, height: 844 }); // a phone
  try {
    const page = context.pages()[0] || (await context.newPage());
    const errors = [];
    page.on("pageerror", (e) => errors.push(e));
    await page.goto(`${server.base}/chat`);
    await page.getByTestId("sb-launcher").click();
    await page.getByTestId("sb-status").filter({ hasText: "online" }).waitFor();

    // Send; the bubble loses its pending look once the server acknowledges it.
    await page.getByTestId("sb-input").fill("My printer shows E-302");
    await page.getByTestId("sb-input").press("Enter");
    await page.locator(".sb-msg.sb-you:not(.sb-pending)", { hasText: "E-302" }).waitFor();
    const cookie = (await context.cookies()).find((c) => c.name === "sb_visitor");
    assert.ok(cookie && cookie.value.length >= 16, "visitor id kept in a cookie");

    // The agent sees it, types, and replies.
    const conv = await until(async () => (await server.api(token, "/conversations")).conversations[0]);
    await server.api(token, `/conversations/${conv.id}/typing`, { on: true });
    await page.getByTestId("sb-typing").filter({ hasText: "typing" }).waitFor();
    await server.api(token, `/conversations/${conv.id}/messages`, { text: "Looking into it now" });
    await page.locator(".sb-msg.sb-agent", { hasText: "Looking into it now" }).waitFor();
    assert.equal(await page.getByTestId("sb-typing").textContent(), "");

    // Reload: the same visitor, the same history, in order.
    await page.reload();
    await page.getByTestId("sb-launcher").click();
    await page.locator(".sb-msg.sb-agent", { hasText: "Looking into it now" }).waitFor();
    const texts = await page.getByTestId("sb-msg").allTextContents();
    assert.deepEqual(texts, ["My printer shows E-302", "Looking into it now"]);

    // The server dies; the visitor writes anyway; the server comes back.
    server.kill9();
    await page.getByTestId("sb-status").filter({ hasText: /offline|reconnecting/ }).waitFor();
    await page.getByTestId("sb-input").fill("Are you still there?");
    await page.getByTestId("sb-send").click();
    await page.locator(".sb-msg.sb-pending", { hasText: "still there" }).waitFor();
    await server.start();
    await page.locator(".sb-msg.sb-you:not(.sb-pending)", { hasText: "still there" }).waitFor({ timeout: 30000 });
    const thread = await until(async () => {
      const t = (await server.api(token, `/conversations/${conv.id}`)).messages;
      return t.length === 3 ? t : null;
    });
    assert.deepEqual(thread.map((m) => m.text), ["My printer shows E-302", "Looking into it now", "Are you still there?"]);
    // Nothing was stored twice, and the widget shows each message once.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await server.api(token, `/conversations/${conv.id}`)).messages.length, 3);
    assert.equal(await page.getByTestId("sb-msg").count(), 3);
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, "widget-phone.png") });
    await page.setViewportSize({ width: 1366, height: 850 });
    await page.locator(".sb-msg.sb-agent", { hasText: "Looking into it now" }).waitFor();
    await page.screenshot({ path: join(SHOTS, "widget-desktop.png") });
    assert.deepEqual(errors, [], "no script errors on the page");
  } finally {
    await context.close();
    server.kill9();
    rmSync(profile, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
