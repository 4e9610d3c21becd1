//! The MAC state of a token key: computed once per key, so signing and verifying a token
//! costs only the message's compressions (RFC 2104 section 2's precomputed pads).
//!
//! HS256 uses keyseal's own HMAC-SHA256 state ([`crate::fast::hmac_sha256`], an
//! optimisation of the `hmac` crate it is tested against); HS384 and HS512 use the `hmac`
//! crate directly.

use hmac::{KeyInit, Mac};
use sha2::{Sha384, Sha512};

use crate::algorithm::Algorithm;
use crate::error::{Error, Result};
use crate::fast::hmac_sha256::HmacSha256;

/// An HMAC key state computed once per key.
#[derive(Clone)]
pub(super) enum MacState {
    S256(HmacSha256),
    S384(hmac::Hmac<Sha384>),
    S512(hmac::Hmac<Sha512>),
}

/// A MAC output: up to 64 bytes.
pub(super) struct Tag {
    bytes: [u8; 64],
    len: usize,
}

impl Tag {
    pub(super) fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl MacState {
    pub(super) fn new(alg: Algorithm, secret: &[u8]) -> Result<MacState> {
        let bad = |_| Error::Internal {
            detail: "hmac rejected a key length",
        };
        Ok(match alg {
            Algorithm::HS256 => MacState::S256(HmacSha256::new(secret)),
            Algorithm::HS384 => MacState::S384(hmac::Hmac::new_from_slice(secret).map_err(bad)?),
            Algorithm::HS512 => MacState::S512(hmac::Hmac::new_from_slice(secret).map_err(bad)?),
        })
    }

    pub(super) fn sign(&self, data: &[u8]) -> Tag {
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

/// HMAC-SHA256 of `data` under `key`, for the RFC 4231 vectors and as the benchmark floor.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Result<[u8; 32]> {
    Ok(HmacSha256::new(key).mac(data))
}
