//! Key verification for services: `POST /v1/verify` answers whether a key may make a
//! request (`valid`, `code`, the key's record), counted in the verify metrics.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use keyseal::{ErrorCode, RequestContext};
use keyseal_registry::Registry;
use keyseal_registry::meter::{MeterReport, MeterRequest};
use serde::Deserialize;

use super::body::{PublicBody, parse_json};
use super::extract::CallerId;
use super::ratelimit;
use super::record::RecordOut;
use super::state::{ApiResult, AppState, St, now, now_ms, on_verify_path};
use crate::error::ApiError;

/// Most scopes or roles a verify request may require.
const MAX_REQUIRED: usize = 64;

/// The routes of this module.
pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/v1/verify", post(verify))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    key: String,
    #[serde(default)]
    client_ip: Option<String>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    required_scopes: Vec<String>,
    #[serde(default)]
    allowed_roles: Vec<String>,
    /// Units of cost for the key's limits and credits. Defaults to 1.
    #[serde(default)]
    cost: Option<u64>,
    /// The names of the key's limits to apply. Defaults to all of them.
    #[serde(default)]
    limits: Option<Vec<String>>,
    /// Answer without spending. Defaults to false.
    #[serde(default)]
    dry_run: bool,
}

fn valid_method(m: &str) -> bool {
    // RFC 9110 section 9.1: a method is a token; keep it short.
    !m.is_empty() && m.len() <= 16 && m.bytes().all(|b| b.is_ascii_alphabetic())
}

async fn verify(State(st): St, PublicBody(body): PublicBody) -> ApiResult {
    let b: VerifyBody = parse_json(&body)?;
    let ip = match &b.client_ip {
        Some(s) => Some(keyseal::policy::parse_ip(s).map_err(|e| ApiError::from_op(&e))?),
        None => None,
    };
    if let Some(m) = &b.method
        && !valid_method(m)
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidArgument,
            "invalid argument: method must be 1-16 ascii letters, e.g. GET",
        ));
    }
    if b.required_scopes.len() > MAX_REQUIRED || b.allowed_roles.len() > MAX_REQUIRED {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidArgument,
            "invalid argument: at most 64 required scopes and 64 allowed roles",
        ));
    }
    if b.cost.is_some_and(|c| c > keyseal::meter::MAX_AMOUNT)
        || b.limits
            .as_ref()
            .is_some_and(|l| l.len() > keyseal_registry::meter::MAX_LIMITS)
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidArgument,
            "invalid argument: cost is an integer from 0 to 2^53-1 and limits names at most 8 limits",
        ));
    }
    let meter = MeterRequest {
        cost: b.cost.unwrap_or(1),
        limits: b.limits.clone(),
        dry_run: b.dry_run,
    };
    let started = Instant::now();
    let run = move |reg: &Registry, io: bool| {
        let scopes: Vec<&str> = b.required_scopes.iter().map(String::as_str).collect();
        let roles: Vec<&str> = b.allowed_roles.iter().map(String::as_str).collect();
        let ctx = RequestContext {
            now: now(),
            client_ip: ip,
            method: b.method.as_deref(),
            required_scopes: &scopes,
            allowed_roles: &roles,
        };
        if io {
            Some(reg.verify_metered(&b.key, &ctx, &meter))
        } else {
            reg.verify_metered_cached(&b.key, &ctx, &meter)
        }
    };
    let out = on_verify_path(&st, run).await?;
    let mut report = None;
    let (code, message, record) = match out {
        Ok(v) => {
            report = v.meter;
            match &v.decision {
                Ok(()) => ("ok", None, Some(v.record)),
                Err(e) => (e.code(), Some(e.to_string()), Some(v.record)),
            }
        }
        Err(e) if e.error_code() == ErrorCode::StorageUnavailable => {
            st.metrics.verify(e.code(), started.elapsed());
            return Err(ApiError::from_op(&e));
        }
        Err(e)
            if matches!(
                e.family(),
                keyseal::ErrorFamily::Internal | keyseal::ErrorFamily::Config
            ) =>
        {
            return Err(ApiError::from_op(&e));
        }
        Err(e) if e.error_code() == ErrorCode::InvalidArgument => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidArgument,
                format!("invalid argument: {e}"),
            ));
        }
        Err(e) => (e.code(), Some(e.to_string()), None),
    };
    st.metrics.verify(code, started.elapsed());
    #[derive(serde::Serialize)]
    struct VerifyOut<'a> {
        valid: bool,
        code: &'a str,
        message: Option<String>,
        key: Option<RecordOut<'a>>,
        meter: Option<&'a MeterReport>,
    }
    let mut resp = Json(VerifyOut {
        valid: code == "ok",
        code,
        message,
        key: record.as_deref().map(RecordOut::new),
        meter: report.as_ref(),
    })
    .into_response();
    if let Some(m) = &report {
        ratelimit::apply(&mut resp, m, code, now_ms());
    }
    if let Some(r) = record {
        resp.extensions_mut().insert(CallerId(r.id.clone()));
    }
    Ok(resp)
}
