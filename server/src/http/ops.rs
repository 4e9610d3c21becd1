//! Operations: `/healthz`, `/readyz`, `/metrics`, `/v1/openapi.json`, the answers for
//! unknown routes and methods, and the middleware that counts, times and logs every
//! request.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use keyseal::{Error, ErrorCode};
use serde_json::json;

use super::OPENAPI;
use super::extract::CallerId;
use super::state::{AppState, St, blocking};
use crate::error::ApiError;

/// The routes of this module.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/openapi.json", get(openapi))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

async fn readyz(State(st): St) -> Response {
    // A lookup of an id that cannot exist: `not_found` proves the database answers.
    let r = blocking(&st, |reg| reg.get("readyz", "0000000000000000").map(|_| ())).await;
    match r {
        Ok(Ok(()))
        | Ok(Err(Error::Registry {
            code: ErrorCode::NotFound,
            ..
        })) => Json(json!({"status": "ready"})).into_response(),
        Ok(Err(e)) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::StorageUnavailable,
            format!("not ready: {e}"),
        )
        .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn metrics(State(st): St) -> Response {
    let body = st.metrics.render(
        st.registry.cached_records(),
        st.registry.cache_memory_estimate(),
    );
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
        )],
        body,
    )
        .into_response()
}

async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
        .into_response()
}

pub async fn not_found_route() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        "not found: no such route (see /v1/openapi.json)",
    )
}

pub async fn method_not_allowed() -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: ErrorCode::InvalidArgument.as_str(),
        message: "invalid argument: this route does not accept this method".to_owned(),
    }
}

/// Counts, times and logs every request. Logs carry the route, status, latency and the
/// authenticated key's id: never a header value or a body.
pub async fn observe(State(st): St, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route: Arc<str> = Arc::from(
        req.extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", |p| p.as_str()),
    );
    // A panic in a handler answers 500 `internal` instead of dropping the connection.
    let resp =
        match futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(next.run(req)))
            .await
        {
            Ok(r) => r,
            Err(_) => ApiError::internal("a request handler panicked").into_response(),
        };
    let elapsed = started.elapsed();
    let status = resp.status().as_u16();
    st.metrics.request(&method, &route, status, elapsed);
    let key_id = resp.extensions().get::<CallerId>().map(|c| c.0.as_str());
    tracing::debug!(
        method = crate::metrics::method_label(&method),
        route = %route,
        status,
        micros = elapsed.as_micros() as u64,
        key_id = key_id.unwrap_or("-"),
        "request"
    );
    resp
}
