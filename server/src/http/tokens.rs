//! Exchange tokens: `POST /v1/token` (and its alias `/v1/apikey/authenticate`) trades an
//! API key for a short-lived token, `POST /v1/tokens/verify` checks one, and
//! `GET /v1/whoami` tells a caller which key or token it presented.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use keyseal::{Credential, Error, ErrorCode, RequestContext, extract_credential};
use keyseal_registry::meter::MeterRequest;
use keyseal_registry::{Registry, TokenCheck};
use serde::Deserialize;
use serde_json::{Value, json};

use super::body::{PublicBody, parse_json};
use super::extract::{CallerId, authenticate_key, client_ip, header_pairs, with_caller};
use super::ratelimit;
use super::record::record_json;
use super::state::{ApiResult, AppState, St, now, now_ms, on_verify_path};
use crate::error::ApiError;

/// The routes of this module.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/token", post(exchange))
        .route("/v1/apikey/authenticate", post(exchange))
        .route("/v1/tokens/verify", post(token_verify))
        .route("/v1/whoami", get(whoami))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ExchangeBody {
    /// The key-for-token flow (docs/compat.md): `{"value": "<key>"}`.
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenVerifyBody {
    token: String,
    /// The account (tenant) the caller serves: a token bound to another account is
    /// refused with `invalid_claim`. Every consuming service should send it (or compare
    /// the answer's `account` itself).
    #[serde(default)]
    account: Option<String>,
}

/// Token exchange (the key-for-token flow of docs/compat.md): the API key in `x-api-key`, `Authorization: Bearer`,
/// `accessKey` + `secretKey`, or the JSON body `{"value": "<key>"}`.
async fn exchange(
    State(st): St,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    PublicBody(body): PublicBody,
) -> ApiResult {
    let meter = meter_query(query.as_deref())?;
    let from_headers = {
        let pairs = header_pairs(&headers);
        match extract_credential(pairs) {
            Ok(Credential::Token(_)) => {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::MalformedKey,
                    "malformed api key: expected an api key to exchange, found a token",
                ));
            }
            Ok(c) => c.key(),
            Err(Error::MissingCredential) => None,
            Err(e) => return Err(ApiError::from_auth(&e)),
        }
    };
    let has_body = !body.iter().all(u8::is_ascii_whitespace);
    let key = match (from_headers, has_body) {
        (Some(_), true) => return Err(ApiError::from_auth(&Error::AmbiguousCredential)),
        (Some(k), false) => k,
        (None, true) => zeroize::Zeroizing::new(parse_json::<ExchangeBody>(&body)?.value),
        (None, false) => return Err(ApiError::from_auth(&Error::MissingCredential)),
    };
    let ip = client_ip(&peer);
    let t = now();
    let run = move |reg: &Registry, io: bool| {
        let mut ctx = RequestContext::at(t);
        ctx.client_ip = Some(ip);
        // A read-only key cannot be exchanged: tokens carry no read-only claim, so the
        // token would outgrow its key (the scoped-keys flow).
        ctx.method = Some("POST");
        if io {
            Some(reg.exchange_metered(&key, &ctx, None, &meter))
        } else {
            reg.exchange_metered_cached(&key, &ctx, None, &meter)
        }
    };
    let out = on_verify_path(&st, run).await?;
    match out {
        Ok(Err(refused)) => {
            let e = match refused.decision {
                Err(e) => e,
                Ok(()) => Error::Internal {
                    detail: "an exchange refused by a verification that allowed it",
                },
            };
            st.metrics.exchange(e.code());
            let mut resp = ApiError::from_auth(&e).into_response();
            if let Some(m) = &refused.meter {
                ratelimit::apply(&mut resp, m, e.code(), now_ms());
            }
            Ok(resp)
        }
        Ok(Ok(tok)) => {
            st.metrics.exchange("ok");
            let mut resp = Json(json!({
                "token": tok.token,
                "token_type": "Bearer",
                "expires_in": tok.expires_at.saturating_sub(t),
            }))
            .into_response();
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp.extensions_mut()
                .insert(CallerId(tok.record.id.clone()));
            if let Some(m) = &tok.meter {
                ratelimit::apply(&mut resp, m, "ok", now_ms());
            }
            Ok(resp)
        }
        Err(e) => {
            st.metrics.exchange(e.code());
            Err(ApiError::from_auth(&e))
        }
    }
}

fn claims_json(c: &keyseal::Claims) -> Value {
    serde_json::to_value(c).unwrap_or(Value::Null)
}

/// Verifies an exchange token and the key behind it (see `Registry::verify_token`): from
/// memory when the key is cached, else on the blocking pool.
async fn check_token(st: &Arc<AppState>, token: String) -> ApiResult<Result<TokenCheck, Error>> {
    let t = now();
    on_verify_path(st, move |reg, io| {
        if io {
            Some(reg.verify_token(&token, t))
        } else {
            reg.verify_token_cached(&token, t)
        }
    })
    .await
}

/// Who is calling: an exchange token or an API key (the key-for-token flow's second
/// step, and the scoped-keys flow's "API key instead of the access token").
async fn whoami(
    State(st): St,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult {
    let token = {
        let pairs = header_pairs(&headers);
        match extract_credential(pairs).map_err(|e| ApiError::from_auth(&e))? {
            Credential::Token(t) => Some(t.to_owned()),
            _ => None,
        }
    };
    if let Some(t) = token {
        let checked = check_token(&st, t)
            .await?
            .map_err(|e| ApiError::from_auth(&e))?;
        let rec = &checked.record;
        let resp = Json(json!({
            "kind": "token",
            "key_id": rec.id,
            "account": rec.account,
            "claims": claims_json(&checked.token.claims),
        }))
        .into_response();
        return Ok(with_caller(resp, rec));
    }
    let rec = authenticate_key(&st, &headers, &peer).await?;
    if rec.read_only && !keyseal::policy::READ_ONLY_METHODS.contains(&method.as_str()) {
        return Err(ApiError::from_auth(&Error::ReadOnlyKey));
    }
    Ok(with_caller(
        Json(json!({
            "kind": "api_key",
            "key_id": rec.id,
            "account": rec.account,
            "key": record_json(&rec),
        }))
        .into_response(),
        &rec,
    ))
}

async fn token_verify(State(st): St, PublicBody(body): PublicBody) -> ApiResult {
    let b: TokenVerifyBody = parse_json(&body)?;
    let out = check_token(&st, b.token)
        .await?
        .and_then(|c| match &b.account {
            Some(a) if *a != c.record.account => Err(Error::InvalidClaim {
                claim: keyseal_registry::ACCOUNT_CLAIM,
                expected: "the account the caller serves",
            }),
            _ => Ok(c),
        });
    Ok(Json(match out {
        Ok(c) => json!({
            "valid": true,
            "code": "ok",
            "message": null,
            "account": c.record.account,
            "key_id": c.record.id,
            "claims": claims_json(&c.token.claims),
        }),
        Err(e) if e.error_code() == ErrorCode::StorageUnavailable => {
            return Err(ApiError::from_op(&e));
        }
        Err(e) => json!({
            "valid": false,
            "code": e.code(),
            "message": e.to_string(),
            "account": null,
            "key_id": null,
            "claims": null,
        }),
    })
    .into_response())
}

/// The metering of an exchange from its query: `cost` (default 1) and `limits` (names,
/// comma-separated; default all).
fn meter_query(query: Option<&str>) -> ApiResult<MeterRequest> {
    let mut m = MeterRequest::default();
    let bad = || {
        ApiError::bad_request(
            "invalid argument: the query takes cost (an integer from 0 to 2^53-1) and limits (names, comma-separated)",
        )
    };
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').ok_or_else(bad)?;
        match k {
            "cost" => {
                m.cost = v
                    .parse::<u64>()
                    .ok()
                    .filter(|c| *c <= keyseal::meter::MAX_AMOUNT)
                    .ok_or_else(bad)?;
            }
            "limits" => {
                let names: Vec<String> = v.split(',').map(str::to_owned).collect();
                if names.len() > keyseal_registry::meter::MAX_LIMITS * 2
                    || names.iter().any(|n| {
                        n.is_empty()
                            || !n
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                    })
                {
                    return Err(bad());
                }
                m.limits = Some(names);
            }
            _ => return Err(bad()),
        }
    }
    Ok(m)
}
