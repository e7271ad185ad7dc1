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
import { accessible, DESKTOP, freePort, launch, Server, shoot, SHOTS, signIn, until } from "./lib.mjs";

const MAILSERVER = fileURLToPath(new URL("../support/mailserver.py", import.meta.url));

/** The mail servers of this test: one JSON line when ready, one JSON answer per command. */
class MailServers {
  async start(dir, ...args) {
    this.dir = dir;
    this.child = spawn("python3", [MAILSERVER, "--dir", dir, ...args], { stdio: ["pipe", "pipe", "inherit"] });
    this.exited = new Promise((resolve) => this.child.once("exit", resolve));
    const lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
    this.next = async (what) => {
      const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error(`mail servers: no answer to ${what}`)), 30000).unref());
      const { value, done } = await Promise.race([lines.next(), timeout]);
      assert.ok(!done, `mail servers exited before answering ${what}`);
      return JSON.parse(value);
    };
    this.ready = await this.next("start");
    return this;
  }
  async cmd(command) {
    this.child.stdin.write(`${command}\n`);
    const answer = await this.next(command);
    assert.equal(answer.ok, true, `${command}: ${JSON.stringify(answer)}`);
    return answer;
  }
  async stop() {
    if (!this.child || this.child.exitCode !== null) return;
    this.child.stdin.end("quit\n");
    const timer = setTimeout(() => this.child.kill("SIGTERM"), 15000);
    await this.exited;
    clearTimeout(timer);
  }
  /** Every captured mail for `rcpt`, oldest first, as raw text. */
  capturedFor(rcpt) {
    const captured = join(this.dir, "captured");
    if (!existsSync(captured)) return [];
    return readdirSync(captured)
      .filter((n) => n.endsWith(".eml"))
      .sort()
      .filter((n) => {
        const meta = JSON.parse(readFileSync(join(captured, n.replace(/\.eml$/, ".json")), "utf8"));
        return meta.rcpt_tos.some((r) => r.toLowerCase() === rcpt);
      })
      .map((n) => readFileSync(join(captured, n), "latin1"));
  }
}

/** One message over plain SMTP to the loopback capture server, as a customer's MTA would. */
function smtpSend(port, from, to, raw) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const data = raw.replace(/\r?\n/g, "\r\n").split("\r\n").map((l) => (l.startsWith(".") ? `.${l}` : l)).join("\r\n");
    const steps = [
      ["220", "EHLO customer.example.com"],
      ["250", `MAIL FROM:<${from}>`],
      ["250", `RCPT TO:<${to}>`],
      ["250", "DATA"],
      ["354", `${data}\r\n.`],
      ["250", "QUIT"],
      ["221", null],
    ];
    let buffer = "";
    socket.setEncoding("utf8");
    socket.on("error", reject);
    socket.on("data", (chunk) => {
      buffer += chunk;
      let end;
      while ((end = buffer.indexOf("\r\n")) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (line[3] === "-") continue; // a multi-line reply goes on
        const [code, next] = steps.shift();
        if (!line.startsWith(code)) {
          socket.destroy();
          return reject(new Error(`SMTP: expected ${code}, got ${line}`));
        }
        if (next === null) {
          socket.end();
          return resolve();
        }
        socket.write(`${next}\r\n`);
      }
    });
  });
}

/** Headers (unfolded, names in lower case) and body of a MIME entity. */
function entity(raw) {
  const split = raw.search(/\r?\n\r?\n/);
  const head = raw.slice(0, split).replace(/\r?\n[ \t]+/g, " ");
  const body = raw.slice(split).replace(/^\r?\n\r?\n/, "");
  const headers = {};
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0) (headers[line.slice(0, colon).trim().toLowerCase()] ??= []).push(line.slice(colon + 1).trim());
  }
  return { headers, header: (name) => (headers[name.toLowerCase()] || [])[0], body };
}

/** The leaf parts of a MIME entity, each with its type and decoded text. */
function leaves(raw) {
  const e = entity(raw);
  const type = e.header("content-type") || "text/plain";
  const boundary = /boundary="?([^";]+)"?/i.exec(type);
  if (/^multipart\//i.test(type) && boundary) {
    const pieces = e.body.split(`--${boundary[1]}`).slice(1);
    return pieces.filter((p) => !p.startsWith("--")).flatMap((p) => leaves(p.replace(/^\r?\n/, "")));
  }
  const cte = (e.header("content-transfer-encoding") || "7bit").toLowerCase();
  let bytes;
  if (cte === "quoted-printable") {
    const soft = e.body.replace(/=\r?\n/g, "");
    bytes = Buffer.from(soft.replace(/=([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))), "latin1");
  } else if (cte === "base64") {
    bytes = Buffer.from(e.body.replace(/\s+/g, ""), "base64");
  } else {
    bytes = Buffer.from(e.body, "latin1");
  }
  return [{ type: type.split(";")[0].trim().toLowerCase(), text: bytes.toString("utf8") }];
}

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
