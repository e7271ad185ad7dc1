// WhatsApp in the agent inbox, in a real Chromium: signed webhook deliveries (a question,
// a photo fetched from a fake Graph API, a place, a reply that quotes the agent) show as a
// WhatsApp conversation with the photo inline, the quote linked, delivery ticks moved by
// Meta's statuses and the reply window's time left; a day later the window has closed and
// the composer offers the approved templates instead, which go out as a template message.
// Photographed at desktop and phone width, checked by axe-core.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { accessible, DESKTOP, freePort, launch, png, Server, shoot, signIn, until } from "./lib.mjs";

const PNID = "1122334455667";
const SECRET = "browser-whatsapp-app-secret";
const CUSTOMER = "5511987654321";

/** A PNG of a copier's smeared test page: grey stripes on white. */
function photo(width = 360, height = 240) {
  return png(width, height, (x, y) => {
    const smear = x < 60 ? 90 + ((x * 7 + y * 3) % 60) : 0;
    const line = y % 24 < 3 && x > 80 && x < width - 40 ? 110 : 0;
    const v = Math.max(0, 250 - smear - line);
    return [v, v, Math.min(255, v + 4)];
  });
}

/** The Graph API's part this test needs: media info and bytes, sends, templates. */
async function fakeGraph() {
  const png = photo();
  const sends = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const json = (v) => { res.setHeader("content-type", "application/json"); res.end(JSON.stringify(v)); };
      const url = new URL(req.url, "http://x");
      if (req.method === "POST" && url.pathname.endsWith("/messages")) {
        const v = JSON.parse(body);
        sends.push(v);
        if (v.status === "read") return json({ success: true });
        n += 1;
        return json({ messaging_product: "whatsapp", contacts: [{ input: v.to, wa_id: v.to }], messages: [{ id: `wamid.out.${n}` }] });
      }
      if (url.pathname.endsWith("/message_templates")) {
        return json({ data: [
          { name: "visit_scheduled", language: "pt_BR", status: "APPROVED", category: "UTILITY", id: "1",
            components: [{ type: "BODY", text: "Olá {{1}}! A visita técnica para a sua {{2}} está marcada. Responda esta mensagem se precisar mudar o horário." }] },
          { name: "invoice_issued", language: "pt_BR", status: "APPROVED", category: "UTILITY", id: "2",
            components: [{ type: "BODY", text: "Sua fatura {{1}} foi emitida." }] },
        ] });
      }
      if (url.pathname === "/dl/photo-1") {
        res.setHeader("content-type", "image/png");
        return res.end(png);
      }
      if (url.pathname === "/photo-1") {
        return json({ messaging_product: "whatsapp", url: `http://127.0.0.1:${server.address().port}/dl/photo-1`, mime_type: "image/png", sha256: "x", file_size: png.length, id: "photo-1" });
      }
      res.statusCode = 404;
      json({ error: { message: "Unsupported get request", code: 100 } });
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { server, sends, url: `http://127.0.0.1:${server.address().port}` };
}

function delivery(value) {
  return JSON.stringify({ object: "whatsapp_business_account", entry: [{ id: "999", changes: [{ field: "messages", value: {
    messaging_product: "whatsapp", metadata: { display_phone_number: "551140040000", phone_number_id: PNID }, ...value } }] }] });
}

let seq = 0;
function message(extra) {
  seq += 1;
  return delivery({
    contacts: [{ profile: { name: "Marina Duarte" }, wa_id: CUSTOMER }],
    messages: [{ from: CUSTOMER, id: `wamid.in.${seq}`, timestamp: String(Math.floor(Date.now() / 1000)), ...extra }],
  });
}

async function post(server, body) {
  const signature = "sha256=" + createHmac("sha256", SECRET).update(body).digest("hex");
  const res = await fetch(`${server.base}/webhooks/whatsapp`, { method: "POST", headers: { "content-type": "application/json", "x-hub-signature-256": signature }, body });
  assert.equal(res.status, 200, await res.text());
}

test("a WhatsApp conversation in the inbox: photo, place, quote, ticks, then only templates", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sb-wa-"));
  const profile = mkdtempSync(join(tmpdir(), "sb-profile-"));
  const graph = await fakeGraph();
  const server = new Server(await freePort(), dir);
  let context;
  try {
    const config = join(dir, "switchboard.toml");
    writeFileSync(config, `[web]
business_name = "Copiadoras Duarte"

[whatsapp]
graph_url = "${graph.url}"

[[whatsapp.numbers]]
name = "vendas"
phone_number_id = "${PNID}"
business_account_id = "999"
display_phone_number = "+55 11 4004-0000"
token = "EAAG-browser-token"
app_secret = "${SECRET}"
verify_token = "browser-verify-token"
`);
    Object.assign(server.env, { SWITCHBOARD_CONFIG: config });
    await server.start();
    const password = "correct horse battery staple";
    const admin = JSON.parse(server.cliWithInput(`${password}\n`, "user", "add", "--email", "rita@acme.test", "--name", "Rita Alves", "--role", "admin", "--password-stdin")).token;

    await post(server, message({ type: "text", text: { body: "Boa tarde! A copiadora Ricoh MP 301 do escritório está manchando todas as folhas do lado esquerdo 😕" } }));
    await post(server, message({ type: "image", image: { id: "photo-1", mime_type: "image/png", sha256: "x", caption: "Olha como sai a página de teste" } }));
    await post(server, message({ type: "location", location: { latitude: -23.5614, longitude: -46.6559, name: "Escritório Duarte", address: "Av. Paulista, 1578, São Paulo" } }));

    context = await launch(profile, DESKTOP);
    const page = context.pages()[0] || (await context.newPage());
    const errors = [];
    page.on("pageerror", (e) => errors.push(e));
    await signIn(page, server.base, "rita@acme.test", password);
    await page.waitForURL(/\/conversations/);
    await page.goto(`${server.base}/conversations?view=all`);
    const row = page.locator("#list li[data-number]", { hasText: "Marina Duarte" });
    await row.waitFor({ timeout: 20000 });
    await row.locator("a.conv").click();
    await page.locator("#conv-head").waitFor();
    // The photo, fetched after the webhook answered, shows inline once it has come.
    const img = page.locator("#thread li.msg.in .photo img");
    await until(async () => (await page.reload(), (await img.count()) === 1), 20000);
    assert.ok(await img.evaluate((i) => i.complete && i.naturalWidth === 360), "the photo is served");
    await page.locator("#thread .place", { hasText: "Av. Paulista" }).waitFor();
    await page.locator("#wa-window", { hasText: "left" }).waitFor();

    await page.locator("#reply-text").fill("Boa tarde, Marina! Pela foto parece o rolo de fusão. Consegue me dizer o número de série que fica na etiqueta atrás da máquina?");
    await page.getByRole("button", { name: "Send" }).click();
    const out = page.locator("#thread li.msg.out", { hasText: "rolo de fusão" });
    await out.waitFor();
    const sent = await until(() => graph.sends.find((s) => s.type === "text" && s.text.body.includes("rolo de fusão")), 20000);
    assert.equal(sent.to, CUSTOMER);
    // Meta's statuses move the ticks: delivered, then read.
    for (const status of ["delivered", "read"]) {
      await post(server, delivery({ statuses: [{ id: "wamid.out.1", status, timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: CUSTOMER }] }));
    }
    await until(async () => (await out.locator(".state.read").count()) === 1, 20000);
    // The customer answers, quoting the agent's message.
    await post(server, message({ type: "text", text: { body: "Claro! É E174M123456. Podem vir amanhã de manhã?" }, context: { from: "551140040000", id: "wamid.out.1" } }));
    const quoted = page.locator("#thread li.msg.in", { hasText: "E174M123456" });
    await quoted.waitFor({ timeout: 20000 });
    assert.match(await quoted.locator(".in-reply").innerText(), /rolo de fusão/);
    assert.deepEqual(errors, []);
    const toBottom = () => page.locator("#thread-body").evaluate((b) => { b.scrollTop = b.scrollHeight; });
    await accessible(page, "WhatsApp conversation");
    await shoot(page, "whatsapp-conversation", toBottom);

    // A day later the window has closed: the composer says so and offers the templates.
    execFileSync("python3", ["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('UPDATE messages SET created_at = created_at - 90000000'); c.commit()", join(dir, "switchboard.db")]);
    await page.reload();
    await page.locator("#wa-window.closed").waitFor();
    const picker = page.locator("#wa-templates");
    await picker.waitFor();
    await page.locator("#wa-template").selectOption("visit_scheduled|pt_BR");
    await page.locator("#wa-params").fill("Marina\nRicoh MP 301");
    await accessible(page, "WhatsApp template picker");
    await shoot(page, "whatsapp-template-picker", async () => { await picker.scrollIntoViewIfNeeded(); });
    await picker.getByRole("button", { name: "Send template" }).click();
    await page.locator("#thread li.msg.out", { hasText: "A visita técnica para a sua Ricoh MP 301 está marcada" }).waitFor();
    const template = await until(() => graph.sends.find((s) => s.type === "template"), 20000);
    assert.deepEqual(template.template, { name: "visit_scheduled", language: { code: "pt_BR" }, components: [{ type: "body", parameters: [{ type: "text", text: "Marina" }, { type: "text", text: "Ricoh MP 301" }] }] });

    // Marina in her portal (Portuguese, phone): her WhatsApp number is linked, and she
    // chooses to get her notices there.
    const marina = (await server.api(admin, "/conversations")).conversations.find((c) => c.channel === "whatsapp");
    const link = JSON.parse(server.cli("portal", "link", "--contact", marina.contact_id, "--email", "marina@duarte.example", "--next", "/portal/account")).url;
    const client = await launch(mkdtempSync(join(tmpdir(), "sb-profile-")), DESKTOP, { locale: "pt-BR" });
    try {
      const p = client.pages()[0] || (await client.newPage());
      p.on("pageerror", (e) => errors.push(e));
      await p.goto(link);
      await p.getByRole("button", { name: "Entrar" }).click();
      await p.waitForURL(/\/portal\/account$/);
      const section = p.locator("#whatsapp");
      await section.getByRole("button", { name: "Continuar no WhatsApp" }).waitFor();
      await section.getByText("Seu número de WhatsApp está vinculado.").waitFor();
      await section.getByLabel("Pelo WhatsApp").check();
      await section.getByRole("button", { name: "Salvar" }).click();
      await p.locator(".notice.ok", { hasText: "Salvo." }).waitFor();
      assert.ok(await p.locator("#whatsapp input[value=whatsapp]").isChecked());
      await accessible(p, "portal account with WhatsApp");
      await shoot(p, "portal-account-whatsapp", async () => { await p.locator("#whatsapp").scrollIntoViewIfNeeded(); });
      // The Support page offers to carry on there too.
      await p.goto(`${server.base}/portal/tickets`);
      await p.locator("#tickets-whatsapp", { hasText: "Continuar no WhatsApp" }).waitFor();
      await accessible(p, "portal support with WhatsApp");
      await shoot(p, "portal-tickets-whatsapp");
    } finally {
      await client.close();
    }

    // The settings page: the file's number, and a second number added here, live at once.
    await page.goto(`${server.base}/admin/whatsapp`);
    await page.locator("section.mailbox", { hasText: "+55 11 4004-0000" }).waitFor();
    await page.getByRole("link", { name: "Add a number" }).click();
    await page.getByLabel("Short name").fill("assistencia");
    await page.getByLabel("The number as customers see it").fill("+55 11 3003-0000");
    await page.getByLabel("Phone number ID").fill("2233445566778");
    await page.getByLabel("Team of new conversations").fill("assistencia");
    await page.getByLabel("Access token").fill("EAAG-second-token");
    await page.getByLabel("App secret").fill("second-app-secret-0123");
    await page.getByLabel("Verify token").fill("second-verify-token");
    await page.getByRole("button", { name: "Save" }).click();
    await page.locator(".notice.ok", { hasText: "The number is added" }).waitFor();
    await page.locator("section.mailbox", { hasText: "+55 11 3003-0000" }).waitFor();
    await accessible(page, "WhatsApp settings");
    await shoot(page, "whatsapp-settings");
    // Outgoing webhooks: an admin subscribes the ERP's address to messages and new
    // conversations; the next WhatsApp message shows in its delivery log.
    const erpGot = [];
    const erp = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => { body += c; });
      req.on("end", () => { erpGot.push({ sig: req.headers["switchboard-signature"], body }); res.writeHead(200); res.end("thanks"); });
    });
    await new Promise((r) => erp.listen(0, "127.0.0.1", r));
    await page.goto(`${server.base}/admin/webhooks`);
    await page.getByText("No webhook yet.").waitFor();
    await page.getByRole("link", { name: "Add a webhook" }).click();
    await page.getByLabel("Address", { exact: true }).fill("http://erp.example.com/in");
    await page.getByLabel("A message is written (client, agent or bot)").check();
    await page.getByRole("button", { name: "Save" }).click();
    await page.locator(".error-summary", { hasText: "https://" }).waitFor();
    await page.getByLabel("Address", { exact: true }).fill(`http://127.0.0.1:${erp.address().port}/switchboard`);
    await page.getByLabel("Description").fill("ERP Globex");
    await page.getByLabel("A conversation is opened").check();
    await page.getByRole("button", { name: "Save" }).click();
    await page.locator(".notice.ok", { hasText: "The webhook is added" }).waitFor();
    const second = delivery({ contacts: [{ profile: { name: "Paulo" }, wa_id: "5511977776666" }],
      messages: [{ from: "5511977776666", id: "wamid.second.1", timestamp: String(Math.floor(Date.now() / 1000)), type: "text", text: { body: "Oi, o técnico já saiu?" } }] }).replace(PNID, "2233445566778");
    const signed = "sha256=" + createHmac("sha256", "second-app-secret-0123").update(second).digest("hex");
    const res = await fetch(`${server.base}/webhooks/whatsapp`, { method: "POST", headers: { "content-type": "application/json", "x-hub-signature-256": signed }, body: second });
    assert.equal(res.status, 200, await res.text());
    await until(async () => erpGot.length >= 2);
    const hookUrl = page.url().split("?")[0];
    await until(async () => {
      await page.goto(hookUrl);
      return (await page.locator(".hook-log .pill", { hasText: "Delivered" }).count()) >= 2;
    });
    const event = JSON.parse(erpGot.find((g) => g.body.includes("message.created")).body);
    assert.equal(event.data.message.text, "Oi, o técnico já saiu?");
    await page.locator(".hook-log details").first().locator("summary").click();
    await accessible(page, "a webhook and its deliveries");
    await shoot(page, "webhook");
    await page.getByRole("button", { name: "Send again" }).first().click();
    await page.locator(".notice.ok", { hasText: "on its way again" }).waitFor();
    await until(async () => erpGot.length >= 3);
    await page.goto(`${server.base}/admin/webhooks`);
    await page.locator("section.mailbox", { hasText: "ERP Globex" }).waitFor();
    await accessible(page, "webhooks");
    await shoot(page, "webhooks");
    erp.close();
    assert.deepEqual(errors, []);
  } finally {
    if (context) await context.close();
    if (server.child) server.child.kill("SIGTERM");
    graph.server.close();
    rmSync(profile, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
