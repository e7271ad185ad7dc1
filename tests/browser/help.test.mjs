// The help center and the bot in a real Chromium: a client searches as they type, reads
// an article in their language and votes; a visitor asks the chat a question, gets the
// article with "Did this solve it?", asks for a person, and an agent sees the handoff
// with the bot's summary; the bot stays silent once the agent has answered.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { accessible, freePort, launch, Server, shoot, until } from "./lib.mjs";

const FAQ = fileURLToPath(new URL("../../bench/data/faq/articles.jsonl", import.meta.url));

test("clients find answers in the help center and the bot hands over cleanly", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sb-help-"));
  const profile = mkdtempSync(join(tmpdir(), "sb-profile-"));
  const server = new Server(await freePort(), dir);
  server.env.SWITCHBOARD_BOT__ENABLED = "true";
  server.env.SWITCHBOARD_WEB__BUSINESS_NAME = "Voltiq";
  assert.match(server.cli("kb", "import", FAQ), /45 created/);
  await server.start();
  const password = "correct horse battery staple";
  const token = JSON.parse(server.cliWithInput(`${password}\n`, "user", "add", "--email", "nina@example.com", "--name", "Nina Souza", "--role", "admin", "--password-stdin")).token;
  const context = await launch(profile, { width: 1280, height: 800 }, { locale: "pt-BR" });
  try {
    const page = context.pages()[0] || (await context.newPage());
    const errors = [];
    page.on("pageerror", (e) => errors.push(e));

    // /help picks the browser's language.
    await page.goto(`${server.base}/help`);
    assert.match(page.url(), /\/help\/pt$/);
    await page.getByRole("heading", { name: "Central de ajuda" }).waitFor();
    await accessible(page, "help center");
    await shoot(page, "help-home");

    // Search as you type, with the words marked, typos and missing accents forgiven.
    await page.getByLabel("Pesquisar na central de ajuda").fill("como pago a faturra");
    const live = page.locator("#help-live");
    await live.getByRole("link", { name: "Como pagar uma fatura online" }).waitFor();
    assert.ok((await live.locator("mark").count()) > 0, "matched words are marked");
    await shoot(page, "help-search");
    // Without the script's help, the form searches too.
    await page.goto(`${server.base}/help/pt?q=leitura+do+contador`);
    await page.getByRole("heading", { name: /Resultados para/ }).waitFor();

    // The article, its translations, related articles, a vote.
    await live.waitFor({ state: "hidden" });
    await page.getByRole("link", { name: /Enviar a leitura do contador|leitura/i }).first().click();
    await page.locator(".h-article h1").waitFor();
    await page.getByRole("link", { name: "English" }).first().waitFor();
    await accessible(page, "help article");
    await shoot(page, "help-article");
    await page.getByRole("button", { name: "Sim" }).click();
    await page.getByRole("status").filter({ hasText: "Obrigado" }).waitFor();

    // Drafts and internal articles are not there, whatever the URL.
    const missing = await fetch(`${server.base}/help/pt/nao-existe`);
    assert.equal(missing.status, 404);
    const sitemap = await (await fetch(`${server.base}/sitemap.xml`)).text();
    assert.equal((sitemap.match(/<url>/g) || []).length, 45 + 3);

    // Every portal page links to the help center.
    await page.goto(`${server.base}/portal/login`);
    await page.locator("footer").getByRole("link", { name: "Central de ajuda" }).click();
    await page.waitForURL(/\/help\/pt$/);

    // The widget searches the help center before the visitor writes: results as they
    // type, an article read inside the chat, then back to the chat.
    await page.goto(`${server.base}/chat`);
    await page.getByTestId("sb-launcher").click();
    await page.getByTestId("sb-status").and(page.locator("[data-state=online]")).waitFor();
    await page.getByTestId("sb-help-prompt").waitFor();
    await shoot(page, "widget-help-prompt", async () => {
      await page.evaluate(() => window.Switchboard.open());
      await page.mouse.move(0, 0);
    });
    await page.getByTestId("sb-help-prompt").click();
    await page.getByLabel("Busque nos nossos artigos de ajuda").fill("como pago a faturra");
    const hit = page.getByTestId("sb-help-hit").filter({ hasText: "Como pagar uma fatura online" });
    await hit.waitFor();
    assert.ok((await page.getByTestId("sb-help").locator("mark").count()) > 0, "matched words are marked");
    await accessible(page, "widget help search");
    // Open at both widths (on a desktop the launcher stays and would close it).
    const reopen = async () => {
      await page.evaluate(() => window.Switchboard.open());
      await page.mouse.move(0, 0);
    };
    await shoot(page, "widget-help-search", reopen);
    await hit.click();
    const shown = page.getByTestId("sb-help-article");
    await shown.getByRole("heading", { name: "Como pagar uma fatura online" }).waitFor();
    assert.match(await shown.locator(".sb-help-html").textContent(), /clique em Pagar agora/, "the body is shown");
    assert.match(await page.getByTestId("sb-help-full").getAttribute("href"), /\/help\/pt\/como-pagar-uma-fatura-online$/);
    await accessible(page, "widget help article");
    await shoot(page, "widget-help-article", reopen);
    await page.getByTestId("sb-help-back").click();
    await hit.waitFor();
    // Nothing matches: the visitor is offered the chat.
    await page.getByLabel("Busque nos nossos artigos de ajuda").fill("zzqx wvvk");
    await page.getByTestId("sb-help-none").waitFor();
    await page.getByTestId("sb-help-still").click();
    await page.getByTestId("sb-input").waitFor();
    assert.equal(await page.getByTestId("sb-help").isVisible(), false);
    // The article the widget reads is public data, readable from any page, and only
    // published articles are there.
    const fromElsewhere = await fetch(`${server.base}/help/article.json?lang=pt&slug=como-pagar-uma-fatura-online`, { headers: { origin: "https://shop.example" } });
    assert.equal(fromElsewhere.status, 200);
    assert.equal(fromElsewhere.headers.get("access-control-allow-origin"), "*");
    assert.equal((await fetch(`${server.base}/help/article.json?lang=pt&slug=nao-existe`)).status, 404);
    assert.equal((await fetch(`${server.base}/help/article.json?lang=xx&slug=como-pagar-uma-fatura-online`)).status, 404);

    // The chat: a question answered from the knowledge base.
    await page.getByTestId("sb-input").fill("preciso de toner novo pra impressora, onde eu peço?");
    await page.getByTestId("sb-input").press("Enter");
    const answer = page.locator(".sb-msg.sb-bot").last();
    await answer.locator(".sb-article").waitFor({ timeout: 20000 });
    assert.match(await answer.textContent(), /Isso resolveu\?/);
    await shoot(page, "widget-bot-answer", reopen);

    // "Talk to a person": handed to N1 with a summary; the bot says so once.
    await page.getByTestId("sb-quick").filter({ hasText: "Falar com uma pessoa" }).click();
    await page.locator(".sb-msg.sb-bot", { hasText: "pessoa da nossa equipe" }).waitFor();
    const conv = await until(async () => {
      const list = (await server.api(token, "/conversations")).conversations;
      return list.find((c) => c.tier === "N1" && !c.bot_active);
    });
    const full = await server.api(token, `/conversations/${conv.id}`);
    const system = full.messages.find((m) => m.author_kind === "system" && /Handed off/.test(m.text));
    assert.ok(system, "a system message tells the agent why");
    assert.match(system.text, /Asked: "preciso de toner/);
    assert.match(system.text, /Reason: person/);

    // An agent answers; the bot never speaks again in this conversation.
    await server.api(token, `/conversations/${conv.id}/messages`, { text: "Oi! Sou a Nina, já vejo isso." });
    await page.locator(".sb-msg.sb-agent", { hasText: "Nina" }).waitFor();
    await page.getByTestId("sb-input").fill("como pago a fatura?");
    await page.getByTestId("sb-input").press("Enter");
    await page.locator(".sb-msg.sb-you:not(.sb-pending)", { hasText: "como pago a fatura" }).waitFor();
    await new Promise((r) => setTimeout(r, 1500));
    const bots = await page.locator(".sb-msg.sb-bot").count();
    assert.equal(bots, 2, "the answer and the handoff notice, nothing after the agent");
    await shoot(page, "widget-bot-handoff");

    // The agent's side: the bot's answer with its source and how sure it was, articles
    // suggested for the client's message, and the agent's reply saved as an article.
    const agent = await context.newPage();
    agent.on("pageerror", (e) => errors.push(e));
    // The browser asks for Portuguese: the sign-in page speaks it.
    await agent.goto(`${server.base}/login`);
    await agent.locator("#email").fill("nina@example.com");
    await agent.locator("#password").fill(password);
    await agent.locator("form button.primary").click();
    await agent.waitForURL(/\/conversations/);
    await agent.goto(`${server.base}/conversations/${conv.number}`);
    const sources = agent.locator(".msg .sources").first();
    await sources.waitFor();
    assert.match(await sources.textContent(), /Como pedir toner/);
    assert.match(await sources.textContent(), /\d+ % de certeza|\d+ % sure/);
    await agent.locator("#suggested-articles a").first().waitFor();
    await agent.locator("#suggested-articles [data-insert]").first().click();
    assert.match(await agent.locator("#reply-text").inputValue(), /\/help\//);
    await accessible(agent, "conversation with the bot's sources");
    await shoot(agent, "inbox-bot-sources");
    // "This answers it": the bot learns the client's words for that article.
    const ask = () => JSON.parse(server.cli("bot", "ask", "--json", "--channel", "email", "como pago a fatura?"));
    const before = ask();
    const firstTitle = (await agent.locator("#suggested-articles li a").first().textContent()).trim();
    await agent.locator("#suggested-articles form button").first().click();
    await agent.waitForURL(/learned=1/);
    const after = ask();
    assert.equal(after.title, firstTitle);
    assert.ok(after.confidence >= before.confidence, `${after.confidence} >= ${before.confidence}`);
    assert.ok(after.confidence > 0.9, JSON.stringify(after));
    await agent.locator(".save-article button").last().click();
    await agent.waitForURL(/\/kb\/[^/]+\/edit/);
    assert.match(await agent.locator("#body").inputValue(), /Sou a Nina/);
    await agent.locator("#status").selectOption("published");
    await agent.locator("#title").fill("Falar com a Nina sobre pagamentos");
    await agent.getByRole("button", { name: /Preview|Pré-visualizar|Vista previa/ }).click();
    await agent.locator(".kb-preview").waitFor();
    await agent.locator("#save-article").click();
    await agent.waitForURL(/done=saved/);
    await agent.locator(".kb-history li").nth(1).waitFor();
    await accessible(agent, "article editor");
    await shoot(agent, "kb-editor");
    // Published: in the help center at once.
    const fresh = await (await fetch(`${server.base}/help/search.json?q=Nina+pagamentos&lang=pt`)).json();
    assert.equal(fresh.results[0].title, "Falar com a Nina sobre pagamentos");
    await agent.goto(`${server.base}/kb`);
    await agent.locator("#articles").waitFor();
    assert.ok((await agent.locator("#articles tbody tr").count()) >= 46);
    await accessible(agent, "knowledge base list");
    await shoot(agent, "kb-list");
    await agent.goto(`${server.base}/kb/gaps`);
    await agent.getByRole("heading", { level: 1 }).waitFor();
    await accessible(agent, "questions the bot could not answer");
    await shoot(agent, "kb-gaps");
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    server.kill9();
    rmSync(dir, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  }
});
