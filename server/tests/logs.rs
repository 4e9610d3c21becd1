//! Secrets never reach the logs, at any `KEYSEAL_LOG` level: the PostgreSQL driver logs
//! every statement's parameters (key digests, metadata) at debug level, so its targets
//! are held at `warn` whatever the filter says.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use common::{Backend, Env, Http, key_path, keys_path};
use serde_json::json;

/// The digest the registry stored for `id` (read straight from the database).
fn stored_digest(db: &str, id: &str) -> String {
    let mut c = postgres::Client::connect(db, postgres::NoTls).expect("connect");
    c.query_one("SELECT digest FROM keys WHERE id = $1", &[&id])
        .expect("the key's row")
        .get(0)
}

#[test]
fn trace_logs_on_postgres_carry_no_secret_digest_or_metadata() {
    let Some(env) = Env::new(Backend::Postgres) else {
        return;
    };
    let owner = env.owner();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    // The broad level, and directives that name the driver's targets themselves.
    for (i, level) in [
        "trace",
        "trace,tokio_postgres=trace,tokio_postgres::query=trace,postgres=trace",
    ]
    .into_iter()
    .enumerate()
    {
        let marker = format!("log-marker-{}-{nanos}-{i}", std::process::id());
        let mut child = env
            .cmd()
            .env("KEYSEAL_LOG", level)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn keyseal serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("first line");
        let url = first
            .trim()
            .strip_prefix("keyseal listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_owned();
        // Drain both pipes while the server runs, so it never blocks on a full one.
        let out_reader = std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = stdout.read_to_string(&mut rest);
            rest
        });
        let mut stderr = child.stderr.take().expect("stderr");
        let err_reader = std::thread::spawn(move || {
            let mut all = String::new();
            let _ = stderr.read_to_string(&mut all);
            all
        });
        let h = Http::new(&url);
        let created = h.create(
            &owner,
            &json!({"name": format!("logged-{i}"), "metadata": {"note": marker}}),
        );
        let secret = created["secret"].as_str().expect("secret").to_owned();
        let id = created["id"].as_str().expect("id").to_owned();
        assert_eq!(h.verify_key(&secret), (true, "ok".to_owned()));
        h.get(&key_path(&owner, &id), &owner.key).expect(200);
        h.get(&keys_path(&owner), &owner.key).expect(200);
        let digest = stored_digest(&env.db, &id);

        let st = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(st.success());
        child.wait().expect("wait");
        let rest = out_reader.join().expect("stdout reader");
        let err = err_reader.join().expect("stderr reader");
        let logs = format!("{first}{rest}{err}");

        // The filter was really at trace: the server's own debug line is there.
        assert!(
            logs.contains("request"),
            "{level}: debug logs expected: {logs}"
        );
        let (_, secret_half) = secret.rsplit_once('_').expect("key shape");
        let (_, digest_mac) = digest.rsplit_once('.').expect("digest shape");
        for (what, s) in [
            ("the key", secret.as_str()),
            ("the key's secret part", secret_half),
            ("the digest", digest.as_str()),
            ("the digest's MAC", digest_mac),
            ("the metadata", marker.as_str()),
        ] {
            assert!(
                !logs.contains(s),
                "KEYSEAL_LOG={level}: {what} leaked into the logs"
            );
        }
    }
}
