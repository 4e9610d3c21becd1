//! Imported digests are opt-in and sealed; the pepper fingerprint. Every test runs on
//! SQLite and on PostgreSQL (see `common`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use keyseal::digest::sha256_hex;
use keyseal::{ErrorCode, KeyFormat, Pepper, PepperSet, RequestContext};
use keyseal_registry::{Actor, ImportKey, NewKey, PepperCheck, Registry, SCHEMA_VERSION};

const T0: i64 = common::T0;

fn ctx() -> RequestContext<'static> {
    RequestContext::at(T0)
}

fn code<T: std::fmt::Debug>(r: Result<T, keyseal::Error>) -> ErrorCode {
    r.expect_err("expected an error").error_code()
}

fn outside_key() -> keyseal::ApiKey {
    KeyFormat::new("ks_test").unwrap().generate_os().unwrap()
}

const LEGACY_SECRET: [u8; 32] = [5u8; 32];

fn legacy() -> Pepper {
    Pepper::new("legacy", &LEGACY_SECRET).unwrap()
}

/// HMAC-SHA256 of `key` under `pepper` as lowercase hex: what another system stores.
fn hmac_hex(pepper: &Pepper, key: &str) -> String {
    let v1 = PepperSet::new(pepper.clone()).digest(key);
    let b64 = v1.rsplit('.').next().unwrap();
    const A: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let (mut bits, mut n, mut out) = (0u32, 0, String::new());
    for c in b64.chars() {
        bits = (bits << 6) | A.find(c).unwrap() as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push_str(&format!("{:02x}", (bits >> n) as u8));
        }
    }
    assert_eq!(out.len(), 64);
    out
}

/// A well-formed key (valid checksum) with `id` and the secret of `other`.
fn with_id(id: &str, other: &keyseal::ApiKey) -> String {
    let mut text = format!("ks_test_{id}_{}", other.expose_secret());
    let sum = keyseal::key::checksum(text.as_bytes());
    text.extend(sum.iter().map(|b| char::from(*b)));
    KeyFormat::new("ks_test").unwrap().parse(&text).unwrap();
    text
}

fn import_of(key: &keyseal::ApiKey, name: &str, digest: String, pepper: Option<&str>) -> ImportKey {
    ImportKey {
        id: key.id().to_owned(),
        fields: NewKey::new("acct_1", name),
        digest,
        created_at: None,
        pepper: pepper.map(str::to_owned),
    }
}

both! {
    fn planted_sha256_on_an_owner_row_never_verifies(fx) {
        for imports in [false, true] {
            let r = fx.open_with(|c| {
                c.accept_imported_digests = imports;
                c.foreign_peppers = vec![legacy()];
            });
            let mut owner = NewKey::new("acct_1", &format!("owner-{imports}"));
            owner.role = Some("account-owner".into());
            let k = r.create(&owner, &Actor::System).unwrap();
            let id = k.record.id.clone();
            // Someone with SQL access but without the pepper: plain SHA-256, in every
            // accepted spelling, and a foreign pepper's HMAC, on the current digest...
            for planted in [
                sha256_hex(k.key.expose()),
                format!("sha256:{}", sha256_hex(k.key.expose())),
                format!("hmac-sha256:legacy:{}", hmac_hex(&legacy(), k.key.expose())),
            ] {
                fx.raw(&format!("UPDATE keys SET digest = '{planted}' WHERE id = '{id}'"));
                r.clear_cache();
                assert_eq!(code(r.verify(k.key.expose(), &ctx())), ErrorCode::DigestMismatch, "{planted}");
                // ...with a made-up seal...
                fx.raw(&format!("UPDATE keys SET import_seal = 'v1.p1.{}' WHERE id = '{id}'", "A".repeat(43)));
                r.clear_cache();
                assert_eq!(code(r.verify(k.key.expose(), &ctx())), ErrorCode::DigestMismatch, "{planted}");
                fx.raw(&format!("UPDATE keys SET import_seal = NULL WHERE id = '{id}'"));
                // ...or as the previous digest of a roll.
                fx.raw(&format!(
                    "UPDATE keys SET digest = 'v1.p1.{}', prev_digest = '{planted}', prev_digest_until = {} WHERE id = '{id}'",
                    "A".repeat(43),
                    T0 + 86_400
                ));
                r.clear_cache();
                assert_eq!(code(r.verify(k.key.expose(), &ctx())), ErrorCode::DigestMismatch, "{planted}");
            }
            // The digest stayed what was planted: nothing upgraded it.
            assert!(fx.raw_one(&format!("SELECT digest FROM keys WHERE id = '{id}'")).unwrap().starts_with("v1.p1.AAAA"));
        }
    }

    fn imports_are_off_by_default(fx) {
        let r = fx.open();
        let key = outside_key();
        let imp = import_of(&key, "imp", sha256_hex(key.expose()), None);
        assert_eq!(code(r.import(&imp, &Actor::System)), ErrorCode::InvalidConfig);
        let foreign = import_of(&key, "imp", hmac_hex(&legacy(), key.expose()), Some("legacy"));
        assert_eq!(code(r.import(&foreign, &Actor::System)), ErrorCode::InvalidConfig);
        assert_eq!(code(r.verify(key.expose(), &ctx())), ErrorCode::NotFound);
    }

    fn imported_sha256_verifies_and_is_upgraded(fx) {
        let r = fx.open_with(|c| c.accept_imported_digests = true);
        let key = outside_key();
        let id = key.id().to_owned();
        r.import(&import_of(&key, "imp", sha256_hex(key.expose()), None), &Actor::System).unwrap();
        let row = |col: &str| fx.raw_one(&format!("SELECT {col} FROM keys WHERE id = '{id}'"));
        assert!(row("import_seal").unwrap().starts_with("v1.p1."), "imported rows are marked");
        assert_eq!(row("digest").unwrap(), sha256_hex(key.expose()));
        assert!(r.verify(key.expose(), &ctx()).unwrap().decision.is_ok());
        assert!(row("digest").unwrap().starts_with("v1.p1."), "upgraded on first use");
        assert_eq!(row("import_seal"), None, "no longer an import");
        r.clear_cache();
        assert!(r.verify(key.expose(), &ctx()).unwrap().decision.is_ok());
        // Another secret with the same id still fails.
        assert_eq!(code(r.verify(&with_id(&id, &outside_key()), &ctx())), ErrorCode::DigestMismatch);
        drop(r);

        // An import made while imports were on stops verifying when they are turned off
        // before it was used, and verifies again when they are back on.
        let r = fx.open_with(|c| c.accept_imported_digests = true);
        let later = outside_key();
        r.import(&import_of(&later, "later", format!("sha256:{}", sha256_hex(later.expose())), None), &Actor::System).unwrap();
        drop(r);
        let off = fx.open();
        assert_eq!(code(off.verify(later.expose(), &ctx())), ErrorCode::DigestMismatch);
        drop(off);
        let on = fx.open_with(|c| c.accept_imported_digests = true);
        assert!(on.verify(later.expose(), &ctx()).unwrap().decision.is_ok());
    }

    fn import_seal_binds_the_row_id_and_digest(fx) {
        let r = fx.open_with(|c| c.accept_imported_digests = true);
        let a = outside_key();
        r.import(&import_of(&a, "a", sha256_hex(a.expose()), None), &Actor::System).unwrap();
        let seal = fx.raw_one(&format!("SELECT import_seal FROM keys WHERE id = '{}'", a.id())).unwrap();
        // Another row with a planted digest and a's seal copied over.
        let owner = r.create(&NewKey::new("acct_1", "owner"), &Actor::System).unwrap();
        let oid = &owner.record.id;
        fx.raw(&format!(
            "UPDATE keys SET digest = '{}', import_seal = '{seal}' WHERE id = '{oid}'",
            sha256_hex(owner.key.expose())
        ));
        r.clear_cache();
        assert_eq!(code(r.verify(owner.key.expose(), &ctx())), ErrorCode::DigestMismatch);
        // a's own seal no longer fits once its digest is swapped for another key's.
        let b_as_a = with_id(a.id(), &outside_key());
        fx.raw(&format!("UPDATE keys SET digest = '{}' WHERE id = '{}'", sha256_hex(&b_as_a), a.id()));
        r.clear_cache();
        assert_eq!(code(r.verify(&b_as_a, &ctx())), ErrorCode::DigestMismatch);
    }

    fn foreign_pepper_import_verifies_and_is_upgraded(fx) {
        let r = fx.open_with(|c| {
            c.accept_imported_digests = true;
            c.foreign_peppers = vec![legacy()];
        });
        let key = outside_key();
        let id = key.id().to_owned();
        let hex = hmac_hex(&legacy(), key.expose());
        // Before: such a digest was read as plain SHA-256 and failed.
        let plain = outside_key();
        r.import(&import_of(&plain, "plain", hmac_hex(&legacy(), plain.expose()), None), &Actor::System).unwrap();
        assert_eq!(code(r.verify(plain.expose(), &ctx())), ErrorCode::DigestMismatch);
        // Named as the foreign pepper's, it verifies.
        r.import(&import_of(&key, "imp", hex.to_uppercase(), Some("legacy")), &Actor::System).unwrap();
        let row = |col: &str| fx.raw_one(&format!("SELECT {col} FROM keys WHERE id = '{id}'"));
        assert_eq!(row("digest").unwrap(), format!("hmac-sha256:legacy:{hex}"));
        assert!(row("import_seal").is_some());
        assert_eq!(code(r.verify(&with_id(&id, &outside_key()), &ctx())), ErrorCode::DigestMismatch);
        assert!(r.verify(key.expose(), &ctx()).unwrap().decision.is_ok());
        assert!(row("digest").unwrap().starts_with("v1.p1."), "upgraded on first use");
        assert_eq!(row("import_seal"), None);
        r.clear_cache();
        assert!(r.verify(key.expose(), &ctx()).unwrap().decision.is_ok());

        // Unknown foreign pepper, malformed hex.
        let k2 = outside_key();
        assert_eq!(code(r.import(&import_of(&k2, "k2", hex.clone(), Some("nope")), &Actor::System)), ErrorCode::UnknownPepper);
        assert_eq!(code(r.import(&import_of(&k2, "k2", "abc".into(), Some("legacy")), &Actor::System)), ErrorCode::MalformedDigest);
        drop(r);
        // Foreign ids must not clash with ours or each other.
        let clash = |f: Vec<Pepper>| {
            let mut c = fx.config();
            c.foreign_peppers = f;
            Registry::open(fx.storage.clone(), c).map(|_| ())
        };
        assert_eq!(code(clash(vec![Pepper::new("p1", &[6u8; 32]).unwrap()])), ErrorCode::DuplicateKid);
        assert_eq!(code(clash(vec![legacy(), legacy()])), ErrorCode::DuplicateKid);
        // Without the foreign pepper configured an import does not verify.
        let k3 = outside_key();
        let with = fx.open_with(|c| {
            c.accept_imported_digests = true;
            c.foreign_peppers = vec![legacy()];
        });
        with.import(&import_of(&k3, "k3", hmac_hex(&legacy(), k3.expose()), Some("legacy")), &Actor::System).unwrap();
        drop(with);
        let without = fx.open_with(|c| c.accept_imported_digests = true);
        assert_eq!(code(without.verify(k3.expose(), &ctx())), ErrorCode::UnknownPepper);
    }

    fn pepper_fingerprint_is_recorded_and_checked(fx) {
        let r = fx.open();
        assert_eq!(r.check_pepper().unwrap(), PepperCheck::Recorded { id: "p1".into() });
        assert_eq!(r.check_pepper().unwrap(), PepperCheck::Matches { id: "p1".into() });
        let stored = fx.raw_one("SELECT value FROM keyseal_settings WHERE name = 'pepper_fingerprint'").unwrap();
        assert!(stored.starts_with("v1.p1."), "{stored}");
        assert!(!stored.contains(&"01".repeat(16)), "never the pepper itself");
        let k = r.create(&NewKey::new("acct_1", "k"), &Actor::System).unwrap();
        drop(r);
        // Same id, another secret.
        let other = fx.open_with(|c| c.peppers = PepperSet::new(Pepper::new("p1", &[3u8; 32]).unwrap()));
        let check = other.check_pepper().unwrap();
        assert_eq!(check, PepperCheck::Mismatch { id: "p1".into() });
        assert!(!check.is_ok());
        drop(other);
        // Another pepper altogether.
        let fresh = fx.open_with(|c| c.peppers = PepperSet::new(Pepper::new("p9", &[9u8; 32]).unwrap()));
        assert_eq!(fresh.check_pepper().unwrap(), PepperCheck::Unknown { id: "p1".into() });
        drop(fresh);
        // A rotation: p2 current, p1 verify-only. The record moves to p2.
        let rotated = fx.open_with(|c| {
            c.peppers = PepperSet::new(Pepper::new("p2", &[2u8; 32]).unwrap())
                .with_previous(Pepper::new("p1", &[1u8; 32]).unwrap())
                .unwrap();
        });
        assert_eq!(rotated.check_pepper().unwrap(), PepperCheck::Advanced { from: "p1".into(), to: "p2".into() });
        assert_eq!(rotated.check_pepper().unwrap(), PepperCheck::Matches { id: "p2".into() });
        assert!(rotated.verify(k.key.expose(), &ctx()).unwrap().decision.is_ok());
        drop(rotated);
        // The old configuration (p1 only) no longer matches the database.
        assert_eq!(fx.open().check_pepper().unwrap(), PepperCheck::Unknown { id: "p2".into() });
    }

    fn rolled_import_keeps_its_old_secret_for_the_grace(fx) {
        let r = fx.open_with(|c| c.accept_imported_digests = true);
        let key = outside_key();
        r.import(&import_of(&key, "imp", sha256_hex(key.expose()), None), &Actor::System).unwrap();
        let rolled = r.roll("acct_1", key.id(), 3600, None, &Actor::System).unwrap();
        assert!(r.verify(rolled.key.expose(), &ctx()).unwrap().decision.is_ok());
        r.clear_cache();
        assert!(r.verify(key.expose(), &ctx()).unwrap().decision.is_ok(), "imported secret within the grace");
        let late = RequestContext::at(T0 + 3600);
        assert_eq!(code(r.verify(key.expose(), &late)), ErrorCode::DigestMismatch);
        drop(r);
        // With imports off, the old imported secret does not verify even within the grace.
        let off = fx.open();
        assert_eq!(code(off.verify(key.expose(), &ctx())), ErrorCode::DigestMismatch);
        assert!(off.verify(rolled.key.expose(), &ctx()).unwrap().decision.is_ok());
    }

    fn version_3_database_migrates_and_records_its_pepper(fx) {
        assert_eq!(Registry::migrate(&fx.storage, 3).unwrap(), 3);
        let key = outside_key();
        let digest = PepperSet::new(Pepper::new("p1", &[1u8; 32]).unwrap()).digest(key.expose());
        fx.raw(&format!(
            "INSERT INTO keys (id, account, name, created_at, created_by, modified_at, modified_by, digest) \
             VALUES ('{}', 'acct_1', 'old', {T0}, 'system', {T0}, 'system', '{digest}')",
            key.id()
        ));
        let r = fx.open();
        assert_eq!(Registry::schema_version(&fx.storage).unwrap(), SCHEMA_VERSION);
        assert_eq!(fx.raw_one(&format!("SELECT import_seal FROM keys WHERE id = '{}'", key.id())), None);
        assert!(r.verify(key.expose(), &ctx()).unwrap().decision.is_ok());
        assert_eq!(r.check_pepper().unwrap(), PepperCheck::Recorded { id: "p1".into() });
    }

    fn unrecorded_database_with_foreign_keys_is_refused(fx) {
        let r = fx.open();
        r.create(&NewKey::new("acct_1", "k"), &Actor::System).unwrap();
        drop(r);
        assert!(Registry::holds_keys(&fx.storage).unwrap());
        // As a database from before fingerprints: keys, no record.
        fx.raw("DELETE FROM keyseal_settings");
        let fresh = fx.open_with(|c| c.peppers = PepperSet::new(Pepper::new("p9", &[9u8; 32]).unwrap()));
        assert_eq!(fresh.check_pepper().unwrap(), PepperCheck::Unknown { id: "p1".into() });
        drop(fresh);
        assert_eq!(fx.open().check_pepper().unwrap(), PepperCheck::Recorded { id: "p1".into() });
    }
}

#[test]
fn empty_storage_holds_no_keys() {
    let fx = common::Fx::new(common::Backend::Sqlite).unwrap();
    assert!(!Registry::holds_keys(&fx.storage).unwrap());
    let r = fx.open();
    assert!(!Registry::holds_keys(&fx.storage).unwrap());
    r.create(&NewKey::new("acct_1", "k"), &Actor::System)
        .unwrap();
    assert!(Registry::holds_keys(&fx.storage).unwrap());
}
