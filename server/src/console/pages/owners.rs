//! An owner's page: the limits and credits the keys of one owner share (the API's
//! `/owners/{owner}/meter`), its keys, adding credits and editing the shared meter at the
//! version read (a conflict says someone else changed it and offers a reload).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use keyseal::ErrorCode;
use keyseal_registry::meter::{OwnerMeter, OwnerMeterPatch};
use keyseal_registry::{KeyRecord, ListQuery};
use maud::{Markup, html};
use serde::Deserialize;

use super::key::amount_of;
use super::{
    alert, checked_form, csrf_field, error_page, key_url, notice, page, see_other, status_of,
};
use crate::console::chart;
use crate::console::form::{KeyFields, limit_text, parse_limits, when};
use crate::console::session::Signed;
use crate::error::ApiError;
use crate::http::state::{AppState, management_call, now};
use keyseal_registry::usage::{Granularity, UsageBucket, UsageQuery};

type St = State<Arc<AppState>>;

/// `/console/owners/<owner>`, the owner percent-encoded as one path segment.
pub fn owner_url(owner: &str) -> String {
    let mut out = String::from("/console/owners/");
    for b in owner.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
    days: Option<i64>,
}

/// Days of usage the owner page charts.
/// The owner's meter, its newest keys (and how many it has), its usage buckets (a day
/// each) of the last `days` days, and `days`.
type OwnerData = (OwnerMeter, Vec<KeyRecord>, u64, Vec<UsageBucket>, i64);

async fn load(
    st: &Arc<AppState>,
    s: &Signed,
    owner: String,
    days: i64,
) -> Result<OwnerData, ApiError> {
    let account = s.key.account.clone();
    management_call(st, move |reg| {
        let meter = reg.owner_meter(&account, &owner)?;
        let usage = reg.usage(
            &account,
            &UsageQuery {
                key_id: None,
                owner: Some(owner.clone()),
                from: (now().div_euclid(86_400) - days + 1) * 86_400,
                to: now() + 1,
                granularity: Granularity::Day,
            },
        )?;
        let q = ListQuery {
            owner: Some(owner),
            ..ListQuery::default()
        };
        let keys = reg.list(&account, &q)?;
        Ok((meter, keys.data, keys.total, usage, days))
    })
    .await
}

fn owner_page(
    s: &Signed,
    status: StatusCode,
    data: &OwnerData,
    edit: &KeyFields,
    top: Markup,
) -> Response {
    let (m, keys, total, usage, days) = (&data.0, &data.1, data.2, &data.3, data.4);
    let url = owner_url(&m.owner);
    let body = html! {
        h1 { "Owner " (m.owner) }
        (top)
        section aria-labelledby="meter-title" {
            h2 #meter-title { "Shared limits and credits" }
            p { "Every key of this owner counts against these, on top of its own." }
            dl.details {
                dt { "Rate limits" } dd {
                    @if m.limits.is_empty() { "none" }
                    @else { (m.limits.iter().map(limit_text).collect::<Vec<_>>().join(", ")) }
                }
                dt { "Credits" } dd {
                    @match &m.credits {
                        None => { "not metered" }
                        Some(c) => {
                            (c.remaining.unwrap_or(0)) " remaining"
                            @if let Some(r) = &c.refill { "; +" (r.amount) " every " (if r.interval == "daily" { "day" } else { "month" }) }
                        }
                    }
                }
                dt { "Version" } dd { (m.version) }
                @if let Some(t) = m.modified_at {
                    dt { "Changed" } dd {
                        (when(t))
                        @if let Some(a) = &m.modified_by { " by " code { (a.to_stored()) } }
                    }
                }
            }
            p { a href={ "/console/audit?" (serde_urlencoded::to_string([("key_id", format!("owner:{}", m.owner))]).unwrap_or_default()) } { "Audit log of this owner's meter" } }
        }
        (chart::range_form(&url, days))
        (chart::usage_section("this owner's keys", usage, days, false))
        section aria-labelledby="owner-keys-title" {
            h2 #owner-keys-title { "Keys" }
            p { (total) " " @if total == 1 { "key" } @else { "keys" } }
            ul {
                @for k in keys {
                    li { a href=(key_url(&k.id)) { (k.name) } " " span class={ "badge " (status_of(k)) } { (status_of(k)) } }
                }
            }
            @if total > keys.len() as u64 {
                p { a href={ "/console/keys?" (serde_urlencoded::to_string([("owner", &m.owner)]).unwrap_or_default()) } { "All of this owner's keys" } }
            }
        }
        @if s.writable() {
            @if m.credits.is_some() {
                form.card method="post" action={ (url) "/credits" } {
                    (csrf_field(s))
                    label for="add-credits" { "Credits to add to the shared balance" }
                    input #add-credits type="number" name="add" min="1" required;
                    button #add-credits-submit type="submit" { "Add credits" }
                }
            }
            section aria-labelledby="meter-edit-title" {
                h2 #meter-edit-title { "Edit the shared limits and credits" }
                form.card #meter-edit method="post" action={ (url) "/meter" } {
                    (csrf_field(s))
                    input type="hidden" name="version" value=(m.version);
                    div.field {
                        label for="k-limits" { "Rate limits" }
                        textarea #k-limits name="limits" rows="2" aria-describedby="k-limits-help" { (edit.limits) }
                        p #k-limits-help.help { "One a line as " code { "NAME=LIMIT/WINDOW" } ", e.g. " code { "per_day=10000/1d" } "; empty: none." }
                    }
                    div.row {
                        div.field {
                            label for="k-credits" { "Set the credit balance" }
                            input #k-credits type="number" min="0" name="credits" value=(edit.credits) aria-describedby="k-credits-help";
                            p #k-credits-help.help { "Empty: unchanged (no credits until a balance or a refill is set)." }
                        }
                        div.field {
                            label for="k-refill" { "Refill amount" }
                            input #k-refill type="number" min="0" name="refill_amount" value=(edit.refill_amount);
                        }
                        div.field {
                            label for="k-interval" { "Refill every" }
                            select #k-interval name="refill_interval" {
                                option value="monthly" selected[edit.refill_interval != "daily"] { "month" }
                                option value="daily" selected[edit.refill_interval == "daily"] { "day" }
                            }
                        }
                    }
                    button #save-meter type="submit" { "Save" }
                }
            }
        }
    };
    page(status, &format!("Owner {}", m.owner), Some(s), body)
}

fn fields_of(m: &OwnerMeter) -> KeyFields {
    let refill = m.credits.as_ref().and_then(|c| c.refill.as_ref());
    KeyFields {
        limits: m
            .limits
            .iter()
            .map(limit_text)
            .collect::<Vec<_>>()
            .join("\n"),
        refill_amount: refill.map(|r| r.amount.to_string()).unwrap_or_default(),
        refill_interval: refill.map(|r| r.interval.clone()).unwrap_or_default(),
        ..KeyFields::default()
    }
}

pub async fn show_owner(
    State(st): St,
    s: Signed,
    Path(owner): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    match load(&st, &s, owner, chart::range(q.days)).await {
        Ok(data) => {
            let top = match q.done.as_deref() {
                Some("saved") => notice(Some("saved")),
                Some("credits") => notice(Some("credits")),
                _ => html! {},
            };
            owner_page(&s, StatusCode::OK, &data, &fields_of(&data.0), top)
        }
        Err(e) => error_page(Some(&s), &e, Some("/console/keys")),
    }
}

/// A failed write on the owner's meter: the conflict page, or the owner page with the
/// error (and the user's edits, when given).
async fn failed(
    st: &Arc<AppState>,
    s: &Signed,
    owner: String,
    e: ApiError,
    edit: Option<KeyFields>,
) -> Response {
    if e.code == ErrorCode::VersionConflict.as_str() {
        return page(
            StatusCode::PRECONDITION_FAILED,
            "Changed by someone else",
            Some(s),
            html! {
                h1 { "Someone else changed this owner's meter" }
                div.alert role="alert" tabindex="-1" data-focus {
                    p { "The shared limits and credits changed after you opened the page, so your change was not saved. Reload to see the current values, then make your change again." }
                    p.code { "Error code: " code { (e.code) } }
                }
                p { a.button #reload href=(owner_url(&owner)) { "Reload" } }
            },
        );
    }
    match load(st, s, owner, chart::RANGES[0]).await {
        Ok(data) => {
            let edit = edit.unwrap_or_else(|| fields_of(&data.0));
            owner_page(s, e.status, &data, &edit, alert(&e.message, e.code))
        }
        Err(_) => error_page(Some(s), &e, Some("/console/keys")),
    }
}

pub async fn edit_meter(
    State(st): St,
    s: Signed,
    Path(owner): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match checked_form(&s, &headers, &body, true) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let fields = KeyFields::from_form(&form);
    let unprocessable = |m: String| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidArgument,
            m,
        )
    };
    let patch = form
        .get("version")
        .parse::<u64>()
        .map_err(|_| {
            ApiError::bad_request("invalid argument: the form lost the version; reload the page")
        })
        .and_then(|v| {
            Ok(OwnerMeterPatch {
                expected_version: v,
                limits: Some(parse_limits(&fields.limits).map_err(unprocessable)?),
                credits: fields.credit_spec().map_err(unprocessable)?.map(Some),
            })
        });
    let patch = match patch {
        Ok(p) => p,
        Err(e) => return failed(&st, &s, owner, e, Some(fields)).await,
    };
    let (account, actor, o) = (s.key.account.clone(), s.actor(), owner.clone());
    let r = management_call(&st, move |reg| {
        reg.update_owner_meter(&account, &o, &patch, &actor)
    })
    .await;
    match r {
        Ok(m) => see_other(&format!("{}?done=saved", owner_url(&m.owner))),
        Err(e) => failed(&st, &s, owner, e, Some(fields)).await,
    }
}

pub async fn add_credits(
    State(st): St,
    s: Signed,
    Path(owner): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match checked_form(&s, &headers, &body, true) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let amount = match amount_of(&form) {
        Ok(n) => n,
        Err(e) => return failed(&st, &s, owner, e, None).await,
    };
    let (account, actor, o) = (s.key.account.clone(), s.actor(), owner.clone());
    let r = management_call(&st, move |reg| {
        reg.add_owner_credits(&account, &o, amount, &actor)
    })
    .await;
    match r {
        Ok(_) => see_other(&format!("{}?done=credits", owner_url(&owner))),
        Err(e) => failed(&st, &s, owner, e, None).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_urls_are_one_segment() {
        assert_eq!(owner_url("alice"), "/console/owners/alice");
        assert_eq!(owner_url("a/b c"), "/console/owners/a%2Fb%20c");
        assert_eq!(owner_url("é"), "/console/owners/%C3%A9");
    }
}
