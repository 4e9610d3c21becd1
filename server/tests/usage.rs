//! Usage analytics end to end: verifications through `POST /v1/verify` show up in
//! `GET /v1/accounts/{account}/keys/{id}/usage`, `GET /v1/accounts/{account}/usage`
//! and `keyseal keys usage`, on SQLite and on PostgreSQL.

#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Sums `field` over the buckets of a usage answer.
fn total(v: &Value, field: &str) -> u64 {
    v["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|b| b[field].as_u64().expect("count"))
        .sum()
}

/// Sums the outcome `code` over the buckets of a usage answer.
fn outcome(v: &Value, code: &str) -> u64 {
    v["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|b| b["outcomes"][code].as_u64().unwrap_or(0))
        .sum()
}

/// GETs `path` until its total of verifications reaches `want` (counts are written about
/// a second after the verification).
fn wait_for(http: &Http, path: &str, key: &str, want: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = http.get(path, key);
        let v = r.expect(200).clone();
        if total(&v, "valid") + total(&v, "refused") >= want || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn usage_routes_and_cli(b: Backend) {
    let Some(env) = Env::new(b) else { return };
    let srv = env.start();
    let http = srv.http();
    let o = env.owner();
    let limited = http.create(
        &o,
        &json!({"name": "limited", "owner": "alice",
                "limits": [{"name": "per_minute", "limit": 2, "window_ms": 60000}]}),
    );
    let credited = http.create(
        &o,
        &json!({"name": "credited", "owner": "bob", "credits": {"remaining": 3}}),
    );
    let disabled = http.create(
        &o,
        &json!({"name": "off", "owner": "bob", "enabled": false}),
    );
    let verify = |k: &Value, cost: u64| {
        http.verify(&json!({"key": k["secret"], "cost": cost}));
    };
    for _ in 0..3 {
        verify(&limited, 1);
    }
    verify(&credited, 2);
    verify(&credited, 2);
    verify(&disabled, 1);

    let (from, to) = (now() - 3_600, now() + 3_600);
    let range = format!("from={from}&to={to}");
    let id = limited["id"].as_str().unwrap();
    let path = format!("{}/usage?granularity=minute&{range}", key_path(&o, id));
    let v = wait_for(&http, &path, &o.key, 3);
    assert_eq!(v["granularity"], "minute");
    assert_eq!(v["key_id"], id);
    assert_eq!(v["owner"], Value::Null);
    assert_eq!(
        (v["from"].as_i64(), v["to"].as_i64()),
        (Some(from), Some(to))
    );
    assert_eq!((total(&v, "valid"), total(&v, "refused")), (2, 1));
    assert_eq!(outcome(&v, "rate_limited"), 1);
    assert_eq!(total(&v, "credits_spent"), 0);
    // By name too.
    let by_name = http.get(
        &format!(
            "{}/usage?granularity=hour&{range}",
            key_path(&o, "name:limited")
        ),
        &o.key,
    );
    assert_eq!(total(by_name.expect(200), "valid"), 2);

    let account = format!("/v1/accounts/{}/usage", o.account);
    let v = wait_for(
        &http,
        &format!("{account}?owner=bob&granularity=hour&{range}"),
        &o.key,
        3,
    );
    assert_eq!(v["owner"], "bob");
    assert_eq!(v["key_id"], Value::Null);
    assert_eq!((total(&v, "valid"), total(&v, "refused")), (1, 2));
    assert_eq!(outcome(&v, "usage_exceeded"), 1);
    assert_eq!(outcome(&v, "key_disabled"), 1);
    assert_eq!(total(&v, "credits_spent"), 2);
    // The whole account: these six, and the owner key's own management calls.
    let v = http.get(&format!("{account}?granularity=day&{range}"), &o.key);
    let v = v.expect(200);
    assert!(total(v, "valid") >= 3, "{v}");
    assert_eq!(total(v, "refused"), 3);

    // Refusals.
    let bad = |q: &str| http.get(&format!("{account}?{q}"), &o.key);
    bad("granularity=week").expect_error(400, "invalid_argument");
    bad("from=yesterday").expect_error(400, "invalid_argument");
    bad("key_id=x").expect_error(400, "invalid_argument");
    bad(&format!("from={to}&to={from}")).expect_error(422, "invalid_argument");
    bad(&format!(
        "granularity=minute&from={}&to={}",
        from,
        from + 1_441 * 60
    ))
    .expect_error(422, "invalid_argument");
    http.get(&format!("{}/usage", key_path(&o, "nope")), &o.key)
        .expect_error(404, "not_found");
    http.get(&format!("{}/usage?owner=bob", key_path(&o, id)), &o.key)
        .expect_error(400, "invalid_argument");
    // Another account's owner sees 404, a key that is not an owner 403.
    let other = env.owner();
    http.get(&format!("{}/usage", key_path(&o, id)), &other.key)
        .expect_error(404, "not_found");
    let plain = http.create(&o, &json!({"name": "plain"}));
    http.get(&account, plain["secret"].as_str().unwrap())
        .expect_error(403, "permission_denied");

    // The CLI.
    let run = |args: &[&str]| {
        let out = env
            .cmd()
            .env("KEYSEAL_URL", &srv.url)
            .env("KEYSEAL_KEY", &o.key)
            .args(args)
            .output()
            .expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (from_s, to_s) = (from.to_string(), to.to_string());
    let (c, out, err) = run(&[
        "keys",
        "usage",
        id,
        "--granularity",
        "day",
        "--from",
        &from_s,
        "--to",
        &to_s,
        "--json",
    ]);
    assert_eq!(c, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!((total(&v, "valid"), total(&v, "refused")), (2, 1));
    let (c, out, err) = run(&[
        "keys", "usage", "--owner", "bob", "--from", &from_s, "--to", &to_s,
    ]);
    assert_eq!(c, Some(0), "{err}");
    assert!(out.starts_with("START"), "{out}");
    assert!(
        out.contains("usage_exceeded=1") && out.contains("key_disabled=1"),
        "{out}"
    );
    assert!(out.contains("1 valid, 2 refused, 2 credits spent"), "{out}");
    let (c, _, err) = run(&["keys", "usage", "--granularity", "week"]);
    assert_ne!(c, Some(0));
    assert!(err.contains("invalid_argument"), "{err}");
}
both!(usage_routes_and_cli);
