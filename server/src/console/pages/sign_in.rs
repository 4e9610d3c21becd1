//! Sign-in with an account-owner key (a form with a double-submit CSRF cookie), the
//! home redirect, and sign-out.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyseal::ErrorCode;
use maud::html;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::console::csrf;
use crate::console::form::Form;
use crate::console::session::{COOKIE, Session, Signed, cookie, set_cookie};
use crate::error::ApiError;
use crate::http::extract::{authenticate_secret, client_ip};
use crate::http::state::AppState;
use crate::http::{MAX_BODY, OWNER_ROLE};

use super::{alert, checked_form, page, see_other};

type St = State<Arc<AppState>>;

#[derive(Deserialize)]
pub struct SignInQuery {
    why: Option<String>,
}

fn sign_in_page(
    c: &crate::console::Console,
    status: StatusCode,
    error: Option<&ApiError>,
    why: Option<&str>,
) -> Response {
    let Some(token) = csrf::token() else {
        return ApiError::internal("no randomness for a CSRF token").into_response();
    };
    let reason = match why {
        Some("expired") => Some("Your session ended. Sign in again."),
        Some("key-changed") => Some(
            "Your session ended: the key you signed in with changed (disabled, deleted, expired or no longer an account owner).",
        ),
        Some("signed-out") => Some("You are signed out."),
        _ => None,
    };
    let mut resp = page(
        status,
        "Sign in",
        None,
        html! {
            h1 { "Sign in to the keyseal console" }
            @if let Some(r) = reason { div.notice role="status" { p { (r) } } }
            @if let Some(e) = error { (alert(&e.message, e.code)) }
            form.card method="post" action="/console/sign-in" autocomplete="off" {
                input type="hidden" name=(csrf::FIELD) value=(token);
                label for="key" { "Account-owner API key" }
                input #key type="password" name="key" required autocomplete="off"
                    spellcheck="false" aria-describedby="key-help" autofocus data-focus;
                p #key-help.help {
                    "Paste a key with the " code { (OWNER_ROLE) } " role, e.g. the one "
                    code { "keyseal init" } " printed. The console keeps a session for it, "
                    "never the key itself. A read-only key opens a read-only console."
                }
                button type="submit" { "Sign in" }
            }
        },
    );
    // The double-submit cookie of this form (an hour to sign in), Secure as the session's.
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(c, csrf::SIGN_IN_COOKIE, &token, 3600),
    );
    resp
}

pub async fn home() -> Response {
    see_other("/console/keys")
}

pub async fn sign_in_form(State(st): St, Query(q): Query<SignInQuery>) -> Response {
    sign_in_page(&st.console, StatusCode::OK, None, q.why.as_deref())
}

pub async fn sign_in(
    State(st): St,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let refused = |status: StatusCode, code: ErrorCode, msg: &str| {
        sign_in_page(
            &st.console,
            status,
            Some(&ApiError::new(status, code, msg)),
            None,
        )
    };
    if body.len() > MAX_BODY {
        return refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            "payload too large",
        );
    }
    let body = Zeroizing::new(body.to_vec());
    let Some(form) = Form::parse(&body) else {
        return refused(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidArgument,
            "invalid argument: expected a form",
        );
    };
    let token_ok = match (
        cookie(&headers, csrf::SIGN_IN_COOKIE),
        form.opt(csrf::FIELD),
    ) {
        (Some(c), Some(f)) => csrf::same(c, f),
        _ => false,
    };
    if csrf::cross_site(&headers) || !token_ok {
        return refused(
            StatusCode::FORBIDDEN,
            ErrorCode::PermissionDenied,
            "permission denied: the sign-in form expired or came from another site; try again",
        );
    }
    let key = Zeroizing::new(form.get("key").to_owned());
    drop(form);
    if key.is_empty() {
        return refused(
            StatusCode::UNAUTHORIZED,
            ErrorCode::MissingCredential,
            "missing credential: paste an account-owner key",
        );
    }
    let rec = match authenticate_secret(&st, key, client_ip(&peer)).await {
        Ok(r) => r,
        Err(e) => return sign_in_page(&st.console, e.status, Some(&e), None),
    };
    if rec.role.as_deref() != Some(OWNER_ROLE) {
        return refused(
            StatusCode::FORBIDDEN,
            ErrorCode::PermissionDenied,
            "permission denied: only account-owner keys manage an account's keys",
        );
    }
    let (Some(csrf_token), Some(expires)) = (
        csrf::token(),
        std::time::Instant::now().checked_add(st.console.session_ttl),
    ) else {
        return ApiError::internal("no randomness for a session").into_response();
    };
    let session = Session {
        key_id: rec.id.clone(),
        account: rec.account.clone(),
        csrf: csrf_token,
        expires,
    };
    let Some(id) = st.console.sessions.insert(session) else {
        return ApiError::busy().into_response();
    };
    tracing::info!(key_id = %rec.id, account = %rec.account, "console sign-in");
    let mut resp = see_other("/console/keys");
    let h = resp.headers_mut();
    let ttl = st.console.session_ttl.as_secs();
    h.append(
        header::SET_COOKIE,
        set_cookie(&st.console, COOKIE, &id, ttl),
    );
    h.append(
        header::SET_COOKIE,
        set_cookie(&st.console, csrf::SIGN_IN_COOKIE, "", 0),
    );
    resp
}

pub async fn sign_out(State(st): St, s: Signed, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = checked_form(&s, &headers, &body, false) {
        return *r;
    }
    st.console.sessions.remove(&s.id);
    let mut resp = see_other("/console/sign-in?why=signed-out");
    resp.headers_mut()
        .append(header::SET_COOKIE, set_cookie(&st.console, COOKIE, "", 0));
    resp
}
