//! The SQLite backend (rusqlite): opening a file with the per-connection settings (WAL,
//! `synchronous=FULL`, page cache and mmap sizes, 0600 files) and [`Conn`] on top of it.

use std::sync::Arc;
use std::time::Duration;

use super::conn::{Conn, DbErr, Dialect, Row, Val};
use super::write_gate::WriteGate;

/// How long a writer waits for the database's write lock (the gate, then SQLite's busy
/// timeout for other processes) before `storage_unavailable`.
const BUSY_WAIT: Duration = Duration::from_secs(10);

pub(crate) struct SqliteConn {
    conn: rusqlite::Connection,
    broken: bool,
    /// The writer gate of this pool's database, and whether this connection holds it.
    gate: Arc<WriteGate>,
    gated: bool,
    /// True while a relaxed transaction runs at `synchronous=NORMAL`.
    relaxed: bool,
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Val::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Val::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Val::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

fn sqlite_err(e: rusqlite::Error) -> DbErr {
    use rusqlite::ErrorCode as C;
    match &e {
        rusqlite::Error::SqliteFailure(f, msg) => match f.code {
            C::ConstraintViolation => {
                let name = msg.as_deref().is_some_and(|m| m.contains("keys.name"));
                DbErr::Unique { name }
            }
            C::CannotOpen
            | C::DatabaseBusy
            | C::DatabaseLocked
            | C::SystemIoFailure
            | C::DiskFull
            | C::NotADatabase
            | C::DatabaseCorrupt
            | C::ReadOnly
            | C::PermissionDenied => DbErr::Unavailable,
            _ => DbErr::Other,
        },
        _ => DbErr::Other,
    }
}

/// The memory each SQLite connection may use (see `RegistryConfig::sqlite_cache_size`
/// and `RegistryConfig::sqlite_mmap_size`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SqliteMemory {
    /// Page cache, bytes.
    pub(crate) cache: u64,
    /// Memory-mapped I/O, bytes; 0 = off.
    pub(crate) mmap: u64,
}

impl Default for SqliteMemory {
    /// The `RegistryConfig` defaults.
    fn default() -> Self {
        SqliteMemory {
            cache: 4 << 20,
            mmap: 1 << 30,
        }
    }
}

/// Keeps the database private to its owner: a new database file is created with mode
/// 0600 before SQLite opens it (SQLite gives the `-wal` and `-shm` files it creates the
/// database file's mode, see `robust_open` and `findCreateFileMode` in `os_unix.c`), and
/// an existing database, `-wal`, `-shm` or `-journal` file that grants its group or
/// others any access is set to 0600. Files the process does not own are left as they are
/// (chmod is refused); errors here are left to SQLite's own open. `:memory:` and `file:`
/// URIs are left to SQLite.
#[cfg(unix)]
fn private_files(path: &str) {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if path.is_empty() || path == ":memory:" || path.starts_with("file:") {
        return;
    }
    // create_new: never truncates, and an existing file (or symlink) is kept.
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = format!("{path}{suffix}");
        if let Ok(md) = std::fs::metadata(&file)
            && md.is_file()
            && md.permissions().mode() & 0o077 != 0
        {
            let _ = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600));
        }
    }
}

#[cfg(not(unix))]
fn private_files(_path: &str) {}

impl SqliteConn {
    pub(crate) fn open(
        path: &str,
        mem: SqliteMemory,
        gate: Arc<WriteGate>,
    ) -> Result<SqliteConn, DbErr> {
        private_files(path);
        let conn = rusqlite::Connection::open(path).map_err(sqlite_err)?;
        // WAL lets readers run beside the writer; synchronous=FULL fsyncs the WAL on every
        // commit, so an acknowledged write survives kill -9 and power loss. A negative
        // cache_size is in KiB (https://sqlite.org/pragma.html#pragma_cache_size). No
        // commit copies the WAL back into the database (wal_autocheckpoint=0): the
        // registry's background thread does, every second (`tasks::checkpoint`), so a
        // request's commit never pays for it.
        conn.execute_batch(&format!(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; \
             PRAGMA wal_autocheckpoint=0; PRAGMA cache_size=-{}; PRAGMA mmap_size={};",
            (mem.cache / 1024).max(1),
            mem.mmap
        ))
        .map_err(sqlite_err)?;
        conn.busy_timeout(BUSY_WAIT).map_err(sqlite_err)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(SqliteConn {
            conn,
            broken: false,
            gate,
            gated: false,
            relaxed: false,
        })
    }

    /// After a transaction ends (or fails to begin): back to `synchronous=FULL` after a
    /// relaxed one, and the gate to the next writer. A connection that cannot be set
    /// back is marked broken, so the pool drops it rather than lend its next user a
    /// commit that does not wait for the disk.
    fn finish(&mut self) {
        if std::mem::take(&mut self.relaxed)
            && self
                .conn
                .execute_batch("PRAGMA synchronous = FULL")
                .is_err()
        {
            self.broken = true;
        }
        if std::mem::take(&mut self.gated) {
            self.gate.release();
        }
    }

    fn mark(&mut self, e: DbErr) -> DbErr {
        if matches!(e, DbErr::Unavailable) {
            self.broken = true;
        }
        e
    }
}

impl Conn for SqliteConn {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, DbErr> {
        let r = self
            .conn
            .prepare_cached(sql)
            .and_then(|mut st| st.execute(rusqlite::params_from_iter(params.iter())));
        match r {
            Ok(n) => Ok(n as u64),
            Err(e) => Err(self.mark(sqlite_err(e))),
        }
    }
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, DbErr> {
        let r = (|| {
            let mut st = self.conn.prepare_cached(sql)?;
            let ncol = st.column_count();
            let mut rows = st.query(rusqlite::params_from_iter(params.iter()))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let mut r = Vec::with_capacity(ncol);
                for i in 0..ncol {
                    use rusqlite::types::ValueRef;
                    r.push(match row.get_ref(i)? {
                        ValueRef::Null => Val::Null,
                        ValueRef::Integer(i) => Val::Int(i),
                        ValueRef::Real(f) => Val::Int(f as i64),
                        ValueRef::Text(t) | ValueRef::Blob(t) => {
                            Val::Text(String::from_utf8_lossy(t).into_owned())
                        }
                    });
                }
                out.push(r);
            }
            Ok(out)
        })();
        r.map_err(|e| self.mark(sqlite_err(e)))
    }
    fn batch(&mut self, sql: &str) -> Result<(), DbErr> {
        let r = self.conn.execute_batch(sql);
        r.map_err(|e| self.mark(sqlite_err(e)))
    }
    fn is_broken(&self) -> bool {
        self.broken
    }

    /// Takes this process's turn at the write lock (the gate), then SQLite's lock at once
    /// (`IMMEDIATE`), so two writers never deadlock on a lock upgrade.
    fn begin(&mut self) -> Result<(), DbErr> {
        if !self.gated {
            self.gate.acquire(BUSY_WAIT)?;
            self.gated = true;
        }
        let r = self.batch("BEGIN IMMEDIATE");
        if r.is_err() {
            self.finish();
        }
        r
    }

    /// [`Conn::begin`] at `synchronous=NORMAL` (a per-connection setting, set back when
    /// the transaction ends): the commit is written to the WAL without an fsync.
    fn begin_relaxed(&mut self) -> Result<(), DbErr> {
        self.batch("PRAGMA synchronous = NORMAL")?;
        self.relaxed = true;
        self.begin()
    }

    /// Commits; a commit that fails leaves nothing open (rolled back) and the gate free.
    fn commit(&mut self) -> Result<(), DbErr> {
        let r = self.batch("COMMIT");
        if r.is_err() && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        self.finish();
        r
    }

    fn rollback(&mut self) {
        // A failed rollback leaves the connection broken, which the pool then drops.
        let _ = self.batch("ROLLBACK");
        self.finish();
    }

    fn end_open_tx(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.batch("ROLLBACK");
        }
        self.finish();
    }
}

impl Drop for SqliteConn {
    fn drop(&mut self) {
        if std::mem::take(&mut self.gated) {
            self.gate.release();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    /// A relaxed transaction commits at `synchronous=NORMAL` (1) and leaves its connection
    /// at the pool's FULL (2), whether it commits or rolls back.
    #[test]
    fn a_relaxed_transaction_sets_the_connection_back_to_full() {
        let (dir, pool) = crate::store::temp_sqlite_pool("relaxed", 1);
        let mut c = pool.get().unwrap();
        let sync = |c: &mut crate::store::pool::PooledConn<'_>| {
            c.query("PRAGMA synchronous", &[]).unwrap()[0][0].int()
        };
        assert_eq!(sync(&mut c), Some(2));
        c.begin_relaxed().unwrap();
        assert_eq!(sync(&mut c), Some(1));
        c.commit().unwrap();
        assert_eq!(sync(&mut c), Some(2));
        c.begin_relaxed().unwrap();
        c.rollback();
        assert_eq!(sync(&mut c), Some(2));
        drop(c);
        drop(pool);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
