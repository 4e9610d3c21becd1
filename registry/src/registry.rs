//! The registry: key lifecycle operations over a [`Storage`], with the verify path's
//! caches and (on PostgreSQL) cross-instance invalidation by LISTEN/NOTIFY.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use keyseal::digest::DigestStatus;
use keyseal::token::ExchangeOptions;
use keyseal::{Error, ErrorCode, KeyFormat, KeyPolicy, Keyset, Pepper, PepperSet, RequestContext};
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::cache::{Entry, NegativeCache, RecordCache};
use crate::clock::{Clock, SystemClock};
use crate::secrets;
use crate::store::{self, Conn, DbErr, Dialect, Pool, Row, Storage, Val};
use crate::types::{
    Actor, AuditAction, AuditEntry, AuditQuery, CreatedKey, ExchangedToken, ImportKey, KeyPatch,
    KeyRecord, KeyStatus, ListQuery, NewKey, Page, PepperCheck, RolledKey, TokenCheck,
    Verification,
};
use crate::{tokens, validate};

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
    /// Signing keys for [`Registry::exchange`]. Defaults to none (exchange then fails with
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
    /// Record `last_used_at` at all. Defaults to true.
    pub track_last_used: bool,
    /// Database connections at most. Defaults to 8.
    pub pool_size: usize,
    /// SQLite page cache of each connection, in bytes (so up to `pool_size` times this in
    /// all). Defaults to 4 MiB: the B-tree's inner pages of a million keys fit, and the
    /// verify path's hot records live in the record cache, not here.
    pub sqlite_cache_size: u64,
    /// SQLite memory-mapped I/O of each connection, in bytes; 0 turns it off. Defaults
    /// to 1 GiB: uncached lookups in a large database read pages straight from the OS
    /// page cache (at 1M keys a lookup took 10.9 µs of CPU without it, 1.6x the
    /// 1,000-key time, and 8.8 µs, 1.3x, with it). Every connection maps the file on
    /// its own, and mapped pages count in the process's resident memory once per
    /// connection, so a process that budgets its RSS and answers hot keys from the
    /// record cache (the keyseal server) sets 0.
    pub sqlite_mmap_size: u64,
    /// Verify-path database lookups (cache misses) running at once, at most; the rest
    /// wait. Keeps a flood of unknown ids from starving other operations. Defaults to 4.
    pub max_concurrent_lookups: usize,
    /// On PostgreSQL, listen for other instances' changes. Defaults to true.
    pub listen_for_changes: bool,
    /// Accept digests made without our pepper (plain SHA-256, or HMAC-SHA256 under one of
    /// `foreign_peppers`) on rows brought in by [`Registry::import`], which carry an
    /// import seal. Off, imports of such digests fail with `invalid_config` and rows
    /// imported earlier stop verifying until they are upgraded. Whatever the setting, a
    /// row without a valid seal verifies only against our peppers, so an unpeppered
    /// digest written straight into the database never verifies. Defaults to false.
    pub accept_imported_digests: bool,
    /// Other systems' peppers, verify-only: an import may name one (see
    /// [`ImportKey::pepper`]) for a digest that is HMAC-SHA256 of the key under it, as hex.
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
            .field("pool_size", &self.pool_size)
            .field("sqlite_cache_size", &self.sqlite_cache_size)
            .field("sqlite_mmap_size", &self.sqlite_mmap_size)
            .field("max_concurrent_lookups", &self.max_concurrent_lookups)
            .field("listen_for_changes", &self.listen_for_changes)
            .field("accept_imported_digests", &self.accept_imported_digests)
            .field("foreign_peppers", &secrets::ids(&self.foreign_peppers))
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
            track_last_used: true,
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

fn reg(code: ErrorCode, detail: &'static str) -> Error {
    Error::registry(code, detail)
}

fn not_found() -> Error {
    reg(
        ErrorCode::NotFound,
        "no key with this id or name in this account",
    )
}

fn conflict() -> Error {
    reg(
        ErrorCode::VersionConflict,
        "the key changed since the expected version was read",
    )
}

/// The key registry. `Send + Sync`: share it in an `Arc` and call it from blocking
/// threads (e.g. tokio's `spawn_blocking`).
pub struct Registry {
    inner: Arc<Inner>,
    stop: Arc<AtomicBool>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("storage", &self.inner.storage)
            .field("config", &self.inner.config)
            .finish()
    }
}

struct Inner {
    /// Random per instance: its own notifications are skipped (local writes already
    /// invalidated the cache at commit).
    instance: String,
    storage: Storage,
    pool: Arc<Pool>,
    config: RegistryConfig,
    cache: RecordCache,
    negative: NegativeCache,
    pending_last_used: Mutex<HashMap<String, i64>>,
    group: GroupCommit,
    lookups: Gate,
}

/// A counting gate: at most `max` verify-path database lookups at once, so a flood of
/// unknown (or evicted) ids can never take every connection from the other operations.
struct Gate {
    busy: Mutex<usize>,
    cv: Condvar,
    max: usize,
}

struct GatePass<'g>(&'g Gate);

impl Gate {
    fn new(max: usize) -> Gate {
        Gate {
            busy: Mutex::new(0),
            cv: Condvar::new(),
            max: max.max(1),
        }
    }

    fn enter(&self) -> Result<GatePass<'_>, Error> {
        let poisoned = || Error::Internal {
            detail: "a registry lock was poisoned",
        };
        let mut busy = self.busy.lock().map_err(|_| poisoned())?;
        while *busy >= self.max {
            let (b, timeout) = self
                .cv
                .wait_timeout(busy, Duration::from_secs(10))
                .map_err(|_| poisoned())?;
            busy = b;
            if timeout.timed_out() && *busy >= self.max {
                return Err(reg(
                    ErrorCode::StorageUnavailable,
                    "too many key lookups are waiting for the database",
                ));
            }
        }
        *busy += 1;
        Ok(GatePass(self))
    }
}

impl Drop for GatePass<'_> {
    fn drop(&mut self) {
        if let Ok(mut b) = self.0.busy.lock() {
            *b -= 1;
        }
        self.0.cv.notify_one();
    }
}

/// The columns every key query reads, in [`Loaded::from_row`]'s order.
const KEY_COLS: &str = "seq, id, account, name, description, owner, role, scopes, read_only, \
    allowed_ips, enabled, expires_at, metadata, created_at, created_by, modified_at, \
    modified_by, version, deleted_at, last_used_at, digest, prev_digest, prev_digest_until, rolled_at";
/// Columns in [`KEY_COLS`]: a query's extra columns start at this index.
const KEY_COLS_LEN: usize = 24;

/// A key row as read from the database.
struct Loaded {
    record: KeyRecord,
    digest: String,
    prev: Option<(String, i64)>,
    /// The import seal (read by [`Registry::load_by_id`] only).
    import_seal: Option<String>,
}

fn col_text(r: &Row, i: usize) -> Result<String, Error> {
    r.get(i)
        .and_then(Val::text)
        .map(str::to_owned)
        .ok_or(Error::Internal {
            detail: "a key row has an unexpected column type",
        })
}
fn col_opt_text(r: &Row, i: usize) -> Option<String> {
    r.get(i).and_then(Val::text).map(str::to_owned)
}
fn col_int(r: &Row, i: usize) -> Result<i64, Error> {
    r.get(i).and_then(Val::int).ok_or(Error::Internal {
        detail: "a key row has an unexpected column type",
    })
}
fn col_opt_int(r: &Row, i: usize) -> Option<i64> {
    r.get(i).and_then(Val::int)
}
fn json_col<T: serde::de::DeserializeOwned>(r: &Row, i: usize) -> Result<T, Error> {
    serde_json::from_str(&col_text(r, i)?).map_err(|_| Error::Internal {
        detail: "a key row holds json that does not parse",
    })
}

impl Loaded {
    fn from_row(r: &Row, prefix: &str) -> Result<Loaded, Error> {
        let prev = match (col_opt_text(r, 21), col_opt_int(r, 22)) {
            (Some(d), Some(until)) => Some((d, until)),
            _ => None,
        };
        Ok(Loaded {
            record: KeyRecord {
                id: col_text(r, 1)?,
                prefix: prefix.to_owned(),
                account: col_text(r, 2)?,
                name: col_text(r, 3)?,
                description: col_text(r, 4)?,
                owner: col_opt_text(r, 5),
                role: col_opt_text(r, 6),
                scopes: json_col(r, 7)?,
                read_only: col_int(r, 8)? != 0,
                allowed_ips: json_col(r, 9)?,
                enabled: col_int(r, 10)? != 0,
                expires_at: col_opt_int(r, 11),
                metadata: json_col(r, 12)?,
                created_at: col_int(r, 13)?,
                created_by: Actor::from_stored(&col_text(r, 14)?),
                modified_at: col_int(r, 15)?,
                modified_by: Actor::from_stored(&col_text(r, 16)?),
                version: u64::try_from(col_int(r, 17)?).unwrap_or(0),
                deleted_at: col_opt_int(r, 18),
                last_used_at: col_opt_int(r, 19),
                previous_secret_expires_at: prev.as_ref().map(|p| p.1),
                rolled_at: col_opt_int(r, 23),
            },
            digest: col_text(r, 20)?,
            prev,
            import_seal: None,
        })
    }
}

/// The policy the core checks, from a record.
fn policy_of(rec: &KeyRecord) -> Result<KeyPolicy, Error> {
    Ok(KeyPolicy {
        enabled: rec.enabled,
        revoked: rec.deleted_at.is_some(),
        expires_at: rec.expires_at,
        role: rec.role.clone(),
        scopes: validate::scopes(&rec.scopes)?,
        read_only: rec.read_only,
        allowed_ips: validate::allowed_ips(&rec.allowed_ips)?,
    })
}

/// Everything that goes into a new row, validated.
struct NewRow {
    record: KeyRecord,
    digest: String,
    action: AuditAction,
    /// An import's seal (see `secrets`); none for keys made here.
    import_seal: Option<String>,
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, Error> {
    serde_json::to_string(v).map_err(|_| Error::Internal {
        detail: "a value did not serialize to json",
    })
}

/// Field-by-field differences between two records, as `{"field": {"old", "new"}}`.
fn diff(old: &KeyRecord, new: &KeyRecord) -> Map<String, Value> {
    let mut m = Map::new();
    let mut put = |field: &str, a: Value, b: Value| {
        if a != b {
            m.insert(field.to_owned(), json!({ "old": a, "new": b }));
        }
    };
    put("name", json!(old.name), json!(new.name));
    put(
        "description",
        json!(old.description),
        json!(new.description),
    );
    put("owner", json!(old.owner), json!(new.owner));
    put("role", json!(old.role), json!(new.role));
    put("scopes", json!(old.scopes), json!(new.scopes));
    put("read_only", json!(old.read_only), json!(new.read_only));
    put(
        "allowed_ips",
        json!(old.allowed_ips),
        json!(new.allowed_ips),
    );
    put("enabled", json!(old.enabled), json!(new.enabled));
    put("expires_at", json!(old.expires_at), json!(new.expires_at));
    put("metadata", json!(old.metadata), json!(new.metadata));
    put("deleted_at", json!(old.deleted_at), json!(new.deleted_at));
    put("rolled_at", json!(old.rolled_at), json!(new.rolled_at));
    put(
        "previous_secret_expires_at",
        json!(old.previous_secret_expires_at),
        json!(new.previous_secret_expires_at),
    );
    m
}

/// The changes of a creation: every field, from null.
fn creation_changes(rec: &KeyRecord) -> Map<String, Value> {
    let empty = KeyRecord {
        name: String::new(),
        description: String::new(),
        owner: None,
        role: None,
        scopes: Vec::new(),
        read_only: false,
        allowed_ips: Vec::new(),
        enabled: false,
        expires_at: None,
        metadata: Map::new(),
        deleted_at: None,
        previous_secret_expires_at: None,
        rolled_at: None,
        ..rec.clone()
    };
    let mut m = diff(&empty, rec);
    for v in m.values_mut() {
        if let Some(o) = v.as_object_mut() {
            o.insert("old".to_owned(), Value::Null);
        }
    }
    m
}

fn insert_audit(
    conn: &mut dyn Conn,
    rec: &KeyRecord,
    action: AuditAction,
    actor: &Actor,
    at: i64,
    changes: &Map<String, Value>,
) -> Result<(), Error> {
    conn.exec(
        "INSERT INTO audit (account, key_id, action, actor, at, version, changes) VALUES (?, ?, ?, ?, ?, ?, ?)",
        &[
            Val::from(rec.account.as_str()),
            Val::from(rec.id.as_str()),
            Val::from(action.as_str()),
            Val::from(actor.to_stored()),
            Val::Int(at),
            Val::Int(rec.version as i64),
            Val::from(to_json(changes)?),
        ],
    )?;
    Ok(())
}

/// Tells other instances that `id` changed: payload `<instance>:<id>`.
fn notify(conn: &mut dyn Conn, instance: &str, id: &str) -> Result<(), DbErr> {
    if conn.dialect() == Dialect::Postgres {
        // Delivered at commit, and only if the transaction commits.
        conn.query(
            "SELECT pg_notify('keyseal_keys', ?)",
            &[Val::from(format!("{instance}:{id}"))],
        )?;
    }
    Ok(())
}

/// Random bytes from the OS through the core's generator (no extra dependency).
fn getrandom_fill(out: &mut [u8]) -> Result<(), Error> {
    use keyseal::RandomSource;
    keyseal::OsRandom.fill(out)
}

/// Upserts one `keyseal_settings` row.
fn set_setting(conn: &mut dyn Conn, name: &str, value: &str, now: i64) -> Result<(), Error> {
    conn.exec(
        "INSERT INTO keyseal_settings (name, value, updated_at) VALUES (?, ?, ?) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        &[Val::from(name), Val::from(value), Val::Int(now)],
    )?;
    Ok(())
}

/// Runs `f` in a write transaction on a pooled connection: commit on `Ok`, roll back on
/// `Err`.
fn with_tx<T>(pool: &Pool, f: impl FnOnce(&mut dyn Conn) -> Result<T, Error>) -> Result<T, Error> {
    let mut conn = pool.get()?;
    conn.begin()?;
    match f(&mut *conn) {
        Ok(v) => {
            conn.commit()?;
            Ok(v)
        }
        Err(e) => {
            conn.rollback();
            Err(e)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Group commit for creates

type Slot = Arc<Mutex<Option<Result<(), Error>>>>;

struct Job {
    row: Arc<NewRow>,
    actor: Actor,
    slot: Slot,
}

struct GroupState {
    queue: Vec<Job>,
    leader: bool,
}

/// Concurrent creates share one transaction (one fsync): the first waiting caller
/// becomes the leader, commits everyone queued, and every caller returns only after the
/// commit that holds its row. Each row has its own savepoint, so one name conflict does
/// not fail its neighbours.
struct GroupCommit {
    state: Mutex<GroupState>,
    cv: Condvar,
}

/// Most rows per group transaction.
const MAX_GROUP: usize = 512;

impl GroupCommit {
    fn new() -> GroupCommit {
        GroupCommit {
            state: Mutex::new(GroupState {
                queue: Vec::new(),
                leader: false,
            }),
            cv: Condvar::new(),
        }
    }

    fn submit(
        &self,
        pool: &Pool,
        instance: &str,
        row: Arc<NewRow>,
        actor: &Actor,
    ) -> Result<(), Error> {
        let poisoned = || Error::Internal {
            detail: "a registry lock was poisoned",
        };
        let slot: Slot = Arc::new(Mutex::new(None));
        let mut st = self.state.lock().map_err(|_| poisoned())?;
        st.queue.push(Job {
            row,
            actor: actor.clone(),
            slot: Arc::clone(&slot),
        });
        loop {
            if let Some(r) = slot.lock().map_err(|_| poisoned())?.take() {
                return r;
            }
            if !st.leader {
                st.leader = true;
                let n = st.queue.len().min(MAX_GROUP);
                let batch: Vec<Job> = st.queue.drain(..n).collect();
                drop(st);
                run_group(pool, instance, &batch);
                st = self.state.lock().map_err(|_| poisoned())?;
                st.leader = false;
                self.cv.notify_all();
                continue;
            }
            st = self.cv.wait(st).map_err(|_| poisoned())?;
        }
    }
}

/// The columns of a new key row, bound in this order (the same on both backends).
const INSERT_COLS: &str = "id, account, name, description, owner, role, scopes, read_only, \
    allowed_ips, enabled, expires_at, metadata, created_at, created_by, modified_at, \
    modified_by, version, digest";

/// The insert of one key row. On SQLite (schema v3, a WITHOUT ROWID table) `seq` is not a
/// rowid: the next number is taken under the write lock, one probe of `keys_seq`. On
/// PostgreSQL the identity column numbers it.
fn insert_sql(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "INSERT INTO keys (seq, id, account, name, description, owner, role, scopes, read_only, \
             allowed_ips, enabled, expires_at, metadata, created_at, created_by, modified_at, \
             modified_by, version, digest) VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM keys), \
             ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        }
        Dialect::Postgres => {
            "INSERT INTO keys (id, account, name, description, owner, role, scopes, read_only, \
             allowed_ips, enabled, expires_at, metadata, created_at, created_by, modified_at, \
             modified_by, version, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        }
    }
}

fn insert_row(conn: &mut dyn Conn, row: &NewRow, actor: &Actor) -> Result<(), Error> {
    let r = &row.record;
    let sql = insert_sql(conn.dialect());
    conn.exec(
        sql,
        &[
            Val::from(r.id.as_str()),
            Val::from(r.account.as_str()),
            Val::from(r.name.as_str()),
            Val::from(r.description.as_str()),
            Val::opt_text(r.owner.as_deref()),
            Val::opt_text(r.role.as_deref()),
            Val::from(to_json(&r.scopes)?),
            Val::from(r.read_only),
            Val::from(to_json(&r.allowed_ips)?),
            Val::from(r.enabled),
            Val::opt_int(r.expires_at),
            Val::from(to_json(&r.metadata)?),
            Val::Int(r.created_at),
            Val::from(r.created_by.to_stored()),
            Val::Int(r.modified_at),
            Val::from(r.modified_by.to_stored()),
            Val::Int(1),
            Val::from(row.digest.as_str()),
        ],
    )?;
    if let Some(seal) = &row.import_seal {
        conn.exec(
            "UPDATE keys SET import_seal = ? WHERE id = ?",
            &[Val::from(seal.as_str()), Val::from(r.id.as_str())],
        )?;
    }
    insert_audit(
        conn,
        r,
        row.action,
        actor,
        r.created_at,
        &creation_changes(r),
    )?;
    Ok(())
}

/// Notifies the ids of a batch, several per notification (payloads stay under
/// PostgreSQL's 8000-byte limit).
fn notify_many<'a>(
    conn: &mut dyn Conn,
    instance: &str,
    ids: impl Iterator<Item = &'a str>,
) -> Result<(), DbErr> {
    let mut payload = String::new();
    for id in ids {
        if !payload.is_empty() && payload.len() + id.len() > 7000 {
            notify(conn, instance, &payload)?;
            payload.clear();
        }
        if !payload.is_empty() {
            payload.push(',');
        }
        payload.push_str(id);
    }
    if !payload.is_empty() {
        notify(conn, instance, &payload)?;
    }
    Ok(())
}

fn run_group(pool: &Pool, instance: &str, batch: &[Job]) {
    let set = |job: &Job, r: Result<(), Error>| {
        if let Ok(mut s) = job.slot.lock() {
            *s = Some(r);
        }
    };
    let fail_all = |e: Error| {
        for job in batch {
            set(job, Err(e.clone()));
        }
    };
    let mut conn = match pool.get() {
        Ok(c) => c,
        Err(e) => return fail_all(e.into_error()),
    };
    // First try the whole batch plainly: the common case, two statements per row.
    let fast: Result<(), Error> = (|| {
        conn.begin()?;
        for job in batch {
            insert_row(&mut *conn, &job.row, &job.actor)?;
        }
        notify_many(
            &mut *conn,
            instance,
            batch.iter().map(|j| j.row.record.id.as_str()),
        )?;
        conn.commit()?;
        Ok(())
    })();
    match fast {
        Ok(()) => {
            for job in batch {
                set(job, Ok(()));
            }
            return;
        }
        Err(e) => {
            conn.rollback();
            if e.error_code() == ErrorCode::StorageUnavailable || batch.len() == 1 {
                return fail_all(e);
            }
        }
    }
    // Some row failed: again, with a savepoint per row, so it fails alone.
    if let Err(e) = conn.begin() {
        return fail_all(e.into_error());
    }
    let mut results: Vec<Result<(), Error>> = Vec::with_capacity(batch.len());
    for job in batch {
        let r = (|| {
            conn.batch("SAVEPOINT ks_row")?;
            match insert_row(&mut *conn, &job.row, &job.actor) {
                Ok(()) => {
                    conn.batch("RELEASE SAVEPOINT ks_row")?;
                    Ok(())
                }
                Err(e) => {
                    conn.batch("ROLLBACK TO SAVEPOINT ks_row; RELEASE SAVEPOINT ks_row")?;
                    Err(e)
                }
            }
        })();
        results.push(r);
    }
    let ok_ids: Vec<&str> = batch
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_ok())
        .map(|(j, _)| j.row.record.id.as_str())
        .collect();
    let committed =
        notify_many(&mut *conn, instance, ok_ids.into_iter()).and_then(|()| conn.commit());
    match committed {
        Ok(()) => {
            for (job, r) in batch.iter().zip(results) {
                set(job, r);
            }
        }
        Err(e) => {
            conn.rollback();
            fail_all(e.into_error());
        }
    }
}

// ---------------------------------------------------------------------------------------

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
        let has_table = match conn.dialect() {
            Dialect::Sqlite => conn.query_one(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'keyseal_schema'",
                &[],
            )?,
            Dialect::Postgres => conn.query_one(
                "SELECT 1::BIGINT FROM pg_tables WHERE tablename = 'keyseal_schema'",
                &[],
            )?,
        };
        if has_table.is_none() {
            return Ok(0);
        }
        Ok(store::schema_version(&mut *conn)?)
    }

    fn open_at_version(
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
            storage,
            pool,
            config,
        });
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        {
            let inner = Arc::clone(&inner);
            let stop = Arc::clone(&stop);
            threads.push(std::thread::spawn(move || flusher(&inner, &stop)));
        }
        if let (Storage::Postgres(url), true) = (&inner.storage, inner.config.listen_for_changes) {
            let url = url.clone();
            let inner2 = Arc::clone(&inner);
            let stop2 = Arc::clone(&stop);
            let (ready_tx, ready_rx) = std::sync::mpsc::channel();
            threads.push(std::thread::spawn(move || {
                listener(&inner2, &url, &stop2, ready_tx)
            }));
            // Wait (bounded) until LISTEN is active, so changes made right after open are
            // seen; if the server is unreachable the listener keeps retrying.
            let _ = ready_rx.recv_timeout(Duration::from_secs(5));
        }
        Ok(Registry {
            inner,
            stop,
            threads: Mutex::new(threads),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RegistryConfig {
        &self.inner.config
    }

    fn now(&self) -> i64 {
        self.inner.config.clock.now()
    }

    fn format(&self) -> &KeyFormat {
        &self.inner.config.key_format
    }

    /// Validates the fields of a new key into a record (version 1).
    fn new_record(
        &self,
        id: String,
        n: &NewKey,
        actor: &Actor,
        at: i64,
    ) -> Result<KeyRecord, Error> {
        validate::account(&n.account)?;
        validate::name(&n.name)?;
        validate::description(&n.description)?;
        validate::actor(actor)?;
        if let Some(o) = &n.owner {
            validate::owner(o)?;
        }
        if let Some(r) = &n.role {
            validate::role(r)?;
        }
        let scopes = validate::scopes(&n.scopes)?;
        let ips = validate::allowed_ips(&n.allowed_ips)?;
        validate::metadata(&n.metadata)?;
        n.expires_at.map(validate::timestamp).transpose()?;
        Ok(KeyRecord {
            id,
            prefix: self.format().prefix().to_owned(),
            account: n.account.clone(),
            name: n.name.clone(),
            description: n.description.clone(),
            owner: n.owner.clone(),
            role: n.role.clone(),
            scopes: scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            read_only: n.read_only,
            allowed_ips: ips.iter().map(ToString::to_string).collect(),
            enabled: !n.disabled,
            expires_at: n.expires_at,
            metadata: n.metadata.clone(),
            created_at: at,
            created_by: actor.clone(),
            modified_at: at,
            modified_by: actor.clone(),
            version: 1,
            deleted_at: None,
            last_used_at: None,
            previous_secret_expires_at: None,
            rolled_at: None,
        })
    }

    /// Creates a key. The returned [`CreatedKey::key`] is the only time the full key
    /// exists: the registry stores only its peppered digest.
    ///
    /// Errors: `invalid_name`, `invalid_argument`, `invalid_scope`, `invalid_cidr`,
    /// `invalid_metadata`, `payload_too_large`, `name_conflict`, `storage_unavailable`.
    pub fn create(&self, new: &NewKey, actor: &Actor) -> Result<CreatedKey, Error> {
        let key = self.format().generate_os()?;
        let now = self.now();
        let record = self.new_record(key.id().to_owned(), new, actor, now)?;
        let digest = self.inner.config.peppers.digest(key.expose());
        let row = Arc::new(NewRow {
            record,
            digest,
            action: AuditAction::Create,
            import_seal: None,
        });
        self.inner.group.submit(
            &self.inner.pool,
            &self.inner.instance,
            Arc::clone(&row),
            actor,
        )?;
        self.inner.negative.remove(key.id());
        let record = match Arc::try_unwrap(row) {
            Ok(r) => r.record,
            Err(shared) => shared.record.clone(),
        };
        Ok(CreatedKey { record, key })
    }

    /// Imports a key hashed elsewhere (see [`ImportKey`]); it verifies at once, and its
    /// digest is replaced by a peppered one on the first successful verification.
    ///
    /// A digest made without our pepper (plain SHA-256, or HMAC-SHA256 under a foreign
    /// pepper named by [`ImportKey::pepper`]) needs
    /// [`RegistryConfig::accept_imported_digests`]; the row then carries an import seal
    /// (a MAC of its id and digest under our pepper), and only sealed rows may hold such
    /// a digest. A keyseal `v1.` digest of one of our peppers imports as is.
    ///
    /// Errors: those of [`Registry::create`], plus `invalid_argument` for an id that is
    /// not of the registry's key format, `malformed_digest` for a digest that is neither
    /// SHA-256 hex/base64 nor a keyseal `v1.` digest (64 hex digits with a foreign
    /// pepper), `invalid_config` when imports are off, and `unknown_pepper` for a foreign
    /// pepper that is not configured.
    pub fn import(&self, import: &ImportKey, actor: &Actor) -> Result<KeyRecord, Error> {
        if !validate::is_key_id(&import.id, self.format().id_len()) {
            return Err(reg(
                ErrorCode::InvalidArgument,
                "expected an id of the registry's key format (base62, the format's id length)",
            ));
        }
        let cfg = &self.inner.config;
        let (digest, sealed) =
            secrets::import_digest(cfg, &import.digest, import.pepper.as_deref())?;
        let import_seal = sealed.then(|| secrets::seal(&cfg.peppers, &import.id, &digest));
        let now = self.now();
        let mut record = self.new_record(import.id.clone(), &import.fields, actor, now)?;
        if let Some(at) = import.created_at {
            record.created_at = validate::timestamp(at)?;
        }
        let row = Arc::new(NewRow {
            record,
            digest,
            action: AuditAction::Import,
            import_seal,
        });
        self.inner.group.submit(
            &self.inner.pool,
            &self.inner.instance,
            Arc::clone(&row),
            actor,
        )?;
        self.inner.negative.remove(&import.id);
        self.inner.cache.invalidate(&import.id);
        Ok(row.record.clone())
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

    fn load_by_id(&self, conn: &mut dyn Conn, id: &str) -> Result<Option<Loaded>, Error> {
        let sql = format!("SELECT {KEY_COLS}, import_seal FROM keys WHERE id = ?");
        match conn.query_one(&sql, &[Val::from(id)])? {
            Some(r) => {
                let mut l = Loaded::from_row(&r, self.format().prefix())?;
                l.import_seal = col_opt_text(&r, KEY_COLS_LEN);
                Ok(Some(l))
            }
            None => Ok(None),
        }
    }

    /// Loads the live row of `id` in `account` for update (locked on PostgreSQL).
    fn load_for_update(
        &self,
        conn: &mut dyn Conn,
        account: &str,
        id: &str,
    ) -> Result<Loaded, Error> {
        validate::account(account)?;
        if !validate::is_key_id(id, self.format().id_len()) {
            return Err(not_found());
        }
        let lock = if conn.dialect() == Dialect::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {KEY_COLS} FROM keys WHERE id = ? AND account = ? AND deleted_at IS NULL{lock}"
        );
        match conn.query_one(&sql, &[Val::from(id), Val::from(account)])? {
            Some(r) => Loaded::from_row(&r, self.format().prefix()),
            None => Err(not_found()),
        }
    }

    /// A live key of `account` (deleted keys are `not_found`).
    pub fn get(&self, account: &str, id: &str) -> Result<KeyRecord, Error> {
        validate::account(account)?;
        if !validate::is_key_id(id, self.format().id_len()) {
            return Err(not_found());
        }
        let mut conn = self.inner.pool.get()?;
        let sql = format!(
            "SELECT {KEY_COLS} FROM keys WHERE id = ? AND account = ? AND deleted_at IS NULL"
        );
        match conn.query_one(&sql, &[Val::from(id), Val::from(account)])? {
            Some(r) => Ok(Loaded::from_row(&r, self.format().prefix())?.record),
            None => Err(not_found()),
        }
    }

    /// The id of the live key of `account` that `key` refers to: its id or its name.
    ///
    /// The rule, in order: `name:<name>` is always a name (neither ids nor names contain
    /// `:`); a string with the shape of a key id (the format's id length, base62) is
    /// first looked up as an id; anything else, and an id-shaped string that is no live
    /// key's id, is looked up as a name (unique among the account's live keys). So an
    /// id always reaches its key, and a name reaches its key unless it equals the id of
    /// another live key of the same account (ids are random, so only a name copied from
    /// an id does); `name:` reaches it then.
    ///
    /// Errors: `not_found` (no live key of `account` with this id or name).
    pub fn resolve_key(&self, account: &str, key: &str) -> Result<String, Error> {
        validate::account(account)?;
        let (name, try_id) = match key.strip_prefix("name:") {
            Some(n) => (n, false),
            None => (key, validate::is_key_id(key, self.format().id_len())),
        };
        let mut conn = self.inner.pool.get()?;
        if try_id
            && let Some(r) = conn.query_one(
                "SELECT id FROM keys WHERE id = ? AND account = ? AND deleted_at IS NULL",
                &[Val::from(key), Val::from(account)],
            )?
        {
            return col_text(&r, 0);
        }
        if validate::name(name).is_err() {
            return Err(not_found());
        }
        match conn.query_one(
            "SELECT id FROM keys WHERE account = ? AND name = ? AND deleted_at IS NULL",
            &[Val::from(account), Val::from(name)],
        )? {
            Some(r) => col_text(&r, 0),
            None => Err(not_found()),
        }
    }

    /// A page of `account`'s keys, newest first.
    ///
    /// Errors: `invalid_limit` (outside 1-100), `invalid_argument` (offset over 10,000,
    /// both cursors given, bad owner/role filter), `invalid_cursor` (not an id of this
    /// account's keys).
    pub fn list(&self, account: &str, q: &ListQuery) -> Result<Page<KeyRecord>, Error> {
        validate::account(account)?;
        let limit = validate::limit(q.limit)?;
        let offset = validate::offset(q.offset)?;
        if let Some(o) = &q.owner {
            validate::owner(o)?;
        }
        if let Some(r) = &q.role {
            validate::role(r)?;
        }
        let now = self.now();
        let mut filter = String::from("account = ?");
        let mut params = vec![Val::from(account)];
        match q.status {
            KeyStatus::All => filter.push_str(" AND deleted_at IS NULL"),
            KeyStatus::Deleted => filter.push_str(" AND deleted_at IS NOT NULL"),
            KeyStatus::Active => {
                filter.push_str(
                    " AND deleted_at IS NULL AND enabled = 1 AND (expires_at IS NULL OR expires_at > ?)",
                );
                params.push(Val::Int(now));
            }
            KeyStatus::Inactive => {
                filter.push_str(
                    " AND deleted_at IS NULL AND (enabled = 0 OR (expires_at IS NOT NULL AND expires_at <= ?))",
                );
                params.push(Val::Int(now));
            }
        }
        if let Some(o) = &q.owner {
            filter.push_str(" AND owner = ?");
            params.push(Val::from(o.as_str()));
        }
        if let Some(r) = &q.role {
            filter.push_str(" AND role = ?");
            params.push(Val::from(r.as_str()));
        }
        let mut conn = self.inner.pool.get()?;
        let cursor = |conn: &mut dyn Conn, c: &str| -> Result<i64, Error> {
            let bad = || {
                reg(
                    ErrorCode::InvalidCursor,
                    "expected the id of a key of this account",
                )
            };
            if !validate::is_key_id(c, self.format().id_len()) {
                return Err(bad());
            }
            conn.query_one(
                "SELECT seq FROM keys WHERE id = ? AND account = ?",
                &[Val::from(c), Val::from(account)],
            )?
            .and_then(|r| r.first().and_then(Val::int))
            .ok_or_else(bad)
        };
        let (page_filter, asc) = match (&q.starting_after, &q.ending_before) {
            (Some(_), Some(_)) => {
                return Err(reg(
                    ErrorCode::InvalidCursor,
                    "expected starting_after or ending_before, not both",
                ));
            }
            (Some(c), None) => (Some(("seq < ?", cursor(&mut *conn, c)?)), false),
            (None, Some(c)) => (Some(("seq > ?", cursor(&mut *conn, c)?)), true),
            (None, None) => (None, false),
        };
        // One round trip: the page, each row carrying the filtered total. Only an empty
        // page needs a second query for the total.
        let count_sql = format!("SELECT COUNT(*) FROM keys WHERE {filter}");
        let mut sql = format!("SELECT {KEY_COLS}, ({count_sql}) FROM keys WHERE {filter}");
        let mut page_params = params.clone();
        page_params.extend(params.iter().cloned());
        if let Some((cond, seq)) = page_filter {
            sql.push_str(" AND ");
            sql.push_str(cond);
            page_params.push(Val::Int(seq));
        }
        sql.push_str(if asc {
            " ORDER BY seq ASC LIMIT ? OFFSET ?"
        } else {
            " ORDER BY seq DESC LIMIT ? OFFSET ?"
        });
        page_params.push(Val::Int(limit + 1));
        page_params.push(Val::Int(offset));
        let rows = conn.query(&sql, &page_params)?;
        let total = match rows.first() {
            Some(r) => r.get(KEY_COLS_LEN).and_then(Val::int),
            None => conn
                .query_one(&count_sql, &params)?
                .and_then(|r| r.first().and_then(Val::int)),
        }
        .unwrap_or(0)
        .max(0) as u64;
        drop(conn);
        let mut data = rows
            .iter()
            .map(|r| Loaded::from_row(r, self.format().prefix()).map(|l| l.record))
            .collect::<Result<Vec<_>, Error>>()?;
        let has_more = data.len() as i64 > limit;
        data.truncate(limit as usize);
        if asc {
            data.reverse();
        }
        Ok(page(data, total, has_more, |r| r.id.clone()))
    }

    /// Applies a partial change. The record's version must equal
    /// `patch.expected_version` (`version_conflict` otherwise); a patch that changes
    /// nothing returns the record as it is, without a new version.
    pub fn update(
        &self,
        account: &str,
        id: &str,
        patch: &KeyPatch,
        actor: &Actor,
    ) -> Result<KeyRecord, Error> {
        validate::actor(actor)?;
        if let Some(n) = &patch.name {
            validate::name(n)?;
        }
        if let Some(d) = &patch.description {
            validate::description(d)?;
        }
        if let Some(Some(o)) = &patch.owner {
            validate::owner(o)?;
        }
        if let Some(Some(r)) = &patch.role {
            validate::role(r)?;
        }
        let scopes = patch
            .scopes
            .as_ref()
            .map(|s| validate::scopes(s))
            .transpose()?;
        let ips = patch
            .allowed_ips
            .as_ref()
            .map(|s| validate::allowed_ips(s))
            .transpose()?;
        if let Some(m) = &patch.metadata {
            validate::metadata(m)?;
        }
        if let Some(Some(t)) = patch.expires_at {
            validate::timestamp(t)?;
        }
        let now = self.now();
        let result = with_tx(&self.inner.pool, |conn| {
            let old = self.load_for_update(conn, account, id)?;
            if old.record.version != patch.expected_version {
                return Err(conflict());
            }
            let mut new = old.record.clone();
            if let Some(n) = &patch.name {
                new.name = n.clone();
            }
            if let Some(d) = &patch.description {
                new.description = d.clone();
            }
            if let Some(o) = &patch.owner {
                new.owner = o.clone();
            }
            if let Some(r) = &patch.role {
                new.role = r.clone();
            }
            if let Some(s) = &scopes {
                new.scopes = s.iter().map(|s| s.as_str().to_owned()).collect();
            }
            if let Some(ro) = patch.read_only {
                new.read_only = ro;
            }
            if let Some(ips) = &ips {
                new.allowed_ips = ips.iter().map(ToString::to_string).collect();
            }
            if let Some(e) = patch.enabled {
                new.enabled = e;
            }
            if let Some(e) = patch.expires_at {
                new.expires_at = e;
            }
            if let Some(m) = &patch.metadata {
                new.metadata = m.clone();
            }
            let changes = diff(&old.record, &new);
            if changes.is_empty() {
                return Ok((old.record, false));
            }
            new.version += 1;
            new.modified_at = now;
            new.modified_by = actor.clone();
            let n = conn.exec(
                "UPDATE keys SET name = ?, description = ?, owner = ?, role = ?, scopes = ?, \
                 read_only = ?, allowed_ips = ?, enabled = ?, expires_at = ?, metadata = ?, \
                 modified_at = ?, modified_by = ?, version = version + 1 \
                 WHERE id = ? AND account = ? AND version = ? AND deleted_at IS NULL",
                &[
                    Val::from(new.name.as_str()),
                    Val::from(new.description.as_str()),
                    Val::opt_text(new.owner.as_deref()),
                    Val::opt_text(new.role.as_deref()),
                    Val::from(to_json(&new.scopes)?),
                    Val::from(new.read_only),
                    Val::from(to_json(&new.allowed_ips)?),
                    Val::from(new.enabled),
                    Val::opt_int(new.expires_at),
                    Val::from(to_json(&new.metadata)?),
                    Val::Int(now),
                    Val::from(actor.to_stored()),
                    Val::from(id),
                    Val::from(account),
                    Val::Int(patch.expected_version as i64),
                ],
            )?;
            if n != 1 {
                return Err(conflict());
            }
            insert_audit(conn, &new, AuditAction::Update, actor, now, &changes)?;
            notify(conn, &self.inner.instance, id)?;
            Ok((new, true))
        });
        let (rec, changed) = result?;
        if changed {
            self.inner.cache.invalidate(id);
        }
        Ok(rec)
    }

    /// Enables a key (an update of `enabled`).
    pub fn enable(
        &self,
        account: &str,
        id: &str,
        expected_version: u64,
        actor: &Actor,
    ) -> Result<KeyRecord, Error> {
        let mut p = KeyPatch::new(expected_version);
        p.enabled = Some(true);
        self.update(account, id, &p, actor)
    }

    /// Disables a key (an update of `enabled`); it then fails with `key_disabled`.
    pub fn disable(
        &self,
        account: &str,
        id: &str,
        expected_version: u64,
        actor: &Actor,
    ) -> Result<KeyRecord, Error> {
        let mut p = KeyPatch::new(expected_version);
        p.enabled = Some(false);
        self.update(account, id, &p, actor)
    }

    /// Soft-deletes a key: from the commit on it fails verification with `key_revoked`,
    /// its name is free again, and it shows only in lists with [`KeyStatus::Deleted`].
    /// `expected_version: None` deletes whatever the version.
    pub fn delete(
        &self,
        account: &str,
        id: &str,
        expected_version: Option<u64>,
        actor: &Actor,
    ) -> Result<KeyRecord, Error> {
        validate::actor(actor)?;
        let now = self.now();
        let rec = with_tx(&self.inner.pool, |conn| {
            let old = self.load_for_update(conn, account, id)?;
            if expected_version.is_some_and(|v| v != old.record.version) {
                return Err(conflict());
            }
            let mut new = old.record.clone();
            new.deleted_at = Some(now);
            new.version += 1;
            new.modified_at = now;
            new.modified_by = actor.clone();
            let n = conn.exec(
                "UPDATE keys SET deleted_at = ?, modified_at = ?, modified_by = ?, version = version + 1 \
                 WHERE id = ? AND account = ? AND version = ? AND deleted_at IS NULL",
                &[
                    Val::Int(now),
                    Val::Int(now),
                    Val::from(actor.to_stored()),
                    Val::from(id),
                    Val::from(account),
                    Val::Int(old.record.version as i64),
                ],
            )?;
            if n != 1 {
                return Err(conflict());
            }
            insert_audit(
                conn,
                &new,
                AuditAction::Delete,
                actor,
                now,
                &diff(&old.record, &new),
            )?;
            notify(conn, &self.inner.instance, id)?;
            Ok(new)
        })?;
        self.inner.cache.invalidate(id);
        Ok(rec)
    }

    /// Rolls a key's secret: the same record (id, name, policy) gets a new secret,
    /// returned once. The old secret keeps verifying for `grace_seconds` (0 = stops at
    /// once; at most 30 days), as Stripe's roll does. A second roll within the grace
    /// period ends the first old secret at once.
    pub fn roll(
        &self,
        account: &str,
        id: &str,
        grace_seconds: i64,
        expected_version: Option<u64>,
        actor: &Actor,
    ) -> Result<RolledKey, Error> {
        validate::actor(actor)?;
        if !(0..=MAX_ROLL_GRACE).contains(&grace_seconds) {
            return Err(reg(
                ErrorCode::InvalidArgument,
                "expected a grace period of 0 to 2592000 seconds",
            ));
        }
        if !validate::is_key_id(id, self.format().id_len()) {
            return Err(not_found());
        }
        // A fresh secret for the same id: draw a key, keep its secret, recompute the
        // checksum over the new text.
        let fresh = self.format().generate_os()?;
        let mut text = Zeroizing::new(String::with_capacity(self.format().key_len()));
        text.push_str(self.format().prefix());
        text.push('_');
        text.push_str(id);
        text.push('_');
        text.push_str(fresh.expose_secret());
        let sum = keyseal::key::checksum(text.as_bytes());
        for b in sum {
            text.push(char::from(b));
        }
        let key = self.format().parse(&text)?;
        let digest = self.inner.config.peppers.digest(key.expose());
        let now = self.now();
        let rec = with_tx(&self.inner.pool, |conn| {
            let old = self.load_for_update(conn, account, id)?;
            if expected_version.is_some_and(|v| v != old.record.version) {
                return Err(conflict());
            }
            let prev_until = (grace_seconds > 0).then(|| now + grace_seconds);
            let mut new = old.record.clone();
            new.previous_secret_expires_at = prev_until;
            new.rolled_at = Some(now);
            new.version += 1;
            new.modified_at = now;
            new.modified_by = actor.clone();
            let n = conn.exec(
                "UPDATE keys SET digest = ?, prev_digest = ?, prev_digest_until = ?, rolled_at = ?, \
                 modified_at = ?, modified_by = ?, version = version + 1 \
                 WHERE id = ? AND account = ? AND version = ? AND deleted_at IS NULL",
                &[
                    Val::from(digest.as_str()),
                    prev_until.map_or(Val::Null, |_| Val::from(old.digest.as_str())),
                    Val::opt_int(prev_until),
                    Val::Int(now),
                    Val::Int(now),
                    Val::from(actor.to_stored()),
                    Val::from(id),
                    Val::from(account),
                    Val::Int(old.record.version as i64),
                ],
            )?;
            if n != 1 {
                return Err(conflict());
            }
            let mut changes = diff(&old.record, &new);
            // Never the secret or a digest: only the fact that it changed.
            changes.insert(
                "secret".to_owned(),
                json!({ "old": "previous secret", "new": "new secret" }),
            );
            insert_audit(conn, &new, AuditAction::Roll, actor, now, &changes)?;
            notify(conn, &self.inner.instance, id)?;
            Ok(new)
        })?;
        self.inner.cache.invalidate(id);
        Ok(RolledKey { record: rec, key })
    }

    /// The cache entry for `id` without touching the database: `Some(Some(_))` a fresh
    /// cached record, `Some(None)` an id known to be unknown, `None` a miss.
    fn cached_entry(&self, id: &str, now: i64) -> Option<Option<Arc<Entry>>> {
        let inner = &self.inner;
        if let Some(e) = inner.cache.get(id)
            && now.saturating_sub(e.loaded_at) < inner.config.cache_ttl
        {
            return Some(Some(e));
        }
        if inner.negative.contains(id, now) {
            return Some(None);
        }
        None
    }

    /// Loads the record of `id` from the database into the cache. `Ok(None)`: no such key.
    fn load_entry(&self, id: &str, now: i64) -> Result<Option<Arc<Entry>>, Error> {
        let inner = &self.inner;
        let generation = inner.cache.generation();
        let loaded = {
            let _pass = inner.lookups.enter()?;
            let mut conn = inner.pool.get()?;
            self.load_by_id(&mut *conn, id)?
        };
        let Some(l) = loaded else {
            inner
                .negative
                .insert(id, now.saturating_add(inner.config.negative_cache_ttl), now);
            return Ok(None);
        };
        // Checked once here, so a cached record always rebuilds a valid policy.
        policy_of(&l.record)?;
        let prev = l.prev.as_ref().map(|(d, until)| (d.as_str(), *until));
        // Decided once per load: the cached entry says whether each digest is an
        // accepted import (imports on, and the seal covers this id and digest).
        let cfg = &inner.config;
        let sealed = |digest: &str| {
            cfg.accept_imported_digests
                && l.import_seal
                    .as_deref()
                    .is_some_and(|s| secrets::seal_is_valid(&cfg.peppers, id, digest, s))
        };
        let imported = sealed(&l.digest);
        let prev_imported = prev.is_some_and(|(d, _)| sealed(d));
        let entry = Arc::new(
            Entry::new(&l.record, &l.digest, prev, now)?.with_imported(imported, prev_imported),
        );
        inner.cache.insert(Arc::clone(&entry), generation);
        Ok(Some(entry))
    }

    /// Verifies a presented key: format and checksum, then the digest (the current
    /// secret, or the previous one until its grace deadline), then the core's policy for
    /// `ctx`. Returns the record and the policy decision once the secret matched.
    ///
    /// A hot key verifies from the in-process cache without touching the database.
    /// Digests made with an older pepper or imported as SHA-256 are replaced with the
    /// current pepper's digest (best effort: a failed write is retried next time).
    ///
    /// Errors before a decision: `malformed_key`, `bad_checksum`, `prefix_mismatch`,
    /// `not_found` (no key with this id), `digest_mismatch`, `storage_unavailable`.
    pub fn verify(&self, key: &str, ctx: &RequestContext<'_>) -> Result<Verification, Error> {
        self.verify_with(key, ctx, true)?.ok_or(Error::Internal {
            detail: "a verification with database access asked for it",
        })
    }

    /// [`Registry::verify`] when it can answer from memory alone: `None` when the answer
    /// needs the database (the record is not cached, or its digest is due for a rehash),
    /// so the caller retries with [`Registry::verify`] on a thread that may block.
    ///
    /// Never blocks on I/O (it takes a cache shard's read lock and computes one HMAC), so
    /// an async server may call it on its runtime threads, on either backend.
    pub fn verify_cached(
        &self,
        key: &str,
        ctx: &RequestContext<'_>,
    ) -> Option<Result<Verification, Error>> {
        self.verify_with(key, ctx, false).transpose()
    }

    /// The verify path; with `io` false, `Ok(None)` where it would need the database.
    fn verify_with(
        &self,
        key: &str,
        ctx: &RequestContext<'_>,
        io: bool,
    ) -> Result<Option<Verification>, Error> {
        let parts = self.format().check(key)?;
        let id = parts.id();
        let now = self.now();
        let entry = match self.cached_entry(id, now) {
            Some(e) => e,
            None if io => self.load_entry(id, now)?,
            None => return Ok(None),
        };
        let entry = entry.ok_or_else(|| reg(ErrorCode::NotFound, "no key with this id"))?;
        let cfg = &self.inner.config;
        let (status, current) =
            match secrets::check_digest(cfg, key, entry.digest(), entry.imported()) {
                Ok(s) => (s, true),
                Err(e) => match entry.prev().filter(|(_, until)| ctx.now < *until) {
                    Some((d, _)) => match secrets::check_digest(cfg, key, d, entry.prev_imported())
                    {
                        Ok(s) => (s, false),
                        Err(_) => return Err(e),
                    },
                    None => return Err(e),
                },
            };
        if status == DigestStatus::Outdated && current {
            if !io {
                return Ok(None);
            }
            self.rehash(id, key, entry.digest(), entry.imported());
        }
        let record = entry.record(self.format().prefix())?;
        let decision = policy_of(&record)?.check(ctx);
        if decision.is_ok() && self.inner.config.track_last_used {
            self.touch(&entry, id, now);
        }
        Ok(Some(Verification {
            record: Arc::new(record),
            decision,
        }))
    }

    /// [`Registry::verify`] folded into one result: the record when the request is
    /// allowed, the policy error otherwise.
    pub fn authenticate(
        &self,
        key: &str,
        ctx: &RequestContext<'_>,
    ) -> Result<Arc<KeyRecord>, Error> {
        let v = self.verify(key, ctx)?;
        v.decision?;
        Ok(v.record)
    }

    /// Verifies `key` for `ctx`, then issues the core's short-lived token for it (600 s
    /// by default; `options` overrides the configured [`RegistryConfig::exchange`]).
    pub fn exchange(
        &self,
        key: &str,
        ctx: &RequestContext<'_>,
        options: Option<&ExchangeOptions>,
    ) -> Result<ExchangedToken, Error> {
        self.exchange_with(key, ctx, options, true)?
            .ok_or(Error::Internal {
                detail: "an exchange with database access asked for it",
            })
    }

    /// [`Registry::exchange`] when it can answer from memory alone; `None` when the
    /// answer needs the database (see [`Registry::verify_cached`]).
    pub fn exchange_cached(
        &self,
        key: &str,
        ctx: &RequestContext<'_>,
        options: Option<&ExchangeOptions>,
    ) -> Option<Result<ExchangedToken, Error>> {
        self.exchange_with(key, ctx, options, false).transpose()
    }

    fn exchange_with(
        &self,
        key: &str,
        ctx: &RequestContext<'_>,
        options: Option<&ExchangeOptions>,
        io: bool,
    ) -> Result<Option<ExchangedToken>, Error> {
        let keyset = self
            .inner
            .config
            .keyset
            .as_ref()
            .ok_or(Error::InvalidConfig {
                setting: "keyset",
                expected: "a token keyset to sign exchange tokens",
            })?;
        let Some(v) = self.verify_with(key, ctx, io)? else {
            return Ok(None);
        };
        v.decision?;
        let record = v.record;
        let opts = options.unwrap_or(&self.inner.config.exchange);
        let claims = tokens::claims_for(&record, ctx.now, opts)?;
        let token = keyset.issue(&claims)?;
        Ok(Some(ExchangedToken {
            token,
            expires_at: claims.exp.unwrap_or(ctx.now),
            record,
        }))
    }

    /// Verifies an exchange token this registry issued and checks the key it stands for
    /// (see [`crate::tokens`]): the signature, `exp` and the configured issuer and
    /// audience, then the [`tokens::ACCOUNT_CLAIM`] and `key_id` claims, then the key
    /// itself: it must still exist in that account, be enabled and not have expired, so a
    /// token stops working as soon as its key is deleted, disabled or expires.
    ///
    /// Errors: the core's token errors (`bad_signature`, `token_expired`, ...),
    /// `missing_claim` for a token without the account binding, `key_revoked`,
    /// `key_disabled`, `key_expired`, `storage_unavailable`.
    pub fn verify_token(&self, token: &str, now: i64) -> Result<TokenCheck, Error> {
        self.verify_token_with(token, now, true)?
            .ok_or(Error::Internal {
                detail: "a token verification with database access asked for it",
            })
    }

    /// [`Registry::verify_token`] when it can answer from memory alone; `None` when the
    /// key's record is not cached (see [`Registry::verify_cached`]).
    pub fn verify_token_cached(&self, token: &str, now: i64) -> Option<Result<TokenCheck, Error>> {
        self.verify_token_with(token, now, false).transpose()
    }

    fn verify_token_with(
        &self,
        token: &str,
        now: i64,
        io: bool,
    ) -> Result<Option<TokenCheck>, Error> {
        let config = &self.inner.config;
        let keyset = config.keyset.as_ref().ok_or(Error::InvalidConfig {
            setting: "keyset",
            expected: "a token keyset to verify exchange tokens",
        })?;
        let verified = keyset.verify(token, &tokens::validation(&config.exchange), now)?;
        let (account, key_id) = tokens::binding(&verified.claims)?;
        let entry = match self.cached_entry(key_id, self.now()) {
            Some(e) => e,
            None if io => self.load_entry(key_id, self.now())?,
            None => return Ok(None),
        };
        // A key id the registry does not know (any more) has no live key behind it.
        let entry = entry.ok_or(Error::KeyRevoked)?;
        let record = entry.record(self.format().prefix())?;
        tokens::check_key(&record, account, verified.claims.iat, now)?;
        Ok(Some(TokenCheck {
            token: verified,
            record: Arc::new(record),
        }))
    }

    /// Replaces an outdated digest with the current pepper's; an upgraded import also
    /// loses its seal (the row is an ordinary one from then on).
    fn rehash(&self, id: &str, key: &str, old: &str, was_import: bool) {
        let new = self.inner.config.peppers.digest(key);
        let sql = if was_import {
            "UPDATE keys SET digest = ?, import_seal = NULL WHERE id = ? AND digest = ?"
        } else {
            "UPDATE keys SET digest = ? WHERE id = ? AND digest = ?"
        };
        let r = with_tx(&self.inner.pool, |conn| {
            conn.exec(
                sql,
                &[Val::from(new.as_str()), Val::from(id), Val::from(old)],
            )?;
            Ok(())
        });
        if r.is_ok() {
            self.inner.cache.invalidate(id);
        }
    }

    fn touch(&self, entry: &Entry, id: &str, now: i64) {
        let interval = self.inner.config.last_used_interval;
        let last = entry.last_used.load(Ordering::Relaxed);
        if now.saturating_sub(last) < interval {
            return;
        }
        if entry
            .last_used
            .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        if let Ok(mut p) = self.inner.pending_last_used.lock() {
            p.insert(id.to_owned(), now);
        }
    }

    /// Writes the queued `last_used_at` times now (a background thread does it every
    /// second); returns how many keys were written.
    pub fn flush_last_used(&self) -> Result<usize, Error> {
        flush(&self.inner)
    }

    /// The audit log of `account`, newest first.
    pub fn audit(&self, account: &str, q: &AuditQuery) -> Result<Page<AuditEntry>, Error> {
        validate::account(account)?;
        let limit = validate::limit(q.limit)?;
        let offset = validate::offset(q.offset)?;
        let mut filter = String::from("account = ?");
        let mut params = vec![Val::from(account)];
        if let Some(k) = &q.key_id {
            if !validate::is_key_id(k, self.format().id_len()) {
                return Err(not_found());
            }
            filter.push_str(" AND key_id = ?");
            params.push(Val::from(k.as_str()));
        }
        let cur = |c: &str| -> Result<i64, Error> {
            c.parse::<i64>()
                .ok()
                .filter(|v| *v > 0 && c.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| reg(ErrorCode::InvalidCursor, "expected an audit entry id"))
        };
        let (page_filter, asc) = match (&q.starting_after, &q.ending_before) {
            (Some(_), Some(_)) => {
                return Err(reg(
                    ErrorCode::InvalidCursor,
                    "expected starting_after or ending_before, not both",
                ));
            }
            (Some(c), None) => (Some(("seq < ?", cur(c)?)), false),
            (None, Some(c)) => (Some(("seq > ?", cur(c)?)), true),
            (None, None) => (None, false),
        };
        let mut conn = self.inner.pool.get()?;
        let total = conn
            .query_one(
                &format!("SELECT COUNT(*) FROM audit WHERE {filter}"),
                &params,
            )?
            .and_then(|r| r.first().and_then(Val::int))
            .unwrap_or(0)
            .max(0) as u64;
        let mut sql = format!(
            "SELECT seq, account, key_id, action, actor, at, version, changes FROM audit WHERE {filter}"
        );
        if let Some((cond, seq)) = page_filter {
            sql.push_str(" AND ");
            sql.push_str(cond);
            params.push(Val::Int(seq));
        }
        sql.push_str(if asc {
            " ORDER BY seq ASC LIMIT ? OFFSET ?"
        } else {
            " ORDER BY seq DESC LIMIT ? OFFSET ?"
        });
        params.push(Val::Int(limit + 1));
        params.push(Val::Int(offset));
        let rows = conn.query(&sql, &params)?;
        drop(conn);
        let mut data = rows
            .iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: col_int(r, 0)?.to_string(),
                    account: col_text(r, 1)?,
                    key_id: col_text(r, 2)?,
                    action: AuditAction::from_stored(&col_text(r, 3)?),
                    actor: Actor::from_stored(&col_text(r, 4)?),
                    at: col_int(r, 5)?,
                    version: u64::try_from(col_int(r, 6)?).unwrap_or(0),
                    changes: json_col(r, 7)?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let has_more = data.len() as i64 > limit;
        data.truncate(limit as usize);
        if asc {
            data.reverse();
        }
        Ok(page(data, total, has_more, |e| e.id.clone()))
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

    /// Ends the background threads after a last `last_used_at` flush. Also done on drop.
    pub fn close(&self) {
        self.stop.store(true, Ordering::Release);
        let threads = match self.threads.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(_) => Vec::new(),
        };
        for t in threads {
            let _ = t.join();
        }
        let _ = flush(&self.inner);
    }

    /// Bulk-loads keys in one transaction, for benchmarks and migrations of large sets:
    /// multi-row inserts, no audit entries, no group commit. Returns the full keys.
    #[doc(hidden)]
    pub fn bulk_create_for_bench(
        &self,
        keys: &[NewKey],
        actor: &Actor,
    ) -> Result<Vec<keyseal::ApiKey>, Error> {
        const ROWS: usize = 500;
        let now = self.now();
        let mut out = Vec::with_capacity(keys.len());
        with_tx(&self.inner.pool, |conn| {
            // SQLite (schema v3): `seq` is numbered here, from the largest one, under the
            // transaction's write lock. PostgreSQL: the identity column numbers it.
            let mut next_seq = match conn.dialect() {
                Dialect::Sqlite => Some(
                    conn.query_one("SELECT COALESCE(MAX(seq), 0) FROM keys", &[])?
                        .and_then(|r| r.first().and_then(Val::int))
                        .unwrap_or(0),
                ),
                Dialect::Postgres => None,
            };
            let (cols, ncols) = match next_seq {
                Some(_) => (format!("seq, {INSERT_COLS}"), 19),
                None => (INSERT_COLS.to_owned(), 18),
            };
            let one = format!("({})", vec!["?"; ncols].join(", "));
            let mut rows: Vec<Val> = Vec::with_capacity(ncols * ROWS);
            for chunk in keys.chunks(ROWS) {
                rows.clear();
                for n in chunk {
                    let key = self.format().generate_os()?;
                    let r = self.new_record(key.id().to_owned(), n, actor, now)?;
                    let digest = self.inner.config.peppers.digest(key.expose());
                    if let Some(seq) = next_seq.as_mut() {
                        *seq += 1;
                        rows.push(Val::Int(*seq));
                    }
                    rows.extend([
                        Val::from(r.id.as_str()),
                        Val::from(r.account.as_str()),
                        Val::from(r.name.as_str()),
                        Val::from(r.description.as_str()),
                        Val::opt_text(r.owner.as_deref()),
                        Val::opt_text(r.role.as_deref()),
                        Val::from(to_json(&r.scopes)?),
                        Val::from(r.read_only),
                        Val::from(to_json(&r.allowed_ips)?),
                        Val::from(r.enabled),
                        Val::opt_int(r.expires_at),
                        Val::from(to_json(&r.metadata)?),
                        Val::Int(now),
                        Val::from(actor.to_stored()),
                        Val::Int(now),
                        Val::from(actor.to_stored()),
                        Val::Int(1),
                        Val::from(digest),
                    ]);
                    out.push(key);
                }
                let sql = format!(
                    "INSERT INTO keys ({cols}) VALUES {}",
                    vec![one.as_str(); chunk.len()].join(", ")
                );
                conn.exec(&sql, &rows)?;
            }
            Ok(())
        })?;
        Ok(out)
    }
}

fn page<T>(data: Vec<T>, total: u64, has_more: bool, id: impl Fn(&T) -> String) -> Page<T> {
    Page {
        count: data.len(),
        total,
        has_more,
        next_cursor: data.last().map(&id),
        prev_cursor: data.first().map(&id),
        data,
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.close();
    }
}

fn flush(inner: &Inner) -> Result<usize, Error> {
    let pending = match inner.pending_last_used.lock() {
        Ok(mut p) => std::mem::take(&mut *p),
        Err(_) => return Ok(0),
    };
    if pending.is_empty() {
        return Ok(0);
    }
    let r = with_tx(&inner.pool, |conn| {
        if conn.dialect() == Dialect::Sqlite {
            // In-process: one cached statement per row costs microseconds.
            for (id, at) in &pending {
                conn.exec(
                    "UPDATE keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
                    &[Val::Int(*at), Val::from(id.as_str()), Val::Int(*at)],
                )?;
            }
            return Ok(pending.len());
        }
        // PostgreSQL: a round trip per row kept the flusher (and the database) busy for
        // seconds after 100,000 keys were first used, taking CPU from the verify path.
        // Batches of up to 256 rows, in power-of-two sizes so that at most nine
        // statement shapes are prepared.
        let rows: Vec<(&String, &i64)> = pending.iter().collect();
        let mut rest = rows.as_slice();
        let mut params = Vec::with_capacity(2 * LAST_USED_BATCH);
        while !rest.is_empty() {
            let n = rest.len().min(LAST_USED_BATCH);
            let n = 1 << n.ilog2();
            let (batch, tail) = rest.split_at(n);
            rest = tail;
            params.clear();
            for (id, at) in batch {
                params.push(Val::from(id.as_str()));
                params.push(Val::Int(**at));
            }
            conn.exec(&last_used_sql(n), &params)?;
        }
        Ok(pending.len())
    });
    if r.is_err() {
        // Keep them for the next flush, without overwriting newer times.
        if let Ok(mut p) = inner.pending_last_used.lock() {
            for (id, at) in pending {
                let slot = p.entry(id).or_insert(at);
                *slot = (*slot).max(at);
            }
        }
    }
    r
}

/// Rows per `last_used_at` update statement on PostgreSQL, at most (a power of two).
const LAST_USED_BATCH: usize = 256;

/// One statement that sets `last_used_at` for `rows` (id, time) pairs, never backwards.
fn last_used_sql(rows: usize) -> String {
    let values = vec!["(CAST(? AS TEXT), CAST(? AS BIGINT))"; rows].join(", ");
    format!(
        "UPDATE keys SET last_used_at = v.column2 FROM (VALUES {values}) AS v \
         WHERE keys.id = v.column1 AND (keys.last_used_at IS NULL OR keys.last_used_at < v.column2)"
    )
}

fn flusher(inner: &Inner, stop: &AtomicBool) {
    while !stop.load(Ordering::Acquire) {
        for _ in 0..10 {
            if stop.load(Ordering::Acquire) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = flush(inner);
    }
}

/// Listens for other instances' changes and drops their ids from the caches. While the
/// connection is down nothing is cached for long: on every (re)connect the caches are
/// emptied, since notifications may have been missed.
fn listener(inner: &Inner, url: &str, stop: &AtomicBool, ready: std::sync::mpsc::Sender<()>) {
    use postgres::fallible_iterator::FallibleIterator;
    while !stop.load(Ordering::Acquire) {
        let conn = store::PgConn::open(url).and_then(|mut c| {
            c.batch(&format!("LISTEN {CHANGE_CHANNEL}"))?;
            Ok(c)
        });
        let mut conn = match conn {
            Ok(c) => c,
            Err(_) => {
                // Entries loaded meanwhile are not covered by notifications: keep the
                // caches empty until listening again.
                inner.cache.clear();
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
        };
        inner.cache.clear();
        inner.negative.clear();
        let _ = ready.send(());
        loop {
            if stop.load(Ordering::Acquire) {
                return;
            }
            let next = {
                let mut notes = conn.client().notifications();
                let mut it = notes.timeout_iter(Duration::from_millis(200));
                it.next()
            };
            match next {
                Ok(Some(n)) => {
                    // Payload: `<instance>:<id>[,<id>...]`.
                    let (from, ids) = n.payload().split_once(':').unwrap_or(("", n.payload()));
                    if from != inner.instance {
                        for id in ids.split(',') {
                            inner.cache.invalidate(id);
                            inner.negative.remove(id);
                        }
                    }
                }
                Ok(None) => {
                    if conn.is_broken() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        inner.cache.clear();
    }
}
