//! The connection pool: a small blocking pool over any [`Conn`].
//!
//! Kept by hand on purpose (about 100 lines) rather than r2d2 or deadpool:
//! - a failed connect returns its own [`DbErr`] at once (`DbErr::Connect` carries the
//!   fixed TLS or authentication message the README promises, e.g. "the PostgreSQL
//!   server's certificate is not signed by a CA in sslrootcert"); r2d2 retries until its
//!   timeout and hands back only the last error as text, and deadpool is async-first;
//! - the PostgreSQL connector is our own libpq-style `sslmode` handling (`super::tls`),
//!   not a `MakeTlsConnect` that `r2d2_postgres` expects, and the SQLite connections need
//!   their per-connection settings and 0600 files (`super::sqlite`);
//! - a checkout is one mutex and no health-check query (r2d2 tests each checkout by
//!   default), which the uncached verify path pays on every lookup.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use super::conn::{Conn, DbErr};

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

    /// Takes a connection back: idle for the next caller, or closed when it is broken or
    /// `discard` says so (its slot is free again either way).
    fn release(&self, mut conn: Box<dyn Conn>, discard: bool) {
        if !discard {
            conn.end_open_tx();
        }
        if let Ok(mut st) = self.state.lock() {
            if discard || conn.is_broken() {
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
            // A panic may have left a transaction open (holding row locks): such a
            // connection is closed, never handed to the next caller.
            self.pool.release(c, std::thread::panicking());
        }
    }
}
