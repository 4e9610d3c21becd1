//! The console's pages: sign-in, the keys list, create (the new key shown once), the key
//! page (edit, enable/disable, roll, delete) and the audit log. Handlers call the
//! registry as the API's handlers do, with the signed-in key as the audit log's actor,
//! and show the API's error code and message when a call is refused.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use keyseal::ErrorCode;
use keyseal_registry::{AuditEntry, AuditQuery, KeyRecord, KeyStatus, ListQuery, Page};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use serde_json::Value;
use zeroize::Zeroizing;

use super::chart;
use super::csrf;
use super::form::{Form, KeyFields, limit_text, when};
use super::session::{COOKIE, Session, Signed, cookie, set_cookie};
use crate::error::ApiError;
use crate::http::extract::{authenticate_secret, client_ip};
use crate::http::state::{AppState, management_call, now};
use crate::http::{MAX_BODY, OWNER_ROLE};

type St = State<Arc<AppState>>;

/// htmx's settings: no injected indicator styles (the CSP has no inline style), no
/// eval, and no page snapshots in localStorage (history is fetched again instead).
const HTMX_CONFIG: &str = r#"{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"historyCacheSize":0,"refreshOnHistoryMiss":true}"#;

/// Keys the name search reads at most (the API has no name filter: the console reads
/// pages of the list and keeps the names that match).
const SEARCH_SCAN: usize = 2_000;

// ---------------------------------------------------------------- layout and helpers

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

// ---------------------------------------------------------------- sign-in and out

#[derive(Deserialize)]
pub struct SignInQuery {
    why: Option<String>,
}

fn sign_in_page(
    c: &super::Console,
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
                    spellcheck="false" aria-describedby="key-help" autofocus;
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

// ---------------------------------------------------------------- the keys list

#[derive(Deserialize, Default)]
pub struct ListParams {
    status: Option<String>,
    q: Option<String>,
    owner: Option<String>,
    role: Option<String>,
    after: Option<String>,
    before: Option<String>,
    done: Option<String>,
}

fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The keys of a list request, and the cursors to the pages around it.
struct Listed {
    keys: Vec<KeyRecord>,
    total: u64,
    newer: Option<String>,
    older: Option<String>,
    /// The name search stopped after [`SEARCH_SCAN`] keys.
    truncated: bool,
}

fn list_page(
    reg: &keyseal_registry::Registry,
    account: &str,
    mut q: ListQuery,
    search: Option<&str>,
) -> Result<Listed, keyseal::Error> {
    let Some(needle) = search.map(str::to_lowercase) else {
        let backward = q.ending_before.is_some();
        let came_from_newer = q.starting_after.is_some();
        let p: Page<KeyRecord> = reg.list(account, &q)?;
        let older = match &p.next_cursor {
            Some(c) if (!backward && p.has_more) || (backward && p.count > 0) => Some(c.clone()),
            _ => None,
        };
        let newer = match &p.prev_cursor {
            Some(c) if (backward && p.has_more) || (!backward && came_from_newer) => {
                Some(c.clone())
            }
            _ => None,
        };
        return Ok(Listed {
            keys: p.data,
            total: p.total,
            newer,
            older,
            truncated: false,
        });
    };
    q.limit = keyseal_registry::MAX_LIMIT;
    q.starting_after = None;
    q.ending_before = None;
    let (mut keys, mut scanned) = (Vec::new(), 0usize);
    loop {
        let p = reg.list(account, &q)?;
        scanned += p.count;
        keys.extend(
            p.data
                .into_iter()
                .filter(|k| k.name.to_lowercase().contains(&needle)),
        );
        if !p.has_more || scanned >= SEARCH_SCAN || keys.len() >= 100 {
            let truncated = p.has_more;
            let total = keys.len() as u64;
            return Ok(Listed {
                keys,
                total,
                newer: None,
                older: None,
                truncated,
            });
        }
        q.starting_after = p.next_cursor;
    }
}

fn list_url(p: &ListParams, cursor: (&str, &str)) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for (k, v) in [
        ("status", &p.status),
        ("owner", &p.owner),
        ("role", &p.role),
    ] {
        if let Some(v) = nonempty(v) {
            pairs.push((k, v));
        }
    }
    pairs.push((cursor.0, cursor.1.to_owned()));
    format!(
        "/console/keys?{}",
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    )
}

pub async fn list_keys(State(st): St, s: Signed, Query(p): Query<ListParams>) -> Response {
    let status = match p.status.as_deref().unwrap_or("") {
        "active" => KeyStatus::Active,
        "inactive" => KeyStatus::Inactive,
        "deleted" => KeyStatus::Deleted,
        _ => KeyStatus::All,
    };
    let q = ListQuery {
        status,
        owner: nonempty(&p.owner),
        role: nonempty(&p.role),
        starting_after: nonempty(&p.after),
        ending_before: nonempty(&p.before),
        ..ListQuery::default()
    };
    let search = nonempty(&p.q);
    let account = s.key.account.clone();
    let needle = search.clone();
    let listed = management_call(&st, move |reg| {
        list_page(reg, &account, q, needle.as_deref())
    })
    .await;
    let listed = match listed {
        Ok(l) => l,
        Err(e) => return error_page(Some(&s), &e, Some("/console/keys")),
    };
    let sel = p.status.as_deref().unwrap_or("all");
    let body = html! {
        h1 { "Keys" }
        (notice(p.done.as_deref()))
        form.filters method="get" action="/console/keys" role="search"
            hx-get="/console/keys" hx-trigger="submit, input delay:400ms, change"
            hx-target="#results" hx-select="#results" hx-swap="outerHTML" hx-push-url="true" {
            div.field {
                label for="f-q" { "Name contains" }
                input #f-q type="search" name="q" value=[search.as_deref()];
            }
            div.field {
                label for="f-status" { "Status" }
                select #f-status name="status" {
                    @for (v, label) in [("all", "All but deleted"), ("active", "Active"), ("inactive", "Inactive"), ("deleted", "Deleted")] {
                        option value=(v) selected[sel == v] { (label) }
                    }
                }
            }
            div.field {
                label for="f-owner" { "Owner" }
                input #f-owner type="text" name="owner" value=[nonempty(&p.owner)];
            }
            div.field {
                label for="f-role" { "Role" }
                input #f-role type="text" name="role" value=[nonempty(&p.role)];
            }
            button type="submit" { "Filter" }
        }
        div #results {
            p role="status" {
                @if search.is_some() {
                    (listed.total) " matching " @if listed.total == 1 { "key" } @else { "keys" }
                    @if listed.truncated { " among the newest " (SEARCH_SCAN) " (narrow the filters to search further)" }
                } @else {
                    (listed.total) " " @if listed.total == 1 { "key" } @else { "keys" }
                }
            }
            @if listed.keys.is_empty() {
                p { "No keys match." @if s.writable() { " " a href="/console/keys/new" { "Create a key" } } }
            } @else {
                div.scroll role="region" aria-label="Keys" tabindex="0" {
                    table.keys {
                        thead { tr {
                            th scope="col" { "Name" } th scope="col" { "Status" } th scope="col" { "Owner" }
                            th scope="col" { "Role" } th scope="col" { "Id" } th scope="col" { "Created" }
                        } }
                        tbody {
                            @for k in &listed.keys {
                                tr {
                                    td {
                                        @if k.deleted_at.is_some() { (k.name) }
                                        @else { a href=(key_url(&k.id)) { (k.name) } }
                                    }
                                    td { span class={ "badge " (status_of(k)) } { (status_of(k)) } }
                                    td { @if let Some(o) = &k.owner { a href=(super::owners::owner_url(o)) { (o) } } }
                                    td { (k.role.as_deref().unwrap_or("")) }
                                    td { code { (k.id) } }
                                    td { (when(k.created_at)) }
                                }
                            }
                        }
                    }
                }
            }
            @if listed.newer.is_some() || listed.older.is_some() {
                nav.pages aria-label="Pages" {
                    @if let Some(c) = &listed.newer { a rel="prev" href=(list_url(&p, ("before", c))) { "← Newer keys" } }
                    @if let Some(c) = &listed.older { a rel="next" href=(list_url(&p, ("after", c))) { "Older keys →" } }
                }
            }
        }
    };
    page(StatusCode::OK, "Keys", Some(&s), body)
}

// ---------------------------------------------------------------- create

fn fields_form(f: &KeyFields, create: bool) -> Markup {
    html! {
        div.field {
            label for="k-name" { "Name" }
            input #k-name type="text" name="name" value=(f.name) required maxlength="64"
                pattern="[A-Za-z0-9_\\-]+" aria-describedby="k-name-help";
            p #k-name-help.help { "Letters, digits, - and _; unique among the account's keys." }
        }
        div.field {
            label for="k-description" { "Description" }
            textarea #k-description name="description" rows="2" maxlength="500" { (f.description) }
        }
        div.row {
            div.field {
                label for="k-owner" { "Owner" }
                input #k-owner type="text" name="owner" value=(f.owner) aria-describedby="k-owner-help";
                p #k-owner-help.help { "The user the key acts for (optional)." }
            }
            div.field {
                label for="k-role" { "Role" }
                input #k-role type="text" name="role" value=(f.role) list="roles";
                datalist #roles { option value=(OWNER_ROLE) {} }
            }
        }
        div.field {
            label for="k-scopes" { "Scopes" }
            input #k-scopes type="text" name="scopes" value=(f.scopes) aria-describedby="k-scopes-help";
            p #k-scopes-help.help { "Separated by spaces or commas, e.g. " code { "read:orders write:orders" } "." }
        }
        div.field.check {
            input #k-read-only type="checkbox" name="read_only" checked[f.read_only];
            label for="k-read-only" { "Read-only (GET, HEAD and OPTIONS requests only)" }
        }
        div.field {
            label for="k-ips" { "Allowed IP ranges" }
            textarea #k-ips name="allowed_ips" rows="2" aria-describedby="k-ips-help" { (f.allowed_ips) }
            p #k-ips-help.help { "CIDR ranges, one a line or separated by spaces; empty: anywhere." }
        }
        div.field {
            label for="k-expires" { "Expires (UTC)" }
            input #k-expires type="datetime-local" name="expires" value=(f.expires) aria-describedby="k-expires-help";
            p #k-expires-help.help { "Empty: never." }
        }
        fieldset {
            legend { "Metering" }
            div.field {
                label for="k-limits" { "Rate limits" }
                textarea #k-limits name="limits" rows="2" aria-describedby="k-limits-help" { (f.limits) }
                p #k-limits-help.help { "One a line as " code { "NAME=LIMIT/WINDOW" } ", e.g. " code { "per_minute=100/1m" } "; empty: none." }
            }
            div.row {
                div.field {
                    label for="k-credits" { @if create { "Credits" } @else { "Set the credit balance" } }
                    input #k-credits type="number" min="0" name="credits" value=(f.credits) aria-describedby="k-credits-help";
                    p #k-credits-help.help {
                        @if create { "Starting balance; empty: no credits." } @else { "Empty: unchanged." }
                    }
                }
                div.field {
                    label for="k-refill" { "Refill amount" }
                    input #k-refill type="number" min="0" name="refill_amount" value=(f.refill_amount);
                }
                div.field {
                    label for="k-interval" { "Refill every" }
                    select #k-interval name="refill_interval" {
                        option value="monthly" selected[f.refill_interval != "daily"] { "month" }
                        option value="daily" selected[f.refill_interval == "daily"] { "day" }
                    }
                }
            }
        }
    }
}

fn new_key_page(
    s: &Signed,
    status: StatusCode,
    f: &KeyFields,
    error: Option<&ApiError>,
) -> Response {
    page(
        status,
        "New key",
        Some(s),
        html! {
            h1 { "New key" }
            @if let Some(e) = error { (alert(&e.message, e.code)) }
            form.card method="post" action="/console/keys" {
                (csrf_field(s))
                (fields_form(f, true))
                button type="submit" { "Create key" }
            }
        },
    )
}

fn read_only_refusal(s: &Signed) -> Response {
    let e = ApiError::from_auth(&keyseal::Error::ReadOnlyKey);
    error_page(Some(s), &e, Some("/console/keys"))
}

pub async fn new_key(s: Signed) -> Response {
    if !s.writable() {
        return read_only_refusal(&s);
    }
    new_key_page(&s, StatusCode::OK, &KeyFields::default(), None)
}

/// The new key, shown once in a dialog with a copy button and a plain warning. Closing
/// it goes to the key's page, which never holds the secret.
fn shown_once(
    s: &Signed,
    title: &str,
    rec: &KeyRecord,
    key: &keyseal::ApiKey,
    extra: Option<String>,
) -> Response {
    page(
        StatusCode::OK,
        title,
        Some(s),
        html! {
            h1 { (title) }
            dialog.once open aria-labelledby="once-title" aria-describedby="once-warning" {
                h2 #once-title { "Copy the key for " (rec.name) " now" }
                p #once-warning.warning {
                    strong { "This is the only time the full key is shown." }
                    " keyseal keeps only a digest of it and cannot show it again. Store it in a "
                    "password manager or your secrets store now; if you lose it, roll the key."
                }
                @if let Some(x) = extra { p { (x) } }
                label for="secret" { "Full key" }
                div.copy {
                    input #secret type="text" readonly value=(key.expose()) autocomplete="off"
                        spellcheck="false" data-focus;
                    button #copy type="button" data-copy="secret" { "Copy" }
                }
                p #copy-status role="status" {}
                p { a.button #close-once href=(key_url(&rec.id)) { "I have stored the key: close" } }
            }
        },
    )
}

pub async fn create_key(State(st): St, s: Signed, headers: HeaderMap, body: Bytes) -> Response {
    let form = match checked_form(&s, &headers, &body, true) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let fields = KeyFields::from_form(&form);
    let new = match fields.to_new(&s.key.account) {
        Ok(n) => n,
        Err(m) => {
            let e = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidArgument,
                m,
            );
            return new_key_page(&s, e.status, &fields, Some(&e));
        }
    };
    let actor = s.actor();
    match management_call(&st, move |reg| reg.create(&new, &actor)).await {
        Ok(created) => {
            tracing::info!(key_id = %created.record.id, by = %s.key.id, "key created (console)");
            shown_once(&s, "Key created", &created.record, &created.key, None)
        }
        Err(e) => new_key_page(&s, e.status, &fields, Some(&e)),
    }
}

// ---------------------------------------------------------------- one key

#[derive(Deserialize)]
pub struct KeyQuery {
    done: Option<String>,
    days: Option<i64>,
}

/// The activity chart's ranges, in days; the first is the default.
const RANGES: [i64; 4] = [14, 7, 30, 90];

/// Audit entries the activity chart reads at most.
const ACTIVITY_SCAN: usize = 1_000;

/// The record (with its credit balance) and its audit entries of the last `days` days
/// (at most [`ACTIVITY_SCAN`]).
async fn load_key(
    st: &Arc<AppState>,
    s: &Signed,
    id: String,
    days: i64,
) -> Result<(KeyRecord, Vec<AuditEntry>), ApiError> {
    let account = s.key.account.clone();
    let since = (now().div_euclid(86_400) - days + 1) * 86_400;
    management_call(st, move |reg| {
        let id = reg.resolve_key(&account, &id)?;
        let mut rec = reg.get(&account, &id)?;
        if let Some(c) = rec.credits.as_mut() {
            c.remaining = reg.credit_balance(&account, &id)?;
        }
        let mut q = AuditQuery {
            key_id: Some(id),
            limit: keyseal_registry::MAX_LIMIT,
            ..AuditQuery::default()
        };
        let mut entries = Vec::new();
        loop {
            let p = reg.audit(&account, &q)?;
            let done = !p.has_more || p.data.last().is_none_or(|e| e.at < since);
            entries.extend(p.data.into_iter().filter(|e| e.at >= since));
            if done || entries.len() >= ACTIVITY_SCAN {
                return Ok((rec, entries));
            }
            q.starting_after = p.next_cursor;
        }
    })
    .await
}

/// Changes a day over the last `days` days (UTC), from the key's audit entries.
fn activity(entries: &[AuditEntry], days: i64) -> Vec<(String, u64)> {
    let today = now().div_euclid(86_400);
    (0..days)
        .rev()
        .map(|back| {
            let day = today - back;
            let n = entries
                .iter()
                .filter(|e| e.at.div_euclid(86_400) == day)
                .count() as u64;
            let (_, m, d) = keyseal::meter::calendar::civil_from_days(day);
            (format!("{m:02}-{d:02}"), n)
        })
        .collect()
}

fn key_page(
    s: &Signed,
    status: StatusCode,
    rec: &KeyRecord,
    entries: &[AuditEntry],
    days: i64,
    edit: &KeyFields,
    top: Markup,
) -> Response {
    let id = &rec.id;
    let enabled = rec.enabled;
    let body = html! {
        h1 { (rec.name) " " span class={ "badge " (status_of(rec)) } { (status_of(rec)) } }
        (top)
        section aria-labelledby="details-title" {
            h2 #details-title { "Details" }
            dl.details {
                dt { "Id" } dd { code { (id) } }
                dt { "Key starts with" } dd { code { (rec.prefix) "_" (id) "_…" } }
                dt { "Description" } dd { (rec.description) }
                dt { "Owner" } dd {
                    @if let Some(o) = &rec.owner { a href=(super::owners::owner_url(o)) { (o) } } @else { "—" }
                }
                dt { "Role" } dd { (rec.role.as_deref().unwrap_or("—")) }
                dt { "Scopes" } dd { @if rec.scopes.is_empty() { "—" } @else { (rec.scopes.join(", ")) } }
                dt { "Read-only" } dd { @if rec.read_only { "yes" } @else { "no" } }
                dt { "Allowed IP ranges" } dd { @if rec.allowed_ips.is_empty() { "anywhere" } @else { (rec.allowed_ips.join(", ")) } }
                dt { "Expires" } dd { @if let Some(t) = rec.expires_at { (when(t)) } @else { "never" } }
                dt { "Rate limits" } dd {
                    @if rec.limits.is_empty() { "none" }
                    @else { (rec.limits.iter().map(limit_text).collect::<Vec<_>>().join(", ")) }
                }
                dt { "Credits" } dd {
                    @match &rec.credits {
                        None => { "not metered" }
                        Some(c) => {
                            (c.remaining.unwrap_or(0)) " remaining"
                            @if let Some(r) = &c.refill { "; +" (r.amount) " every " (if r.interval == "daily" { "day" } else { "month" }) }
                        }
                    }
                }
                dt { "Created" } dd { (when(rec.created_at)) " by " code { (rec.created_by.to_stored()) } }
                dt { "Changed" } dd { (when(rec.modified_at)) " by " code { (rec.modified_by.to_stored()) } ", version " (rec.version) }
                dt { "Last used" } dd { @if let Some(t) = rec.last_used_at { (when(t)) } @else { "never" } }
                @if let Some(t) = rec.rolled_at { dt { "Rolled" } dd { (when(t)) } }
                @if let Some(t) = rec.previous_secret_expires_at {
                    dt { "Old secret works until" } dd { (when(t)) }
                }
            }
            p { a href={ "/console/audit?key_id=" (id) } { "Audit log of this key" } }
        }
        section aria-labelledby="activity-title" {
            h2 #activity-title { "Activity" }
            form.filters method="get" action=(key_url(id)) {
                div.field {
                    label for="days" { "Range" }
                    select #days name="days" {
                        @for d in RANGES { option value=(d) selected[d == days] { "last " (d) " days" } }
                    }
                }
                button #show-range type="submit" { "Show" }
            }
            (chart::bars("activity", &format!("Changes to this key a day, last {days} days (UTC), from the audit log"), &activity(entries, days)))
        }
        @if s.writable() {
            section aria-labelledby="actions-title" {
                h2 #actions-title { "Actions" }
                div.actions {
                    form.card method="post" action={ (key_url(id)) (if enabled { "/disable" } else { "/enable" }) } {
                        (csrf_field(s))
                        input type="hidden" name="version" value=(rec.version);
                        @if enabled {
                            p { "Disabling makes the key fail verification until it is enabled again." }
                            button #disable type="submit" { "Disable key" }
                        } @else {
                            p { "The key is disabled." }
                            button #enable type="submit" { "Enable key" }
                        }
                    }
                    form.card method="post" action={ (key_url(id)) "/roll" } {
                        (csrf_field(s))
                        input type="hidden" name="version" value=(rec.version);
                        p { "Rolling gives the key a new secret, shown once. The old one keeps working during the grace period." }
                        label for="grace" { "Grace period (seconds)" }
                        input #grace type="number" name="grace_seconds" min="0" max=(keyseal_registry::MAX_ROLL_GRACE) value="3600";
                        button #roll type="submit" { "Roll key" }
                    }
                    @if rec.credits.is_some() {
                        form.card method="post" action={ (key_url(id)) "/credits" } {
                            (csrf_field(s))
                            p { "Adds to the key's credit balance (the refill rule is unchanged)." }
                            label for="add-credits" { "Credits to add" }
                            input #add-credits type="number" name="add" min="1" required;
                            button #add-credits-submit type="submit" { "Add credits" }
                        }
                    }
                    div.card {
                        p { "Deleting stops the key at once. It cannot be undone." }
                        a.button.danger #delete href={ (key_url(id)) "/delete" } { "Delete key…" }
                    }
                }
            }
            section aria-labelledby="edit-title" {
                h2 #edit-title { "Edit" }
                form.card #edit method="post" action={ (key_url(id)) "/edit" } {
                    (csrf_field(s))
                    input type="hidden" name="version" value=(rec.version);
                    (fields_form(edit, false))
                    button #save type="submit" { "Save changes" }
                }
            }
        }
    };
    page(status, &rec.name, Some(s), body)
}

pub async fn show_key(
    State(st): St,
    s: Signed,
    Path(id): Path<String>,
    Query(q): Query<KeyQuery>,
) -> Response {
    let days = q.days.filter(|d| RANGES.contains(d)).unwrap_or(RANGES[0]);
    match load_key(&st, &s, id, days).await {
        Ok((rec, entries)) => {
            let fields = KeyFields::from_record(&rec);
            key_page(
                &s,
                StatusCode::OK,
                &rec,
                &entries,
                days,
                &fields,
                notice(q.done.as_deref()),
            )
        }
        Err(e) => error_page(Some(&s), &e, Some("/console/keys")),
    }
}

/// A write refused because the key changed since the page was read: say so, and offer
/// to reload.
fn conflict_page(s: &Signed, id: &str, e: &ApiError) -> Response {
    page(
        StatusCode::PRECONDITION_FAILED,
        "Changed by someone else",
        Some(s),
        html! {
            h1 { "Someone else changed this key" }
            div.alert role="alert" tabindex="-1" data-focus {
                p {
                    "The key was changed (through the API, the CLI or another console) after you "
                    "opened this page, so your change was not saved. Reload the key to see its "
                    "current values, then make your change again."
                }
                p.code { "Error code: " code { (e.code) } }
            }
            p { a.button #reload href=(key_url(id)) { "Reload the key" } }
        },
    )
}

/// The answer to a failed write on key `id`: the conflict page, or the key page with
/// the error (and the user's edits, when given).
async fn write_failed(
    st: &Arc<AppState>,
    s: &Signed,
    id: &str,
    e: ApiError,
    edit: Option<KeyFields>,
) -> Response {
    if e.code == ErrorCode::VersionConflict.as_str() {
        return conflict_page(s, id, &e);
    }
    match load_key(st, s, id.to_owned(), RANGES[0]).await {
        Ok((rec, entries)) => {
            let fields = edit.unwrap_or_else(|| KeyFields::from_record(&rec));
            key_page(
                s,
                e.status,
                &rec,
                &entries,
                RANGES[0],
                &fields,
                alert(&e.message, e.code),
            )
        }
        Err(_) => error_page(Some(s), &e, Some("/console/keys")),
    }
}

fn version_of(f: &Form) -> Result<u64, ApiError> {
    f.get("version").parse().map_err(|_| {
        ApiError::bad_request("invalid argument: the form lost the key's version; reload the page")
    })
}

pub async fn edit_key(
    State(st): St,
    s: Signed,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match checked_form(&s, &headers, &body, true) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let fields = KeyFields::from_form(&form);
    let patch = version_of(&form).and_then(|v| {
        fields.to_patch(v).map_err(|m| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidArgument,
                m,
            )
        })
    });
    let patch = match patch {
        Ok(p) => p,
        Err(e) => return write_failed(&st, &s, &id, e, Some(fields)).await,
    };
    let (account, actor, key) = (s.key.account.clone(), s.actor(), id.clone());
    let r = management_call(&st, move |reg| {
        reg.update(&account, &reg.resolve_key(&account, &key)?, &patch, &actor)
    })
    .await;
    match r {
        Ok(rec) => see_other(&format!("{}?done=saved", key_url(&rec.id))),
        Err(e) => write_failed(&st, &s, &id, e, Some(fields)).await,
    }
}

async fn set_enabled(
    st: Arc<AppState>,
    s: Signed,
    id: String,
    headers: HeaderMap,
    body: Bytes,
    enabled: bool,
) -> Response {
    let form = match checked_form(&s, &headers, &body, true) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let version = match version_of(&form) {
        Ok(v) => v,
        Err(e) => return write_failed(&st, &s, &id, e, None).await,
    };
    let (account, actor, key) = (s.key.account.clone(), s.actor(), id.clone());
    let r = management_call(&st, move |reg| {
        let id = reg.resolve_key(&account, &key)?;
        if enabled {
            reg.enable(&account, &id, version, &actor)
        } else {
            reg.disable(&account, &id, version, &actor)
        }
    })
    .await;
    match r {
        Ok(rec) => see_other(&format!(
            "{}?done={}",
            key_url(&rec.id),
            if enabled { "enabled" } else { "disabled" }
        )),
        Err(e) => write_failed(&st, &s, &id, e, None).await,
    }
}

pub async fn enable_key(
    State(st): St,
    s: Signed,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    set_enabled(st, s, id, headers, body, true).await
}

pub async fn disable_key(
    State(st): St,
    s: Signed,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    set_enabled(st, s, id, headers, body, false).await
}

/// The amount of an "add credits" form: a whole number of 1 or more.
pub(super) fn amount_of(f: &Form) -> Result<u64, ApiError> {
    f.get("add")
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidArgument,
                "invalid argument: the credits to add must be a whole number of 1 or more",
            )
        })
}

pub async fn add_key_credits(
    State(st): St,
    s: Signed,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match checked_form(&s, &headers, &body, true) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let amount = match amount_of(&form) {
        Ok(n) => n,
        Err(e) => return write_failed(&st, &s, &id, e, None).await,
    };
    let (account, actor, key) = (s.key.account.clone(), s.actor(), id.clone());
    let r = management_call(&st, move |reg| {
        let id = reg.resolve_key(&account, &key)?;
        reg.add_credits(&account, &id, amount, &actor).map(|_| id)
    })
    .await;
    match r {
        Ok(id) => see_other(&format!("{}?done=credits", key_url(&id))),
        Err(e) => write_failed(&st, &s, &id, e, None).await,
    }
}

pub async fn roll_key(
    State(st): St,
    s: Signed,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match checked_form(&s, &headers, &body, true) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let parsed = version_of(&form).and_then(|v| {
        let grace = form.get("grace_seconds");
        let grace = if grace.is_empty() {
            Ok(0)
        } else {
            grace.parse::<i64>()
        };
        grace.map(|g| (v, g)).map_err(|_| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidArgument,
                "invalid argument: the grace period must be a whole number of seconds",
            )
        })
    });
    let (version, grace) = match parsed {
        Ok(x) => x,
        Err(e) => return write_failed(&st, &s, &id, e, None).await,
    };
    let (account, actor, key) = (s.key.account.clone(), s.actor(), id.clone());
    let r = management_call(&st, move |reg| {
        let id = reg.resolve_key(&account, &key)?;
        reg.roll(&account, &id, grace, Some(version), &actor)
    })
    .await;
    match r {
        Ok(rolled) => {
            tracing::info!(key_id = %rolled.record.id, by = %s.key.id, "key rolled (console)");
            let extra = rolled
                .record
                .previous_secret_expires_at
                .map(|t| format!("The old key keeps working until {}.", when(t)))
                .unwrap_or_else(|| "The old key stopped working.".to_owned());
            shown_once(&s, "Key rolled", &rolled.record, &rolled.key, Some(extra))
        }
        Err(e) => write_failed(&st, &s, &id, e, None).await,
    }
}

fn confirm_page(
    s: &Signed,
    status: StatusCode,
    rec: &KeyRecord,
    error: Option<&ApiError>,
) -> Response {
    page(
        status,
        "Delete key",
        Some(s),
        html! {
            h1 { "Delete " (rec.name) "?" }
            @if let Some(e) = error { (alert(&e.message, e.code)) }
            form.card method="post" action={ (key_url(&rec.id)) "/delete" } {
                (csrf_field(s))
                input type="hidden" name="version" value=(rec.version);
                p.warning { "Every request made with this key fails from the moment it is deleted. This cannot be undone." }
                div.field.check {
                    input #confirm type="checkbox" name="confirm" required;
                    label for="confirm" { "I understand: delete the key " strong { (rec.name) } }
                }
                div.buttons {
                    button.danger #confirm-delete type="submit" { "Delete key" }
                    a.button.secondary href=(key_url(&rec.id)) { "Cancel" }
                }
            }
        },
    )
}

pub async fn confirm_delete(State(st): St, s: Signed, Path(id): Path<String>) -> Response {
    if !s.writable() {
        return read_only_refusal(&s);
    }
    match load_key(&st, &s, id, 1).await {
        Ok((rec, _)) => confirm_page(&s, StatusCode::OK, &rec, None),
        Err(e) => error_page(Some(&s), &e, Some("/console/keys")),
    }
}

pub async fn delete_key(
    State(st): St,
    s: Signed,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match checked_form(&s, &headers, &body, true) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let version = match version_of(&form) {
        Ok(v) => v,
        Err(e) => return write_failed(&st, &s, &id, e, None).await,
    };
    if form.opt("confirm").is_none() {
        let e = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidArgument,
            "invalid argument: tick the box to confirm the deletion",
        );
        return match load_key(&st, &s, id, 1).await {
            Ok((rec, _)) => confirm_page(&s, e.status, &rec, Some(&e)),
            Err(e) => error_page(Some(&s), &e, Some("/console/keys")),
        };
    }
    let (account, actor, key) = (s.key.account.clone(), s.actor(), id.clone());
    let r = management_call(&st, move |reg| {
        let id = reg.resolve_key(&account, &key)?;
        reg.delete(&account, &id, Some(version), &actor)
    })
    .await;
    match r {
        Ok(rec) => {
            tracing::info!(key_id = %rec.id, by = %s.key.id, "key deleted (console)");
            if rec.id == s.key.id {
                // Deleting the key of this session ends it (the next request signs out).
                return see_other("/console/sign-in?why=key-changed");
            }
            see_other("/console/keys?done=deleted")
        }
        Err(e) => write_failed(&st, &s, &id, e, None).await,
    }
}

// ---------------------------------------------------------------- the audit log

#[derive(Deserialize)]
pub struct AuditParams {
    key_id: Option<String>,
    after: Option<String>,
    before: Option<String>,
}

/// A changed field's value for people: strings bare, `null` as "—", times (`*_at`) as
/// dates.
fn show_change(field: &str, v: &Value) -> String {
    match (field.ends_with("_at"), v.as_i64()) {
        (true, Some(t)) => when(t),
        _ => show_value(v),
    }
}

/// A JSON value for people: strings bare, `null` as "—".
pub(super) fn show_value(v: &Value) -> String {
    match v {
        Value::Null => "—".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub async fn audit(State(st): St, s: Signed, Query(p): Query<AuditParams>) -> Response {
    let key_id = nonempty(&p.key_id);
    let q = AuditQuery {
        key_id: key_id.clone(),
        starting_after: nonempty(&p.after),
        ending_before: nonempty(&p.before),
        ..AuditQuery::default()
    };
    let backward = q.ending_before.is_some();
    let came_from_newer = q.starting_after.is_some();
    let account = s.key.account.clone();
    let page_r = management_call(&st, move |reg| reg.audit(&account, &q)).await;
    let pg = match page_r {
        Ok(p) => p,
        Err(e) => return error_page(Some(&s), &e, Some("/console/audit")),
    };
    let older = match &pg.next_cursor {
        Some(c) if (!backward && pg.has_more) || (backward && pg.count > 0) => Some(c.clone()),
        _ => None,
    };
    let newer = match &pg.prev_cursor {
        Some(c) if (backward && pg.has_more) || (!backward && came_from_newer) => Some(c.clone()),
        _ => None,
    };
    let url = |k: &str, c: &str| {
        let mut pairs = vec![(k, c.to_owned())];
        if let Some(id) = &key_id {
            pairs.push(("key_id", id.clone()));
        }
        format!(
            "/console/audit?{}",
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )
    };
    let body = html! {
        h1 { "Audit log" }
        form.filters method="get" action="/console/audit" role="search" {
            div.field {
                label for="a-key" { "Key id" }
                input #a-key type="text" name="key_id" value=[key_id.as_deref()] aria-describedby="a-key-help";
                p #a-key-help.help { "A key's id, or " code { "owner:<owner>" } " for an owner's meter. Empty: every key." }
            }
            button type="submit" { "Filter" }
        }
        p role="status" { (pg.total) " " @if pg.total == 1 { "entry" } @else { "entries" } }
        div.scroll role="region" aria-label="Audit entries" tabindex="0" {
            table.audit {
                thead { tr {
                    th scope="col" { "When" } th scope="col" { "Key" } th scope="col" { "Action" }
                    th scope="col" { "Who" } th scope="col" { "Version" } th scope="col" { "Changes (old → new)" }
                } }
                tbody {
                    @for e in &pg.data {
                        tr {
                            td { (when(e.at)) }
                            td { a href={ "/console/audit?key_id=" (e.key_id) } { code { (e.key_id) } } }
                            td { (show_value(&serde_json::to_value(e.action).unwrap_or(Value::Null))) }
                            td { code { (e.actor.to_stored()) } }
                            td { (e.version) }
                            td {
                                @if e.changes.is_empty() { "—" } @else {
                                    ul.changes {
                                        @for (field, c) in &e.changes {
                                            li {
                                                code { (field) } ": "
                                                span.old { (show_change(field, &c["old"])) }
                                                " → "
                                                span.new { (show_change(field, &c["new"])) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if newer.is_some() || older.is_some() {
            nav.pages aria-label="Pages" {
                @if let Some(c) = &newer { a rel="prev" href=(url("before", c)) { "← Newer entries" } }
                @if let Some(c) = &older { a rel="next" href=(url("after", c)) { "Older entries →" } }
            }
        }
    };
    page(StatusCode::OK, "Audit log", Some(&s), body)
}
