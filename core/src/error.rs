//! One list of error codes for every runtime.
//!
//! [`Error`] is what every fallible function in keyseal returns. Each variant has a stable
//! snake_case [`Error::code`] (the contract every binding raises, and the `"error"` of every
//! test vector) and a one-line lowercase message that says what was expected and what was
//! found. Messages never contain a secret, a key, a token or `{:?}` output of input.
//!
//! [`ErrorCode`] is the fieldless list of all codes ([`ErrorCode::ALL`]); bindings and the
//! generated `tests/vectors/errors.json` are checked against it.

use core::fmt;

/// The family an error belongs to; bindings map each family to an exception subclass.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorFamily {
    /// Input that cannot be parsed: keys, tokens, digests, CIDRs, scopes.
    Malformed,
    /// Authenticity failed: wrong MAC, wrong digest, unknown or mismatched key material.
    Signature,
    /// A token's time claims (`exp`, `nbf`, `iat`) reject it at `now`.
    Time,
    /// A token's claims do not satisfy the validation (`aud`, `iss`, required claims).
    Claims,
    /// A key's policy denies the request (disabled, expired, IP, read-only, scope, role).
    Policy,
    /// The request's headers carry no usable credential, or more than one.
    Credential,
    /// The caller configured something invalid (prefix, lengths, weak key, leeway).
    Config,
    /// Key lifecycle errors raised by the registry and the server.
    Registry,
    /// A bug or an environment failure (no randomness); never the caller's input.
    Internal,
}

impl ErrorFamily {
    /// Stable snake_case name of the family.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Signature => "signature",
            Self::Time => "time",
            Self::Claims => "claims",
            Self::Policy => "policy",
            Self::Credential => "credential",
            Self::Config => "config",
            Self::Registry => "registry",
            Self::Internal => "internal",
        }
    }
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident => $code:literal, $family:ident; )*) => {
        /// Every error code keyseal can raise, without the error's details.
        #[non_exhaustive]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// All codes, in documentation order.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant, )* ];

            /// The stable snake_case code.
            pub const fn as_str(self) -> &'static str {
                match self { $( ErrorCode::$variant => $code, )* }
            }

            /// The family of this code.
            pub const fn family(self) -> ErrorFamily {
                match self { $( ErrorCode::$variant => ErrorFamily::$family, )* }
            }

            /// Looks a code up by its snake_case name.
            pub fn from_name(name: &str) -> Option<ErrorCode> {
                match name { $( $code => Some(ErrorCode::$variant), )* _ => None }
            }
        }
    };
}

codes! {
    /// The string is not `<prefix>_<id>_<secret><checksum>` or has characters outside `[A-Za-z0-9_]`.
    MalformedKey => "malformed_key", Malformed;
    /// The last 6 characters are not the CRC32 of the rest: a typo, or not a keyseal key.
    BadChecksum => "bad_checksum", Malformed;
    /// The key's prefix is not the one the format expects.
    PrefixMismatch => "prefix_mismatch", Malformed;
    /// A stored digest is not `v1.<pepper_id>.<base64url>` nor a SHA-256 hex/base64 digest.
    MalformedDigest => "malformed_digest", Malformed;
    /// A token is longer than the validation's size limit; nothing was decoded.
    TokenTooLarge => "token_too_large", Malformed;
    /// A token is not three base64url segments separated by dots.
    MalformedToken => "malformed_token", Malformed;
    /// A token segment is not valid unpadded base64url.
    InvalidBase64 => "invalid_base64", Malformed;
    /// A token header or payload is not a JSON object.
    InvalidJson => "invalid_json", Malformed;
    /// A token header carries something keyseal refuses to ignore (`crit`, `b64`).
    UnsupportedHeader => "unsupported_header", Malformed;
    /// A CIDR range or IP address does not parse, or has host bits set.
    InvalidCidr => "invalid_cidr", Malformed;
    /// A scope is empty, too long, has characters outside the allowed set, or a misplaced `*`.
    InvalidScope => "invalid_scope", Malformed;
    /// The token's MAC does not match.
    BadSignature => "bad_signature", Signature;
    /// The key's digest does not match the stored digest.
    DigestMismatch => "digest_mismatch", Signature;
    /// The stored digest names a pepper id that is not configured.
    UnknownPepper => "unknown_pepper", Signature;
    /// The token's `alg` is not HS256, HS384 or HS512 (`none` included).
    UnsupportedAlgorithm => "unsupported_algorithm", Signature;
    /// The token's `alg` is not the algorithm its key is pinned to (RFC 8725 section 3.1).
    AlgorithmMismatch => "algorithm_mismatch", Signature;
    /// The token's `kid` names no key in the keyset.
    UnknownKid => "unknown_kid", Signature;
    /// The token's key is verify-only and its grace period has ended.
    KeyRetired => "key_retired", Signature;
    /// `exp` is not after `now` (less the leeway).
    TokenExpired => "token_expired", Time;
    /// `nbf` is after `now` (plus the leeway).
    TokenNotYetValid => "token_not_yet_valid", Time;
    /// `iat` is after `now` (plus the leeway).
    TokenIssuedInFuture => "token_issued_in_future", Time;
    /// `aud` does not name an accepted audience, or names one where none is accepted.
    InvalidAudience => "invalid_audience", Claims;
    /// `iss` is missing or not an accepted issuer.
    InvalidIssuer => "invalid_issuer", Claims;
    /// A required claim is absent.
    MissingClaim => "missing_claim", Claims;
    /// A claim has the wrong JSON type or an invalid value.
    InvalidClaim => "invalid_claim", Claims;
    /// The key was deleted or revoked.
    KeyRevoked => "key_revoked", Policy;
    /// The key is disabled.
    KeyDisabled => "key_disabled", Policy;
    /// The key's `expires_at` is not after `now`.
    KeyExpired => "key_expired", Policy;
    /// The client IP is missing or outside the key's allowed ranges.
    IpNotAllowed => "ip_not_allowed", Policy;
    /// A read-only key was used with a method other than GET, HEAD or OPTIONS.
    ReadOnlyKey => "read_only_key", Policy;
    /// The key lacks a scope the request requires.
    InsufficientScope => "insufficient_scope", Policy;
    /// The key's role is not one the request accepts.
    RoleNotAllowed => "role_not_allowed", Policy;
    /// No credential header is present.
    MissingCredential => "missing_credential", Credential;
    /// More than one kind of credential is present.
    AmbiguousCredential => "ambiguous_credential", Credential;
    /// The same credential header appears more than once.
    DuplicateCredential => "duplicate_credential", Credential;
    /// `Authorization` uses a scheme other than `Bearer`.
    UnsupportedAuthScheme => "unsupported_auth_scheme", Credential;
    /// `accessKey` without `secretKey` or the other way round, or an empty value.
    IncompleteCredential => "incomplete_credential", Credential;
    /// A key prefix is not 1-32 characters of `[a-z0-9_]` starting with a letter.
    InvalidPrefix => "invalid_prefix", Config;
    /// A configuration value is outside its allowed range.
    InvalidConfig => "invalid_config", Config;
    /// An HMAC key is shorter than its algorithm's output (RFC 7518 section 3.2).
    WeakKey => "weak_key", Config;
    /// A pepper is shorter than 16 bytes or its id is not `[A-Za-z0-9_-]{1,32}`.
    InvalidPepper => "invalid_pepper", Config;
    /// Two keys (or peppers) share an id.
    DuplicateKid => "duplicate_kid", Config;
    /// The key, account or record does not exist (or is not visible to the caller).
    NotFound => "not_found", Registry;
    /// The expected version is stale: someone else changed the record first.
    VersionConflict => "version_conflict", Registry;
    /// Another live key in the account already has this name.
    NameConflict => "name_conflict", Registry;
    /// A key name is not 1-64 characters of letters, digits, `-` and `_`.
    InvalidName => "invalid_name", Registry;
    /// Metadata is not a JSON object or is over its size limit.
    InvalidMetadata => "invalid_metadata", Registry;
    /// A pagination cursor does not parse or belongs to another listing.
    InvalidCursor => "invalid_cursor", Registry;
    /// A page limit or offset is outside its range.
    InvalidLimit => "invalid_limit", Registry;
    /// A request argument is invalid (wrong type, unknown field, out of range).
    InvalidArgument => "invalid_argument", Registry;
    /// The caller's key may not perform this operation.
    PermissionDenied => "permission_denied", Registry;
    /// The request body is over its size limit.
    PayloadTooLarge => "payload_too_large", Registry;
    /// The database cannot be reached; retry later.
    StorageUnavailable => "storage_unavailable", Registry;
    /// The random source failed or ran out.
    RngFailed => "rng_failed", Internal;
    /// A bug: a panic was caught at a binding boundary, or an invariant broke.
    Internal => "internal", Internal;
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A keyseal error: a stable [`code`](Error::code) and a message without secrets.
///
/// Details carried by variants are limits, lengths and fixed descriptions; never key
/// material, and never attacker-chosen text (so messages are safe to log).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// See [`ErrorCode::MalformedKey`]. `found` describes the problem.
    MalformedKey {
        /// What is wrong with the input.
        found: &'static str,
    },
    /// See [`ErrorCode::BadChecksum`].
    BadChecksum,
    /// See [`ErrorCode::PrefixMismatch`].
    PrefixMismatch {
        /// The configured prefix.
        expected: alloc::string::String,
        /// The prefix the key carries (validated `[a-z0-9_]{1,32}`).
        found: alloc::string::String,
    },
    /// See [`ErrorCode::MalformedDigest`].
    MalformedDigest {
        /// What is wrong with the stored digest.
        found: &'static str,
    },
    /// See [`ErrorCode::TokenTooLarge`].
    TokenTooLarge {
        /// The configured limit in bytes.
        max: usize,
        /// The token's length in bytes.
        found: usize,
    },
    /// See [`ErrorCode::MalformedToken`].
    MalformedToken {
        /// What is wrong with the token's structure.
        found: &'static str,
    },
    /// See [`ErrorCode::InvalidBase64`].
    InvalidBase64 {
        /// Which segment: `header`, `payload` or `signature`.
        segment: &'static str,
    },
    /// See [`ErrorCode::InvalidJson`].
    InvalidJson {
        /// Which segment: `header` or `payload`.
        segment: &'static str,
    },
    /// See [`ErrorCode::UnsupportedHeader`].
    UnsupportedHeader {
        /// The header parameter.
        param: &'static str,
    },
    /// See [`ErrorCode::InvalidCidr`].
    InvalidCidr {
        /// What is wrong.
        found: &'static str,
    },
    /// See [`ErrorCode::InvalidScope`].
    InvalidScope {
        /// What is wrong.
        found: &'static str,
    },
    /// See [`ErrorCode::BadSignature`].
    BadSignature,
    /// See [`ErrorCode::DigestMismatch`].
    DigestMismatch,
    /// See [`ErrorCode::UnknownPepper`].
    UnknownPepper,
    /// See [`ErrorCode::UnsupportedAlgorithm`].
    UnsupportedAlgorithm,
    /// See [`ErrorCode::AlgorithmMismatch`].
    AlgorithmMismatch {
        /// The algorithm the key is pinned to.
        expected: crate::algorithm::Algorithm,
        /// The token's algorithm, when it is one keyseal knows.
        found: Option<crate::algorithm::Algorithm>,
    },
    /// See [`ErrorCode::UnknownKid`].
    UnknownKid,
    /// See [`ErrorCode::KeyRetired`].
    KeyRetired {
        /// Unix seconds at which the key stopped verifying.
        at: i64,
    },
    /// See [`ErrorCode::TokenExpired`].
    TokenExpired {
        /// The token's `exp`.
        exp: i64,
        /// The `now` it was checked at.
        now: i64,
    },
    /// See [`ErrorCode::TokenNotYetValid`].
    TokenNotYetValid {
        /// The token's `nbf`.
        nbf: i64,
        /// The `now` it was checked at.
        now: i64,
    },
    /// See [`ErrorCode::TokenIssuedInFuture`].
    TokenIssuedInFuture {
        /// The token's `iat`.
        iat: i64,
        /// The `now` it was checked at.
        now: i64,
    },
    /// See [`ErrorCode::InvalidAudience`].
    InvalidAudience {
        /// Why the audience was rejected.
        found: &'static str,
    },
    /// See [`ErrorCode::InvalidIssuer`].
    InvalidIssuer {
        /// Why the issuer was rejected.
        found: &'static str,
    },
    /// See [`ErrorCode::MissingClaim`].
    MissingClaim {
        /// The claim's name.
        claim: &'static str,
    },
    /// See [`ErrorCode::InvalidClaim`].
    InvalidClaim {
        /// The claim's name (`"extra"` for a custom claim).
        claim: &'static str,
        /// What was expected.
        expected: &'static str,
    },
    /// See [`ErrorCode::KeyRevoked`].
    KeyRevoked,
    /// See [`ErrorCode::KeyDisabled`].
    KeyDisabled,
    /// See [`ErrorCode::KeyExpired`].
    KeyExpired {
        /// The key's `expires_at`.
        expires_at: i64,
        /// The `now` it was checked at.
        now: i64,
    },
    /// See [`ErrorCode::IpNotAllowed`].
    IpNotAllowed {
        /// True when the request carried no client IP at all.
        missing: bool,
    },
    /// See [`ErrorCode::ReadOnlyKey`].
    ReadOnlyKey,
    /// See [`ErrorCode::InsufficientScope`].
    InsufficientScope,
    /// See [`ErrorCode::RoleNotAllowed`].
    RoleNotAllowed,
    /// See [`ErrorCode::MissingCredential`].
    MissingCredential,
    /// See [`ErrorCode::AmbiguousCredential`].
    AmbiguousCredential,
    /// See [`ErrorCode::DuplicateCredential`].
    DuplicateCredential {
        /// The repeated header's canonical name.
        header: &'static str,
    },
    /// See [`ErrorCode::UnsupportedAuthScheme`].
    UnsupportedAuthScheme,
    /// See [`ErrorCode::IncompleteCredential`].
    IncompleteCredential {
        /// What is missing.
        found: &'static str,
    },
    /// See [`ErrorCode::InvalidPrefix`].
    InvalidPrefix {
        /// What is wrong.
        found: &'static str,
    },
    /// See [`ErrorCode::InvalidConfig`].
    InvalidConfig {
        /// The setting.
        setting: &'static str,
        /// Its allowed range.
        expected: &'static str,
    },
    /// See [`ErrorCode::WeakKey`].
    WeakKey {
        /// Minimum length in bytes for the algorithm.
        min: usize,
        /// The key's length in bytes.
        found: usize,
    },
    /// See [`ErrorCode::InvalidPepper`].
    InvalidPepper {
        /// What is wrong.
        found: &'static str,
    },
    /// See [`ErrorCode::DuplicateKid`].
    DuplicateKid,
    /// A registry-level error: see the [`ErrorCode`] for its meaning.
    Registry {
        /// One of the [`ErrorFamily::Registry`] codes.
        code: ErrorCode,
        /// A fixed description of the problem.
        detail: &'static str,
    },
    /// See [`ErrorCode::RngFailed`].
    RngFailed,
    /// See [`ErrorCode::Internal`].
    Internal {
        /// A fixed description.
        detail: &'static str,
    },
}

impl Error {
    /// The fieldless code of this error.
    pub fn error_code(&self) -> ErrorCode {
        use ErrorCode as C;
        match self {
            Self::MalformedKey { .. } => C::MalformedKey,
            Self::BadChecksum => C::BadChecksum,
            Self::PrefixMismatch { .. } => C::PrefixMismatch,
            Self::MalformedDigest { .. } => C::MalformedDigest,
            Self::TokenTooLarge { .. } => C::TokenTooLarge,
            Self::MalformedToken { .. } => C::MalformedToken,
            Self::InvalidBase64 { .. } => C::InvalidBase64,
            Self::InvalidJson { .. } => C::InvalidJson,
            Self::UnsupportedHeader { .. } => C::UnsupportedHeader,
            Self::InvalidCidr { .. } => C::InvalidCidr,
            Self::InvalidScope { .. } => C::InvalidScope,
            Self::BadSignature => C::BadSignature,
            Self::DigestMismatch => C::DigestMismatch,
            Self::UnknownPepper => C::UnknownPepper,
            Self::UnsupportedAlgorithm => C::UnsupportedAlgorithm,
            Self::AlgorithmMismatch { .. } => C::AlgorithmMismatch,
            Self::UnknownKid => C::UnknownKid,
            Self::KeyRetired { .. } => C::KeyRetired,
            Self::TokenExpired { .. } => C::TokenExpired,
            Self::TokenNotYetValid { .. } => C::TokenNotYetValid,
            Self::TokenIssuedInFuture { .. } => C::TokenIssuedInFuture,
            Self::InvalidAudience { .. } => C::InvalidAudience,
            Self::InvalidIssuer { .. } => C::InvalidIssuer,
            Self::MissingClaim { .. } => C::MissingClaim,
            Self::InvalidClaim { .. } => C::InvalidClaim,
            Self::KeyRevoked => C::KeyRevoked,
            Self::KeyDisabled => C::KeyDisabled,
            Self::KeyExpired { .. } => C::KeyExpired,
            Self::IpNotAllowed { .. } => C::IpNotAllowed,
            Self::ReadOnlyKey => C::ReadOnlyKey,
            Self::InsufficientScope => C::InsufficientScope,
            Self::RoleNotAllowed => C::RoleNotAllowed,
            Self::MissingCredential => C::MissingCredential,
            Self::AmbiguousCredential => C::AmbiguousCredential,
            Self::DuplicateCredential { .. } => C::DuplicateCredential,
            Self::UnsupportedAuthScheme => C::UnsupportedAuthScheme,
            Self::IncompleteCredential { .. } => C::IncompleteCredential,
            Self::InvalidPrefix { .. } => C::InvalidPrefix,
            Self::InvalidConfig { .. } => C::InvalidConfig,
            Self::WeakKey { .. } => C::WeakKey,
            Self::InvalidPepper { .. } => C::InvalidPepper,
            Self::DuplicateKid => C::DuplicateKid,
            Self::Registry { code, .. } => *code,
            Self::RngFailed => C::RngFailed,
            Self::Internal { .. } => C::Internal,
        }
    }

    /// The stable snake_case code, e.g. `"bad_checksum"`.
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    /// The family of this error.
    pub fn family(&self) -> ErrorFamily {
        self.error_code().family()
    }

    /// A registry-family error with a fixed detail. Codes outside the registry family
    /// become [`Error::Internal`], so this cannot forge another family's error.
    pub fn registry(code: ErrorCode, detail: &'static str) -> Error {
        if code.family() == ErrorFamily::Registry {
            Error::Registry { code, detail }
        } else {
            Error::Internal { detail }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MalformedKey { found } => write!(
                f,
                "malformed api key: expected <prefix>_<id>_<secret><checksum> of [A-Za-z0-9_], found {found}"
            ),
            Self::BadChecksum => f.write_str(
                "bad api key checksum: the last 6 characters do not match the crc32 of the rest (a typo, or not a keyseal key)",
            ),
            Self::PrefixMismatch { expected, found } => {
                write!(f, "api key prefix mismatch: expected {expected:?}, found {found:?}")
            }
            Self::MalformedDigest { found } => write!(
                f,
                "malformed stored digest: expected v1.<pepper_id>.<base64url> or a sha-256 hex/base64 digest, found {found}"
            ),
            Self::TokenTooLarge { max, found } => {
                write!(f, "token too large: expected at most {max} bytes, found {found}")
            }
            Self::MalformedToken { found } => write!(
                f,
                "malformed token: expected three base64url segments separated by '.', found {found}"
            ),
            Self::InvalidBase64 { segment } => {
                write!(f, "invalid base64: the token {segment} is not unpadded base64url")
            }
            Self::InvalidJson { segment } => {
                write!(f, "invalid json: the token {segment} is not a json object")
            }
            Self::UnsupportedHeader { param } => write!(
                f,
                "unsupported token header: the {param:?} parameter is not supported"
            ),
            Self::InvalidCidr { found } => write!(
                f,
                "invalid ip range: expected an ipv4/ipv6 address or cidr without host bits, found {found}"
            ),
            Self::InvalidScope { found } => write!(
                f,
                "invalid scope: expected 1-128 characters of [A-Za-z0-9:._/-] with an optional trailing '*', found {found}"
            ),
            Self::BadSignature => f.write_str("bad signature: the token's mac does not match"),
            Self::DigestMismatch => {
                f.write_str("digest mismatch: the api key does not match the stored digest")
            }
            Self::UnknownPepper => f.write_str(
                "unknown pepper: the stored digest names a pepper id that is not configured",
            ),
            Self::UnsupportedAlgorithm => f.write_str(
                "unsupported algorithm: expected HS256, HS384 or HS512, found another alg",
            ),
            Self::AlgorithmMismatch { expected, found } => match found {
                Some(found) => write!(
                    f,
                    "algorithm mismatch: the key is pinned to {expected}, the token says {found}"
                ),
                None => write!(f, "algorithm mismatch: the key is pinned to {expected}"),
            },
            Self::UnknownKid => {
                f.write_str("unknown kid: the token's key id names no key in the keyset")
            }
            Self::KeyRetired { at } => write!(
                f,
                "key retired: the token's signing key stopped verifying at {at} (end of its grace period)"
            ),
            Self::TokenExpired { exp, now } => {
                write!(f, "token expired: expected now < exp, found exp {exp} at now {now}")
            }
            Self::TokenNotYetValid { nbf, now } => write!(
                f,
                "token not yet valid: expected now >= nbf, found nbf {nbf} at now {now}"
            ),
            Self::TokenIssuedInFuture { iat, now } => write!(
                f,
                "token issued in the future: expected iat <= now, found iat {iat} at now {now}"
            ),
            Self::InvalidAudience { found } => write!(f, "invalid audience: {found}"),
            Self::InvalidIssuer { found } => write!(f, "invalid issuer: {found}"),
            Self::MissingClaim { claim } => {
                write!(f, "missing claim: the token has no {claim:?} claim")
            }
            Self::InvalidClaim { claim, expected } => {
                write!(f, "invalid claim {claim:?}: expected {expected}")
            }
            Self::KeyRevoked => f.write_str("key revoked: the api key was deleted or revoked"),
            Self::KeyDisabled => f.write_str("key disabled: the api key is disabled"),
            Self::KeyExpired { expires_at, now } => write!(
                f,
                "key expired: expected now < expires_at, found expires_at {expires_at} at now {now}"
            ),
            Self::IpNotAllowed { missing: true } => f.write_str(
                "ip not allowed: the key is restricted to ip ranges and the request has no client ip",
            ),
            Self::IpNotAllowed { missing: false } => {
                f.write_str("ip not allowed: the client ip is outside the key's allowed ranges")
            }
            Self::ReadOnlyKey => f.write_str(
                "read-only key: expected GET, HEAD or OPTIONS, found another method",
            ),
            Self::InsufficientScope => {
                f.write_str("insufficient scope: the key lacks a scope the request requires")
            }
            Self::RoleNotAllowed => {
                f.write_str("role not allowed: the key's role is not accepted for this request")
            }
            Self::MissingCredential => f.write_str(
                "missing credential: expected Authorization: Bearer, x-api-key, or accessKey + secretKey",
            ),
            Self::AmbiguousCredential => f.write_str(
                "ambiguous credential: expected one credential, found more than one kind",
            ),
            Self::DuplicateCredential { header } => {
                write!(f, "duplicate credential: the {header} header appears more than once")
            }
            Self::UnsupportedAuthScheme => f.write_str(
                "unsupported authorization scheme: expected Bearer, found another scheme",
            ),
            Self::IncompleteCredential { found } => write!(f, "incomplete credential: {found}"),
            Self::InvalidPrefix { found } => write!(
                f,
                "invalid key prefix: expected 1-32 characters of [a-z0-9_] starting with a letter, found {found}"
            ),
            Self::InvalidConfig { setting, expected } => {
                write!(f, "invalid configuration: {setting} must be {expected}")
            }
            Self::WeakKey { min, found } => write!(
                f,
                "weak hmac key: expected at least {min} bytes for this algorithm, found {found}"
            ),
            Self::InvalidPepper { found } => write!(f, "invalid pepper: {found}"),
            Self::DuplicateKid => {
                f.write_str("duplicate key id: two keys in the set share an id")
            }
            Self::Registry { code, detail } => write!(f, "{}: {detail}", HumanName(code.as_str())),
            Self::RngFailed => {
                f.write_str("random source failed: could not read enough random bytes")
            }
            Self::Internal { detail } => write!(f, "internal error: {detail}"),
        }
    }
}

/// Shows `name_conflict` as `name conflict` in messages, without allocating.
struct HumanName<'a>(&'a str);

impl fmt::Display for HumanName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, part) in self.0.split('_').enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(part)?;
        }
        Ok(())
    }
}

impl core::error::Error for Error {}

/// `Result` with keyseal's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
