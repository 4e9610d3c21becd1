//! The verify path's in-process caches: records by public id (bounded, CLOCK eviction)
//! and a negative cache of ids the database does not know.
//!
//! A cached record is kept compact (about 300 bytes a key with the map, against about
//! 1.2 KB for a `KeyRecord` plus a prepared `KeyPolicy`): its text in one allocation,
//! its numbers inline, and the map keyed by a keyed 64-bit hash of the id instead of a
//! copy of it. The `KeyRecord` and `KeyPolicy` a verification returns are rebuilt from it
//! after the digest matched (a few small allocations, well under a microsecond).

use std::collections::hash_map::{DefaultHasher, RandomState};
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use keyseal::Error;
use serde_json::Map;

use crate::meter::KeyMeter;
use crate::types::{Actor, KeyRecord};

const SHARDS: usize = 16;

/// An optional time kept inline: its presence is a flag bit of [`Entry::flags`], never a
/// reserved value (any `i64` a database row holds stays a real time, so no stored value
/// can turn "expires at this time" into "never expires").
#[derive(Clone, Copy)]
struct OptTime {
    bit: u16,
}

const EXPIRES_AT: OptTime = OptTime { bit: 64 };
const DELETED_AT: OptTime = OptTime { bit: 128 };
const LAST_USED_AT: OptTime = OptTime { bit: 256 };
const PREV_UNTIL: OptTime = OptTime { bit: 512 };
const ROLLED_AT: OptTime = OptTime { bit: 1024 };

/// The text fields of a cached record, in the order of [`Entry::text`].
#[derive(Clone, Copy)]
enum F {
    Id,
    Account,
    Name,
    Description,
    Owner,
    Role,
    /// Joined by spaces (a scope has none).
    Scopes,
    /// Joined by spaces (a CIDR has none).
    AllowedIps,
    /// Compact JSON; empty for `{}`.
    Metadata,
    CreatedBy,
    ModifiedBy,
    Digest,
    PrevDigest,
    /// The `keys.meter` JSON; empty when nothing is metered.
    Meter,
}
const FIELDS: usize = 14;

const ENABLED: u16 = 1;
const READ_ONLY: u16 = 2;
const HAS_OWNER: u16 = 4;
const HAS_ROLE: u16 = 8;
/// The current digest is a sealed import the registry accepts (see `Registry::import`).
const IMPORTED: u16 = 16;
/// The previous digest is a sealed import the registry accepts.
const PREV_IMPORTED: u16 = 32;

/// A cached record with what verification needs.
pub(crate) struct Entry {
    /// Every text field back to back; `ends[i]` is where field `i` ends.
    text: Box<str>,
    ends: [u32; FIELDS],
    flags: u16,
    created_at: i64,
    modified_at: i64,
    version: u64,
    /// Meaningful when `flags` has [`EXPIRES_AT`]'s bit (as the next three).
    expires_at: i64,
    deleted_at: i64,
    last_used_at: i64,
    /// When the previous digest stops verifying (after a roll).
    prev_until: i64,
    rolled_at: i64,
    /// When the entry was loaded (registry clock), for the staleness bound.
    pub(crate) loaded_at: i64,
    /// The last `last_used_at` written or queued for this key.
    pub(crate) last_used: AtomicI64,
    referenced: AtomicBool,
    /// The key's metering rules, parsed once per load.
    meter: Option<Arc<KeyMeter>>,
}

impl Entry {
    /// Packs `record` (as loaded) with its digest and previous digest.
    pub(crate) fn new(
        record: &KeyRecord,
        digest: &str,
        prev: Option<(&str, i64)>,
        loaded_at: i64,
    ) -> Result<Entry, Error> {
        let metadata = if record.metadata.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&record.metadata).map_err(|_| Error::Internal {
                detail: "a key's metadata does not serialize",
            })?
        };
        let meter_text = crate::meter::spec::to_column(&record.limits, record.credits.as_ref())?
            .unwrap_or_default();
        let meter = KeyMeter::of(&record.id, &record.limits, record.credits.as_ref())?;
        let parts: [&str; FIELDS] = [
            &record.id,
            &record.account,
            &record.name,
            &record.description,
            record.owner.as_deref().unwrap_or(""),
            record.role.as_deref().unwrap_or(""),
            &record.scopes.join(" "),
            &record.allowed_ips.join(" "),
            &metadata,
            &record.created_by.to_stored(),
            &record.modified_by.to_stored(),
            digest,
            prev.map_or("", |p| p.0),
            &meter_text,
        ];
        let mut text = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        let mut ends = [0u32; FIELDS];
        for (end, part) in ends.iter_mut().zip(parts) {
            text.push_str(part);
            *end = u32::try_from(text.len()).map_err(|_| Error::Internal {
                detail: "a key record is too large to cache",
            })?;
        }
        let mut flags = 0;
        for (on, bit) in [
            (record.enabled, ENABLED),
            (record.read_only, READ_ONLY),
            (record.owner.is_some(), HAS_OWNER),
            (record.role.is_some(), HAS_ROLE),
            (record.expires_at.is_some(), EXPIRES_AT.bit),
            (record.deleted_at.is_some(), DELETED_AT.bit),
            (record.last_used_at.is_some(), LAST_USED_AT.bit),
            (prev.is_some(), PREV_UNTIL.bit),
            (record.rolled_at.is_some(), ROLLED_AT.bit),
        ] {
            if on {
                flags |= bit;
            }
        }
        Ok(Entry {
            text: text.into_boxed_str(),
            ends,
            flags,
            created_at: record.created_at,
            modified_at: record.modified_at,
            version: record.version,
            expires_at: record.expires_at.unwrap_or(0),
            deleted_at: record.deleted_at.unwrap_or(0),
            last_used_at: record.last_used_at.unwrap_or(0),
            prev_until: prev.map_or(0, |p| p.1),
            rolled_at: record.rolled_at.unwrap_or(0),
            loaded_at,
            last_used: AtomicI64::new(record.last_used_at.unwrap_or(i64::MIN)),
            referenced: AtomicBool::new(false),
            meter,
        })
    }

    fn time(&self, t: OptTime, value: i64) -> Option<i64> {
        (self.flags & t.bit != 0).then_some(value)
    }

    fn field(&self, f: F) -> &str {
        let i = f as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text.get(start..self.ends[i] as usize).unwrap_or("")
    }

    fn list(&self, f: F) -> Vec<String> {
        let s = self.field(f);
        if s.is_empty() {
            Vec::new()
        } else {
            s.split(' ').map(str::to_owned).collect()
        }
    }

    /// The key's metering rules; `None` when nothing is metered.
    pub(crate) fn meter(&self) -> Option<&Arc<KeyMeter>> {
        self.meter.as_ref()
    }

    pub(crate) fn id(&self) -> &str {
        self.field(F::Id)
    }

    pub(crate) fn account(&self) -> &str {
        self.field(F::Account)
    }

    pub(crate) fn owner(&self) -> Option<&str> {
        (self.flags & HAS_OWNER != 0).then(|| self.field(F::Owner))
    }

    /// The stored digest of the current secret.
    pub(crate) fn digest(&self) -> &str {
        self.field(F::Digest)
    }

    /// Marks the current and previous digests as accepted imports (decided when the row
    /// is loaded: imports enabled and the row's import seal valid).
    pub(crate) fn with_imported(mut self, current: bool, prev: bool) -> Entry {
        for (on, bit) in [(current, IMPORTED), (prev, PREV_IMPORTED)] {
            if on {
                self.flags |= bit;
            }
        }
        self
    }

    /// Whether the current digest is an accepted import.
    pub(crate) fn imported(&self) -> bool {
        self.flags & IMPORTED != 0
    }

    /// Whether the previous digest is an accepted import.
    pub(crate) fn prev_imported(&self) -> bool {
        self.flags & PREV_IMPORTED != 0
    }

    /// The previous digest and the unix second it stops verifying (after a roll).
    pub(crate) fn prev(&self) -> Option<(&str, i64)> {
        self.time(PREV_UNTIL, self.prev_until)
            .map(|until| (self.field(F::PrevDigest), until))
    }

    /// The record as loaded (`last_used_at` as of loading).
    pub(crate) fn record(&self, prefix: &str) -> Result<KeyRecord, Error> {
        let text = |f| self.field(f).to_owned();
        let flag = |bit| self.flags & bit != 0;
        let meter = match self.field(F::Meter) {
            "" => crate::meter::spec::StoredMeter::default(),
            m => crate::meter::spec::from_column(Some(m))?,
        };
        let metadata = match self.field(F::Metadata) {
            "" => Map::new(),
            m => serde_json::from_str(m).map_err(|_| Error::Internal {
                detail: "a cached key's metadata does not parse",
            })?,
        };
        Ok(KeyRecord {
            id: text(F::Id),
            prefix: prefix.to_owned(),
            account: text(F::Account),
            name: text(F::Name),
            description: text(F::Description),
            owner: flag(HAS_OWNER).then(|| text(F::Owner)),
            role: flag(HAS_ROLE).then(|| text(F::Role)),
            scopes: self.list(F::Scopes),
            read_only: flag(READ_ONLY),
            allowed_ips: self.list(F::AllowedIps),
            enabled: flag(ENABLED),
            expires_at: self.time(EXPIRES_AT, self.expires_at),
            metadata,
            created_at: self.created_at,
            created_by: Actor::from_stored(self.field(F::CreatedBy)),
            modified_at: self.modified_at,
            modified_by: Actor::from_stored(self.field(F::ModifiedBy)),
            version: self.version,
            deleted_at: self.time(DELETED_AT, self.deleted_at),
            last_used_at: self.time(LAST_USED_AT, self.last_used_at),
            previous_secret_expires_at: self.time(PREV_UNTIL, self.prev_until),
            rolled_at: self.time(ROLLED_AT, self.rolled_at),
            limits: meter.limits,
            credits: meter.credits,
        })
    }

    /// Heap bytes of this entry: the struct behind its `Arc` and its text.
    fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Entry>() + 2 * std::mem::size_of::<usize>() + self.text.len()
    }
}

/// A `Hasher` for keys that are already hashes (the map's keys are keyed SipHash values).
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type ByHash = HashMap<u64, Arc<Entry>, BuildHasherDefault<Prehashed>>;

struct Shard {
    map: ByHash,
    /// The CLOCK ring, by id hash.
    ring: VecDeque<u64>,
}

/// Records by public id, bounded to `capacity` entries in total (give or take one per
/// concurrent insert).
///
/// Lookups take a shard's read lock only. Eviction is CLOCK (second chance): an entry
/// used since the hand last passed survives one more round, so hot keys stay. The bound
/// is on the total, not per shard: ids never spread evenly over the shards, and a
/// per-shard bound left about 0.5% of a cache sized for the whole key set evicting
/// (and reloading) keys while the other shards had room. An insert into a full cache
/// evicts from its own shard. Keys are
/// 64-bit SipHash values of the id under a random per-process key; a lookup compares the
/// entry's id too, so two ids with one hash only cost each other cache misses.
pub(crate) struct RecordCache {
    shards: Vec<RwLock<Shard>>,
    capacity: usize,
    /// Entries in all shards (changed under the shard's write lock).
    len: AtomicUsize,
    keys: RandomState,
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
        RecordCache {
            shards: (0..SHARDS)
                .map(|_| {
                    RwLock::new(Shard {
                        map: ByHash::default(),
                        ring: VecDeque::new(),
                    })
                })
                .collect(),
            capacity,
            len: AtomicUsize::new(0),
            keys: RandomState::new(),
            generation: AtomicU64::new(0),
        }
    }

    /// The id's map key and its shard. The shard comes from middle bits: the map's
    /// table uses the low bits (bucket) and the top seven (tag).
    fn locate(&self, id: &str) -> (u64, &RwLock<Shard>) {
        let h = self.keys.hash_one(id);
        (h, &self.shards[((h >> 32) as usize) % SHARDS])
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn get(&self, id: &str) -> Option<Arc<Entry>> {
        let (h, shard) = self.locate(id);
        let shard = shard.read().ok()?;
        let e = shard.map.get(&h).filter(|e| e.id() == id)?;
        e.referenced.store(true, Ordering::Relaxed);
        Some(Arc::clone(e))
    }

    /// Inserts `entry` unless an invalidation happened since `generation` was read.
    pub(crate) fn insert(&self, entry: Arc<Entry>, generation: u64) {
        if self.capacity == 0 {
            return;
        }
        let (h, shard) = self.locate(entry.id());
        let Ok(mut shard) = shard.write() else {
            return;
        };
        // Checked under the shard lock; invalidate bumps the counter after taking the
        // same lock, so an insert after an invalidation of this id is always refused.
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if let Some(slot) = shard.map.get_mut(&h) {
            // The same id reloaded, or (rarely) another id with the same hash.
            *slot = entry;
            return;
        }
        while self.len.load(Ordering::Relaxed) >= self.capacity {
            let Some(victim) = shard.ring.pop_front() else {
                // Nothing to evict here: the other shards hold the whole capacity.
                return;
            };
            let keep = match shard.map.get(&victim) {
                None => continue,
                Some(e) => e.referenced.swap(false, Ordering::Relaxed),
            };
            if keep {
                shard.ring.push_back(victim);
            } else {
                shard.map.remove(&victim);
                self.len.fetch_sub(1, Ordering::Relaxed);
            }
        }
        shard.map.insert(h, entry);
        self.len.fetch_add(1, Ordering::Relaxed);
        shard.ring.push_back(h);
        // Invalidations leave hashes in the ring; rebuild it before it grows unbounded.
        if shard.ring.len() > 2 * shard.map.len() + 16 {
            let hashes: VecDeque<u64> = shard.map.keys().copied().collect();
            shard.ring = hashes;
        }
    }

    pub(crate) fn invalidate(&self, id: &str) {
        let (h, shard) = self.locate(id);
        if let Ok(mut shard) = shard.write() {
            // Whatever holds this hash goes, even another id's entry: a reload is cheap.
            if shard.map.remove(&h).is_some() {
                self.len.fetch_sub(1, Ordering::Relaxed);
            }
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    pub(crate) fn clear(&self) {
        for s in &self.shards {
            if let Ok(mut shard) = s.write() {
                self.len.fetch_sub(shard.map.len(), Ordering::Relaxed);
                shard.map = ByHash::default();
                shard.ring = VecDeque::new();
            }
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The cache's heap use: entries (struct, `Arc` counters, text), map and ring
    /// tables. Allocator rounding (8-16 bytes an allocation) is not counted.
    pub(crate) fn memory_estimate(&self) -> usize {
        use std::mem::size_of;
        let mut total = 0;
        for s in &self.shards {
            let Ok(shard) = s.read() else { continue };
            // hashbrown: one slot (key + value) and one control byte per bucket, at most
            // 7/8 full.
            total += shard.map.capacity() * 8 / 7 * (size_of::<(u64, usize)>() + 1);
            total += shard.ring.capacity() * size_of::<u64>();
            total += shard.map.values().map(|e| e.heap_bytes()).sum::<usize>();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every flag of [`Entry::flags`] has a bit of its own (two features once picked the
    /// same bit in parallel).
    #[test]
    fn entry_flags_are_distinct_bits() {
        let bits = [
            ENABLED,
            READ_ONLY,
            HAS_OWNER,
            HAS_ROLE,
            IMPORTED,
            PREV_IMPORTED,
            EXPIRES_AT.bit,
            DELETED_AT.bit,
            LAST_USED_AT.bit,
            PREV_UNTIL.bit,
            ROLLED_AT.bit,
        ];
        let mut seen = 0u16;
        for b in bits {
            assert_eq!(b.count_ones(), 1, "{b:#x} is not a single bit");
            assert_eq!(seen & b, 0, "{b:#x} is used twice");
            seen |= b;
        }
    }
}
