//! Key rows: the columns every key query reads, decoding a row into a [`KeyRecord`]
//! ([`Loaded`]), the validated new row ([`NewRow`]), and paging.

use keyseal::{Error, KeyPolicy};

use crate::store::{Row, Val};
use crate::types::{Actor, AuditAction, KeyRecord};
use crate::validate;

/// The columns every key query reads, in [`Loaded::from_row`]'s order.
pub(super) const KEY_COLS: &str = "seq, id, account, name, description, owner, role, scopes, read_only, \
    allowed_ips, enabled, expires_at, metadata, created_at, created_by, modified_at, \
    modified_by, version, deleted_at, last_used_at, digest, prev_digest, prev_digest_until, rolled_at, meter";
/// Columns in [`KEY_COLS`]: a query's extra columns start at this index.
pub(super) const KEY_COLS_LEN: usize = 25;

/// A key row as read from the database.
pub(super) struct Loaded {
    pub(super) record: KeyRecord,
    pub(super) digest: String,
    pub(super) prev: Option<(String, i64)>,
    /// The import seal (read by [`Registry::load_by_id`] only).
    pub(super) import_seal: Option<String>,
}

pub(super) fn col_text(r: &Row, i: usize) -> Result<String, Error> {
    r.get(i)
        .and_then(Val::text)
        .map(str::to_owned)
        .ok_or(Error::Internal {
            detail: "a key row has an unexpected column type",
        })
}
pub(super) fn col_opt_text(r: &Row, i: usize) -> Option<String> {
    r.get(i).and_then(Val::text).map(str::to_owned)
}
pub(super) fn col_int(r: &Row, i: usize) -> Result<i64, Error> {
    r.get(i).and_then(Val::int).ok_or(Error::Internal {
        detail: "a key row has an unexpected column type",
    })
}
pub(super) fn col_opt_int(r: &Row, i: usize) -> Option<i64> {
    r.get(i).and_then(Val::int)
}
pub(super) fn json_col<T: serde::de::DeserializeOwned>(r: &Row, i: usize) -> Result<T, Error> {
    serde_json::from_str(&col_text(r, i)?).map_err(|_| Error::Internal {
        detail: "a key row holds json that does not parse",
    })
}

impl Loaded {
    pub(super) fn from_row(r: &Row, prefix: &str) -> Result<Loaded, Error> {
        let meter = crate::meter::spec::from_column(col_opt_text(r, 24).as_deref())?;
        let prev = match (col_opt_text(r, 21), col_opt_int(r, 22)) {
            (Some(d), Some(until)) => Some((d, until)),
            _ => None,
        };
        Ok(Loaded {
            record: KeyRecord {
                id: col_text(r, 1)?,
                prefix: prefix.to_owned(),
                account: col_text(r, 2)?,
                name: col_text(r, 3)?,
                description: col_text(r, 4)?,
                owner: col_opt_text(r, 5),
                role: col_opt_text(r, 6),
                scopes: json_col(r, 7)?,
                read_only: col_int(r, 8)? != 0,
                allowed_ips: json_col(r, 9)?,
                enabled: col_int(r, 10)? != 0,
                expires_at: col_opt_int(r, 11),
                metadata: json_col(r, 12)?,
                created_at: col_int(r, 13)?,
                created_by: Actor::from_stored(&col_text(r, 14)?),
                modified_at: col_int(r, 15)?,
                modified_by: Actor::from_stored(&col_text(r, 16)?),
                version: u64::try_from(col_int(r, 17)?).unwrap_or(0),
                deleted_at: col_opt_int(r, 18),
                last_used_at: col_opt_int(r, 19),
                previous_secret_expires_at: prev.as_ref().map(|p| p.1),
                rolled_at: col_opt_int(r, 23),
                limits: meter.limits,
                credits: meter.credits,
            },
            digest: col_text(r, 20)?,
            prev,
            import_seal: None,
        })
    }
}

/// The policy the core checks, from a record.
pub(super) fn policy_of(rec: &KeyRecord) -> Result<KeyPolicy, Error> {
    Ok(KeyPolicy {
        enabled: rec.enabled,
        revoked: rec.deleted_at.is_some(),
        expires_at: rec.expires_at,
        role: rec.role.clone(),
        scopes: validate::scopes(&rec.scopes)?,
        read_only: rec.read_only,
        allowed_ips: validate::allowed_ips(&rec.allowed_ips)?,
    })
}

/// Everything that goes into a new row, validated.
pub(super) struct NewRow {
    pub(super) record: KeyRecord,
    pub(super) digest: String,
    pub(super) action: AuditAction,
    /// An import's seal (see `secrets`); none for keys made here.
    pub(super) import_seal: Option<String>,
}

pub(super) fn to_json<T: serde::Serialize>(v: &T) -> Result<String, Error> {
    serde_json::to_string(v).map_err(|_| Error::Internal {
        detail: "a value did not serialize to json",
    })
}

/// The columns of a new key row, bound in this order (the same on both backends).
pub(super) const INSERT_COLS: &str = "id, account, name, description, owner, role, scopes, read_only, \
    allowed_ips, enabled, expires_at, metadata, meter, created_at, created_by, modified_at, \
    modified_by, version, digest";

/// The values of a new key row, in [`INSERT_COLS`] order (version 1).
pub(super) fn insert_values(r: &KeyRecord, digest: &str) -> Result<Vec<Val>, Error> {
    let mut v = Vec::with_capacity(19);
    v.extend([Val::from(r.id.as_str()), Val::from(r.account.as_str())]);
    v.extend(editable_values(r)?);
    v.extend([
        Val::Int(r.created_at),
        Val::from(r.created_by.to_stored()),
        Val::Int(r.modified_at),
        Val::from(r.modified_by.to_stored()),
        Val::Int(1),
        Val::from(digest),
    ]);
    Ok(v)
}

/// The values of the columns an update may change, in this order: name, description,
/// owner, role, scopes, read_only, allowed_ips, enabled, expires_at, metadata, meter.
pub(super) fn editable_values(r: &KeyRecord) -> Result<[Val; 11], Error> {
    Ok([
        Val::from(r.name.as_str()),
        Val::from(r.description.as_str()),
        Val::opt_text(r.owner.as_deref()),
        Val::opt_text(r.role.as_deref()),
        Val::from(to_json(&r.scopes)?),
        Val::from(r.read_only),
        Val::from(to_json(&r.allowed_ips)?),
        Val::from(r.enabled),
        Val::opt_int(r.expires_at),
        Val::from(to_json(&r.metadata)?),
        Val::opt_text(crate::meter::spec::to_column(&r.limits, r.credits.as_ref())?.as_deref()),
    ])
}
