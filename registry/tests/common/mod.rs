//! The test fixture: one throw-away database per test, on SQLite or PostgreSQL.
//!
//! PostgreSQL tests read `KEYSEAL_TEST_PG_URL` (set by `scripts/test-registry`). Without
//! it they FAIL, unless `KEYSEAL_SKIP_PG=1` says to skip them on purpose.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use keyseal::{Algorithm, KeyFormat, Keyset, Pepper, PepperSet, TokenKey};
use keyseal_registry::{ManualClock, Registry, RegistryConfig, Storage};

/// Start of the tests' manual clock: 2026-11-23T00:00:00Z.
pub const T0: i64 = 1_795_392_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct Fx {
    pub backend: Backend,
    pub storage: Storage,
    pub clock: Arc<ManualClock>,
    dir: Option<PathBuf>,
    pg: Option<(String, String)>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique(tag: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{tag}_{}_{n}_{nanos}", std::process::id())
}

pub fn pg_base_url() -> Option<String> {
    match std::env::var("KEYSEAL_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            if std::env::var("KEYSEAL_SKIP_PG").as_deref() == Ok("1") {
                None
            } else {
                panic!(
                    "KEYSEAL_TEST_PG_URL is not set: run scripts/test-registry, or set KEYSEAL_SKIP_PG=1 to skip the PostgreSQL half on purpose"
                );
            }
        }
    }
}

/// Replaces the database name of a `postgres://.../db` URL.
pub fn with_db(url: &str, db: &str) -> String {
    let (base, _) = url
        .rsplit_once('/')
        .expect("a postgres url with a database");
    format!("{base}/{db}")
}

impl Fx {
    /// A fresh database, or `None` when the PostgreSQL half is skipped on purpose.
    pub fn new(backend: Backend) -> Option<Fx> {
        let clock = Arc::new(ManualClock::new(T0));
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(unique("keyseal_reg"));
                std::fs::create_dir_all(&dir).unwrap();
                let path = dir.join("keys.db");
                Some(Fx {
                    backend,
                    storage: Storage::Sqlite(path.to_string_lossy().into_owned()),
                    clock,
                    dir: Some(dir),
                    pg: None,
                })
            }
            Backend::Postgres => {
                let base = pg_base_url()?;
                let db = unique("ks").to_lowercase();
                let mut c = postgres::Client::connect(&base, postgres::NoTls).unwrap();
                c.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
                Some(Fx {
                    backend,
                    storage: Storage::Postgres(with_db(&base, &db)),
                    clock,
                    dir: None,
                    pg: Some((base, db)),
                })
            }
        }
    }

    pub fn is_pg(&self) -> bool {
        self.backend == Backend::Postgres
    }

    pub fn config(&self) -> RegistryConfig {
        let format = KeyFormat::new("ks_test").unwrap();
        let peppers = PepperSet::new(Pepper::new("p1", &[1u8; 32]).unwrap());
        let mut c = RegistryConfig::new(format, peppers);
        c.clock = self.clock.clone();
        c.keyset = Some(Keyset::new(
            TokenKey::new("t1", Algorithm::HS256, &[9u8; 32]).unwrap(),
        ));
        c.pool_size = 4;
        c
    }

    pub fn open(&self) -> Registry {
        Registry::open(self.storage.clone(), self.config()).unwrap()
    }

    pub fn open_with(&self, f: impl FnOnce(&mut RegistryConfig)) -> Registry {
        let mut c = self.config();
        f(&mut c);
        Registry::open(self.storage.clone(), c).unwrap()
    }

    /// Runs SQL directly on the database (bypassing the registry), returning every
    /// column as text.
    pub fn raw(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        match &self.storage {
            Storage::Sqlite(path) => {
                let c = rusqlite::Connection::open(path).unwrap();
                c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
                let mut st = c.prepare(sql).unwrap();
                let n = st.column_count();
                let mut rows = st.query([]).unwrap();
                let mut out = Vec::new();
                while let Some(r) = rows.next().unwrap() {
                    let mut v = Vec::new();
                    for i in 0..n {
                        use rusqlite::types::ValueRef;
                        v.push(match r.get_ref(i).unwrap() {
                            ValueRef::Null => None,
                            ValueRef::Integer(i) => Some(i.to_string()),
                            ValueRef::Real(f) => Some(f.to_string()),
                            ValueRef::Text(t) | ValueRef::Blob(t) => {
                                Some(String::from_utf8_lossy(t).into_owned())
                            }
                        });
                    }
                    out.push(v);
                }
                out
            }
            Storage::Postgres(url) => {
                let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
                let mut out = Vec::new();
                for m in c.simple_query(sql).unwrap() {
                    if let postgres::SimpleQueryMessage::Row(r) = m {
                        out.push((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect());
                    }
                }
                out
            }
        }
    }

    /// The first column of the first row.
    pub fn raw_one(&self, sql: &str) -> Option<String> {
        self.raw(sql)
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next().flatten())
    }
}

impl Drop for Fx {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((base, db)) = &self.pg
            && let Ok(mut c) = postgres::Client::connect(base, postgres::NoTls)
        {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
        }
    }
}

/// Defines each test twice: `sqlite::name` and `postgres::name`, same body.
#[macro_export]
macro_rules! both {
    ($( fn $name:ident($fx:ident) $body:block )*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $name() {
                    let $fx = common::Fx::new(common::Backend::Sqlite).expect("sqlite fixture");
                    let $fx = &$fx;
                    $body
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $name() {
                    let Some($fx) = common::Fx::new(common::Backend::Postgres) else {
                        eprintln!("skipped on PostgreSQL: KEYSEAL_SKIP_PG=1");
                        return;
                    };
                    let $fx = &$fx;
                    $body
                }
            )*
        }
    };
}
