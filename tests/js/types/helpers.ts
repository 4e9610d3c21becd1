// Compiled by tests/js/api.test.mjs (tsc --noEmit): the helpers' types in index.d.ts accept
// sync and async callbacks where they are awaited, refuse async ones where they are not,
// and make `verifyRequest` a Promise. Each `@ts-expect-error` fails the build when the
// line below it type-checks.
import { KeyPolicy, Meter, expressMiddleware, verifyRequest, verifyRequestSync } from "keyseal";
import type { ApiKey, KeysealError, MeterAnswer, VerifyRequestResult } from "keyseal";

declare const request: Request;
declare const db: { findKey(id: string): Promise<{ owner: string } | undefined> };

export async function asyncHelpers(): Promise<Response> {
  const pending: Promise<VerifyRequestResult> = verifyRequest(request, {
    verifyKey: async (key) => db.findKey(key.id),
    authorize: async (auth) => auth.kind === "token" || auth.principal !== undefined,
  });
  // @ts-expect-error: the result is a Promise; `ok` needs `await`.
  pending.ok;
  const result = await pending;
  if (!result.ok) {
    const error: KeysealError = result.error;
    return error.code === "digest_mismatch" ? result.response() : new Response(null, { status: result.status });
  }
  const sync = await verifyRequest(request, { verifyKey: (key) => ({ id: key.id }), authorize: () => new KeyPolicy().check() });
  return Response.json({ auth: result.auth.kind, sync: sync.ok });
}

export function syncHelper(): VerifyRequestResult {
  verifyRequestSync(request, { verifyKey: (key: ApiKey) => ({ id: key.id }), authorize: () => {} });
  verifyRequestSync(request, { verifyKey: (key) => key.id, authorize: (auth) => auth.kind === "token" });
  // @ts-expect-error: a sync-only helper refuses an async verifyKey.
  verifyRequestSync(request, { verifyKey: async (key: ApiKey) => ({ id: key.id }) });
  // @ts-expect-error: nor an async authorize.
  verifyRequestSync(request, { authorize: async () => true });
  // @ts-expect-error: nor a callback that returns another thenable.
  verifyRequestSync(request, { verifyKey: () => ({ then: (resolve: (v: string) => void) => resolve("x") }) });
  return verifyRequestSync(request, {});
}

export function middleware(): Promise<void> {
  const mw = expressMiddleware({ verifyKey: async (key) => db.findKey(key.id), authorize: async () => false });
  return mw({ headers: {} }, {}, (err?: unknown) => void err);
}

export function metering(): number | null {
  const meter = new Meter({ limits: [{ name: "per_minute", limit: 5, windowMs: 60_000 }], credits: { remaining: 10 } });
  const answer: MeterAnswer = meter.check("key_1", { cost: 2, dryRun: true });
  const code: "rate_limited" | "usage_exceeded" | null = answer.code;
  // @ts-expect-error: the options are camelCase, as everywhere in the JS API.
  meter.check("key_1", { dry_run: true });
  // @ts-expect-error: a limit needs its window.
  new Meter({ limits: [{ name: "per_minute", limit: 5 }] });
  return code === null ? answer.limits[0].remaining + meter.addCredits("key_1", 5) + meter.size : answer.retryAfterMs;
}
