//! Runs one vector's `input` through the core and returns its `expect` value.
//!
//! Shared by the generator (tools/vectors) and `tools/vectors/tests/vectors.rs`, so the JSON
//! schema is read in one place in Rust. Other runtimes have their own readers.

use keyseal::digest::sha256_hex;
use keyseal::policy::parse_ip;
use keyseal::token::hmac_sha256;
use keyseal::{
    Algorithm, Claim, Claims, Credential, Error, ExchangeOptions, FixedEntropy, IpNet, KeyFormat,
    KeyIdentity, KeyPolicy, Keyset, Pepper, PepperSet, RequestContext, Scope, TokenKey, Validation,
};
use serde_json::{Value, json};

/// The expected outcome of a vector: `{"ok": ...}` or `{"error": "<code>"}`.
pub fn expect_of(result: Result<Value, Error>) -> Value {
    match result {
        Ok(v) => json!({ "ok": v }),
        Err(e) => json!({ "error": e.code() }),
    }
}

/// Runs `op` on `input`.
pub fn run(op: &str, input: &Value) -> Result<Value, Error> {
    match op {
        "key_generate" => key_generate(input),
        "key_parse" => key_parse(input),
        "digest_compute" => digest_compute(input),
        "digest_verify" => digest_verify(input),
        "hmac_sha256" => hmac(input),
        "token_issue" => token_issue(input),
        "token_verify" => token_verify(input),
        "token_exchange" => token_exchange(input),
        "policy_check" => policy_check(input),
        "headers_extract" => headers_extract(input),
        "meter" => crate::meter_run::run(input),
        other => panic!("unknown vector op {other:?}"),
    }
}

fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("vector field {field:?} must be a string"))
}

fn opt_s<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    v.get(field).and_then(Value::as_str)
}

fn opt_i(v: &Value, field: &str) -> Option<i64> {
    v.get(field).and_then(Value::as_i64)
}

fn strs(v: &Value, field: &str) -> Vec<String> {
    v.get(field)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().expect("string list").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Decodes lowercase hex from a vector.
pub fn unhex(h: &str) -> Vec<u8> {
    assert!(h.len().is_multiple_of(2), "odd hex length");
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Encodes bytes as lowercase hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn key_generate(input: &Value) -> Result<Value, Error> {
    let format = KeyFormat::new(s(input, "prefix"))?.with_lengths(
        input["id_len"].as_u64().unwrap_or(16) as usize,
        input["secret_len"].as_u64().unwrap_or(32) as usize,
    )?;
    let entropy = unhex(s(input, "entropy_hex"));
    let key = format.generate(&mut FixedEntropy::new(&entropy))?;
    Ok(json!({
        "key": key.expose(),
        "prefix": key.prefix(),
        "id": key.id(),
        "secret": key.expose_secret(),
        "checksum": key.checksum(),
    }))
}

fn key_parse(input: &Value) -> Result<Value, Error> {
    let key = s(input, "key");
    let parsed = match input.get("format").filter(|f| !f.is_null()) {
        Some(f) => KeyFormat::new(s(f, "prefix"))?
            .with_lengths(
                f["id_len"].as_u64().unwrap_or(16) as usize,
                f["secret_len"].as_u64().unwrap_or(32) as usize,
            )?
            .parse(key)?,
        None => keyseal::parse_key(key)?,
    };
    Ok(json!({
        "prefix": parsed.prefix(),
        "id": parsed.id(),
        "secret": parsed.expose_secret(),
        "checksum": parsed.checksum(),
    }))
}

/// Builds a pepper set: the first entry is current.
pub fn peppers(list: &Value) -> Result<PepperSet, Error> {
    let list = list.as_array().expect("peppers list");
    let first = &list[0];
    let mut set = PepperSet::new(Pepper::new(s(first, "id"), &unhex(s(first, "secret_hex")))?);
    for p in &list[1..] {
        set = set.with_previous(Pepper::new(s(p, "id"), &unhex(s(p, "secret_hex")))?)?;
    }
    Ok(set)
}

fn digest_compute(input: &Value) -> Result<Value, Error> {
    let set = peppers(&input["peppers"])?;
    let key = s(input, "key");
    Ok(json!({ "digest": set.digest(key), "sha256_hex": sha256_hex(key) }))
}

fn digest_verify(input: &Value) -> Result<Value, Error> {
    let set = peppers(&input["peppers"])?;
    let status = set.verify(s(input, "key"), s(input, "stored"))?;
    Ok(json!({ "status": if status.needs_rehash() { "outdated" } else { "current" } }))
}

fn hmac(input: &Value) -> Result<Value, Error> {
    let mac = hmac_sha256(&unhex(s(input, "key_hex")), &unhex(s(input, "data_hex")))?;
    Ok(json!({ "mac_hex": hex(&mac) }))
}

/// Builds a keyset: the first key signs, the rest verify.
pub fn keyset(list: &Value) -> Result<Keyset, Error> {
    let list = list.as_array().expect("keys list");
    let make = |k: &Value| -> Result<TokenKey, Error> {
        let alg = Algorithm::from_name(s(k, "alg"))?;
        let key = TokenKey::new(s(k, "kid"), alg, &unhex(s(k, "secret_hex")))?;
        Ok(match opt_i(k, "verify_until") {
            Some(t) => key.with_verify_until(t),
            None => key,
        })
    };
    let mut set = Keyset::new(make(&list[0])?);
    for k in &list[1..] {
        set = set.with_verify_only(make(k)?)?;
    }
    Ok(set)
}

/// Converts a JSON object into claims the way bindings do (`Claims::from_json`).
pub fn claims_from_json(v: &Value) -> Result<Claims, Error> {
    Claims::from_json(&serde_json::to_vec(v).expect("json"))
}

fn token_issue(input: &Value) -> Result<Value, Error> {
    let set = keyset(&input["keys"])?;
    // `claims_json`: the claims as JSON text, for numbers this file's readers do not all
    // hold exactly (serde_json reads 18446744073709551616 as a float); each runner parses
    // it with its host's JSON parser, as an application would.
    let claims = match input.get("claims_json").and_then(Value::as_str) {
        Some(text) => Claims::from_json(text.as_bytes())?,
        None => claims_from_json(&input["claims"])?,
    };
    Ok(json!({ "token": set.issue(&claims)? }))
}

/// Builds a validation from the vector's `validation` object (absent = defaults).
pub fn validation(v: Option<&Value>) -> Result<Validation, Error> {
    let mut val = Validation::new();
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(val);
    };
    if let Some(l) = v.get("leeway").and_then(Value::as_u64) {
        val = val.with_leeway(l)?;
    }
    for a in strs(v, "audiences") {
        val = val.with_audience(&a);
    }
    for i in strs(v, "issuers") {
        val = val.with_issuer(&i);
    }
    // Dropping the default `exp` first, so a `required` naming `exp` keeps it (as the
    // bindings do).
    if v.get("dangerously_allow_missing_exp")
        .and_then(Value::as_bool)
        == Some(true)
    {
        val = val.dangerously_allow_missing_exp();
    }
    // `required` adds to the default `exp`.
    if v.get("required").is_some() {
        for name in strs(v, "required") {
            let claim = Claim::from_name(&name).ok_or(Error::InvalidConfig {
                setting: "required",
                expected: "registered claim names",
            })?;
            val = val.require(claim);
        }
    }
    if let Some(n) = v.get("max_token_len").and_then(Value::as_u64) {
        val = val.with_max_token_len(n as usize)?;
    }
    Ok(val)
}

fn token_verify(input: &Value) -> Result<Value, Error> {
    let set = keyset(&input["keys"])?;
    let val = validation(input.get("validation"))?;
    let now = input["now"].as_i64().expect("now");
    let verified = set.verify(s(input, "token"), &val, now)?;
    Ok(json!({
        "kid": verified.kid,
        "alg": verified.alg.as_str(),
        "claims": serde_json::to_value(&verified.claims).expect("claims serialize"),
    }))
}

fn token_exchange(input: &Value) -> Result<Value, Error> {
    let set = keyset(&input["keys"])?;
    let id = &input["identity"];
    let scopes = strs(id, "scopes");
    let scope_refs: Vec<&str> = scopes.iter().map(String::as_str).collect();
    let identity = KeyIdentity {
        key_id: s(id, "key_id"),
        owner: opt_s(id, "owner"),
        scopes: &scope_refs,
        role: opt_s(id, "role"),
    };
    let o = input.get("options").cloned().unwrap_or(Value::Null);
    let options = ExchangeOptions {
        ttl: o.get("ttl").and_then(Value::as_u64).unwrap_or(600),
        issuer: opt_s(&o, "issuer").map(str::to_owned),
        audience: opt_s(&o, "audience").map(str::to_owned),
        jti: opt_s(&o, "jti").map(str::to_owned),
    };
    let now = input["now"].as_i64().expect("now");
    let claims = keyseal::exchange_claims(&identity, now, &options)?;
    let token = set.issue(&claims)?;
    Ok(json!({
        "token": token,
        "claims": serde_json::to_value(&claims).expect("claims serialize"),
    }))
}

/// Builds a policy from the vector's `policy` object.
pub fn policy(p: &Value) -> Result<KeyPolicy, Error> {
    Ok(KeyPolicy {
        enabled: p.get("enabled").and_then(Value::as_bool).unwrap_or(true),
        revoked: p.get("revoked").and_then(Value::as_bool).unwrap_or(false),
        expires_at: opt_i(p, "expires_at"),
        role: opt_s(p, "role").map(str::to_owned),
        scopes: strs(p, "scopes")
            .iter()
            .map(|x| Scope::new(x))
            .collect::<Result<_, _>>()?,
        read_only: p.get("read_only").and_then(Value::as_bool).unwrap_or(false),
        allowed_ips: strs(p, "allowed_ips")
            .iter()
            .map(|x| x.parse::<IpNet>())
            .collect::<Result<_, _>>()?,
    })
}

fn policy_check(input: &Value) -> Result<Value, Error> {
    let pol = policy(&input["policy"])?;
    let c = &input["context"];
    let required = strs(c, "required_scopes");
    let required: Vec<&str> = required.iter().map(String::as_str).collect();
    let roles = strs(c, "allowed_roles");
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    let ctx = RequestContext {
        now: c["now"].as_i64().expect("now"),
        client_ip: opt_s(c, "client_ip").map(parse_ip).transpose()?,
        method: opt_s(c, "method"),
        required_scopes: &required,
        allowed_roles: &roles,
    };
    pol.check(&ctx)?;
    Ok(Value::Bool(true))
}

fn headers_extract(input: &Value) -> Result<Value, Error> {
    let pairs: Vec<(&str, &str)> = input["headers"]
        .as_array()
        .expect("headers list")
        .iter()
        .map(|p| (p[0].as_str().expect("name"), p[1].as_str().expect("value")))
        .collect();
    let cred = keyseal::extract_credential(pairs.iter().copied())?;
    let (kind, value) = match cred {
        Credential::ApiKey { key, .. } => ("api_key", key.to_owned()),
        Credential::Token(t) => ("token", t.to_owned()),
        Credential::KeyPair { .. } => (
            "key_pair",
            cred.key().map(|k| k.to_string()).unwrap_or_default(),
        ),
    };
    Ok(json!({ "kind": kind, "source": cred.source().as_str(), "value": value }))
}
