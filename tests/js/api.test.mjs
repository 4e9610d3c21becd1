// API behaviour on every backend (tests/js/checks.mjs, also run inside workerd), plus the
// Node-only contracts: inspect output, types vs runtime exports, versions, Node headers.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { inspect } from "node:util";
import { apiChecks } from "./checks.mjs";
import { PKG, ROOT, loadVectors, nodeBackends, startWorker, wantWorkerd } from "./helpers.mjs";
// The helpers' statuses against the one table (server/errors.json); scripts/test-js runs
// this file.
import "./status.test.mjs";

// Every unhandled rejection in this process, whichever test caused it: the helpers'
// tests below fail when one appears (Node ends the process on one by default).
const unhandled = [];
process.on("unhandledRejection", (e) => unhandled.push(e));
/** Lets pending rejections be reported (Node reports them after the microtask queue). */
const settle = () => new Promise((r) => setTimeout(r, 20));

const errors = loadVectors().find((f) => f.name === "errors.json").data.codes;
const errorCodes = errors.map((c) => c.code);
const familyOf = Object.fromEntries(errors.map((c) => [c.code, c.family]));
const dts = readFileSync(join(PKG, "index.d.ts"), "utf8");
const backends = await nodeBackends();

/** The string literals of the `*Code` type aliases in index.d.ts, in order. */
function dtsCodes() {
  const codes = [];
  for (const m of dts.matchAll(/export type (\w+Code) =([^;]+);/g)) {
    if (m[1] === "ErrorCode") continue;
    for (const lit of m[2].matchAll(/"([a-z0-9_]+)"/g)) codes.push(lit[1]);
  }
  return codes;
}

/** Names the .d.ts declares as runtime values (classes, functions, consts). */
function dtsValues() {
  const names = [...dts.matchAll(/^export (?:class|function|const) (\w+)/gm)].map((m) => m[1]);
  return [...new Set(names)].sort();
}

test("the TS union of codes equals the core's list (errors.json)", () => {
  assert.deepEqual(dtsCodes(), errorCodes);
  const byFamily = {};
  for (const c of errors) (byFamily[c.family] ??= []).push(c);
  for (const [family, codes] of Object.entries(byFamily)) {
    const alias = `${family[0].toUpperCase()}${family.slice(1)}Code`;
    const m = dts.match(new RegExp(`export type ${alias} =([^;]+);`));
    assert.ok(m, `index.d.ts has ${alias}`);
    assert.deepEqual([...m[1].matchAll(/"([a-z0-9_]+)"/g)].map((x) => x[1]), codes.map((c) => c.code), alias);
  }
});

test("index.d.ts types the helpers: async callbacks where awaited, refused by verifyRequestSync (tsc)", () => {
  // tests/js/types/helpers.ts holds `@ts-expect-error` lines: tsc fails when one compiles.
  const tsc = join(ROOT, "tests", "js", "node_modules", "typescript", "bin", "tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", join(ROOT, "tests", "js", "types", "tsconfig.json")], { encoding: "utf8" });
  assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
});

test("package.json version equals the workspace version", () => {
  const cargo = readFileSync(join(ROOT, "Cargo.toml"), "utf8");
  const ws = cargo.match(/\[workspace\.package\][^[]*?\nversion\s*=\s*"([^"]+)"/)[1];
  const pkg = JSON.parse(readFileSync(join(PKG, "package.json"), "utf8"));
  assert.equal(pkg.version, ws);
  for (const b of backends) assert.equal(b.api.VERSION, ws, `${b.name} VERSION`);
});

for (const b of backends) {
  const checks = await apiChecks(b.api, { errorCodes, familyOf });
  describe(`API on ${b.name}`, () => {
    const api = b.api;
    for (const r of checks) {
      test(r.name, () => assert.ok(r.ok, r.detail));
    }

    test("runtime exports equal the .d.ts declarations", () => {
      const runtime = Object.keys(api).filter((k) => k !== "default").sort();
      assert.deepEqual(runtime, dtsValues());
      assert.equal(typeof api.default, "object");
    });

    test("inspect never shows secrets", () => {
      const key = new api.KeyFormat("acme").generate();
      const secret = key.exposeSecret();
      const tk = new api.TokenKey("k1", "token-secret-token-secret-token-secret");
      const pepper = new api.Pepper("p1", "pepper-secret-pepper");
      const cred = api.extractCredential({ "x-api-key": key.expose() });
      const parts = new api.KeyFormat("acme").check(key.expose());
      const text = inspect({ key, parts, tk, pepper, cred, set: new api.PepperSet(pepper), ks: new api.Keyset(tk) }, { depth: 5, showHidden: true });
      for (const s of [secret, "token-secret", "pepper-secret", key.expose()]) assert.ok(!text.includes(s), `inspect shows ${s.slice(0, 6)}…`);
      assert.match(text, /ApiKey \{ prefix: 'acme', id: '\w{16}', secret: '<redacted>' \}/);
      assert.match(text, /KeyParts \{ prefix: 'acme', id: '\w{16}', secret: '<redacted>' \}/);
      assert.match(text, /Credential \{ kind: 'api_key', source: 'x-api-key', value: '<redacted>' \}/);
      assert.ok(!String(key).includes(secret) && !`${key}`.includes(secret));
    });

    test("Buffer secrets are accepted like strings", () => {
      const a = new api.Keyset(new api.TokenKey("k", Buffer.from("b".repeat(32)))).issue({ exp: 1 });
      const b2 = new api.Keyset(new api.TokenKey("k", "b".repeat(32))).issue({ exp: 1 });
      assert.equal(a, b2);
      assert.ok(api.hmacSha256(Buffer.from("k"), "d") instanceof Uint8Array);
    });

    test("expressMiddleware over HTTP on 127.0.0.1: a rejecting async verifyKey is a 401, never the handler, never an unhandled rejection", async () => {
      const key = new api.KeyFormat("acme").generate();
      const before = unhandled.length;
      let handled = 0;
      let lookups = 0;
      const serve = (options) =>
        new Promise((resolve) => {
          const mw = api.expressMiddleware(options);
          const server = createServer((req, res) => {
            mw(req, res, (err) => {
              if (err) throw err;
              handled += 1;
              res.setHeader("content-type", "application/json");
              res.end(JSON.stringify({ principal: req.keyseal.principal }));
            });
          });
          server.listen(0, "127.0.0.1", () => resolve(server));
        });
      const get = async (server) => {
        const res = await fetch(`http://127.0.0.1:${server.address().port}/`, { headers: { "x-api-key": key.expose() } });
        return { status: res.status, body: await res.json() };
      };
      const down = await serve({
        verifyKey: async () => {
          lookups += 1;
          await settle();
          throw new Error("connection refused: postgres://app:hunter2@127.0.0.1/keys");
        },
      });
      try {
        const r = await get(down);
        assert.deepEqual(r, { status: 401, body: { error: "digest_mismatch", message: "api key refused: verifyKey failed" } });
        assert.equal(lookups, 1);
        assert.equal(handled, 0, "the handler ran");
      } finally {
        down.close();
      }
      const up = await serve({ verifyKey: async (k) => ({ id: k.id }), authorize: async (auth) => auth.principal.id === key.id });
      try {
        assert.deepEqual(await get(up), { status: 200, body: { principal: { id: key.id } } });
        assert.equal(handled, 1);
      } finally {
        up.close();
      }
      await settle();
      assert.deepEqual(unhandled.slice(before), [], "unhandled rejections");
    });

    test("helpers given a rejecting Promise leave no unhandled rejection (verifyRequest, verifyRequestSync)", async () => {
      const key = new api.KeyFormat("acme").generate().expose();
      const req = () => new Request("http://127.0.0.1/", { headers: { "x-api-key": key } });
      const before = unhandled.length;
      const r = await api.verifyRequest(req(), { verifyKey: () => Promise.reject(new Error("db down")) });
      assert.deepEqual([r.ok, r.status, r.error.code], [false, 401, "digest_mismatch"]);
      assert.throws(
        () => api.verifyRequestSync(req(), { verifyKey: () => Promise.reject(new Error("db down")) }),
        (e) => e instanceof TypeError && /verifyKey returned a Promise/.test(e.message),
      );
      assert.throws(
        () => api.verifyRequestSync(req(), { verifyKey: (k) => ({ id: k.id }), authorize: async () => { throw new Error("acl down"); } }),
        (e) => e instanceof TypeError && /authorize returned a Promise/.test(e.message),
      );
      await settle();
      assert.deepEqual(unhandled.slice(before), [], "unhandled rejections");
    });

    test("headers from Node's IncomingHttpHeaders (real request on 127.0.0.1)", async () => {
      const key = new api.KeyFormat("acme").generate().expose();
      const seen = [];
      const server = createServer((req, res) => {
        for (const h of [req.headers, req.headersDistinct]) {
          try {
            const c = api.extractCredential(h);
            seen.push([c.kind, c.source, c.value === key]);
          } catch (e) {
            seen.push([e.code]);
          }
        }
        res.end();
      });
      await new Promise((r) => server.listen(0, "127.0.0.1", r));
      // Raw HTTP/1.1 over a socket so repeated headers reach Node exactly as sent.
      const send = (lines) =>
        new Promise((resolve, reject) => {
          const sock = connect(server.address().port, "127.0.0.1", () => {
            sock.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines.join("\r\n")}\r\nConnection: close\r\n\r\n`);
          });
          sock.on("error", reject);
          sock.on("close", resolve);
          sock.resume();
        });
      await send([`X-Api-Key: ${key}`]);
      await send([`x-api-key: ${key}`, `x-api-key: ${key}`]);
      server.close();
      assert.deepEqual(seen, [
        ["api_key", "x-api-key", true],
        ["api_key", "x-api-key", true],
        ["duplicate_credential"],
        ["duplicate_credential"],
      ]);
    });
  });
}

if (wantWorkerd()) {
  describe("API on wasm-workerd", async () => {
    const mf = await startWorker("tests/js/worker/vector-worker.mjs");
    after(() => mf.dispose());
    const res = await mf.dispatchFetch("http://localhost/checks", { method: "POST", body: JSON.stringify({ errorCodes, familyOf }) });
    const results = await res.json();
    for (const r of results) test(r.name, () => assert.ok(r.ok, r.detail));
    const exportsRes = await mf.dispatchFetch("http://localhost/exports");
    const names = (await exportsRes.json()).filter((k) => k !== "default");
    test("runtime exports equal the .d.ts declarations", () => assert.deepEqual(names, dtsValues()));
  });
}
