// The chat widget in a real Chromium: send, acknowledgement, typing indicator, agent
// reply, history after a reload, and a server crash with a message typed while offline
// (reconnect with back-off; the message is stored exactly once). Then a Brazilian visitor
// outside business hours: the widget in Portuguese, when people are back, an email left,
// an agent's name and time on the reply, an image sent and refused files.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { accessible, freePort, launch, Server, SHOTS, until } from "./lib.mjs";


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
    const texts = await page.locator("[data-testid=sb-msg] .sb-text").allTextContents();
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

/** Today and tomorrow in UTC as YYYY-MM-DD, and the instant the day after begins. */
function closedTodayAndTomorrow() {
  const day = 86400000;
  const today = Math.floor(Date.now() / day) * day;
  const date = (ms) => new Date(ms).toISOString().slice(0, 10);
  return { holidays: `${date(today)},${date(today + day)}`, back: today + 2 * day };
}

test("a Brazilian visitor after hours: Portuguese, when we are back, an email, a named reply, an image", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sb-browser-"));
  const profile = mkdtempSync(join(tmpdir(), "sb-profile-"));
  const server = new Server(await freePort(), dir);
  const { holidays, back } = closedTodayAndTomorrow();
  // Open round the clock, except today and tomorrow (UTC): closed now, back in two days.
  Object.assign(server.env, {
    SWITCHBOARD_BUSINESS_HOURS__TIME_ZONE: "UTC",
    SWITCHBOARD_BUSINESS_HOURS__WEEK: Array(7).fill("00:00-24:00").join(","),
    SWITCHBOARD_BUSINESS_HOURS__HOLIDAYS: holidays,
    SWITCHBOARD_WEBCHAT__MAX_ATTACHMENT_BYTES: String(200 * 1024),
  });
  await server.start();
  const token = JSON.parse(server.cli("user", "add", "--email", "ana@example.com", "--name", "Ana Lima", "--role", "support")).token;
  const zone = "America/Sao_Paulo";
  const context = await launch(profile, { width: 390, height: 844 }, { locale: "pt-BR", timezoneId: zone });
  try {
    const page = context.pages()[0] || (await context.newPage());
    const errors = [];
    page.on("pageerror", (e) => errors.push(e));
    await page.goto(`${server.base}/chat`);

    // Portuguese from the browser's languages, on the widget's root too.
    const launcher = page.getByTestId("sb-launcher");
    assert.equal(await launcher.getAttribute("aria-label"), "Abrir o chat");
    assert.equal(await page.locator("[data-switchboard]").getAttribute("lang"), "pt-BR");
    await launcher.click();
    await page.getByTestId("sb-status").and(page.locator("[data-state=online]")).waitFor();
    assert.equal(await page.getByTestId("sb-input").getAttribute("placeholder"), "Escreva uma mensagem…");
    assert.equal(await page.getByTestId("sb-attach").getAttribute("aria-label"), "Anexar uma imagem ou um PDF");

    // Away, with when people are back in the visitor's time zone and words.
    const away = page.getByTestId("sb-away-text");
    await away.waitFor();
    const backAt = new Intl.DateTimeFormat("pt-BR", { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone }).format(back);
    const awayText = await away.textContent();
    assert.match(awayText, /^No momento estamos ausentes\. Costumamos responder a partir de /);
    assert.ok(awayText.includes(backAt), `${awayText} names ${backAt}`);
    assert.match(awayText, /(amanhã|hoje|-feira|sábado|domingo)/);

    // The visitor writes, then leaves an address: a plain check first, then thanks.
    await page.getByTestId("sb-input").fill("Minha impressora mostra E-302");
    await page.getByTestId("sb-input").press("Enter");
    await page.locator(".sb-msg.sb-you:not(.sb-pending)", { hasText: "E-302" }).waitFor();
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, "widget-ptbr-away-phone.png") });
    await accessible(page, "the widget away, in pt-BR");
    const email = page.getByLabel("E-mail", { exact: true });
    await email.fill("maria@");
    await page.getByRole("button", { name: "Salvar e-mail" }).click();
    await page.getByText("Digite um e-mail como nome@exemplo.com").waitFor();
    assert.equal(await email.getAttribute("aria-invalid"), "true");
    await email.fill("maria@example.com");
    await page.getByRole("button", { name: "Salvar e-mail" }).click();
    await page.getByTestId("sb-away-thanks").filter({ hasText: "Obrigado! Vamos responder para maria@example.com." }).waitFor();

    // The agent's reply shows the agent's name and the time in the visitor's zone.
    const conv = await until(async () => (await server.api(token, "/conversations")).conversations[0]);
    await server.api(token, `/conversations/${conv.id}/typing`, { on: true });
    await page.getByTestId("sb-typing").filter({ hasText: "O atendente está digitando…" }).waitFor();
    const sent = await server.api(token, `/conversations/${conv.id}/messages`, { text: "Olá Maria! Pode mandar uma foto do painel?" });
    const reply = page.locator(".sb-msg.sb-agent", { hasText: "foto do painel" });
    await reply.waitFor();
    assert.equal(await reply.getByTestId("sb-author").textContent(), "Ana Lima");
    const createdAt = sent.message.created_at;
    const hhmm = new Intl.DateTimeFormat("pt-BR", { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone }).format(createdAt);
    const time = reply.getByTestId("sb-time");
    assert.equal(await time.textContent(), hhmm);
    assert.equal(await time.getAttribute("datetime"), new Date(createdAt).toISOString());
    const full = new Intl.DateTimeFormat("pt-BR", { dateStyle: "full", timeStyle: "short", timeZone: zone }).format(createdAt);
    assert.equal(await time.getAttribute("title"), full);
    // The visitor's own bubble has a time and no author.
    const mine = page.locator(".sb-msg.sb-you", { hasText: "E-302" });
    assert.equal(await mine.getByTestId("sb-author").count(), 0);
    assert.match(await mine.getByTestId("sb-time").textContent(), /^\d\d:\d\d$/);

    // Files the widget refuses before sending anything: another type, and over the size.
    let uploads = 0;
    page.on("request", (r) => { if (r.method() === "POST" && r.url().includes("/webchat/attachments")) uploads++; });
    const input = page.getByTestId("sb-file");
    await input.setInputFiles({ name: "notas.txt", mimeType: "text/plain", buffer: Buffer.from("olá") });
    await page.getByTestId("sb-error").filter({ hasText: "Só é possível enviar imagens (PNG, JPEG, GIF, WebP) e arquivos PDF." }).waitFor();
    const huge = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(300 * 1024, 1)]);
    await input.setInputFiles({ name: "enorme.png", mimeType: "image/png", buffer: huge });
    await page.getByTestId("sb-error").filter({ hasText: "O arquivo é grande demais. O limite é 200 KB." }).waitFor();
    assert.equal(uploads, 0, "checked in the page first");

    // An image goes up, into a message, and comes back from the server to show.
    // A photo of the printer's panel, drawn in the page.
    const photo = Buffer.from(
      await page.evaluate(() => {
        const c = document.createElement("canvas");
        c.width = 360; c.height = 200;
        const g = c.getContext("2d");
        g.fillStyle = "#3b4350"; g.fillRect(0, 0, 360, 200);
        g.fillStyle = "#1d2228"; g.fillRect(30, 40, 200, 110);
        g.fillStyle = "#ff5a4e"; g.font = "bold 52px monospace"; g.fillText("E-302", 48, 115);
        g.fillStyle = "#9aa3ad";
        for (let i = 0; i < 3; i++) { g.beginPath(); g.arc(285, 60 + i * 40, 13, 0, 7); g.fill(); }
        return c.toDataURL("image/png").split(",")[1];
      }),
      "base64",
    );
    await input.setInputFiles({ name: "painel.png", mimeType: "image/png", buffer: photo });
    const shown = page.locator(".sb-msg.sb-you:not(.sb-pending) img[alt='painel.png']");
    await shown.waitFor();
    assert.equal(uploads, 1);
    await until(async () => {
      const src = await shown.getAttribute("src");
      return src.includes("/webchat/attachments/") && (await shown.evaluate((img) => img.complete && img.naturalWidth === 360));
    });
    const thread = await until(async () => {
      const t = (await server.api(token, `/conversations/${conv.id}`)).messages;
      return t.find((m) => m.attachments.length) ? t : null;
    });
    const file = thread.find((m) => m.attachments.length).attachments[0];
    assert.equal(file.mime, "image/png");
    assert.equal(file.name, "painel.png");
    assert.equal(file.size, photo.length);

    // Still after a reload: the same files, names and times from history.
    await page.reload();
    await page.getByTestId("sb-launcher").click();
    await page.locator(".sb-msg.sb-agent [data-testid=sb-author]", { hasText: "Ana Lima" }).waitFor();
    await page.locator(".sb-msg.sb-you img[alt='painel.png']").waitFor();
    await page.getByTestId("sb-away-thanks").waitFor();

    await accessible(page, "the widget in pt-BR");
    mkdirSync(SHOTS, { recursive: true });
    await page.locator(".sb-msg.sb-you img[alt='painel.png']").evaluate((img) => img.complete || new Promise((r) => { img.onload = r; }));
    await page.getByTestId("sb-log").evaluate((log) => { log.scrollTop = log.scrollHeight; });
    await page.screenshot({ path: join(SHOTS, "widget-ptbr-phone.png") });
    await page.emulateMedia({ colorScheme: "dark" });
    await page.screenshot({ path: join(SHOTS, "widget-ptbr-phone-dark.png") });
    await page.emulateMedia({ colorScheme: "light" });
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByTestId("sb-log").evaluate((log) => { log.scrollTop = log.scrollHeight; });
    await page.screenshot({ path: join(SHOTS, "widget-ptbr-desktop.png") });

    // The page's own language choice wins over the browser's.
    const es = await context.newPage();
    await es.goto(`${server.base}/`);
    await es.evaluate((src) => {
      const s = document.createElement("script");
      s.src = src;
      s.setAttribute("data-lang", "es");
      document.body.appendChild(s);
    }, `${server.base}/widget.js`);
    await es.getByTestId("sb-launcher").waitFor();
    assert.equal(await es.getByTestId("sb-launcher").getAttribute("aria-label"), "Abrir el chat");
    assert.equal(await es.locator("[data-switchboard]").getAttribute("lang"), "es");
    assert.deepEqual(errors, [], "no script errors on the page");
  } finally {
    await context.close();
    server.kill9();
    rmSync(profile, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
