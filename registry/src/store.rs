//! Storage: one small SQL layer over SQLite (rusqlite) and PostgreSQL (postgres), a
//! connection pool, and the versioned migrations.
//!
//! Every statement is written once with `?` placeholders and rewritten to `$1..$n` for
//! PostgreSQL; values travel as [`Val`] (integer, text or null), so both backends store the
//! same columns with the same meaning (booleans are 0/1 integers, times are unix seconds,
//! lists and metadata are JSON text). User input is only ever bound as a parameter, never
//! spliced into SQL text.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use keyseal::{Error, ErrorCode};

/// A value bound to or read from a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Val {
    Null,
    Int(i64),
    Text(String),
}

impl Val {
    pub(crate) fn int(&self) -> Option<i64> {
        match self {
            Val::Int(i) => Some(*i),
            _ => None,
        }
    }
    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Val::Text(s) => Some(s),
            _ => None,
        }
    }
    pub(crate) fn opt_text(s: Option<&str>) -> Val {
        s.map_or(Val::Null, |s| Val::Text(s.to_owned()))
    }
    pub(crate) fn opt_int(i: Option<i64>) -> Val {
        i.map_or(Val::Null, Val::Int)
    }
}

impl From<&str> for Val {
    fn from(s: &str) -> Val {
        Val::Text(s.to_owned())
    }
}
impl From<String> for Val {
    fn from(s: String) -> Val {
        Val::Text(s)
    }
}
impl From<i64> for Val {
    fn from(i: i64) -> Val {
        Val::Int(i)
    }
}
impl From<bool> for Val {
    fn from(b: bool) -> Val {
        Val::Int(i64::from(b))
    }
}

pub(crate) type Row = Vec<Val>;

/// What went wrong in the database, in the terms the registry needs.
#[derive(Debug)]
pub(crate) enum DbErr {
    /// A unique index refused the row; `name` is true for the live-name index.
    Unique { name: bool },
    /// The server cannot be reached, the connection broke, or the file cannot be opened.
    Unavailable,
    /// Connecting failed for a known reason (TLS, authentication); a fixed description.
    Connect(&'static str),
    /// The connection string or a TLS option is malformed or unusable.
    Config {
        setting: &'static str,
        expected: &'static str,
    },
    /// Anything else (a bug in a statement, a type mismatch).
    Other,
}

impl DbErr {
    pub(crate) fn into_error(self) -> Error {
        match self {
            DbErr::Unique { name: true } => Error::registry(
                ErrorCode::NameConflict,
                "the account already has a live key with this name",
            ),
            DbErr::Unique { name: false } => Error::registry(
                ErrorCode::InvalidArgument,
                "a key with this id already exists",
            ),
            DbErr::Unavailable => Error::registry(
                ErrorCode::StorageUnavailable,
                "the key database cannot be reached",
            ),
            DbErr::Connect(detail) => Error::registry(ErrorCode::StorageUnavailable, detail),
            DbErr::Config { setting, expected } => Error::InvalidConfig { setting, expected },
            DbErr::Other => Error::Internal {
                detail: "a registry database statement failed",
            },
        }
    }
}

impl From<DbErr> for Error {
    fn from(e: DbErr) -> Error {
        e.into_error()
    }
}

/// The SQL dialect of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// One database connection.
pub(crate) trait Conn: Send {
    fn dialect(&self) -> Dialect;
    /// Runs a statement, returning the number of rows changed.
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, DbErr>;
    /// Runs a query and returns all rows.
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, DbErr>;
    /// Runs several statements without parameters (migrations).
    fn batch(&mut self, sql: &str) -> Result<(), DbErr>;
    /// True when the connection can no longer be used.
    fn is_broken(&self) -> bool;

    /// Starts a write transaction. SQLite takes the write lock at once (`IMMEDIATE`), so
    /// two writers never deadlock on a lock upgrade.
    fn begin(&mut self) -> Result<(), DbErr> {
        match self.dialect() {
            Dialect::Sqlite => self.batch("BEGIN IMMEDIATE"),
            Dialect::Postgres => self.batch("BEGIN"),
        }
    }
    fn commit(&mut self) -> Result<(), DbErr> {
        self.batch("COMMIT")
    }
    fn rollback(&mut self) {
        // A failed rollback leaves the connection broken, which the pool then drops.
        let _ = self.batch("ROLLBACK");
    }
    fn query_one(&mut self, sql: &str, params: &[Val]) -> Result<Option<Row>, DbErr> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

// ---------------------------------------------------------------------------------------
// SQLite

pub(crate) struct SqliteConn {
    conn: rusqlite::Connection,
    broken: bool,
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
    pub(crate) fn open(path: &str, mem: SqliteMemory) -> Result<SqliteConn, DbErr> {
        private_files(path);
        let conn = rusqlite::Connection::open(path).map_err(sqlite_err)?;
        // WAL lets readers run beside the writer; synchronous=FULL fsyncs the WAL on every
        // commit, so an acknowledged write survives kill -9 and power loss. A negative
        // cache_size is in KiB (https://sqlite.org/pragma.html#pragma_cache_size).
        conn.execute_batch(&format!(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; \
             PRAGMA cache_size=-{}; PRAGMA mmap_size={};",
            (mem.cache / 1024).max(1),
            mem.mmap
        ))
        .map_err(sqlite_err)?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(sqlite_err)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(SqliteConn {
            conn,
            broken: false,
        })
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
}

// ---------------------------------------------------------------------------------------
// PostgreSQL

pub(crate) struct PgConn {
    client: postgres::Client,
    /// Prepared statements by SQL text: one round trip per statement after the first.
    statements: std::collections::HashMap<String, postgres::Statement>,
}

impl postgres::types::ToSql for Val {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::Type;
        match self {
            Val::Null => Ok(postgres::types::IsNull::Yes),
            Val::Int(i) if *ty == Type::INT4 => {
                let v = i32::try_from(*i)?;
                v.to_sql(ty, out)
            }
            Val::Int(i) => i.to_sql(ty, out),
            Val::Text(s) => s.as_str().to_sql(ty, out),
        }
    }

    fn accepts(ty: &postgres::types::Type) -> bool {
        use postgres::types::Type;
        [
            Type::INT8,
            Type::INT4,
            Type::TEXT,
            Type::VARCHAR,
            Type::NAME,
        ]
        .contains(ty)
    }

    postgres::types::to_sql_checked!();
}

fn pg_err(e: postgres::Error) -> DbErr {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == postgres::error::SqlState::UNIQUE_VIOLATION {
            return DbErr::Unique {
                name: db.constraint() == Some("keys_live_name"),
            };
        }
        // Class 08 (connection exception), 57P (operator intervention: shutdown), 53
        // (insufficient resources), 57014 (statement cancelled, e.g. a timeout), and
        // 55000/55006/55P03 (the database does not allow connections now, an object is in
        // use, a lock is not available): all conditions that pass, so callers may retry.
        let c = code.code();
        if c.starts_with("08")
            || c.starts_with("57P")
            || c.starts_with("53")
            || matches!(c, "57014" | "55000" | "55006" | "55P03")
        {
            return DbErr::Unavailable;
        }
        return DbErr::Other;
    }
    // No server error: the socket or the connection failed.
    DbErr::Unavailable
}

/// Rewrites `?` placeholders to `$1..$n`. Statements in this crate never contain a `?`
/// inside a string literal.
fn pg_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

impl PgConn {
    /// Connects with the TLS that the URL's `sslmode` and `sslrootcert` ask for (see
    /// [`crate::tls`]); the connect timeout is 5 seconds.
    pub(crate) fn open(url: &str) -> Result<PgConn, DbErr> {
        let client = crate::tls::connect(url, Duration::from_secs(5))?;
        Ok(PgConn {
            client,
            statements: std::collections::HashMap::new(),
        })
    }

    pub(crate) fn client(&mut self) -> &mut postgres::Client {
        &mut self.client
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, DbErr> {
        if let Some(st) = self.statements.get(sql) {
            return Ok(st.clone());
        }
        let st = self.client.prepare(&pg_sql(sql)).map_err(pg_err)?;
        if self.statements.len() >= 256 {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), st.clone());
        Ok(st)
    }

    fn params(params: &[Val]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
        params
            .iter()
            .map(|v| v as &(dyn postgres::types::ToSql + Sync))
            .collect()
    }
}

fn pg_row(row: &postgres::Row) -> Result<Row, DbErr> {
    use postgres::types::Type;
    let mut out = Vec::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let t = col.type_();
        let v = if *t == Type::INT8 {
            Val::opt_int(row.try_get::<_, Option<i64>>(i).map_err(|_| DbErr::Other)?)
        } else if *t == Type::INT4 {
            Val::opt_int(
                row.try_get::<_, Option<i32>>(i)
                    .map_err(|_| DbErr::Other)?
                    .map(i64::from),
            )
        } else if *t == Type::BOOL {
            Val::opt_int(
                row.try_get::<_, Option<bool>>(i)
                    .map_err(|_| DbErr::Other)?
                    .map(i64::from),
            )
        } else if *t == Type::TEXT || *t == Type::VARCHAR || *t == Type::NAME {
            match row
                .try_get::<_, Option<String>>(i)
                .map_err(|_| DbErr::Other)?
            {
                Some(s) => Val::Text(s),
                None => Val::Null,
            }
        } else {
            Val::Null
        };
        out.push(v);
    }
    Ok(out)
}

impl Conn for PgConn {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, DbErr> {
        let st = self.statement(sql)?;
        self.client
            .execute(&st, &Self::params(params))
            .map_err(pg_err)
    }
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, DbErr> {
        let st = self.statement(sql)?;
        let rows = self
            .client
            .query(&st, &Self::params(params))
            .map_err(pg_err)?;
        rows.iter().map(pg_row).collect()
    }
    fn batch(&mut self, sql: &str) -> Result<(), DbErr> {
        self.client.batch_execute(sql).map_err(pg_err)
    }
    fn is_broken(&self) -> bool {
        self.client.is_closed()
    }
}

// ---------------------------------------------------------------------------------------
// Pool

type Opener = Box<dyn Fn() -> Result<Box<dyn Conn>, DbErr> + Send + Sync>;

struct PoolState {
    idle: Vec<Box<dyn Conn>>,
    open: usize,
}

/// A small blocking pool: at most `max` connections, opened on demand, and a connection
/// that broke is dropped instead of returned, so the pool heals when the database comes
/// back.
pub(crate) struct Pool {
    opener: Opener,
    state: Mutex<PoolState>,
    cv: Condvar,
    max: usize,
}

/// How long a caller waits for a free connection before `storage_unavailable`.
const POOL_WAIT: Duration = Duration::from_secs(10);

impl Pool {
    pub(crate) fn new(opener: Opener, max: usize) -> Pool {
        Pool {
            opener,
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                open: 0,
            }),
            cv: Condvar::new(),
            max: max.max(1),
        }
    }

    pub(crate) fn get(&self) -> Result<PooledConn<'_>, DbErr> {
        let mut st = self.state.lock().map_err(|_| DbErr::Other)?;
        loop {
            if let Some(c) = st.idle.pop() {
                return Ok(PooledConn {
                    pool: self,
                    conn: Some(c),
                });
            }
            if st.open < self.max {
                st.open += 1;
                drop(st);
                return match (self.opener)() {
                    Ok(c) => Ok(PooledConn {
                        pool: self,
                        conn: Some(c),
                    }),
                    Err(e) => {
                        if let Ok(mut st) = self.state.lock() {
                            st.open -= 1;
                        }
                        self.cv.notify_one();
                        Err(e)
                    }
                };
            }
            let (guard, timeout) = self
                .cv
                .wait_timeout(st, POOL_WAIT)
                .map_err(|_| DbErr::Other)?;
            st = guard;
            if timeout.timed_out() && st.idle.is_empty() && st.open >= self.max {
                return Err(DbErr::Unavailable);
            }
        }
    }

    fn put(&self, conn: Box<dyn Conn>) {
        if let Ok(mut st) = self.state.lock() {
            if conn.is_broken() {
                st.open -= 1;
            } else {
                st.idle.push(conn);
            }
        }
        self.cv.notify_one();
    }
}

/// A connection borrowed from the pool; returned on drop.
pub(crate) struct PooledConn<'p> {
    pool: &'p Pool,
    conn: Option<Box<dyn Conn>>,
}

impl std::ops::Deref for PooledConn<'_> {
    type Target = dyn Conn;
    fn deref(&self) -> &(dyn Conn + 'static) {
        // Some until drop.
        match &self.conn {
            Some(c) => c.as_ref(),
            None => unreachable_conn(),
        }
    }
}

impl std::ops::DerefMut for PooledConn<'_> {
    fn deref_mut(&mut self) -> &mut (dyn Conn + 'static) {
        match &mut self.conn {
            Some(c) => c.as_mut(),
            None => unreachable_conn(),
        }
    }
}

#[allow(clippy::panic)]
fn unreachable_conn() -> ! {
    panic!("pooled connection used after release")
}

impl Drop for PooledConn<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            self.pool.put(c);
        }
    }
}

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
                Arc::new(Pool::new(
                    Box::new(move || Ok(Box::new(SqliteConn::open(&path, mem)?) as Box<dyn Conn>)),
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

// ---------------------------------------------------------------------------------------
// Migrations

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u32 = 5;

/// Migration `n` (1-based) for each dialect. Never edit a released migration: add one.
fn migration(dialect: Dialect, version: u32) -> &'static str {
    match (dialect, version) {
        (Dialect::Sqlite, 1) => {
            "CREATE TABLE keys (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                account TEXT NOT NULL,
                name TEXT NOT NULL,
                description TEXT NOT NULL DEFAULT '',
                owner TEXT,
                role TEXT,
                scopes TEXT NOT NULL DEFAULT '[]',
                read_only INTEGER NOT NULL DEFAULT 0,
                allowed_ips TEXT NOT NULL DEFAULT '[]',
                enabled INTEGER NOT NULL DEFAULT 1,
                expires_at INTEGER,
                metadata TEXT NOT NULL DEFAULT '{}',
                created_at INTEGER NOT NULL,
                created_by TEXT NOT NULL,
                modified_at INTEGER NOT NULL,
                modified_by TEXT NOT NULL,
                version INTEGER NOT NULL DEFAULT 1,
                deleted_at INTEGER,
                last_used_at INTEGER,
                digest TEXT NOT NULL
            );
            CREATE UNIQUE INDEX keys_live_name ON keys (account, name) WHERE deleted_at IS NULL;
            CREATE INDEX keys_account_seq ON keys (account, seq);
            CREATE TABLE audit (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                account TEXT NOT NULL,
                key_id TEXT NOT NULL,
                action TEXT NOT NULL,
                actor TEXT NOT NULL,
                at INTEGER NOT NULL,
                version INTEGER NOT NULL,
                changes TEXT NOT NULL
            );
            CREATE INDEX audit_account_seq ON audit (account, seq);"
        }
        (Dialect::Sqlite, 2) => {
            // Version 2: rolling secrets (the previous digest and its grace deadline) and
            // the owner index for filtered lists.
            "ALTER TABLE keys ADD COLUMN prev_digest TEXT;
            ALTER TABLE keys ADD COLUMN prev_digest_until INTEGER;
            CREATE INDEX keys_account_owner ON keys (account, owner, seq);"
        }
        (Dialect::Sqlite, 3) => {
            // Version 3: `keys` becomes a WITHOUT ROWID table clustered on the public id, so
            // the verify path's lookup by id is one B-tree walk (before: the `id` index,
            // then the rowid table). The 12-step table rebuild, in the migration's one
            // transaction; rows are copied in id order (sequential appends).
            //
            // `seq` (list order and cursors) is no longer a rowid: the registry's inserts
            // set it to MAX(seq) + 1 under the write lock (writers are serialized and keys
            // are never hard-deleted, so it stays strictly increasing, as AUTOINCREMENT
            // was), and a trigger fills it for an insert that leaves it out. `keys_seq`
            // keeps it unique and makes MAX(seq) one index probe.
            //
            // Secondary indexes of a WITHOUT ROWID table point at the id, and an account's
            // rows are spread over the whole table: `keys_account_seq` therefore carries
            // the columns of the list filters (deleted_at, enabled, expires_at), so counts
            // and page scans read only the index and fetch just the rows returned.
            "CREATE TABLE keys_v3 (
                id TEXT NOT NULL PRIMARY KEY,
                seq INTEGER,
                account TEXT NOT NULL,
                name TEXT NOT NULL,
                description TEXT NOT NULL DEFAULT '',
                owner TEXT,
                role TEXT,
                scopes TEXT NOT NULL DEFAULT '[]',
                read_only INTEGER NOT NULL DEFAULT 0,
                allowed_ips TEXT NOT NULL DEFAULT '[]',
                enabled INTEGER NOT NULL DEFAULT 1,
                expires_at INTEGER,
                metadata TEXT NOT NULL DEFAULT '{}',
                created_at INTEGER NOT NULL,
                created_by TEXT NOT NULL,
                modified_at INTEGER NOT NULL,
                modified_by TEXT NOT NULL,
                version INTEGER NOT NULL DEFAULT 1,
                deleted_at INTEGER,
                last_used_at INTEGER,
                digest TEXT NOT NULL,
                prev_digest TEXT,
                prev_digest_until INTEGER
            ) WITHOUT ROWID;
            INSERT INTO keys_v3 (id, seq, account, name, description, owner, role, scopes,
                read_only, allowed_ips, enabled, expires_at, metadata, created_at, created_by,
                modified_at, modified_by, version, deleted_at, last_used_at, digest,
                prev_digest, prev_digest_until)
            SELECT id, seq, account, name, description, owner, role, scopes,
                read_only, allowed_ips, enabled, expires_at, metadata, created_at, created_by,
                modified_at, modified_by, version, deleted_at, last_used_at, digest,
                prev_digest, prev_digest_until
            FROM keys ORDER BY id;
            DROP TABLE keys;
            ALTER TABLE keys_v3 RENAME TO keys;
            CREATE UNIQUE INDEX keys_seq ON keys (seq);
            CREATE UNIQUE INDEX keys_live_name ON keys (account, name) WHERE deleted_at IS NULL;
            CREATE INDEX keys_account_seq ON keys (account, seq, deleted_at, enabled, expires_at);
            CREATE INDEX keys_account_owner ON keys (account, owner, seq);
            CREATE TRIGGER keys_seq_default AFTER INSERT ON keys WHEN NEW.seq IS NULL
            BEGIN
                UPDATE keys SET seq = (SELECT COALESCE(MAX(seq), 0) + 1 FROM keys)
                WHERE id = NEW.id;
            END;"
        }
        (Dialect::Sqlite, 4) => {
            // Version 4: `import_seal` marks an imported row (a MAC of its id and digest
            // under the pepper, so a row planted by SQL cannot pass as an import), and
            // `keyseal_settings` records the fingerprint of the current pepper.
            "ALTER TABLE keys ADD COLUMN import_seal TEXT;
            CREATE TABLE keyseal_settings (
                name TEXT NOT NULL PRIMARY KEY,
                value TEXT NOT NULL,
                updated_at INTEGER NOT NULL
            );"
        }
        (Dialect::Sqlite, 5) => {
            // Version 5: when the secret was last rolled, so exchange tokens issued before
            // a roll stop working when the old secret does.
            "ALTER TABLE keys ADD COLUMN rolled_at INTEGER;"
        }
        (Dialect::Postgres, 1) => {
            "CREATE TABLE keys (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                account TEXT NOT NULL,
                name TEXT NOT NULL,
                description TEXT NOT NULL DEFAULT '',
                owner TEXT,
                role TEXT,
                scopes TEXT NOT NULL DEFAULT '[]',
                read_only BIGINT NOT NULL DEFAULT 0,
                allowed_ips TEXT NOT NULL DEFAULT '[]',
                enabled BIGINT NOT NULL DEFAULT 1,
                expires_at BIGINT,
                metadata TEXT NOT NULL DEFAULT '{}',
                created_at BIGINT NOT NULL,
                created_by TEXT NOT NULL,
                modified_at BIGINT NOT NULL,
                modified_by TEXT NOT NULL,
                version BIGINT NOT NULL DEFAULT 1,
                deleted_at BIGINT,
                last_used_at BIGINT,
                digest TEXT NOT NULL
            );
            CREATE UNIQUE INDEX keys_live_name ON keys (account, name) WHERE deleted_at IS NULL;
            CREATE INDEX keys_account_seq ON keys (account, seq);
            CREATE TABLE audit (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                account TEXT NOT NULL,
                key_id TEXT NOT NULL,
                action TEXT NOT NULL,
                actor TEXT NOT NULL,
                at BIGINT NOT NULL,
                version BIGINT NOT NULL,
                changes TEXT NOT NULL
            );
            CREATE INDEX audit_account_seq ON audit (account, seq);"
        }
        (Dialect::Postgres, 2) => {
            "ALTER TABLE keys ADD COLUMN prev_digest TEXT;
            ALTER TABLE keys ADD COLUMN prev_digest_until BIGINT;
            CREATE INDEX keys_account_owner ON keys (account, owner, seq);"
        }
        (Dialect::Postgres, 3) => {
            // Version 3 changes only SQLite's physical layout (a WITHOUT ROWID table keyed
            // by id). PostgreSQL keeps its heap table and `id` index, and its identity
            // column still numbers `seq`: nothing to do but record the version.
            "SELECT 1"
        }
        (Dialect::Postgres, 4) => {
            "ALTER TABLE keys ADD COLUMN import_seal TEXT;
            CREATE TABLE keyseal_settings (
                name TEXT NOT NULL PRIMARY KEY,
                value TEXT NOT NULL,
                updated_at BIGINT NOT NULL
            );"
        }
        (Dialect::Postgres, 5) => "ALTER TABLE keys ADD COLUMN rolled_at BIGINT;",
        _ => "",
    }
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

pub(crate) fn schema_version(conn: &mut dyn Conn) -> Result<u32, DbErr> {
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
