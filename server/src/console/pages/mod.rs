//! The console's pages: the shell every page shares and the helpers of every handler
//! (this file), sign-in ([`sign_in`]), the keys list and create ([`keys`]), one key
//! ([`key`]), an owner's meter ([`owners`]) and the audit log ([`audit`]). Handlers call
//! the registry as the API's handlers do, with the signed-in key as the audit log's
//! actor, and show the API's error code and message when a call is refused.

pub mod audit;
pub mod key;
pub mod keys;
pub mod owners;
pub mod sign_in;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use keyseal::ErrorCode;
use keyseal_registry::{KeyRecord, KeyStatus};
use maud::{DOCTYPE, Markup, html};

use super::csrf;
use super::form::Form;
use super::session::Signed;
use crate::error::ApiError;
use crate::http::state::now;

/// htmx's settings: no injected indicator styles (the CSP has no inline style), no
/// eval, and no page snapshots in localStorage (history is fetched again instead).
const HTMX_CONFIG: &str = r#"{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"historyCacheSize":0,"refreshOnHistoryMiss":true}"#;

/// The shell of every page: head (styles, scripts, htmx's config), the navigation with
/// the signed-in key and sign-out, and `body` in `<main>`.
fn layout(title: &str, who: Option<&Signed>, body: Markup) -> Markup {
    let headers = who.map(|s| serde_json::json!({ "X-CSRF-Token": s.session.csrf }).to_string());
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="htmx-config" content=(HTMX_CONFIG);
                meta name="referrer" content="no-referrer";
                title { (title) " · keyseal console" }
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/htmx.min.js" defer {}
                script src="/console/assets/console.js" defer {}
            }
            body hx-headers=[headers] {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    nav aria-label="Console" {
                        a.brand href="/console/keys" { "keyseal" }
                        @if let Some(s) = who {
                            ul {
                                li { a href="/console/keys" { "Keys" } }
                                @if s.writable() {
                                    li { a href="/console/keys/new" { "New key" } }
                                }
                                li { a href="/console/audit" { "Audit log" } }
                            }
                            span.who {
                                "Account " code { (s.key.account) } " · key " (s.key.name)
                                @if !s.writable() { " " span.badge.readonly { "read-only" } }
                            }
                            form.inline method="post" action="/console/sign-out" {
                                input type="hidden" name=(csrf::FIELD) value=(s.session.csrf);
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main #main tabindex="-1" { (body) }
            }
        }
    }
}

pub(super) fn page(
    status: StatusCode,
    title: &str,
    who: Option<&Signed>,
    body: Markup,
) -> Response {
    let mut resp = (status, layout(title, who, body).into_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

/// An error as the page shows it: the API's message and code, focused.
pub(super) fn alert(message: &str, code: &str) -> Markup {
    html! {
        div.alert role="alert" tabindex="-1" data-focus {
            p { (message) }
            @if !code.is_empty() { p.code { "Error code: " code { (code) } } }
        }
    }
}

/// A confirmation after a redirect (`?done=`): fixed texts only, nothing reflected.
pub(super) fn notice(done: Option<&str>) -> Markup {
    let text = match done {
        Some("saved") => "Saved.",
        Some("enabled") => "The key is enabled.",
        Some("disabled") => "The key is disabled: it fails verification until enabled.",
        Some("deleted") => "The key was deleted: it fails verification from now on.",
        Some("credits") => "Credits added.",
        _ => return html! {},
    };
    html! { div.notice role="status" tabindex="-1" data-focus { p { (text) } } }
}

pub(super) fn error_page(who: Option<&Signed>, e: &ApiError, back: Option<&str>) -> Response {
    page(
        e.status,
        "Error",
        who,
        html! {
            h1 { "That did not work" }
            (alert(&e.message, e.code))
            @if let Some(b) = back { p { a href=(b) { "Back" } } }
        },
    )
}

pub(super) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

pub(super) fn status_of(rec: &KeyRecord) -> &'static str {
    match rec.status(now()) {
        KeyStatus::Active => "active",
        KeyStatus::Inactive => "inactive",
        KeyStatus::Deleted | KeyStatus::All => "deleted",
    }
}

pub(super) fn key_url(id: &str) -> String {
    format!("/console/keys/{id}")
}

/// A state change's form: from this site, with the session's CSRF token, and (when
/// `write`) by a key that may write. Refusals are pages with the reason.
pub(super) fn checked_form(
    s: &Signed,
    headers: &HeaderMap,
    body: &[u8],
    write: bool,
) -> Result<Form, Box<Response>> {
    let refuse = |msg: &str, code: ErrorCode| {
        let e = ApiError::new(StatusCode::FORBIDDEN, code, msg);
        error_page(Some(s), &e, Some("/console/keys"))
    };
    if csrf::cross_site(headers) {
        return Err(Box::new(refuse(
            "permission denied: the request came from another site",
            ErrorCode::PermissionDenied,
        )));
    }
    let form = Form::parse(body).ok_or_else(|| {
        Box::new(error_page(
            Some(s),
            &ApiError::bad_request("invalid argument: expected a form"),
            None,
        ))
    })?;
    match csrf::presented(headers, form.opt(csrf::FIELD)) {
        Some(t) if csrf::same(t, &s.session.csrf) => {}
        _ => {
            return Err(Box::new(refuse(
                "permission denied: the form's CSRF token is missing or stale; reload the page and try again",
                ErrorCode::PermissionDenied,
            )));
        }
    }
    if write && !s.writable() {
        return Err(Box::new(refuse(
            "read only key: this console is read-only because the key you signed in with is read-only",
            ErrorCode::ReadOnlyKey,
        )));
    }
    Ok(form)
}

pub(super) fn csrf_field(s: &Signed) -> Markup {
    html! { input type="hidden" name=(csrf::FIELD) value=(s.session.csrf); }
}
