// The client portal in a real Chromium, with real mail servers and a Stripe double:
// the admin's API creates and sends an invoice; the client's mail (captured by SMTP) has
// the big button; a mail scanner fetches the link first; the client confirms, sees the
// totals, downloads the ZIP (its PDF renders in pdftoppm), and pays with Pay Now; the
// double sends the signed webhook; the invoice turns Paid without reload in a second tab
// and on the agent's conversation page, which shows the payment card. Then the client
// opens a ticket with a photo; the agent sees it with its badge and answers; the answer is
// on the portal without reload and in a mail; the client's mailed reply lands in the
// ticket, live.
// Every page goes through axe-core and is photographed at desktop and phone width.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { accessible, DESKTOP, freePort, launch, leaves, MailServers, PHONE, Server, shoot, signIn, smtpSend, totp, until } from "./lib.mjs";

const FIXTURE = JSON.parse(readFileSync(fileURLToPath(new URL(
  "../../../shared/fixtures/stripe/checkout_session_completed__supabase-stripe-sync-engine.json", import.meta.url)), "utf8"));

/** Stripe's Checkout Session API as documented, on loopback; opening a session's url pays it. */
function fakeStripe(secretKey, webhookSecret, webhookUrl) {
  const sessions = [];
  const byKey = new Map();
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", async () => {
      const port = server.address().port;
      if (req.method === "POST" && req.url === "/v1/checkout/sessions") {
        if (req.headers.authorization !== `Bearer ${secretKey}`) {
          res.writeHead(401, { "content-type": "application/json" });
          return res.end(JSON.stringify({ error: { type: "invalid_request_error", message: "Invalid API Key provided" } }));
        }
        const key = req.headers["idempotency-key"];
        if (byKey.has(key)) {
          res.writeHead(200, { "content-type": "application/json" });
          return res.end(JSON.stringify(byKey.get(key)));
        }
        const f = new URLSearchParams(body);
        const s = structuredClone(FIXTURE.data.object);
        s.id = `cs_test_browser_${sessions.length + 1}`;
        s.amount_total = Number(f.get("line_items[0][price_data][unit_amount]"));
        s.amount_subtotal = s.amount_total;
        s.currency = f.get("line_items[0][price_data][currency]");
        s.client_reference_id = f.get("client_reference_id");
        s.metadata = { invoice_id: f.get("metadata[invoice_id]") };
        s.success_url = f.get("success_url");
        s.cancel_url = f.get("cancel_url");
        s.payment_status = "unpaid";
        s.status = "open";
        s.payment_intent = null;
        s.url = `http://127.0.0.1:${port}/pay/${s.id}`;
        sessions.push(s);
        byKey.set(key, s);
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify(s));
      }
      const m = /^\/pay\/([\w]+)$/.exec(req.url);
      if (req.method === "GET" && m) {
        const s = sessions.find((x) => x.id === m[1]);
        const paid = { ...s, payment_status: "paid", status: "complete", payment_intent: `pi_${s.id}` };
        const event = { ...structuredClone(FIXTURE), id: `evt_${s.id}` };
        event.data.object = paid;
        const raw = JSON.stringify(event);
        const t = Math.floor(Date.now() / 1000);
        const v1 = createHmac("sha256", webhookSecret).update(`${t}.${raw}`).digest("hex");
        const r = await fetch(webhookUrl(), { method: "POST", headers: { "stripe-signature": `t=${t},v1=${v1}`, "content-type": "application/json" }, body: raw });
        assert.equal(r.status, 200, "the webhook took the event");
        res.writeHead(303, { location: s.success_url });
        return res.end();
      }
      res.writeHead(404);
      res.end();
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, sessions, port: server.address().port })));
}

const LINES = {
  lines: [
    { description: "Manutenção preventiva da impressora — São Paulo", quantity_milli: 2000, unit_price: 12345, tax_rate_bp: 2300 },
    { description: "Toner preto de alto rendimento", quantity_milli: 1000, unit_price: 5000 },
  ],
  notes: "Obrigado pela preferência.",
  terms: "Pagamento em até 30 dias.",
};

test("an invoice is mailed, opened past a scanner, downloaded and paid; everyone sees Paid live; a ticket is answered by mail", { timeout: 300000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "sb-portal-"));
  const mailDir = join(dir, "mail");
  execFileSync("mkdir", ["-p", mailDir]);
  chmodSync(dir, 0o755);
  chmodSync(mailDir, 0o755);
  const mail = new MailServers();
  const server = new Server(await freePort(), dir);
  const stripe = await fakeStripe("sk_test_browser", "whsec_browser", () => `${server.base}/webhooks/stripe`);
  const profiles = [mkdtempSync(join(tmpdir(), "sb-profile-")), mkdtempSync(join(tmpdir(), "sb-profile-"))];
  const contexts = [];
  try {
    await mail.start(mailDir, "--user", "support@acme.test:imap-pass");
    const { imap, smtp } = mail.ready;
    const config = join(dir, "switchboard.toml");
    writeFileSync(config, `[web]
business_name = "Acme Serviços"

[portal]
business_address = ["Rua Augusta 100", "São Paulo"]
notice_batch_seconds = 1

[stripe]
secret_key = "sk_test_browser"
webhook_secret = "whsec_browser"
api_base = "http://127.0.0.1:${stripe.port}"

[[email.inboxes]]
name = "support"
address = "support@acme.test"
imap_url = "imap://127.0.0.1:${imap}"
smtp_url = "smtp://127.0.0.1:${smtp}"
password = "imap-pass"
poll_seconds = 1
`);
    Object.assign(server.env, { SWITCHBOARD_CONFIG: config });
    await server.start();
    const password = "correct horse battery staple";
    const admin = JSON.parse(server.cliWithInput(`${password}\n`, "user", "add", "--email", "rita@acme.test", "--name", "Rita Alves", "--role", "admin", "--password-stdin")).token;

    // The client writes in; the admin's accounting system pushes and sends an invoice.
    await smtpSend(smtp, "ana@globex.example", "support@acme.test", [
      "From: Ana Souza <ana@globex.example>", "To: support@acme.test", "Subject: Fatura",
      "Message-ID: <f1@globex.example>", "Content-Type: text/plain; charset=utf-8", "", "Podem enviar a fatura?",
    ].join("\r\n"));
    const conv = await until(async () => (await server.api(admin, "/conversations")).conversations?.[0], 20000);
    const company = await server.api(admin, "/companies", { name: "Globex Ltda" });
    await server.api(admin, `/companies/${company.id}/contacts`, { contact_id: conv.contact_id });
    const older = await server.api(admin, "/invoices", { contact_id: conv.contact_id, currency: "BRL", issue_date: "2026-09-01", due_date: "2026-10-01", document: { lines: [{ description: "Visita técnica", quantity_milli: 1000, unit_price: 8000 }] }, send: true });
    await server.api(admin, `/documents/${older.id}/payments`, { amount: 8000, currency: "BRL", reference: "pix-0901" });
    const inv = await server.api(admin, "/invoices", { contact_id: conv.contact_id, currency: "BRL", issue_date: "2026-11-20", due_date: "2026-12-20", document: LINES, send: true });
    assert.equal(inv.total, 35369, JSON.stringify(inv));

    // The mail: a large button holding the sign-in link.
    const raw = await until(() => mail.capturedFor("ana@globex.example").find((m) => leaves(m).some((l) => l.text.includes(inv.number))), 20000);
    const html = leaves(raw).find((l) => l.type === "text/html").text;
    assert.ok(html.includes("View and pay invoice"), html);
    const link = /href="([^"]*\/portal\/link\/[^"]+)"/.exec(html)[1].replace(/&amp;/g, "&");

    // A mail scanner fetches it first (HEAD, then GET): nothing is used up.
    assert.equal((await fetch(link, { method: "HEAD" })).status, 200);
    assert.equal((await fetch(link)).status, 200);

    // The client opens it on a phone: the confirmation, one click, the invoice.
    const ctx = await launch(profiles[0], PHONE, { locale: "en-US" });
    contexts.push(ctx);
    const page = ctx.pages()[0] || (await ctx.newPage());
    const errors = [];
    page.on("pageerror", (e) => errors.push(e));
    await page.goto(link);
    await accessible(page, "portal link confirmation");
    await shoot(page, "portal-confirm");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(new RegExp(`/portal/invoices/${inv.number}$`)).catch(async (e) => {
      throw new Error(`${e.message}: at ${page.url()}: ${(await page.content()).slice(0, 3000)}`);
    });
    await page.locator("#doc-status", { hasText: "Viewed" }).waitFor();
    await accessible(page, "portal invoice");
    await shoot(page, "portal-invoice");

    // Home: what is owed, the latest invoice, the open requests, the quick actions.
    await page.goto(`${server.base}/portal`);
    await page.locator("#home-owed", { hasText: "R$353.69" }).waitFor();
    await page.locator("#home-owed a", { hasText: inv.number }).waitFor();
    await accessible(page, "portal home");
    await shoot(page, "portal-home");

    // The invoices: the totals, worked out by hand (353.69 open; 80.00 paid).
    await page.locator("#home-owed a", { hasText: "See invoices" }).click();
    await page.waitForURL(/\/portal\/invoices$/);
    assert.equal(await page.locator('[data-outstanding="BRL"]').textContent(), "R$353.69");
    assert.equal(await page.locator('[data-paid="BRL"]').textContent(), "R$80.00");
    await accessible(page, "portal invoices");
    await shoot(page, "portal-invoices");

    // Download All: select all, one ZIP, whose PDFs open.
    await page.locator("#select-all").check();
    const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#download-all").click()]);
    const zip = join(dir, "invoices.zip");
    await download.saveAs(zip);
    assert.match(execFileSync("unzip", ["-t", zip]).toString(), /No errors detected/);
    execFileSync("unzip", ["-o", "-q", zip, "-d", join(dir, "pdfs")]);
    execFileSync("pdftoppm", ["-png", "-r", "40", "-singlefile", join(dir, "pdfs", `${inv.number}.pdf`), join(dir, "page")]);
    assert.match(execFileSync("pdftotext", [join(dir, "pdfs", `${inv.number}.pdf`), "-"]).toString(), /Manutenção preventiva/);

    // The agent has the conversation of the invoice open, showing its card.
    const agentCtx = await launch(profiles[1], DESKTOP);
    contexts.push(agentCtx);
    const agent = agentCtx.pages()[0] || (await agentCtx.newPage());
    await signIn(agent, server.base, "rita@acme.test", password);
    await agent.waitForURL(/\/conversations/);
    const invConv = (await server.api(admin, `/documents/${inv.id}`)).conversation_id;
    const convNumber = (await server.api(admin, `/conversations/${invConv}`)).conversation.number;
    await agent.goto(`${server.base}/conversations/${convNumber}`);
    await agent.locator("body[data-live='1']").waitFor();
    await agent.locator("#thread", { hasText: inv.number }).waitFor();

    // A second tab keeps the invoice open; the first pays with Pay Now.
    const watcher = await ctx.newPage();
    await watcher.goto(`${server.base}/portal/invoices/${inv.number}`);
    await page.goto(`${server.base}/portal/invoices/${inv.number}`);
    await page.getByRole("button", { name: "Pay now" }).click();
    await page.waitForURL(/\?paid=1$/).catch(async (e) => {
      throw new Error(`${e.message}: at ${page.url()}: ${(await page.content()).slice(0, 1500)}`);
    });
    assert.equal(stripe.sessions.length, 1);
    assert.equal(stripe.sessions[0].amount_total, 35369);
    assert.equal(stripe.sessions[0].client_reference_id, inv.id);

    // Paid everywhere, without reload.
    await watcher.locator("#doc-status", { hasText: "Paid" }).waitFor({ timeout: 15000 });
    await page.locator("#doc-status", { hasText: "Paid" }).waitFor({ timeout: 15000 });
    await page.bringToFront();
    await accessible(page, "portal invoice paid");
    await shoot(page, "portal-invoice-paid");
    await agent.locator("#thread .pill", { hasText: "Paid" }).first().waitFor({ timeout: 15000 });
    await agent.locator("#thread", { hasText: "Payment" }).waitFor({ timeout: 15000 });
    await shoot(agent, "portal-agent-card");

    // The agent's billing pages: the list, and the invoice with its ledger and the
    // client's portal activity.
    await agent.goto(`${server.base}/billing`);
    await agent.locator("table.p-table", { hasText: inv.number }).waitFor();
    await accessible(agent, "billing list");
    await shoot(agent, "billing-list");
    await agent.getByRole("link", { name: inv.number }).click();
    await agent.locator("#doc-status", { hasText: "Paid" }).waitFor();
    await agent.locator("main", { hasText: `stripe · pi_${stripe.sessions[0].id}` }).waitFor();
    await agent.locator("main", { hasText: "ana@globex.example" }).waitFor();
    await accessible(agent, "billing document");
    await shoot(agent, "billing-document");
    await agent.goto(`${server.base}/billing/new`);
    await agent.locator("input[name=desc_0]").fill("Visita técnica");
    await agent.locator("input[name=price_0]").fill("80,00");
    await accessible(agent, "billing new document");
    await shoot(agent, "billing-new");

    // Support: the client opens a ticket with a photo; the chat is built into the portal.
    await page.goto(`${server.base}/portal/tickets`);
    await page.locator("[data-testid=sb-launcher]").waitFor();
    await accessible(page, "portal support, no tickets yet");
    await page.getByRole("link", { name: "Open a new ticket" }).first().click();
    await page.getByLabel("Subject").fill("A impressora trava na página 2");
    await page.getByLabel("Category").selectOption("equipment");
    await page.locator("#message").fill("Trava sempre na segunda página.\nNúmero de série: XJ-2231.");
    const photo = join(dir, "jam.png");
    writeFileSync(photo, Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64"));
    await page.getByLabel("Attach files").setInputFiles(photo);
    await accessible(page, "portal new ticket");
    await shoot(page, "portal-ticket-new");
    await page.getByRole("button", { name: "Open ticket" }).click();
    await page.waitForURL(/\/portal\/tickets\/\d+\?opened=1$/);
    const ticketNumber = Number(/tickets\/(\d+)/.exec(page.url())[1]);
    await page.locator("#thread-messages", { hasText: "XJ-2231" }).waitFor({ timeout: 15000 });
    await page.locator("#thread-messages img[alt='jam.png']").waitFor();

    // The agent sees it in the inbox with its badge and card, and answers.
    const ticketConv = await until(async () => (await server.api(admin, "/conversations")).conversations.find((c) => c.number === ticketNumber), 15000);
    await agent.goto(`${server.base}/conversations/${ticketNumber}`);
    await agent.locator(`#c-${ticketNumber} .pill.ticket`).waitFor();
    await agent.locator("#thread", { hasText: "XJ-2231" }).waitFor();
    await agent.locator("#thread", { hasText: "A impressora trava" }).waitFor();
    await shoot(agent, "inbox-ticket");
    await server.api(admin, `/conversations/${ticketConv.id}/messages`, { text: "Olá Ana! Tente a bandeja traseira, por favor." });
    // On the portal without reload, and by mail with a button back to the ticket.
    await page.locator("#thread-messages", { hasText: "bandeja traseira" }).waitFor({ timeout: 15000 });
    const answer = await until(() => mail.capturedFor("ana@globex.example").find((m) => leaves(m).some((l) => l.text.includes("bandeja traseira"))), 20000);
    const answerHtml = leaves(answer).find((l) => l.type === "text/html").text;
    assert.ok(answerHtml.includes(`View request #${ticketNumber} in your portal`), answerHtml);
    assert.match(answerHtml, new RegExp(`/portal/link/[^"]+next=/portal/tickets/${ticketNumber}`));
    const answerId = /^Message-ID:\s*(<[^>]+>)/im.exec(answer)[1];
    // The client answers the mail: the reply is in the ticket, live.
    await smtpSend(smtp, "ana@globex.example", "support@acme.test", [
      "From: Ana Souza <ana@globex.example>", "To: support@acme.test", "Subject: Re: A impressora trava na página 2",
      "Message-ID: <f2@globex.example>", `In-Reply-To: ${answerId}`, `References: ${answerId}`,
      "Content-Type: text/plain; charset=utf-8", "", "Tentei a bandeja traseira e continua travando.",
    ].join("\r\n"));
    await page.locator("#thread-messages", { hasText: "continua travando" }).waitFor({ timeout: 30000 });
    await accessible(page, "portal ticket");
    await shoot(page, "portal-ticket");
    await page.goto(`${server.base}/portal/tickets`);
    await page.locator("#tickets", { hasText: "A impressora trava" }).waitFor();
    await accessible(page, "portal tickets");
    await shoot(page, "portal-tickets");

    // Ana is Globex's client admin: she invites a colleague and sets up two-step
    // verification with her authenticator app.
    await page.goto(`${server.base}/portal/users`);
    await page.getByLabel("Email address").fill("bia@globex.example");
    await page.getByLabel("Name", { exact: true }).fill("Bia Lima");
    await page.getByRole("button", { name: "Send invitation" }).click();
    // Invited, not in yet: Bia joins when she uses the link mailed to her.
    await page.locator("#pending", { hasText: "bia@globex.example" }).waitFor();
    await accessible(page, "portal users");
    await shoot(page, "portal-users");
    await until(() => mail.capturedFor("bia@globex.example").length > 0, 20000);
    await page.goto(`${server.base}/portal/account`);
    await page.getByRole("button", { name: "Set up two-step verification" }).click();
    const secret = (await page.locator("#totp-secret").textContent()).trim();
    await accessible(page, "portal two-step set-up");
    await shoot(page, "portal-account-2fa");
    await page.getByLabel("6-digit code").fill(totp(secret));
    await page.getByRole("button", { name: "Confirm" }).click();
    await page.locator("#recovery-codes li").first().waitFor();

    // The activity log, and the sign-in page in Portuguese at phone width.
    await page.goto(`${server.base}/portal/activity`);
    await accessible(page, "portal activity");
    await shoot(page, "portal-activity");

    // The mailed request is resolved: Ana gets one survey mail and answers from its link.
    await server.api(admin, `/conversations/${conv.id}/status`, { status: "resolved" });
    const surveyMail = await until(() => mail.capturedFor("ana@globex.example").find((m) => leaves(m).some((l) => l.text.includes("/survey/sv_"))), 30000);
    const surveyText = leaves(surveyMail).find((l) => l.type === "text/plain").text;
    const surveyLink = /(https?:\/\/[^\s"<>]+\/survey\/sv_[\w-]+)/.exec(surveyText)[1];
    // A scanner opens it first: nothing is recorded.
    assert.equal((await fetch(surveyLink, { method: "HEAD" })).status, 200);
    assert.equal((await fetch(`${surveyLink}?csat=1`)).status, 200);
    await page.goto(surveyLink);
    await page.locator("form.survey-form").waitFor();
    await page.locator(".scale-row.five label", { hasText: /^4$/ }).click();
    await page.locator(".scale-row.eleven label", { hasText: /^9$/ }).click();
    await page.locator("#survey-comment").fill("Atendimento rápido, obrigada!");
    await accessible(page, "survey");
    await shoot(page, "portal-survey");
    await page.locator("form.survey-form button.primary").click();
    await page.locator("#survey-thanks").waitFor();
    await accessible(page, "survey answered");
    await shoot(page, "portal-survey-thanks");
    // The agent's conversation shows the answer on the survey card.
    await agent.goto(`${server.base}/conversations/${conv.number}`);
    await agent.locator("#thread", { hasText: "CSAT 4/5 · NPS 9" }).waitFor({ timeout: 15000 });
    await shoot(agent, "inbox-survey-card");
    const pt = await launch(mkdtempSync(join(tmpdir(), "sb-profile-")), PHONE, { locale: "pt-BR" });
    contexts.push(pt);
    const login = pt.pages()[0] || (await pt.newPage());
    await login.goto(`${server.base}/portal/login`);
    await login.getByRole("button", { name: "Enviar link de acesso por e-mail" }).click();
    await login.locator(".error-summary").waitFor();
    await accessible(login, "portal sign-in with an error");
    await shoot(login, "portal-login-pt");
    assert.deepEqual(errors, []);
  } finally {
    for (const c of contexts) await c.close().catch(() => {});
    if (server.child) server.kill9();
    stripe.server.close();
    await mail.stop();
    for (const p of profiles) rmSync(p, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
