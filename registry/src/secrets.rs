//! Which stored digests a row may carry, import seals, and the pepper fingerprint.
//!
//! A row's digest is normally a keyseal `v1.<pepper_id>.<mac>` digest under one of the
//! registry's peppers. Digests made elsewhere (plain SHA-256 of the key, or HMAC-SHA256
//! under another system's pepper) verify only on rows brought in by
//! [`crate::Registry::import`] while [`crate::RegistryConfig::accept_imported_digests`]
//! is on. Such a row carries an *import seal*: a `v1.` MAC, under our pepper, of the row's
//! id and imported digest. Whoever can write the database but does not hold the pepper
//! (a restore, a replica, SQL access) cannot make one, so a `sha256(key)` planted on any
//! row (an owner's included) never verifies.

use keyseal::digest::DigestStatus;
use keyseal::{Error, PepperSet};

use crate::config::RegistryConfig;

/// Stored form of a digest made with a foreign pepper:
/// `hmac-sha256:<foreign_pepper_id>:<64 lowercase hex digits>`.
pub(crate) const FOREIGN_TAG: &str = "hmac-sha256:";

/// The label whose MAC under the current pepper is the database's pepper fingerprint.
const FINGERPRINT_LABEL: &str = "keyseal pepper fingerprint v1";

/// The `keyseal_settings` row that holds the fingerprint.
pub(crate) const FINGERPRINT_SETTING: &str = "pepper_fingerprint";

/// What an import seal authenticates: the row's id and its stored digest.
fn seal_message(id: &str, digest: &str) -> String {
    format!("keyseal import seal v1\u{0}{id}\u{0}{digest}")
}

/// The import seal of a row (a `v1.` digest under the current pepper).
pub(crate) fn seal(peppers: &PepperSet, id: &str, digest: &str) -> String {
    peppers.digest(&seal_message(id, digest))
}

/// True when `seal` is a valid import seal of (`id`, `digest`) under any configured pepper.
pub(crate) fn seal_is_valid(peppers: &PepperSet, id: &str, digest: &str, seal: &str) -> bool {
    peppers.verify(&seal_message(id, digest), seal).is_ok()
}

/// The fingerprint of the current pepper: `v1.<pepper_id>.<HMAC-SHA256(pepper, label)>`.
/// It names the pepper and proves knowledge of it without revealing it (the label is
/// public, the MAC is one-way).
pub(crate) fn fingerprint(peppers: &PepperSet) -> String {
    peppers.digest(FINGERPRINT_LABEL)
}

/// Checks a recorded fingerprint against the configured peppers.
pub(crate) fn check_fingerprint(
    peppers: &PepperSet,
    recorded: &str,
) -> Result<DigestStatus, Error> {
    peppers.verify(FINGERPRINT_LABEL, recorded)
}

/// The pepper id of a `v1.<id>.<mac>` string, if it is one.
pub(crate) fn pepper_id_of(stored: &str) -> Option<&str> {
    stored
        .strip_prefix("v1.")
        .and_then(|r| r.split_once('.'))
        .map(|(id, _)| id)
}

/// True when `set` holds a pepper named `id`.
pub(crate) fn has_pepper(set: &PepperSet, id: &str) -> bool {
    // The public API answers `unknown_pepper` only when no pepper has the id; any other
    // answer (a mismatch of this dummy MAC) means it exists.
    let probe = format!("v1.{id}.{}", "A".repeat(43));
    !matches!(set.verify("", &probe), Err(Error::UnknownPepper))
}

/// Checks the foreign peppers of a configuration: unique ids, none shared with ours.
pub(crate) fn check_foreign_peppers(config: &RegistryConfig) -> Result<(), Error> {
    for (i, p) in config.foreign_peppers.iter().enumerate() {
        if has_pepper(&config.peppers, p.id())
            || config.foreign_peppers[..i].iter().any(|q| q.id() == p.id())
        {
            return Err(Error::DuplicateKid);
        }
    }
    Ok(())
}

/// The digest to store for an import, and whether it needs an import seal.
///
/// Errors: `invalid_config` when imports are off and the digest is not one of ours,
/// `unknown_pepper` for a foreign pepper that is not configured, `malformed_digest`.
pub(crate) fn import_digest(
    config: &RegistryConfig,
    digest: &str,
    foreign_pepper: Option<&str>,
) -> Result<(String, bool), Error> {
    let imports_off = || Error::InvalidConfig {
        setting: "accept_imported_digests",
        expected: "true to import digests made without the registry's pepper",
    };
    if let Some(fid) = foreign_pepper {
        if !config.accept_imported_digests {
            return Err(imports_off());
        }
        if !config.foreign_peppers.iter().any(|p| p.id() == fid) {
            return Err(Error::UnknownPepper);
        }
        let hex = digest.trim();
        if decode_hex32(hex).is_none() {
            return Err(Error::MalformedDigest {
                found: "a foreign-pepper digest that is not 64 hex digits",
            });
        }
        return Ok((
            format!("{FOREIGN_TAG}{fid}:{}", hex.to_ascii_lowercase()),
            true,
        ));
    }
    // Parsing needs no key: an empty key can only mismatch or fail to parse.
    if let Err(e) = config.peppers.verify("", digest)
        && matches!(e, Error::MalformedDigest { .. })
    {
        return Err(e);
    }
    if digest.starts_with("v1.") {
        // One of ours (e.g. a copy from another keyseal database with the same pepper).
        return Ok((digest.to_owned(), false));
    }
    if !config.accept_imported_digests {
        return Err(imports_off());
    }
    Ok((digest.to_owned(), true))
}

/// Verifies `key` against a row's `stored` digest. `imported` says whether the row is an
/// accepted import (imports on and a valid seal over this digest): only then may the
/// digest be unpeppered SHA-256 or a foreign pepper's HMAC, and it is always `Outdated`
/// so the caller replaces it with the current pepper's digest.
pub(crate) fn check_digest(
    config: &RegistryConfig,
    key: &str,
    stored: &str,
    imported: bool,
) -> Result<DigestStatus, Error> {
    if stored.starts_with("v1.") {
        return config.peppers.verify(key, stored);
    }
    if !imported {
        // An unpeppered or foreign digest on a row that is not a sealed import: planted.
        return Err(Error::DigestMismatch);
    }
    if let Some(rest) = stored.strip_prefix(FOREIGN_TAG) {
        let malformed = Error::MalformedDigest {
            found: "a foreign-pepper digest that is not <id>:<64 hex digits>",
        };
        let (fid, hex) = rest.split_once(':').ok_or(malformed.clone())?;
        let pepper = config
            .foreign_peppers
            .iter()
            .find(|p| p.id() == fid)
            .ok_or(Error::UnknownPepper)?;
        let mac = decode_hex32(hex).ok_or(malformed)?;
        // The core compares in constant time; give it the MAC in its own stored form.
        let v1 = format!("v1.{fid}.{}", b64url32(&mac));
        PepperSet::new(pepper.clone()).verify(key, &v1)?;
        return Ok(DigestStatus::Outdated);
    }
    config
        .peppers
        .verify(key, stored)
        .map(|_| DigestStatus::Outdated)
}

fn decode_hex32(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, slot) in out.iter_mut().enumerate() {
        let hi = (b[2 * i] as char).to_digit(16)?;
        let lo = (b[2 * i + 1] as char).to_digit(16)?;
        *slot = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

/// 32 bytes as unpadded base64url (43 characters).
fn b64url32(bytes: &[u8; 32]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(43);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use keyseal::Pepper;

    #[test]
    fn base64url_matches_the_core_digest_form() {
        let p = PepperSet::new(Pepper::new("p", &[7u8; 32]).unwrap());
        let d = p.digest("k");
        let b64 = d.rsplit('.').next().unwrap();
        let mut mac = [0u8; 32];
        mac.copy_from_slice(&keyseal_b64_decode(b64));
        assert_eq!(b64url32(&mac), b64);
        assert_eq!(b64url32(&[0xffu8; 32]).len(), 43);
    }

    fn keyseal_b64_decode(s: &str) -> Vec<u8> {
        const A: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut bits = 0u32;
        let mut n = 0;
        let mut out = Vec::new();
        for c in s.chars() {
            bits = (bits << 6) | A.find(c).unwrap() as u32;
            n += 6;
            if n >= 8 {
                n -= 8;
                out.push((bits >> n) as u8);
            }
        }
        out
    }

    #[test]
    fn hex_digests_decode_strictly() {
        assert!(decode_hex32(&"ab".repeat(32)).is_some());
        assert!(decode_hex32(&"AB".repeat(32)).is_some());
        assert!(decode_hex32(&"ab".repeat(31)).is_none());
        assert!(decode_hex32(&format!("{}zz", "ab".repeat(31))).is_none());
    }
}
