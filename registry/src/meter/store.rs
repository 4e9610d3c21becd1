//! The metering rows: `meter_windows` (one core `WindowState` per subject and limit
//! name, counting every instance's leases as spent) and `meter_credits` (one balance per
//! subject, less every lease). Read under the transaction's lock, written back by the
//! same transaction.

use keyseal::Error;
use keyseal::meter::{CreditState, WindowState};

use crate::store::{Conn, Dialect, Val};

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

/// The window states of `subject` for `names`, locked; a limit never counted reads as
/// empty. Rows are created first so that concurrent transactions lock the same rows.
pub(crate) fn load_windows(
    conn: &mut dyn Conn,
    subject: &str,
    names: &[&str],
) -> Result<Vec<WindowState>, Error> {
    for name in names {
        conn.exec(
            "INSERT INTO meter_windows (subject, name, start_ms, previous, current) \
             VALUES (?, ?, 0, 0, 0) ON CONFLICT (subject, name) DO NOTHING",
            &[Val::from(subject), Val::from(*name)],
        )?;
    }
    let sql = format!(
        "SELECT name, start_ms, previous, current FROM meter_windows WHERE subject = ?{}",
        lock(conn)
    );
    let rows = conn.query(&sql, &[Val::from(subject)])?;
    Ok(names
        .iter()
        .map(|name| {
            rows.iter()
                .find(|r| r.first().and_then(Val::text) == Some(name))
                .map(|r| WindowState {
                    start_ms: u(r.get(1)),
                    previous: u(r.get(2)),
                    current: u(r.get(3)),
                })
                .unwrap_or_default()
        })
        .collect())
}

/// Writes the window states of `subject`, in `names` order.
pub(crate) fn save_windows(
    conn: &mut dyn Conn,
    subject: &str,
    names: &[&str],
    states: &[WindowState],
) -> Result<(), Error> {
    for (name, s) in names.iter().zip(states) {
        conn.exec(
            "UPDATE meter_windows SET start_ms = ?, previous = ?, current = ? \
             WHERE subject = ? AND name = ?",
            &[
                int(s.start_ms),
                int(s.previous),
                int(s.current),
                Val::from(subject),
                Val::from(*name),
            ],
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

/// The balance of `subject`, locked; `None` when it has none.
pub(crate) fn load_balance(
    conn: &mut dyn Conn,
    subject: &str,
) -> Result<Option<CreditState>, Error> {
    Ok(load_balance_epoch(conn, subject)?.map(|(s, _)| s))
}

/// The balance of `subject` and its epoch (raised every time the balance is set, so
/// leases taken before no longer come back on top of it), locked.
pub(crate) fn load_balance_epoch(
    conn: &mut dyn Conn,
    subject: &str,
) -> Result<Option<(CreditState, u64)>, Error> {
    let sql = format!(
        "SELECT remaining, refilled_at_ms, epoch FROM meter_credits WHERE subject = ?{}",
        lock(conn)
    );
    Ok(conn.query_one(&sql, &[Val::from(subject)])?.map(|r| {
        (
            CreditState {
                remaining: u(r.first()),
                refilled_at_ms: u(r.get(1)),
            },
            u(r.get(2)),
        )
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
    conn.exec(
        "UPDATE meter_credits SET remaining = ?, refilled_at_ms = ? WHERE subject = ?",
        &[int(s.remaining), int(s.refilled_at_ms), Val::from(subject)],
    )?;
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
