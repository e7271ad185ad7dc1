// Equipment in a real Chromium: the admin's API imports a client's fleet and contract and
// half a year of readings, and the ended months are billed; the client (Portuguese) opens
// the portal, sees the machines, the consumption chart and the contract's calculation,
// and enters a reading with a photo of the counter; closing the month bills it from that
// reading, and the contract page shows it line by line; the agent sees the reading on the
// machine's page; the desk books a technician for the client's toner request, the
// technician arrives and writes the report on the phone, and the client follows it live on
// the request and downloads the report. The client's sites on the map, its tiles from a
// tile server on loopback, and the same list with that server gone. Every page through
// axe-core and photographed at desktop and phone width.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { accessible, DESKTOP, freePort, launch, PHONE, png, Server, shoot, signIn, until } from "./lib.mjs";

/** A PNG of a copier's counter screen: dark digits on a light panel. */
function counterPhoto(width = 320, height = 160) {
  return png(width, height, (x, y) => {
    const digit = y > 50 && y < 110 && x > 30 && x < 290 && (x % 40 < 8 || y % 30 < 6) ? 60 : 0;
    const v = 225 - digit;
    return [v - 10, v, v - 30];
  });
}

/** A tile server as map tile servers answer (`/{z}/{x}/{y}.png`), counting what it serves. */
function tileServer() {
  const tile = png(256, 256, (x, y) => {
    const road = (x + y) % 128 < 6 || Math.abs(x - 180) < 4;
    const block = (x % 64 < 2 || y % 64 < 2) ? 18 : 0;
    return road ? [255, 251, 240] : [234 - block, 230 - block, 220 - block];
  });
  const served = { count: 0 };
  const server = http.createServer((req, res) => {
    if (/^\/\d+\/\d+\/\d+\.png$/.test(req.url)) {
      served.count += 1;
      res.writeHead(200, { "content-type": "image/png", "cache-control": "no-store" });
      return res.end(tile);
    }
    res.writeHead(404);
    res.end();
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, served, port: server.address().port })));
}

const iso = (d) => d.toISOString().slice(0, 10);
/** The first of the month `k` months from this one (UTC). */
function monthStart(k) {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + k, 1));
}
const dayBefore = (d) => new Date(d.getTime() - 86400000);

test("a client reads the fleet, enters a reading with a photo, and the month is billed from it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sb-browser-equipment-"));
  const server = new Server(await freePort(), dir);
  const tiles = await tileServer();
  server.env.SWITCHBOARD_PORTAL__MAP_TILES = `http://127.0.0.1:${tiles.port}/{z}/{x}/{y}.png`;
  server.env.SWITCHBOARD_PORTAL__MAP_ATTRIBUTION = "Mapa de teste";
  const contexts = [];
  try {
    await server.start();
    const password = "correct horse battery staple";
    const admin = JSON.parse(server.cliWithInput(`${password}\n`, "user", "add", "--email", "rita@acme.test", "--name", "Rita Alves", "--role", "admin", "--password-stdin")).token;

    // The client first writes on the web chat: that is her contact.
    const chat = await launch(mkdtempSync(join(tmpdir(), "sb-profile-")), PHONE, { locale: "pt-BR" });
    contexts.push(chat);
    const w = chat.pages()[0] || (await chat.newPage());
    await w.goto(`${server.base}/chat`);
    await w.getByTestId("sb-launcher").click();
    await w.getByTestId("sb-input").fill("Olá, sou a Ana da Globex");
    await w.getByTestId("sb-input").press("Enter");
    const conv = await until(async () => (await server.api(admin, "/conversations")).conversations?.[0], 20000);
    const company = await server.api(admin, "/companies", { name: "Globex Logística" });
    await server.api(admin, `/companies/${company.id}/contacts`, { contact_id: conv.contact_id });

    // The fleet from the ERP's CSV, then the contract and half a year of readings.
    const csv = [
      "serial,model,maker,location,asset_tag,company_id",
      `E174M123456,IM C3000,Ricoh,Galpão 1 · expedição,PAT-001,${company.id}`,
      `VCF4Z01234,ECOSYS M3655idn,Kyocera,Escritório central,PAT-002,${company.id}`,
      `CNB9K12345,LaserJet M406dn,HP,Escritório central,PAT-003,${company.id}`,
    ].join("\n");
    const imported = await (await fetch(`${server.base}/api/v1/machines/import`, {
      method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "text/csv" }, body: csv,
    })).json();
    assert.equal(imported.imported, 3, JSON.stringify(imported));
    const machines = (await server.api(admin, "/machines")).machines;
    const ricoh = machines.find((m) => m.serial === "E174M123456");
    const start = monthStart(-6);
    const contract = await server.api(admin, "/contracts", {
      company_id: company.id, contact_id: conv.contact_id, number: "CT-2026-014", period: "monthly", currency: "BRL",
      fee: 89000, start_date: iso(start), renewal_date: iso(monthStart(18)), read_before: 3,
      terms: { pooling: "pooled", tax_rate_bp: 0, allowances: [
        { counter: "mono", included: 12000, tiers: [{ from: 0, per_thousand: 3500 }, { from: 10000, per_thousand: 2800 }] },
        { counter: "colour", included: 2000, tiers: [{ from: 0, per_thousand: 29000 }] },
      ] },
      machines: machines.map((m, i) => ({ machine_id: m.id, slot: String(i + 1) })),
    });
    assert.ok(contract.id, JSON.stringify(contract));
    let mono = 40000;
    let colour = 9000;
    for (let k = -6; k <= 0; k++) {
      const day = iso(dayBefore(monthStart(k)));
      for (const [i, m] of machines.entries()) {
        const body = { mono: mono * (m.serial === ricoh.serial ? 1 : i + 2), key: `seed-${m.id}-${k}`, date: day };
        if (m.serial === ricoh.serial) body.colour = colour;
        const r = await server.api(admin, `/machines/${m.id}/readings`, body);
        assert.ok(r.id, JSON.stringify(r));
      }
      mono += 7000 + (k + 6) * 900;
      colour += 1500 + (k + 6) * 150;
    }
    const closed = await server.api(admin, "/contracts/close", {});
    assert.equal(closed.periods, 6, JSON.stringify(closed));

    // The client, in Portuguese, on her portal.
    const link = JSON.parse(server.cli("portal", "link", "--contact", conv.contact_id, "--email", "ana@globex.example", "--next", "/portal/machines")).url;
    const ctx = await launch(mkdtempSync(join(tmpdir(), "sb-profile-")), DESKTOP, { locale: "pt-BR" });
    contexts.push(ctx);
    const page = ctx.pages()[0] || (await ctx.newPage());
    const errors = [];
    page.on("pageerror", (e) => errors.push(e));
    await page.goto(link);
    await page.getByRole("button", { name: "Entrar" }).click();
    await page.waitForURL(/\/portal\/machines$/);
    await page.locator("#machines tbody tr").nth(2).waitFor();
    await page.locator("#contracts", { hasText: "CT-2026-014" }).waitFor();
    await accessible(page, "portal machines");
    await shoot(page, "portal-machines");

    await page.getByRole("link", { name: "IM C3000" }).click();
    await page.waitForURL(new RegExp(`/portal/machines/${ricoh.id}$`));
    const bars = await page.locator("#consumption rect.mono").count();
    assert.equal(bars, 6, "six months of consumption");
    await page.getByRole("textbox", { name: "Preto e branco" }).fill("101.200");
    await page.getByRole("textbox", { name: "Colorido" }).fill("21.480");
    await page.getByLabel("Foto do contador").setInputFiles({ name: "contador.png", mimeType: "image/png", buffer: counterPhoto() });
    await accessible(page, "portal machine");
    await shoot(page, "portal-machine");
    await page.getByRole("button", { name: "Salvar leitura" }).click();
    await page.locator("#reading-notice", { hasText: "Leitura salva" }).waitFor();
    await page.locator("#readings tbody tr").first().filter({ hasText: "101.200" }).waitFor();
    assert.equal(await page.locator("#consumption rect.mono").count(), 7, "the new reading is in the chart");
    const photo = page.getByRole("link", { name: "Foto" }).first();
    const href = await photo.getAttribute("href");
    const got = await page.request.get(`${server.base}${href}`);
    assert.equal(got.status(), 200);
    assert.equal(got.headers()["content-type"], "image/png");
    await shoot(page, "portal-machine-saved");

    // A reading below the last one is refused in words, and nothing is stored.
    await page.getByRole("textbox", { name: "Preto e branco" }).fill("90.000");
    await page.getByRole("button", { name: "Salvar leitura" }).click();
    await page.locator("#reading-error").waitFor();
    await accessible(page, "portal machine with an error");

    // This month closes from the client's reading: the contract page shows it line by line.
    const next = await server.api(admin, "/contracts/close", { today: iso(monthStart(1)) });
    assert.equal(next.periods, 1, JSON.stringify(next));
    await page.goto(`${server.base}/portal/contracts/CT-2026-014`);
    const latest = page.locator(".eq-period").first();
    await latest.locator(".eq-calc tbody tr").first().waitFor();
    const first = await latest.locator(".eq-calc tbody tr").first().textContent();
    assert.ok(/Preto e branco/.test(first), first);
    assert.equal(await page.locator(".eq-period").count(), 7);
    assert.equal(await page.locator("#consumption rect.mono").count(), 7, "each closed period's copies are charted");
    await accessible(page, "portal contract");
    await shoot(page, "portal-contract");

    // Every machine in one form: a row typed below its last reading is named, the rest kept.
    await page.goto(`${server.base}/portal/machines`);
    await page.locator("#all-readings-link").click();
    await page.waitForURL(/\/portal\/readings$/);
    const hp = machines.find((m) => m.serial === "CNB9K12345");
    await page.locator(`input[name="mono-${hp.id}"]`).fill("1.000");
    await page.getByRole("button", { name: "Salvar leitura" }).click();
    await page.locator(`#row-${hp.id} .eq-row-error`).waitFor();
    assert.equal(await page.locator(`input[name="mono-${hp.id}"]`).inputValue(), "1.000");
    await accessible(page, "portal readings");
    await shoot(page, "portal-readings");

    // Toner from the machine's page: a ticket about the machine.
    await page.goto(`${server.base}/portal/machines/${ricoh.id}`);
    await page.locator("#request-service").click();
    await page.waitForURL(/\/portal\/tickets\/new\?machine=/);
    assert.equal(await page.locator("#machine").inputValue(), ricoh.id);
    await page.getByLabel("Toner", { exact: true }).check();
    await page.getByLabel("Preto", { exact: true }).check();
    await page.getByLabel("Ciano", { exact: true }).check();
    await page.locator("#message").fill("Acabou o toner preto e o ciano da expedição.");
    await accessible(page, "portal toner request");
    await shoot(page, "portal-request-toner", async () => { await page.locator("#machine-request").scrollIntoViewIfNeeded(); });
    await page.locator("#send-ticket").click();
    await page.waitForURL(/\/portal\/tickets\/\d+/);

    // The agent sees the client's reading on the machine's page.
    const agent = await launch(mkdtempSync(join(tmpdir(), "sb-profile-")), DESKTOP, { locale: "en-US" });
    contexts.push(agent);
    const a = agent.pages()[0] || (await agent.newPage());
    a.on("pageerror", (e) => errors.push(e));
    await signIn(a, server.base, "rita@acme.test", password);
    await a.waitForURL(/\/conversations/);
    await a.goto(`${server.base}/equipment`);
    await a.locator("#machines tbody tr").nth(2).waitFor();
    await accessible(a, "agent equipment");
    await shoot(a, "equipment-list");
    await a.getByRole("link", { name: "IM C3000" }).click();
    await a.locator("#readings tbody tr").first().filter({ hasText: "101,200" }).waitFor();
    await a.locator("#readings tbody tr").first().filter({ hasText: "Portal" }).waitFor();
    await accessible(a, "agent machine");
    await shoot(a, "equipment-machine");
    // The request's conversation shows the machine's card.
    await a.locator("#machine-requests a").first().click();
    await a.waitForURL(/\/conversations\/\d+/);
    const card = a.locator(".card-kind", { hasText: "Open requests" });
    await card.waitFor();
    assert.ok(/Black, Cyan/.test(await card.textContent()), await card.textContent());
    // The contact panel lists the company's machines.
    await a.locator("#side-machines a", { hasText: "E174M123456" }).waitFor();
    assert.equal(await a.locator("#side-machines li").count(), 3);
    await accessible(a, "agent conversation with a machine card");
    await shoot(a, "equipment-ticket-card", async () => { await card.scrollIntoViewIfNeeded(); });

    // The desk books a technician for the toner request from the machine's page.
    server.cliWithInput(`${password}\n`, "user", "add", "--email", "marcos@acme.test", "--name", "Marcos Lima", "--role", "technician", "--password-stdin");
    await a.goto(`${server.base}/equipment/machines/${ricoh.id}`);
    await a.locator("#visit-technician").selectOption({ label: "Marcos Lima" });
    await a.locator("#visit-date").fill(iso(new Date(Date.now() + 86400000)));
    await a.locator("#visit-from").fill("9h");
    await a.locator("#visit-to").fill("12:00");
    await accessible(a, "agent machine with the booking form");
    await shoot(a, "equipment-machine-schedule", async () => { await a.locator("#schedule-card").scrollIntoViewIfNeeded(); });
    await a.locator("#schedule-visit").click();
    await a.waitForURL(/\/equipment\/visits\/[0-9a-f-]+$/);
    await a.locator("#visit-status", { hasText: "Scheduled" }).waitFor();
    await accessible(a, "agent visit");
    await shoot(a, "equipment-visit");
    // The client's request shows who comes and when, without a reload.
    await page.locator("#ticket-visits .visit-technician", { hasText: "Marcos Lima" }).waitFor();
    await page.locator("#ticket-visits .pill.visit-scheduled", { hasText: "Agendada" }).waitFor();

    // Marcos, on his phone: his visits; he arrives, and writes the report with the client.
    const techCtx = await launch(mkdtempSync(join(tmpdir(), "sb-profile-")), PHONE, { locale: "en-US" });
    contexts.push(techCtx);
    const t = techCtx.pages()[0] || (await techCtx.newPage());
    t.on("pageerror", (e) => errors.push(e));
    await signIn(t, server.base, "marcos@acme.test", password);
    await t.waitForURL(/\/conversations/);
    await t.goto(`${server.base}/equipment/visits`);
    await t.locator("#upcoming tbody tr").first().waitFor();
    await accessible(t, "technician's visits");
    await shoot(t, "equipment-visits");
    await t.locator("#upcoming tbody tr a").first().click();
    await t.locator("#visit-arrive").click();
    await t.locator("#visit-status", { hasText: "Technician on site" }).waitFor();
    await page.locator("#ticket-visits .pill.visit-on_site").waitFor();
    await t.locator("#work_done").fill("Toner preto e ciano trocados; limpeza da unidade de transferência e teste com 20 cópias.");
    await t.locator("#parts").fill("1x toner preto\n1x toner ciano");
    await t.locator("#signed_by").fill("Ana Souza");
    await accessible(t, "technician's report form");
    await shoot(t, "equipment-visit-report-form", async () => { await t.locator("#complete-card").scrollIntoViewIfNeeded(); });
    await t.locator("#visit-complete").click();
    await t.locator("#visit-status", { hasText: "Done" }).waitFor();
    await t.locator("#visit-parts li", { hasText: "toner ciano" }).waitFor();
    await accessible(t, "technician's finished visit");
    await shoot(t, "equipment-visit-done");

    // The client sees it done, with the report, and the machine back in service.
    await page.locator("#ticket-visits .pill.visit-done", { hasText: "Realizada" }).waitFor();
    const reportHref = await page.locator("#ticket-visits a.visit-report").getAttribute("href");
    const report = await page.request.get(`${server.base}${reportHref}`);
    assert.equal(report.status(), 200);
    assert.equal(report.headers()["content-type"], "application/pdf");
    await accessible(page, "portal request with its visit");
    await shoot(page, "portal-ticket-visit", async () => { await page.locator("#ticket-visits").scrollIntoViewIfNeeded(); });
    await page.goto(`${server.base}/portal/machines/${ricoh.id}`);
    await page.locator("#machine-status", { hasText: "Em operação" }).waitFor();
    await page.locator("#machine-visits tbody tr").first().waitFor();
    await page.locator("#machine-documents a", { hasText: "Relatório de visita" }).waitFor();
    await accessible(page, "portal machine with its visits");
    await shoot(page, "portal-machine-visits", async () => { await page.locator("#machine-visits").scrollIntoViewIfNeeded(); });

    // The desk marks the HP down; the supervisor board lists it with the machines unread.
    await a.goto(`${server.base}/equipment/machines/${hp.id}`);
    await a.locator("#machine-status-select").selectOption("down");
    await a.locator("#machine-status-select").locator("xpath=..").getByRole("button").click();
    await a.locator("#machine-status.machine-down").waitFor();
    await a.goto(`${server.base}/dashboard`);
    await a.locator("#machines-down li", { hasText: "CNB9K12345" }).waitFor();
    assert.equal(await a.locator("#overdue li").count(), 0, "nothing past due");
    await accessible(a, "supervisor board");
    await shoot(a, "dashboard-board", async () => { await a.locator("#board").scrollIntoViewIfNeeded(); });

    // The client's sites: two with coordinates on the map, one without; the machines at
    // them, the visit report from the map page.
    const galpao = await server.api(admin, "/sites", { company_id: company.id, name: "Galpão Lapa", address: "Rua Guaicurus, 1200 — Lapa, São Paulo", latitude: -23.522519, longitude: "-46,703722" });
    const central = await server.api(admin, "/sites", { company_id: company.id, name: "Escritório central", address: "Av. Paulista, 1578 — São Paulo", latitude: -23.561414, longitude: -46.655881 });
    const deposito = await server.api(admin, "/sites", { company_id: company.id, name: "Depósito Guarulhos", address: "Rod. Hélio Smidt, s/n — Guarulhos" });
    assert.ok(galpao.id && central.id && deposito.id, JSON.stringify([galpao, central, deposito]));
    for (const m of machines) {
      const site = m.serial === ricoh.serial ? galpao : central;
      assert.equal((await server.api(admin, `/machines/${m.id}/site`, { site_id: site.id })).site_id, site.id);
    }
    await page.goto(`${server.base}/portal/machines`);
    await page.locator("#map-link").click();
    await page.waitForURL(/\/portal\/map$/);
    await page.locator('#site-map[data-markers="2"]').waitFor();
    await page.locator("#site-map[data-tiles-loaded]").waitFor();
    assert.equal(await page.locator("#site-map path.leaflet-interactive").count(), 2, "a marker per site with coordinates");
    assert.ok(tiles.served.count > 0, "tiles came from the tile server");
    assert.equal(await page.locator(".site").count(), 3);
    await page.locator(`#site-${galpao.id} a.visit-report`).first().waitFor();
    assert.equal(await page.locator(`#site-${central.id} .site-machine`).count(), 2);
    assert.equal(await page.locator(`#site-${central.id} .pill.machine-down`).count(), 2, "the site's count and the HP");
    assert.equal(await page.locator(".site").first().getAttribute("id"), `site-${central.id}`, "a site with a machine down first");
    assert.equal(await page.locator(`#site-${deposito.id} .site-machine`).count(), 0);
    await accessible(page, "portal sites map");
    // The map keeps the sites in view as the window narrows (after its resize settles).
    await shoot(page, "portal-map", async () => { await page.waitForTimeout(500); });
    // A marker opens its site's card.
    await page.locator("#site-map path.leaflet-interactive").first().click();
    await page.locator(".leaflet-popup a").first().waitFor();

    // The tile server gone: no map tiles, the same list, nothing refused by the policy.
    await new Promise((resolve) => { tiles.server.closeAllConnections(); tiles.server.close(resolve); });
    await page.reload();
    await page.locator('#site-map[data-markers="2"]').waitFor();
    await page.locator("#site-map[data-tile-errors]").waitFor();
    await page.locator("#site-map .site-map-offline").waitFor();
    assert.equal(await page.locator(".site-machine").count(), 3, "every machine is listed without tiles");
    await page.locator(`#site-${galpao.id} a.visit-report`).first().waitFor();
    await shoot(page, "portal-map-no-tiles", async () => { await page.waitForTimeout(500); });

    // The group: Ana, Globex's admin, is granted its northeast branch by the business; the
    // home lists both companies and the switcher moves her into the branch.
    const branch = await server.api(admin, "/companies", { name: "Globex Nordeste" });
    const granted = await server.api(admin, `/companies/${branch.id}/managers`, { email: "ana@globex.example" });
    assert.equal(granted.changed, true, JSON.stringify(granted));
    await page.goto(`${server.base}/portal`);
    await page.locator("#home-group li", { hasText: "Globex Nordeste" }).waitFor();
    assert.equal(await page.locator("#home-group li").count(), 2);
    await accessible(page, "portal home of a group");
    await shoot(page, "portal-home-group");
    await page.locator("#company-select").selectOption(branch.id);
    await page.locator("#company-switcher button").click();
    await page.waitForURL(/\/portal$/);
    await page.locator("#home-group li.current", { hasText: "Globex Nordeste" }).waitFor();
    await page.goto(`${server.base}/portal/machines`);
    assert.equal(await page.locator("#machines").count(), 0, "the branch has no machines yet");
    assert.deepEqual(errors, []);
  } finally {
    for (const c of contexts) await c.close();
    tiles.server.close();
    server.kill9();
    rmSync(dir, { recursive: true, force: true });
  }
});
