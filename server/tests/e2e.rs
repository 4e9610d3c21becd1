//! End-to-end tests: the real `keyseal` binary over loopback HTTP, every endpoint and
//! every reference flow of docs/compat.md, on SQLite and on PostgreSQL
//! (`KEYSEAL_TEST_PG_URL`; the PostgreSQL half fails without it unless `KEYSEAL_SKIP_PG=1`).

#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

#[macro_use]
mod common;

use std::collections::HashSet;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

fn setup(b: Backend) -> Option<(Env, Server)> {
    let env = Env::new(b)?;
    let srv = env.start();
    Some((env, srv))
}

// ---------------------------------------------------------------------------------------
// The README tour

fn readme_tour(b: Backend) {
    let Some((env, srv)) = setup(b) else { return };
    let readme = std::fs::read_to_string(server_dir().join("README.md")).expect("README.md");
    let mut blocks = Vec::new();
    let mut cur: Option<String> = None;
    for line in readme.lines() {
        match &mut cur {
            None if line.trim() == "```sh tour" => cur = Some(String::new()),
            Some(_) if line.trim() == "```" => blocks.push(cur.take().unwrap_or_default()),
            Some(s) => {
                s.push_str(line);
                s.push('\n');
            }
            None => {}
        }
    }
    assert!(cur.is_none(), "unterminated tour block");
    assert!(blocks.len() >= 7, "the tour has {} blocks", blocks.len());
    let script = blocks.join("\n");
    for step in [
        "/v1/verify",
        "/v1/token",
        "/v1/whoami",
        "\"enabled\": false",
        "key_disabled",
        "rate_limited",
        "ratelimit-policy",
    ] {
        assert!(script.contains(step), "the tour lost its step {step}");
    }
    let bin_dir = std::path::Path::new(BIN).parent().expect("bin dir");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = env
        .cmd()
        .arg0_bash(&format!("set -euo pipefail\n{script}"))
        .env("PATH", path)
        .env("KS", &srv.url)
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "tour failed:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Each jq -e check printed `true`.
    let trues = String::from_utf8_lossy(&out.stdout).matches("true").count();
    assert!(
        trues >= 4,
        "checks printed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}
both!(readme_tour);

trait Bash {
    fn arg0_bash(&mut self, script: &str) -> std::process::Command;
}

impl Bash for std::process::Command {
    /// A `bash -c script` command carrying this command's environment.
    fn arg0_bash(&mut self, script: &str) -> std::process::Command {
        let mut c = std::process::Command::new("bash");
        c.arg("-c").arg(script);
        for (k, v) in self.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c
    }
}

// ---------------------------------------------------------------------------------------
// Seed flows

/// Named keys with roles (docs/compat.md): create with name + role via x-api-key, list,
/// PUT `enabled`.
fn named_keys_create_list_put_enabled(b: Backend) {
    let Some((env, srv)) = setup(b) else { return };
    let h = srv.http();
    let o = env.owner();
    let created = h.create(
        &o,
        &json!({"name": "MyAPIkey", "role": "merchant-terminal"}),
    );
    for f in [
        "name",
        "created_at",
        "created_by",
        "modified_at",
        "modified_by",
        "enabled",
        "role",
        "account",
        "version",
        "secret",
    ] {
        assert!(!created[f].is_null(), "field {f} missing: {created}");
    }
    assert_eq!(created["version"], 1);
    assert_eq!(created["enabled"], true);
    assert_eq!(created["account"], o.account.as_str());
    assert_eq!(created["created_by"], json!({"kind": "key", "id": o.id}));
    let secret = created["secret"].as_str().expect("secret").to_owned();
    let id = created["id"].as_str().expect("id").to_owned();
    h.create(
        &o,
        &json!({"name": "MyOtherAPIkey", "role": "merchant-terminal", "enabled": false}),
    );

    // List: both, newest first; never a secret.
    let list = h.get(&keys_path(&o), &o.key);
    let v = list.expect(200);
    let names: Vec<&str> = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|k| k["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["MyOtherAPIkey", "MyAPIkey", "owner"]);
    assert!(!list.text.contains(&secret) && !list.text.contains("\"secret\""));

    // PUT {"enabled": false}: version 2, modified_by the caller.
    let r = h.send(
        "PUT",
        &key_path(&o, &id),
        &o.key,
        &json!({"enabled": false}),
    );
    let v = r.expect(200);
    assert_eq!(v["enabled"], false);
    assert_eq!(v["version"], 2);
    assert_eq!(r.etag.as_deref(), Some("\"2\""));
    assert_eq!(v["modified_by"], json!({"kind": "key", "id": o.id}));
    assert_eq!(h.verify_key(&secret), (false, "key_disabled".to_owned()));
    // And back.
    let v = h
        .send("PUT", &key_path(&o, &id), &o.key, &json!({"enabled": true}))
        .expect(200)
        .clone();
    assert_eq!(v["version"], 3);
    assert_eq!(h.verify_key(&secret), (true, "ok".to_owned()));
    // Name unique within the account.
    h.post(&keys_path(&o), &o.key, &json!({"name": "MyAPIkey"}))
        .expect_error(409, "name_conflict");
}
both!(named_keys_create_list_put_enabled);

/// Named keys are addressed by name (`PUT .../api-keys/{apiKeyName}`): every key route
/// takes the name as well as the id. An id-shaped value is an id first, then a name;
/// `name:` always means a name.
fn named_keys_addressed_by_name(b: Backend) {
    let Some((env, srv)) = setup(b) else { return };
    let h = srv.http();
    let o = env.owner();
    let created = h.create(
        &o,
        &json!({"name": "MyAPIkey", "role": "merchant-terminal"}),
    );
    let id = created["id"].as_str().expect("id").to_owned();
    let secret = created["secret"].as_str().expect("secret").to_owned();
    h.create(
        &o,
        &json!({"name": "MyOtherAPIkey", "role": "merchant-terminal"}),
    );

    // The named-keys flow: PUT {"enabled": false} by name.
    let r = h.send(
        "PUT",
        &key_path(&o, "MyAPIkey"),
        &o.key,
        &json!({"enabled": false}),
    );
    let v = r.expect(200);
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["name"], "MyAPIkey");
    assert_eq!(v["enabled"], false);
    assert_eq!(v["version"], 2);
    assert_eq!(v["modified_by"], json!({"kind": "key", "id": o.id}));
    assert_eq!(h.verify_key(&secret), (false, "key_disabled".to_owned()));
    let v = h
        .send(
            "PUT",
            &key_path(&o, "MyAPIkey"),
            &o.key,
            &json!({"enabled": true}),
        )
        .expect(200)
        .clone();
    assert_eq!(v["version"], 3);
    assert_eq!(h.verify_key(&secret), (true, "ok".to_owned()));

    // GET by id, by name and by `name:`: the same key.
    for r in [id.as_str(), "MyAPIkey", "name:MyAPIkey"] {
        let v = h.get(&key_path(&o, r), &o.key).expect(200).clone();
        assert_eq!(v["id"], id.as_str(), "GET {r}");
    }
    // The other routes take names too.
    let v = h
        .post(
            &format!("{}/disable", key_path(&o, "MyAPIkey")),
            &o.key,
            &json!({}),
        )
        .expect(200)
        .clone();
    assert_eq!(
        (v["id"].as_str(), v["enabled"].as_bool()),
        (Some(id.as_str()), Some(false))
    );
    h.post(
        &format!("{}/enable", key_path(&o, "MyAPIkey")),
        &o.key,
        &json!({}),
    )
    .expect(200);
    let r = h.raw(
        "PATCH",
        &key_path(&o, "MyAPIkey"),
        &[
            ("x-api-key", o.key.as_str()),
            ("if-match", "5"),
            ("content-type", "application/json"),
        ],
        Some(br#"{"description": "by name"}"#.to_vec()),
    );
    assert_eq!(r.expect(200)["description"], "by name");
    let rolled = h
        .post(
            &format!("{}/roll", key_path(&o, "MyAPIkey")),
            &o.key,
            &json!({}),
        )
        .expect(200)
        .clone();
    assert_eq!(rolled["id"], id.as_str());

    // Unknown names, names of other accounts' keys and bad names: 404.
    let other = env.owner();
    h.create(&other, &json!({"name": "TheirKey"}));
    for r in [
        "NoSuchKey",
        "TheirKey",
        "name:TheirKey",
        "name:",
        "name:bad%20name",
    ] {
        h.get(&key_path(&o, r), &o.key)
            .expect_error(404, "not_found");
    }

    // A name with the shape of an id (16 letters) is still reachable by name.
    let shaped = h.create(&o, &json!({"name": "productionserver"}));
    let v = h
        .get(&key_path(&o, "productionserver"), &o.key)
        .expect(200)
        .clone();
    assert_eq!(v["id"], shaped["id"]);
    // A name copied from another key's id: the id wins, `name:` reaches the named key.
    let copied = h.create(&o, &json!({"name": id.as_str()}));
    let v = h.get(&key_path(&o, &id), &o.key).expect(200).clone();
    assert_eq!(v["id"], id.as_str());
    let v = h
        .get(&key_path(&o, &format!("name:{id}")), &o.key)
        .expect(200)
        .clone();
    assert_eq!(v["id"], copied["id"]);

    // Delete by name frees the name; it then refers to the new key.
    let r = h.raw(
        "DELETE",
        &key_path(&o, "MyAPIkey"),
        &[("x-api-key", o.key.as_str())],
        None,
    );
    assert_eq!(r.status, 204, "{}", r.text);
    h.get(&key_path(&o, "MyAPIkey"), &o.key)
        .expect_error(404, "not_found");
    let again = h.create(&o, &json!({"name": "MyAPIkey"}));
    let v = h.get(&key_path(&o, "MyAPIkey"), &o.key).expect(200).clone();
    assert_eq!(v["id"], again["id"]);
    assert_ne!(v["id"], id.as_str());
}
both!(named_keys_addressed_by_name);

/// Key for a 10-minute token (docs/compat.md): `{"value": key}` -> `{token}`, then the
/// token as Bearer.
fn key_for_token_exchange_body_value(b: Backend) {
    let Some((env, srv)) = setup(b) else { return };
    let h = srv.http();
    let o = env.owner();
    let k = h.create(&o, &json!({"name": "svc", "owner": "user-42", "role": "critical", "scopes": ["global", "institution:read"]}));
    let key = k["secret"].as_str().expect("secret");
    for path in ["/v1/apikey/authenticate", "/v1/token"] {
        let r = h.raw(
            "POST",
            path,
            &[
                ("content-type", "application/json"),
                ("cache-control", "no-cache"),
            ],
            Some(json!({"value": key}).to_string().into_bytes()),
        );
        let v = r.expect(200);
        assert_eq!(v["expires_in"], 600);
        assert_eq!(v["token_type"], "Bearer");
        let token = v["token"].as_str().expect("token");
        assert_eq!(token.split('.').count(), 3);
        let me = h.raw(
            "GET",
            "/v1/whoami",
            &[("authorization", &format!("Bearer {token}"))],
            None,
        );
        let m = me.expect(200);
        assert_eq!(m["kind"], "token");
        assert_eq!(m["claims"]["sub"], "user-42");
        assert_eq!(m["claims"]["role"], "critical");
        assert_eq!(m["claims"]["scope"], "global institution:read");
        assert_eq!(m["claims"]["iss"], "keyseal");
        let exp = m["claims"]["exp"].as_i64().expect("exp");
        let iat = m["claims"]["iat"].as_i64().expect("iat");
        assert_eq!(exp - iat, 600);
        // Token verify endpoint agrees; a tampered token does not.
        let tv = h.raw(
            "POST",
            "/v1/tokens/verify",
            &[],
            Some(json!({"token": token}).to_string().into_bytes()),
        );
        assert_eq!(tv.expect(200)["valid"], true);
        // Flip a character inside the signature (the last one carries padding bits).
        let mut chars: Vec<char> = token.chars().collect();
        let i = chars.len() - 5;
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let bad: String = chars.into_iter().collect();
        h.raw(
            "GET",
            "/v1/whoami",
            &[("authorization", &format!("Bearer {bad}"))],
            None,
        )
        .expect_error(401, "bad_signature");
        let tv = h.raw(
            "POST",
            "/v1/tokens/verify",
            &[],
            Some(json!({"token": bad}).to_string().into_bytes()),
        );
        assert_eq!(tv.expect(200)["code"], "bad_signature");
    }
    // Exchange through each header form too.
    let (access, secret) = (
        k["access_key"].as_str().expect("a"),
        k["secret_key"].as_str().expect("s"),
    );
    for headers in [
        vec![("x-api-key", key.to_owned())],
        vec![("authorization", format!("Bearer {key}"))],
        vec![
            ("accessKey", access.to_owned()),
            ("secretKey", secret.to_owned()),
        ],
    ] {
        let hs: Vec<(&str, &str)> = headers.iter().map(|(a, b)| (*a, b.as_str())).collect();
        h.raw("POST", "/v1/token", &hs, None).expect(200);
    }
    // Wrong key, no key, both header and body.
    h.raw(
        "POST",
        "/v1/token",
        &[],
        Some(json!({"value": "nope"}).to_string().into_bytes()),
    )
    .expect_error(401, "malformed_key");
    h.raw("POST", "/v1/token", &[], None)
        .expect_error(401, "missing_credential");
    h.raw(
        "POST",
        "/v1/token",
        &[("x-api-key", key)],
        Some(json!({"value": key}).to_string().into_bytes()),
    )
    .expect_error(401, "ambiguous_credential");
    // A disabled key gets no token.
    let id = k["id"].as_str().expect("id");
    h.post(&format!("{}/disable", key_path(&o, id)), &o.key, &json!({}))
        .expect(200);
    h.raw("POST", "/v1/token", &[("x-api-key", key)], None)
        .expect_error(401, "key_disabled");
}
both!(key_for_token_exchange_body_value);

/// Scoped and read-only keys (docs/compat.md): description, scopes, read-only keys; the key as a Bearer credential;
/// disable and delete.
fn scoped_read_only_keys_bearer(b: Backend) {
    let Some((env, srv)) = setup(b) else { return };
    let h = srv.http();
    let o = env.owner();
    let ro = h.create(
        &o,
        &json!({
            "description": "Portal Operator API Key", "scopes": ["integration", "rest"],
            "isReadAccessOnly": true, "owner": "955b0b80-03b2-49fd-bf38-14785ecff0a8",
            "name": "portal-operator", "role": "account-owner"
        }),
    );
    assert_eq!(ro["read_only"], true);
    assert_eq!(ro["scopes"], json!(["integration", "rest"]));
    assert_eq!(ro["status"], "active");
    let ro_key = ro["secret"].as_str().expect("secret");
    let bearer = format!("Bearer {ro_key}");
    // A read-only owner key reads...
    let r = h.raw("GET", &keys_path(&o), &[("authorization", &bearer)], None);
    assert_eq!(r.expect(200)["total"], 2);
    // ...and cannot write.
    h.raw(
        "POST",
        &keys_path(&o),
        &[
            ("authorization", &bearer),
            ("content-type", "application/json"),
        ],
        Some(br#"{"name":"x"}"#.to_vec()),
    )
    .expect_error(403, "read_only_key");
    // Verify with methods and scopes.
    let v = h.verify(&json!({"key": ro_key, "method": "GET", "required_scopes": ["rest"]}));
    assert_eq!(v.expect(200)["code"], "ok");
    let v = h.verify(&json!({"key": ro_key, "method": "POST"}));
    assert_eq!(v.expect(200)["code"], "read_only_key");
    let v = h.verify(&json!({"key": ro_key, "method": "GET", "required_scopes": ["ui"]}));
    assert_eq!(v.expect(200)["code"], "insufficient_scope");
    assert_eq!(v.json["valid"], false);
    // whoami with the key as Bearer (instead of a token).
    let me = h.raw("GET", "/v1/whoami", &[("authorization", &bearer)], None);
    assert_eq!(me.expect(200)["kind"], "api_key");
    // Read-only keys are not exchanged: the token would not be read-only.
    h.raw("POST", "/v1/token", &[("authorization", &bearer)], None)
        .expect_error(403, "read_only_key");
    // Temporarily restrict (disable), then delete permanently.
    let id = ro["id"].as_str().expect("id");
    h.post(&format!("{}/disable", key_path(&o, id)), &o.key, &json!({}))
        .expect(200);
    h.raw("GET", &keys_path(&o), &[("authorization", &bearer)], None)
        .expect_error(401, "key_disabled");
    let r = h.raw("DELETE", &key_path(&o, id), &[("x-api-key", &o.key)], None);
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(h.verify_key(ro_key), (false, "key_revoked".to_owned()));
}
both!(scoped_read_only_keys_bearer);

/// Company keys (docs/compat.md): status filter, limit, cursors both ways, offset, envelope,
/// whitelisted IPs, get one, delete 204.
fn company_keys_pagination_and_ip_allowlists(b: Backend) {
    let Some((env, srv)) = setup(b) else { return };
    let h = srv.http();
    let o = env.owner();
    let mut ids = vec![o.id.clone()];
    for i in 0..6 {
        let k = h.create(
            &o,
            &json!({"name": format!("k{i}"), "userId": "user-1", "enabled": i % 2 == 0}),
        );
        ids.push(k["id"].as_str().expect("id").to_owned());
    }
    ids.reverse(); // newest first
    // Walk forward with limit 3 by next_url.
    let mut seen = Vec::new();
    let mut path = format!("{}?limit=3", keys_path(&o));
    let mut pages = 0;
    loop {
        let v = h.get(&path, &o.key).expect(200).clone();
        assert_eq!(v["total"], 7);
        assert_eq!(
            v["count"].as_u64(),
            Some(v["data"].as_array().expect("data").len() as u64)
        );
        seen.extend(
            v["data"]
                .as_array()
                .expect("data")
                .iter()
                .map(|k| k["id"].as_str().unwrap_or("").to_owned()),
        );
        pages += 1;
        if pages > 1 {
            assert!(v["previous_url"].is_string(), "{v}");
        } else {
            assert!(v["previous_url"].is_null(), "{v}");
        }
        match v["next_url"].as_str() {
            Some(next) => path = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    assert_eq!(pages, 3);
    // Backward from the last page by previous_url.
    let last = h
        .get(
            &format!("{}?limit=3&starting_after={}", keys_path(&o), ids[3]),
            &o.key,
        )
        .expect(200)
        .clone();
    let prev = last["previous_url"].as_str().expect("previous_url");
    let back = h.get(prev, &o.key).expect(200).clone();
    let back_ids: Vec<&str> = back["data"]
        .as_array()
        .expect("d")
        .iter()
        .map(|k| k["id"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        back_ids,
        ids[1..4].iter().map(String::as_str).collect::<Vec<_>>()
    );
    // camelCase cursor names (as the company-keys API spells them) and offset.
    let v = h
        .get(
            &format!(
                "{}?limit=2&startingAfter={}&offset=1",
                keys_path(&o),
                ids[0]
            ),
            &o.key,
        )
        .expect(200)
        .clone();
    assert_eq!(v["data"][0]["id"], ids[2].as_str());
    let v = h
        .get(
            &format!("{}?endingBefore={}", keys_path(&o), ids[6]),
            &o.key,
        )
        .expect(200)
        .clone();
    assert_eq!(v["count"], 6);
    // Status filter (the company-keys API: active / inactive).
    let active = h
        .get(&format!("{}?status=active", keys_path(&o)), &o.key)
        .expect(200)
        .clone();
    assert_eq!(active["total"], 4); // owner + k0, k2, k4
    let inactive = h
        .get(&format!("{}?status=inactive", keys_path(&o)), &o.key)
        .expect(200)
        .clone();
    assert_eq!(inactive["total"], 3);
    assert!(
        inactive["data"]
            .as_array()
            .expect("d")
            .iter()
            .all(|k| k["status"] == "inactive")
    );
    // limit bounds.
    for bad in ["0", "101", "-1", "abc", "99999999999999999999"] {
        h.get(&format!("{}?limit={bad}", keys_path(&o)), &o.key)
            .expect_error(400, "invalid_limit");
    }
    h.get(&format!("{}?status=weird", keys_path(&o)), &o.key)
        .expect_error(400, "invalid_argument");
    h.get(&format!("{}?starting_after=nope", keys_path(&o)), &o.key)
        .expect_error(400, "invalid_cursor");
    // Whitelisted IPs (CIDR blocks).
    let ipk = h.create(
        &o,
        &json!({"name": "ipkey", "whitelistedIPs": ["1.1.1.1", "2.2.2.2", "10.10.0.0/16"]}),
    );
    assert_eq!(
        ipk["allowed_ips"],
        json!(["1.1.1.1/32", "2.2.2.2/32", "10.10.0.0/16"])
    );
    let key = ipk["secret"].as_str().expect("s");
    assert_eq!(
        h.verify(&json!({"key": key, "client_ip": "10.10.3.4"}))
            .expect(200)["code"],
        "ok"
    );
    assert_eq!(
        h.verify(&json!({"key": key, "client_ip": "3.3.3.3"}))
            .expect(200)["code"],
        "ip_not_allowed"
    );
    assert_eq!(
        h.verify(&json!({"key": key})).expect(200)["code"],
        "ip_not_allowed"
    );
    // The loopback client is outside the allowlist, so the key cannot call the API.
    h.raw("POST", "/v1/token", &[("x-api-key", key)], None)
        .expect_error(403, "ip_not_allowed");
    h.post(
        &keys_path(&o),
        &o.key,
        &json!({"name": "badip", "allowed_ips": ["10.0.0.1/8"]}),
    )
    .expect_error(422, "invalid_cidr");
    // Get one, delete (204), then 404.
    let id = ipk["id"].as_str().expect("id");
    let one = h.get(&key_path(&o, id), &o.key);
    assert_eq!(one.expect(200)["name"], "ipkey");
    assert!(!one.text.contains("\"secret\"") && !one.text.contains("secret_key"));
    assert_eq!(
        h.raw("DELETE", &key_path(&o, id), &[("x-api-key", &o.key)], None)
            .status,
        204
    );
    h.get(&key_path(&o, id), &o.key)
        .expect_error(404, "not_found");
    h.raw("DELETE", &key_path(&o, id), &[("x-api-key", &o.key)], None)
        .expect_error(404, "not_found");
    let deleted = h
        .get(&format!("{}?status=deleted", keys_path(&o)), &o.key)
        .expect(200)
        .clone();
    assert_eq!(deleted["data"][0]["id"], id);
    assert_eq!(deleted["data"][0]["status"], "deleted");
}
both!(company_keys_pagination_and_ip_allowlists);

/// Access-key / secret-key pairs (docs/compat.md): accessKey + secretKey headers, expiry, editing name/expiry,
/// delete to disable.
fn access_key_secret_key_pairs_with_expiry(b: Backend) {
    let Some((env, srv)) = setup(b) else { return };
    let h = srv.http();
    let o = env.owner();
    let far = 4_102_444_800i64; // 2100-01-01
    let k = h.create(&o, &json!({"name": "Integration", "expires_at": far, "owner": "mapped-user", "role": "account-owner"}));
    let (access, secret) = (
        k["access_key"].as_str().expect("a"),
        k["secret_key"].as_str().expect("s"),
    );
    assert_eq!(
        format!("{access}_{secret}"),
        k["secret"].as_str().expect("full")
    );
    let pair = [("accessKey", access), ("secretKey", secret)];
    let r = h.raw("GET", &keys_path(&o), &pair, None);
    assert_eq!(r.expect(200)["total"], 2);
    h.raw("GET", &keys_path(&o), &[("accessKey", access)], None)
        .expect_error(401, "incomplete_credential");
    h.raw(
        "GET",
        &keys_path(&o),
        &[("accessKey", access), ("secretKey", "wrongwrongwrong")],
        None,
    )
    .expect(401);
    h.raw(
        "GET",
        &keys_path(&o),
        &[
            ("accessKey", access),
            ("secretKey", secret),
            ("x-api-key", &o.key),
        ],
        None,
    )
    .expect_error(401, "ambiguous_credential");
    // Edit name, expiry and mapped user.
    let id = k["id"].as_str().expect("id");
    let r = h.raw(
        "PATCH",
        &key_path(&o, id),
        &[("x-api-key", &o.key), ("if-match", "1")],
        Some(
            json!({"name": "Integration-2", "expires_at": 1_000, "owner": "other-user"})
                .to_string()
                .into_bytes(),
        ),
    );
    let v = r.expect(200);
    assert_eq!(v["name"], "Integration-2");
    assert_eq!(v["owner"], "other-user");
    assert_eq!(v["status"], "inactive");
    let full = k["secret"].as_str().expect("full");
    assert_eq!(
        h.verify(&json!({"key": full})).expect(200)["code"],
        "key_expired"
    );
    h.raw("GET", &keys_path(&o), &pair, None)
        .expect_error(401, "key_expired");
    // Clear the expiry: works again.
    h.raw(
        "PATCH",
        &key_path(&o, id),
        &[("x-api-key", &o.key), ("if-match", "\"2\"")],
        Some(br#"{"expires_at": null}"#.to_vec()),
    )
    .expect(200);
    assert_eq!(h.verify_key(full), (true, "ok".to_owned()));
    // Delete to disable for good.
    assert_eq!(
        h.raw("DELETE", &key_path(&o, id), &[("x-api-key", &o.key)], None)
            .status,
        204
    );
    h.raw("GET", &keys_path(&o), &pair, None)
        .expect_error(401, "key_revoked");
}
both!(access_key_secret_key_pairs_with_expiry);

// ---------------------------------------------------------------------------------------
// Authorisation

fn auth_matrix(b: Backend) {
    let Some((env, srv)) = setup(b) else { return };
    let h = srv.http();
    let a = env.owner();
    let other = env.owner();
    let ka = h.create(&a, &json!({"name": "a1"}));
    let ida = ka["id"].as_str().expect("id");
    // Keys of another account see nothing: 404 everywhere, as for a missing key.
    h.get(&keys_path(&a), &other.key)
        .expect_error(404, "not_found");
    h.get(&key_path(&a, ida), &other.key)
        .expect_error(404, "not_found");
    h.post(&keys_path(&a), &other.key, &json!({"name": "x"}))
        .expect_error(404, "not_found");
    h.send("PATCH", &key_path(&a, ida), &other.key, &json!({}))
        .expect_error(404, "not_found");
    h.raw(
        "DELETE",
        &key_path(&a, ida),
        &[("x-api-key", &other.key)],
        None,
    )
    .expect_error(404, "not_found");
    h.get(&format!("/v1/accounts/{}/audit", a.account), &other.key)
        .expect_error(404, "not_found");
    // Their own account's key ids do not leak either: a's id in other's account is 404.
    h.get(&key_path(&other, ida), &other.key)
        .expect_error(404, "not_found");
    // Other roles cannot manage.
    let term = h.create(
        &a,
        &json!({"name": "terminal", "role": "merchant-terminal"}),
    );
    let tk = term["secret"].as_str().expect("s");
    h.get(&keys_path(&a), tk)
        .expect_error(403, "permission_denied");
    h.post(&keys_path(&a), tk, &json!({"name": "y"}))
        .expect_error(403, "permission_denied");
    let norole = ka["secret"].as_str().expect("s");
    h.get(&keys_path(&a), norole)
        .expect_error(403, "permission_denied");
    // Credentials: none, malformed, bad checksum, unknown id, token.
    h.raw("GET", &keys_path(&a), &[], None)
        .expect_error(401, "missing_credential");
    h.get(&keys_path(&a), "hello")
        .expect_error(401, "malformed_key");
    let mut bad = a.key.clone();
    let last = bad.pop().expect("c");
    bad.push(if last == 'A' { 'B' } else { 'A' });
    h.get(&keys_path(&a), &bad)
        .expect_error(401, "bad_checksum");
    h.raw(
        "GET",
        &keys_path(&a),
        &[("authorization", "Basic abc")],
        None,
    )
    .expect_error(401, "unsupported_auth_scheme");
    let tok = h
        .raw("POST", "/v1/token", &[("x-api-key", &a.key)], None)
        .expect(200)["token"]
        .as_str()
        .expect("t")
        .to_owned();
    h.raw(
        "GET",
        &keys_path(&a),
        &[("authorization", &format!("Bearer {tok}"))],
        None,
    )
    .expect(401);
    let r = h.raw(
        "GET",
        &keys_path(&a),
        &[("x-api-key", &a.key), ("x-api-key", &a.key)],
        None,
    );
    r.expect_error(401, "duplicate_credential");
    // An owner key that is disabled stops working at once.
    let second = h.create(&a, &json!({"name": "owner2", "role": "account-owner"}));
    let sk = second["secret"].as_str().expect("s");
    h.get(&keys_path(&a), sk).expect(200);
    h.post(
        &format!(
            "{}/disable",
            key_path(&a, second["id"].as_str().expect("id"))
        ),
        &a.key,
        &json!({}),
    )
    .expect(200);
    h.get(&keys_path(&a), sk).expect_error(401, "key_disabled");
}
both!(auth_matrix);

// ---------------------------------------------------------------------------------------
// Updates, roll, audit

fn patch_if_match_roll_audit(b: Backend) {
    let Some((env, srv)) = setup(b) else { return };
    let h = srv.http();
    let o = env.owner();
    let k = h.create(
        &o,
        &json!({"name": "svc", "owner": "u1", "role": "r1", "metadata": {"team": "x"}}),
    );
    let id = k["id"].as_str().expect("id").to_owned();
    let p = key_path(&o, &id);
    let patch = |ifm: Option<&str>, body: &str| {
        let mut hs = vec![
            ("x-api-key", o.key.as_str()),
            ("content-type", "application/json"),
        ];
        if let Some(v) = ifm {
            hs.push(("if-match", v));
        }
        h.raw("PATCH", &p, &hs, Some(body.as_bytes().to_vec()))
    };
    patch(None, r#"{"name":"svc2"}"#).expect_error(400, "invalid_argument");
    patch(Some("abc"), r#"{"name":"svc2"}"#).expect_error(400, "invalid_argument");
    patch(Some("7"), r#"{"name":"svc2"}"#).expect_error(412, "version_conflict");
    let r = patch(
        Some("1"),
        r#"{"name":"svc2","description":"d","owner":null,"role":"r2","scopes":["a:*"],"read_only":true,"allowed_ips":["::1"],"expires_at":4102444800,"enabled":true,"metadata":{"team":"y"}}"#,
    );
    let v = r.expect(200).clone();
    assert_eq!(v["version"], 2);
    assert_eq!(r.etag.as_deref(), Some("\"2\""));
    assert_eq!(v["owner"], Value::Null);
    assert_eq!(v["role"], "r2");
    assert_eq!(v["scopes"], json!(["a:*"]));
    assert_eq!(v["allowed_ips"], json!(["::1/128"]));
    assert_eq!(v["metadata"], json!({"team": "y"}));
    assert_eq!(v["modified_by"], json!({"kind": "key", "id": o.id}));
    patch(Some("1"), r#"{"name":"svc3"}"#).expect_error(412, "version_conflict");
    patch(Some("2"), r#"{"name":"owner"}"#).expect_error(409, "name_conflict");
    patch(Some("2"), r#"{"name":"bad name!"}"#).expect_error(422, "invalid_name");
    patch(Some("2"), r#"{"scopes":["bad scope"]}"#).expect_error(422, "invalid_scope");
    patch(Some("2"), r#"{"metadata":{"k":"x"},"bogus":1}"#).expect_error(400, "invalid_argument");
    // GET shows the new version.
    assert_eq!(h.get(&p, &o.key).etag.as_deref(), Some("\"2\""));

    // Roll with a grace period: both secrets verify; without: only the new one.
    let old = k["secret"].as_str().expect("s").to_owned();
    let r = h.post(&format!("{p}/roll"), &o.key, &json!({"grace_seconds": 60}));
    let rolled = r.expect(200).clone();
    let new = rolled["secret"].as_str().expect("new").to_owned();
    assert_ne!(new, old);
    assert_eq!(rolled["id"], id.as_str());
    assert!(rolled["previous_secret_expires_at"].is_i64());
    // The key is read-only with an allowlist now: verify as a GET from ::1.
    let ok = |key: &str| {
        h.verify(&json!({"key": key, "method": "GET", "client_ip": "::1"}))
            .expect(200)["code"]
            .clone()
    };
    assert_eq!(ok(&old), "ok");
    assert_eq!(ok(&new), "ok");
    let r = h.raw("POST", &format!("{p}/roll"), &[("x-api-key", &o.key)], None); // empty body: grace 0
    let newer = r.expect(200)["secret"].as_str().expect("s").to_owned();
    assert_eq!(ok(&old), "digest_mismatch");
    assert_eq!(ok(&new), "digest_mismatch");
    assert_eq!(ok(&newer), "ok");
    h.post(&format!("{p}/roll"), &o.key, &json!({"grace_seconds": -1}))
        .expect_error(422, "invalid_argument");
    h.post(
        &format!("{p}/roll"),
        &o.key,
        &json!({"grace_seconds": 99999999}),
    )
    .expect_error(422, "invalid_argument");

    // Audit: create, update, roll, roll; never a secret; paginated; filter by key.
    let r = h.get(
        &format!("/v1/accounts/{}/audit?key_id={id}&limit=2", o.account),
        &o.key,
    );
    let a = r.expect(200).clone();
    assert_eq!(a["total"], 4);
    assert_eq!(a["count"], 2);
    assert_eq!(a["data"][0]["action"], "roll");
    assert!(!r.text.contains(&old) && !r.text.contains(&newer));
    let next = a["next_url"].as_str().expect("next_url");
    let a2 = h.get(next, &o.key).expect(200).clone();
    assert_eq!(a2["data"][1]["action"], "create");
    assert_eq!(
        a2["data"][0]["changes"]["name"],
        json!({"old": "svc", "new": "svc2"})
    );
    let all = h
        .get(&format!("/v1/accounts/{}/audit", o.account), &o.key)
        .expect(200)
        .clone();
    assert_eq!(all["total"], 5); // + the owner key's creation by init
    h.get(&format!("/v1/accounts/{}/audit?bogus=1", o.account), &o.key)
        .expect_error(400, "invalid_argument");
}
both!(patch_if_match_roll_audit);

// ---------------------------------------------------------------------------------------
// Bad input: every answer a 4xx with a code, never a 5xx.

fn bad_input(b: Backend) {
    let Some((env, srv)) = setup(b) else { return };
    let h = srv.http();
    let o = env.owner();
    let kp = keys_path(&o);
    let post = |path: &str, body: &[u8]| {
        h.raw(
            "POST",
            path,
            &[("x-api-key", &o.key), ("content-type", "application/json")],
            Some(body.to_vec()),
        )
    };
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "malformed json",
            b"{\"name\": ".to_vec(),
            400,
            "invalid_argument",
        ),
        ("not an object", b"[1,2]".to_vec(), 400, "invalid_argument"),
        ("empty", b"".to_vec(), 400, "invalid_argument"),
        (
            "wrong type",
            br#"{"name": 5}"#.to_vec(),
            400,
            "invalid_argument",
        ),
        (
            "wrong type 2",
            br#"{"name": "a", "scopes": "x"}"#.to_vec(),
            400,
            "invalid_argument",
        ),
        (
            "invalid utf-8",
            b"{\"name\": \"\xff\xfe\"}".to_vec(),
            400,
            "invalid_argument",
        ),
        (
            "huge number",
            br#"{"name": "a", "expires_at": 1e400}"#.to_vec(),
            400,
            "invalid_argument",
        ),
        (
            "huge integer",
            br#"{"name": "a", "expires_at": 999999999999999999999999}"#.to_vec(),
            400,
            "invalid_argument",
        ),
        (
            "unknown field",
            br#"{"name": "a", "admin": true}"#.to_vec(),
            400,
            "invalid_argument",
        ),
        (
            "sql name",
            br#"{"name": "x'; DROP TABLE keys;--"}"#.to_vec(),
            422,
            "invalid_name",
        ),
        (
            "sql owner",
            br#"{"name": "ok", "owner": "1' OR '1'='1"}"#.to_vec(),
            201,
            "",
        ),
        (
            "metadata not object",
            br#"{"name": "m", "metadata": [1]}"#.to_vec(),
            400,
            "invalid_argument",
        ),
        (
            "too many scopes",
            format!(
                r#"{{"name": "s", "scopes": [{}]}}"#,
                vec!["\"a\""; 65].join(",")
            )
            .into_bytes(),
            422,
            "invalid_argument",
        ),
        (
            "long description",
            format!(r#"{{"name": "d", "description": "{}"}}"#, "x".repeat(600)).into_bytes(),
            422,
            "invalid_argument",
        ),
    ];
    for (what, body, status, code) in cases {
        let r = post(&kp, &body);
        if status == 201 {
            assert_eq!(r.status, 201, "{what}: {}", r.text);
            assert_eq!(r.json["owner"], "1' OR '1'='1");
        } else {
            assert_eq!(r.status, status, "{what}: {}", r.text);
            assert_eq!(r.code(), code, "{what}: {}", r.text);
        }
    }
    // Over 64 KiB: 413, with and without Content-Length.
    let big = format!(
        r#"{{"name": "big", "description": "{}"}}"#,
        "x".repeat(70_000)
    );
    post(&kp, big.as_bytes()).expect_error(413, "payload_too_large");
    h.raw("POST", "/v1/verify", &[], Some(big.into_bytes()))
        .expect_error(413, "payload_too_large");
    // Verify input.
    h.raw("POST", "/v1/verify", &[], Some(b"nope".to_vec()))
        .expect_error(400, "invalid_argument");
    h.verify(&json!({"key": "x", "client_ip": "999.1.1.1"}))
        .expect_error(422, "invalid_cidr");
    h.verify(&json!({"key": "x", "method": "G E T"}))
        .expect_error(422, "invalid_argument");
    h.verify(&json!({"key": 12}))
        .expect_error(400, "invalid_argument");
    let v = h.verify(&json!({"key": "' OR 1=1 --"}));
    assert_eq!(v.expect(200)["code"], "malformed_key");
    let v = h.verify(&json!({"key": "x".repeat(15_000)}));
    assert_eq!(v.expect(200)["valid"], false);
    // Unauthenticated bodies are capped at 16 KiB (management calls: 64 KiB).
    h.verify(&json!({"key": "x".repeat(17_000)}))
        .expect_error(413, "payload_too_large");
    // Paths and routes.
    h.get("/v1/accounts/x'%20OR%20'1'%3D'1/keys", &o.key)
        .expect_error(404, "not_found");
    h.get(&key_path(&o, "%27%3B%20DROP%20TABLE%20keys%3B--"), &o.key)
        .expect_error(404, "not_found");
    h.get(&key_path(&o, "%FF%FE"), &o.key)
        .expect_error(400, "invalid_argument");
    h.get("/v1/nothing-here", &o.key)
        .expect_error(404, "not_found");
    h.raw("DELETE", "/v1/verify", &[], None)
        .expect_error(405, "invalid_argument");
    h.get(&format!("{kp}?limit=1&limit=2"), &o.key)
        .expect_error(400, "invalid_argument");
    h.get(&format!("{kp}?offset=10001"), &o.key)
        .expect_error(400, "invalid_limit");
    h.get(&format!("{kp}?offset=-5"), &o.key)
        .expect_error(400, "invalid_limit");
    h.get(&format!("{kp}?starting_after=a&ending_before=b"), &o.key)
        .expect(400);
    // The server still answers.
    h.get(&kp, &o.key).expect(200);
}
both!(bad_input);

// ---------------------------------------------------------------------------------------
// Operations

fn health_metrics_openapi(b: Backend) {
    let Some((env, srv)) = setup(b) else { return };
    let h = srv.http();
    let o = env.owner();
    assert_eq!(
        h.raw("GET", "/healthz", &[], None).expect(200)["status"],
        "ok"
    );
    assert_eq!(
        h.raw("GET", "/readyz", &[], None).expect(200)["status"],
        "ready"
    );
    h.verify_key(&o.key);
    h.verify_key("ks_0000000000000000_bad");
    let m = h.raw("GET", "/metrics", &[], None);
    assert_eq!(m.status, 200);
    assert!(
        m.content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("text/plain"))
    );
    assert!(
        m.text.contains("keyseal_verify_total{code=\"ok\"} 1"),
        "{}",
        m.text
    );
    assert!(
        m.text
            .contains("keyseal_verify_total{code=\"malformed_key\"} 1"),
        "{}",
        m.text
    );
    assert!(
        m.text
            .contains("keyseal_verify_duration_seconds_bucket{le=\"+Inf\"} 2"),
        "{}",
        m.text
    );
    assert!(
        m.text
            .contains("keyseal_http_request_duration_seconds_count{route=\"/v1/verify\"} 2"),
        "{}",
        m.text
    );
    assert!(!m.text.contains(&o.key));
    let doc = h.raw("GET", "/v1/openapi.json", &[], None);
    let d = doc.expect(200);
    assert_eq!(d["openapi"], "3.1.0");
    for p in [
        "/v1/accounts/{account}/keys",
        "/v1/accounts/{account}/keys/{id}",
        "/v1/accounts/{account}/keys/{id}/roll",
        "/v1/accounts/{account}/keys/{id}/enable",
        "/v1/accounts/{account}/keys/{id}/disable",
        "/v1/accounts/{account}/audit",
        "/v1/verify",
        "/v1/token",
        "/v1/tokens/verify",
        "/v1/whoami",
    ] {
        assert!(d["paths"][p].is_object(), "openapi lacks {p}");
    }
}
both!(health_metrics_openapi);

// ---------------------------------------------------------------------------------------
// Concurrency and durability

/// Concurrent PATCH with the same If-Match: exactly one 200, the rest 412.
fn concurrent_if_match(b: Backend) {
    let Some((env, srv)) = setup(b) else { return };
    let h = srv.http();
    let o = env.owner();
    let k = h.create(&o, &json!({"name": "race"}));
    let p = key_path(&o, k["id"].as_str().expect("id"));
    let n = 12;
    let barrier = Arc::new(Barrier::new(n));
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (h, p, key, barrier, statuses) = (
                h.clone(),
                p.clone(),
                o.key.clone(),
                Arc::clone(&barrier),
                Arc::clone(&statuses),
            );
            std::thread::spawn(move || {
                let body = json!({"description": format!("writer {i}")})
                    .to_string()
                    .into_bytes();
                barrier.wait();
                let r = h.raw(
                    "PATCH",
                    &p,
                    &[("x-api-key", &key), ("if-match", "1")],
                    Some(body),
                );
                if r.status == 412 {
                    assert_eq!(r.code(), "version_conflict");
                }
                statuses.lock().expect("lock").push(r.status);
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let s = statuses.lock().expect("lock").clone();
    assert_eq!(s.iter().filter(|&&x| x == 200).count(), 1, "{s:?}");
    assert_eq!(s.iter().filter(|&&x| x == 412).count(), n - 1, "{s:?}");
    assert_eq!(h.get(&p, &o.key).json["version"], 2);
}
both!(concurrent_if_match);

/// `kill -9` during a burst of creates: every key acknowledged with 201 is present and
/// verifies after a restart.
fn kill9_durability(b: Backend) {
    let Some(env) = Env::new(b) else { return };
    let mut srv = env.start();
    let o = env.owner();
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (url, o, acked, stop) = (
                srv.url.clone(),
                o.clone(),
                Arc::clone(&acked),
                Arc::clone(&stop),
            );
            std::thread::spawn(move || {
                let cfg = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(5)))
                    .build();
                let agent = ureq::Agent::new_with_config(cfg);
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    i += 1;
                    let r = agent
                        .post(format!("{url}/v1/accounts/{}/keys", o.account))
                        .header("x-api-key", &o.key)
                        .send_json(json!({"name": format!("burst-{t}-{i}")}));
                    match r {
                        Ok(mut resp) if resp.status() == 201 => {
                            let v: Value = resp.body_mut().read_json().expect("json");
                            acked
                                .lock()
                                .expect("lock")
                                .push(v["secret"].as_str().expect("s").to_owned());
                        }
                        Ok(resp) => panic!("unexpected status {}", resp.status()),
                        Err(_) => break, // the server died mid-request: not acknowledged
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    srv.kill9();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in threads {
        t.join().expect("thread");
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() >= 5,
        "only {} creates acknowledged",
        acked.len()
    );
    let srv2 = env.start();
    let h = srv2.http();
    let unique: HashSet<&String> = acked.iter().collect();
    assert_eq!(unique.len(), acked.len());
    for key in &acked {
        assert_eq!(
            h.verify_key(key),
            (true, "ok".to_owned()),
            "an acknowledged key is missing after kill -9"
        );
    }
    let total = h.get(&keys_path(&o), &o.key).expect(200)["total"]
        .as_u64()
        .expect("total");
    assert!(total as usize > acked.len());
}
both!(kill9_durability);

/// SIGTERM: in-flight requests finish, then the server exits 0; every acknowledged
/// create is there after a restart.
fn sigterm_drains(b: Backend) {
    let Some(env) = Env::new(b) else { return };
    let mut srv = env.start();
    let o = env.owner();
    let (tx, rx) = std::sync::mpsc::channel();
    let (url, o2) = (srv.url.clone(), o.clone());
    let t = std::thread::spawn(move || {
        let cfg = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build();
        let agent = ureq::Agent::new_with_config(cfg);
        let mut acked = Vec::new();
        for i in 0..100_000 {
            let r = agent
                .post(format!("{url}/v1/accounts/{}/keys", o2.account))
                .header("x-api-key", &o2.key)
                .send_json(json!({"name": format!("d{i}")}));
            match r {
                Ok(mut resp) => {
                    assert_eq!(
                        resp.status(),
                        201,
                        "a request during shutdown was not served"
                    );
                    let v: Value = resp.body_mut().read_json().expect("json");
                    acked.push(v["secret"].as_str().expect("s").to_owned());
                }
                // The server closed the idle connection and stopped listening.
                Err(_) => break,
            }
            if i == 5 {
                let _ = tx.send(());
            }
        }
        acked
    });
    rx.recv().expect("started");
    let status = srv.terminate(Duration::from_secs(20));
    assert!(status.success(), "exit status {status:?}");
    let acked = t.join().expect("client thread");
    assert!(acked.len() >= 6);
    let srv2 = env.start();
    let h = srv2.http();
    for key in &acked {
        assert_eq!(h.verify_key(key), (true, "ok".to_owned()));
    }
}
both!(sigterm_drains);

/// Two instances on one PostgreSQL: a disable through one is refused by the other
/// within 1 s.
#[test]
fn postgres_two_instances_disable_within_1s() {
    let Some(env) = Env::new(Backend::Postgres) else {
        return;
    };
    let a = env.start();
    let b = env.start();
    let (ha, hb) = (a.http(), b.http());
    let o = env.owner();
    let k = ha.create(&o, &json!({"name": "shared"}));
    let key = k["secret"].as_str().expect("s");
    // Warm both caches.
    assert_eq!(hb.verify_key(key), (true, "ok".to_owned()));
    assert_eq!(ha.verify_key(key), (true, "ok".to_owned()));
    ha.post(
        &format!("{}/disable", key_path(&o, k["id"].as_str().expect("id"))),
        &o.key,
        &json!({}),
    )
    .expect(200);
    let t0 = Instant::now();
    loop {
        let (valid, code) = hb.verify_key(key);
        if !valid {
            assert_eq!(code, "key_disabled");
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(1),
            "instance B still accepts the key after 1 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Management through B sees A's change too.
    let v = hb.get(&key_path(&o, k["id"].as_str().expect("id")), &o.key);
    assert_eq!(v.expect(200)["enabled"], false);
}

// ---------------------------------------------------------------------------------------
// Start-up, config, CLI (SQLite)

#[test]
fn first_start_creates_config_0600_and_hints() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new(Backend::Sqlite).expect("env");
    let mut child = std::process::Command::new(BIN)
        .current_dir(&env.dir)
        .env_remove("KEYSEAL_DB")
        .env_remove("KEYSEAL_CONFIG")
        .env_remove("KEYSEAL_PEPPER_HEX")
        .env_remove("KEYSEAL_TOKEN_SECRET_HEX")
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut lines = Vec::new();
    for _ in 0..4 {
        let mut l = String::new();
        std::io::BufRead::read_line(&mut out, &mut l).expect("line");
        lines.push(l);
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        lines[0].starts_with("keyseal listening on http://127.0.0.1:"),
        "{lines:?}"
    );
    assert!(lines[2].contains("keyseal init"), "{lines:?}");
    // The console's address and how to sign in.
    let base = lines[0].trim().trim_start_matches("keyseal listening on ");
    assert!(
        lines[3].contains(&format!("{base}/console/")) && lines[3].contains("sign in"),
        "{lines:?}"
    );
    let cfg = env.dir.join("keyseal.toml");
    let mode = std::fs::metadata(&cfg)
        .expect("config created")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert!(env.dir.join("keyseal.db").exists());
    // A config readable by others is refused.
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = std::process::Command::new(BIN)
        .current_dir(&env.dir)
        .env_remove("KEYSEAL_DB")
        .env_remove("KEYSEAL_CONFIG")
        .env_remove("KEYSEAL_PEPPER_HEX")
        .env_remove("KEYSEAL_TOKEN_SECRET_HEX")
        .args(["init"])
        .output()
        .expect("init");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"));
}

#[test]
fn env_secrets_replace_the_config_file_and_are_never_logged() {
    let env = Env::new(Backend::Sqlite).expect("env");
    let pepper = "11".repeat(32);
    let token = "22".repeat(32);
    let out = env
        .cmd()
        .env("KEYSEAL_PEPPER_HEX", &pepper)
        .env("KEYSEAL_TOKEN_SECRET_HEX", &token)
        .args(["init", "--json", "--account", "envacct"])
        .output()
        .expect("init");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !env.config.exists(),
        "no config file when secrets come from the environment"
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let key = v["secret"].as_str().expect("s").to_owned();
    let mut child = env
        .cmd()
        .env("KEYSEAL_PEPPER_HEX", &pepper)
        .env("KEYSEAL_TOKEN_SECRET_HEX", &token)
        .env("KEYSEAL_LOG", "debug")
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut l = String::new();
    std::io::BufRead::read_line(&mut out, &mut l).expect("line");
    let url = l
        .trim()
        .strip_prefix("keyseal listening on ")
        .expect("url")
        .to_owned();
    let h = Http::new(&url);
    assert_eq!(h.verify_key(&key), (true, "ok".to_owned()));
    let tok = h
        .raw("POST", "/v1/token", &[("x-api-key", &key)], None)
        .expect(200)["token"]
        .as_str()
        .expect("t")
        .to_owned();
    h.get("/v1/accounts/envacct/keys", &key).expect(200);
    let st = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
    let output = child.wait_with_output().expect("wait");
    let logs = String::from_utf8_lossy(&output.stderr);
    assert!(logs.contains("request"), "debug logs expected: {logs}");
    for secret in [&key, &tok, &pepper, &token] {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret leaked into the logs"
        );
    }
    let (_, secret_half) = key.rsplit_once('_').expect("split");
    assert!(!logs.contains(secret_half));
}

#[test]
fn cli_keys_token_inspect() {
    let env = Env::new(Backend::Sqlite).expect("env");
    let srv = env.start();
    let o = env.owner();
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
    let (c, out, err) = run(&[
        "keys",
        "create",
        "--name",
        "cli-key",
        "--role",
        "merchant-terminal",
        "--scope",
        "a",
        "--scope",
        "b",
        "--json",
    ]);
    assert_eq!(c, Some(0), "{err}");
    let created: Value = serde_json::from_str(&out).expect("json");
    let id = created["id"].as_str().expect("id").to_owned();
    let key = created["secret"].as_str().expect("s").to_owned();
    assert_eq!(created["scopes"], json!(["a", "b"]));
    // Metering from the command line: limits with units, credits.
    let (c, out, err) = run(&[
        "keys",
        "create",
        "--name",
        "cli-metered",
        "--limit",
        "per_minute=100/1m",
        "--limit",
        "burst=5/500ms",
        "--credits",
        "20",
        "--json",
    ]);
    assert_eq!(c, Some(0), "{err}");
    let metered: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        metered["limits"],
        json!([{"name": "per_minute", "limit": 100, "window_ms": 60000},
               {"name": "burst", "limit": 5, "window_ms": 500}])
    );
    let (c, _, err) = run(&["keys", "create", "--name", "x", "--limit", "per_minute=100"]);
    assert_ne!(c, Some(0));
    assert!(err.contains("NAME=LIMIT/WINDOW"), "{err}");
    // Table output by default.
    let (c, out, _) = run(&["keys", "list"]);
    assert_eq!(c, Some(0));
    assert!(
        out.lines()
            .next()
            .is_some_and(|l| l.starts_with("ID") && l.contains("NAME") && l.contains("STATUS")),
        "{out}"
    );
    assert!(out.contains("cli-key") && !out.contains(&key));
    let (c, out, _) = run(&["keys", "list", "--json", "--limit", "1"]);
    assert_eq!(c, Some(0));
    assert_eq!(
        serde_json::from_str::<Value>(&out).expect("json")["count"],
        1
    );
    let (c, out, _) = run(&["keys", "show", &id]);
    assert_eq!(c, Some(0));
    assert!(out.contains("cli-key"));
    let (c, out, err) = run(&[
        "keys",
        "update",
        &id,
        "--description",
        "from the cli",
        "--json",
    ]);
    assert_eq!(c, Some(0), "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).expect("json")["version"],
        2
    );
    let (c, _, err) = run(&[
        "keys",
        "update",
        &id,
        "--if-match",
        "1",
        "--description",
        "stale",
    ]);
    assert_eq!(c, Some(6), "{err}");
    assert!(err.contains("version_conflict"));
    // Tokens for the new key.
    let out = env
        .cmd()
        .env("KEYSEAL_URL", &srv.url)
        .env("KEYSEAL_KEY", &key)
        .args(["token", "issue"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let (c, out, _) = run(&["token", "verify", &token]);
    assert_eq!(c, Some(0));
    assert!(out.starts_with("valid"));
    let (c, _, _) = run(&["token", "verify", "a.b.c"]);
    assert_eq!(c, Some(8));
    let (c, _, _) = run(&["keys", "disable", &id]);
    assert_eq!(c, Some(0));
    let out = env
        .cmd()
        .env("KEYSEAL_URL", &srv.url)
        .env("KEYSEAL_KEY", &key)
        .args(["token", "issue"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(4));
    let (c, _, _) = run(&["keys", "enable", &id]);
    assert_eq!(c, Some(0));
    let (c, out, _) = run(&["keys", "roll", &id, "--grace", "0", "--json"]);
    assert_eq!(c, Some(0));
    let rolled = serde_json::from_str::<Value>(&out).expect("json")["secret"]
        .as_str()
        .expect("s")
        .to_owned();
    assert_ne!(rolled, key);
    let (c, _, _) = run(&["keys", "delete", &id]);
    assert_eq!(c, Some(0));
    let (c, _, err) = run(&["keys", "show", &id]);
    assert_eq!(c, Some(5), "{err}");
    // Inspect: offline, never the secret.
    let (c, out, _) = run(&["inspect", &rolled, "--json"]);
    assert_eq!(c, Some(0));
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["prefix"], "ks");
    assert_eq!(v["checksum_valid"], true);
    let (_, secret_half) = rolled.rsplit_once('_').expect("split");
    assert!(!out.contains(secret_half));
    let mut typo = rolled.clone();
    let last = typo.pop().expect("c");
    typo.push(if last == 'A' { 'B' } else { 'A' });
    let (c, out, _) = run(&["inspect", &typo]);
    assert_eq!(c, Some(8));
    assert!(out.contains("checksum valid:  false"), "{out}");
    // Wrong key: exit 4; unreachable server: exit 7; usage: exit 2.
    let out = env
        .cmd()
        .env("KEYSEAL_URL", &srv.url)
        .env("KEYSEAL_KEY", "ks_0000000000000000_x")
        .args(["keys", "list", "--account", "a"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(4));
    let out = env
        .cmd()
        .env("KEYSEAL_URL", "http://127.0.0.1:1")
        .env("KEYSEAL_KEY", &o.key)
        .args(["keys", "list"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(7));
    let (c, _, _) = run(&["keys", "frobnicate"]);
    assert_eq!(c, Some(2));
    let (c, out, _) = run(&["keys", "create", "--help"]);
    assert_eq!(c, Some(0));
    assert!(out.contains("--name"));
}

/// A TCP forwarder between the server and PostgreSQL that can cut every connection, to
/// simulate the database going away (the shared test PostgreSQL keeps running).
struct Cutter {
    port: u16,
    up: Arc<std::sync::atomic::AtomicBool>,
    conns: Arc<Mutex<Vec<std::net::TcpStream>>>,
}

impl Cutter {
    fn start(target: String) -> Cutter {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<std::net::TcpStream>>> = Arc::default();
        let (up2, conns2) = (Arc::clone(&up), Arc::clone(&conns));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !up2.load(Ordering::SeqCst) {
                    drop(client); // accepted, then closed: the database is "down"
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(&target) else {
                    continue;
                };
                let mut list = conns2.lock().expect("lock");
                for s in [&client, &server] {
                    if let Ok(c) = s.try_clone() {
                        list.push(c);
                    }
                }
                for (mut from, mut to) in [
                    (
                        client.try_clone().expect("clone"),
                        server.try_clone().expect("clone"),
                    ),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Cutter { port, up, conns }
    }

    fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for c in self.conns.lock().expect("lock").drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The database goes away: management calls and readiness answer 503
/// `storage_unavailable` (never a 500, never a hang); it comes back: 200 again.
#[test]
fn postgres_outage_is_503_and_recovers() {
    let Some(url) = pg_url() else { return };
    // postgres://user@host:port/db -> the same through the cutter.
    let (scheme_user, rest) = url.split_once('@').expect("url");
    let (hostport, db) = rest.split_once('/').expect("url");
    let cutter = Cutter::start(hostport.to_owned());
    let mut env = Env::new(Backend::Postgres).expect("env");
    env.db = format!("{scheme_user}@127.0.0.1:{}/{db}", cutter.port);
    let srv = env.start();
    let h = srv.http();
    let o = env.owner();
    let k = h.create(&o, &json!({"name": "before-outage"}));
    h.raw("GET", "/readyz", &[], None).expect(200);
    cutter.cut();
    h.raw("GET", "/readyz", &[], None)
        .expect_error(503, "storage_unavailable");
    // Create always writes: 503. (The owner key itself still verifies from the cache.)
    let r = h.post(&keys_path(&o), &o.key, &json!({"name": "during-outage"}));
    r.expect_error(503, "storage_unavailable");
    assert!(!r.text.contains("postgres://"));
    let r = h.get(&keys_path(&o), &o.key);
    r.expect_error(503, "storage_unavailable");
    cutter.restore();
    let t0 = Instant::now();
    while h.raw("GET", "/readyz", &[], None).status != 200 {
        assert!(t0.elapsed() < Duration::from_secs(15), "did not recover");
        std::thread::sleep(Duration::from_millis(100));
    }
    h.create(&o, &json!({"name": "after-outage"}));
    assert_eq!(
        h.verify_key(k["secret"].as_str().expect("s")),
        (true, "ok".to_owned())
    );
}

#[test]
fn unreachable_database_fails_start_without_leaking_the_password() {
    let env = Env::new(Backend::Sqlite).expect("env");
    let out = env
        .cmd()
        .env("KEYSEAL_DB", "postgres://user:SuperSecretPw@127.0.0.1:1/db")
        .args(["serve", "--addr", "127.0.0.1:0"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("SuperSecretPw"), "{all}");
    assert!(all.contains("127.0.0.1:1"), "{all}");
}

// ---------------------------------------------------------------------------------------
// Metering managed over HTTP: an owner's shared limits and credits, adding credits,
// metered token exchange.

fn owner_limits_credits_and_metered_exchange(b: Backend) {
    let Some((env, srv)) = setup(b) else { return };
    let h = srv.http();
    let o = env.owner();
    let owner_path = format!("/v1/accounts/{}/owners/team-a", o.account);
    let got = h.get(&format!("{owner_path}/meter"), &o.key);
    assert_eq!(got.expect(200)["version"], 0);
    let set = |version: &str| {
        h.raw(
            "PATCH",
            &format!("{owner_path}/meter"),
            &[
                ("x-api-key", o.key.as_str()),
                ("content-type", "application/json"),
                ("if-match", version),
            ],
            Some(
                json!({"limits": [{"name": "per_minute", "limit": 3, "window_ms": 60000}],
                       "credits": {"remaining": 10}})
                .to_string()
                .into_bytes(),
            ),
        )
    };
    assert_eq!(set("0").expect(200)["version"], 1);
    set("0").expect_error(412, "version_conflict");
    let a = h.create(
        &o,
        &json!({"name": "a", "owner": "team-a", "credits": {"remaining": 50}}),
    );
    let b2 = h.create(&o, &json!({"name": "b", "owner": "team-a"}));
    let (ka, kb) = (
        a["secret"].as_str().unwrap(),
        b2["secret"].as_str().unwrap(),
    );
    let v = h.verify(&json!({"key": ka, "cost": 2}));
    let m = &v.expect(200)["meter"];
    assert_eq!(m["limits"][0]["scope"], "owner");
    assert_eq!(m["limits"][0]["remaining"], 1);
    assert_eq!(m["owner_credits"]["remaining"], 8);
    assert_eq!(m["credits"]["remaining"], 48);
    // The owner's limit is shared: key b gets the one unit left, then 429.
    h.verify(&json!({"key": kb})).expect(200);
    let refused = h.verify(&json!({"key": kb}));
    let body = refused.expect(429);
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(body["valid"], false);
    // A dry run reads without spending; unknown limit names are refused.
    let dry = h.verify(&json!({"key": ka, "cost": 0, "dry_run": true}));
    assert_eq!(dry.expect(200)["meter"]["credits"]["remaining"], 48);
    h.verify(&json!({"key": ka, "limits": ["per_fortnight"]}))
        .expect_error(422, "invalid_argument");
    // Credits added to the owner and to a key.
    let added = h.post(&format!("{owner_path}/credits"), &o.key, &json!({"add": 5}));
    assert_eq!(added.expect(200)["remaining"], 12);
    let key_credits = format!("{}/credits", key_path(&o, a["id"].as_str().unwrap()));
    assert_eq!(
        h.post(&key_credits, &o.key, &json!({"add": 2})).expect(200)["remaining"],
        50
    );
    h.post(&key_credits, &o.key, &json!({"add": 0}))
        .expect_error(422, "invalid_argument");
    let got = h.get(&key_path(&o, a["id"].as_str().unwrap()), &o.key);
    assert_eq!(got.expect(200)["credits"]["remaining"], 50);
    let audit = h.get(
        &format!("/v1/accounts/{}/audit?key_id=owner:team-a", o.account),
        &o.key,
    );
    let actions: Vec<&str> = audit.expect(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert!(actions.contains(&"owner_update") && actions.contains(&"credits_added"));
    // A metered exchange: the owner's limit refuses it with 429; a bad query is 400.
    let t = h.raw("POST", "/v1/token?cost=1", &[("x-api-key", ka)], None);
    t.expect_error(429, "rate_limited");
    let t = h.raw("POST", "/v1/token?cost=x", &[("x-api-key", ka)], None);
    t.expect_error(400, "invalid_argument");
    let c = h.create(
        &o,
        &json!({"name": "c", "limits": [{"name": "burst", "limit": 2, "window_ms": 1000}]}),
    );
    let kc = c["secret"].as_str().unwrap();
    let t = h.raw(
        "POST",
        "/v1/token?cost=2&limits=burst",
        &[("x-api-key", kc)],
        None,
    );
    assert!(t.expect(200)["token"].is_string());
    let t = h.raw("POST", "/v1/token", &[("x-api-key", kc)], None);
    t.expect_error(429, "rate_limited");
}
both!(owner_limits_credits_and_metered_exchange);
