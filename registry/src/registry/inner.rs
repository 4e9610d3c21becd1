//! The state a registry shares with its background threads.

use std::collections::HashMap;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};

use super::gate::Gate;
use super::group::GroupCommit;
use crate::cache::{NegativeCache, RecordCache};
use crate::config::RegistryConfig;
use crate::meter::lease::LeasePolicy;
use crate::store::{Pool, Storage};

/// What a registry shares with its background threads (behind an `Arc`).
pub(super) struct Inner {
    /// Random per instance: its own notifications are skipped (local writes already
    /// invalidated the cache at commit).
    pub(super) instance: String,
    pub(super) storage: Storage,
    pub(super) pool: Arc<Pool>,
    pub(super) config: RegistryConfig,
    /// The verify cache of records.
    pub(super) cache: RecordCache,
    /// Ids known not to exist (verify only).
    pub(super) negative: NegativeCache,
    /// `last_used_at` times waiting for the flusher, by key id.
    pub(super) pending_last_used: Mutex<HashMap<String, i64>>,
    /// Group commit of new rows.
    pub(super) group: GroupCommit,
    /// Bounds the verify path's concurrent database lookups.
    pub(super) lookups: Gate,
    /// This instance's metering state and leases.
    pub(super) meters: crate::meter::Meters,
    /// Requests waiting to be settled in the database, in batches.
    pub(super) settles: crate::meter::batch::Settles,
    /// Owners' shared rules, for the verify path.
    pub(super) owner_rules: super::owners::OwnerRules,
    /// Usage counts waiting for the flusher.
    pub(super) usage: crate::usage::PendingUsage,
    /// When old usage buckets were last deleted (registry clock).
    pub(super) usage_pruned_at: AtomicI64,
}

impl Inner {
    /// How much of what is left this instance leases at once (the registry's config).
    pub(super) fn lease_policy(&self) -> LeasePolicy {
        LeasePolicy {
            limit_divisor: self.config.limit_lease_divisor,
            max_credits: self.config.credit_lease_max,
        }
    }
}
