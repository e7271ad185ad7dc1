// The agent inbox in a real Chromium: sign-in with two-step verification, a web-chat
// visitor writes and the message appears live in the agent's list, a saved reply goes
// back live to the visitor, a note mentions a colleague, escalation to N2 shows up live
// in the N2 agent's tier view, resolve, and the visitor's next message reopens it.
// Every page goes through axe-core and is photographed at desktop and phone width.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { accessible, DESKTOP, freePort, launch, PHONE, Server, shoot, SHOTS, signIn, totp, until } from "./lib.mjs";


test("agents work a web-chat conversation live, from sign-in to reopen", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sb-inbox-"));
  const profiles = [0, 1, 2].map(() => mkdtempSync(join(tmpdir(), "sb-profile-")));
  const server = new Server(await freePort(), dir);
  await server.start();
  const password = "correct horse battery staple";
  server.cliWithInput(`${password}\n`, "user", "add", "--email", "ana@example.com", "--name", "Ana Lima", "--role", "support", "--tier", "N1", "--password-stdin");
  server.cliWithInput(`${password}\n`, "user", "add", "--email", "bruno@example.com", "--name", "Bruno Reis", "--role", "support", "--tier", "N2", "--password-stdin");
  server.cliWithInput(`${password}\n`, "user", "add", "--email", "sue@example.com", "--name", "Sue Park", "--role", "supervisor", "--password-stdin");

  const ana = await launch(profiles[0], DESKTOP);
  const bruno = await launch(profiles[1], DESKTOP);
  const visitor = await launch(profiles[2], PHONE);
  const errors = [];
  try {
    const a = ana.pages()[0] || (await ana.newPage());
    a.on("pageerror", (e) => errors.push(e));

    // Sign-in page: accessible, photographed.
    await a.goto(`${server.base}/login`);
    await accessible(a, "sign-in");
    await shoot(a, "login");

    // Ana signs in with her password and turns on two-step verification.
    await signIn(a, server.base, "ana@example.com", password);
    await a.waitForURL(/\/conversations/);
    await a.goto(`${server.base}/account`);
    await a.getByRole("button", { name: "Set up two-step verification" }).click();
    const secret = (await a.locator("code").first().textContent()).trim();
    const step = Math.floor(Date.now() / 30000);
    await a.getByLabel("Code").fill(totp(secret, step));
    await a.getByRole("button", { name: "Turn on" }).click();
    await a.locator("#recovery-codes li").first().waitFor();
    assert.equal(await a.locator("#recovery-codes li").count(), 10);
    await accessible(a, "account");

    // Out and in again: password, then a code. The code just used is refused (replay);
    // the next step's code (within the ±1 window) is accepted.
    await a.getByRole("button", { name: "Sign out", exact: true }).click();
    await signIn(a, server.base, "ana@example.com", password);
    await a.waitForURL(/\/login\/2fa/);
    await accessible(a, "two-step");
    await a.getByLabel("Code").fill(totp(secret, step));
    await a.getByRole("button", { name: "Verify" }).click();
    await a.locator(".error-summary").waitFor();
    await a.getByLabel("Code").fill(totp(secret, step + 1));
    await a.getByRole("button", { name: "Verify" }).click();
    await a.waitForURL(/\/conversations/);

    // Ana watches "All"; Bruno (N2) watches his tier.
    await a.goto(`${server.base}/conversations?view=all`);
    await a.locator("body[data-live='1']").waitFor();
    const b = bruno.pages()[0] || (await bruno.newPage());
    b.on("pageerror", (e) => errors.push(e));
    await signIn(b, server.base, "bruno@example.com", password);
    await b.waitForURL(/\/conversations/);
    await b.goto(`${server.base}/conversations?view=tier:N2`);
    await b.locator("body[data-live='1']").waitFor();

    // A visitor writes; the conversation appears in Ana's list without a reload.
    const v = visitor.pages()[0] || (await visitor.newPage());
    v.on("pageerror", (e) => errors.push(e));
    await v.goto(`${server.base}/chat`);
    await v.getByTestId("sb-launcher").click();
    await v.getByTestId("sb-status").filter({ hasText: "online" }).waitFor();
    await v.getByTestId("sb-input").fill("My printer shows E-302 <script>window.pwned=1</script>");
    await v.getByTestId("sb-input").press("Enter");
    const row = a.locator("#list li[data-number]", { hasText: "E-302" });
    await row.waitFor({ timeout: 15000 });
    const number = await row.getAttribute("data-number");
    assert.equal(await a.evaluate(() => window.pwned), undefined, "a customer's script never runs");
    await accessible(a, "conversation list");
    await shoot(a, "list");

    // Ana opens it and answers with a saved reply: "/" lists them, Enter inserts one.
    await row.locator("a.conv").click();
    await a.locator("#conv-head").waitFor();
    const composer = a.locator("#reply-text");
    await composer.fill("/");
    await composer.press("End");
    await composer.type("greet");
    await a.locator("#canned li").first().waitFor();
    await composer.press("Enter");
    const greeting = await composer.inputValue();
    assert.ok(greeting.length > 10 && !greeting.includes("{{"), `placeholders filled: ${greeting}`);
    await a.getByRole("button", { name: "Send" }).click();
    await a.locator("#thread li.msg.out").first().waitFor();
    // The visitor sees it live.
    const firstWords = greeting.split(/\s+/).slice(0, 2).join(" ");
    await v.locator(".sb-msg.sb-agent", { hasText: firstWords }).waitFor({ timeout: 15000 });

    // A note that mentions Bruno; then escalation to N2 with a reason.
    await a.locator("#composer .tabs label", { hasText: "Internal note" }).click();
    await composer.fill("@bruno can you look at the fuser?");
    await a.getByRole("button", { name: "Send" }).click();
    await a.locator("#thread li.msg.note", { hasText: "fuser" }).waitFor();
    assert.equal(await v.locator(".sb-msg", { hasText: "fuser" }).count(), 0, "a note never reaches the visitor");
    await accessible(a, "conversation");
    await shoot(a, "conversation");

    await a.locator("details.escalate summary").click();
    await a.getByLabel("Reason").fill("Hardware fault, needs a technician");
    await a.getByRole("button", { name: "Escalate to N2" }).click();
    // Above Ana's tier now: she is back at her list.
    await a.waitForURL(/\/conversations(\?|$)/);
    // Bruno's N2 view shows it without a reload, with the reason in the thread.
    await b.locator(`#c-${number}`).waitFor({ timeout: 15000 });
    await b.locator(`#c-${number} a.conv`).click();
    await b.locator("#conv-head").waitFor();
    await b.locator("#thread li.msg.system", { hasText: "Hardware fault" }).waitFor();

    // Bruno resolves it.
    await b.getByRole("button", { name: "Resolve" }).click();
    await b.locator("#conv-head .pill.resolved").waitFor();

    // The visitor writes again: the conversation opens again, live in Bruno's view.
    await v.getByTestId("sb-input").fill("It jammed again");
    await v.getByTestId("sb-input").press("Enter");
    await b.locator("#thread li.msg.in", { hasText: "jammed again" }).waitFor({ timeout: 15000 });
    await b.reload();
    await b.locator("#conv-head .pill.open").waitFor();

    // Bruno switches to Portuguese, the longest of the three: it must fit on a phone.
    await b.goto(`${server.base}/account`);
    await b.locator("#locale").selectOption("pt-BR");
    await b.locator("form[action='/account/locale'] button").click();
    await b.locator("html[lang='pt-BR']").waitFor();
    await b.goto(`${server.base}/conversations/${number}`);
    await b.locator("#conv-head").waitFor();
    assert.ok(await b.getByRole("button", { name: "Resolver" }).count(), "the page speaks Portuguese");
    await accessible(b, "conversation in pt-BR");
    mkdirSync(SHOTS, { recursive: true });
    await b.setViewportSize(PHONE);
    await b.screenshot({ path: join(SHOTS, "conversation-ptbr-phone.png") });
    await b.goto(`${server.base}/conversations?view=all&status=all`);
    await b.screenshot({ path: join(SHOTS, "list-ptbr-phone.png") });
    // Bruno's notifications: the conversation given to him and his client's message since,
    // with the rail's count; one button reads them all.
    await b.setViewportSize(DESKTOP);
    await b.locator("#nav-notifications").click();
    await b.waitForURL(/\/notifications$/);
    await b.locator("#notifications li.notif.unread", { hasText: "agora é sua" }).waitFor();
    await b.locator("#notifications li.notif.unread", { hasText: "Nova mensagem do cliente" }).waitFor();
    await accessible(b, "notifications");
    await shoot(b, "notifications");
    await b.locator("#read-all").click();
    await b.waitForURL(/\/notifications$/);
    assert.equal(await b.locator("#notifications li.notif.unread").count(), 0);
    assert.ok(await b.locator("#notif-count").isHidden(), "the rail's count is gone");

    // The supervisor's dashboard: read-only, accessible, photographed.
    const s = await ana.newPage();
    await ana.clearCookies();
    await signIn(s, server.base, "sue@example.com", password);
    await s.waitForURL(/\/conversations/);
    await s.goto(`${server.base}/dashboard`);
    await s.locator("h1", { hasText: "Dashboard" }).waitFor();
    await accessible(s, "dashboard");
    await shoot(s, "dashboard");
    // Saved replies: the supervisor reads them (and may not add any).
    await s.getByRole("link", { name: "Saved replies" }).click();
    await s.locator("h1", { hasText: "Saved replies" }).waitFor();
    await s.locator("code.shortcut", { hasText: "/greeting" }).first().waitFor();
    assert.equal(await s.getByRole("link", { name: "New saved reply" }).count(), 0, "read-only for supervisors");
    await accessible(s, "saved replies");
    await shoot(s, "saved-replies");
    assert.deepEqual(errors.map(String), [], "no script errors on any page");
  } finally {
    await Promise.all([ana.close(), bruno.close(), visitor.close()]);
    server.kill9();
    for (const p of profiles) rmSync(p, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
