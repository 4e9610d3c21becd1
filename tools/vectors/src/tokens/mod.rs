//! `token_issue.json`, `token_verify.json` and `token_exchange.json`. The three are built
//! together: verify cases check tokens that issue cases produced, so each file's case
//! order follows the steps below.

mod claims;
mod issue;
mod malformed;

use crate::file::{File, GEN, Want};
use crate::fixtures::{NOW, entropy};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use keyseal_vectors::runner;
use serde_json::{Value, json};

/// The signing keys of the token cases.
struct Keys {
    /// The current HS256 key.
    k1: Value,
    /// A rotated HS256 key, verifying until `NOW + 3600`.
    k0: Value,
    k384: Value,
    k512: Value,
    /// All four, the keyset every verify case uses.
    all: Value,
}

/// The tokens the first issue cases produce, which the verify cases reuse.
struct Issued {
    t1: String,
    t384: String,
    t512: String,
    t0: String,
    /// Extra claims shaped like the key-for-token flow's token (docs/compat.md).
    tseed: String,
    taud: String,
}

fn tkey(kid: &str, alg: &str, seed: u64, len: usize) -> Value {
    json!({"kid": kid, "alg": alg, "secret_hex": entropy(seed, len), "verify_until": null})
}

/// A realistic token payload: about 350 bytes of signing input.
fn typical_claims(now: i64) -> Value {
    json!({
        "iss": "https://auth.acme.example",
        "sub": "user_7Hq2kLm9PzX4",
        "aud": "https://api.acme.example",
        "exp": now + 600, "nbf": now, "iat": now,
        "jti": "tok_3f9a1c2e8b7d4e6f",
        "scope": "keys:read keys:write billing:read",
        "role": "merchant-terminal",
    })
}

/// Signs arbitrary header and payload text with an HS256 key (for malformed-payload cases).
fn sign_raw(header: &str, payload_b64: &str, secret_hex: &str) -> String {
    let input = format!("{}.{}", B64.encode(header), payload_b64);
    let mac = keyseal::token::hmac_sha256(&runner::unhex(secret_hex), input.as_bytes()).unwrap();
    format!("{input}.{}", B64.encode(mac))
}

/// The token of an issue case's output.
fn tok(out: Value) -> String {
    out["token"].as_str().unwrap().to_owned()
}

/// The typical validation (the typical audience) with `extra` options added.
fn validation(extra: Value) -> Value {
    let mut v = json!({"audiences": ["https://api.acme.example"]});
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in e {
            o.insert(k.clone(), x.clone());
        }
    }
    v
}

/// A verify case's input: `token` checked with `keys` at `now`.
fn verify_input(keys: &Value, token: &str, now: i64, validation: Value) -> Value {
    json!({"keys": keys, "token": token, "now": now, "validation": validation})
}

pub(crate) fn tokens() -> (File, File, File) {
    let mut issue = File::new(
        "token_issue",
        "Issuing HS256/HS384/HS512 tokens: header {alg, typ, kid}; claims in the order iss, sub, aud, exp, nbf, iat, jti, scope, role, then extra claims sorted by name.",
    );
    let mut verify = File::new(
        "token_verify",
        "Verifying tokens: RFC 7515 A.1, every failure code, each algorithm, rotation, leeway edges.",
    );
    let mut exch = File::new(
        "token_exchange",
        "Exchange tokens for a verified API key: sub = owner (else key id), exp = now + ttl (default 600), scope, role, key_id.",
    );
    let k1 = tkey("k1", "HS256", 31, 32);
    let k0 = {
        let mut k = tkey("k0", "HS256", 30, 32);
        k["verify_until"] = json!(NOW + 3600);
        k
    };
    let k384 = tkey("k384", "HS384", 32, 48);
    let k512 = tkey("k512", "HS512", 33, 64);
    let all = json!([k1, k0, k384, k512]);
    let keys = Keys {
        k1,
        k0,
        k384,
        k512,
        all,
    };
    let issued = issue::typical(&mut issue, &keys);
    claims::cases(&mut issue, &mut verify, &keys, &issued);
    malformed::cases(&mut issue, &mut verify, &keys, &issued);
    rfc7515(&mut verify);
    exchange(&mut exch, &keys.k1);
    (issue, verify, exch)
}

/// RFC 7515 appendix A.1: the HS256 example (header without kid, CRLF inside the JSON).
fn rfc7515(verify: &mut File) {
    let rfc_key = json!({"kid": "rfc7515", "alg": "HS256", "verify_until": null,
        "secret_hex": runner::hex(&B64.decode("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow").unwrap())});
    let rfc_token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let rfc = |now: i64, validation: Value| json!({"keys": [rfc_key], "token": rfc_token, "now": now, "validation": validation});
    verify.case(
        "rfc7515_a1",
        "RFC 7515 appendix A.1",
        rfc(1_300_819_379, json!({"issuers": ["joe"]})),
        Want::Exactly(json!({
            "kid": "rfc7515", "alg": "HS256",
            "claims": {"iss": "joe", "exp": 1_300_819_380, "http://example.com/is_root": true},
        })),
    );
    verify.case(
        "rfc7515_a1_expired",
        "RFC 7515 appendix A.1",
        rfc(1_300_819_380, json!({})),
        Want::Err("token_expired"),
    );
    verify.case(
        "rfc7515_a1_leeway",
        "RFC 7515 appendix A.1",
        rfc(1_300_819_380, json!({"leeway": 1})),
        Want::Ok,
    );
}

/// Exchange tokens for a verified API key.
fn exchange(exch: &mut File, k1: &Value) {
    let ident = |owner: Value, scopes: Value, role: Value| json!({"key_id": "AbCdEfGh12345678", "owner": owner, "scopes": scopes, "role": role});
    exch.case("defaults", GEN, json!({"keys": [k1], "identity": ident(json!("user_42"), json!(["keys:read", "billing:*"]), json!("merchant-terminal")), "now": NOW, "options": {}}), Want::Ok);
    exch.case("with_options", GEN, json!({"keys": [k1], "identity": ident(json!("user_42"), json!(["keys:read"]), json!("account-owner")), "now": NOW, "options": {"ttl": 300, "issuer": "https://auth.acme.example", "audience": "https://api.acme.example", "jti": "x1"}}), Want::Ok);
    exch.case("no_owner_uses_key_id", GEN, json!({"keys": [k1], "identity": ident(json!(null), json!([]), json!(null)), "now": NOW, "options": {}}), Want::Ok);
    exch.case("ttl_zero", GEN, json!({"keys": [k1], "identity": ident(json!("u"), json!([]), json!(null)), "now": NOW, "options": {"ttl": 0}}), Want::Err("invalid_config"));
    exch.case("ttl_over_a_day", GEN, json!({"keys": [k1], "identity": ident(json!("u"), json!([]), json!(null)), "now": NOW, "options": {"ttl": 86401}}), Want::Err("invalid_config"));
}
