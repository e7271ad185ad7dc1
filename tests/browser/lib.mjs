// Shared by the browser tests: the real binary, free ports, waiting, Chromium, TOTP,
// signing in, accessibility checks and screenshots at both widths.
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createInterface } from "node:readline";
import { createHmac } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import net from "node:net";
import { deflateSync } from "node:zlib";
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

/** What the pages' Content-Security-Policy refused, on any page of any context: `shoot`
 * checks it is empty, so every page screenshotted is also a page the policy allows. */
export const cspViolations = [];

function watchPolicy(page) {
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) {
      cspViolations.push(`${page.url()}: ${m.text()}`);
    }
  });
}

/** A fresh Chromium profile; `extra` takes context options such as `locale` and `timezoneId`. */
export async function launch(profile, viewport, extra = {}) {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    ...extra,
  });
  context.pages().forEach(watchPolicy);
  context.on("page", watchPolicy);
  return context;
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
  // Evaluated, not injected as a <script>: the pages' policy allows no inline script.
  await page.evaluate(AXE);
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
  assert.deepEqual(cspViolations, [], `the page's policy refused nothing before ${name}`);
  mkdirSync(SHOTS, { recursive: true });
  await page.setViewportSize(DESKTOP);
  await arrange();
  await page.screenshot({ path: join(SHOTS, `${name}-desktop.png`) });
  await page.setViewportSize(PHONE);
  await arrange();
  await page.screenshot({ path: join(SHOTS, `${name}-phone.png`) });
  // Back at desktop width and settled as the test left it (a map frames its sites again
  // after a resize), so what the test does next is not done on a page still moving.
  await page.setViewportSize(DESKTOP);
  await arrange();
}

/** Signs in on the login page. */
export async function signIn(page, base, email, password) {
  await page.goto(`${base}/login`);
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

// The mail servers of tests/support/mailserver.py, and a customer's mail.
const MAILSERVER = fileURLToPath(new URL("../support/mailserver.py", import.meta.url));

/** The mail servers of this test: one JSON line when ready, one JSON answer per command. */
export class MailServers {
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
export function smtpSend(port, from, to, raw) {
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
export function entity(raw) {
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
export function leaves(raw) {
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


/** An RGB PNG of `width` × `height` whose pixel at (x, y) is `pixel(x, y)` → [r, g, b]. */
export function png(width, height, pixel) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      row.writeUInt8(r, 1 + x * 3);
      row.writeUInt8(g, 2 + x * 3);
      row.writeUInt8(b, 3 + x * 3);
    }
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.writeUInt8(8, 8);
  ihdr.writeUInt8(2, 9);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.concat(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}
