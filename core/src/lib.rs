#![no_std]
#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;

pub mod digest;
pub mod error;
pub mod headers;
pub mod key;
pub mod policy;
pub mod token;

pub use digest::{DigestStatus, Pepper, PepperSet};
pub use error::{Error, ErrorCode, ErrorFamily, Result};
pub use headers::{Credential, CredentialSource, extract_credential};
#[cfg(feature = "getrandom")]
pub use key::OsRandom;
pub use key::{ApiKey, FixedEntropy, KeyFormat, KeyParts, RandomSource, parse_key};
pub use policy::{IpNet, KeyPolicy, RequestContext, Scope};
pub use token::{
    Algorithm, Audience, Claim, Claims, ExchangeOptions, KeyIdentity, Keyset, TokenKey, Validation,
    VerifiedToken, exchange_claims,
};

/// The crate's version, which is the version of every keyseal package.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
