//! A tower [`Layer`](tower_layer::Layer) for axum (or any tower service over `http`
//! requests) that verifies each request's keyseal credential against `keyseal serve`, or
//! in-process.
//!
//! ```no_run
//! use axum::{Extension, Router, routing::get};
//! use keyseal_axum::{KeysealLayer, Principal};
//!
//! let app: Router = Router::new()
//!     .route("/invoices", get(|Extension(who): Extension<Principal>| async move { who.key_id }))
//!     .layer(KeysealLayer::new("http://127.0.0.1:8080").required_scopes(["invoices:read"]));
//! ```
//!
//! - The credential is found as everywhere in keyseal (`x-api-key`, `Authorization:
//!   Bearer`, or `accessKey` + `secretKey`); API keys go to `POST /v1/verify` (with the
//!   required scopes and roles, the method for the read-only rule, the peer address from
//!   axum's `ConnectInfo` when present, and `cost`/`limits`/`dry_run`), exchange tokens to
//!   `POST /v1/tokens/verify` (checked against `account` when set), then their scopes and
//!   role against the requirement.
//! - Allowed requests get a [`Principal`] in their extensions, and their responses the
//!   metering headers (`RateLimit-Policy`, `RateLimit`).
//! - Refusals are answered here with the status of `server/errors.json` (the one code ->
//!   HTTP status table), `{"error": {"code", "message"}}`, `WWW-Authenticate` on a 401, and
//!   the metering headers and `Retry-After` on a 429. A server that cannot be reached is a
//!   503 `storage_unavailable`.
//! - Positive answers are cached in memory for [`KeysealLayer::cache_ttl`] (default 1 s,
//!   the server's own promise for a disabled key to stop working) and at most
//!   [`KeysealLayer::cache_size`] entries (default 10,000), keyed by a SHA-256 of the
//!   credential; refusals, metered answers and dry runs are never cached.
//! - The HTTP call is blocking (ureq, pooled connections) and runs on tokio's blocking
//!   pool, so the async threads never wait on it.
//! - [`KeysealLayer::in_process`] verifies API keys without a server: your [`Lookup`]
//!   finds the [`LocalKey`] (stored digest and policy) and the keyseal core checks them.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use keyseal::{Credential, KeyFormat, KeyPolicy, PepperSet, RequestContext, Scope};
use serde_json::{Value, json};

/// The caller of an allowed request, in the request's extensions.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The key's public id.
    pub key_id: String,
    /// The key's account.
    pub account: Option<String>,
    /// The key's owner (a token's `sub`).
    pub owner: Option<String>,
    /// The key's role.
    pub role: Option<String>,
    /// The key's scopes.
    pub scopes: Vec<String>,
    /// `"api_key"` or `"token"`.
    pub via: &'static str,
    /// Answered from the cache.
    pub cached: bool,
    /// The server's `meter` report, when limits or credits applied.
    pub meter: Option<Value>,
    /// The metering headers added to the response.
    pub headers: Vec<(String, String)>,
}

/// What a route needs, and the knobs of the cache.
#[derive(Clone, Debug)]
struct Config {
    url: String,
    account: Option<String>,
    required_scopes: Vec<String>,
    allowed_roles: Option<Vec<String>>,
    cost: Option<u64>,
    limits: Option<Vec<String>>,
    dry_run: bool,
    cache_ttl: Duration,
    cache_size: usize,
    timeout: Duration,
}

/// Verifies requests against `keyseal serve`; see the crate documentation.
#[derive(Clone)]
pub struct KeysealLayer {
    shared: Arc<Shared>,
}

struct Shared {
    config: Config,
    agent: ureq::Agent,
    cache: Mutex<Cache>,
    local: Option<Arc<Local>>,
}

/// What an in-process layer checks with.
struct Local {
    format: KeyFormat,
    peppers: PepperSet,
    lookup: Box<dyn Lookup>,
}

/// A key as your store holds it, for an in-process layer: its public id, its stored digest
/// (`PepperSet::digest`), its policy, and its owner.
#[derive(Clone, Debug)]
pub struct LocalKey {
    /// The key's public id.
    pub id: String,
    /// The stored digest.
    pub digest: String,
    /// Scopes, role, read-only, IP ranges, expiry, enabled, revoked.
    pub policy: KeyPolicy,
    /// Who the key belongs to.
    pub owner: Option<String>,
}

/// The future a [`Lookup`] returns.
pub type LookupFuture = Pin<Box<dyn Future<Output = Option<LocalKey>> + Send>>;

/// Finds a key by its public id for an in-process layer (a database query, a map); any
/// `Fn(String) -> impl Future<Output = Option<LocalKey>>` is one.
pub trait Lookup: Send + Sync + 'static {
    /// The key with this id, or `None`.
    fn find(&self, key_id: String) -> LookupFuture;
}

impl<F, Fut> Lookup for F
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<LocalKey>> + Send + 'static,
{
    fn find(&self, key_id: String) -> LookupFuture {
        Box::pin(self(key_id))
    }
}

#[derive(Default)]
struct Cache {
    map: HashMap<String, (Instant, Principal)>,
    order: VecDeque<String>,
}

impl KeysealLayer {
    /// A layer asking the server at `url` (e.g. `http://127.0.0.1:8080`).
    pub fn new(url: impl Into<String>) -> Self {
        let config = Config {
            url: url.into().trim_end_matches('/').to_owned(),
            account: None,
            required_scopes: Vec::new(),
            allowed_roles: None,
            cost: None,
            limits: None,
            dry_run: false,
            cache_ttl: Duration::from_secs(1),
            cache_size: 10_000,
            timeout: Duration::from_secs(10),
        };
        Self::from_config(config, None)
    }

    /// A layer that verifies API keys in-process: the key's structure and checksum with
    /// `format`, its digest from `lookup` with `peppers`, then its policy, all by the
    /// keyseal core; no server, no cache. Exchange tokens are refused
    /// (`unsupported_auth_scheme`) in this mode.
    pub fn in_process(format: KeyFormat, peppers: PepperSet, lookup: impl Lookup) -> Self {
        let mut layer = Self::new("");
        let config = layer.shared.config.clone();
        let local = Arc::new(Local {
            format,
            peppers,
            lookup: Box::new(lookup),
        });
        layer = Self::from_config(config, Some(local));
        layer
    }

    fn from_config(config: Config, local: Option<Arc<Local>>) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .build()
            .new_agent();
        KeysealLayer {
            shared: Arc::new(Shared {
                config,
                agent,
                cache: Mutex::new(Cache::default()),
                local,
            }),
        }
    }

    fn with(self, f: impl FnOnce(&mut Config)) -> Self {
        let mut config = self.shared.config.clone();
        f(&mut config);
        Self::from_config(config, self.shared.local.clone())
    }

    /// Scopes the key must hold. Defaults to none.
    pub fn required_scopes<I: IntoIterator<Item = S>, S: Into<String>>(self, scopes: I) -> Self {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        self.with(|c| c.required_scopes = scopes)
    }

    /// Roles one of which the key must have. Defaults to any.
    pub fn allowed_roles<I: IntoIterator<Item = S>, S: Into<String>>(self, roles: I) -> Self {
        let roles: Vec<String> = roles.into_iter().map(Into::into).collect();
        self.with(|c| c.allowed_roles = Some(roles))
    }

    /// Units of cost for the key's limits and credits. Defaults to the server's 1.
    pub fn cost(self, cost: u64) -> Self {
        self.with(|c| c.cost = Some(cost))
    }

    /// Names of the limits to apply. Defaults to all.
    pub fn limits<I: IntoIterator<Item = S>, S: Into<String>>(self, limits: I) -> Self {
        let limits: Vec<String> = limits.into_iter().map(Into::into).collect();
        self.with(|c| c.limits = Some(limits))
    }

    /// Answer without spending. Defaults to false.
    pub fn dry_run(self, dry_run: bool) -> Self {
        self.with(|c| c.dry_run = dry_run)
    }

    /// The tenant this service serves: tokens of other accounts are refused. Defaults to
    /// none (tokens of every account pass the signature and key checks).
    pub fn account(self, account: impl Into<String>) -> Self {
        let account = account.into();
        self.with(|c| c.account = Some(account))
    }

    /// How long a positive answer is reused. Defaults to 1 second; zero turns the cache off.
    pub fn cache_ttl(self, ttl: Duration) -> Self {
        self.with(|c| c.cache_ttl = ttl)
    }

    /// At most this many cached answers (oldest dropped first). Defaults to 10,000.
    pub fn cache_size(self, size: usize) -> Self {
        self.with(|c| c.cache_size = size)
    }

    /// Per request to the server. Defaults to 10 seconds.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.with(|c| c.timeout = timeout)
    }
}

impl<S> tower_layer::Layer<S> for KeysealLayer {
    type Service = KeysealService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        KeysealService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service [`KeysealLayer`] wraps around the inner one.
#[derive(Clone)]
pub struct KeysealService<S> {
    inner: S,
    shared: Arc<Shared>,
}

/// Response headers as (lowercase name, value) pairs.
type Headers = Vec<(String, String)>;

/// A refusal: a code, its message and the headers to send.
struct Refusal {
    code: String,
    message: String,
    headers: Vec<(String, String)>,
}

/// `code` -> (credential status) from server/errors.json, and the WWW-Authenticate value.
fn status_table() -> &'static (HashMap<String, u16>, String) {
    static TABLE: OnceLock<(HashMap<String, u16>, String)> = OnceLock::new();
    TABLE.get_or_init(|| {
        let doc: Value = serde_json::from_str(include_str!("../../../server/errors.json"))
            .unwrap_or(Value::Null);
        let mut map = HashMap::new();
        if let Some(codes) = doc["codes"].as_array() {
            for c in codes {
                if let (Some(code), Some(status)) =
                    (c["code"].as_str(), c["credential_status"].as_u64())
                {
                    map.insert(code.to_owned(), u16::try_from(status).unwrap_or(500));
                }
            }
        }
        let www = doc["www_authenticate"]
            .as_str()
            .unwrap_or("Bearer error=\"invalid_token\"")
            .to_owned();
        (map, www)
    })
}

impl Refusal {
    fn new(code: &str, message: &str) -> Self {
        Refusal {
            code: code.to_owned(),
            message: message.to_owned(),
            headers: Vec::new(),
        }
    }

    fn from_core(e: &keyseal::Error) -> Self {
        // Core messages never hold a key, a token or a secret.
        Refusal::new(e.code(), &e.to_string())
    }

    fn into_response(self) -> Response<Body> {
        let (table, www) = status_table();
        let status = table.get(&self.code).copied().unwrap_or(500);
        let message = if status >= 500 {
            "internal error".to_owned()
        } else {
            self.message
        };
        let body = json!({"error": {"code": self.code, "message": message}}).to_string();
        let mut res = Response::new(Body::from(body));
        *res.status_mut() =
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let h = res.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if status == 401
            && let Ok(v) = HeaderValue::from_str(www)
        {
            h.insert(http::header::WWW_AUTHENTICATE, v);
        }
        append(h, &self.headers);
        res
    }
}

fn append(h: &mut HeaderMap, headers: &[(String, String)]) {
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(value),
        ) {
            h.insert(n, v);
        }
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn opt_string(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

impl Shared {
    fn cache_get(&self, key: &str) -> Option<Principal> {
        if self.config.cache_ttl.is_zero() {
            return None;
        }
        let mut cache = self.cache.lock().ok()?;
        match cache.map.get(key) {
            Some((until, p)) if *until > Instant::now() => Some(p.clone()),
            Some(_) => {
                cache.map.remove(key);
                None
            }
            None => None,
        }
    }

    fn cache_put(&self, key: String, p: &Principal) {
        if self.config.cache_ttl.is_zero() || self.config.cache_size == 0 {
            return;
        }
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        let mut p = p.clone();
        p.cached = true;
        if cache
            .map
            .insert(key.clone(), (Instant::now() + self.config.cache_ttl, p))
            .is_none()
        {
            cache.order.push_back(key);
        }
        while cache.map.len() > self.config.cache_size {
            match cache.order.pop_front() {
                Some(old) => {
                    cache.map.remove(&old);
                }
                None => break,
            }
        }
    }

    fn post(&self, path: &str, body: &Value) -> Result<(Headers, Value), Refusal> {
        let url = format!("{}{}", self.config.url, path);
        let mut answer = self.agent.post(&url).send_json(body).map_err(|_| {
            Refusal::new(
                "storage_unavailable",
                "the keyseal server cannot be reached",
            )
        })?;
        let status = answer.status().as_u16();
        let mut headers = Vec::new();
        for name in ["ratelimit-policy", "ratelimit", "retry-after"] {
            if let Some(v) = answer.headers().get(name).and_then(|v| v.to_str().ok()) {
                headers.push((name.to_owned(), v.to_owned()));
            }
        }
        let json: Value = answer.body_mut().read_json().map_err(|_| {
            Refusal::new(
                "internal",
                "the keyseal server answered something else than JSON",
            )
        })?;
        if status >= 400 && status != 429 {
            let code = json["error"]["code"].as_str().unwrap_or("internal");
            let message = json["error"]["message"].as_str().unwrap_or(code);
            return Err(Refusal::new(code, message));
        }
        Ok((headers, json))
    }

    /// Verifies `value` (the credential) with the server; blocking.
    fn verify_blocking(
        &self,
        token: bool,
        value: &str,
        method: &str,
        ip: Option<String>,
    ) -> Result<Principal, Refusal> {
        let c = &self.config;
        if token {
            let mut body = json!({"token": value});
            if let Some(account) = &c.account {
                body["account"] = json!(account);
            }
            let (_, v) = self.post("/v1/tokens/verify", &body)?;
            if v["valid"] != Value::Bool(true) {
                let code = v["code"].as_str().unwrap_or("internal");
                return Err(Refusal::new(code, v["message"].as_str().unwrap_or(code)));
            }
            let claims = &v["claims"];
            let scopes: Vec<String> = claims["scope"]
                .as_str()
                .unwrap_or("")
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            let role = opt_string(&claims["role"]);
            // A token carries its key's scopes and role (read-only keys cannot be exchanged).
            let policy = KeyPolicy {
                scopes: scopes.iter().filter_map(|s| Scope::new(s).ok()).collect(),
                role: role.clone(),
                ..KeyPolicy::default()
            };
            let required: Vec<&str> = c.required_scopes.iter().map(String::as_str).collect();
            let roles: Vec<&str> = c
                .allowed_roles
                .iter()
                .flatten()
                .map(String::as_str)
                .collect();
            let mut ctx = RequestContext::at(0);
            ctx.required_scopes = &required;
            ctx.allowed_roles = &roles;
            policy.check(&ctx).map_err(|e| Refusal::from_core(&e))?;
            return Ok(Principal {
                key_id: v["key_id"].as_str().unwrap_or("").to_owned(),
                account: opt_string(&v["account"]),
                owner: opt_string(&claims["sub"]),
                role,
                scopes,
                via: "token",
                cached: false,
                meter: None,
                headers: Vec::new(),
            });
        }
        let mut body = json!({"key": value, "method": method});
        if !c.required_scopes.is_empty() {
            body["required_scopes"] = json!(c.required_scopes);
        }
        if let Some(roles) = &c.allowed_roles {
            body["allowed_roles"] = json!(roles);
        }
        if let Some(cost) = c.cost {
            body["cost"] = json!(cost);
        }
        if let Some(limits) = &c.limits {
            body["limits"] = json!(limits);
        }
        if c.dry_run {
            body["dry_run"] = json!(true);
        }
        if let Some(ip) = ip {
            body["client_ip"] = json!(ip);
        }
        let (headers, v) = self.post("/v1/verify", &body)?;
        if v["valid"] != Value::Bool(true) {
            let code = v["code"].as_str().unwrap_or("internal");
            let mut r = Refusal::new(code, v["message"].as_str().unwrap_or(code));
            r.headers = headers;
            return Err(r);
        }
        let key = &v["key"];
        let meter = if v["meter"].is_null() {
            None
        } else {
            Some(v["meter"].clone())
        };
        Ok(Principal {
            key_id: key["id"].as_str().unwrap_or("").to_owned(),
            account: opt_string(&key["account"]),
            owner: opt_string(&key["owner"]),
            role: opt_string(&key["role"]),
            scopes: strings(&key["scopes"]),
            via: "api_key",
            cached: false,
            meter,
            headers,
        })
    }

    async fn verify_local(
        &self,
        local: &Local,
        cred: Credential<'_>,
        method: &str,
        ip: Option<String>,
    ) -> Result<Principal, Refusal> {
        let Some(key) = cred.key() else {
            return Err(Refusal::new(
                "unsupported_auth_scheme",
                "unsupported credential: this endpoint accepts api keys only",
            ));
        };
        // Structure and checksum before any lookup: typos never reach the store.
        let id = local
            .format
            .check(&key)
            .map_err(|e| Refusal::from_core(&e))?
            .id()
            .to_owned();
        let Some(record) = local.lookup.find(id).await else {
            return Err(Refusal::new("not_found", "no such key"));
        };
        local
            .peppers
            .verify(&key, &record.digest)
            .map_err(|e| Refusal::from_core(&e))?;
        let c = &self.config;
        let required: Vec<&str> = c.required_scopes.iter().map(String::as_str).collect();
        let roles: Vec<&str> = c
            .allowed_roles
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let mut ctx = RequestContext::at(now);
        ctx.method = Some(method);
        ctx.client_ip = ip.as_deref().and_then(|ip| ip.parse().ok());
        ctx.required_scopes = &required;
        ctx.allowed_roles = &roles;
        record
            .policy
            .check(&ctx)
            .map_err(|e| Refusal::from_core(&e))?;
        Ok(Principal {
            key_id: record.id,
            account: None,
            owner: record.owner,
            role: record.policy.role.clone(),
            scopes: record
                .policy
                .scopes
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            via: "api_key",
            cached: false,
            meter: None,
            headers: Vec::new(),
        })
    }

    async fn verify(
        self: Arc<Self>,
        headers: &HeaderMap,
        method: &str,
        ip: Option<String>,
    ) -> Result<Principal, Refusal> {
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str(), v)))
            .collect();
        let cred = keyseal::extract_credential(pairs).map_err(|e| Refusal::from_core(&e))?;
        if let Some(local) = self.local.clone() {
            return self.verify_local(&local, cred, method, ip).await;
        }
        let (token, value) = match cred {
            Credential::Token(t) => (true, t.to_owned()),
            other => (
                false,
                other.key().map(|k| k.to_string()).unwrap_or_default(),
            ),
        };
        let cache_key = format!(
            "{}:{}:{}:{}",
            u8::from(token),
            keyseal::sha256_hex(&value),
            method,
            ip.as_deref().unwrap_or("")
        );
        if let Some(hit) = self.cache_get(&cache_key) {
            return Ok(hit);
        }
        let shared = self.clone();
        let method = method.to_owned();
        let p =
            tokio::task::spawn_blocking(move || shared.verify_blocking(token, &value, &method, ip))
                .await
                .map_err(|_| Refusal::new("internal", "the verification task failed"))??;
        let metered = p.meter.as_ref().is_some_and(|m| {
            m["limits"].as_array().is_some_and(|l| !l.is_empty())
                || !m["credits"].is_null()
                || !m["owner_credits"].is_null()
        });
        if !self.config.dry_run && !metered {
            self.cache_put(cache_key, &p);
        }
        Ok(p)
    }
}

impl<S> tower_service::Service<Request<Body>> for KeysealService<S>
where
    S: tower_service::Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        // The clone that was polled ready handles this request (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        Box::pin(async move {
            let ip = req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_canonical().to_string());
            let method = req.method().as_str().to_owned();
            match shared.verify(req.headers(), &method, ip).await {
                Ok(principal) => {
                    let headers = principal.headers.clone();
                    req.extensions_mut().insert(principal);
                    let mut res = inner.call(req).await?;
                    append(res.headers_mut(), &headers);
                    Ok(res)
                }
                Err(refusal) => Ok(refusal.into_response()),
            }
        })
    }
}
