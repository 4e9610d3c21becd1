//! The audit log, filterable by key: who, when, old -> new.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use keyseal_registry::AuditQuery;
use maud::html;
use serde::Deserialize;
use serde_json::Value;

use crate::console::form::when;
use crate::console::session::Signed;
use crate::http::state::{AppState, management_call};

use super::keys::nonempty;
use super::{error_page, page};

type St = State<Arc<AppState>>;

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
fn show_value(v: &Value) -> String {
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
