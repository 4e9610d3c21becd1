//! HMAC-signed, JWT-compatible tokens (RFC 7519, JWS compact serialization RFC 7515).
//!
//! - Algorithms: HS256, HS384, HS512 (RFC 7518 section 3.2). Each [`TokenKey`] is pinned
//!   to one algorithm, so `none` and algorithm confusion cannot happen (RFC 8725 section
//!   3.1): a token is verified only with its key's own algorithm.
//! - A [`Keyset`] addresses keys by `kid`: one key signs, the others verify until the end
//!   of their grace period ([`Keyset::rotate`]).
//! - [`Keyset::verify`] takes `now` as an argument; nothing here reads a clock.
//!
//! Issued tokens have the header `{"alg":"HS256","typ":"JWT","kid":"<kid>"}` and the
//! registered claims in the order `iss, sub, aud, exp, nbf, iat, jti, scope, role`,
//! followed by extra claims sorted by name, so every runtime produces the same bytes.
//!
//! One concern a file (dependencies point down this list, never up):
//!
//! | file | holds |
//! | --- | --- |
//! | `keyset.rs` | [`Keyset`]: issue and verify, [`VerifiedToken`], [`VerifiedRef`] |
//! | `exchange.rs` | [`exchange_claims`]: the token an API key is exchanged for |
//! | `validation.rs` | [`Validation`]: the checks beyond the signature |
//! | `claims_parse_fast.rs` | the fast claims reader (an optimisation of the next) |
//! | `claims_parse.rs` | the serde reference claims reader |
//! | `header.rs` | JOSE header reading, [`Algorithm::from_name`] |
//! | `claims_ref.rs` | [`ClaimsRef`]: claims borrowed from a payload |
//! | `claims.rs` | [`Claims`] and its serializer |
//! | `claim.rs` | the claim table, the NumericDate rule, the `invalid_claim` texts |
//! | `key.rs` | [`TokenKey`] |
//! | `mac.rs` | the per-key MAC state, [`hmac_sha256`] |
//!
//! [`Algorithm`] itself is in the crate's `algorithm.rs`, a leaf that `error.rs` can use.

mod claim;
mod claims;
pub(crate) mod claims_parse;
pub(crate) mod claims_parse_fast;
mod claims_ref;
mod exchange;
mod header;
mod key;
mod keyset;
mod mac;
mod validation;

pub use crate::algorithm::Algorithm;
pub use claim::{Claim, MAX_SAFE_INTEGER, REGISTERED_CLAIMS};
pub use claims::{Audience, Claims};
pub use claims_ref::{AudienceRef, ClaimsRef};
pub use exchange::{DEFAULT_EXCHANGE_TTL, ExchangeOptions, KeyIdentity, exchange_claims};
pub use key::{MAX_KID_LEN, TokenKey};
pub use keyset::{Keyset, VerifiedRef, VerifiedToken};
pub use mac::hmac_sha256;
pub use validation::{DEFAULT_MAX_TOKEN_LEN, MAX_LEEWAY, Validation};
