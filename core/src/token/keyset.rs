//! [`Keyset`]: keys addressed by `kid`, issuing with the signing key and verifying
//! (JWS compact serialization, RFC 7515 section 7.1) with the key a token names.
//!
//! Verification order is fixed (size, structure, header, key, algorithm pinning per
//! RFC 8725 section 3.1, grace period, constant-time MAC check, payload, claims), and the
//! payload is not parsed before the signature holds.

use alloc::string::String;
use alloc::vec::Vec;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::claims::Claims;
use super::claims_parse::parse_claims_reference;
use super::claims_parse_fast::parse_claims_into;
use super::claims_ref::ClaimsRef;
use super::header::parse_header;
use super::key::TokenKey;
use super::validation::Validation;
use crate::algorithm::Algorithm;
use crate::error::{Error, Result};

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
        let sig_len = crate::fast::base64url::decode_url(sig_b64.as_bytes(), &mut sig).ok_or(
            Error::InvalidBase64 {
                segment: "signature",
            },
        )?;
        let expected = key.mac.sign(signing_input.as_bytes());
        // Length first (it is public: fixed by the algorithm), then constant time.
        if !crate::fast::ct_eq::ct_eq(&sig[..sig_len], expected.as_slice()) {
            return Err(Error::BadSignature);
        }
        payload.clear();
        crate::fast::base64url::decode_url_append(payload_b64.as_bytes(), payload)
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
        parse_claims_into(text, &mut verified.claims)?;
        validation.check_claims_ref(&verified.claims, now)?;
        Ok(verified)
    }
}

fn decode_segment(b64: &str, segment: &'static str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    crate::fast::base64url::decode_url_append(b64.as_bytes(), &mut out)
        .ok_or(Error::InvalidBase64 { segment })?;
    Ok(out)
}
