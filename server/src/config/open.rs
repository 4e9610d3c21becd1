//! Which database a `--db` value names, how it is described (never with a password), and
//! opening the registry on it with the settings' secrets.

use std::path::{Path, PathBuf};

use keyseal::{KeyFormat, Pepper};
use keyseal_registry::{Registry, RegistryConfig, Storage};

use super::{Settings, TOKEN_ISSUER, unix_now};

impl Settings {
    /// The registry configuration for these settings.
    pub fn registry_config(&self) -> Result<RegistryConfig, keyseal::Error> {
        let format = KeyFormat::new(&self.prefix)?;
        let mut cfg = RegistryConfig::new(format, self.pepper_set(unix_now())?);
        cfg.keyset = Some(self.keyset()?);
        cfg.exchange.ttl = self.token_ttl;
        cfg.exchange.issuer = Some(TOKEN_ISSUER.to_owned());
        cfg.accept_imported_digests = self.accept_imported_digests;
        cfg.foreign_peppers = self
            .foreign_peppers
            .iter()
            .map(|p| Pepper::new(&p.id, &p.bytes))
            .collect::<Result<_, _>>()?;
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
            // postgres://user:password@host:port/db?options -> host:port/db. The user
            // part cannot hold '/', '?' or '#' unencoded (RFC 3986 section 3.2.1), and
            // the options may hold a password (`?password=...`): both are left out. A URL
            // that breaks those rules (an '@' after the authority) is not shown at all.
            let rest = url.split_once("://").map_or("", |(_, r)| r);
            let end = rest.find(['?', '#']).unwrap_or(rest.len());
            let (before_options, options) = rest.split_at(end);
            let authority_end = before_options.find('/').unwrap_or(before_options.len());
            let (authority, path) = before_options.split_at(authority_end);
            if options.contains('@') && !authority.contains('@') || path.contains('@') {
                return "PostgreSQL (the URL is not shown: it does not parse as a URL)".to_owned();
            }
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("PostgreSQL at {host}{path}")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_db_never_shows_a_password() {
        for (url, want) in [
            (
                "postgres://u:s3cret@db.internal:5432/keys",
                "PostgreSQL at db.internal:5432/keys",
            ),
            (
                "postgres://db/keys?user=u&password=s3cret",
                "PostgreSQL at db/keys",
            ),
            (
                "postgresql://u:s3cret@h/k?sslmode=verify-full#x",
                "PostgreSQL at h/k",
            ),
            (
                "postgres://h/k?password=a@s3cret",
                "PostgreSQL (the URL is not shown: it does not parse as a URL)",
            ),
        ] {
            let d = describe_db(url);
            assert_eq!(d, want);
            assert!(!d.contains("s3cret"), "{d}");
        }
    }
}
