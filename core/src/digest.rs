//! Peppered key digests: what a database stores instead of the key.
//!
//! `digest = HMAC-SHA256(pepper, key)` over the whole key text, keyed by a server-side
//! pepper kept apart from the database (NIST SP 800-63B section 5.1.1.2), stored as
//! `v1.<pepper_id>.<base64url, no padding>`. The pepper id lets peppers rotate: a
//! [`PepperSet`] verifies against every configured pepper and reports
//! [`DigestStatus::Outdated`] when the digest should be recomputed with the current one.
//!
//! Digests made by another system (plain SHA-256 of the key, hex or base64, optionally
//! written `sha256:<digest>`) verify too, and are always `Outdated`, so they get upgraded
//! on the next successful verification.
//!
//! Keys carry at least 160 bits of entropy, so a fast keyed hash is the right tool: a slow
//! password hash would add cost without adding security.

use alloc::string::String;
use alloc::vec::Vec;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use core::fmt;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

use crate::fast::hmac_sha256::HmacSha256;

/// Shortest pepper accepted: 16 bytes (128 bits). 32 random bytes are recommended.
pub const MIN_PEPPER_LEN: usize = 16;
/// Version tag of the stored form.
pub const DIGEST_VERSION: &str = "v1";

/// A server-side secret that keys digests, with an id stored next to each digest.
#[derive(Clone)]
pub struct Pepper {
    id: String,
    // HMAC key state computed once: each digest then costs only the message blocks.
    mac: HmacSha256,
}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pepper")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Pepper {
    /// A pepper with `id` (1-32 characters of `[A-Za-z0-9_-]`) and `secret` (at least 16
    /// bytes).
    pub fn new(id: &str, secret: &[u8]) -> Result<Pepper> {
        if id.is_empty()
            || id.len() > 32
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(Error::InvalidPepper {
                found: "expected an id of 1-32 characters of [A-Za-z0-9_-]",
            });
        }
        if secret.len() < MIN_PEPPER_LEN {
            return Err(Error::InvalidPepper {
                found: "expected a secret of at least 16 bytes",
            });
        }
        let mac = HmacSha256::new(secret);
        Ok(Pepper {
            id: String::from(id),
            mac,
        })
    }

    /// The pepper's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn mac(&self, key: &[u8]) -> [u8; 32] {
        self.mac.mac(key)
    }
}

/// Whether a verified digest is up to date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestStatus {
    /// Made with the current pepper: nothing to do.
    Current,
    /// Made with an older pepper or imported as plain SHA-256: store
    /// [`PepperSet::digest`] of the key in its place.
    Outdated,
}

impl DigestStatus {
    /// True when the stored digest should be replaced.
    pub fn needs_rehash(self) -> bool {
        self == DigestStatus::Outdated
    }
}

/// The current pepper (used for new digests) plus older ones (still accepted).
#[derive(Clone, Debug)]
pub struct PepperSet {
    current: Pepper,
    previous: Vec<Pepper>,
}

impl PepperSet {
    /// A set whose current pepper is `current`.
    pub fn new(current: Pepper) -> PepperSet {
        PepperSet {
            current,
            previous: Vec::new(),
        }
    }

    /// Adds an older pepper that still verifies. Fails with `invalid_pepper` on a
    /// duplicate id.
    pub fn with_previous(mut self, pepper: Pepper) -> Result<PepperSet> {
        if self.find(&pepper.id).is_some() {
            return Err(Error::InvalidPepper {
                found: "two peppers share an id",
            });
        }
        self.previous.push(pepper);
        Ok(self)
    }

    /// The current pepper.
    pub fn current(&self) -> &Pepper {
        &self.current
    }

    fn find(&self, id: &str) -> Option<&Pepper> {
        if self.current.id == id {
            return Some(&self.current);
        }
        self.previous.iter().find(|p| p.id == id)
    }

    /// The stored form of `key`'s digest under the current pepper:
    /// `v1.<pepper_id>.<base64url>`.
    pub fn digest(&self, key: &str) -> String {
        let mac = self.current.mac(key.as_bytes());
        let mut out = String::with_capacity(3 + self.current.id.len() + 1 + 43);
        out.push_str(DIGEST_VERSION);
        out.push('.');
        out.push_str(&self.current.id);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(mac, &mut out);
        out
    }

    /// Verifies `key` against a `stored` digest (peppered or imported SHA-256).
    ///
    /// The comparison is constant-time over the 32 digest bytes; lengths are fixed by the
    /// format, so they are checked first.
    pub fn verify(&self, key: &str, stored: &str) -> Result<DigestStatus> {
        match parse_stored(stored)? {
            Stored::Peppered { pepper_id, mac } => {
                let pepper = self.find(pepper_id).ok_or(Error::UnknownPepper)?;
                let actual = pepper.mac(key.as_bytes());
                if !crate::fast::ct_eq::ct_eq32(&actual, &mac) {
                    return Err(Error::DigestMismatch);
                }
                if core::ptr::eq(pepper, &self.current) {
                    Ok(DigestStatus::Current)
                } else {
                    Ok(DigestStatus::Outdated)
                }
            }
            Stored::Sha256(expected) => {
                let actual: [u8; 32] = Sha256::digest(key.as_bytes()).into();
                if !crate::fast::ct_eq::ct_eq32(&actual, &expected) {
                    return Err(Error::DigestMismatch);
                }
                Ok(DigestStatus::Outdated)
            }
        }
    }
}

/// The plain SHA-256 of `key` as lowercase hex: the form other systems commonly store,
/// accepted by [`PepperSet::verify`] for imports.
pub fn sha256_hex(key: &str) -> String {
    let d = Sha256::digest(key.as_bytes());
    let mut out = String::with_capacity(64);
    for b in d {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// What a stored digest turned out to be.
enum Stored<'s> {
    Peppered { pepper_id: &'s str, mac: [u8; 32] },
    Sha256([u8; 32]),
}

/// Parses the stored form of a digest.
fn parse_stored(stored: &str) -> Result<Stored<'_>> {
    if stored.len() > 128 {
        return Err(Error::MalformedDigest {
            found: "more than 128 characters",
        });
    }
    if let Some(rest) = stored.strip_prefix("v1.") {
        let (pepper_id, b64) = rest.split_once('.').ok_or(Error::MalformedDigest {
            found: "v1 without a pepper id",
        })?;
        if pepper_id.is_empty() {
            return Err(Error::MalformedDigest {
                found: "an empty pepper id",
            });
        }
        let mac = decode32_url(b64).ok_or(Error::MalformedDigest {
            found: "a v1 digest that is not 32 bytes of unpadded base64url",
        })?;
        return Ok(Stored::Peppered { pepper_id, mac });
    }
    if stored.starts_with('v') && stored.contains('.') {
        return Err(Error::MalformedDigest {
            found: "an unknown version tag",
        });
    }
    let body = stored.strip_prefix("sha256:").unwrap_or(stored);
    let digest = match body.len() {
        64 => decode_hex32(body),
        43 | 44 => decode32(
            body,
            &[&STANDARD, &URL_SAFE, &STANDARD_NO_PAD, &URL_SAFE_NO_PAD],
        ),
        _ => None,
    };
    digest.map(Stored::Sha256).ok_or(Error::MalformedDigest {
        found: "neither a v1 digest nor 32 bytes of hex or base64",
    })
}

fn decode32(s: &str, engines: &[&base64::engine::GeneralPurpose]) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    for engine in engines {
        // 43 unpadded base64 characters decode to 32 bytes and need a 33-byte scratch
        // buffer with this crate's estimate; decode_slice checks the real length.
        let mut buf = [0u8; 36];
        if let Ok(32) = engine.decode_slice(s.as_bytes(), &mut buf) {
            out.copy_from_slice(&buf[..32]);
            return Some(out);
        }
    }
    None
}

/// Decodes exactly 43 characters of canonical unpadded base64url into 32 bytes: the hot
/// path of every verification, so it avoids the general decoder's bookkeeping.
fn decode32_url(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    (s.len() == 43 && crate::fast::base64url::decode_url(s.as_bytes(), &mut out) == Some(32))
        .then_some(out)
}

fn decode_hex32(s: &str) -> Option<[u8; 32]> {
    let bytes = s.as_bytes();
    let mut out = [0u8; 32];
    for (i, slot) in out.iter_mut().enumerate() {
        let hi = hex_val(bytes[2 * i])?;
        let lo = hex_val(bytes[2 * i + 1])?;
        *slot = (hi << 4) | lo;
    }
    Some(out)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}
