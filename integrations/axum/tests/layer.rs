//! The layer against a real `keyseal serve` on 127.0.0.1 (SQLite in a temporary folder):
//! a key created through the API works through an axum app, a disabled one is refused once
//! the cache TTL has passed, limits answer 429 with the metering headers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::routing::get;
use axum::{Extension, Router};
use keyseal_axum::{KeysealLayer, Principal};
use serde_json::{Value, json};

/// The server binary: KEYSEAL_BIN, else `keyseal` beside this test's own target folder
/// (`cargo test --workspace` builds it for the server's tests).
fn server_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("KEYSEAL_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("keyseal");
    assert!(
        bin.exists(),
        "no {} (build it: cargo build -p keyseal-server)",
        bin.display()
    );
    bin
}

struct Server {
    child: Child,
    url: String,
    owner_key: String,
    account: String,
    _dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn start_server() -> Server {
    let bin = server_bin();
    let dir = std::env::temp_dir().join(format!(
        "keyseal-axum-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let cmd = |args: &[&str]| {
        let mut c = Command::new(&bin);
        c.args(args)
            .env_remove("KEYSEAL_PEPPER_HEX")
            .env_remove("KEYSEAL_TOKEN_SECRET_HEX")
            .env("KEYSEAL_DB", dir.join("keyseal.db"))
            .env("KEYSEAL_CONFIG", dir.join("keyseal.toml"))
            .env("KEYSEAL_LOG", "warn");
        c
    };
    let out = cmd(&["init", "--json", "--account", "acct_axum"])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    let owner: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut child = cmd(&["serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("keyseal listening on ")
        .unwrap()
        .to_owned();
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        url,
        owner_key: owner["secret"].as_str().unwrap().to_owned(),
        account: owner["account"].as_str().unwrap().to_owned(),
        _dir: TempDir(dir),
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A management call with the owner key; returns the JSON answer.
fn manage(s: &Server, method: &str, path: &str, body: Value) -> Value {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let url = format!("{}/v1/accounts/{}{}", s.url, s.account, path);
    let mut res = match method {
        "POST" => agent
            .post(&url)
            .header("x-api-key", &s.owner_key)
            .send_json(body)
            .unwrap(),
        _ => panic!("{method}"),
    };
    assert!(
        res.status().is_success(),
        "{method} {path}: {}",
        res.status()
    );
    res.body_mut().read_json().unwrap()
}

struct Answer {
    status: u16,
    body: Value,
    headers: Vec<(String, String)>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

async fn get_with(app: SocketAddr, headers: Vec<(&'static str, String)>) -> Answer {
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let mut req = agent.get(format!("http://{app}/invoices"));
        for (n, v) in &headers {
            req = req.header(*n, v);
        }
        let mut res = req.call().unwrap();
        let headers = res
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        Answer {
            status: res.status().as_u16(),
            body: res.body_mut().read_json().unwrap_or(Value::Null),
            headers,
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layer_against_keyseal_serve() {
    let server = start_server();
    let layer = KeysealLayer::new(server.url.clone()).required_scopes(["invoices:read"]);
    let app: Router = Router::new()
        .route(
            "/invoices",
            get(|Extension(who): Extension<Principal>| async move {
                axum::Json(json!({"key_id": who.key_id, "cached": who.cached, "via": who.via}))
            }),
        )
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });

    let none = get_with(addr, vec![]).await;
    assert_eq!(
        (none.status, none.body["error"]["code"].as_str()),
        (401, Some("missing_credential"))
    );
    assert_eq!(
        none.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );

    let created = manage(
        &server,
        "POST",
        "/keys",
        json!({"name": "svc", "scopes": ["invoices:read"]}),
    );
    let secret = created["secret"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    let first = get_with(addr, vec![("x-api-key", secret.clone())]).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(
        first.body,
        json!({"key_id": id, "cached": false, "via": "api_key"})
    );
    let second = get_with(addr, vec![("authorization", format!("Bearer {secret}"))]).await;
    assert_eq!(second.body["cached"], json!(true));

    let narrow = manage(
        &server,
        "POST",
        "/keys",
        json!({"name": "narrow", "scopes": ["other:read"]}),
    );
    let refused = get_with(
        addr,
        vec![("x-api-key", narrow["secret"].as_str().unwrap().to_owned())],
    )
    .await;
    assert_eq!(
        (refused.status, refused.body["error"]["code"].as_str()),
        (403, Some("insufficient_scope"))
    );

    manage(&server, "POST", &format!("/keys/{id}/disable"), json!({}));
    tokio::time::sleep(Duration::from_millis(1050)).await;
    let gone = get_with(addr, vec![("x-api-key", secret.clone())]).await;
    assert_eq!(
        (gone.status, gone.body["error"]["code"].as_str()),
        (401, Some("key_disabled"))
    );
    assert!(!gone.body.to_string().contains(&secret));

    // An exchange token, checked by the server with its key's state.
    let tok_key = manage(
        &server,
        "POST",
        "/keys",
        json!({"name": "tok", "scopes": ["invoices:read"]}),
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let url = format!("{}/v1/token", server.url);
    let value = tok_key["secret"].as_str().unwrap().to_owned();
    let token: Value = tokio::task::spawn_blocking(move || {
        agent
            .post(&url)
            .send_json(json!({"value": value}))
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap()
    })
    .await
    .unwrap();
    let by_token = get_with(
        addr,
        vec![(
            "authorization",
            format!("Bearer {}", token["token"].as_str().unwrap()),
        )],
    )
    .await;
    assert_eq!(
        (by_token.status, by_token.body["via"].as_str()),
        (200, Some("token"))
    );

    // Metered keys are never cached; the 429 carries the metering headers.
    let metered = manage(
        &server,
        "POST",
        "/keys",
        json!({"name": "metered", "scopes": ["invoices:read"], "limits": [{"name": "per_minute", "limit": 2, "window_ms": 60000}]}),
    );
    let m = metered["secret"].as_str().unwrap().to_owned();
    let ok = get_with(addr, vec![("x-api-key", m.clone())]).await;
    assert_eq!((ok.status, ok.body["cached"].as_bool()), (200, Some(false)));
    assert_eq!(
        ok.header("ratelimit-policy"),
        Some("\"per_minute\";q=2;w=60")
    );
    assert_eq!(
        get_with(addr, vec![("x-api-key", m.clone())]).await.status,
        200
    );
    let limited = get_with(addr, vec![("x-api-key", m)]).await;
    assert_eq!(
        (limited.status, limited.body["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    assert!(
        limited
            .header("ratelimit")
            .unwrap()
            .starts_with("\"per_minute\";r=0;t=")
    );
    assert!(limited.header("retry-after").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_layer() {
    use keyseal::{FixedEntropy, KeyFormat, KeyPolicy, Pepper, PepperSet, Scope};
    use keyseal_axum::LocalKey;
    use std::collections::HashMap;
    use std::sync::Arc;

    let format = KeyFormat::new("acme").unwrap();
    let peppers = PepperSet::new(Pepper::new("p1", &[7u8; 32]).unwrap());
    let entropy: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    let mut rng = FixedEntropy::new(&entropy);
    let reader = format.generate(&mut rng).unwrap();
    let read_only = format.generate(&mut rng).unwrap();
    let unknown = format.generate(&mut rng).unwrap();
    let record = |key: &keyseal::ApiKey, policy: KeyPolicy| LocalKey {
        id: key.id().to_owned(),
        digest: peppers.digest(key.expose()),
        policy,
        owner: Some("alice".to_owned()),
    };
    let scopes = vec![Scope::new("invoices:read").unwrap()];
    let rows: Arc<HashMap<String, LocalKey>> = Arc::new(HashMap::from([
        (
            reader.id().to_owned(),
            record(
                &reader,
                KeyPolicy {
                    scopes: scopes.clone(),
                    ..KeyPolicy::default()
                },
            ),
        ),
        (
            read_only.id().to_owned(),
            record(
                &read_only,
                KeyPolicy {
                    scopes,
                    read_only: true,
                    ..KeyPolicy::default()
                },
            ),
        ),
    ]));
    let lookup = move |id: String| {
        let rows = rows.clone();
        async move { rows.get(&id).cloned() }
    };
    let layer =
        KeysealLayer::in_process(format, peppers, lookup).required_scopes(["invoices:read"]);
    let app: Router = Router::new()
        .route(
            "/invoices",
            get(|Extension(who): Extension<Principal>| async move {
                axum::Json(json!({"key_id": who.key_id, "owner": who.owner}))
            })
            .delete(|| async { "deleted" }),
        )
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });

    let ok = get_with(addr, vec![("x-api-key", reader.expose().to_owned())]).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body, json!({"key_id": reader.id(), "owner": "alice"}));
    let missing = get_with(addr, vec![("x-api-key", unknown.expose().to_owned())]).await;
    assert_eq!(
        (missing.status, missing.body["error"]["code"].as_str()),
        (401, Some("not_found"))
    );
    let mut typo = reader.expose().to_owned();
    let last = typo.pop().unwrap();
    typo.push(if last == 'A' { 'B' } else { 'A' });
    let bad = get_with(addr, vec![("x-api-key", typo)]).await;
    assert_eq!(
        (bad.status, bad.body["error"]["code"].as_str()),
        (401, Some("bad_checksum"))
    );
    let secret = read_only.expose().to_owned();
    let deleted = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let mut res = agent
            .delete(format!("http://{addr}/invoices"))
            .header("x-api-key", &secret)
            .call()
            .unwrap();
        (
            res.status().as_u16(),
            res.body_mut().read_json::<Value>().unwrap(),
        )
    })
    .await
    .unwrap();
    assert_eq!(
        (deleted.0, deleted.1["error"]["code"].as_str()),
        (403, Some("read_only_key"))
    );
    let token = get_with(addr, vec![("authorization", "Bearer a.b.c".to_owned())]).await;
    assert_eq!(token.status, 401);
}
