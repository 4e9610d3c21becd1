// expressMiddleware and honoMiddleware verifying against a real `keyseal serve` on
// 127.0.0.1 through KeysealClient: a key created through the client works, a disabled one
// is refused once the cache TTL has passed, limits answer 429 with the metering headers.
// Express runs over loopback HTTP; Hono in Node (app.request) and inside workerd.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import { ROOT, nodeBackends, startServer, startWorker, wantWorkerd } from "./helpers.mjs";

const TTL = 1000; // ms, the default: a request right after another is a cache hit even on a loaded machine
const unique = (p) => `${p}-${Math.random().toString(36).slice(2, 10)}`;

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

/** The story every middleware must tell, through `get(headers)` on a route needing `invoices:read`. */
async function lifecycle(api, get) {
  const owner = new api.KeysealClient({ url: server.url, key: server.ownerKey });
  const none = await get({});
  assert.equal(none.status, 401);
  assert.equal(none.body.error, "missing_credential");
  const created = await owner.createKey({ name: unique("svc"), scopes: ["invoices:read"] });
  const first = await get({ "x-api-key": created.secret });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.deepEqual(first.body, { key_id: created.id, cached: false });
  assert.deepEqual((await get({ authorization: `Bearer ${created.secret}` })).body, { key_id: created.id, cached: true });
  assert.equal((await get({ accessKey: created.accessKey, secretKey: created.secretKey })).status, 200);

  const narrow = await owner.createKey({ name: unique("narrow"), scopes: ["other:read"] });
  const forbidden = await get({ "x-api-key": narrow.secret });
  assert.equal(forbidden.status, 403);
  assert.equal(forbidden.body.error, "insufficient_scope");

  await owner.disableKey(created.id);
  await sleep(TTL + 50);
  const gone = await get({ "x-api-key": created.secret });
  assert.equal(gone.status, 401);
  assert.equal(gone.body.error, "key_disabled");
  assert.equal(gone.headers.get("www-authenticate"), 'Bearer error="invalid_token"');
  assert.ok(!JSON.stringify(gone.body).includes(created.secret));

  const tk = await owner.createKey({ name: unique("tok"), scopes: ["invoices:read"] });
  const token = await owner.exchangeToken(tk.secret);
  const byToken = await get({ authorization: `Bearer ${token.token}` });
  assert.equal(byToken.status, 200);
  assert.equal(byToken.body.key_id, tk.id);

  const metered = await owner.createKey({
    name: unique("metered"),
    scopes: ["invoices:read"],
    limits: [{ name: "per_minute", limit: 2, window_ms: 60000 }],
  });
  const ok = await get({ "x-api-key": metered.secret });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.cached, false);
  assert.equal(ok.headers.get("ratelimit-policy"), '"per_minute";q=2;w=60');
  assert.equal((await get({ "x-api-key": metered.secret })).status, 200);
  const limited = await get({ "x-api-key": metered.secret });
  assert.equal(limited.status, 429);
  assert.equal(limited.body.error, "rate_limited");
  assert.match(limited.headers.get("ratelimit"), /^"per_minute";r=0;t=/);
  assert.ok(limited.headers.get("retry-after"));
}

const [{ api }] = await nodeBackends();

describe("expressMiddleware with a KeysealClient (Express on 127.0.0.1)", () => {
  test("create, use, disable, refuse after the TTL; 429 with headers", async () => {
    const { default: express } = await import("express");
    const app = express();
    const client = new api.KeysealClient({ url: server.url });
    app.use("/invoices", api.expressMiddleware({ client, requiredScopes: ["invoices:read"], cacheTtl: TTL }));
    app.get("/invoices", (req, res) => res.json({ key_id: req.keyseal.keyId, cached: req.keyseal.cached }));
    const http = await new Promise((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    try {
      const base = `http://127.0.0.1:${http.address().port}`;
      await lifecycle(api, async (headers) => {
        const r = await fetch(`${base}/invoices`, { headers });
        return { status: r.status, body: await r.json(), headers: r.headers };
      });
    } finally {
      http.close();
    }
  });

  test("cost and dry runs pass through", async () => {
    const owner = new api.KeysealClient({ url: server.url, key: server.ownerKey });
    const key = await owner.createKey({ name: unique("credits"), credits: { remaining: 7 } });
    const client = new api.KeysealClient({ url: server.url });
    const req = (o) => api.verifyRequest(new Request("http://x/", { headers: { "x-api-key": key.secret } }), o);
    const probe = { client, cost: 3, dryRun: true };
    const spend = { client, cost: 3 };
    assert.equal((await req(probe)).auth.meter.credits.remaining, 4);
    assert.equal((await req(spend)).auth.meter.credits.remaining, 4);
    assert.equal((await req(spend)).auth.meter.credits.remaining, 1);
    const refused = await req(spend);
    assert.equal(refused.ok, false);
    assert.equal(refused.status, 429);
    assert.equal(refused.error.code, "usage_exceeded");
    assert.equal((await owner.getKey(key.id)).credits.remaining, 1);
  });

  test("options are checked", () => {
    const client = new api.KeysealClient({ url: server.url });
    assert.throws(() => api.expressMiddleware({ client, verifyKey: () => true }), TypeError);
    assert.throws(() => api.expressMiddleware({ cost: 2 }), TypeError);
    assert.throws(() => api.expressMiddleware({ client: {} }), TypeError);
    assert.throws(() => api.verifyRequestSync(new Request("http://x/"), { client }), TypeError);
  });
});

describe("honoMiddleware with a KeysealClient", () => {
  test("in Node (app.request)", async () => {
    const { Hono } = await import("hono");
    const app = new Hono();
    const client = new api.KeysealClient({ url: server.url });
    app.use("/invoices", api.honoMiddleware({ client, requiredScopes: ["invoices:read"], cacheTtl: TTL }));
    app.get("/invoices", (c) => c.json({ key_id: c.get("keyseal").keyId, cached: c.get("keyseal").cached }));
    await lifecycle(api, async (headers) => {
      const r = await app.request("/invoices", { headers });
      return { status: r.status, body: await r.json(), headers: r.headers };
    });
  });

  test("inside workerd (Miniflare), calling keyseal serve on loopback", { skip: !wantWorkerd() }, async () => {
    const mf = await startWorker("tests/js/worker/hono-worker.mjs", {
      bindings: { KEYSEAL_URL: server.url },
      modulesRoot: ROOT,
    });
    try {
      await lifecycle(api, async (headers) => {
        const r = await mf.dispatchFetch("http://localhost/invoices", { headers });
        return { status: r.status, body: await r.json(), headers: r.headers };
      });
    } finally {
      await mf.dispose();
    }
  });
});

test("the README's keyseal serve example runs as pasted and prints what its comments say", async () => {
  const { readFileSync, writeFileSync, rmSync } = await import("node:fs");
  const { execFileSync } = await import("node:child_process");
  const readme = readFileSync(join(ROOT, "packages", "npm", "README.md"), "utf8");
  const block = /```js serve\n([\s\S]*?)```/.exec(readme)[1];
  const want = [...block.matchAll(/^console\.log\(.*\/\/ (.*)$/gm)].map((m) => m[1]);
  assert.ok(want.length >= 3);
  // examples/node has express and keyseal (a link to packages/npm) installed; a fresh
  // account, since the example names its key.
  const fresh = server.init(unique("acct_readme"));
  const file = join(ROOT, "examples", "node", `.readme-${process.pid}.mjs`);
  writeFileSync(file, block);
  try {
    const out = execFileSync(process.execPath, [file], {
      env: { ...process.env, KEYSEAL_URL: server.url, KEYSEAL_KEY: fresh.ownerKey },
      encoding: "utf8",
    });
    assert.deepEqual(out.trimEnd().split("\n"), want);
  } finally {
    rmSync(file, { force: true });
  }
});
