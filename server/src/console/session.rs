//! Sign-in sessions: a random id in an HttpOnly, SameSite=Strict cookie scoped to
//! `/console` with a Max-Age (and `Secure` when configured), mapped in this process's
//! memory to the signed-in key's id, its account and the session's CSRF token. The
//! secret is never stored: every request re-reads the key ([`Signed`]) and ends the
//! session when the key is no longer an enabled, unexpired `account-owner` key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyseal_registry::{Actor, KeyRecord, KeyStatus};

use super::{BASE, Console};
use crate::http::AppState;
use crate::http::OWNER_ROLE;
use crate::http::state::{management_call, now};

/// The session cookie's name.
pub const COOKIE: &str = "keyseal_console";

/// Sessions at once, at most: sign-in needs a valid owner key, so this only bounds
/// memory against a script signing in over and over.
const MAX_SESSIONS: usize = 10_000;

/// One signed-in browser.
#[derive(Clone)]
pub struct Session {
    /// The id of the key that signed in (never its secret).
    pub key_id: String,
    /// Its account.
    pub account: String,
    /// The token every state change must carry.
    pub csrf: String,
    /// When the session ends.
    pub expires: Instant,
}

/// The sessions of this process.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Stores `s` under a new random id and returns the id (`None` when no randomness or
    /// too many sessions).
    pub fn insert(&self, s: Session) -> Option<String> {
        let id = crate::config::random_base62(43).ok()?;
        let mut map = self.map.lock().ok()?;
        if map.len() >= MAX_SESSIONS {
            let now = Instant::now();
            map.retain(|_, s| s.expires > now);
            if map.len() >= MAX_SESSIONS {
                return None;
            }
        }
        map.insert(id.clone(), s);
        Some(id)
    }

    /// The live session `id`; an expired one is removed.
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut map = self.map.lock().ok()?;
        match map.get(id) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    /// Ends session `id`.
    pub fn remove(&self, id: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(id);
        }
    }
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value for `name=value` under `/console`, lasting `max_age` seconds
/// (0 deletes it).
pub fn set_cookie(c: &Console, name: &str, value: &str, max_age: u64) -> HeaderValue {
    let secure = if c.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={BASE}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .unwrap_or(HeaderValue::from_static("keyseal_console=; Max-Age=0"))
}

/// A signed-in request: the session, and the signing-in key as it is now.
pub struct Signed {
    /// The session's id (the cookie's value).
    pub id: String,
    /// The session.
    pub session: Session,
    /// The key that signed in, read for this request.
    pub key: KeyRecord,
}

impl Signed {
    /// True when the key may change things (not read-only).
    pub fn writable(&self) -> bool {
        !self.key.read_only
    }

    /// The audit log's actor for changes made in this session: the signed-in key, as
    /// for the same call through the API.
    pub fn actor(&self) -> Actor {
        Actor::key(&self.key.id)
    }
}

/// Where a request without a live session goes: the sign-in page (htmx requests are
/// told to go there with `HX-Redirect`). The cookie is cleared.
fn to_sign_in(st: &AppState, parts: &Parts, why: &str) -> Response {
    let to = format!("{BASE}/sign-in?why={why}");
    let mut resp = (StatusCode::SEE_OTHER, ()).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&to) {
        if parts.headers.contains_key("hx-request") {
            h.insert("hx-redirect", v.clone());
        }
        h.insert(header::LOCATION, v);
    }
    if cookie(&parts.headers, COOKIE).is_some() {
        h.insert(header::SET_COOKIE, set_cookie(&st.console, COOKIE, "", 0));
    }
    resp
}

impl FromRequestParts<Arc<AppState>> for Signed {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        st: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Some(id) = cookie(&parts.headers, COOKIE).map(str::to_owned) else {
            return Err(to_sign_in(st, parts, "signed-out"));
        };
        let Some(session) = st.console.sessions.get(&id) else {
            return Err(to_sign_in(st, parts, "expired"));
        };
        let (account, key_id) = (session.account.clone(), session.key_id.clone());
        let key = management_call(st, move |reg| reg.get(&account, &key_id)).await;
        match key {
            Ok(key)
                if key.status(now()) == KeyStatus::Active
                    && key.role.as_deref() == Some(OWNER_ROLE) =>
            {
                Ok(Signed { id, session, key })
            }
            Ok(_) | Err(_) => {
                // Disabled, expired, deleted, no longer an owner, or unreadable: sign
                // out (a storage error signs out too; signing in again is cheap).
                st.console.sessions.remove(&id);
                Err(to_sign_in(st, parts, "key-changed"))
            }
        }
    }
}
