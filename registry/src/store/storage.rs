//! [`Storage`]: where the registry keeps its data, and the pool of connections to it.

use std::sync::Arc;

use super::conn::Conn;
use super::pg::PgConn;
use super::pool::Pool;
use super::sqlite::{SqliteConn, SqliteMemory};
use super::write_gate::WriteGate;

/// Where the registry keeps its data.
#[derive(Clone)]
pub enum Storage {
    /// A SQLite database file (created if missing), in WAL mode with `synchronous=FULL`.
    /// On Unix the file and its `-wal` and `-shm` files are mode 0600: a new database is
    /// created so, and an existing one that grants its group or others access is set to
    /// 0600 when opened.
    Sqlite(String),
    /// A PostgreSQL connection URL, e.g. `postgres://user@127.0.0.1:5432/db` (or libpq
    /// key/value pairs). TLS follows libpq's `sslmode` (defaults to `prefer`: TLS when the
    /// server offers it) and `sslrootcert` (a PEM file of CA certificates, or `system`;
    /// defaults to none), e.g. `?sslmode=verify-full&sslrootcert=/etc/keyseal/pg-ca.pem`.
    Postgres(String),
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A PostgreSQL URL may carry a password: show only the backend.
        match self {
            Storage::Sqlite(p) => f.debug_tuple("Sqlite").field(p).finish(),
            Storage::Postgres(_) => f.write_str("Postgres(<url>)"),
        }
    }
}

impl Storage {
    pub(crate) fn pool(&self, max: usize, mem: SqliteMemory) -> Arc<Pool> {
        match self {
            Storage::Sqlite(path) => {
                let path = path.clone();
                let gate = Arc::new(WriteGate::default());
                Arc::new(Pool::new(
                    Box::new(move || {
                        let conn = SqliteConn::open(&path, mem, Arc::clone(&gate))?;
                        Ok(Box::new(conn) as Box<dyn Conn>)
                    }),
                    max,
                ))
            }
            Storage::Postgres(url) => {
                let url = url.clone();
                Arc::new(Pool::new(
                    Box::new(move || Ok(Box::new(PgConn::open(&url)?) as Box<dyn Conn>)),
                    max,
                ))
            }
        }
    }
}
