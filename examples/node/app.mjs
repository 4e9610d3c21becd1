// An Express API protected by keyseal.
//
// - API keys (`x-api-key`, `Authorization: Bearer <key>`, or `accessKey` + `secretKey`)
//   are looked up by their public id; the database stores only the peppered digest.
//   Each key carries a policy (scopes, read-only, IP allowlist) checked per request.
// - POST /token exchanges a valid API key for a 10-minute token (`Authorization:
//   Bearer <token>`), verified without any lookup.
import express from "express";
import { KeyFormat, KeyPolicy, Keyset, Pepper, PepperSet, SignatureError, TokenKey, expressMiddleware } from "keyseal";

/**
 * Builds the app. `store` maps key ids to `{digest, owner, scopes, readOnly, allowedIps}`:
 * anything with `get(id)` and `set(id, record)`, where `get` may return a Promise (a
 * database in real life; a Map here). Secrets come from the environment in real life.
 */
export function createApp({ tokenSecret, pepperSecret, store = new Map(), audience = "example-api" }) {
  const format = new KeyFormat("demo_live");
  const peppers = new PepperSet(new Pepper("p1", pepperSecret));
  const keyset = new Keyset(new TokenKey("t1", tokenSecret));

  /**
   * Looks the key up by id and checks its digest; returns the stored record. Async, as a
   * database lookup is: the middleware awaits it, and a failed lookup (a rejection) is a
   * 401 that never reaches the routes.
   */
  async function verifyKey(key) {
    format.check(key.expose());
    const record = await store.get(key.id);
    // An unknown id gets the same answer as a wrong secret.
    if (!record) throw new SignatureError("digest_mismatch", "digest mismatch: the api key does not match the stored digest");
    const status = peppers.verify(key.expose(), record.digest);
    if (status === "outdated") record.digest = peppers.digest(key.expose()); // upgrade in place
    return { ...record, id: key.id };
  }

  /** Scopes per method; API keys also get their stored policy checked. */
  function authorize(auth, req) {
    const requiredScopes = [req.method === "GET" || req.method === "HEAD" ? "items:read" : "items:write"];
    const policy =
      auth.kind === "token"
        ? new KeyPolicy({ scopes: (auth.claims.scope ?? "").split(" ").filter(Boolean) })
        : new KeyPolicy({ scopes: auth.principal.scopes, readOnly: auth.principal.readOnly, allowedIps: auth.principal.allowedIps ?? [] });
    if (req.path === "/token") return; // any valid key may exchange itself
    policy.check({ method: req.method, clientIp: req.socket.remoteAddress, requiredScopes });
  }

  const app = express();
  app.use(express.json());
  app.use(expressMiddleware({ keyset, verify: { audience }, verifyKey, authorize }));

  app.post("/token", (req, res) => {
    if (req.keyseal.kind === "token") return res.status(400).json({ error: "exchange_needs_an_api_key" });
    const p = req.keyseal.principal;
    res.json(keyset.exchange({ keyId: p.id, owner: p.owner, scopes: p.scopes, audience }));
  });
  app.get("/items", (req, res) => res.json({ items: ["a", "b"], by: req.keyseal.kind }));
  app.post("/items", (req, res) => res.status(201).json({ created: req.body?.name ?? null }));

  /** Issues a key and stores its digest (an admin tool in real life). */
  function issueKey({ owner, scopes, readOnly = false, allowedIps }) {
    const key = format.generate();
    store.set(key.id, { digest: peppers.digest(key.expose()), owner, scopes, readOnly, allowedIps });
    return key;
  }

  return { app, issueKey, keyset };
}
