//! Group commit for creates and imports: concurrent new rows share one transaction
//! (one fsync), each under its own savepoint when a neighbour fails.

use std::sync::{Arc, Condvar, Mutex};

use keyseal::{Error, ErrorCode};

use super::audit::{creation_changes, insert_audit};
use super::rows::{NewRow, insert_values};
use super::tx::notify_many;
use crate::store::{Conn, Dialect, Pool, Val};
use crate::types::Actor;

pub(super) type Slot = Arc<Mutex<Option<Result<(), Error>>>>;

pub(super) struct Job {
    pub(super) row: Arc<NewRow>,
    pub(super) actor: Actor,
    pub(super) slot: Slot,
}

pub(super) struct GroupState {
    pub(super) queue: Vec<Job>,
    pub(super) leader: bool,
}

/// Concurrent creates share one transaction (one fsync): the first waiting caller
/// becomes the leader, commits everyone queued, and every caller returns only after the
/// commit that holds its row. Each row has its own savepoint, so one name conflict does
/// not fail its neighbours.
pub(super) struct GroupCommit {
    pub(super) state: Mutex<GroupState>,
    pub(super) cv: Condvar,
}

/// Most rows per group transaction.
pub(super) const MAX_GROUP: usize = 512;

impl GroupCommit {
    pub(super) fn new() -> GroupCommit {
        GroupCommit {
            state: Mutex::new(GroupState {
                queue: Vec::new(),
                leader: false,
            }),
            cv: Condvar::new(),
        }
    }

    pub(super) fn submit(
        &self,
        pool: &Pool,
        instance: &str,
        row: Arc<NewRow>,
        actor: &Actor,
    ) -> Result<(), Error> {
        let poisoned = || Error::Internal {
            detail: "a registry lock was poisoned",
        };
        let slot: Slot = Arc::new(Mutex::new(None));
        let mut st = self.state.lock().map_err(|_| poisoned())?;
        st.queue.push(Job {
            row,
            actor: actor.clone(),
            slot: Arc::clone(&slot),
        });
        loop {
            if let Some(r) = slot.lock().map_err(|_| poisoned())?.take() {
                return r;
            }
            if !st.leader {
                st.leader = true;
                let n = st.queue.len().min(MAX_GROUP);
                let batch: Vec<Job> = st.queue.drain(..n).collect();
                drop(st);
                run_group(pool, instance, &batch);
                st = self.state.lock().map_err(|_| poisoned())?;
                st.leader = false;
                self.cv.notify_all();
                continue;
            }
            st = self.cv.wait(st).map_err(|_| poisoned())?;
        }
    }
}

/// The insert of one key row. On SQLite (schema v3, a WITHOUT ROWID table) `seq` is not a
/// rowid: the next number is taken under the write lock, one probe of `keys_seq`. On
/// PostgreSQL the identity column numbers it.
pub(super) fn insert_sql(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "INSERT INTO keys (seq, id, account, name, description, owner, role, scopes, read_only, \
             allowed_ips, enabled, expires_at, metadata, meter, created_at, created_by, modified_at, \
             modified_by, version, digest) VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM keys), \
             ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        }
        Dialect::Postgres => {
            "INSERT INTO keys (id, account, name, description, owner, role, scopes, read_only, \
             allowed_ips, enabled, expires_at, metadata, meter, created_at, created_by, modified_at, \
             modified_by, version, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        }
    }
}

pub(super) fn insert_row(conn: &mut dyn Conn, row: &NewRow, actor: &Actor) -> Result<(), Error> {
    let r = &row.record;
    let sql = insert_sql(conn.dialect());
    conn.exec(sql, &insert_values(r, &row.digest)?)?;
    if let Some(c) = &r.credits {
        crate::meter::store::set_balance(
            conn,
            &r.id,
            c.remaining.unwrap_or(0),
            u64::try_from(r.created_at)
                .unwrap_or(0)
                .saturating_mul(1000),
        )?;
    }
    if let Some(seal) = &row.import_seal {
        conn.exec(
            "UPDATE keys SET import_seal = ? WHERE id = ?",
            &[Val::from(seal.as_str()), Val::from(r.id.as_str())],
        )?;
    }
    insert_audit(
        conn,
        r,
        row.action,
        actor,
        r.created_at,
        &creation_changes(r),
    )?;
    Ok(())
}

pub(super) fn run_group(pool: &Pool, instance: &str, batch: &[Job]) {
    let set = |job: &Job, r: Result<(), Error>| {
        if let Ok(mut s) = job.slot.lock() {
            *s = Some(r);
        }
    };
    let fail_all = |e: Error| {
        for job in batch {
            set(job, Err(e.clone()));
        }
    };
    let mut conn = match pool.get() {
        Ok(c) => c,
        Err(e) => return fail_all(e.into_error()),
    };
    // First try the whole batch plainly: the common case, two statements per row.
    let fast: Result<(), Error> = (|| {
        conn.begin()?;
        for job in batch {
            insert_row(&mut *conn, &job.row, &job.actor)?;
        }
        notify_many(
            &mut *conn,
            instance,
            batch.iter().map(|j| j.row.record.id.as_str()),
        )?;
        conn.commit()?;
        Ok(())
    })();
    match fast {
        Ok(()) => {
            for job in batch {
                set(job, Ok(()));
            }
            return;
        }
        Err(e) => {
            conn.rollback();
            if e.error_code() == ErrorCode::StorageUnavailable || batch.len() == 1 {
                return fail_all(e);
            }
        }
    }
    // Some row failed: again, with a savepoint per row, so it fails alone.
    if let Err(e) = conn.begin() {
        return fail_all(e.into_error());
    }
    let mut results: Vec<Result<(), Error>> = Vec::with_capacity(batch.len());
    for job in batch {
        let r = (|| {
            conn.batch("SAVEPOINT ks_row")?;
            match insert_row(&mut *conn, &job.row, &job.actor) {
                Ok(()) => {
                    conn.batch("RELEASE SAVEPOINT ks_row")?;
                    Ok(())
                }
                Err(e) => {
                    conn.batch("ROLLBACK TO SAVEPOINT ks_row; RELEASE SAVEPOINT ks_row")?;
                    Err(e)
                }
            }
        })();
        results.push(r);
    }
    let ok_ids: Vec<&str> = batch
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_ok())
        .map(|(j, _)| j.row.record.id.as_str())
        .collect();
    let committed =
        notify_many(&mut *conn, instance, ok_ids.into_iter()).and_then(|()| conn.commit());
    match committed {
        Ok(()) => {
            for (job, r) in batch.iter().zip(results) {
                set(job, r);
            }
        }
        Err(e) => {
            conn.rollback();
            fail_all(e.into_error());
        }
    }
}
