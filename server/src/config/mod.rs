//! Server secrets and settings: a TOML file created by `keyseal init` (or on the first
//! `keyseal serve`) with 0600 permissions, or environment variables.
//!
//! The file holds the peppers that keys' digests are computed with and the HMAC keys that
//! sign exchange tokens. Lose it and every key stops verifying; leak it and the digests
//! in the database can be attacked offline. It is never logged: [`Settings`]' `Debug`
//! redacts the secrets.
//!
//! Two forms are read. The single form (what `keyseal init` writes):
//!
//! ```toml
//! prefix = "ks"
//! token_ttl = 600
//! [pepper]
//! id = "p-abc123"
//! secret_hex = "..."
//! [token]
//! id = "t-abc123"
//! secret_hex = "..."
//! ```
//!
//! and the list form (what `keyseal rotate` writes), where the entry without
//! `verify_until` is the current one and the others only verify until that time (unix
//! seconds or RFC 3339):
//!
//! ```toml
//! [[peppers]]
//! id = "p-abc123"
//! secret_hex = "..."
//! verify_until = "2027-12-01T00:00:00Z"
//! [[peppers]]
//! id = "p-def456"
//! secret_hex = "..."
//! ```
//!
//! `[[token_keys]]` works the same way. `[imports]` turns on imported digests
//! (`accept_imported_digests = true`) and names other systems' peppers
//! (`[[imports.foreign_peppers]]` with `id` and `secret_hex`), verify-only.
//!
//! By concern: `file` reads and writes that format, `secrets` generates, checks and
//! rotates the secrets, `open` turns a `--db` value and the settings into a registry.

mod file;
mod open;
mod secrets;

use std::fmt;
use std::path::Path;

use zeroize::Zeroizing;

pub use open::{default_config_path, describe_db, open_registry, storage};
pub use secrets::{Rotate, random_base62};

/// Environment variable: the pepper, as hex (at least 16 bytes). With
/// `KEYSEAL_TOKEN_SECRET_HEX` it replaces the config file; setting only one of the two
/// is an `invalid_config` error.
pub const ENV_PEPPER: &str = "KEYSEAL_PEPPER_HEX";
/// Environment variable: the pepper's id. Defaults to `env`.
pub const ENV_PEPPER_ID: &str = "KEYSEAL_PEPPER_ID";
/// Environment variable: the token signing key, as hex (at least 32 bytes).
pub const ENV_TOKEN_SECRET: &str = "KEYSEAL_TOKEN_SECRET_HEX";
/// Environment variable: the token signing key's id. Defaults to `env`.
pub const ENV_TOKEN_KID: &str = "KEYSEAL_TOKEN_KID";
/// Environment variable: the key prefix. Defaults to `ks`.
pub const ENV_PREFIX: &str = "KEYSEAL_PREFIX";

/// Default key prefix of a new installation.
pub const DEFAULT_PREFIX: &str = "ks";
/// Issuer (`iss`) of exchange tokens.
pub const TOKEN_ISSUER: &str = "keyseal";

/// Default grace of `keyseal rotate pepper`: 365 days. Keys move to the new pepper when
/// they are next used; a key not used within the grace stops verifying (`unknown_pepper`)
/// once the old pepper is dropped.
pub const DEFAULT_PEPPER_GRACE: i64 = 365 * 86_400;
/// Margin added to the token lifetime for the default grace of `keyseal rotate
/// token-key`: 1 day, to restart every server. Until a server restarts it still signs
/// with the old key, so the old key must verify for the token lifetime after that.
pub const TOKEN_GRACE_MARGIN: i64 = 86_400;

/// One secret: an id, its bytes and, unless it is the current one, when it stops
/// verifying.
struct Secret {
    id: String,
    bytes: Zeroizing<Vec<u8>>,
    verify_until: Option<i64>,
}

/// The secrets and settings the registry and the token signer need.
pub struct Settings {
    /// Key prefix.
    pub prefix: String,
    /// Exchange token lifetime in seconds.
    pub token_ttl: u64,
    /// Peppers; exactly one has no `verify_until` (the current one).
    peppers: Vec<Secret>,
    /// Token keys; exactly one has no `verify_until` (the signing one).
    token_keys: Vec<Secret>,
    /// See `RegistryConfig::accept_imported_digests`.
    accept_imported_digests: bool,
    /// Other systems' peppers, verify-only.
    foreign_peppers: Vec<Secret>,
    /// Where they came from (a path, or "environment").
    pub source: String,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids = |v: &[Secret]| -> Vec<String> {
            v.iter()
                .map(|s| match s.verify_until {
                    None => format!("{} (current)", s.id),
                    Some(t) => format!("{} (until {t})", s.id),
                })
                .collect()
        };
        f.debug_struct("Settings")
            .field("prefix", &self.prefix)
            .field("token_ttl", &self.token_ttl)
            .field("peppers", &ids(&self.peppers))
            .field("token_keys", &ids(&self.token_keys))
            .field("accept_imported_digests", &self.accept_imported_digests)
            .field("foreign_peppers", &ids(&self.foreign_peppers))
            .field("secrets", &"<redacted>")
            .field("source", &self.source)
            .finish()
    }
}

/// Now, in unix seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Settings {
    /// Secrets from the environment if set, else from `path`; when neither exists and
    /// `create` is set, new secrets are written to `path` (0600). Returns the settings
    /// and whether the file was just created. Setting only one of the two secret
    /// environment variables is an `invalid_config` error.
    pub fn load(path: &Path, create: bool) -> Result<(Settings, bool), String> {
        if let Some(s) = Settings::from_env()? {
            return Ok((s, false));
        }
        if path.exists() {
            return Ok((Settings::read_file(path)?, false));
        }
        if !create {
            return Err(format!(
                "no config at {} and {ENV_PEPPER} / {ENV_TOKEN_SECRET} are not set; run `keyseal init` first",
                path.display()
            ));
        }
        let mut s = Settings::generate()?;
        s.write_new(path)?;
        s.source = path.display().to_string();
        Ok((s, true))
    }
}
