// The web console in a real browser: Debian's headless Chromium driven by puppeteer-core,
// against a real `keyseal serve` on 127.0.0.1 (SQLite, a fresh directory), with axe-core
// on every page. Run by scripts/test-console (which builds the server and installs
// Chromium and these packages); KEYSEAL_BIN names the server binary.
//
// Screenshots of every page go to tests/console/artifacts/ (git-ignored).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import puppeteer from "puppeteer-core";

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const BIN = process.env.KEYSEAL_BIN || join(root, "target", "debug", "keyseal");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const ARTIFACTS = join(here, "artifacts");
mkdirSync(ARTIFACTS, { recursive: true });

const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const servers = [];
const secrets = new Set(); // every full key seen: none may leak
const urls = []; // every URL the browser asked for
const logs = []; // every console message and page error
let browser;
let main; // { base, account, owner, dir }

/** Runs `keyseal init` and `keyseal serve` in a fresh directory; resolves when it listens. */
async function startServer(extra = []) {
  const dir = mkdtempSync(join(tmpdir(), "keyseal-console-"));
  const db = join(dir, "k.db");
  const cfg = join(dir, "k.toml");
  const init = JSON.parse(
    execFileSync(BIN, ["init", "--db", db, "--config", cfg, "--json"], { stdio: ["ignore", "pipe", "ignore"] }).toString()
  );
  const proc = spawn(BIN, ["serve", "--db", db, "--config", cfg, "--addr", "127.0.0.1:0", ...extra], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, KEYSEAL_LOG: "warn" },
  });
  servers.push({ proc, dir });
  const lines = createInterface({ input: proc.stdout });
  const out = [];
  const base = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("the server did not start")), 20000);
    lines.on("line", (l) => {
      out.push(l);
      const m = /listening on (http:\/\/\S+)/.exec(l);
      if (m) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
    proc.on("exit", (c) => reject(new Error(`the server exited with ${c}`)));
  });
  // The first-run message points to the console.
  await new Promise((r) => setTimeout(r, 100));
  secrets.add(init.secret);
  return { base, account: init.account, owner: init.secret, ownerId: init.key_id, dir, out };
}

async function api(srv, method, path, body, headers = {}) {
  const r = await fetch(srv.base + path, {
    method,
    headers: { "x-api-key": srv.owner, "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, json: text ? JSON.parse(text) : null };
}

async function verify(srv, key) {
  const r = await fetch(srv.base + "/v1/verify", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key }),
  });
  return r.json();
}

async function newPage(context) {
  const page = await (context || browser).newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.on("console", (m) => logs.push(m.text()));
  page.on("pageerror", (e) => logs.push(String(e)));
  page.on("request", (r) => urls.push(r.url()));
  return page;
}

/** axe-core on the page: no serious or critical violations. Also a screenshot. */
async function check(page, name) {
  // Evaluated through the DevTools protocol: the console's CSP (rightly) refuses an
  // injected inline <script>.
  await page.evaluate(AXE);
  const res = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")) }));
  });
  const bad = res.filter((v) => v.impact === "serious" || v.impact === "critical");
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  assert.deepEqual(bad, [], `axe on ${name}: ${JSON.stringify(bad)}`);
}

async function signIn(page, srv, key) {
  await page.goto(srv.base + "/console/");
  assert.match(page.url(), /\/console\/sign-in/);
  // Keyboard only: the key field has focus on arrival; Enter submits.
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === "key", { timeout: 5000 });
  await page.keyboard.type(key);
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
  if (/sign-in/.test(page.url())) throw new Error(`sign-in failed: ${await text(page)}`);
}

async function clickAndWait(page, selector) {
  await Promise.all([page.waitForNavigation(), page.click(selector)]);
}

const text = (page) => page.evaluate(() => document.body.innerText);
const html = (page) => page.content();

before(async () => {
  main = await startServer();
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
});

after(async () => {
  if (browser) await browser.close();
  for (const s of servers) {
    s.proc.kill("SIGTERM");
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test("the vendored htmx is the npm package's file", () => {
  const vendored = readFileSync(join(root, "server/console/assets/vendor/htmx.min.js"));
  const npm = readFileSync(require.resolve("htmx.org/dist/htmx.min.js"));
  assert.ok(vendored.equals(npm), "server/console/assets/vendor/htmx.min.js differs from npm htmx.org: copy it again");
});

test("serve's first-run message points to the console", () => {
  assert.ok(main.out.some((l) => l.includes("/console/") && /sign in/.test(l)), main.out.join("\n"));
});

test("GET / redirects to the console; console answers carry the security headers", async () => {
  const r = await fetch(main.base + "/", { redirect: "manual" });
  assert.equal(r.status, 303);
  assert.equal(r.headers.get("location"), "/console/");
  const p = await fetch(main.base + "/console/sign-in");
  const csp = p.headers.get("content-security-policy");
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(p.headers.get("x-content-type-options"), "nosniff");
  assert.equal(p.headers.get("referrer-policy"), "no-referrer");
  assert.equal(p.headers.get("cache-control"), "no-store");
  const k = await fetch(main.base + "/console/keys", { redirect: "manual" });
  assert.equal(k.status, 303, "signed out: the keys page sends to sign-in");
  assert.match(k.headers.get("location"), /\/console\/sign-in/);
});

let page;
let created; // { id, secret, name }

test("sign in with the owner key (keyboard only); the session cookie is strict", async () => {
  page = await newPage();
  await page.goto(main.base + "/console/sign-in");
  await check(page, "sign-in");
  await signIn(page, main, main.owner);
  assert.match(page.url(), /\/console\/keys$/);
  await check(page, "keys");
  const cookies = await page.cookies();
  const c = cookies.find((x) => x.name === "keyseal_console");
  assert.ok(c, "a session cookie");
  assert.equal(c.httpOnly, true);
  assert.equal(c.sameSite, "Strict");
  assert.equal(c.path, "/console");
  assert.ok(c.expires > Date.now() / 1000, "the cookie has an expiry");
  assert.ok(!cookies.some((x) => x.value.includes(main.owner.slice(-20))), "no secret in a cookie");
});

test("a wrong key is refused with the API's message", async () => {
  const p = await newPage(await browser.createBrowserContext());
  await p.goto(main.base + "/console/sign-in");
  await p.type("#key", "ks_AAAAAAAAAAAAAAAA_notAValidSecretAtAll000000");
  await clickAndWait(p, "button[type=submit]");
  const t = await text(p);
  assert.match(t, /Error code: \w+/);
  assert.match(p.url(), /sign-in/);
  const role = await p.$eval("[role=alert]", (e) => e === document.activeElement);
  assert.ok(role, "the error has focus");
  await p.close();
});

test("a key without the account-owner role cannot sign in", async () => {
  const r = await api(main, "POST", `/v1/accounts/${main.account}/keys`, { name: "not-an-owner", role: "reader" });
  secrets.add(r.json.secret);
  const p = await newPage(await browser.createBrowserContext());
  await p.goto(main.base + "/console/sign-in");
  await p.type("#key", r.json.secret);
  await clickAndWait(p, "button[type=submit]");
  assert.match(await text(p), /Error code: permission_denied/);
  assert.ok(!(await html(p)).includes(r.json.secret), "the key is not echoed");
  assert.equal((await p.cookies()).find((c) => c.name === "keyseal_console"), undefined);
  await api(main, "DELETE", `/v1/accounts/${main.account}/keys/${r.json.id}`);
  await p.close();
});

test("create a key: the full key is shown once, verifies, and is gone after closing", async () => {
  await page.goto(main.base + "/console/keys/new");
  await check(page, "new-key");
  await page.type("#k-name", "web-1");
  await page.type("#k-description", "the web shop");
  await page.type("#k-owner", "alice");
  await page.type("#k-scopes", "read write");
  await page.type("#k-limits", "per_minute=100/1m");
  await page.type("#k-credits", "50");
  await clickAndWait(page, "form.card button[type=submit]");
  assert.match(await text(page), /only time the full key is shown/);
  await check(page, "key-created");
  const secret = await page.$eval("#secret", (e) => e.value);
  assert.match(secret, /^ks_[A-Za-z0-9]{16}_/);
  secrets.add(secret);
  assert.equal(await page.evaluate(() => document.activeElement.id), "secret", "focus on the new key");
  assert.ok(!page.url().includes(secret));
  await page.click("#copy");
  await page.waitForFunction(() => document.getElementById("copy-status").textContent.length > 0);
  const v = await verify(main, secret);
  assert.equal(v.valid, true, JSON.stringify(v));
  const id = secret.split("_")[1];
  created = { id, secret, name: "web-1" };
  await clickAndWait(page, "#close-once");
  assert.match(page.url(), new RegExp(`/console/keys/${id}$`));
  assert.ok(!(await html(page)).includes(secret), "the key page does not hold the secret");
  await check(page, "key");
  // The first screen of the key page, for docs/console.png (copied by hand).
  await page.screenshot({ path: join(ARTIFACTS, "docs-console.png") });
  const t = await text(page);
  assert.match(t, /per_minute=100\/1m/);
  assert.match(t, /49 remaining/, "50 credits, one spent by the verification");
});

test("create with every field: role, read-only, IP ranges, expiry, limits, credits with refill", async () => {
  await page.goto(main.base + "/console/keys/new");
  await page.type("#k-name", "full-1");
  await page.type("#k-role", "reader");
  await page.type("#k-scopes", "orders:read, orders:write");
  await page.click("#k-read-only");
  await page.type("#k-ips", "10.0.0.0/8\n2001:db8::/32");
  await page.$eval("#k-expires", (e) => (e.value = "2030-01-02T03:04"));
  await page.type("#k-limits", "per_second=5/1s\nper_day=1000/1d");
  await page.type("#k-credits", "7");
  await page.type("#k-refill", "100");
  await page.select("#k-interval", "daily");
  await clickAndWait(page, "form.card button[type=submit]");
  const secret = await page.$eval("#secret", (e) => e.value);
  secrets.add(secret);
  const id = secret.split("_")[1];
  const k = (await api(main, "GET", `/v1/accounts/${main.account}/keys/${id}`)).json;
  assert.equal(k.role, "reader");
  assert.deepEqual(k.scopes, ["orders:read", "orders:write"]);
  assert.equal(k.read_only, true);
  assert.deepEqual(k.allowed_ips, ["10.0.0.0/8", "2001:db8::/32"]);
  assert.equal(k.expires_at, Date.UTC(2030, 0, 2, 3, 4) / 1000);
  assert.deepEqual(k.limits.map((l) => [l.name, l.limit, l.window_ms]), [["per_second", 5, 1000], ["per_day", 1000, 86400000]]);
  assert.equal(k.credits.remaining, 7);
  assert.equal(k.credits.refill.amount, 100);
  assert.equal(k.credits.refill.interval, "daily");
  // The edit form shows the same values back.
  await clickAndWait(page, "#close-once");
  assert.equal(await page.$eval("#k-expires", (e) => e.value), "2030-01-02T03:04");
  assert.equal(await page.$eval("#k-limits", (e) => e.value), "per_second=5/1s\nper_day=1000/1d");
  assert.equal(await page.$eval("#k-read-only", (e) => e.checked), true);
  // An invalid CIDR: the API's message, the values kept.
  await page.$eval("#k-ips", (e) => (e.value = "not-a-network"));
  await clickAndWait(page, "#save");
  assert.match(await text(page), /Error code: invalid_cidr/);
  assert.equal(await page.$eval("#k-ips", (e) => e.value), "not-a-network");
  await api(main, "DELETE", `/v1/accounts/${main.account}/keys/${id}`);
});

test("a name that is taken is refused with the API's message, and the form keeps its values", async () => {
  await page.goto(main.base + "/console/keys/new");
  await page.type("#k-name", "web-1");
  await clickAndWait(page, "form.card button[type=submit]");
  const t = await text(page);
  assert.match(t, /Error code: name_conflict/);
  assert.equal(await page.$eval("#k-name", (e) => e.value), "web-1");
  assert.ok(await page.$eval("[role=alert]", (e) => e === document.activeElement), "the error has focus");
});

test("list: name search, owner and role filters, status filter, cursor pages", async () => {
  for (let i = 0; i < 27; i++) {
    const r = await api(main, "POST", `/v1/accounts/${main.account}/keys`, { name: `batch-${i}`, role: "reader" });
    assert.equal(r.status, 201);
    secrets.add(r.json.secret);
  }
  await page.goto(main.base + "/console/keys?q=web");
  let t = await text(page);
  assert.match(t, /web-1/);
  assert.doesNotMatch(t, /batch-3/);
  await page.goto(main.base + "/console/keys?owner=alice");
  t = await text(page);
  assert.match(t, /web-1/);
  assert.doesNotMatch(t, /batch-/);
  await page.goto(main.base + "/console/keys?role=reader");
  t = await text(page);
  assert.match(t, /27 keys/);
  assert.doesNotMatch(t, /web-1/);
  // Pages of 25, by the API's cursors.
  await page.goto(main.base + "/console/keys");
  t = await text(page);
  assert.match(t, /29 keys/);
  await clickAndWait(page, "a[rel=next]");
  assert.match(page.url(), /after=/);
  t = await text(page);
  assert.match(t, /web-1/, "the oldest keys are on the second page");
  assert.ok(await page.$("a[rel=prev]"), "a link back to newer keys");
  await clickAndWait(page, "a[rel=prev]");
  assert.match(await text(page), /batch-26/);
  // htmx: typing in the search box filters without a page load.
  await page.goto(main.base + "/console/keys");
  await page.type("#f-q", "batch-2");
  await page.waitForFunction(() => /\b\d+ matching keys?\b/.test(document.getElementById("results").innerText), { timeout: 5000 });
  t = await text(page);
  assert.doesNotMatch(t, /web-1/);
  assert.match(page.url(), /q=batch-2/);
  await page.goto(main.base + "/console/keys?status=inactive");
  assert.match(await text(page), /0 keys/);
});

test("add credits to a key; an owner's shared limits and credits", async () => {
  await page.goto(`${main.base}/console/keys/${created.id}`);
  await page.type("#add-credits", "10");
  await clickAndWait(page, "#add-credits-submit");
  assert.match(await text(page), /Credits added\./);
  assert.match(await text(page), /59 remaining/, "49 + 10");
  // The owner's page, through the link on the key page.
  await clickAndWait(page, "a[href='/console/owners/alice']");
  assert.match(page.url(), /\/console\/owners\/alice$/);
  assert.match(await text(page), /web-1/);
  await check(page, "owner");
  await page.type("#k-limits", "per_day=1000/1d");
  await page.type("#k-credits", "100");
  await clickAndWait(page, "#save-meter");
  assert.match(await text(page), /Saved\./);
  assert.match(await text(page), /100 remaining/);
  await page.type("#add-credits", "5");
  await clickAndWait(page, "#add-credits-submit");
  assert.match(await text(page), /105 remaining/);
  const m = await api(main, "GET", `/v1/accounts/${main.account}/owners/alice/meter`);
  assert.equal(m.status, 200);
  assert.deepEqual(m.json.limits, [{ name: "per_day", limit: 1000, window_ms: 86400000 }]);
  assert.equal(m.json.credits.remaining, 105);
  // A change through the API in between: the conflict is shown, and a reload recovers.
  const cur = await api(main, "GET", `/v1/accounts/${main.account}/owners/alice/meter`);
  await api(main, "PATCH", `/v1/accounts/${main.account}/owners/alice/meter`, { limits: [] }, { "if-match": cur.headers.get("etag") || String(cur.json.version) });
  await page.$eval("#k-limits", (e) => (e.value = "per_day=5/1d"));
  await clickAndWait(page, "#save-meter");
  assert.match(await text(page), /Someone else changed this owner's meter/);
  await clickAndWait(page, "#reload");
  assert.equal(await page.$eval("#k-limits", (e) => e.value), "");
});

test("the key's activity chart: SVG from the server, range selectable", async () => {
  await page.goto(`${main.base}/console/keys/${created.id}`);
  assert.equal(await page.$$eval("#activity rect.bar", (r) => r.length), 14);
  const today = await page.$$eval("#activity rect.bar", (r) => Number(r[r.length - 1].getAttribute("height")));
  assert.ok(today > 0, "today's changes have a bar");
  await page.select("#days", "30");
  await clickAndWait(page, "#show-range");
  assert.match(page.url(), /days=30/);
  assert.equal(await page.$$eval("#activity rect.bar", (r) => r.length), 30);
  assert.match(await text(page), /last 30 days/);
});

test("the usage charts have data after a series of verifications", async () => {
  // Three that pass and two refused (a scope the key lacks).
  for (let i = 0; i < 3; i++) assert.equal((await verify(main, created.secret)).valid, true);
  for (let i = 0; i < 2; i++) {
    const r = await fetch(main.base + "/v1/verify", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key: created.secret, required_scopes: ["nothing:granted"] }),
    });
    assert.equal((await r.json()).code, "insufficient_scope");
  }
  // Counts are written in batches about every second.
  const deadline = Date.now() + 10_000;
  let valid = 0;
  let refused = 0;
  while (Date.now() < deadline) {
    await page.goto(`${main.base}/console/keys/${created.id}`);
    const last = (sel) => page.$$eval(`${sel} rect.bar title`, (t) => t[t.length - 1].textContent);
    valid = Number((await last("#usage-valid")).split(": ")[1]);
    refused = Number((await last("#usage-refused")).split(": ")[1]);
    if (valid >= 3 && refused >= 2) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  assert.ok(valid >= 3, `today's passed verifications: ${valid}`);
  assert.ok(refused >= 2, `today's refused verifications: ${refused}`);
  assert.match(await text(page), /Usage/);
  await check(page, "key-usage");
  // The owner's page sums its keys' usage.
  await page.goto(`${main.base}/console/owners/alice`);
  const ownerValid = await page.$$eval("#usage-valid rect.bar title", (t) => Number(t[t.length - 1].textContent.split(": ")[1]));
  assert.ok(ownerValid >= 3, `the owner's passed verifications today: ${ownerValid}`);
  await check(page, "owner-usage");
  await page.select("#days", "30");
  await clickAndWait(page, "#show-range");
  assert.match(page.url(), /days=30/);
  assert.equal(await page.$$eval("#usage-valid rect.bar", (r) => r.length), 30);
});

test("disable (verify fails), enable (verify works)", async () => {
  await page.goto(`${main.base}/console/keys/${created.id}`);
  await clickAndWait(page, "#disable");
  assert.match(await text(page), /The key is disabled/);
  assert.ok(await page.$eval("[role=status]", (e) => e === document.activeElement), "focus on the result");
  let v = await verify(main, created.secret);
  assert.equal(v.valid, false);
  assert.equal(v.code, "key_disabled");
  await clickAndWait(page, "#enable");
  assert.match(await text(page), /The key is enabled/);
  v = await verify(main, created.secret);
  assert.equal(v.valid, true);
});

test("roll with a grace period: the new key is shown once, the old one still works", async () => {
  await page.goto(`${main.base}/console/keys/${created.id}`);
  await page.$eval("#grace", (e) => (e.value = ""));
  await page.type("#grace", "600");
  await clickAndWait(page, "#roll");
  assert.match(await text(page), /old key keeps working until/);
  await check(page, "key-rolled");
  const fresh = await page.$eval("#secret", (e) => e.value);
  secrets.add(fresh);
  assert.notEqual(fresh, created.secret);
  assert.equal((await verify(main, fresh)).valid, true);
  assert.equal((await verify(main, created.secret)).valid, true, "the old key works during the grace period");
  await clickAndWait(page, "#close-once");
  assert.ok(!(await html(page)).includes(fresh));
  created.old = created.secret;
  created.secret = fresh;
});

test("a version conflict is shown and recoverable", async () => {
  await page.goto(`${main.base}/console/keys/${created.id}`);
  // Someone changes the key through the API meanwhile.
  const cur = await api(main, "GET", `/v1/accounts/${main.account}/keys/${created.id}`);
  const r = await api(main, "PATCH", `/v1/accounts/${main.account}/keys/${created.id}`, { description: "changed by the API" }, { "if-match": cur.headers.get("etag") });
  assert.equal(r.status, 200);
  await page.$eval("#k-description", (e) => (e.value = ""));
  await page.type("#k-description", "changed in the console");
  await clickAndWait(page, "#save");
  assert.match(await text(page), /Someone else changed this key/);
  await check(page, "conflict");
  await clickAndWait(page, "#reload");
  assert.equal(await page.$eval("#k-description", (e) => e.value), "changed by the API");
  await page.$eval("#k-description", (e) => (e.value = ""));
  await page.type("#k-description", "changed in the console");
  await clickAndWait(page, "#save");
  assert.match(await text(page), /Saved\./);
  const now = await api(main, "GET", `/v1/accounts/${main.account}/keys/${created.id}`);
  assert.equal(now.json.description, "changed in the console");
});

test("a state change without the CSRF token is refused", async () => {
  await page.goto(`${main.base}/console/keys/${created.id}`);
  const version = await page.$eval("#edit input[name=version]", (e) => e.value);
  const statuses = await page.evaluate(
    async (id, version) => {
      const post = (body, headers = {}) =>
        fetch(`/console/keys/${id}/disable`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
          body,
        }).then((r) => r.status);
      return [await post(`version=${version}`), await post(`version=${version}&csrf=wrongwrongwrongwrongwrongwrong12`)];
    },
    created.id,
    version
  );
  assert.deepEqual(statuses, [403, 403]);
  // With the session's cookie and token, but from another site: refused too.
  const cookie = (await page.cookies()).find((c) => c.name === "keyseal_console").value;
  const token = await page.evaluate(() => JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"]);
  for (const h of [{ origin: "http://evil.example" }, { "sec-fetch-site": "cross-site" }]) {
    const r = await fetch(`${main.base}/console/keys/${created.id}/disable`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie: `keyseal_console=${cookie}`, "content-type": "application/x-www-form-urlencoded", ...h },
      body: `csrf=${token}&version=${version}`,
    });
    assert.equal(r.status, 403, JSON.stringify(h));
  }
  const k = await api(main, "GET", `/v1/accounts/${main.account}/keys/${created.id}`);
  assert.equal(k.json.enabled, true, "the key was not disabled");
});

test("the audit log shows each change: who, when, old -> new", async () => {
  await page.goto(`${main.base}/console/audit?key_id=${created.id}`);
  await check(page, "audit");
  const rows = await page.$$eval("table.audit tbody tr", (trs) => trs.map((tr) => tr.innerText));
  const actions = rows.map((r) => r.split("\t")[2]);
  for (const a of ["create", "update", "roll"]) assert.ok(actions.includes(a), `${a} in ${actions}`);
  assert.ok(actions.filter((a) => a === "update").length >= 4, "disable, enable and two edits");
  const all = rows.join("\n");
  assert.match(all, /enabled: true → false/);
  assert.match(all, /description: changed by the API → changed in the console/);
  assert.match(all, new RegExp(`key:${main.ownerId}`), "who");
  assert.match(all, /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/, "when");
});

test("usable at a phone's width", async () => {
  await page.setViewport({ width: 375, height: 812 });
  for (const [name, path] of [["phone-keys", "/console/keys"], ["phone-key", `/console/keys/${created.id}`]]) {
    await page.goto(main.base + path);
    const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(over <= 1, `${path} scrolls sideways by ${over}px at 375px`);
    await check(page, name);
  }
  await page.setViewport({ width: 1280, height: 900 });
});

test("delete with confirmation: the key stops at once", async () => {
  await page.goto(`${main.base}/console/keys/${created.id}`);
  await clickAndWait(page, "#delete");
  await check(page, "delete-confirm");
  // Without ticking the box: refused, nothing deleted (the browser's own check is
  // bypassed to reach the server's).
  await page.$eval("#confirm", (e) => e.removeAttribute("required"));
  await clickAndWait(page, "#confirm-delete");
  assert.match(await text(page), /tick the box/);
  assert.equal((await verify(main, created.secret)).valid, true);
  await page.click("#confirm");
  await clickAndWait(page, "#confirm-delete");
  assert.match(await text(page), /The key was deleted/);
  const v = await verify(main, created.secret);
  assert.equal(v.valid, false);
  assert.equal(v.code, "key_revoked");
  await page.goto(`${main.base}/console/audit?key_id=${created.id}`);
  assert.match(await text(page), /\tdelete\t/);
});

test("a read-only owner key gets a read-only console that refuses writes", async () => {
  const r = await api(main, "POST", `/v1/accounts/${main.account}/keys`, { name: "ro-owner", role: "account-owner", read_only: true });
  assert.equal(r.status, 201);
  secrets.add(r.json.secret);
  const target = await api(main, "POST", `/v1/accounts/${main.account}/keys`, { name: "target" });
  secrets.add(target.json.secret);
  const ctx = await browser.createBrowserContext();
  const p = await newPage(ctx);
  await signIn(p, main, r.json.secret);
  assert.match(p.url(), /\/console\/keys$/);
  assert.match(await text(p), /read-only/);
  assert.equal(await p.$("a[href='/console/keys/new']"), null, "no New key link");
  await p.goto(`${main.base}/console/keys/${target.json.id}`);
  await check(p, "key-read-only");
  for (const sel of ["#disable", "#enable", "#roll", "#delete", "#edit"]) {
    assert.equal(await p.$(sel), null, `${sel} is hidden`);
  }
  const resp = await p.goto(`${main.base}/console/keys/new`);
  assert.equal(resp.status(), 403);
  assert.match(await text(p), /read_only_key/);
  // A forged form with the session's own CSRF token is still refused.
  await p.goto(`${main.base}/console/keys/${target.json.id}`);
  const statuses = await p.evaluate(async (id) => {
    const token = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"];
    const post = (path, body) =>
      fetch(path, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `csrf=${token}&${body}` }).then((r) => r.status);
    return [
      await post(`/console/keys/${id}/disable`, "version=1"),
      await post(`/console/keys/${id}/delete`, "version=1&confirm=on"),
      await post(`/console/keys/${id}/roll`, "version=1&grace_seconds=0"),
      await post(`/console/keys/${id}/edit`, "version=1&name=x"),
      await post(`/console/keys`, "name=sneaky"),
      await post(`/console/keys/${id}/credits`, "add=5"),
      await post(`/console/owners/alice/meter`, "version=0&credits=1"),
      await post(`/console/owners/alice/credits`, "add=5"),
    ];
  }, target.json.id);
  assert.deepEqual(statuses, [403, 403, 403, 403, 403, 403, 403, 403]);
  await p.goto(`${main.base}/console/owners/alice`);
  for (const sel of ["#meter-edit", "#add-credits"]) assert.equal(await p.$(sel), null, `${sel} is hidden`);
  const k = await api(main, "GET", `/v1/accounts/${main.account}/keys/${target.json.id}`);
  assert.equal(k.json.version, 1, "unchanged");
  assert.equal((await api(main, "GET", `/v1/accounts/${main.account}/keys/sneaky`)).status, 404);
  await ctx.close();
});

test("an expired session sends the user back to sign-in", async () => {
  const short = await startServer(["--console-session-ttl", "2"]);
  const ctx = await browser.createBrowserContext();
  const p = await newPage(ctx);
  await signIn(p, short, short.owner);
  assert.match(p.url(), /\/console\/keys$/);
  const cookie = (await p.cookies()).find((c) => c.name === "keyseal_console");
  await new Promise((r) => setTimeout(r, 2500));
  // The browser dropped the cookie (Max-Age); the server ended the session too.
  await p.goto(short.base + "/console/keys");
  assert.match(p.url(), /\/console\/sign-in/);
  const r = await fetch(short.base + "/console/keys", { redirect: "manual", headers: { cookie: `keyseal_console=${cookie.value}` } });
  assert.equal(r.status, 303);
  assert.equal(r.headers.get("location"), "/console/sign-in?why=expired");
  await p.goto(short.base + r.headers.get("location"));
  assert.match(await text(p), /session ended/);
  await ctx.close();
});

test("--console-secure-cookies marks the cookies Secure", async () => {
  const tls = await startServer(["--console-secure-cookies"]);
  const r = await fetch(tls.base + "/console/sign-in");
  assert.match(r.headers.get("set-cookie"), /; Secure/);
  const plain = await fetch(main.base + "/console/sign-in");
  assert.doesNotMatch(plain.headers.get("set-cookie"), /Secure/);
});

test("a disabled owner key ends its session at the next request", async () => {
  const r = await api(main, "POST", `/v1/accounts/${main.account}/keys`, { name: "owner-2", role: "account-owner" });
  secrets.add(r.json.secret);
  const ctx = await browser.createBrowserContext();
  const p = await newPage(ctx);
  await signIn(p, main, r.json.secret);
  assert.match(p.url(), /\/console\/keys$/);
  await api(main, "POST", `/v1/accounts/${main.account}/keys/${r.json.id}/disable`);
  await p.goto(main.base + "/console/keys");
  assert.match(p.url(), /sign-in\?why=key-changed/);
  await ctx.close();
});

test("sign out ends the session", async () => {
  await page.goto(main.base + "/console/keys");
  await clickAndWait(page, "header form button");
  assert.match(page.url(), /sign-in\?why=signed-out/);
  await page.goto(main.base + "/console/keys");
  assert.match(page.url(), /sign-in/);
});

test("no secret in any URL, cookie, console message or browser storage", async () => {
  assert.ok(secrets.size > 5);
  const local = await page.evaluate(() => Object.keys(localStorage));
  assert.deepEqual(local, [], "nothing in localStorage (htmx's history cache is off)");
  // htmx keeps the current path (a URL) in sessionStorage; URLs are checked below.
  const session = await page.evaluate(() => Object.values(sessionStorage));
  const cookies = (await page.cookies()).map((c) => c.value);
  for (const s of secrets) {
    const secretPart = s.split("_").slice(2).join("_");
    for (const u of urls) assert.ok(!u.includes(secretPart), `a secret in ${u}`);
    for (const l of logs) assert.ok(!l.includes(secretPart), "a secret in the console log");
    for (const c of cookies) assert.ok(!c.includes(secretPart), "a secret in a cookie");
    for (const v of session) assert.ok(!v.includes(secretPart), "a secret in sessionStorage");
  }
  const csp = logs.filter((l) => /Content Security Policy|Refused to/.test(l));
  assert.deepEqual(csp, [], "no CSP violations");
});
