//! Usage analytics through the registry: the minute, hour and day rollups equal the
//! ground truth of a generated stream of verifications, retention deletes old buckets,
//! and the range limits hold. Every test runs on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;

use keyseal::{ErrorCode, KeyFormat, RequestContext};
use keyseal_registry::meter::{CreditSpec, LimitSpec, MeterRequest};
use keyseal_registry::usage::{Granularity, UsageBucket, UsageQuery, UsageRetention};
use keyseal_registry::{Actor, Clock, NewKey, Registry};

const T0: i64 = common::T0;
const ACCT: &str = "acct_u";

/// A tiny xorshift, so the stream is the same on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

struct TestKey {
    key: String,
    id: String,
    owner: Option<&'static str>,
    credits: bool,
}

fn create(r: &Registry, name: &str, f: impl FnOnce(&mut NewKey)) -> (String, String) {
    let mut n = NewKey::new(ACCT, name);
    f(&mut n);
    let c = r.create(&n, &Actor::user("alice")).unwrap();
    (c.key.expose().to_owned(), c.record.id.clone())
}

/// A key with `id` and a wrong secret (valid checksum): `digest_mismatch`.
fn forged(id: &str) -> String {
    let other = KeyFormat::new("ks_test").unwrap().generate_os().unwrap();
    let mut k = format!("ks_test_{id}_{}", other.expose_secret());
    let sum = keyseal::key::checksum(k.as_bytes());
    k.push_str(std::str::from_utf8(&sum).unwrap());
    k
}

/// One verification of the ground truth.
struct Event {
    key_id: String,
    owner: Option<&'static str>,
    at: i64,
    outcome: String,
    credits: u64,
}

type Buckets = BTreeMap<i64, (BTreeMap<String, u64>, u64, u64, u64)>;

fn expected<'a>(events: impl Iterator<Item = &'a Event>, g: Granularity) -> Buckets {
    let mut out = Buckets::new();
    for e in events {
        let b = out.entry(g.floor(e.at)).or_default();
        *b.0.entry(e.outcome.clone()).or_default() += 1;
        if e.outcome == "valid" {
            b.1 += 1;
        } else {
            b.2 += 1;
        }
        b.3 += e.credits;
    }
    out
}

fn as_buckets(list: Vec<UsageBucket>) -> Buckets {
    let mut out = Buckets::new();
    let mut last = i64::MIN;
    for b in list {
        assert!(b.start > last, "buckets in time order");
        last = b.start;
        assert!(!b.outcomes.is_empty(), "empty buckets are omitted");
        out.insert(b.start, (b.outcomes, b.valid, b.refused, b.credits_spent));
    }
    out
}

/// Every bucket of `g` in `[from, to)`, in queries of the largest allowed range.
fn fetch(r: &Registry, base: &UsageQuery, g: Granularity, from: i64, to: i64) -> Buckets {
    let step = g.max_buckets() * g.seconds();
    let mut out = Vec::new();
    let mut at = g.floor(from);
    while at < to {
        let q = UsageQuery {
            from: at,
            to: (at + step).min(to),
            granularity: g,
            ..base.clone()
        };
        out.extend(r.usage(ACCT, &q).unwrap());
        at += step;
    }
    as_buckets(out)
}

fn by_key(id: &str) -> UsageQuery {
    UsageQuery {
        key_id: Some(id.to_owned()),
        ..UsageQuery::default()
    }
}

fn by_owner(owner: &str) -> UsageQuery {
    UsageQuery {
        owner: Some(owner.to_owned()),
        ..UsageQuery::default()
    }
}

fn code(e: &keyseal::Error) -> ErrorCode {
    e.error_code()
}

both! {
    fn rollups_equal_the_ground_truth_of_a_stream(fx) {
        let r = fx.open();
        let mut keys = Vec::new();
        let (key, id) = create(&r, "plain", |n| {
            n.owner = Some("alice".into());
            n.scopes = vec!["orders:read".into()];
            n.allowed_ips = vec!["10.0.0.0/8".into()];
        });
        keys.push(TestKey { key, id, owner: Some("alice"), credits: false });
        let (key, id) = create(&r, "limited", |n| {
            n.owner = Some("alice".into());
            n.limits = vec![LimitSpec { name: "per_minute".into(), limit: 3, window_ms: 60_000 }];
        });
        keys.push(TestKey { key, id, owner: Some("alice"), credits: false });
        let (key, id) = create(&r, "credits", |n| {
            n.owner = Some("bob".into());
            n.credits = Some(CreditSpec { remaining: Some(60), refill: None });
        });
        keys.push(TestKey { key, id, owner: Some("bob"), credits: true });
        let (key, id) = create(&r, "expiring", |n| n.expires_at = Some(T0 + 86_400));
        keys.push(TestKey { key, id, owner: None, credits: false });
        let (key, id) = create(&r, "disabled", |n| {
            n.owner = Some("bob".into());
            n.disabled = true;
        });
        keys.push(TestKey { key, id, owner: Some("bob"), credits: false });

        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut events = Vec::new();
        let inside: IpAddr = "10.1.2.3".parse().unwrap();
        let outside: IpAddr = "192.168.1.1".parse().unwrap();
        let admin = ["admin"];
        for step in 0..700 {
            fx.clock.advance(rng.next(600) as i64);
            let at = fx.clock.now();
            let k = &keys[rng.next(keys.len() as u64) as usize];
            // Bursts on the limited key reach its limit.
            let burst = if k.id == keys[1].id { 1 + rng.next(5) } else { 1 };
            for _ in 0..burst {
                let mut ctx = RequestContext::at(at);
                ctx.client_ip = Some(inside);
                let mut m = MeterRequest { cost: 1 + rng.next(3), limits: None, dry_run: false };
                let presented = match rng.next(8) {
                    0 => forged(&k.id),
                    1 => {
                        ctx.client_ip = Some(outside);
                        k.key.clone()
                    }
                    2 => {
                        ctx.required_scopes = &admin;
                        k.key.clone()
                    }
                    3 => {
                        m.dry_run = true;
                        k.key.clone()
                    }
                    _ => k.key.clone(),
                };
                let (outcome, credits) = match r.verify_metered(&presented, &ctx, &m) {
                    Ok(v) => match v.decision {
                        Ok(()) => ("valid".to_owned(), if k.credits && !m.dry_run { m.cost } else { 0 }),
                        Err(e) => (e.code().to_owned(), 0),
                    },
                    Err(e) => {
                        assert_eq!(code(&e), ErrorCode::DigestMismatch);
                        (e.code().to_owned(), 0)
                    }
                };
                events.push(Event { key_id: k.id.clone(), owner: k.owner, at, outcome, credits });
            }
            if step % 97 == 0 {
                r.flush_usage().unwrap();
            }
        }
        r.flush_usage().unwrap();
        let end = fx.clock.now() + 1;
        assert!(end - T0 > 2 * 86_400, "the stream spans days");
        let seen: std::collections::BTreeSet<&str> = events.iter().map(|e| e.outcome.as_str()).collect();
        for o in [
            "valid", "rate_limited", "usage_exceeded", "key_disabled", "key_expired",
            "ip_not_allowed", "insufficient_scope", "digest_mismatch",
        ] {
            assert!(seen.contains(o), "the stream has no {o}: {seen:?}");
        }
        for g in Granularity::ALL {
            for k in &keys {
                let want = expected(events.iter().filter(|e| e.key_id == k.id), g);
                assert_eq!(fetch(&r, &by_key(&k.id), g, T0, end), want, "key {} by {g:?}", k.id);
            }
            for owner in ["alice", "bob"] {
                let want = expected(events.iter().filter(|e| e.owner == Some(owner)), g);
                assert_eq!(fetch(&r, &by_owner(owner), g, T0, end), want, "owner {owner} by {g:?}");
            }
            let want = expected(events.iter(), g);
            assert_eq!(fetch(&r, &UsageQuery::default(), g, T0, end), want, "account by {g:?}");
        }
        // Another account sees nothing of these keys.
        let q = UsageQuery { from: T0, to: end, granularity: Granularity::Day, ..UsageQuery::default() };
        assert!(r.usage("acct_other", &q).unwrap().is_empty());
    }

    fn counts_survive_a_restart_and_instances_add_up(fx) {
        let r1 = fx.open();
        let r2 = fx.open();
        let (key, id) = create(&r1, "shared", |n| n.owner = Some("carol".into()));
        for _ in 0..3 {
            assert!(r1.verify(&key, &RequestContext::at(T0)).unwrap().decision.is_ok());
        }
        for _ in 0..2 {
            assert!(r2.verify(&key, &RequestContext::at(T0)).unwrap().decision.is_ok());
        }
        // Close flushes what is pending.
        drop(r1);
        drop(r2);
        let r = fx.open();
        let q = UsageQuery { from: T0, to: T0 + 60, granularity: Granularity::Minute, ..by_key(&id) };
        let got = r.usage(ACCT, &q).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].start, got[0].valid, got[0].refused), (T0, 5, 0));
        assert_eq!(got[0].outcomes, BTreeMap::from([("valid".to_owned(), 5)]));
        // Usage off: nothing is counted.
        let quiet = fx.open_with(|c| c.track_usage = false);
        quiet.verify(&key, &RequestContext::at(T0)).unwrap();
        assert_eq!(quiet.flush_usage().unwrap(), 0);
        assert_eq!(r.usage(ACCT, &q).unwrap()[0].valid, 5);
    }

    fn retention_deletes_more_old_buckets_than_one_transaction_takes(fx) {
        let r = fx.open_with(|c| {
            c.usage_retention = UsageRetention { minute: 3_600, hour: 2 * 86_400, day: 10 * 86_400 };
        });
        // 3,000 old minute buckets (the deletes take 1,024 per transaction), and a recent
        // one that stays.
        fx.raw(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) \
             INSERT INTO usage_minute (account, key_id, start_at, outcome, owner, hits, credits) \
             SELECT '{ACCT}', 'old' || i, {}, 'valid', '', 1, 0 FROM n",
            T0 - 86_400
        ));
        fx.raw(&format!(
            "INSERT INTO usage_minute (account, key_id, start_at, outcome, owner, hits, credits) \
             VALUES ('{ACCT}', 'recent', {}, 'valid', '', 1, 0)",
            T0 - 60
        ));
        assert_eq!(fx.raw_one("SELECT COUNT(*) FROM usage_minute").unwrap(), "3001");
        r.flush_usage().unwrap();
        assert_eq!(fx.raw_one("SELECT COUNT(*) FROM usage_minute").unwrap(), "1");
    }

    fn retention_deletes_old_buckets(fx) {
        let r = fx.open_with(|c| {
            c.usage_retention = UsageRetention { minute: 3_600, hour: 2 * 86_400, day: 10 * 86_400 };
        });
        let (key, id) = create(&r, "old", |_| {});
        assert!(r.verify(&key, &RequestContext::at(T0)).unwrap().decision.is_ok());
        r.flush_usage().unwrap();
        let count = |g: Granularity| {
            let table = match g {
                Granularity::Minute => "usage_minute",
                Granularity::Hour => "usage_hour",
                Granularity::Day => "usage_day",
            };
            fx.raw_one(&format!("SELECT COUNT(*) FROM {table} WHERE key_id = '{id}'")).unwrap()
        };
        let q = |g: Granularity| UsageQuery { from: T0, to: T0 + 86_400, granularity: g, ..by_key(&id) };
        assert_eq!(r.usage(ACCT, &q(Granularity::Minute)).unwrap().len(), 1);
        // An hour later the minute bucket is past its retention.
        fx.clock.advance(3_600 + 60);
        r.flush_usage().unwrap();
        assert_eq!(count(Granularity::Minute), "0");
        assert!(r.usage(ACCT, &q(Granularity::Minute)).unwrap().is_empty());
        assert_eq!(r.usage(ACCT, &q(Granularity::Hour)).unwrap().len(), 1);
        // Deleting runs at most once a minute: an old bucket that appears now stays
        // until a minute after the last deletion.
        assert!(r.verify(&key, &RequestContext::at(fx.clock.now())).unwrap().decision.is_ok());
        fx.raw(&format!(
            "INSERT INTO usage_minute (account, key_id, start_at, outcome, owner, hits, credits) \
             VALUES ('{ACCT}', '{id}', {}, 'valid', '', 1, 0)",
            T0 - 86_400
        ));
        fx.clock.advance(30);
        r.flush_usage().unwrap();
        assert_eq!(count(Granularity::Minute), "2");
        fx.clock.advance(31);
        r.flush_usage().unwrap();
        assert_eq!(count(Granularity::Minute), "1");
        fx.clock.advance(3 * 86_400);
        r.flush_usage().unwrap();
        assert_eq!(count(Granularity::Hour), "0");
        assert_eq!(count(Granularity::Day), "1");
        fx.clock.advance(10 * 86_400);
        r.flush_usage().unwrap();
        assert_eq!(count(Granularity::Day), "0");
    }

    fn ranges_are_limited(fx) {
        let r = fx.open();
        let (_, id) = create(&r, "k", |_| {});
        let ok = |g: Granularity, n: i64| {
            let q = UsageQuery { from: T0, to: T0 + n * g.seconds(), granularity: g, ..by_key(&id) };
            r.usage(ACCT, &q).map(|b| b.len()).map_err(|e| e.error_code())
        };
        for (g, max) in [(Granularity::Minute, 1_440), (Granularity::Hour, 2_160), (Granularity::Day, 400)] {
            assert_eq!(g.max_buckets(), max);
            assert_eq!(ok(g, max), Ok(0));
            assert_eq!(ok(g, max + 1), Err(ErrorCode::InvalidArgument));
        }
        // A `from` inside a bucket counts that bucket.
        let q = UsageQuery { from: T0 + 30, to: T0 + 1_440 * 60, granularity: Granularity::Minute, ..by_key(&id) };
        assert!(r.usage(ACCT, &q).is_ok());
        let q = UsageQuery { from: T0 + 30, to: T0 + 1_440 * 60 + 1, granularity: Granularity::Minute, ..by_key(&id) };
        assert_eq!(code(&r.usage(ACCT, &q).unwrap_err()), ErrorCode::InvalidArgument);
        let bad = [
            UsageQuery { from: T0, to: T0, ..by_key(&id) },
            UsageQuery { from: T0 + 10, to: T0, ..by_key(&id) },
            UsageQuery { from: -1, to: T0, ..by_key(&id) },
            UsageQuery { from: T0, to: T0 + 60, owner: Some("alice".into()), ..by_key(&id) },
            UsageQuery { from: T0, to: T0 + 60, ..by_owner("") },
        ];
        for q in bad {
            assert_eq!(code(&r.usage(ACCT, &q).unwrap_err()), ErrorCode::InvalidArgument, "{q:?}");
        }
        let q = UsageQuery { from: T0, to: T0 + 60, ..by_key("not a key id") };
        assert_eq!(code(&r.usage(ACCT, &q).unwrap_err()), ErrorCode::NotFound);
    }
}
