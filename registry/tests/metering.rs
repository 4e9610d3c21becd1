//! Metering through the registry: named limits and credits on keys, checked and spent
//! with verification, atomically, across restarts and between instances. Every test runs
//! on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};

use keyseal::{ErrorCode, RequestContext};
use keyseal_registry::meter::{
    CreditSpec, LimitSpec, MeterRequest, OwnerMeterPatch, RefillSpec, Scope,
};
use keyseal_registry::{Actor, AuditQuery, Clock, KeyPatch, NewKey, Registry};

const T0: i64 = common::T0;

fn alice() -> Actor {
    Actor::user("alice")
}

fn limit(name: &str, limit: u64, window_ms: u64) -> LimitSpec {
    LimitSpec {
        name: name.into(),
        limit,
        window_ms,
    }
}

fn credits(remaining: u64) -> CreditSpec {
    CreditSpec {
        remaining: Some(remaining),
        refill: None,
    }
}

fn metered(r: &Registry, limits: Vec<LimitSpec>, credits: Option<CreditSpec>) -> (String, String) {
    let mut n = NewKey::new("acct_1", "metered");
    n.limits = limits;
    n.credits = credits;
    let c = r.create(&n, &alice()).unwrap();
    (c.key.expose().to_owned(), c.record.id.clone())
}

fn req(cost: u64) -> MeterRequest {
    MeterRequest {
        cost,
        ..MeterRequest::default()
    }
}

both! {
    fn a_limit_of_five_per_minute_refuses_the_sixth(fx) {
        let r = fx.open();
        let (key, _) = metered(&r, vec![limit("per_minute", 5, 60_000)], None);
        for left in (0..5).rev() {
            let v = r.verify_metered(&key, &RequestContext::at(T0), &req(1)).unwrap();
            assert!(v.decision.is_ok());
            let m = v.meter.unwrap();
            assert_eq!(m.limits[0].remaining, left);
            assert_eq!(m.limits[0].limit, 5);
        }
        let v = r.verify_metered(&key, &RequestContext::at(T0), &req(1)).unwrap();
        assert_eq!(v.decision.unwrap_err().error_code(), ErrorCode::RateLimited);
        let m = v.meter.unwrap();
        assert_eq!(m.limits[0].remaining, 0);
        assert!(m.retry_after_ms.unwrap() > 0);
        // A plain verify is metered too (cost 1).
        assert_eq!(
            r.verify(&key, &RequestContext::at(T0)).unwrap().decision.unwrap_err().error_code(),
            ErrorCode::RateLimited
        );
        // After two windows everything has faded out.
        fx.clock.advance(120);
        assert_eq!(verify_at(&r, &key, &req(5), T0 + 120), None);
    }

    fn a_refusal_anywhere_spends_nothing_anywhere(fx) {
        let r = fx.open();
        let (key, id) = metered(&r, vec![limit("per_minute", 10, 60_000)], Some(credits(3)));
        assert_eq!(verify_at(&r, &key, &req(2), T0), None);
        // Credits refuse a cost of 2: the limit does not move.
        let v = r.verify_metered(&key, &RequestContext::at(T0), &req(2)).unwrap();
        assert_eq!(v.decision.unwrap_err().error_code(), ErrorCode::UsageExceeded);
        let m = v.meter.unwrap();
        assert_eq!(m.limits[0].remaining, 8);
        assert_eq!(m.credits.as_ref().unwrap().remaining, 1);
        // The limit refuses a cost of 9: the credits do not move.
        let v = r.verify_metered(&key, &RequestContext::at(T0), &req(9)).unwrap();
        assert_eq!(v.decision.unwrap_err().error_code(), ErrorCode::RateLimited);
        assert_eq!(v.meter.unwrap().credits.unwrap().remaining, 1);
        assert_eq!(r.credit_balance("acct_1", &id).unwrap(), Some(1));
        // A dry run answers without spending.
        let dry = MeterRequest { cost: 1, limits: None, dry_run: true };
        let v = r.verify_metered(&key, &RequestContext::at(T0), &dry).unwrap();
        assert!(v.decision.is_ok());
        assert_eq!(v.meter.unwrap().credits.unwrap().remaining, 0);
        assert_eq!(r.credit_balance("acct_1", &id).unwrap(), Some(1));
        assert_eq!(verify_at(&r, &key, &req(1), T0), None);
        assert_eq!(verify_at(&r, &key, &req(1), T0), Some(ErrorCode::UsageExceeded));
    }

    fn only_the_named_limits_apply_and_unknown_names_are_refused(fx) {
        let r = fx.open();
        let (key, _) = metered(
            &r,
            vec![limit("per_second", 1, 1_000), limit("per_day", 100, 86_400_000)],
            None,
        );
        let day_only = MeterRequest { cost: 1, limits: Some(vec!["per_day".into()]), dry_run: false };
        for _ in 0..3 {
            let v = r.verify_metered(&key, &RequestContext::at(T0), &day_only).unwrap();
            assert!(v.decision.is_ok());
            assert_eq!(v.meter.unwrap().limits.len(), 1);
        }
        assert_eq!(verify_at(&r, &key, &req(1), T0), None);
        assert_eq!(verify_at(&r, &key, &req(1), T0), Some(ErrorCode::RateLimited));
        let typo = MeterRequest { cost: 1, limits: Some(vec!["per_dya".into()]), dry_run: false };
        let e = r.verify_metered(&key, &RequestContext::at(T0), &typo).unwrap_err();
        assert_eq!(e.error_code(), ErrorCode::InvalidArgument);
        let mut bad = NewKey::new("acct_1", "bad");
        bad.limits = vec![limit("w", 5, 0)];
        assert_eq!(r.create(&bad, &alice()).unwrap_err().error_code(), ErrorCode::InvalidArgument);
    }

    fn counters_and_credits_survive_roll_update_disable_and_restart(fx) {
        let (key, id) = {
            let r = fx.open();
            let (key, id) = metered(&r, vec![limit("per_minute", 5, 60_000)], Some(credits(10)));
            assert_eq!(verify_at(&r, &key, &req(2), T0), None);
            let rec = r.get("acct_1", &id).unwrap();
            let rolled = r.roll("acct_1", &id, 60, Some(rec.version), &alice()).unwrap();
            assert_eq!(verify_at(&r, rolled.key.expose(), &req(1), T0), None);
            let rec = r.get("acct_1", &id).unwrap();
            r.disable("acct_1", &id, rec.version, &alice()).unwrap();
            // A disabled key spends nothing.
            assert_eq!(verify_at(&r, rolled.key.expose(), &req(1), T0), Some(ErrorCode::KeyDisabled));
            let rec = r.get("acct_1", &id).unwrap();
            r.enable("acct_1", &id, rec.version, &alice()).unwrap();
            let mut p = KeyPatch::new(r.get("acct_1", &id).unwrap().version);
            p.description = Some("changed".into());
            r.update("acct_1", &id, &p, &alice()).unwrap();
            (rolled.key.expose().to_owned(), id)
        };
        // Restart: a clean close gave the leases back.
        let r = fx.open();
        let v = r.verify_metered(&key, &RequestContext::at(T0), &req(1)).unwrap();
        assert!(v.decision.is_ok());
        let m = v.meter.unwrap();
        assert_eq!(m.limits[0].remaining, 1);
        assert_eq!(m.credits.unwrap().remaining, 6);
        assert_eq!(r.credit_balance("acct_1", &id).unwrap(), Some(6));
    }

    fn a_clean_close_gives_back_the_leases_of_every_key(fx) {
        // More keys than one give-back transaction takes (256).
        let keys: Vec<(String, String)> = {
            let r = fx.open();
            let keys: Vec<_> = (0..300)
                .map(|i| {
                    let mut n = NewKey::new("acct_1", &format!("metered-{i}"));
                    n.limits = vec![limit("per_minute", 10, 60_000)];
                    n.credits = Some(credits(100));
                    let c = r.create(&n, &alice()).unwrap();
                    (c.key.expose().to_owned(), c.record.id.clone())
                })
                .collect();
            for (key, _) in &keys {
                assert_eq!(verify_at(&r, key, &req(1), T0), None);
            }
            keys
        };
        let r = fx.open();
        for (key, id) in &keys {
            assert_eq!(r.credit_balance("acct_1", id).unwrap(), Some(99), "{id}");
            let v = r.verify_metered(key, &RequestContext::at(T0), &req(9)).unwrap();
            assert!(v.decision.is_ok(), "{id}");
            assert_eq!(v.meter.unwrap().limits[0].remaining, 0, "{id}");
        }
    }

    fn credits_spent_never_come_back_after_a_crash(fx) {
        let spent = 37;
        let id = {
            let r = fx.open();
            let (key, id) = metered(&r, vec![], Some(credits(1_000)));
            for _ in 0..spent {
                assert_eq!(verify_at(&r, &key, &req(1), T0), None);
            }
            // No close: the leases this instance held are lost with it.
            std::mem::forget(r);
            id
        };
        let r = fx.open();
        let left = r.credit_balance("acct_1", &id).unwrap().unwrap();
        assert!(left <= 1_000 - spent, "{left}");
        // What a crash may lose is bounded by the credit lease: at most 1/16 of the balance.
        assert!(left >= 1_000 - spent - 1_000 / 16, "{left}");
    }

    fn changes_to_limits_and_credits_are_versioned_and_audited(fx) {
        let r = fx.open();
        let (key, id) = metered(&r, vec![limit("per_minute", 2, 60_000)], None);
        assert_eq!(verify_at(&r, &key, &req(2), T0), None);
        let rec = r.get("acct_1", &id).unwrap();
        let mut p = KeyPatch::new(rec.version);
        p.limits = Some(vec![limit("per_minute", 3, 60_000)]);
        p.credits = Some(Some(CreditSpec {
            remaining: Some(50),
            refill: Some(RefillSpec { amount: 50, interval: "monthly".into(), day: Some(31), cap: None }),
        }));
        let stale = KeyPatch { expected_version: rec.version, ..p.clone() };
        r.update("acct_1", &id, &p, &alice()).unwrap();
        assert_eq!(
            r.update("acct_1", &id, &stale, &alice()).unwrap_err().error_code(),
            ErrorCode::VersionConflict
        );
        // The counter kept counting (same name and window): one more fits, not three.
        assert_eq!(verify_at(&r, &key, &req(1), T0), None);
        assert_eq!(verify_at(&r, &key, &req(1), T0), Some(ErrorCode::RateLimited));
        assert_eq!(r.credit_balance("acct_1", &id).unwrap(), Some(49));
        let audit = r.audit("acct_1", &AuditQuery { key_id: Some(id.clone()), ..AuditQuery::default() }).unwrap();
        let change = audit.data.iter().find(|e| e.changes.contains_key("limits")).expect("a limits change");
        assert_eq!(change.changes["limits"]["new"][0]["limit"], 3);
        assert!(change.changes.contains_key("credits"));
    }

    fn keys_of_one_owner_share_the_owners_limits_and_credits(fx) {
        let r = fx.open();
        let patch = OwnerMeterPatch {
            expected_version: 0,
            limits: Some(vec![limit("per_minute", 3, 60_000)]),
            credits: Some(Some(credits(10))),
        };
        let set = r.update_owner_meter("acct_1", "user_7", &patch, &alice()).unwrap();
        assert_eq!(set.version, 1);
        assert_eq!(set.credits.as_ref().unwrap().remaining, Some(10));
        assert_eq!(
            r.update_owner_meter("acct_1", "user_7", &patch, &alice()).unwrap_err().error_code(),
            ErrorCode::VersionConflict
        );
        let mut keys = Vec::new();
        for name in ["a", "b"] {
            let mut n = NewKey::new("acct_1", name);
            n.owner = Some("user_7".into());
            n.credits = Some(credits(100));
            keys.push(r.create(&n, &alice()).unwrap());
        }
        let (a, b) = (keys[0].key.expose(), keys[1].key.expose());
        assert_eq!(verify_at(&r, a, &req(1), T0), None);
        assert_eq!(verify_at(&r, b, &req(1), T0), None);
        let v = r.verify_metered(a, &RequestContext::at(T0), &req(1)).unwrap();
        assert!(v.decision.is_ok());
        let m = v.meter.unwrap();
        assert_eq!(m.limits[0].scope, Scope::Owner);
        assert_eq!(m.limits[0].remaining, 0);
        assert_eq!(m.owner_credits.unwrap().remaining, 7);
        assert_eq!(m.credits.unwrap().remaining, 98);
        // The owner's limit refuses key b: b's own credits are not spent.
        let v = r.verify_metered(b, &RequestContext::at(T0), &req(1)).unwrap();
        assert_eq!(v.decision.unwrap_err().error_code(), ErrorCode::RateLimited);
        assert_eq!(v.meter.unwrap().credits.unwrap().remaining, 99);
        // Credits added to the owner are shared; the log says so.
        assert_eq!(r.add_owner_credits("acct_1", "user_7", 5, &alice()).unwrap(), 12);
        assert_eq!(r.owner_meter("acct_1", "user_7").unwrap().credits.unwrap().remaining, Some(12));
        let audit = r
            .audit("acct_1", &AuditQuery { key_id: Some("owner:user_7".into()), ..AuditQuery::default() })
            .unwrap();
        assert_eq!(audit.data.len(), 2);
        // An owner without rules meters nothing for its keys.
        assert_eq!(r.owner_meter("acct_1", "nobody").unwrap().version, 0);
        // Key credits can be added too, and are logged.
        let id = &keys[0].record.id;
        assert_eq!(r.add_credits("acct_1", id, 2, &alice()).unwrap(), 100);
    }

    fn two_instances_never_admit_more_than_the_limit(fx) {
        let a = Arc::new(fx.open());
        let b = Arc::new(fx.open());
        let (key, _) = metered(&a, vec![limit("per_minute", 100, 60_000)], None);
        let barrier = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let r = Arc::clone(if i % 2 == 0 { &a } else { &b });
                let key = key.clone();
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    barrier.wait();
                    (0..40)
                        .filter(|_| verify_at(&r, &key, &req(1), T0).is_none())
                        .count()
                })
            })
            .collect();
        let admitted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        // 320 requests for a limit of 100: never more; at least 100 - ceil(100 / 8).
        assert!(admitted <= 100, "{admitted}");
        assert!(admitted >= 100 - 13, "{admitted}");
    }

    fn one_instance_answers_exactly_as_the_core_across_window_rolls(fx) {
        // A generated stream over many windows: every answer (allowed, remaining, reset,
        // retry) is the core's for one state, while the background thread renews the
        // leases taken ahead whenever it runs.
        const WINDOW_MS: u64 = 1_000;
        let clock = MsClock::at(T0 as u64 * 1000);
        let r = fx.open_with(|c| c.clock = clock.clone());
        let spec = vec![limit("per_second", 40, WINDOW_MS)];
        let (key, id) = metered(&r, spec.clone(), None);
        let rules = keyseal_registry::meter::spec::rules_for(&id, &spec, None).unwrap();
        let core = rules.limits[0].1;
        let mut state = keyseal::meter::WindowState::default();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut now = T0 as u64 * 1000;
        let (mut allowed, mut refused, mut rolls) = (0, 0, 0);
        for i in 0..1_500 {
            // Mostly a few ms apart, sometimes a jump past one or two windows.
            now += match rng.below(50) {
                0 => WINDOW_MS + rng.below(2 * WINDOW_MS),
                _ => rng.below(20),
            };
            clock.set(now);
            let cost = rng.below(5);
            let before = state.start_ms;
            let want = core.spend(&mut state, now, cost);
            rolls += u32::from(state.start_ms != before && i > 0);
            let v = r.verify_metered(&key, &RequestContext::at(T0), &req(cost)).unwrap();
            let got = &v.meter.unwrap().limits[0];
            assert_eq!(
                (got.allowed, got.remaining, got.reset_ms),
                (want.allowed, want.remaining, want.reset_ms),
                "request {i} at {now} of cost {cost}"
            );
            assert_eq!(v.decision.is_ok(), want.allowed, "request {i}");
            if want.allowed { allowed += 1 } else { refused += 1 }
            if i % 16 == 0 {
                // Room for the background thread (it runs every 100 ms).
                std::thread::sleep(std::time::Duration::from_millis(7));
            }
        }
        assert!(allowed > 100 && refused > 100 && rolls > 30, "{allowed} {refused} {rolls}");
    }

    fn a_key_in_steady_use_is_renewed_off_the_request_path(fx) {
        // The first request of a window takes units of the next one ahead; the first
        // request after the roll is decided from them, and the background thread then
        // takes the following window's units.
        let clock = MsClock::at(T0 as u64 * 1000);
        let r = fx.open_with(|c| c.clock = clock.clone());
        let (key, id) = metered(&r, vec![limit("per_minute", 100, 60_000)], None);
        let first = r.verify_metered(&key, &RequestContext::at(T0), &req(1)).unwrap();
        let next_window = first.meter.unwrap().limits[0].reset_ms;
        let row = || {
            let sql = format!("SELECT start_ms, ahead FROM meter_windows WHERE subject = '{id}'");
            let r = fx.raw(&sql).remove(0);
            let n = |i: usize| r[i].as_deref().unwrap().parse::<u64>().unwrap();
            (n(0), n(1))
        };
        // ceil(99 / 8) = 13: 7 units of this window, 6 of the next.
        assert_eq!(row(), (next_window - 60_000, 6));
        clock.set(next_window);
        assert_eq!(verify_at(&r, &key, &req(1), T0), None);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while row() != (next_window, 6) {
            assert!(std::time::Instant::now() < deadline, "not renewed: {:?}", row());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // The database now says the window is far over its limit (as if other instances
        // had spent it): a request that read it would be refused. After the next roll
        // the request is admitted from the units leased ahead, without reading it.
        fx.raw(&format!("UPDATE meter_windows SET current = 1000 WHERE subject = '{id}'"));
        clock.set(next_window + 60_000);
        assert_eq!(verify_at(&r, &key, &req(1), T0), None);
    }

    fn keys_and_their_owner_answer_exactly_as_the_core_across_window_rolls(fx) {
        // Two keys with limits of their own and one their owner shares: each request is
        // the core's `spend_all` over the key's limit and the owner's, all or nothing,
        // while both subjects roll onto units leased ahead and are renewed.
        const WINDOW_MS: u64 = 1_000;
        let clock = MsClock::at(T0 as u64 * 1000);
        let r = fx.open_with(|c| c.clock = clock.clone());
        let patch = OwnerMeterPatch {
            expected_version: 0,
            limits: Some(vec![limit("shared", 50, WINDOW_MS)]),
            credits: None,
        };
        r.update_owner_meter("acct_1", "user_7", &patch, &alice()).unwrap();
        let keys: Vec<String> = ["a", "b"]
            .iter()
            .map(|name| {
                let mut n = NewKey::new("acct_1", name);
                n.owner = Some("user_7".into());
                n.limits = vec![limit("own", 30, WINDOW_MS)];
                r.create(&n, &alice()).unwrap().key.expose().to_owned()
            })
            .collect();
        // Each limit's phase, from its first answer (a cost of 0 spends nothing).
        let mut zero = req(0);
        zero.dry_run = true;
        let phase = |key: &str, scope: Scope| {
            let v = r.verify_metered(key, &RequestContext::at(T0), &zero).unwrap();
            let l = v.meter.unwrap().limits.into_iter().find(|l| l.scope == scope).unwrap();
            l.reset_ms % WINDOW_MS
        };
        let rule = |limit, key: &str, scope| {
            keyseal::meter::RateLimit::new(limit, WINDOW_MS).unwrap().with_phase(phase(key, scope))
        };
        let own = [rule(30, &keys[0], Scope::Key), rule(30, &keys[1], Scope::Key)];
        let shared = rule(50, &keys[0], Scope::Owner);
        assert_eq!(shared, rule(50, &keys[1], Scope::Owner));
        let mut own_state = [keyseal::meter::WindowState::default(); 2];
        let mut shared_state = keyseal::meter::WindowState::default();
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut now = T0 as u64 * 1000;
        let (mut allowed, mut refused) = (0, 0);
        for i in 0..1_500 {
            now += match rng.below(50) {
                0 => WINDOW_MS + rng.below(2 * WINDOW_MS),
                _ => rng.below(15),
            };
            clock.set(now);
            let k = rng.below(2) as usize;
            let cost = rng.below(4);
            let want = {
                let mut limits = [
                    keyseal::meter::LimitSlot::new(&own[k], &mut own_state[k]),
                    keyseal::meter::LimitSlot::new(&shared, &mut shared_state),
                ];
                let verdict = keyseal::meter::spend_all(now, cost, false, &mut limits, &mut []);
                let d: Vec<_> = limits.iter().map(|l| l.decision.unwrap()).collect();
                (verdict.allowed, d[0].remaining, d[1].remaining)
            };
            let v = r.verify_metered(&keys[k], &RequestContext::at(T0), &req(cost)).unwrap();
            let m = v.meter.unwrap();
            let by = |scope| m.limits.iter().find(|l| l.scope == scope).unwrap().remaining;
            let got = (v.decision.is_ok(), by(Scope::Key), by(Scope::Owner));
            assert_eq!(got, want, "request {i} on key {k} at {now} of cost {cost}");
            if want.0 { allowed += 1 } else { refused += 1 }
            if i % 16 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(7));
            }
        }
        assert!(allowed > 100 && refused > 100, "{allowed} {refused}");
    }

    fn two_instances_admit_the_units_leased_ahead_only_within_the_limit(fx) {
        // A leases units of the next window ahead with its first request, spends its
        // lease of this window, and goes idle; B fills what is left of the window; when
        // the window rolls, A admits what it leased ahead and B nothing. At the first
        // moment of the next window the previous one counts in full, so the two windows
        // together may admit the limit and no more: had the units leased ahead not been
        // counted against the first window's room, B would have filled it regardless.
        const LIMIT: u64 = 100;
        let clock = MsClock::at(T0 as u64 * 1000);
        let a = fx.open_with(|c| c.clock = clock.clone());
        let b = fx.open_with(|c| c.clock = clock.clone());
        let (key, _) = metered(&a, vec![limit("per_minute", LIMIT, 60_000)], None);
        let first = a.verify_metered(&key, &RequestContext::at(T0), &req(1)).unwrap();
        assert!(first.decision.is_ok());
        let next_window = first.meter.unwrap().limits[0].reset_ms;
        let admit = |r: &Registry, n: usize| {
            (0..n)
                .filter(|_| verify_at(r, &key, &req(1), T0).is_none())
                .count() as u64
        };
        // A's grant is ceil(99 / 8) = 13 units: 7 of this window (the cost and half the
        // rest) and 6 of the next.
        let on_a = 1 + admit(&a, 7);
        let on_b = admit(&b, 2 * LIMIT as usize);
        assert_eq!((on_a, on_b), (8, LIMIT - 8 - 6));
        clock.set(next_window);
        let next_on_a = admit(&a, 20);
        let next_on_b = admit(&b, 20);
        assert_eq!((next_on_a, next_on_b), (6, 0));
        assert_eq!(on_a + on_b + next_on_a + next_on_b, LIMIT);
    }
}

/// A clock in milliseconds, moved by hand: window edges are milliseconds apart.
struct MsClock(AtomicU64);

impl Clock for MsClock {
    fn now(&self) -> i64 {
        (self.0.load(Ordering::SeqCst) / 1000) as i64
    }
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl MsClock {
    fn at(ms: u64) -> Arc<MsClock> {
        Arc::new(MsClock(AtomicU64::new(ms)))
    }
    fn set(&self, ms: u64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

/// A small deterministic generator (xorshift64*), for generated request streams.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// The decision's code at `now`, or `None` when allowed.
fn verify_at(r: &Registry, key: &str, m: &MeterRequest, now: i64) -> Option<ErrorCode> {
    let v = r.verify_metered(key, &RequestContext::at(now), m).unwrap();
    v.decision.err().map(|e| e.error_code())
}
