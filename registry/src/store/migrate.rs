//! Versioned schema migrations: numbered `.sql` files per dialect under
//! `registry/migrations/{sqlite,postgres}/`, embedded at build time, applied by
//! [`migrate`] one transaction each and recorded in `keyseal_schema`.
//!
//! Never edit a released migration: add the next file and raise [`SCHEMA_VERSION`].

use super::conn::{Conn, DbErr, Dialect, Val};

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u32 = 9;

/// SQLite's migrations, version 1 first.
const SQLITE: [&str; SCHEMA_VERSION as usize] = [
    include_str!("../../migrations/sqlite/0001_initial.sql"),
    // Version 2: rolling secrets (the previous digest and its grace deadline) and the
    // owner index for filtered lists.
    include_str!("../../migrations/sqlite/0002_rolling_secrets.sql"),
    // Version 3: `keys` becomes a WITHOUT ROWID table clustered on the public id, so the
    // verify path's lookup by id is one B-tree walk (before: the `id` index, then the
    // rowid table). The 12-step table rebuild, in the migration's one transaction; rows
    // are copied in id order (sequential appends).
    //
    // `seq` (list order and cursors) is no longer a rowid: the registry's inserts set it
    // to MAX(seq) + 1 under the write lock (writers are serialized and keys are never
    // hard-deleted, so it stays strictly increasing, as AUTOINCREMENT was), and a
    // trigger fills it for an insert that leaves it out. `keys_seq` keeps it unique and
    // makes MAX(seq) one index probe.
    //
    // Secondary indexes of a WITHOUT ROWID table point at the id, and an account's rows
    // are spread over the whole table: `keys_account_seq` therefore carries the columns
    // of the list filters (deleted_at, enabled, expires_at), so counts and page scans
    // read only the index and fetch just the rows returned.
    include_str!("../../migrations/sqlite/0003_without_rowid.sql"),
    // Version 4: `import_seal` marks an imported row (a MAC of its id and digest under
    // the pepper, so a row planted by SQL cannot pass as an import), and
    // `keyseal_settings` records the fingerprint of the current pepper.
    include_str!("../../migrations/sqlite/0004_import_seal_and_settings.sql"),
    // Version 5: when the secret was last rolled, so exchange tokens issued before a
    // roll stop working when the old secret does.
    include_str!("../../migrations/sqlite/0005_rolled_at.sql"),
    // Version 6: metering. A key's limits and credits rule (`keys.meter`, JSON), the
    // window counters and the credit balances (see `crate::meter`).
    include_str!("../../migrations/sqlite/0006_metering.sql"),
    // Version 7: limits and credits an owner's keys share (one row per account and owner).
    include_str!("../../migrations/sqlite/0007_owner_meters.sql"),
    // Version 8: usage analytics. Counts by outcome and credits spent per key in minute,
    // hour and day buckets (see `crate::usage`), written in batches by the flusher.
    include_str!("../../migrations/sqlite/0008_usage.sql"),
    // Version 9: `meter_windows.ahead`, units of a limit's next window leased ahead, so
    // an instance decides a key's first requests after its window rolls from memory.
    include_str!("../../migrations/sqlite/0009_lease_ahead.sql"),
];

/// PostgreSQL's migrations, version 1 first (the same versions as SQLite's).
const POSTGRES: [&str; SCHEMA_VERSION as usize] = [
    include_str!("../../migrations/postgres/0001_initial.sql"),
    include_str!("../../migrations/postgres/0002_rolling_secrets.sql"),
    // Version 3 changes only SQLite's physical layout (a WITHOUT ROWID table keyed by
    // id). PostgreSQL keeps its heap table and `id` index, and its identity column still
    // numbers `seq`: nothing to do but record the version.
    include_str!("../../migrations/postgres/0003_nothing.sql"),
    include_str!("../../migrations/postgres/0004_import_seal_and_settings.sql"),
    include_str!("../../migrations/postgres/0005_rolled_at.sql"),
    include_str!("../../migrations/postgres/0006_metering.sql"),
    include_str!("../../migrations/postgres/0007_owner_meters.sql"),
    include_str!("../../migrations/postgres/0008_usage.sql"),
    include_str!("../../migrations/postgres/0009_lease_ahead.sql"),
];

/// Migration `version` (1-based) for `dialect`; empty outside 1..=[`SCHEMA_VERSION`].
fn migration(dialect: Dialect, version: u32) -> &'static str {
    let all = match dialect {
        Dialect::Sqlite => &SQLITE,
        Dialect::Postgres => &POSTGRES,
    };
    version
        .checked_sub(1)
        .and_then(|i| all.get(i as usize))
        .copied()
        .unwrap_or("")
}

/// Brings the schema to `target` (at most [`SCHEMA_VERSION`]), one transaction per
/// migration. On PostgreSQL an advisory lock keeps two instances starting at once from
/// migrating together.
pub(crate) fn migrate(conn: &mut dyn Conn, target: u32) -> Result<u32, DbErr> {
    let create = match conn.dialect() {
        Dialect::Sqlite => {
            "CREATE TABLE IF NOT EXISTS keyseal_schema (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"
        }
        Dialect::Postgres => {
            "CREATE TABLE IF NOT EXISTS keyseal_schema (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)"
        }
    };
    if conn.dialect() == Dialect::Postgres {
        // CREATE TABLE IF NOT EXISTS can still race on the catalog; serialize it.
        conn.batch("BEGIN; SELECT pg_advisory_xact_lock(7324917); ")?;
        let r = conn.batch(create);
        match r {
            Ok(()) => conn.commit()?,
            Err(e) => {
                conn.rollback();
                return Err(e);
            }
        }
    } else {
        conn.batch(create)?;
    }
    let mut current = schema_version(conn)?;
    while current < target.min(SCHEMA_VERSION) {
        let next = current + 1;
        conn.begin()?;
        let step = (|| {
            if conn.dialect() == Dialect::Postgres {
                conn.batch("SELECT pg_advisory_xact_lock(7324917)")?;
            }
            // Re-read under the lock: another instance may have migrated meanwhile.
            let now_at = schema_version(conn)?;
            if now_at >= next {
                return Ok(now_at);
            }
            conn.batch(migration(conn.dialect(), next))?;
            conn.exec(
                "INSERT INTO keyseal_schema (version, applied_at) VALUES (?, ?)",
                &[Val::Int(i64::from(next)), Val::Int(unix_now())],
            )?;
            Ok(next)
        })();
        match step {
            Ok(v) => {
                conn.commit()?;
                current = v;
            }
            Err(e) => {
                conn.rollback();
                return Err(e);
            }
        }
    }
    Ok(current)
}

/// The schema version of the database behind `conn`: 0 when it has no schema table yet
/// (an empty database), without creating one.
pub(crate) fn stored_version(conn: &mut dyn Conn) -> Result<u32, DbErr> {
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
    schema_version(conn)
}

/// The highest version recorded in `keyseal_schema` (which must exist).
fn schema_version(conn: &mut dyn Conn) -> Result<u32, DbErr> {
    let row = conn.query_one("SELECT MAX(version) FROM keyseal_schema", &[])?;
    Ok(row
        .and_then(|r| r.first().and_then(Val::int))
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(0))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
