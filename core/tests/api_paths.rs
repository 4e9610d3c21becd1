//! The public paths of `keyseal::token` and `keyseal::error` from before `token.rs` was
//! split into `token/` still resolve, with the same types.

#![allow(missing_docs)]

use keyseal::error::{Error, ErrorCode, ErrorFamily, Result};
use keyseal::token::{
    Algorithm, Audience, AudienceRef, Claim, Claims, ClaimsRef, DEFAULT_EXCHANGE_TTL,
    DEFAULT_MAX_TOKEN_LEN, ExchangeOptions, KeyIdentity, Keyset, MAX_KID_LEN, MAX_LEEWAY,
    MAX_SAFE_INTEGER, REGISTERED_CLAIMS, TokenKey, Validation, VerifiedRef, VerifiedToken,
    exchange_claims, hmac_sha256,
};

#[test]
fn token_and_error_paths_resolve() {
    let names: [&str; 9] = REGISTERED_CLAIMS;
    let claims: [Claim; 9] = Claim::ALL;
    assert_eq!(names.len(), claims.len());
    assert_eq!(
        (
            MAX_KID_LEN,
            MAX_LEEWAY,
            DEFAULT_MAX_TOKEN_LEN,
            DEFAULT_EXCHANGE_TTL
        ),
        (128, 300, 8192, 600)
    );
    assert_eq!(MAX_SAFE_INTEGER, (1 << 53) - 1);
    assert_eq!(Algorithm::from_name("HS256"), Ok(Algorithm::HS256));
    let _: fn(&KeyIdentity<'_>, i64, &ExchangeOptions) -> Result<Claims> = exchange_claims;
    let _: fn(&[u8], &[u8]) -> Result<[u8; 32]> = hmac_sha256;
    let _: Option<(
        &Keyset,
        &TokenKey,
        &Validation,
        &VerifiedToken,
        &VerifiedRef<'_>,
    )> = None;
    let _: (Audience, AudienceRef<'_>, ClaimsRef<'_>) = Default::default();
    let e: Error = Error::UnsupportedAlgorithm;
    assert_eq!(e.error_code(), ErrorCode::UnsupportedAlgorithm);
    assert_eq!(e.family(), ErrorFamily::Signature);
}
