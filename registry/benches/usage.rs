//! Usage analytics benchmark on SQLite: loads `KEYSEAL_BENCH_KEYS` keys (default
//! 1,000,000, 1,000 per account) and `KEYSEAL_BENCH_VERIFICATIONS` recorded
//! verifications (default 10,000,000) as bucket rows, then times `Registry::usage`
//! queries and prints p50/p99:
//!
//! ```text
//! cargo bench -p keyseal-registry --bench usage
//! ```
//!
//! The verifications fall over the 30 days before the registry's clock: 90% `valid`,
//! the rest spread over six refusal codes, a credit on every tenth valid one. 1% go to
//! 100 hot keys, spread evenly over the 30 days (about 1,000 each: a month of day
//! buckets holds every outcome); the rest go to uniformly random keys, each key being
//! used in 3 sessions (a minute each, at random times over the 30 days), as keys are
//! used in bursts. Minute buckets are written only for the last 7 days (their default
//! retention), as the flusher would keep them.
//!
//! Data lives under `KEYSEAL_BENCH_DIR` (default `.build/bench-usage`; about 2.5 GB at
//! the default sizes, so on a small disk point it at a tmpfs such as `/dev/shm`) and is
//! removed at the end.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::Instant;

use keyseal::{KeyFormat, Pepper, PepperSet};
use keyseal_registry::usage::{BenchVerification, Granularity, UsageQuery};
use keyseal_registry::{Actor, ManualClock, NewKey, Registry, RegistryConfig, Storage};

const PER_ACCOUNT: usize = 1_000;
const OWNERS: usize = 97;
/// 2026-11-30T00:00:00Z.
const NOW: i64 = 1_795_996_800;
const DAYS: i64 = 30;
const REFUSALS: [&str; 6] = [
    "key_disabled",
    "key_expired",
    "ip_not_allowed",
    "insufficient_scope",
    "rate_limited",
    "usage_exceeded",
];

/// SplitMix64: a session's time from (key, session).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const SESSIONS: u64 = 3;

struct Rng(u64);
impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    (at(0.50), at(0.99))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n_keys = env("KEYSEAL_BENCH_KEYS", 1_000_000);
    let n_verifications = env("KEYSEAL_BENCH_VERIFICATIONS", 10_000_000);
    let root = match std::env::var("KEYSEAL_BENCH_DIR") {
        Ok(d) if !d.is_empty() => std::path::PathBuf::from(d).join("keyseal-bench-usage"),
        _ => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.build/bench-usage"),
    };
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let storage = Storage::Sqlite(root.join("usage.db").to_string_lossy().into_owned());
    let format = KeyFormat::new("ks_bench").unwrap();
    let peppers = PepperSet::new(Pepper::new("p1", &[1u8; 32]).unwrap());
    let mut config = RegistryConfig::new(format, peppers);
    config.clock = Arc::new(ManualClock::new(NOW));
    let storage_path = storage.clone();
    let r = Registry::open(storage, config).unwrap();

    let t = Instant::now();
    let mut ids: Vec<(String, String, String)> = Vec::with_capacity(n_keys);
    let news: Vec<NewKey> = (0..n_keys)
        .map(|i| {
            let mut k = NewKey::new(&format!("acct_{}", i / PER_ACCOUNT), &format!("key-{i}"));
            k.owner = Some(format!("user_{}", i % OWNERS));
            k
        })
        .collect();
    for chunk in news.chunks(100_000) {
        let made = r.bulk_create_for_bench(chunk, &Actor::System).unwrap();
        for (k, n) in made.iter().zip(chunk) {
            ids.push((
                n.account.clone(),
                k.id().to_owned(),
                n.owner.clone().unwrap_or_default(),
            ));
        }
    }
    drop(news);
    eprintln!("loaded {n_keys} keys in {:.1} s", t.elapsed().as_secs_f64());

    let t = Instant::now();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let hot = 100.min(ids.len());
    let chunk = 500_000;
    let mut done = 0;
    while done < n_verifications {
        let n = chunk.min(n_verifications - done);
        let batch: Vec<BenchVerification> = (0..n)
            .map(|_| {
                let span = (DAYS * 86_400) as u64;
                let (i, ago) = if rng.next(100) == 0 {
                    (rng.next(hot as u64) as usize, rng.next(span))
                } else {
                    let i = rng.next(ids.len() as u64);
                    (i as usize, mix(i * SESSIONS + rng.next(SESSIONS)) % span)
                };
                let (account, key_id, owner) = &ids[i];
                let outcome = if rng.next(10) == 0 {
                    REFUSALS[rng.next(REFUSALS.len() as u64) as usize]
                } else {
                    "valid"
                };
                BenchVerification {
                    account,
                    key_id,
                    owner: Some(owner),
                    at: NOW - 1 - ago as i64,
                    outcome,
                    credits: u64::from(outcome == "valid" && rng.next(10) == 0),
                }
            })
            .collect();
        r.bulk_usage_for_bench(&batch).unwrap();
        done += n;
    }
    eprintln!(
        "loaded {n_verifications} verifications as bucket rows in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    if let Storage::Sqlite(path) = &storage_path {
        let c = rusqlite::Connection::open(path).unwrap();
        for t in ["usage_minute", "usage_hour", "usage_day"] {
            let n: i64 = c
                .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
                .unwrap();
            eprintln!("{t}: {n} rows");
        }
        let size = std::fs::metadata(path).map_or(0, |m| m.len());
        eprintln!("database file: {:.2} GB", size as f64 / 1e9);
    }

    let from = NOW - DAYS * 86_400;
    let month = |q: UsageQuery| UsageQuery {
        from,
        to: NOW,
        granularity: Granularity::Day,
        ..q
    };
    let time = |label: &str, samples: usize, pick: &mut dyn FnMut() -> (String, UsageQuery)| {
        // Warm-up: the first queries read pages from disk.
        for _ in 0..samples.min(200) {
            let (account, q) = pick();
            r.usage(&account, &q).unwrap();
        }
        let mut times = Vec::with_capacity(samples);
        let mut buckets = 0;
        for _ in 0..samples {
            let (account, q) = pick();
            let t = Instant::now();
            buckets += r.usage(&account, &q).unwrap().len();
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let (p50, p99) = percentiles(times);
        println!(
            "| {label} | {samples} | {:.1} | {p50:.3} ms | {p99:.3} ms |",
            buckets as f64 / samples as f64
        );
    };
    println!();
    println!("SQLite, {n_keys} keys, {n_verifications} recorded verifications over {DAYS} days");
    println!();
    println!("| query: a month of daily buckets | samples | buckets/answer | p50 | p99 |");
    println!("| --- | --- | --- | --- | --- |");
    let mut qrng = Rng(0x2545_F491_4F6C_DD1D);
    time("one key (random)", 2_000, &mut || {
        let (a, id, _) = &ids[qrng.next(ids.len() as u64) as usize];
        (
            a.clone(),
            month(UsageQuery {
                key_id: Some(id.clone()),
                ..UsageQuery::default()
            }),
        )
    });
    time("one key (hot: ~1,000 verifications)", 2_000, &mut || {
        let (a, id, _) = &ids[qrng.next(hot as u64) as usize];
        (
            a.clone(),
            month(UsageQuery {
                key_id: Some(id.clone()),
                ..UsageQuery::default()
            }),
        )
    });
    time("one owner (~10 keys)", 2_000, &mut || {
        let (a, _, o) = &ids[qrng.next(ids.len() as u64) as usize];
        (
            a.clone(),
            month(UsageQuery {
                owner: Some(o.clone()),
                ..UsageQuery::default()
            }),
        )
    });
    time("one account (1,000 keys)", 500, &mut || {
        let (a, _, _) = &ids[qrng.next(ids.len() as u64) as usize];
        (a.clone(), month(UsageQuery::default()))
    });
    drop(r);
    let _ = std::fs::remove_dir_all(&root);
}
