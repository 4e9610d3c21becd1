// Compiled by tests/js/api.test.mjs (tsc --noEmit): KeysealClient and the server-backed
// helper options as index.d.ts types them.
import { KeysealClient, honoMiddleware, verifyRequest } from "keyseal";
import type { CreatedKey, ServerAuth, ServerKey, Verification } from "keyseal";

declare const request: Request;

export async function clientTypes(): Promise<number> {
  const client = new KeysealClient({ url: "http://127.0.0.1:8080", timeout: 5000 });
  const created: CreatedKey = await client.createKey({ name: "svc", scopes: ["a:read"], limits: [{ name: "m", limit: 5, window_ms: 60000 }] });
  const secret: string = created.secret;
  // @ts-expect-error: the secret is read-only.
  created.secret = "x";
  const v: Verification = await client.verify(secret, { cost: 2, dryRun: true });
  const key: ServerKey = await client.updateKey(created.id, { version: v.key?.version ?? 1, description: "d" });
  // @ts-expect-error: updateKey needs the version it read (If-Match).
  await client.updateKey(created.id, { description: "d" });
  for await (const k of client.listKeys({ status: "active", pageSize: 10 })) k.name.toUpperCase();
  for await (const e of client.audit({ keyId: created.id })) e.action.toUpperCase();
  const token = await client.exchangeToken(secret, { cost: 1 });
  const tv = await client.verifyToken(token.token, { account: key.account });
  await client.updateOwnerMeter("o", { version: 0, credits: null });
  const result = await verifyRequest(request, { client, requiredScopes: ["a:read"], cacheTtl: 500 });
  if (result.ok) {
    const auth: ServerAuth = result.auth;
    auth.keyId.toUpperCase();
  }
  honoMiddleware({ client, cost: 3 });
  // @ts-expect-error: a client-backed helper takes no verifyKey.
  verifyRequest(request, { client, verifyKey: () => true });
  return (tv.valid ? 1 : 0) + (await client.addCredits(created.id, 1));
}
