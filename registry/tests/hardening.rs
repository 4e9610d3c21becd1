//! Regression tests for the adversarial review's registry findings: stored timestamps
//! that once looked like "none", and exchange tokens bound to their key's account and
//! life. Every test runs on SQLite and on PostgreSQL (see `common`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use keyseal::{ErrorCode, RequestContext};
use keyseal_registry::{ACCOUNT_CLAIM, Actor, KeyPatch, NewKey};

const T0: i64 = common::T0;

fn code<T: std::fmt::Debug>(r: Result<T, keyseal::Error>) -> ErrorCode {
    r.expect_err("expected an error").error_code()
}

both! {
    fn planted_min_expiry_is_expired_not_eternal(fx) {
        let r = fx.open();
        let k = r.create(&NewKey::new("acct_1", "k"), &Actor::System).unwrap();
        // A row written around the registry (a restore, SQL access) with the value the
        // verify cache once used as its "no expiry" marker.
        fx.raw(&format!(
            "UPDATE keys SET expires_at = {} WHERE id = '{}'",
            i64::MIN,
            k.record.id
        ));
        r.clear_cache();
        let v = r.verify(k.key.expose(), &RequestContext::at(T0)).unwrap();
        assert_eq!(v.decision.unwrap_err().error_code(), ErrorCode::KeyExpired);
        // And again from the cache.
        let v = r.verify(k.key.expose(), &RequestContext::at(T0)).unwrap();
        assert_eq!(v.record.expires_at, Some(i64::MIN));
        assert_eq!(v.decision.unwrap_err().error_code(), ErrorCode::KeyExpired);
    }

    fn timestamps_out_of_range_are_refused(fx) {
        let r = fx.open();
        for bad in [i64::MIN, -1, keyseal_registry::MAX_TIMESTAMP + 1] {
            let mut n = NewKey::new("acct_1", "k");
            n.expires_at = Some(bad);
            assert_eq!(code(r.create(&n, &Actor::System)), ErrorCode::InvalidArgument);
        }
        let k = r.create(&NewKey::new("acct_1", "k"), &Actor::System).unwrap();
        let patch = KeyPatch {
            expires_at: Some(Some(i64::MIN)),
            ..KeyPatch::new(1)
        };
        assert_eq!(
            code(r.update("acct_1", &k.record.id, &patch, &Actor::System)),
            ErrorCode::InvalidArgument
        );
    }

    fn exchange_tokens_are_bound_and_checked_against_the_live_key(fx) {
        let r = fx.open();
        let mut n = NewKey::new("acct_a", "k");
        n.owner = Some("user_of_b".into());
        n.expires_at = Some(T0 + 5);
        let k = r.create(&n, &Actor::System).unwrap();
        let ctx = RequestContext::at(T0);
        let t = r.exchange(k.key.expose(), &ctx, None).unwrap();
        assert_eq!(t.expires_at, T0 + 5, "exp capped at the key's expiry");
        let c = r.verify_token(&t.token, T0).unwrap();
        assert_eq!(c.token.claims.extra[ACCOUNT_CLAIM], "acct_a");
        assert_eq!(c.record.id, k.record.id);
        assert_eq!(code(r.verify_token(&t.token, T0 + 5)), ErrorCode::TokenExpired);
        let patch = KeyPatch {
            enabled: Some(false),
            ..KeyPatch::new(1)
        };
        r.update("acct_a", &k.record.id, &patch, &Actor::System).unwrap();
        assert_eq!(code(r.verify_token(&t.token, T0)), ErrorCode::KeyDisabled);
        r.delete("acct_a", &k.record.id, None, &Actor::System).unwrap();
        assert_eq!(code(r.verify_token(&t.token, T0)), ErrorCode::KeyRevoked);
    }

    fn tokens_from_before_a_roll_live_as_long_as_the_old_secret(fx) {
        let r = fx.open();
        let k = r.create(&NewKey::new("acct_a", "k"), &Actor::System).unwrap();
        let old = r.exchange(k.key.expose(), &RequestContext::at(T0), None).unwrap();
        fx.clock.set(T0 + 10);
        let rolled = r.roll("acct_a", &k.record.id, 60, None, &Actor::System).unwrap();
        assert_eq!(rolled.record.rolled_at, Some(T0 + 10));
        let new = r.exchange(rolled.key.expose(), &RequestContext::at(T0 + 10), None).unwrap();
        // During the grace period both verify; after it only the new secret's token.
        assert!(r.verify_token(&old.token, T0 + 69).is_ok());
        assert_eq!(code(r.verify_token(&old.token, T0 + 70)), ErrorCode::KeyRevoked);
        assert!(r.verify_token(&new.token, T0 + 70).is_ok());
        // A roll without a grace period ends the old secret's tokens at once.
        fx.clock.set(T0 + 20);
        let again = r.roll("acct_a", &k.record.id, 0, None, &Actor::System).unwrap();
        assert_eq!(code(r.verify_token(&new.token, T0 + 20)), ErrorCode::KeyRevoked);
        let newest = r.exchange(again.key.expose(), &RequestContext::at(T0 + 20), None).unwrap();
        assert!(r.verify_token(&newest.token, T0 + 20).is_ok());
    }
}
