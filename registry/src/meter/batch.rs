//! Settling in batches: requests whose leases ran short (or whose window rolled) share
//! one transaction, as creates share one in group commit. The first waiting caller
//! becomes the leader, settles everyone queued (each request's subjects, all or nothing,
//! as [`lease::settle`] does), commits once and hands each caller its subjects' new
//! state. At 100,000 metered keys each key's first request of a window needs the
//! database, so one transaction per request would cap the server at what the disk
//! commits per second; a batch costs one commit for up to [`MAX_BATCH`] requests.
//!
//! Rows are locked in one order in every transaction (by subject, the balance before its
//! windows, as key updates take them), so concurrent batches on PostgreSQL never
//! deadlock each other. A batch that changes no balance commits without waiting for the
//! disk (`synchronous = NORMAL` on SQLite, `synchronous_commit = off` on PostgreSQL): a
//! window counter then survives `kill -9` but may lose its last moments to a power cut;
//! every batch that takes credits waits for the disk, so credits stay durable.

use std::sync::{Arc, Condvar, Mutex};

use keyseal::Error;
use keyseal::meter::{RateLimit, Verdict};

use super::KeyMeter;
use super::lease::{self, LeasePolicy, Report, Rows, Subject, SubjectRules};
use super::store;
use crate::registry::tx::{Commit, with_tx_as};
use crate::store::{Conn, Pool};

/// Most requests per batch.
pub(crate) const MAX_BATCH: usize = 256;

/// One subject of a request: a copy of its state (the caller holds its lock meanwhile),
/// its rules and which of its limits apply.
pub(crate) struct PartJob {
    pub(crate) subject: String,
    pub(crate) state: Subject,
    pub(crate) rules: Arc<KeyMeter>,
    pub(crate) applied: Vec<bool>,
}

/// What a settled request gets back.
pub(crate) struct Settled {
    pub(crate) verdict: Verdict,
    pub(crate) reports: Vec<Report>,
    /// The subjects' new states, in the request's order.
    pub(crate) states: Vec<Subject>,
}

type Slot = Arc<Mutex<Option<Result<Settled, Error>>>>;

struct Job {
    parts: Vec<PartJob>,
    now_ms: u64,
    cost: u64,
    dry_run: bool,
    slot: Slot,
}

#[derive(Default)]
struct State {
    queue: Vec<Job>,
    leader: bool,
}

/// The queue of requests waiting for a transaction.
#[derive(Default)]
pub(crate) struct Settles {
    state: Mutex<State>,
    cv: Condvar,
}

fn poisoned() -> Error {
    Error::Internal {
        detail: "a registry lock was poisoned",
    }
}

impl Settles {
    /// Settles one request (its parts in the caller's order) in the next batch.
    pub(crate) fn submit(
        &self,
        pool: &Pool,
        policy: LeasePolicy,
        parts: Vec<PartJob>,
        now_ms: u64,
        cost: u64,
        dry_run: bool,
    ) -> Result<Settled, Error> {
        let slot: Slot = Arc::new(Mutex::new(None));
        let mut st = self.state.lock().map_err(|_| poisoned())?;
        st.queue.push(Job {
            parts,
            now_ms,
            cost,
            dry_run,
            slot: Arc::clone(&slot),
        });
        loop {
            if let Some(r) = slot.lock().map_err(|_| poisoned())?.take() {
                return r;
            }
            if !st.leader {
                st.leader = true;
                let n = st.queue.len().min(MAX_BATCH);
                let batch: Vec<Job> = st.queue.drain(..n).collect();
                drop(st);
                run_batch(pool, policy, batch);
                st = self.state.lock().map_err(|_| poisoned())?;
                st.leader = false;
                self.cv.notify_all();
                continue;
            }
            st = self.cv.wait(st).map_err(|_| poisoned())?;
        }
    }
}

/// The names of a part's applied limits.
fn names(p: &PartJob) -> Vec<&str> {
    p.rules
        .limits
        .iter()
        .zip(&p.applied)
        .filter(|(_, a)| **a)
        .map(|((n, _), _)| n.as_str())
        .collect()
}

fn run_batch(pool: &Pool, policy: LeasePolicy, mut batch: Vec<Job>) {
    match settle_batch(pool, policy, &mut batch) {
        Ok(outs) => {
            for (job, out) in batch.iter().zip(outs) {
                if let Ok(mut s) = job.slot.lock() {
                    *s = Some(Ok(out));
                }
            }
        }
        Err(e) => {
            for job in &batch {
                if let Ok(mut s) = job.slot.lock() {
                    *s = Some(Err(e.clone()));
                }
            }
        }
    }
}

/// Whether a batch may change a balance (it then waits for the disk).
fn takes_credits(batch: &[Job]) -> bool {
    batch
        .iter()
        .any(|j| j.parts.iter().any(|p| p.rules.credits.is_some()))
}

fn settle_batch(
    pool: &Pool,
    policy: LeasePolicy,
    batch: &mut [Job],
) -> Result<Vec<Settled>, Error> {
    let commit = if takes_credits(batch) {
        Commit::Durable
    } else {
        Commit::Relaxed
    };
    with_tx_as(pool, commit, |conn| settle_in(conn, policy, batch))
}

/// Locks and reads every row of the batch in subject order, settles each request, and
/// writes the rows back.
fn settle_in(
    conn: &mut dyn Conn,
    policy: LeasePolicy,
    batch: &mut [Job],
) -> Result<Vec<Settled>, Error> {
    // (job, part) in subject order.
    let mut order: Vec<(usize, usize)> = batch
        .iter()
        .enumerate()
        .flat_map(|(j, job)| (0..job.parts.len()).map(move |p| (j, p)))
        .collect();
    order.sort_by(|a, b| {
        batch[a.0].parts[a.1]
            .subject
            .cmp(&batch[b.0].parts[b.1].subject)
    });
    let mut rows: Vec<Vec<Option<Rows>>> = batch
        .iter()
        .map(|j| (0..j.parts.len()).map(|_| None).collect())
        .collect();
    for &(j, p) in &order {
        let job = &batch[j];
        let part = &job.parts[p];
        let (credits, epoch) = match part.rules.credits {
            None => (None, 0),
            Some(_) => {
                store::put_balance(conn, &part.subject, None, job.now_ms)?;
                match store::load_balance_epoch(conn, &part.subject)? {
                    Some((c, e)) => (Some(c), e),
                    None => (None, 0),
                }
            }
        };
        let windows = store::load_windows(conn, &part.subject, &names(part))?;
        rows[j][p] = Some(Rows {
            windows,
            credits,
            epoch,
        });
    }
    let mut outs = Vec::with_capacity(batch.len());
    for (job, job_rows) in batch.iter_mut().zip(rows.iter_mut()) {
        let mut r: Vec<Rows> = job_rows
            .iter_mut()
            .map(|x| {
                x.take().unwrap_or(Rows {
                    windows: Vec::new(),
                    credits: None,
                    epoch: 0,
                })
            })
            .collect();
        let mut states: Vec<Subject> = job.parts.iter().map(|p| p.state.clone()).collect();
        let (verdict, reports) = {
            let rules: Vec<Vec<Option<&RateLimit>>> = job
                .parts
                .iter()
                .map(|p| {
                    p.rules
                        .limits
                        .iter()
                        .zip(&p.applied)
                        .map(|((_, l), a)| a.then_some(l))
                        .collect()
                })
                .collect();
            let mut subjects: Vec<(&mut Subject, SubjectRules<'_>)> = states
                .iter_mut()
                .zip(&job.parts)
                .zip(&rules)
                .map(|((s, p), limits)| {
                    (
                        s,
                        SubjectRules {
                            limits,
                            credits: p.rules.credits.as_ref(),
                        },
                    )
                })
                .collect();
            lease::settle(
                &mut subjects,
                &mut r,
                job.now_ms,
                job.cost,
                job.dry_run,
                policy,
            )
        };
        for (part, row) in job.parts.iter().zip(&r) {
            store::save_windows(conn, &part.subject, &names(part), &row.windows)?;
            if let Some(c) = &row.credits {
                store::save_balance(conn, &part.subject, c)?;
            }
        }
        outs.push(Settled {
            verdict,
            reports,
            states,
        });
    }
    Ok(outs)
}
