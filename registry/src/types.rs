//! The registry's public data types. All are serde-serializable so a server can return
//! them as JSON; none of them ever holds a digest, and only [`CreatedKey`] and
//! [`RolledKey`] hold a secret (and redact it in `Debug`).

use std::fmt;
use std::sync::Arc;

use keyseal::{ApiKey, Error};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::meter::{CreditSpec, LimitSpec};

/// Who performs an operation: recorded as `created_by` / `modified_by` and in the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// A user (e.g. a dashboard session).
    User(String),
    /// Another API key, by its public id.
    Key(String),
    /// The system itself (migrations, imports run by an operator).
    System,
}

impl Actor {
    /// A user actor.
    pub fn user(id: &str) -> Actor {
        Actor::User(id.to_owned())
    }
    /// A key actor (by public id).
    pub fn key(id: &str) -> Actor {
        Actor::Key(id.to_owned())
    }

    /// The stored form: `user:<id>`, `key:<id>` or `system`.
    pub fn to_stored(&self) -> String {
        match self {
            Actor::User(id) => format!("user:{id}"),
            Actor::Key(id) => format!("key:{id}"),
            Actor::System => "system".to_owned(),
        }
    }

    /// Parses the stored form; unknown forms read as a user (never fails on old rows).
    pub fn from_stored(s: &str) -> Actor {
        if let Some(id) = s.strip_prefix("user:") {
            Actor::User(id.to_owned())
        } else if let Some(id) = s.strip_prefix("key:") {
            Actor::Key(id.to_owned())
        } else if s == "system" {
            Actor::System
        } else {
            Actor::User(s.to_owned())
        }
    }
}

/// A key as the registry shows it: everything except the secret and its digest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The public id (the `<id>` part of the key); the record's id.
    pub id: String,
    /// The key's prefix, e.g. `acme_live`, so a dashboard can show `acme_live_<id>_…`.
    pub prefix: String,
    /// The account (tenant) the key belongs to.
    pub account: String,
    /// Unique among the account's live (not deleted) keys; `[A-Za-z0-9_-]`, 1-64 chars.
    pub name: String,
    /// Free text, at most 500 characters.
    pub description: String,
    /// The user the key acts for.
    pub owner: Option<String>,
    /// The key's role, e.g. `account-owner`.
    pub role: Option<String>,
    /// Granted scopes (see `keyseal::Scope`).
    pub scopes: Vec<String>,
    /// Only GET, HEAD and OPTIONS requests.
    pub read_only: bool,
    /// Allowed client networks (CIDR, IPv4 and IPv6); empty = anywhere.
    pub allowed_ips: Vec<String>,
    /// Usable at all.
    pub enabled: bool,
    /// Unix seconds after which the key stops working; none = never.
    pub expires_at: Option<i64>,
    /// A JSON object set by the caller, at most 8 KiB serialized.
    pub metadata: Map<String, Value>,
    /// Unix seconds.
    pub created_at: i64,
    /// Who created the key.
    pub created_by: Actor,
    /// Unix seconds of the last change.
    pub modified_at: i64,
    /// Who made the last change.
    pub modified_by: Actor,
    /// 1 at creation, +1 on every change (update, enable, disable, roll, delete).
    pub version: u64,
    /// When the key was deleted (soft delete); deleted keys fail with `key_revoked`.
    pub deleted_at: Option<i64>,
    /// Last successful verification, written at most once per `last_used_interval`.
    pub last_used_at: Option<i64>,
    /// After a roll with a grace period: when the previous secret stops verifying.
    pub previous_secret_expires_at: Option<i64>,
    /// When the secret was last rolled; none if it never was.
    pub rolled_at: Option<i64>,
    /// Named rate limits (see [`crate::meter`]); empty = none.
    #[serde(default)]
    pub limits: Vec<LimitSpec>,
    /// Usage credits (the rule; `remaining` is filled only by reads of the balance).
    #[serde(default)]
    pub credits: Option<CreditSpec>,
}

impl KeyRecord {
    /// The key's status at `now`.
    pub fn status(&self, now: i64) -> KeyStatus {
        if self.deleted_at.is_some() {
            KeyStatus::Deleted
        } else if !self.enabled || self.expires_at.is_some_and(|e| now >= e) {
            KeyStatus::Inactive
        } else {
            KeyStatus::Active
        }
    }
}

/// A key's lifecycle status, and the status filter of [`ListQuery`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Enabled, not expired, not deleted.
    Active,
    /// Disabled or expired, not deleted.
    Inactive,
    /// Soft-deleted.
    Deleted,
    /// As a filter: every key that is not deleted (the default).
    #[default]
    All,
}

/// What a new key should look like. Only `account` and `name` are required.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NewKey {
    /// The account (tenant): 1-128 characters of `[A-Za-z0-9_.:-]`.
    pub account: String,
    /// 1-64 characters of `[A-Za-z0-9_-]`, unique among the account's live keys.
    pub name: String,
    /// At most 500 characters. Defaults to empty.
    pub description: String,
    /// The user the key acts for. Defaults to none.
    pub owner: Option<String>,
    /// The key's role: 1-64 characters of `[A-Za-z0-9_.:-]`. Defaults to none.
    pub role: Option<String>,
    /// At most 64 scopes. Defaults to none.
    pub scopes: Vec<String>,
    /// Defaults to false.
    pub read_only: bool,
    /// At most 64 CIDR ranges. Defaults to empty (anywhere).
    pub allowed_ips: Vec<String>,
    /// Create the key disabled. Defaults to false (enabled).
    pub disabled: bool,
    /// Unix seconds; none (the default) = never.
    pub expires_at: Option<i64>,
    /// A JSON object, at most 8 KiB serialized. Defaults to `{}`.
    pub metadata: Map<String, Value>,
    /// Named rate limits, at most 8. Defaults to none.
    pub limits: Vec<LimitSpec>,
    /// Usage credits: the starting balance (`remaining`, default 0) and the refill.
    /// Defaults to none (unmetered).
    pub credits: Option<CreditSpec>,
}

impl NewKey {
    /// A new, enabled key named `name` in `account`, with every other field defaulted.
    pub fn new(account: &str, name: &str) -> NewKey {
        NewKey {
            account: account.to_owned(),
            name: name.to_owned(),
            ..NewKey::default()
        }
    }
}

/// A partial change to a key. Fields left `None` are unchanged; `Some(None)` clears an
/// optional field. `expected_version` must be the record's current version, or the
/// update fails with `version_conflict` (no lost updates).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyPatch {
    /// The version the caller read.
    pub expected_version: u64,
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New owner, or `Some(None)` to clear it.
    pub owner: Option<Option<String>>,
    /// New role, or `Some(None)` to clear it.
    pub role: Option<Option<String>>,
    /// New scopes (replaces the list).
    pub scopes: Option<Vec<String>>,
    /// New read-only flag.
    pub read_only: Option<bool>,
    /// New allowed networks (replaces the list).
    pub allowed_ips: Option<Vec<String>>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// New expiry, or `Some(None)` for never.
    pub expires_at: Option<Option<i64>>,
    /// New metadata (replaces the object).
    pub metadata: Option<Map<String, Value>>,
    /// New limits (replaces the list). Counters of limits that keep their name and window
    /// keep counting; the others start empty.
    pub limits: Option<Vec<LimitSpec>>,
    /// New credits rule, or `Some(None)` to stop metering credits. A `remaining` in it
    /// sets the balance (credits held by running instances are not part of it).
    pub credits: Option<Option<CreditSpec>>,
}

impl KeyPatch {
    /// An empty patch expecting `version`.
    pub fn new(expected_version: u64) -> KeyPatch {
        KeyPatch {
            expected_version,
            ..KeyPatch::default()
        }
    }
}

/// A cursor-paginated list request. Newest first (by creation order), stable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    /// Which keys. Defaults to [`KeyStatus::All`] (every key not deleted).
    pub status: KeyStatus,
    /// Only keys acting for this user. Defaults to any.
    pub owner: Option<String>,
    /// Only keys with this role. Defaults to any.
    pub role: Option<String>,
    /// 1-100. Defaults to 25.
    pub limit: u32,
    /// Items after this id (the previous page's `next_cursor`).
    pub starting_after: Option<String>,
    /// Items before this id (the next page's `prev_cursor`).
    pub ending_before: Option<String>,
    /// Items to skip (after the cursor, if any). Defaults to 0; at most 10,000.
    pub offset: u32,
}

/// Default page size.
pub const DEFAULT_LIMIT: u32 = 25;
/// Largest page size.
pub const MAX_LIMIT: u32 = 100;
/// Largest `offset`: deep offsets scan; use cursors.
pub const MAX_OFFSET: u32 = 10_000;

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            status: KeyStatus::All,
            owner: None,
            role: None,
            limit: DEFAULT_LIMIT,
            starting_after: None,
            ending_before: None,
            offset: 0,
        }
    }
}

/// A page of an audit-log request (newest first).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    /// Only entries about this key. Defaults to every key of the account.
    pub key_id: Option<String>,
    /// 1-100. Defaults to 25.
    pub limit: u32,
    /// Entries after this entry id.
    pub starting_after: Option<String>,
    /// Entries before this entry id.
    pub ending_before: Option<String>,
    /// Entries to skip. Defaults to 0; at most 10,000.
    pub offset: u32,
}

impl Default for AuditQuery {
    fn default() -> Self {
        AuditQuery {
            key_id: None,
            limit: DEFAULT_LIMIT,
            starting_after: None,
            ending_before: None,
            offset: 0,
        }
    }
}

/// One page of results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items, newest first.
    pub data: Vec<T>,
    /// `data.len()`.
    pub count: usize,
    /// How many items match the filters in total (cursors and offset ignored).
    pub total: u64,
    /// True when more items lie beyond this page in the direction of travel.
    pub has_more: bool,
    /// Pass as `starting_after` for the next (older) page; none when empty.
    pub next_cursor: Option<String>,
    /// Pass as `ending_before` for the previous (newer) page; none when empty.
    pub prev_cursor: Option<String>,
}

/// What an audit entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A key was created.
    Create,
    /// A key was imported.
    Import,
    /// Fields changed (including enable/disable).
    Update,
    /// The secret was rolled.
    Roll,
    /// The key was deleted.
    Delete,
    /// Credits were added to a key's or an owner's balance.
    CreditsAdded,
    /// An owner's shared limits or credits changed (logged under `owner:<owner>`).
    OwnerUpdate,
}

impl AuditAction {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AuditAction::Create => "create",
            AuditAction::Import => "import",
            AuditAction::Update => "update",
            AuditAction::Roll => "roll",
            AuditAction::Delete => "delete",
            AuditAction::CreditsAdded => "credits_added",
            AuditAction::OwnerUpdate => "owner_update",
        }
    }
    pub(crate) fn from_stored(s: &str) -> AuditAction {
        match s {
            "create" => AuditAction::Create,
            "import" => AuditAction::Import,
            "roll" => AuditAction::Roll,
            "delete" => AuditAction::Delete,
            "credits_added" => AuditAction::CreditsAdded,
            "owner_update" => AuditAction::OwnerUpdate,
            _ => AuditAction::Update,
        }
    }
}

/// One audit-log entry. Never contains a secret or a digest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The entry's id (a decimal sequence number, usable as a cursor).
    pub id: String,
    /// The account.
    pub account: String,
    /// The key concerned.
    pub key_id: String,
    /// What happened.
    pub action: AuditAction,
    /// Who did it.
    pub actor: Actor,
    /// Unix seconds.
    pub at: i64,
    /// The key's version after the change.
    pub version: u64,
    /// `{"field": {"old": ..., "new": ...}}` for every field that changed.
    pub changes: Map<String, Value>,
}

/// The result of `create`: the record and the full key, shown exactly once.
pub struct CreatedKey {
    /// The stored record.
    pub record: KeyRecord,
    /// The full key. The registry keeps only its digest: hand it to the user now.
    pub key: ApiKey,
}

impl fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // ApiKey's Debug already redacts the secret.
        f.debug_struct("CreatedKey")
            .field("record", &self.record)
            .field("key", &self.key)
            .finish()
    }
}

/// The result of `roll`: the record and the new key, shown exactly once.
pub struct RolledKey {
    /// The record after the roll (version +1).
    pub record: KeyRecord,
    /// The new full key (same id, new secret).
    pub key: ApiKey,
}

impl fmt::Debug for RolledKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RolledKey")
            .field("record", &self.record)
            .field("key", &self.key)
            .finish()
    }
}

/// A key whose secret matched: its record and the core's policy decision for the request.
#[derive(Clone, Debug)]
pub struct Verification {
    /// The record (shared with the cache; `last_used_at` is as of loading).
    pub record: Arc<KeyRecord>,
    /// `Ok(())` when the policy allows the request, else the core's policy error
    /// (`key_revoked`, `key_disabled`, `key_expired`, `ip_not_allowed`, ...), or the
    /// metering refusal (`rate_limited`, `usage_exceeded`).
    pub decision: Result<(), Error>,
    /// What metering answered, when the key is metered and its policy allowed the
    /// request (see [`crate::meter`]).
    pub meter: Option<crate::meter::MeterReport>,
}

impl Verification {
    /// The record when the request is allowed, the policy error otherwise.
    pub fn allowed(&self) -> Result<&KeyRecord, Error> {
        match &self.decision {
            Ok(()) => Ok(&self.record),
            Err(e) => Err(e.clone()),
        }
    }
}

/// The result of [`crate::Registry::verify_token`]: an exchange token that verified, and
/// its key, which is still live in the token's account.
#[derive(Clone)]
pub struct TokenCheck {
    /// The verified token: the `kid` that verified it, its algorithm and its claims.
    pub token: keyseal::VerifiedToken,
    /// The key the token was issued for, as it is now.
    pub record: Arc<KeyRecord>,
}

impl fmt::Debug for TokenCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCheck")
            .field("kid", &self.token.kid)
            .field("key_id", &self.record.id)
            .finish_non_exhaustive()
    }
}

/// The result of `exchange`: a short-lived signed token for a verified key.
#[derive(Clone)]
pub struct ExchangedToken {
    /// The signed token (JWT-compatible, HS256/384/512).
    pub token: String,
    /// Unix seconds when the token expires.
    pub expires_at: i64,
    /// The key it was issued for.
    pub record: Arc<KeyRecord>,
    /// What metering answered, when the key is metered.
    pub meter: Option<crate::meter::MeterReport>,
}

impl fmt::Debug for ExchangedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangedToken")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("record", &self.record)
            .finish()
    }
}

/// A key hashed elsewhere, to bring in without re-issuing it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImportKey {
    /// The key's public id: the `<id>` part of the existing keys, which must already be in
    /// the registry's key format (prefix and lengths).
    pub id: String,
    /// The fields of the new record.
    pub fields: NewKey,
    /// The stored digest: SHA-256 of the whole key as hex or base64 (optionally
    /// `sha256:`-prefixed), HMAC-SHA256 of the key under `pepper` as 64 hex digits, or a
    /// keyseal `v1.` digest. Replaced by a peppered digest on the first successful
    /// verification. Anything but a `v1.` digest of our peppers needs
    /// `RegistryConfig::accept_imported_digests`.
    pub digest: String,
    /// Original creation time (unix seconds); defaults to the import time.
    #[serde(default)]
    pub created_at: Option<i64>,
    /// The id of the foreign pepper (one of `RegistryConfig::foreign_peppers`) `digest`
    /// is an HMAC-SHA256 under. Defaults to none: the digest is plain SHA-256 or ours.
    #[serde(default)]
    pub pepper: Option<String>,
}

/// The outcome of [`crate::Registry::check_pepper`]; every variant names a pepper by id,
/// never by secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PepperCheck {
    /// The database had no fingerprint; the current pepper's is now recorded.
    Recorded {
        /// The current pepper's id.
        id: String,
    },
    /// The recorded fingerprint is the current pepper's.
    Matches {
        /// The current pepper's id.
        id: String,
    },
    /// The recorded fingerprint was an older, still configured pepper's (a rotation):
    /// the current one's is now recorded.
    Advanced {
        /// The older pepper's id.
        from: String,
        /// The current pepper's id.
        to: String,
    },
    /// The database's pepper is not configured (refuse to start).
    Unknown {
        /// The id the database names.
        id: String,
    },
    /// A configured pepper has the database's id but another secret (refuse to start).
    Mismatch {
        /// The id the database names.
        id: String,
    },
}

impl PepperCheck {
    /// True when the configuration holds the database's pepper.
    pub fn is_ok(&self) -> bool {
        !matches!(
            self,
            PepperCheck::Unknown { .. } | PepperCheck::Mismatch { .. }
        )
    }
}
