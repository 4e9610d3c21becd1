//! Metering in the registry: a key's named rate limits and usage credits, checked and
//! spent atomically with its verification, exact on one instance and never over the
//! limit with several.
//!
//! # How a request is metered
//!
//! The rules are the core's (`keyseal::meter`): a sliding-window [`RateLimit`] per named
//! limit and a [`Credits`] balance, all passed or nothing spent
//! (`keyseal::meter::spend_all`). The registry adds where the state lives:
//!
//! - The database holds, per key, each limit's window counters and the credit balance
//!   (`meter_windows`, `meter_credits`).
//! - Each instance leases a share of what is left: for a limit, units of the current
//!   window's budget (counted as spent in the database when leased); for credits, a part
//!   of the balance (taken from it when leased). A request covered by the instance's
//!   leases is decided in memory, without I/O. Otherwise one database transaction gives
//!   the instance's leases back, runs the core on the true states under a row lock,
//!   spends, and takes new leases.
//! - The instance's view of each counter is the database's minus its own unused lease,
//!   so a request the view refuses is refused without I/O, and on one instance every
//!   answer is exactly the core's answer for the same sequence of requests.
//! - A limit's lease includes units of the next window, leased ahead: when a key's
//!   window rolls, its first requests are decided from them, and the background thread
//!   renews the key's leases (the next window's included) in batches, so a key in steady
//!   use is settled once a window, off the request path.
//!
//! # Guarantees
//!
//! - **Never over the limit.** Every unit admitted anywhere was counted in the database
//!   under a row lock first, so several instances together admit at most what one would.
//! - **Under-admission with several instances** is bounded by the leases the other
//!   instances hold unused: each lease of a limit, the units leased ahead included, is
//!   at most ⌈room / 8⌉ (room = what the window had left when it was taken, at least the
//!   request's cost), so with `n` instances a burst is admitted at least
//!   `limit - (n - 1) * ⌈limit / 8⌉` per window.
//!   A lease of a past window is given back at the instance's next transaction.
//! - **Credits are durable.** A credit is taken from the balance in a committed
//!   transaction before any request spends it, so no credit acknowledged as spent comes
//!   back after a crash. What a crash can lose is the instance's unused credit lease:
//!   about one second of the key's recent spending on that instance (at least 100
//!   credits), never more than 1/16 of the balance nor
//!   [`crate::RegistryConfig::credit_lease_max`] (default 100,000). A clean
//!   [`crate::Registry::close`] gives every lease back.
//! - **Counters follow the key**, not its secret: roll, update, enable/disable and
//!   restarts keep them. Changing a limit's window, or removing it, starts it empty.

pub(crate) mod batch;
pub(crate) mod lease;
pub mod spec;
pub(crate) mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use keyseal::meter::{Credits, RateLimit};
pub use spec::{CreditSpec, LimitSpec, MAX_LIMITS, RefillSpec, Rules};

use lease::Subject;

/// What a verification asks of the meters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeterRequest {
    /// Units of cost this request spends on every applied limit and on the credits.
    /// Defaults to 1.
    pub cost: u64,
    /// The names of the key's limits to apply; `None` (the default) applies all of them.
    /// A name the key does not have is `invalid_argument`.
    pub limits: Option<Vec<String>>,
    /// Answer what would happen without spending anything. Defaults to false.
    pub dry_run: bool,
}

impl Default for MeterRequest {
    fn default() -> Self {
        MeterRequest {
            cost: 1,
            limits: None,
            dry_run: false,
        }
    }
}

/// Whose limit or credits: the key's own, or its owner's (shared by every key of the
/// owner in the account).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The key's own.
    Key,
    /// The owner's.
    Owner,
}

/// One limit's answer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LimitReport {
    /// The limit's name.
    pub name: String,
    /// The key's limit or its owner's.
    pub scope: Scope,
    /// True when it had room for the cost.
    pub allowed: bool,
    /// The configured limit.
    pub limit: u64,
    /// The window in milliseconds.
    pub window_ms: u64,
    /// Cost still allowed after this request (or now, when the request was refused).
    pub remaining: u64,
    /// Unix ms at which the current fixed window ends.
    pub reset_ms: u64,
}

/// The credits' answer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CreditReport {
    /// True when the balance covered the cost.
    pub allowed: bool,
    /// Credits left after this request (or now, when refused).
    pub remaining: u64,
    /// Unix ms of the next refill, when the credits refill.
    pub refill_at_ms: Option<u64>,
}

/// What metering answered for one verification.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MeterReport {
    /// The cost that was (or would have been) spent.
    pub cost: u64,
    /// True when nothing was spent because the request asked for a dry run.
    pub dry_run: bool,
    /// Each applied limit's answer.
    pub limits: Vec<LimitReport>,
    /// The key's credits' answer, when the key has credits.
    pub credits: Option<CreditReport>,
    /// The owner's credits' answer, when the key's owner has credits.
    pub owner_credits: Option<CreditReport>,
    /// When refused: ms after which the same request can pass if nothing else is spent
    /// (`None`: never, or not known); 0 when allowed.
    pub retry_after_ms: Option<u64>,
}

/// An owner's shared limits and credits: every key of the account with this `owner`
/// spends from them as well as from its own.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OwnerMeter {
    /// The account.
    pub account: String,
    /// The owner (a key's `owner` field).
    pub owner: String,
    /// Limits shared by the owner's keys.
    pub limits: Vec<LimitSpec>,
    /// Credits shared by the owner's keys, with the balance in `remaining`.
    pub credits: Option<CreditSpec>,
    /// 0 until first set, +1 on every change.
    pub version: u64,
    /// Unix seconds of the last change.
    pub modified_at: Option<i64>,
    /// Who made the last change.
    pub modified_by: Option<crate::Actor>,
}

/// A change to an owner's limits and credits; `None` fields are unchanged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnerMeterPatch {
    /// The version read (0 for an owner never set).
    pub expected_version: u64,
    /// New limits (replaces the list).
    pub limits: Option<Vec<LimitSpec>>,
    /// New credits rule, or `Some(None)` to stop; a `remaining` sets the balance.
    pub credits: Option<Option<CreditSpec>>,
}

/// A key's parsed rules, kept with its cached record.
#[derive(Debug, Default)]
pub(crate) struct KeyMeter {
    pub(crate) limits: Vec<(String, RateLimit)>,
    pub(crate) credits: Option<Credits>,
    /// This instance's state of the subject, found in [`Meters`] once per load of the
    /// rules: the verify path then takes no lock on the map shared by every key.
    state: OnceLock<Arc<Mutex<Subject>>>,
}

impl KeyMeter {
    /// The rules of `subject` (a key id or an owner's subject id), with its phases;
    /// `None` when nothing is metered.
    pub(crate) fn of(
        subject: &str,
        limits: &[LimitSpec],
        credits: Option<&CreditSpec>,
    ) -> Result<Option<Arc<KeyMeter>>, keyseal::Error> {
        let r = spec::rules_for(subject, limits, credits)?;
        if r.is_empty() {
            return Ok(None);
        }
        Ok(Some(Arc::new(KeyMeter {
            limits: r.limits,
            credits: r.credits,
            state: OnceLock::new(),
        })))
    }

    /// This instance's state of `subject` (the one these rules were made for), from
    /// `meters` the first time.
    pub(crate) fn state(&self, meters: &Meters, subject: &str) -> &Mutex<Subject> {
        self.state.get_or_init(|| meters.subject(subject))
    }
}

/// Most subjects waiting for a renewal of their leases; beyond it a subject is not
/// queued, and its request after the next roll reads the database.
pub(crate) const MAX_RENEWALS: usize = 65_536;

/// A subject waiting for a renewal of its leases, with its rules.
pub(crate) type Renewal = (String, Arc<KeyMeter>);

/// This instance's subjects, by key id, and those waiting for a renewal.
#[derive(Default)]
pub(crate) struct Meters {
    subjects: RwLock<HashMap<String, Arc<Mutex<Subject>>>>,
    renewals: Mutex<Vec<Renewal>>,
}

impl Meters {
    /// Queues `subject` for a renewal of its leases (see
    /// `crate::registry::metering::renew_leases`), unless [`MAX_RENEWALS`] are waiting.
    pub(crate) fn queue_renewal(&self, subject: &str, rules: &Arc<KeyMeter>) {
        if let Ok(mut q) = self.renewals.lock()
            && q.len() < MAX_RENEWALS
        {
            q.push((subject.to_owned(), Arc::clone(rules)));
        }
    }

    /// The subjects waiting for a renewal, emptying the queue.
    pub(crate) fn take_renewals(&self) -> Vec<Renewal> {
        match self.renewals.lock() {
            Ok(mut q) => std::mem::take(&mut *q),
            Err(_) => Vec::new(),
        }
    }

    /// The subject of `id`, created unsynced.
    pub(crate) fn subject(&self, id: &str) -> Arc<Mutex<Subject>> {
        if let Ok(map) = self.subjects.read()
            && let Some(s) = map.get(id)
        {
            return Arc::clone(s);
        }
        match self.subjects.write() {
            Ok(mut map) => Arc::clone(map.entry(id.to_owned()).or_default()),
            Err(_) => Arc::new(Mutex::new(Subject::default())),
        }
    }

    /// Another writer changed `id`'s rules or balance: its next request reads the
    /// database (and gives this instance's leases back there).
    pub(crate) fn unsync(&self, id: &str) {
        if let Ok(map) = self.subjects.read()
            && let Some(s) = map.get(id)
            && let Ok(mut s) = s.lock()
        {
            s.synced = false;
        }
    }

    /// Every subject reads the database again (notifications may have been missed).
    pub(crate) fn unsync_all(&self) {
        for (_, s) in self.all() {
            if let Ok(mut s) = s.lock() {
                s.synced = false;
            }
        }
    }

    /// Every subject, for giving leases back at close.
    pub(crate) fn all(&self) -> Vec<(String, Arc<Mutex<Subject>>)> {
        match self.subjects.read() {
            Ok(map) => map
                .iter()
                .map(|(k, v)| (k.clone(), Arc::clone(v)))
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}
