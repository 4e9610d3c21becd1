//! Reads: loading a key row, [`Registry::get`], [`Registry::resolve_key`],
//! [`Registry::list`] and the audit log ([`Registry::audit`]).

use keyseal::{Error, ErrorCode};

use super::errors::{not_found, reg};
use super::lifecycle::Registry;
use super::paging::{cursor_bound, page, push_page_clause};
use super::rows::{KEY_COLS, KEY_COLS_LEN, Loaded, col_int, col_opt_text, col_text, json_col};
use crate::store::{Conn, Dialect, Val};
use crate::types::{
    Actor, AuditAction, AuditEntry, AuditQuery, KeyRecord, KeyStatus, ListQuery, Page,
};
use crate::validate;

impl Registry {
    pub(super) fn load_by_id(
        &self,
        conn: &mut dyn Conn,
        id: &str,
    ) -> Result<Option<Loaded>, Error> {
        let sql = format!("SELECT {KEY_COLS}, import_seal FROM keys WHERE id = ?");
        match conn.query_one(&sql, &[Val::from(id)])? {
            Some(r) => {
                let mut l = Loaded::from_row(&r, self.format().prefix())?;
                l.import_seal = col_opt_text(&r, KEY_COLS_LEN);
                Ok(Some(l))
            }
            None => Ok(None),
        }
    }

    /// Loads the live row of `id` in `account` for update (locked on PostgreSQL).
    pub(super) fn load_for_update(
        &self,
        conn: &mut dyn Conn,
        account: &str,
        id: &str,
    ) -> Result<Loaded, Error> {
        validate::account(account)?;
        if !validate::is_key_id(id, self.format().id_len()) {
            return Err(not_found());
        }
        let lock = if conn.dialect() == Dialect::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {KEY_COLS} FROM keys WHERE id = ? AND account = ? AND deleted_at IS NULL{lock}"
        );
        match conn.query_one(&sql, &[Val::from(id), Val::from(account)])? {
            Some(r) => Loaded::from_row(&r, self.format().prefix()),
            None => Err(not_found()),
        }
    }

    /// A live key of `account` (deleted keys are `not_found`).
    pub fn get(&self, account: &str, id: &str) -> Result<KeyRecord, Error> {
        validate::account(account)?;
        if !validate::is_key_id(id, self.format().id_len()) {
            return Err(not_found());
        }
        let mut conn = self.inner.pool.get()?;
        let sql = format!(
            "SELECT {KEY_COLS} FROM keys WHERE id = ? AND account = ? AND deleted_at IS NULL"
        );
        match conn.query_one(&sql, &[Val::from(id), Val::from(account)])? {
            Some(r) => Ok(Loaded::from_row(&r, self.format().prefix())?.record),
            None => Err(not_found()),
        }
    }

    /// The id of the live key of `account` that `key` refers to: its id or its name.
    ///
    /// The rule, in order: `name:<name>` is always a name (neither ids nor names contain
    /// `:`); a string with the shape of a key id (the format's id length, base62) is
    /// first looked up as an id; anything else, and an id-shaped string that is no live
    /// key's id, is looked up as a name (unique among the account's live keys). So an
    /// id always reaches its key, and a name reaches its key unless it equals the id of
    /// another live key of the same account (ids are random, so only a name copied from
    /// an id does); `name:` reaches it then.
    ///
    /// Errors: `not_found` (no live key of `account` with this id or name).
    pub fn resolve_key(&self, account: &str, key: &str) -> Result<String, Error> {
        validate::account(account)?;
        let (name, try_id) = match key.strip_prefix("name:") {
            Some(n) => (n, false),
            None => (key, validate::is_key_id(key, self.format().id_len())),
        };
        let mut conn = self.inner.pool.get()?;
        if try_id
            && let Some(r) = conn.query_one(
                "SELECT id FROM keys WHERE id = ? AND account = ? AND deleted_at IS NULL",
                &[Val::from(key), Val::from(account)],
            )?
        {
            return col_text(&r, 0);
        }
        if validate::name(name).is_err() {
            return Err(not_found());
        }
        match conn.query_one(
            "SELECT id FROM keys WHERE account = ? AND name = ? AND deleted_at IS NULL",
            &[Val::from(account), Val::from(name)],
        )? {
            Some(r) => col_text(&r, 0),
            None => Err(not_found()),
        }
    }

    /// A page of `account`'s keys, newest first.
    ///
    /// Errors: `invalid_limit` (outside 1-100), `invalid_argument` (offset over 10,000,
    /// both cursors given, bad owner/role filter), `invalid_cursor` (not an id of this
    /// account's keys).
    pub fn list(&self, account: &str, q: &ListQuery) -> Result<Page<KeyRecord>, Error> {
        validate::account(account)?;
        let limit = validate::limit(q.limit)?;
        let offset = validate::offset(q.offset)?;
        if let Some(o) = &q.owner {
            validate::owner(o)?;
        }
        if let Some(r) = &q.role {
            validate::role(r)?;
        }
        let now = self.now();
        let mut filter = String::from("account = ?");
        let mut params = vec![Val::from(account)];
        match q.status {
            KeyStatus::All => filter.push_str(" AND deleted_at IS NULL"),
            KeyStatus::Deleted => filter.push_str(" AND deleted_at IS NOT NULL"),
            KeyStatus::Active => {
                filter.push_str(
                    " AND deleted_at IS NULL AND enabled = 1 AND (expires_at IS NULL OR expires_at > ?)",
                );
                params.push(Val::Int(now));
            }
            KeyStatus::Inactive => {
                filter.push_str(
                    " AND deleted_at IS NULL AND (enabled = 0 OR (expires_at IS NOT NULL AND expires_at <= ?))",
                );
                params.push(Val::Int(now));
            }
        }
        if let Some(o) = &q.owner {
            filter.push_str(" AND owner = ?");
            params.push(Val::from(o.as_str()));
        }
        if let Some(r) = &q.role {
            filter.push_str(" AND role = ?");
            params.push(Val::from(r.as_str()));
        }
        let mut conn = self.inner.pool.get()?;
        let cursor = |conn: &mut dyn Conn, c: &str| -> Result<i64, Error> {
            let bad = || {
                reg(
                    ErrorCode::InvalidCursor,
                    "expected the id of a key of this account",
                )
            };
            if !validate::is_key_id(c, self.format().id_len()) {
                return Err(bad());
            }
            conn.query_one(
                "SELECT seq FROM keys WHERE id = ? AND account = ?",
                &[Val::from(c), Val::from(account)],
            )?
            .and_then(|r| r.first().and_then(Val::int))
            .ok_or_else(bad)
        };
        let (bound, asc) = cursor_bound(
            q.starting_after.as_deref(),
            q.ending_before.as_deref(),
            |c| cursor(&mut *conn, c),
        )?;
        // One round trip: the page, each row carrying the filtered total. Only an empty
        // page needs a second query for the total.
        let count_sql = format!("SELECT COUNT(*) FROM keys WHERE {filter}");
        let mut sql = format!("SELECT {KEY_COLS}, ({count_sql}) FROM keys WHERE {filter}");
        let mut page_params = params.clone();
        page_params.extend(params.iter().cloned());
        push_page_clause(&mut sql, &mut page_params, bound, asc, limit, offset);
        let rows = conn.query(&sql, &page_params)?;
        let total = match rows.first() {
            Some(r) => r.get(KEY_COLS_LEN).and_then(Val::int),
            None => conn
                .query_one(&count_sql, &params)?
                .and_then(|r| r.first().and_then(Val::int)),
        }
        .unwrap_or(0)
        .max(0) as u64;
        drop(conn);
        let data = rows
            .iter()
            .map(|r| Loaded::from_row(r, self.format().prefix()).map(|l| l.record))
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(page(data, total, limit, asc, |r| r.id.clone()))
    }

    /// The audit log of `account`, newest first.
    pub fn audit(&self, account: &str, q: &AuditQuery) -> Result<Page<AuditEntry>, Error> {
        validate::account(account)?;
        let limit = validate::limit(q.limit)?;
        let offset = validate::offset(q.offset)?;
        let mut filter = String::from("account = ?");
        let mut params = vec![Val::from(account)];
        if let Some(k) = &q.key_id {
            // A key id, or `owner:<owner>` for an owner's metering changes.
            let owner_log = k
                .strip_prefix("owner:")
                .is_some_and(|o| validate::owner(o).is_ok());
            if !owner_log && !validate::is_key_id(k, self.format().id_len()) {
                return Err(not_found());
            }
            filter.push_str(" AND key_id = ?");
            params.push(Val::from(k.as_str()));
        }
        let cur = |c: &str| -> Result<i64, Error> {
            c.parse::<i64>()
                .ok()
                .filter(|v| *v > 0 && c.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| reg(ErrorCode::InvalidCursor, "expected an audit entry id"))
        };
        let (bound, asc) =
            cursor_bound(q.starting_after.as_deref(), q.ending_before.as_deref(), cur)?;
        let mut conn = self.inner.pool.get()?;
        let total = conn
            .query_one(
                &format!("SELECT COUNT(*) FROM audit WHERE {filter}"),
                &params,
            )?
            .and_then(|r| r.first().and_then(Val::int))
            .unwrap_or(0)
            .max(0) as u64;
        let mut sql = format!(
            "SELECT seq, account, key_id, action, actor, at, version, changes FROM audit WHERE {filter}"
        );
        push_page_clause(&mut sql, &mut params, bound, asc, limit, offset);
        let rows = conn.query(&sql, &params)?;
        drop(conn);
        let data = rows
            .iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: col_int(r, 0)?.to_string(),
                    account: col_text(r, 1)?,
                    key_id: col_text(r, 2)?,
                    action: AuditAction::from_stored(&col_text(r, 3)?),
                    actor: Actor::from_stored(&col_text(r, 4)?),
                    at: col_int(r, 5)?,
                    version: u64::try_from(col_int(r, 6)?).unwrap_or(0),
                    changes: json_col(r, 7)?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(page(data, total, limit, asc, |e| e.id.clone()))
    }
}
