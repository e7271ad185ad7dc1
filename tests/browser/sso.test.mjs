// Signing in through a real OpenID Connect provider (npm `oidc-provider`) on loopback, in
// a real Chromium: an agent through the provider's own login page; an unknown address and
// an unverified one refused; a token already expired and a token altered on its way
// refused; the provider's keys rotated and the next sign-in still working; a client
// company's person made at their first sign-in through the company's provider, and a staff
// address refused there. Every page of ours through axe-core and photographed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { accessible, DESKTOP, freePort, launch, Server, shoot } from "./lib.mjs";

const PROVIDER = fileURLToPath(new URL("./oidc-provider.mjs", import.meta.url));

const USERS = {
  ana: { email: "ana@acme.test", email_verified: true, name: "Ana Souza" },
  zeca: { email: "zeca@acme.test", email_verified: true, name: "Zeca Lima" },
  nao: { email: "nao@acme.test", email_verified: false, name: "Não Verificado" },
  bia: { email: "bia@globex.test", email_verified: true, name: "Bia Rocha" },
  rita: { email: "rita@acme.test", email_verified: true, name: "Rita Alves" },
};

/** The provider on `port`, started with `extra` arguments; resolves once it listens. */
async function provider(port, dir, redirects, ...extra) {
  const child = spawn("node", [PROVIDER, "--port", String(port), "--keys", join(dir, "keys.json"),
    "--client-id", "switchboard", "--client-secret", "s3cret-for-tests", "--redirect", redirects.join(","),
    "--users", JSON.stringify(USERS), ...extra], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const { value } = await lines.next();
  assert.ok(value, "the provider started");
  return {
    child,
    stop: () => new Promise((resolve) => { child.once("exit", resolve); child.kill("SIGTERM"); }),
  };
}

test("agents and a client company sign in through their provider, and bad tokens are refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sb-browser-sso-"));
  const server = new Server(await freePort(), dir);
  const opPort = await freePort();
  const issuer = `http://127.0.0.1:${opPort}`;
  const redirects = [`${server.base}/sso/callback`, `${server.base}/portal/sso/globex/callback`];
  let op;
  const contexts = [];
  try {
    await server.start();
    const admin = JSON.parse(server.cli("user", "add", "--email", "rita@acme.test", "--name", "Rita Alves", "--role", "admin")).token;
    server.cli("user", "add", "--email", "ana@acme.test", "--name", "Ana Souza", "--role", "support");
    const globex = await server.api(admin, "/companies", { name: "Globex Logística" });
    server.kill9();
    const config = join(dir, "switchboard.toml");
    writeFileSync(config, `
[sso.agents]
issuer = "${issuer}"
client_id = "switchboard"
client_secret = "s3cret-for-tests"
label = "Sign in with Acme"

[sso.companies.globex]
issuer = "${issuer}"
client_id = "switchboard"
client_secret = "s3cret-for-tests"
label = "Globex sign-in"
company = "${globex.id}"
provision = true
`);
    server.env.SWITCHBOARD_CONFIG = config;
    op = await provider(opPort, dir, redirects);
    await server.start();

    /** A fresh browser signs in as `login` through the provider's own page, starting at `from`. */
    const through = async (login, from, button) => {
      const context = await launch(mkdtempSync(join(tmpdir(), "sb-profile-")), DESKTOP);
      contexts.push(context);
      const page = context.pages()[0] || (await context.newPage());
      await page.goto(`${server.base}${from}`);
      await page.getByRole("link", { name: button }).click();
      await page.waitForURL((u) => u.origin === issuer);
      await page.locator("input[name=login]").fill(login);
      await page.locator("input[name=password]").fill("any password");
      await page.getByRole("button", { name: "Sign-in" }).click();
      await page.waitForURL((u) => u.origin === server.base);
      await page.waitForLoadState("load");
      return page;
    };
    const agentSignIn = (login) => through(login, "/login", "Sign in with Acme");

    // The sign-in page offers the company sign-in beside the password.
    {
      const context = await launch(mkdtempSync(join(tmpdir(), "sb-profile-")), DESKTOP);
      contexts.push(context);
      const page = context.pages()[0] || (await context.newPage());
      await page.goto(`${server.base}/login`);
      await accessible(page, "sign-in with a company provider");
      await shoot(page, "login-sso");
      await page.goto(`${server.base}/portal/login`);
      await page.getByRole("link", { name: "Globex sign-in" }).waitFor();
      await accessible(page, "portal sign-in with a company provider");
      await shoot(page, "portal-login-sso");
    }

    // An agent whose address the provider verified lands in the inbox.
    let page = await agentSignIn("ana");
    assert.match(new URL(page.url()).pathname, /^\/conversations/);
    assert.equal((await page.context().cookies()).some((c) => c.name === "sb_sso" && c.value), false, "the sign-in's cookie is gone");

    // An address with no account (and no provisioning), and an address not verified: refused.
    page = await agentSignIn("zeca");
    assert.equal(new URL(page.url()).pathname, "/sso/callback");
    await page.getByText("could not sign you in here").waitFor();
    await accessible(page, "company sign-in refused");
    await shoot(page, "login-sso-refused");
    page = await agentSignIn("nao");
    await page.getByText("did not confirm your email address").waitFor();

    // A provider whose clock runs two hours behind issues tokens already expired.
    await op.stop();
    op = await provider(opPort, dir, redirects, "--clock-offset=-7200");
    page = await agentSignIn("ana");
    await page.getByText("The company sign-in did not work").waitFor();
    assert.equal(new URL(page.url()).pathname, "/sso/callback", "no session: still on the callback's refusal");

    // A token altered on its way (Zeca's token made to say Rita, the admin): refused.
    await op.stop();
    op = await provider(opPort, dir, redirects, "--forge", "rita@acme.test");
    page = await agentSignIn("zeca");
    await page.getByText("The company sign-in did not work").waitFor();
    const me = await page.request.get(`${server.base}/conversations`, { maxRedirects: 0 });
    assert.equal(me.status(), 303, "the forged token opened no session");

    // The provider rotates its keys: the next token names a new key, read at once.
    await op.stop();
    op = await provider(opPort, dir, redirects, "--rotate");
    page = await agentSignIn("ana");
    assert.match(new URL(page.url()).pathname, /^\/conversations/);

    // A Globex person signs in through Globex's provider: made a Globex user on the spot.
    page = await through("bia", "/portal/login", "Globex sign-in");
    assert.equal(new URL(page.url()).pathname, "/portal");
    await page.getByRole("heading", { name: "Hello, Bia Rocha!" }).waitFor();
    // Globex's first portal user: its users page lists her, in Globex.
    await page.goto(`${server.base}/portal/users`);
    await page.getByText("bia@globex.test").first().waitFor();
    // A staff address never signs in to a client portal, whoever's provider vouches for it.
    page = await through("rita", "/portal/login", "Globex sign-in");
    await page.getByText("cannot open this portal for this address").waitFor();
    await accessible(page, "portal company sign-in refused");
    await shoot(page, "portal-sso-refused");
  } finally {
    for (const c of contexts) await c.close();
    if (op) await op.stop();
    if (server.child) server.kill9();
    rmSync(dir, { recursive: true, force: true });
  }
});
