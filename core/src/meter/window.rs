//! A sliding-window rate limit: at most `limit` units of cost per `window_ms`, estimated
//! from two fixed windows (the current one and a share of the previous one).
//!
//! **State.** [`WindowState`] is three integers: the start of the current fixed window
//! (a multiple of `window_ms` since the Unix epoch), the cost admitted in it, and the
//! cost admitted in the window before it.
//!
//! **The rule.** At `now`, `elapsed = now - start`, and the cost counted against the limit is
//! `current + ceil(previous * (window_ms - elapsed) / window_ms)`: the previous window's
//! cost fades out linearly over the current window. A request of cost `c` is allowed when
//! `c <= limit` and `counted + c <= limit`; a cost above the limit is refused, not clamped.
//! The arithmetic is exact integer arithmetic (no floats), so every runtime answers the
//! same, and a check neither allocates nor fails.
//!
//! **Precision.** Within each fixed window no more than `limit` is ever admitted. Over a
//! sliding interval of `window_ms` the estimate assumes the previous window's cost was
//! spread evenly: with even traffic it admits exactly `limit`; traffic bunched at the end
//! of a window can get up to `2 * limit - 1` through in the worst case, never more.
//!
//! **Time.** A `now` earlier than the state's window start (another instance's clock, a
//! clock step back) is treated as the window start: time never runs backwards for a state.

use crate::error::{Error, Result};

/// The largest limit, cost or credit amount: 2^53 - 1, so every value is exact in
/// JavaScript numbers and JSON.
pub const MAX_AMOUNT: u64 = (1 << 53) - 1;

/// The longest window: 366 days in milliseconds.
pub const MAX_WINDOW_MS: u64 = 366 * 86_400_000;

/// A limit of `limit` units of cost per `window_ms` milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RateLimit {
    limit: u64,
    window_ms: u64,
    /// Where this limit's windows start within `window_ms` (0 = at multiples of it).
    phase_ms: u64,
}

/// The counters of one [`RateLimit`] for one subject. `Default` is a fresh subject.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct WindowState {
    /// Start (Unix ms) of the current fixed window; a multiple of the window length.
    pub start_ms: u64,
    /// Cost admitted in the previous window.
    pub previous: u64,
    /// Cost admitted in the current window.
    pub current: u64,
}

/// What a check answers for one limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitDecision {
    /// True when the cost fits.
    pub allowed: bool,
    /// The configured limit.
    pub limit: u64,
    /// Cost still allowed after this request (when allowed) or now (when refused).
    pub remaining: u64,
    /// Unix ms at which the current fixed window ends (its cost starts to fade).
    pub reset_ms: u64,
    /// `Some(0)` when allowed; when refused, `Some(ms)` after which the same cost would
    /// pass if nothing else is spent, or `None` when it never can (cost above the limit).
    pub retry_after_ms: Option<u64>,
}

impl RateLimit {
    /// A limit of `limit` (0..=2^53-1; 0 refuses every cost above 0) per `window_ms`
    /// (1 ms to 366 days).
    pub fn new(limit: u64, window_ms: u64) -> Result<RateLimit> {
        if limit > MAX_AMOUNT {
            return Err(Error::InvalidConfig {
                setting: "limit",
                expected: "an integer from 0 to 2^53-1",
            });
        }
        if window_ms == 0 || window_ms > MAX_WINDOW_MS {
            return Err(Error::InvalidConfig {
                setting: "window_ms",
                expected: "an integer from 1 to 31622400000 (366 days)",
            });
        }
        Ok(RateLimit {
            limit,
            window_ms,
            phase_ms: 0,
        })
    }

    /// The limit.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The window length in milliseconds.
    pub fn window_ms(&self) -> u64 {
        self.window_ms
    }

    /// This limit with its windows starting `phase_ms` (taken modulo the window) after
    /// the multiples of `window_ms`. Defaults to 0. A server metering many keys gives
    /// each its own phase, so their windows do not all roll over at the same instant.
    pub fn with_phase(mut self, phase_ms: u64) -> RateLimit {
        self.phase_ms = phase_ms % self.window_ms;
        self
    }

    /// The phase (see [`RateLimit::with_phase`]).
    pub fn phase_ms(&self) -> u64 {
        self.phase_ms
    }

    /// The start of the window that holds `now`.
    fn window_start(&self, now_ms: u64) -> u64 {
        match now_ms.checked_sub(self.phase_ms) {
            Some(since) => now_ms - since % self.window_ms,
            // Before the first window of the grid (only near the epoch): a window of
            // its own, at 0.
            None => 0,
        }
    }

    /// Whether `start` is a window start of this limit's grid (its windows of
    /// `window_ms` from `phase_ms`): a state whose start is not was counted under another
    /// window length or phase.
    pub fn is_window_start(&self, start: u64) -> bool {
        match start.checked_sub(self.phase_ms) {
            Some(since) => since.is_multiple_of(self.window_ms),
            None => start == 0,
        }
    }

    /// `state` moved forward to the fixed window that holds `now`, and the `now` used.
    ///
    /// A state off this limit's grid (its start is not a window start of this limit: it
    /// was counted under another window length or phase) says nothing about this limit
    /// and counts as empty.
    pub fn advance(&self, state: &WindowState, now_ms: u64) -> (WindowState, u64) {
        let w = self.window_ms;
        let start = self.window_start(now_ms);
        if !self.is_window_start(state.start_ms) {
            let fresh = WindowState {
                start_ms: start,
                previous: 0,
                current: 0,
            };
            return (fresh, now_ms);
        }
        if now_ms < state.start_ms {
            return (*state, state.start_ms);
        }
        let next = if start == state.start_ms {
            *state
        } else if start.checked_sub(state.start_ms) == Some(w) {
            WindowState {
                start_ms: start,
                previous: state.current,
                current: 0,
            }
        } else {
            WindowState {
                start_ms: start,
                previous: 0,
                current: 0,
            }
        };
        (next, now_ms)
    }

    /// The cost counted against the limit at `now` (already advanced).
    fn counted(&self, s: &WindowState, now_ms: u64) -> u64 {
        let w = u128::from(self.window_ms);
        let left = w - u128::from(now_ms - s.start_ms); // 1..=w
        let faded = (u128::from(s.previous) * left).div_ceil(w) as u64;
        s.current.saturating_add(faded)
    }

    /// What spending `cost` at `now` would answer, without changing anything.
    pub fn check(&self, state: &WindowState, now_ms: u64, cost: u64) -> LimitDecision {
        let (s, now) = self.advance(state, now_ms);
        self.decide(&s, now, cost)
    }

    /// Spends `cost` at `now` when it fits; a refused cost changes nothing. Returns the
    /// same answer as [`check`](Self::check).
    pub fn spend(&self, state: &mut WindowState, now_ms: u64, cost: u64) -> LimitDecision {
        let (mut s, now) = self.advance(state, now_ms);
        let d = self.decide(&s, now, cost);
        if d.allowed {
            s.current = s.current.saturating_add(cost);
            *state = s;
        }
        d
    }

    fn decide(&self, s: &WindowState, now: u64, cost: u64) -> LimitDecision {
        let counted = self.counted(s, now);
        let room = self.limit.saturating_sub(counted);
        let allowed = cost <= room;
        LimitDecision {
            allowed,
            limit: self.limit,
            remaining: if allowed { room - cost } else { room },
            reset_ms: s.start_ms.saturating_add(self.window_ms),
            retry_after_ms: if allowed {
                Some(0)
            } else {
                self.retry_after(s, now, cost)
            },
        }
    }

    /// The wait after which `cost` fits if nothing else is spent, or `None` when it never
    /// fits.
    fn retry_after(&self, s: &WindowState, now: u64, cost: u64) -> Option<u64> {
        if cost > self.limit {
            return None;
        }
        let w = self.window_ms;
        // In the current window the faded share of `previous` must drop to `room`;
        // otherwise in the next one, where `current` becomes the fading share.
        let (start, fading, room) = if s.current + cost <= self.limit {
            (s.start_ms, s.previous, self.limit - s.current - cost)
        } else {
            (s.start_ms + w, s.current, self.limit - cost)
        };
        // ceil(fading * (w - e) / w) <= room  <=>  e >= w - floor(room * w / fading).
        let e = if fading == 0 {
            0
        } else {
            let keep = (u128::from(room) * u128::from(w) / u128::from(fading)).min(u128::from(w));
            w - keep as u64
        };
        Some((start + e).saturating_sub(now))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_cut_at_the_limit_and_the_answer_counts_down() {
        let l = RateLimit::new(5, 60_000).unwrap();
        let mut s = WindowState::default();
        let now = 1_700_000_000_000;
        for left in (0..5).rev() {
            let d = l.spend(&mut s, now, 1);
            assert!(d.allowed);
            assert_eq!(d.remaining, left);
        }
        let d = l.spend(&mut s, now, 1);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert_eq!(s.current, 5);
    }

    #[test]
    fn retry_after_is_the_first_moment_the_cost_fits() {
        let l = RateLimit::new(10, 1_000).unwrap();
        for (prev, cur, cost, at) in [
            (10, 0, 1, 0),
            (7, 3, 2, 200),
            (10, 10, 3, 999),
            (4, 6, 4, 500),
        ] {
            let mut s = WindowState {
                start_ms: 5_000,
                previous: prev,
                current: cur,
            };
            let now = 5_000 + at;
            let d = l.check(&s, now, cost);
            if d.allowed {
                continue;
            }
            let wait = d.retry_after_ms.unwrap();
            assert!(wait > 0);
            assert!(
                l.check(&s, now + wait, cost).allowed,
                "{prev} {cur} {cost} {at}"
            );
            assert!(
                !l.check(&s, now + wait - 1, cost).allowed,
                "{prev} {cur} {cost} {at}"
            );
            assert!(l.spend(&mut s, now + wait, cost).allowed);
        }
    }

    #[test]
    fn no_fixed_window_ever_admits_more_than_the_limit() {
        let l = RateLimit::new(7, 100).unwrap();
        let mut s = WindowState::default();
        let mut per_window = [0u64; 40];
        for t in 0..4_000u64 {
            if l.spend(&mut s, t, 1 + t % 3).allowed {
                per_window[(t / 100) as usize] += 1 + t % 3;
            }
        }
        assert!(per_window.iter().all(|&n| n <= 7), "{per_window:?}");
        assert!(per_window.iter().filter(|&&n| n >= 5).count() > 30);
    }

    #[test]
    fn cost_above_the_limit_is_refused_never_clamped() {
        let l = RateLimit::new(3, 1_000).unwrap();
        let mut s = WindowState::default();
        let d = l.spend(&mut s, 10, 4);
        assert!(!d.allowed);
        assert_eq!(d.retry_after_ms, None);
        assert_eq!(s, WindowState::default());
        let zero = RateLimit::new(0, 1_000).unwrap();
        assert!(!zero.check(&s, 10, 1).allowed);
        assert!(zero.check(&s, 10, 0).allowed);
    }

    #[test]
    fn time_never_runs_backwards_for_a_state() {
        let l = RateLimit::new(2, 1_000).unwrap();
        let mut s = WindowState::default();
        assert!(l.spend(&mut s, 5_500, 2).allowed);
        // An instance whose clock is behind sees the same window, not a fresh one.
        assert!(!l.spend(&mut s, 4_000, 1).allowed);
        assert_eq!(s.start_ms, 5_000);
    }

    #[test]
    fn a_phase_moves_the_windows_and_resets_states_of_another_phase() {
        let l = RateLimit::new(2, 1_000).unwrap().with_phase(1_250);
        assert_eq!(l.phase_ms(), 250);
        let mut s = WindowState::default();
        assert!(l.spend(&mut s, 10_100, 2).allowed);
        assert_eq!(s.start_ms, 9_250);
        assert_eq!(l.check(&s, 10_100, 1).reset_ms, 10_250);
        // At 10,250 the window rolls: the two spent fade out over the next second.
        assert!(!l.check(&s, 10_249, 1).allowed);
        assert!(l.check(&s, 10_750, 1).allowed);
        // A state counted on the unphased grid says nothing here.
        let other = WindowState {
            start_ms: 10_000,
            previous: 0,
            current: 2,
        };
        assert!(l.check(&other, 10_100, 2).allowed);
    }

    #[test]
    fn any_state_at_any_time_answers_without_panicking() {
        // States from other window lengths, clocks far behind or ahead, huge counters.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let l = RateLimit::new(next() % 1_000, 1 + next() % 100_000).unwrap();
            let mut s = WindowState {
                start_ms: next() % 4_000_000_000_000,
                previous: next() % (MAX_AMOUNT + 2),
                current: next() % (MAX_AMOUNT + 2),
            };
            let now = next() % 4_000_000_000_000;
            let d = l.check(&s, now, next() % 2_000);
            assert!(d.allowed || d.retry_after_ms != Some(0));
            l.spend(&mut s, now, next() % 5);
        }
    }

    #[test]
    fn configuration_out_of_range_is_invalid_config() {
        for (limit, w) in [(1, 0), (1, MAX_WINDOW_MS + 1), (MAX_AMOUNT + 1, 1)] {
            assert_eq!(
                RateLimit::new(limit, w).unwrap_err().code(),
                "invalid_config"
            );
        }
    }
}
