//! The registry: key lifecycle operations over a [`crate::store::Storage`], with the
//! verify path's caches and (on PostgreSQL) cross-instance invalidation by
//! LISTEN/NOTIFY. `impl Registry` is spread over the files below, one concern each:
//!
//! - `lifecycle`: the [`Registry`] handle, open/migrate/close, the pepper check;
//! - `create`, `writes`, `queries`: the operations (new keys; update, delete, roll;
//!   reads and the audit log);
//! - `verify`: the verify path, its caches and exchange tokens;
//! - `tasks`: the background threads (`last_used_at` and usage flusher, change listener);
//! - `usage`: recording verifications for usage analytics and the bucket query;
//! - `group`: group commit for new rows; `tx`: transactions and notifications;
//! - `rows`, `paging`, `audit`, `gate`, `inner`, `errors`: row decoding, list and audit
//!   paging, audit diffs, the lookup gate, the shared state and the registry's errors;
//! - `bench_only`: a bulk load for benchmarks that skips the audit log.

mod audit;
mod bench_only;
mod create;
mod errors;
mod gate;
mod group;
mod inner;
mod lifecycle;
mod metering;
mod owners;
mod paging;
mod queries;
mod rows;
mod tasks;
pub(crate) mod tx;
mod usage;
mod verify;
mod writes;

pub use lifecycle::Registry;
