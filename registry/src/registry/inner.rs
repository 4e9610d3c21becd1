//! The state a registry shares with its background threads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::gate::Gate;
use super::group::GroupCommit;
use crate::cache::{NegativeCache, RecordCache};
use crate::config::RegistryConfig;
use crate::store::{Pool, Storage};

pub(super) struct Inner {
    /// Random per instance: its own notifications are skipped (local writes already
    /// invalidated the cache at commit).
    pub(super) instance: String,
    pub(super) storage: Storage,
    pub(super) pool: Arc<Pool>,
    pub(super) config: RegistryConfig,
    pub(super) cache: RecordCache,
    pub(super) negative: NegativeCache,
    pub(super) pending_last_used: Mutex<HashMap<String, i64>>,
    pub(super) group: GroupCommit,
    pub(super) lookups: Gate,
}
