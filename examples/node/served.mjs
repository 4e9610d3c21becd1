// The same Express API as app.mjs, with the keys kept by `keyseal serve` instead of this
// process: the middleware verifies each request's key or token against the server
// (answers cached 1 s, refusals never), so disabling a key there stops it here within a
// second. Run: KEYSEAL_URL=http://127.0.0.1:8080 node served.mjs
import express from "express";
import { KeysealClient, expressMiddleware } from "keyseal";

/** Builds the app; `client` verifies (it needs no key of its own for that). */
export function createServedApp({ client = new KeysealClient(), cacheTtl } = {}) {
  const app = express();
  app.use(express.json());
  // Scopes per method, as in app.mjs: one middleware (and cache) per requirement.
  const read = expressMiddleware({ client, requiredScopes: ["items:read"], cacheTtl });
  const write = expressMiddleware({ client, requiredScopes: ["items:write"], cacheTtl });
  app.get("/items", read, (req, res) => res.json({ items: ["a", "b"], by: req.keyseal.kind, owner: req.keyseal.owner }));
  // Writes are metered by the server: a cost of 5 from the key's limits and credits.
  const metered = expressMiddleware({ client, requiredScopes: ["items:write"], cost: 5 });
  app.post("/items", write, (req, res) => res.status(201).json({ created: req.body?.name ?? null }));
  app.post("/reports", metered, (req, res) => res.json({ credits: req.keyseal.meter?.credits?.remaining ?? null }));
  return app;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  createServedApp().listen(3000, "127.0.0.1", () => console.log("listening on http://127.0.0.1:3000"));
}
