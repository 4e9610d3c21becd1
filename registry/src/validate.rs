//! Input checks. Every failure is one of keyseal's error codes with a fixed detail: input
//! is never echoed back (it may be hostile, or a key pasted into the wrong field).

use std::str::FromStr;

use keyseal::{Error, ErrorCode, IpNet, Scope};
use serde_json::{Map, Value};

/// Longest name.
pub const MAX_NAME_LEN: usize = 64;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_LEN: usize = 500;
/// Longest account id, owner id or actor id.
pub const MAX_ID_TEXT_LEN: usize = 128;
/// Longest role.
pub const MAX_ROLE_LEN: usize = 64;
/// Most scopes per key.
pub const MAX_SCOPES: usize = 64;
/// Most allowed IP ranges per key.
pub const MAX_ALLOWED_IPS: usize = 64;
/// Largest metadata object, serialized as JSON.
pub const MAX_METADATA_BYTES: usize = 8192;
/// Most metadata entries.
pub const MAX_METADATA_KEYS: usize = 50;
/// Longest metadata key.
pub const MAX_METADATA_KEY_LEN: usize = 40;

/// Earliest accepted timestamp (`expires_at`, an import's `created_at`): 0, the Unix epoch.
pub const MIN_TIMESTAMP: i64 = 0;
/// Latest accepted timestamp: 253402300799, 9999-12-31T23:59:59Z (the largest RFC 3339
/// date-time, so every accepted time also has a text form).
pub const MAX_TIMESTAMP: i64 = 253_402_300_799;

fn reg(code: ErrorCode, detail: &'static str) -> Error {
    Error::registry(code, detail)
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':')
}

/// A timestamp in Unix seconds within [`MIN_TIMESTAMP`]..=[`MAX_TIMESTAMP`]. Times far
/// outside it are never meaningful, and arithmetic on them (a cap, a grace deadline) must
/// not overflow.
pub(crate) fn timestamp(t: i64) -> Result<i64, Error> {
    if !(MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&t) {
        return Err(reg(
            ErrorCode::InvalidArgument,
            "expected a time in unix seconds from 0 to 253402300799 (9999-12-31T23:59:59Z)",
        ));
    }
    Ok(t)
}

pub(crate) fn account(s: &str) -> Result<(), Error> {
    if s.is_empty() || s.len() > MAX_ID_TEXT_LEN || !s.bytes().all(is_ident_char) {
        return Err(reg(
            ErrorCode::InvalidArgument,
            "expected an account id of 1-128 characters of [A-Za-z0-9_.:-]",
        ));
    }
    Ok(())
}

pub(crate) fn name(s: &str) -> Result<(), Error> {
    if s.is_empty()
        || s.len() > MAX_NAME_LEN
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(reg(
            ErrorCode::InvalidName,
            "expected a name of 1-64 characters of [A-Za-z0-9_-]",
        ));
    }
    Ok(())
}

pub(crate) fn description(s: &str) -> Result<(), Error> {
    if s.chars().count() > MAX_DESCRIPTION_LEN || s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(reg(
            ErrorCode::InvalidArgument,
            "expected a description of at most 500 characters without control characters",
        ));
    }
    Ok(())
}

pub(crate) fn owner(s: &str) -> Result<(), Error> {
    if s.is_empty() || s.len() > MAX_ID_TEXT_LEN || s.chars().any(char::is_control) {
        return Err(reg(
            ErrorCode::InvalidArgument,
            "expected an owner of 1-128 characters without control characters",
        ));
    }
    Ok(())
}

pub(crate) fn actor(a: &crate::types::Actor) -> Result<(), Error> {
    match a {
        crate::types::Actor::User(id) | crate::types::Actor::Key(id) => {
            if id.is_empty() || id.len() > MAX_ID_TEXT_LEN || id.chars().any(char::is_control) {
                return Err(reg(
                    ErrorCode::InvalidArgument,
                    "expected an actor id of 1-128 characters without control characters",
                ));
            }
            Ok(())
        }
        crate::types::Actor::System => Ok(()),
    }
}

pub(crate) fn role(s: &str) -> Result<(), Error> {
    if s.is_empty() || s.len() > MAX_ROLE_LEN || !s.bytes().all(is_ident_char) {
        return Err(reg(
            ErrorCode::InvalidArgument,
            "expected a role of 1-64 characters of [A-Za-z0-9_.:-]",
        ));
    }
    Ok(())
}

/// Checks each scope with the core's rules (`invalid_scope`).
pub(crate) fn scopes(list: &[String]) -> Result<Vec<Scope>, Error> {
    if list.len() > MAX_SCOPES {
        return Err(reg(
            ErrorCode::InvalidArgument,
            "expected at most 64 scopes",
        ));
    }
    list.iter().map(|s| Scope::new(s)).collect()
}

/// Parses each range with the core's rules (`invalid_cidr`); returns the canonical text.
pub(crate) fn allowed_ips(list: &[String]) -> Result<Vec<IpNet>, Error> {
    if list.len() > MAX_ALLOWED_IPS {
        return Err(reg(
            ErrorCode::InvalidArgument,
            "expected at most 64 allowed ip ranges",
        ));
    }
    list.iter().map(|s| IpNet::from_str(s)).collect()
}

pub(crate) fn metadata(m: &Map<String, Value>) -> Result<String, Error> {
    if m.len() > MAX_METADATA_KEYS {
        return Err(reg(
            ErrorCode::InvalidMetadata,
            "expected at most 50 metadata keys",
        ));
    }
    if m.keys()
        .any(|k| k.is_empty() || k.chars().count() > MAX_METADATA_KEY_LEN)
    {
        return Err(reg(
            ErrorCode::InvalidMetadata,
            "expected metadata keys of 1-40 characters",
        ));
    }
    let text = serde_json::to_string(m)
        .map_err(|_| reg(ErrorCode::InvalidMetadata, "metadata is not serializable"))?;
    if text.len() > MAX_METADATA_BYTES {
        return Err(reg(
            ErrorCode::PayloadTooLarge,
            "expected metadata of at most 8192 bytes serialized",
        ));
    }
    Ok(text)
}

/// A public id as the key format makes them: base62 of exactly `len` characters.
pub(crate) fn is_key_id(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

pub(crate) fn limit(l: u32) -> Result<i64, Error> {
    if !(1..=crate::types::MAX_LIMIT).contains(&l) {
        return Err(reg(ErrorCode::InvalidLimit, "expected a limit of 1 to 100"));
    }
    Ok(i64::from(l))
}

pub(crate) fn offset(o: u32) -> Result<i64, Error> {
    if o > crate::types::MAX_OFFSET {
        return Err(reg(
            ErrorCode::InvalidArgument,
            "expected an offset of at most 10000 (use cursors to go deeper)",
        ));
    }
    Ok(i64::from(o))
}
