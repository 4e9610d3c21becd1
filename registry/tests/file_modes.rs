//! The SQLite database and its `-wal` and `-shm` files are private to their owner (0600).

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use keyseal::{KeyFormat, Pepper, PepperSet, RequestContext};
use keyseal_registry::{Actor, NewKey, Registry, RegistryConfig, Storage};

fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir = std::env::temp_dir().join(format!("keyseal_{tag}_{}_{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn open(db: &Path, key_name: &str) -> Registry {
    let format = KeyFormat::new("ks_test").unwrap();
    let peppers = PepperSet::new(Pepper::new("p1", &[1u8; 32]).unwrap());
    let r = Registry::open(
        Storage::Sqlite(db.display().to_string()),
        RegistryConfig::new(format, peppers),
    )
    .unwrap();
    // A write, so the WAL has frames; the open pool keeps -wal and -shm in place.
    let created = r
        .create(&NewKey::new("acct_1", key_name), &Actor::user("alice"))
        .unwrap();
    r.verify(created.key.expose(), &RequestContext::at(1_795_392_000))
        .unwrap();
    r
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

fn files(db: &Path) -> [PathBuf; 3] {
    let s = db.display().to_string();
    [
        db.to_path_buf(),
        format!("{s}-wal").into(),
        format!("{s}-shm").into(),
    ]
}

#[track_caller]
fn assert_private(db: &Path) {
    for f in files(db) {
        assert_eq!(mode(&f), 0o600, "{}: mode {:o}", f.display(), mode(&f));
    }
}

#[test]
fn a_new_database_and_its_wal_and_shm_are_0600() {
    let dir = temp_dir("modes_new");
    let db = dir.join("keys.db");
    let r = open(&db, "first");
    assert_private(&db);
    r.close();
    drop(r);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn wider_existing_files_are_set_to_0600_when_opened() {
    let dir = temp_dir("modes_existing");
    let db = dir.join("keys.db");
    // An empty file made by someone else's tooling, world-readable: SQLite would give its
    // -wal and -shm the same 0644, whatever the umask.
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = open(&db, "first");
    assert_private(&db);
    // Widened while in use (a backup script, a restore): the next connection tightens them.
    for f in files(&db) {
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let r2 = open(&db, "second");
    assert_private(&db);
    r2.close();
    r.close();
    drop((r, r2));
    let _ = std::fs::remove_dir_all(&dir);
}
