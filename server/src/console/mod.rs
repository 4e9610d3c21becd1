//! The web console at `/console/`: server-rendered HTML (maud) with a little htmx, for
//! account owners to manage their keys from a browser. One concern per file:
//! [`session`] (sign-in sessions in memory, the cookie), [`csrf`] (tokens on every state
//! change), [`form`] (form fields to registry values), [`pages`] (the handlers and
//! their HTML, a file per page: sign-in, keys, one key, an owner, the audit log),
//! [`assets`] (files embedded in the binary), [`chart`] (SVG drawn here).
//!
//! Every answer carries a strict Content-Security-Policy (no inline script or style),
//! `frame-ancestors 'none'`, `nosniff` and `no-referrer` ([`security_headers`]).
//! Management is the API's rule (`http/extract.rs`): an enabled `account-owner` key
//! manages its own account and a read-only one only reads; the session keeps the key's
//! id, never its secret, and re-checks the key on every request.

mod assets;
mod chart;
mod csrf;
mod form;
mod pages;
mod session;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{Redirect, Response};
use axum::routing::{get, post};

use crate::http::AppState;
pub use session::Sessions;

/// The console's settings and its sessions, part of the server's state.
pub struct Console {
    /// Signed-in sessions, in this process's memory.
    pub sessions: Sessions,
    /// Mark the session cookie `Secure` (the console is served over TLS, e.g. behind a
    /// proxy). Defaults to false.
    pub secure_cookies: bool,
    /// How long a session lasts after sign-in. Defaults to 8 hours.
    pub session_ttl: Duration,
}

impl Default for Console {
    fn default() -> Self {
        Console::new(false, Duration::from_secs(8 * 3600))
    }
}

impl Console {
    /// Settings: `Secure` cookies or not, and the session lifetime.
    pub fn new(secure_cookies: bool, session_ttl: Duration) -> Console {
        Console {
            sessions: Sessions::default(),
            secure_cookies,
            session_ttl,
        }
    }
}

/// Where the console lives; the session cookie is scoped to this path.
pub const BASE: &str = "/console";

/// The console's routes, with its security headers; `GET /` redirects to it.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/", get(pages::sign_in::home))
        .route(
            "/console/sign-in",
            get(pages::sign_in::sign_in_form).post(pages::sign_in::sign_in),
        )
        .route("/console/sign-out", post(pages::sign_in::sign_out))
        .route(
            "/console/keys",
            get(pages::keys::list_keys).post(pages::keys::create_key),
        )
        .route("/console/keys/new", get(pages::keys::new_key))
        .route("/console/keys/{id}", get(pages::key::show_key))
        .route("/console/keys/{id}/edit", post(pages::key::edit_key))
        .route("/console/keys/{id}/enable", post(pages::key::enable_key))
        .route("/console/keys/{id}/disable", post(pages::key::disable_key))
        .route("/console/keys/{id}/roll", post(pages::key::roll_key))
        .route(
            "/console/keys/{id}/delete",
            get(pages::key::confirm_delete).post(pages::key::delete_key),
        )
        .route(
            "/console/keys/{id}/credits",
            post(pages::key::add_key_credits),
        )
        .route("/console/owners/{owner}", get(pages::owners::show_owner))
        .route(
            "/console/owners/{owner}/meter",
            post(pages::owners::edit_meter),
        )
        .route(
            "/console/owners/{owner}/credits",
            post(pages::owners::add_credits),
        )
        .route("/console/audit", get(pages::audit::audit))
        .route("/console/assets/{file}", get(assets::asset))
        .layer(axum::middleware::map_response(security_headers))
}

/// The policy: scripts, styles and images from this origin only (no inline script or
/// style: htmx's indicator styles are off, see `pages::layout`), forms post here only,
/// no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The headers a security scanner expects on every console answer. Pages are never
/// cached (they hold account data, and once a new key); assets set their own.
async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}
