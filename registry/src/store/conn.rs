//! The one small trait every backend implements ([`Conn`]: exec, query, batch,
//! transactions) and the values and errors that cross it ([`Val`], [`Row`], [`DbErr`],
//! [`Dialect`]).
//!
//! Every statement is written once with `?` placeholders and rewritten to `$1..$n` for
//! PostgreSQL; values travel as [`Val`] (integer, text or null), so both backends store the
//! same columns with the same meaning (booleans are 0/1 integers, times are unix seconds,
//! lists and metadata are JSON text). User input is only ever bound as a parameter, never
//! spliced into SQL text.

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
    /// Starts a write transaction whose commit does not wait for the disk: it survives
    /// `kill -9`, a power cut may lose its last moments (`Commit::Relaxed` in
    /// `registry::tx`). Each backend knows its own setting for that.
    fn begin_relaxed(&mut self) -> Result<(), DbErr>;
    fn commit(&mut self) -> Result<(), DbErr> {
        self.batch("COMMIT")
    }
    fn rollback(&mut self) {
        // A failed rollback leaves the connection broken, which the pool then drops.
        let _ = self.batch("ROLLBACK");
    }
    /// Rolls back a transaction a caller left open (the pool calls it on every
    /// connection it takes back, so no lock outlives its borrower).
    fn end_open_tx(&mut self) {}
    fn query_one(&mut self, sql: &str, params: &[Val]) -> Result<Option<Row>, DbErr> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}
