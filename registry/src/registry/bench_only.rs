//! Benchmark-only: a bulk load that skips the audit log and group commit. Not for
//! production data: keys made here have no `create` audit entries.

use keyseal::Error;

use super::lifecycle::Registry;
use super::rows::{INSERT_COLS, insert_values};
use super::tx::with_tx;
use crate::store::{Dialect, Val};
use crate::types::{Actor, NewKey};
use crate::usage::{BenchVerification, Cell, Granularity, Taken};

impl Registry {
    /// Bulk-loads keys in one transaction, for benchmarks and migrations of large sets:
    /// multi-row inserts, no audit entries, no group commit. Returns the full keys.
    #[doc(hidden)]
    pub fn bulk_create_for_bench(
        &self,
        keys: &[NewKey],
        actor: &Actor,
    ) -> Result<Vec<keyseal::ApiKey>, Error> {
        const ROWS: usize = 500;
        let now = self.now();
        let mut out = Vec::with_capacity(keys.len());
        with_tx(&self.inner.pool, |conn| {
            // SQLite (schema v3): `seq` is numbered here, from the largest one, under the
            // transaction's write lock. PostgreSQL: the identity column numbers it.
            let mut next_seq = match conn.dialect() {
                Dialect::Sqlite => Some(
                    conn.query_one("SELECT COALESCE(MAX(seq), 0) FROM keys", &[])?
                        .and_then(|r| r.first().and_then(Val::int))
                        .unwrap_or(0),
                ),
                Dialect::Postgres => None,
            };
            let width = INSERT_COLS.split(',').count();
            let (cols, ncols) = match next_seq {
                Some(_) => (format!("seq, {INSERT_COLS}"), width + 1),
                None => (INSERT_COLS.to_owned(), width),
            };
            let one = format!("({})", vec!["?"; ncols].join(", "));
            let mut rows: Vec<Val> = Vec::with_capacity(ncols * ROWS);
            let at_ms = u64::try_from(now).unwrap_or(0).saturating_mul(1000);
            for chunk in keys.chunks(ROWS) {
                rows.clear();
                let mut balances = Vec::new();
                for n in chunk {
                    let key = self.format().generate_os()?;
                    let r = self.new_record(key.id().to_owned(), n, actor, now)?;
                    let digest = self.inner.config.peppers.digest(key.expose());
                    if let Some(seq) = next_seq.as_mut() {
                        *seq += 1;
                        rows.push(Val::Int(*seq));
                    }
                    rows.extend(insert_values(&r, &digest)?);
                    if let Some(c) = &r.credits {
                        balances.push((r.id.clone(), c.remaining.unwrap_or(0)));
                    }
                    out.push(key);
                }
                let sql = format!(
                    "INSERT INTO keys ({cols}) VALUES {}",
                    vec![one.as_str(); chunk.len()].join(", ")
                );
                conn.exec(&sql, &rows)?;
                for (id, remaining) in &balances {
                    crate::meter::store::set_balance(conn, id, *remaining, at_ms)?;
                }
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Adds recorded verifications straight to the usage tables in one transaction,
    /// as the flusher would (minute buckets only within their retention), for
    /// benchmarks of [`Registry::usage`] at scale.
    #[doc(hidden)]
    pub fn bulk_usage_for_bench(&self, verifications: &[BenchVerification]) -> Result<(), Error> {
        let minute_from =
            Granularity::Minute.floor(self.now() - self.inner.config.usage_retention.minute);
        let taken: Vec<Taken> = verifications
            .iter()
            .map(|v| Taken {
                key_id: v.key_id.into(),
                account: v.account.into(),
                owner: v.owner.unwrap_or("").into(),
                cell: Cell {
                    minute: Granularity::Minute.floor(v.at),
                    outcome: v.outcome,
                    hits: 1,
                    credits: v.credits,
                },
            })
            .collect();
        with_tx(&self.inner.pool, |conn| {
            super::tasks::write_usage(conn, &taken, minute_from)
        })
    }
}
