//! [`RegistryConfig`]: how a registry runs (caches, pool, SQLite memory, imports,
//! exchange tokens, clock), with the documented defaults, and the crate's public
//! constants for changes and rolls.

use std::fmt;
use std::sync::Arc;

use keyseal::token::ExchangeOptions;
use keyseal::{KeyFormat, Keyset, Pepper, PepperSet};

use crate::clock::{Clock, SystemClock};
use crate::usage::UsageRetention;

/// The PostgreSQL notification channel that carries the ids of changed keys.
pub const CHANGE_CHANNEL: &str = "keyseal_keys";

/// Longest grace period of a roll: 30 days.
pub const MAX_ROLL_GRACE: i64 = 30 * 86_400;

/// How the registry runs. Build it with [`RegistryConfig::new`] and set fields as needed.
#[derive(Clone)]
pub struct RegistryConfig {
    /// The format of the keys this registry issues and verifies (prefix and lengths).
    pub key_format: KeyFormat,
    /// Peppers for key digests: new digests use the current one; older ones still verify.
    pub peppers: PepperSet,
    /// Signing keys for [`crate::Registry::exchange`]. Defaults to none (exchange then fails with
    /// `invalid_config`).
    pub keyset: Option<Keyset>,
    /// Options of exchange tokens. Defaults to a 600-second lifetime.
    pub exchange: ExchangeOptions,
    /// Records kept in the verify cache (CLOCK eviction beyond). Defaults to 100,000
    /// (about 33 MB: ~330 bytes a key, see the bench); 0 disables the cache.
    pub cache_capacity: usize,
    /// Seconds a cached record is trusted without a notification. Bounds staleness when
    /// changes come from a process that cannot notify (another SQLite process, or a lost
    /// PostgreSQL listener connection). Defaults to 300.
    pub cache_ttl: i64,
    /// Unknown ids remembered, so they cannot flood the database. Defaults to 100,000.
    pub negative_cache_capacity: usize,
    /// Seconds an unknown id is remembered. A create of that id (locally, or notified on
    /// PostgreSQL) forgets it at once. Defaults to 60.
    pub negative_cache_ttl: i64,
    /// Minimum seconds between two writes of a key's `last_used_at`. Defaults to 60.
    pub last_used_interval: i64,
    /// The most usage credits an instance holds at once per key beyond a request's cost,
    /// which bounds what a crash of the instance can lose (see [`crate::meter`]: a lease
    /// is about one second of the key's recent spending, at least 100 and at most 1/16
    /// of the balance). Defaults to 100,000.
    pub credit_lease_max: u64,
    /// A limit's lease is ⌈room / this⌉ of the window's room (at least the cost), half of
    /// what is beyond the cost as units of the next window (see [`crate::meter`]): 1 takes
    /// all of it, which suits one instance; larger values share a limit more evenly
    /// between instances at the cost of more transactions. Defaults to 8.
    pub limit_lease_divisor: u64,
    /// Record `last_used_at` at all. Defaults to true.
    pub track_last_used: bool,
    /// Count verifications for usage analytics (see [`crate::usage`]). Defaults to true.
    pub track_usage: bool,
    /// How long usage buckets are kept. Defaults to 7 days of minute buckets, 90 days of
    /// hour buckets and 400 days of day buckets.
    pub usage_retention: UsageRetention,
    /// Database connections at most. Defaults to 8.
    pub pool_size: usize,
    /// SQLite page cache of each connection, in bytes (so up to `pool_size` times this in
    /// all). Defaults to 4 MiB: the B-tree's inner pages of a million keys fit, and the
    /// verify path's hot records live in the record cache, not here.
    pub sqlite_cache_size: u64,
    /// SQLite memory-mapped I/O of each connection, in bytes; 0 turns it off. Defaults
    /// to 1 GiB: uncached lookups in a large database read pages straight from the OS
    /// page cache instead of one `pread` per leaf page, so a lookup at a million keys
    /// costs little more than at a thousand (figures under "Benchmark" in the registry
    /// README). Every connection maps the file on its own, and mapped pages count in the
    /// process's resident memory once per connection, so a process that budgets its RSS
    /// and answers hot keys from the record cache (the keyseal server) sets 0.
    pub sqlite_mmap_size: u64,
    /// Verify-path database lookups (cache misses) running at once, at most; the rest
    /// wait. Keeps a flood of unknown ids from starving other operations. Defaults to 4.
    pub max_concurrent_lookups: usize,
    /// On PostgreSQL, listen for other instances' changes. Defaults to true.
    pub listen_for_changes: bool,
    /// Accept digests made without our pepper (plain SHA-256, or HMAC-SHA256 under one of
    /// `foreign_peppers`) on rows brought in by [`crate::Registry::import`], which carry an
    /// import seal. Off, imports of such digests fail with `invalid_config` and rows
    /// imported earlier stop verifying until they are upgraded. Whatever the setting, a
    /// row without a valid seal verifies only against our peppers, so an unpeppered
    /// digest written straight into the database never verifies. Defaults to false.
    pub accept_imported_digests: bool,
    /// Other systems' peppers, verify-only: an import may name one (see
    /// [`crate::ImportKey::pepper`]) for a digest that is HMAC-SHA256 of the key under it, as hex.
    /// Ids must differ from each other and from `peppers`' (`duplicate_kid`). Used only
    /// when `accept_imported_digests` is on. Defaults to none.
    pub foreign_peppers: Vec<Pepper>,
    /// The time source. Defaults to the system clock; tests use [`crate::ManualClock`].
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for RegistryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryConfig")
            .field("key_format", &self.key_format)
            .field("peppers", &"<redacted>")
            .field("keyset", &self.keyset.as_ref().map(|_| "<redacted>"))
            .field("exchange", &self.exchange)
            .field("cache_capacity", &self.cache_capacity)
            .field("cache_ttl", &self.cache_ttl)
            .field("negative_cache_capacity", &self.negative_cache_capacity)
            .field("negative_cache_ttl", &self.negative_cache_ttl)
            .field("last_used_interval", &self.last_used_interval)
            .field("track_last_used", &self.track_last_used)
            .field("track_usage", &self.track_usage)
            .field("usage_retention", &self.usage_retention)
            .field("pool_size", &self.pool_size)
            .field("sqlite_cache_size", &self.sqlite_cache_size)
            .field("sqlite_mmap_size", &self.sqlite_mmap_size)
            .field("max_concurrent_lookups", &self.max_concurrent_lookups)
            .field("listen_for_changes", &self.listen_for_changes)
            .field("accept_imported_digests", &self.accept_imported_digests)
            .field(
                "foreign_peppers",
                &self
                    .foreign_peppers
                    .iter()
                    .map(Pepper::id)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl RegistryConfig {
    /// A configuration with the documented defaults.
    pub fn new(key_format: KeyFormat, peppers: PepperSet) -> RegistryConfig {
        RegistryConfig {
            key_format,
            peppers,
            keyset: None,
            exchange: ExchangeOptions::default(),
            cache_capacity: 100_000,
            cache_ttl: 300,
            negative_cache_capacity: 100_000,
            negative_cache_ttl: 60,
            last_used_interval: 60,
            credit_lease_max: 100_000,
            limit_lease_divisor: 8,
            track_last_used: true,
            track_usage: true,
            usage_retention: UsageRetention::default(),
            pool_size: 8,
            sqlite_cache_size: 4 << 20,
            sqlite_mmap_size: 1 << 30,
            max_concurrent_lookups: 4,
            listen_for_changes: true,
            accept_imported_digests: false,
            foreign_peppers: Vec::new(),
            clock: Arc::new(SystemClock),
        }
    }
}
