//! Paging shared by the key list and the audit log: both page by `seq` with an
//! opaque cursor (a key id or an audit entry id), a limit and an offset.

use keyseal::{Error, ErrorCode};

use super::errors::reg;
use crate::store::Val;
use crate::types::Page;

/// A page query's bound on `seq` (`"seq < ?"` or `"seq > ?"` and the value), if any.
pub(super) type Bound = Option<(&'static str, i64)>;

/// The bound from the page's two cursors (at most one may be given) and whether the
/// page is read in ascending order (`ending_before`); `seq_of` turns a cursor into the
/// `seq` it stands for.
pub(super) fn cursor_bound(
    starting_after: Option<&str>,
    ending_before: Option<&str>,
    mut seq_of: impl FnMut(&str) -> Result<i64, Error>,
) -> Result<(Bound, bool), Error> {
    Ok(match (starting_after, ending_before) {
        (Some(_), Some(_)) => {
            return Err(reg(
                ErrorCode::InvalidCursor,
                "expected starting_after or ending_before, not both",
            ));
        }
        (Some(c), None) => (Some(("seq < ?", seq_of(c)?)), false),
        (None, Some(c)) => (Some(("seq > ?", seq_of(c)?)), true),
        (None, None) => (None, false),
    })
}

/// Appends the bound, the order and `LIMIT limit + 1 OFFSET offset` to a page query (the
/// extra row tells [`page`] whether there is more).
pub(super) fn push_page_clause(
    sql: &mut String,
    params: &mut Vec<Val>,
    bound: Bound,
    asc: bool,
    limit: i64,
    offset: i64,
) {
    if let Some((cond, seq)) = bound {
        sql.push_str(" AND ");
        sql.push_str(cond);
        params.push(Val::Int(seq));
    }
    sql.push_str(if asc {
        " ORDER BY seq ASC LIMIT ? OFFSET ?"
    } else {
        " ORDER BY seq DESC LIMIT ? OFFSET ?"
    });
    params.push(Val::Int(limit + 1));
    params.push(Val::Int(offset));
}

/// The page from the rows a [`push_page_clause`] query read: at most `limit`, newest
/// first, with the cursors of its first and last items.
pub(super) fn page<T>(
    mut data: Vec<T>,
    total: u64,
    limit: i64,
    asc: bool,
    id: impl Fn(&T) -> String,
) -> Page<T> {
    let has_more = data.len() as i64 > limit;
    data.truncate(limit as usize);
    if asc {
        data.reverse();
    }
    Page {
        count: data.len(),
        total,
        has_more,
        next_cursor: data.last().map(&id),
        prev_cursor: data.first().map(&id),
        data,
    }
}
