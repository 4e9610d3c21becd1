//! One list of error codes for every runtime.
//!
//! [`Error`] is what every fallible function in keyseal returns. Each variant has a stable
//! snake_case [`Error::code`] (the contract every binding raises, and the `"error"` of every
//! test vector) and a one-line lowercase message that says what was expected and what was
//! found. Messages never contain a secret, a key, a token or `{:?}` output of input.
//!
//! [`ErrorCode`] is the fieldless list of all codes ([`ErrorCode::ALL`]); bindings and the
//! generated `tests/vectors/errors.json` are checked against it.
//!
//! Both enums, [`Error::error_code`] and both `Display` impls are generated from one table
//! (`error_table!` below, after pydantic-core's `src/errors/types.rs`): one row a code
//! with its variant, code string, family and message pattern. The registry and HTTP
//! codes share the list (so every runtime knows them) and are raised through one variant,
//! [`Error::Registry`], by the registry and the server; the core itself never raises
//! them.

use core::fmt;

use crate::algorithm::Algorithm;

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

/// Generates [`ErrorCode`], [`Error`], [`Error::error_code`] and both `Display` impls from
/// the rows of the table: variant, code, family, message. Row shapes (each ends with `;`):
///
/// - `Variant => "code", Family, "message";`: a variant without fields.
/// - `Variant => "code", Family, "message {field}", { field: Type, .. };`: the message is
///   a `write!` pattern over the fields.
/// - `Variant => "code", Family, function, { field: Type, .. };`: the message depends on
///   a field's value; `function(f, field, ..)` writes it.
/// - `registry { Variant => "code", Registry; .. }`: codes of [`ErrorFamily::Registry`],
///   raised through [`Error::Registry`] with the message `"<code in words>: <detail>"`.
///
/// Each row's doc comment sits right above its `Variant => "code",` line: it documents the
/// [`ErrorCode`], and `tools/vectors` reads it from there into `errors.json`.
///
/// The rows are munched one at a time into four lists (codes in table order, `Error`
/// variants, `error_code` arms, `Display` arms), emitted together at the end. The
/// formatter's name `$f` is carried along so every arm names the same binding.
macro_rules! error_table {
    (@row $f:ident [$($codes:tt)*] [$($variants:tt)*] [$($arms:tt)*] [$($display:tt)*]
        $(#[$doc:meta])* $variant:ident => $code:literal, $family:ident, $msg:literal;
        $($rest:tt)*
    ) => {
        error_table!(@row $f
            [$($codes)* $(#[$doc])* $variant => $code, $family;]
            [$($variants)* #[doc = concat!("See [`ErrorCode::", stringify!($variant), "`].")] $variant,]
            [$($arms)* Self::$variant => ErrorCode::$variant,]
            [$($display)* Self::$variant => $f.write_str($msg),]
            $($rest)*);
    };
    (@row $f:ident [$($codes:tt)*] [$($variants:tt)*] [$($arms:tt)*] [$($display:tt)*]
        $(#[$doc:meta])* $variant:ident => $code:literal, $family:ident, $msg:tt,
            { $( $(#[$fdoc:meta])* $field:ident : $fty:ty ),+ $(,)? };
        $($rest:tt)*
    ) => {
        error_table!(@row $f
            [$($codes)* $(#[$doc])* $variant => $code, $family;]
            [$($variants)*
                #[doc = concat!("See [`ErrorCode::", stringify!($variant), "`].")]
                $variant { $( $(#[$fdoc])* $field: $fty, )+ },]
            [$($arms)* Self::$variant { .. } => ErrorCode::$variant,]
            [$($display)* Self::$variant { $($field),+ } => error_table!(@message $f $msg $($field)+),]
            $($rest)*);
    };
    (@row $f:ident [$($codes:tt)*] [$($variants:tt)*] [$($arms:tt)*] [$($display:tt)*]
        registry { $( $(#[$doc:meta])* $variant:ident => $code:literal, Registry; )+ }
        $($rest:tt)*
    ) => {
        error_table!(@row $f
            [$($codes)* $( $(#[$doc])* $variant => $code, Registry; )+]
            [$($variants)*
                /// A registry-level error: see the [`ErrorCode`] for its meaning.
                Registry {
                    /// One of the [`ErrorFamily::Registry`] codes.
                    code: ErrorCode,
                    /// A fixed description of the problem.
                    detail: &'static str,
                },]
            [$($arms)* Self::Registry { code, .. } => *code,]
            [$($display)*
                Self::Registry { code, detail } => write!($f, "{}: {detail}", HumanName(code.as_str())),]
            $($rest)*);
    };
    (@row $f:ident [$($codes:tt)*] [$($variants:tt)*] [$($arms:tt)*] [$($display:tt)*]) => {
        error_table!(@codes $($codes)*);

        /// A keyseal error: a stable [`code`](Error::code) and a message without secrets.
        ///
        /// Details carried by variants are limits, lengths and fixed descriptions; never key
        /// material, and never attacker-chosen text (so messages are safe to log).
        #[non_exhaustive]
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum Error {
            $($variants)*
        }

        impl Error {
            /// The fieldless code of this error.
            pub fn error_code(&self) -> ErrorCode {
                match self {
                    $($arms)*
                }
            }
        }

        impl fmt::Display for Error {
            fn fmt(&self, $f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($display)*
                }
            }
        }
    };
    // A message pattern over the fields, or the function that writes the message.
    (@message $f:ident $msg:literal $($field:ident)+) => {
        write!($f, $msg)
    };
    (@message $f:ident $message:ident $($field:ident)+) => {
        $message($f, $($field),+)
    };
    (@codes $( $(#[$doc:meta])* $variant:ident => $code:literal, $family:ident; )*) => {
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
    (@row $f:ident [$($codes:tt)*] [$($variants:tt)*] [$($arms:tt)*] [$($display:tt)*] $($rest:tt)*) => {
        compile_error!(concat!("error_table!: a row of no known shape: ", stringify!($($rest)*)));
    };
    // Entry: start with four empty lists.
    ($($rows:tt)*) => {
        error_table!(@row f [] [] [] [] $($rows)*);
    };
}

error_table! {
    /// The string is not `<prefix>_<id>_<secret><checksum>` or has characters outside `[A-Za-z0-9_]`.
    MalformedKey => "malformed_key", Malformed,
        "malformed api key: expected <prefix>_<id>_<secret><checksum> of [A-Za-z0-9_], found {found}",
        {
            /// What is wrong with the input.
            found: &'static str,
        };
    /// The last 6 characters are not the CRC32 of the rest: a typo, or not a keyseal key.
    BadChecksum => "bad_checksum", Malformed,
        "bad api key checksum: the last 6 characters do not match the crc32 of the rest (a typo, or not a keyseal key)";
    /// The key's prefix is not the one the format expects.
    PrefixMismatch => "prefix_mismatch", Malformed,
        "api key prefix mismatch: expected {expected:?}, found {found:?}",
        {
            /// The configured prefix.
            expected: alloc::string::String,
            /// The prefix the key carries (validated `[a-z0-9_]{1,32}`).
            found: alloc::string::String,
        };
    /// A stored digest is not `v1.<pepper_id>.<base64url>` nor a SHA-256 hex/base64 digest.
    MalformedDigest => "malformed_digest", Malformed,
        "malformed stored digest: expected v1.<pepper_id>.<base64url> or a sha-256 hex/base64 digest, found {found}",
        {
            /// What is wrong with the stored digest.
            found: &'static str,
        };
    /// A token is longer than the validation's size limit; nothing was decoded.
    TokenTooLarge => "token_too_large", Malformed,
        "token too large: expected at most {max} bytes, found {found}",
        {
            /// The configured limit in bytes.
            max: usize,
            /// The token's length in bytes.
            found: usize,
        };
    /// A token is not three base64url segments separated by dots.
    MalformedToken => "malformed_token", Malformed,
        "malformed token: expected three base64url segments separated by '.', found {found}",
        {
            /// What is wrong with the token's structure.
            found: &'static str,
        };
    /// A token segment is not valid unpadded base64url.
    InvalidBase64 => "invalid_base64", Malformed,
        "invalid base64: the token {segment} is not unpadded base64url",
        {
            /// Which segment: `header`, `payload` or `signature`.
            segment: &'static str,
        };
    /// A token header or payload is not a JSON object.
    InvalidJson => "invalid_json", Malformed,
        "invalid json: the token {segment} is not a json object",
        {
            /// Which segment: `header` or `payload`.
            segment: &'static str,
        };
    /// A token header carries something keyseal refuses to ignore (`crit`, `b64`).
    UnsupportedHeader => "unsupported_header", Malformed,
        "unsupported token header: the {param:?} parameter is not supported",
        {
            /// The header parameter.
            param: &'static str,
        };
    /// A CIDR range or IP address does not parse, or has host bits set.
    InvalidCidr => "invalid_cidr", Malformed,
        "invalid ip range: expected an ipv4/ipv6 address or cidr without host bits, found {found}",
        {
            /// What is wrong.
            found: &'static str,
        };
    /// A scope is empty, too long, has characters outside the allowed set, or a misplaced `*`.
    InvalidScope => "invalid_scope", Malformed,
        "invalid scope: expected 1-128 characters of [A-Za-z0-9:._/-] with an optional trailing '*', found {found}",
        {
            /// What is wrong.
            found: &'static str,
        };
    /// The token's MAC does not match.
    BadSignature => "bad_signature", Signature,
        "bad signature: the token's mac does not match";
    /// The key's digest does not match the stored digest.
    DigestMismatch => "digest_mismatch", Signature,
        "digest mismatch: the api key does not match the stored digest";
    /// The stored digest names a pepper id that is not configured.
    UnknownPepper => "unknown_pepper", Signature,
        "unknown pepper: the stored digest names a pepper id that is not configured";
    /// The token's `alg` is not HS256, HS384 or HS512 (`none` included).
    UnsupportedAlgorithm => "unsupported_algorithm", Signature,
        "unsupported algorithm: expected HS256, HS384 or HS512, found another alg";
    /// The token's `alg` is not the algorithm its key is pinned to (RFC 8725 section 3.1).
    AlgorithmMismatch => "algorithm_mismatch", Signature,
        algorithm_mismatch,
        {
            /// The algorithm the key is pinned to.
            expected: Algorithm,
            /// The token's algorithm, when it is one keyseal knows.
            found: Option<Algorithm>,
        };
    /// The token's `kid` names no key in the keyset.
    UnknownKid => "unknown_kid", Signature,
        "unknown kid: the token's key id names no key in the keyset";
    /// The token's key is verify-only and its grace period has ended.
    KeyRetired => "key_retired", Signature,
        "key retired: the token's signing key stopped verifying at {at} (end of its grace period)",
        {
            /// Unix seconds at which the key stopped verifying.
            at: i64,
        };
    /// `exp` is not after `now` (less the leeway).
    TokenExpired => "token_expired", Time,
        "token expired: expected now < exp, found exp {exp} at now {now}",
        {
            /// The token's `exp`.
            exp: i64,
            /// The `now` it was checked at.
            now: i64,
        };
    /// `nbf` is after `now` (plus the leeway).
    TokenNotYetValid => "token_not_yet_valid", Time,
        "token not yet valid: expected now >= nbf, found nbf {nbf} at now {now}",
        {
            /// The token's `nbf`.
            nbf: i64,
            /// The `now` it was checked at.
            now: i64,
        };
    /// `iat` is after `now` (plus the leeway).
    TokenIssuedInFuture => "token_issued_in_future", Time,
        "token issued in the future: expected iat <= now, found iat {iat} at now {now}",
        {
            /// The token's `iat`.
            iat: i64,
            /// The `now` it was checked at.
            now: i64,
        };
    /// `aud` does not name an accepted audience, or names one where none is accepted.
    InvalidAudience => "invalid_audience", Claims,
        "invalid audience: {found}",
        {
            /// Why the audience was rejected.
            found: &'static str,
        };
    /// `iss` is missing or not an accepted issuer.
    InvalidIssuer => "invalid_issuer", Claims,
        "invalid issuer: {found}",
        {
            /// Why the issuer was rejected.
            found: &'static str,
        };
    /// A required claim is absent.
    MissingClaim => "missing_claim", Claims,
        "missing claim: the token has no {claim:?} claim",
        {
            /// The claim's name.
            claim: &'static str,
        };
    /// A claim has the wrong JSON type or an invalid value.
    InvalidClaim => "invalid_claim", Claims,
        "invalid claim {claim:?}: expected {expected}",
        {
            /// The claim's name (`"extra"` for a custom claim).
            claim: &'static str,
            /// What was expected.
            expected: &'static str,
        };
    /// The key was deleted or revoked.
    KeyRevoked => "key_revoked", Policy,
        "key revoked: the api key was deleted or revoked";
    /// The key is disabled.
    KeyDisabled => "key_disabled", Policy,
        "key disabled: the api key is disabled";
    /// The key's `expires_at` is not after `now`.
    KeyExpired => "key_expired", Policy,
        "key expired: expected now < expires_at, found expires_at {expires_at} at now {now}",
        {
            /// The key's `expires_at`.
            expires_at: i64,
            /// The `now` it was checked at.
            now: i64,
        };
    /// The client IP is missing or outside the key's allowed ranges.
    IpNotAllowed => "ip_not_allowed", Policy,
        ip_not_allowed,
        {
            /// True when the request carried no client IP at all.
            missing: bool,
        };
    /// A read-only key was used with a method other than GET, HEAD or OPTIONS.
    ReadOnlyKey => "read_only_key", Policy,
        "read-only key: expected GET, HEAD or OPTIONS, found another method";
    /// The key lacks a scope the request requires.
    InsufficientScope => "insufficient_scope", Policy,
        "insufficient scope: the key lacks a scope the request requires";
    /// The key's role is not one the request accepts.
    RoleNotAllowed => "role_not_allowed", Policy,
        "role not allowed: the key's role is not accepted for this request";
    /// A rate limit of the key or its owner has no room for the request's cost.
    RateLimited => "rate_limited", Policy,
        "rate limited: a limit of the key or its owner has no room for this cost now";
    /// The key's or its owner's credits are fewer than the request's cost.
    UsageExceeded => "usage_exceeded", Policy,
        "usage exceeded: the credits left are fewer than this cost";
    /// No credential header is present.
    MissingCredential => "missing_credential", Credential,
        "missing credential: expected Authorization: Bearer, x-api-key, or accessKey + secretKey";
    /// More than one kind of credential is present.
    AmbiguousCredential => "ambiguous_credential", Credential,
        "ambiguous credential: expected one credential, found more than one kind";
    /// The same credential header appears more than once.
    DuplicateCredential => "duplicate_credential", Credential,
        "duplicate credential: the {header} header appears more than once",
        {
            /// The repeated header's canonical name.
            header: &'static str,
        };
    /// `Authorization` uses a scheme other than `Bearer`.
    UnsupportedAuthScheme => "unsupported_auth_scheme", Credential,
        "unsupported authorization scheme: expected Bearer, found another scheme";
    /// `accessKey` without `secretKey` or the other way round, or an empty value.
    IncompleteCredential => "incomplete_credential", Credential,
        "incomplete credential: {found}",
        {
            /// What is missing.
            found: &'static str,
        };
    /// A key prefix is not 1-32 characters of `[a-z0-9_]` starting with a letter.
    InvalidPrefix => "invalid_prefix", Config,
        "invalid key prefix: expected 1-32 characters of [a-z0-9_] starting with a letter, found {found}",
        {
            /// What is wrong.
            found: &'static str,
        };
    /// A configuration value is outside its allowed range.
    InvalidConfig => "invalid_config", Config,
        "invalid configuration: {setting} must be {expected}",
        {
            /// The setting.
            setting: &'static str,
            /// Its allowed range.
            expected: &'static str,
        };
    /// An HMAC key is shorter than its algorithm's output (RFC 7518 section 3.2).
    WeakKey => "weak_key", Config,
        "weak hmac key: expected at least {min} bytes for this algorithm, found {found}",
        {
            /// Minimum length in bytes for the algorithm.
            min: usize,
            /// The key's length in bytes.
            found: usize,
        };
    /// A pepper is shorter than 16 bytes or its id is not `[A-Za-z0-9_-]{1,32}`.
    InvalidPepper => "invalid_pepper", Config,
        "invalid pepper: {found}",
        {
            /// What is wrong.
            found: &'static str,
        };
    /// Two keys (or peppers) share an id.
    DuplicateKid => "duplicate_kid", Config,
        "duplicate key id: two keys in the set share an id";
    registry {
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
    }
    /// The random source failed or ran out.
    RngFailed => "rng_failed", Internal,
        "random source failed: could not read enough random bytes";
    /// A bug: a panic was caught at a binding boundary, or an invariant broke.
    Internal => "internal", Internal,
        "internal error: {detail}",
        {
            /// A fixed description.
            detail: &'static str,
        };
}

/// The message of `algorithm_mismatch`: names the token's algorithm when keyseal knows it.
fn algorithm_mismatch(
    f: &mut fmt::Formatter<'_>,
    expected: &Algorithm,
    found: &Option<Algorithm>,
) -> fmt::Result {
    match found {
        Some(found) => write!(
            f,
            "algorithm mismatch: the key is pinned to {expected}, the token says {found}"
        ),
        None => write!(f, "algorithm mismatch: the key is pinned to {expected}"),
    }
}

/// The message of `ip_not_allowed`: a request without a client IP, or one outside the
/// key's ranges.
fn ip_not_allowed(f: &mut fmt::Formatter<'_>, missing: &bool) -> fmt::Result {
    f.write_str(if *missing {
        "ip not allowed: the key is restricted to ip ranges and the request has no client ip"
    } else {
        "ip not allowed: the client ip is outside the key's allowed ranges"
    })
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
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

#[cfg(test)]
mod tests {
    use super::{Error, ErrorCode, ErrorFamily};
    use crate::algorithm::Algorithm;
    use alloc::string::{String, ToString};

    /// One error of each row shape of the table keeps its message to the byte.
    #[test]
    fn messages_of_each_row_shape() {
        let cases = [
            (
                Error::BadChecksum,
                "bad api key checksum: the last 6 characters do not match the crc32 of the rest (a typo, or not a keyseal key)",
            ),
            (
                Error::PrefixMismatch {
                    expected: String::from("ks"),
                    found: String::from("kt"),
                },
                "api key prefix mismatch: expected \"ks\", found \"kt\"",
            ),
            (
                Error::InvalidClaim {
                    claim: "exp",
                    expected: "y",
                },
                "invalid claim \"exp\": expected y",
            ),
            (
                Error::AlgorithmMismatch {
                    expected: Algorithm::HS256,
                    found: Some(Algorithm::HS512),
                },
                "algorithm mismatch: the key is pinned to HS256, the token says HS512",
            ),
            (
                Error::AlgorithmMismatch {
                    expected: Algorithm::HS384,
                    found: None,
                },
                "algorithm mismatch: the key is pinned to HS384",
            ),
            (
                Error::IpNotAllowed { missing: true },
                "ip not allowed: the key is restricted to ip ranges and the request has no client ip",
            ),
            (
                Error::IpNotAllowed { missing: false },
                "ip not allowed: the client ip is outside the key's allowed ranges",
            ),
            (
                Error::registry(ErrorCode::NameConflict, "d"),
                "name conflict: d",
            ),
            (Error::Internal { detail: "d" }, "internal error: d"),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), message);
        }
    }

    /// Every code names itself, round-trips through its name, and the registry codes are
    /// exactly the ones `Error::registry` accepts.
    #[test]
    fn codes_round_trip() {
        for &code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_name(code.as_str()), Some(code));
            let raised = Error::registry(code, "d").error_code();
            if code.family() == ErrorFamily::Registry {
                assert_eq!(raised, code);
            } else {
                assert_eq!(raised, ErrorCode::Internal, "{code}");
            }
        }
        assert_eq!(ErrorCode::ALL.len(), 57);
    }
}
