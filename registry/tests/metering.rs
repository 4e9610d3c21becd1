//! Metering through the registry: named limits and credits on keys, checked and spent
//! with verification, atomically, across restarts and between instances. Every test runs
//! on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Barrier};

use keyseal::{ErrorCode, RequestContext};
use keyseal_registry::meter::{
    CreditSpec, LimitSpec, MeterRequest, OwnerMeterPatch, RefillSpec, Scope,
};
use keyseal_registry::{Actor, AuditQuery, KeyPatch, NewKey, Registry};

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
}

/// The decision's code at `now`, or `None` when allowed.
fn verify_at(r: &Registry, key: &str, m: &MeterRequest, now: i64) -> Option<ErrorCode> {
    let v = r.verify_metered(key, &RequestContext::at(now), m).unwrap();
    v.decision.err().map(|e| e.error_code())
}
