//! Changes to existing keys: [`Registry::update`] (and `enable`/`disable`),
//! [`Registry::delete`] and [`Registry::roll`], each one transaction with its audit entry
//! and change notification.

use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use keyseal::{Error, ErrorCode};

use super::audit::{diff, insert_audit};
use super::errors::{conflict, not_found, reg};
use super::lifecycle::Registry;
use super::rows::{Loaded, editable_values};
use super::tx::{notify, with_tx};
use crate::config::MAX_ROLL_GRACE;
use crate::store::Val;
use crate::types::{Actor, AuditAction, KeyPatch, KeyRecord, RolledKey};
use crate::validate;

/// An `UPDATE` of a live key at an expected version: `$set` names the change's own
/// columns; [`Registry::change_live`] binds `modified_at`, `modified_by`, the id, the
/// account and the version after them.
macro_rules! live_update {
    ($set:literal) => {
        concat!(
            "UPDATE keys SET ",
            $set,
            ", modified_at = ?, modified_by = ?, version = version + 1 \
             WHERE id = ? AND account = ? AND version = ? AND deleted_at IS NULL"
        )
    };
}

impl Registry {
    /// Applies a partial change. The record's version must equal
    /// `patch.expected_version` (`version_conflict` otherwise); a patch that changes
    /// nothing returns the record as it is, without a new version.
    pub fn update(
        &self,
        account: &str,
        id: &str,
        patch: &KeyPatch,
        actor: &Actor,
    ) -> Result<KeyRecord, Error> {
        validate::actor(actor)?;
        if let Some(n) = &patch.name {
            validate::name(n)?;
        }
        if let Some(d) = &patch.description {
            validate::description(d)?;
        }
        if let Some(Some(o)) = &patch.owner {
            validate::owner(o)?;
        }
        if let Some(Some(r)) = &patch.role {
            validate::role(r)?;
        }
        let scopes = patch
            .scopes
            .as_ref()
            .map(|s| validate::scopes(s))
            .transpose()?;
        let ips = patch
            .allowed_ips
            .as_ref()
            .map(|s| validate::allowed_ips(s))
            .transpose()?;
        if let Some(m) = &patch.metadata {
            validate::metadata(m)?;
        }
        if let Some(Some(t)) = patch.expires_at {
            validate::timestamp(t)?;
        }
        if patch.limits.is_some() || patch.credits.is_some() {
            crate::meter::spec::rules(
                patch.limits.as_deref().unwrap_or_default(),
                patch.credits.as_ref().and_then(Option::as_ref),
            )?;
        }
        let now = self.now();
        let expected = Some(patch.expected_version);
        self.change_live(account, id, expected, actor, now, |old, new| {
            if let Some(n) = &patch.name {
                new.name = n.clone();
            }
            if let Some(d) = &patch.description {
                new.description = d.clone();
            }
            if let Some(o) = &patch.owner {
                new.owner = o.clone();
            }
            if let Some(r) = &patch.role {
                new.role = r.clone();
            }
            if let Some(s) = &scopes {
                new.scopes = s.iter().map(|s| s.as_str().to_owned()).collect();
            }
            if let Some(ro) = patch.read_only {
                new.read_only = ro;
            }
            if let Some(ips) = &ips {
                new.allowed_ips = ips.iter().map(ToString::to_string).collect();
            }
            if let Some(e) = patch.enabled {
                new.enabled = e;
            }
            if let Some(e) = patch.expires_at {
                new.expires_at = e;
            }
            if let Some(m) = &patch.metadata {
                new.metadata = m.clone();
            }
            if let Some(l) = &patch.limits {
                new.limits = l.clone();
            }
            if let Some(c) = &patch.credits {
                new.credits = c.clone();
            }
            let changes = diff(&old.record, new);
            if changes.is_empty() {
                return Ok(None);
            }
            Ok(Some(Change {
                sql: live_update!(
                    "name = ?, description = ?, owner = ?, role = ?, scopes = ?, \
                     read_only = ?, allowed_ips = ?, enabled = ?, expires_at = ?, metadata = ?, \
                     meter = ?"
                ),
                values: Vec::from(editable_values(new)?),
                action: AuditAction::Update,
                changes,
                balance: match &patch.credits {
                    Some(Some(c)) => Some(c.remaining),
                    _ => None,
                },
                keep_windows: patch.limits.as_ref().map(|_| {
                    new.limits
                        .iter()
                        .filter(|l| {
                            old.record
                                .limits
                                .iter()
                                .any(|o| o.name == l.name && o.window_ms == l.window_ms)
                        })
                        .map(|l| l.name.clone())
                        .collect()
                }),
            }))
        })
    }

    /// Enables a key (an update of `enabled`).
    pub fn enable(
        &self,
        account: &str,
        id: &str,
        expected_version: u64,
        actor: &Actor,
    ) -> Result<KeyRecord, Error> {
        self.set_enabled(account, id, expected_version, actor, true)
    }

    /// Disables a key (an update of `enabled`); it then fails with `key_disabled`.
    pub fn disable(
        &self,
        account: &str,
        id: &str,
        expected_version: u64,
        actor: &Actor,
    ) -> Result<KeyRecord, Error> {
        self.set_enabled(account, id, expected_version, actor, false)
    }

    /// An update of `enabled` alone.
    fn set_enabled(
        &self,
        account: &str,
        id: &str,
        expected_version: u64,
        actor: &Actor,
        enabled: bool,
    ) -> Result<KeyRecord, Error> {
        let mut p = KeyPatch::new(expected_version);
        p.enabled = Some(enabled);
        self.update(account, id, &p, actor)
    }

    /// Soft-deletes a key: from the commit on it fails verification with `key_revoked`,
    /// its name is free again, and it shows only in lists with [`crate::KeyStatus::Deleted`].
    /// `expected_version: None` deletes whatever the version.
    pub fn delete(
        &self,
        account: &str,
        id: &str,
        expected_version: Option<u64>,
        actor: &Actor,
    ) -> Result<KeyRecord, Error> {
        validate::actor(actor)?;
        let now = self.now();
        self.change_live(account, id, expected_version, actor, now, |old, new| {
            new.deleted_at = Some(now);
            Ok(Some(Change {
                sql: live_update!("deleted_at = ?"),
                values: vec![Val::Int(now)],
                action: AuditAction::Delete,
                changes: diff(&old.record, new),
                balance: None,
                keep_windows: None,
            }))
        })
    }

    /// Rolls a key's secret: the same record (id, name, policy) gets a new secret,
    /// returned once. The old secret keeps verifying for `grace_seconds` (0 = stops at
    /// once; at most 30 days), as Stripe's roll does. A second roll within the grace
    /// period ends the first old secret at once.
    pub fn roll(
        &self,
        account: &str,
        id: &str,
        grace_seconds: i64,
        expected_version: Option<u64>,
        actor: &Actor,
    ) -> Result<RolledKey, Error> {
        validate::actor(actor)?;
        if !(0..=MAX_ROLL_GRACE).contains(&grace_seconds) {
            return Err(reg(
                ErrorCode::InvalidArgument,
                "expected a grace period of 0 to 2592000 seconds",
            ));
        }
        if !validate::is_key_id(id, self.format().id_len()) {
            return Err(not_found());
        }
        // A fresh secret for the same id: draw a key, keep its secret, recompute the
        // checksum over the new text.
        let fresh = self.format().generate_os()?;
        let mut text = Zeroizing::new(String::with_capacity(self.format().key_len()));
        text.push_str(self.format().prefix());
        text.push('_');
        text.push_str(id);
        text.push('_');
        text.push_str(fresh.expose_secret());
        let sum = keyseal::key::checksum(text.as_bytes());
        for b in sum {
            text.push(char::from(b));
        }
        let key = self.format().parse(&text)?;
        let digest = self.inner.config.peppers.digest(key.expose());
        let now = self.now();
        let record = self.change_live(account, id, expected_version, actor, now, |old, new| {
            let prev_until = (grace_seconds > 0).then(|| now + grace_seconds);
            new.previous_secret_expires_at = prev_until;
            new.rolled_at = Some(now);
            let mut changes = diff(&old.record, new);
            // Never the secret or a digest: only the fact that it changed.
            changes.insert(
                "secret".to_owned(),
                json!({ "old": "previous secret", "new": "new secret" }),
            );
            Ok(Some(Change {
                sql: live_update!(
                    "digest = ?, prev_digest = ?, prev_digest_until = ?, rolled_at = ?"
                ),
                values: vec![
                    Val::from(digest.as_str()),
                    prev_until.map_or(Val::Null, |_| Val::from(old.digest.as_str())),
                    Val::opt_int(prev_until),
                    Val::Int(now),
                ],
                action: AuditAction::Roll,
                changes,
                balance: None,
                keep_windows: None,
            }))
        })?;
        Ok(RolledKey { record, key })
    }

    /// One change to a live key, in one transaction: lock its row, check
    /// `expected_version` (`version_conflict`), let `edit` change the record (`None`:
    /// nothing to change, the record is returned as it is), then write it with the next
    /// version, `modified_at` and `modified_by`, add the audit entry and notify. The key
    /// leaves the verify cache after the commit.
    fn change_live(
        &self,
        account: &str,
        id: &str,
        expected_version: Option<u64>,
        actor: &Actor,
        now: i64,
        edit: impl FnOnce(&Loaded, &mut KeyRecord) -> Result<Option<Change>, Error>,
    ) -> Result<KeyRecord, Error> {
        let (rec, changed) = with_tx(&self.inner.pool, |conn| {
            let old = self.load_for_update(conn, account, id)?;
            if expected_version.is_some_and(|v| v != old.record.version) {
                return Err(conflict());
            }
            let mut new = old.record.clone();
            let Some(change) = edit(&old, &mut new)? else {
                return Ok((old.record, false));
            };
            new.version += 1;
            new.modified_at = now;
            new.modified_by = actor.clone();
            let mut params = change.values;
            params.extend([
                Val::Int(now),
                Val::from(actor.to_stored()),
                Val::from(id),
                Val::from(account),
                Val::Int(old.record.version as i64),
            ]);
            let n = conn.exec(change.sql, &params)?;
            if n != 1 {
                return Err(conflict());
            }
            insert_audit(conn, &new, change.action, actor, now, &change.changes)?;
            if let Some(balance) = change.balance {
                let at = u64::try_from(now).unwrap_or(0).saturating_mul(1000);
                crate::meter::store::put_balance(conn, id, balance, at)?;
            }
            if let Some(keep) = &change.keep_windows {
                let keep: Vec<&str> = keep.iter().map(String::as_str).collect();
                crate::meter::store::drop_windows_except(conn, id, &keep)?;
            }
            notify(conn, &self.inner.instance, id)?;
            Ok((new, true))
        })?;
        if changed {
            self.inner.cache.invalidate(id);
            self.inner.meters.unsync(id);
        }
        Ok(rec)
    }
}

/// What [`Registry::change_live`] writes besides the version and `modified_*` columns.
struct Change {
    /// A [`live_update!`] statement.
    sql: &'static str,
    /// The values of its own `SET` columns, in order.
    values: Vec<Val>,
    action: AuditAction,
    /// The audit entry's changes.
    changes: Map<String, Value>,
    /// A new credit balance to write in the same transaction (`credits.remaining` of an
    /// update), or `Some(None)`: make sure a balance exists (credits newly metered).
    balance: Option<Option<u64>>,
    /// When the limits changed: the names whose counters are kept (same name and
    /// window); the others' counters are dropped.
    keep_windows: Option<Vec<String>>,
}
