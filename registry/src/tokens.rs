//! Exchange tokens and the key they stand for: what a token says about its key, and the
//! rule that decides whether a token is still good when it is presented.
//!
//! Every account shares the registry's signing key and issuer, and a key's `owner` is
//! free text an account owner chooses. So `sub` alone cannot say which tenant a token
//! speaks for: an owner of one account could name a user of another as a key's owner.
//! Each exchange token therefore carries its key's account (the [`ACCOUNT_CLAIM`]) next
//! to the key id, and a consuming service must compare that account with the tenant it
//! serves before trusting `sub`, `role` or `scope`.
//!
//! A token never outlives its key: `exp` is capped at the key's `expires_at`, and a token
//! presented back to the registry ([`crate::Registry::verify_token`]) is refused once its
//! key has been deleted (`key_revoked`), disabled (`key_disabled`) or has expired
//! (`key_expired`), whatever the token's own `exp` says. A token issued before its key's
//! last roll (`iat` before `rolled_at`) lives as long as the old secret does: until the
//! roll's grace period ends, or not at all after a roll without one (`key_revoked`). A
//! token issued in the very second of a roll counts as issued after it.

use keyseal::token::{ExchangeOptions, KeyIdentity, exchange_claims};
use keyseal::{Claims, Error, Validation};
use serde_json::Value;

use crate::types::KeyRecord;

/// The claim naming the account (tenant) of the key a token was issued for.
pub const ACCOUNT_CLAIM: &str = "account";
/// The claim naming the public id of the key a token was issued for.
pub const KEY_ID_CLAIM: &str = "key_id";

/// The claims of an exchange token for `record` at `now`: the core's exchange claims
/// (`sub`, `scope`, `role`, `key_id`, `iat`, `exp = now + ttl`) plus the
/// [`ACCOUNT_CLAIM`], with `exp` capped at the key's own `expires_at`.
pub(crate) fn claims_for(
    record: &KeyRecord,
    now: i64,
    options: &ExchangeOptions,
) -> Result<Claims, Error> {
    let scopes: Vec<&str> = record.scopes.iter().map(String::as_str).collect();
    let identity = KeyIdentity {
        key_id: &record.id,
        owner: record.owner.as_deref(),
        scopes: &scopes,
        role: record.role.as_deref(),
    };
    let mut claims = exchange_claims(&identity, now, options)?;
    if let (Some(exp), Some(key_expires)) = (claims.exp, record.expires_at) {
        claims.exp = Some(exp.min(key_expires));
    }
    claims.extra.insert(
        ACCOUNT_CLAIM.to_owned(),
        Value::String(record.account.clone()),
    );
    Ok(claims)
}

/// The validation exchange tokens are checked with: the core's defaults (`exp`
/// required, no leeway) plus the configured issuer and audience, when set.
pub(crate) fn validation(options: &ExchangeOptions) -> Validation {
    let mut v = Validation::new();
    if let Some(iss) = &options.issuer {
        v = v.with_issuer(iss);
    }
    if let Some(aud) = &options.audience {
        v = v.with_audience(aud);
    }
    v
}

fn string_claim<'c>(claims: &'c Claims, name: &'static str) -> Result<&'c str, Error> {
    match claims.extra.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(Error::InvalidClaim {
            claim: name,
            expected: "a string",
        }),
        None => Err(Error::MissingClaim { claim: name }),
    }
}

/// The account and key id a token is bound to. Tokens without both (issued before
/// tokens were bound to accounts, or not by a registry) are refused with
/// `missing_claim`.
pub(crate) fn binding(claims: &Claims) -> Result<(&str, &str), Error> {
    Ok((
        string_claim(claims, ACCOUNT_CLAIM)?,
        string_claim(claims, KEY_ID_CLAIM)?,
    ))
}

/// Whether a token bound to `account` and issued at `iat` is still good for the key
/// `record` at `now`: the key must belong to that account (a token can never move between
/// tenants), not be deleted, be enabled, not have expired, and, when the token predates
/// the key's last roll, the old secret's grace period must still run.
pub(crate) fn check_key(
    record: &KeyRecord,
    account: &str,
    iat: Option<i64>,
    now: i64,
) -> Result<(), Error> {
    if record.account != account || record.deleted_at.is_some() {
        return Err(Error::KeyRevoked);
    }
    if let Some(rolled_at) = record.rolled_at
        && iat.is_none_or(|iat| iat < rolled_at)
        && record
            .previous_secret_expires_at
            .is_none_or(|until| now >= until)
    {
        return Err(Error::KeyRevoked);
    }
    if !record.enabled {
        return Err(Error::KeyDisabled);
    }
    if let Some(expires_at) = record.expires_at
        && now >= expires_at
    {
        return Err(Error::KeyExpired { expires_at, now });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::types::Actor;
    use keyseal::ErrorCode;
    use serde_json::Map;

    fn record(expires_at: Option<i64>) -> KeyRecord {
        KeyRecord {
            id: "0123456789abcdef".into(),
            prefix: "ks".into(),
            account: "acct_a".into(),
            name: "k".into(),
            description: String::new(),
            owner: Some("user_of_b".into()),
            role: Some("admin".into()),
            scopes: vec!["*".into()],
            read_only: false,
            allowed_ips: vec![],
            enabled: true,
            expires_at,
            metadata: Map::new(),
            created_at: 0,
            created_by: Actor::System,
            modified_at: 0,
            modified_by: Actor::System,
            version: 1,
            deleted_at: None,
            last_used_at: None,
            previous_secret_expires_at: None,
            rolled_at: None,
            limits: Vec::new(),
            credits: None,
        }
    }

    #[test]
    fn claims_carry_the_account_and_never_outlive_the_key() {
        let opts = ExchangeOptions::default();
        let c = claims_for(&record(Some(1_000_003)), 1_000_000, &opts).unwrap();
        assert_eq!(c.exp, Some(1_000_003), "exp is capped at the key's expiry");
        assert_eq!(binding(&c).unwrap(), ("acct_a", "0123456789abcdef"));
        assert!(matches!(c.aud, keyseal::Audience::None));
        let c = claims_for(&record(None), 1_000_000, &opts).unwrap();
        assert_eq!(c.exp, Some(1_000_600));
    }

    #[test]
    fn a_token_is_good_only_for_its_own_account_and_a_live_key() {
        let mut r = record(Some(2_000));
        assert!(check_key(&r, "acct_a", Some(900), 1_000).is_ok());
        let code = |r: Result<(), Error>| r.unwrap_err().error_code();
        assert_eq!(
            code(check_key(&r, "acct_b", Some(900), 1_000)),
            ErrorCode::KeyRevoked
        );
        assert_eq!(
            code(check_key(&r, "acct_a", Some(900), 2_000)),
            ErrorCode::KeyExpired
        );
        // Rolled at 950 with a grace period until 1_100: older tokens live until then.
        r.rolled_at = Some(950);
        r.previous_secret_expires_at = Some(1_100);
        assert!(check_key(&r, "acct_a", Some(900), 1_000).is_ok());
        assert!(check_key(&r, "acct_a", Some(950), 1_500).is_ok());
        assert_eq!(
            code(check_key(&r, "acct_a", Some(900), 1_100)),
            ErrorCode::KeyRevoked
        );
        // Without `iat` a token counts as issued before the roll.
        assert!(check_key(&r, "acct_a", None, 1_000).is_ok());
        assert_eq!(
            code(check_key(&r, "acct_a", None, 1_100)),
            ErrorCode::KeyRevoked
        );
        r.previous_secret_expires_at = None;
        assert_eq!(
            code(check_key(&r, "acct_a", Some(900), 1_000)),
            ErrorCode::KeyRevoked
        );
        r.rolled_at = None;
        r.enabled = false;
        assert_eq!(
            code(check_key(&r, "acct_a", Some(900), 1_000)),
            ErrorCode::KeyDisabled
        );
        r.deleted_at = Some(1_500);
        assert_eq!(
            code(check_key(&r, "acct_a", Some(900), 1_000)),
            ErrorCode::KeyRevoked
        );
    }

    #[test]
    fn unbound_tokens_are_refused() {
        let mut c = Claims::default();
        assert_eq!(
            binding(&c).unwrap_err().error_code(),
            ErrorCode::MissingClaim
        );
        c.extra.insert(
            ACCOUNT_CLAIM.into(),
            Value::Number(serde_json::Number::from(3)),
        );
        assert_eq!(
            binding(&c).unwrap_err().error_code(),
            ErrorCode::InvalidClaim
        );
    }
}
