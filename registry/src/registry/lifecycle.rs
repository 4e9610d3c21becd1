//! The [`Registry`] handle: open (connect, migrate, start the background threads),
//! schema checks that need no registry, the pepper check, cache controls and close.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use keyseal::digest::DigestStatus;
use keyseal::{Error, KeyFormat};

use super::gate::Gate;
use super::group::GroupCommit;
use super::inner::Inner;
use super::tasks::{Tasks, checkpoint, flush, flush_usage};
use super::tx::{set_setting, with_tx};
use crate::cache::{NegativeCache, RecordCache};
use crate::config::RegistryConfig;
use crate::secrets;
use crate::store::{self, Storage, Val};
use crate::types::PepperCheck;

/// The key registry. `Send + Sync`: share it in an `Arc` and call it from blocking
/// threads (e.g. tokio's `spawn_blocking`).
pub struct Registry {
    pub(super) inner: Arc<Inner>,
    tasks: Tasks,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("storage", &self.inner.storage)
            .field("config", &self.inner.config)
            .finish()
    }
}

/// Random bytes from the OS through the core's generator (no extra dependency).
fn getrandom_fill(out: &mut [u8]) -> Result<(), Error> {
    use keyseal::RandomSource;
    keyseal::OsRandom.fill(out)
}

impl Registry {
    /// Opens the registry: connects, migrates the schema to [`store::SCHEMA_VERSION`],
    /// and starts the background threads (the `last_used_at` writer and, on PostgreSQL,
    /// the change listener).
    pub fn open(storage: Storage, config: RegistryConfig) -> Result<Registry, Error> {
        Self::open_at_version(storage, config, store::SCHEMA_VERSION)
    }

    /// Migrates `storage` to `version` (at most the current one) without opening a
    /// registry; returns the version reached. For tests and staged upgrades.
    pub fn migrate(storage: &Storage, version: u32) -> Result<u32, Error> {
        let pool = storage.pool(1, store::SqliteMemory::default());
        let mut conn = pool.get()?;
        Ok(store::migrate(&mut *conn, version)?)
    }

    /// The schema version of `storage` (0 when empty).
    pub fn schema_version(storage: &Storage) -> Result<u32, Error> {
        let pool = storage.pool(1, store::SqliteMemory::default());
        let mut conn = pool.get()?;
        Ok(store::stored_version(&mut *conn)?)
    }

    pub(super) fn open_at_version(
        storage: Storage,
        config: RegistryConfig,
        version: u32,
    ) -> Result<Registry, Error> {
        if config.cache_ttl < 0 || config.negative_cache_ttl < 0 || config.last_used_interval < 0 {
            return Err(Error::InvalidConfig {
                setting: "cache_ttl, negative_cache_ttl, last_used_interval",
                expected: "zero or more seconds",
            });
        }
        let r = config.usage_retention;
        if r.minute < 0 || r.hour < 0 || r.day < 0 {
            return Err(Error::InvalidConfig {
                setting: "usage_retention",
                expected: "zero or more seconds",
            });
        }
        secrets::check_foreign_peppers(&config)?;
        let pool = storage.pool(
            config.pool_size,
            store::SqliteMemory {
                cache: config.sqlite_cache_size,
                mmap: config.sqlite_mmap_size,
            },
        );
        {
            let mut conn = pool.get()?;
            store::migrate(&mut *conn, version)?;
        }
        let mut tag = [0u8; 8];
        getrandom_fill(&mut tag)?;
        let instance: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        let inner = Arc::new(Inner {
            instance,
            cache: RecordCache::new(config.cache_capacity),
            negative: NegativeCache::new(config.negative_cache_capacity),
            pending_last_used: Mutex::new(HashMap::new()),
            group: GroupCommit::new(),
            lookups: Gate::new(config.max_concurrent_lookups),
            meters: crate::meter::Meters::default(),
            settles: Default::default(),
            owner_rules: Default::default(),
            usage: crate::usage::PendingUsage::default(),
            usage_pruned_at: std::sync::atomic::AtomicI64::new(i64::MIN),
            storage,
            pool,
            config,
        });
        let tasks = Tasks::start(&inner);
        Ok(Registry { inner, tasks })
    }

    /// The configuration.
    pub fn config(&self) -> &RegistryConfig {
        &self.inner.config
    }

    pub(super) fn now(&self) -> i64 {
        self.inner.config.clock.now()
    }

    pub(super) fn format(&self) -> &KeyFormat {
        &self.inner.config.key_format
    }

    /// Checks the database's recorded pepper fingerprint against the configured peppers,
    /// and records the current pepper's when there is none yet or when the recorded one
    /// is an older pepper still configured (after a rotation). A server calls it at
    /// start-up and refuses to run on [`PepperCheck::Unknown`] or
    /// [`PepperCheck::Mismatch`]: secrets that do not match the database would fail
    /// every key.
    ///
    /// The fingerprint is `v1.<pepper_id>.<HMAC-SHA256(pepper, fixed label)>`: it names
    /// the pepper and proves its secret without revealing it.
    ///
    /// Errors: `storage_unavailable`.
    pub fn check_pepper(&self) -> Result<PepperCheck, Error> {
        let peppers = &self.inner.config.peppers;
        let current = secrets::fingerprint(peppers);
        let current_id = peppers.current().id().to_owned();
        with_tx(&self.inner.pool, |conn| {
            let recorded = conn
                .query_one(
                    "SELECT value FROM keyseal_settings WHERE name = ?",
                    &[Val::from(secrets::FINGERPRINT_SETTING)],
                )?
                .and_then(|r| r.first().and_then(Val::text).map(str::to_owned));
            let outcome = match recorded {
                Some(rec) => {
                    let id = secrets::pepper_id_of(&rec).unwrap_or("").to_owned();
                    match secrets::check_fingerprint(peppers, &rec) {
                        Ok(DigestStatus::Current) => return Ok(PepperCheck::Matches { id }),
                        Ok(DigestStatus::Outdated) => PepperCheck::Advanced {
                            from: id,
                            to: current_id,
                        },
                        Err(Error::UnknownPepper) => return Ok(PepperCheck::Unknown { id }),
                        Err(_) => return Ok(PepperCheck::Mismatch { id }),
                    }
                }
                None => {
                    // A database from before fingerprints: refuse when its keys name
                    // peppers of which we hold none.
                    let sample = conn
                        .query_one(
                            "SELECT digest FROM keys WHERE digest LIKE 'v1.%' ORDER BY id LIMIT 1",
                            &[],
                        )?
                        .and_then(|r| r.first().and_then(Val::text).map(str::to_owned));
                    if let Some(id) = sample.as_deref().and_then(secrets::pepper_id_of)
                        && !secrets::has_pepper(peppers, id)
                    {
                        return Ok(PepperCheck::Unknown { id: id.to_owned() });
                    }
                    PepperCheck::Recorded { id: current_id }
                }
            };
            set_setting(conn, secrets::FINGERPRINT_SETTING, &current, self.now())?;
            Ok(outcome)
        })
    }

    /// True when `storage` already holds at least one key row (deleted ones included);
    /// false for an empty database or one without a schema yet. Opens one connection and
    /// needs no secrets, so a server can check before it creates new ones.
    ///
    /// Errors: `storage_unavailable`.
    pub fn holds_keys(storage: &Storage) -> Result<bool, Error> {
        if Self::schema_version(storage)? == 0 {
            return Ok(false);
        }
        let pool = storage.pool(1, store::SqliteMemory::default());
        let mut conn = pool.get()?;
        Ok(conn.query_one("SELECT 1 FROM keys LIMIT 1", &[])?.is_some())
    }

    /// Writes the queued `last_used_at` times now (a background thread does it every
    /// second); returns how many keys were written.
    pub fn flush_last_used(&self) -> Result<usize, Error> {
        flush(&self.inner)
    }

    /// How many records the verify cache holds.
    pub fn cached_records(&self) -> usize {
        self.inner.cache.len()
    }

    /// An estimate of the verify cache's heap use in bytes (records, prepared policies,
    /// digests, map and eviction-ring overhead).
    pub fn cache_memory_estimate(&self) -> usize {
        self.inner.cache.memory_estimate()
    }

    /// Empties the verify caches (records and unknown ids).
    pub fn clear_cache(&self) {
        self.inner.cache.clear();
        self.inner.negative.clear();
    }

    /// Ends the background threads after a last `last_used_at` and usage flush. Also
    /// done on drop.
    pub fn close(&self) {
        // The background thread renews leases: stopped first, so none is taken after
        // they are given back.
        self.tasks.stop();
        self.give_back_leases();
        let _ = flush(&self.inner);
        let _ = flush_usage(&self.inner);
        let _ = checkpoint(&self.inner);
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.close();
    }
}
