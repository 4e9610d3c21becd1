//! Exchange tokens: the claims of the short-lived token a verified API key is exchanged
//! for ([`exchange_claims`]), with `sub`, `scope` and `role` taken from the key.

use alloc::string::String;
use serde_json::{Map, Value};

use super::claims::{Audience, Claims};
use crate::error::{Error, Result};

/// Options of [`exchange_claims`]: the short-lived token a verified API key is exchanged
/// for (the key-for-token flow of `docs/compat.md`, `apiKey/authenticate`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExchangeOptions {
    /// Lifetime in seconds. Defaults to 600 (10 minutes); 1 to 86400.
    pub ttl: u64,
    /// `iss` of the token. Defaults to none.
    pub issuer: Option<String>,
    /// `aud` of the token. Defaults to none.
    pub audience: Option<String>,
    /// `jti` of the token (pass a random id to make tokens unique). Defaults to none.
    pub jti: Option<String>,
}

impl Default for ExchangeOptions {
    fn default() -> Self {
        ExchangeOptions {
            ttl: DEFAULT_EXCHANGE_TTL,
            issuer: None,
            audience: None,
            jti: None,
        }
    }
}

/// Default lifetime of an exchange token: 600 seconds.
pub const DEFAULT_EXCHANGE_TTL: u64 = 600;

/// What an exchange token says about the key it was issued for.
#[derive(Clone, Copy, Debug)]
pub struct KeyIdentity<'a> {
    /// The key's public id; carried as the `key_id` claim.
    pub key_id: &'a str,
    /// The user the key acts for; becomes `sub` (the key id when absent).
    pub owner: Option<&'a str>,
    /// The key's scopes; joined with spaces into `scope` (omitted when empty).
    pub scopes: &'a [&'a str],
    /// The key's role.
    pub role: Option<&'a str>,
}

/// The claims of an exchange token for `key` at `now`: `sub` (owner, else key id),
/// `exp = now + ttl`, `iat = now`, `scope`, `role`, `key_id`, and the options' `iss`,
/// `aud`, `jti`.
pub fn exchange_claims(
    key: &KeyIdentity<'_>,
    now: i64,
    options: &ExchangeOptions,
) -> Result<Claims> {
    if !(1..=86_400).contains(&options.ttl) {
        return Err(Error::InvalidConfig {
            setting: "ttl",
            expected: "1 to 86400 seconds",
        });
    }
    let mut scope = String::new();
    for (i, s) in key.scopes.iter().enumerate() {
        if i > 0 {
            scope.push(' ');
        }
        scope.push_str(s);
    }
    let mut extra = Map::new();
    extra.insert(
        String::from("key_id"),
        Value::String(String::from(key.key_id)),
    );
    Ok(Claims {
        iss: options.issuer.clone(),
        sub: Some(String::from(key.owner.unwrap_or(key.key_id))),
        aud: options
            .audience
            .clone()
            .map_or(Audience::None, Audience::One),
        exp: Some(now.saturating_add(options.ttl as i64)),
        nbf: None,
        iat: Some(now),
        jti: options.jti.clone(),
        scope: if scope.is_empty() { None } else { Some(scope) },
        role: key.role.map(String::from),
        extra,
    })
}
