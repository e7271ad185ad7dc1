// The email channel in a real Chromium, against real mail servers (Dovecot for IMAP, a
// capturing SMTP server; tests/support/mailserver.py): a customer's mail opens a
// conversation live in the agent's list, the agent answers from the composer and the
// reply leaves as a threaded multipart mail from the inbox's address, the customer's
// Outlook-style answer lands in the same conversation with its quoted history folded
// away, and the admin's email settings test the mailbox's connection.
// Every page goes through axe-core and is photographed at desktop and phone width.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { accessible, DESKTOP, entity, freePort, launch, leaves, MailServers, Server, shoot, SHOTS, signIn, smtpSend, until } from "./lib.mjs";

const CUSTOMER_BODY = `Hello,

Since we put a new toner cartridge in our LaserJet M404 on Monday, every page comes out
with a grey smear down the left side, and there is loose toner inside the front cover.

We tried a second cartridge from the same box and cleaned the rollers, but nothing changed.
Is this covered by the warranty? The serial number is VNB3K12345.

Best regards,
Ana Souza
Office manager, Souza & Filhos`;

const AGENT_REPLY = `Hi Ana,

Sorry about the mess! A smear on the left usually means the cartridge's sealing tape was not pulled all the way out. Please take the cartridge out, pull the orange tab until the tape comes free, and print a cleaning page from Settings > Print quality.

If it still leaks after that, we will send you a replacement under warranty.`;

test("an email conversation round-trips through real mail servers", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sb-email-"));
  const mailDir = mkdtempSync(join(tmpdir(), "sb-mail-"));
  chmodSync(mailDir, 0o755); // Dovecot runs as nobody and must reach it
  const profile = mkdtempSync(join(tmpdir(), "sb-profile-"));
  const mail = new MailServers();
  const server = new Server(await freePort(), dir);
  let context;
  try {
    await mail.start(mailDir, "--user", "support@acme.test:imap-pass");
    await mail.cmd("ping");
    const { imap, smtp } = mail.ready;
    const config = join(dir, "switchboard.toml");
    writeFileSync(config, `[web]
business_name = "Acme"

[[email.inboxes]]
name = "support"
address = "support@acme.test"
imap_url = "imap://127.0.0.1:${imap}"
smtp_url = "smtp://127.0.0.1:${smtp}"
password = "imap-pass"
poll_seconds = 1
`);
    Object.assign(server.env, { SWITCHBOARD_CONFIG: config, RUST_LOG: process.env.RUST_LOG || "warn" });
    await server.start();
    const password = "correct horse battery staple";
    server.cliWithInput(`${password}\n`, "user", "add", "--email", "rita@acme.test", "--name", "Rita Alves", "--role", "admin", "--password-stdin");

    context = await launch(profile, DESKTOP);
    const page = context.pages()[0] || (await context.newPage());
    const errors = [];
    page.on("pageerror", (e) => errors.push(e));
    await signIn(page, server.base, "rita@acme.test", password);
    await page.waitForURL(/\/conversations/);
    await page.goto(`${server.base}/conversations?view=all`);
    await page.locator("body[data-live='1']").waitFor();

    // A customer's mail arrives at the mailbox; the poller opens a conversation, live.
    await smtpSend(smtp, "ana@example.com", "support@acme.test", [
      "From: Ana Souza <ana@example.com>",
      "To: Acme Support <support@acme.test>",
      "Subject: Toner leaks on every page",
      "Message-ID: <c1@example.com>",
      `Date: ${new Date().toUTCString().replace("GMT", "+0000")}`,
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=utf-8",
      "Content-Transfer-Encoding: 8bit",
      "",
      CUSTOMER_BODY,
    ].join("\r\n"));
    const row = page.locator("#list li[data-number]", { hasText: "Ana Souza" });
    await row.waitFor({ timeout: 20000 });
    const number = await row.getAttribute("data-number");

    // The agent opens it and answers from the composer.
    await row.locator("a.conv").click();
    await page.locator("#conv-head").waitFor();
    await page.locator("#thread li.msg.in", { hasText: "grey smear down the left side" }).waitFor();
    await page.locator("#reply-text").fill(AGENT_REPLY);
    await page.getByRole("button", { name: "Send" }).click();
    await page.locator("#thread li.msg.out", { hasText: "sealing tape" }).waitFor();

    // The reply leaves by SMTP, threaded, from the inbox's address, in text and HTML.
    const raw = await until(() => mail.capturedFor("ana@example.com").find((m) => leaves(m).some((l) => l.text.includes("sealing tape"))), 20000);
    const sent = entity(raw);
    assert.match(sent.header("from"), /support@acme\.test/);
    assert.match(sent.header("to"), /ana@example\.com/);
    assert.match(sent.header("subject"), /Toner leaks on every page/);
    assert.equal(sent.header("in-reply-to"), "<c1@example.com>");
    assert.ok(sent.header("references").split(/\s+/).includes("<c1@example.com>"), `References: ${sent.header("references")}`);
    const messageId = sent.header("message-id");
    assert.match(messageId, /^<[^<>@\s]+@acme\.test>$/);
    assert.match(sent.header("reply-to"), /support\+[^@\s]+@acme\.test/);
    assert.match(sent.header("content-type"), /^multipart\/alternative/i);
    const parts = leaves(raw);
    const plain = parts.find((l) => l.type === "text/plain");
    const html = parts.find((l) => l.type === "text/html");
    assert.ok(plain && html, `text and HTML parts: ${parts.map((l) => l.type)}`);
    assert.ok(plain.text.includes("pull the orange tab"), plain.text);
    assert.ok(html.text.includes("orange tab"), html.text);

    // The customer answers from Outlook: new text on top, our mail quoted below.
    const from = sent.header("from");
    await smtpSend(smtp, "ana@example.com", "support@acme.test", [
      "From: Ana Souza <ana@example.com>",
      "To: Acme <support@acme.test>",
      "Subject: RE: Toner leaks on every page",
      "Message-ID: <c2@example.com>",
      `In-Reply-To: ${messageId}`,
      `Date: ${new Date().toUTCString().replace("GMT", "+0000")}`,
      "Thread-Topic: Toner leaks on every page",
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=utf-8",
      "Content-Transfer-Encoding: 8bit",
      "",
      "Thanks, that worked!",
      "",
      "________________________________",
      `From: ${from}`,
      `Sent: ${new Date().toLocaleString("en-US", { dateStyle: "full", timeStyle: "short", timeZone: "UTC" })}`,
      "To: Ana Souza <ana@example.com>",
      "Subject: Re: Toner leaks on every page",
      "",
      AGENT_REPLY,
    ].join("\r\n"));
    const answer = page.locator("#thread li.msg.in", { hasText: "Thanks, that worked!" });
    await answer.waitFor({ timeout: 20000 });
    assert.equal(await page.locator("#conv-head").getAttribute("data-number"), number, "still the same conversation");
    assert.equal(await page.locator("#list li[data-number]").count(), 1, "no second conversation");
    await page.goto(`${server.base}/conversations?view=all&status=all`);
    await page.locator(`#list li[data-number='${number}']`, { hasText: "Thanks, that worked!" }).waitFor();
    assert.equal(await page.locator("#list li[data-number]").count(), 1, "no second conversation");
    await page.goto(`${server.base}/conversations/${number}`);
    await answer.waitFor();
    assert.equal(await page.locator("#thread li.msg").count(), 3, "the mail, the reply and the answer");
    assert.equal((await answer.locator(".text").innerText()).trim(), "Thanks, that worked!");
    const quoted = answer.locator("details.quoted");
    assert.equal(await quoted.count(), 1, "the quoted history sits behind a control");
    assert.equal(await quoted.evaluate((d) => d.open), false, "folded at first");
    assert.equal(await quoted.locator("pre").isVisible(), false);
    const toBottom = () => page.locator("#thread-body").evaluate((b) => { b.scrollTop = b.scrollHeight; });
    await toBottom();
    await accessible(page, "email conversation");
    await shoot(page, "email-conversation", toBottom);
    await quoted.locator("summary", { hasText: "Show the quoted text" }).click();
    assert.equal(await quoted.evaluate((d) => d.open), true);
    const history = await quoted.locator("pre").innerText();
    assert.ok(history.includes("orange tab"), history);
    assert.ok(history.includes("From: Acme <support@acme.test>"), history);
    await accessible(page, "email conversation, quoted text shown");
    await shoot(page, "email-conversation-quoted", () => answer.evaluate((li) => li.scrollIntoView({ block: "start" })));

    // The admin's email settings: the mailbox and its state; the connection test.
    await page.goto(`${server.base}/admin/email`);
    const box = page.locator("section.mailbox", { hasText: "support@acme.test" });
    await box.waitFor();
    assert.match(await box.innerText(), new RegExp(`127\\.0\\.0\\.1:${imap}`));
    await accessible(page, "email settings");
    await shoot(page, "email-settings");
    await box.getByRole("button", { name: "Test connection" }).click();
    const result = page.locator("#test-result");
    await result.waitFor({ timeout: 20000 });
    assert.match(await result.innerText(), /^Connection works\./);
    assert.equal(await result.evaluate((n) => n.classList.contains("ok")), true);
    await accessible(page, "email settings after a test");
    await shoot(page, "email-settings-tested");
    // Adding a mailbox from the page: the form, and a bad URL refused beside its field.
    await page.goto(`${server.base}/admin/email/new`);
    await accessible(page, "new mailbox form");
    await shoot(page, "email-mailbox-form");
    await page.fill("#name", "sales");
    await page.fill("#address", "sales@acme.test");
    await page.fill("#imap_url", "http://mail.acme.test");
    await page.fill("#password", "secret");
    await page.getByRole("button", { name: "Save" }).click();
    await page.locator(".error-summary").waitFor();
    assert.match(await page.locator(".error-summary").innerText(), /imaps:\/\//);
    await accessible(page, "new mailbox form with an error");
    await shoot(page, "email-mailbox-form-error");
    assert.deepEqual(errors.map(String), [], "no script errors on any page");

    // The customer's first mail quotes nothing: it has no quoted text to show.
    await page.goto(`${server.base}/conversations/${number}`);
    const first = page.locator("#thread li.msg.in", { hasText: "grey smear down the left side" });
    await first.waitFor();
    // The mail's subject heads the conversation.
    assert.equal((await page.locator("#conv-head .subject").innerText()).trim(), "Toner leaks on every page");
    assert.equal(
      await first.locator("details.quoted").count(),
      0,
      `a mail without a quote offers no quoted text, got: ${JSON.stringify(await first.locator("details.quoted pre").allTextContents())}`,
    );
  } finally {
    if (context) await context.close();
    if (server.child) server.kill9();
    await mail.stop();
    rmSync(profile, { recursive: true, force: true });
    rmSync(mailDir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
