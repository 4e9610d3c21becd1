// Runs inside workerd (through Miniflare): a Hono app whose routes are protected by
// honoMiddleware verifying keys against a `keyseal serve` on loopback (env.KEYSEAL_URL).
// Hono by path: workerd without a bundler resolves no bare package names.
import { Hono } from "../node_modules/hono/dist/index.js";
import { KeysealClient, honoMiddleware } from "../../../packages/npm/src/wasm.mjs";

let app;
function build(env) {
  const a = new Hono();
  a.use("/invoices", honoMiddleware({ client: new KeysealClient({ url: env.KEYSEAL_URL }), requiredScopes: ["invoices:read"], cacheTtl: 1000 }));
  a.get("/invoices", (c) => {
    const who = c.get("keyseal");
    return c.json({ key_id: who.keyId, cached: who.cached });
  });
  return a;
}

export default {
  fetch(request, env, ctx) {
    app ??= build(env);
    return app.fetch(request, env, ctx);
  },
};
