// Starts a real `samplan serve --demo` for one test: its own database on the test PostgreSQL
// (created with psql, dropped afterwards), its own JetStream stream and inbox doorbell on the test
// NATS server, a random token secret, a free port. Then a headless Debian chromium, driven by
// playwright-core, and axe-core injected into pages.
//
// Environment (scripts/test sets the first two): SAMPLAN_TEST_DATABASE_URL, SAMPLAN_TEST_NATS_URL,
// SAMPLAN_BIN (default: target/debug/samplan of this checkout), CHROMIUM (default /usr/bin/chromium).

import { spawn, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { connect, createServer } from "node:net";
import { mkdirSync, openSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, "../../..");
export const screenshots = join(root, "target", "screenshots");
const logs = join(root, "target", "browser-tests");
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const databaseUrl = process.env.SAMPLAN_TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres";
const natsUrl = process.env.SAMPLAN_TEST_NATS_URL || "nats://127.0.0.1:4222";
const binary = process.env.SAMPLAN_BIN || join(root, "target", "debug", "samplan");
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";

/** The demo's people, as the sign-in page names them. */
export const DEMO = {
  hcLulea: { unit: "nll-hc-centrum-lulea", button: "Hälsocentralen Centrum, Luleå", sub: "SE2321000016-DHC1", name: "Distriktssköterska, Hälsocentralen Centrum" },
  htLulea: { unit: "lulea-hemtjanst-centrum", button: "Hemtjänst Centrum", sub: "SE2120000001-DHT1", name: "Biståndshandläggare, hemtjänsten Luleå" },
  citizen: { button: "Erik Lindqvist" },
};
/** Demo plans (README): 2 is psykiatrin's published plan, 4 hälsocentralen's followed-up one. */
export const PLAN = { published: "01JGFJJZ000000006Y80004002", followedUp: "01JGFJJZ000000006Y80004004" };

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.unref();
    server.on("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

/**
 * Deletes the test's JetStream stream through the NATS protocol itself ($JS.API.STREAM.DELETE),
 * so that the shared test server does not keep one stream per browser test.
 */
function deleteStream(stream) {
  const server = new URL(natsUrl.replace(/^nats:/, "http:"));
  return new Promise((ok, fail) => {
    const socket = connect(Number(server.port || 4222), server.hostname);
    const timer = setTimeout(() => { socket.destroy(); fail(new Error("NATS did not answer")); }, 5_000);
    let seen = "";
    socket.on("error", (e) => { clearTimeout(timer); fail(e); });
    socket.on("data", (chunk) => {
      seen += chunk.toString();
      if (seen.includes("stream_delete_response")) {
        clearTimeout(timer);
        socket.end();
        ok();
      }
    });
    socket.write(
      'CONNECT {"verbose":false,"pedantic":false}\r\n' +
      "SUB _INBOX.samplan-browser 1\r\n" +
      `PUB $JS.API.STREAM.DELETE.${stream} _INBOX.samplan-browser 0\r\n\r\n`,
    );
  });
}

function psql(sql) {
  execFileSync("psql", [databaseUrl, "-qAtc", sql], { stdio: ["ignore", "ignore", "pipe"] });
}

async function waitReady(base, child, deadlineMs) {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`samplan exited with ${child.exitCode}`);
    try {
      const r = await fetch(`${base}/readyz`);
      if (r.ok) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("samplan did not become ready in time");
}

/** A running `samplan serve --demo` with a browser; `close()` stops and removes everything. */
export async function start(name) {
  const id = `${Date.now().toString(36)}${randomBytes(4).toString("hex")}`;
  const database = `samplan_browser_${id}`;
  psql(`CREATE DATABASE ${database}`);
  const url = new URL(databaseUrl);
  url.pathname = `/${database}`;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SAMPLAN_"))),
    SAMPLAN_DATABASE_URL: url.toString(),
    SAMPLAN_NATS_URL: natsUrl,
    SAMPLAN_JWT_SECRET: randomBytes(32).toString("hex"),
    SAMPLAN_WEB_DEMO_SIGN_IN: "on",
    SAMPLAN_LISTEN: `127.0.0.1:${port}`,
    SAMPLAN_POLICY: "norrbotten",
    SAMPLAN_NATS_STREAM: `SAMPLAN_BROWSER_${id.toUpperCase()}`,
    SAMPLAN_NATS_SUBJECT_PREFIX: `samplan-browser.${id}.events`,
    SAMPLAN_NATS_STORAGE: "memory",
    SAMPLAN_NATS_DOORBELL_SUBJECT: `samplan-browser.${id}.inbox`,
    SAMPLAN_LOG: "info,gateway=warn",
  };
  mkdirSync(logs, { recursive: true });
  mkdirSync(screenshots, { recursive: true });
  const log = openSync(join(logs, `${name}.log`), "w");
  const child = spawn(binary, ["serve", "--demo"], { env, stdio: ["ignore", log, log] });
  let browser;
  try {
    await waitReady(base, child, 120_000);
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
      ],
    });
  } catch (e) {
    child.kill("SIGTERM");
    psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    throw e;
  }
  const app = {
    base,
    browser,
    /** A token as `samplan token` prints it, signed with this server's secret. */
    token(args) {
      return execFileSync(binary, ["token", ...args], { env, encoding: "utf8" }).trim();
    },
    /** POSTs a command to the JSON API. */
    async post(path, token, body) {
      const r = await fetch(`${base}/api/v1${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: r.status, body: await r.json() };
    },
    /** A fresh browser context (its own cookies), failing the test on any CSP violation. */
    async context(options = {}) {
      const context = await browser.newContext({ locale: "sv-SE", ...options });
      context.cspViolations = [];
      context.on("console", (msg) => {
        if (/Content Security Policy/i.test(msg.text())) context.cspViolations.push(msg.text());
      });
      return context;
    },
    async close() {
      await browser?.close().catch(() => {});
      child.kill("SIGTERM");
      await new Promise((ok) => {
        if (child.exitCode !== null) return ok();
        const timer = setTimeout(() => { child.kill("SIGKILL"); ok(); }, 10_000);
        child.on("exit", () => { clearTimeout(timer); ok(); });
      });
      try { psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`); } catch { /* left for the next cleanup */ }
      await deleteStream(env.SAMPLAN_NATS_STREAM).catch(() => { /* left for the next cleanup */ });
    },
  };
  return app;
}

/** Signs in on the sign-in page by clicking the demo person's button; lands on their start page. */
export async function signIn(app, page, person) {
  await page.goto(`${app.base}/`);
  await page.waitForURL(/\/logga-in$/);
  await Promise.all([
    page.waitForNavigation(),
    page.getByRole("button", { name: new RegExp(`^${person.button}`) }).click(),
  ]);
}

/** Runs axe-core in the page; returns the serious and critical violations. */
export async function seriousViolations(page) {
  // Evaluated over the DevTools protocol, which the page's CSP does not govern; the page itself
  // still runs no inline script.
  await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } }));
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`);
}

/** Runs `body(app)` against a service of its own, stopped afterwards whatever happens. */
export async function withApp(name, body) {
  const app = await start(name);
  try {
    await body(app);
  } finally {
    await app.close();
  }
}

/**
 * Submits by clicking the named button in `scope` and waits for the page that answers. A form's
 * button is named by its label and, for screen readers, its step ("Spara – Kallelse"): the
 * label is matched whole, the step may follow.
 */
export async function submit(page, scope, name) {
  const label = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const [response] = await Promise.all([
    page.waitForNavigation(),
    scope.getByRole("button", { name: new RegExp(`^${label}( – .*)?$`) }).click(),
  ]);
  return response;
}

/** The form of step `key` on the SIP page, opened. */
export async function step(page, key) {
  const details = page.locator(`details#${key}`);
  await details.waitFor();
  if (!(await details.evaluate((d) => d.open))) await details.locator("summary").click();
  return details;
}

/** A valid personnummer (Luhn) born on `date` (YYYYMMDD) with serial `serial` (3 digits). */
export function personnummer(date, serial) {
  const digits = `${date.slice(2)}${serial}`;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    const d = Number(digits[i]) * (i % 2 === 0 ? 2 : 1);
    sum += d > 9 ? d - 9 : d;
  }
  return `${date}-${serial}${(10 - (sum % 10)) % 10}`;
}

/** A staff token for a demo person of `DEMO` (their HSA-id, unit and name), for calls to the API. */
export function staffToken(app, person) {
  return app.token(["--role", "staff", "--sub", person.sub, "--unit", person.unit, "--name", person.name]);
}

/** The Swedish calendar day `days` from today: its `<input>` value and how the page writes it. */
export function swedishDay(days) {
  const at = new Date(Date.now() + days * 86_400_000);
  const part = (options) => new Intl.DateTimeFormat("sv-SE", { timeZone: "Europe/Stockholm", ...options }).format(at);
  const year = part({ year: "numeric" });
  const thisYear = new Intl.DateTimeFormat("sv-SE", { timeZone: "Europe/Stockholm", year: "numeric" }).format(new Date());
  const iso = `${year}-${part({ month: "2-digit" })}-${part({ day: "2-digit" })}`;
  // As web/dates.rs `day`: "fredag 26 december", with the year when it is not this year's.
  const text = `${part({ weekday: "long" })} ${Number(part({ day: "numeric" }))} ${part({ month: "long" })}${year === thisYear ? "" : ` ${year}`}`;
  return { iso, text };
}
