//! [`TokenKey`]: a `kid`, the one algorithm the key is pinned to (RFC 8725 section 3.1),
//! its MAC state, an optional grace deadline, and the header keyseal issues with it.

use alloc::string::String;
use alloc::vec::Vec;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use core::fmt;
use zeroize::Zeroizing;

use super::mac::MacState;
use crate::algorithm::Algorithm;
use crate::error::{Error, Result};

/// A token signing key: an id (`kid`), the algorithm it is pinned to, and the secret.
/// `Debug` never shows the secret.
#[derive(Clone)]
pub struct TokenKey {
    pub(super) kid: String,
    pub(super) alg: Algorithm,
    pub(super) mac: MacState,
    pub(super) verify_until: Option<i64>,
    /// The base64url header keyseal issues with this key; tokens carrying exactly this
    /// header skip header decoding on verification.
    pub(super) header_b64: String,
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
