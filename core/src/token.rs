//! HMAC-signed, JWT-compatible tokens (RFC 7519, JWS compact serialization RFC 7515).
//!
//! - Algorithms: HS256, HS384, HS512 (RFC 7518 section 3.2). Each [`TokenKey`] is pinned
//!   to one algorithm, so `none` and algorithm confusion cannot happen (RFC 8725 section
//!   3.1): a token is verified only with its key's own algorithm.
//! - A [`Keyset`] addresses keys by `kid`: one key signs, the others verify until the end
//!   of their grace period ([`Keyset::rotate`]).
//! - [`Keyset::verify`] takes `now` as an argument; nothing here reads a clock.
//!
//! Issued tokens have the header `{"alg":"HS256","typ":"JWT","kid":"<kid>"}` and the
//! registered claims in the order `iss, sub, aud, exp, nbf, iat, jti, scope, role`,
//! followed by extra claims sorted by name, so every runtime produces the same bytes.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use core::cell::Cell;
use core::fmt;
use hmac::{KeyInit, Mac};
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use sha2::{Sha384, Sha512};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// An HMAC algorithm for tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// HMAC-SHA256.
    HS256,
    /// HMAC-SHA384.
    HS384,
    /// HMAC-SHA512.
    HS512,
}

impl Algorithm {
    /// The JOSE name, e.g. `"HS256"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
        }
    }

    /// Parses a JOSE `alg` name. Anything but `HS256`, `HS384`, `HS512` (exact case) is
    /// `unsupported_algorithm`.
    pub fn from_name(name: &str) -> Result<Algorithm> {
        match name {
            "HS256" => Ok(Algorithm::HS256),
            "HS384" => Ok(Algorithm::HS384),
            "HS512" => Ok(Algorithm::HS512),
            _ => Err(Error::UnsupportedAlgorithm),
        }
    }

    /// The MAC length in bytes, which is also the shortest key RFC 7518 section 3.2
    /// accepts: 32, 48 or 64.
    pub const fn output_len(self) -> usize {
        match self {
            Algorithm::HS256 => 32,
            Algorithm::HS384 => 48,
            Algorithm::HS512 => 64,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An HMAC key state computed once per key.
#[derive(Clone)]
enum MacState {
    S256(crate::mac::HmacSha256),
    S384(hmac::Hmac<Sha384>),
    S512(hmac::Hmac<Sha512>),
}

/// A MAC output: up to 64 bytes.
struct Tag {
    bytes: [u8; 64],
    len: usize,
}

impl Tag {
    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl MacState {
    fn new(alg: Algorithm, secret: &[u8]) -> Result<MacState> {
        let bad = |_| Error::Internal {
            detail: "hmac rejected a key length",
        };
        Ok(match alg {
            Algorithm::HS256 => MacState::S256(crate::mac::HmacSha256::new(secret)),
            Algorithm::HS384 => MacState::S384(hmac::Hmac::new_from_slice(secret).map_err(bad)?),
            Algorithm::HS512 => MacState::S512(hmac::Hmac::new_from_slice(secret).map_err(bad)?),
        })
    }

    fn sign(&self, data: &[u8]) -> Tag {
        let mut tag = Tag {
            bytes: [0; 64],
            len: 0,
        };
        fn run<M: Mac + Clone>(state: &M, data: &[u8], tag: &mut Tag) {
            let mut mac = state.clone();
            mac.update(data);
            let out = mac.finalize().into_bytes();
            tag.len = out.len();
            tag.bytes[..out.len()].copy_from_slice(&out);
        }
        match self {
            MacState::S256(m) => {
                tag.bytes[..32].copy_from_slice(&m.mac(data));
                tag.len = 32;
            }
            MacState::S384(m) => run(m, data, &mut tag),
            MacState::S512(m) => run(m, data, &mut tag),
        }
        tag
    }
}

/// A token signing key: an id (`kid`), the algorithm it is pinned to, and the secret.
/// `Debug` never shows the secret.
#[derive(Clone)]
pub struct TokenKey {
    kid: String,
    alg: Algorithm,
    mac: MacState,
    verify_until: Option<i64>,
    /// The base64url header keyseal issues with this key; tokens carrying exactly this
    /// header skip header decoding on verification.
    header_b64: String,
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("verify_until", &self.verify_until)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Longest `kid` accepted.
pub const MAX_KID_LEN: usize = 128;

impl TokenKey {
    /// A key `kid` for `alg`.
    ///
    /// `kid` is 1-128 characters of `[A-Za-z0-9._:-]`. `secret` must be at least as long
    /// as the algorithm's output (32, 48 or 64 bytes; RFC 7518 section 3.2), else
    /// `weak_key`.
    pub fn new(kid: &str, alg: Algorithm, secret: &[u8]) -> Result<TokenKey> {
        validate_kid(kid)?;
        if secret.len() < alg.output_len() {
            return Err(Error::WeakKey {
                min: alg.output_len(),
                found: secret.len(),
            });
        }
        let secret = Zeroizing::new(Vec::from(secret));
        let mut header = String::with_capacity(40 + kid.len());
        header.push_str("{\"alg\":\"");
        header.push_str(alg.as_str());
        header.push_str("\",\"typ\":\"JWT\",\"kid\":\"");
        // kid is validated to [A-Za-z0-9._:-], which needs no JSON escaping.
        header.push_str(kid);
        header.push_str("\"}");
        Ok(TokenKey {
            kid: String::from(kid),
            alg,
            mac: MacState::new(alg, &secret)?,
            verify_until: None,
            header_b64: URL_SAFE_NO_PAD.encode(header.as_bytes()),
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm the key is pinned to.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The end of this key's grace period, if it is verify-only.
    pub fn verify_until(&self) -> Option<i64> {
        self.verify_until
    }

    /// Returns the key with a grace period: tokens signed with it verify while
    /// `now < until`, then fail with `key_retired`. Defaults to no limit.
    pub fn with_verify_until(mut self, until: i64) -> TokenKey {
        self.verify_until = Some(until);
        self
    }
}

fn validate_kid(kid: &str) -> Result<()> {
    let ok = !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidConfig {
            setting: "kid",
            expected: "1-128 characters of [A-Za-z0-9._:-]",
        })
    }
}

/// The `aud` claim: absent, one string, or an array of strings (RFC 7519 section 4.1.3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Audience {
    /// No `aud` claim.
    #[default]
    None,
    /// `"aud": "x"`.
    One(String),
    /// `"aud": ["x", "y"]`.
    Many(Vec<String>),
}

impl Audience {
    /// True when there is no `aud` claim.
    pub fn is_none(&self) -> bool {
        matches!(self, Audience::None)
    }

    /// The audiences as a slice.
    pub fn as_slice(&self) -> &[String] {
        match self {
            Audience::None => &[],
            Audience::One(a) => core::slice::from_ref(a),
            Audience::Many(v) => v,
        }
    }

    /// True when `aud` names `audience`.
    pub fn contains(&self, audience: &str) -> bool {
        self.as_slice().iter().any(|a| a == audience)
    }
}

/// The claims of a token: the registered ones plus any extra JSON claims.
///
/// Times are NumericDate seconds (RFC 7519 section 2); fractional values in received tokens
/// are rounded down. Every number, dates and extra claims alike, lies within
/// ±[`MAX_SAFE_INTEGER`] (RFC 7493 section 2.2): [`Keyset::issue`] refuses others with
/// `invalid_claim`, as verification does.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Claims {
    /// `iss`: who issued the token.
    pub iss: Option<String>,
    /// `sub`: whom the token is about (the key's owner for exchange tokens).
    pub sub: Option<String>,
    /// `aud`: who the token is for.
    pub aud: Audience,
    /// `exp`: expiry, unix seconds.
    pub exp: Option<i64>,
    /// `nbf`: not before, unix seconds.
    pub nbf: Option<i64>,
    /// `iat`: issued at, unix seconds.
    pub iat: Option<i64>,
    /// `jti`: unique token id.
    pub jti: Option<String>,
    /// `scope`: space-separated scopes (RFC 8693 section 4.2).
    pub scope: Option<String>,
    /// `role`: the key's role.
    pub role: Option<String>,
    /// Any other claims, sorted by name when serialized. Must not reuse a registered name.
    pub extra: Map<String, Value>,
}

/// The registered claim names keyseal knows, in serialization order.
pub const REGISTERED_CLAIMS: [&str; 9] = [
    "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope", "role",
];

/// The largest magnitude a number in a claims object may have: 2^53 - 1.
///
/// RFC 7493 (I-JSON) section 2.2: beyond ±(2^53 - 1) a receiver cannot be expected to keep
/// an integer exact, and runtimes disagree on what they make of it (an exact int in
/// Python, a rounded number in JavaScript, a float in a plain serde_json `Value`). So every
/// number in claims (NumericDates and any number nested in extra claims, in any notation,
/// `1e16` included) must lie within ±`MAX_SAFE_INTEGER`; anything larger is `invalid_claim`,
/// both when a token is verified and when claims are issued. Within the range every
/// runtime reads the same value.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// What `invalid_claim` says of a NumericDate of the wrong type or beyond
/// [`MAX_SAFE_INTEGER`] (both readers use this text).
pub(crate) const DATE: &str = "a NumericDate (number of seconds) within +-(2^53 - 1)";
/// What `invalid_claim` says of a number in an extra claim beyond [`MAX_SAFE_INTEGER`].
pub(crate) const NUMBER_RANGE: &str = "numbers within +-(2^53 - 1) (RFC 7493 section 2.2)";

/// True when a number read as an `f64` is within ±[`MAX_SAFE_INTEGER`].
#[inline]
pub(crate) fn f64_in_claim_range(v: f64) -> bool {
    // NaN is never produced by a JSON reader; it compares false and is refused anyway.
    #[allow(clippy::cast_precision_loss)]
    let max = MAX_SAFE_INTEGER as f64;
    v.abs() <= max
}

/// True when a JSON number (`i64`, `u64` or `f64` in a `Value`) is within
/// ±[`MAX_SAFE_INTEGER`].
fn number_in_claim_range(n: &serde_json::Number) -> bool {
    if let Some(i) = n.as_i64() {
        i.unsigned_abs() <= MAX_SAFE_INTEGER as u64
    } else if let Some(u) = n.as_u64() {
        u <= MAX_SAFE_INTEGER as u64
    } else {
        n.as_f64().is_some_and(f64_in_claim_range)
    }
}

/// True when every number inside `v` (at any depth) is within ±[`MAX_SAFE_INTEGER`].
/// Iterative, so a deeply nested value cannot exhaust the stack.
pub(crate) fn numbers_in_claim_range(v: &Value) -> bool {
    let mut stack: Vec<&Value> = alloc::vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Number(n) if !number_in_claim_range(n) => return false,
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    true
}

impl Claims {
    /// Reads claims from a JSON object, with the rules verification uses: registered
    /// claims must have their registered types (`invalid_claim` otherwise), NumericDates
    /// may be fractional (rounded down), duplicate names are rejected, any number beyond
    /// ±[`MAX_SAFE_INTEGER`] is `invalid_claim`, and everything else goes into
    /// [`Claims::extra`]. Bindings use this to turn host objects (sent as
    /// JSON text) into claims, so every runtime types claims the same way.
    pub fn from_json(json: &[u8]) -> Result<Claims> {
        crate::json::parse_claims(json)
    }

    /// The claims as JSON, in issue order (see the module documentation).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|_| Error::Internal {
            detail: "claims did not serialize",
        })
    }

    /// The scopes of the `scope` claim, split on spaces.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
    }

    fn has(&self, claim: Claim) -> bool {
        match claim {
            Claim::Iss => self.iss.is_some(),
            Claim::Sub => self.sub.is_some(),
            Claim::Aud => !self.aud.is_none(),
            Claim::Exp => self.exp.is_some(),
            Claim::Nbf => self.nbf.is_some(),
            Claim::Iat => self.iat.is_some(),
            Claim::Jti => self.jti.is_some(),
            Claim::Scope => self.scope.is_some(),
            Claim::Role => self.role.is_some(),
        }
    }

    /// Checks what [`Keyset::issue`] requires: no extra claim reuses a registered name,
    /// and every number is within ±[`MAX_SAFE_INTEGER`] (what verification accepts, so
    /// keyseal never issues a token it would refuse).
    fn check_for_issue(&self) -> Result<()> {
        if REGISTERED_CLAIMS
            .iter()
            .any(|n| self.extra.contains_key(*n))
        {
            return Err(Error::InvalidClaim {
                claim: "extra",
                expected: "no registered claim name among the extra claims",
            });
        }
        for (claim, date) in [("exp", self.exp), ("nbf", self.nbf), ("iat", self.iat)] {
            if date.is_some_and(|t| t.unsigned_abs() > MAX_SAFE_INTEGER as u64) {
                return Err(Error::InvalidClaim {
                    claim,
                    expected: DATE,
                });
            }
        }
        if !self.extra.values().all(numbers_in_claim_range) {
            return Err(Error::InvalidClaim {
                claim: "extra",
                expected: NUMBER_RANGE,
            });
        }
        Ok(())
    }
}

impl Serialize for Claims {
    fn serialize<S: Serializer>(&self, serializer: S) -> core::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(v) = &self.iss {
            map.serialize_entry("iss", v)?;
        }
        if let Some(v) = &self.sub {
            map.serialize_entry("sub", v)?;
        }
        match &self.aud {
            Audience::None => {}
            Audience::One(a) => map.serialize_entry("aud", a)?,
            Audience::Many(v) => map.serialize_entry("aud", v)?,
        }
        if let Some(v) = &self.exp {
            map.serialize_entry("exp", v)?;
        }
        if let Some(v) = &self.nbf {
            map.serialize_entry("nbf", v)?;
        }
        if let Some(v) = &self.iat {
            map.serialize_entry("iat", v)?;
        }
        if let Some(v) = &self.jti {
            map.serialize_entry("jti", v)?;
        }
        if let Some(v) = &self.scope {
            map.serialize_entry("scope", v)?;
        }
        if let Some(v) = &self.role {
            map.serialize_entry("role", v)?;
        }
        // Sorted explicitly: serde_json's map keeps insertion order when some crate in the
        // build enables `preserve_order`, and issued bytes must not depend on that.
        let mut extra: Vec<(&String, &Value)> = self.extra.iter().collect();
        extra.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (k, v) in extra {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// The `aud` claim of a [`ClaimsRef`], borrowed from the payload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AudienceRef<'a> {
    /// No `aud` claim.
    #[default]
    None,
    /// `"aud": "x"`.
    One(Cow<'a, str>),
    /// `"aud": ["x", "y"]`.
    Many(Vec<Cow<'a, str>>),
}

impl AudienceRef<'_> {
    /// True when `aud` names `audience`.
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            AudienceRef::None => false,
            AudienceRef::One(a) => a == audience,
            AudienceRef::Many(v) => v.iter().any(|a| a == audience),
        }
    }

    fn into_owned(self) -> Audience {
        match self {
            AudienceRef::None => Audience::None,
            AudienceRef::One(a) => Audience::One(a.into_owned()),
            AudienceRef::Many(v) => Audience::Many(v.into_iter().map(Cow::into_owned).collect()),
        }
    }
}

/// A token's claims borrowed from its decoded payload: what
/// [`Keyset::verify_borrowed`] returns. Strings are borrowed unless they held JSON escapes;
/// extra claims are kept as their JSON text (already checked to be valid JSON), so
/// reading a token allocates nothing for them. [`ClaimsRef::into_owned`] gives [`Claims`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClaimsRef<'a> {
    /// `iss`.
    pub iss: Option<Cow<'a, str>>,
    /// `sub`.
    pub sub: Option<Cow<'a, str>>,
    /// `aud`.
    pub aud: AudienceRef<'a>,
    /// `exp`, unix seconds.
    pub exp: Option<i64>,
    /// `nbf`, unix seconds.
    pub nbf: Option<i64>,
    /// `iat`, unix seconds.
    pub iat: Option<i64>,
    /// `jti`.
    pub jti: Option<Cow<'a, str>>,
    /// `scope`.
    pub scope: Option<Cow<'a, str>>,
    /// `role`.
    pub role: Option<Cow<'a, str>>,
    /// Extra claims in payload order: name and raw JSON value text.
    pub extra: Vec<(Cow<'a, str>, &'a str)>,
}

impl ClaimsRef<'_> {
    /// Copies the claims out of the payload, parsing extra claims into JSON values.
    pub fn into_owned(self) -> Result<Claims> {
        let mut extra = Map::new();
        for (name, raw) in self.extra {
            // The reader checked the text is valid JSON; a failure here is a bug.
            let value: Value = serde_json::from_str(raw).map_err(|_| Error::Internal {
                detail: "a checked extra claim did not parse",
            })?;
            extra.insert(name.into_owned(), value);
        }
        Ok(Claims {
            iss: self.iss.map(Cow::into_owned),
            sub: self.sub.map(Cow::into_owned),
            aud: self.aud.into_owned(),
            exp: self.exp,
            nbf: self.nbf,
            iat: self.iat,
            jti: self.jti.map(Cow::into_owned),
            scope: self.scope.map(Cow::into_owned),
            role: self.role.map(Cow::into_owned),
            extra,
        })
    }
}

/// What [`Validation`] reads of a set of claims, owned or borrowed.
trait ClaimSource {
    fn has(&self, claim: Claim) -> bool;
    fn times(&self) -> (Option<i64>, Option<i64>, Option<i64>);
    fn iss(&self) -> Option<&str>;
    fn aud_is_none(&self) -> bool;
    fn aud_contains(&self, audience: &str) -> bool;
}

impl ClaimSource for Claims {
    fn has(&self, claim: Claim) -> bool {
        Claims::has(self, claim)
    }
    fn times(&self) -> (Option<i64>, Option<i64>, Option<i64>) {
        (self.exp, self.nbf, self.iat)
    }
    fn iss(&self) -> Option<&str> {
        self.iss.as_deref()
    }
    fn aud_is_none(&self) -> bool {
        self.aud.is_none()
    }
    fn aud_contains(&self, audience: &str) -> bool {
        self.aud.contains(audience)
    }
}

impl ClaimSource for ClaimsRef<'_> {
    fn has(&self, claim: Claim) -> bool {
        match claim {
            Claim::Iss => self.iss.is_some(),
            Claim::Sub => self.sub.is_some(),
            Claim::Aud => self.aud != AudienceRef::None,
            Claim::Exp => self.exp.is_some(),
            Claim::Nbf => self.nbf.is_some(),
            Claim::Iat => self.iat.is_some(),
            Claim::Jti => self.jti.is_some(),
            Claim::Scope => self.scope.is_some(),
            Claim::Role => self.role.is_some(),
        }
    }
    fn times(&self) -> (Option<i64>, Option<i64>, Option<i64>) {
        (self.exp, self.nbf, self.iat)
    }
    fn iss(&self) -> Option<&str> {
        self.iss.as_deref()
    }
    fn aud_is_none(&self) -> bool {
        self.aud == AudienceRef::None
    }
    fn aud_contains(&self, audience: &str) -> bool {
        self.aud.contains(audience)
    }
}

/// A registered claim, for [`Validation::require`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// `iss`
    Iss,
    /// `sub`
    Sub,
    /// `aud`
    Aud,
    /// `exp`
    Exp,
    /// `nbf`
    Nbf,
    /// `iat`
    Iat,
    /// `jti`
    Jti,
    /// `scope`
    Scope,
    /// `role`
    Role,
}

impl Claim {
    /// All registered claims, in serialization order.
    pub const ALL: [Claim; 9] = [
        Claim::Iss,
        Claim::Sub,
        Claim::Aud,
        Claim::Exp,
        Claim::Nbf,
        Claim::Iat,
        Claim::Jti,
        Claim::Scope,
        Claim::Role,
    ];

    /// The claim's name.
    pub const fn as_str(self) -> &'static str {
        REGISTERED_CLAIMS[self as usize]
    }

    /// Looks a registered claim up by name.
    pub fn from_name(name: &str) -> Option<Claim> {
        Claim::ALL.iter().copied().find(|c| c.as_str() == name)
    }

    pub(crate) const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// Largest leeway accepted: 300 seconds.
pub const MAX_LEEWAY: u64 = 300;
/// Default size limit of a token: 8 KiB.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;

/// What [`Keyset::verify`] checks beyond the signature.
///
/// Defaults: leeway 0 seconds; `exp` required ([`Validation::require`] adds claims to
/// it, and only [`Validation::dangerously_allow_missing_exp`] drops it); no audience accepted (so a
/// token that carries `aud` is rejected, RFC 7519 section 4.1.3); issuer not checked;
/// tokens over 8 KiB rejected before decoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validation {
    leeway: u64,
    audiences: Vec<String>,
    issuers: Vec<String>,
    required: u16,
    max_token_len: usize,
}

impl Default for Validation {
    fn default() -> Self {
        Validation {
            leeway: 0,
            audiences: Vec::new(),
            issuers: Vec::new(),
            required: Claim::Exp.bit(),
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
        }
    }
}

impl Validation {
    /// The default validation (see the type's documentation).
    pub fn new() -> Validation {
        Validation::default()
    }

    /// Seconds of clock skew tolerated for `exp`, `nbf` and `iat`. Defaults to 0 seconds;
    /// at most 300 (`invalid_config` above that).
    pub fn with_leeway(mut self, seconds: u64) -> Result<Validation> {
        if seconds > MAX_LEEWAY {
            return Err(Error::InvalidConfig {
                setting: "leeway",
                expected: "0 to 300 seconds",
            });
        }
        self.leeway = seconds;
        Ok(self)
    }

    /// Accepts tokens whose `aud` names `audience` (any of the accepted ones). A token
    /// without `aud` is then rejected. Defaults to none accepted.
    pub fn with_audience(mut self, audience: &str) -> Validation {
        self.audiences.push(String::from(audience));
        self
    }

    /// Accepts tokens whose `iss` is `issuer` (any of the accepted ones); a token without
    /// `iss` is then rejected. Defaults to not checking `iss`.
    pub fn with_issuer(mut self, issuer: &str) -> Validation {
        self.issuers.push(String::from(issuer));
        self
    }

    /// Requires `claim` to be present, in addition to the claims already required.
    /// Defaults to requiring `exp` alone; requiring other claims never stops requiring
    /// `exp`.
    pub fn require(mut self, claim: Claim) -> Validation {
        self.required |= claim.bit();
        self
    }

    /// Weakens verification: accepts tokens without `exp`, i.e. tokens that never expire
    /// (an `exp` that is present is still checked). Defaults to off: `exp` is required.
    /// A later [`Validation::require`]`(Claim::Exp)` requires it again; bindings apply
    /// this before the claims they are asked to require, so naming `exp` among the
    /// required claims always wins.
    pub fn dangerously_allow_missing_exp(mut self) -> Validation {
        self.required &= !Claim::Exp.bit();
        self
    }

    /// Largest token accepted, in bytes; longer ones fail with `token_too_large` before any
    /// decoding. Defaults to 8192; 64 to 1,048,576.
    pub fn with_max_token_len(mut self, bytes: usize) -> Result<Validation> {
        if !(64..=1 << 20).contains(&bytes) {
            return Err(Error::InvalidConfig {
                setting: "max_token_len",
                expected: "64 to 1048576 bytes",
            });
        }
        self.max_token_len = bytes;
        Ok(self)
    }

    /// The leeway in seconds.
    pub fn leeway(&self) -> u64 {
        self.leeway
    }

    /// The accepted audiences.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// The accepted issuers.
    pub fn issuers(&self) -> &[String] {
        &self.issuers
    }

    /// The required claims.
    pub fn required(&self) -> impl Iterator<Item = Claim> + '_ {
        Claim::ALL
            .iter()
            .copied()
            .filter(|c| self.required & c.bit() != 0)
    }

    /// The size limit in bytes.
    pub fn max_token_len(&self) -> usize {
        self.max_token_len
    }

    /// Checks claims against this validation at `now` (RFC 7519 section 4.1, RFC 8725).
    pub fn check_claims(&self, claims: &Claims, now: i64) -> Result<()> {
        self.check(claims, now)
    }

    /// [`Validation::check_claims`] for borrowed claims.
    pub fn check_claims_ref(&self, claims: &ClaimsRef<'_>, now: i64) -> Result<()> {
        self.check(claims, now)
    }

    fn check<C: ClaimSource>(&self, claims: &C, now: i64) -> Result<()> {
        for claim in self.required() {
            if !claims.has(claim) {
                return Err(Error::MissingClaim {
                    claim: claim.as_str(),
                });
            }
        }
        // Leeway is at most 300, so this never overflows an i64 time of sane magnitude;
        // saturating arithmetic keeps absurd values from wrapping around.
        let leeway = self.leeway as i64;
        let (exp, nbf, iat) = claims.times();
        // RFC 7519 4.1.4: the current time MUST be before exp.
        if let Some(exp) = exp
            && now >= exp.saturating_add(leeway)
        {
            return Err(Error::TokenExpired { exp, now });
        }
        // RFC 7519 4.1.5: the current time MUST be after or equal to nbf.
        if let Some(nbf) = nbf
            && now.saturating_add(leeway) < nbf
        {
            return Err(Error::TokenNotYetValid { nbf, now });
        }
        if let Some(iat) = iat
            && iat > now.saturating_add(leeway)
        {
            return Err(Error::TokenIssuedInFuture { iat, now });
        }
        if !self.issuers.is_empty() {
            match claims.iss() {
                None => {
                    return Err(Error::InvalidIssuer {
                        found: "expected an accepted iss, the token has none",
                    });
                }
                Some(iss) if !self.issuers.iter().any(|i| i == iss) => {
                    return Err(Error::InvalidIssuer {
                        found: "expected an accepted iss, found another",
                    });
                }
                Some(_) => {}
            }
        }
        if self.audiences.is_empty() {
            // RFC 7519 4.1.3: a principal that does not identify with a value in a present
            // aud MUST reject the token.
            if !claims.aud_is_none() {
                return Err(Error::InvalidAudience {
                    found: "the token names an audience and none is accepted",
                });
            }
        } else if claims.aud_is_none() {
            return Err(Error::InvalidAudience {
                found: "expected an accepted aud, the token has none",
            });
        } else if !self.audiences.iter().any(|a| claims.aud_contains(a)) {
            return Err(Error::InvalidAudience {
                found: "expected an accepted aud, found others",
            });
        }
        Ok(())
    }
}

/// A token verified by [`Keyset::verify_borrowed`]: claims borrowed from the caller's
/// buffer, the key id borrowed from the keyset.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedRef<'a> {
    /// The `kid` of the key that verified the token.
    pub kid: &'a str,
    /// The token's algorithm.
    pub alg: Algorithm,
    /// The token's claims.
    pub claims: ClaimsRef<'a>,
}

/// A verified token: the key that verified it and its claims.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedToken {
    /// The `kid` of the key that verified the token.
    pub kid: String,
    /// The token's algorithm.
    pub alg: Algorithm,
    /// The token's claims.
    pub claims: Claims,
}

/// Keys addressed by `kid`: one signs, the others only verify.
#[derive(Clone, Debug)]
pub struct Keyset {
    keys: Vec<TokenKey>,
    signing: usize,
}

impl Keyset {
    /// A keyset whose signing key is `signing`.
    pub fn new(signing: TokenKey) -> Keyset {
        Keyset {
            keys: alloc::vec![signing],
            signing: 0,
        }
    }

    /// Adds a verify-only key (with or without a grace deadline); `duplicate_kid` if its
    /// kid is taken.
    pub fn with_verify_only(mut self, key: TokenKey) -> Result<Keyset> {
        if self.get(&key.kid).is_some() {
            return Err(Error::DuplicateKid);
        }
        self.keys.push(key);
        Ok(self)
    }

    /// Rotation: `next` becomes the signing key; the current signing key stays
    /// verify-only while `now < grace_until`.
    pub fn rotate(mut self, next: TokenKey, grace_until: i64) -> Result<Keyset> {
        if self.get(&next.kid).is_some() {
            return Err(Error::DuplicateKid);
        }
        self.keys[self.signing].verify_until = Some(grace_until);
        self.keys.push(next);
        self.signing = self.keys.len() - 1;
        Ok(self)
    }

    /// The signing key.
    pub fn signing_key(&self) -> &TokenKey {
        &self.keys[self.signing]
    }

    /// All keys, the signing key included.
    pub fn keys(&self) -> &[TokenKey] {
        &self.keys
    }

    fn get(&self, kid: &str) -> Option<&TokenKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// Signs `claims` with the signing key.
    pub fn issue(&self, claims: &Claims) -> Result<String> {
        claims.check_for_issue()?;
        let key = self.signing_key();
        let payload = serde_json::to_vec(claims).map_err(|_| Error::Internal {
            detail: "claims did not serialize",
        })?;
        let mut out = String::with_capacity(key.header_b64.len() + payload.len() * 4 / 3 + 100);
        out.push_str(&key.header_b64);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut out);
        let tag = key.mac.sign(out.as_bytes());
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(tag.as_slice(), &mut out);
        Ok(out)
    }

    /// Verifies `token` at `now` (unix seconds) and checks its claims with `validation`.
    ///
    /// Order of checks: size, structure, header (`alg`, `kid`, no `crit`), key lookup
    /// (`kid`, or the signing key when the token has none), algorithm pinning, grace
    /// period, constant-time signature check, payload JSON, then
    /// [`Validation::check_claims`]. The payload is not parsed before the signature holds.
    pub fn verify(&self, token: &str, validation: &Validation, now: i64) -> Result<VerifiedToken> {
        let mut payload = Vec::new();
        let verified = self.verify_borrowed(token, validation, now, &mut payload)?;
        Ok(VerifiedToken {
            kid: String::from(verified.kid),
            alg: verified.alg,
            claims: verified.claims.into_owned()?,
        })
    }

    /// [`Keyset::verify`] without allocating on the hot path: the payload is decoded into
    /// `payload` (cleared first; reuse one buffer per thread and it stops growing), and the
    /// claims borrow from it. The same checks, in the same order, with the same errors.
    pub fn verify_borrowed<'a>(
        &'a self,
        token: &str,
        validation: &Validation,
        now: i64,
        payload: &'a mut Vec<u8>,
    ) -> Result<VerifiedRef<'a>> {
        if token.len() > validation.max_token_len {
            return Err(Error::TokenTooLarge {
                max: validation.max_token_len,
                found: token.len(),
            });
        }
        let (signing_input, sig_b64) = token
            .rsplit_once('.')
            .ok_or(Error::MalformedToken { found: "no '.'" })?;
        let (header_b64, payload_b64) =
            signing_input.split_once('.').ok_or(Error::MalformedToken {
                found: "two segments",
            })?;
        // A payload holding '.' (more than three segments) is not base64url, so a token
        // that verifies has none; looking for one only on failure keeps a scan of the
        // payload off the hot path while every failure still reports it first.
        self.verify_segments(
            (signing_input, header_b64, payload_b64, sig_b64),
            validation,
            now,
            payload,
        )
        .map_err(|e| {
            if payload_b64.contains('.') {
                Error::MalformedToken {
                    found: "more than three segments",
                }
            } else {
                e
            }
        })
    }

    /// [`Keyset::verify_borrowed`] once the token is split at its first and last '.'.
    fn verify_segments<'a>(
        &'a self,
        (signing_input, header_b64, payload_b64, sig_b64): (&str, &str, &str, &str),
        validation: &Validation,
        now: i64,
        payload: &'a mut Vec<u8>,
    ) -> Result<VerifiedRef<'a>> {
        if header_b64.is_empty() || sig_b64.is_empty() {
            return Err(Error::MalformedToken {
                found: "an empty segment",
            });
        }
        // Fast path: the exact header keyseal issues for one of its keys (alg and kid are
        // then known without decoding). Any other header is decoded and parsed.
        let (key, alg) = match self.keys.iter().find(|k| k.header_b64 == header_b64) {
            Some(key) => (key, key.alg),
            None => {
                let header_bytes = decode_segment(header_b64, "header")?;
                let header = parse_header(&header_bytes)?;
                let alg = Algorithm::from_name(header.alg.as_str())?;
                let key = match &header.kid {
                    Some(kid) => self.get(kid.as_str()).ok_or(Error::UnknownKid)?,
                    None => self.signing_key(),
                };
                if key.alg != alg {
                    return Err(Error::AlgorithmMismatch {
                        expected: key.alg,
                        found: Some(alg),
                    });
                }
                (key, alg)
            }
        };
        if let Some(until) = key.verify_until
            && now >= until
        {
            return Err(Error::KeyRetired { at: until });
        }
        let mut sig = [0u8; 66];
        let sig_len =
            crate::b64::decode_url(sig_b64.as_bytes(), &mut sig).ok_or(Error::InvalidBase64 {
                segment: "signature",
            })?;
        let expected = key.mac.sign(signing_input.as_bytes());
        // Length first (it is public: fixed by the algorithm), then constant time.
        if !crate::mac::ct_eq(&sig[..sig_len], expected.as_slice()) {
            return Err(Error::BadSignature);
        }
        payload.clear();
        crate::b64::decode_url_append(payload_b64.as_bytes(), payload)
            .ok_or(Error::InvalidBase64 { segment: "payload" })?;
        // Not UTF-8: the token is invalid either way; the serde reader says which error a
        // full parser meets first.
        let text = match core::str::from_utf8(payload) {
            Ok(text) => text,
            Err(_) => {
                return Err(match parse_claims_reference(payload) {
                    Err(e) => e,
                    Ok(_) => Error::InvalidJson { segment: "payload" },
                });
            }
        };
        let mut verified = VerifiedRef {
            kid: &key.kid,
            alg,
            claims: ClaimsRef::default(),
        };
        crate::json::parse_claims_into(text, &mut verified.claims)?;
        validation.check_claims_ref(&verified.claims, now)?;
        Ok(verified)
    }
}

fn decode_segment(b64: &str, segment: &'static str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    crate::b64::decode_url_append(b64.as_bytes(), &mut out)
        .ok_or(Error::InvalidBase64 { segment })?;
    Ok(out)
}

/// A string from JSON, borrowed when it has no escapes.
enum JsonStr<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl JsonStr<'_> {
    fn as_str(&self) -> &str {
        match self {
            JsonStr::Borrowed(s) => s,
            JsonStr::Owned(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for JsonStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(
                self,
                v: &'de str,
            ) -> core::result::Result<Self::Value, E> {
                Ok(JsonStr::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> core::result::Result<Self::Value, E> {
                Ok(JsonStr::Owned(String::from(v)))
            }
            fn visit_string<E: de::Error>(self, v: String) -> core::result::Result<Self::Value, E> {
                Ok(JsonStr::Owned(v))
            }
        }
        d.deserialize_str(V)
    }
}

/// The header parameters keyseal reads.
struct Header<'h> {
    alg: JsonStr<'h>,
    kid: Option<JsonStr<'h>>,
}

fn parse_header(bytes: &[u8]) -> Result<Header<'_>> {
    struct HeaderVisitor<'c> {
        unsupported: &'c Cell<Option<&'static str>>,
    }
    impl<'de> Visitor<'de> for HeaderVisitor<'_> {
        type Value = Header<'de>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JOSE header object")
        }
        fn visit_map<A: MapAccess<'de>>(
            self,
            mut map: A,
        ) -> core::result::Result<Self::Value, A::Error> {
            let mut alg = None;
            let mut kid = None;
            while let Some(name) = map.next_key::<JsonStr<'de>>()? {
                match name.as_str() {
                    "alg" => {
                        if alg.is_some() {
                            return Err(de::Error::custom("duplicate alg"));
                        }
                        alg = Some(map.next_value::<JsonStr<'de>>()?);
                    }
                    "kid" => {
                        if kid.is_some() {
                            return Err(de::Error::custom("duplicate kid"));
                        }
                        kid = Some(map.next_value::<JsonStr<'de>>()?);
                    }
                    // RFC 7515 4.1.11: unknown critical extensions MUST be rejected; keyseal
                    // implements none, and b64=false (RFC 7797) changes what is signed.
                    "crit" | "b64" => {
                        self.unsupported.set(Some(if name.as_str() == "crit" {
                            "crit"
                        } else {
                            "b64"
                        }));
                        return Err(de::Error::custom("unsupported header"));
                    }
                    _ => {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
            }
            let alg = alg.ok_or_else(|| de::Error::custom("missing alg"))?;
            Ok(Header { alg, kid })
        }
    }
    struct Seed<'c>(&'c Cell<Option<&'static str>>);
    impl<'de> DeserializeSeed<'de> for Seed<'_> {
        type Value = Header<'de>;
        fn deserialize<D: Deserializer<'de>>(
            self,
            d: D,
        ) -> core::result::Result<Self::Value, D::Error> {
            d.deserialize_map(HeaderVisitor {
                unsupported: self.0,
            })
        }
    }
    let unsupported = Cell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = Seed(&unsupported)
        .deserialize(&mut de)
        .and_then(|h| de.end().map(|()| h));
    match parsed {
        Ok(h) => Ok(h),
        Err(_) => match unsupported.get() {
            Some(param) => Err(Error::UnsupportedHeader { param }),
            None => Err(Error::InvalidJson { segment: "header" }),
        },
    }
}

/// What went wrong while reading one claim, recorded beside serde's error.
#[derive(Clone, Copy)]
struct ClaimFault {
    claim: &'static str,
    expected: &'static str,
}

/// A NumericDate: an integer, or a finite number rounded down (RFC 7519 section 2).
struct NumericDate(i64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a NumericDate")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> core::result::Result<NumericDate, E> {
                if v.unsigned_abs() <= MAX_SAFE_INTEGER as u64 {
                    Ok(NumericDate(v))
                } else {
                    Err(E::custom("numeric date out of range"))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> core::result::Result<NumericDate, E> {
                if v <= MAX_SAFE_INTEGER as u64 {
                    Ok(NumericDate(v as i64))
                } else {
                    Err(E::custom("numeric date out of range"))
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> core::result::Result<NumericDate, E> {
                // Within +-(2^53 - 1) (RFC 7493 section 2.2), like every number in claims.
                if f64_in_claim_range(v) {
                    let t = v as i64;
                    // `as` truncates toward zero; round down for negative fractions.
                    Ok(NumericDate(if (t as f64) > v { t - 1 } else { t }))
                } else {
                    Err(E::custom("numeric date out of range"))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A `aud` value: a string or an array of strings.
struct AudValue(Audience);

impl<'de> Deserialize<'de> for AudValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AudValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> core::result::Result<AudValue, E> {
                Ok(AudValue(Audience::One(String::from(v))))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> core::result::Result<AudValue, A::Error> {
                let mut v = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    v.push(s);
                }
                Ok(AudValue(Audience::Many(v)))
            }
        }
        d.deserialize_any(V)
    }
}

/// The plain serde_json reading of a claims object: the reference the fast reader in
/// `json.rs` is fuzzed against, and its fallback for payloads that are not UTF-8 (so the
/// error reported is the one a full parser finds first).
pub(crate) fn parse_claims_reference(bytes: &[u8]) -> Result<Claims> {
    struct ClaimsVisitor<'c> {
        fault: &'c Cell<Option<ClaimFault>>,
    }

    impl ClaimsVisitor<'_> {
        /// Reads one registered claim's value, noting which claim failed and why.
        fn value<'de, A, T>(
            &self,
            map: &mut A,
            slot_taken: bool,
            claim: &'static str,
            expected: &'static str,
        ) -> core::result::Result<T, A::Error>
        where
            A: MapAccess<'de>,
            T: Deserialize<'de>,
        {
            if slot_taken {
                self.fault.set(Some(ClaimFault {
                    claim,
                    expected: "a single occurrence",
                }));
                return Err(de::Error::custom("duplicate claim"));
            }
            self.fault.set(Some(ClaimFault { claim, expected }));
            let v = map.next_value::<T>()?;
            self.fault.set(None);
            Ok(v)
        }
    }

    impl<'de> Visitor<'de> for ClaimsVisitor<'_> {
        type Value = Claims;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JWT claims object")
        }
        fn visit_map<A: MapAccess<'de>>(
            self,
            mut map: A,
        ) -> core::result::Result<Claims, A::Error> {
            const STR: &str = "a string";
            let mut c = Claims::default();
            let mut aud_seen = false;
            while let Some(name) = map.next_key::<JsonStr<'de>>()? {
                match name.as_str() {
                    "iss" => c.iss = Some(self.value(&mut map, c.iss.is_some(), "iss", STR)?),
                    "sub" => c.sub = Some(self.value(&mut map, c.sub.is_some(), "sub", STR)?),
                    "aud" => {
                        let v: AudValue = self.value(
                            &mut map,
                            aud_seen,
                            "aud",
                            "a string or an array of strings",
                        )?;
                        aud_seen = true;
                        c.aud = v.0;
                    }
                    "exp" => {
                        c.exp = Some(
                            self.value::<_, NumericDate>(&mut map, c.exp.is_some(), "exp", DATE)?
                                .0,
                        )
                    }
                    "nbf" => {
                        c.nbf = Some(
                            self.value::<_, NumericDate>(&mut map, c.nbf.is_some(), "nbf", DATE)?
                                .0,
                        )
                    }
                    "iat" => {
                        c.iat = Some(
                            self.value::<_, NumericDate>(&mut map, c.iat.is_some(), "iat", DATE)?
                                .0,
                        )
                    }
                    "jti" => c.jti = Some(self.value(&mut map, c.jti.is_some(), "jti", STR)?),
                    "scope" => {
                        c.scope = Some(self.value(&mut map, c.scope.is_some(), "scope", STR)?)
                    }
                    "role" => c.role = Some(self.value(&mut map, c.role.is_some(), "role", STR)?),
                    other => {
                        let value: Value = map.next_value()?;
                        // Checked once the whole value has been read, as the fast reader
                        // does, so a syntax error later in the value wins in both.
                        if !numbers_in_claim_range(&value) {
                            self.fault.set(Some(ClaimFault {
                                claim: "extra",
                                expected: NUMBER_RANGE,
                            }));
                            return Err(de::Error::custom("number out of range"));
                        }
                        if c.extra.insert(String::from(other), value).is_some() {
                            self.fault.set(Some(ClaimFault {
                                claim: "extra",
                                expected: "a single occurrence of each claim",
                            }));
                            return Err(de::Error::custom("duplicate claim"));
                        }
                    }
                }
            }
            Ok(c)
        }
    }

    struct Seed<'c>(&'c Cell<Option<ClaimFault>>);
    impl<'de> DeserializeSeed<'de> for Seed<'_> {
        type Value = Claims;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> core::result::Result<Claims, D::Error> {
            d.deserialize_map(ClaimsVisitor { fault: self.0 })
        }
    }

    let fault = Cell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = Seed(&fault)
        .deserialize(&mut de)
        .and_then(|c| de.end().map(|()| c));
    match parsed {
        Ok(c) => Ok(c),
        Err(e) => match (e.classify(), fault.get()) {
            (serde_json::error::Category::Data, Some(f)) => Err(Error::InvalidClaim {
                claim: f.claim,
                expected: f.expected,
            }),
            _ => Err(Error::InvalidJson { segment: "payload" }),
        },
    }
}

/// Options of [`exchange_claims`]: the short-lived token a verified API key is exchanged
/// for (seed 000's `apiKey/authenticate`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExchangeOptions {
    /// Lifetime in seconds. Defaults to 600 (10 minutes); 1 to 86400.
    pub ttl: u64,
    /// `iss` of the token. Defaults to none.
    pub issuer: Option<String>,
    /// `aud` of the token. Defaults to none.
    pub audience: Option<String>,
    /// `jti` of the token (pass a random id to make tokens unique). Defaults to none.
    pub jti: Option<String>,
}

impl Default for ExchangeOptions {
    fn default() -> Self {
        ExchangeOptions {
            ttl: DEFAULT_EXCHANGE_TTL,
            issuer: None,
            audience: None,
            jti: None,
        }
    }
}

/// Default lifetime of an exchange token: 600 seconds.
pub const DEFAULT_EXCHANGE_TTL: u64 = 600;

/// What an exchange token says about the key it was issued for.
#[derive(Clone, Copy, Debug)]
pub struct KeyIdentity<'a> {
    /// The key's public id; carried as the `key_id` claim.
    pub key_id: &'a str,
    /// The user the key acts for; becomes `sub` (the key id when absent).
    pub owner: Option<&'a str>,
    /// The key's scopes; joined with spaces into `scope` (omitted when empty).
    pub scopes: &'a [&'a str],
    /// The key's role.
    pub role: Option<&'a str>,
}

/// The claims of an exchange token for `key` at `now`: `sub` (owner, else key id),
/// `exp = now + ttl`, `iat = now`, `scope`, `role`, `key_id`, and the options' `iss`,
/// `aud`, `jti`.
pub fn exchange_claims(
    key: &KeyIdentity<'_>,
    now: i64,
    options: &ExchangeOptions,
) -> Result<Claims> {
    if !(1..=86_400).contains(&options.ttl) {
        return Err(Error::InvalidConfig {
            setting: "ttl",
            expected: "1 to 86400 seconds",
        });
    }
    let mut scope = String::new();
    for (i, s) in key.scopes.iter().enumerate() {
        if i > 0 {
            scope.push(' ');
        }
        scope.push_str(s);
    }
    let mut extra = Map::new();
    extra.insert(
        String::from("key_id"),
        Value::String(String::from(key.key_id)),
    );
    Ok(Claims {
        iss: options.issuer.clone(),
        sub: Some(String::from(key.owner.unwrap_or(key.key_id))),
        aud: options
            .audience
            .clone()
            .map_or(Audience::None, Audience::One),
        exp: Some(now.saturating_add(options.ttl as i64)),
        nbf: None,
        iat: Some(now),
        jti: options.jti.clone(),
        scope: if scope.is_empty() { None } else { Some(scope) },
        role: key.role.map(String::from),
        extra,
    })
}

/// HMAC-SHA256 of `data` under `key`, for the RFC 4231 vectors and as the benchmark floor.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Result<[u8; 32]> {
    Ok(crate::mac::HmacSha256::new(key).mac(data))
}
