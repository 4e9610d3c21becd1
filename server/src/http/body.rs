//! Request bodies: read only after the caller is authenticated ([`RawBody`]) or capped
//! small for public calls ([`PublicBody`]), and parsed as JSON without echoing input.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use keyseal::ErrorCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::state::{ApiResult, AppState};
use super::{MAX_BODY, MAX_PUBLIC_BODY};
use crate::error::ApiError;

/// Bodies up to this size are read (and dropped) before a 413, so the client sees it.
const DRAIN_MAX: usize = 1024 * 1024;

/// Reads a request body of at most `max` bytes within `timeout`. A body declared or
/// found larger is refused with 413 `payload_too_large`; bodies up to `drain` bytes are
/// read (and dropped) first, so a client still writing its body gets to read the 413
/// instead of a reset.
async fn read_body(
    req: Request,
    max: usize,
    drain: usize,
    timeout: Duration,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            format!("payload too large: expected a body of at most {max} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse::<u64>().ok());
    if declared.is_some_and(|n| n > drain as u64) {
        return Err(too_large());
    }
    match tokio::time::timeout(timeout, axum::body::to_bytes(req.into_body(), drain)).await {
        Ok(Ok(b)) if b.len() <= max => Ok(b),
        Ok(Ok(_)) | Ok(Err(_)) => Err(too_large()),
        Err(_) => Err(ApiError::bad_request(
            "invalid argument: the request body did not arrive in time",
        )),
    }
}

/// The body of an authenticated request, at most [`MAX_BODY`] bytes (413
/// `payload_too_large` above). Handlers name it after their caller extractor
/// ([`super::extract::Manager`]), so a body is only read once its sender is
/// authenticated.
pub struct RawBody(pub Bytes);

impl FromRequest<Arc<AppState>> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, st: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        read_body(req, MAX_BODY, DRAIN_MAX, st.body_timeout)
            .await
            .map(RawBody)
    }
}

/// The body of a request anyone may send (verify, token exchange, token verify): at
/// most [`MAX_PUBLIC_BODY`] bytes, and nothing larger is read at all.
pub struct PublicBody(pub Bytes);

impl FromRequest<Arc<AppState>> for PublicBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, st: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        read_body(req, MAX_PUBLIC_BODY, MAX_PUBLIC_BODY, st.body_timeout)
            .await
            .map(PublicBody)
    }
}

/// Parses a JSON body. Messages give the position and the kind of problem, never the
/// input (it may be a key pasted into the wrong field).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "invalid argument: expected a json object body, found an empty body",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        use serde_json::error::Category;
        let what = match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => "malformed json (or invalid utf-8)",
            Category::Data => "a field is unknown, missing, of the wrong type or out of range",
        };
        ApiError::bad_request(format!(
            "invalid argument: {what} at line {} column {}",
            e.line(),
            e.column()
        ))
    })
}

/// Parses an optional JSON body: empty is the default value.
pub fn parse_json_or_default<T: DeserializeOwned + Default>(body: &[u8]) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse_json(body)
    }
}

/// `Some(None)` for an explicit `null`, `Some(Some(v))` for a value, `None` when absent.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
