//! Server secrets and settings: a TOML file created by `keyseal init` (or on the first
//! `keyseal serve`) with 0600 permissions, or environment variables.
//!
//! The file holds the pepper that keys' digests are computed with and the HMAC key that
//! signs exchange tokens. Lose it and every key stops verifying; leak it and the digests
//! in the database can be attacked offline. It is never logged: [`Settings`]' `Debug`
//! redacts the secrets.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use keyseal::{Algorithm, KeyFormat, Keyset, Pepper, PepperSet, RandomSource, TokenKey};
use keyseal_registry::{Registry, RegistryConfig, Storage};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Environment variable: the pepper, as hex (at least 16 bytes). With
/// `KEYSEAL_TOKEN_SECRET_HEX` it replaces the config file.
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

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretFile {
    id: String,
    secret_hex: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    /// Key prefix, e.g. `ks` -> `ks_<id>_<secret><checksum>`.
    prefix: String,
    /// Lifetime of exchange tokens in seconds (1-86400).
    #[serde(default = "default_ttl")]
    token_ttl: u64,
    pepper: SecretFile,
    token: SecretFile,
}

fn default_ttl() -> u64 {
    keyseal::token::DEFAULT_EXCHANGE_TTL
}

/// The secrets and settings the registry and the token signer need.
pub struct Settings {
    /// Key prefix.
    pub prefix: String,
    /// Exchange token lifetime in seconds.
    pub token_ttl: u64,
    pepper_id: String,
    pepper: Zeroizing<Vec<u8>>,
    token_kid: String,
    token_secret: Zeroizing<Vec<u8>>,
    /// Where they came from (a path, or "environment").
    pub source: String,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("prefix", &self.prefix)
            .field("token_ttl", &self.token_ttl)
            .field("pepper_id", &self.pepper_id)
            .field("pepper", &"<redacted>")
            .field("token_kid", &self.token_kid)
            .field("token_secret", &"<redacted>")
            .field("source", &self.source)
            .finish()
    }
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(s: &str, what: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{what} is not an even number of hex digits"));
    }
    let mut out = Zeroizing::new(Vec::with_capacity(s.len() / 2));
    for pair in s.as_bytes().chunks(2) {
        let hi = (pair[0] as char).to_digit(16).unwrap_or(0);
        let lo = (pair[1] as char).to_digit(16).unwrap_or(0);
        out.push((hi * 16 + lo) as u8);
    }
    Ok(out)
}

/// Random bytes from the OS.
pub fn random_bytes(n: usize) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut buf = Zeroizing::new(vec![0u8; n]);
    keyseal::OsRandom
        .fill(&mut buf)
        .map_err(|e| format!("cannot read random bytes: {e}"))?;
    Ok(buf)
}

/// `n` random base62 characters (rejection sampling: no modulo bias).
pub fn random_base62(n: usize) -> Result<String, String> {
    const ALPHABET: &[u8; 62] = keyseal::key::BASE62;
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in random_bytes(n * 2)?.iter() {
            if *b < 248 && out.len() < n {
                out.push(ALPHABET[usize::from(*b % 62)] as char);
            }
        }
    }
    Ok(out)
}

impl Settings {
    /// Fresh random secrets with the default prefix.
    pub fn generate() -> Result<Settings, String> {
        let prefix = std::env::var(ENV_PREFIX).unwrap_or_else(|_| DEFAULT_PREFIX.to_owned());
        KeyFormat::new(&prefix).map_err(|e| format!("{ENV_PREFIX}: {e}"))?;
        let stamp = random_base62(6)?;
        Ok(Settings {
            prefix,
            token_ttl: default_ttl(),
            pepper_id: format!("p-{stamp}"),
            pepper: random_bytes(32)?,
            token_kid: format!("t-{stamp}"),
            token_secret: random_bytes(32)?,
            source: String::new(),
        })
    }

    fn from_env() -> Result<Option<Settings>, String> {
        let (Ok(pepper), Ok(token)) = (std::env::var(ENV_PEPPER), std::env::var(ENV_TOKEN_SECRET))
        else {
            return Ok(None);
        };
        let s = Settings {
            prefix: std::env::var(ENV_PREFIX).unwrap_or_else(|_| DEFAULT_PREFIX.to_owned()),
            token_ttl: default_ttl(),
            pepper_id: std::env::var(ENV_PEPPER_ID).unwrap_or_else(|_| "env".to_owned()),
            pepper: hex_decode(&pepper, ENV_PEPPER)?,
            token_kid: std::env::var(ENV_TOKEN_KID).unwrap_or_else(|_| "env".to_owned()),
            token_secret: hex_decode(&token, ENV_TOKEN_SECRET)?,
            source: "environment".to_owned(),
        };
        s.check()?;
        Ok(Some(s))
    }

    fn check(&self) -> Result<(), String> {
        KeyFormat::new(&self.prefix).map_err(|e| format!("prefix: {e}"))?;
        Pepper::new(&self.pepper_id, &self.pepper).map_err(|e| format!("pepper: {e}"))?;
        TokenKey::new(&self.token_kid, Algorithm::HS256, &self.token_secret)
            .map_err(|e| format!("token key: {e}"))?;
        if !(1..=86_400).contains(&self.token_ttl) {
            return Err("token_ttl must be 1 to 86400 seconds".to_owned());
        }
        Ok(())
    }

    fn read_file(path: &Path) -> Result<Settings, String> {
        let meta = fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "{} holds secrets but is readable by others (mode {mode:o}); run: chmod 600 {}",
                path.display(),
                path.display()
            ));
        }
        let text = Zeroizing::new(
            fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?,
        );
        // toml's error messages can quote the offending line (a secret): keep only the
        // position.
        let file: ConfigFile = toml::from_str(&text).map_err(|e| {
            let at = e
                .span()
                .map(|s| format!(" at byte {}", s.start))
                .unwrap_or_default();
            format!("{}: not a valid keyseal config{at}", path.display())
        })?;
        let s = Settings {
            prefix: file.prefix,
            token_ttl: file.token_ttl,
            pepper_id: file.pepper.id,
            pepper: hex_decode(&file.pepper.secret_hex, "pepper.secret_hex")?,
            token_kid: file.token.id,
            token_secret: hex_decode(&file.token.secret_hex, "token.secret_hex")?,
            source: path.display().to_string(),
        };
        s.check().map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(s)
    }

    fn write_new(&self, path: &Path) -> Result<(), String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let file = ConfigFile {
            prefix: self.prefix.clone(),
            token_ttl: self.token_ttl,
            pepper: SecretFile {
                id: self.pepper_id.clone(),
                secret_hex: hex_encode(&self.pepper),
            },
            token: SecretFile {
                id: self.token_kid.clone(),
                secret_hex: hex_encode(&self.token_secret),
            },
        };
        let body = Zeroizing::new(
            toml::to_string(&file).map_err(|_| "cannot serialize the config".to_owned())?,
        );
        // create_new + mode 0600: never overwrite an existing file's secrets, never
        // expose them for a moment with a wider mode.
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let header = "# keyseal server configuration. It holds secrets: keep it mode 0600 and back it up;\n\
                      # without it no existing key verifies. Never commit it.\n";
        f.write_all(header.as_bytes())
            .and_then(|()| f.write_all(body.as_bytes()))
            .and_then(|()| f.sync_all())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(())
    }

    /// Secrets from the environment if set, else from `path`; when neither exists and
    /// `create` is set, new secrets are written to `path` (0600). Returns the settings
    /// and whether the file was just created.
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

    /// The token keyset (HS256) exchange tokens are signed and verified with.
    pub fn keyset(&self) -> Result<Keyset, keyseal::Error> {
        Ok(Keyset::new(TokenKey::new(
            &self.token_kid,
            Algorithm::HS256,
            &self.token_secret,
        )?))
    }

    /// The registry configuration for these settings.
    pub fn registry_config(&self) -> Result<RegistryConfig, keyseal::Error> {
        let format = KeyFormat::new(&self.prefix)?;
        let peppers = PepperSet::new(Pepper::new(&self.pepper_id, &self.pepper)?);
        let mut cfg = RegistryConfig::new(format, peppers);
        cfg.keyset = Some(self.keyset()?);
        cfg.exchange.ttl = self.token_ttl;
        cfg.exchange.issuer = Some(TOKEN_ISSUER.to_owned());
        Ok(cfg)
    }
}

/// `postgres://` / `postgresql://` URLs are PostgreSQL; anything else is a SQLite path.
pub fn storage(db: &str) -> Storage {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        Storage::Postgres(db.to_owned())
    } else {
        Storage::Sqlite(db.to_owned())
    }
}

/// A description of the database that never shows a password.
pub fn describe_db(db: &str) -> String {
    match storage(db) {
        Storage::Sqlite(p) => format!("SQLite file {p}"),
        Storage::Postgres(url) => {
            // postgres://user:password@host:port/db -> postgres://host:port/db
            let rest = url.split_once("://").map_or("", |(_, r)| r);
            let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            format!("PostgreSQL at {host}")
        }
    }
}

/// Opens the registry on `db` with `settings`.
pub fn open_registry(db: &str, settings: &Settings) -> Result<Registry, keyseal::Error> {
    let storage = storage(db);
    let mut cfg = settings.registry_config()?;
    if matches!(storage, Storage::Sqlite(_)) {
        // SQLite has one writer at a time and cached verifications never reach the pool;
        // each connection keeps its own page cache (4 MiB), so fewer connections keep
        // RSS down. No memory-mapped I/O: each connection would map the file on its own
        // and every mapped page would count in RSS once per connection (100,000 keys, a
        // 54 MB file: 146 MB of mapped file pages after the load test's warm-up, none
        // without); hot keys are answered from the record cache, and a cold lookup costs
        // a few microseconds more.
        cfg.pool_size = 4;
        cfg.sqlite_mmap_size = 0;
    }
    Registry::open(storage, cfg)
}

/// The default config path for a database: `keyseal.toml` beside a SQLite file, or in the
/// working directory for PostgreSQL.
pub fn default_config_path(db: &str) -> PathBuf {
    match storage(db) {
        Storage::Sqlite(p) => Path::new(&p)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("keyseal.toml"), |d| d.join("keyseal.toml")),
        Storage::Postgres(_) => PathBuf::from("keyseal.toml"),
    }
}
