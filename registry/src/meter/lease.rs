//! One instance's side of a metered subject: its exact view of each counter and the
//! share of the budget it holds (its lease), and the two ways a request is decided:
//! from memory ([`Local`]) or in a database transaction ([`settle`]).
//!
//! For a limit the database holds the core's `WindowState` counting every instance's
//! leases as spent; this instance's `view` is that state minus its own unused lease, so
//! on one instance the view is the exact state and every answer is the core's. For
//! credits the database holds the balance less every lease; the view adds this
//! instance's lease back.
//!
//! **Leasing ahead.** A limit's lease is taken in two parts: units of the current window
//! and units of the next one (`ahead`). The database counts the units leased ahead
//! against the current window's room and, when the window rolls, as the next window's
//! spend ([`advance_row`]). So the current window's spend plus everything leased ahead
//! stays within the limit: the core's rule at the first moment of the next window, where
//! the previous window counts in full. Every unit admitted from either part was room
//! under the core's rule, whichever instance admits it. When this instance's view rolls
//! into the next window, the units leased ahead become its lease there: the key's first
//! requests after the roll are decided from memory, and [`Subject::renew`] asks the
//! background thread to take the next window's units (see `crate::registry::metering`).

use keyseal::meter::{
    CreditSlot, CreditState, Credits, LimitSlot, RateLimit, Verdict, WindowState, spend_all,
};

use super::store::WindowRow;

/// One limit of a subject on this instance.
#[derive(Clone, Debug, Default)]
pub(crate) struct WindowLease {
    /// The limit's window, to notice a changed rule.
    pub(crate) window_ms: u64,
    /// The database state less this instance's unused lease, plus what other instances
    /// leased ahead (counted as spent in this window, see the module's doc).
    pub(crate) view: WindowState,
    /// Units this instance holds, spent in the database in window `view.start_ms`.
    pub(crate) lease: u64,
    /// Units of the window after `view.start_ms`'s this instance holds (leased ahead).
    pub(crate) ahead: u64,
    /// Leases of past windows not yet given back: `(window start, units)`.
    pub(crate) returns: Vec<(u64, u64)>,
}

/// The credits of a subject on this instance.
#[derive(Clone, Debug, Default)]
pub(crate) struct CreditLease {
    /// The database balance plus this instance's unused lease (refills as of the last
    /// transaction).
    pub(crate) view: CreditState,
    /// Credits this instance holds, already taken from the database balance.
    pub(crate) lease: u64,
    /// The balance's epoch when the lease was taken: a balance set since (a higher
    /// epoch) is not topped up with it.
    pub(crate) epoch: u64,
    /// Credits spent on this instance since `since_ms` (the last transaction): the
    /// recent rate that sizes the next lease.
    pub(crate) spent: u64,
    pub(crate) since_ms: u64,
}

/// The least credits leased at once (when the balance allows): a key's first lease.
pub(crate) const MIN_CREDIT_LEASE: u64 = 100;

/// A credit lease covers about this long of the key's recent spending (ms): what a
/// crash of the instance can lose.
pub(crate) const CREDIT_LEASE_HORIZON_MS: u64 = 1_000;

impl CreditLease {
    /// The credits to lease after spending `cost` now from a balance of `remaining`: about
    /// [`CREDIT_LEASE_HORIZON_MS`] of the recent rate, at least [`MIN_CREDIT_LEASE`] and
    /// the cost, at most 1/16 of the balance (but the cost) and `max`.
    fn grant(&self, now_ms: u64, cost: u64, remaining: u64, max: u64) -> u64 {
        let elapsed = now_ms.saturating_sub(self.since_ms).max(1);
        let recent = u64::try_from(
            u128::from(self.spent.saturating_add(cost)) * u128::from(CREDIT_LEASE_HORIZON_MS)
                / u128::from(elapsed),
        )
        .unwrap_or(u64::MAX);
        recent
            .max(MIN_CREDIT_LEASE)
            .min(remaining / 16)
            .min(max)
            .max(cost)
            .min(remaining)
    }
}

/// A subject's meters on this instance. `synced` is false until it was read from the
/// database, and again when another writer changed it (credits added, rules changed).
#[derive(Clone, Debug, Default)]
pub(crate) struct Subject {
    pub(crate) windows: Vec<(String, WindowLease)>,
    pub(crate) credits: Option<CreditLease>,
    pub(crate) synced: bool,
    /// When the last transaction read the database (Unix ms).
    pub(crate) synced_at_ms: u64,
    /// A window rolled onto the units leased ahead: the next window's units should be
    /// leased now, off the request path. Cleared by the next transaction.
    pub(crate) renew: bool,
}

/// How long a refusal from memory is trusted (ms): after that a refused request reads the
/// database once more, so leases other instances gave back, or credits added through
/// them, are seen within this bound.
pub(crate) const TRUST_REFUSAL_MS: u64 = 1_000;

/// What memory alone can say about a request.
pub(crate) enum Local {
    /// Every meter is covered by this instance's leases (or the request is refused by
    /// the exact view): the verdict, spent from the leases unless a dry run.
    Decided(Verdict),
    /// A lease is short, a window rolled, a refill is due, or the subject was never
    /// read: the request needs [`settle`].
    NeedsDatabase,
}

impl WindowLease {
    /// Moves the view to `now`'s window. A lease of a past window becomes a return; the
    /// units leased ahead become the lease when `now` is in the very next window (true
    /// is returned then), else a return too.
    fn roll(&mut self, limit: &RateLimit, now_ms: u64) -> bool {
        let (next, _) = limit.advance(&self.view, now_ms);
        let old = self.view.start_ms;
        self.view = next;
        if next.start_ms == old {
            return false;
        }
        let lease = std::mem::take(&mut self.lease);
        let ahead = std::mem::take(&mut self.ahead);
        let ahead_start = old.saturating_add(limit.window_ms());
        if lease > 0 {
            self.returns.push((old, lease));
        }
        if ahead == 0 {
            return false;
        }
        if next.start_ms == ahead_start {
            self.lease = ahead;
            return true;
        }
        self.returns.push((ahead_start, ahead));
        false
    }

    /// Gives back `units` this instance leased in the window starting at `start` to
    /// `row` (already moved to now's window): the current window's, the previous one's
    /// or the next one's (leased ahead); units of older windows no longer count.
    fn give_back(row: &mut WindowRow, limit: &RateLimit, start: u64, units: u64) {
        let s = row.state.start_ms;
        let w = limit.window_ms();
        if start == s {
            row.state.current = row.state.current.saturating_sub(units);
        } else if start.saturating_add(w) == s {
            row.state.previous = row.state.previous.saturating_sub(units);
        } else if start == s.saturating_add(w) {
            row.ahead = row.ahead.saturating_sub(units);
        }
    }
}

/// A limit's database row moved to `now`'s window: when the window after the row's has
/// begun, the units leased ahead become that window's `current` (the core's `advance`
/// then moves it on like any state). A row off the limit's grid (counted under another
/// window) starts empty, units leased ahead included.
pub(crate) fn advance_row(limit: &RateLimit, row: &WindowRow, now_ms: u64) -> WindowRow {
    let next_start = row.state.start_ms.saturating_add(limit.window_ms());
    let mut state = row.state;
    let mut ahead = row.ahead;
    if limit.is_window_start(state.start_ms) && ahead > 0 && now_ms >= next_start {
        state = WindowState {
            start_ms: next_start,
            previous: state.current,
            current: ahead,
        };
        ahead = 0;
    }
    let (moved, _) = limit.advance(&state, now_ms);
    WindowRow {
        ahead: if moved == state { ahead } else { 0 },
        state: moved,
    }
}

/// The rules of one subject, aligned with its [`Subject::windows`]: `None` for a limit
/// this request does not apply.
pub(crate) struct SubjectRules<'a> {
    pub(crate) limits: &'a [Option<&'a RateLimit>],
    pub(crate) credits: Option<&'a Credits>,
}

/// Decides from memory when the leases cover every meter; refuses when the exact view
/// refuses (on one instance the view is the truth; with several, others' leases only make
/// the truth stricter).
pub(crate) fn decide_local(
    subjects: &mut [(&mut Subject, SubjectRules<'_>)],
    now_ms: u64,
    cost: u64,
    dry_run: bool,
) -> (Local, Vec<Report>) {
    let mut covered = true;
    let mut fresh = true;
    for (s, rules) in subjects.iter_mut() {
        if !s.synced {
            return (Local::NeedsDatabase, Vec::new());
        }
        fresh &= now_ms.saturating_sub(s.synced_at_ms) <= TRUST_REFUSAL_MS;
        for ((_, w), limit) in applied(&mut s.windows, rules.limits) {
            s.renew |= w.roll(limit, now_ms);
            covered &= w.lease >= cost;
        }
        if let (Some(c), Some(rule)) = (s.credits.as_ref(), rules.credits) {
            // A due refill is applied in the database first (the cap depends on the
            // balance at the refill), so it always needs a transaction.
            let refill_due = rule
                .refill()
                .is_some_and(|r| r.next_after(c.view.refilled_at_ms) <= now_ms);
            covered &= c.lease >= cost && !refill_due;
        }
    }
    // The core's answer on the views: exact on one instance.
    let (verdict, reports) = run_core(subjects, now_ms, cost, true);
    if !verdict.allowed {
        if !fresh {
            return (Local::NeedsDatabase, Vec::new());
        }
        return (Local::Decided(verdict), reports);
    }
    if !covered {
        return (Local::NeedsDatabase, Vec::new());
    }
    if !dry_run {
        for (s, rules) in subjects.iter_mut() {
            for ((_, w), _) in applied(&mut s.windows, rules.limits) {
                w.view.current = w.view.current.saturating_add(cost);
                w.lease -= cost;
            }
            if let Some(c) = s.credits.as_mut() {
                c.view.remaining -= cost;
                c.lease -= cost;
                c.spent = c.spent.saturating_add(cost);
            }
        }
    }
    (Local::Decided(verdict), reports)
}

/// One meter's answer, in subject order: limits then credits of each subject.
#[derive(Clone, Debug)]
pub(crate) enum Report {
    Limit(keyseal::meter::LimitDecision),
    Credits(keyseal::meter::CreditDecision),
}

/// Runs the core's `spend_all` over the views (never spending: `check_only`) or over
/// database states.
fn run_core(
    subjects: &mut [(&mut Subject, SubjectRules<'_>)],
    now_ms: u64,
    cost: u64,
    check_only: bool,
) -> (Verdict, Vec<Report>) {
    let mut limits: Vec<LimitSlot<'_>> = Vec::new();
    let mut credits: Vec<CreditSlot<'_>> = Vec::new();
    for (s, rules) in subjects.iter_mut() {
        for ((_, w), limit) in applied(&mut s.windows, rules.limits) {
            limits.push(LimitSlot::new(limit, &mut w.view));
        }
        if let (Some(c), Some(rule)) = (s.credits.as_mut(), rules.credits) {
            credits.push(CreditSlot::new(rule, &mut c.view));
        }
    }
    let verdict = spend_all(now_ms, cost, check_only, &mut limits, &mut credits);
    let mut reports: Vec<Report> = limits
        .iter()
        .filter_map(|s| s.decision.map(Report::Limit))
        .collect();
    reports.extend(
        credits
            .iter()
            .filter_map(|s| s.decision.map(Report::Credits)),
    );
    (verdict, reports)
}

/// A subject's database rows, locked for the transaction: one row per applied limit (in
/// order) and the credits.
pub(crate) struct Rows {
    pub(crate) windows: Vec<WindowRow>,
    pub(crate) credits: Option<CreditState>,
    /// The balance's epoch (see [`CreditLease::epoch`]).
    pub(crate) epoch: u64,
}

/// How much of what is left an instance leases at once.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LeasePolicy {
    /// The share of a limit's room taken per transaction: `room / divisor`, at least the
    /// cost, split between the current window and the next (see [`grant_window`]). 1
    /// takes all of it (one instance).
    pub(crate) limit_divisor: u64,
    /// The most credits held at once beyond the cost (bounds what a crash may lose).
    pub(crate) max_credits: u64,
}

/// Decides a request in a database transaction: gives back this instance's leases,
/// runs the core on the database states (exact), and on success takes new leases.
/// `rows` are changed in place to what the transaction writes; the subjects' views and
/// leases follow.
pub(crate) fn settle(
    subjects: &mut [(&mut Subject, SubjectRules<'_>)],
    rows: &mut [Rows],
    now_ms: u64,
    cost: u64,
    dry_run: bool,
    policy: LeasePolicy,
) -> (Verdict, Vec<Report>) {
    // 1. Give everything back: the database states become the truth without our leases.
    for ((s, rules), r) in subjects.iter_mut().zip(rows.iter_mut()) {
        for (((_, w), limit), db) in applied(&mut s.windows, rules.limits).zip(&mut r.windows) {
            // A row off this limit's grid (written under another window, by a request
            // that raced a change of the limit) starts empty: `advance_row` says so.
            let mut row = advance_row(limit, db, now_ms);
            let lease = (w.view.start_ms, std::mem::take(&mut w.lease));
            let ahead = (
                w.view.start_ms.saturating_add(limit.window_ms()),
                std::mem::take(&mut w.ahead),
            );
            for (start, units) in w.returns.drain(..).chain([lease, ahead]) {
                WindowLease::give_back(&mut row, limit, start, units);
            }
            // The view counts what other instances leased ahead as spent in this window,
            // as the room the database grants from does (none on one instance).
            *db = row;
            w.view = row.state;
            w.view.current = w.view.current.saturating_add(row.ahead);
        }
        if let (Some(rule), Some(db)) = (rules.credits, r.credits.as_mut()) {
            let c = s.credits.get_or_insert_with(CreditLease::default);
            let lease = std::mem::take(&mut c.lease);
            // A balance set after the lease was taken is the balance: the lease is void.
            if c.epoch == r.epoch {
                db.remaining = db.remaining.saturating_add(lease);
            }
            c.epoch = r.epoch;
            *db = rule.advance(db, now_ms);
            c.view = *db;
        }
        s.synced = true;
        // A renewal leaves the credits alone: their view is as old as before, and so is
        // the trust in a refusal it decides.
        if rules.credits.is_some() || s.credits.is_none() {
            s.synced_at_ms = now_ms;
        }
        s.renew = false;
    }
    // 2. The core decides on the true states, spending on the views.
    let (verdict, reports) = run_core(subjects, now_ms, cost, dry_run);
    // 3. Write back what was spent, and lease a share of what is left.
    for ((s, rules), r) in subjects.iter_mut().zip(rows.iter_mut()) {
        for (((_, w), limit), db) in applied(&mut s.windows, rules.limits).zip(&mut r.windows) {
            db.state = WindowState {
                current: w.view.current.saturating_sub(db.ahead),
                ..w.view
            };
            if verdict.allowed && !dry_run {
                let room = limit.check(&w.view, now_ms, 0).remaining;
                let (lease, ahead) = grant_window(room, cost, policy.limit_divisor);
                db.state.current = db.state.current.saturating_add(lease);
                db.ahead = db.ahead.saturating_add(ahead);
                w.lease = lease;
                w.ahead = ahead;
            }
        }
        if let (Some(c), Some(db)) = (s.credits.as_mut(), r.credits.as_mut()) {
            *db = c.view;
            if verdict.allowed && !dry_run {
                let grant = c.grant(now_ms, cost, db.remaining, policy.max_credits);
                db.remaining -= grant;
                c.lease = grant;
                c.spent = 0;
                c.since_ms = now_ms;
            }
        }
    }
    (verdict, reports)
}

/// A limit's grant from `room` after a request of `cost`: `room / divisor` (at least the
/// cost, at most the room), the cost's worth and half the rest for the current window,
/// the other half leased ahead for the next. Returns `(lease, ahead)`.
pub(crate) fn grant_window(room: u64, cost: u64, divisor: u64) -> (u64, u64) {
    let total = room.div_ceil(divisor.max(1)).max(cost).min(room);
    let ahead = total.saturating_sub(cost) / 2;
    (total - ahead, ahead)
}

/// The windows a request applies, with their limits.
fn applied<'s, 'r>(
    windows: &'s mut [(String, WindowLease)],
    limits: &'r [Option<&'r RateLimit>],
) -> impl Iterator<Item = (&'s mut (String, WindowLease), &'r RateLimit)> {
    windows
        .iter_mut()
        .zip(limits)
        .filter_map(|(w, l)| l.map(|l| (w, l)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const W: u64 = 60_000;
    const START: u64 = 1_800_000_000_000 - 1_800_000_000_000 % W;

    fn row(current: u64, ahead: u64) -> WindowRow {
        WindowRow {
            state: WindowState {
                start_ms: START,
                previous: 3,
                current,
            },
            ahead,
        }
    }

    #[test]
    fn units_leased_ahead_become_the_next_windows_spend() {
        let l = RateLimit::new(100, W).unwrap();
        // Same window: unchanged.
        assert_eq!(advance_row(&l, &row(40, 6), START + 5), row(40, 6));
        // The next window: its spend starts at what was leased ahead.
        let next = advance_row(&l, &row(40, 6), START + W + 5);
        assert_eq!(
            (
                next.state.start_ms,
                next.state.previous,
                next.state.current,
                next.ahead
            ),
            (START + W, 40, 6, 0)
        );
        // A window later, what was leased ahead is the previous window's spend.
        let later = advance_row(&l, &row(40, 6), START + 2 * W);
        assert_eq!(
            (later.state.previous, later.state.current, later.ahead),
            (6, 0, 0)
        );
        // A clock behind the row's window moves nothing.
        assert_eq!(advance_row(&l, &row(40, 6), START - 1), row(40, 6));
    }

    #[test]
    fn a_row_of_another_window_starts_empty_units_leased_ahead_included() {
        let other = RateLimit::new(100, W).unwrap().with_phase(1_000);
        let moved = advance_row(&other, &row(40, 6), START + W + 5);
        assert_eq!(
            (moved.state.previous, moved.state.current, moved.ahead),
            (0, 0, 0)
        );
    }

    #[test]
    fn a_grant_leases_half_of_what_is_beyond_the_cost_ahead() {
        // ceil(99 / 8) = 13: the cost and 6 now, 6 ahead.
        assert_eq!(grant_window(99, 1, 8), (7, 6));
        // Never more than the room, and at least the cost now.
        assert_eq!(grant_window(3, 5, 8), (3, 0));
        assert_eq!(grant_window(0, 0, 8), (0, 0));
        assert_eq!(grant_window(1_000, 0, 1), (500, 500));
        // A divisor of 0 is read as 1.
        assert_eq!(grant_window(10, 2, 0), (6, 4));
    }
}
