//! keyseal-registry: the API-key lifecycle on top of the `keyseal` core, so a Rust
//! service (and the keyseal server) gets create, list, update, enable/disable, roll,
//! delete, verify, exchange, import and an audit log without writing SQL.
//!
//! # Storage
//!
//! Two backends with the same behaviour and the same test suite:
//!
//! - [`Storage::Sqlite`]: the embedded default. One file in WAL mode with
//!   `synchronous=FULL`, so an acknowledged write survives `kill -9` and power loss.
//! - [`Storage::Postgres`]: for several server instances on one database. Each instance
//!   LISTENs on [`CHANGE_CHANNEL`]; every write NOTIFYs the key's id in its transaction,
//!   so other instances drop their cached copy as soon as the change commits. TLS follows
//!   libpq's `sslmode` (default `prefer`) and `sslrootcert` in the URL; see the README's
//!   "PostgreSQL over TLS".
//!
//! Schema migrations are versioned ([`SCHEMA_VERSION`]) and applied by [`Registry::open`].
//! The secret part of a key is never stored: only the core's peppered digest
//! (`v1.<pepper_id>.<hmac>`), and no public type holds a digest.
//!
//! # Why a blocking API
//!
//! Both drivers are blocking (rusqlite; `postgres`, the blocking face of
//! `tokio-postgres`), and so is this crate: [`Registry`] is `Send + Sync`, so an async
//! server shares it in an `Arc` and calls it from `spawn_blocking`. SQLite has no async
//! driver worth the name, and one code path serves both backends. The hot path has a
//! non-blocking face: [`Registry::verify_cached`] and [`Registry::exchange_cached`]
//! answer from memory only (a read lock and one HMAC) or return `None` when the database
//! is needed, so an async server calls them on its runtime threads and moves only misses
//! to `spawn_blocking`.
//!
//! # The verify path
//!
//! [`Registry::verify`] checks the key's format and checksum (random strings stop here),
//! looks the public id up in a bounded in-process cache (CLOCK eviction,
//! [`RegistryConfig::cache_capacity`], about 330 bytes a key), loads it from the
//! database on a miss, checks the digest in constant time and then the core's
//! [`keyseal::KeyPolicy`]. Ids the database
//! does not know go into a bounded negative cache, so repeating an unknown id cannot
//! flood the database; that cache can only make a key fail, never pass. Writes on one
//! instance drop the key from its cache at commit; other PostgreSQL instances drop it on
//! the notification (well under a second), and [`RegistryConfig::cache_ttl`] bounds
//! staleness when notifications cannot arrive. `last_used_at` is written at most once
//! per [`RegistryConfig::last_used_interval`] per key, batched by a background thread.
//!
//! # Metering
//!
//! A key can carry named rate limits and usage credits ([`NewKey::limits`],
//! [`NewKey::credits`]), and so can its owner ([`Registry::update_owner_meter`]): every
//! verification and exchange spends its cost on all of them or on none
//! ([`Registry::verify_metered`], [`meter::MeterRequest`]). Exact on one instance, never
//! over a limit with several, credits durable across crashes: [`meter`] explains how and
//! states the bounds.
//!
//! # Usage analytics
//!
//! Every verification of a known key is counted by outcome (`valid` or the refusal
//! code) with the credits it spent, in memory on the verify path, and written in batches
//! about every second into minute, hour and day buckets; [`Registry::usage`] reads them
//! for a key, an owner or an account. Retention is
//! [`RegistryConfig::usage_retention`]. See [`usage`].
//!
//! # Errors
//!
//! Every error is a [`keyseal::Error`] with a stable code: the registry family
//! (`not_found`, `version_conflict`, `name_conflict`, `invalid_name`,
//! `invalid_metadata`, `invalid_cursor`, `invalid_limit`, `invalid_argument`,
//! `payload_too_large`, `storage_unavailable`) plus the core's own (`invalid_scope`,
//! `invalid_cidr`, `digest_mismatch`, `key_revoked`, ...). Messages never echo input.
//!
//! # Example
//!
//! ```no_run
//! use keyseal::{KeyFormat, Pepper, PepperSet, RequestContext};
//! use keyseal_registry::{Actor, ListQuery, NewKey, Registry, RegistryConfig, Storage};
//!
//! # fn main() -> Result<(), keyseal::Error> {
//! let format = KeyFormat::new("acme_live")?;
//! let peppers = PepperSet::new(Pepper::new("2026-11", &[7u8; 32])?); // from a secret store
//! let config = RegistryConfig::new(format, peppers);
//! let registry = Registry::open(Storage::Sqlite("keys.db".into()), config)?;
//!
//! let created = registry.create(&NewKey::new("acct_1", "ci-deploy"), &Actor::user("alice"))?;
//! println!("your key (shown once): {}", created.key.expose());
//!
//! let verified = registry.verify(created.key.expose(), &RequestContext::at(1_795_392_000))?;
//! verified.decision?; // key_revoked, key_disabled, key_expired, ip_not_allowed, ...
//!
//! assert_eq!(registry.list("acct_1", &ListQuery::default())?.total, 1);
//! # Ok(())
//! # }
//! ```

mod cache;
mod clock;
mod config;
pub mod meter;
mod registry;
mod secrets;
mod store;
mod tokens;
mod types;
pub mod usage;
mod validate;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{CHANGE_CHANNEL, MAX_ROLL_GRACE, RegistryConfig};
pub use registry::Registry;
pub use store::{SCHEMA_VERSION, Storage};
pub use tokens::{ACCOUNT_CLAIM, KEY_ID_CLAIM};
pub use types::{
    Actor, AuditAction, AuditEntry, AuditQuery, CreatedKey, DEFAULT_LIMIT, ExchangedToken,
    ImportKey, KeyPatch, KeyRecord, KeyStatus, ListQuery, MAX_LIMIT, MAX_OFFSET, NewKey, Page,
    PepperCheck, RolledKey, TokenCheck, Verification,
};
pub use validate::{
    MAX_ALLOWED_IPS, MAX_DESCRIPTION_LEN, MAX_METADATA_BYTES, MAX_METADATA_KEYS, MAX_NAME_LEN,
    MAX_SCOPES, MAX_TIMESTAMP, MIN_TIMESTAMP,
};
