//! Regression tests for the adversarial review's findings against `keyseal serve`: label
//! floods in `/metrics`, tokens bound to their key's account and never outliving it,
//! timestamps out of range, and slow or abusive clients on real sockets.

#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

#[macro_use]
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

fn addr(srv: &Server) -> String {
    srv.url.trim_start_matches("http://").to_owned()
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Sends `bytes` on a fresh connection and reads until the server closes it or
/// `within` passes; returns what was read and whether the server closed.
fn send_and_read(srv: &Server, bytes: &[u8], within: Duration) -> (String, bool) {
    let mut s = TcpStream::connect(addr(srv)).expect("connect");
    s.write_all(bytes).expect("write");
    read_until_closed(&mut s, within)
}

fn read_until_closed(s: &mut TcpStream, within: Duration) -> (String, bool) {
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (String::from_utf8_lossy(&out).into_owned(), false);
        }
        s.set_read_timeout(Some(left)).expect("timeout");
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (String::from_utf8_lossy(&out).into_owned(), false);
            }
            // A reset is a close too.
            Err(_) => return (String::from_utf8_lossy(&out).into_owned(), true),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Metrics and logs: labels from a closed set

/// Distinct client-chosen methods never become metric series: 200 requests with
/// distinct 8 KiB methods leave one `other` series, and 100 requests with 100 KB methods
/// are refused before routing; RSS stays bounded.
#[test]
fn metrics_method_flood_leaves_series_and_memory_bounded() {
    let env = Env::new(Backend::Sqlite).expect("sqlite env");
    let srv = env.start();
    let h = srv.http();
    h.raw("GET", "/healthz", &[], None).expect(200);
    let rss_before = rss_kib(srv.pid());
    for i in 0..200 {
        let method = format!("M{i:04}{}", "X".repeat(8 * 1024));
        let req = format!("{method} /v1/verify HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let (resp, _) = send_and_read(&srv, req.as_bytes(), Duration::from_secs(10));
        assert!(
            resp.starts_with("HTTP/1.1 405"),
            "{}",
            &resp[..resp.len().min(80)]
        );
    }
    for i in 0..100 {
        let method = format!("B{i:04}{}", "Y".repeat(100 * 1024));
        let req = format!("{method} /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        // The head is over the server's limit: refused (431) or the connection closed.
        let mut s = TcpStream::connect(addr(&srv)).expect("connect");
        let _ = s.write_all(req.as_bytes());
        let (resp, _) = read_until_closed(&mut s, Duration::from_secs(10));
        assert!(
            resp.is_empty() || resp.starts_with("HTTP/1.1 431"),
            "{}",
            &resp[..resp.len().min(80)]
        );
    }
    let m = h.raw("GET", "/metrics", &[], None);
    assert_eq!(m.status, 200);
    let series: Vec<&str> = m
        .text
        .lines()
        .filter(|l| l.starts_with("keyseal_http_requests_total{"))
        .collect();
    assert!(series.len() <= 4, "series: {series:?}");
    assert!(
        m.text.contains(
            r#"keyseal_http_requests_total{method="other",route="/v1/verify",status="405"} 200"#
        ),
        "{}",
        m.text
    );
    assert!(!m.text.contains("XXXX") && !m.text.contains("M0001"));
    assert!(m.text.len() < 64 * 1024, "metrics: {} bytes", m.text.len());
    let growth = rss_kib(srv.pid()).saturating_sub(rss_before);
    assert!(growth < 16 * 1024, "RSS grew by {growth} KiB");
}

// ---------------------------------------------------------------------------------------
// Tokens: bound to their account, never outliving their key

/// An owner of account A names a user of account B as a key's owner, with role admin
/// and every scope, and exchanges it: the token says account A, a service of account B
/// that checks the account refuses it, and `whoami` reports account A.
fn token_impersonating_another_account_is_refused(b: Backend) {
    let Some(env) = Env::new(b) else { return };
    let srv = env.start();
    let h = srv.http();
    let a = env.owner();
    let victim = env.owner();
    let k = h.create(
        &a,
        &json!({"name": "impostor", "owner": "user_of_b", "role": "admin", "scopes": ["*"]}),
    );
    let secret = k["secret"].as_str().unwrap();
    let tok = h
        .raw("POST", "/v1/token", &[("x-api-key", secret)], None)
        .expect(200)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let v = h.raw(
        "POST",
        "/v1/tokens/verify",
        &[("content-type", "application/json")],
        Some(
            json!({"token": tok, "account": victim.account})
                .to_string()
                .into_bytes(),
        ),
    );
    let v = v.expect(200);
    assert_eq!(v["valid"], false, "{v}");
    assert_eq!(v["code"], "invalid_claim");
    let v = h
        .raw(
            "POST",
            "/v1/tokens/verify",
            &[("content-type", "application/json")],
            Some(json!({"token": tok}).to_string().into_bytes()),
        )
        .expect(200)
        .clone();
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["account"], a.account.as_str());
    assert_eq!(v["claims"]["account"], a.account.as_str());
    assert_eq!(v["claims"]["sub"], "user_of_b");
    let w = h.raw(
        "GET",
        "/v1/whoami",
        &[("authorization", &format!("Bearer {tok}"))],
        None,
    );
    assert_eq!(w.expect(200)["account"], a.account.as_str());
    // The same account is accepted.
    let v = h.raw(
        "POST",
        "/v1/tokens/verify",
        &[("content-type", "application/json")],
        Some(
            json!({"token": tok, "account": a.account})
                .to_string()
                .into_bytes(),
        ),
    );
    assert_eq!(v.expect(200)["valid"], true);
}
both!(token_impersonating_another_account_is_refused);

fn token_verify(h: &Http, tok: &str) -> Value {
    h.raw(
        "POST",
        "/v1/tokens/verify",
        &[("content-type", "application/json")],
        Some(json!({ "token": tok }).to_string().into_bytes()),
    )
    .expect(200)
    .clone()
}

/// A token's `exp` is capped at its key's expiry, and a token stops working when its key
/// is disabled or deleted (whoami and token verify), before its own `exp`.
fn tokens_never_outlive_their_key(b: Backend) {
    let Some(env) = Env::new(b) else { return };
    let srv = env.start();
    let h = srv.http();
    let o = env.owner();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let k = h.create(&o, &json!({"name": "short", "expires_at": now + 3}));
    let secret = k["secret"].as_str().unwrap();
    let t = h
        .raw("POST", "/v1/token", &[("x-api-key", secret)], None)
        .expect(200)
        .clone();
    assert!(t["expires_in"].as_i64().unwrap() <= 3, "{t}");
    let v = token_verify(&h, t["token"].as_str().unwrap());
    assert!(v["claims"]["exp"].as_i64().unwrap() <= now + 3, "{v}");

    let k = h.create(&o, &json!({"name": "long"}));
    let (id, secret) = (k["id"].as_str().unwrap(), k["secret"].as_str().unwrap());
    let tok = h
        .raw("POST", "/v1/token", &[("x-api-key", secret)], None)
        .expect(200)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(token_verify(&h, &tok)["valid"], true);
    let bearer = format!("Bearer {tok}");
    h.post(&format!("{}/disable", key_path(&o, id)), &o.key, &json!({}))
        .expect(200);
    let v = token_verify(&h, &tok);
    assert_eq!(
        (v["valid"].clone(), v["code"].clone()),
        (json!(false), json!("key_disabled"))
    );
    h.raw("GET", "/v1/whoami", &[("authorization", &bearer)], None)
        .expect_error(401, "key_disabled");
    h.post(&format!("{}/enable", key_path(&o, id)), &o.key, &json!({}))
        .expect(200);
    assert_eq!(token_verify(&h, &tok)["valid"], true);
    h.raw("DELETE", &key_path(&o, id), &[("x-api-key", &o.key)], None)
        .expect(204);
    let v = token_verify(&h, &tok);
    assert_eq!(v["code"], "key_revoked", "{v}");
    h.raw("GET", "/v1/whoami", &[("authorization", &bearer)], None)
        .expect_error(401, "key_revoked");
}
both!(tokens_never_outlive_their_key);

// ---------------------------------------------------------------------------------------
// Timestamps

/// `expires_at` of i64::MIN once made an expired key valid forever (the verify cache used
/// it as its "none" marker); times outside 0..=253402300799 are refused.
fn expires_at_out_of_range_is_refused(b: Backend) {
    let Some(env) = Env::new(b) else { return };
    let srv = env.start();
    let h = srv.http();
    let o = env.owner();
    for bad in [i64::MIN, -1, 253_402_300_800, i64::MAX] {
        let r = h.post(
            &keys_path(&o),
            &o.key,
            &json!({"name": format!("t{}", bad.unsigned_abs() % 1000), "expires_at": bad}),
        );
        r.expect_error(422, "invalid_argument");
    }
    let k = h.create(&o, &json!({"name": "epoch", "expires_at": 0}));
    let (valid, code) = h.verify_key(k["secret"].as_str().unwrap());
    assert_eq!((valid, code.as_str()), (false, "key_expired"));
    let r = h.send(
        "PATCH",
        &key_path(&o, k["id"].as_str().unwrap()),
        &o.key,
        &json!({"expires_at": i64::MIN}),
    );
    // PATCH needs If-Match; with it, the range check answers.
    assert_eq!(r.status, 400);
    let r = h.raw(
        "PATCH",
        &key_path(&o, k["id"].as_str().unwrap()),
        &[
            ("x-api-key", &o.key),
            ("content-type", "application/json"),
            ("if-match", "1"),
        ],
        Some(json!({"expires_at": i64::MIN}).to_string().into_bytes()),
    );
    r.expect_error(422, "invalid_argument");
}
both!(expires_at_out_of_range_is_refused);

// ---------------------------------------------------------------------------------------
// Slow and abusive clients, on real sockets

/// Half a request head, nothing at all, or an idle keep-alive connection: each is closed
/// once the header timeout passes (1 s here), never served later.
#[test]
fn slow_heads_and_idle_connections_are_closed() {
    let env = Env::new(Backend::Sqlite).expect("sqlite env");
    let srv = Server::start_with(&env, &["--header-timeout", "1"]);
    let started = Instant::now();
    let (resp, closed) = send_and_read(
        &srv,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n",
        Duration::from_secs(8),
    );
    assert!(closed, "a partial head was kept open");
    assert!(
        !resp.contains("200 OK"),
        "a partial head was served: {resp}"
    );
    let (_, closed) = send_and_read(&srv, b"", Duration::from_secs(8));
    assert!(closed, "a silent connection was kept open");
    let mut s = TcpStream::connect(addr(&srv)).expect("connect");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let (resp, closed) = read_until_closed(&mut s, Duration::from_secs(8));
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(closed, "an idle keep-alive connection was kept open");
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// A management call's body is read only after its caller is authenticated: a request
/// with a bad key that announces a 500 KB body is refused at once, before any body byte.
#[test]
fn management_body_is_not_read_before_authentication() {
    let env = Env::new(Backend::Sqlite).expect("sqlite env");
    let srv = env.start();
    let o = env.owner();
    let head = format!(
        "POST /v1/accounts/{}/keys HTTP/1.1\r\nHost: x\r\nx-api-key: ks_0000000000000000_nope\r\n\
         content-type: application/json\r\ncontent-length: 500000\r\n\r\n",
        o.account
    );
    let mut s = TcpStream::connect(addr(&srv)).expect("connect");
    s.write_all(head.as_bytes()).expect("write");
    let (resp, _) = read_until_closed(&mut s, Duration::from_secs(5));
    assert!(resp.starts_with("HTTP/1.1 401"), "{resp}");
    // An unauthenticated route never reads more than 16 KiB.
    let head = "POST /v1/verify HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n\
                content-length: 500000\r\n\r\n";
    let (resp, _) = send_and_read(&srv, head.as_bytes(), Duration::from_secs(5));
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
}

/// At most `--max-connections` connections are served at once; the next waits until one
/// closes, then is served.
#[test]
fn connection_cap_holds_and_frees() {
    let env = Env::new(Backend::Sqlite).expect("sqlite env");
    let srv = Server::start_with(&env, &["--max-connections", "2", "--header-timeout", "30"]);
    let idle1 = TcpStream::connect(addr(&srv)).expect("connect");
    let idle2 = TcpStream::connect(addr(&srv)).expect("connect");
    std::thread::sleep(Duration::from_millis(300));
    let mut third = TcpStream::connect(addr(&srv)).expect("connect (backlog)");
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let (resp, _) = read_until_closed(&mut third, Duration::from_secs(1));
    assert!(resp.is_empty(), "served past the connection cap: {resp}");
    drop(idle1);
    let (resp, _) = read_until_closed(&mut third, Duration::from_secs(10));
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    drop(idle2);
}

/// SIGTERM with idle connections and a connection stuck in the middle of a request head:
/// the idle ones close at once, the stuck one at the header timeout (10 s by default), and
/// the server exits instead of waiting for them forever.
#[test]
fn sigterm_is_not_stalled_by_idle_connections() {
    let env = Env::new(Backend::Sqlite).expect("sqlite env");
    let mut srv = env.start();
    let mut idle: Vec<TcpStream> = (0..5)
        .map(|_| TcpStream::connect(addr(&srv)).expect("connect"))
        .collect();
    let mut stuck = TcpStream::connect(addr(&srv)).expect("connect");
    stuck
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    idle.push(stuck);
    let mut kept = TcpStream::connect(addr(&srv)).expect("connect");
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut buf = [0u8; 512];
    let n = kept.read(&mut buf).expect("response");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let status = srv.terminate(Duration::from_secs(20));
    assert!(status.success(), "{status:?}");
    drop(idle);
}

/// A flood of random well-formed keys (every one a cache miss) on many connections
/// while management calls and cached verifications go on: both keep answering.
fn cold_key_flood_keeps_management_responsive(b: Backend) {
    let Some(env) = Env::new(b) else { return };
    let srv = env.start();
    let h = srv.http();
    let o = env.owner();
    assert_eq!(h.verify_key(&o.key), (true, "ok".to_owned()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let floods: Vec<_> = (0..32)
        .map(|_| {
            let (h, stop) = (h.clone(), stop.clone());
            std::thread::spawn(move || {
                let fmt = keyseal::KeyFormat::new("ks").unwrap();
                let mut n = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 2_000 {
                    let k = fmt.generate_os().unwrap();
                    let r = h.verify(&json!({ "key": k.expose() }));
                    assert!(r.status == 200 || r.status == 503, "{}", r.text);
                    n += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    for i in 0..5 {
        let t = Instant::now();
        h.get(&keys_path(&o), &o.key).expect(200);
        h.create(&o, &json!({ "name": format!("during-flood-{i}") }));
        assert_eq!(h.verify_key(&o.key), (true, "ok".to_owned()));
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "management stalled for {:?}",
            t.elapsed()
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for f in floods {
        f.join().expect("flood thread");
    }
}
both!(cold_key_flood_keeps_management_responsive);

/// A management call refused before its body is read (a bad key) still gets its answer
/// on the wire, and the connection stays usable: the refused body is read and dropped,
/// not left unread in the socket (closing over unread data resets the connection, and a
/// reset can destroy the answer before the client reads it).
#[test]
fn refused_management_calls_answer_before_their_body_is_read() {
    let env = Env::new(Backend::Sqlite).expect("sqlite env");
    let srv = env.start();
    let o = env.owner();
    let body = format!(r#"{{"name": "n", "description": "{}"}}"#, "d".repeat(400));
    for i in 0..20 {
        let mut s = TcpStream::connect(addr(&srv)).expect("connect");
        let head = format!(
            "POST /v1/accounts/{}/keys HTTP/1.1\r\nHost: x\r\nx-api-key: ks_000000000000000{}_nope\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n",
            o.account,
            i % 10,
            body.len()
        );
        // The head first, the body a moment later (as a client streaming its body does).
        s.write_all(head.as_bytes()).expect("write head");
        std::thread::sleep(Duration::from_millis(50));
        let rest = format!("{body}GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let _ = s.write_all(rest.as_bytes());
        let (resp, _) = read_until_closed(&mut s, Duration::from_secs(10));
        assert!(resp.starts_with("HTTP/1.1 401"), "request {i}: {resp}");
        assert!(
            resp.contains("HTTP/1.1 200"),
            "request {i}: the connection did not serve the next request: {resp}"
        );
    }
}
