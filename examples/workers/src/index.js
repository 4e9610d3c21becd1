// A Worker that accepts `Authorization: Bearer <token>` and rejects expired tokens,
// tokens for another audience, and writes with a read-only token. keyseal resolves to
// its wasm build here (the `workerd` export condition), loaded synchronously.
import { KeyPolicy, Keyset, TokenKey, verifyRequest } from "keyseal";

let keyset; // built once per isolate, not per request

export default {
  async fetch(request, env) {
    keyset ??= new Keyset(new TokenKey(env.TOKEN_KID, env.TOKEN_SECRET));
    // Awaits the callbacks: `authorize` (and `verifyKey`, for API keys) may be async, e.g. a
    // KV or D1 lookup; one that throws or rejects is a refusal.
    const result = await verifyRequest(request, {
      keyset,
      verify: { audience: env.AUDIENCE, issuer: env.ISSUER },
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
    if (!result.ok) return result.response();
    return Response.json({ ok: true, sub: result.auth.claims.sub, method: request.method });
  },
};
