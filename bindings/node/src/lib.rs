//! The Node.js binding of keyseal (napi): conversion code only.
//!
//! The npm package `keyseal` wraps these exports in its public classes (the same wrapper
//! serves the wasm build). Every fallible export returns [`Result`], whose error comes from
//! [`to_js`], the one conversion from core errors: a JS `Error` whose `code` is the core's
//! code and whose message is the core's message. `catch_unwind` keeps a panic from
//! unwinding into Node: it becomes a thrown error instead.

use keyseal_binding_common::js as common;

use keyseal::{ApiKey as CoreApiKey, FixedEntropy};
use napi::bindgen_prelude::Uint8Array;
use napi_derive::napi;

/// The error type every export throws: `code` = the core's snake_case code.
type Result<T> = std::result::Result<T, napi::Error<&'static str>>;

/// The ONE conversion from a core error to a thrown JS error.
fn to_js(e: keyseal::Error) -> napi::Error<&'static str> {
    napi::Error::new(e.code(), e.to_string())
}

/// The crate (and package) version.
#[napi(catch_unwind)]
pub fn version() -> &'static str {
    keyseal::VERSION
}

/// Where the token starts in the buffer of `Keyset.verify` (the numbers come first).
#[napi(catch_unwind)]
pub fn io_token_offset() -> u32 {
    common::IO_TOKEN as u32
}

/// `[code0, family0, code1, family1, ...]`.
#[napi(catch_unwind)]
pub fn error_table() -> Vec<String> {
    common::error_table()
}

/// A parsed or generated key; the secret is only reachable through the `expose*` methods.
#[napi]
pub struct ApiKey(CoreApiKey);

#[napi]
impl ApiKey {
    /// The prefix.
    #[napi(catch_unwind)]
    pub fn prefix(&self) -> &str {
        self.0.prefix()
    }
    /// The public id.
    #[napi(catch_unwind)]
    pub fn id(&self) -> &str {
        self.0.id()
    }
    /// The checksum.
    #[napi(catch_unwind)]
    pub fn checksum(&self) -> &str {
        self.0.checksum()
    }
    /// `prefix_id`.
    #[napi(catch_unwind)]
    pub fn access_key(&self) -> &str {
        self.0.access_key()
    }
    /// The whole key.
    #[napi(catch_unwind)]
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
    /// The secret part.
    #[napi(catch_unwind)]
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
    /// The secret and its checksum.
    #[napi(catch_unwind)]
    pub fn expose_secret_key(&self) -> &str {
        self.0.expose_secret_key()
    }
    /// `prefix_id_…` (the core's Display, without the secret).
    #[napi(catch_unwind)]
    pub fn display(&self) -> String {
        self.0.to_string()
    }
}

/// A key format.
#[napi]
pub struct KeyFormat(keyseal::KeyFormat);

#[napi]
impl KeyFormat {
    /// `prefix` with id and secret lengths.
    #[napi(constructor, catch_unwind)]
    pub fn new(prefix: String, id_len: u32, secret_len: u32) -> Result<Self> {
        keyseal::KeyFormat::new(&prefix)
            .and_then(|f| f.with_lengths(id_len as usize, secret_len as usize))
            .map(KeyFormat)
            .map_err(to_js)
    }
    /// A key from the OS CSPRNG.
    #[napi(catch_unwind)]
    pub fn generate(&self) -> Result<ApiKey> {
        self.0.generate_os().map(ApiKey).map_err(to_js)
    }
    /// A key from fixed bytes (tests and vectors).
    #[napi(catch_unwind)]
    pub fn generate_from_entropy(&self, entropy: Uint8Array) -> Result<ApiKey> {
        self.0
            .generate(&mut FixedEntropy::new(&entropy))
            .map(ApiKey)
            .map_err(to_js)
    }
    /// Parses a key of this format.
    #[napi(catch_unwind)]
    pub fn parse(&self, key: String) -> Result<ApiKey> {
        self.0.parse(&key).map(ApiKey).map_err(to_js)
    }
    /// Checks a key of this format.
    #[napi(catch_unwind)]
    pub fn check(&self, key: String) -> Result<bool> {
        self.0.check(&key).map(|_| true).map_err(to_js)
    }
}

/// Parses a key of any format.
#[napi(catch_unwind)]
pub fn parse_key(key: String) -> Result<ApiKey> {
    keyseal::parse_key(&key).map(ApiKey).map_err(to_js)
}

/// Plain SHA-256 hex of a key.
#[napi(catch_unwind)]
pub fn sha256_hex(key: String) -> String {
    keyseal::digest::sha256_hex(&key)
}

/// HMAC-SHA256.
#[napi(catch_unwind)]
pub fn hmac_sha256(key: Uint8Array, data: Uint8Array) -> Result<Uint8Array> {
    keyseal::token::hmac_sha256(&key, &data)
        .map(|m| Uint8Array::from(m.to_vec()))
        .map_err(to_js)
}

/// A pepper.
#[napi]
pub struct Pepper(keyseal::Pepper);

#[napi]
impl Pepper {
    /// `id` and secret bytes.
    #[napi(constructor, catch_unwind)]
    pub fn new(id: String, secret: Uint8Array) -> Result<Self> {
        keyseal::Pepper::new(&id, &secret)
            .map(Pepper)
            .map_err(to_js)
    }
    /// The pepper's id.
    #[napi(catch_unwind)]
    pub fn id(&self) -> &str {
        self.0.id()
    }
}

/// Current pepper plus previous ones.
#[napi]
pub struct PepperSet(keyseal::PepperSet);

#[napi]
impl PepperSet {
    /// A set with `current`.
    #[napi(constructor, catch_unwind)]
    pub fn new(current: &Pepper) -> Self {
        PepperSet(keyseal::PepperSet::new(current.0.clone()))
    }
    /// Adds a previous pepper.
    #[napi(catch_unwind)]
    pub fn add_previous(&mut self, pepper: &Pepper) -> Result<()> {
        let set = self
            .0
            .clone()
            .with_previous(pepper.0.clone())
            .map_err(to_js)?;
        self.0 = set;
        Ok(())
    }
    /// The stored digest of `key`.
    #[napi(catch_unwind)]
    pub fn digest(&self, key: String) -> String {
        self.0.digest(&key)
    }
    /// `"current"` or `"outdated"`.
    #[napi(catch_unwind)]
    pub fn verify(&self, key: String, stored: String) -> Result<&'static str> {
        match self.0.verify(&key, &stored).map_err(to_js)? {
            keyseal::DigestStatus::Current => Ok("current"),
            keyseal::DigestStatus::Outdated => Ok("outdated"),
        }
    }
}

/// A token key.
#[napi]
pub struct TokenKey(keyseal::TokenKey);

#[napi]
impl TokenKey {
    /// `kid`, secret bytes, algorithm name, optional end of grace period.
    #[napi(constructor, catch_unwind)]
    pub fn new(
        kid: String,
        secret: Uint8Array,
        alg: String,
        verify_until: Option<f64>,
    ) -> Result<Self> {
        let alg = common::algorithm(&alg).map_err(to_js)?;
        let mut key = keyseal::TokenKey::new(&kid, alg, &secret).map_err(to_js)?;
        if let Some(t) = verify_until {
            key = key.with_verify_until(common::time_from_f64("verifyUntil", t).map_err(to_js)?);
        }
        Ok(TokenKey(key))
    }
    /// The key id.
    #[napi(catch_unwind)]
    pub fn kid(&self) -> &str {
        self.0.kid()
    }
    /// The algorithm.
    #[napi(catch_unwind)]
    pub fn alg(&self) -> &'static str {
        self.0.algorithm().as_str()
    }
}

/// Compiled verify options.
#[napi]
pub struct Validation(keyseal::Validation);

#[napi]
impl Validation {
    /// From verify options JSON.
    #[napi(constructor, catch_unwind)]
    pub fn new(json: String) -> Result<Self> {
        common::validation_from_json(&json)
            .map(Validation)
            .map_err(to_js)
    }
}

/// A `Uint8Array` read and written in place. An alias because napi-derive reads a literal
/// `&mut [u8]` argument as a class reference.
type IoBuffer<'a> = &'a mut [u8];

/// A keyset, with the buffers its verify reuses (the decoded payload and the result).
#[napi]
pub struct Keyset {
    keyset: keyseal::Keyset,
    payload: Vec<u8>,
    parts: String,
}

#[napi]
impl Keyset {
    /// A keyset signing with `signing`.
    #[napi(constructor, catch_unwind)]
    pub fn new(signing: &TokenKey) -> Self {
        Keyset {
            keyset: keyseal::Keyset::new(signing.0.clone()),
            payload: Vec::new(),
            parts: String::new(),
        }
    }
    /// Adds a verify-only key.
    #[napi(catch_unwind)]
    pub fn add_verify_only(&mut self, key: &TokenKey) -> Result<()> {
        self.keyset = self
            .keyset
            .clone()
            .with_verify_only(key.0.clone())
            .map_err(to_js)?;
        Ok(())
    }
    /// Rotates to `next`; the old signing key verifies until `grace_until`.
    #[napi(catch_unwind)]
    pub fn rotate(&mut self, next: &TokenKey, grace_until: f64) -> Result<()> {
        let until = common::time_from_f64("graceUntil", grace_until).map_err(to_js)?;
        self.keyset = self
            .keyset
            .clone()
            .rotate(next.0.clone(), until)
            .map_err(to_js)?;
        Ok(())
    }
    /// Signs claims given as JSON.
    #[napi(catch_unwind)]
    pub fn issue(&self, claims_json: String) -> Result<String> {
        let claims = common::claims_from_json(&claims_json).map_err(to_js)?;
        self.keyset.issue(&claims).map_err(to_js)
    }
    /// Verifies the token whose UTF-8 bytes are `io[IO_TOKEN..IO_TOKEN + len]` (the npm
    /// wrapper writes them with `TextEncoder.encodeInto`, so no string is converted here);
    /// returns the string of [`common::write_verified`] and writes its numbers into
    /// `io[..IO_TOKEN]`. The payload is decoded into a buffer the keyset keeps, and the
    /// claims are read in place.
    #[napi(catch_unwind)]
    pub fn verify(
        &mut self,
        io: IoBuffer<'_>,
        len: u32,
        now: f64,
        validation: &Validation,
    ) -> Result<&str> {
        let now = common::time_from_f64("now", now).map_err(to_js)?;
        let (meta, token) = common::split_io(io, len).map_err(to_js)?;
        let v = self
            .keyset
            .verify_borrowed(token, &validation.0, now, &mut self.payload)
            .map_err(to_js)?;
        common::write_verified(&v, &mut self.parts, meta).map_err(to_js)?;
        Ok(&self.parts)
    }
    /// Issues an exchange token; returns `{"token","claims"}` JSON.
    #[napi(catch_unwind)]
    pub fn exchange(&self, args_json: String) -> Result<String> {
        common::exchange_to_json(&self.keyset, &args_json).map_err(to_js)
    }
}

/// A key policy.
#[napi]
pub struct KeyPolicy(keyseal::KeyPolicy);

#[napi]
impl KeyPolicy {
    /// From policy JSON.
    #[napi(constructor, catch_unwind)]
    pub fn new(json: String) -> Result<Self> {
        common::policy_from_json(&json)
            .map(KeyPolicy)
            .map_err(to_js)
    }
    /// Checks a request context given as JSON.
    #[napi(catch_unwind)]
    pub fn check(&self, context_json: String) -> Result<bool> {
        common::check_policy_json(&self.0, &context_json)
            .map(|()| true)
            .map_err(to_js)
    }
}

/// `[kind, source, value]` from `[name0, value0, name1, value1, ...]`.
#[napi(catch_unwind)]
pub fn extract_credential(flat: Vec<String>) -> Result<Vec<String>> {
    common::extract_flat(&flat).map_err(to_js)
}
