//! Usage analytics (see [`crate::usage`]): recording a verification's outcome in the
//! in-memory aggregate, and [`Registry::usage`], the bucket query.

use keyseal::{Error, ErrorCode};

use super::errors::{not_found, reg};
use super::lifecycle::Registry;
use super::tasks;
use crate::cache::Entry;
use crate::meter::MeterReport;
use crate::store::Val;
use crate::types::KeyRecord;
use crate::usage::{Cell, Granularity, UsageBucket, UsageQuery, VALID};
use crate::validate;

impl Registry {
    /// Adds a verification of `record`'s key at `now` to the pending usage: its outcome
    /// and, when it was allowed, not a dry run and the key has credits, its cost.
    pub(super) fn record_usage(
        &self,
        record: &KeyRecord,
        now: i64,
        decision: &Result<(), Error>,
        meter: Option<&MeterReport>,
    ) {
        if !self.inner.config.track_usage {
            return;
        }
        let (outcome, credits) = match decision {
            Ok(()) => (
                VALID,
                meter
                    .filter(|m| !m.dry_run && m.credits.is_some())
                    .map_or(0, |m| m.cost),
            ),
            Err(e) => (e.code(), 0),
        };
        self.inner.usage.add(
            &record.id,
            &record.account,
            record.owner.as_deref(),
            Cell {
                minute: Granularity::Minute.floor(now),
                outcome,
                hits: 1,
                credits,
            },
        );
    }

    /// Records a refused digest (`digest_mismatch`, ...) of a known key; returns `e`.
    pub(super) fn usage_refused(&self, entry: &Entry, now: i64, e: Error) -> Error {
        if self.inner.config.track_usage {
            self.inner.usage.add(
                entry.id(),
                entry.account(),
                entry.owner(),
                Cell {
                    minute: Granularity::Minute.floor(now),
                    outcome: e.code(),
                    hits: 1,
                    credits: 0,
                },
            );
        }
        e
    }

    /// The usage buckets of one key (`q.key_id`), one owner's keys (`q.owner`) or the
    /// whole account (neither), in time order, for the buckets of `q.granularity` that
    /// start in `[floor(q.from), q.to)`. Buckets without any verification are omitted.
    /// Counts reach the database in batches, about a second after the verification.
    ///
    /// A key's usage stays readable after the key is deleted, until its retention ends.
    ///
    /// Errors: `invalid_argument` (`from` not before `to`, a time outside 0 to
    /// 9999-12-31, both `key_id` and `owner`, a bad owner, a range of more than 1,440
    /// minutes, 2,160 hours or 400 days), `not_found` (a `key_id` that is no key id),
    /// `storage_unavailable`.
    pub fn usage(&self, account: &str, q: &UsageQuery) -> Result<Vec<UsageBucket>, Error> {
        validate::account(account)?;
        validate::timestamp(q.from)?;
        validate::timestamp(q.to)?;
        if q.from >= q.to {
            return Err(reg(
                ErrorCode::InvalidArgument,
                "expected from to be before to",
            ));
        }
        let g = q.granularity;
        let start = g.floor(q.from);
        let buckets = (q.to - start + g.seconds() - 1) / g.seconds();
        if buckets > g.max_buckets() {
            return Err(reg(
                ErrorCode::InvalidArgument,
                "expected a range of at most 1440 minutes, 2160 hours or 400 days",
            ));
        }
        let mut params = vec![Val::from(account)];
        let filter = match (&q.key_id, &q.owner) {
            (Some(_), Some(_)) => {
                return Err(reg(
                    ErrorCode::InvalidArgument,
                    "expected a key id or an owner, not both",
                ));
            }
            (Some(id), None) => {
                if !validate::is_key_id(id, self.format().id_len()) {
                    return Err(not_found());
                }
                params.push(Val::from(id.as_str()));
                " AND key_id = ?"
            }
            (None, Some(owner)) => {
                validate::owner(owner)?;
                params.push(Val::from(owner.as_str()));
                " AND owner = ?"
            }
            (None, None) => "",
        };
        params.push(Val::Int(start));
        params.push(Val::Int(q.to));
        let sql = format!(
            "SELECT start_at, outcome, CAST(SUM(hits) AS BIGINT), CAST(SUM(credits) AS BIGINT) \
             FROM {} WHERE account = ?{filter} AND start_at >= ? AND start_at < ? \
             GROUP BY start_at, outcome ORDER BY start_at, outcome",
            g.table()
        );
        let rows = {
            let mut conn = self.inner.pool.get()?;
            conn.query(&sql, &params)?
        };
        let mut out: Vec<UsageBucket> = Vec::new();
        for r in rows {
            let int = |i: usize| r.get(i).and_then(Val::int).unwrap_or(0);
            let at = int(0);
            let outcome = r.get(1).and_then(Val::text).unwrap_or("").to_owned();
            let (hits, credits) = (
                u64::try_from(int(2)).unwrap_or(0),
                u64::try_from(int(3)).unwrap_or(0),
            );
            if out.last().is_none_or(|b| b.start != at) {
                out.push(UsageBucket {
                    start: at,
                    ..UsageBucket::default()
                });
            }
            if let Some(b) = out.last_mut() {
                if outcome == VALID {
                    b.valid += hits;
                } else {
                    b.refused += hits;
                }
                b.credits_spent += credits;
                *b.outcomes.entry(outcome).or_default() += hits;
            }
        }
        Ok(out)
    }

    /// Writes the pending usage counts now (a background thread does it every second)
    /// and deletes buckets past their retention if that was not done in the last minute;
    /// returns how many counts (bucket cells of a minute) were written.
    pub fn flush_usage(&self) -> Result<usize, Error> {
        tasks::flush_usage(&self.inner)
    }

    /// Verifications not counted because too many counts were waiting for the database
    /// (see [`crate::usage::MAX_PENDING_CELLS`]).
    pub fn usage_dropped(&self) -> u64 {
        self.inner.usage.dropped()
    }
}
