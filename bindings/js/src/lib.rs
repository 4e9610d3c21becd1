//! The JavaScript binding of keyseal: conversion code only, written once and compiled for
//! Node as a napi addon or for wasm32 with wasm-bindgen (as lightningcss's `node/` crate
//! does). Each export carries both attributes behind `cfg_attr`: napi names exports in
//! camelCase itself, wasm-bindgen is told with `js_name`.
//!
//! The npm package `keyseal` wraps these exports in its public classes, one JS layer for
//! both backends. Every fallible export returns [`Result`], whose error comes from `to_js`, the
//! one conversion from core errors per host ([`node`], [`wasm`]): a JS `Error` whose `code`
//! is the core's code and whose message is the core's message. No panic reaches JS: napi
//! exports run under `catch_unwind` (a panic becomes a thrown error); wasm32 builds abort on
//! panic, the core does not panic on any input, and the npm wrapper turns a trap into
//! `InternalError` should one ever happen. What differs by host (the verify buffer, the
//! error object) lives in [`node`] and [`wasm`]; the JSON shapes both read and write are
//! `keyseal_binding_common::js`.

mod meter;
#[cfg(not(target_arch = "wasm32"))]
pub mod node;
#[cfg(target_arch = "wasm32")]
pub mod wasm;

use keyseal::{ApiKey as CoreApiKey, FixedEntropy};
use keyseal_binding_common::js as common;
#[cfg(not(target_arch = "wasm32"))]
use napi_derive::napi;
#[cfg(not(target_arch = "wasm32"))]
use node::to_js;
#[cfg(not(target_arch = "wasm32"))]
pub use node::{Bytes, Result};
#[cfg(target_arch = "wasm32")]
use wasm::to_js;
#[cfg(target_arch = "wasm32")]
pub use wasm::{Bytes, Result};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen::prelude::*;

/// The crate (and package) version.
#[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
pub fn version() -> String {
    keyseal::VERSION.to_owned()
}

/// Where the token starts in the buffer of `Keyset.verify` (the numbers come first).
#[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen(js_name = ioTokenOffset))]
pub fn io_token_offset() -> u32 {
    common::IO_TOKEN as u32
}

/// `[code0, family0, code1, family1, ...]`: the core's list of codes, in order.
#[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen(js_name = errorTable))]
pub fn error_table() -> Vec<String> {
    common::error_table()
}

/// A parsed or generated key; the secret is only reachable through the `expose*` methods.
#[cfg_attr(not(target_arch = "wasm32"), napi)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
pub struct ApiKey(CoreApiKey);

#[cfg_attr(not(target_arch = "wasm32"), napi)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
impl ApiKey {
    /// The prefix.
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    pub fn prefix(&self) -> String {
        self.0.prefix().to_owned()
    }
    /// The public id.
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    pub fn id(&self) -> String {
        self.0.id().to_owned()
    }
    /// The checksum.
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    pub fn checksum(&self) -> String {
        self.0.checksum().to_owned()
    }
    /// `prefix_id`: the public part, the `accessKey` of the access-key/secret-key flow.
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen(js_name = prefixedId))]
    pub fn prefixed_id(&self) -> String {
        self.0.prefixed_id().to_owned()
    }
    /// The whole key.
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    pub fn expose(&self) -> String {
        self.0.expose().to_owned()
    }
    /// The secret part.
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen(js_name = exposeSecret))]
    pub fn expose_secret(&self) -> String {
        self.0.expose_secret().to_owned()
    }
    /// The secret and its checksum: the `secretKey` of the access-key/secret-key flow.
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen(js_name = exposeSecretWithChecksum))]
    pub fn expose_secret_with_checksum(&self) -> String {
        self.0.expose_secret_with_checksum().to_owned()
    }
    /// `prefix_id_…` (the core's Display, without the secret).
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    pub fn display(&self) -> String {
        self.0.to_string()
    }
}

/// A key format.
#[cfg_attr(not(target_arch = "wasm32"), napi)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
pub struct KeyFormat(keyseal::KeyFormat);

#[cfg_attr(not(target_arch = "wasm32"), napi)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
impl KeyFormat {
    /// `prefix` with id and secret lengths.
    #[cfg_attr(not(target_arch = "wasm32"), napi(constructor, catch_unwind))]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen(constructor))]
    pub fn new(prefix: String, id_len: u32, secret_len: u32) -> Result<KeyFormat> {
        keyseal::KeyFormat::new(&prefix)
            .and_then(|f| f.with_lengths(id_len as usize, secret_len as usize))
            .map(KeyFormat)
            .map_err(to_js)
    }
    /// A key from the OS CSPRNG (Web Crypto on wasm32).
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    pub fn generate(&self) -> Result<ApiKey> {
        self.0.generate_os().map(ApiKey).map_err(to_js)
    }
    /// A key from fixed bytes (tests and vectors).
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen(js_name = generateFromEntropy))]
    pub fn generate_from_entropy(&self, entropy: Bytes) -> Result<ApiKey> {
        self.0
            .generate(&mut FixedEntropy::new(&entropy))
            .map(ApiKey)
            .map_err(to_js)
    }
    /// Parses a key of this format.
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    pub fn parse(&self, key: String) -> Result<ApiKey> {
        self.0.parse(&key).map(ApiKey).map_err(to_js)
    }
    /// Checks a key of this format and gives its parts (the npm wrapper's `KeyParts`).
    /// The core's `KeyParts` borrows the key; `parse` makes the same checks and keeps an
    /// owned, zeroizing copy.
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    pub fn check(&self, key: String) -> Result<ApiKey> {
        self.0.parse(&key).map(ApiKey).map_err(to_js)
    }
}

/// Parses a key of any format.
#[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen(js_name = parseKey))]
pub fn parse_key(key: String) -> Result<ApiKey> {
    keyseal::parse_key(&key).map(ApiKey).map_err(to_js)
}

/// Plain SHA-256 hex of a key.
#[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen(js_name = sha256Hex))]
pub fn sha256_hex(key: String) -> String {
    keyseal::digest::sha256_hex(&key)
}

/// HMAC-SHA256.
#[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen(js_name = hmacSha256))]
pub fn hmac_sha256(key: Bytes, data: Bytes) -> Result<Bytes> {
    // `Bytes` is `Vec<u8>` on wasm32, where the conversion is the identity.
    #[allow(clippy::useless_conversion)]
    keyseal::token::hmac_sha256(&key, &data)
        .map(|m| Bytes::from(m.to_vec()))
        .map_err(to_js)
}

/// A pepper.
#[cfg_attr(not(target_arch = "wasm32"), napi)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
pub struct Pepper(keyseal::Pepper);

#[cfg_attr(not(target_arch = "wasm32"), napi)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
impl Pepper {
    /// `id` and secret bytes.
    #[cfg_attr(not(target_arch = "wasm32"), napi(constructor, catch_unwind))]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen(constructor))]
    pub fn new(id: String, secret: Bytes) -> Result<Pepper> {
        keyseal::Pepper::new(&id, &secret)
            .map(Pepper)
            .map_err(to_js)
    }
    /// The pepper's id.
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    pub fn id(&self) -> String {
        self.0.id().to_owned()
    }
}

/// Current pepper plus previous ones.
#[cfg_attr(not(target_arch = "wasm32"), napi)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
pub struct PepperSet(keyseal::PepperSet);

#[cfg_attr(not(target_arch = "wasm32"), napi)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
impl PepperSet {
    /// A set with `current`.
    #[cfg_attr(not(target_arch = "wasm32"), napi(constructor, catch_unwind))]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen(constructor))]
    pub fn new(current: &Pepper) -> PepperSet {
        PepperSet(keyseal::PepperSet::new(current.0.clone()))
    }
    /// Adds a previous pepper.
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen(js_name = addPrevious))]
    pub fn add_previous(&mut self, pepper: &Pepper) -> Result<()> {
        self.0 = self
            .0
            .clone()
            .with_previous(pepper.0.clone())
            .map_err(to_js)?;
        Ok(())
    }
    /// The stored digest of `key`.
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    pub fn digest(&self, key: String) -> String {
        self.0.digest(&key)
    }
    /// `"current"` or `"outdated"`.
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    pub fn verify(&self, key: String, stored: String) -> Result<String> {
        let status = match self.0.verify(&key, &stored).map_err(to_js)? {
            keyseal::DigestStatus::Current => "current",
            keyseal::DigestStatus::Outdated => "outdated",
        };
        Ok(status.to_owned())
    }
}

/// A token key.
#[cfg_attr(not(target_arch = "wasm32"), napi)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
pub struct TokenKey(keyseal::TokenKey);

#[cfg_attr(not(target_arch = "wasm32"), napi)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
impl TokenKey {
    /// `kid`, secret bytes, algorithm name, optional end of grace period.
    #[cfg_attr(not(target_arch = "wasm32"), napi(constructor, catch_unwind))]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen(constructor))]
    pub fn new(
        kid: String,
        secret: Bytes,
        alg: String,
        verify_until: Option<f64>,
    ) -> Result<TokenKey> {
        let alg = common::algorithm(&alg).map_err(to_js)?;
        let mut key = keyseal::TokenKey::new(&kid, alg, &secret).map_err(to_js)?;
        if let Some(t) = verify_until {
            key = key.with_verify_until(common::time_from_f64("verifyUntil", t).map_err(to_js)?);
        }
        Ok(TokenKey(key))
    }
    /// The key id.
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    pub fn kid(&self) -> String {
        self.0.kid().to_owned()
    }
    /// The algorithm.
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    pub fn alg(&self) -> String {
        self.0.algorithm().as_str().to_owned()
    }
}

/// Compiled verify options.
#[cfg_attr(not(target_arch = "wasm32"), napi)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
pub struct Validation(keyseal::Validation);

#[cfg_attr(not(target_arch = "wasm32"), napi)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
impl Validation {
    /// From verify options JSON.
    #[cfg_attr(not(target_arch = "wasm32"), napi(constructor, catch_unwind))]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen(constructor))]
    pub fn new(json: String) -> Result<Validation> {
        common::validation_from_json(&json)
            .map(Validation)
            .map_err(to_js)
    }
}

/// A keyset, with the buffers its verify reuses (the decoded payload and the result).
/// `verify` is the one method whose arguments differ by host ([`node`], [`wasm`]).
#[cfg_attr(not(target_arch = "wasm32"), napi)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
pub struct Keyset {
    keyset: keyseal::Keyset,
    payload: Vec<u8>,
    parts: String,
}

#[cfg_attr(not(target_arch = "wasm32"), napi)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
impl Keyset {
    /// A keyset signing with `signing`.
    #[cfg_attr(not(target_arch = "wasm32"), napi(constructor, catch_unwind))]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen(constructor))]
    pub fn new(signing: &TokenKey) -> Keyset {
        Keyset {
            keyset: keyseal::Keyset::new(signing.0.clone()),
            payload: Vec::new(),
            parts: String::new(),
        }
    }
    /// Adds a verify-only key.
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen(js_name = addVerifyOnly))]
    pub fn add_verify_only(&mut self, key: &TokenKey) -> Result<()> {
        self.keyset = self
            .keyset
            .clone()
            .with_verify_only(key.0.clone())
            .map_err(to_js)?;
        Ok(())
    }
    /// Rotates to `next`; the old signing key verifies until `grace_until`.
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
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
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    pub fn issue(&self, claims_json: String) -> Result<String> {
        let claims = common::claims_from_json(&claims_json).map_err(to_js)?;
        self.keyset.issue(&claims).map_err(to_js)
    }
    /// Issues an exchange token; returns `{"token","claims"}` JSON.
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    pub fn exchange(&self, args_json: String) -> Result<String> {
        common::exchange_to_json(&self.keyset, &args_json).map_err(to_js)
    }
}

impl Keyset {
    /// Verifies `token` into the keyset's buffers: returns the string of
    /// `common::write_verified` and writes its numbers into `meta`. The payload is decoded
    /// into a buffer the keyset keeps, and the claims are read in place.
    fn verify_into(
        &mut self,
        token: &str,
        now: f64,
        validation: &Validation,
        meta: &mut [u8],
    ) -> keyseal::Result<&str> {
        let now = common::time_from_f64("now", now)?;
        let v = self
            .keyset
            .verify_borrowed(token, &validation.0, now, &mut self.payload)?;
        common::write_verified(&v, &mut self.parts, meta)?;
        Ok(&self.parts)
    }
}

/// A key policy.
#[cfg_attr(not(target_arch = "wasm32"), napi)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
pub struct KeyPolicy(keyseal::KeyPolicy);

#[cfg_attr(not(target_arch = "wasm32"), napi)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
impl KeyPolicy {
    /// From policy JSON.
    #[cfg_attr(not(target_arch = "wasm32"), napi(constructor, catch_unwind))]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen(constructor))]
    pub fn new(json: String) -> Result<KeyPolicy> {
        common::policy_from_json(&json)
            .map(KeyPolicy)
            .map_err(to_js)
    }
    /// Checks a request context given as JSON.
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    pub fn check(&self, context_json: String) -> Result<bool> {
        common::check_policy_json(&self.0, &context_json)
            .map(|()| true)
            .map_err(to_js)
    }
}

/// `[kind, source, value]` from `[name0, value0, name1, value1, ...]`.
#[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen(js_name = extractCredential))]
pub fn extract_credential(flat: Vec<String>) -> Result<Vec<String>> {
    common::extract_flat(&flat).map_err(to_js)
}
