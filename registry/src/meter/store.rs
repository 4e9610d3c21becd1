//! The metering rows: `meter_windows` (one core `WindowState` per subject and limit
//! name, counting every instance's leases as spent, and the units of the next window
//! leased ahead) and `meter_credits` (one balance per subject, less every lease). Read
//! under the transaction's lock, written back by the same transaction.

use std::collections::HashMap;

use keyseal::Error;
use keyseal::meter::{CreditState, WindowState};

use crate::store::{Conn, Dialect, Val, pow2_chunks, repeat_rows};

fn u(v: Option<&Val>) -> u64 {
    v.and_then(Val::int)
        .and_then(|i| u64::try_from(i).ok())
        .unwrap_or(0)
}

fn int(v: u64) -> Val {
    Val::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

/// `FOR UPDATE` on PostgreSQL (rows locked until commit); SQLite's `BEGIN IMMEDIATE`
/// already holds the write lock.
fn lock(conn: &dyn Conn) -> &'static str {
    match conn.dialect() {
        Dialect::Postgres => " FOR UPDATE",
        Dialect::Sqlite => "",
    }
}

/// A limit's row: the window counters, and the units of the window after
/// `state.start_ms`'s that instances have leased ahead (see `lease::advance_row`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct WindowRow {
    pub(crate) state: WindowState,
    pub(crate) ahead: u64,
}

/// Rows per multi-row statement of a settle batch, at most (a power of two).
const ROWS_PER_STATEMENT: usize = 128;

/// The window states of `keys` ((subject, name) pairs, sorted, distinct), locked in that
/// order; a limit never counted reads as empty (its row is created).
///
/// One upsert per chunk that creates the missing rows and locks and returns them all (a
/// no-op update locks the row as `FOR UPDATE` would): its conflict check always goes
/// through the primary key, whatever plan a `SELECT ... IN (...)` would have been given
/// (PostgreSQL keeps a prepared statement's generic plan made while the table was small:
/// a sequential scan).
pub(crate) fn lock_windows(
    conn: &mut dyn Conn,
    keys: &[(&str, &str)],
) -> Result<HashMap<(String, String), WindowRow>, Error> {
    let mut out = HashMap::with_capacity(keys.len());
    let mut params = Vec::with_capacity(2 * ROWS_PER_STATEMENT);
    for chunk in pow2_chunks(keys, ROWS_PER_STATEMENT) {
        params.clear();
        for (subject, name) in chunk {
            params.extend([Val::from(*subject), Val::from(*name)]);
        }
        let sql = format!(
            "INSERT INTO meter_windows (subject, name, start_ms, previous, current, ahead) \
             VALUES {} ON CONFLICT (subject, name) DO UPDATE SET start_ms = meter_windows.start_ms \
             RETURNING subject, name, start_ms, previous, current, ahead",
            repeat_rows("(?, ?, 0, 0, 0, 0)", chunk.len())
        );
        for r in conn.query(&sql, &params)? {
            if let (Some(subject), Some(name)) =
                (r.first().and_then(Val::text), r.get(1).and_then(Val::text))
            {
                let row = WindowRow {
                    state: WindowState {
                        start_ms: u(r.get(2)),
                        previous: u(r.get(3)),
                        current: u(r.get(4)),
                    },
                    ahead: u(r.get(5)),
                };
                out.insert((subject.to_owned(), name.to_owned()), row);
            }
        }
    }
    Ok(out)
}

/// Writes window rows, (subject, name, row) sorted by (subject, name) and distinct.
pub(crate) fn save_windows(
    conn: &mut dyn Conn,
    rows: &[(&str, &str, WindowRow)],
) -> Result<(), Error> {
    let mut params = Vec::with_capacity(6 * ROWS_PER_STATEMENT);
    for chunk in pow2_chunks(rows, ROWS_PER_STATEMENT) {
        params.clear();
        for (subject, name, r) in chunk {
            params.extend([
                Val::from(*subject),
                Val::from(*name),
                int(r.state.start_ms),
                int(r.state.previous),
                int(r.state.current),
                int(r.ahead),
            ]);
        }
        conn.exec(
            &format!(
                "INSERT INTO meter_windows (subject, name, start_ms, previous, current, ahead) \
                 VALUES {} ON CONFLICT (subject, name) DO UPDATE SET \
                 start_ms = excluded.start_ms, previous = excluded.previous, \
                 current = excluded.current, ahead = excluded.ahead",
                repeat_rows("(?, ?, ?, ?, ?, ?)", chunk.len())
            ),
            &params,
        )?;
    }
    Ok(())
}

/// Drops the counters of `subject`'s limits that are not in `keep` (a limit removed, or
/// renamed, starts empty if it comes back).
pub(crate) fn drop_windows_except(
    conn: &mut dyn Conn,
    subject: &str,
    keep: &[&str],
) -> Result<(), Error> {
    let rows = conn.query(
        "SELECT name FROM meter_windows WHERE subject = ?",
        &[Val::from(subject)],
    )?;
    for r in rows {
        if let Some(name) = r.first().and_then(Val::text)
            && !keep.contains(&name)
        {
            conn.exec(
                "DELETE FROM meter_windows WHERE subject = ? AND name = ?",
                &[Val::from(subject), Val::from(name)],
            )?;
        }
    }
    Ok(())
}

/// The balances of `subjects` (sorted, distinct) and their epochs (raised every time a
/// balance is set, so leases taken before no longer come back on top of it), locked in
/// that order; a missing one is created (0 from `at_ms`). One upsert per chunk, as
/// [`lock_windows`] does.
pub(crate) fn lock_balances(
    conn: &mut dyn Conn,
    subjects: &[&str],
    at_ms: u64,
) -> Result<HashMap<String, (CreditState, u64)>, Error> {
    let mut out = HashMap::with_capacity(subjects.len());
    let mut params = Vec::with_capacity(2 * ROWS_PER_STATEMENT);
    for chunk in pow2_chunks(subjects, ROWS_PER_STATEMENT) {
        params.clear();
        for subject in chunk {
            params.extend([Val::from(*subject), int(at_ms)]);
        }
        let sql = format!(
            "INSERT INTO meter_credits (subject, remaining, refilled_at_ms) VALUES {} \
             ON CONFLICT (subject) DO UPDATE SET epoch = meter_credits.epoch \
             RETURNING subject, remaining, refilled_at_ms, epoch",
            repeat_rows("(?, 0, ?)", chunk.len())
        );
        for r in conn.query(&sql, &params)? {
            if let Some(subject) = r.first().and_then(Val::text) {
                let state = CreditState {
                    remaining: u(r.get(1)),
                    refilled_at_ms: u(r.get(2)),
                };
                out.insert(subject.to_owned(), (state, u(r.get(3))));
            }
        }
    }
    Ok(out)
}

/// The balance of `subject`, locked; `None` when it has none.
pub(crate) fn load_balance(
    conn: &mut dyn Conn,
    subject: &str,
) -> Result<Option<CreditState>, Error> {
    let sql = format!(
        "SELECT remaining, refilled_at_ms FROM meter_credits WHERE subject = ?{}",
        lock(conn)
    );
    Ok(conn
        .query_one(&sql, &[Val::from(subject)])?
        .map(|r| CreditState {
            remaining: u(r.first()),
            refilled_at_ms: u(r.get(1)),
        }))
}

/// The balance of `subject` as committed, without a transaction or a lock (a read for an
/// answer, not for a change); `None` when it has none.
pub(crate) fn read_balance(
    conn: &mut dyn Conn,
    subject: &str,
) -> Result<Option<CreditState>, Error> {
    Ok(conn
        .query_one(
            "SELECT remaining, refilled_at_ms FROM meter_credits WHERE subject = ?",
            &[Val::from(subject)],
        )?
        .map(|r| CreditState {
            remaining: u(r.first()),
            refilled_at_ms: u(r.get(1)),
        }))
}

/// Writes the balance of `subject`.
pub(crate) fn save_balance(
    conn: &mut dyn Conn,
    subject: &str,
    s: &CreditState,
) -> Result<(), Error> {
    save_balances(conn, &[(subject, *s)])
}

/// Writes balances, (subject, state) sorted by subject and distinct.
pub(crate) fn save_balances(
    conn: &mut dyn Conn,
    rows: &[(&str, CreditState)],
) -> Result<(), Error> {
    let mut params = Vec::with_capacity(3 * ROWS_PER_STATEMENT);
    for chunk in pow2_chunks(rows, ROWS_PER_STATEMENT) {
        params.clear();
        for (subject, s) in chunk {
            params.extend([Val::from(*subject), int(s.remaining), int(s.refilled_at_ms)]);
        }
        conn.exec(
            &format!(
                "INSERT INTO meter_credits (subject, remaining, refilled_at_ms) VALUES {} \
                 ON CONFLICT (subject) DO UPDATE SET remaining = excluded.remaining, \
                 refilled_at_ms = excluded.refilled_at_ms",
                repeat_rows("(?, ?, ?)", chunk.len())
            ),
            &params,
        )?;
    }
    Ok(())
}

/// Sets the balance of `subject` to `remaining` (refills counted from `at_ms`), creating
/// it, and raises its epoch: credits instances hold from before are not given back on
/// top of a balance set afterwards. With `None`, only makes sure a balance exists (0 from
/// `at_ms`).
pub(crate) fn put_balance(
    conn: &mut dyn Conn,
    subject: &str,
    remaining: Option<u64>,
    at_ms: u64,
) -> Result<(), Error> {
    let sql = match remaining {
        Some(_) => {
            "INSERT INTO meter_credits (subject, remaining, refilled_at_ms) VALUES (?, ?, ?) \
             ON CONFLICT (subject) DO UPDATE SET remaining = excluded.remaining, \
             epoch = meter_credits.epoch + 1"
        }
        None => {
            "INSERT INTO meter_credits (subject, remaining, refilled_at_ms) VALUES (?, ?, ?) \
             ON CONFLICT (subject) DO NOTHING"
        }
    };
    conn.exec(
        sql,
        &[Val::from(subject), int(remaining.unwrap_or(0)), int(at_ms)],
    )?;
    Ok(())
}

/// [`put_balance`] with a starting balance (a new key's credits).
pub(crate) fn set_balance(
    conn: &mut dyn Conn,
    subject: &str,
    remaining: u64,
    at_ms: u64,
) -> Result<(), Error> {
    put_balance(conn, subject, Some(remaining), at_ms)
}
