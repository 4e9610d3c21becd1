// KeysealClient against a real `keyseal serve` on 127.0.0.1: from Node on each backend,
// and from inside workerd (Miniflare) calling the loopback server.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { inspect } from "node:util";

import { clientScenario } from "./client-scenario.mjs";
import { nodeBackends, startServer, startWorker, wantWorkerd } from "./helpers.mjs";

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

for (const { name, api } of await nodeBackends()) {
  describe(`KeysealClient (${name})`, () => {
    test("every operation against keyseal serve", async () => {
      assert.deepEqual(await clientScenario(api, server), []);
    });

    test("secrets stay out of inspect and errors", async () => {
      const client = new api.KeysealClient({ url: server.url, key: server.ownerKey });
      assert.ok(!inspect(client).includes(server.ownerKey));
      const created = await client.createKey({ name: `i-${Math.random().toString(36).slice(2)}` });
      assert.ok(!inspect(created).includes(created.secret) && inspect(created).includes("<redacted>"));
      const token = await client.exchangeToken(created.secret);
      assert.ok(!inspect(token).includes(token.token));
    });

    test("KEYSEAL_URL and KEYSEAL_KEY are the defaults", async () => {
      const saved = { url: process.env.KEYSEAL_URL, key: process.env.KEYSEAL_KEY };
      process.env.KEYSEAL_URL = server.url;
      process.env.KEYSEAL_KEY = server.ownerKey;
      try {
        assert.equal((await new api.KeysealClient().whoami()).account, server.account);
      } finally {
        for (const [k, v] of [["KEYSEAL_URL", saved.url], ["KEYSEAL_KEY", saved.key]]) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      }
    });

    test("retries: idempotent calls after 503, others never; refused connections always", async () => {
      const script = (statuses, seen) => async (url, init) => {
        seen.push(init.method);
        const status = statuses.shift();
        if (status === "refused") throw new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } });
        if (status === 503) {
          return new Response(JSON.stringify({ error: { code: "storage_unavailable", message: "busy" } }), {
            status: 503,
            headers: { "retry-after": "0" },
          });
        }
        return Response.json({ id: "k1", secret: "s", access_key: "a", secret_key: "s" }, { status });
      };
      let seen = [];
      const opts = { url: "http://keyseal.test", key: "k", account: "a", backoff: 0 };
      await new api.KeysealClient({ ...opts, fetch: script([503, 503, 200], seen) }).getKey("k1");
      assert.deepEqual(seen, ["GET", "GET", "GET"]);
      seen = [];
      await assert.rejects(new api.KeysealClient({ ...opts, fetch: script([503, 201], seen) }).createKey({ name: "n" }), (e) => {
        return e instanceof api.RegistryError && e.code === "storage_unavailable" && e.status === 503 && e.retryAfter === 0;
      });
      assert.deepEqual(seen, ["POST"]);
      seen = [];
      await new api.KeysealClient({ ...opts, fetch: script(["refused", "refused", 201], seen) }).createKey({ name: "n" });
      assert.deepEqual(seen, ["POST", "POST", "POST"]);
      seen = [];
      await assert.rejects(new api.KeysealClient({ ...opts, retries: 1, fetch: script([503, 503], seen) }).getKey("k1"), {
        code: "storage_unavailable",
      });
      assert.deepEqual(seen, ["GET", "GET"]);
    });

    test("a timeout aborts the call", async () => {
      const never = (url, init) =>
        new Promise((_, reject) => init.signal.addEventListener("abort", () => reject(init.signal.reason)));
      const client = new api.KeysealClient({ url: "http://keyseal.test", key: "k", account: "a", timeout: 50, retries: 0, fetch: never });
      await assert.rejects(client.getKey("k1"), { name: "TimeoutError" });
    });
  });
}

describe("KeysealClient inside workerd (Miniflare), calling keyseal serve on loopback", { skip: !wantWorkerd() }, () => {
  test("every operation", async () => {
    const mf = await startWorker("tests/js/worker/client-worker.mjs");
    try {
      const res = await mf.dispatchFetch("http://localhost/", { method: "POST", body: JSON.stringify(server) });
      assert.deepEqual(await res.json(), []);
    } finally {
      await mf.dispose();
    }
  });
});
