//! The HTTP API under `/v1`, plus `/healthz`, `/readyz` and `/metrics`.
//!
//! Management calls (`/v1/accounts/{account}/...`) are authorised by keyseal keys
//! themselves: an enabled `account-owner` key manages its own account; other roles get
//! 403 `permission_denied`; read-only keys only read (403 `read_only_key` otherwise);
//! a key of another account gets 404 `not_found`, exactly as a missing key would, so ids
//! of other accounts never leak.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{
    ConnectInfo, FromRequest, FromRequestParts, MatchedPath, Path, RawQuery, Request, State,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use keyseal::{Credential, Error, ErrorCode, RequestContext, extract_credential};
use keyseal_registry::{
    Actor, AuditQuery, KeyPatch, KeyRecord, KeyStatus, ListQuery, NewKey, Page, Registry,
    TokenCheck,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::listen::Limits;
use crate::metrics::Metrics;
use tokio::sync::Semaphore;

/// Largest request body of an authenticated (management) call: 64 KiB (413
/// `payload_too_large` above).
pub const MAX_BODY: usize = 64 * 1024;
/// Largest request body of an unauthenticated call (verify, token exchange, token
/// verify): 16 KiB, room for a key and 64 scopes and roles of 100 characters each.
pub const MAX_PUBLIC_BODY: usize = 16 * 1024;
/// Bodies up to this size are read (and dropped) before a 413, so the client sees it.
const DRAIN_MAX: usize = 1024 * 1024;
/// The role that manages an account's keys.
pub const OWNER_ROLE: &str = "account-owner";
/// Most scopes or roles a verify request may require.
const MAX_REQUIRED: usize = 64;

/// The OpenAPI 3.1 document served at `/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Verify-path lookups that may wait for a [`AppState::lookup_slots`] slot at once; past
/// that a cache miss answers 503 `storage_unavailable` at once (with `Retry-After`)
/// instead of queueing without bound.
const MAX_LOOKUP_QUEUE: usize = 1024;

/// Shared server state.
pub struct AppState {
    /// The registry (blocking; called through `spawn_blocking`).
    pub registry: Arc<Registry>,
    /// Metrics.
    pub metrics: Metrics,
    /// Management calls running on the blocking pool at once, at most.
    pub blocking_slots: Semaphore,
    /// Verify-path database lookups (cache misses of verify, exchange, token checks and
    /// authentication) on the blocking pool at once, at most: the registry's own lookup
    /// gate, so a flood of unknown keys waits here, asynchronously, holding neither a
    /// thread nor a management slot, and management calls and cached verifications stay
    /// responsive.
    pub lookup_slots: Semaphore,
    /// Verify-path lookups waiting for a slot now (bounded by [`MAX_LOOKUP_QUEUE`]).
    lookup_waiting: AtomicUsize,
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
}

impl AppState {
    /// The state for `registry` with `management_slots` blocking slots for management
    /// calls and the connection `limits` of the listener.
    pub fn new(registry: Arc<Registry>, management_slots: usize, limits: &Limits) -> AppState {
        let lookups = registry.config().max_concurrent_lookups.max(1);
        AppState {
            registry,
            metrics: Metrics::default(),
            blocking_slots: Semaphore::new(management_slots.max(1)),
            lookup_slots: Semaphore::new(lookups),
            lookup_waiting: AtomicUsize::new(0),
            body_timeout: limits.body_timeout,
        }
    }
}

type St = State<Arc<AppState>>;
type ApiResult<T = Response> = Result<T, ApiError>;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Runs blocking registry work off the async threads, holding a slot of `slots`.
async fn blocking_in<T, F>(
    st: &Arc<AppState>,
    slots: &Semaphore,
    f: F,
) -> ApiResult<Result<T, Error>>
where
    T: Send + 'static,
    F: FnOnce(&Registry) -> Result<T, Error> + Send + 'static,
{
    // Bounded: more registry calls at once than the pool has connections only add
    // threads fighting for the CPU; the rest wait here, asynchronously.
    let _permit = slots
        .acquire()
        .await
        .map_err(|_| ApiError::internal("the blocking slots were closed"))?;
    let reg = Arc::clone(&st.registry);
    tokio::task::spawn_blocking(move || f(&reg))
        .await
        .map_err(|_| ApiError::internal("a blocking registry task failed"))
}

/// Runs a management call's blocking registry work (see [`AppState::blocking_slots`]).
async fn blocking<T, F>(st: &Arc<AppState>, f: F) -> ApiResult<Result<T, Error>>
where
    T: Send + 'static,
    F: FnOnce(&Registry) -> Result<T, Error> + Send + 'static,
{
    blocking_in(st, &st.blocking_slots, f).await
}

/// Counts a verify-path lookup waiting for its slot; refuses past [`MAX_LOOKUP_QUEUE`].
struct LookupTicket<'a>(&'a AtomicUsize);

impl<'a> LookupTicket<'a> {
    fn take(st: &'a AppState) -> ApiResult<LookupTicket<'a>> {
        if st.lookup_waiting.fetch_add(1, Ordering::AcqRel) >= MAX_LOOKUP_QUEUE {
            st.lookup_waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(ApiError::busy());
        }
        Ok(LookupTicket(&st.lookup_waiting))
    }
}

impl Drop for LookupTicket<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs a verify-path registry call (verify, exchange). `run(reg, false)` must answer
/// from the registry's memory alone (`verify_cached`, `exchange_cached`), so it runs on
/// this async thread; only when it returns `None` (a cache miss: the database is needed)
/// does `run(reg, true)` go to the blocking pool. Both backends: the PostgreSQL driver
/// never runs on a runtime thread this way.
async fn on_verify_path<T, F>(st: &Arc<AppState>, run: F) -> ApiResult<Result<T, Error>>
where
    T: Send + 'static,
    F: Fn(&Registry, bool) -> Option<Result<T, Error>> + Send + 'static,
{
    if let Some(out) = run(&st.registry, false) {
        return Ok(out);
    }
    let _ticket = LookupTicket::take(st)?;
    blocking_in(st, &st.lookup_slots, move |reg| Ok(run(reg, true)))
        .await?
        .map_err(|e: Error| ApiError::from_op(&e))?
        .ok_or_else(|| ApiError::internal("a verification with database access asked for it"))
}

/// Runs a registry operation and maps its error for a management call.
async fn op<T, F>(st: &Arc<AppState>, f: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce(&Registry) -> Result<T, Error> + Send + 'static,
{
    blocking(st, f).await?.map_err(|e| ApiError::from_op(&e))
}

// ---------------------------------------------------------------------------------------
// Request bodies

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
/// ([`Manager`]), so a body is only read once its sender is authenticated.
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
fn parse_json<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
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
fn parse_json_or_default<T: DeserializeOwned + Default>(body: &[u8]) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse_json(body)
    }
}

/// `Some(None)` for an explicit `null`, `Some(Some(v))` for a value, `None` when absent.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    #[serde(default)]
    description: Option<String>,
    /// Seed 003 calls it `userId`.
    #[serde(default, alias = "userId")]
    owner: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    /// Seed 002 calls it `isReadAccessOnly`.
    #[serde(default, alias = "isReadAccessOnly")]
    read_only: Option<bool>,
    /// Seed 003 calls it `whitelistedIPs`.
    #[serde(default, alias = "whitelistedIPs")]
    allowed_ips: Option<Vec<String>>,
    #[serde(default)]
    expires_at: Option<i64>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
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
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ExchangeBody {
    /// Seed 000: `{"value": "<key>"}`.
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

// ---------------------------------------------------------------------------------------
// Query strings

/// Parses a query string into pairs, refusing unknown and repeated parameters.
fn query_pairs(raw: Option<&str>, known: &[&str]) -> ApiResult<Vec<(String, String)>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|_| ApiError::bad_request("invalid argument: the query string does not parse"))?;
    for (i, (k, _)) in pairs.iter().enumerate() {
        if !known.contains(&k.as_str()) {
            return Err(ApiError::bad_request(format!(
                "invalid argument: unknown query parameter; expected one of {}",
                known.join(", ")
            )));
        }
        if pairs[..i].iter().any(|(k2, _)| k2 == k) {
            return Err(ApiError::bad_request(
                "invalid argument: a query parameter is repeated",
            ));
        }
    }
    Ok(pairs)
}

fn parse_limit(v: &str) -> ApiResult<u32> {
    v.parse::<u32>().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidLimit,
            "invalid limit: expected an integer from 1 to 100",
        )
    })
}

fn parse_offset(v: &str) -> ApiResult<u32> {
    // `invalid_limit` covers offsets too ("a page limit or offset is outside its range").
    v.parse::<u32>()
        .ok()
        .filter(|o| *o <= keyseal_registry::MAX_OFFSET)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidLimit,
                "invalid limit: expected an offset from 0 to 10000",
            )
        })
}

/// Common pagination parameters.
#[derive(Default)]
struct Paging {
    limit: Option<u32>,
    starting_after: Option<String>,
    ending_before: Option<String>,
    offset: u32,
}

impl Paging {
    fn take(&mut self, k: &str, v: &str) -> ApiResult<bool> {
        match k {
            "limit" => self.limit = Some(parse_limit(v)?),
            "starting_after" | "startingAfter" => self.starting_after = Some(v.to_owned()),
            "ending_before" | "endingBefore" => self.ending_before = Some(v.to_owned()),
            "offset" => self.offset = parse_offset(v)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

const PAGING_PARAMS: [&str; 6] = [
    "limit",
    "starting_after",
    "startingAfter",
    "ending_before",
    "endingBefore",
    "offset",
];

/// The list envelope (seed 003): `data`, `count`, `total`, `has_more`, `next_url`,
/// `previous_url`. URLs keep the filters and the limit and move by cursor.
fn envelope<T: serde::Serialize>(
    page: Page<T>,
    base: &str,
    filters: &[(&str, String)],
    limit: u32,
    paging: &Paging,
    item: impl Fn(&T) -> Value,
) -> Value {
    let url = |cursor_param: &str, cursor: &str| {
        let mut params: Vec<(&str, &str)> = filters.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let l = limit.to_string();
        params.push(("limit", &l));
        params.push((cursor_param, cursor));
        let q = serde_urlencoded::to_string(&params).unwrap_or_default();
        format!("{base}?{q}")
    };
    let backward = paging.ending_before.is_some();
    let came_from_newer = paging.starting_after.is_some() || paging.offset > 0;
    let next_url = match &page.next_cursor {
        Some(c) if (!backward && page.has_more) || (backward && page.count > 0) => {
            Some(url("starting_after", c))
        }
        _ => None,
    };
    let previous_url = match &page.prev_cursor {
        Some(c) if (backward && page.has_more) || (!backward && came_from_newer) => {
            Some(url("ending_before", c))
        }
        _ => None,
    };
    json!({
        "data": page.data.iter().map(item).collect::<Vec<_>>(),
        "count": page.count,
        "total": page.total,
        "has_more": page.has_more,
        "next_url": next_url,
        "previous_url": previous_url,
    })
}

// ---------------------------------------------------------------------------------------
// Authentication

/// The id of the key that authenticated a request, for logs (never the secret).
#[derive(Clone)]
pub struct CallerId(pub String);

fn header_pairs(headers: &HeaderMap) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.to_str().unwrap_or("")))
        .collect()
}

fn client_ip(peer: &SocketAddr) -> IpAddr {
    peer.ip().to_canonical()
}

/// Authenticates the API key in `headers` (x-api-key, Bearer, accessKey + secretKey)
/// for a request with `method` from `peer`; the policy's read-only check is left to the
/// caller (so a read-only key of another account still gets 404, not 403).
async fn authenticate_key(
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
    let ip = client_ip(peer);
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

/// The caller of a management call on the account named in the path: an enabled
/// `account-owner` key of that account (see [`manager`]); with `WRITE`, not read-only.
///
/// An extractor, so a handler names it before its body ([`RawBody`]): the body of a
/// management call is only read once the caller is authenticated.
pub struct Manager<const WRITE: bool>(pub Arc<KeyRecord>);

/// A caller that may read an account's keys and audit log.
pub type Reader = Manager<false>;
/// A caller that may also change them.
pub type Writer = Manager<true>;

impl<const WRITE: bool> FromRequestParts<Arc<AppState>> for Manager<WRITE> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        st: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, st)
            .await
            .map_err(path_err)?;
        let account = params
            .get("account")
            .ok_or_else(|| ApiError::internal("a management route without an account"))?;
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0)
            .ok_or_else(|| ApiError::internal("a request without its peer address"))?;
        manager(st, &parts.headers, &peer, account, WRITE)
            .await
            .map(Manager)
    }
}

fn with_caller(mut resp: Response, caller: &KeyRecord) -> Response {
    resp.extensions_mut().insert(CallerId(caller.id.clone()));
    resp
}

// ---------------------------------------------------------------------------------------
// Records

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
struct RecordOut<'a> {
    #[serde(flatten)]
    record: &'a KeyRecord,
    status: &'static str,
}

impl<'a> RecordOut<'a> {
    fn new(record: &'a KeyRecord) -> RecordOut<'a> {
        RecordOut {
            record,
            status: status_str(record),
        }
    }
}

/// A record as a JSON value (see [`RecordOut`]).
fn record_json(rec: &KeyRecord) -> Value {
    serde_json::to_value(RecordOut::new(rec)).unwrap_or(Value::Null)
}

fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// A record answer with its version as ETag; with `secret`, the new key is included
/// (shown once) and the answer must not be cached.
fn record_response(
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

/// The new key shown once: the full key (`secret`, seed 001), and its halves for
/// clients that send `accessKey` + `secretKey` (seed 004).
fn secret_fields(key: &keyseal::ApiKey) -> Value {
    json!({
        "secret": key.expose(),
        "access_key": key.access_key(),
        "secret_key": key.expose_secret_key(),
    })
}

/// `If-Match: 3`, `"3"` or `W/"3"`. `None` when absent.
fn if_match(headers: &HeaderMap) -> ApiResult<Option<u64>> {
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

// ---------------------------------------------------------------------------------------
// Handlers: keys

async fn create_key(
    State(st): St,
    Manager(caller): Writer,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    RawBody(body): RawBody,
) -> ApiResult {
    let Path(account) = path.map_err(path_err)?;
    let b: CreateBody = parse_json(&body)?;
    let new = NewKey {
        account: account.clone(),
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
    };
    let actor = Actor::key(&caller.id);
    let created = op(&st, move |reg| reg.create(&new, &actor)).await?;
    tracing::info!(key_id = %created.record.id, account = %account, by = %caller.id, "key created");
    let mut resp = record_response(StatusCode::CREATED, &created.record, Some(&created.key));
    if let Ok(loc) = HeaderValue::from_str(&format!(
        "/v1/accounts/{}/keys/{}",
        account, created.record.id
    )) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(with_caller(resp, &caller))
}

async fn list_keys(
    State(st): St,
    Manager(caller): Reader,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let Path(account) = path.map_err(path_err)?;
    let mut known = vec!["status", "owner", "role"];
    known.extend(PAGING_PARAMS);
    let mut q = ListQuery::default();
    let mut paging = Paging::default();
    let mut filters: Vec<(&str, String)> = Vec::new();
    for (k, v) in query_pairs(raw.as_deref(), &known)? {
        if paging.take(&k, &v)? {
            continue;
        }
        match k.as_str() {
            "status" => {
                q.status = match v.as_str() {
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
                filters.push(("status", v));
            }
            "owner" => {
                q.owner = Some(v.clone());
                filters.push(("owner", v));
            }
            "role" => {
                q.role = Some(v.clone());
                filters.push(("role", v));
            }
            _ => {}
        }
    }
    q.limit = paging.limit.unwrap_or(keyseal_registry::DEFAULT_LIMIT);
    q.starting_after = paging.starting_after.clone();
    q.ending_before = paging.ending_before.clone();
    q.offset = paging.offset;
    let limit = q.limit;
    let acct = account.clone();
    let page = op(&st, move |reg| reg.list(&acct, &q)).await?;
    let base = format!("/v1/accounts/{account}/keys");
    let body = envelope(page, &base, &filters, limit, &paging, record_json);
    Ok(with_caller(Json(body).into_response(), &caller))
}

type KeyPath = Result<Path<(String, String)>, axum::extract::rejection::PathRejection>;

async fn get_key(State(st): St, Manager(caller): Reader, path: KeyPath) -> ApiResult {
    let Path((account, id)) = path.map_err(path_err)?;
    let rec = op(&st, move |reg| {
        reg.get(&account, &reg.resolve_key(&account, &id)?)
    })
    .await?;
    Ok(with_caller(
        record_response(StatusCode::OK, &rec, None),
        &caller,
    ))
}

async fn patch_key(
    State(st): St,
    Manager(caller): Writer,
    path: KeyPath,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult {
    let Path((account, id)) = path.map_err(path_err)?;
    let b: PatchBody = parse_json(&body)?;
    let Some(version) = if_match(&headers)? else {
        return Err(ApiError::bad_request(
            "invalid argument: PATCH needs If-Match: <version> (the version you read)",
        ));
    };
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
    };
    let actor = Actor::key(&caller.id);
    let rec = op(&st, move |reg| {
        reg.update(&account, &reg.resolve_key(&account, &id)?, &patch, &actor)
    })
    .await?;
    tracing::info!(key_id = %rec.id, version = rec.version, by = %caller.id, "key updated");
    Ok(with_caller(
        record_response(StatusCode::OK, &rec, None),
        &caller,
    ))
}

/// Sets `enabled`, at the If-Match version when given, else at the current version
/// (retrying a few times if someone else writes in between).
async fn set_enabled(
    st: &Arc<AppState>,
    caller: &KeyRecord,
    account: String,
    id: String,
    enabled: bool,
    expected: Option<u64>,
) -> ApiResult<KeyRecord> {
    let actor = Actor::key(&caller.id);
    let rec = op(st, move |reg| {
        let id = reg.resolve_key(&account, &id)?;
        let mut attempts = 0;
        loop {
            let version = match expected {
                Some(v) => v,
                None => reg.get(&account, &id)?.version,
            };
            let r = if enabled {
                reg.enable(&account, &id, version, &actor)
            } else {
                reg.disable(&account, &id, version, &actor)
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
    tracing::info!(key_id = %rec.id, enabled, by = %caller.id, "key enabled flag set");
    Ok(rec)
}

/// Seed 001: `PUT .../api-keys/{key}` with `{"enabled": false}`.
async fn put_key(
    State(st): St,
    Manager(caller): Writer,
    path: KeyPath,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult {
    let Path((account, id)) = path.map_err(path_err)?;
    let b: EnabledBody = parse_json(&body)?;
    let expected = if_match(&headers)?;
    let rec = set_enabled(&st, &caller, account, id, b.enabled, expected).await?;
    Ok(with_caller(
        record_response(StatusCode::OK, &rec, None),
        &caller,
    ))
}

async fn enable_key(
    State(st): St,
    Manager(caller): Writer,
    path: KeyPath,
    headers: HeaderMap,
) -> ApiResult {
    toggle_key(st, caller, path, headers, true).await
}

async fn disable_key(
    State(st): St,
    Manager(caller): Writer,
    path: KeyPath,
    headers: HeaderMap,
) -> ApiResult {
    toggle_key(st, caller, path, headers, false).await
}

/// `POST .../enable` and `.../disable`: an update of `enabled` with the caller's If-Match.
async fn toggle_key(
    st: Arc<AppState>,
    caller: Arc<KeyRecord>,
    path: KeyPath,
    headers: HeaderMap,
    enabled: bool,
) -> ApiResult {
    let Path((account, id)) = path.map_err(path_err)?;
    let expected = if_match(&headers)?;
    let rec = set_enabled(&st, &caller, account, id, enabled, expected).await?;
    Ok(with_caller(
        record_response(StatusCode::OK, &rec, None),
        &caller,
    ))
}

async fn delete_key(
    State(st): St,
    Manager(caller): Writer,
    path: KeyPath,
    headers: HeaderMap,
) -> ApiResult {
    let Path((account, id)) = path.map_err(path_err)?;
    let expected = if_match(&headers)?;
    let actor = Actor::key(&caller.id);
    let rec = op(&st, move |reg| {
        reg.delete(&account, &reg.resolve_key(&account, &id)?, expected, &actor)
    })
    .await?;
    tracing::info!(key_id = %rec.id, by = %caller.id, "key deleted");
    Ok(with_caller(StatusCode::NO_CONTENT.into_response(), &caller))
}

async fn roll_key(
    State(st): St,
    Manager(caller): Writer,
    path: KeyPath,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult {
    let Path((account, id)) = path.map_err(path_err)?;
    let b: RollBody = parse_json_or_default(&body)?;
    let expected = if_match(&headers)?;
    let actor = Actor::key(&caller.id);
    let rolled = op(&st, move |reg| {
        let id = reg.resolve_key(&account, &id)?;
        reg.roll(&account, &id, b.grace_seconds, expected, &actor)
    })
    .await?;
    tracing::info!(key_id = %rolled.record.id, by = %caller.id, "key rolled");
    let resp = record_response(StatusCode::OK, &rolled.record, Some(&rolled.key));
    Ok(with_caller(resp, &caller))
}

async fn audit_log(
    State(st): St,
    Manager(caller): Reader,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let Path(account) = path.map_err(path_err)?;
    let mut known = vec!["key_id"];
    known.extend(PAGING_PARAMS);
    let mut q = AuditQuery::default();
    let mut paging = Paging::default();
    let mut filters: Vec<(&str, String)> = Vec::new();
    for (k, v) in query_pairs(raw.as_deref(), &known)? {
        if paging.take(&k, &v)? {
            continue;
        }
        if k == "key_id" {
            q.key_id = Some(v.clone());
            filters.push(("key_id", v));
        }
    }
    q.limit = paging.limit.unwrap_or(keyseal_registry::DEFAULT_LIMIT);
    q.starting_after = paging.starting_after.clone();
    q.ending_before = paging.ending_before.clone();
    q.offset = paging.offset;
    let limit = q.limit;
    let acct = account.clone();
    let page = op(&st, move |reg| reg.audit(&acct, &q)).await?;
    let base = format!("/v1/accounts/{account}/audit");
    let body = envelope(page, &base, &filters, limit, &paging, |e| {
        serde_json::to_value(e).unwrap_or(Value::Null)
    });
    Ok(with_caller(Json(body).into_response(), &caller))
}

// ---------------------------------------------------------------------------------------
// Handlers: verify, exchange, tokens

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
            Some(reg.verify(&b.key, &ctx))
        } else {
            reg.verify_cached(&b.key, &ctx)
        }
    };
    let out = on_verify_path(&st, run).await?;
    let (code, message, record) = match out {
        Ok(v) => match &v.decision {
            Ok(()) => ("ok", None, Some(v.record)),
            Err(e) => (e.code(), Some(e.to_string()), Some(v.record)),
        },
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
        Err(e) => (e.code(), Some(e.to_string()), None),
    };
    st.metrics.verify(code, started.elapsed());
    #[derive(serde::Serialize)]
    struct VerifyOut<'a> {
        valid: bool,
        code: &'a str,
        message: Option<String>,
        key: Option<RecordOut<'a>>,
    }
    let mut resp = Json(VerifyOut {
        valid: code == "ok",
        code,
        message,
        key: record.as_deref().map(RecordOut::new),
    })
    .into_response();
    if let Some(r) = record {
        resp.extensions_mut().insert(CallerId(r.id.clone()));
    }
    Ok(resp)
}

/// Token exchange (seed 000): the API key in `x-api-key`, `Authorization: Bearer`,
/// `accessKey` + `secretKey`, or the JSON body `{"value": "<key>"}`.
async fn exchange(
    State(st): St,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    PublicBody(body): PublicBody,
) -> ApiResult {
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
        // token would outgrow its key (seed 002).
        ctx.method = Some("POST");
        if io {
            Some(reg.exchange(&key, &ctx, None))
        } else {
            reg.exchange_cached(&key, &ctx, None)
        }
    };
    let out = on_verify_path(&st, run).await?;
    match out {
        Ok(tok) => {
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

// ---------------------------------------------------------------------------------------
// Operations

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
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
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

async fn not_found_route() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        "not found: no such route (see /v1/openapi.json)",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: ErrorCode::InvalidArgument.as_str(),
        message: "invalid argument: this route does not accept this method".to_owned(),
    }
}

/// Counts, times and logs every request. Logs carry the route, status, latency and the
/// authenticated key's id: never a header value or a body.
async fn observe(State(st): St, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
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

/// The router.
pub fn router(state: Arc<AppState>) -> Router {
    let keys = "/v1/accounts/{account}/keys";
    Router::new()
        .route(keys, post(create_key).get(list_keys))
        .route(
            "/v1/accounts/{account}/keys/{id}",
            get(get_key)
                .patch(patch_key)
                .put(put_key)
                .delete(delete_key),
        )
        .route("/v1/accounts/{account}/keys/{id}/enable", post(enable_key))
        .route(
            "/v1/accounts/{account}/keys/{id}/disable",
            post(disable_key),
        )
        .route("/v1/accounts/{account}/keys/{id}/roll", post(roll_key))
        .route("/v1/accounts/{account}/audit", get(audit_log))
        .route("/v1/verify", post(verify))
        .route("/v1/token", post(exchange))
        .route("/v1/apikey/authenticate", post(exchange))
        .route("/v1/tokens/verify", post(token_verify))
        .route("/v1/whoami", get(whoami))
        .route("/v1/openapi.json", get(openapi))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(not_found_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            observe,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]
    use super::*;

    fn state(dir: &std::path::Path) -> Arc<AppState> {
        use keyseal::{KeyFormat, Pepper, PepperSet};
        let peppers = PepperSet::new(Pepper::new("p1", &[7u8; 32]).unwrap());
        let cfg = keyseal_registry::RegistryConfig::new(KeyFormat::new("ks").unwrap(), peppers);
        let storage =
            keyseal_registry::Storage::Sqlite(dir.join("k.db").to_string_lossy().into_owned());
        let reg = Registry::open(storage, cfg).unwrap();
        Arc::new(AppState::new(Arc::new(reg), 4, &Limits::default()))
    }

    /// A flood of unknown keys holds every verify-path lookup slot; management calls run
    /// on slots of their own and still complete.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn management_calls_never_wait_for_verify_lookups() {
        let dir = std::env::temp_dir().join(format!("keyseal-api-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let st = state(&dir);
        let held: Vec<_> = (0..st.registry.config().max_concurrent_lookups)
            .map(|_| st.lookup_slots.try_acquire().expect("a free lookup slot"))
            .collect();
        assert!(st.lookup_slots.try_acquire().is_err());
        let listed = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            op(&st, |reg| reg.list("acct", &ListQuery::default())),
        )
        .await;
        assert!(
            matches!(listed, Ok(Ok(_))),
            "a management call waited for verify-path slots"
        );
        drop(held);
        let _ = std::fs::remove_dir_all(&dir);
    }

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

    #[test]
    fn every_route_is_in_the_openapi_document() {
        let doc: Value = serde_json::from_str(OPENAPI).expect("openapi.json parses");
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().expect("paths");
        for p in [
            "/v1/accounts/{account}/keys",
            "/v1/accounts/{account}/keys/{id}",
            "/v1/accounts/{account}/keys/{id}/enable",
            "/v1/accounts/{account}/keys/{id}/disable",
            "/v1/accounts/{account}/keys/{id}/roll",
            "/v1/accounts/{account}/audit",
            "/v1/verify",
            "/v1/token",
            "/v1/apikey/authenticate",
            "/v1/tokens/verify",
            "/v1/whoami",
            "/v1/openapi.json",
            "/healthz",
            "/readyz",
            "/metrics",
        ] {
            assert!(paths.contains_key(p), "{p} is not documented");
        }
        assert_eq!(paths.len(), 15, "a documented path has no route");
    }
}
