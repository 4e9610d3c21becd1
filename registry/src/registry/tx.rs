//! Transaction helpers shared by every write: [`with_tx`], the change notifications
//! (PostgreSQL NOTIFY in the write's transaction) and the settings upsert.

use keyseal::Error;

use crate::store::{Conn, DbErr, Dialect, Pool, Val};

/// Tells other instances that `id` changed: payload `<instance>:<id>`.
pub(super) fn notify(conn: &mut dyn Conn, instance: &str, id: &str) -> Result<(), DbErr> {
    if conn.dialect() == Dialect::Postgres {
        // Delivered at commit, and only if the transaction commits.
        conn.query(
            "SELECT pg_notify('keyseal_keys', ?)",
            &[Val::from(format!("{instance}:{id}"))],
        )?;
    }
    Ok(())
}

/// Upserts one `keyseal_settings` row.
pub(super) fn set_setting(
    conn: &mut dyn Conn,
    name: &str,
    value: &str,
    now: i64,
) -> Result<(), Error> {
    conn.exec(
        "INSERT INTO keyseal_settings (name, value, updated_at) VALUES (?, ?, ?) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        &[Val::from(name), Val::from(value), Val::Int(now)],
    )?;
    Ok(())
}

/// Runs `f` in a write transaction on a pooled connection: commit on `Ok`, roll back on
/// `Err`. The commit waits for the disk.
pub(super) fn with_tx<T>(
    pool: &Pool,
    f: impl FnOnce(&mut dyn Conn) -> Result<T, Error>,
) -> Result<T, Error> {
    with_tx_as(pool, Commit::Durable, f)
}

/// Whether a transaction's commit waits for the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Commit {
    /// Survives `kill -9` and a power cut once acknowledged (the pool's setting).
    Durable,
    /// Survives `kill -9`; a power cut may lose the last moments (`synchronous = NORMAL`
    /// on SQLite, `synchronous_commit = off` on PostgreSQL). For data nobody was told is
    /// safe: window counters, usage counts.
    Relaxed,
}

/// [`with_tx`] with a choice of [`Commit`] (each backend sets its own commit up:
/// `Conn::begin_relaxed`).
pub(crate) fn with_tx_as<T>(
    pool: &Pool,
    commit: Commit,
    f: impl FnOnce(&mut dyn Conn) -> Result<T, Error>,
) -> Result<T, Error> {
    let mut conn = pool.get()?;
    match commit {
        Commit::Durable => conn.begin()?,
        Commit::Relaxed => conn.begin_relaxed()?,
    }
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

/// Notifies the ids of a batch, several per notification (payloads stay under
/// PostgreSQL's 8000-byte limit).
pub(super) fn notify_many<'a>(
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
