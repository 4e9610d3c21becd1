//! The audit log's writes: field-by-field diffs of records and the insert of an entry.
//! (Reading the log is [`super::Registry::audit`], in `queries.rs`.)

use serde_json::{Map, Value, json};

use keyseal::Error;

use super::rows::to_json;
use crate::store::{Conn, Val};
use crate::types::{Actor, AuditAction, KeyRecord};

/// Field-by-field differences between two records, as `{"field": {"old", "new"}}`.
pub(super) fn diff(old: &KeyRecord, new: &KeyRecord) -> Map<String, Value> {
    let mut m = Map::new();
    let mut put = |field: &str, a: Value, b: Value| {
        if a != b {
            m.insert(field.to_owned(), json!({ "old": a, "new": b }));
        }
    };
    macro_rules! fields {
        ($($f:ident),*) => {
            $(put(stringify!($f), json!(old.$f), json!(new.$f));)*
        };
    }
    fields!(
        name,
        description,
        owner,
        role,
        scopes,
        read_only,
        allowed_ips,
        enabled,
        expires_at,
        metadata,
        deleted_at,
        rolled_at,
        previous_secret_expires_at,
        limits,
        credits
    );
    m
}

/// The changes of a creation: every field, from null.
pub(super) fn creation_changes(rec: &KeyRecord) -> Map<String, Value> {
    let empty = KeyRecord {
        name: String::new(),
        description: String::new(),
        owner: None,
        role: None,
        scopes: Vec::new(),
        read_only: false,
        allowed_ips: Vec::new(),
        enabled: false,
        expires_at: None,
        metadata: Map::new(),
        deleted_at: None,
        previous_secret_expires_at: None,
        rolled_at: None,
        limits: Vec::new(),
        credits: None,
        ..rec.clone()
    };
    let mut m = diff(&empty, rec);
    for v in m.values_mut() {
        if let Some(o) = v.as_object_mut() {
            o.insert("old".to_owned(), Value::Null);
        }
    }
    m
}

pub(super) fn insert_audit(
    conn: &mut dyn Conn,
    rec: &KeyRecord,
    action: AuditAction,
    actor: &Actor,
    at: i64,
    changes: &Map<String, Value>,
) -> Result<(), Error> {
    insert_audit_row(
        conn,
        (&rec.account, &rec.id),
        action,
        actor,
        at,
        rec.version,
        changes,
    )
}

/// Inserts one audit entry for `(account, key_id)`; an owner's entries use the key id
/// `owner:<owner>` (key ids never hold a `:`).
pub(super) fn insert_audit_row(
    conn: &mut dyn Conn,
    (account, key_id): (&str, &str),
    action: AuditAction,
    actor: &Actor,
    at: i64,
    version: u64,
    changes: &Map<String, Value>,
) -> Result<(), Error> {
    conn.exec(
        "INSERT INTO audit (account, key_id, action, actor, at, version, changes) VALUES (?, ?, ?, ?, ?, ?, ?)",
        &[
            Val::from(account),
            Val::from(key_id),
            Val::from(action.as_str()),
            Val::from(actor.to_stored()),
            Val::Int(at),
            Val::Int(version as i64),
            Val::from(to_json(changes)?),
        ],
    )?;
    Ok(())
}
