//! Hand-written fast paths. Each file is an optimisation of a reference implementation
//! and holds the tests that compare it with that reference, so what may be replaced by
//! the plain version (and what it must agree with) is visible in one place.
//!
//! | file | optimises (the reference) | why |
//! | --- | --- | --- |
//! | `hmac_sha256.rs` | `hmac::Hmac<sha2::Sha256>` | no buffer copies on the key-digest and HS256 hot paths |
//! | `base64url.rs` | `base64`'s `URL_SAFE_NO_PAD` decoder | one table lookup a character on token segments |
//! | `ct_eq.rs` | `subtle`'s `ConstantTimeEq` on slices | eight bytes a step for MAC and digest checks |
//! | `crc32.rs` | the bytewise one-table CRC-32 | crc32fast's slice-by-16 natively (the bytewise one on wasm) |
//!
//! The claims reader has the same arrangement inside `token/`: `claims_parse_fast.rs`
//! optimises the serde reader in `claims_parse.rs`.

pub(crate) mod base64url;
pub(crate) mod crc32;
pub(crate) mod ct_eq;
pub(crate) mod hmac_sha256;
