//! Metering a caller manages: an owner's shared limits and credits
//! (`/v1/accounts/{account}/owners/{owner}/meter`), and adding credits to a key or an owner
//! (`.../keys/{id}/credits`, `.../owners/{owner}/credits`). A key's own limits and credits
//! are fields of the key (`limits`, `credits`), changed with PATCH like the others.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use keyseal_registry::meter::{CreditSpec, LimitSpec, OwnerMeter, OwnerMeterPatch};
use serde::Deserialize;
use serde_json::json;

use super::body::{RawBody, nullable, parse_json};
use super::extract::{KeyId, OwnerPath, Reader, Writer, required_if_match};
use super::state::{ApiResult, AppState, St};
use axum::extract::State;

/// The routes of this module.
pub fn router() -> Router<Arc<AppState>> {
    let owner = "/v1/accounts/{account}/owners/{owner}";
    Router::new()
        .route(&format!("{owner}/meter"), get(get_owner).patch(patch_owner))
        .route(&format!("{owner}/credits"), post(add_owner_credits))
        .route(
            "/v1/accounts/{account}/keys/{id}/credits",
            post(add_key_credits),
        )
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct OwnerBody {
    #[serde(default)]
    limits: Option<Vec<LimitSpec>>,
    #[serde(default, deserialize_with = "nullable")]
    credits: Option<Option<CreditSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddBody {
    add: u64,
}

fn owner_response(m: &OwnerMeter) -> Response {
    let mut resp = Json(m).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", m.version)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

async fn get_owner(State(st): St, m: Reader, o: OwnerPath) -> ApiResult {
    let owner = o.owner;
    let got = m
        .run(&st, move |reg, acct, _| reg.owner_meter(acct, &owner))
        .await?;
    Ok(m.answer(owner_response(&got)))
}

async fn patch_owner(State(st): St, m: Writer, o: OwnerPath, RawBody(body): RawBody) -> ApiResult {
    let b: OwnerBody = parse_json(&body)?;
    let version = required_if_match(
        o.if_match()?,
        "the version you read; 0 for an owner never set",
    )?;
    let patch = OwnerMeterPatch {
        expected_version: version,
        limits: b.limits,
        credits: b.credits,
    };
    let owner = o.owner;
    let got = m
        .run(&st, move |reg, acct, actor| {
            reg.update_owner_meter(acct, &owner, &patch, actor)
        })
        .await?;
    tracing::info!(version = got.version, by = %m.caller.id, "owner metering updated");
    Ok(m.answer(owner_response(&got)))
}

async fn add_owner_credits(
    State(st): St,
    m: Writer,
    o: OwnerPath,
    RawBody(body): RawBody,
) -> ApiResult {
    let b: AddBody = parse_json(&body)?;
    let owner = o.owner;
    let remaining = m
        .run(&st, move |reg, acct, actor| {
            reg.add_owner_credits(acct, &owner, b.add, actor)
        })
        .await?;
    Ok(m.answer((StatusCode::OK, Json(json!({ "remaining": remaining }))).into_response()))
}

async fn add_key_credits(
    State(st): St,
    m: Writer,
    key: KeyId,
    RawBody(body): RawBody,
) -> ApiResult {
    let b: AddBody = parse_json(&body)?;
    let id = key.id;
    let remaining = m
        .run(&st, move |reg, acct, actor| {
            reg.add_credits(acct, &reg.resolve_key(acct, &id)?, b.add, actor)
        })
        .await?;
    Ok(m.answer((StatusCode::OK, Json(json!({ "remaining": remaining }))).into_response()))
}
