//! Usage analytics: how often each key was verified, by outcome, and the credits it
//! spent, in minute, hour and day buckets.
//!
//! # How counts are kept
//!
//! Every verification of a known key (one whose id the registry holds) adds one to an
//! in-memory aggregate keyed by (account, key id, owner, minute, outcome) on the verify
//! path: one short mutex'd map update in one of 16 shards, no I/O. The outcome is
//! `valid` or the decision's refusal code (`key_disabled`, `key_expired`,
//! `ip_not_allowed`, `insufficient_scope`, `rate_limited`, `usage_exceeded`,
//! `digest_mismatch`, ...). Credits spent are the request's cost when it was allowed, was
//! not a dry run, and the key has credits.
//!
//! The registry's background thread writes the aggregate every second (and at
//! [`crate::Registry::close`]) into the `usage_minute`, `usage_hour` and `usage_day`
//! tables, upserts that add to what is there, so several instances on one PostgreSQL
//! add up. Counts are therefore visible to [`crate::Registry::usage`] within about a
//! second. The cells are written in primary-key order, 256 to a transaction, so that
//! each transaction holds SQLite's write lock for a moment only (metered requests that
//! settle in the database take turns with it) and touches its own range of pages. A
//! failed write keeps the counts not yet written for the next one; while the database
//! stays unreachable, at most [`MAX_PENDING_CELLS`] cells are held and later ones are
//! dropped. These commits do not wait for the disk: `kill -9` loses at most the last
//! second's counts (those still in memory), a power cut may lose a moment more.
//!
//! Buckets older than their retention ([`crate::RegistryConfig::usage_retention`]) are
//! deleted by the same thread, at most once a minute.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// The outcome of an allowed verification.
pub const VALID: &str = "valid";

/// The most buckets one [`crate::Registry::usage`] query may span: 1,440 minutes (a
/// day), 2,160 hours (90 days) or 400 days.
pub const MAX_BUCKETS: [(Granularity, i64); 3] = [
    (Granularity::Minute, 1_440),
    (Granularity::Hour, 2_160),
    (Granularity::Day, 400),
];

/// Counts held in memory before the database accepts them, at most (cells of (key,
/// owner, minute, outcome)); beyond it new counts are dropped until a write succeeds.
pub const MAX_PENDING_CELLS: usize = 1 << 20;

/// The size of a usage bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// 60-second buckets starting on the minute (UTC).
    Minute,
    /// 3,600-second buckets starting on the hour (UTC). The default.
    #[default]
    Hour,
    /// 86,400-second buckets starting at 00:00 UTC.
    Day,
}

impl Granularity {
    /// Every granularity, smallest first.
    pub const ALL: [Granularity; 3] = [Granularity::Minute, Granularity::Hour, Granularity::Day];

    /// The bucket's length in seconds.
    pub const fn seconds(self) -> i64 {
        match self {
            Granularity::Minute => 60,
            Granularity::Hour => 3_600,
            Granularity::Day => 86_400,
        }
    }

    /// `minute`, `hour` or `day`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Granularity::Minute => "minute",
            Granularity::Hour => "hour",
            Granularity::Day => "day",
        }
    }

    /// Parses `minute`, `hour` or `day`.
    pub fn parse(s: &str) -> Option<Granularity> {
        Granularity::ALL.into_iter().find(|g| g.as_str() == s)
    }

    /// The most buckets one query may span (see [`MAX_BUCKETS`]).
    pub const fn max_buckets(self) -> i64 {
        match self {
            Granularity::Minute => MAX_BUCKETS[0].1,
            Granularity::Hour => MAX_BUCKETS[1].1,
            Granularity::Day => MAX_BUCKETS[2].1,
        }
    }

    /// The start of the bucket holding `t`.
    pub const fn floor(self, t: i64) -> i64 {
        t.div_euclid(self.seconds()) * self.seconds()
    }

    pub(crate) const fn table(self) -> &'static str {
        match self {
            Granularity::Minute => "usage_minute",
            Granularity::Hour => "usage_hour",
            Granularity::Day => "usage_day",
        }
    }
}

/// How long buckets are kept, in seconds, per granularity; older ones are deleted by the
/// background thread (at most once a minute).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsageRetention {
    /// Defaults to 7 days.
    pub minute: i64,
    /// Defaults to 90 days.
    pub hour: i64,
    /// Defaults to 400 days.
    pub day: i64,
}

impl Default for UsageRetention {
    fn default() -> Self {
        UsageRetention {
            minute: 7 * 86_400,
            hour: 90 * 86_400,
            day: 400 * 86_400,
        }
    }
}

impl UsageRetention {
    pub(crate) fn of(&self, g: Granularity) -> i64 {
        match g {
            Granularity::Minute => self.minute,
            Granularity::Hour => self.hour,
            Granularity::Day => self.day,
        }
    }
}

/// What [`crate::Registry::usage`] reads: one key's buckets, one owner's (all keys of the
/// account with that owner) or the whole account's, over `[from, to)`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageQuery {
    /// Only this key (by id). At most one of `key_id` and `owner`.
    pub key_id: Option<String>,
    /// Only the keys with this owner.
    pub owner: Option<String>,
    /// Unix seconds; the bucket holding it is the first one.
    pub from: i64,
    /// Unix seconds, exclusive: buckets starting before it.
    pub to: i64,
    /// The bucket size. Defaults to [`Granularity::Hour`].
    pub granularity: Granularity,
}

/// One bucket of counts. Buckets without any verification are not returned.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageBucket {
    /// Unix seconds at which the bucket starts.
    pub start: i64,
    /// Verifications by outcome: `valid` or a refusal code.
    pub outcomes: BTreeMap<String, u64>,
    /// Verifications that were allowed (`outcomes["valid"]`).
    pub valid: u64,
    /// Verifications that were refused (every other outcome).
    pub refused: u64,
    /// Credits spent by allowed, non-dry-run verifications.
    pub credits_spent: u64,
}

/// One verification for [`crate::Registry::bulk_usage_for_bench`].
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct BenchVerification<'a> {
    pub account: &'a str,
    pub key_id: &'a str,
    pub owner: Option<&'a str>,
    pub at: i64,
    pub outcome: &'static str,
    pub credits: u64,
}

/// One pending count: `hits` verifications with `outcome` in the minute starting at
/// `minute`, spending `credits`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cell {
    pub(crate) minute: i64,
    pub(crate) outcome: &'static str,
    pub(crate) hits: u64,
    pub(crate) credits: u64,
}

/// The pending cells of one key as one (account, owner) pair; a key whose owner changed
/// within a flush interval has two.
struct KeyCells {
    account: Box<str>,
    /// `""` when the key has none (owners are never empty).
    owner: Box<str>,
    cells: Vec<Cell>,
}

#[derive(Default)]
struct Shard {
    keys: HashMap<Box<str>, Vec<KeyCells>>,
    cells: usize,
}

const SHARDS: usize = 16;

/// A pending cell as the flusher takes it.
pub(crate) struct Taken {
    pub(crate) key_id: Box<str>,
    pub(crate) account: Box<str>,
    pub(crate) owner: Box<str>,
    pub(crate) cell: Cell,
}

/// The in-memory aggregate waiting for the flusher.
#[derive(Default)]
pub(crate) struct PendingUsage {
    shards: [Mutex<Shard>; SHARDS],
    /// Counts dropped because [`MAX_PENDING_CELLS`] were pending.
    dropped: AtomicU64,
}

/// Key ids are random base62, so their last byte spreads them over the shards.
fn shard_of(id: &str) -> usize {
    id.as_bytes().last().map_or(0, |b| usize::from(*b) % SHARDS)
}

impl PendingUsage {
    /// Adds `cell` for key `id`.
    pub(crate) fn add(&self, id: &str, account: &str, owner: Option<&str>, cell: Cell) {
        let owner = owner.unwrap_or("");
        let Ok(mut s) = self.shards[shard_of(id)].lock() else {
            return;
        };
        let s = &mut *s;
        let full = s.cells >= MAX_PENDING_CELLS / SHARDS;
        if let Some(list) = s.keys.get_mut(id) {
            if let Some(k) = list
                .iter_mut()
                .find(|k| &*k.account == account && &*k.owner == owner)
            {
                // The newest cells are at the end.
                if let Some(c) = k
                    .cells
                    .iter_mut()
                    .rev()
                    .find(|c| c.minute == cell.minute && c.outcome == cell.outcome)
                {
                    c.hits += cell.hits;
                    c.credits += cell.credits;
                    return;
                }
                if full {
                    self.dropped.fetch_add(cell.hits, Ordering::Relaxed);
                    return;
                }
                k.cells.push(cell);
                s.cells += 1;
                return;
            }
            if full {
                self.dropped.fetch_add(cell.hits, Ordering::Relaxed);
                return;
            }
            list.push(KeyCells {
                account: account.into(),
                owner: owner.into(),
                cells: vec![cell],
            });
            s.cells += 1;
            return;
        }
        if full {
            self.dropped.fetch_add(cell.hits, Ordering::Relaxed);
            return;
        }
        s.keys.insert(
            id.into(),
            vec![KeyCells {
                account: account.into(),
                owner: owner.into(),
                cells: vec![cell],
            }],
        );
        s.cells += 1;
    }

    /// Takes every pending cell.
    pub(crate) fn take(&self) -> Vec<Taken> {
        let mut out = Vec::new();
        for shard in &self.shards {
            let keys = match shard.lock() {
                Ok(mut s) => {
                    s.cells = 0;
                    std::mem::take(&mut s.keys)
                }
                Err(_) => continue,
            };
            for (key_id, list) in keys {
                for k in list {
                    for cell in k.cells {
                        out.push(Taken {
                            key_id: key_id.clone(),
                            account: k.account.clone(),
                            owner: k.owner.clone(),
                            cell,
                        });
                    }
                }
            }
        }
        out
    }

    /// Puts cells back after a failed write.
    pub(crate) fn restore(&self, taken: Vec<Taken>) {
        for t in taken {
            let owner = (!t.owner.is_empty()).then_some(&*t.owner);
            self.add(&t.key_id, &t.account, owner, t.cell);
        }
    }

    /// Counts dropped so far because too many were pending.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The buckets of `g` the pending cells add to: (table row key, hits, credits), one entry
/// per distinct row.
pub(crate) type RowKey = (Box<str>, Box<str>, i64, &'static str, Box<str>);

/// Rolls the minute cells up into the rows of `g`'s table.
pub(crate) fn rollup(taken: &[Taken], g: Granularity) -> Vec<(RowKey, u64, u64)> {
    let mut rows: HashMap<RowKey, (u64, u64)> = HashMap::new();
    for t in taken {
        let key = (
            t.account.clone(),
            t.key_id.clone(),
            g.floor(t.cell.minute),
            t.cell.outcome,
            t.owner.clone(),
        );
        let slot = rows.entry(key).or_default();
        slot.0 += t.cell.hits;
        slot.1 += t.cell.credits;
    }
    let mut out: Vec<_> = rows.into_iter().map(|(k, (h, c))| (k, h, c)).collect();
    // Sorted by primary key: fewer page splits, and concurrent flushers on PostgreSQL
    // lock rows in one order.
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_add_up_by_key_owner_minute_and_outcome() {
        let p = PendingUsage::default();
        let cell = |minute, outcome, credits| Cell {
            minute,
            outcome,
            hits: 1,
            credits,
        };
        p.add("k1", "a", None, cell(60, VALID, 2));
        p.add("k1", "a", None, cell(60, VALID, 3));
        p.add("k1", "a", None, cell(60, "rate_limited", 0));
        p.add("k1", "a", Some("o"), cell(60, VALID, 0));
        p.add("k1", "a", None, cell(120, VALID, 0));
        p.add("k2", "a", None, cell(60, VALID, 0));
        let taken = p.take();
        assert_eq!(taken.len(), 5);
        assert!(p.take().is_empty());
        let hours = rollup(&taken, Granularity::Hour);
        assert_eq!(hours.len(), 4);
        let k1_valid = hours
            .iter()
            .find(|(k, _, _)| &*k.1 == "k1" && k.3 == VALID && k.4.is_empty())
            .map(|r| (r.1, r.2));
        assert_eq!(k1_valid, Some((3, 5)));
        p.restore(taken);
        assert_eq!(p.take().len(), 5);
    }

    #[test]
    fn buckets_start_on_their_boundaries() {
        assert_eq!(Granularity::Minute.floor(119), 60);
        assert_eq!(Granularity::Hour.floor(7_199), 3_600);
        assert_eq!(Granularity::Day.floor(86_400 * 3 + 5), 86_400 * 3);
        assert_eq!(Granularity::parse("day"), Some(Granularity::Day));
        assert_eq!(Granularity::parse("week"), None);
    }
}
