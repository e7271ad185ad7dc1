// Shared by the browser tests: the real binary, free ports, waiting, Chromium, TOTP,
// signing in, accessibility checks and screenshots at both widths.
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import net from "node:net";
import { chromium } from "playwright-core";

export const BIN = process.env.SB_BIN;
// Pictures of every page at phone and desktop width, to look at after a run.
export const SHOTS = process.env.SB_SCREENSHOTS || fileURLToPath(new URL("../../target/screenshots/", import.meta.url));
assert.ok(BIN, "SB_BIN must point at the switchboard binary");

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

export async function until(check, ms = 15000) {
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

export class Server {
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
  cliWithInput(input, ...args) {
    return execFileSync(BIN, args, { env: this.env, cwd: this.dir, input }).toString();
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


export const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

/** A fresh Chromium profile; `extra` takes context options such as `locale` and `timezoneId`. */
export function launch(profile, viewport, extra = {}) {
  return chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    ...extra,
  });
}

function base32Decode(s) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0, value = 0;
  const out = [];
  for (const c of s.replace(/=+$/, "").toUpperCase()) {
    const i = alphabet.indexOf(c);
    if (i < 0) continue;
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) { out.push((value >>> (bits - 8)) & 255); bits -= 8; }
  }
  return Buffer.from(out);
}

/** The RFC 6238 code (SHA-1, 6 digits, 30 s) of a base32 secret at a time step. */
export function totp(secret, step = Math.floor(Date.now() / 30000)) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const h = createHmac("sha1", base32Decode(secret)).update(msg).digest();
  const o = h[h.length - 1] & 15;
  const n = ((h[o] & 127) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(n % 1000000).padStart(6, "0");
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** axe-core on the page: no serious or critical violations. */
export async function accessible(page, name) {
  await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => `${n.target.join(" ")}: ${(n.any[0] || n.all[0] || {}).message || ""}`).slice(0, 3).join("; ")})`),
    [],
    `accessibility of ${name}`,
  );
}

/** Screenshots at both widths, `arrange` run after each resize; the page is left at desktop width. */
export async function shoot(page, name, arrange = async () => {}) {
  mkdirSync(SHOTS, { recursive: true });
  await page.setViewportSize(DESKTOP);
  await arrange();
  await page.screenshot({ path: join(SHOTS, `${name}-desktop.png`) });
  await page.setViewportSize(PHONE);
  await arrange();
  await page.screenshot({ path: join(SHOTS, `${name}-phone.png`) });
  await page.setViewportSize(DESKTOP);
}

/** Signs in on the login page. */
export async function signIn(page, base, email, password) {
  await page.goto(`${base}/login`);
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}
