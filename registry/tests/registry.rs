//! The registry suite: every test runs on SQLite and on PostgreSQL (see `common`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, Barrier};

use keyseal::digest::sha256_hex;
use keyseal::{ErrorCode, KeyFormat, Pepper, PepperSet, RequestContext, Validation};
use keyseal_registry::{
    Actor, AuditAction, AuditQuery, ImportKey, KeyPatch, KeyStatus, ListQuery, NewKey, Registry,
    SCHEMA_VERSION, Storage,
};
use serde_json::{Map, json};

fn alice() -> Actor {
    Actor::user("alice")
}

fn code<T: std::fmt::Debug>(r: Result<T, keyseal::Error>) -> ErrorCode {
    r.expect_err("expected an error").error_code()
}

fn ctx(now: i64) -> RequestContext<'static> {
    RequestContext::at(now)
}

const T0: i64 = common::T0;

/// A well-formed key of the test format whose id the registry has never seen.
fn stranger() -> keyseal::ApiKey {
    KeyFormat::new("ks_test").unwrap().generate_os().unwrap()
}

#[test]
fn registry_is_send_and_sync() {
    fn assert<T: Send + Sync + 'static>() {}
    assert::<Registry>();
}

both! {
    fn create_get_verify(fx) {
        let r = fx.open();
        let mut n = NewKey::new("acct_1", "ci-deploy");
        n.description = "deploys from CI".into();
        n.owner = Some("user_42".into());
        n.role = Some("account-owner".into());
        n.scopes = vec!["keys:read".into(), "orders:*".into()];
        n.metadata = json!({"team": "infra", "n": 3}).as_object().unwrap().clone();
        let created = r.create(&n, &alice()).unwrap();
        let rec = &created.record;
        assert_eq!(rec.version, 1);
        assert_eq!(rec.account, "acct_1");
        assert_eq!(rec.name, "ci-deploy");
        assert_eq!(rec.created_at, T0);
        assert_eq!(rec.created_by, alice());
        assert_eq!(rec.modified_by, alice());
        assert!(rec.enabled);
        assert_eq!(created.key.id(), rec.id);
        assert_eq!(created.key.prefix(), "ks_test");

        let got = r.get("acct_1", &rec.id).unwrap();
        assert_eq!(&got, rec);

        let v = r.verify(created.key.expose(), &ctx(T0)).unwrap();
        assert!(v.decision.is_ok());
        assert_eq!(v.record.id, rec.id);
        let need = ["orders:create"];
        let mut c = ctx(T0);
        c.required_scopes = &need;
        assert!(r.verify(created.key.expose(), &c).unwrap().decision.is_ok());
        let need = ["admin"];
        c.required_scopes = &need;
        assert_eq!(
            r.verify(created.key.expose(), &c).unwrap().decision.unwrap_err().error_code(),
            ErrorCode::InsufficientScope
        );

        // A wrong secret with the right id and a valid checksum.
        let fmt = KeyFormat::new("ks_test").unwrap();
        let other = fmt.generate_os().unwrap();
        let mut forged = format!("ks_test_{}_{}", rec.id, other.expose_secret());
        let sum = keyseal::key::checksum(forged.as_bytes());
        forged.push_str(std::str::from_utf8(&sum).unwrap());
        assert_eq!(code(r.verify(&forged, &ctx(T0))), ErrorCode::DigestMismatch);
        assert_eq!(code(r.verify("ks_test_nope", &ctx(T0))), ErrorCode::MalformedKey);
        assert_eq!(code(r.verify(stranger().expose(), &ctx(T0))), ErrorCode::NotFound);
    }

    fn cached_record_round_trips(fx) {
        // The verify cache keeps records packed; what a verification returns must be
        // the record `get` reads, field for field (`last_used_at` is as of loading, so
        // it is not tracked here).
        let r = fx.open_with(|c| c.track_last_used = false);
        let mut n = NewKey::new("acct_1", "full");
        n.description = "every field set".into();
        n.owner = Some("user_42".into());
        n.role = Some("account-owner".into());
        n.scopes = vec!["keys:read".into(), "orders:*".into()];
        n.allowed_ips = vec!["10.0.0.0/8".into(), "2001:db8::/32".into()];
        n.read_only = true;
        n.expires_at = Some(T0 + 86_400);
        n.metadata = json!({"team": "infra", "n": 3, "nested": {"a": [1, 2]}})
            .as_object()
            .unwrap()
            .clone();
        let created = r.create(&n, &alice()).unwrap();
        let id = created.record.id.clone();
        let rolled = r.roll("acct_1", &id, 3_600, None, &Actor::key("other")).unwrap();
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        let mut c = ctx(T0);
        c.client_ip = Some(ip);
        c.method = Some("GET");
        for key in [created.key.expose(), rolled.key.expose()] {
            let v = r.verify(key, &c).unwrap();
            assert!(v.decision.is_ok(), "{:?}", v.decision);
            assert_eq!(*v.record, r.get("acct_1", &id).unwrap());
            // And again from the cache.
            let v = r.verify_cached(key, &c).expect("cached").unwrap();
            assert_eq!(*v.record, r.get("acct_1", &id).unwrap());
        }
        // The minimal record: no owner, role, scopes, networks or metadata.
        let bare = r.create(&NewKey::new("acct_1", "bare"), &Actor::System).unwrap();
        let v = r.verify(bare.key.expose(), &ctx(T0)).unwrap();
        assert_eq!(*v.record, bare.record);
        assert!(r.cache_memory_estimate() > 0);
    }

    fn verify_cached_never_touches_the_database(fx) {
        let r = fx.open();
        let created = r.create(&NewKey::new("acct_1", "k"), &alice()).unwrap();
        let key = created.key.expose();
        // Not cached yet: the caller must retry on a thread that may block.
        assert!(r.verify_cached(key, &ctx(T0)).is_none());
        assert!(r.verify(key, &ctx(T0)).unwrap().decision.is_ok());
        assert!(r.verify_cached(key, &ctx(T0)).unwrap().unwrap().decision.is_ok());
        // Answers that need no record come from memory too.
        assert_eq!(
            code(r.verify_cached("ks_test_nope", &ctx(T0)).unwrap()),
            ErrorCode::MalformedKey
        );
        let unknown = stranger();
        assert!(r.verify_cached(unknown.expose(), &ctx(T0)).is_none());
        assert_eq!(code(r.verify(unknown.expose(), &ctx(T0))), ErrorCode::NotFound);
        assert_eq!(
            code(r.verify_cached(unknown.expose(), &ctx(T0)).unwrap()),
            ErrorCode::NotFound
        );
        // A write drops the cached copy: the next answer reads the new row.
        r.disable("acct_1", &created.record.id, 1, &alice()).unwrap();
        assert!(r.verify_cached(key, &ctx(T0)).is_none());
        let v = r.verify(key, &ctx(T0)).unwrap();
        assert_eq!(v.decision.unwrap_err().error_code(), ErrorCode::KeyDisabled);
        let v = r.verify_cached(key, &ctx(T0)).unwrap().unwrap();
        assert_eq!(v.decision.unwrap_err().error_code(), ErrorCode::KeyDisabled);
        // Past the cache TTL the record is reloaded, not trusted.
        fx.clock.advance(r.config().cache_ttl);
        assert!(r.verify_cached(key, &ctx(T0)).is_none());
        // Exchange has the same split.
        let r = fx.open_with(|c| {
            c.keyset = Some(keyseal::Keyset::new(
                keyseal::TokenKey::new("k1", keyseal::Algorithm::HS256, &[9u8; 32]).unwrap(),
            ));
        });
        let k = r.create(&NewKey::new("acct_1", "x"), &alice()).unwrap();
        assert!(r.exchange_cached(k.key.expose(), &ctx(T0), None).is_none());
        r.exchange(k.key.expose(), &ctx(T0), None).unwrap();
        let t = r.exchange_cached(k.key.expose(), &ctx(T0), None).unwrap().unwrap();
        assert_eq!(t.record.id, k.record.id);
    }

    fn resolve_key_by_id_or_name(fx) {
        let r = fx.open();
        let a = r.create(&NewKey::new("acct_1", "MyAPIkey"), &alice()).unwrap().record;
        let b = r.create(&NewKey::new("acct_2", "MyAPIkey"), &alice()).unwrap().record;
        assert_eq!(r.resolve_key("acct_1", &a.id).unwrap(), a.id);
        assert_eq!(r.resolve_key("acct_1", "MyAPIkey").unwrap(), a.id);
        assert_eq!(r.resolve_key("acct_1", "name:MyAPIkey").unwrap(), a.id);
        assert_eq!(r.resolve_key("acct_2", "MyAPIkey").unwrap(), b.id);
        // Another account's key, by id or name, and unknown or invalid names.
        for (acct, k) in [
            ("acct_1", b.id.as_str()),
            ("acct_1", "nope"),
            ("acct_1", "name:"),
            ("acct_1", "name:bad name"),
            ("acct_1", "bad name"),
            ("acct_3", "MyAPIkey"),
        ] {
            assert_eq!(code(r.resolve_key(acct, k)), ErrorCode::NotFound, "{acct} {k}");
        }
        // An id-shaped name (16 letters) is still a name when no key has that id.
        let shaped = r
            .create(&NewKey::new("acct_1", "productionserver"), &alice())
            .unwrap()
            .record;
        assert_eq!(r.resolve_key("acct_1", "productionserver").unwrap(), shaped.id);
        // A name copied from another key's id: the id wins; `name:` reaches the name.
        let copied = r.create(&NewKey::new("acct_1", &a.id), &alice()).unwrap().record;
        assert_eq!(r.resolve_key("acct_1", &a.id).unwrap(), a.id);
        assert_eq!(r.resolve_key("acct_1", &format!("name:{}", a.id)).unwrap(), copied.id);
        // Deleted keys are not found; their name can be reused.
        r.delete("acct_1", &a.id, None, &alice()).unwrap();
        assert_eq!(code(r.resolve_key("acct_1", "MyAPIkey")), ErrorCode::NotFound);
        assert_eq!(r.resolve_key("acct_1", &a.id).unwrap(), copied.id);
        let again = r.create(&NewKey::new("acct_1", "MyAPIkey"), &alice()).unwrap().record;
        assert_eq!(r.resolve_key("acct_1", "MyAPIkey").unwrap(), again.id);
    }

    fn secret_is_never_stored_or_shown(fx) {
        let r = fx.open();
        let created = r.create(&NewKey::new("acct_1", "k"), &alice()).unwrap();
        let secret = created.key.expose_secret().to_owned();
        let full = created.key.expose().to_owned();
        // The database holds only the peppered digest.
        let digest = fx.raw_one("SELECT digest FROM keys").unwrap();
        assert!(digest.starts_with("v1.p1."), "stored digest has the v1 form");
        for table in ["keys", "audit"] {
            for row in fx.raw(&format!("SELECT * FROM {table}")) {
                for col in row.into_iter().flatten() {
                    assert!(!col.contains(&secret), "{table} holds the secret");
                    assert!(!col.contains(&full));
                }
            }
        }
        // Nor any public type, its JSON, or Debug.
        let json = serde_json::to_string(&created.record).unwrap();
        assert!(!json.contains(&secret) && !json.contains(&digest));
        let dbg = format!("{created:?}");
        assert!(!dbg.contains(&secret), "Debug shows the secret");
        let rolled = r.roll("acct_1", &created.record.id, 0, None, &alice()).unwrap();
        assert!(!format!("{rolled:?}").contains(rolled.key.expose_secret()));
        let audit = r.audit("acct_1", &AuditQuery::default()).unwrap();
        let aj = serde_json::to_string(&audit).unwrap();
        assert!(!aj.contains(&secret) && !aj.contains(rolled.key.expose_secret()));
        assert!(!aj.contains("v1.p1."));
    }

    fn names_are_validated_and_unique_among_live_keys(fx) {
        let r = fx.open();
        for bad in ["", "has space", "semi;colon", "x'; DROP TABLE keys;--", "ünï", &"a".repeat(65)] {
            assert_eq!(code(r.create(&NewKey::new("acct_1", bad), &alice())), ErrorCode::InvalidName, "{bad:?}");
        }
        let a = r.create(&NewKey::new("acct_1", "prod_key-1"), &alice()).unwrap();
        assert_eq!(code(r.create(&NewKey::new("acct_1", "prod_key-1"), &alice())), ErrorCode::NameConflict);
        // The same name in another account is fine.
        r.create(&NewKey::new("acct_2", "prod_key-1"), &alice()).unwrap();
        // Renaming onto a taken name conflicts too.
        let b = r.create(&NewKey::new("acct_1", "other"), &alice()).unwrap();
        let mut p = KeyPatch::new(1);
        p.name = Some("prod_key-1".into());
        assert_eq!(code(r.update("acct_1", &b.record.id, &p, &alice())), ErrorCode::NameConflict);
        // After a delete the name is free again.
        r.delete("acct_1", &a.record.id, Some(1), &alice()).unwrap();
        r.create(&NewKey::new("acct_1", "prod_key-1"), &alice()).unwrap();
        assert_eq!(code(r.create(&NewKey::new("bad account!", "x"), &alice())), ErrorCode::InvalidArgument);
    }

    fn bad_input_gets_error_codes_and_sql_is_inert(fx) {
        let r = fx.open();
        let mut n = NewKey::new("acct_1", "k1");
        n.allowed_ips = vec!["10.0.0.1/8".into()];
        assert_eq!(code(r.create(&n, &alice())), ErrorCode::InvalidCidr);
        n.allowed_ips = vec!["not-an-ip".into()];
        assert_eq!(code(r.create(&n, &alice())), ErrorCode::InvalidCidr);
        n.allowed_ips = vec!["2001:db8::/129".into()];
        assert_eq!(code(r.create(&n, &alice())), ErrorCode::InvalidCidr);
        n.allowed_ips = vec![];
        n.scopes = vec!["bad scope".into()];
        assert_eq!(code(r.create(&n, &alice())), ErrorCode::InvalidScope);
        n.scopes = vec![];
        let mut big = Map::new();
        big.insert("blob".into(), json!("x".repeat(9000)));
        n.metadata = big;
        assert_eq!(code(r.create(&n, &alice())), ErrorCode::PayloadTooLarge);
        let mut many = Map::new();
        for i in 0..51 {
            many.insert(format!("k{i}"), json!(i));
        }
        n.metadata = many;
        assert_eq!(code(r.create(&n, &alice())), ErrorCode::InvalidMetadata);
        n.metadata = Map::new();
        n.role = Some("role with space".into());
        assert_eq!(code(r.create(&n, &alice())), ErrorCode::InvalidArgument);
        n.role = None;
        n.description = "x".repeat(501);
        assert_eq!(code(r.create(&n, &alice())), ErrorCode::InvalidArgument);

        // SQL-looking text is stored and returned verbatim, and changes nothing.
        let evil = "'; DROP TABLE keys; -- \" OR 1=1 ?";
        let mut n = NewKey::new("acct_1", "evil");
        n.description = evil.into();
        n.owner = Some(evil.into());
        n.metadata = json!({"q": evil, "'); DELETE FROM audit; --": 1}).as_object().unwrap().clone();
        let k = r.create(&n, &alice()).unwrap();
        let got = r.get("acct_1", &k.record.id).unwrap();
        assert_eq!(got.description, evil);
        assert_eq!(got.owner.as_deref(), Some(evil));
        let q = ListQuery { owner: Some(evil.into()), ..ListQuery::default() };
        assert_eq!(r.list("acct_1", &q).unwrap().total, 1);
        let q = ListQuery { owner: Some("x' OR '1'='1".into()), ..ListQuery::default() };
        assert_eq!(r.list("acct_1", &q).unwrap().total, 0);
        assert_eq!(code(r.get("acct_1", "' OR 1=1 --")), ErrorCode::NotFound);
        assert_eq!(fx.raw_one("SELECT COUNT(*) FROM keys").as_deref(), Some("1"));
        assert_eq!(fx.raw_one("SELECT COUNT(*) FROM audit").as_deref(), Some("1"));
        // Messages never echo input.
        let e = r.create(&NewKey::new("acct_1", "x'; DROP"), &alice()).unwrap_err();
        assert!(!e.to_string().contains("DROP"));
    }

    fn list_filters_and_paginates(fx) {
        let r = fx.open();
        let mut ids = Vec::new();
        for i in 0..30 {
            let mut n = NewKey::new("acct_1", &format!("key-{i:02}"));
            n.owner = Some(if i % 3 == 0 { "bob".into() } else { "carol".into() });
            n.role = Some(if i % 2 == 0 { "merchant-terminal".into() } else { "account-owner".into() });
            ids.push(r.create(&n, &alice()).unwrap().record.id);
        }
        r.create(&NewKey::new("acct_2", "elsewhere"), &alice()).unwrap();
        let newest_first: Vec<String> = ids.iter().rev().cloned().collect();

        let p1 = r.list("acct_1", &ListQuery::default()).unwrap();
        assert_eq!((p1.count, p1.total, p1.has_more), (25, 30, true));
        assert_eq!(p1.data.iter().map(|k| k.id.clone()).collect::<Vec<_>>(), newest_first[..25]);
        let q2 = ListQuery { starting_after: p1.next_cursor.clone(), ..ListQuery::default() };
        let p2 = r.list("acct_1", &q2).unwrap();
        assert_eq!((p2.count, p2.total, p2.has_more), (5, 30, false));
        assert_eq!(p2.data.iter().map(|k| k.id.clone()).collect::<Vec<_>>(), newest_first[25..]);
        // Back again.
        let q3 = ListQuery { ending_before: p2.prev_cursor.clone(), limit: 10, ..ListQuery::default() };
        let p3 = r.list("acct_1", &q3).unwrap();
        assert_eq!(p3.data.iter().map(|k| k.id.clone()).collect::<Vec<_>>(), newest_first[15..25]);
        assert!(p3.has_more);
        // Offset.
        let q4 = ListQuery { offset: 28, ..ListQuery::default() };
        let p4 = r.list("acct_1", &q4).unwrap();
        assert_eq!(p4.data.iter().map(|k| k.id.clone()).collect::<Vec<_>>(), newest_first[28..]);
        // Filters.
        let q = ListQuery { owner: Some("bob".into()), ..ListQuery::default() };
        assert_eq!(r.list("acct_1", &q).unwrap().total, 10);
        let q = ListQuery { role: Some("account-owner".into()), limit: 100, ..ListQuery::default() };
        let p = r.list("acct_1", &q).unwrap();
        assert_eq!((p.total, p.count), (15, 15));
        assert!(p.data.iter().all(|k| k.role.as_deref() == Some("account-owner")));
        // Status: disable two, expire one, delete one.
        r.disable("acct_1", &ids[0], 1, &alice()).unwrap();
        r.disable("acct_1", &ids[1], 1, &alice()).unwrap();
        let mut p = KeyPatch::new(1);
        p.expires_at = Some(Some(T0 + 10));
        r.update("acct_1", &ids[2], &p, &alice()).unwrap();
        r.delete("acct_1", &ids[3], None, &alice()).unwrap();
        let count = |s: KeyStatus| r.list("acct_1", &ListQuery { status: s, ..ListQuery::default() }).unwrap().total;
        assert_eq!((count(KeyStatus::Active), count(KeyStatus::Inactive), count(KeyStatus::All), count(KeyStatus::Deleted)), (27, 2, 29, 1));
        fx.clock.advance(10);
        assert_eq!((count(KeyStatus::Active), count(KeyStatus::Inactive)), (26, 3));
        // Bad limits and cursors.
        for l in [0, 101] {
            assert_eq!(code(r.list("acct_1", &ListQuery { limit: l, ..ListQuery::default() })), ErrorCode::InvalidLimit);
        }
        assert_eq!(code(r.list("acct_1", &ListQuery { offset: 10_001, ..ListQuery::default() })), ErrorCode::InvalidArgument);
        for c in ["garbage", "' OR 1=1 --", "0000000000000000"] {
            let q = ListQuery { starting_after: Some(c.into()), ..ListQuery::default() };
            assert_eq!(code(r.list("acct_1", &q)), ErrorCode::InvalidCursor, "{c}");
        }
        // A cursor from another account is no cursor here.
        let other = r.list("acct_2", &ListQuery::default()).unwrap();
        let q = ListQuery { starting_after: other.next_cursor.clone(), ..ListQuery::default() };
        assert_eq!(code(r.list("acct_1", &q)), ErrorCode::InvalidCursor);
        let q = ListQuery { starting_after: Some(ids[5].clone()), ending_before: Some(ids[6].clone()), ..ListQuery::default() };
        assert_eq!(code(r.list("acct_1", &q)), ErrorCode::InvalidCursor);
    }

    fn update_is_versioned_and_audited(fx) {
        let r = fx.open();
        let k = r.create(&NewKey::new("acct_1", "k"), &alice()).unwrap();
        let id = k.record.id.clone();
        fx.clock.advance(5);
        let mut p = KeyPatch::new(1);
        p.description = Some("new text".into());
        p.scopes = Some(vec!["a:b".into()]);
        p.owner = Some(Some("dave".into()));
        let u = r.update("acct_1", &id, &p, &Actor::key("k_admin")).unwrap();
        assert_eq!(u.version, 2);
        assert_eq!(u.modified_at, T0 + 5);
        assert_eq!(u.modified_by, Actor::key("k_admin"));
        assert_eq!(u.created_at, T0);
        assert_eq!(u.description, "new text");
        // A stale version conflicts and changes nothing.
        let mut stale = KeyPatch::new(1);
        stale.description = Some("lost update".into());
        assert_eq!(code(r.update("acct_1", &id, &stale, &alice())), ErrorCode::VersionConflict);
        assert_eq!(r.get("acct_1", &id).unwrap().description, "new text");
        // A patch that changes nothing makes no version.
        let same = r.update("acct_1", &id, &KeyPatch::new(2), &alice()).unwrap();
        assert_eq!(same.version, 2);
        // Clearing an optional field.
        let mut p = KeyPatch::new(2);
        p.owner = Some(None);
        assert_eq!(r.update("acct_1", &id, &p, &alice()).unwrap().owner, None);
        let e = r.enable("acct_1", &id, 3, &alice()).unwrap();
        assert_eq!(e.version, 3, "enabling an enabled key changes nothing");
        let d = r.disable("acct_1", &id, 3, &alice()).unwrap();
        assert_eq!((d.version, d.enabled), (4, false));
        let audit = r.audit("acct_1", &AuditQuery { key_id: Some(id.clone()), ..AuditQuery::default() }).unwrap();
        let actions: Vec<AuditAction> = audit.data.iter().map(|e| e.action).collect();
        assert_eq!(actions, [AuditAction::Update, AuditAction::Update, AuditAction::Update, AuditAction::Create]);
        let first_update = &audit.data[2];
        assert_eq!(first_update.actor, Actor::key("k_admin"));
        assert_eq!(first_update.version, 2);
        assert_eq!(first_update.changes["description"], json!({"old": "", "new": "new text"}));
        assert_eq!(first_update.changes["owner"], json!({"old": null, "new": "dave"}));
        assert_eq!(first_update.changes["scopes"], json!({"old": [], "new": ["a:b"]}));
        assert!(!first_update.changes.contains_key("name"));
        assert_eq!(audit.data[0].changes["enabled"], json!({"old": true, "new": false}));
    }

    fn concurrent_updates_with_one_version_exactly_one_wins(fx) {
        let r = Arc::new(fx.open());
        let k = r.create(&NewKey::new("acct_1", "k"), &alice()).unwrap();
        let id = k.record.id.clone();
        let n = 8;
        let barrier = Arc::new(Barrier::new(n));
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (r, id, barrier) = (Arc::clone(&r), id.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    let mut p = KeyPatch::new(1);
                    p.description = Some(format!("writer {i}"));
                    barrier.wait();
                    r.update("acct_1", &id, &p, &Actor::user(&format!("u{i}")))
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let wins: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(wins.len(), 1, "exactly one writer wins");
        for e in results.iter().filter_map(|r| r.as_ref().err()) {
            assert_eq!(e.error_code(), ErrorCode::VersionConflict);
        }
        let now = r.get("acct_1", &id).unwrap();
        assert_eq!(now.version, 2);
        assert_eq!(now.description, wins[0].description);
        assert_eq!(r.audit("acct_1", &AuditQuery::default()).unwrap().total, 2);
    }

    fn delete_revokes_at_once(fx) {
        let r = fx.open();
        let k = r.create(&NewKey::new("acct_1", "k"), &alice()).unwrap();
        let id = k.record.id.clone();
        assert!(r.verify(k.key.expose(), &ctx(T0)).unwrap().decision.is_ok());
        assert_eq!(code(r.delete("acct_1", &id, Some(7), &alice())), ErrorCode::VersionConflict);
        let d = r.delete("acct_1", &id, Some(1), &alice()).unwrap();
        assert_eq!((d.version, d.deleted_at), (2, Some(T0)));
        // Cached before the delete, revoked right after it.
        let v = r.verify(k.key.expose(), &ctx(T0)).unwrap();
        assert_eq!(v.decision.unwrap_err().error_code(), ErrorCode::KeyRevoked);
        assert_eq!(code(r.authenticate(k.key.expose(), &ctx(T0))), ErrorCode::KeyRevoked);
        assert_eq!(code(r.get("acct_1", &id)), ErrorCode::NotFound);
        assert_eq!(code(r.delete("acct_1", &id, None, &alice())), ErrorCode::NotFound);
        let mut p = KeyPatch::new(2);
        p.enabled = Some(true);
        assert_eq!(code(r.update("acct_1", &id, &p, &alice())), ErrorCode::NotFound);
        // Still revoked after the cache is gone and after an unknown-id lookup storm.
        r.clear_cache();
        for _ in 0..3 {
            let _ = r.verify(stranger().expose(), &ctx(T0));
            assert_eq!(code(r.authenticate(k.key.expose(), &ctx(T0))), ErrorCode::KeyRevoked);
        }
        let listed = r.list("acct_1", &ListQuery { status: KeyStatus::Deleted, ..ListQuery::default() }).unwrap();
        assert_eq!(listed.data[0].id, id);
    }

    fn roll_keeps_old_secret_until_grace_deadline(fx) {
        let r = fx.open();
        let k = r.create(&NewKey::new("acct_1", "k"), &alice()).unwrap();
        let id = k.record.id.clone();
        let old = k.key.expose().to_owned();
        assert!(r.verify(&old, &ctx(T0)).unwrap().decision.is_ok());
        let rolled = r.roll("acct_1", &id, 3600, Some(1), &alice()).unwrap();
        assert_eq!(rolled.key.id(), id);
        assert_ne!(rolled.key.expose(), old);
        assert_eq!(rolled.record.version, 2);
        assert_eq!(rolled.record.previous_secret_expires_at, Some(T0 + 3600));
        let new = rolled.key.expose().to_owned();
        assert!(r.verify(&new, &ctx(T0)).unwrap().decision.is_ok());
        assert!(r.verify(&old, &ctx(T0 + 3599)).unwrap().decision.is_ok());
        assert_eq!(code(r.verify(&old, &ctx(T0 + 3600))), ErrorCode::DigestMismatch);
        assert!(r.verify(&new, &ctx(T0 + 3600)).unwrap().decision.is_ok());
        // Zero grace: the old secret stops at once (and so does the first old one).
        let again = r.roll("acct_1", &id, 0, None, &alice()).unwrap();
        assert_eq!(code(r.verify(&new, &ctx(T0))), ErrorCode::DigestMismatch);
        assert_eq!(code(r.verify(&old, &ctx(T0))), ErrorCode::DigestMismatch);
        assert!(r.verify(again.key.expose(), &ctx(T0)).unwrap().decision.is_ok());
        assert_eq!(code(r.roll("acct_1", &id, -1, None, &alice())), ErrorCode::InvalidArgument);
        assert_eq!(code(r.roll("acct_1", &id, 0, Some(1), &alice())), ErrorCode::VersionConflict);
        let audit = r.audit("acct_1", &AuditQuery::default()).unwrap();
        assert_eq!(audit.data[0].action, AuditAction::Roll);
        assert!(audit.data[0].changes.contains_key("secret"));
    }

    fn policy_decisions(fx) {
        let r = fx.open();
        let mut n = NewKey::new("acct_1", "k");
        n.allowed_ips = vec!["10.1.0.0/16".into(), "2001:db8::/32".into()];
        n.read_only = true;
        n.role = Some("merchant-terminal".into());
        n.expires_at = Some(T0 + 100);
        let k = r.create(&n, &alice()).unwrap();
        assert_eq!(k.record.allowed_ips, ["10.1.0.0/16", "2001:db8::/32"]);
        let key = k.key.expose();
        let ip4: IpAddr = "10.1.2.3".parse().unwrap();
        let ip6: IpAddr = "2001:db8::7".parse().unwrap();
        let outside: IpAddr = "192.0.2.1".parse().unwrap();
        let decide = |ip: Option<IpAddr>, method: &str, now: i64| {
            let mut c = ctx(now);
            c.client_ip = ip;
            c.method = Some(method);
            r.verify(key, &c).unwrap().decision.err().map(|e| e.error_code())
        };
        assert_eq!(decide(Some(ip4), "GET", T0), None);
        assert_eq!(decide(Some(ip6), "GET", T0), None);
        assert_eq!(decide(Some(outside), "GET", T0), Some(ErrorCode::IpNotAllowed));
        assert_eq!(decide(None, "GET", T0), Some(ErrorCode::IpNotAllowed));
        assert_eq!(decide(Some(ip4), "POST", T0), Some(ErrorCode::ReadOnlyKey));
        assert_eq!(decide(Some(ip4), "GET", T0 + 100), Some(ErrorCode::KeyExpired));
        r.disable("acct_1", &k.record.id, 1, &alice()).unwrap();
        assert_eq!(decide(Some(ip4), "GET", T0), Some(ErrorCode::KeyDisabled));
    }

    fn pepper_rotation_and_imports_are_rehashed(fx) {
        let r1 = fx.open();
        let k = r1.create(&NewKey::new("acct_1", "k"), &alice()).unwrap();
        drop(r1);
        let id = k.record.id.clone();
        let digest_of = |id: &str| fx.raw_one(&format!("SELECT digest FROM keys WHERE id = '{id}'")).unwrap();
        assert!(digest_of(&id).starts_with("v1.p1."));
        // p2 becomes current; p1 still verifies and is replaced.
        let r2 = fx.open_with(|c| {
            c.peppers = PepperSet::new(Pepper::new("p2", &[2u8; 32]).unwrap())
                .with_previous(Pepper::new("p1", &[1u8; 32]).unwrap())
                .unwrap();
            c.accept_imported_digests = true;
        });
        assert!(r2.verify(k.key.expose(), &ctx(T0)).unwrap().decision.is_ok());
        assert!(digest_of(&id).starts_with("v1.p2."));
        assert!(r2.verify(k.key.expose(), &ctx(T0)).unwrap().decision.is_ok());

        // Import a key hashed elsewhere as plain SHA-256.
        let outside = KeyFormat::new("ks_test").unwrap().generate_os().unwrap();
        let imp = ImportKey {
            id: outside.id().to_owned(),
            fields: NewKey::new("acct_1", "imported"),
            digest: format!("sha256:{}", sha256_hex(outside.expose())),
            created_at: Some(T0 - 86_400),
            pepper: None,
        };
        // Before the import the id is unknown (and remembered as unknown)...
        assert_eq!(code(r2.verify(outside.expose(), &ctx(T0))), ErrorCode::NotFound);
        let rec = r2.import(&imp, &Actor::System).unwrap();
        assert_eq!(rec.created_at, T0 - 86_400);
        // ...and the import makes it known at once.
        assert!(r2.verify(outside.expose(), &ctx(T0)).unwrap().decision.is_ok());
        assert!(digest_of(outside.id()).starts_with("v1.p2."), "imported digest upgraded");
        r2.clear_cache();
        assert!(r2.verify(outside.expose(), &ctx(T0)).unwrap().decision.is_ok());
        let audit = r2.audit("acct_1", &AuditQuery::default()).unwrap();
        assert_eq!(audit.data[0].action, AuditAction::Import);
        assert_eq!(audit.data[0].actor, Actor::System);

        let bad = ImportKey { digest: "md5:abc".into(), id: stranger().id().to_owned(), ..imp.clone() };
        assert_eq!(code(r2.import(&bad, &alice())), ErrorCode::MalformedDigest);
        let bad = ImportKey { id: "short".into(), ..imp.clone() };
        assert_eq!(code(r2.import(&bad, &alice())), ErrorCode::InvalidArgument);
        let dup = ImportKey { fields: NewKey::new("acct_1", "other-name"), ..imp };
        assert_eq!(code(r2.import(&dup, &alice())), ErrorCode::InvalidArgument);
    }

    fn exchange_issues_a_short_lived_token(fx) {
        let r = fx.open();
        let mut n = NewKey::new("acct_1", "k");
        n.owner = Some("user_7".into());
        n.scopes = vec!["keys:read".into()];
        n.role = Some("account-owner".into());
        let k = r.create(&n, &alice()).unwrap();
        let t = r.exchange(k.key.expose(), &ctx(T0), None).unwrap();
        assert_eq!(t.expires_at, T0 + 600);
        assert!(!format!("{t:?}").contains(&t.token));
        let keyset = r.config().keyset.clone().unwrap();
        let v = keyset.verify(&t.token, &Validation::new(), T0 + 1).unwrap();
        assert_eq!(v.claims.sub.as_deref(), Some("user_7"));
        assert_eq!(v.claims.scope.as_deref(), Some("keys:read"));
        assert_eq!(v.claims.role.as_deref(), Some("account-owner"));
        assert_eq!(v.claims.extra["key_id"], json!(k.record.id));
        r.disable("acct_1", &k.record.id, 1, &alice()).unwrap();
        assert_eq!(code(r.exchange(k.key.expose(), &ctx(T0), None)), ErrorCode::KeyDisabled);
    }

    fn audit_log_is_per_account_and_paginated(fx) {
        let r = fx.open();
        let a = r.create(&NewKey::new("acct_1", "a"), &alice()).unwrap();
        let mut p = KeyPatch::new(1);
        p.name = Some("a2".into());
        r.update("acct_1", &a.record.id, &p, &Actor::user("bob")).unwrap();
        r.roll("acct_1", &a.record.id, 60, None, &alice()).unwrap();
        r.delete("acct_1", &a.record.id, None, &alice()).unwrap();
        r.create(&NewKey::new("acct_2", "b"), &alice()).unwrap();
        let all = r.audit("acct_1", &AuditQuery::default()).unwrap();
        let actions: Vec<AuditAction> = all.data.iter().map(|e| e.action).collect();
        assert_eq!(actions, [AuditAction::Delete, AuditAction::Roll, AuditAction::Update, AuditAction::Create]);
        assert_eq!(all.total, 4);
        assert!(all.data.iter().all(|e| e.account == "acct_1" && e.key_id == a.record.id));
        assert_eq!(all.data[1].version, 3);
        assert_eq!(all.data[2].changes["name"], json!({"old": "a", "new": "a2"}));
        assert_eq!(all.data[3].changes["name"], json!({"old": null, "new": "a"}));
        let p1 = r.audit("acct_1", &AuditQuery { limit: 3, ..AuditQuery::default() }).unwrap();
        assert!(p1.has_more);
        let p2 = r.audit("acct_1", &AuditQuery { limit: 3, starting_after: p1.next_cursor.clone(), ..AuditQuery::default() }).unwrap();
        assert_eq!((p2.count, p2.has_more), (1, false));
        assert_eq!(p2.data[0].action, AuditAction::Create);
        let back = r.audit("acct_1", &AuditQuery { ending_before: p2.prev_cursor.clone(), ..AuditQuery::default() }).unwrap();
        assert_eq!(back.count, 3);
        assert_eq!(r.audit("acct_2", &AuditQuery::default()).unwrap().total, 1);
        assert_eq!(r.audit("acct_3", &AuditQuery::default()).unwrap().total, 0);
        assert_eq!(code(r.audit("acct_1", &AuditQuery { starting_after: Some("x1".into()), ..AuditQuery::default() })), ErrorCode::InvalidCursor);
        assert_eq!(code(r.audit("acct_1", &AuditQuery { limit: 0, ..AuditQuery::default() })), ErrorCode::InvalidLimit);
    }

    fn tenants_are_isolated(fx) {
        let r = fx.open();
        let a = r.create(&NewKey::new("acct_a", "k"), &alice()).unwrap();
        let id = a.record.id.clone();
        assert_eq!(code(r.get("acct_b", &id)), ErrorCode::NotFound);
        let mut p = KeyPatch::new(1);
        p.enabled = Some(false);
        assert_eq!(code(r.update("acct_b", &id, &p, &alice())), ErrorCode::NotFound);
        assert_eq!(code(r.disable("acct_b", &id, 1, &alice())), ErrorCode::NotFound);
        assert_eq!(code(r.delete("acct_b", &id, None, &alice())), ErrorCode::NotFound);
        assert_eq!(code(r.roll("acct_b", &id, 0, None, &alice())), ErrorCode::NotFound);
        assert_eq!(r.list("acct_b", &ListQuery::default()).unwrap().total, 0);
        assert_eq!(r.audit("acct_b", &AuditQuery::default()).unwrap().total, 0);
        let ka = r.audit("acct_b", &AuditQuery { key_id: Some(id.clone()), ..AuditQuery::default() }).unwrap();
        assert_eq!(ka.total, 0);
        // Untouched.
        let got = r.get("acct_a", &id).unwrap();
        assert_eq!((got.version, got.enabled), (1, true));
        assert!(r.verify(a.key.expose(), &ctx(T0)).unwrap().decision.is_ok());
    }

    fn hot_keys_verify_from_the_cache(fx) {
        let r = fx.open();
        let k = r.create(&NewKey::new("acct_1", "k"), &alice()).unwrap();
        assert!(r.verify(k.key.expose(), &ctx(T0)).unwrap().decision.is_ok());
        assert_eq!(r.cached_records(), 1);
        // Remove the row behind the registry's back: the cached key still verifies, so
        // the verify did not read the database.
        fx.raw(&format!("DELETE FROM keys WHERE id = '{}'", k.record.id));
        assert!(r.verify(k.key.expose(), &ctx(T0)).unwrap().decision.is_ok());
        // The cache is bounded by time too: after cache_ttl the row is read again.
        fx.clock.advance(r.config().cache_ttl);
        assert_eq!(code(r.verify(k.key.expose(), &ctx(T0))), ErrorCode::NotFound);
    }

    fn cache_is_bounded(fx) {
        let r = fx.open_with(|c| c.cache_capacity = 32);
        let keys: Vec<_> = (0..100)
            .map(|i| r.create(&NewKey::new("acct_1", &format!("k{i}")), &alice()).unwrap().key)
            .collect();
        for k in &keys {
            assert!(r.verify(k.expose(), &ctx(T0)).unwrap().decision.is_ok());
        }
        assert!(r.cached_records() <= 32, "cache holds {}", r.cached_records());
        assert!(r.cached_records() >= 16);
        // Evicted keys still verify (from the database).
        for k in &keys {
            assert!(r.verify(k.expose(), &ctx(T0)).unwrap().decision.is_ok());
        }
        // The bound is on the total: a cache sized for the whole set holds all of it,
        // however the ids fall into shards.
        let r = fx.open_with(|c| c.cache_capacity = keys.len());
        for k in &keys {
            assert!(r.verify(k.expose(), &ctx(T0)).unwrap().decision.is_ok());
        }
        assert_eq!(r.cached_records(), keys.len());
        for k in &keys {
            assert!(r.verify_cached(k.expose(), &ctx(T0)).is_some());
        }
    }

    fn unknown_ids_are_remembered(fx) {
        let r = fx.open();
        let outside = stranger();
        assert_eq!(code(r.verify(outside.expose(), &ctx(T0))), ErrorCode::NotFound);
        // Insert the row behind the registry's back: the negative cache answers without
        // reading the database...
        let digest = r.config().peppers.digest(outside.expose());
        fx.raw(&format!(
            "INSERT INTO keys (id, account, name, created_at, created_by, modified_at, modified_by, digest) \
             VALUES ('{}', 'acct_1', 'sneaky', {T0}, 'system', {T0}, 'system', '{digest}')",
            outside.id()
        ));
        for _ in 0..5 {
            assert_eq!(code(r.verify(outside.expose(), &ctx(T0))), ErrorCode::NotFound);
        }
        // ...until its entry expires.
        fx.clock.advance(r.config().negative_cache_ttl);
        assert!(r.verify(outside.expose(), &ctx(T0)).unwrap().decision.is_ok());
    }

    fn last_used_flush_writes_every_key(fx) {
        // 300 keys: batches of 256, 32, 8 and 4 rows on PostgreSQL.
        let r = fx.open();
        let news: Vec<NewKey> = (0..300).map(|i| NewKey::new("acct_1", &format!("k{i}"))).collect();
        let keys = r.bulk_create_for_bench(&news, &alice()).unwrap();
        r.flush_last_used().unwrap();
        // One key was used later elsewhere: the flush must not move it backwards.
        fx.raw(&format!(
            "UPDATE keys SET last_used_at = {} WHERE id = '{}'",
            T0 + 100,
            keys[0].id()
        ));
        for k in &keys {
            assert!(r.verify(k.expose(), &ctx(T0)).unwrap().decision.is_ok());
        }
        // (The background flusher may have written some already.)
        r.flush_last_used().unwrap();
        let at: Vec<String> = fx
            .raw("SELECT last_used_at FROM keys ORDER BY last_used_at")
            .into_iter()
            .map(|row| row[0].clone().unwrap_or_default())
            .collect();
        assert_eq!(at.len(), 300);
        assert!(at[..299].iter().all(|a| *a == T0.to_string()), "{at:?}");
        assert_eq!(at[299], (T0 + 100).to_string());
    }

    fn last_used_is_written_at_most_once_a_minute(fx) {
        // The background thread may flush at any moment too, so this checks what is
        // stored, not who wrote it.
        let r = fx.open();
        let k = r.create(&NewKey::new("acct_1", "k"), &alice()).unwrap();
        let id = k.record.id.clone();
        let stored = |r: &Registry| {
            r.flush_last_used().unwrap();
            r.get("acct_1", &id).unwrap().last_used_at
        };
        assert_eq!(stored(&r), None);
        r.verify(k.key.expose(), &ctx(T0)).unwrap();
        assert_eq!(stored(&r), Some(T0));
        for s in [1, 30, 59] {
            fx.clock.set(T0 + s);
            r.verify(k.key.expose(), &ctx(T0 + s)).unwrap();
        }
        assert_eq!(stored(&r), Some(T0), "no write within the interval");
        assert_eq!(r.flush_last_used().unwrap(), 0, "nothing queued within the interval");
        fx.clock.set(T0 + 60);
        r.verify(k.key.expose(), &ctx(T0 + 60)).unwrap();
        assert_eq!(stored(&r), Some(T0 + 60));
        // A refused request is not a use.
        r.disable("acct_1", &id, 1, &alice()).unwrap();
        fx.clock.set(T0 + 200);
        r.verify(k.key.expose(), &ctx(T0 + 200)).unwrap();
        assert_eq!(stored(&r), Some(T0 + 60));
        // last_used_at is not a change: no version, no audit entry.
        assert_eq!(r.get("acct_1", &id).unwrap().version, 2);
        assert_eq!(r.audit("acct_1", &AuditQuery::default()).unwrap().total, 2);
        // With tracking off nothing is written.
        let quiet = fx.open_with(|c| c.track_last_used = false);
        r.enable("acct_1", &id, 2, &alice()).unwrap();
        fx.clock.set(T0 + 1000);
        quiet.verify(k.key.expose(), &ctx(T0 + 1000)).unwrap();
        assert_eq!(quiet.flush_last_used().unwrap(), 0);
        assert_eq!(stored(&r), Some(T0 + 60));
    }

    fn migrates_an_empty_database(fx) {
        assert_eq!(Registry::schema_version(&fx.storage).unwrap(), 0);
        let r = fx.open();
        assert_eq!(SCHEMA_VERSION, 9);
        assert_eq!(Registry::schema_version(&fx.storage).unwrap(), SCHEMA_VERSION);
        let versions: Vec<_> = fx.raw("SELECT version FROM keyseal_schema ORDER BY version").into_iter().map(|r| r[0].clone().unwrap()).collect();
        assert_eq!(versions, ["1", "2", "3", "4", "5", "6", "7", "8", "9"]);
        if !fx.is_pg() {
            // v3: one B-tree keyed by the public id, so a lookup by id is one walk.
            let ddl = fx.raw_one("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'keys'").unwrap();
            assert!(ddl.contains("WITHOUT ROWID"), "{ddl}");
            let plan = fx.raw("EXPLAIN QUERY PLAN SELECT * FROM keys WHERE id = 'x'");
            assert_eq!(plan.len(), 1, "{plan:?}");
            assert_eq!(plan[0][3].as_deref(), Some("SEARCH keys USING PRIMARY KEY (id=?)"));
            assert_eq!(fx.raw_one("SELECT COUNT(*) FROM sqlite_master WHERE name = 'keys_v3'").as_deref(), Some("0"));
        }
        let a = r.create(&NewKey::new("acct_1", "a"), &alice()).unwrap();
        let b = r.create(&NewKey::new("acct_1", "b"), &alice()).unwrap();
        let p = r.list("acct_1", &ListQuery::default()).unwrap();
        assert_eq!(p.data.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(), [b.record.id.as_str(), a.record.id.as_str()]);
        assert!(r.verify(a.key.expose(), &ctx(T0)).unwrap().decision.is_ok());
        assert_eq!(code(r.create(&NewKey::new("acct_1", "a"), &alice())), ErrorCode::NameConflict);
        drop(r);
        // Opening again is a no-op.
        let r = fx.open();
        assert_eq!(Registry::schema_version(&fx.storage).unwrap(), SCHEMA_VERSION);
        assert_eq!(fx.raw_one("SELECT COUNT(*) FROM keyseal_schema").as_deref(), Some("9"));
        assert_eq!(r.list("acct_1", &ListQuery::default()).unwrap().total, 2);
    }

    fn migrates_previous_version_2_with_its_data(fx) {
        // A database at version 2 with rows written the way version 2 did (seq numbered by
        // the database): live, disabled, deleted (its name reused), rolled (old secret in
        // its grace period), used, in two accounts.
        assert_eq!(Registry::migrate(&fx.storage, 2).unwrap(), 2);
        assert_eq!(Registry::schema_version(&fx.storage).unwrap(), 2);
        let cfg = fx.config();
        let mut keys = Vec::new();
        for i in 0..30 {
            let key = cfg.key_format.generate_os().unwrap();
            let (account, name) = match i {
                29 => ("acct_2", "other".to_owned()),
                _ => ("acct_1", format!("k{i:02}")),
            };
            let digest = cfg.peppers.digest(key.expose());
            fx.raw(&format!(
                "INSERT INTO keys (id, account, name, description, owner, scopes, created_at, created_by, modified_at, modified_by, digest, last_used_at) \
                 VALUES ('{}', '{account}', '{name}', 'd{i}', 'bob', '[\"a:b\"]', {T0}, 'user:alice', {T0}, 'user:alice', '{digest}', {})",
                key.id(), T0 + i
            ));
            keys.push(key);
        }
        // k00 disabled; k01 deleted and its name taken again by k28.
        fx.raw(&format!("UPDATE keys SET enabled = 0, version = 2 WHERE id = '{}'", keys[0].id()));
        fx.raw(&format!("UPDATE keys SET deleted_at = {T0}, version = 2 WHERE id = '{}'", keys[1].id()));
        fx.raw(&format!("UPDATE keys SET name = 'k01' WHERE id = '{}'", keys[28].id()));
        // k02 rolled at v2: a new secret, the old one valid for 100 s more.
        let fresh = cfg.key_format.generate_os().unwrap();
        let rolled_text = {
            let mut t = format!("{}_{}_{}", cfg.key_format.prefix(), keys[2].id(), fresh.expose_secret());
            let sum = keyseal::key::checksum(t.as_bytes());
            t.extend(sum.iter().map(|b| char::from(*b)));
            t
        };
        let rolled = cfg.key_format.parse(&rolled_text).unwrap();
        fx.raw(&format!(
            "UPDATE keys SET digest = '{}', prev_digest = digest, prev_digest_until = {}, version = 2 WHERE id = '{}'",
            cfg.peppers.digest(rolled.expose()), T0 + 100, keys[2].id()
        ));
        let seqs_before = fx.raw("SELECT id, seq FROM keys ORDER BY seq");

        let r = fx.open();
        assert_eq!(Registry::schema_version(&fx.storage).unwrap(), SCHEMA_VERSION);
        // Every row and its seq (list order, cursors) came through.
        assert_eq!(fx.raw("SELECT id, seq FROM keys ORDER BY seq"), seqs_before);
        if !fx.is_pg() {
            let ddl = fx.raw_one("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'keys'").unwrap();
            assert!(ddl.contains("WITHOUT ROWID"), "{ddl}");
        }
        let live_newest_first: Vec<String> = keys[..29].iter().rev().filter(|k| k.id() != keys[1].id()).map(|k| k.id().to_owned()).collect();
        let p1 = r.list("acct_1", &ListQuery::default()).unwrap();
        assert_eq!((p1.count, p1.total, p1.has_more), (25, 28, true));
        assert_eq!(p1.data.iter().map(|k| k.id.clone()).collect::<Vec<_>>(), live_newest_first[..25]);
        let p2 = r.list("acct_1", &ListQuery { starting_after: p1.next_cursor.clone(), ..ListQuery::default() }).unwrap();
        assert_eq!(p2.data.iter().map(|k| k.id.clone()).collect::<Vec<_>>(), live_newest_first[25..]);
        let count = |s: KeyStatus| r.list("acct_1", &ListQuery { status: s, ..ListQuery::default() }).unwrap().total;
        assert_eq!((count(KeyStatus::Active), count(KeyStatus::Inactive), count(KeyStatus::Deleted)), (27, 1, 1));
        assert_eq!(r.list("acct_1", &ListQuery { owner: Some("bob".into()), ..ListQuery::default() }).unwrap().total, 28);
        // Records read back field for field.
        let got = r.get("acct_1", keys[5].id()).unwrap();
        assert_eq!((got.name.as_str(), got.description.as_str(), got.owner.as_deref(), got.scopes.clone(), got.version, got.last_used_at),
            ("k05", "d5", Some("bob"), vec!["a:b".to_owned()], 1, Some(T0 + 5)));
        assert_eq!(code(r.get("acct_1", keys[1].id())), ErrorCode::NotFound);
        // Verify: live, disabled, deleted, rolled (new and old secret), wrong account.
        assert!(r.verify(keys[5].expose(), &ctx(T0)).unwrap().decision.is_ok());
        assert_eq!(r.verify(keys[0].expose(), &ctx(T0)).unwrap().decision.unwrap_err().error_code(), ErrorCode::KeyDisabled);
        assert_eq!(r.verify(keys[1].expose(), &ctx(T0)).unwrap().decision.unwrap_err().error_code(), ErrorCode::KeyRevoked);
        assert!(r.verify(rolled.expose(), &ctx(T0)).unwrap().decision.is_ok());
        assert!(r.verify(keys[2].expose(), &ctx(T0 + 99)).unwrap().decision.is_ok());
        assert_eq!(code(r.verify(keys[2].expose(), &ctx(T0 + 100))), ErrorCode::DigestMismatch);
        assert_eq!(r.verify(keys[29].expose(), &ctx(T0)).unwrap().record.account, "acct_2");
        // Writes after the migration: a new key lists first, names stay unique among live
        // keys, ids stay unique, updates and deletes work.
        let newest = r.create(&NewKey::new("acct_1", "new"), &alice()).unwrap();
        assert_eq!(r.list("acct_1", &ListQuery::default()).unwrap().data[0].id, newest.record.id);
        assert_eq!(code(r.create(&NewKey::new("acct_1", "k05"), &alice())), ErrorCode::NameConflict);
        r.create(&NewKey::new("acct_2", "k05"), &alice()).unwrap();
        // A `v1.` digest of our pepper imports without `accept_imported_digests`.
        let dup = ImportKey { id: keys[5].id().to_owned(), fields: NewKey::new("acct_1", "dup"), digest: format!("v1.p1.{}", "A".repeat(43)), created_at: None, pepper: None };
        assert_eq!(code(r.import(&dup, &alice())), ErrorCode::InvalidArgument);
        let mut patch = KeyPatch::new(1);
        patch.description = Some("changed".into());
        assert_eq!(r.update("acct_1", keys[5].id(), &patch, &alice()).unwrap().version, 2);
        r.delete("acct_1", keys[6].id(), Some(1), &alice()).unwrap();
        assert_eq!(count(KeyStatus::All), 28);
        let rolled_again = r.roll("acct_1", keys[7].id(), 60, None, &alice()).unwrap();
        assert!(r.verify(rolled_again.key.expose(), &ctx(T0)).unwrap().decision.is_ok());
        assert!(r.verify(keys[7].expose(), &ctx(T0)).unwrap().decision.is_ok());
        drop(r);
        // Opening again is a no-op.
        let r = fx.open();
        assert_eq!(Registry::schema_version(&fx.storage).unwrap(), SCHEMA_VERSION);
        assert_eq!(r.get("acct_1", keys[5].id()).unwrap().description, "changed");
        assert_eq!(r.list("acct_1", &ListQuery::default()).unwrap().data[0].id, newest.record.id);
    }

    fn migrates_from_version_1(fx) {
        assert_eq!(Registry::schema_version(&fx.storage).unwrap(), 0);
        // Bring the database to version 1 only, and write a key the way version 1 did.
        assert_eq!(Registry::migrate(&fx.storage, 1).unwrap(), 1);
        assert_eq!(Registry::schema_version(&fx.storage).unwrap(), 1);
        let cfg = fx.config();
        let key = cfg.key_format.generate_os().unwrap();
        let digest = cfg.peppers.digest(key.expose());
        fx.raw(&format!(
            "INSERT INTO keys (id, account, name, scopes, created_at, created_by, modified_at, modified_by, digest) \
             VALUES ('{}', 'acct_1', 'old-key', '[\"a:b\"]', {T0}, 'user:alice', {T0}, 'user:alice', '{digest}')",
            key.id()
        ));
        // Staged: to version 2 first, then the rest on open.
        assert_eq!(Registry::migrate(&fx.storage, 2).unwrap(), 2);
        let r = fx.open();
        assert_eq!(Registry::schema_version(&fx.storage).unwrap(), SCHEMA_VERSION);
        let got = r.get("acct_1", key.id()).unwrap();
        assert_eq!((got.name.as_str(), got.version, got.scopes.clone()), ("old-key", 1, vec!["a:b".to_owned()]));
        assert!(r.verify(key.expose(), &ctx(T0)).unwrap().decision.is_ok());
        let rolled = r.roll("acct_1", key.id(), 60, None, &alice()).unwrap();
        assert!(r.verify(rolled.key.expose(), &ctx(T0)).unwrap().decision.is_ok());
        let newer = r.create(&NewKey::new("acct_1", "newer"), &alice()).unwrap();
        let p = r.list("acct_1", &ListQuery::default()).unwrap();
        assert_eq!(p.data.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(), [newer.record.id.as_str(), key.id()]);
        drop(r);
        // Opening again is a no-op.
        let r = fx.open();
        assert_eq!(Registry::schema_version(&fx.storage).unwrap(), SCHEMA_VERSION);
        assert_eq!(r.get("acct_1", key.id()).unwrap().version, 2);
    }

    fn concurrent_creates_share_commits(fx) {
        let r = Arc::new(fx.open());
        let threads = 16;
        let per = 10;
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (r, barrier) = (Arc::clone(&r), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    let mut out = Vec::new();
                    for i in 0..per {
                        // Thread 0 also tries a name that thread 1 uses: one must fail alone.
                        let name = if t == 0 && i == 0 { "t1-k0".to_owned() } else { format!("t{t}-k{i}") };
                        out.push(r.create(&NewKey::new("acct_1", &name), &alice()).map(|c| c.key));
                    }
                    out
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        let ok: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        let errs: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(ok.len(), threads * per - 1);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].error_code(), ErrorCode::NameConflict);
        let ids: HashSet<_> = ok.iter().map(|k| k.id().to_owned()).collect();
        assert_eq!(ids.len(), ok.len());
        assert_eq!(r.list("acct_1", &ListQuery::default()).unwrap().total as usize, ok.len());
        assert_eq!(r.audit("acct_1", &AuditQuery::default()).unwrap().total as usize, ok.len());
        for k in ok.iter().take(20) {
            assert!(r.verify(k.expose(), &ctx(T0)).unwrap().decision.is_ok());
        }
    }

    fn other_instances_see_changes(fx) {
        let a = fx.open_with(|c| c.accept_imported_digests = true);
        let b = fx.open_with(|c| c.accept_imported_digests = true);
        let k = a.create(&NewKey::new("acct_1", "k"), &alice()).unwrap();
        let key = k.key.expose().to_owned();
        let id = k.record.id.clone();
        assert!(b.verify(&key, &ctx(T0)).unwrap().decision.is_ok());
        a.disable("acct_1", &id, 1, &alice()).unwrap();
        // The writing instance sees its change at once.
        assert_eq!(a.verify(&key, &ctx(T0)).unwrap().decision.unwrap_err().error_code(), ErrorCode::KeyDisabled);
        let disabled = |r: &Registry| matches!(r.verify(&key, &ctx(T0)).map(|v| v.decision), Ok(Err(e)) if e.error_code() == ErrorCode::KeyDisabled);
        if fx.is_pg() {
            // PostgreSQL: NOTIFY reaches the other instance within a second.
            let start = std::time::Instant::now();
            while !disabled(&b) {
                assert!(start.elapsed() < std::time::Duration::from_secs(1), "b still accepts the disabled key");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            let rolled = a.roll("acct_1", &id, 0, None, &alice()).unwrap();
            let start = std::time::Instant::now();
            while b.verify(&key, &ctx(T0)).is_ok() {
                assert!(start.elapsed() < std::time::Duration::from_secs(1), "b still accepts the rolled secret");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            assert_eq!(code(b.verify(&key, &ctx(T0))), ErrorCode::DigestMismatch);
            assert!(b.verify(rolled.key.expose(), &ctx(T0)).is_ok());
            // An id b remembered as unknown is forgotten when a creates it (import).
            let outside = stranger();
            assert_eq!(code(b.verify(outside.expose(), &ctx(T0))), ErrorCode::NotFound);
            let imp = ImportKey { id: outside.id().to_owned(), fields: NewKey::new("acct_1", "imp"), digest: sha256_hex(outside.expose()), created_at: None, pepper: None };
            a.import(&imp, &alice()).unwrap();
            let start = std::time::Instant::now();
            while b.verify(outside.expose(), &ctx(T0)).is_err() {
                assert!(start.elapsed() < std::time::Duration::from_secs(1), "b still thinks the id is unknown");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            a.delete("acct_1", &id, None, &alice()).unwrap();
            let start = std::time::Instant::now();
            loop {
                match b.verify(rolled.key.expose(), &ctx(T0)).map(|v| v.decision) {
                    Ok(Err(e)) if e.error_code() == ErrorCode::KeyRevoked => break,
                    _ => {
                        assert!(start.elapsed() < std::time::Duration::from_secs(1), "b still accepts the deleted key");
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                }
            }
        } else {
            // SQLite has no notifications: another instance (process) sees the change
            // once its cached copy is older than cache_ttl.
            assert!(!disabled(&b));
            fx.clock.advance(b.config().cache_ttl);
            assert!(disabled(&b));
        }
    }

    fn unreachable_storage_has_its_own_code_and_recovers(fx) {
        match &fx.storage {
            Storage::Sqlite(path) => {
                // A database file that cannot be opened (its folder is missing).
                let dir = std::path::Path::new(path).parent().unwrap().join("not-yet");
                let p = dir.join("keys.db").to_string_lossy().into_owned();
                let e = Registry::open(Storage::Sqlite(p.clone()), fx.config()).unwrap_err();
                assert_eq!(e.error_code(), ErrorCode::StorageUnavailable);
                std::fs::create_dir_all(&dir).unwrap();
                let r = Registry::open(Storage::Sqlite(p), fx.config()).unwrap();
                r.create(&NewKey::new("acct_1", "k"), &alice()).unwrap();
            }
            Storage::Postgres(url) => {
                let proxy = common_proxy::Proxy::start(url);
                let r = Registry::open(Storage::Postgres(proxy.url(url)), fx.config()).unwrap();
                let k = r.create(&NewKey::new("acct_1", "k"), &alice()).unwrap();
                assert!(r.verify(k.key.expose(), &ctx(T0)).unwrap().decision.is_ok());
                proxy.cut();
                let e = r.get("acct_1", &k.record.id).unwrap_err();
                assert_eq!(e.error_code(), ErrorCode::StorageUnavailable);
                assert!(!e.to_string().contains("postgres://"));
                assert_eq!(code(r.create(&NewKey::new("acct_1", "k2"), &alice())), ErrorCode::StorageUnavailable);
                proxy.restore();
                // Broken connections are dropped as they are found; within a few calls
                // the registry works again.
                let mut ok = false;
                for _ in 0..8 {
                    if r.get("acct_1", &k.record.id).is_ok() {
                        ok = true;
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                assert!(ok, "the registry did not recover");
                r.create(&NewKey::new("acct_1", "k2"), &alice()).unwrap();
            }
        }
    }

    fn acknowledged_creates_survive_kill_9(fx) {
        // A child process creates keys and prints each id after create returned; we
        // SIGKILL it mid-stream, then every printed id must be in the database.
        use std::io::{BufRead, BufReader};
        use std::process::{Command, Stdio};
        let (kind, target) = match &fx.storage {
            Storage::Sqlite(p) => ("sqlite", p.clone()),
            Storage::Postgres(u) => ("postgres", u.clone()),
        };
        drop(fx.open()); // migrate first
        if !fx.is_pg() {
            assert_eq!(fx.raw_one("PRAGMA journal_mode").as_deref(), Some("wal"));
        }
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "durability_child", "--ignored", "--nocapture", "--test-threads=1"])
            .env("KEYSEAL_DURABILITY_KIND", kind)
            .env("KEYSEAL_DURABILITY_TARGET", &target)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let mut acked = Vec::new();
        for line in BufReader::new(out).lines() {
            let line = line.unwrap();
            if let Some(id) = line.strip_prefix("ACK ") {
                acked.push(id.to_owned());
                if acked.len() == 40 {
                    child.kill().unwrap(); // SIGKILL
                    break;
                }
            }
        }
        let _ = child.wait();
        assert_eq!(acked.len(), 40, "the child acknowledged too few creates");
        let r = fx.open();
        for id in &acked {
            r.get("acct_dur", id).unwrap();
        }
    }
}

/// The child half of `acknowledged_creates_survive_kill_9`; does nothing unless started
/// by it.
#[test]
#[ignore = "started by acknowledged_creates_survive_kill_9"]
fn durability_child() {
    let (Ok(kind), Ok(target)) = (
        std::env::var("KEYSEAL_DURABILITY_KIND"),
        std::env::var("KEYSEAL_DURABILITY_TARGET"),
    ) else {
        return;
    };
    let storage = if kind == "sqlite" {
        Storage::Sqlite(target)
    } else {
        Storage::Postgres(target)
    };
    let format = KeyFormat::new("ks_test").unwrap();
    let peppers = PepperSet::new(Pepper::new("p1", &[1u8; 32]).unwrap());
    let r = Registry::open(
        storage,
        keyseal_registry::RegistryConfig::new(format, peppers),
    )
    .unwrap();
    use std::io::Write;
    for i in 0..100_000 {
        let k = r
            .create(&NewKey::new("acct_dur", &format!("k{i}")), &alice())
            .unwrap();
        let mut out = std::io::stdout().lock();
        writeln!(out, "ACK {}", k.record.id).unwrap();
        out.flush().unwrap();
    }
}

mod common_proxy {
    //! A TCP relay in front of PostgreSQL that a test can cut and restore: a real
    //! network outage on 127.0.0.1, no mocks.
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    pub struct Proxy {
        port: u16,
        upstream: String,
        up: Arc<AtomicBool>,
        conns: Arc<Mutex<Vec<TcpStream>>>,
    }

    fn host_port(url: &str) -> String {
        let after = url.split_once('@').map_or(url, |(_, r)| r);
        let after = after.strip_prefix("postgres://").unwrap_or(after);
        after.split('/').next().unwrap().to_owned()
    }

    impl Proxy {
        pub fn start(url: &str) -> Proxy {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let p = Proxy {
                port,
                upstream: host_port(url),
                up: Arc::new(AtomicBool::new(true)),
                conns: Arc::new(Mutex::new(Vec::new())),
            };
            let (up, conns, upstream) = (p.up.clone(), p.conns.clone(), p.upstream.clone());
            std::thread::spawn(move || {
                for client in listener.incoming() {
                    let Ok(client) = client else { continue };
                    if !up.load(Ordering::SeqCst) {
                        let _ = client.shutdown(Shutdown::Both);
                        continue;
                    }
                    let Ok(server) = TcpStream::connect(&upstream) else {
                        let _ = client.shutdown(Shutdown::Both);
                        continue;
                    };
                    conns.lock().unwrap().push(client.try_clone().unwrap());
                    conns.lock().unwrap().push(server.try_clone().unwrap());
                    let (mut c1, mut s1) =
                        (client.try_clone().unwrap(), server.try_clone().unwrap());
                    let (mut c2, mut s2) = (client, server);
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut c1, &mut s1);
                        let _ = s1.shutdown(Shutdown::Both);
                    });
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut s2, &mut c2);
                        let _ = c2.shutdown(Shutdown::Both);
                    });
                }
            });
            p
        }

        /// The database URL with the proxy's port.
        pub fn url(&self, url: &str) -> String {
            url.replace(&self.upstream, &format!("127.0.0.1:{}", self.port))
        }

        /// Drops every open connection and refuses new ones.
        pub fn cut(&self) {
            self.up.store(false, Ordering::SeqCst);
            for c in self.conns.lock().unwrap().drain(..) {
                let _ = c.shutdown(Shutdown::Both);
            }
        }

        pub fn restore(&self) {
            self.up.store(true, Ordering::SeqCst);
        }
    }

    impl Drop for Proxy {
        fn drop(&mut self) {
            self.cut();
        }
    }
}
