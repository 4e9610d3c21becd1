// API behaviour checks that must hold on every backend: napi, wasm in Node, wasm in
// workerd. No Node imports (this file also runs inside workerd). Each check throws on
// failure; apiChecks resolves to `[{name, ok, detail}]`.

function fail(msg) {
  throw new Error(msg);
}

function eq(a, b, what) {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  if (x !== y) fail(`${what}: expected ${y}, got ${x}`);
}

function throws(fn, check, what) {
  let err;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  if (err === undefined) fail(`${what}: did not throw`);
  check(err);
  return err;
}

/** Asserts `fn` throws keyseal error `code` of class `cls` (and the error's shape). */
function throwsCode(api, fn, code, cls, what) {
  return throws(
    fn,
    (e) => {
      if (!(e instanceof Error)) fail(`${what}: not an Error`);
      if (!(e instanceof api.KeysealError)) fail(`${what}: not a KeysealError: ${e && e.name}: ${e && e.message}`);
      if (!(e instanceof api[cls])) fail(`${what}: ${e.name} is not a ${cls}`);
      if (e.name !== cls) fail(`${what}: name ${e.name}, expected ${cls}`);
      if (e.code !== code) fail(`${what}: code ${e.code}, expected ${code}`);
      if (typeof e.message !== "string" || e.message.length === 0) fail(`${what}: empty message`);
      if (typeof e.stack !== "string") fail(`${what}: no stack`);
    },
    what,
  );
}

function throwsType(fn, needle, what) {
  return throws(
    fn,
    (e) => {
      if (!(e instanceof TypeError)) fail(`${what}: expected TypeError, got ${e && e.name}`);
      if (!e.message.includes(needle)) fail(`${what}: message ${JSON.stringify(e.message)} lacks ${JSON.stringify(needle)}`);
    },
    what,
  );
}

const SECRET = "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t!"; // 35 bytes: enough for HS256
const NOW = 1767225600;

export async function apiChecks(api, { errorCodes, familyOf }) {
  const checks = {
    "ERROR_CODES equals the core's list"() {
      eq([...api.ERROR_CODES], errorCodes, "ERROR_CODES");
      if (!Object.isFrozen(api.ERROR_CODES)) fail("ERROR_CODES is not frozen");
    },
    "VERSION and BACKEND"() {
      if (!/^\d+\.\d+\.\d+/.test(api.VERSION)) fail(`VERSION ${api.VERSION}`);
      if (!["napi", "wasm"].includes(api.BACKEND)) fail(`BACKEND ${api.BACKEND}`);
    },
    "one error class per family"() {
      const families = [...new Set(Object.values(familyOf))];
      for (const f of families) {
        const cls = `${f[0].toUpperCase()}${f.slice(1)}Error`;
        if (typeof api[cls] !== "function") fail(`no class ${cls}`);
        if (!(api[cls].prototype instanceof api.KeysealError)) fail(`${cls} does not extend KeysealError`);
        if (api[cls].name !== cls) fail(`${cls}.name is ${api[cls].name}`);
      }
      if (!(api.KeysealError.prototype instanceof Error)) fail("KeysealError does not extend Error");
    },
    "errors of every family"() {
      const ks = new api.Keyset(new api.TokenKey("k1", SECRET));
      const other = new api.Keyset(new api.TokenKey("k1", SECRET + "x"));
      const tok = ks.issue({ sub: "u", exp: NOW + 60, aud: "a" });
      throwsCode(api, () => api.parseKey("nope"), "malformed_key", "MalformedError", "parseKey");
      throwsCode(api, () => other.verify(tok, { now: NOW, audience: "a" }), "bad_signature", "SignatureError", "bad sig");
      throwsCode(api, () => ks.verify(tok, { now: NOW + 60, audience: "a" }), "token_expired", "TimeError", "expired");
      throwsCode(api, () => ks.verify(tok, { now: NOW }), "invalid_audience", "ClaimsError", "audience");
      throwsCode(api, () => new api.KeyPolicy({ revoked: true }).check({ now: NOW }), "key_revoked", "PolicyError", "policy");
      throwsCode(api, () => api.extractCredential({}), "missing_credential", "CredentialError", "credential");
      throwsCode(api, () => new api.TokenKey("k", "short"), "weak_key", "ConfigError", "weak key");
      throwsCode(
        api,
        () => new api.KeyFormat("acme").generateFromEntropy(new Uint8Array(4)),
        "rng_failed",
        "InternalError",
        "rng",
      );
      const e = throwsCode(api, () => new api.TokenKey("k", "short-secret-xyz"), "weak_key", "ConfigError", "weak");
      if (e.message.includes("short-secret-xyz")) fail("a secret appears in an error message");
      if (e.family !== "config") fail(`family ${e.family}`);
    },
    "secrets: string, Uint8Array and Buffer-like give the same key; others are TypeError"() {
      const claims = { sub: "u", exp: NOW + 60 };
      const a = new api.Keyset(new api.TokenKey("k1", SECRET)).issue(claims);
      const b = new api.Keyset(new api.TokenKey("k1", new TextEncoder().encode(SECRET))).issue(claims);
      eq(a, b, "string vs bytes");
      throwsType(() => new api.TokenKey("k1", 12345), "string, Uint8Array or Buffer", "number secret");
      throwsType(() => new api.TokenKey("k1", [1, 2, 3]), "string, Uint8Array or Buffer", "array secret");
      throwsType(() => new api.Pepper("p1", {}), "string, Uint8Array or Buffer", "object pepper");
      throwsType(() => new api.Pepper("p1", null), "string, Uint8Array or Buffer", "null pepper");
      throwsType(() => api.hmacSha256(undefined, "x"), "string, Uint8Array or Buffer", "hmac key");
      throwsType(() => api.parseKey(5), "must be a string", "parseKey(5)");
      throwsType(() => new api.Keyset({}), "must be a TokenKey", "Keyset({})");
      throwsType(() => new api.Keyset(new api.TokenKey("k1", SECRET)).verify("a.b.c", { audiance: "x" }), "unknown verify option", "typo");
    },
    "key generation uses OS randomness and round-trips"() {
      const f = new api.KeyFormat("acme_live");
      const k1 = f.generate();
      const k2 = f.generate();
      if (k1.expose() === k2.expose()) fail("two generated keys are equal");
      const parts = f.check(k1.expose());
      if (!(parts instanceof api.KeyParts)) fail("check returns a KeyParts");
      eq([parts.prefix, parts.id, parts.exposeSecret()], [k1.prefix, k1.id, k1.exposeSecret()], "check parts");
      eq(JSON.stringify(parts), JSON.stringify({ prefix: k1.prefix, id: k1.id }), "check parts JSON");
      const p = f.parse(k1.expose());
      eq([p.prefix, p.id, p.checksum, p.prefixedId], [k1.prefix, k1.id, k1.checksum, k1.prefixedId], "parse");
      eq(`${p.prefixedId}_${p.exposeSecretWithChecksum()}`, k1.expose(), "pair halves");
      const shown = `${String(k1)} ${JSON.stringify(k1)} ${JSON.stringify({ k1 })}`;
      if (shown.includes(k1.exposeSecret())) fail("the secret shows in toString/JSON");
      throwsCode(api, () => new api.KeyFormat("other").parse(k1.expose()), "prefix_mismatch", "MalformedError", "prefix");
    },
    "digests with pepper rotation and imported SHA-256"() {
      const key = new api.KeyFormat("acme").generate().expose();
      const p0 = new api.Pepper("p0", "pepper-zero-0123456789");
      const p1 = new api.Pepper("p1", new TextEncoder().encode("pepper-one-0123456789"));
      const old = new api.PepperSet(p0).digest(key);
      const set = new api.PepperSet(p1, [p0]);
      eq(set.verify(key, old), "outdated", "old pepper");
      eq(set.verify(key, set.digest(key)), "current", "current");
      eq(set.verify(key, api.sha256Hex(key)), "outdated", "sha256 import");
      throwsCode(api, () => set.verify(key + "x", set.digest(key)), "digest_mismatch", "SignatureError", "mismatch");
      throwsCode(api, () => new api.PepperSet(p1).verify(key, old), "unknown_pepper", "SignatureError", "unknown");
    },
    "keyset rotation with a grace period"() {
      const k1 = new api.TokenKey("k1", SECRET);
      const k2 = new api.TokenKey("k2", SECRET + SECRET, { alg: "HS512" });
      const ks = new api.Keyset(k1);
      const t1 = ks.issue({ sub: "u", exp: NOW + 3600 });
      eq(ks.rotate(k2, { graceUntil: NOW + 100 }), ks, "rotate returns this");
      const t2 = ks.issue({ sub: "u", exp: NOW + 3600 });
      eq(ks.verify(t1, { now: NOW }).kid, "k1", "old key in grace");
      eq(ks.verify(t2, { now: NOW }), { kid: "k2", alg: "HS512", claims: { sub: "u", exp: NOW + 3600 } }, "new");
      throwsCode(api, () => ks.verify(t1, { now: NOW + 100 }), "key_retired", "SignatureError", "retired");
      throwsCode(api, () => ks.rotate(new api.TokenKey("k1", SECRET), { graceUntil: NOW }), "duplicate_kid", "ConfigError", "dup");
    },
    "verify options: leeway, issuer, required, default now"() {
      const ks = new api.Keyset(new api.TokenKey("k1", SECRET));
      const t = ks.issue({ iss: "i", exp: NOW, nbf: NOW - 10 });
      eq(ks.verify(t, { now: NOW - 1 }).claims.iss, "i", "before exp");
      eq(ks.verify(t, { now: NOW + 4, leeway: 5 }).claims.iss, "i", "leeway");
      throwsCode(api, () => ks.verify(t, { now: NOW - 1, issuer: ["j", "k"] }), "invalid_issuer", "ClaimsError", "iss");
      throwsCode(api, () => ks.verify(t, { now: NOW - 1, required: ["sub"] }), "missing_claim", "ClaimsError", "req");
      throwsCode(api, () => ks.verify(t), "token_expired", "TimeError", "default now is the clock");
      const live = ks.issue({ exp: Math.floor(Date.now() / 1000) + 60 });
      eq(typeof ks.verify(live).claims.exp, "number", "clock");
    },
    "exchange tokens verify with their audience"() {
      const ks = new api.Keyset(new api.TokenKey("k1", SECRET));
      const { token, claims } = ks.exchange({ keyId: "AbCdEfGh12345678", scopes: ["keys:read"], now: NOW, audience: "api" });
      eq(claims.sub, "AbCdEfGh12345678", "sub");
      eq(ks.verify(token, { now: NOW + 1, audience: "api" }).claims, claims, "round trip");
    },
    "verify returns the claims JSON.parse gave before: escapes, non-ASCII, arrays, extra claims"() {
      // A hand-signed payload that is not in keyseal's own issue form: escapes, non-ASCII
      // and astral text, an aud array, a fractional date, the largest exact date (2^53 - 1;
      // beyond it claims are invalid_claim, RFC 7493 section 2.2), extra claims out of order
      // (one named __proto__, two integer-like, one with an escaped name).
      const ks = new api.Keyset(new api.TokenKey("k1", SECRET));
      const header = ks.issue({ exp: NOW }).split(".")[0];
      const payload = String.raw`{"sub":"caf\u00e9 \ud83d\ude00 \u0001\u0002 \"q\"","iss":"ü—☃","aud":["a","ß\u0001",""],"exp":9007199254740991,"nbf":1.5,"iat":-5,"jti":"","scope":"x","role":"é","zeta":{"b":1,"a":[1.0,"\u0001"]},"10":true,"alpha":null,"__proto__":{"p":1},"k\u0065y":"v","2":"two"}`;
      const b64url = (bytes) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join("")).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      const input = `${header}.${b64url(new TextEncoder().encode(payload))}`;
      const token = `${input}.${b64url(api.hmacSha256(SECRET, input))}`;
      const got = ks.verify(token, { now: NOW, audience: "a" });
      // Registered claims in their order, extra claims sorted by name, nested objects
      // sorted, numbers as JSON numbers: what the claims JSON of the core reads as.
      const want = JSON.parse(String.raw`{"kid":"k1","alg":"HS256","claims":{"iss":"ü—☃","sub":"café 😀 \u0001\u0002 \"q\"","aud":["a","ß\u0001",""],"exp":9007199254740991,"nbf":1,"iat":-5,"jti":"","scope":"x","role":"é","10":true,"2":"two","__proto__":{"p":1},"alpha":null,"key":"v","zeta":{"a":[1,"\u0001"],"b":1}}}`);
      eq(got, want, "claims");
      if (Object.getPrototypeOf(got.claims) !== Object.prototype) fail("__proto__ claim replaced the prototype");
      if (!Object.prototype.hasOwnProperty.call(got.claims, "__proto__")) fail("__proto__ claim missing");
      eq(Object.keys(got.claims), Object.keys(want.claims), "key order");
      const few = ks.verify(ks.issue({ aud: "", exp: NOW + 1 }), { now: NOW, audience: "" });
      eq(few, { kid: "k1", alg: "HS256", claims: { aud: "", exp: NOW + 1 } }, "absent claims stay absent");
    },
    "verify: long tokens grow the shared buffers, short ones still verify after"() {
      const ks = new api.Keyset(new api.TokenKey("k1", SECRET));
      const short = ks.issue({ sub: "s", exp: NOW + 1 });
      eq(ks.verify(short, { now: NOW }).claims.sub, "s", "before");
      for (const n of [300, 30000, 90000]) {
        const sub = "é😀x".repeat(n);
        const long = ks.issue({ sub, exp: NOW + 1 });
        eq(ks.verify(long, { now: NOW, maxTokenLen: 1048576 }).claims.sub === sub, true, `sub of ${n}`);
        if (long.length > 8192) throwsCode(api, () => ks.verify(long, { now: NOW }), "token_too_large", "MalformedError", `default limit, ${n}`);
        eq(ks.verify(short, { now: NOW }).claims.sub, "s", `after ${n}`);
      }
    },
    "keyset.verifier: options compiled once, now per call, follows rotation"() {
      const k1 = new api.TokenKey("k1", SECRET);
      const ks = new api.Keyset(k1);
      const t = ks.issue({ aud: "api", exp: NOW + 10 });
      const v = ks.verifier({ audience: "api" });
      eq(v.verify(t, NOW), ks.verify(t, { now: NOW, audience: "api" }), "same result as verify");
      throwsCode(api, () => v.verify(t, NOW + 10), "token_expired", "TimeError", "now per call");
      throwsCode(api, () => v.verify(t), "token_expired", "TimeError", "default now is the clock");
      throwsCode(api, () => ks.verifier().verify(t, NOW), "invalid_audience", "ClaimsError", "default options");
      ks.rotate(new api.TokenKey("k2", SECRET), { graceUntil: NOW + 5 });
      eq(v.verify(ks.issue({ aud: "api", exp: NOW + 10 }), NOW).kid, "k2", "after rotation");
      throwsCode(api, () => v.verify(t, NOW + 6), "key_retired", "SignatureError", "rotation's grace period");
      throwsType(() => ks.verifier({ now: NOW }), "unknown verifier option", "now is per call");
      throwsType(() => v.verify(1, NOW), "token must be a string", "token type");
      throwsType(() => v.verify(t, "soon"), "now must be a number", "now type");
    },
    "headers: Headers, plain object and pairs"() {
      const key = new api.KeyFormat("acme").generate().expose();
      const h = new Headers({ "X-API-Key": key });
      const c = api.extractCredential(h);
      eq([c.kind, c.source, c.value], ["api_key", "x-api-key", key], "Headers");
      eq(JSON.stringify(c).includes(key), false, "credential JSON hides the value");
      const o = api.extractCredential({ authorization: "Bearer a.b.c" });
      eq([o.kind, o.source, o.value], ["token", "bearer", "a.b.c"], "object");
      const [access, secret] = [key.slice(0, key.lastIndexOf("_")), key.slice(key.lastIndexOf("_") + 1)];
      const p = api.extractCredential([["accessKey", access], ["secretKey", secret]]);
      eq([p.kind, p.value], ["key_pair", key], "pairs");
      const dup = new Headers();
      dup.append("x-api-key", key);
      dup.append("x-api-key", key);
      throwsCode(api, () => api.extractCredential(dup), "duplicate_credential", "CredentialError", "dup");
      throwsCode(api, () => api.extractCredential({ "x-api-key": [key, key] }), "duplicate_credential", "CredentialError", "array");
      throwsType(() => api.extractCredential("authorization: x"), "headers must be", "string headers");
    },
    "policy checks"() {
      const p = new api.KeyPolicy({ scopes: ["keys:*"], readOnly: true, allowedIps: ["10.0.0.0/8", "2001:db8::/32"] });
      eq(p.check({ now: NOW, method: "GET", clientIp: "10.1.2.3", requiredScopes: ["keys:read"] }), true, "ok");
      throwsCode(api, () => p.check({ now: NOW, method: "POST", clientIp: "10.1.2.3" }), "read_only_key", "PolicyError", "ro");
      throwsCode(api, () => p.check({ now: NOW, method: "GET", clientIp: "192.0.2.1" }), "ip_not_allowed", "PolicyError", "ip");
      throwsCode(api, () => new api.KeyPolicy({ allowedIps: ["10.0.0.1/8"] }), "invalid_cidr", "MalformedError", "cidr");
      throwsType(() => new api.KeyPolicy({ expiresAt: NaN }), "expiresAt must be a finite number", "NaN expiry");
      throwsCode(api, () => new api.KeyPolicy({ expiresAt: NOW }).check({ now: NOW }), "key_expired", "PolicyError", "expired");
    },
    "Meter: defaults, dry runs, credits, and numbers from JS refused as invalid_config"() {
      const m = new api.Meter({ limits: [{ name: "per_second", limit: 2, windowMs: 1000 }], credits: { remaining: 3 } });
      eq(m.size, 0, "empty");
      const a = m.check("k"); // cost 1, now = Date.now()
      eq([a.allowed, a.code, a.retryAfterMs, a.limits[0].remaining, a.credits], [true, null, 0, 1, { allowed: true, remaining: 2, refillAtMs: null }], "defaults");
      if (Math.abs(a.limits[0].resetMs - Date.now()) > 2000) fail(`nowMs defaults to the clock: resetMs ${a.limits[0].resetMs}`);
      const t = 1_700_000_000_000;
      eq(m.check("d", { cost: 2, dryRun: true, nowMs: t }).allowed, true, "dry run");
      eq(m.check("d", { cost: 2, dryRun: true, nowMs: t }).limits[0].remaining, 0, "a dry run spends nothing");
      eq(m.check("d", { cost: 3, nowMs: t }), { allowed: false, code: "rate_limited", retryAfterMs: null, limits: [{ name: "per_second", allowed: false, limit: 2, remaining: 2, resetMs: t + 1000, retryAfterMs: null }], credits: { allowed: true, remaining: 3, refillAtMs: null } }, "cost above the limit");
      eq(m.addCredits("d", 10, { nowMs: t }), 13, "addCredits");
      eq(m.size, 2, "size");
      for (const bad of [NaN, Infinity, -1, 0.5, 2 ** 53]) {
        throwsCode(api, () => m.check("k", { cost: bad }), "invalid_config", "ConfigError", `cost ${bad}`);
        throwsCode(api, () => m.check("k", { nowMs: bad }), "invalid_config", "ConfigError", `nowMs ${bad}`);
        throwsCode(api, () => m.addCredits("k", bad), "invalid_config", "ConfigError", `amount ${bad}`);
        throwsCode(api, () => new api.Meter({ limits: [{ name: "w", limit: bad, windowMs: 1000 }] }), "invalid_config", "ConfigError", `limit ${bad}`);
      }
      throwsCode(api, () => new api.Meter({ credits: { remaining: 1, refill: { amount: 1, interval: "daily", cap: NaN } } }), "invalid_config", "ConfigError", "NaN is not 'not set'");
      const shape = throwsCode(api, () => new api.Meter({ limits: [{ name: "w", limit: 1, window_ms: 1000 }] }), "invalid_config", "ConfigError", "a nested unknown name");
      if (!shape.message.includes("windowMs")) fail(`the shape error does not name the shape: ${shape.message}`);
      throwsCode(api, () => new api.Meter({ limits: [{ name: "w", limit: 1, windowMs: 0 }] }), "invalid_config", "ConfigError", "value rules are the core's");
      throwsCode(api, () => new api.Meter({}).addCredits("k", 1), "invalid_config", "ConfigError", "no credits to add to");
      throwsType(() => new api.Meter({ limit: [] }), "unknown meter option", "top-level typo");
      throwsType(() => new api.Meter(null), "meter options must be an object", "null options");
      throwsType(() => m.check(1), "subject must be a string", "subject type");
      throwsType(() => m.check("k", { cost: "1" }), "cost must be a number", "cost type");
      throwsType(() => m.check("k", { dryRun: 1 }), "dryRun must be a boolean", "dryRun type");
      throwsType(() => m.check("k", { dry_run: true }), "unknown check option", "check typo");
    },
    async "verifyRequest on Fetch Requests"() {
      const ks = new api.Keyset(new api.TokenKey("k1", SECRET));
      const good = ks.issue({ sub: "u", exp: Math.floor(Date.now() / 1000) + 60 });
      const req = (t) => new Request("https://x.example/", { headers: { authorization: `Bearer ${t}` } });
      const pending = api.verifyRequest(req(good), { keyset: ks });
      if (!(pending instanceof Promise)) fail("verifyRequest did not return a Promise");
      const ok = await pending;
      eq([ok.ok, ok.auth.kind, ok.auth.claims.sub], [true, "token", "u"], "ok");
      const bad = await api.verifyRequest(req(ks.issue({ exp: 1000 })), { keyset: ks });
      eq([bad.ok, bad.status, bad.error.code], [false, 401, "token_expired"], "expired");
      const res = bad.response();
      eq([res.status, res.headers.get("www-authenticate")], [401, 'Bearer error="invalid_token"'], "response");
      const denied = await api.verifyRequest(req(good), {
        keyset: ks,
        authorize: () => new api.KeyPolicy({ readOnly: true }).check({ method: "DELETE" }),
      });
      eq([denied.status, denied.error.code], [403, "read_only_key"], "403");
      const broken = await api.verifyRequest(req(good), { keyset: ks, authorize: () => { throw new Error("db password is hunter2"); } });
      eq([broken.ok, broken.status, broken.error.code, broken.error.name], [false, 403, "insufficient_scope", "PolicyError"], "a generic error refuses");
      const body = await broken.response().text();
      if (body.includes("hunter2")) fail("a callback's error message reached the client");
      if (!(broken.error.cause instanceof Error) || !broken.error.cause.message.includes("hunter2")) fail("the callback's error is not kept in cause");
      const missing = await api.verifyRequest(new Request("https://x.example/"), { keyset: ks });
      eq([missing.ok, missing.status, missing.error.code], [false, 401, "missing_credential"], "missing");
      const internal = await api.verifyRequest(req(good), { keyset: ks, authorize: () => { throw new api.KeysealError("storage_unavailable", "storage unavailable: db down"); } });
      eq([internal.status, internal.error.code], [503, "storage_unavailable"], "a KeysealError keeps its code");
      eq((await internal.response().json()).error, "storage_unavailable", "503 body: retry later");
      const typo = await api.verifyRequest(req(good), { keyset: ks, verifyKey: "nope" }).then(() => "resolved", (e) => e);
      if (!(typo instanceof TypeError) || !typo.message.includes("verifyKey must be a function")) fail(`bad options: ${typo}`);
    },
    async "verifyRequest: a rejecting async verifyKey is a 401 and never reaches the handler"() {
      const key = new api.KeyFormat("acme").generate().expose();
      let handled = 0;
      /** A Worker's fetch handler: the app's code runs only after `result.ok`. */
      const serve = async (verifyKey) => {
        const result = await api.verifyRequest(new Request("https://x.example/", { headers: { "x-api-key": key } }), { verifyKey });
        if (!result.ok) return result.response();
        handled += 1;
        return Response.json({ principal: result.auth.principal });
      };
      let calls = 0;
      const rejecting = async (k) => {
        calls += 1;
        if (k.expose() !== key) fail("verifyKey got another key");
        throw new Error("connection refused: postgres://app:hunter2@db");
      };
      const res = await serve(rejecting);
      eq([res.status, calls, handled], [401, 1, 0], "status, calls, handled");
      eq(res.headers.get("www-authenticate"), 'Bearer error="invalid_token"', "www-authenticate");
      const text = await res.text();
      if (text.includes("hunter2") || text.includes("postgres")) fail("the rejection's message reached the client");
      eq(JSON.parse(text).error, "digest_mismatch", "code");
      const keyseal = await serve(() => Promise.reject(new api.PolicyError("key_revoked", "key revoked: the key was revoked")));
      eq([keyseal.status, (await keyseal.json()).error, handled], [401, "key_revoked", 0], "a rejected KeysealError keeps its code");
      for (const none of [undefined, null, false]) {
        const r = await serve(async () => none);
        eq([r.status, (await r.json()).error, handled], [401, "digest_mismatch", 0], `resolved to ${none}`);
      }
      const thenable = await serve(() => ({ then(_, reject) { reject(new Error("lazy query failed")); } }));
      eq([thenable.status, handled], [401, 0], "a rejecting thenable");
    },
    async "verifyRequest: an async verifyKey that resolves to a principal is accepted"() {
      const format = new api.KeyFormat("acme");
      const key = format.generate();
      const peppers = new api.PepperSet(new api.Pepper("p1", "pepper-secret-0123456789"));
      const db = new Map([[key.id, { digest: peppers.digest(key.expose()), owner: "u1" }]]);
      const verifyKey = async (k) => {
        await new Promise((r) => setTimeout(r, 1)); // a real round trip to the "database"
        const row = db.get(k.id);
        if (!row) throw new api.SignatureError("digest_mismatch", "digest mismatch: unknown key");
        peppers.verify(k.expose(), row.digest);
        return { id: k.id, owner: row.owner };
      };
      const req = (v) => new Request("https://x.example/", { headers: { "x-api-key": v } });
      const ok = await api.verifyRequest(req(key.expose()), { verifyKey });
      eq([ok.ok, ok.auth.kind, ok.auth.source, ok.auth.key.id, ok.auth.principal], [true, "api_key", "x-api-key", key.id, { id: key.id, owner: "u1" }], "accepted");
      const other = format.generate().expose();
      const unknown = await api.verifyRequest(req(other), { verifyKey });
      eq([unknown.ok, unknown.status, unknown.error.code], [false, 401, "digest_mismatch"], "unknown key");
      const sync = await api.verifyRequest(req(key.expose()), { verifyKey: (k) => ({ id: k.id }) });
      eq([sync.ok, sync.auth.principal], [true, { id: key.id }], "a sync verifyKey still works");
    },
    async "verifyRequest: an async authorize that rejects or returns false refuses"() {
      const ks = new api.Keyset(new api.TokenKey("k1", SECRET));
      const token = ks.issue({ sub: "u", exp: Math.floor(Date.now() / 1000) + 60 });
      const key = new api.KeyFormat("acme").generate().expose();
      const requests = {
        token: () => new Request("https://x.example/", { headers: { authorization: `Bearer ${token}` } }),
        key: () => new Request("https://x.example/", { headers: { "x-api-key": key } }),
      };
      const verifyKey = async (k) => ({ id: k.id });
      const cases = [
        ["rejects", async () => { throw new Error("acl service down"); }, 403, "insufficient_scope"],
        ["rejects with a PolicyError", async () => new api.KeyPolicy({ revoked: true }).check(), 401, "key_revoked"],
        ["resolves to false", async () => false, 403, "insufficient_scope"],
        ["returns false", () => false, 403, "insufficient_scope"],
        ["returns a rejected Promise", () => Promise.reject(new api.CredentialError("missing_credential", "missing credential: none")), 401, "missing_credential"],
      ];
      for (const [kind, request] of Object.entries(requests)) {
        for (const [what, authorize, status, code] of cases) {
          const r = await api.verifyRequest(request(), { keyset: ks, verifyKey, authorize });
          eq([r.ok, r.status, r.error && r.error.code], [false, status, code], `${kind}: authorize ${what}`);
          if ((await r.response().text()).includes("acl service")) fail("the rejection's message reached the client");
        }
        for (const allow of [async () => true, async () => undefined, () => undefined]) {
          const r = await api.verifyRequest(request(), { keyset: ks, verifyKey, authorize: allow });
          eq(r.ok, true, `${kind}: authorize allows`);
        }
      }
      const seen = [];
      await api.verifyRequest(requests.key(), { verifyKey, authorize: async (auth) => { seen.push(auth.principal); } });
      eq(seen, [{ id: api.parseKey(key).id }], "authorize gets the resolved principal, not a Promise");
    },
    "verifyRequestSync: sync callbacks work; a thenable from a callback throws a TypeError"() {
      const ks = new api.Keyset(new api.TokenKey("k1", SECRET));
      const token = ks.issue({ sub: "u", exp: Math.floor(Date.now() / 1000) + 60 });
      const key = new api.KeyFormat("acme").generate().expose();
      const tokenReq = () => new Request("https://x.example/", { headers: { authorization: `Bearer ${token}` } });
      const keyReq = () => new Request("https://x.example/", { headers: { "x-api-key": key } });
      const ok = api.verifyRequestSync(tokenReq(), { keyset: ks });
      if (ok instanceof Promise) fail("verifyRequestSync returned a Promise");
      eq([ok.ok, ok.auth.claims.sub], [true, "u"], "token");
      eq(api.verifyRequestSync(keyReq(), { verifyKey: (k) => ({ id: k.id }) }).auth.principal, { id: api.parseKey(key).id }, "sync verifyKey");
      const refused = api.verifyRequestSync(keyReq(), { verifyKey: () => { throw new Error("hunter2"); } });
      eq([refused.ok, refused.status, refused.error.code], [false, 401, "digest_mismatch"], "a throwing verifyKey refuses");
      eq(api.verifyRequestSync(keyReq(), { verifyKey: () => null }).status, 401, "no principal");
      eq(api.verifyRequestSync(tokenReq(), { keyset: ks, authorize: () => false }).status, 403, "authorize false");
      const thenables = [
        ["verifyKey", { verifyKey: async (k) => ({ id: k.id }) }, keyReq],
        ["verifyKey", { verifyKey: () => Promise.reject(new Error("db down")) }, keyReq],
        ["verifyKey", { verifyKey: () => ({ then(resolve) { resolve({ id: "x" }); } }) }, keyReq],
        ["authorize", { keyset: ks, authorize: async () => true }, tokenReq],
        ["authorize", { keyset: ks, authorize: () => Promise.reject(new Error("acl down")) }, tokenReq],
      ];
      for (const [name, options, request] of thenables) {
        throwsType(() => api.verifyRequestSync(request(), options), `${name} returned a`, `${name} thenable`);
      }
    },
    async "expressMiddleware awaits callbacks; a refusal answers and never calls next"() {
      const ks = new api.Keyset(new api.TokenKey("k1", SECRET));
      const token = ks.issue({ sub: "u", exp: Math.floor(Date.now() / 1000) + 60 });
      const key = new api.KeyFormat("acme").generate().expose();
      /** A minimal Node-style request/response pair and a `next` that records its calls. */
      const run = async (options, headers = { "x-api-key": key }, nextImpl = () => {}, headersSent = false) => {
        const req = { headers, method: "GET" };
        const res = {
          statusCode: 200, headers: {}, body: undefined, headersSent,
          setHeader(n, v) { this.headers[n] = v; },
          end(b) { this.body = b; this.headersSent = true; },
        };
        const nexts = [];
        const out = api.expressMiddleware(options)(req, res, (...args) => { nexts.push(args); nextImpl(...args); });
        if (!(out instanceof Promise)) fail("the middleware did not return a Promise");
        await out; // never rejects
        return { req, res, nexts };
      };
      const rejected = await run({ verifyKey: async () => { throw new Error("connection refused: hunter2"); } });
      eq([rejected.res.statusCode, rejected.nexts.length, rejected.req.keyseal], [401, 0, undefined], "rejecting verifyKey");
      eq(JSON.parse(rejected.res.body), { error: "digest_mismatch", message: "api key refused: verifyKey failed" }, "body");
      eq(rejected.res.headers["www-authenticate"], 'Bearer error="invalid_token"', "www-authenticate");
      const accepted = await run({ verifyKey: async (k) => ({ id: k.id }) });
      eq([accepted.nexts, accepted.req.keyseal.principal, accepted.res.body], [[[]], { id: api.parseKey(key).id }, undefined], "resolving verifyKey");
      const denied = await run({ verifyKey: async (k) => ({ id: k.id }), authorize: async () => false });
      eq([denied.res.statusCode, denied.nexts.length], [403, 0], "authorize resolves false");
      const policy = await run({ keyset: ks, authorize: () => Promise.reject(new api.PolicyError("read_only_key", "read-only key")) }, { authorization: `Bearer ${token}` });
      eq([policy.res.statusCode, JSON.parse(policy.res.body).error, policy.nexts.length], [403, "read_only_key", 0], "authorize rejects");
      const unsupported = await run({ keyset: ks });
      eq([unsupported.res.statusCode, JSON.parse(unsupported.res.body).error, unsupported.nexts.length], [401, "unsupported_auth_scheme", 0], "no verifyKey");
      const thrower = await run({ verifyKey: async (k) => ({ id: k.id }) }, undefined, (err) => { if (err === undefined) throw new Error("route failed"); });
      eq([thrower.nexts.length, thrower.nexts[1] && thrower.nexts[1][0].message], [2, "route failed"], "next() throwing goes to next(err)");
      const late = await run({ verifyKey: async () => null }, undefined, undefined, true);
      eq([late.nexts.length, late.nexts[0] && late.nexts[0][0].code, late.res.body, late.req.keyseal], [1, "digest_mismatch", undefined, undefined], "headers already sent: next(err)");
    },
  };
  const out = [];
  for (const [name, fn] of Object.entries(checks)) {
    try {
      await fn();
      out.push({ name, ok: true });
    } catch (e) {
      out.push({ name, ok: false, detail: `${e && e.name}: ${e && e.message}` });
    }
  }
  return out;
}
