//! Metering a verified key (see [`crate::meter`]): its own limits and credits and those
//! of its owner, from this instance's leases when they cover the request, else in one
//! transaction; renewing leases off the request path; reading balances; giving the
//! leases back at close.

use std::sync::{Arc, Mutex, MutexGuard};

use keyseal::meter::{CreditState, RateLimit, Verdict};
use keyseal::{Error, ErrorCode};

use super::errors::reg;
use super::inner::Inner;
use super::lifecycle::Registry;
use crate::meter::batch::{self, Leases, MAX_BATCH, PartJob};
use crate::meter::lease::{self, CreditLease, Local, Report, Subject, SubjectRules, WindowLease};
use crate::meter::{CreditReport, KeyMeter, LimitReport, MeterReport, MeterRequest, Scope, store};

/// The verdict and the report of a metered request.
pub(super) struct Metered {
    pub(super) verdict: Verdict,
    pub(super) report: MeterReport,
}

/// One metered subject of a request: the key or its owner.
pub(super) struct Part {
    pub(super) scope: Scope,
    /// The subject's id in the database and in this instance's map.
    pub(super) subject: String,
    pub(super) rules: Arc<KeyMeter>,
}

/// A part with its lock taken and the limits the request applies.
struct Held<'p> {
    part: &'p Part,
    state: &'p Mutex<Subject>,
    applied: Vec<Option<&'p RateLimit>>,
}

fn poisoned() -> Error {
    Error::Internal {
        detail: "a meter's lock was poisoned",
    }
}

impl Registry {
    /// Meters `req` over `parts` (the key first, then its owner), all or nothing.
    /// `Ok(None)` when the answer needs the database and `io` is false; `Ok(Some(None))`
    /// when nothing is metered.
    pub(super) fn meter_parts(
        &self,
        parts: &[Part],
        req: &MeterRequest,
        io: bool,
    ) -> Result<Option<Option<Metered>>, Error> {
        if let Some(names) = &req.limits
            && names.iter().any(|n| {
                !parts
                    .iter()
                    .any(|p| p.rules.limits.iter().any(|(k, _)| k == n))
            })
        {
            return Err(unknown_limit());
        }
        if req.cost > keyseal::meter::MAX_AMOUNT {
            return Err(reg(
                ErrorCode::InvalidArgument,
                "cost is an integer from 0 to 2^53-1",
            ));
        }
        if parts.is_empty() {
            return Ok(Some(None));
        }
        let held: Vec<Held<'_>> = parts
            .iter()
            .map(|part| Held {
                part,
                state: part.rules.state(&self.inner.meters, &part.subject),
                applied: applied_limits(&part.rules, req),
            })
            .collect();
        // Locks in the order of `parts` (key, then owner) everywhere: no cycles. Without
        // `io` (an async runtime thread) a subject busy in a transaction is not waited
        // for: the caller retries where it may block.
        let mut guards: Vec<MutexGuard<'_, Subject>> = Vec::with_capacity(held.len());
        for h in &held {
            let mut g = if io {
                h.state.lock().map_err(|_| poisoned())?
            } else {
                match h.state.try_lock() {
                    Ok(g) => g,
                    Err(std::sync::TryLockError::WouldBlock) => return Ok(None),
                    Err(std::sync::TryLockError::Poisoned(_)) => return Err(poisoned()),
                }
            };
            reconcile(&mut g, &h.part.rules);
            guards.push(g);
        }
        let now_ms = self.inner.config.clock.now_ms();
        let local = {
            let mut subjects = subjects_of(&held, &mut guards);
            lease::decide_local(&mut subjects, now_ms, req.cost, req.dry_run)
        };
        let (verdict, reports) = match local {
            (Local::Decided(v), reports) => {
                for (h, g) in held.iter().zip(guards.iter_mut()) {
                    if std::mem::take(&mut g.renew) {
                        self.inner
                            .meters
                            .queue_renewal(&h.part.subject, &h.part.rules);
                    }
                }
                (v, reports)
            }
            (Local::NeedsDatabase, _) if !io => return Ok(None),
            (Local::NeedsDatabase, _) => {
                self.settle_in_db(&held, &mut guards, now_ms, req.cost, req.dry_run)?
            }
        };
        Ok(Some(Some(Metered {
            verdict,
            report: report_of(&held, req, &verdict, &reports),
        })))
    }

    /// One transaction: give the leases back, decide on the database states, lease anew.
    /// On failure every subject is left as it was.
    fn settle_in_db(
        &self,
        held: &[Held<'_>],
        guards: &mut [MutexGuard<'_, Subject>],
        now_ms: u64,
        cost: u64,
        dry_run: bool,
    ) -> Result<(Verdict, Vec<Report>), Error> {
        let policy = self.inner.lease_policy();
        let parts: Vec<PartJob> = held
            .iter()
            .zip(guards.iter())
            .map(|(h, g)| PartJob {
                subject: h.part.subject.clone(),
                state: (**g).clone(),
                rules: Arc::clone(&h.part.rules),
                applied: h.applied.iter().map(Option::is_some).collect(),
                credits: h.part.rules.credits.is_some(),
            })
            .collect();
        // The guards stay held: no one else changes these subjects until the batch that
        // settles them has committed and their new states are written back.
        let out =
            self.inner
                .settles
                .submit(&self.inner.pool, policy, parts, now_ms, cost, dry_run)?;
        for (g, state) in guards.iter_mut().zip(out.states) {
            **g = state;
        }
        Ok((out.verdict, out.reports))
    }

    /// The credit balance of `subject` under `rules` as this instance sees it (the
    /// database's plus what this instance holds), refills applied; `None` without credits.
    pub(super) fn balance_of(&self, subject: &str, rules: &KeyMeter) -> Result<Option<u64>, Error> {
        let Some(credits) = rules.credits else {
            return Ok(None);
        };
        let now_ms = self.inner.config.clock.now_ms();
        // A read: no transaction (on SQLite `begin` would take the write lock).
        let db = store::read_balance(&mut *self.inner.pool.get()?, subject)?;
        let held = self
            .inner
            .meters
            .subject(subject)
            .lock()
            .map_err(|_| poisoned())?
            .credits
            .as_ref()
            .map_or(0, |c| c.lease);
        let mut state = db.unwrap_or(CreditState {
            remaining: 0,
            refilled_at_ms: now_ms,
        });
        state.remaining = state.remaining.saturating_add(held);
        Ok(Some(credits.advance(&state, now_ms).remaining))
    }

    /// The credit balance of a key (see [`Registry::owner_meter`] for an owner's); `None`
    /// when the key has no credits.
    pub fn credit_balance(&self, account: &str, id: &str) -> Result<Option<u64>, Error> {
        let record = self.get(account, id)?;
        match KeyMeter::of(id, &record.limits, record.credits.as_ref())? {
            Some(rules) => self.balance_of(id, &rules),
            None => Ok(None),
        }
    }

    /// Gives every lease this instance holds back to the database (at close), up to
    /// [`MAX_BATCH`] subjects per transaction. A subject whose rules are gone (a deleted
    /// key or owner rule) or whose transaction failed keeps its lease: the windows expire
    /// on their own, and the credits stay with the database's balance less the lease.
    pub(super) fn give_back_leases(&self) {
        let mut held = Vec::new();
        for (subject, state) in self.inner.meters.all() {
            let holds = state.lock().is_ok_and(|g| {
                g.windows
                    .iter()
                    .any(|(_, w)| w.lease > 0 || w.ahead > 0 || !w.returns.is_empty())
                    || g.credits.as_ref().is_some_and(|c| c.lease > 0)
            });
            if !holds {
                continue;
            }
            if let Ok(Some(part)) = self.part_of_subject(&subject) {
                held.push((part, state));
            }
        }
        for chunk in held.chunks(MAX_BATCH) {
            let mut locked = Vec::with_capacity(chunk.len());
            for (part, state) in chunk {
                let Ok(mut g) = state.lock() else { continue };
                reconcile(&mut g, &part.rules);
                locked.push((part.subject.as_str(), &part.rules, g));
            }
            settle_locked(&self.inner, &mut locked, Leases::GiveBack);
        }
    }

    /// The rules of a subject id of this instance's map (a key id or an owner subject).
    fn part_of_subject(&self, subject: &str) -> Result<Option<Part>, Error> {
        if let Some(part) = self.owner_part_of_subject(subject)? {
            return Ok(Some(part));
        }
        let Some(Some(entry)) = self.entry(subject, self.now(), true)? else {
            return Ok(None);
        };
        Ok(entry.meter().map(|rules| Part {
            scope: Scope::Key,
            subject: subject.to_owned(),
            rules: Arc::clone(rules),
        }))
    }
}

fn subjects_of<'a, 'g>(
    held: &'a [Held<'a>],
    guards: &'a mut [MutexGuard<'g, Subject>],
) -> Vec<(&'a mut Subject, SubjectRules<'a>)> {
    held.iter()
        .zip(guards.iter_mut())
        .map(|(h, g)| {
            (
                &mut **g,
                SubjectRules {
                    limits: &h.applied,
                    credits: h.part.rules.credits.as_ref(),
                },
            )
        })
        .collect()
}

fn unknown_limit() -> Error {
    reg(
        ErrorCode::InvalidArgument,
        "limits names a limit neither the key nor its owner has",
    )
}

/// The limits of `rules` this request applies (all, or the named ones), aligned with
/// `rules.limits`.
fn applied_limits<'r>(rules: &'r KeyMeter, req: &MeterRequest) -> Vec<Option<&'r RateLimit>> {
    rules
        .limits
        .iter()
        .map(|(k, l)| match &req.limits {
            None => Some(l),
            Some(names) => names.contains(k).then_some(l),
        })
        .collect()
}

/// Renews the leases of the subjects queued by requests that rolled into a window on
/// units leased ahead (see [`crate::meter::lease`]): one transaction per [`MAX_BATCH`]
/// subjects gives their leases back and takes new ones, the next window's included, so
/// the request after the next roll is decided from memory too. Run by the background
/// thread. A subject a request holds is queued again for the next run; one whose rules
/// changed, or that must read the database anyway, is left to its next request, as is
/// every subject of a batch that fails.
pub(super) fn renew_leases(inner: &Inner) {
    let mut queued = inner.meters.take_renewals();
    if queued.is_empty() {
        return;
    }
    queued.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    queued.dedup_by(|a, b| a.0 == b.0);
    let mut busy = Vec::new();
    for chunk in queued.chunks(MAX_BATCH) {
        let mut locked = Vec::with_capacity(chunk.len());
        for (subject, rules) in chunk {
            // Never waits for a subject: a request waiting for this batch's subjects
            // while holding another would otherwise be a cycle.
            let g = match rules.state(&inner.meters, subject).try_lock() {
                Ok(g) => g,
                Err(std::sync::TryLockError::WouldBlock) => {
                    busy.push((subject.clone(), Arc::clone(rules)));
                    continue;
                }
                Err(std::sync::TryLockError::Poisoned(_)) => continue,
            };
            if !g.synced || !in_step(&g, rules) {
                continue;
            }
            locked.push((subject.as_str(), rules, g));
        }
        settle_locked(inner, &mut locked, Leases::Renew);
    }
    for (subject, rules) in busy {
        inner.meters.queue_renewal(&subject, &rules);
    }
}

/// Settles the subjects `locked` holds the locks of (id, rules, lock) now, and writes
/// their new states back; on failure they stay as they were.
fn settle_locked(
    inner: &Inner,
    locked: &mut [(&str, &Arc<KeyMeter>, MutexGuard<'_, Subject>)],
    leases: Leases,
) {
    if locked.is_empty() {
        return;
    }
    let subjects = locked
        .iter()
        .map(|(subject, rules, g)| ((*subject).to_owned(), (**g).clone(), Arc::clone(rules)))
        .collect();
    let now_ms = inner.config.clock.now_ms();
    let policy = inner.lease_policy();
    if let Ok(states) = batch::settle_now(&inner.pool, policy, subjects, now_ms, leases) {
        for ((_, _, g), state) in locked.iter_mut().zip(states) {
            **g = state;
        }
    }
}

/// Whether the subject's windows line up with the rules (by name and window) and it has
/// credits exactly when the rules do.
fn in_step(s: &Subject, rules: &KeyMeter) -> bool {
    windows_in_step(s, rules) && rules.credits.is_some() == s.credits.is_some()
}

fn windows_in_step(s: &Subject, rules: &KeyMeter) -> bool {
    s.windows.len() == rules.limits.len()
        && s.windows
            .iter()
            .zip(&rules.limits)
            .all(|((n, w), (m, l))| n == m && w.window_ms == l.window_ms())
}

/// Lines the subject's windows up with the rules (by name and window); a new or changed
/// limit makes the next request read the database.
fn reconcile(s: &mut Subject, rules: &KeyMeter) {
    if !windows_in_step(s, rules) {
        let old = std::mem::take(&mut s.windows);
        s.windows = rules
            .limits
            .iter()
            .map(|(name, l)| {
                let kept = old
                    .iter()
                    .find(|(n, w)| n == name && w.window_ms == l.window_ms())
                    .map(|(_, w)| w.clone());
                (
                    name.clone(),
                    kept.unwrap_or(WindowLease {
                        window_ms: l.window_ms(),
                        ..WindowLease::default()
                    }),
                )
            })
            .collect();
        s.synced = false;
    }
    if rules.credits.is_some() != s.credits.is_some() {
        s.credits = rules.credits.map(|_| CreditLease::default());
        s.synced = false;
    }
}

fn report_of(
    held: &[Held<'_>],
    req: &MeterRequest,
    verdict: &Verdict,
    reports: &[Report],
) -> MeterReport {
    // `reports` lists every part's applied limits (parts in order), then every part's
    // credits.
    let mut limits = Vec::new();
    let mut credits = None;
    let mut owner_credits = None;
    let mut it = reports.iter();
    for h in held {
        for (name, l) in h
            .part
            .rules
            .limits
            .iter()
            .zip(&h.applied)
            .filter(|(_, a)| a.is_some())
            .map(|((n, l), _)| (n, l))
        {
            if let Some(Report::Limit(d)) = it.next() {
                limits.push(LimitReport {
                    name: name.clone(),
                    scope: h.part.scope,
                    allowed: d.allowed,
                    limit: d.limit,
                    window_ms: l.window_ms(),
                    remaining: d.remaining,
                    reset_ms: d.reset_ms,
                });
            }
        }
    }
    for h in held {
        if h.part.rules.credits.is_some()
            && let Some(Report::Credits(d)) = it.next()
        {
            let c = CreditReport {
                allowed: d.allowed,
                remaining: d.remaining,
                refill_at_ms: d.refill_at_ms,
            };
            match h.part.scope {
                Scope::Key => credits = Some(c),
                Scope::Owner => owner_credits = Some(c),
            }
        }
    }
    MeterReport {
        cost: req.cost,
        dry_run: req.dry_run,
        limits,
        credits,
        owner_credits,
        retry_after_ms: verdict.retry_after_ms,
    }
}
