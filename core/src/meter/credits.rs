//! Usage credits: a balance that each request spends its cost from, with an optional
//! refill on a calendar schedule and a cap on what refills may bring the balance to.
//!
//! **Refills.** A daily refill happens at every midnight UTC; a monthly refill at midnight
//! UTC of its `day` of the month, clamped to the month's length (day 31 refills on April
//! 30 and on February 28 or 29). Each refill adds `amount`, but refills never take the
//! balance above `cap` (which defaults to `amount`, so a refill tops the balance up to
//! `amount` as a monthly quota does) and never lower it: credits added by hand above the
//! cap are kept. Refills that fell due while nobody asked are applied at the next check,
//! all of them at once, so the answer does not depend on when checks happen.
//!
//! **Spending.** A cost is spent whole or not at all: a balance smaller than the cost
//! refuses it and changes nothing. Cost 0 always passes (a way to read the balance).

use crate::error::{Error, Result};
use crate::meter::calendar;
use crate::meter::window::MAX_AMOUNT;

/// When a refill happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefillInterval {
    /// Every midnight UTC.
    Daily,
    /// Midnight UTC of this day of every month (1..=31, clamped to the month's length).
    Monthly {
        /// The day of the month.
        day: u8,
    },
}

impl RefillInterval {
    /// `"daily"`, or `"monthly"` with `day` (1..=31); a daily refill takes no day.
    pub fn from_name(name: &str, day: Option<u64>) -> Result<RefillInterval> {
        match (name, day) {
            ("daily", None) => Ok(RefillInterval::Daily),
            ("monthly", Some(day @ 1..=31)) => Ok(RefillInterval::Monthly { day: day as u8 }),
            _ => Err(Error::InvalidConfig {
                setting: "refill interval",
                expected: "\"daily\" without a day, or \"monthly\" with a day from 1 to 31",
            }),
        }
    }

    /// `"daily"` or `"monthly"`.
    pub fn name(&self) -> &'static str {
        match self {
            RefillInterval::Daily => "daily",
            RefillInterval::Monthly { .. } => "monthly",
        }
    }

    /// The day of the month of a monthly refill.
    pub fn day(&self) -> Option<u8> {
        match self {
            RefillInterval::Daily => None,
            RefillInterval::Monthly { day } => Some(*day),
        }
    }
}

/// How credits are given back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Refill {
    amount: u64,
    interval: RefillInterval,
    cap: u64,
}

impl Refill {
    /// A refill of `amount` (1..=2^53-1) per `interval`, never above `cap` (defaults to
    /// `amount`; at least `amount`).
    pub fn new(amount: u64, interval: RefillInterval, cap: Option<u64>) -> Result<Refill> {
        if amount == 0 || amount > MAX_AMOUNT {
            return Err(Error::InvalidConfig {
                setting: "refill amount",
                expected: "an integer from 1 to 2^53-1",
            });
        }
        if let RefillInterval::Monthly { day } = interval
            && !(1..=31).contains(&day)
        {
            return Err(Error::InvalidConfig {
                setting: "refill day",
                expected: "a day of the month from 1 to 31",
            });
        }
        let cap = cap.unwrap_or(amount);
        if cap < amount || cap > MAX_AMOUNT {
            return Err(Error::InvalidConfig {
                setting: "refill cap",
                expected: "an integer from the refill amount to 2^53-1",
            });
        }
        Ok(Refill {
            amount,
            interval,
            cap,
        })
    }

    /// A refill from its parts as options spell them: `amount`, the interval's name
    /// (`"daily"`, or `"monthly"` with `day`) and the optional `cap` (see
    /// [`RefillInterval::from_name`] and [`Refill::new`]).
    pub fn from_parts(
        amount: u64,
        interval: &str,
        day: Option<u64>,
        cap: Option<u64>,
    ) -> Result<Refill> {
        Refill::new(amount, RefillInterval::from_name(interval, day)?, cap)
    }

    /// Credits added per refill.
    pub fn amount(&self) -> u64 {
        self.amount
    }

    /// When refills happen.
    pub fn interval(&self) -> RefillInterval {
        self.interval
    }

    /// The balance refills stop at.
    pub fn cap(&self) -> u64 {
        self.cap
    }

    /// The number of refills due in `(after, upto]`.
    fn due(&self, after: u64, upto: u64) -> u64 {
        match self.interval {
            RefillInterval::Daily => calendar::daily_refills_between(after, upto),
            RefillInterval::Monthly { day } => calendar::monthly_refills_between(after, upto, day),
        }
    }

    /// The first refill after `now`.
    pub fn next_after(&self, now_ms: u64) -> u64 {
        match self.interval {
            RefillInterval::Daily => calendar::next_daily(now_ms),
            RefillInterval::Monthly { day } => calendar::next_monthly(now_ms, day),
        }
    }
}

/// The balance of one subject. Start it with [`CreditState::new`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CreditState {
    /// Credits left.
    pub remaining: u64,
    /// Unix ms up to which refills have been applied.
    pub refilled_at_ms: u64,
}

impl CreditState {
    /// A balance of `remaining` (0..=2^53-1) created at `now`: refills count from then.
    pub fn new(remaining: u64, now_ms: u64) -> Result<CreditState> {
        if remaining > MAX_AMOUNT {
            return Err(Error::InvalidConfig {
                setting: "remaining",
                expected: "an integer from 0 to 2^53-1",
            });
        }
        Ok(CreditState {
            remaining,
            refilled_at_ms: now_ms,
        })
    }

    /// Adds `amount` credits by hand (a purchase, a grant): not limited by the refill
    /// cap, at most 2^53-1 in all.
    pub fn add(&mut self, amount: u64) {
        self.remaining = self.remaining.saturating_add(amount).min(MAX_AMOUNT);
    }
}

/// What a spend answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreditDecision {
    /// True when the balance covered the cost.
    pub allowed: bool,
    /// Credits left after this request (when allowed) or now (when refused).
    pub remaining: u64,
    /// Unix ms of the next refill, when the credits refill.
    pub refill_at_ms: Option<u64>,
}

/// The credits rule: an optional [`Refill`] applied to a [`CreditState`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Credits {
    refill: Option<Refill>,
}

impl Credits {
    /// Credits refilled by `refill`, or never (`None`).
    pub const fn new(refill: Option<Refill>) -> Credits {
        Credits { refill }
    }

    /// The refill, if any.
    pub fn refill(&self) -> Option<Refill> {
        self.refill
    }

    /// `state` with every refill due up to `now` applied. A `now` before the last refill
    /// check changes nothing.
    pub fn advance(&self, state: &CreditState, now_ms: u64) -> CreditState {
        let Some(refill) = self.refill else {
            return *state;
        };
        if now_ms <= state.refilled_at_ms {
            return *state;
        }
        let n = refill.due(state.refilled_at_ms, now_ms);
        let topped = state
            .remaining
            .saturating_add(n.saturating_mul(refill.amount))
            .min(refill.cap);
        CreditState {
            remaining: state.remaining.max(topped),
            refilled_at_ms: now_ms,
        }
    }

    /// What spending `cost` at `now` would answer, without changing anything.
    pub fn check(&self, state: &CreditState, now_ms: u64, cost: u64) -> CreditDecision {
        self.decide(&self.advance(state, now_ms), now_ms, cost)
    }

    /// Applies due refills and spends `cost` when the balance covers it; a refused cost
    /// spends nothing (refills are still applied: they are owed either way).
    pub fn spend(&self, state: &mut CreditState, now_ms: u64, cost: u64) -> CreditDecision {
        *state = self.advance(state, now_ms);
        let d = self.decide(state, now_ms, cost);
        if d.allowed {
            state.remaining -= cost;
        }
        d
    }

    fn decide(&self, s: &CreditState, now_ms: u64, cost: u64) -> CreditDecision {
        let allowed = cost <= s.remaining;
        CreditDecision {
            allowed,
            remaining: if allowed {
                s.remaining - cost
            } else {
                s.remaining
            },
            refill_at_ms: self.refill.map(|r| r.next_after(now_ms)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::meter::calendar::{DAY_MS, days_from_civil};

    fn at(y: i64, m: u32, d: u32) -> u64 {
        days_from_civil(y, m, d) as u64 * DAY_MS
    }

    #[test]
    fn a_spend_is_whole_or_nothing() {
        let c = Credits::new(None);
        let mut s = CreditState::new(5, 0).unwrap();
        assert!(!c.spend(&mut s, 1, 6).allowed);
        assert_eq!(s.remaining, 5);
        let d = c.spend(&mut s, 1, 5);
        assert!(d.allowed);
        assert_eq!((d.remaining, d.refill_at_ms), (0, None));
        assert!(c.spend(&mut s, 2, 0).allowed);
    }

    #[test]
    fn monthly_refill_on_the_31st_lands_on_the_last_of_february_in_leap_years() {
        let r = Refill::new(100, RefillInterval::Monthly { day: 31 }, None).unwrap();
        let c = Credits::new(Some(r));
        let mut s = CreditState::new(0, at(2024, 1, 31) + 1).unwrap();
        assert_eq!(
            c.check(&s, at(2024, 2, 29) - 1, 1).refill_at_ms,
            Some(at(2024, 2, 29))
        );
        assert!(!c.spend(&mut s, at(2024, 2, 29) - 1, 1).allowed);
        let d = c.spend(&mut s, at(2024, 2, 29), 1);
        assert!(d.allowed);
        assert_eq!(d.remaining, 99);
        assert_eq!(d.refill_at_ms, Some(at(2024, 3, 31)));
        // Months pass unobserved: the balance refills to the cap, not beyond.
        assert_eq!(c.check(&s, at(2024, 12, 31), 0).remaining, 100);
    }

    #[test]
    fn refills_never_lower_a_balance_above_the_cap() {
        let r = Refill::new(10, RefillInterval::Daily, Some(15)).unwrap();
        let c = Credits::new(Some(r));
        let mut s = CreditState::new(3, 0).unwrap();
        assert_eq!(c.check(&s, DAY_MS, 0).remaining, 13);
        assert_eq!(c.check(&s, 5 * DAY_MS, 0).remaining, 15);
        s.add(100);
        assert_eq!(c.spend(&mut s, 9 * DAY_MS, 1).remaining, 102);
    }

    #[test]
    fn configuration_out_of_range_is_invalid_config() {
        let bad = [
            Refill::new(0, RefillInterval::Daily, None),
            Refill::new(5, RefillInterval::Monthly { day: 0 }, None),
            Refill::new(5, RefillInterval::Monthly { day: 32 }, None),
            Refill::new(5, RefillInterval::Daily, Some(4)),
        ];
        for r in bad {
            assert_eq!(r.unwrap_err().code(), "invalid_config");
        }
        assert!(CreditState::new(MAX_AMOUNT + 1, 0).is_err());
    }
}
