// The examples, tested the way they run: the Express app over a real loopback HTTP
// connection (127.0.0.1), the Worker inside workerd through Miniflare.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PKG, ROOT, startServer, wantWorkerd } from "./helpers.mjs";

const now = () => Math.floor(Date.now() / 1000);

describe("examples/node (Express on 127.0.0.1)", () => {
  let server;
  let base;
  let ctx;
  let createApp;
  before(async () => {
    ({ createApp } = await import(join(ROOT, "examples", "node", "app.mjs")));
    ctx = createApp({ tokenSecret: "example-token-secret-0123456789abcdef", pepperSecret: "example-pepper-0123" });
    server = await new Promise((resolve) => {
      const s = ctx.app.listen(0, "127.0.0.1", () => resolve(s));
    });
    base = `http://127.0.0.1:${server.address().port}`;
  });
  after(() => server?.close());

  const call = async (method, path, headers = {}) => {
    const res = await fetch(base + path, { method, headers: { "content-type": "application/json", ...headers }, body: method === "POST" ? "{}" : undefined });
    return { status: res.status, body: await res.json() };
  };

  test("no credential is 401 missing_credential", async () => {
    assert.deepEqual((await call("GET", "/items")).body.error, "missing_credential");
  });

  test("an API key in x-api-key reads; a read-only key cannot write", async () => {
    const rw = ctx.issueKey({ owner: "u1", scopes: ["items:*"] }).expose();
    const ro = ctx.issueKey({ owner: "u2", scopes: ["items:*"], readOnly: true }).expose();
    assert.deepEqual(await call("GET", "/items", { "x-api-key": rw }), { status: 200, body: { items: ["a", "b"], by: "api_key" } });
    assert.equal((await call("POST", "/items", { authorization: `Bearer ${rw}` })).status, 201);
    assert.deepEqual(await call("POST", "/items", { "x-api-key": ro }), {
      status: 403,
      body: { error: "read_only_key", message: "read-only key: expected GET, HEAD or OPTIONS, found another method" },
    });
  });

  test("accessKey + secretKey pair, wrong secrets and unknown ids", async () => {
    const key = ctx.issueKey({ owner: "u3", scopes: ["items:read"] });
    const pair = { accesskey: key.prefixedId, secretkey: key.exposeSecretWithChecksum() };
    assert.equal((await call("GET", "/items", pair)).status, 200);
    assert.equal((await call("POST", "/items", pair)).body.error, "insufficient_scope");
    const other = ctx.issueKey({ owner: "u4", scopes: [] });
    // Swapping in another key's secret half breaks the checksum before any lookup.
    const forged = `${key.prefixedId}_${other.exposeSecretWithChecksum()}`;
    assert.equal((await call("GET", "/items", { "x-api-key": forged })).body.error, "bad_checksum");
  });

  test("a key whose lookup rejects (database down) is 401 and never reaches a route", async () => {
    // The same app over a store whose async get() fails: verifyKey rejects.
    const lookups = [];
    const down = {
      get: async (id) => {
        lookups.push(id);
        throw new Error("connection refused: postgres://app:hunter2@127.0.0.1/keys");
      },
      set: () => {},
    };
    const broken = createApp({ tokenSecret: "example-token-secret-0123456789abcdef", pepperSecret: "example-pepper-0123", store: down });
    // Past the middleware, /items and /token answer 200/201 from their routes and
    // /nowhere falls through to this counter: a 401 on each, and no count, shows that
    // no request got past it.
    let routed = 0;
    broken.app.use((req, res, next) => {
      routed += 1;
      next();
    });
    const s = await new Promise((resolve) => {
      const srv = broken.app.listen(0, "127.0.0.1", () => resolve(srv));
    });
    try {
      const key = broken.issueKey({ owner: "u6", scopes: ["items:*"] });
      for (const [method, path] of [["GET", "/items"], ["POST", "/items"], ["POST", "/token"], ["GET", "/nowhere"]]) {
        const res = await fetch(`http://127.0.0.1:${s.address().port}${path}`, { method, headers: { "x-api-key": key.expose() } });
        const text = await res.text();
        assert.equal(res.status, 401, `${method} ${path}`);
        assert.deepEqual(JSON.parse(text), { error: "digest_mismatch", message: "api key refused: verifyKey failed" });
        assert.ok(!text.includes("hunter2"));
      }
      assert.deepEqual(lookups, [key.id, key.id, key.id, key.id]);
      assert.equal(routed, 0, "a request went past the middleware");
    } finally {
      s.close();
    }
  });

  test("exchange an API key for a token, then use the token", async () => {
    const key = ctx.issueKey({ owner: "u5", scopes: ["items:read", "items:write"] }).expose();
    const ex = await call("POST", "/token", { "x-api-key": key });
    assert.equal(ex.status, 200);
    assert.equal(ex.body.claims.sub, "u5");
    const auth = { authorization: `Bearer ${ex.body.token}` };
    assert.deepEqual(await call("GET", "/items", auth), { status: 200, body: { items: ["a", "b"], by: "token" } });
    assert.equal((await call("POST", "/items", auth)).status, 201);
    const expired = ctx.keyset.issue({ sub: "u5", aud: "example-api", exp: now() - 1, scope: "items:read" });
    const res = await fetch(`${base}/items`, { headers: { authorization: `Bearer ${expired}` } });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("www-authenticate"), 'Bearer error="invalid_token"');
    assert.equal((await res.json()).error, "token_expired");
  });
});

describe("examples/node/served.mjs (Express verifying against keyseal serve on 127.0.0.1)", () => {
  let ks;
  let http;
  let base;
  let owner;
  before(async () => {
    ks = await startServer();
    const api = await import(join(PKG, "src", "node.mjs"));
    owner = new api.KeysealClient({ url: ks.url, key: ks.ownerKey });
    const { createServedApp } = await import(join(ROOT, "examples", "node", "served.mjs"));
    const app = createServedApp({ client: new api.KeysealClient({ url: ks.url }), cacheTtl: 200 });
    http = await new Promise((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    base = `http://127.0.0.1:${http.address().port}`;
  });
  after(async () => {
    http?.close();
    await ks?.stop();
  });
  const call = async (method, path, key) => {
    const res = await fetch(base + path, { method, headers: { "content-type": "application/json", "x-api-key": key }, body: method === "POST" ? "{\"name\":\"n\"}" : undefined });
    return { status: res.status, body: await res.json() };
  };

  test("scopes per method; a disabled key is refused within the cache TTL", async () => {
    const reader = await owner.createKey({ name: "reader", owner: "u1", scopes: ["items:read"] });
    assert.deepEqual(await call("GET", "/items", reader.secret), { status: 200, body: { items: ["a", "b"], by: "api_key", owner: "u1" } });
    const denied = await call("POST", "/items", reader.secret);
    assert.deepEqual([denied.status, denied.body.error], [403, "insufficient_scope"]);
    await owner.disableKey(reader.id);
    await new Promise((r) => setTimeout(r, 250));
    assert.equal((await call("GET", "/items", reader.secret)).body.error, "key_disabled");
  });

  test("metered writes spend the key's credits; 429 when they run out", async () => {
    const writer = await owner.createKey({ name: "writer", scopes: ["items:*"], credits: { remaining: 12 } });
    assert.deepEqual(await call("POST", "/reports", writer.secret), { status: 200, body: { credits: 7 } });
    assert.deepEqual(await call("POST", "/reports", writer.secret), { status: 200, body: { credits: 2 } });
    const refused = await call("POST", "/reports", writer.secret);
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error, "usage_exceeded");
  });
});

describe("examples/workers (Worker in workerd via Miniflare)", { skip: !wantWorkerd() }, () => {
  const SECRET = "worker-token-secret-0123456789abcdef";
  let mf;
  let keyset;
  before(async () => {
    const { Miniflare } = await import("miniflare");
    const api = await import(join(PKG, "src", "node.mjs"));
    keyset = new api.Keyset(new api.TokenKey("t1", SECRET));
    const toml = readFileSync(join(ROOT, "examples", "workers", "wrangler.toml"), "utf8");
    const entries = [...toml.matchAll(/^(\w+) = "([^"]*)"$/gm)].map((m) => [m[1], m[2]]);
    const vars = Object.fromEntries(entries.filter(([k]) => /^[A-Z_]+$/.test(k)));
    const compatibilityDate = Object.fromEntries(entries).compatibility_date;
    const read = (...p) => readFileSync(join(ROOT, ...p));
    // Without wrangler's bundler, workerd resolves the Worker's `import "keyseal"` next to
    // the importer (examples/workers/src/keyseal): a module there re-exports the
    // package's `workerd` entry, read from package.json's exports map.
    const exportsMap = JSON.parse(read("packages", "npm", "package.json")).exports["."];
    // `import "hono"` likewise: a module beside the importer re-exports the Hono the test
    // suite installs, listed here with every module it imports (wrangler would bundle them).
    const honoDir = "tests/js/node_modules/hono/dist";
    const honoModules = [];
    const visit = (rel, seen = new Set()) => {
      if (seen.has(rel)) return;
      seen.add(rel);
      const text = read(rel).toString();
      honoModules.push({ type: "ESModule", path: join(ROOT, rel), contents: text });
      for (const m of text.matchAll(/(?:from|import)\s*"(\.[^"]+)"/g)) visit(join(dirname(rel), m[1]), seen);
    };
    visit(`${honoDir}/index.js`);
    mf = new Miniflare({
      compatibilityDate,
      modulesRoot: ROOT,
      modules: [
        { type: "ESModule", path: join(ROOT, "examples/workers/src/index.js"), contents: read("examples/workers/src/index.js") },
        { type: "ESModule", path: join(ROOT, "examples/workers/src/keyseal"), contents: `export * from "../../../packages/npm/${exportsMap.workerd.slice(2)}";` },
        { type: "ESModule", path: join(ROOT, "examples/workers/src/hono"), contents: `export * from "../../../${honoDir}/index.js";` },
        ...honoModules,
        { type: "ESModule", path: join(ROOT, "packages/npm/src/wasm.mjs"), contents: read("packages/npm/src/wasm.mjs") },
        { type: "ESModule", path: join(ROOT, "packages/npm/src/api.mjs"), contents: read("packages/npm/src/api.mjs") },
        { type: "ESModule", path: join(ROOT, "packages/npm/src/status.mjs"), contents: read("packages/npm/src/status.mjs") },
        { type: "ESModule", path: join(ROOT, "packages/npm/src/client.mjs"), contents: read("packages/npm/src/client.mjs") },
        { type: "ESModule", path: join(ROOT, "packages/npm/src/verified.mjs"), contents: read("packages/npm/src/verified.mjs") },
        { type: "ESModule", path: join(ROOT, "packages/npm/dist/wasm/keyseal_wasm.js"), contents: read("packages/npm/dist/wasm/keyseal_wasm.js") },
        { type: "CompiledWasm", path: join(ROOT, "packages/npm/dist/wasm/keyseal_wasm_bg.wasm"), contents: read("packages/npm/dist/wasm/keyseal_wasm_bg.wasm") },
      ],
      bindings: { ...vars, TOKEN_SECRET: SECRET },
    });
    await mf.ready;
  });
  after(() => mf?.dispose());

  const token = (claims) =>
    keyset.issue({ iss: "https://auth.example", aud: "example-api", sub: "u1", exp: now() + 60, scope: "items:read items:write", ...claims });
  const call = async (method, t) => {
    const res = await mf.dispatchFetch("http://localhost/items", { method, headers: t ? { authorization: `Bearer ${t}` } : {} });
    return { status: res.status, body: await res.json() };
  };

  test("a valid token passes", async () => {
    assert.deepEqual(await call("GET", token()), { status: 200, body: { ok: true, sub: "u1", method: "GET" } });
    assert.equal((await call("POST", token())).status, 200);
  });
  test("an expired token is 401 token_expired", async () => {
    const r = await call("GET", token({ exp: now() - 5 }));
    assert.deepEqual([r.status, r.body.error], [401, "token_expired"]);
  });
  test("a token for another audience is 401 invalid_audience", async () => {
    const r = await call("GET", token({ aud: "other-api" }));
    assert.deepEqual([r.status, r.body.error], [401, "invalid_audience"]);
  });
  test("a read-only token cannot write: 403 read_only_key", async () => {
    assert.equal((await call("GET", token({ read_only: true }))).status, 200);
    const r = await call("DELETE", token({ read_only: true }));
    assert.deepEqual([r.status, r.body.error], [403, "read_only_key"]);
  });
  test("no token is 401 missing_credential", async () => {
    const r = await call("GET");
    assert.deepEqual([r.status, r.body.error], [401, "missing_credential"]);
  });
});
