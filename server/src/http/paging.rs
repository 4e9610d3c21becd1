//! Query strings and the list envelope shared by every list route.

use axum::http::StatusCode;
use keyseal::ErrorCode;
use keyseal_registry::Page;
use serde_json::{Value, json};

use super::state::ApiResult;
use crate::error::ApiError;

/// Parses a query string into pairs, refusing unknown and repeated parameters.
pub(super) fn query_pairs(raw: Option<&str>, known: &[&str]) -> ApiResult<Vec<(String, String)>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|_| ApiError::bad_request("invalid argument: the query string does not parse"))?;
    for (i, (k, _)) in pairs.iter().enumerate() {
        if !known.contains(&k.as_str()) {
            return Err(ApiError::bad_request(format!(
                "invalid argument: unknown query parameter; expected one of {}",
                known.join(", ")
            )));
        }
        if pairs[..i].iter().any(|(k2, _)| k2 == k) {
            return Err(ApiError::bad_request(
                "invalid argument: a query parameter is repeated",
            ));
        }
    }
    Ok(pairs)
}

fn parse_limit(v: &str) -> ApiResult<u32> {
    v.parse::<u32>().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidLimit,
            "invalid limit: expected an integer from 1 to 100",
        )
    })
}

fn parse_offset(v: &str) -> ApiResult<u32> {
    // `invalid_limit` covers offsets too ("a page limit or offset is outside its range").
    v.parse::<u32>()
        .ok()
        .filter(|o| *o <= keyseal_registry::MAX_OFFSET)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidLimit,
                "invalid limit: expected an offset from 0 to 10000",
            )
        })
}

/// Common pagination parameters.
#[derive(Default)]
pub struct Paging {
    /// `limit`, when given.
    pub limit: Option<u32>,
    /// `starting_after` (or `startingAfter`): a cursor.
    pub starting_after: Option<String>,
    /// `ending_before` (or `endingBefore`): a cursor.
    pub ending_before: Option<String>,
    /// `offset`, 0 when absent.
    pub offset: u32,
}

impl Paging {
    fn take(&mut self, k: &str, v: &str) -> ApiResult<bool> {
        match k {
            "limit" => self.limit = Some(parse_limit(v)?),
            "starting_after" | "startingAfter" => self.starting_after = Some(v.to_owned()),
            "ending_before" | "endingBefore" => self.ending_before = Some(v.to_owned()),
            "offset" => self.offset = parse_offset(v)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

const PAGING_PARAMS: [&str; 6] = [
    "limit",
    "starting_after",
    "startingAfter",
    "ending_before",
    "endingBefore",
    "offset",
];

/// The list envelope (the company-keys flow of docs/compat.md): `data`, `count`, `total`, `has_more`, `next_url`,
/// `previous_url`. URLs keep the filters and the limit and move by cursor.
fn envelope<T: serde::Serialize>(
    page: Page<T>,
    base: &str,
    filters: &[(&str, String)],
    limit: u32,
    paging: &Paging,
    item: impl Fn(&T) -> Value,
) -> Value {
    let url = |cursor_param: &str, cursor: &str| {
        let mut params: Vec<(&str, &str)> = filters.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let l = limit.to_string();
        params.push(("limit", &l));
        params.push((cursor_param, cursor));
        let q = serde_urlencoded::to_string(&params).unwrap_or_default();
        format!("{base}?{q}")
    };
    let backward = paging.ending_before.is_some();
    let came_from_newer = paging.starting_after.is_some() || paging.offset > 0;
    let next_url = match &page.next_cursor {
        Some(c) if (!backward && page.has_more) || (backward && page.count > 0) => {
            Some(url("starting_after", c))
        }
        _ => None,
    };
    let previous_url = match &page.prev_cursor {
        Some(c) if (backward && page.has_more) || (!backward && came_from_newer) => {
            Some(url("ending_before", c))
        }
        _ => None,
    };
    json!({
        "data": page.data.iter().map(item).collect::<Vec<_>>(),
        "count": page.count,
        "total": page.total,
        "has_more": page.has_more,
        "next_url": next_url,
        "previous_url": previous_url,
    })
}

/// A list request: its paging and the filters it named (kept in the envelope's URLs).
pub struct ListRequest {
    /// `limit`, the cursors and `offset`.
    pub paging: Paging,
    /// The filters given, in the order given.
    pub filters: Vec<(&'static str, String)>,
}

impl ListRequest {
    /// Parses a list route's query string: the paging parameters and the `filters` it
    /// names (anything else is refused). `apply(name, value)` checks and applies each
    /// filter as it comes.
    pub fn parse(
        raw: Option<&str>,
        filters: &[&'static str],
        mut apply: impl FnMut(&str, &str) -> ApiResult<()>,
    ) -> ApiResult<ListRequest> {
        let mut known = filters.to_vec();
        known.extend(PAGING_PARAMS);
        let mut out = ListRequest {
            paging: Paging::default(),
            filters: Vec::new(),
        };
        for (k, v) in query_pairs(raw, &known)? {
            if out.paging.take(&k, &v)? {
                continue;
            }
            if let Some(name) = filters.iter().find(|f| **f == k) {
                apply(name, &v)?;
                out.filters.push((name, v));
            }
        }
        Ok(out)
    }

    /// The page size asked for, or the registry's default.
    pub fn limit(&self) -> u32 {
        self.paging.limit.unwrap_or(keyseal_registry::DEFAULT_LIMIT)
    }

    /// The paging fields of a registry query, in the order `limit`, `starting_after`,
    /// `ending_before`, `offset` (`ListQuery` and `AuditQuery` share them).
    pub fn cursor(&self) -> (u32, Option<String>, Option<String>, u32) {
        let p = &self.paging;
        (
            self.limit(),
            p.starting_after.clone(),
            p.ending_before.clone(),
            p.offset,
        )
    }

    /// The list envelope of `page` (see [`envelope`]), with URLs under `base`.
    pub fn envelope<T: serde::Serialize>(
        &self,
        page: Page<T>,
        base: &str,
        item: impl Fn(&T) -> Value,
    ) -> Value {
        envelope(page, base, &self.filters, self.limit(), &self.paging, item)
    }
}
