//! Settling in batches: requests whose leases ran short (or whose window rolled) share
//! one transaction, as creates share one in group commit. The first waiting caller
//! becomes the leader, settles everyone queued (each request's subjects, all or nothing,
//! as [`lease::settle`] does), commits once and hands each caller its subjects' new
//! state. At 100,000 metered keys each key's first request of a window needs the
//! database, so one transaction per request would cap the server at what the disk
//! commits per second; a batch costs one commit for up to [`MAX_BATCH`] requests.
//!
//! A batch reads, locks and writes its rows with a few multi-row statements (upserts
//! through the primary keys, see [`store::lock_windows`]), not a few per request: on
//! PostgreSQL every statement is a round trip. Rows are locked in one order in every
//! transaction (all balances by subject, then all windows by subject and name; a key
//! update takes its one subject's balance before its windows), so concurrent batches
//! and updates on PostgreSQL never deadlock each other. A batch that changes no balance
//! commits without waiting for the disk (`synchronous = NORMAL` on SQLite,
//! `synchronous_commit = off` on PostgreSQL): a window counter then survives `kill -9`
//! but may lose its last moments to a power cut; every batch that takes credits waits
//! for the disk, so credits stay durable.

use std::sync::{Arc, Condvar, Mutex};

use keyseal::Error;
use keyseal::meter::{CreditState, RateLimit, Verdict};

use super::KeyMeter;
use super::lease::{self, LeasePolicy, Report, Rows, Subject, SubjectRules};
use super::store::{self, WindowRow};
use crate::registry::tx::{Commit, with_tx_as};
use crate::store::{Conn, Pool};

/// Most requests per batch.
pub(crate) const MAX_BATCH: usize = 256;

/// One subject of a request: a copy of its state (the caller holds its lock meanwhile),
/// its rules, which of its limits apply and whether its credits do (a request spends
/// them when the subject has credits; a renewal of the leases leaves them alone).
pub(crate) struct PartJob {
    pub(crate) subject: String,
    pub(crate) state: Subject,
    pub(crate) rules: Arc<KeyMeter>,
    pub(crate) applied: Vec<bool>,
    pub(crate) credits: bool,
}

impl PartJob {
    /// The subject's credits rule when this part spends from it.
    fn credits(&self) -> Option<&keyseal::meter::Credits> {
        self.rules.credits.as_ref().filter(|_| self.credits)
    }
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

/// What [`settle_now`] does with each subject's leases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Leases {
    /// Give them all back, the credits' included (at close).
    GiveBack,
    /// Give the limits' back and take new ones, the next window's included (a renewal).
    /// The credits are left alone: a transaction that takes credits waits for the disk.
    Renew,
}

/// A subject settled whole by [`settle_now`]: its id, a copy of its state (the caller
/// holds its lock meanwhile) and its rules.
pub(crate) type Whole = (String, Subject, Arc<KeyMeter>);

/// Settles `subjects` now rather than queued, each alone at `now_ms` with a cost of 0 and
/// every limit applied, in transactions of up to [`MAX_BATCH`]: giving every lease back at
/// close (where one transaction per subject took a minute at 100,000 keys on PostgreSQL),
/// or renewing leases off the request path. The new states come back in `subjects`'
/// order.
pub(crate) fn settle_now(
    pool: &Pool,
    policy: LeasePolicy,
    subjects: Vec<Whole>,
    now_ms: u64,
    leases: Leases,
) -> Result<Vec<Subject>, Error> {
    let mut states = Vec::with_capacity(subjects.len());
    let jobs: Vec<Job> = subjects
        .into_iter()
        .map(|(subject, state, rules)| Job {
            parts: vec![PartJob {
                subject,
                state,
                applied: vec![true; rules.limits.len()],
                credits: leases == Leases::GiveBack,
                rules,
            }],
            now_ms,
            cost: 0,
            dry_run: leases == Leases::GiveBack,
            slot: Arc::new(Mutex::new(None)),
        })
        .collect();
    for chunk in jobs.chunks(MAX_BATCH) {
        for out in settle_batch(pool, policy, chunk)? {
            states.extend(out.states);
        }
    }
    Ok(states)
}

/// The names of a part's applied limits.
fn applied_names(p: &PartJob) -> Vec<&str> {
    p.rules
        .limits
        .iter()
        .zip(&p.applied)
        .filter(|(_, a)| **a)
        .map(|((n, _), _)| n.as_str())
        .collect()
}

fn run_batch(pool: &Pool, policy: LeasePolicy, batch: Vec<Job>) {
    match settle_batch(pool, policy, &batch) {
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
        .any(|j| j.parts.iter().any(|p| p.credits().is_some()))
}

fn settle_batch(pool: &Pool, policy: LeasePolicy, batch: &[Job]) -> Result<Vec<Settled>, Error> {
    let commit = if takes_credits(batch) {
        Commit::Durable
    } else {
        Commit::Relaxed
    };
    with_tx_as(pool, commit, |conn| settle_in(conn, policy, batch))
}

/// Locks and reads every row of the batch (all balances by subject, then all windows by
/// subject and name: the order every transaction takes them in), settles each request,
/// and writes the rows back, a few multi-row statements for the whole batch.
fn settle_in(
    conn: &mut dyn Conn,
    policy: LeasePolicy,
    batch: &[Job],
) -> Result<Vec<Settled>, Error> {
    let now_ms = batch.iter().map(|j| j.now_ms).max().unwrap_or(0);
    // Each part's applied limit names, in the order of its rows.
    let names: Vec<Vec<Vec<&str>>> = batch
        .iter()
        .map(|j| j.parts.iter().map(applied_names).collect())
        .collect();
    let parts = || {
        batch
            .iter()
            .zip(&names)
            .flat_map(|(j, n)| j.parts.iter().zip(n))
    };
    let mut credit_keys: Vec<&str> = parts()
        .filter(|(p, _)| p.credits().is_some())
        .map(|(p, _)| p.subject.as_str())
        .collect();
    let mut window_keys: Vec<(&str, &str)> = parts()
        .flat_map(|(p, n)| n.iter().map(|n| (p.subject.as_str(), *n)))
        .collect();
    credit_keys.sort_unstable();
    credit_keys.dedup();
    window_keys.sort_unstable();
    window_keys.dedup();
    let mut balances = store::lock_balances(conn, &credit_keys, now_ms)?;
    let mut windows = store::lock_windows(conn, &window_keys)?;

    let mut outs = Vec::with_capacity(batch.len());
    let mut window_rows: Vec<(&str, &str, WindowRow)> = Vec::new();
    let mut balance_rows: Vec<(&str, CreditState)> = Vec::new();
    for (job, names) in batch.iter().zip(&names) {
        let mut r: Vec<Rows> = job
            .parts
            .iter()
            .zip(names)
            .map(|(p, names)| {
                let (credits, epoch) = match p.credits() {
                    Some(_) => balances
                        .remove(&p.subject)
                        .map_or((None, 0), |(c, e)| (Some(c), e)),
                    None => (None, 0),
                };
                let windows = names
                    .iter()
                    .map(|n| {
                        windows
                            .remove(&(p.subject.clone(), (*n).to_owned()))
                            .unwrap_or_default()
                    })
                    .collect();
                Rows {
                    windows,
                    credits,
                    epoch,
                }
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
                            credits: p.credits(),
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
        for ((part, names), row) in job.parts.iter().zip(names).zip(&r) {
            for (name, state) in names.iter().zip(&row.windows) {
                window_rows.push((&part.subject, name, *state));
            }
            if let Some(c) = row.credits {
                balance_rows.push((&part.subject, c));
            }
        }
        outs.push(Settled {
            verdict,
            reports,
            states,
        });
    }
    // A subject is in one request of a batch at most (its caller holds its lock), so the
    // rows are distinct; should one come twice, the last state wins.
    sort_keep_last(&mut window_rows, |r| (r.0, r.1));
    sort_keep_last(&mut balance_rows, |r| r.0);
    store::save_balances(conn, &balance_rows)?;
    store::save_windows(conn, &window_rows)?;
    Ok(outs)
}

/// Sorts `rows` by `key` (stable) and keeps the last row of each key.
fn sort_keep_last<T, K: Ord>(rows: &mut Vec<T>, key: impl Fn(&T) -> K) {
    rows.sort_by_key(&key);
    rows.dedup_by(|later, earlier| {
        let same = key(later) == key(earlier);
        if same {
            std::mem::swap(later, earlier);
        }
        same
    });
}
