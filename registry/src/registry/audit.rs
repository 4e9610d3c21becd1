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
    put("name", json!(old.name), json!(new.name));
    put(
        "description",
        json!(old.description),
        json!(new.description),
    );
    put("owner", json!(old.owner), json!(new.owner));
    put("role", json!(old.role), json!(new.role));
    put("scopes", json!(old.scopes), json!(new.scopes));
    put("read_only", json!(old.read_only), json!(new.read_only));
    put(
        "allowed_ips",
        json!(old.allowed_ips),
        json!(new.allowed_ips),
    );
    put("enabled", json!(old.enabled), json!(new.enabled));
    put("expires_at", json!(old.expires_at), json!(new.expires_at));
    put("metadata", json!(old.metadata), json!(new.metadata));
    put("deleted_at", json!(old.deleted_at), json!(new.deleted_at));
    put("rolled_at", json!(old.rolled_at), json!(new.rolled_at));
    put(
        "previous_secret_expires_at",
        json!(old.previous_secret_expires_at),
        json!(new.previous_secret_expires_at),
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
    conn.exec(
        "INSERT INTO audit (account, key_id, action, actor, at, version, changes) VALUES (?, ?, ?, ?, ?, ?, ?)",
        &[
            Val::from(rec.account.as_str()),
            Val::from(rec.id.as_str()),
            Val::from(action.as_str()),
            Val::from(actor.to_stored()),
            Val::Int(at),
            Val::Int(rec.version as i64),
            Val::from(to_json(changes)?),
        ],
    )?;
    Ok(())
}
