//! HTTP errors: `{"error": {"code", "message"}}` with one of the core's stable codes and
//! the status that fits it. Messages come from `keyseal::Error`'s `Display` (which never
//! holds a secret nor echoes input) or are fixed text written here.
//!
//! The code -> status table is here and only here ([`credential_status`],
//! [`operation_status`], [`WWW_AUTHENTICATE`]); [`status_table`] publishes it as
//! `server/errors.json`, which the npm helpers' and the Python example's tests read.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyseal::{Error, ErrorCode, ErrorFamily};
use serde_json::json;

/// The `WWW-Authenticate` value of every 401 answer (RFC 6750 section 3): the same in the
/// server, the npm helpers and the Python example.
pub const WWW_AUTHENTICATE: &str = "Bearer error=\"invalid_token\"";

/// The status of an error about a presented credential (the caller's key or token): 401
/// when the credential is missing, malformed or unknown, or the key cannot be used at all
/// (revoked, disabled, expired); 403 when a valid key is not allowed this request; 503
/// when the key store is unavailable; 429 when a limit or the credits refuse (RFC 6585
/// section 4, with `Retry-After`); 500 for configuration and internal failures.
pub fn credential_status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::StorageUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::RateLimited | ErrorCode::UsageExceeded => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::IpNotAllowed
        | ErrorCode::ReadOnlyKey
        | ErrorCode::InsufficientScope
        | ErrorCode::RoleNotAllowed
        | ErrorCode::PermissionDenied => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::UNAUTHORIZED,
        _ => match code.family() {
            ErrorFamily::Config | ErrorFamily::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNAUTHORIZED,
        },
    }
}

/// The status of an error from a registry operation on the values a caller sent (key
/// fields, versions, paging): field values that do not parse are 422, conflicts 409 and
/// 412, paging 400.
pub fn operation_status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::VersionConflict => StatusCode::PRECONDITION_FAILED,
        ErrorCode::NameConflict => StatusCode::CONFLICT,
        ErrorCode::InvalidCursor | ErrorCode::InvalidLimit => StatusCode::BAD_REQUEST,
        ErrorCode::InvalidName | ErrorCode::InvalidMetadata | ErrorCode::InvalidArgument => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        ErrorCode::PermissionDenied => StatusCode::FORBIDDEN,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::StorageUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::RateLimited | ErrorCode::UsageExceeded => StatusCode::TOO_MANY_REQUESTS,
        _ => match code.family() {
            // Field values that do not parse: scopes, CIDRs.
            ErrorFamily::Malformed => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorFamily::Policy => StatusCode::FORBIDDEN,
            ErrorFamily::Credential | ErrorFamily::Signature => StatusCode::UNAUTHORIZED,
            ErrorFamily::Time | ErrorFamily::Claims => StatusCode::UNAUTHORIZED,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        },
    }
}

/// The table as published in `server/errors.json`: the `WWW-Authenticate` value, and for
/// every code of the core its family, its [`credential_status`] (what an HTTP helper that
/// authenticates requests answers) and its [`operation_status`]. Written (and checked
/// fresh) by this file's tests.
#[cfg(test)]
pub fn status_table() -> serde_json::Value {
    let codes: Vec<serde_json::Value> = ErrorCode::ALL
        .iter()
        .map(|c| {
            json!({
                "code": c.as_str(),
                "family": c.family().as_str(),
                "credential_status": credential_status(*c).as_u16(),
                "operation_status": operation_status(*c).as_u16(),
            })
        })
        .collect();
    json!({
        "about": "HTTP status of each keyseal error code, generated from server/src/error.rs \
                  (cargo test -p keyseal-server status_table; KEYSEAL_WRITE_ERRORS=1 rewrites it). \
                  credential_status: an error about a presented key or token (what HTTP \
                  helpers answer); operation_status: an error about values sent to a \
                  management call. Every 401 carries www_authenticate.",
        "www_authenticate": WWW_AUTHENTICATE,
        "codes": codes,
    })
}

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// A stable code from `keyseal::ErrorCode` (plus `method_not_allowed` for routing).
    pub code: &'static str,
    /// One line, no secrets.
    pub message: String,
}

impl ApiError {
    /// An error with a fixed message.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.as_str(),
            message: message.into(),
        }
    }

    /// 400 `invalid_argument`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidArgument, message)
    }

    /// 404 `not_found`: the same answer whether the key does not exist or belongs to
    /// another account, so ids do not leak.
    pub fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "not found: no key with this id or name in this account",
        )
    }

    /// An error from a registry operation (create, get, list, update, ...).
    pub fn from_op(e: &Error) -> ApiError {
        ApiError::with_status(operation_status(e.error_code()), e)
    }

    /// An error authenticating the caller's credential (see [`credential_status`]).
    pub fn from_auth(e: &Error) -> ApiError {
        let code = e.error_code();
        let status = credential_status(code);
        if code == ErrorCode::NotFound {
            // "no key with this id" for a presented credential: unauthenticated.
            return ApiError {
                status,
                code: code.as_str(),
                message: "not found: the presented api key is unknown".to_owned(),
            };
        }
        ApiError::with_status(status, e)
    }

    fn with_status(status: StatusCode, e: &Error) -> ApiError {
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            // Internal details go to the log (they are fixed text), not to the client.
            tracing::error!(code = e.code(), detail = %e, "internal error");
            return ApiError {
                status,
                code: ErrorCode::Internal.as_str(),
                message: "internal error".to_owned(),
            };
        }
        ApiError {
            status,
            code: e.code(),
            message: e.to_string(),
        }
    }

    /// 503 `storage_unavailable` when too many requests already wait for the database.
    pub fn busy() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::StorageUnavailable,
            "storage unavailable: too many key lookups are waiting for the database; retry later",
        )
    }

    /// 500 `internal` for failures of the server itself (a panicked blocking task).
    pub fn internal(detail: &'static str) -> ApiError {
        tracing::error!(detail, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "internal error",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut resp = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(WWW_AUTHENTICATE),
            );
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;

    /// `server/errors.json` is the table of this file; `KEYSEAL_WRITE_ERRORS=1` rewrites
    /// it after a change here.
    #[test]
    fn status_table_is_published() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("errors.json");
        let want = format!(
            "{}\n",
            serde_json::to_string_pretty(&status_table()).expect("json")
        );
        if std::env::var_os("KEYSEAL_WRITE_ERRORS").is_some() {
            std::fs::write(&path, &want).expect("write server/errors.json");
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "server/errors.json is stale: run KEYSEAL_WRITE_ERRORS=1 cargo test -p keyseal-server status_table"
        );
    }
}
