//! The keys of an account: `/v1/accounts/{account}/keys[/{id}[/enable|/disable|/roll]]`.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use keyseal::ErrorCode;
use keyseal_registry::meter::{CreditSpec, LimitSpec};
use keyseal_registry::{KeyPatch, KeyRecord, KeyStatus, ListQuery, NewKey};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::Arc;

use super::body::{RawBody, nullable, parse_json, parse_json_or_default};
use super::extract::{KeyId, Reader, Writer, required_if_match};
use super::paging::ListRequest;
use super::record::{record_json, record_response};
use super::state::{ApiResult, AppState, St};
use crate::error::ApiError;

/// The routes of this module.
pub fn router() -> Router<Arc<AppState>> {
    let key = "/v1/accounts/{account}/keys/{id}";
    Router::new()
        .route(
            "/v1/accounts/{account}/keys",
            post(create_key).get(list_keys),
        )
        .route(
            key,
            get(get_key)
                .patch(patch_key)
                .put(put_key)
                .delete(delete_key),
        )
        .route(&format!("{key}/enable"), post(toggle_key::<true>))
        .route(&format!("{key}/disable"), post(toggle_key::<false>))
        .route(&format!("{key}/roll"), post(roll_key))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    #[serde(default)]
    description: Option<String>,
    /// The company-keys flow (docs/compat.md) calls it `userId`.
    #[serde(default, alias = "userId")]
    owner: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    /// The scoped-keys flow (docs/compat.md) calls it `isReadAccessOnly`.
    #[serde(default, alias = "isReadAccessOnly")]
    read_only: Option<bool>,
    /// The company-keys flow calls it `whitelistedIPs`.
    #[serde(default, alias = "whitelistedIPs")]
    allowed_ips: Option<Vec<String>>,
    #[serde(default)]
    expires_at: Option<i64>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
    #[serde(default)]
    limits: Option<Vec<LimitSpec>>,
    #[serde(default)]
    credits: Option<CreditSpec>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    owner: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    role: Option<Option<String>>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    read_only: Option<bool>,
    #[serde(default)]
    allowed_ips: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    expires_at: Option<Option<i64>>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
    #[serde(default)]
    limits: Option<Vec<LimitSpec>>,
    #[serde(default, deserialize_with = "nullable")]
    credits: Option<Option<CreditSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnabledBody {
    enabled: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RollBody {
    #[serde(default)]
    grace_seconds: i64,
}

async fn create_key(State(st): St, m: Writer, RawBody(body): RawBody) -> ApiResult {
    let b: CreateBody = parse_json(&body)?;
    let new = NewKey {
        account: m.account.clone(),
        name: b.name,
        description: b.description.unwrap_or_default(),
        owner: b.owner,
        role: b.role,
        scopes: b.scopes.unwrap_or_default(),
        read_only: b.read_only.unwrap_or(false),
        allowed_ips: b.allowed_ips.unwrap_or_default(),
        disabled: !b.enabled.unwrap_or(true),
        expires_at: b.expires_at,
        metadata: b.metadata.unwrap_or_default(),
        limits: b.limits.unwrap_or_default(),
        credits: b.credits,
    };
    let created = m
        .run(&st, move |reg, _, actor| reg.create(&new, actor))
        .await?;
    tracing::info!(key_id = %created.record.id, account = %m.account, by = %m.caller.id, "key created");
    let mut resp = record_response(StatusCode::CREATED, &created.record, Some(&created.key));
    if let Ok(loc) = HeaderValue::from_str(&format!(
        "/v1/accounts/{}/keys/{}",
        m.account, created.record.id
    )) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(m.answer(resp))
}

async fn list_keys(State(st): St, m: Reader, RawQuery(raw): RawQuery) -> ApiResult {
    let mut q = ListQuery::default();
    let req = ListRequest::parse(raw.as_deref(), &["status", "owner", "role"], |k, v| {
        match k {
            "status" => {
                q.status = match v {
                    "active" => KeyStatus::Active,
                    "inactive" => KeyStatus::Inactive,
                    "deleted" => KeyStatus::Deleted,
                    "all" => KeyStatus::All,
                    _ => {
                        return Err(ApiError::bad_request(
                            "invalid argument: status must be active, inactive, deleted or all",
                        ));
                    }
                };
            }
            "owner" => q.owner = Some(v.to_owned()),
            _ => q.role = Some(v.to_owned()),
        }
        Ok(())
    })?;
    (q.limit, q.starting_after, q.ending_before, q.offset) = req.cursor();
    let page = m.run(&st, move |reg, acct, _| reg.list(acct, &q)).await?;
    let base = format!("/v1/accounts/{}/keys", m.account);
    Ok(m.answer(Json(req.envelope(page, &base, record_json)).into_response()))
}

async fn get_key(State(st): St, m: Reader, KeyId { id, .. }: KeyId) -> ApiResult {
    let rec = m
        .run(&st, move |reg, acct, _| {
            let id = reg.resolve_key(acct, &id)?;
            let mut rec = reg.get(acct, &id)?;
            // The balance is not part of the record's rule: read it for this answer.
            if let Some(c) = rec.credits.as_mut() {
                c.remaining = reg.credit_balance(acct, &id)?;
            }
            Ok(rec)
        })
        .await?;
    Ok(m.answer(record_response(StatusCode::OK, &rec, None)))
}

async fn patch_key(State(st): St, m: Writer, key: KeyId, RawBody(body): RawBody) -> ApiResult {
    let b: PatchBody = parse_json(&body)?;
    let version = required_if_match(key.if_match()?, "the version you read")?;
    let patch = KeyPatch {
        expected_version: version,
        name: b.name,
        description: b.description,
        owner: b.owner,
        role: b.role,
        scopes: b.scopes,
        read_only: b.read_only,
        allowed_ips: b.allowed_ips,
        enabled: b.enabled,
        expires_at: b.expires_at,
        metadata: b.metadata,
        limits: b.limits,
        credits: b.credits,
    };
    let id = key.id;
    let rec = m
        .run(&st, move |reg, acct, actor| {
            reg.update(acct, &reg.resolve_key(acct, &id)?, &patch, actor)
        })
        .await?;
    tracing::info!(key_id = %rec.id, version = rec.version, by = %m.caller.id, "key updated");
    Ok(m.answer(record_response(StatusCode::OK, &rec, None)))
}

/// Sets `enabled`, at the If-Match version when given, else at the current version
/// (retrying a few times if someone else writes in between), and answers the record.
async fn set_enabled(st: &Arc<AppState>, m: &Writer, key: KeyId, enabled: bool) -> ApiResult {
    let expected = key.if_match()?;
    let id = key.id;
    let rec: KeyRecord = m
        .run(st, move |reg, account, actor| {
            let id = reg.resolve_key(account, &id)?;
            let mut attempts = 0;
            loop {
                let version = match expected {
                    Some(v) => v,
                    None => reg.get(account, &id)?.version,
                };
                let r = if enabled {
                    reg.enable(account, &id, version, actor)
                } else {
                    reg.disable(account, &id, version, actor)
                };
                match r {
                    Err(e)
                        if expected.is_none()
                            && e.error_code() == ErrorCode::VersionConflict
                            && attempts < 5 =>
                    {
                        attempts += 1;
                    }
                    r => return r,
                }
            }
        })
        .await?;
    tracing::info!(key_id = %rec.id, enabled, by = %m.caller.id, "key enabled flag set");
    Ok(m.answer(record_response(StatusCode::OK, &rec, None)))
}

/// The named-keys flow (docs/compat.md): `PUT .../api-keys/{key}` with
/// `{"enabled": false}`.
async fn put_key(State(st): St, m: Writer, key: KeyId, RawBody(body): RawBody) -> ApiResult {
    let b: EnabledBody = parse_json(&body)?;
    set_enabled(&st, &m, key, b.enabled).await
}

/// `POST .../enable` (`ENABLED`) and `.../disable`: an update of `enabled` with the
/// caller's If-Match.
async fn toggle_key<const ENABLED: bool>(State(st): St, m: Writer, key: KeyId) -> ApiResult {
    set_enabled(&st, &m, key, ENABLED).await
}

async fn delete_key(State(st): St, m: Writer, key: KeyId) -> ApiResult {
    let expected = key.if_match()?;
    let id = key.id;
    let rec = m
        .run(&st, move |reg, acct, actor| {
            reg.delete(acct, &reg.resolve_key(acct, &id)?, expected, actor)
        })
        .await?;
    tracing::info!(key_id = %rec.id, by = %m.caller.id, "key deleted");
    Ok(m.answer(StatusCode::NO_CONTENT.into_response()))
}

async fn roll_key(State(st): St, m: Writer, key: KeyId, RawBody(body): RawBody) -> ApiResult {
    let b: RollBody = parse_json_or_default(&body)?;
    let expected = key.if_match()?;
    let id = key.id;
    let rolled = m
        .run(&st, move |reg, acct, actor| {
            let id = reg.resolve_key(acct, &id)?;
            reg.roll(acct, &id, b.grace_seconds, expected, actor)
        })
        .await?;
    tracing::info!(key_id = %rolled.record.id, by = %m.caller.id, "key rolled");
    Ok(m.answer(record_response(
        StatusCode::OK,
        &rolled.record,
        Some(&rolled.key),
    )))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;

    #[test]
    fn json_errors_never_echo_input() {
        let secret = "ks_0123456789abcdef_SECRETSECRETSECRET";
        let body = format!(r#"{{"name": {secret}}}"#);
        let e = parse_json::<CreateBody>(body.as_bytes())
            .err()
            .expect("error");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(!e.message.contains("SECRET"), "{}", e.message);
        let body = format!(r#"{{"name": "x", "{secret}": 1}}"#);
        let e = parse_json::<CreateBody>(body.as_bytes())
            .err()
            .expect("error");
        assert!(!e.message.contains("SECRET"), "{}", e.message);
    }
}
