//! Test harness: runs the real `keyseal` binary on loopback against SQLite or a real
//! PostgreSQL (`KEYSEAL_TEST_PG_URL`, set by scripts/test-server), and talks to it over
//! HTTP.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_keyseal");

/// Runs `$name(Backend)` as a SQLite test and a PostgreSQL test (`$name::sqlite`,
/// `$name::postgres`).
#[allow(unused_macros)]
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(super::Backend::Sqlite);
            }
            #[test]
            fn postgres() {
                super::$name(super::Backend::Postgres);
            }
        }
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{tag}_{}_{n}_{}", std::process::id(), t % 1_000_000_007)
}

/// The PostgreSQL database of this test process: a fresh database on the server named
/// by `KEYSEAL_TEST_PG_URL`, migrated once. `None` when PG tests are skipped on purpose.
pub fn pg_url() -> Option<String> {
    static URL: OnceLock<Option<String>> = OnceLock::new();
    URL.get_or_init(|| {
        let base = match std::env::var("KEYSEAL_TEST_PG_URL") {
            Ok(u) if !u.is_empty() => u,
            _ => {
                if std::env::var("KEYSEAL_SKIP_PG").as_deref() == Ok("1") {
                    return None;
                }
                panic!(
                    "KEYSEAL_TEST_PG_URL is not set: run scripts/test-server (it starts PostgreSQL), \
                     or set KEYSEAL_SKIP_PG=1 to skip the PostgreSQL half on purpose"
                );
            }
        };
        let db = unique("ks_srv").to_lowercase();
        let mut client = postgres::Client::connect(&base, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to KEYSEAL_TEST_PG_URL: {e}"));
        client
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .unwrap_or_else(|e| panic!("cannot create the test database: {e}"));
        let (head, _) = base.rsplit_once('/').unwrap_or((&base, ""));
        let url = format!("{head}/{db}");
        keyseal_registry::Registry::migrate(
            &keyseal_registry::Storage::Postgres(url.clone()),
            keyseal_registry::SCHEMA_VERSION,
        )
        .unwrap_or_else(|e| panic!("cannot migrate the test database: {e}"));
        Some(url)
    })
    .clone()
}

/// A fresh, migrated PostgreSQL database on the server of `KEYSEAL_TEST_PG_URL`.
pub fn fresh_pg_db() -> Option<String> {
    let base = pg_url()?;
    let db = unique("ks_env").to_lowercase();
    let mut client = postgres::Client::connect(&base, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to the test database server: {e}"));
    client
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap_or_else(|e| panic!("cannot create a test database: {e}"));
    let (head, _) = base.rsplit_once('/').unwrap_or((&base, ""));
    Some(format!("{head}/{db}"))
}

/// A test installation: a temporary directory with the config, and a database.
pub struct Env {
    pub backend: Backend,
    pub dir: PathBuf,
    pub db: String,
    pub config: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An account and its owner key, from `keyseal init`.
#[derive(Clone, Debug)]
pub struct Owner {
    pub account: String,
    pub key: String,
    pub id: String,
}

impl Env {
    /// `None` when the backend is PostgreSQL and PG tests are skipped (KEYSEAL_SKIP_PG=1).
    pub fn new(backend: Backend) -> Option<Env> {
        let dir = std::env::temp_dir().join(unique("keyseal-e2e"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let db = match backend {
            Backend::Sqlite => dir.join("keyseal.db").display().to_string(),
            // A database of its own: each installation has its own secrets, and a server
            // refuses a database whose keys use another pepper.
            Backend::Postgres => match fresh_pg_db() {
                Some(u) => u,
                None => {
                    let _ = std::fs::remove_dir_all(&dir);
                    return None;
                }
            },
        };
        let config = dir.join("keyseal.toml");
        Some(Env {
            backend,
            dir,
            db,
            config,
        })
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env_remove("KEYSEAL_PEPPER_HEX")
            .env_remove("KEYSEAL_TOKEN_SECRET_HEX")
            .env("KEYSEAL_DB", &self.db)
            .env("KEYSEAL_CONFIG", &self.config)
            .env("KEYSEAL_LOG", "warn");
        c
    }

    /// `keyseal init --account <account> --json`.
    pub fn init(&self, account: &str) -> Owner {
        let out = self
            .cmd()
            .args(["init", "--json", "--account", account])
            .output()
            .expect("run keyseal init");
        assert!(
            out.status.success(),
            "init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("init json");
        Owner {
            account: v["account"].as_str().expect("account").to_owned(),
            key: v["secret"].as_str().expect("secret").to_owned(),
            id: v["key_id"].as_str().expect("key_id").to_owned(),
        }
    }

    /// A fresh account with a unique id.
    pub fn owner(&self) -> Owner {
        self.init(&unique("acct"))
    }

    pub fn start(&self) -> Server {
        Server::start(self)
    }
}

/// A running `keyseal serve` on a free loopback port.
pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Server {
    pub fn start(env: &Env) -> Server {
        Server::start_with(env, &[])
    }

    /// `keyseal serve` with extra flags (e.g. `--header-timeout 1`).
    pub fn start_with(env: &Env, flags: &[&str]) -> Server {
        let mut child = env
            .cmd()
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn keyseal serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = lines
            .next()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("keyseal serve printed nothing (did it fail to start?)"));
        let url = first
            .strip_prefix("keyseal listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_owned();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, url }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, then reap.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM; returns the exit status once the server has drained and exited.
    pub fn terminate(&mut self, within: Duration) -> std::process::ExitStatus {
        let st = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(st.success());
        let deadline = Instant::now() + within;
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "server did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn http(&self) -> Http {
        Http::new(&self.url)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// An answer: status, headers we care about, JSON body (Null when empty or not JSON).
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub etag: Option<String>,
    pub content_type: Option<String>,
    pub text: String,
    pub json: Value,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }

    /// Asserts an error answer of `status` with `code`, in the `{"error": {...}}` shape.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "status; body: {}", self.text);
        assert_eq!(self.code(), code, "code; body: {}", self.text);
        assert!(
            self.json["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "error message missing: {}",
            self.text
        );
    }

    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "body: {}", self.text);
        &self.json
    }
}

#[derive(Clone)]
pub struct Http {
    agent: ureq::Agent,
    pub base: String,
}

impl Http {
    pub fn new(base: &str) -> Http {
        let cfg = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build();
        Http {
            agent: ureq::Agent::new_with_config(cfg),
            base: base.to_owned(),
        }
    }

    /// Any request: `headers` as (name, value), raw body bytes.
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Resp {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = match body {
            Some(b) => self.agent.run(req.body(b).expect("request")),
            None => self.agent.run(req.body(()).expect("request")),
        }
        .unwrap_or_else(|e| panic!("{method} {path}: transport error {e}"));
        let status = resp.status().as_u16();
        let etag = resp
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = resp.into_body().read_to_string().unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            etag,
            content_type,
            text,
            json,
        }
    }

    pub fn get(&self, path: &str, key: &str) -> Resp {
        self.raw("GET", path, &[("x-api-key", key)], None)
    }

    pub fn send(&self, method: &str, path: &str, key: &str, body: &Value) -> Resp {
        self.raw(
            method,
            path,
            &[("x-api-key", key), ("content-type", "application/json")],
            Some(body.to_string().into_bytes()),
        )
    }

    pub fn post(&self, path: &str, key: &str, body: &Value) -> Resp {
        self.send("POST", path, key, body)
    }

    pub fn verify(&self, body: &Value) -> Resp {
        self.raw(
            "POST",
            "/v1/verify",
            &[("content-type", "application/json")],
            Some(body.to_string().into_bytes()),
        )
    }

    /// Verifies `key` with nothing else required; returns (valid, code).
    pub fn verify_key(&self, key: &str) -> (bool, String) {
        let r = self.verify(&serde_json::json!({ "key": key }));
        let v = r.expect(200);
        (
            v["valid"].as_bool().expect("valid"),
            v["code"].as_str().expect("code").to_owned(),
        )
    }

    /// Creates a key in `owner`'s account; returns the 201 body.
    pub fn create(&self, owner: &Owner, body: &Value) -> Value {
        let r = self.post(
            &format!("/v1/accounts/{}/keys", owner.account),
            &owner.key,
            body,
        );
        r.expect(201).clone()
    }
}

pub fn keys_path(owner: &Owner) -> String {
    format!("/v1/accounts/{}/keys", owner.account)
}

pub fn key_path(owner: &Owner, id: &str) -> String {
    format!("/v1/accounts/{}/keys/{id}", owner.account)
}

/// The directory holding the README whose tour the e2e test runs.
pub fn server_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
