//! `headers_extract.json`: credentials read from request headers.

use crate::file::{File, GEN, Want};
use crate::fixtures::keys_for;
use serde_json::{Value, json};

pub(crate) fn headers() -> File {
    let mut f = File::new(
        "headers_extract",
        "Credentials from request headers: Authorization Bearer (key or token), x-api-key, accessKey + secretKey; ambiguity and duplicates are errors.",
    );
    let key = keys_for("acme_live", 16, 32, 41);
    let (access, secret) = key.rsplit_once('_').unwrap();
    let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln";
    let mut case = |id: &str, headers: Value, want: Want| {
        f.case(id, GEN, json!({"headers": headers}), want);
    };
    case(
        "bearer_key",
        json!([["Authorization", format!("Bearer {key}")]]),
        Want::Exactly(json!({"kind": "api_key", "source": "bearer", "value": key})),
    );
    case(
        "bearer_token",
        json!([["authorization", format!("Bearer {token}")]]),
        Want::Exactly(json!({"kind": "token", "source": "bearer", "value": token})),
    );
    case(
        "bearer_scheme_any_case",
        json!([["AUTHORIZATION", format!("bEaReR {key}")]]),
        Want::Ok,
    );
    case(
        "bearer_extra_whitespace",
        json!([["Authorization", format!("  Bearer \t {key}  ")]]),
        Want::Exactly(json!({"kind": "api_key", "source": "bearer", "value": key})),
    );
    case(
        "x_api_key",
        json!([["x-api-key", key]]),
        Want::Exactly(json!({"kind": "api_key", "source": "x-api-key", "value": key})),
    );
    case(
        "x_api_key_any_case",
        json!([["X-API-Key", key], ["content-type", "application/json"]]),
        Want::Ok,
    );
    case(
        "key_pair",
        json!([["accessKey", access], ["secretKey", secret]]),
        Want::Exactly(json!({"kind": "key_pair", "source": "key-pair", "value": key})),
    );
    case(
        "key_pair_lowercase",
        json!([["accesskey", access], ["SECRETKEY", secret]]),
        Want::Ok,
    );
    case("nothing", json!([]), Want::Err("missing_credential"));
    case(
        "unrelated_headers",
        json!([["cookie", "a=b"], ["x-api-keys", key]]),
        Want::Err("missing_credential"),
    );
    case(
        "basic_scheme",
        json!([["Authorization", "Basic dXNlcjpwYXNz"]]),
        Want::Err("unsupported_auth_scheme"),
    );
    case(
        "scheme_only_bearer",
        json!([["Authorization", "Bearer"]]),
        Want::Err("incomplete_credential"),
    );
    case(
        "bearer_two_values",
        json!([["Authorization", format!("Bearer {key} {key}")]]),
        Want::Err("incomplete_credential"),
    );
    case(
        "empty_x_api_key",
        json!([["x-api-key", "  "]]),
        Want::Err("incomplete_credential"),
    );
    case(
        "bearer_and_x_api_key",
        json!([
            ["Authorization", format!("Bearer {key}")],
            ["x-api-key", key]
        ]),
        Want::Err("ambiguous_credential"),
    );
    case(
        "basic_and_x_api_key",
        json!([["Authorization", "Basic dXNlcjpwYXNz"], ["x-api-key", key]]),
        Want::Err("ambiguous_credential"),
    );
    case(
        "x_api_key_and_pair",
        json!([
            ["x-api-key", key],
            ["accessKey", access],
            ["secretKey", secret]
        ]),
        Want::Err("ambiguous_credential"),
    );
    case(
        "duplicate_x_api_key",
        json!([["x-api-key", key], ["X-Api-Key", key]]),
        Want::Err("duplicate_credential"),
    );
    case(
        "folded_x_api_key",
        json!([["x-api-key", format!("{key}, {key}")]]),
        Want::Err("duplicate_credential"),
    );
    case(
        "duplicate_authorization",
        json!([
            ["authorization", format!("Bearer {key}")],
            ["Authorization", format!("Bearer {key}")]
        ]),
        Want::Err("duplicate_credential"),
    );
    case(
        "access_key_only",
        json!([["accessKey", access]]),
        Want::Err("incomplete_credential"),
    );
    case(
        "secret_key_only",
        json!([["secretKey", secret]]),
        Want::Err("incomplete_credential"),
    );
    f
}
