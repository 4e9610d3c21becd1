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
  options: HelperOptions<any>,
): (req: any, res: any, next: (err?: unknown) => void) => Promise<void>;

export type VerifyRequestResult =
  | { ok: true; auth: Auth }
  | { ok: false; status: number; error: KeysealError; response(): Response };

/**
 * Fetch-API helper: `const result = await verifyRequest(request, options)`. Awaits the
 * callbacks (sync or async); a refusal resolves to `{ ok: false, ... }`, never rejects.
 * The Promise rejects only on wrong option types (TypeError).
 */
export function verifyRequest(request: Request, options: HelperOptions<Request>): Promise<VerifyRequestResult>;

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
};
export default keyseal;
