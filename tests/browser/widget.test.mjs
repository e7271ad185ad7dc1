// The chat widget in a real Chromium: send, acknowledgement, typing indicator, agent
// reply, history after a reload, and a server crash with a message typed while offline
// (reconnect with back-off; the message is stored exactly once).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import net from "node:net";
import { chromium } from "playwright-core";

const BIN = process.env.SB_BIN;
// Pictures of every page at phone and desktop width, to look at after a run.
const SHOTS = process.env.SB_SCREENSHOTS || fileURLToPath(new URL("../../target/screenshots/", import.meta.url));
assert.ok(BIN, "SB_BIN must point at the switchboard binary");

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

async function until(check, ms = 15000) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`condition not met: ${last}`);
}

class Server {
  constructor(port, dir) {
    this.port = port;
    this.dir = dir;
    this.base = `http://127.0.0.1:${port}`;
    this.env = {
      PATH: process.env.PATH,
      RUST_LOG: "warn",
      SWITCHBOARD_LISTEN: `127.0.0.1:${port}`,
      SWITCHBOARD_DATA_DIR: dir,
      SWITCHBOARD_PUBLIC_URL: `http://127.0.0.1:${port}`,
    };
  }
  async start() {
    this.child = spawn(BIN, ["serve"], { env: this.env, cwd: this.dir, stdio: ["ignore", "ignore", "inherit"] });
    await until(async () => (await fetch(`${this.base}/readyz`)).ok);
  }
  kill9() {
    this.child.kill("SIGKILL");
  }
  cli(...args) {
    return execFileSync(BIN, args, { env: this.env, cwd: this.dir }).toString();
  }
  async api(token, path, body) {
    const res = await fetch(`${this.base}/api/v1${path}`, {
      method: body ? "POST" : "GET",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body ? JSON.stringify(body) : undefined,
    });
    return res.status === 204 ? null : res.json();
  }
}

test("the widget chats, restores history, and survives a server crash", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sb-browser-"));
  const profile = mkdtempSync(join(tmpdir(), "sb-profile-"));
  const server = new Server(await freePort(), dir);
  await server.start();
  const token = JSON.parse(server.cli("user", "add", "--email", "ana@example.com", "--role", "support")).token;
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
    viewport: { width: 390, height: 844 }, // a phone
  });
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
