//! Usage analytics: `/v1/accounts/{account}/keys/{id}/usage` (one key) and
//! `/v1/accounts/{account}/usage` (an owner's keys, or the whole account), read by any
//! account-owner key of the account.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use keyseal_registry::usage::{Granularity, UsageQuery};
use serde_json::json;

use super::extract::{KeyId, Reader};
use super::paging::query_pairs;
use super::state::{ApiResult, AppState, St, now};
use crate::error::ApiError;

/// The routes of this module.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/accounts/{account}/keys/{id}/usage", get(key_usage))
        .route("/v1/accounts/{account}/usage", get(account_usage))
}

/// `from` when absent: one hour before `to` for minute buckets, one day for hour
/// buckets, 30 days for day buckets.
fn default_span(g: Granularity) -> i64 {
    match g {
        Granularity::Minute => 3_600,
        Granularity::Hour => 86_400,
        Granularity::Day => 30 * 86_400,
    }
}

/// Reads `from`, `to`, `granularity` and (with `owner_allowed`) `owner`.
fn parse(raw: Option<&str>, owner_allowed: bool) -> ApiResult<UsageQuery> {
    let known: &[&str] = if owner_allowed {
        &["from", "to", "granularity", "owner"]
    } else {
        &["from", "to", "granularity"]
    };
    let mut q = UsageQuery::default();
    let (mut from, mut to) = (None, None);
    let time = |v: &str| {
        v.parse::<i64>().map_err(|_| {
            ApiError::bad_request("invalid argument: from and to are unix seconds (integers)")
        })
    };
    for (k, v) in query_pairs(raw, known)? {
        match k.as_str() {
            "from" => from = Some(time(&v)?),
            "to" => to = Some(time(&v)?),
            "granularity" => {
                q.granularity = Granularity::parse(&v).ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid argument: granularity must be minute, hour or day",
                    )
                })?;
            }
            _ => q.owner = Some(v),
        }
    }
    q.to = to.unwrap_or_else(now);
    q.from = from.unwrap_or_else(|| q.to.saturating_sub(default_span(q.granularity)));
    Ok(q)
}

fn answer(q: &UsageQuery, data: Vec<keyseal_registry::usage::UsageBucket>) -> serde_json::Value {
    json!({
        "granularity": q.granularity.as_str(),
        "from": q.from,
        "to": q.to,
        "key_id": q.key_id,
        "owner": q.owner,
        "data": data,
    })
}

async fn key_usage(
    State(st): St,
    m: Reader,
    KeyId { id, .. }: KeyId,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let mut q = parse(raw.as_deref(), false)?;
    let (q, data) = m
        .run(&st, move |reg, acct, _| {
            q.key_id = Some(reg.resolve_key(acct, &id)?);
            let data = reg.usage(acct, &q)?;
            Ok((q, data))
        })
        .await?;
    Ok(m.answer(Json(answer(&q, data)).into_response()))
}

async fn account_usage(State(st): St, m: Reader, RawQuery(raw): RawQuery) -> ApiResult {
    let q = parse(raw.as_deref(), true)?;
    let (q, data) = m
        .run(&st, move |reg, acct, _| {
            let data = reg.usage(acct, &q)?;
            Ok((q, data))
        })
        .await?;
    Ok(m.answer(Json(answer(&q, data)).into_response()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_with_defaults() {
        let q = parse(Some("from=10&to=7200&granularity=minute"), false).ok();
        assert_eq!(
            q.map(|q| (q.from, q.to, q.granularity)),
            Some((10, 7_200, Granularity::Minute))
        );
        let q = parse(Some("to=100000000&granularity=day"), true).ok();
        assert_eq!(q.map(|q| q.from), Some(100_000_000 - 30 * 86_400));
        let q = parse(Some("owner=alice"), true).ok();
        assert_eq!(
            q.map(|q| (q.owner, q.granularity, q.to - q.from)),
            Some((Some("alice".to_owned()), Granularity::Hour, 86_400))
        );
        for bad in [
            "owner=alice",
            "granularity=week",
            "from=x",
            "limit=3",
            "to=1&to=2",
        ] {
            assert!(parse(Some(bad), false).is_err(), "{bad}");
        }
    }
}
