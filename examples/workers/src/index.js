// A Worker (Hono) that accepts `Authorization: Bearer <token>` and rejects expired tokens,
// tokens for another audience, and writes with a read-only token. keyseal resolves to
// its wasm build here (the `workerd` export condition), loaded synchronously.
// With `keyseal serve`, the same middleware takes `{ client: new KeysealClient({ url:
// env.KEYSEAL_URL }), requiredScopes: [...] }` and verifies keys and tokens there.
import { Hono } from "hono";
import { KeyPolicy, Keyset, TokenKey, honoMiddleware } from "keyseal";

let protect; // built once per isolate, not per request

const app = new Hono();

app.use("/items", (c, next) => {
  const env = c.env;
  protect ??= honoMiddleware({
    keyset: new Keyset(new TokenKey(env.TOKEN_KID, env.TOKEN_SECRET)),
    verify: { audience: env.AUDIENCE, issuer: env.ISSUER },
    // May be async (a KV or D1 lookup); one that throws or rejects is a refusal.
    authorize(auth, req) {
      // Tokens carry their grants: `scope` and a custom `read_only` claim.
      const policy = new KeyPolicy({
        scopes: (auth.claims.scope ?? "").split(" ").filter(Boolean),
        readOnly: auth.claims.read_only === true,
      });
      const write = !["GET", "HEAD", "OPTIONS"].includes(req.method);
      policy.check({ method: req.method, requiredScopes: [write ? "items:write" : "items:read"] });
    },
  });
  return protect(c, next);
});

app.all("/items", (c) => c.json({ ok: true, sub: c.get("keyseal").claims.sub, method: c.req.method }));

export default app;
