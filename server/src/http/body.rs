//! Request bodies: read only after the caller is authenticated ([`RawBody`]) or capped
//! small for public calls ([`PublicBody`]), and parsed as JSON without echoing input.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use http_body_util::BodyExt;
use keyseal::ErrorCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::state::{ApiResult, AppState};
use super::{MAX_BODY, MAX_PUBLIC_BODY};
use crate::error::ApiError;

/// Bodies the server reads and drops after answering without them (a 413, or a caller
/// refused from the request's head), at most: 1 MiB. A client still sending its body
/// then gets to read the answer and may send its next request on the connection: closing
/// a connection with unread data resets it, and a reset can destroy the answer before
/// the client reads it. A body declared larger is never read; the connection closes.
const DRAIN_MAX: usize = 1024 * 1024;

fn declared_len(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse::<u64>().ok())
}

/// Reads and drops what is left of `body` in the background: at most [`DRAIN_MAX`]
/// bytes in all (`already` counts what was read before), within `timeout`. Nothing is
/// kept in memory; the answer does not wait for it.
pub fn settle(headers: &HeaderMap, body: Body, already: usize, timeout: Duration) {
    if declared_len(headers).is_some_and(|n| n > DRAIN_MAX as u64) {
        return;
    }
    let mut body = body;
    tokio::spawn(async move {
        let _ = tokio::time::timeout(timeout, async {
            let mut seen = already;
            while let Some(Ok(frame)) = body.frame().await {
                seen += frame.data_ref().map_or(0, |d| d.len());
                if seen > DRAIN_MAX {
                    break;
                }
            }
        })
        .await;
    });
}

/// Reads a request body of at most `max` bytes within `timeout`; only those bytes are
/// kept. A body declared or found larger is refused with 413 `payload_too_large`, and
/// the rest of it is settled ([`settle`]).
async fn read_body(req: Request, max: usize, timeout: Duration) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            format!("payload too large: expected a body of at most {max} bytes"),
        )
    };
    let (parts, mut body) = req.into_parts();
    if declared_len(&parts.headers).is_some_and(|n| n > max as u64) {
        settle(&parts.headers, body, 0, timeout);
        return Err(too_large());
    }
    let mut buf: Vec<u8> = Vec::new();
    let read = tokio::time::timeout(timeout, async {
        while let Some(frame) = body.frame().await {
            // A body that breaks off counts as too large, as axum's `to_bytes` has it.
            let Some(data) = frame.map_err(|_| buf.len())?.into_data().ok() else {
                continue;
            };
            if buf.len() + data.len() > max {
                return Err(buf.len() + data.len());
            }
            buf.extend_from_slice(&data);
        }
        Ok(())
    })
    .await;
    match read {
        Ok(Ok(())) => Ok(Bytes::from(buf)),
        Ok(Err(seen)) => {
            settle(&parts.headers, body, seen, timeout);
            Err(too_large())
        }
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
        read_body(req, MAX_BODY, st.body_timeout).await.map(RawBody)
    }
}

/// The body of a request anyone may send (verify, token exchange, token verify): at
/// most [`MAX_PUBLIC_BODY`] bytes, and nothing more is kept in memory.
pub struct PublicBody(pub Bytes);

impl FromRequest<Arc<AppState>> for PublicBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, st: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        read_body(req, MAX_PUBLIC_BODY, st.body_timeout)
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
