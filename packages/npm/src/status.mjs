// The HTTP side of errors for the helpers in api.mjs: the class of each error family and
// the status and `WWW-Authenticate` value each code is answered with. No imports; one
// export line (build.mjs inlines this file into dist/api.cjs).

/** Class name of each error family (the core's ErrorFamily). */
const FAMILY_CLASS = {
  malformed: "MalformedError",
  signature: "SignatureError",
  time: "TimeError",
  claims: "ClaimsError",
  policy: "PolicyError",
  credential: "CredentialError",
  config: "ConfigError",
  registry: "RegistryError",
  internal: "InternalError",
};

/**
 * HTTP status the helpers answer with, per family. The one code -> status table is
 * server/errors.json (`credential_status`, generated from the server's src/error.rs);
 * tests/js/status.test.mjs fails when these answers drift from it (it lists the codes
 * where they still differ).
 */
const FAMILY_STATUS = {
  malformed: 401,
  signature: 401,
  time: 401,
  claims: 401,
  credential: 401,
  policy: 403,
  config: 500,
  registry: 401,
  internal: 500,
};

/**
 * Codes whose status is not their family's: a key that cannot be used at all
 * (revoked, disabled, expired) is unauthenticated, not forbidden; `permission_denied`
 * forbids; `storage_unavailable` asks to retry; `rate_limited` and `usage_exceeded` are
 * 429 (RFC 6585). With FAMILY_STATUS this is the
 * `credential_status` column of server/errors.json, the one code -> status table
 * (tests/js/status.test.mjs compares every code).
 */
const CODE_STATUS = {
  key_revoked: 401,
  key_disabled: 401,
  key_expired: 401,
  permission_denied: 403,
  storage_unavailable: 503,
  rate_limited: 429,
  usage_exceeded: 429,
};

/** The `WWW-Authenticate` value of every 401 answer (server/errors.json `www_authenticate`). */
const WWW_AUTHENTICATE = 'Bearer error="invalid_token"';

export { FAMILY_CLASS, FAMILY_STATUS, CODE_STATUS, WWW_AUTHENTICATE };
