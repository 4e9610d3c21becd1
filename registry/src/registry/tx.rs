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
/// `Err`.
pub(super) fn with_tx<T>(
    pool: &Pool,
    f: impl FnOnce(&mut dyn Conn) -> Result<T, Error>,
) -> Result<T, Error> {
    let mut conn = pool.get()?;
    conn.begin()?;
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
