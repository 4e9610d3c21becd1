//! The WebAssembly binding of keyseal (wasm-bindgen): conversion code only.
//!
//! Same exports as the napi binding, so the npm package wraps both with one JS layer.
//! Every fallible export returns [`R`], whose error comes from [`to_js`], the one
//! conversion from core errors: a real JS `Error` (never a string or a plain object)
//! with `code` set to the core's code. OS randomness comes from Web Crypto
//! `getRandomValues` through getrandom's `wasm_js` backend (the core's `getrandom`
//! feature). wasm32 builds abort on panic; the core does not panic on any input, and the
//! npm wrapper turns a trap into `InternalError` should one ever happen.

use keyseal_binding_common::js as common;

use keyseal::{ApiKey as CoreApiKey, FixedEntropy};
use wasm_bindgen::prelude::*;

/// The error type every export throws.
type R<T> = std::result::Result<T, JsValue>;

/// The ONE conversion from a core error to a thrown JS error.
fn to_js(e: keyseal::Error) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    // Setting a data property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(
        &err,
        &JsValue::from_str("code"),
        &JsValue::from_str(e.code()),
    );
    err.into()
}

/// The crate (and package) version.
#[wasm_bindgen]
pub fn version() -> String {
    keyseal::VERSION.to_owned()
}

thread_local! {
    /// The verify buffer shared with JS (see `common::split_io`); wasm32 has one thread.
    static IO: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Index of the first 8-byte aligned byte of `io` (JS reads the numbers through a
/// `Float64Array`, which must be aligned).
fn aligned_start(io: &[u8]) -> usize {
    let addr = io.as_ptr() as usize;
    (8 - addr % 8) % 8
}

/// Makes the verify buffer at least `size` bytes (and gives back room beyond 4 times
/// that); returns its address in the module's memory (8-byte aligned). The address
/// changes only when the buffer is replaced.
#[wasm_bindgen(js_name = ioReserve)]
pub fn io_reserve(size: u32) -> R<u32> {
    IO.with(|io| {
        let mut io = io.try_borrow_mut().map_err(|_| {
            to_js(keyseal::Error::Internal {
                detail: "verify buffer in use",
            })
        })?;
        let want = size as usize + 8;
        if io.len() < want || io.len() / 4 > want {
            *io = vec![0; want];
        }
        let start = aligned_start(&io);
        Ok((io.as_ptr() as usize + start) as u32)
    })
}

/// Where the token starts in the verify buffer (the numbers come first).
#[wasm_bindgen(js_name = ioTokenOffset)]
pub fn io_token_offset() -> u32 {
    common::IO_TOKEN as u32
}

/// The module's memory, for the wrapper's views of the verify buffer.
#[wasm_bindgen(js_name = wasmMemory)]
pub fn wasm_memory() -> JsValue {
    wasm_bindgen::memory()
}

/// `[code0, family0, code1, family1, ...]`, as a JS array.
#[wasm_bindgen(js_name = errorTable)]
pub fn error_table() -> js_sys::Array {
    common::error_table()
        .iter()
        .map(|s| JsValue::from_str(s))
        .collect()
}

/// A parsed or generated key; the secret is only reachable through the `expose*` methods.
#[wasm_bindgen]
pub struct ApiKey(CoreApiKey);

#[wasm_bindgen]
impl ApiKey {
    /// The prefix.
    pub fn prefix(&self) -> String {
        self.0.prefix().to_owned()
    }
    /// The public id.
    pub fn id(&self) -> String {
        self.0.id().to_owned()
    }
    /// The checksum.
    pub fn checksum(&self) -> String {
        self.0.checksum().to_owned()
    }
    /// `prefix_id`.
    #[wasm_bindgen(js_name = accessKey)]
    pub fn access_key(&self) -> String {
        self.0.access_key().to_owned()
    }
    /// The whole key.
    pub fn expose(&self) -> String {
        self.0.expose().to_owned()
    }
    /// The secret part.
    #[wasm_bindgen(js_name = exposeSecret)]
    pub fn expose_secret(&self) -> String {
        self.0.expose_secret().to_owned()
    }
    /// The secret and its checksum.
    #[wasm_bindgen(js_name = exposeSecretKey)]
    pub fn expose_secret_key(&self) -> String {
        self.0.expose_secret_key().to_owned()
    }
    /// `prefix_id_…`.
    pub fn display(&self) -> String {
        self.0.to_string()
    }
}

/// A key format.
#[wasm_bindgen]
pub struct KeyFormat(keyseal::KeyFormat);

#[wasm_bindgen]
impl KeyFormat {
    /// `prefix` with id and secret lengths.
    #[wasm_bindgen(constructor)]
    pub fn new(prefix: &str, id_len: u32, secret_len: u32) -> R<KeyFormat> {
        keyseal::KeyFormat::new(prefix)
            .and_then(|f| f.with_lengths(id_len as usize, secret_len as usize))
            .map(KeyFormat)
            .map_err(to_js)
    }
    /// A key from the OS CSPRNG (Web Crypto).
    pub fn generate(&self) -> R<ApiKey> {
        self.0.generate_os().map(ApiKey).map_err(to_js)
    }
    /// A key from fixed bytes (tests and vectors).
    #[wasm_bindgen(js_name = generateFromEntropy)]
    pub fn generate_from_entropy(&self, entropy: &[u8]) -> R<ApiKey> {
        self.0
            .generate(&mut FixedEntropy::new(entropy))
            .map(ApiKey)
            .map_err(to_js)
    }
    /// Parses a key of this format.
    pub fn parse(&self, key: &str) -> R<ApiKey> {
        self.0.parse(key).map(ApiKey).map_err(to_js)
    }
    /// Checks a key of this format.
    pub fn check(&self, key: &str) -> R<bool> {
        self.0.check(key).map(|_| true).map_err(to_js)
    }
}

/// Parses a key of any format.
#[wasm_bindgen(js_name = parseKey)]
pub fn parse_key(key: &str) -> R<ApiKey> {
    keyseal::parse_key(key).map(ApiKey).map_err(to_js)
}

/// Plain SHA-256 hex of a key.
#[wasm_bindgen(js_name = sha256Hex)]
pub fn sha256_hex(key: &str) -> String {
    keyseal::digest::sha256_hex(key)
}

/// HMAC-SHA256.
#[wasm_bindgen(js_name = hmacSha256)]
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> R<Vec<u8>> {
    keyseal::token::hmac_sha256(key, data)
        .map(|m| m.to_vec())
        .map_err(to_js)
}

/// A pepper.
#[wasm_bindgen]
pub struct Pepper(keyseal::Pepper);

#[wasm_bindgen]
impl Pepper {
    /// `id` and secret bytes.
    #[wasm_bindgen(constructor)]
    pub fn new(id: &str, secret: &[u8]) -> R<Pepper> {
        keyseal::Pepper::new(id, secret).map(Pepper).map_err(to_js)
    }
    /// The pepper's id.
    pub fn id(&self) -> String {
        self.0.id().to_owned()
    }
}

/// Current pepper plus previous ones.
#[wasm_bindgen]
pub struct PepperSet(keyseal::PepperSet);

#[wasm_bindgen]
impl PepperSet {
    /// A set with `current`.
    #[wasm_bindgen(constructor)]
    pub fn new(current: &Pepper) -> PepperSet {
        PepperSet(keyseal::PepperSet::new(current.0.clone()))
    }
    /// Adds a previous pepper.
    #[wasm_bindgen(js_name = addPrevious)]
    pub fn add_previous(&mut self, pepper: &Pepper) -> R<()> {
        self.0 = self
            .0
            .clone()
            .with_previous(pepper.0.clone())
            .map_err(to_js)?;
        Ok(())
    }
    /// The stored digest of `key`.
    pub fn digest(&self, key: &str) -> String {
        self.0.digest(key)
    }
    /// `"current"` or `"outdated"`.
    pub fn verify(&self, key: &str, stored: &str) -> R<String> {
        match self.0.verify(key, stored).map_err(to_js)? {
            keyseal::DigestStatus::Current => Ok("current".to_owned()),
            keyseal::DigestStatus::Outdated => Ok("outdated".to_owned()),
        }
    }
}

/// A token key.
#[wasm_bindgen]
pub struct TokenKey(keyseal::TokenKey);

#[wasm_bindgen]
impl TokenKey {
    /// `kid`, secret bytes, algorithm name, optional end of grace period.
    #[wasm_bindgen(constructor)]
    pub fn new(kid: &str, secret: &[u8], alg: &str, verify_until: Option<f64>) -> R<TokenKey> {
        let alg = common::algorithm(alg).map_err(to_js)?;
        let mut key = keyseal::TokenKey::new(kid, alg, secret).map_err(to_js)?;
        if let Some(t) = verify_until {
            key = key.with_verify_until(common::time_from_f64("verifyUntil", t).map_err(to_js)?);
        }
        Ok(TokenKey(key))
    }
    /// The key id.
    pub fn kid(&self) -> String {
        self.0.kid().to_owned()
    }
    /// The algorithm.
    pub fn alg(&self) -> String {
        self.0.algorithm().as_str().to_owned()
    }
}

/// Compiled verify options.
#[wasm_bindgen]
pub struct Validation(keyseal::Validation);

#[wasm_bindgen]
impl Validation {
    /// From verify options JSON.
    #[wasm_bindgen(constructor)]
    pub fn new(json: &str) -> R<Validation> {
        common::validation_from_json(json)
            .map(Validation)
            .map_err(to_js)
    }
}

/// A keyset, with the buffers its verify reuses (the decoded payload and the result).
#[wasm_bindgen]
pub struct Keyset {
    keyset: keyseal::Keyset,
    payload: Vec<u8>,
    parts: String,
}

#[wasm_bindgen]
impl Keyset {
    /// A keyset signing with `signing`.
    #[wasm_bindgen(constructor)]
    pub fn new(signing: &TokenKey) -> Keyset {
        Keyset {
            keyset: keyseal::Keyset::new(signing.0.clone()),
            payload: Vec::new(),
            parts: String::new(),
        }
    }
    /// Adds a verify-only key.
    #[wasm_bindgen(js_name = addVerifyOnly)]
    pub fn add_verify_only(&mut self, key: &TokenKey) -> R<()> {
        self.keyset = self
            .keyset
            .clone()
            .with_verify_only(key.0.clone())
            .map_err(to_js)?;
        Ok(())
    }
    /// Rotates to `next`; the old signing key verifies until `grace_until`.
    pub fn rotate(&mut self, next: &TokenKey, grace_until: f64) -> R<()> {
        let until = common::time_from_f64("graceUntil", grace_until).map_err(to_js)?;
        self.keyset = self
            .keyset
            .clone()
            .rotate(next.0.clone(), until)
            .map_err(to_js)?;
        Ok(())
    }
    /// Signs claims given as JSON.
    pub fn issue(&self, claims_json: &str) -> R<String> {
        let claims = common::claims_from_json(claims_json).map_err(to_js)?;
        self.keyset.issue(&claims).map_err(to_js)
    }
    /// Verifies the token whose UTF-8 bytes the npm wrapper wrote into the verify buffer
    /// (`ioReserve`) with `TextEncoder.encodeInto`, so no string is passed in; returns the
    /// string of `common::write_verified` and writes its numbers into the buffer. The
    /// payload is decoded into a buffer the keyset keeps, and the claims are read in place.
    pub fn verify(&mut self, len: u32, now: f64, validation: &Validation) -> R<String> {
        let now = common::time_from_f64("now", now).map_err(to_js)?;
        IO.with(|io| {
            let mut io = io.try_borrow_mut().map_err(|_| {
                to_js(keyseal::Error::Internal {
                    detail: "verify buffer in use",
                })
            })?;
            let start = aligned_start(&io);
            let io = io.get_mut(start..).unwrap_or_default();
            let (meta, token) = common::split_io(io, len).map_err(to_js)?;
            let v = self
                .keyset
                .verify_borrowed(token, &validation.0, now, &mut self.payload)
                .map_err(to_js)?;
            common::write_verified(&v, &mut self.parts, meta).map_err(to_js)?;
            Ok(self.parts.clone())
        })
    }
    /// Issues an exchange token; returns `{"token","claims"}` JSON.
    pub fn exchange(&self, args_json: &str) -> R<String> {
        common::exchange_to_json(&self.keyset, args_json).map_err(to_js)
    }
}

/// A key policy.
#[wasm_bindgen]
pub struct KeyPolicy(keyseal::KeyPolicy);

#[wasm_bindgen]
impl KeyPolicy {
    /// From policy JSON.
    #[wasm_bindgen(constructor)]
    pub fn new(json: &str) -> R<KeyPolicy> {
        common::policy_from_json(json).map(KeyPolicy).map_err(to_js)
    }
    /// Checks a request context given as JSON.
    pub fn check(&self, context_json: &str) -> R<bool> {
        common::check_policy_json(&self.0, context_json)
            .map(|()| true)
            .map_err(to_js)
    }
}

/// `[kind, source, value]` from `[name0, value0, name1, value1, ...]`.
#[wasm_bindgen(js_name = extractCredential)]
pub fn extract_credential(flat: Vec<String>) -> R<Vec<String>> {
    common::extract_flat(&flat).map_err(to_js)
}
