//! One key's page: its fields, its activity chart, and edit, enable/disable, add
//! credits, roll and delete, each at the version the page was read at.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use keyseal::ErrorCode;
use keyseal_registry::usage::{Granularity, UsageBucket, UsageQuery};

use crate::console::chart::per_day;
use keyseal_registry::{AuditEntry, AuditQuery, KeyRecord};
use maud::{Markup, html};
use serde::Deserialize;

use crate::console::chart;
use crate::console::form::{Form, KeyFields, limit_text, when};
use crate::console::session::Signed;
use crate::error::ApiError;
use crate::http::state::{AppState, management_call, now};

use super::keys::{fields_form, read_only_refusal, shown_once};
use super::{
    alert, checked_form, csrf_field, error_page, key_url, notice, page, see_other, status_of,
};

type St = State<Arc<AppState>>;

#[derive(Deserialize)]
pub struct KeyQuery {
    done: Option<String>,
    days: Option<i64>,
}

use crate::console::chart::RANGES;

/// Audit entries the activity chart reads at most.
const ACTIVITY_SCAN: usize = 1_000;

/// What the key page shows: the record (with its credit balance), its audit entries
/// and its usage buckets (a day each) of the last `days` days.
struct Loaded {
    rec: KeyRecord,
    entries: Vec<AuditEntry>,
    usage: Vec<UsageBucket>,
}

/// The key page's data for the last `days` days (at most [`ACTIVITY_SCAN`] audit
/// entries).
async fn load_key(
    st: &Arc<AppState>,
    s: &Signed,
    id: String,
    days: i64,
) -> Result<Loaded, ApiError> {
    let account = s.key.account.clone();
    let since = (now().div_euclid(86_400) - days + 1) * 86_400;
    management_call(st, move |reg| {
        let id = reg.resolve_key(&account, &id)?;
        let mut rec = reg.get(&account, &id)?;
        if let Some(c) = rec.credits.as_mut() {
            c.remaining = reg.credit_balance(&account, &id)?;
        }
        let usage = reg.usage(
            &account,
            &UsageQuery {
                key_id: Some(id.clone()),
                owner: None,
                from: since,
                to: now() + 1,
                granularity: Granularity::Day,
            },
        )?;
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
                return Ok(Loaded {
                    rec,
                    entries,
                    usage,
                });
            }
            q.starting_after = p.next_cursor;
        }
    })
    .await
}

/// Changes a day over the last `days` days (UTC), from the key's audit entries.
fn activity(entries: &[AuditEntry], days: i64) -> Vec<(String, u64)> {
    per_day(days, |day| {
        entries
            .iter()
            .filter(|e| e.at.div_euclid(86_400) == day)
            .count() as u64
    })
}

fn key_page(
    s: &Signed,
    status: StatusCode,
    loaded: &Loaded,
    days: i64,
    edit: &KeyFields,
    top: Markup,
) -> Response {
    let (rec, entries, usage) = (&loaded.rec, &loaded.entries, &loaded.usage);
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
            (chart::range_form(&key_url(id), days))
            (chart::bars("activity", &format!("Changes to this key a day, last {days} days (UTC), from the audit log"), &activity(entries, days)))
        }
        (chart::usage_section("this key", usage, days, rec.credits.is_some()))
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
    let days = chart::range(q.days);
    match load_key(&st, &s, id, days).await {
        Ok(loaded) => {
            let fields = KeyFields::from_record(&loaded.rec);
            key_page(
                &s,
                StatusCode::OK,
                &loaded,
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
        Ok(loaded) => {
            let fields = edit.unwrap_or_else(|| KeyFields::from_record(&loaded.rec));
            key_page(
                s,
                e.status,
                &loaded,
                RANGES[0],
                &fields,
                alert(&e.message, e.code),
            )
        }
        Err(_) => error_page(Some(s), &e, Some("/console/keys")),
    }
}

/// The checked form of a write on key `id` and the value `read` takes from it, or the
/// answer to give instead: the refusal of an unchecked form, or the key page with the
/// error.
async fn key_form<T>(
    st: &Arc<AppState>,
    s: &Signed,
    id: &str,
    headers: &HeaderMap,
    body: &Bytes,
    read: fn(&Form) -> Result<T, ApiError>,
) -> Result<(Form, T), Response> {
    let form = checked_form(s, headers, body, true).map_err(|r| *r)?;
    match read(&form) {
        Ok(v) => Ok((form, v)),
        Err(e) => Err(write_failed(st, s, id, e, None).await),
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
    let (_, version) = match key_form(&st, &s, &id, &headers, &body, version_of).await {
        Ok(read) => read,
        Err(r) => return r,
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
    let (_, amount) = match key_form(&st, &s, &id, &headers, &body, amount_of).await {
        Ok(read) => read,
        Err(r) => return r,
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
        Ok(loaded) => confirm_page(&s, StatusCode::OK, &loaded.rec, None),
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
    let (form, version) = match key_form(&st, &s, &id, &headers, &body, version_of).await {
        Ok(read) => read,
        Err(r) => return r,
    };
    if form.opt("confirm").is_none() {
        let e = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidArgument,
            "invalid argument: tick the box to confirm the deletion",
        );
        return match load_key(&st, &s, id, 1).await {
            Ok(loaded) => confirm_page(&s, e.status, &loaded.rec, Some(&e)),
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
