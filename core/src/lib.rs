#![no_std]
#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;

mod algorithm;
pub mod digest;
pub mod error;
mod fast;
pub mod headers;
pub mod key;
pub mod meter;
pub mod policy;
pub mod token;

pub use digest::{DigestStatus, Pepper, PepperSet, sha256_hex};
pub use error::{Error, ErrorCode, ErrorFamily, Result};
pub use headers::{Credential, CredentialSource, extract_credential};
#[cfg(feature = "getrandom")]
pub use key::OsRandom;
pub use key::{ApiKey, FixedEntropy, KeyFormat, KeyParts, RandomSource, parse_key};
pub use meter::{
    CreditDecision, CreditState, Credits, LimitDecision, Meter, MeterAnswer, MeterSpec, RateLimit,
    Refill, RefillInterval, Verdict, WindowState, spend_all,
};
pub use policy::{IpNet, KeyPolicy, RequestContext, Scope};
pub use token::{
    Algorithm, Audience, AudienceRef, Claim, Claims, ClaimsRef, ExchangeOptions, KeyIdentity,
    Keyset, TokenKey, Validation, VerifiedRef, VerifiedToken, exchange_claims, hmac_sha256,
};

/// Internals exposed for the fuzz targets only (feature `fuzzing`); not a public API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz {
    /// The fast claims reader used by verification.
    pub fn parse_claims(bytes: &[u8]) -> crate::Result<crate::Claims> {
        crate::token::claims_parse_fast::parse_claims(bytes)
    }
    /// The serde_json reader the fast one must agree with.
    pub fn parse_claims_reference(bytes: &[u8]) -> crate::Result<crate::Claims> {
        crate::token::claims_parse::parse_claims_reference(bytes)
    }
}

/// The crate's version, which is the version of every keyseal package.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
