// Types of the `keyseal` package. Hand-written; tests/js/api.test.mjs checks that the
// runtime exports of every entry point match the names declared here and that
// `ErrorCode` equals the core's list (tests/vectors/errors.json).

/** Every error code keyseal raises, by family (the core's `ErrorCode`). */
export type MalformedCode =
  | "malformed_key"
  | "bad_checksum"
  | "prefix_mismatch"
  | "malformed_digest"
  | "token_too_large"
  | "malformed_token"
  | "invalid_base64"
  | "invalid_json"
  | "unsupported_header"
  | "invalid_cidr"
  | "invalid_scope";
export type SignatureCode =
  | "bad_signature"
  | "digest_mismatch"
  | "unknown_pepper"
  | "unsupported_algorithm"
  | "algorithm_mismatch"
  | "unknown_kid"
  | "key_retired";
export type TimeCode = "token_expired" | "token_not_yet_valid" | "token_issued_in_future";
export type ClaimsCode = "invalid_audience" | "invalid_issuer" | "missing_claim" | "invalid_claim";
export type PolicyCode =
  | "key_revoked"
  | "key_disabled"
  | "key_expired"
  | "ip_not_allowed"
  | "read_only_key"
  | "insufficient_scope"
  | "role_not_allowed"
  | "rate_limited"
  | "usage_exceeded";
export type CredentialCode =
  | "missing_credential"
  | "ambiguous_credential"
  | "duplicate_credential"
  | "unsupported_auth_scheme"
  | "incomplete_credential";
export type ConfigCode = "invalid_prefix" | "invalid_config" | "weak_key" | "invalid_pepper" | "duplicate_kid";
export type RegistryCode =
  | "not_found"
  | "version_conflict"
  | "name_conflict"
  | "invalid_name"
  | "invalid_metadata"
  | "invalid_cursor"
  | "invalid_limit"
  | "invalid_argument"
  | "permission_denied"
  | "payload_too_large"
  | "storage_unavailable";
export type InternalCode = "rng_failed" | "internal";

export type ErrorCode =
  | MalformedCode
  | SignatureCode
  | TimeCode
  | ClaimsCode
  | PolicyCode
  | CredentialCode
  | ConfigCode
  | RegistryCode
  | InternalCode;

export type ErrorFamily =
  | "malformed"
  | "signature"
  | "time"
  | "claims"
  | "policy"
  | "credential"
  | "config"
  | "registry"
  | "internal";

/** Base class of every error keyseal throws. Messages never contain secrets. */
export class KeysealError<C extends ErrorCode = ErrorCode> extends Error {
  /** For helpers and applications that answer with a keyseal code of their own. */
  constructor(code: C, message: string, options?: { cause?: unknown });
  readonly code: C;
  readonly family: ErrorFamily;
  /** The class name, e.g. "SignatureError". */
  readonly name: string;
  /** The HTTP status, on errors answered by `keyseal serve` (KeysealClient). */
  readonly status?: number;
  /** Seconds the server asked to wait (Retry-After), or null; KeysealClient errors only. */
  readonly retryAfter?: number | null;
  /** Metering headers of a server-backed helper's refusal (RateLimit-Policy, RateLimit, Retry-After). */
  readonly headers?: Record<string, string>;
}
export class MalformedError extends KeysealError<MalformedCode> {}
export class SignatureError extends KeysealError<SignatureCode> {}
export class TimeError extends KeysealError<TimeCode> {}
export class ClaimsError extends KeysealError<ClaimsCode> {}
export class PolicyError extends KeysealError<PolicyCode> {}
export class CredentialError extends KeysealError<CredentialCode> {}
export class ConfigError extends KeysealError<ConfigCode> {}
export class RegistryError extends KeysealError<RegistryCode> {}
export class InternalError extends KeysealError<InternalCode> {}

/** The core's list of codes, in documentation order. */
export const ERROR_CODES: readonly ErrorCode[];
/** The package version (the workspace version). */
export const VERSION: string;
/** Which build is loaded: the napi addon or the wasm module. */
export const BACKEND: "napi" | "wasm";

/** A string (UTF-8 encoded), a Uint8Array or a Buffer. */
export type Secret = string | Uint8Array;

/** A parsed or generated key. `toString()` and inspection never show the secret. */
export class ApiKey {
  private constructor();
  readonly prefix: string;
  /** The public id: safe to log and store. */
  readonly id: string;
  readonly checksum: string;
  /** `prefix_id`: the public part; the accessKey of an accessKey + secretKey pair. */
  readonly prefixedId: string;
  /** The whole key, to hand to its owner once. */
  expose(): string;
  /** The secret part, without the checksum. */
  exposeSecret(): string;
  /** The secret and its checksum: the secretKey of an accessKey + secretKey pair. */
  exposeSecretWithChecksum(): string;
  /** `prefix_id_…` */
  toString(): string;
  toJSON(): { prefix: string; id: string };
}

export interface KeyFormatOptions {
  /** Id length, 16-32. Defaults to 16. */
  idLen?: number;
  /** Secret length, 27-64. Defaults to 32. */
  secretLen?: number;
}

export class KeyFormat {
  constructor(prefix: string, options?: KeyFormatOptions);
  readonly prefix: string;
  readonly idLen: number;
  readonly secretLen: number;
  /** A new key from the OS CSPRNG (Web Crypto `getRandomValues` on wasm). */
  generate(): ApiKey;
  /** A key made only from `entropy` (tests, vectors); `rng_failed` when it runs out. */
  generateFromEntropy(entropy: Secret): ApiKey;
  parse(key: string): ApiKey;
  /** The key's parts, or throws the reason the key is not of this format. */
  check(key: string): KeyParts;
}

/** The parts of a checked key (the core's `KeyParts`). Inspection never shows the secret. */
export class KeyParts {
  private constructor();
  readonly prefix: string;
  /** The public id: safe to log and store. */
  readonly id: string;
  /** The secret part, without the checksum. */
  exposeSecret(): string;
  toJSON(): { prefix: string; id: string };
}

/** Parses a key of any prefix and lengths. */
export function parseKey(key: string): ApiKey;

export class Pepper {
  /** `id`: 1-32 of `[A-Za-z0-9_-]`; `secret`: at least 16 bytes. */
  constructor(id: string, secret: Secret);
  readonly id: string;
}

export class PepperSet {
  constructor(current: Pepper, previous?: Pepper[]);
  /** `v1.<pepper_id>.<base64url>` under the current pepper. */
  digest(key: string): string;
  /** `"outdated"`: verified, but store `digest(key)` in its place. */
  verify(key: string, stored: string): "current" | "outdated";
}

/** Plain SHA-256 of a key, lowercase hex (the form other systems store). */
export function sha256Hex(key: string): string;
/** HMAC-SHA256 (RFC 4231 vectors, benchmarks). */
export function hmacSha256(key: Secret, data: Secret): Uint8Array;

export type Algorithm = "HS256" | "HS384" | "HS512";

export interface TokenKeyOptions {
  /** Defaults to "HS256". */
  alg?: Algorithm;
  /** Unix seconds: tokens of this key stop verifying at this time. Defaults to never. */
  verifyUntil?: number | null;
}

export class TokenKey {
  /** `secret` must be at least 32/48/64 bytes for HS256/384/512 (RFC 7518 3.2). */
  constructor(kid: string, secret: Secret, options?: TokenKeyOptions);
  readonly kid: string;
  readonly alg: Algorithm;
}

export type RegisteredClaim = "iss" | "sub" | "aud" | "exp" | "nbf" | "iat" | "jti" | "scope" | "role";

export interface Claims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  jti?: string;
  scope?: string;
  role?: string;
  [claim: string]: unknown;
}

export interface VerifyOptions {
  /** Unix seconds. Defaults to the clock (`Math.floor(Date.now() / 1000)`). */
  now?: number;
  /** Seconds of clock skew for exp/nbf/iat, 0-300. Defaults to 0. */
  leeway?: number;
  /** Accepted audiences. Defaults to none (a token with `aud` is rejected). */
  audience?: string | string[];
  /** Accepted issuers. Defaults to not checking `iss`. */
  issuer?: string | string[];
  /**
   * Claims that must be present in addition to `exp` (which is always required unless
   * `dangerouslyAllowMissingExp` is set). Defaults to none.
   */
  required?: RegisteredClaim[];
  /**
   * Weakens verification: accepts tokens without `exp` (tokens that never expire); an
   * `exp` that is present is still checked, and `exp` named in `required` stays required.
   * Defaults to `false`.
   */
  dangerouslyAllowMissingExp?: boolean;
  /** Size limit in bytes, 64-1048576. Defaults to 8192. */
  maxTokenLen?: number;
}

export interface VerifiedToken {
  kid: string;
  alg: Algorithm;
  claims: Claims;
}

export interface ExchangeOptions {
  /** The API key's public id (`key_id` claim; `sub` when there is no owner). */
  keyId: string;
  owner?: string | null;
  scopes?: string[];
  role?: string | null;
  /** Defaults to the clock. */
  now?: number;
  /** Seconds, 1-86400. Defaults to 600. */
  ttl?: number;
  issuer?: string | null;
  audience?: string | null;
  jti?: string | null;
}

export class Keyset {
  constructor(signing: TokenKey, verifyOnly?: TokenKey[]);
  /** `next` signs from now on; the old signing key verifies while `now < graceUntil`. */
  rotate(next: TokenKey, options: { graceUntil: number }): this;
  /**
   * Signs `claims`. Every number in them (`exp`/`nbf`/`iat` and any number nested in
   * extra claims) must lie within ±`Number.MAX_SAFE_INTEGER` (RFC 7493 section 2.2), else
   * a `ClaimsError` with code `invalid_claim`; `verify` refuses such tokens the same way.
   */
  issue(claims: Claims): string;
  verify(token: string, options?: VerifyOptions): VerifiedToken;
  /**
   * A verifier bound to this keyset (it follows later rotations) with `options` compiled
   * once; `now` is given per call. For hot paths: no options are read on each call.
   */
  verifier(options?: Omit<VerifyOptions, "now">): TokenVerifier;
  exchange(options: ExchangeOptions): { token: string; claims: Claims };
}

/** Made by `Keyset.verifier()`. */
export interface TokenVerifier {
  /** `keyset.verify(token, { ...options, now })`; `now` defaults to the clock. */
  verify(token: string, now?: number): VerifiedToken;
}

export interface KeyPolicyOptions {
  /** Defaults to true. */
  enabled?: boolean;
  /** Defaults to false. */
  revoked?: boolean;
  /** Unix seconds; defaults to never. */
  expiresAt?: number | null;
  role?: string | null;
  /** Granted scopes; `keys:*` grants every `keys:` scope. */
  scopes?: string[];
  /** Only GET, HEAD, OPTIONS. Defaults to false. */
  readOnly?: boolean;
  /** CIDRs or addresses; empty = anywhere. */
  allowedIps?: string[];
}

export interface RequestContext {
  /** Defaults to the clock. */
  now?: number;
  clientIp?: string | null;
  method?: string | null;
  requiredScopes?: string[];
  allowedRoles?: string[];
}

export class KeyPolicy {
  constructor(options?: KeyPolicyOptions);
  /** `true`, or throws a PolicyError. */
  check(context?: RequestContext): true;
}

/** A named sliding-window limit: at most `limit` units of cost per `windowMs`. */
export interface MeterLimit {
  /** 1 to 64 characters, unique within the meter. */
  name: string;
  /** 0 to 2^53-1; 0 refuses every cost above 0. */
  limit: number;
  /** 1 ms to 366 days. */
  windowMs: number;
}

/** Credits refilled every midnight UTC, or on `day` of every month (clamped to its length). */
export interface MeterRefill {
  /** Credits per refill, 1 to 2^53-1. */
  amount: number;
  interval: "daily" | "monthly";
  /** The day of the month (1 to 31) of a monthly refill; none for a daily one. */
  day?: number | null;
  /** The balance refills stop at; defaults to `amount`. Credits added by hand are kept above it. */
  cap?: number | null;
}

export interface MeterCredits {
  /** The balance each subject starts with, 0 to 2^53-1. */
  remaining: number;
  /** Defaults to never refilled. */
  refill?: MeterRefill | null;
}

export interface MeterOptions {
  /** Applied to every request; defaults to none. */
  limits?: MeterLimit[];
  /** Defaults to none. */
  credits?: MeterCredits | null;
  /** Subjects held at once; defaults to 1,000,000. */
  maxSubjects?: number | null;
}

export interface MeterCheckOptions {
  /** An integer from 0 to 2^53-1; defaults to 1. A cost above a limit is refused, not clamped. */
  cost?: number;
  /** Answer without spending; defaults to false. */
  dryRun?: boolean;
  /** Unix milliseconds; defaults to `Date.now()`. */
  nowMs?: number;
}

export interface MeterLimitDecision {
  name: string;
  allowed: boolean;
  limit: number;
  /** Cost still allowed after this request (allowed) or now (refused). */
  remaining: number;
  /** Unix ms at which the current fixed window ends. */
  resetMs: number;
  /** 0 when allowed; null when the cost can never pass (above the limit). */
  retryAfterMs: number | null;
}

export interface MeterCreditDecision {
  allowed: boolean;
  remaining: number;
  /** Unix ms of the next refill; null when the credits do not refill. */
  refillAtMs: number | null;
}

export interface MeterAnswer {
  /** True when every limit and the credits allowed the cost (and it was spent, unless dryRun). */
  allowed: boolean;
  /** `rate_limited` when a limit refused, else `usage_exceeded`; null when allowed. */
  code: "rate_limited" | "usage_exceeded" | null;
  /** 0 when allowed; null when waiting cannot help. */
  retryAfterMs: number | null;
  /** One per limit, in the options' order. */
  limits: MeterLimitDecision[];
  /** null when the meter has no credits. */
  credits: MeterCreditDecision | null;
}

/**
 * Rate limits and credits per subject, in memory. Each check passes every limit and the
 * credits, or spends nothing anywhere.
 */
export class Meter {
  /** Throws a ConfigError (`invalid_config`) for a wrong shape or value. */
  constructor(options?: MeterOptions);
  check(subject: string, options?: MeterCheckOptions): MeterAnswer;
  /** Adds credits by hand (not limited by the refill cap); returns the balance. */
  addCredits(subject: string, amount: number, options?: { nowMs?: number }): number;
  /** The number of subjects held. */
  readonly size: number;
}

/** Header containers extractCredential accepts. */
export type HeadersInput =
  | Headers
  | Iterable<[string, string]>
  | Record<string, string | string[] | number | undefined>;

export class Credential {
  private constructor();
  readonly kind: "api_key" | "token" | "key_pair";
  readonly source: "bearer" | "x-api-key" | "key-pair";
  /** The key, the token, or the accessKey + secretKey pair joined with `_`. */
  readonly value: string;
}

export function extractCredential(headers: HeadersInput): Credential;

export type Auth =
  | { kind: "token"; source: "bearer"; kid: string; alg: Algorithm; claims: Claims }
  | { kind: "api_key" | "key_pair"; source: "bearer" | "x-api-key" | "key-pair"; key: ApiKey; principal: unknown };

/** A value, or a Promise (or other thenable) of it: what an async callback returns. */
export type MaybePromise<T> = T | PromiseLike<T>;

/**
 * Options of `expressMiddleware` and `verifyRequest`, whose callbacks may be sync or async
 * (both are awaited). A callback that throws or rejects refuses the request: a
 * `KeysealError` keeps its code and status; any other error is answered as
 * `digest_mismatch` (401, from `verifyKey`) or `insufficient_scope` (403, from
 * `authorize`), its message kept server-side in the refusal's `error.cause`.
 */
export interface HelperOptions<Req> {
  /** Verifies bearer tokens. Without it, tokens are rejected. */
  keyset?: Keyset;
  /** Verify options (`now` defaults to the clock). */
  verify?: VerifyOptions;
  /**
   * Looks an API key up and returns (or resolves to) its principal, or throws/rejects to
   * refuse it. A principal of `undefined`, `null` or `false` refuses it too
   * (`digest_mismatch`). Without it, keys are rejected.
   */
  verifyKey?: (key: ApiKey, request: Req) => MaybePromise<unknown>;
  /**
   * Runs after authentication; throws/rejects (e.g. KeyPolicy.check) or returns (resolves
   * to) `false` to deny (`insufficient_scope`, 403, unless it threw a KeysealError).
   * Defaults to allowing every authenticated request.
   */
  authorize?: (auth: Auth, request: Req) => MaybePromise<unknown>;
}

/**
 * Server-backed options of `expressMiddleware`, `verifyRequest` and `honoMiddleware`:
 * verification by `keyseal serve` through a `KeysealClient` (instead of `keyset` and
 * `verifyKey`). Positive answers are cached per options object for `cacheTtl` ms (default
 * 1000, 0 turns it off), at most `cacheSize` (default 10,000) entries; refusals, metered
 * answers and dry runs are never cached.
 */
export interface ServerHelperOptions<Req> {
  client: KeysealClient;
  /** The tenant this service serves: tokens of other accounts are refused. Defaults to the client key's account. */
  account?: string;
  requiredScopes?: string[];
  allowedRoles?: string[];
  /** Units of cost for the key's limits and credits; defaults to 1. */
  cost?: number;
  /** Names of the limits to apply; defaults to all. */
  limits?: string[];
  /** Answer without spending; defaults to false. */
  dryRun?: boolean;
  /** Defaults to 1000 ms. */
  cacheTtl?: number;
  /** Defaults to 10,000 entries. */
  cacheSize?: number;
  /** Runs after verification; throws or returns false to deny (403 insufficient_scope). */
  authorize?: (auth: ServerAuth, request: Req) => MaybePromise<unknown>;
}

/** What server-backed helpers set as `req.keyseal` / `c.get("keyseal")`. */
export interface ServerAuth {
  kind: "api_key" | "key_pair" | "token";
  source: "bearer" | "x-api-key" | "key-pair";
  keyId: string;
  account: string | null;
  owner: string | null;
  role: string | null;
  scopes: string[];
  /** The server's description of the key (API keys). */
  key: ServerKey | null;
  /** The token's claims (tokens). */
  claims: Claims | null;
  meter: MeterReport | null;
  /** RateLimit-Policy, RateLimit, Retry-After: added to the response. */
  headers: Record<string, string>;
  /** Answered from the cache. */
  cached: boolean;
}

/** Any value but a thenable (an object with a `then` method). */
export type NotThenable = string | number | boolean | bigint | symbol | null | undefined | void | ({ then?: never } & object);

/** Options of `verifyRequestSync`: the callbacks must return their result synchronously. */
export interface SyncHelperOptions<Req> extends HelperOptions<Req> {
  /** As in `HelperOptions`, but returning a thenable throws a TypeError. */
  verifyKey?: (key: ApiKey, request: Req) => NotThenable;
  /** As in `HelperOptions`, but returning a thenable throws a TypeError. */
  authorize?: (auth: Auth, request: Req) => NotThenable;
}

/**
 * Express/Connect middleware: awaits authentication, then sets `req.keyseal` and calls
 * `next()`, or answers 401/403/500 with JSON (`{error, message}`) without calling `next`.
 * The returned Promise never rejects; a failure to answer goes to `next(err)`.
 */
export function expressMiddleware(
  options: HelperOptions<any> | ServerHelperOptions<any>,
): (req: any, res: any, next: (err?: unknown) => void) => Promise<void>;

export type VerifyRequestResult<A = Auth> =
  | { ok: true; auth: A }
  | { ok: false; status: number; error: KeysealError; response(): Response };

/**
 * Fetch-API helper: `const result = await verifyRequest(request, options)`. Awaits the
 * callbacks (sync or async); a refusal resolves to `{ ok: false, ... }`, never rejects.
 * The Promise rejects only on wrong option types (TypeError).
 */
export function verifyRequest(request: Request, options: ServerHelperOptions<Request>): Promise<VerifyRequestResult<ServerAuth>>;
export function verifyRequest(request: Request, options: HelperOptions<Request>): Promise<VerifyRequestResult>;

/**
 * Hono middleware: `app.use("/api/*", honoMiddleware(options))`. Sets `c.get("keyseal")`
 * and adds the metering headers, or answers the refusal as `verifyRequest` does.
 */
export function honoMiddleware(
  options: HelperOptions<Request> | ServerHelperOptions<Request>,
): (c: any, next: () => Promise<void>) => Promise<Response | void>;

// ---------------------------------------------------------------------------------------
// KeysealClient: the keyseal serve HTTP API on fetch (Node, workerd, browsers).

export interface ServerActor {
  kind: string;
  id?: string;
}

/** A named limit of a key or owner (server JSON: snake_case). */
export interface ServerLimit {
  name: string;
  limit: number;
  window_ms: number;
}

export interface ServerCredits {
  remaining: number;
  refill?: { amount: number; interval: "daily" | "monthly"; day?: number | null; cap?: number | null } | null;
}

/** A key as the server describes it (never its secret). */
export interface ServerKey {
  id: string;
  prefix: string;
  account: string;
  name: string;
  description: string;
  owner: string | null;
  role: string | null;
  scopes: string[];
  read_only: boolean;
  allowed_ips: string[];
  enabled: boolean;
  expires_at: number | null;
  metadata: Record<string, unknown>;
  created_at: number;
  created_by: ServerActor;
  modified_at: number;
  modified_by: ServerActor;
  version: number;
  deleted_at: number | null;
  last_used_at: number | null;
  previous_secret_expires_at: number | null;
  rolled_at?: number | null;
  status: string;
  limits?: ServerLimit[];
  credits?: ServerCredits | null;
}

export interface KeyFields {
  name?: string;
  description?: string;
  owner?: string;
  role?: string;
  scopes?: string[];
  read_only?: boolean;
  allowed_ips?: string[];
  expires_at?: number;
  enabled?: boolean;
  metadata?: Record<string, unknown>;
  limits?: ServerLimit[];
  credits?: ServerCredits;
}

export interface CreditReport {
  allowed: boolean;
  remaining: number;
  refill_at_ms: number | null;
}

export interface MeterReport {
  cost: number;
  dry_run: boolean;
  limits: { name: string; scope: "key" | "owner"; allowed: boolean; limit: number; window_ms: number; remaining: number; reset_ms: number }[];
  credits: CreditReport | null;
  owner_credits: CreditReport | null;
  retry_after_ms: number | null;
}

export interface AuditEntry {
  id: string;
  account: string;
  key_id: string;
  action: string;
  actor: ServerActor;
  at: number;
  version: number;
  changes: Record<string, unknown>;
}

export interface OwnerMeter {
  account: string;
  owner: string;
  limits: ServerLimit[];
  credits: ServerCredits | null;
  version: number;
  modified_at: number | null;
  modified_by: ServerActor | null;
}

export interface Verification {
  valid: boolean;
  /** `ok`, or why the key was refused (e.g. `key_disabled`, `rate_limited`). */
  code: string;
  message: string | null;
  key: ServerKey | null;
  meter: MeterReport | null;
  /** 200, or 429 when a limit or the credits refused. */
  status: number;
  /** RateLimit-Policy, RateLimit, Retry-After as the server sent them. */
  headers: Record<string, string>;
}

export interface TokenVerification {
  valid: boolean;
  code: string;
  message: string | null;
  account: string | null;
  key_id: string | null;
  claims: Claims | null;
}

export interface Whoami {
  kind: "token" | "api_key";
  key_id: string;
  account: string;
  claims?: Claims;
  key?: ServerKey;
}

/** A key just created or rolled: `secret` and `secretKey` are shown once and kept out of logs and JSON. */
export interface CreatedKey {
  readonly key: ServerKey;
  readonly id: string;
  readonly accessKey: string;
  readonly secret: string;
  readonly secretKey: string;
}

/** An exchange token; `token` is kept out of logs and JSON. */
export interface ExchangeToken {
  readonly token: string;
  readonly tokenType: string;
  readonly expiresIn: number;
}

export interface KeysealClientOptions {
  /** Defaults to KEYSEAL_URL, then http://127.0.0.1:8080. */
  url?: string;
  /** An account-owner key for management calls; defaults to KEYSEAL_KEY where `process.env` exists. */
  key?: string;
  /** Defaults to the key's own account (one whoami). */
  account?: string;
  /** Per request, in ms; defaults to 10000. */
  timeout?: number;
  /** Retries of idempotent calls after 503 or a network failure, and of refused connections; defaults to 2. */
  retries?: number;
  /** First backoff in ms, doubled each retry, with jitter; defaults to 200 (or the server's Retry-After). */
  backoff?: number;
  /** Defaults to globalThis.fetch. */
  fetch?: typeof fetch;
}

/**
 * A client for `keyseal serve`. Errors are KeysealError subclasses with the server's
 * `code`, plus `status` (HTTP) and `retryAfter` (seconds or null).
 */
export class KeysealClient {
  constructor(options?: KeysealClientOptions);
  readonly url: string;
  readonly timeout: number;
  readonly retries: number;
  readonly backoff: number;
  account(): Promise<string>;
  createKey(fields: KeyFields & { name: string }): Promise<CreatedKey>;
  getKey(id: string): Promise<ServerKey>;
  listKeys(options?: { status?: "active" | "inactive" | "deleted" | "all"; owner?: string; role?: string; pageSize?: number }): AsyncIterableIterator<ServerKey>;
  updateKey(id: string, fields: KeyFields & { version: number }): Promise<ServerKey>;
  enableKey(id: string): Promise<ServerKey>;
  disableKey(id: string): Promise<ServerKey>;
  rollKey(id: string, options?: { graceSeconds?: number }): Promise<CreatedKey>;
  deleteKey(id: string): Promise<void>;
  addCredits(id: string, add: number): Promise<number>;
  getOwnerMeter(owner: string): Promise<OwnerMeter>;
  updateOwnerMeter(owner: string, options: { version: number; limits?: ServerLimit[]; credits?: ServerCredits | null }): Promise<OwnerMeter>;
  addOwnerCredits(owner: string, add: number): Promise<number>;
  audit(options?: { keyId?: string; pageSize?: number }): AsyncIterableIterator<AuditEntry>;
  verify(
    key: string,
    options?: { requiredScopes?: string[]; allowedRoles?: string[]; method?: string; clientIp?: string; cost?: number; limits?: string[]; dryRun?: boolean },
  ): Promise<Verification>;
  exchangeToken(key?: string, options?: { cost?: number; limits?: string[] }): Promise<ExchangeToken>;
  verifyToken(token: string, options?: { account?: string }): Promise<TokenVerification>;
  whoami(options?: { token?: string }): Promise<Whoami>;
}

/**
 * `verifyRequest` without a Promise, for synchronous callbacks or none (token-only hot
 * paths). Throws a TypeError when a callback returns a thenable: use `verifyRequest`.
 */
export function verifyRequestSync(request: Request, options: SyncHelperOptions<Request>): VerifyRequestResult;

declare const keyseal: {
  KeysealError: typeof KeysealError;
  ERROR_CODES: typeof ERROR_CODES;
  VERSION: typeof VERSION;
  BACKEND: typeof BACKEND;
  KeyFormat: typeof KeyFormat;
  parseKey: typeof parseKey;
  Pepper: typeof Pepper;
  PepperSet: typeof PepperSet;
  TokenKey: typeof TokenKey;
  Keyset: typeof Keyset;
  KeyPolicy: typeof KeyPolicy;
  extractCredential: typeof extractCredential;
  expressMiddleware: typeof expressMiddleware;
  verifyRequest: typeof verifyRequest;
  verifyRequestSync: typeof verifyRequestSync;
  honoMiddleware: typeof honoMiddleware;
  KeysealClient: typeof KeysealClient;
};
export default keyseal;
