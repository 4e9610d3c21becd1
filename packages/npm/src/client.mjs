// KeysealClient: a client for the `keyseal serve` HTTP API on `fetch`, so the same code
// runs in Node, workerd and browsers. No imports (build.mjs inlines this file into
// dist/api.cjs); api.mjs hands it the error classes so that a server's `code` becomes the
// same KeysealError subclass the in-process functions throw.

const CLIENT_INSPECT = Symbol.for("nodejs.util.inspect.custom");
const METER_HEADERS = [
  ["ratelimit-policy", "RateLimit-Policy"],
  ["ratelimit", "RateLimit"],
  ["retry-after", "Retry-After"],
];

function makeClient({ jsError, typeName, extractCredential, sha256Hex, KeyPolicy }) {
  const dropUndefined = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  const seg = (v) => encodeURIComponent(String(v));
  const env = (name) => (typeof process !== "undefined" && process.env ? process.env[name] : undefined);

  /** The ONE conversion from an error answer to a KeysealError (family -> class). */
  function answerError(status, body, headers) {
    const err = body && typeof body === "object" && body.error && typeof body.error === "object" ? body.error : null;
    const code = err && typeof err.code === "string" ? err.code : "internal";
    const message = err && typeof err.message === "string" ? err.message : `the server answered ${status} without a keyseal error`;
    const e = jsError(code, message);
    if (e.code !== code) e.code = code; // a code newer than this package: keep the server's
    e.status = status;
    e.retryAfter = retryAfter(headers);
    return e;
  }

  function retryAfter(headers) {
    const v = headers.get("retry-after");
    if (v === null) return null;
    const n = Number(v);
    return Number.isFinite(n) && n >= 0 ? n : null;
  }

  function meterHeaders(headers) {
    const out = {};
    for (const [name, canonical] of METER_HEADERS) {
      const v = headers.get(name);
      if (v !== null) out[canonical] = v;
    }
    return out;
  }

  function cursorOf(nextUrl) {
    if (!nextUrl) return null;
    const q = nextUrl.indexOf("?");
    return q < 0 ? null : new URLSearchParams(nextUrl.slice(q + 1)).get("starting_after");
  }

  /** A key just created or rolled; `secret` and `secretKey` stay out of logs and JSON. */
  class CreatedKey {
    #secret;
    #secretKey;
    constructor(body) {
      const { secret, access_key: accessKey, secret_key: secretKey, ...key } = body;
      this.key = key;
      this.id = key.id;
      this.accessKey = accessKey;
      this.#secret = secret;
      this.#secretKey = secretKey;
    }
    /** The whole key (`x-api-key`, `Authorization: Bearer`), shown once. */
    get secret() {
      return this.#secret;
    }
    /** The secret half, for the `secretKey` header next to `accessKey`. */
    get secretKey() {
      return this.#secretKey;
    }
    toJSON() {
      return { key: this.key, id: this.id, accessKey: this.accessKey };
    }
    [CLIENT_INSPECT]() {
      return `CreatedKey { id: '${this.id}', accessKey: '${this.accessKey}', secret: <redacted> }`;
    }
  }

  /** An exchange token (an HS256 JWT); hidden from logs and JSON. */
  class Token {
    #token;
    constructor(body) {
      this.#token = body.token;
      this.tokenType = body.token_type;
      this.expiresIn = body.expires_in;
    }
    get token() {
      return this.#token;
    }
    toJSON() {
      return { tokenType: this.tokenType, expiresIn: this.expiresIn };
    }
    [CLIENT_INSPECT]() {
      return `Token { tokenType: '${this.tokenType}', expiresIn: ${this.expiresIn}, token: <redacted> }`;
    }
  }

  /**
   * A client for `keyseal serve`. `url` defaults to KEYSEAL_URL, then
   * http://127.0.0.1:8080; `key` (an account-owner key, for management calls) to
   * KEYSEAL_KEY where `process.env` exists; `account` to the key's own (one whoami).
   * `timeout` per request in ms (default 10000); `retries` (default 2) retries idempotent
   * calls after a 503 or a network failure, and any call whose connection was refused,
   * with exponential backoff from `backoff` ms (default 200) or the server's Retry-After.
   */
  class KeysealClient {
    #key;
    #account;
    #fetch;
    constructor(options = {}) {
      if (options === null || typeof options !== "object") throw new TypeError("options must be an object");
      this.url = String(options.url ?? env("KEYSEAL_URL") ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
      this.#key = options.key ?? env("KEYSEAL_KEY") ?? null;
      this.#account = options.account ?? null;
      this.timeout = options.timeout ?? 10000;
      this.retries = Math.max(0, options.retries ?? 2);
      this.backoff = options.backoff ?? 200;
      // Bound to globalThis: workerd refuses a fetch called with another `this`.
      this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    }

    [CLIENT_INSPECT]() {
      return `KeysealClient { url: '${this.url}', account: ${this.#account === null ? "null" : `'${this.#account}'`} }`;
    }
    toJSON() {
      return { url: this.url, account: this.#account };
    }

    #delay(attempt, answer) {
      const after = answer ? retryAfter(answer.headers) : null;
      if (after !== null) return Math.min(after * 1000, 30000);
      return this.backoff * 2 ** attempt * (0.5 + Math.random());
    }

    /** -> {status, body, headers}; throws a KeysealError for an error answer. */
    async #send({ method, path, query, body, headers: extra, idempotent = false, ok = [], auth = true }) {
      const headers = { accept: "application/json", ...extra };
      if (auth) {
        if (!this.#key) throw jsError("missing_credential", "this call needs a management key: pass key or set KEYSEAL_KEY");
        headers["x-api-key"] = this.#key;
      }
      if (body !== undefined) headers["content-type"] = "application/json";
      const q = query ? new URLSearchParams(dropUndefined(query)).toString() : "";
      const url = `${this.url}${path}${q ? `?${q}` : ""}`;
      for (let attempt = 0; ; attempt++) {
        let answer = null;
        try {
          answer = await this.#fetch(url, {
            method,
            headers,
            body: body === undefined ? undefined : JSON.stringify(body),
            signal: AbortSignal.timeout(this.timeout),
          });
        } catch (e) {
          // A refused connection never reached the server: safe to repeat for any call.
          const refused = e && e.cause && (e.cause.code === "ECONNREFUSED" || e.cause.code === "ENOTFOUND");
          if (attempt >= this.retries || !(refused || idempotent)) throw e;
        }
        if (answer !== null) {
          if (!(answer.status === 503 && idempotent && attempt < this.retries)) {
            const text = await answer.text();
            let parsed = null;
            if (text) {
              try {
                parsed = JSON.parse(text);
              } catch {
                parsed = null;
              }
            }
            if (answer.status >= 400 && !ok.includes(answer.status)) throw answerError(answer.status, parsed, answer.headers);
            return { status: answer.status, body: parsed, headers: answer.headers };
          }
          await answer.body?.cancel();
        }
        await new Promise((r) => setTimeout(r, this.#delay(attempt, answer)));
      }
    }

    async #call(req) {
      return (await this.#send(req)).body;
    }

    async #acct() {
      if (this.#account === null) this.#account = (await this.whoami()).account;
      return seg(this.#account);
    }

    /** The account the management calls act on. */
    async account() {
      await this.#acct();
      return this.#account;
    }

    async #keys(rest = "") {
      return `/v1/accounts/${await this.#acct()}/keys${rest}`;
    }

    // -- keys ---------------------------------------------------------------------------

    /** Creates a key; the answer holds its secret once. */
    async createKey(fields) {
      return new CreatedKey(await this.#call({ method: "POST", path: await this.#keys(), body: dropUndefined(fields) }));
    }

    async getKey(id) {
      return this.#call({ method: "GET", path: await this.#keys(`/${seg(id)}`), idempotent: true });
    }

    /** Every matching key, newest first, fetched `pageSize` (1-100) at a time. */
    async *listKeys({ status, owner, role, pageSize = 100 } = {}) {
      yield* this.#pages(await this.#keys(), { status, owner, role }, pageSize);
    }

    async *#pages(path, filters, pageSize) {
      let cursor;
      for (;;) {
        const page = await this.#call({
          method: "GET",
          path,
          query: { ...filters, limit: String(pageSize), starting_after: cursor },
          idempotent: true,
        });
        yield* page.data;
        cursor = cursorOf(page.next_url);
        if (!page.has_more || !cursor) return;
      }
    }

    /** Changes the fields given; `version` is the key's version as read (If-Match). */
    async updateKey(id, { version, ...fields }) {
      if (!Number.isSafeInteger(version)) throw new TypeError("version must be the key's version (an integer)");
      return this.#call({
        method: "PATCH",
        path: await this.#keys(`/${seg(id)}`),
        body: dropUndefined(fields),
        headers: { "if-match": String(version) },
      });
    }

    async enableKey(id) {
      return this.#call({ method: "POST", path: await this.#keys(`/${seg(id)}/enable`), idempotent: true });
    }

    async disableKey(id) {
      return this.#call({ method: "POST", path: await this.#keys(`/${seg(id)}/disable`), idempotent: true });
    }

    /** A new secret; the old one keeps working `graceSeconds` more (default 0). */
    async rollKey(id, { graceSeconds } = {}) {
      const body = dropUndefined({ grace_seconds: graceSeconds });
      return new CreatedKey(await this.#call({ method: "POST", path: await this.#keys(`/${seg(id)}/roll`), body }));
    }

    async deleteKey(id) {
      await this.#call({ method: "DELETE", path: await this.#keys(`/${seg(id)}`), idempotent: true });
    }

    /** Adds credits to a key's balance; resolves to the new balance. */
    async addCredits(id, add) {
      const body = await this.#call({ method: "POST", path: await this.#keys(`/${seg(id)}/credits`), body: { add } });
      return body.remaining;
    }

    // -- owners' meters -------------------------------------------------------------------

    async getOwnerMeter(owner) {
      return this.#call({ method: "GET", path: `/v1/accounts/${await this.#acct()}/owners/${seg(owner)}/meter`, idempotent: true });
    }

    /** Sets an owner's shared limits and credits (`credits: null` removes them). */
    async updateOwnerMeter(owner, { version, limits, credits }) {
      if (!Number.isSafeInteger(version)) throw new TypeError("version must be the meter's version (0 for an owner never set)");
      return this.#call({
        method: "PATCH",
        path: `/v1/accounts/${await this.#acct()}/owners/${seg(owner)}/meter`,
        body: dropUndefined({ limits, credits }),
        headers: { "if-match": String(version) },
      });
    }

    async addOwnerCredits(owner, add) {
      const path = `/v1/accounts/${await this.#acct()}/owners/${seg(owner)}/credits`;
      return (await this.#call({ method: "POST", path, body: { add } })).remaining;
    }

    // -- audit ----------------------------------------------------------------------------

    async *audit({ keyId, pageSize = 100 } = {}) {
      yield* this.#pages(`/v1/accounts/${await this.#acct()}/audit`, { key_id: keyId }, pageSize);
    }

    // -- verification and tokens ----------------------------------------------------------

    /**
     * Asks the server whether `key` is valid, spending `cost` (default 1) unless `dryRun`.
     * A refusal resolves (`valid: false`, `code`); `status` is 200 or 429 and `headers`
     * the metering headers to pass on.
     */
    async verify(key, { requiredScopes, allowedRoles, method, clientIp, cost, limits, dryRun } = {}) {
      const body = dropUndefined({
        key,
        required_scopes: requiredScopes,
        allowed_roles: allowedRoles,
        method,
        client_ip: clientIp,
        cost,
        limits,
        dry_run: dryRun,
      });
      const answer = await this.#send({ method: "POST", path: "/v1/verify", body, auth: false, ok: [429], idempotent: dryRun === true });
      const b = answer.body;
      return {
        valid: b.valid === true,
        code: b.code,
        message: b.message ?? null,
        key: b.key ?? null,
        meter: b.meter ?? null,
        status: answer.status,
        headers: meterHeaders(answer.headers),
      };
    }

    /** Exchanges a key (default: the client's own) for a short-lived token. */
    async exchangeToken(key, { cost, limits } = {}) {
      const value = key ?? this.#key;
      if (!value) throw jsError("missing_credential", "no key to exchange: pass one or set KEYSEAL_KEY");
      const query = dropUndefined({ cost: cost === undefined ? undefined : String(cost), limits: limits?.join(",") });
      return new Token(await this.#call({ method: "POST", path: "/v1/token", query, body: { value }, auth: false }));
    }

    /** Checks a token and its key; `account` refuses other accounts' tokens (invalid_claim). */
    async verifyToken(token, { account } = {}) {
      const body = dropUndefined({ token, account });
      return this.#call({ method: "POST", path: "/v1/tokens/verify", body, auth: false, idempotent: true });
    }

    /** The caller: the client's key, or `token` when given. */
    async whoami({ token } = {}) {
      if (token !== undefined) {
        return this.#call({ method: "GET", path: "/v1/whoami", auth: false, headers: { authorization: `Bearer ${token}` }, idempotent: true });
      }
      return this.#call({ method: "GET", path: "/v1/whoami", idempotent: true });
    }
  }

  const SERVER_OPTIONS = ["client", "account", "requiredScopes", "allowedRoles", "cost", "limits", "dryRun", "cacheTtl", "cacheSize"];

  /** The helpers' server-backed options: `client` excludes the in-process ones. */
  function checkServerOptions(o) {
    if (o.client !== undefined) {
      if (!(o.client instanceof KeysealClient)) throw new TypeError(`client must be a KeysealClient, got ${typeName(o.client)}`);
      if (o.keyset !== undefined || o.verifyKey !== undefined) {
        throw new TypeError("client (verification by keyseal serve) excludes keyset and verifyKey (in-process)");
      }
    } else {
      for (const k of SERVER_OPTIONS) {
        if (o[k] !== undefined) throw new TypeError(`${k} needs client (verification by keyseal serve)`);
      }
    }
  }

  // Verification by `keyseal serve` (options.client). Positive answers are cached per
  // options object, bounded (cacheSize, default 10,000, least recently used dropped) and
  // short-lived (cacheTtl ms, default 1000: the server's own promise for a disabled key
  // to stop working). Refusals, metered answers (every request must spend) and dry runs
  // are never cached. The cache holds SHA-256 digests of credentials, never credentials.
  const caches = new WeakMap();

  function cacheOf(o) {
    let c = caches.get(o);
    if (c === undefined) {
      c = { map: new Map(), ttl: o.cacheTtl ?? 1000, size: o.cacheSize ?? 10000, account: o.account };
      caches.set(o, c);
    }
    return c;
  }

  function remoteAddress(request) {
    const a = request && request.socket && request.socket.remoteAddress;
    if (typeof a !== "string") return undefined;
    return a.startsWith("::ffff:") ? a.slice(7) : a;
  }

  function serverRefusal(code, message, headers) {
    const e = jsError(code, message || code);
    if (e.code !== code) e.code = code;
    if (headers && Object.keys(headers).length > 0) e.headers = headers;
    return e;
  }

  async function serverAuth(headers, request, o) {
    const cred = extractCredential(headers);
    const method = request && typeof request.method === "string" ? request.method : undefined;
    const clientIp = remoteAddress(request);
    const cache = cacheOf(o);
    const ck = `${cred.kind}:${sha256Hex(cred.value)}:${method ?? ""}:${clientIp ?? ""}`;
    const hit = cache.map.get(ck);
    if (hit !== undefined) {
      if (hit.until > Date.now()) {
        cache.map.delete(ck); // re-inserted: most recently used last
        cache.map.set(ck, hit);
        return hit.auth;
      }
      cache.map.delete(ck);
    }
    let auth;
    if (cred.kind === "token") {
      if (cache.account === undefined) {
        try {
          cache.account = await o.client.account();
        } catch {
          cache.account = null; // a client without a key: tokens of every account pass
        }
      }
      const v = await o.client.verifyToken(cred.value, { account: cache.account ?? undefined });
      if (!v.valid) throw serverRefusal(v.code, v.message);
      const claims = v.claims ?? {};
      const scopes = typeof claims.scope === "string" && claims.scope ? claims.scope.split(" ") : [];
      // A token carries its key's scopes and role (read-only keys cannot be exchanged).
      KeyPolicy({ scopes, role: claims.role ?? null }).check({
        method,
        requiredScopes: o.requiredScopes,
        allowedRoles: o.allowedRoles,
      });
      auth = { kind: "token", source: cred.source, keyId: v.key_id, account: v.account, owner: claims.sub ?? null, role: claims.role ?? null, scopes, claims, key: null, meter: null, headers: {} };
    } else {
      const v = await o.client.verify(cred.value, {
        requiredScopes: o.requiredScopes,
        allowedRoles: o.allowedRoles,
        method,
        clientIp,
        cost: o.cost,
        limits: o.limits,
        dryRun: o.dryRun,
      });
      if (!v.valid) throw serverRefusal(v.code, v.message, v.headers);
      const k = v.key;
      auth = { kind: cred.kind, source: cred.source, keyId: k.id, account: k.account, owner: k.owner, role: k.role, scopes: k.scopes, claims: null, key: k, meter: v.meter, headers: v.headers };
    }
    const m = auth.meter;
    const metered = m && (m.limits.length > 0 || m.credits || m.owner_credits);
    if (!o.dryRun && !metered && cache.ttl > 0 && cache.size > 0) {
      cache.map.set(ck, { until: Date.now() + cache.ttl, auth: { ...auth, cached: true } });
      while (cache.map.size > cache.size) cache.map.delete(cache.map.keys().next().value);
    }
    return { ...auth, cached: false };
  }

  return { KeysealClient, SERVER_OPTIONS, checkServerOptions, serverAuth };
}

export { makeClient };
