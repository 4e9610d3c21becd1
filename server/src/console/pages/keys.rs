//! The keys list (status, name, owner and role filters; cursor pages) and create, with
//! the new key shown once.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use keyseal::ErrorCode;
use keyseal_registry::{KeyRecord, KeyStatus, ListQuery, Page};
use maud::{Markup, html};
use serde::Deserialize;

use crate::console::form::{KeyFields, when};
use crate::console::session::Signed;
use crate::error::ApiError;
use crate::http::OWNER_ROLE;
use crate::http::state::{AppState, management_call};

use super::{alert, checked_form, csrf_field, error_page, key_url, notice, page, status_of};

type St = State<Arc<AppState>>;

/// Keys the name search reads at most (the API has no name filter: the console reads
/// pages of the list and keeps the names that match).
const SEARCH_SCAN: usize = 2_000;

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

pub(super) fn nonempty(v: &Option<String>) -> Option<String> {
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

pub(super) fn fields_form(f: &KeyFields, create: bool) -> Markup {
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

pub(super) fn read_only_refusal(s: &Signed) -> Response {
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
pub(super) fn shown_once(
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
