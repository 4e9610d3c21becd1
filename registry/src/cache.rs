//! The verify path's in-process caches: records by public id (bounded, CLOCK eviction)
//! and a negative cache of ids the database does not know.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use keyseal::KeyPolicy;

use crate::types::KeyRecord;

const SHARDS: usize = 16;

/// A cached record with what verification needs, prepared once at load.
pub(crate) struct Entry {
    pub(crate) record: Arc<KeyRecord>,
    pub(crate) policy: KeyPolicy,
    pub(crate) digest: String,
    /// The previous digest and the unix second it stops verifying (after a roll).
    pub(crate) prev: Option<(String, i64)>,
    /// When the entry was loaded (registry clock), for the staleness bound.
    pub(crate) loaded_at: i64,
    /// The last `last_used_at` written or queued for this key.
    pub(crate) last_used: AtomicI64,
    referenced: AtomicBool,
}

impl Entry {
    pub(crate) fn new(
        record: KeyRecord,
        policy: KeyPolicy,
        digest: String,
        prev: Option<(String, i64)>,
        loaded_at: i64,
    ) -> Entry {
        let last_used = record.last_used_at.unwrap_or(i64::MIN);
        Entry {
            record: Arc::new(record),
            policy,
            digest,
            prev,
            loaded_at,
            last_used: AtomicI64::new(last_used),
            referenced: AtomicBool::new(false),
        }
    }
}

struct Shard {
    map: HashMap<String, Arc<Entry>>,
    ring: VecDeque<String>,
}

/// Records by public id, bounded to `capacity` entries in total.
///
/// Lookups take a shard's read lock only. Eviction is CLOCK (second chance): an entry
/// used since the hand last passed survives one more round, so hot keys stay.
pub(crate) struct RecordCache {
    shards: Vec<RwLock<Shard>>,
    per_shard: usize,
    /// Bumped by every invalidation: a load that started before an invalidation must not
    /// insert what it read (it may be the old row).
    generation: AtomicU64,
}

fn shard_of(id: &str) -> usize {
    let mut h = DefaultHasher::new();
    id.hash(&mut h);
    (h.finish() as usize) % SHARDS
}

impl RecordCache {
    pub(crate) fn new(capacity: usize) -> RecordCache {
        let per_shard = capacity.div_ceil(SHARDS);
        RecordCache {
            shards: (0..SHARDS)
                .map(|_| {
                    RwLock::new(Shard {
                        map: HashMap::new(),
                        ring: VecDeque::new(),
                    })
                })
                .collect(),
            per_shard,
            generation: AtomicU64::new(0),
        }
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn get(&self, id: &str) -> Option<Arc<Entry>> {
        let shard = self.shards[shard_of(id)].read().ok()?;
        let e = shard.map.get(id)?;
        e.referenced.store(true, Ordering::Relaxed);
        Some(Arc::clone(e))
    }

    /// Inserts `entry` unless an invalidation happened since `generation` was read.
    pub(crate) fn insert(&self, id: &str, entry: Arc<Entry>, generation: u64) {
        if self.per_shard == 0 {
            return;
        }
        let Ok(mut shard) = self.shards[shard_of(id)].write() else {
            return;
        };
        // Checked under the shard lock; invalidate bumps the counter after taking the
        // same lock, so an insert after an invalidation of this id is always refused.
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if shard.map.contains_key(id) {
            shard.map.insert(id.to_owned(), entry);
            return;
        }
        while shard.map.len() >= self.per_shard {
            let Some(victim) = shard.ring.pop_front() else {
                break;
            };
            let keep = match shard.map.get(&victim) {
                None => continue,
                Some(e) => e.referenced.swap(false, Ordering::Relaxed),
            };
            if keep {
                shard.ring.push_back(victim);
            } else {
                shard.map.remove(&victim);
            }
        }
        shard.map.insert(id.to_owned(), entry);
        shard.ring.push_back(id.to_owned());
        // Invalidations leave ids in the ring; rebuild it before it grows unbounded.
        if shard.ring.len() > 2 * self.per_shard + 16 {
            let ids: VecDeque<String> = shard.map.keys().cloned().collect();
            shard.ring = ids;
        }
    }

    pub(crate) fn invalidate(&self, id: &str) {
        if let Ok(mut shard) = self.shards[shard_of(id)].write() {
            shard.map.remove(id);
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    pub(crate) fn clear(&self) {
        for s in &self.shards {
            if let Ok(mut shard) = s.write() {
                shard.map.clear();
                shard.ring.clear();
            }
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn memory_estimate(&self) -> usize {
        use std::mem::size_of;
        let strings = |v: &[String]| {
            v.iter()
                .map(|s| size_of::<String>() + s.capacity())
                .sum::<usize>()
        };
        let mut total = 0;
        for s in &self.shards {
            let Ok(shard) = s.read() else { continue };
            // hashbrown: one slot (key + value) and one control byte per bucket, at most
            // 7/8 full.
            total += shard.map.capacity() * 8 / 7 * (size_of::<(String, Arc<Entry>)>() + 1);
            total += shard.ring.capacity() * size_of::<String>();
            total += shard.ring.iter().map(String::capacity).sum::<usize>();
            for (k, e) in &shard.map {
                let r = &e.record;
                total += k.capacity()
                    + size_of::<Entry>()
                    + size_of::<KeyRecord>()
                    + 2 * size_of::<usize>();
                total += r.id.capacity()
                    + r.prefix.capacity()
                    + r.account.capacity()
                    + r.name.capacity();
                total += r.description.capacity();
                total += r.owner.as_ref().map_or(0, String::capacity)
                    + r.role.as_ref().map_or(0, String::capacity);
                total += strings(&r.scopes) + strings(&r.allowed_ips);
                total += serde_json::to_string(&r.metadata).map_or(0, |m| 2 * m.len());
                total += e.digest.capacity() + e.prev.as_ref().map_or(0, |p| p.0.capacity());
                total += e
                    .policy
                    .scopes
                    .iter()
                    .map(|s| size_of::<keyseal::Scope>() + s.as_str().len())
                    .sum::<usize>();
                total += e.policy.allowed_ips.len() * size_of::<keyseal::IpNet>();
                total += e.policy.role.as_ref().map_or(0, String::capacity);
                total += match &r.created_by {
                    crate::Actor::User(s) | crate::Actor::Key(s) => s.capacity(),
                    crate::Actor::System => 0,
                };
                total += match &r.modified_by {
                    crate::Actor::User(s) | crate::Actor::Key(s) => s.capacity(),
                    crate::Actor::System => 0,
                };
            }
        }
        total
    }

    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().map_or(0, |s| s.map.len()))
            .sum()
    }
}

/// Ids the database did not know, each until an expiry, bounded in size.
///
/// Only ever answers "unknown": it can make a key fail (until a create of that id
/// invalidates it, locally or by notification), never make a key pass.
pub(crate) struct NegativeCache {
    shards: Vec<Mutex<HashMap<String, i64>>>,
    per_shard: usize,
}

impl NegativeCache {
    pub(crate) fn new(capacity: usize) -> NegativeCache {
        NegativeCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS),
        }
    }

    pub(crate) fn contains(&self, id: &str, now: i64) -> bool {
        let Ok(mut s) = self.shards[shard_of(id)].lock() else {
            return false;
        };
        match s.get(id) {
            Some(&until) if now < until => true,
            Some(_) => {
                s.remove(id);
                false
            }
            None => false,
        }
    }

    pub(crate) fn insert(&self, id: &str, until: i64, now: i64) {
        if self.per_shard == 0 {
            return;
        }
        let Ok(mut s) = self.shards[shard_of(id)].lock() else {
            return;
        };
        if s.len() >= self.per_shard {
            s.retain(|_, u| *u > now);
        }
        if s.len() >= self.per_shard {
            // Still full of live entries: drop an arbitrary one.
            if let Some(k) = s.keys().next().cloned() {
                s.remove(&k);
            }
        }
        s.insert(id.to_owned(), until);
    }

    pub(crate) fn remove(&self, id: &str) {
        if let Ok(mut s) = self.shards[shard_of(id)].lock() {
            s.remove(id);
        }
    }

    pub(crate) fn clear(&self) {
        for s in &self.shards {
            if let Ok(mut s) = s.lock() {
                s.clear();
            }
        }
    }
}
