//! The HMAC algorithms a token may use: HS256, HS384, HS512 (RFC 7518 section 3.2).
//!
//! A leaf: it imports nothing from the crate, so [`crate::error`] can name an
//! [`Algorithm`] in its variants without an import circle. Parsing an `alg` name into an
//! algorithm (which can fail) lives with the header reader in `token/header.rs`.

use core::fmt;

/// An HMAC algorithm for tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// HMAC-SHA256.
    HS256,
    /// HMAC-SHA384.
    HS384,
    /// HMAC-SHA512.
    HS512,
}

impl Algorithm {
    /// The JOSE name, e.g. `"HS256"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
        }
    }

    /// The MAC length in bytes, which is also the shortest key RFC 7518 section 3.2
    /// accepts: 32, 48 or 64.
    pub const fn output_len(self) -> usize {
        match self {
            Algorithm::HS256 => 32,
            Algorithm::HS384 => 48,
            Algorithm::HS512 => 64,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
