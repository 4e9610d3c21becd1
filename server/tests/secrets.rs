//! Secrets of the server: environment variables, the pepper fingerprint check at start-up,
//! and `keyseal rotate pepper | token-key`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Backend, Env};
use serde_json::{Value, json};

/// Runs `cmd`; a command still running after 15 s is killed and the test fails (a server
/// that should have refused to start but serves instead).
fn run_briefly(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn keyseal");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "still running after 15 s (it should have refused): {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

fn serve_cmd(env: &Env) -> Command {
    let mut c = env.cmd();
    c.args(["serve", "--addr", "127.0.0.1:0"]);
    c
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn read_config(env: &Env) -> toml::Table {
    toml::from_str(&std::fs::read_to_string(&env.config).unwrap()).unwrap()
}

fn write_config(env: &Env, t: &toml::Table) {
    std::fs::write(&env.config, toml::to_string(t).unwrap()).unwrap();
    std::fs::set_permissions(&env.config, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Sets `verify_until` of every non-current entry of `list` to a past time.
fn expire_previous(env: &Env, list: &str) {
    let mut t = read_config(env);
    let entries = t[list].as_array_mut().expect("list form");
    for e in entries.iter_mut() {
        let e = e.as_table_mut().unwrap();
        if e.contains_key("verify_until") {
            e.insert("verify_until".into(), toml::Value::Integer(1));
        }
    }
    write_config(env, &t);
}

fn rotate(env: &Env, what: &str, grace: &str) -> Value {
    let out = env
        .cmd()
        .args(["rotate", what, "--grace", grace, "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "rotate failed: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn kid_of(token: &str) -> String {
    use std::io::Read;
    let head = token.split('.').next().unwrap();
    // base64url without padding -> JSON header.
    const A: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let (mut bits, mut n, mut out) = (0u32, 0, Vec::new());
    for c in head.chars() {
        bits = (bits << 6) | A.find(c).unwrap() as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    let mut s = String::new();
    out.as_slice().read_to_string(&mut s).unwrap();
    let v: Value = serde_json::from_str(&s).unwrap();
    v["kid"].as_str().unwrap().to_owned()
}

#[test]
fn only_one_secret_env_var_is_an_error() {
    let env = Env::new(Backend::Sqlite).unwrap();
    for (set, missing) in [
        ("KEYSEAL_PEPPER_HEX", "KEYSEAL_TOKEN_SECRET_HEX"),
        ("KEYSEAL_TOKEN_SECRET_HEX", "KEYSEAL_PEPPER_HEX"),
    ] {
        let mut c = serve_cmd(&env);
        c.env(set, "ab".repeat(32));
        let out = run_briefly(c);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("invalid_config") && err.contains(missing),
            "{err}"
        );
        assert!(!err.contains(&"ab".repeat(32)), "never the secret: {err}");
        assert!(!env.config.exists(), "no config was generated");
    }
}

fn refuses_foreign_secrets(b: Backend) {
    let Some(env) = Env::new(b) else { return };
    let owner = env.init("acct_secrets");
    // Started from elsewhere: no config there, and the database already holds keys.
    let elsewhere = env.dir.join("elsewhere").join("keyseal.toml");
    let mut c = serve_cmd(&env);
    c.env("KEYSEAL_CONFIG", &elsewhere);
    let out = run_briefly(c);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("already holds keys"),
        "{}",
        stderr(&out)
    );
    assert!(!elsewhere.exists(), "no new secrets were written");

    // Same pepper id, another secret.
    let original = std::fs::read_to_string(&env.config).unwrap();
    let mut t = read_config(&env);
    let id = t["pepper"]["id"].as_str().unwrap().to_owned();
    let wrong = "cd".repeat(32);
    t["pepper"]["secret_hex"] = toml::Value::String(wrong.clone());
    write_config(&env, &t);
    let out = run_briefly(serve_cmd(&env));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("digest_mismatch") && err.contains(&id),
        "{err}"
    );
    assert!(!err.contains(&wrong), "never the secret: {err}");

    // Another pepper altogether (e.g. from the environment).
    let mut c = serve_cmd(&env);
    c.env("KEYSEAL_PEPPER_HEX", "ef".repeat(32))
        .env("KEYSEAL_TOKEN_SECRET_HEX", "ef".repeat(32));
    let out = run_briefly(c);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("unknown_pepper") && err.contains(&id), "{err}");

    // The right config still starts.
    std::fs::write(&env.config, original).unwrap();
    let srv = env.start();
    srv.http()
        .get(&common::keys_path(&owner), &owner.key)
        .expect(200);
}

#[test]
fn sqlite_refuses_foreign_secrets() {
    refuses_foreign_secrets(Backend::Sqlite);
}

#[test]
fn postgres_refuses_foreign_secrets() {
    refuses_foreign_secrets(Backend::Postgres);
}

#[test]
fn rotate_pepper_keeps_old_keys_and_rehashes_them_on_use() {
    let env = Env::new(Backend::Sqlite).unwrap();
    let used = env.init("acct_used");
    let unused = env.init("acct_unused");
    let old_id = read_config(&env)["pepper"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let r = rotate(&env, "pepper", "30d");
    assert_eq!(r["previous"], json!(old_id));
    let new_id = r["current"].as_str().unwrap().to_owned();
    assert_ne!(new_id, old_id);
    let until = r["previous_verify_until"].as_i64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((until - now - 30 * 86_400).abs() < 60, "{until}");
    let mode = std::fs::metadata(&env.config).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let t = read_config(&env);
    assert!(!t.contains_key("pepper"), "rewritten in the list form");
    let peppers = t["peppers"].as_array().unwrap();
    assert_eq!(peppers.len(), 2, "the old pepper is kept");
    assert!(
        peppers
            .iter()
            .any(|p| p["id"].as_str() == Some(&old_id) && p.get("verify_until").is_some())
    );
    // No temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&env.dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());

    // The old key verifies (and is re-digested with the new pepper); new keys use it.
    let mut srv = env.start();
    let h = srv.http();
    h.get(&common::keys_path(&used), &used.key).expect(200);
    let fresh = h.create(&used, &json!({"name": "after-rotation"}));
    let fresh_key = fresh["secret"].as_str().unwrap().to_owned();
    srv.terminate(Duration::from_secs(10));

    // The old pepper's time is up: only keys moved to the new pepper still verify.
    expire_previous(&env, "peppers");
    let srv = env.start();
    let h = srv.http();
    h.get(&common::keys_path(&used), &used.key).expect(200);
    assert_eq!(h.verify_key(&fresh_key), (true, "ok".to_owned()));
    let (valid, code) = h.verify_key(&unused.key);
    assert!(!valid);
    assert_eq!(code, "unknown_pepper");
}

#[test]
fn rotate_token_key_keeps_old_tokens_until_the_grace_date() {
    let env = Env::new(Backend::Sqlite).unwrap();
    let owner = env.init("acct_tokens");
    let old_kid = read_config(&env)["token"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let issue = |srv: &common::Server| -> String {
        let r = srv.http().raw(
            "POST",
            "/v1/token",
            &[("x-api-key", owner.key.as_str())],
            None,
        );
        r.expect(200)["token"].as_str().unwrap().to_owned()
    };
    let check = |srv: &common::Server, token: &str| -> Value {
        srv.http()
            .raw(
                "POST",
                "/v1/tokens/verify",
                &[("content-type", "application/json")],
                Some(json!({ "token": token }).to_string().into_bytes()),
            )
            .expect(200)
            .clone()
    };
    let mut srv = env.start();
    let old_token = issue(&srv);
    assert_eq!(kid_of(&old_token), old_kid);
    srv.terminate(Duration::from_secs(10));

    let r = rotate(&env, "token-key", "1h");
    let new_kid = r["current"].as_str().unwrap().to_owned();
    assert_eq!(r["previous"], json!(old_kid));
    let mut srv = env.start();
    assert_eq!(
        check(&srv, &old_token)["valid"],
        json!(true),
        "the old key verifies"
    );
    let new_token = issue(&srv);
    assert_eq!(kid_of(&new_token), new_kid, "new tokens use the new key");
    srv.terminate(Duration::from_secs(10));

    // After the grace date the old key's tokens fail; the new key's still verify.
    expire_previous(&env, "token_keys");
    let srv = env.start();
    let v = check(&srv, &old_token);
    assert_eq!(v["valid"], json!(false));
    assert_eq!(v["code"], json!("key_retired"));
    assert_eq!(check(&srv, &new_token)["valid"], json!(true));
}

#[test]
fn rotate_needs_a_config_file_and_a_valid_grace() {
    let env = Env::new(Backend::Sqlite).unwrap();
    let out = env.cmd().args(["rotate", "pepper"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    env.init("acct_x");
    let out = env
        .cmd()
        .args(["rotate", "pepper", "--grace", "soon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // The default grace of a token key: the token lifetime plus a day.
    let out = env
        .cmd()
        .args(["rotate", "token-key", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let until = v["previous_verify_until"].as_i64().unwrap();
    assert!((until - now - 600 - 86_400).abs() < 60, "{until}");
}

/// HMAC-SHA256 of `key` under `secret` as hex, the way another system stores it.
fn foreign_hmac_hex(secret: &[u8], key: &str) -> String {
    let set = keyseal::PepperSet::new(keyseal::Pepper::new("x", secret).unwrap());
    let v1 = set.digest(key);
    const A: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let (mut bits, mut n, mut out) = (0u32, 0, String::new());
    for c in v1.rsplit('.').next().unwrap().chars() {
        bits = (bits << 6) | A.find(c).unwrap() as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push_str(&format!("{:02x}", (bits >> n) as u8));
        }
    }
    out
}

fn import_lines(env: &Env, lines: &str) -> Output {
    use std::io::Write;
    let mut child = env
        .cmd()
        .args(["import", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn import_command(b: Backend) {
    let Some(env) = Env::new(b) else { return };
    env.init("acct_imports");
    let format = keyseal::KeyFormat::new("ks").unwrap();
    let plain = format.generate_os().unwrap();
    let foreign = format.generate_os().unwrap();
    let legacy_secret = [7u8; 32];
    let line = |k: &keyseal::ApiKey, name: &str, digest: String, pepper: Option<&str>| {
        json!({
            "id": k.id(),
            "fields": {"account": "acct_imports", "name": name},
            "digest": digest,
            "pepper": pepper,
        })
        .to_string()
    };
    let lines = format!(
        "{}\n{}\n",
        line(
            &plain,
            "plain",
            keyseal::digest::sha256_hex(plain.expose()),
            None
        ),
        line(
            &foreign,
            "foreign",
            foreign_hmac_hex(&legacy_secret, foreign.expose()),
            Some("legacy")
        ),
    );
    // Imports are off by default.
    let out = import_lines(&env, &lines);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("line 1: invalid_config"),
        "{}",
        stderr(&out)
    );
    // Turned on, with the other system's pepper.
    let mut t = read_config(&env);
    let mut imports = toml::Table::new();
    imports.insert("accept_imported_digests".into(), toml::Value::Boolean(true));
    let mut legacy = toml::Table::new();
    legacy.insert("id".into(), toml::Value::String("legacy".into()));
    legacy.insert("secret_hex".into(), toml::Value::String("07".repeat(32)));
    imports.insert(
        "foreign_peppers".into(),
        toml::Value::Array(vec![toml::Value::Table(legacy)]),
    );
    t.insert("imports".into(), toml::Value::Table(imports));
    write_config(&env, &t);
    let out = import_lines(&env, &lines);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("imported 2 keys"), "{}", stderr(&out));
    let mut srv = env.start();
    let h = srv.http();
    assert_eq!(h.verify_key(plain.expose()), (true, "ok".to_owned()));
    assert_eq!(h.verify_key(foreign.expose()), (true, "ok".to_owned()));
    srv.terminate(Duration::from_secs(10));
    // Upgraded on first use: they verify with imports off again.
    let mut t = read_config(&env);
    t.remove("imports");
    write_config(&env, &t);
    let srv = env.start();
    let h = srv.http();
    assert_eq!(h.verify_key(plain.expose()), (true, "ok".to_owned()));
    assert_eq!(h.verify_key(foreign.expose()), (true, "ok".to_owned()));
}

#[test]
fn sqlite_import_command() {
    import_command(Backend::Sqlite);
}

#[test]
fn postgres_import_command() {
    import_command(Backend::Postgres);
}
