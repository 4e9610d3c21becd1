//! Metering a verified key (see [`crate::meter`]): from this instance's leases when they
//! cover the request, else in one transaction; reading and adding credits; giving the
//! leases back at close.

use keyseal::meter::Verdict;
use keyseal::{Error, ErrorCode};

use super::errors::reg;
use super::lifecycle::Registry;
use super::tx::with_tx;
use crate::cache::Entry;
use crate::meter::lease::{
    self, CreditLease, LeasePolicy, Local, Report, Rows, Subject, SubjectRules, WindowLease,
};
use crate::meter::{CreditReport, KeyMeter, LimitReport, MeterReport, MeterRequest, store};

/// The verdict and the report of a metered request.
pub(super) struct Metered {
    pub(super) verdict: Verdict,
    pub(super) report: MeterReport,
}

impl Registry {
    /// Meters `req` for the key of `entry` (whose verification passed). `Ok(None)` when
    /// the answer needs the database and `io` is false; `Ok(Some(None))` when the key is
    /// not metered.
    pub(super) fn meter_entry(
        &self,
        entry: &Entry,
        req: &MeterRequest,
        io: bool,
    ) -> Result<Option<Option<Metered>>, Error> {
        let Some(rules) = entry.meter() else {
            if req.limits.as_ref().is_some_and(|l| !l.is_empty()) {
                return Err(unknown_limit());
            }
            return Ok(Some(None));
        };
        let applied = applied_limits(rules, req)?;
        let subject = self.inner.meters.subject(entry.id());
        let mut s = subject.lock().map_err(|_| Error::Internal {
            detail: "a meter's lock was poisoned",
        })?;
        reconcile(&mut s, rules);
        let now_ms = self.inner.config.clock.now_ms();
        let srules = SubjectRules {
            limits: applied.clone(),
            credits: rules.credits.as_ref(),
        };
        let local = {
            let mut subjects = [(&mut *s, srules)];
            lease::decide_local(&mut subjects, now_ms, req.cost, req.dry_run)
        };
        let (verdict, reports) = match local {
            (Local::Decided(v), reports) => (v, reports),
            (Local::NeedsDatabase, _) if !io => return Ok(None),
            (Local::NeedsDatabase, _) => self.settle_in_db(
                entry.id(),
                &mut s,
                rules,
                &applied,
                now_ms,
                req.cost,
                req.dry_run,
            )?,
        };
        Ok(Some(Some(Metered {
            verdict,
            report: report_of(rules, &applied, req, &verdict, &reports),
        })))
    }

    /// One transaction: give the leases back, decide on the database states, lease anew.
    /// On failure the subject is left as it was.
    #[allow(clippy::too_many_arguments)]
    fn settle_in_db(
        &self,
        id: &str,
        s: &mut Subject,
        rules: &KeyMeter,
        applied: &[Option<&keyseal::meter::RateLimit>],
        now_ms: u64,
        cost: u64,
        dry_run: bool,
    ) -> Result<(Verdict, Vec<Report>), Error> {
        let before = s.clone();
        let names: Vec<&str> = s
            .windows
            .iter()
            .zip(applied)
            .filter(|(_, a)| a.is_some())
            .map(|((n, _), _)| n.as_str())
            .collect();
        let policy = LeasePolicy {
            limit_divisor: self.inner.config.limit_lease_divisor,
            max_credits: self.inner.config.credit_lease_max,
        };
        let names: Vec<String> = names.into_iter().map(str::to_owned).collect();
        let r = with_tx(&self.inner.pool, |conn| {
            let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
            // The balance is locked before the windows, the order a key update takes
            // them in (writes.rs: balance, then dropped windows); the other order
            // deadlocks with it on PostgreSQL.
            let credits = match rules.credits {
                None => None,
                Some(_) => {
                    store::put_balance(conn, id, None, now_ms)?;
                    store::load_balance(conn, id)?
                }
            };
            let windows = store::load_windows(conn, id, &name_refs)?;
            let mut rows = [Rows { windows, credits }];
            let out = {
                let mut subjects = [(
                    &mut *s,
                    SubjectRules {
                        limits: applied.to_vec(),
                        credits: rules.credits.as_ref(),
                    },
                )];
                lease::settle(&mut subjects, &mut rows, now_ms, cost, dry_run, policy)
            };
            store::save_windows(conn, id, &name_refs, &rows[0].windows)?;
            if let Some(c) = &rows[0].credits {
                store::save_balance(conn, id, c)?;
            }
            Ok(out)
        });
        if r.is_err() {
            *s = before;
        }
        r
    }

    /// The credit balance of a key as this instance sees it (the database's plus what this
    /// instance holds), refills applied; `None` when the key has no credits.
    pub fn credit_balance(&self, account: &str, id: &str) -> Result<Option<u64>, Error> {
        let record = self.get(account, id)?;
        let Some(rules) = KeyMeter::of(&record.limits, record.credits.as_ref())? else {
            return Ok(None);
        };
        let Some(credits) = rules.credits else {
            return Ok(None);
        };
        let now_ms = self.inner.config.clock.now_ms();
        let mut conn = self.inner.pool.get()?;
        let db = conn
            .query_one(
                "SELECT remaining, refilled_at_ms FROM meter_credits WHERE subject = ?",
                &[crate::store::Val::from(id)],
            )?
            .map(|r| keyseal::meter::CreditState {
                remaining: r
                    .first()
                    .and_then(crate::store::Val::int)
                    .unwrap_or(0)
                    .max(0) as u64,
                refilled_at_ms: r
                    .get(1)
                    .and_then(crate::store::Val::int)
                    .unwrap_or(0)
                    .max(0) as u64,
            })
            .unwrap_or_default();
        let held = self
            .inner
            .meters
            .subject(id)
            .lock()
            .ok()
            .and_then(|s| s.credits.as_ref().map(|c| c.lease))
            .unwrap_or(0);
        let mut state = db;
        state.remaining = state.remaining.saturating_add(held);
        Ok(Some(credits.advance(&state, now_ms).remaining))
    }

    /// Gives every lease this instance holds back to the database (at close).
    pub(super) fn give_back_leases(&self) {
        for (id, subject) in self.inner.meters.all() {
            let Ok(mut s) = subject.lock() else { continue };
            let holds = s
                .windows
                .iter()
                .any(|(_, w)| w.lease > 0 || !w.returns.is_empty())
                || s.credits.as_ref().is_some_and(|c| c.lease > 0);
            if !holds {
                continue;
            }
            let Ok(Some(Some(entry))) = self.entry(&id, self.now(), true) else {
                // A deleted key, or no database: the windows expire on their own, and the
                // credits stay with the database's balance less the lease.
                continue;
            };
            let Some(rules) = entry.meter() else { continue };
            let all: Vec<_> = rules.limits.iter().map(|(_, l)| Some(l)).collect();
            let now_ms = self.inner.config.clock.now_ms();
            let _ = self.settle_in_db(&id, &mut s, rules, &all, now_ms, 0, true);
        }
    }
}

fn unknown_limit() -> Error {
    reg(
        ErrorCode::InvalidArgument,
        "limits names a limit the key does not have",
    )
}

/// The key's limits this request applies, aligned with the key's limits.
fn applied_limits<'r>(
    rules: &'r KeyMeter,
    req: &MeterRequest,
) -> Result<Vec<Option<&'r keyseal::meter::RateLimit>>, Error> {
    if req.cost > keyseal::meter::MAX_AMOUNT {
        return Err(reg(
            ErrorCode::InvalidArgument,
            "cost is an integer from 0 to 2^53-1",
        ));
    }
    match &req.limits {
        None => Ok(rules.limits.iter().map(|(_, l)| Some(l)).collect()),
        Some(names) => {
            if names
                .iter()
                .any(|n| !rules.limits.iter().any(|(k, _)| k == n))
            {
                return Err(unknown_limit());
            }
            Ok(rules
                .limits
                .iter()
                .map(|(k, l)| names.contains(k).then_some(l))
                .collect())
        }
    }
}

/// Lines the subject's windows up with the key's limits (by name and window); a new or
/// changed limit makes the next request read the database.
fn reconcile(s: &mut Subject, rules: &KeyMeter) {
    let same = s.windows.len() == rules.limits.len()
        && s.windows
            .iter()
            .zip(&rules.limits)
            .all(|((n, w), (m, l))| n == m && w.window_ms == l.window_ms());
    if !same {
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
    rules: &KeyMeter,
    applied: &[Option<&keyseal::meter::RateLimit>],
    req: &MeterRequest,
    verdict: &Verdict,
    reports: &[Report],
) -> MeterReport {
    let mut limits = Vec::new();
    let mut credits = None;
    let mut names = rules
        .limits
        .iter()
        .zip(applied)
        .filter(|(_, a)| a.is_some())
        .map(|((n, l), _)| (n, l));
    for r in reports {
        match r {
            Report::Limit(d) => {
                if let Some((name, l)) = names.next() {
                    limits.push(LimitReport {
                        name: name.clone(),
                        allowed: d.allowed,
                        limit: d.limit,
                        window_ms: l.window_ms(),
                        remaining: d.remaining,
                        reset_ms: d.reset_ms,
                    });
                }
            }
            Report::Credits(d) => {
                credits = Some(CreditReport {
                    allowed: d.allowed,
                    remaining: d.remaining,
                    refill_at_ms: d.refill_at_ms,
                });
            }
        }
    }
    MeterReport {
        cost: req.cost,
        dry_run: req.dry_run,
        limits,
        credits,
        retry_after_ms: verdict.retry_after_ms,
    }
}
