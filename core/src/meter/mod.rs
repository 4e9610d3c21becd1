//! Metering: rate limits and usage credits as pure state plus arithmetic, with `now`
//! passed in, so every runtime (and every instance of the server) answers the same.
//!
//! - [`RateLimit`] + [`WindowState`]: a sliding-window limit (see [`window`] for the rule
//!   and its precision).
//! - [`Credits`] + [`CreditState`]: a balance with an optional daily or monthly
//!   [`Refill`] (see [`credits`]).
//! - [`spend_all`]: the one rule for a request that meets several limits and balances at
//!   once: every check passes or nothing is spent anywhere.
//! - [`Meter`]: named limits and credits per subject in memory, for in-process metering
//!   (the bindings' `Meter`).
//!
//! Nothing here allocates or fails on the check path; configuration errors
//! (`invalid_config`) come from the constructors only.

pub mod calendar;
pub mod credits;
pub mod local;
pub mod window;

pub use credits::{CreditDecision, CreditState, Credits, Refill, RefillInterval};
pub use local::{DEFAULT_MAX_SUBJECTS, Meter, MeterAnswer, MeterSpec};
pub use window::{LimitDecision, MAX_AMOUNT, MAX_WINDOW_MS, RateLimit, WindowState};

use crate::error::ErrorCode;

/// One limit a request meets: the rule, the subject's state, and after [`spend_all`] the
/// answer.
#[derive(Debug)]
pub struct LimitSlot<'a> {
    /// The rule.
    pub limit: &'a RateLimit,
    /// The subject's counters; changed only when the whole request is admitted.
    pub state: &'a mut WindowState,
    /// The answer for this limit, filled by [`spend_all`].
    pub decision: Option<LimitDecision>,
}

/// One balance a request spends from: the rule, the subject's state, and after
/// [`spend_all`] the answer.
#[derive(Debug)]
pub struct CreditSlot<'a> {
    /// The rule.
    pub credits: &'a Credits,
    /// The subject's balance; changed only when the whole request is admitted.
    pub state: &'a mut CreditState,
    /// The answer for this balance, filled by [`spend_all`].
    pub decision: Option<CreditDecision>,
}

impl<'a> LimitSlot<'a> {
    /// A slot for `limit` over `state`.
    pub fn new(limit: &'a RateLimit, state: &'a mut WindowState) -> Self {
        LimitSlot {
            limit,
            state,
            decision: None,
        }
    }
}

impl<'a> CreditSlot<'a> {
    /// A slot for `credits` over `state`.
    pub fn new(credits: &'a Credits, state: &'a mut CreditState) -> Self {
        CreditSlot {
            credits,
            state,
            decision: None,
        }
    }
}

/// The answer for a whole request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// True when every limit and every balance allowed the cost.
    pub allowed: bool,
    /// Why not: [`ErrorCode::RateLimited`] when a limit refused (limits are reported
    /// first), else [`ErrorCode::UsageExceeded`].
    pub code: Option<ErrorCode>,
    /// `Some(0)` when allowed. When refused by limits: the longest wait among the refusing
    /// limits, or `None` when one never admits the cost. When refused by credits: the wait
    /// for the next refill when a refill can cover the cost, else `None`.
    pub retry_after_ms: Option<u64>,
}

/// Checks `cost` at `now` against every limit and every balance; spends it on all of them
/// only when all allow it and `dry_run` is false. Each slot's `decision` is filled either
/// way (a dry run answers what the spend would have answered). When the request is
/// refused, each `remaining` is the room now, since nothing was spent.
pub fn spend_all(
    now_ms: u64,
    cost: u64,
    dry_run: bool,
    limits: &mut [LimitSlot<'_>],
    credits: &mut [CreditSlot<'_>],
) -> Verdict {
    let mut limited = false;
    let mut wait: Option<u64> = Some(0);
    for slot in limits.iter_mut() {
        let d = slot.limit.check(slot.state, now_ms, cost);
        if !d.allowed {
            limited = true;
            wait = match (wait, d.retry_after_ms) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
        }
        slot.decision = Some(d);
    }
    let mut exhausted = false;
    let mut refill_wait: Option<u64> = Some(0);
    for slot in credits.iter_mut() {
        let d = slot.credits.check(slot.state, now_ms, cost);
        if !d.allowed {
            exhausted = true;
            // A refill covers the cost only when the balance it reaches does.
            let reach = slot
                .credits
                .refill()
                .map(|r| r.cap().max(d.remaining))
                .unwrap_or(d.remaining);
            refill_wait = match (refill_wait, d.refill_at_ms) {
                (Some(a), Some(at)) if reach >= cost => Some(a.max(at.saturating_sub(now_ms))),
                _ => None,
            };
        }
        slot.decision = Some(d);
    }
    if limited || exhausted {
        // Nothing is spent, so the meters that had room report what they have now.
        for d in limits.iter_mut().filter_map(|s| s.decision.as_mut()) {
            if d.allowed {
                d.remaining += cost;
            }
        }
        for d in credits.iter_mut().filter_map(|s| s.decision.as_mut()) {
            if d.allowed {
                d.remaining += cost;
            }
        }
        return Verdict {
            allowed: false,
            code: Some(if limited {
                ErrorCode::RateLimited
            } else {
                ErrorCode::UsageExceeded
            }),
            retry_after_ms: if limited { wait } else { refill_wait },
        };
    }
    if !dry_run {
        for slot in limits.iter_mut() {
            slot.limit.spend(slot.state, now_ms, cost);
        }
        for slot in credits.iter_mut() {
            slot.credits.spend(slot.state, now_ms, cost);
        }
    }
    Verdict {
        allowed: true,
        code: None,
        retry_after_ms: Some(0),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_refusal_anywhere_spends_nothing_anywhere() {
        let minute = RateLimit::new(10, 60_000).unwrap();
        let second = RateLimit::new(2, 1_000).unwrap();
        let credits = Credits::new(None);
        let (mut a, mut b) = (WindowState::default(), WindowState::default());
        let mut balance = CreditState::new(3, 0).unwrap();
        let mut run = |now, cost, dry| {
            let mut limits = [
                LimitSlot::new(&minute, &mut a),
                LimitSlot::new(&second, &mut b),
            ];
            let mut cs = [CreditSlot::new(&credits, &mut balance)];
            let v = spend_all(now, cost, dry, &mut limits, &mut cs);
            (
                v,
                limits[0].decision.unwrap().remaining,
                cs[0].decision.unwrap().remaining,
            )
        };
        // A dry run answers like the spend and changes nothing.
        let (v, m, c) = run(1_000, 2, true);
        assert!(v.allowed);
        assert_eq!((m, c), (8, 1));
        let (v, _, _) = run(1_000, 2, false);
        assert!(v.allowed);
        // The per-second limit refuses: neither the minute limit nor the credits move.
        let (v, m, c) = run(1_500, 1, false);
        assert_eq!(v.code, Some(ErrorCode::RateLimited));
        // Two spent at 1.0 s fade out over the next second: one more fits at 2.5 s.
        assert_eq!(v.retry_after_ms, Some(1_000));
        assert_eq!((m, c), (8, 1));
        // Credits refuse: the limits do not move either.
        let (v, m, _) = run(3_000, 2, false);
        assert_eq!(v.code, Some(ErrorCode::UsageExceeded));
        assert_eq!(v.retry_after_ms, None);
        assert_eq!(m, 8);
        let (v, m, c) = run(3_000, 1, false);
        assert!(v.allowed);
        assert_eq!((m, c), (7, 0));
    }
}
