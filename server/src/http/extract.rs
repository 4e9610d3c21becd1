//! Who is calling, and on what: extractors a handler names in its arguments so that it
//! reads as its business rule alone. [`Manager`] authenticates and authorises the caller
//! of a management call before anything else of the request is looked at (in particular
//! before the body, [`super::body::RawBody`], is read); [`KeyId`] is the key named in the
//! path.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use keyseal::{Credential, Error, ErrorCode, RequestContext, extract_credential};
use keyseal_registry::{Actor, KeyRecord, Registry};

use super::OWNER_ROLE;
use super::state::{ApiResult, AppState, management_call, now, on_verify_path};
use crate::error::ApiError;

/// The id of the key that authenticated a request, for logs (never the secret).
#[derive(Clone)]
pub struct CallerId(pub String);

pub fn header_pairs(headers: &HeaderMap) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.to_str().unwrap_or("")))
        .collect()
}

pub fn client_ip(peer: &SocketAddr) -> IpAddr {
    peer.ip().to_canonical()
}

/// Authenticates the API key in `headers` (x-api-key, Bearer, accessKey + secretKey)
/// for a request with `method` from `peer`; the policy's read-only check is left to the
/// caller (so a read-only key of another account still gets 404, not 403).
pub async fn authenticate_key(
    st: &Arc<AppState>,
    headers: &HeaderMap,
    peer: &SocketAddr,
) -> ApiResult<Arc<KeyRecord>> {
    let key = {
        let pairs = header_pairs(headers);
        let cred = extract_credential(pairs).map_err(|e| ApiError::from_auth(&e))?;
        match cred {
            Credential::Token(_) => {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::MalformedKey,
                    "malformed api key: management calls need an api key, found a token",
                ));
            }
            c => c
                .key()
                .ok_or_else(|| ApiError::internal("a key credential had no key"))?,
        }
    };
    authenticate_secret(st, key, client_ip(peer)).await
}

/// Authenticates `key` (the full key, as presented) for a request from `ip`: the key must
/// verify and its policy allow a GET from `ip` (the read-only check is the caller's). The
/// console's sign-in form uses it as the API's management calls do.
pub async fn authenticate_secret(
    st: &Arc<AppState>,
    key: zeroize::Zeroizing<String>,
    ip: IpAddr,
) -> ApiResult<Arc<KeyRecord>> {
    let v = on_verify_path(st, move |reg, io| {
        let mut ctx = RequestContext::at(now());
        ctx.client_ip = Some(ip);
        // GET: the read-only check is done by `manager` after the account check.
        ctx.method = Some("GET");
        if io {
            Some(reg.verify(&key, &ctx))
        } else {
            reg.verify_cached(&key, &ctx)
        }
    })
    .await?
    .map_err(|e| ApiError::from_auth(&e))?;
    v.decision.map_err(|e| ApiError::from_auth(&e))?;
    Ok(v.record)
}

/// Authorises a management call on `account`: the caller's key must belong to it (else
/// 404), have the `account-owner` role (else 403 `permission_denied`), and not be
/// read-only when the call writes (else 403 `read_only_key`).
async fn manager(
    st: &Arc<AppState>,
    headers: &HeaderMap,
    peer: &SocketAddr,
    account: &str,
    write: bool,
) -> ApiResult<Arc<KeyRecord>> {
    let rec = authenticate_key(st, headers, peer).await?;
    if rec.account != account {
        return Err(ApiError::not_found());
    }
    if rec.role.as_deref() != Some(OWNER_ROLE) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::PermissionDenied,
            "permission denied: only account-owner keys manage an account's keys",
        ));
    }
    if write && rec.read_only {
        return Err(ApiError::from_auth(&Error::ReadOnlyKey));
    }
    Ok(rec)
}

/// The authenticated caller of a management call and the account in the path, put in
/// the request's extensions by [`authorize`].
#[derive(Clone)]
struct Caller {
    record: Arc<KeyRecord>,
    account: String,
}

/// The route layer of the management routes: authenticates and authorises the caller
/// from the request's head alone ([`manager`]; GET and HEAD read, every other method
/// writes), before the handler runs and before anything reads the body. A refused
/// request's body is settled ([`super::body::settle`]) while the answer goes out.
pub async fn authorize(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let write = !matches!(parts.method, Method::GET | Method::HEAD);
    let checked = async {
        let account = path_param(&mut parts, &st, "account").await?;
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0)
            .ok_or_else(|| ApiError::internal("a request without its peer address"))?;
        let record = manager(&st, &parts.headers, &peer, &account, write).await?;
        Ok::<_, ApiError>(Caller { record, account })
    }
    .await;
    match checked {
        Ok(caller) => {
            parts.extensions.insert(caller);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(e) => {
            super::body::settle(&parts.headers, body, 0, st.body_timeout);
            e.into_response()
        }
    }
}

/// The caller of a management call on the account named in the path: an enabled
/// `account-owner` key of that account, authorised by [`authorize`] before the handler
/// runs; with `WRITE`, not read-only. The body of a management call
/// ([`super::body::RawBody`]) is therefore only read once its caller is authenticated.
pub struct Manager<const WRITE: bool> {
    /// The caller's key.
    pub caller: Arc<KeyRecord>,
    /// The account in the path (the caller's own).
    pub account: String,
}

/// A caller that may read an account's keys and audit log.
pub type Reader = Manager<false>;
/// A caller that may also change them.
pub type Writer = Manager<true>;

impl<const WRITE: bool> FromRequestParts<Arc<AppState>> for Manager<WRITE> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        _st: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Caller {
            record: caller,
            account,
        } = parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::internal("a management route without its authorization layer")
        })?;
        // `authorize` decided by the method; a writing handler behind a reading method
        // would be a routing mistake, and still refuses read-only keys.
        if WRITE && caller.read_only {
            return Err(ApiError::from_auth(&Error::ReadOnlyKey));
        }
        Ok(Manager { caller, account })
    }
}

impl<const WRITE: bool> Manager<WRITE> {
    /// `resp`, marked with the caller's key id for the request log.
    pub fn answer(&self, resp: Response) -> Response {
        with_caller(resp, &self.caller)
    }

    /// Runs a registry operation on the caller's account, with the caller as the audit
    /// log's actor: `f(registry, account, actor)` (see [`management_call`]).
    pub async fn run<T, F>(&self, st: &Arc<AppState>, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Registry, &str, &Actor) -> Result<T, Error> + Send + 'static,
    {
        let (account, actor) = (self.account.clone(), Actor::key(&self.caller.id));
        management_call(st, move |reg| f(reg, &account, &actor)).await
    }
}

/// The key named in a key route's path (`{id}`: an id or a name, resolved by the
/// registry inside the call), and the version the caller expects it at (`If-Match`),
/// parsed only when the handler asks ([`KeyId::if_match`]), after its body.
pub struct KeyId {
    /// The `{id}` path segment.
    pub id: String,
    /// The request's `If-Match` header, alone.
    if_match: HeaderMap,
}

impl KeyId {
    /// The `If-Match` version, `None` when absent (see [`if_match`]).
    pub fn if_match(&self) -> ApiResult<Option<u64>> {
        if_match(&self.if_match)
    }
}

impl FromRequestParts<Arc<AppState>> for KeyId {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        st: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let id = path_param(parts, st, "id").await?;
        let mut only = HeaderMap::new();
        if let Some(v) = parts.headers.get(header::IF_MATCH) {
            only.insert(header::IF_MATCH, v.clone());
        }
        Ok(KeyId { id, if_match: only })
    }
}

/// The `{owner}` of an owner route, and its `If-Match`.
pub struct OwnerPath {
    /// The `{owner}` path segment (a key's `owner` value).
    pub owner: String,
    if_match: HeaderMap,
}

impl OwnerPath {
    /// The `If-Match` version, if sent.
    pub fn if_match(&self) -> ApiResult<Option<u64>> {
        if_match(&self.if_match)
    }
}

impl FromRequestParts<Arc<AppState>> for OwnerPath {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        st: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let owner = path_param(parts, st, "owner").await?;
        let mut only = HeaderMap::new();
        if let Some(v) = parts.headers.get(header::IF_MATCH) {
            only.insert(header::IF_MATCH, v.clone());
        }
        Ok(OwnerPath {
            owner,
            if_match: only,
        })
    }
}

/// A parameter of the matched route's path, with a JSON error when the path does not
/// decode.
async fn path_param(parts: &mut Parts, st: &Arc<AppState>, name: &str) -> ApiResult<String> {
    let Path(mut params) = Path::<HashMap<String, String>>::from_request_parts(parts, st)
        .await
        .map_err(path_err)?;
    params
        .remove(name)
        .ok_or_else(|| ApiError::internal("a route without the path parameter its handler names"))
}

/// `resp`, marked with the id of the key that authenticated it (for the request log).
pub fn with_caller(mut resp: Response, caller: &KeyRecord) -> Response {
    resp.extensions_mut().insert(CallerId(caller.id.clone()));
    resp
}

/// The `If-Match` version a PATCH must send: 400 naming `what` to send when absent.
pub fn required_if_match(version: Option<u64>, what: &'static str) -> ApiResult<u64> {
    version.ok_or_else(|| {
        ApiError::bad_request(format!(
            "invalid argument: PATCH needs If-Match: <version> ({what})"
        ))
    })
}

/// `If-Match: 3`, `"3"` or `W/"3"`. `None` when absent.
pub fn if_match(headers: &HeaderMap) -> ApiResult<Option<u64>> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::bad_request("invalid argument: expected If-Match: <version> (a positive integer)")
    };
    let s = v.to_str().map_err(|_| bad())?.trim();
    let s = s.strip_prefix("W/").unwrap_or(s);
    let s = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s);
    s.parse::<u64>().map(Some).map_err(|_| bad())
}

/// Path parameters, with a JSON error when they do not decode.
fn path_err(_: axum::extract::rejection::PathRejection) -> ApiError {
    ApiError::bad_request("invalid argument: a path parameter is not valid percent-encoded utf-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn if_match_forms() {
        let mut h = HeaderMap::new();
        assert_eq!(if_match(&h).ok(), Some(None));
        for (v, want) in [("3", 3), ("\"3\"", 3), ("W/\"12\"", 12), (" 7 ", 7)] {
            h.insert(header::IF_MATCH, HeaderValue::from_static(v));
            assert_eq!(if_match(&h).ok(), Some(Some(want)), "{v}");
        }
        for v in ["abc", "\"-1\"", "*", "99999999999999999999999"] {
            h.insert(header::IF_MATCH, HeaderValue::from_static(v));
            assert_eq!(
                if_match(&h).err().map(|e| e.code),
                Some("invalid_argument"),
                "{v}"
            );
        }
    }
}
