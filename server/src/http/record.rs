//! Key records as the API shows them: never a secret nor a digest, except the new key of
//! a create or roll, shown once.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyseal_registry::{KeyRecord, KeyStatus};
use serde_json::{Value, json};

use super::state::now;

fn status_str(rec: &KeyRecord) -> &'static str {
    match rec.status(now()) {
        KeyStatus::Active => "active",
        KeyStatus::Inactive => "inactive",
        KeyStatus::Deleted | KeyStatus::All => "deleted",
    }
}

/// A record as the API shows it: the registry's fields plus `status` (`active`,
/// `inactive`, `deleted`). Never a secret nor a digest.
#[derive(serde::Serialize)]
pub struct RecordOut<'a> {
    #[serde(flatten)]
    record: &'a KeyRecord,
    status: &'static str,
}

impl<'a> RecordOut<'a> {
    pub fn new(record: &'a KeyRecord) -> RecordOut<'a> {
        RecordOut {
            record,
            status: status_str(record),
        }
    }
}

/// A record as a JSON value (see [`RecordOut`]).
pub fn record_json(rec: &KeyRecord) -> Value {
    serde_json::to_value(RecordOut::new(rec)).unwrap_or(Value::Null)
}

fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// A record answer with its version as ETag; with `secret`, the new key is included
/// (shown once) and the answer must not be cached.
pub fn record_response(
    status: StatusCode,
    rec: &KeyRecord,
    secret: Option<&keyseal::ApiKey>,
) -> Response {
    let mut body = record_json(rec);
    if let (Some(key), Value::Object(m)) = (secret, &mut body)
        && let Value::Object(s) = secret_fields(key)
    {
        m.extend(s);
    }
    let mut resp = (status, Json(body)).into_response();
    let h = resp.headers_mut();
    h.insert(header::ETAG, etag(rec.version));
    if secret.is_some() {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// The new key shown once: the full key (`secret`, as the named-keys flow of
/// docs/compat.md shows it), and its halves for clients that send `accessKey` +
/// `secretKey` (the access-key/secret-key flow).
pub fn secret_fields(key: &keyseal::ApiKey) -> Value {
    json!({
        "secret": key.expose(),
        "access_key": key.prefixed_id(),
        "secret_key": key.expose_secret_with_checksum(),
    })
}
