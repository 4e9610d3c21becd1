// The public JS API of keyseal, built over a native backend: the napi addon (Node) or the
// wasm build (workerd, browsers, Node). Both backends have the same low-level functions
// (bindings/js/src/lib.rs, one crate built for each), so this one file gives both the
// same API, the same error classes and the same argument checks. No keyseal logic lives
// here: only argument conversion, error conversion and the HTTP helpers' plumbing.
//
// build.mjs also emits it as CommonJS (dist/api.cjs): it inlines the sibling modules this
// file imports (each without imports of its own, ending in one `export { ... };` line)
// and rewrites the single `export` line, so Node's `require` and `import` share the code.

const INSPECT = Symbol.for("nodejs.util.inspect.custom");
const INTERNAL = Symbol("keyseal.internal");
const encoder = new TextEncoder();

import { FAMILY_CLASS, FAMILY_STATUS, CODE_STATUS, WWW_AUTHENTICATE } from "./status.mjs";
import { makeClient } from "./client.mjs";
import { META_LEN, fromParts } from "./verified.mjs";

/** Describes a value's type for TypeError messages, never its content. */
function typeName(v) {
  if (v === null) return "null";
  if (typeof v !== "object") return typeof v;
  return v.constructor && v.constructor.name ? v.constructor.name : "object";
}

function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

function createApi(native, backend) {
  const FAMILY_OF = new Map();
  const codes = [];
  const table = native.errorTable();
  for (let i = 0; i < table.length; i += 2) {
    codes.push(table[i]);
    FAMILY_OF.set(table[i], table[i + 1]);
  }
  const ERROR_CODES = Object.freeze(codes);

  /** Base class of every error keyseal throws; `code` is the core's stable code. */
  class KeysealError extends Error {
    constructor(code, message, options) {
      super(message, options);
      this.code = code;
      this.family = FAMILY_OF.get(code) ?? "internal";
      this.name = new.target.name;
    }
  }
  const classes = { KeysealError };
  for (const name of Object.values(FAMILY_CLASS)) {
    // A named class per family, e.g. `class SignatureError extends KeysealError {}`.
    classes[name] = { [name]: class extends KeysealError {} }[name];
  }
  const classOfFamily = (family) => classes[FAMILY_CLASS[family]] ?? classes.InternalError;

  /** The ONE conversion from a backend error to a keyseal error class. */
  function convert(e) {
    if (e instanceof KeysealError || e instanceof TypeError) return e;
    const code = e !== null && typeof e === "object" && FAMILY_OF.has(e.code) ? e.code : null;
    if (code === null) {
      // Not a core error: a wasm trap or a host-bridge failure. Never let it out as is.
      const detail = e instanceof Error ? e.message : typeName(e);
      return new classes.InternalError("internal", `internal error: ${detail}`, { cause: e });
    }
    const Cls = classOfFamily(FAMILY_OF.get(code));
    return new Cls(code, e.message);
  }

  /** A keyseal error raised by this JS layer itself (helpers), with a core code. */
  function jsError(code, message, options) {
    return new (classOfFamily(FAMILY_OF.get(code)))(code, message, options);
  }

  // The HTTP client for keyseal serve and the helpers' server-backed verification
  // (src/client.mjs), throwing these error classes.
  // Arrows: the functions and classes they call are defined further down.
  const { KeysealClient, SERVER_OPTIONS, checkServerOptions, serverAuth } = makeClient({
    jsError,
    typeName,
    extractCredential: (headers) => extractCredential(headers),
    sha256Hex: (value) => sha256Hex(value),
    KeyPolicy: (options) => new KeyPolicy(options),
  });

  function str(name, v) {
    if (typeof v !== "string") {
      throw new TypeError(`${name} must be a string, got ${typeName(v)}`);
    }
    return v;
  }

  function bytes(name, v) {
    if (typeof v === "string") return encoder.encode(v);
    if (v instanceof Uint8Array) return v; // Buffer is a Uint8Array
    throw new TypeError(`${name} must be a string, Uint8Array or Buffer, got ${typeName(v)}`);
  }

  function int(name, v, dflt) {
    if (v === undefined) return dflt;
    if (!Number.isSafeInteger(v) || v < 0 || v > 0xffffffff) {
      throw new TypeError(`${name} must be a non-negative integer, got ${typeName(v)}`);
    }
    return v;
  }

  function time(name, v, dflt) {
    if (v === undefined) return dflt;
    if (typeof v !== "number") {
      throw new TypeError(`${name} must be a number of unix seconds, got ${typeName(v)}`);
    }
    return v;
  }

  function obj(name, v) {
    if (v === undefined) return {};
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      throw new TypeError(`${name} must be an object, got ${typeName(v)}`);
    }
    return v;
  }

  function only(name, o, allowed) {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) {
        throw new TypeError(`unknown ${name} option ${JSON.stringify(k)}; expected one of ${allowed.join(", ")}`);
      }
    }
  }

  const redacted = "<redacted>";

  /** A parsed or generated API key. The secret only comes out through `expose*()`. */
  class ApiKey {
    #k;
    constructor(token, inner) {
      if (token !== INTERNAL) {
        throw new TypeError("ApiKey is created by KeyFormat.parse(), KeyFormat.generate() or parseKey()");
      }
      this.#k = inner;
    }
    get prefix() { return this.#k.prefix(); }
    get id() { return this.#k.id(); }
    get checksum() { return this.#k.checksum(); }
    /** `prefix_id`: the public part, the `accessKey` of the access-key/secret-key flow. */
    get prefixedId() { return this.#k.prefixedId(); }
    /** The whole key, to hand to its owner once. */
    expose() { return this.#k.expose(); }
    /** The secret part, without the checksum. */
    exposeSecret() { return this.#k.exposeSecret(); }
    /** The secret and its checksum: the `secretKey` of an accessKey + secretKey pair. */
    exposeSecretWithChecksum() { return this.#k.exposeSecretWithChecksum(); }
    toString() { return this.#k.display(); }
    toJSON() { return { prefix: this.prefix, id: this.id }; }
    [INSPECT]() { return `ApiKey { prefix: '${this.prefix}', id: '${this.id}', secret: '${redacted}' }`; }
  }
  const wrapKey = (inner) => new ApiKey(INTERNAL, inner);

  /** The parts of a checked key (what `KeyFormat.check` returns), as the core's `KeyParts`. */
  class KeyParts {
    #k;
    constructor(token, inner) {
      if (token !== INTERNAL) throw new TypeError("KeyParts is returned by KeyFormat.check()");
      this.#k = inner;
    }
    get prefix() { return this.#k.prefix(); }
    get id() { return this.#k.id(); }
    /** The secret part, without the checksum. */
    exposeSecret() { return this.#k.exposeSecret(); }
    toJSON() { return { prefix: this.prefix, id: this.id }; }
    [INSPECT]() { return `KeyParts { prefix: '${this.prefix}', id: '${this.id}', secret: '${redacted}' }`; }
  }

  class KeyFormat {
    #f;
    #prefix;
    #idLen;
    #secretLen;
    constructor(prefix, options) {
      str("prefix", prefix);
      const o = obj("KeyFormat options", options);
      only("KeyFormat", o, ["idLen", "secretLen"]);
      this.#prefix = prefix;
      this.#idLen = int("idLen", o.idLen, 16);
      this.#secretLen = int("secretLen", o.secretLen, 32);
      try {
        this.#f = new native.KeyFormat(prefix, this.#idLen, this.#secretLen);
      } catch (e) { throw convert(e); }
    }
    get prefix() { return this.#prefix; }
    get idLen() { return this.#idLen; }
    get secretLen() { return this.#secretLen; }
    /** A new key from the OS CSPRNG (Web Crypto getRandomValues on wasm). */
    generate() {
      try { return wrapKey(this.#f.generate()); } catch (e) { throw convert(e); }
    }
    /** A key made from the given bytes only (tests and vectors). */
    generateFromEntropy(entropy) {
      const b = bytes("entropy", entropy);
      try { return wrapKey(this.#f.generateFromEntropy(b)); } catch (e) { throw convert(e); }
    }
    parse(key) {
      str("key", key);
      try { return wrapKey(this.#f.parse(key)); } catch (e) { throw convert(e); }
    }
    /** The parts of `key` when it is a well-formed key of this format; throws otherwise. */
    check(key) {
      str("key", key);
      try { return new KeyParts(INTERNAL, this.#f.check(key)); } catch (e) { throw convert(e); }
    }
  }

  function parseKey(key) {
    str("key", key);
    try { return wrapKey(native.parseKey(key)); } catch (e) { throw convert(e); }
  }

  class Pepper {
    #p;
    constructor(id, secret) {
      str("pepper id", id);
      const b = bytes("pepper secret", secret);
      try { this.#p = new native.Pepper(id, b); } catch (e) { throw convert(e); }
    }
    get id() { return this.#p.id(); }
    static [INTERNAL](p) { return p.#p; }
    toJSON() { return { id: this.id }; }
    [INSPECT]() { return `Pepper { id: '${this.id}', secret: '${redacted}' }`; }
  }
  const nativePepper = (name, p) => {
    if (!(p instanceof Pepper)) throw new TypeError(`${name} must be a Pepper, got ${typeName(p)}`);
    return Pepper[INTERNAL](p);
  };

  class PepperSet {
    #s;
    #ids;
    constructor(current, previous = []) {
      const cur = nativePepper("current", current);
      if (!Array.isArray(previous)) throw new TypeError(`previous must be an array of Pepper, got ${typeName(previous)}`);
      this.#s = new native.PepperSet(cur);
      this.#ids = [current.id];
      for (const p of previous) {
        try { this.#s.addPrevious(nativePepper("previous pepper", p)); } catch (e) { throw convert(e); }
        this.#ids.push(p.id);
      }
    }
    /** `v1.<pepper_id>.<base64url>` of HMAC-SHA256(current pepper, key). */
    digest(key) {
      str("key", key);
      try { return this.#s.digest(key); } catch (e) { throw convert(e); }
    }
    /** `"current"`, or `"outdated"` when the stored digest should be replaced. */
    verify(key, stored) {
      str("key", key);
      str("stored digest", stored);
      try { return this.#s.verify(key, stored); } catch (e) { throw convert(e); }
    }
    [INSPECT]() { return `PepperSet { peppers: [${this.#ids.map((i) => `'${i}'`).join(", ")}] }`; }
  }

  function sha256Hex(key) {
    str("key", key);
    try { return native.sha256Hex(key); } catch (e) { throw convert(e); }
  }

  function hmacSha256(key, data) {
    const k = bytes("key", key);
    const d = bytes("data", data);
    try { return new Uint8Array(native.hmacSha256(k, d)); } catch (e) { throw convert(e); }
  }

  class TokenKey {
    #k;
    constructor(kid, secret, options) {
      str("kid", kid);
      const b = bytes("token key secret", secret);
      const o = obj("TokenKey options", options);
      only("TokenKey", o, ["alg", "verifyUntil"]);
      const alg = o.alg === undefined ? "HS256" : str("alg", o.alg);
      const until = time("verifyUntil", o.verifyUntil ?? undefined, undefined);
      try { this.#k = new native.TokenKey(kid, b, alg, until); } catch (e) { throw convert(e); }
    }
    get kid() { return this.#k.kid(); }
    get alg() { return this.#k.alg(); }
    static [INTERNAL](k) { return k.#k; }
    toJSON() { return { kid: this.kid, alg: this.alg }; }
    [INSPECT]() { return `TokenKey { kid: '${this.kid}', alg: '${this.alg}', secret: '${redacted}' }`; }
  }
  const nativeTokenKey = (name, k) => {
    if (!(k instanceof TokenKey)) throw new TypeError(`${name} must be a TokenKey, got ${typeName(k)}`);
    return TokenKey[INTERNAL](k);
  };

  // The verify buffer shared with the backend (`split_io` in bindings/common/src/js.rs):
  // META_LEN f64s the backend fills, then the token's UTF-8 written by encodeInto, so no
  // JS string is converted on the native side. One buffer serves every keyset: calls are
  // synchronous. napi: a plain Uint8Array passed along with each call. wasm: a buffer in
  // the module's memory, whose views are remade when the memory grows (growth detaches
  // them: their length becomes 0).
  const IO_TOKEN = native.ioTokenOffset();
  const IO_KEEP = 65536;
  let ioBytes;
  let ioMeta;
  let ioToken;
  function ioReserve(tokenBytes) {
    const size = IO_TOKEN + Math.max(tokenBytes, 2048);
    if (backend === "wasm") {
      const ptr = native.ioReserve(size);
      ioBytes = new Uint8Array(native.wasmMemory().buffer, ptr, size);
    } else {
      ioBytes = new Uint8Array(size);
    }
    ioMeta = new Float64Array(ioBytes.buffer, ioBytes.byteOffset, META_LEN);
    ioToken = ioBytes.subarray(IO_TOKEN);
  }
  ioReserve(0);
  /** Writes `token` as UTF-8 after the numbers; returns its length in bytes. */
  function ioWrite(token) {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    if (token.length * 3 > ioToken.length) ioReserve(token.length * 3);
    else if (ioToken.length === 0) ioReserve(ioToken.length); // detached by memory growth
    return encoder.encodeInto(token, ioToken).written;
  }
  /** Gives back the room a long token took (it is refused unless maxTokenLen allows it). */
  function ioRelease() {
    if (ioToken.length > IO_KEEP) ioReserve(0);
  }
  /** The numbers of the last verify, through a live view. */
  function ioNumbers() {
    if (ioMeta.length === 0) ioReserve(ioToken.length);
    return ioMeta;
  }
  const VERIFY_OPTIONS = [
    "now",
    "leeway",
    "audience",
    "issuer",
    "required",
    "dangerouslyAllowMissingExp",
    "maxTokenLen",
  ];
  const VERIFIER_OPTIONS = VERIFY_OPTIONS.slice(1);
  let defaultCompiled;
  const defaultValidation = () => {
    if (defaultCompiled === undefined) {
      try { defaultCompiled = new native.Validation("{}"); } catch (e) { throw convert(e); }
    }
    return defaultCompiled;
  };
  const byText = new Map();
  const byObject = new WeakMap();

  /** Compiles verify options once per options object (and per distinct content). */
  function validationFor(o) {
    const hit = byObject.get(o);
    if (hit !== undefined) return hit;
    only("verify", o, VERIFY_OPTIONS);
    const text = JSON.stringify({
      leeway: o.leeway,
      audience: o.audience,
      issuer: o.issuer,
      required: o.required,
      dangerouslyAllowMissingExp: o.dangerouslyAllowMissingExp,
      maxTokenLen: o.maxTokenLen,
    });
    let v = byText.get(text);
    if (v === undefined) {
      try { v = new native.Validation(text); } catch (e) { throw convert(e); }
      if (byText.size >= 256) byText.clear();
      byText.set(text, v);
    }
    byObject.set(o, v);
    return v;
  }

  class Keyset {
    #s;
    #kids;
    constructor(signing, verifyOnly = []) {
      const s = nativeTokenKey("signing key", signing);
      if (!Array.isArray(verifyOnly)) throw new TypeError(`verifyOnly must be an array of TokenKey, got ${typeName(verifyOnly)}`);
      this.#s = new native.Keyset(s);
      this.#kids = [signing.kid];
      for (const k of verifyOnly) {
        try { this.#s.addVerifyOnly(nativeTokenKey("verify-only key", k)); } catch (e) { throw convert(e); }
        this.#kids.push(k.kid);
      }
    }
    /** `next` signs from now on; the old signing key verifies while now < graceUntil. */
    rotate(next, options) {
      const n = nativeTokenKey("next key", next);
      const o = obj("rotate options", options);
      only("rotate", o, ["graceUntil"]);
      if (typeof o.graceUntil !== "number") {
        throw new TypeError(`graceUntil must be a number of unix seconds, got ${typeName(o.graceUntil)}`);
      }
      try { this.#s.rotate(n, o.graceUntil); } catch (e) { throw convert(e); }
      this.#kids.push(next.kid);
      return this;
    }
    /** Signs `claims` (a JSON object) with the signing key; returns the compact token. */
    issue(claims) {
      if (typeof claims !== "object" || claims === null || Array.isArray(claims)) {
        throw new TypeError(`claims must be an object, got ${typeName(claims)}`);
      }
      const json = JSON.stringify(claims);
      try { return this.#s.issue(json); } catch (e) { throw convert(e); }
    }
    /**
     * Verifies `token` and returns `{kid, alg, claims}`. Options: `now` (defaults to the
     * clock, in seconds), `leeway` (0), `audience`, `issuer`, `required` (claims required
     * besides `exp`; none), `dangerouslyAllowMissingExp` (false), `maxTokenLen` (8192).
     */
    verify(token, options) {
      if (typeof token !== "string") str("token", token);
      if (options === undefined) return this.#verify(token, defaultValidation(), undefined);
      obj("verify options", options);
      return this.#verify(token, validationFor(options), options.now);
    }
    /**
     * A verifier bound to this keyset, with `options` (all verify options but `now`)
     * compiled once: `verifier.verify(token, now?)` skips reading options on each call.
     * It follows later rotations of this keyset.
     */
    verifier(options) {
      const o = obj("verifier options", options);
      only("verifier", o, VERIFIER_OPTIONS);
      return new TokenVerifier(INTERNAL, this, validationFor(o));
    }
    /** The verify both entry points share: `v` is compiled, `token` a string. */
    #verify(token, v, now) {
      if (now === undefined) now = nowSeconds();
      else if (typeof now !== "number") time("now", now);
      let out;
      try {
        const len = ioWrite(token);
        out = backend === "wasm" ? this.#s.verify(len, now, v) : this.#s.verify(ioBytes, len, now, v);
      } catch (e) {
        ioRelease();
        throw convert(e);
      }
      const result = fromParts(out, ioNumbers());
      ioRelease();
      return result;
    }
    static [INTERNAL](keyset, token, v, now) { return keyset.#verify(token, v, now); }
    /** Issues the short-lived token an API key is exchanged for: `{token, claims}`. */
    exchange(options) {
      const o = obj("exchange options", options);
      only("exchange", o, ["keyId", "owner", "scopes", "role", "now", "ttl", "issuer", "audience", "jti"]);
      str("keyId", o.keyId);
      const json = JSON.stringify({ ...o, now: time("now", o.now, nowSeconds()) });
      let out;
      try { out = this.#s.exchange(json); } catch (e) { throw convert(e); }
      return JSON.parse(out);
    }
    [INSPECT]() { return `Keyset { kids: [${this.#kids.map((k) => `'${k}'`).join(", ")}] }`; }
  }

  /** `keyset.verifier(options)`: verify options compiled once, `now` per call. */
  class TokenVerifier {
    #keyset;
    #v;
    constructor(token, keyset, v) {
      if (token !== INTERNAL) throw new TypeError("TokenVerifier is created by Keyset.verifier()");
      this.#keyset = keyset;
      this.#v = v;
    }
    /** Like `keyset.verify(token, {...options, now})`; `now` defaults to the clock. */
    verify(token, now) {
      if (typeof token !== "string") str("token", token);
      return Keyset[INTERNAL](this.#keyset, token, this.#v, now);
    }
    [INSPECT]() { return "TokenVerifier {}"; }
  }

  const POLICY_OPTIONS = ["enabled", "revoked", "expiresAt", "role", "scopes", "readOnly", "allowedIps"];
  const CONTEXT_OPTIONS = ["now", "clientIp", "method", "requiredScopes", "allowedRoles"];

  class KeyPolicy {
    #p;
    constructor(options) {
      const o = obj("policy", options);
      only("policy", o, POLICY_OPTIONS);
      // JSON would turn NaN into null, i.e. "never expires": refuse it instead.
      if (o.expiresAt !== undefined && o.expiresAt !== null && !Number.isFinite(o.expiresAt)) {
        throw new TypeError(`expiresAt must be a finite number of unix seconds or null, got ${typeName(o.expiresAt)}`);
      }
      try { this.#p = new native.KeyPolicy(JSON.stringify(o)); } catch (e) { throw convert(e); }
    }
    /** True when the request is allowed; throws a PolicyError (or a malformed IP error). */
    check(context) {
      const c = obj("policy context", context);
      only("policy context", c, CONTEXT_OPTIONS);
      const now = time("now", c.now, nowSeconds());
      if (!Number.isFinite(now)) throw new TypeError("now must be a finite number of unix seconds");
      const json = JSON.stringify({ ...c, now });
      try { return this.#p.check(json); } catch (e) { throw convert(e); }
    }
  }

  const METER_OPTIONS = ["limits", "credits", "maxSubjects"];
  const METER_CHECK_OPTIONS = ["cost", "dryRun", "nowMs"];

  /** JSON.stringify would write NaN and infinities as null ("not set"): keep them wrong. */
  const keepNonFinite = (_, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v);

  function num(name, v) {
    if (typeof v !== "number") throw new TypeError(`${name} must be a number, got ${typeName(v)}`);
    return v;
  }

  /**
   * Rate limits and credits per subject, in memory (the core's Meter). Each subject's
   * state starts at its first check. Options and answers cross as JSON; the shapes and
   * every value rule are the core's (bindings/common/src/meter.rs).
   */
  class Meter {
    #m;
    constructor(options) {
      const o = obj("meter options", options);
      only("meter", o, METER_OPTIONS);
      try { this.#m = new native.Meter(JSON.stringify(o, keepNonFinite)); } catch (e) { throw convert(e); }
    }
    /**
     * Checks `cost` (default 1) for `subject` at `nowMs` (default the clock) against every
     * limit and the credits, and spends it on all of them when all allow it, unless
     * `dryRun`. Returns `{allowed, code, retryAfterMs, limits, credits}`.
     */
    check(subject, options) {
      if (typeof subject !== "string") str("subject", subject);
      let cost = 1;
      let dryRun = false;
      let nowMs;
      if (options !== undefined) {
        const o = obj("check options", options);
        only("check", o, METER_CHECK_OPTIONS);
        if (o.cost !== undefined) cost = num("cost", o.cost);
        if (o.dryRun !== undefined) {
          if (typeof o.dryRun !== "boolean") throw new TypeError(`dryRun must be a boolean, got ${typeName(o.dryRun)}`);
          dryRun = o.dryRun;
        }
        if (o.nowMs !== undefined) nowMs = num("nowMs", o.nowMs);
      }
      let out;
      try { out = this.#m.check(subject, nowMs ?? Date.now(), cost, dryRun); } catch (e) { throw convert(e); }
      return JSON.parse(out);
    }
    /** Adds `amount` credits to `subject` (at `nowMs`, default the clock); returns the balance. */
    addCredits(subject, amount, options) {
      str("subject", subject);
      num("amount", amount);
      const o = obj("addCredits options", options);
      only("addCredits", o, ["nowMs"]);
      const nowMs = o.nowMs === undefined ? Date.now() : num("nowMs", o.nowMs);
      try { return this.#m.addCredits(subject, nowMs, amount); } catch (e) { throw convert(e); }
    }
    /** The number of subjects held. */
    get size() { return this.#m.size(); }
    [INSPECT]() { return `Meter { size: ${this.size} }`; }
  }

  class Credential {
    #value;
    constructor(kind, source, value) {
      this.kind = kind;
      this.source = source;
      this.#value = value;
      Object.freeze(this);
    }
    /** The key, the token, or the accessKey + secretKey pair joined with `_`. */
    get value() { return this.#value; }
    toJSON() { return { kind: this.kind, source: this.source }; }
    [INSPECT]() { return `Credential { kind: '${this.kind}', source: '${this.source}', value: '${redacted}' }`; }
  }

  /** Flattens a Headers object, a plain object, IncomingHttpHeaders, or [name, value] pairs. */
  function flattenHeaders(headers) {
    const flat = [];
    const push = (name, value) => {
      if (value === undefined) return;
      if (Array.isArray(value)) {
        for (const v of value) push(name, v);
        return;
      }
      if (typeof value === "number") value = String(value);
      if (typeof value !== "string") {
        throw new TypeError(`header ${JSON.stringify(name)} must be a string or an array of strings, got ${typeName(value)}`);
      }
      flat.push(name, value);
    };
    if (headers === null || typeof headers !== "object") {
      throw new TypeError(`headers must be a Headers object, a plain object or [name, value] pairs, got ${typeName(headers)}`);
    }
    if (Array.isArray(headers) || typeof headers[Symbol.iterator] === "function") {
      for (const pair of headers) {
        if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string") {
          throw new TypeError("header pairs must be [name, value] arrays");
        }
        push(pair[0], pair[1]);
      }
    } else {
      for (const name of Object.keys(headers)) push(name, headers[name]);
    }
    return flat;
  }

  /** The one credential in `headers`: `{kind, source, value}`. */
  function extractCredential(headers) {
    const flat = flattenHeaders(headers);
    let r;
    try { r = native.extractCredential(flat); } catch (e) { throw convert(e); }
    return new Credential(r[0], r[1], r[2]);
  }

  // The HTTP helpers. `verifyKey` and `authorize` are the application's callbacks: a
  // database, KV or D1 lookup makes them async, so the helpers await them. Every way a
  // callback can fail is a refusal: a thrown or rejected KeysealError keeps its code; any
  // other error becomes the refusal below (its message stays server-side, in `cause`);
  // a principal of undefined, null or false, or an `authorize` result of false, refuses.
  // The sync variant refuses a thenable outright: a Promise is not a principal.

  /** How `verifyKey` refusals are answered when it gave no KeysealError: 401. */
  const KEY_REFUSED = "digest_mismatch";
  /** How `authorize` refusals are answered when it gave no KeysealError: 403. */
  const REQUEST_REFUSED = "insufficient_scope";

  /** The refusal a failed callback becomes; `e` is what it threw or rejected with. */
  function refusal(name, e) {
    if (e instanceof KeysealError) return e;
    return name === "verifyKey"
      ? jsError(KEY_REFUSED, "api key refused: verifyKey failed", { cause: e })
      : jsError(REQUEST_REFUSED, "request refused: authorize failed", { cause: e });
  }

  function isThenable(v) {
    return v !== null && (typeof v === "object" || typeof v === "function") && typeof v.then === "function";
  }

  /** Errors that the sync helper throws as they are instead of turning them into a result. */
  const misuse = new WeakSet();

  // Callbacks are called as methods of the options object, as they always were.

  /** Calls a callback for the sync helper: a thenable result is a TypeError, not a value. */
  function callSync(options, name, a, b) {
    let v;
    let thenable;
    try {
      v = options[name](a, b);
      thenable = isThenable(v);
    } catch (e) {
      throw refusal(name, e);
    }
    if (thenable) {
      // Its rejection, if any, must not become an unhandled rejection (which ends Node).
      try { v.then(undefined, () => {}); } catch { /* a broken thenable: nothing to settle */ }
      const e = new TypeError(`${name} returned a ${typeName(v)} (a thenable); verifyRequestSync needs a synchronous result: use verifyRequest, which awaits it`);
      misuse.add(e);
      throw e;
    }
    return v;
  }

  /** Awaits a callback for the async helpers; throwing, rejecting and a bad thenable refuse. */
  async function callAsync(options, name, a, b) {
    try {
      return await options[name](a, b);
    } catch (e) {
      throw refusal(name, e);
    }
  }

  /**
   * The steps before the callbacks: the one credential in `headers`, a bearer token
   * verified with `options.keyset` (and `options.verify`), or an API key (or key pair)
   * parsed for `options.verifyKey`. Returns `{auth}` for a token, `{cred, key}` for a key.
   */
  function credentialStep(headers, options) {
    const cred = extractCredential(headers);
    if (cred.kind === "token") {
      if (!options.keyset) throw jsError("unsupported_auth_scheme", "unsupported credential: this endpoint accepts api keys only");
      // The options object itself is passed on (its compiled form is cached per object);
      // `now` defaults to the clock inside verify.
      const v = options.keyset.verify(cred.value, options.verify);
      return { auth: { kind: "token", source: cred.source, kid: v.kid, alg: v.alg, claims: v.claims } };
    }
    if (typeof options.verifyKey !== "function") {
      throw jsError("unsupported_auth_scheme", "unsupported credential: this endpoint accepts bearer tokens only");
    }
    return { cred, key: parseKey(cred.value) };
  }

  /** The auth of a key once `verifyKey` gave `principal`; no principal is a refusal. */
  function keyAuth(step, principal) {
    if (principal === undefined || principal === null || principal === false) {
      throw jsError(KEY_REFUSED, `api key refused: expected a principal from verifyKey, found ${principal}`);
    }
    return { kind: step.cred.kind, source: step.cred.source, key: step.key, principal };
  }

  /** `authorize` returning false denies; anything else (undefined, true) allows. */
  function authorized(result) {
    if (result === false) throw jsError(REQUEST_REFUSED, "request refused: authorize returned false");
  }

  /**
   * Authenticates a request: `options.verifyKey(apiKey, request)` returns (or resolves
   * to) the principal, or throws/rejects; then `options.authorize(auth, request)` may
   * throw/reject or return false to deny (e.g. a KeyPolicy check). Both are awaited.
   */
  async function authenticate(headers, request, options) {
    if (options.client !== undefined) {
      const auth = await serverAuth(headers, request, options);
      if (typeof options.authorize === "function") authorized(await callAsync(options, "authorize", auth, request));
      return auth;
    }
    const step = credentialStep(headers, options);
    const auth = step.auth ?? keyAuth(step, await callAsync(options, "verifyKey", step.key, request));
    if (typeof options.authorize === "function") authorized(await callAsync(options, "authorize", auth, request));
    return auth;
  }

  /** `authenticate` for synchronous callbacks only: a thenable result throws a TypeError. */
  function authenticateSync(headers, request, options) {
    if (options.client !== undefined) {
      const e = new TypeError("verification by keyseal serve is asynchronous: use verifyRequest");
      misuse.add(e);
      throw e;
    }
    const step = credentialStep(headers, options);
    const auth = step.auth ?? keyAuth(step, callSync(options, "verifyKey", step.key, request));
    if (typeof options.authorize === "function") authorized(callSync(options, "authorize", auth, request));
    return auth;
  }

  function statusOf(e) {
    return e instanceof KeysealError ? CODE_STATUS[e.code] ?? FAMILY_STATUS[e.family] ?? 500 : 500;
  }

  /** The JSON body of an error answer; server-side failures (500) say nothing more. */
  function errorBody(e) {
    return e instanceof KeysealError && statusOf(e) !== 500
      ? { error: e.code, message: e.message }
      : { error: "internal", message: "internal error" };
  }

  function checkHelperOptions(options) {
    const o = obj("helper options", options);
    only("helper", o, ["keyset", "verify", "verifyKey", "authorize", ...SERVER_OPTIONS]);
    checkServerOptions(o);
    if (o.keyset !== undefined && !(o.keyset instanceof Keyset)) {
      throw new TypeError(`keyset must be a Keyset, got ${typeName(o.keyset)}`);
    }
    for (const name of ["verifyKey", "authorize"]) {
      if (o[name] !== undefined && typeof o[name] !== "function") {
        throw new TypeError(`${name} must be a function, got ${typeName(o[name])}`);
      }
    }
    return o;
  }

  /**
   * Express/Connect middleware: awaits authentication (sync or async callbacks), then sets
   * `req.keyseal` and calls `next()`, or answers 401 (bad or missing credential, refused
   * key) / 403 (policy, authorize) / 500 with a JSON body `{error: code, message}` without
   * calling `next`. It returns a Promise that never rejects: a failure to answer (headers
   * already sent) or an error thrown by `next()` goes to `next(err)`.
   */
  function expressMiddleware(options) {
    const o = checkHelperOptions(options);
    return function keysealMiddleware(req, res, next) {
      return authenticate(req.headers, req, o)
        .then(
          (auth) => {
            req.keyseal = auth;
            if (auth.headers) for (const [k, v] of Object.entries(auth.headers)) res.setHeader(k, v);
            next();
          },
          (e) => {
            if (res.headersSent) throw e;
            const status = statusOf(e);
            res.statusCode = status;
            res.setHeader("content-type", "application/json");
            if (status === 401) res.setHeader("www-authenticate", WWW_AUTHENTICATE);
            if (e && e.headers) for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
            res.end(JSON.stringify(errorBody(e)));
          },
        )
        .catch((err) => {
          // What a framework does when a synchronous middleware throws.
          try { next(err); } catch { /* the framework failed too: nothing left to report to */ }
        });
    };
  }

  /** The result of the Fetch-API helpers for a refused request. */
  function refused(e) {
    // A TypeError here is a bad header value or request object: a 500, like other bugs.
    const error =
      e instanceof TypeError ? jsError("internal", `internal error: ${e.message}`, { cause: e }) : convert(e);
    const status = statusOf(error);
    return {
      ok: false,
      status,
      error,
      response() {
        const headers = { ...error.headers, "content-type": "application/json" };
        if (status === 401) headers["www-authenticate"] = WWW_AUTHENTICATE;
        return new Response(JSON.stringify(errorBody(error)), { status, headers });
      },
    };
  }

  /**
   * Fetch-API helper: `Request` -> Promise of `{ok: true, auth}` or `{ok: false, status,
   * error, response()}` where `response()` builds the JSON error `Response`. Callbacks may
   * be sync or async; a refusal never rejects the Promise (wrong option types do).
   */
  async function verifyRequest(request, options) {
    const o = checkHelperOptions(options);
    try {
      return { ok: true, auth: await authenticate(request.headers, request, o) };
    } catch (e) {
      return refused(e);
    }
  }

  /**
   * `verifyRequest` without a Promise, for synchronous callbacks (or none): token-only hot
   * paths. Throws a TypeError when a callback returns a thenable (a Promise is not a
   * principal); its rejection is handled, so it never becomes an unhandled rejection.
   */
  function verifyRequestSync(request, options) {
    const o = checkHelperOptions(options);
    try {
      return { ok: true, auth: authenticateSync(request.headers, request, o) };
    } catch (e) {
      if (misuse.has(e)) throw e;
      return refused(e);
    }
  }

  /**
   * Hono middleware (Workers, Node, Bun, Deno): `app.use("/api/*", honoMiddleware(options))`.
   * Sets `c.get("keyseal")` and adds the metering headers to the answer, or answers the
   * refusal (`verifyRequest`'s `response()`). Hono itself is not a dependency: this is
   * its middleware signature, `(c, next) => Promise`.
   */
  function honoMiddleware(options) {
    const o = checkHelperOptions(options);
    return async function keysealHono(c, next) {
      const result = await verifyRequest(c.req.raw, o);
      if (!result.ok) return result.response();
      c.set("keyseal", result.auth);
      await next();
      if (result.auth.headers) for (const [k, v] of Object.entries(result.auth.headers)) c.res.headers.set(k, v);
    };
  }

  return Object.freeze({
    ...classes,
    ERROR_CODES,
    VERSION: native.version(),
    BACKEND: backend,
    ApiKey,
    KeyFormat,
    KeyParts,
    parseKey,
    Pepper,
    PepperSet,
    sha256Hex,
    hmacSha256,
    TokenKey,
    Keyset,
    KeyPolicy,
    Meter,
    Credential,
    extractCredential,
    expressMiddleware,
    verifyRequest,
    verifyRequestSync,
    honoMiddleware,
    KeysealClient,
  });
}

export { createApi };
