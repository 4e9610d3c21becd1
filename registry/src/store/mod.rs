//! Storage: one small SQL layer over SQLite (rusqlite) and PostgreSQL (postgres).
//!
//! - `chunks`: multi-row statements in power-of-two chunks;
//! - `conn`: the [`Conn`] trait both backends implement, [`Val`], [`Row`], [`DbErr`];
//! - `sqlite`, `pg`: the two backends (`tls`: PostgreSQL's libpq-style TLS);
//! - `pool`: the blocking connection pool; `write_gate`: SQLite's writers take turns in it;
//! - `storage`: [`Storage`], the public choice of backend;
//! - `migrate`: the versioned migrations (`registry/migrations/`, embedded at build).

mod chunks;
mod conn;
mod migrate;
mod pg;
mod pool;
mod sqlite;
mod storage;
mod tls;
mod write_gate;

pub(crate) use chunks::{pow2_chunks, repeat_rows};
pub(crate) use conn::{Conn, DbErr, Dialect, Row, Val};
pub use migrate::SCHEMA_VERSION;
pub(crate) use migrate::{migrate, stored_version};
pub(crate) use pg::PgConn;
pub(crate) use pool::Pool;
pub(crate) use sqlite::SqliteMemory;
pub use storage::Storage;

/// A pool of `size` connections on a new SQLite file `name`.db in a temp directory of this
/// process, and the directory (the caller removes it), for the store's unit tests.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn temp_sqlite_pool(
    name: &str,
    size: usize,
) -> (std::path::PathBuf, std::sync::Arc<Pool>) {
    let dir = std::env::temp_dir().join(format!("keyseal-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir
        .join(format!("{name}.db"))
        .to_string_lossy()
        .into_owned();
    (
        dir,
        Storage::Sqlite(path).pool(size, SqliteMemory::default()),
    )
}
