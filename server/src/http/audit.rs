//! The audit log of an account: `/v1/accounts/{account}/audit`.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use keyseal_registry::AuditQuery;
use serde_json::Value;

use super::extract::Reader;
use super::paging::ListRequest;
use super::state::{ApiResult, AppState, St};

/// The routes of this module.
pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/v1/accounts/{account}/audit", get(audit_log))
}

async fn audit_log(State(st): St, m: Reader, RawQuery(raw): RawQuery) -> ApiResult {
    let mut q = AuditQuery::default();
    let req = ListRequest::parse(raw.as_deref(), &["key_id"], |_, v| {
        q.key_id = Some(v.to_owned());
        Ok(())
    })?;
    (q.limit, q.starting_after, q.ending_before, q.offset) = req.cursor();
    let page = m.run(&st, move |reg, acct, _| reg.audit(acct, &q)).await?;
    let base = format!("/v1/accounts/{}/audit", m.account);
    let body = req.envelope(page, &base, |e| {
        serde_json::to_value(e).unwrap_or(Value::Null)
    });
    Ok(m.answer(Json(body).into_response()))
}
