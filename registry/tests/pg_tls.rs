//! TLS to PostgreSQL: `sslmode` and `sslrootcert` against a throw-away server with
//! `ssl=on` and a CA made when it started (`scripts/pg start --tls`).
//!
//! Reads `KEYSEAL_TEST_PG_TLS_URL` (the TLS instance, superuser `postgres`, plaintext
//! allowed for it), `KEYSEAL_TEST_PG_CA` (the PEM CA that signed its certificate) and
//! `KEYSEAL_TEST_PG_URL` (the plaintext instance, `ssl=off`). Without them these tests
//! FAIL, unless `KEYSEAL_SKIP_PG=1` says to skip PostgreSQL on purpose.
//!
//! Each test makes its own login role in `keyseal_tls_only` (pg_hba.conf: TLS only,
//! scram-sha-256, plaintext rejected) and its own database, and finds the registry's
//! connections in `pg_stat_activity` by a unique `application_name`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use keyseal::{ErrorCode, KeyFormat, Pepper, PepperSet, RequestContext};
use keyseal_registry::{Actor, NewKey, Registry, RegistryConfig, Storage};

struct Env {
    /// `postgres://postgres@127.0.0.1:PORT/postgres` on the TLS instance.
    tls_url: String,
    /// The CA that signed the TLS instance's certificate.
    ca: String,
    /// `postgres://postgres@127.0.0.1:PORT/postgres` on the plaintext instance.
    plain_url: String,
}

fn env() -> Option<&'static Env> {
    static ENV: OnceLock<Option<Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        match (
            var("KEYSEAL_TEST_PG_TLS_URL"),
            var("KEYSEAL_TEST_PG_CA"),
            var("KEYSEAL_TEST_PG_URL"),
        ) {
            (Some(tls_url), Some(ca), Some(plain_url)) => Some(Env {
                tls_url,
                ca,
                plain_url,
            }),
            _ if std::env::var("KEYSEAL_SKIP_PG").as_deref() == Ok("1") => None,
            _ => panic!(
                "KEYSEAL_TEST_PG_TLS_URL, KEYSEAL_TEST_PG_CA and KEYSEAL_TEST_PG_URL must be set: \
                 run `scripts/pg start --tls` and `scripts/pg env --tls` (scripts/test does), \
                 or set KEYSEAL_SKIP_PG=1 to skip PostgreSQL on purpose"
            ),
        }
    })
    .as_ref()
}

fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{tag}_{}_{n}_{nanos}", std::process::id())
}

/// `127.0.0.1:PORT` of a `postgres://user@127.0.0.1:PORT/db` URL.
fn host_port(url: &str) -> &str {
    let rest = url.split_once('@').expect("user@ in the test URL").1;
    rest.split_once('/').map_or(rest, |(hp, _)| hp)
}

fn admin(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).expect("connect as postgres (plaintext)")
}

/// A login role that pg_hba.conf admits over TLS only, with its own database.
struct Tenant {
    env: &'static Env,
    role: String,
    password: String,
    db: String,
}

impl Tenant {
    fn new() -> Option<Tenant> {
        let env = env()?;
        let role = unique("ks_tls").to_lowercase();
        let password = format!("Pw-{}", unique("secret"));
        let mut c = admin(&env.tls_url);
        c.batch_execute(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD '{password}' IN ROLE keyseal_tls_only"
        ))
        .unwrap();
        // CREATE DATABASE cannot share a multi-statement batch (an implicit transaction).
        c.batch_execute(&format!("CREATE DATABASE {role} OWNER {role}"))
            .unwrap();
        Some(Tenant {
            env,
            db: role.clone(),
            role,
            password,
        })
    }

    /// The tenant's URL on `host` (a name or address; the connection goes to 127.0.0.1),
    /// with `query` appended.
    fn url_on(&self, host: &str, query: &str) -> String {
        let port = host_port(&self.env.tls_url)
            .rsplit_once(':')
            .expect("a port")
            .1;
        let sep = if query.is_empty() { "" } else { "&" };
        format!(
            "postgres://{}:{}@{host}:{port}/{}?hostaddr=127.0.0.1{sep}{query}",
            self.role, self.password, self.db
        )
    }

    fn url(&self, query: &str) -> String {
        self.url_on("127.0.0.1", query)
    }
}

impl Drop for Tenant {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.env.tls_url, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db));
            let _ = c.batch_execute(&format!("DROP ROLE IF EXISTS {}", self.role));
        }
    }
}

fn config() -> RegistryConfig {
    let format = KeyFormat::new("ks_test").unwrap();
    let peppers = PepperSet::new(Pepper::new("p1", &[1u8; 32]).unwrap());
    let mut c = RegistryConfig::new(format, peppers);
    c.pool_size = 2;
    c
}

fn open(url: String) -> Result<Registry, keyseal::Error> {
    Registry::open(Storage::Postgres(url), config())
}

/// Creates and verifies a key, so the pool's connections really carry the traffic.
fn round_trip(r: &Registry) {
    let created = r
        .create(
            &NewKey::new("acct_tls", &unique("k")),
            &Actor::user("alice"),
        )
        .unwrap();
    r.clear_cache();
    let v = r
        .verify(created.key.expose(), &RequestContext::at(1_795_392_000))
        .unwrap();
    v.decision.unwrap();
}

/// `(ssl, query)` of every connection whose application_name is `app`, seen from `admin_url`.
fn sessions(admin_url: &str, app: &str) -> Vec<(bool, String)> {
    admin(admin_url)
        .query(
            "SELECT COALESCE(s.ssl, false), a.query FROM pg_stat_activity a \
             LEFT JOIN pg_stat_ssl s ON s.pid = a.pid WHERE a.application_name = $1",
            &[&app],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// A second CA, made now, that signed nothing the server has.
fn wrong_ca() -> &'static str {
    static CA: OnceLock<String> = OnceLock::new();
    CA.get_or_init(|| {
        let dir: PathBuf = std::env::temp_dir().join(unique("keyseal_wrong_ca"));
        std::fs::create_dir_all(&dir).unwrap();
        let st = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-subj",
                "/CN=keyseal wrong test CA",
                "-days",
                "1",
            ])
            .arg("-keyout")
            .arg(dir.join("ca.key"))
            .arg("-out")
            .arg(dir.join("ca.crt"))
            .output()
            .expect("run openssl");
        assert!(
            st.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&st.stderr)
        );
        dir.join("ca.crt").display().to_string()
    })
}

#[track_caller]
fn expect_refused(r: Result<Registry, keyseal::Error>, code: ErrorCode, says: &str, pw: &str) {
    let e = match r {
        Ok(_) => panic!("connected; expected {code:?} ({says})"),
        Err(e) => e,
    };
    let msg = e.to_string();
    assert_eq!(e.error_code(), code, "{msg}");
    assert!(msg.contains(says), "message {msg:?} should say {says:?}");
    assert!(!msg.contains(pw), "the password leaked into {msg:?}");
    assert!(
        !format!("{e:?}").contains(pw),
        "the password leaked into {e:?}"
    );
}

#[test]
fn verify_full_with_the_right_ca_runs_the_pool_and_the_listener_over_tls() {
    let Some(t) = Tenant::new() else { return };
    let app = unique("app");
    let url = t.url(&format!(
        "sslmode=verify-full&sslrootcert={}&application_name={app}",
        t.env.ca
    ));
    let r = open(url).unwrap();
    round_trip(&r);
    let s = sessions(&t.env.tls_url, &app);
    assert!(s.len() >= 2, "pool and listener connections: {s:?}");
    assert!(
        s.iter().all(|(ssl, _)| *ssl),
        "every connection on TLS: {s:?}"
    );
    assert!(
        s.iter().any(|(_, q)| q.starts_with("LISTEN")),
        "the listener's connection is among them: {s:?}"
    );
    r.close();
}

#[test]
fn verify_full_with_a_wrong_ca_fails_clearly() {
    let Some(t) = Tenant::new() else { return };
    for mode in ["verify-full", "verify-ca", "require", "prefer"] {
        // require and prefer with a root certificate check the chain too (libpq), and a
        // failed check never falls back to plaintext.
        expect_refused(
            open(t.url(&format!("sslmode={mode}&sslrootcert={}", wrong_ca()))),
            ErrorCode::StorageUnavailable,
            "the PostgreSQL server's certificate is not signed by a CA in sslrootcert",
            &t.password,
        );
    }
}

#[test]
fn verify_full_checks_the_host_name_and_verify_ca_does_not() {
    let Some(t) = Tenant::new() else { return };
    // The certificate names localhost and 127.0.0.1; hostaddr keeps the connection on
    // 127.0.0.1 while TLS checks the name given as host.
    let ca = &t.env.ca;
    expect_refused(
        open(t.url_on(
            "keyseal-not-in-cert.invalid",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        )),
        ErrorCode::StorageUnavailable,
        "does not match its host name",
        &t.password,
    );
    open(t.url_on(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .unwrap()
    .close();
    let app = unique("app");
    let r = open(t.url_on(
        "keyseal-not-in-cert.invalid",
        &format!("sslmode=verify-ca&sslrootcert={ca}&application_name={app}"),
    ))
    .unwrap();
    round_trip(&r);
    let s = sessions(&t.env.tls_url, &app);
    assert!(!s.is_empty() && s.iter().all(|(ssl, _)| *ssl), "{s:?}");
    r.close();
}

#[test]
fn require_uses_tls_without_a_ca() {
    let Some(t) = Tenant::new() else { return };
    let app = unique("app");
    let r = open(t.url(&format!("sslmode=require&application_name={app}"))).unwrap();
    round_trip(&r);
    let s = sessions(&t.env.tls_url, &app);
    assert!(s.len() >= 2 && s.iter().all(|(ssl, _)| *ssl), "{s:?}");
    r.close();
}

#[test]
fn require_never_falls_back_to_plaintext() {
    let Some(env) = env() else { return };
    // The plaintext instance answers the TLS request with "no". A database of our own
    // there, so the registry's tables stay out of the shared `postgres` database.
    let db = unique("ks_plain").to_lowercase();
    admin(&env.plain_url)
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap();
    let head = format!("postgres://postgres@{}/{db}", host_port(&env.plain_url));
    for q in [
        "sslmode=require".to_owned(),
        format!("sslmode=verify-ca&sslrootcert={}", env.ca),
        format!("sslmode=verify-full&sslrootcert={}", env.ca),
    ] {
        expect_refused(
            open(format!("{head}?{q}")),
            ErrorCode::StorageUnavailable,
            "the PostgreSQL server does not accept TLS, and sslmode requires it",
            "\u{0}",
        );
    }
    // prefer (the default) falls back when the server declines, and only then.
    let app = unique("app");
    let r = open(format!("{head}?sslmode=prefer&application_name={app}")).unwrap();
    round_trip(&r);
    let s = sessions(&env.plain_url, &app);
    assert!(!s.is_empty() && s.iter().all(|(ssl, _)| !*ssl), "{s:?}");
    r.close();
    drop(r);
    let _ = admin(&env.plain_url).batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"));
}

#[test]
fn disable_is_refused_by_a_tls_only_role_and_stays_plaintext_otherwise() {
    let Some(t) = Tenant::new() else { return };
    expect_refused(
        open(t.url("sslmode=disable")),
        ErrorCode::StorageUnavailable,
        "refused the connection (authentication or pg_hba.conf)",
        &t.password,
    );
    // The superuser may use plaintext on this instance: disable really means no TLS.
    let app = unique("app");
    let db = format!("{}/{}", host_port(&t.env.tls_url), t.db);
    let r = open(format!(
        "postgres://postgres@{db}?sslmode=disable&application_name={app}"
    ))
    .unwrap();
    round_trip(&r);
    let s = sessions(&t.env.tls_url, &app);
    assert!(s.len() >= 2 && s.iter().all(|(ssl, _)| !*ssl), "{s:?}");
    r.close();
}

#[test]
fn prefer_uses_tls_when_offered() {
    let Some(t) = Tenant::new() else { return };
    let db = format!("{}/{}", host_port(&t.env.tls_url), t.db);
    // Explicit, and libpq's default when sslmode is absent.
    for q in ["sslmode=prefer&", ""] {
        let app = unique("app");
        let r = open(format!(
            "postgres://postgres@{db}?{q}application_name={app}"
        ))
        .unwrap();
        round_trip(&r);
        let s = sessions(&t.env.tls_url, &app);
        assert!(
            s.len() >= 2 && s.iter().all(|(ssl, _)| *ssl),
            "{q:?}: {s:?}"
        );
        r.close();
    }
}

#[test]
fn malformed_tls_options_are_invalid_config() {
    let Some(t) = Tenant::new() else { return };
    let missing = std::env::temp_dir()
        .join(unique("no_such_ca"))
        .join("ca.pem");
    for (q, says) in [
        ("sslmode=verify-everything".to_owned(), "sslmode must be"),
        ("sslmode=allow".to_owned(), "allow is not supported"),
        (
            format!("sslmode=verify-full&sslrootcert={}", missing.display()),
            "sslrootcert must be a readable PEM file",
        ),
        ("sslmode=verify-ca".to_owned(), "sslrootcert must be set"),
        (
            "sslcert=/c.pem&sslkey=/k.pem".to_owned(),
            "client certificates",
        ),
    ] {
        expect_refused(open(t.url(&q)), ErrorCode::InvalidConfig, says, &t.password);
    }
}
