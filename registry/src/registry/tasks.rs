//! The background threads: the flusher (`last_used_at`, usage, and the renewal of
//! metering leases) and, on PostgreSQL, the LISTEN/NOTIFY listener that drops other
//! instances' changes from the caches. Started by [`super::Registry::open`] and stopped
//! by [`super::Registry::close`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use keyseal::Error;

use super::inner::Inner;
use super::metering::renew_leases;
use super::tx::{Commit, with_tx, with_tx_as};
use crate::config::CHANGE_CHANNEL;
use crate::store::{self, Conn, Dialect, Storage, Val, pow2_chunks, repeat_rows};
use crate::usage::{Granularity, Taken, rollup};

/// The running background threads of one registry.
pub(super) struct Tasks {
    stop: Arc<AtomicBool>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Tasks {
    /// Starts the `last_used_at` and usage flusher and, on PostgreSQL with
    /// `listen_for_changes`, the change listener; waits (at most 5 seconds) until the
    /// listener is listening.
    pub(super) fn start(inner: &Arc<Inner>) -> Tasks {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        {
            let inner = Arc::clone(inner);
            let stop = Arc::clone(&stop);
            threads.push(std::thread::spawn(move || flusher(&inner, &stop)));
        }
        if let (Storage::Postgres(url), true) = (&inner.storage, inner.config.listen_for_changes) {
            let url = url.clone();
            let inner2 = Arc::clone(inner);
            let stop2 = Arc::clone(&stop);
            let (ready_tx, ready_rx) = std::sync::mpsc::channel();
            threads.push(std::thread::spawn(move || {
                listener(&inner2, &url, &stop2, ready_tx)
            }));
            // Wait (bounded) until LISTEN is active, so changes made right after open are
            // seen; if the server is unreachable the listener keeps retrying.
            let _ = ready_rx.recv_timeout(Duration::from_secs(5));
        }
        Tasks {
            stop,
            threads: Mutex::new(threads),
        }
    }

    /// Stops the threads and waits for them; the caller flushes what is left.
    pub(super) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        let threads = match self.threads.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(_) => Vec::new(),
        };
        for t in threads {
            let _ = t.join();
        }
    }
}

/// Writes the queued `last_used_at` times; on failure they stay queued.
pub(super) fn flush(inner: &Inner) -> Result<usize, Error> {
    let pending = match inner.pending_last_used.lock() {
        Ok(mut p) => std::mem::take(&mut *p),
        Err(_) => return Ok(0),
    };
    if pending.is_empty() {
        return Ok(0);
    }
    let r = with_tx(&inner.pool, |conn| {
        if conn.dialect() == Dialect::Sqlite {
            // In-process: one cached statement per row costs microseconds.
            for (id, at) in &pending {
                conn.exec(
                    "UPDATE keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
                    &[Val::Int(*at), Val::from(id.as_str()), Val::Int(*at)],
                )?;
            }
            return Ok(pending.len());
        }
        // PostgreSQL: a round trip per row kept the flusher (and the database) busy for
        // seconds after 100,000 keys were first used, taking CPU from the verify path.
        // Batches of up to 256 rows, in power-of-two sizes so that at most nine
        // statement shapes are prepared.
        let rows: Vec<(&String, &i64)> = pending.iter().collect();
        let mut params = Vec::with_capacity(2 * LAST_USED_BATCH);
        for batch in pow2_chunks(&rows, LAST_USED_BATCH) {
            params.clear();
            for (id, at) in batch {
                params.push(Val::from(id.as_str()));
                params.push(Val::Int(**at));
            }
            conn.exec(&last_used_sql(batch.len()), &params)?;
        }
        Ok(pending.len())
    });
    if r.is_err() {
        // Keep them for the next flush, without overwriting newer times.
        if let Ok(mut p) = inner.pending_last_used.lock() {
            for (id, at) in pending {
                let slot = p.entry(id).or_insert(at);
                *slot = (*slot).max(at);
            }
        }
    }
    r
}

/// Rows per `last_used_at` update statement on PostgreSQL, at most (a power of two).
pub(super) const LAST_USED_BATCH: usize = 256;

/// One statement that sets `last_used_at` for `rows` (id, time) pairs, never backwards.
pub(super) fn last_used_sql(rows: usize) -> String {
    let values = repeat_rows("(CAST(? AS TEXT), CAST(? AS BIGINT))", rows);
    format!(
        "UPDATE keys SET last_used_at = v.column2 FROM (VALUES {values}) AS v \
         WHERE keys.id = v.column1 AND (keys.last_used_at IS NULL OR keys.last_used_at < v.column2)"
    )
}

/// Rows per usage upsert statement, at most (a power of two; 7 parameters a row).
pub(super) const USAGE_BATCH: usize = 128;

/// One statement that adds `rows` (account, key_id, start_at, outcome, owner, hits,
/// credits) rows to `table`'s counts.
fn usage_sql(table: &str, rows: usize) -> String {
    let values = repeat_rows("(?, ?, ?, ?, ?, ?, ?)", rows);
    format!(
        "INSERT INTO {table} (account, key_id, start_at, outcome, owner, hits, credits) \
         VALUES {values} ON CONFLICT (account, key_id, start_at, outcome, owner) DO UPDATE \
         SET hits = {table}.hits + excluded.hits, credits = {table}.credits + excluded.credits"
    )
}

/// Adds `taken` to the minute (those starting at `minute_from` or later), hour and day
/// tables.
pub(super) fn write_usage(
    conn: &mut dyn Conn,
    taken: &[Taken],
    minute_from: i64,
) -> Result<(), Error> {
    let mut params = Vec::with_capacity(7 * USAGE_BATCH);
    for g in Granularity::ALL {
        let mut rows = rollup(taken, g);
        if g == Granularity::Minute {
            rows.retain(|r| r.0.2 >= minute_from);
        }
        // Power-of-two batches: at most eight statement shapes per table.
        for batch in pow2_chunks(&rows, USAGE_BATCH) {
            params.clear();
            for ((account, key_id, start, outcome, owner), hits, credits) in batch {
                params.extend([
                    Val::from(&**account),
                    Val::from(&**key_id),
                    Val::Int(*start),
                    Val::from(*outcome),
                    Val::from(&**owner),
                    Val::Int(i64::try_from(*hits).unwrap_or(i64::MAX)),
                    Val::Int(i64::try_from(*credits).unwrap_or(i64::MAX)),
                ]);
            }
            conn.exec(&usage_sql(g.table(), batch.len()), &params)?;
        }
    }
    Ok(())
}

/// Pending cells written per transaction: each holds SQLite's write lock for a few
/// milliseconds, so a batch of meter settles (waiting in the writer gate) gets in between.
pub(super) const USAGE_CHUNK: usize = 256;

/// Writes the pending usage counts into the minute, hour and day tables (upserts that
/// add), [`USAGE_CHUNK`] cells per transaction, committed without waiting for the disk
/// (see [`Commit::Relaxed`]: counts survive `kill -9`, a power cut may lose the last
/// moments); then deletes buckets past their retention when that was last done a minute
/// ago or more. On failure the cells not yet written stay pending.
pub(super) fn flush_usage(inner: &Inner) -> Result<usize, Error> {
    let mut taken = inner.usage.take();
    // In primary-key order, so that each chunk covers its own range of the tables' pages
    // (unsorted, every chunk would rewrite pages all over the tables).
    taken.sort_unstable_by(|a, b| {
        (&a.account, &a.key_id, a.cell.minute).cmp(&(&b.account, &b.key_id, b.cell.minute))
    });
    let now = inner.config.clock.now();
    let total = taken.len();
    while !taken.is_empty() {
        let rest = taken.split_off(taken.len().min(USAGE_CHUNK));
        let written = with_tx_as(&inner.pool, Commit::Relaxed, |conn| {
            write_usage(conn, &taken, i64::MIN)
        });
        if let Err(e) = written {
            taken.extend(rest);
            inner.usage.restore(taken);
            return Err(e);
        }
        taken = rest;
    }
    if now.saturating_sub(inner.usage_pruned_at.load(Ordering::Acquire)) >= 60 {
        for g in Granularity::ALL {
            let cutoff = g.floor(now.saturating_sub(inner.config.usage_retention.of(g)));
            prune_usage(inner, g, cutoff)?;
        }
        inner.usage_pruned_at.store(now, Ordering::Release);
    }
    Ok(total)
}

/// Buckets deleted per retention transaction: a minute's worth of minute buckets at
/// 100,000 keys is 100,000 rows, and one statement deleting them all would hold SQLite's
/// write lock for as long as the usage flush once did.
const PRUNE_CHUNK: i64 = 1_024;

/// Deletes `g`'s buckets that start before `cutoff`, [`PRUNE_CHUNK`] per transaction.
fn prune_usage(inner: &Inner, g: Granularity, cutoff: i64) -> Result<(), Error> {
    let table = g.table();
    let sql = format!(
        "DELETE FROM {table} WHERE (account, key_id, start_at, outcome, owner) IN \
         (SELECT account, key_id, start_at, outcome, owner FROM {table} \
         WHERE start_at < ? LIMIT ?)"
    );
    loop {
        let deleted = with_tx_as(&inner.pool, Commit::Relaxed, |conn| {
            Ok(conn.exec(&sql, &[Val::Int(cutoff), Val::Int(PRUNE_CHUNK)])?)
        })?;
        if deleted < PRUNE_CHUNK as u64 {
            return Ok(());
        }
    }
}

/// SQLite: copies the write-ahead log back into the database file, as far as readers
/// allow (`PASSIVE`: waits for no one, never blocks a writer). Connections never do it as
/// they commit (see `store::sqlite`), so the background thread does, after each flush.
pub(super) fn checkpoint(inner: &Inner) -> Result<(), Error> {
    if let Storage::Sqlite(_) = inner.storage {
        inner
            .pool
            .get()?
            .query("PRAGMA wal_checkpoint(PASSIVE)", &[])?;
    }
    Ok(())
}

/// Every 100 ms renews the metering leases queued since (a key whose window rolled is
/// renewed within about that long); every second writes `last_used_at` and usage.
fn flusher(inner: &Inner, stop: &AtomicBool) {
    while !stop.load(Ordering::Acquire) {
        for _ in 0..10 {
            if stop.load(Ordering::Acquire) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
            renew_leases(inner);
        }
        let _ = flush(inner);
        let _ = flush_usage(inner);
        let _ = checkpoint(inner);
    }
}

/// Listens for other instances' changes and drops their ids from the caches. While the
/// connection is down nothing is cached for long: on every (re)connect the caches are
/// emptied, since notifications may have been missed.
fn listener(inner: &Inner, url: &str, stop: &AtomicBool, ready: std::sync::mpsc::Sender<()>) {
    use postgres::fallible_iterator::FallibleIterator;
    while !stop.load(Ordering::Acquire) {
        let conn = store::PgConn::open(url).and_then(|mut c| {
            c.batch(&format!("LISTEN {CHANGE_CHANNEL}"))?;
            Ok(c)
        });
        let mut conn = match conn {
            Ok(c) => c,
            Err(_) => {
                // Entries loaded meanwhile are not covered by notifications: keep the
                // caches empty until listening again.
                inner.cache.clear();
                inner.meters.unsync_all();
                inner.owner_rules.clear();
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
        };
        inner.cache.clear();
        inner.meters.unsync_all();
        inner.owner_rules.clear();
        inner.negative.clear();
        let _ = ready.send(());
        loop {
            if stop.load(Ordering::Acquire) {
                return;
            }
            let next = {
                let mut notes = conn.client().notifications();
                let mut it = notes.timeout_iter(Duration::from_millis(200));
                it.next()
            };
            match next {
                Ok(Some(n)) => {
                    // Payload: `<instance>:<id>[,<id>...]`.
                    let (from, ids) = n.payload().split_once(':').unwrap_or(("", n.payload()));
                    if from != inner.instance {
                        for id in ids.split(',') {
                            inner.cache.invalidate(id);
                            inner.negative.remove(id);
                            // Rules or balances changed elsewhere: read them again.
                            inner.meters.unsync(id);
                            inner.owner_rules.forget(id);
                        }
                    }
                }
                Ok(None) => {
                    if conn.is_broken() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        inner.cache.clear();
        inner.meters.unsync_all();
        inner.owner_rules.clear();
    }
}
