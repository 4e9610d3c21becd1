//! `keyseal inspect`: a key read offline (never printing its secret).

use serde_json::json;

use super::exit::Exit;
use super::{CliResult, read_arg};

pub fn inspect(key: &str, json_out: bool) -> CliResult {
    let key = zeroize::Zeroizing::new(read_arg(key.to_owned())?);
    let parsed = keyseal::parse_key(&key);
    // Structure from the right: <prefix>_<id>_<secret+checksum>; the secret never prints.
    let mut parts = key.rsplitn(3, '_');
    let tail_len = parts.next().map_or(0, str::len);
    let id = parts.next().unwrap_or("");
    let prefix = parts.next().unwrap_or("");
    let (valid, code) = match &parsed {
        Ok(_) => (true, "ok"),
        Err(e) => (false, e.code()),
    };
    // The last 6 characters are the CRC32 of the rest (checked even when another part
    // of the key is malformed).
    let bytes = key.as_bytes();
    let checksum_valid = bytes.len() > keyseal::key::CHECKSUM_LEN && {
        let (body, sum) = bytes.split_at(bytes.len() - keyseal::key::CHECKSUM_LEN);
        keyseal::key::checksum(body) == sum
    };
    let (prefix, id) = match &parsed {
        Ok(k) => (k.prefix().to_owned(), k.id().to_owned()),
        Err(_) => (prefix.to_owned(), id.to_owned()),
    };
    let safe = |s: &str| -> Option<String> {
        (!s.is_empty()
            && s.len() <= 64
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .then(|| s.to_owned())
    };
    let out = json!({
        "valid": valid,
        "code": code,
        "prefix": safe(&prefix),
        "id": safe(&id),
        "checksum_valid": checksum_valid,
        "secret_length": tail_len.saturating_sub(6),
    });
    if json_out {
        println!("{out}");
    } else {
        println!("prefix:          {}", out["prefix"].as_str().unwrap_or("-"));
        println!("id:              {}", out["id"].as_str().unwrap_or("-"));
        println!("checksum valid:  {checksum_valid}");
        println!("result:          {code}");
    }
    Ok(if valid { Exit::Success } else { Exit::Negative })
}
