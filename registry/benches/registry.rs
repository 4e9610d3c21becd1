//! Registry benchmark: prints a table of the verify, create and list costs on SQLite
//! and (when `KEYSEAL_TEST_PG_URL` is set) PostgreSQL.
//!
//! ```text
//! KEYSEAL_TEST_PG_URL=$(scripts/pg start) cargo bench -p keyseal-registry; scripts/pg stop
//! ```
//!
//! `KEYSEAL_BENCH_KEYS` sets the large data set (default 1,000,000 keys, 1,000 per
//! account, loaded in one bulk transaction). Data lives under `.build/bench` and is
//! removed at the end. `KEYSEAL_BENCH_ONLY=cached` measures the cached verify rows alone
//! (unmetered and metered, a few seconds per backend: the one to profile).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use keyseal::{ApiKey, KeyFormat, Pepper, PepperSet, RequestContext};
use keyseal_registry::{Actor, ListQuery, NewKey, Registry, RegistryConfig, Storage};

const PER_ACCOUNT: usize = 1_000;

fn config(cache_capacity: usize) -> RegistryConfig {
    let format = KeyFormat::new("ks_bench").unwrap();
    let peppers = PepperSet::new(Pepper::new("p1", &[1u8; 32]).unwrap());
    let mut c = RegistryConfig::new(format, peppers);
    c.cache_capacity = cache_capacity;
    c.pool_size = 8;
    c
}

/// No cache and no `last_used_at` writes: the cost of the lookup itself.
fn uncached_config() -> RegistryConfig {
    let mut c = config(0);
    c.track_last_used = false;
    c
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn new_keys(n: usize, tag: &str) -> Vec<NewKey> {
    (0..n)
        .map(|i| {
            let mut k = NewKey::new(
                &format!("acct_{tag}_{}", i / PER_ACCOUNT),
                &format!("key-{i}"),
            );
            k.owner = Some(format!("user_{}", i % 97));
            k.role = Some("account-owner".into());
            k.scopes = vec!["keys:read".into(), "orders:*".into()];
            k
        })
        .collect()
}

/// Loads `n` keys in bulk transactions of 100,000 rows.
fn load(r: &Registry, n: usize, tag: &str) -> Vec<ApiKey> {
    let all = new_keys(n, tag);
    let mut out = Vec::with_capacity(n);
    for chunk in all.chunks(100_000) {
        out.extend(r.bulk_create_for_bench(chunk, &Actor::System).unwrap());
    }
    out
}

/// A tiny xorshift to pick keys without bias toward the front.
struct Rng(u64);
impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn per_op(elapsed: Duration, ops: usize) -> f64 {
    elapsed.as_secs_f64() * 1e6 / ops as f64
}

/// Mean microseconds per uncached verify over `samples` random keys.
fn uncached_verify(r: &Registry, keys: &[ApiKey], samples: usize) -> f64 {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let ctx = RequestContext::at(now());
    // Steady state, as in a server that has run a while: the database's pages are in
    // its caches (and, on SQLite, mapped), so we measure lookups, not first touches.
    for _ in 0..100_000 {
        let k = &keys[rng.next(keys.len())];
        r.verify(k.expose(), &ctx).unwrap();
    }
    let start = Instant::now();
    for _ in 0..samples {
        let k = &keys[rng.next(keys.len())];
        let v = r.verify(k.expose(), &ctx).unwrap();
        assert!(v.decision.is_ok());
    }
    per_op(start.elapsed(), samples)
}

/// CPU time of the calling thread in seconds (Linux: utime + stime from
/// /proc/thread-self/stat, in clock ticks of 10 ms); `None` elsewhere.
fn thread_cpu() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let rest = s.get(s.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// Uncached verify at 1,000 and at `big` keys, alternating batches of 200,000 calls and
/// counting this thread's CPU time, so both sizes see the same machine load (on a shared
/// machine wall time drifts by ±30% between the two measurements above). SQLite only: its
/// lookups run on the calling thread. Returns the median µs per call of each.
fn uncached_verify_interleaved(
    small: (&Registry, &[ApiKey]),
    big: (&Registry, &[ApiKey]),
) -> Option<(f64, f64)> {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let ctx = RequestContext::at(now());
    let batch = 200_000;
    let mut run = |(r, keys): (&Registry, &[ApiKey])| -> Option<f64> {
        let t = thread_cpu()?;
        for _ in 0..batch {
            let k = &keys[rng.next(keys.len())];
            assert!(r.verify(k.expose(), &ctx).unwrap().decision.is_ok());
        }
        Some((thread_cpu()? - t) * 1e6 / batch as f64)
    };
    let (mut s, mut b) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        s.push(run(small)?);
        b.push(run(big)?);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Some((median(&mut s), median(&mut b)))
}

/// Median µs per cached verify of `plain` (unmetered), of a new key with one limit, and
/// of a new key with one limit and credits, over alternating batches; returns the two
/// metered medians and the ratio of the second to the unmetered one. The limit and the
/// balance are large enough that nothing is refused: the cost measured is the metering
/// itself, including the transaction that renews the instance's leases (for credits,
/// one per `credit_lease_max` = 100 verifies).
fn metered_vs_plain(r: &Registry, plain: &str) -> (f64, f64, f64) {
    use keyseal_registry::meter::{CreditSpec, LimitSpec};
    let limit = LimitSpec {
        name: "per_minute".into(),
        limit: 1_000_000_000,
        window_ms: 60_000,
    };
    let mut limited = NewKey::new("acct_metered", "one-limit");
    limited.limits = vec![limit.clone()];
    let mut credited = NewKey::new("acct_metered", "limit-and-credits");
    credited.limits = vec![limit];
    credited.credits = Some(CreditSpec {
        remaining: Some(1_000_000_000_000_000),
        refill: None,
    });
    let limited = r.create(&limited, &Actor::System).unwrap().key;
    let credited = r.create(&credited, &Actor::System).unwrap().key;
    let ctx = RequestContext::at(now());
    let batch = 100_000;
    let run = |key: &str| {
        let start = Instant::now();
        for _ in 0..batch {
            let v = r.verify(key, &ctx).unwrap();
            assert!(v.decision.is_ok());
        }
        per_op(start.elapsed(), batch)
    };
    for k in [plain, limited.expose(), credited.expose()] {
        run(k);
    }
    let (mut p, mut l, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        p.push(run(plain));
        l.push(run(limited.expose()));
        c.push(run(credited.expose()));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (p, l, c) = (median(&mut p), median(&mut l), median(&mut c));
    eprintln!(
        "  cached verify: unmetered {p:.2} µs, one limit {l:.2} µs, limit and credits {c:.2} µs"
    );
    (l, c, c / p)
}

fn list_page(r: &Registry, tag: &str, accounts: usize, samples: usize) -> f64 {
    let mut rng = Rng(42);
    let start = Instant::now();
    for i in 0..samples {
        let acct = format!("acct_{tag}_{}", rng.next(accounts));
        let p = r.list(&acct, &ListQuery::default()).unwrap();
        assert_eq!(p.count, 25);
        if i % 2 == 1 {
            // Every other sample pages on with the cursor.
            let q = ListQuery {
                starting_after: p.next_cursor.clone(),
                ..ListQuery::default()
            };
            assert_eq!(r.list(&acct, &q).unwrap().count, 25);
        }
    }
    per_op(start.elapsed(), samples + samples / 2)
}

/// Creates per second with `threads` concurrent callers for about `secs` seconds.
fn create_rate(r: &Arc<Registry>, threads: usize, secs: f64, tag: &str) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (r, stop, count) = (Arc::clone(r), Arc::clone(&stop), Arc::clone(&count));
            let tag = tag.to_owned();
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let n = NewKey::new(&format!("acct_{tag}_c{t}"), &format!("k{i}"));
                    r.create(&n, &Actor::user("bench")).unwrap();
                    count.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

struct Row {
    backend: &'static str,
    what: String,
    result: String,
    target: &'static str,
}

fn bench_backend(
    backend: &'static str,
    storage_for: &dyn Fn(&str) -> Storage,
    big: usize,
    rows: &mut Vec<Row>,
) {
    let mut push = |what: String, result: String, target: &'static str| {
        eprintln!("  {backend}: {what}: {result}");
        rows.push(Row {
            backend,
            what,
            result,
            target,
        });
    };

    // Small set: 1,000 keys.
    let small_storage = storage_for("small");
    let r = Registry::open(small_storage.clone(), uncached_config()).unwrap();
    let small = load(&r, 1_000, "s");
    let small_uncached = uncached_verify(&r, &small, 20_000);
    drop(r);

    // Cached verify of a hot key.
    let r = Registry::open(small_storage.clone(), config(100_000)).unwrap();
    let ctx = RequestContext::at(now());
    let hot = small[0].expose();
    r.verify(hot, &ctx).unwrap();
    let n = 500_000;
    let start = Instant::now();
    for _ in 0..n {
        let v = r.verify(hot, &ctx).unwrap();
        assert!(v.decision.is_ok());
    }
    push(
        "verify, cached key".into(),
        format!("{:.2} µs", per_op(start.elapsed(), n)),
        "<= 2 µs",
    );
    // Cached verify of a metered key (one limit, and credits) against the unmetered hot
    // key, in alternating batches so both see the same machine load.
    let (one_limit, both, ratio) = metered_vs_plain(&r, hot);
    push(
        "verify, cached key, one limit (median of 5 alternating batches)".into(),
        format!("{one_limit:.2} µs"),
        "-",
    );
    push(
        "verify, cached key, one limit and credits (median of 5 alternating batches)".into(),
        format!("{both:.2} µs ({ratio:.2}x the unmetered key)"),
        "<= 1.5 µs",
    );
    if std::env::var("KEYSEAL_BENCH_ONLY").as_deref() == Ok("cached") {
        return;
    }
    // What counting usage costs a cached verify: the same hot key on two registries,
    // usage counted and not, alternating batches and counting this thread's CPU time
    // (wall time drifts by more than the difference on a shared machine).
    {
        let mut quiet = config(100_000);
        quiet.track_usage = false;
        let rq = Registry::open(small_storage.clone(), quiet).unwrap();
        rq.verify(hot, &ctx).unwrap();
        let batch = 1_000_000;
        let run = |reg: &Registry| -> Option<f64> {
            let t = thread_cpu()?;
            for _ in 0..batch {
                assert!(reg.verify(hot, &ctx).unwrap().decision.is_ok());
            }
            Some((thread_cpu()? - t) * 1e6 / batch as f64)
        };
        let (mut on, mut off) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            if let (Some(a), Some(b)) = (run(&r), run(&rq)) {
                on.push(a);
                off.push(b);
            }
        }
        if !on.is_empty() {
            on.sort_by(f64::total_cmp);
            off.sort_by(f64::total_cmp);
            let (a, b) = (on[on.len() / 2], off[off.len() / 2]);
            push(
                "verify, cached key, usage counted vs not (CPU time, interleaved)".into(),
                format!("{a:.3} µs vs {b:.3} µs ({:.2}x)", a / b),
                "< 1 µs more",
            );
        }
    }
    // Cached verify across many keys (all 1,000 in the cache).
    let mut rng = Rng(7);
    for k in &small {
        r.verify(k.expose(), &ctx).unwrap();
    }
    let start = Instant::now();
    for _ in 0..n {
        r.verify(small[rng.next(small.len())].expose(), &ctx)
            .unwrap();
    }
    push(
        "verify, cached, 1,000 keys round robin".into(),
        format!("{:.2} µs", per_op(start.elapsed(), n)),
        "<= 2 µs",
    );
    drop(r);

    // Large set.
    let big_storage = storage_for("big");
    let r = Registry::open(big_storage.clone(), uncached_config()).unwrap();
    let t = Instant::now();
    let keys = load(&r, big, "b");
    let load_s = t.elapsed().as_secs_f64();
    push(
        format!("bulk load of {big} keys (one transaction per 100k)"),
        format!("{load_s:.1} s"),
        "-",
    );
    if let Storage::Postgres(url) = &big_storage {
        // What autovacuum does on a live database: statistics and the visibility map.
        let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
        c.batch_execute("VACUUM ANALYZE keys").unwrap();
    }
    let big_uncached = uncached_verify(&r, &keys, 20_000);
    push(
        "verify, uncached, 1,000 keys".into(),
        format!("{small_uncached:.1} µs"),
        "-",
    );
    push(
        format!("verify, uncached, {big} keys"),
        format!(
            "{big_uncached:.1} µs ({:.2}x the 1,000-key time)",
            big_uncached / small_uncached
        ),
        "<= 100 µs, <= 1.5x",
    );
    if backend == "sqlite" {
        let rs = Registry::open(small_storage.clone(), uncached_config()).unwrap();
        uncached_verify(&rs, &small, 1);
        if let Some((s, b)) = uncached_verify_interleaved((&rs, &small), (&r, &keys)) {
            push(
                format!("verify, uncached, CPU time, 1,000 vs {big} keys, interleaved"),
                format!("{s:.2} µs vs {b:.2} µs ({:.2}x)", b / s),
                "<= 1.5x",
            );
        }
    }
    drop(r);
    // The same with last_used_at tracking on: every verify of a key unseen for a minute
    // queues one write, flushed in batches by the background thread.
    let r = Registry::open(big_storage.clone(), config(0)).unwrap();
    let tracked = uncached_verify(&r, &keys, 20_000);
    push(
        format!("verify, uncached, {big} keys, last_used_at tracked"),
        format!("{tracked:.1} µs"),
        "-",
    );
    let accounts = big / PER_ACCOUNT;
    let list = list_page(&r, "b", accounts.max(1), 2_000);
    push(
        format!("list page of 25 ({big} keys, {PER_ACCOUNT} per account, with total)"),
        format!("{:.0} µs", list * 1.0),
        "<= 2 ms",
    );
    drop(r);

    // Cache memory: 100,000 distinct keys verified into an empty cache.
    let r = Registry::open(big_storage.clone(), config(100_000)).unwrap();
    let sample: Vec<&ApiKey> = keys.iter().take(100_000).collect();
    for k in &sample {
        r.verify(k.expose(), &ctx).unwrap();
    }
    // Counted from the cache's contents: RSS is no measure here (SQLite's mmap puts
    // database pages in it, and freed bench data is reused).
    let cached = r.cached_records();
    push(
        format!("cache memory per 100,000 keys ({cached} cached)"),
        format!(
            "{:.1} MB ({:.0} B/key)",
            r.cache_memory_estimate() as f64 * 100_000.0 / cached.max(1) as f64 / 1e6,
            r.cache_memory_estimate() as f64 / cached.max(1) as f64,
        ),
        "report",
    );
    drop(r);

    // Creates: durable commits, grouped.
    let r = Arc::new(Registry::open(big_storage, config(1_000)).unwrap());
    let one = create_rate(&r, 1, 2.0, "c1");
    push("create, 1 caller".into(), format!("{one:.0} keys/s"), "-");
    let many = create_rate(&r, 64, 3.0, "c64");
    push(
        "create, 64 concurrent callers (group commit)".into(),
        format!("{many:.0} keys/s"),
        ">= 2,000/s",
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing we need.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let big: usize = std::env::var("KEYSEAL_BENCH_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.build/bench");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let mut rows = Vec::new();

    eprintln!("sqlite ...");
    let sqlite_root = root.clone();
    bench_backend(
        "sqlite",
        &move |name| {
            Storage::Sqlite(
                sqlite_root
                    .join(format!("{name}.db"))
                    .to_string_lossy()
                    .into_owned(),
            )
        },
        big,
        &mut rows,
    );

    match std::env::var("KEYSEAL_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => {
            eprintln!("postgres ...");
            let run = format!("bench_{}", std::process::id());
            let base = url.clone();
            let make = move |name: &str| {
                let db = format!("{run}_{name}");
                let mut c = postgres::Client::connect(&base, postgres::NoTls).unwrap();
                c.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                    .unwrap();
                c.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
                let (b, _) = base.rsplit_once('/').unwrap();
                Storage::Postgres(format!("{b}/{db}"))
            };
            bench_backend("postgres", &make, big, &mut rows);
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            for name in ["small", "big"] {
                let db = format!("bench_{}_{name}", std::process::id());
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
            }
        }
        _ => eprintln!(
            "postgres: skipped (KEYSEAL_TEST_PG_URL is not set; start one with scripts/pg start)"
        ),
    }
    let _ = std::fs::remove_dir_all(&root);

    println!();
    println!("| backend | measurement | result | target |");
    println!("| --- | --- | --- | --- |");
    for r in rows {
        println!(
            "| {} | {} | {} | {} |",
            r.backend, r.what, r.result, r.target
        );
    }
}
