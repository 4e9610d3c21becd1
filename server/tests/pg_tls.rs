//! `keyseal serve` on PostgreSQL over TLS: `sslmode` and `sslrootcert` in the `--db` URL.
//!
//! Reads `KEYSEAL_TEST_PG_TLS_URL` and `KEYSEAL_TEST_PG_CA` (`scripts/pg start --tls`,
//! exported by scripts/test); without them this test FAILS unless `KEYSEAL_SKIP_PG=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{BIN, Http};

fn tls_env() -> Option<(String, String)> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (var("KEYSEAL_TEST_PG_TLS_URL"), var("KEYSEAL_TEST_PG_CA")) {
        (Some(url), Some(ca)) => Some((url, ca)),
        _ if std::env::var("KEYSEAL_SKIP_PG").as_deref() == Ok("1") => None,
        _ => panic!(
            "KEYSEAL_TEST_PG_TLS_URL and KEYSEAL_TEST_PG_CA must be set (`scripts/pg start --tls`, \
             `scripts/pg env --tls`), or KEYSEAL_SKIP_PG=1 to skip PostgreSQL on purpose"
        ),
    }
}

#[test]
fn serve_checks_the_servers_certificate_and_never_shows_the_password() {
    let Some((admin_url, ca)) = tls_env() else {
        return;
    };
    let tag = format!(
        "ks_srv_tls_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let dir = std::env::temp_dir().join(&tag);
    std::fs::create_dir_all(&dir).unwrap();
    let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {tag}"))
        .unwrap();
    let hostport = admin_url
        .split_once('@')
        .and_then(|(_, r)| r.split_once('/'))
        .expect("postgres://user@host:port/db")
        .0;
    // The instance trusts `postgres` on 127.0.0.1: the password is ignored by the server,
    // and must not appear in anything keyseal prints.
    let password = "NeverPrintedTlsPw";
    let db = |q: &str| format!("postgres://postgres:{password}@{hostport}/{tag}?{q}");

    // A second CA, made now, that signed nothing the server has.
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=keyseal wrong test CA", "-keyout"])
        .arg(dir.join("wrong.key"))
        .arg("-out")
        .arg(dir.join("wrong.crt"))
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wrong = dir.join("wrong.crt").display().to_string();

    let serve = |url: &str| {
        let mut c = Command::new(BIN);
        c.env_remove("KEYSEAL_PEPPER_HEX")
            .env_remove("KEYSEAL_TOKEN_SECRET_HEX")
            .env("KEYSEAL_DB", url)
            .env("KEYSEAL_CONFIG", dir.join("keyseal.toml"))
            .env("KEYSEAL_LOG", "warn")
            .args(["serve", "--addr", "127.0.0.1:0"]);
        c
    };

    let out = serve(&db(&format!("sslmode=verify-full&sslrootcert={wrong}")))
        .output()
        .expect("run keyseal serve");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(7), "{all}");
    assert!(
        all.contains("the PostgreSQL server's certificate is not signed by a CA in sslrootcert"),
        "{all}"
    );
    assert!(!all.contains(password), "{all}");

    let out = serve(&db("sslmode=verify-all"))
        .output()
        .expect("run keyseal serve");
    let all = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_ne!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("sslmode must be"), "{all}");
    assert!(!all.contains(password), "{all}");

    let mut child = serve(&db(&format!("sslmode=verify-full&sslrootcert={ca}")))
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn keyseal serve");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("first line");
    // Keep draining: the server prints more, and a closed pipe would end it.
    std::thread::spawn(move || for _ in stdout.lines() {});
    let url = first
        .trim()
        .strip_prefix("keyseal listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    Http::new(&url).raw("GET", "/readyz", &[], None).expect(200);
    let ssl: Vec<bool> = admin
        .query(
            "SELECT s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s ON s.pid = a.pid \
             WHERE a.datname = $1",
            &[&tag],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(!ssl.is_empty() && ssl.iter().all(|s| *s), "{ssl:?}");
    let _ = child.kill();
    let _ = child.wait();
    let _ = admin.batch_execute(&format!("DROP DATABASE {tag} WITH (FORCE)"));
    let _ = std::fs::remove_dir_all(&dir);
}
