//! Changes to existing keys: [`Registry::update`] (and `enable`/`disable`),
//! [`Registry::delete`] and [`Registry::roll`], each one transaction with its audit entry
//! and change notification.

use serde_json::json;
use zeroize::Zeroizing;

use keyseal::{Error, ErrorCode};

use super::audit::{diff, insert_audit};
use super::errors::{conflict, not_found, reg};
use super::lifecycle::Registry;
use super::rows::to_json;
use super::tx::{notify, with_tx};
use crate::config::MAX_ROLL_GRACE;
use crate::store::Val;
use crate::types::{Actor, AuditAction, KeyPatch, KeyRecord, RolledKey};
use crate::validate;

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
        let now = self.now();
        let result = with_tx(&self.inner.pool, |conn| {
            let old = self.load_for_update(conn, account, id)?;
            if old.record.version != patch.expected_version {
                return Err(conflict());
            }
            let mut new = old.record.clone();
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
            let changes = diff(&old.record, &new);
            if changes.is_empty() {
                return Ok((old.record, false));
            }
            new.version += 1;
            new.modified_at = now;
            new.modified_by = actor.clone();
            let n = conn.exec(
                "UPDATE keys SET name = ?, description = ?, owner = ?, role = ?, scopes = ?, \
                 read_only = ?, allowed_ips = ?, enabled = ?, expires_at = ?, metadata = ?, \
                 modified_at = ?, modified_by = ?, version = version + 1 \
                 WHERE id = ? AND account = ? AND version = ? AND deleted_at IS NULL",
                &[
                    Val::from(new.name.as_str()),
                    Val::from(new.description.as_str()),
                    Val::opt_text(new.owner.as_deref()),
                    Val::opt_text(new.role.as_deref()),
                    Val::from(to_json(&new.scopes)?),
                    Val::from(new.read_only),
                    Val::from(to_json(&new.allowed_ips)?),
                    Val::from(new.enabled),
                    Val::opt_int(new.expires_at),
                    Val::from(to_json(&new.metadata)?),
                    Val::Int(now),
                    Val::from(actor.to_stored()),
                    Val::from(id),
                    Val::from(account),
                    Val::Int(patch.expected_version as i64),
                ],
            )?;
            if n != 1 {
                return Err(conflict());
            }
            insert_audit(conn, &new, AuditAction::Update, actor, now, &changes)?;
            notify(conn, &self.inner.instance, id)?;
            Ok((new, true))
        });
        let (rec, changed) = result?;
        if changed {
            self.inner.cache.invalidate(id);
        }
        Ok(rec)
    }

    /// Enables a key (an update of `enabled`).
    pub fn enable(
        &self,
        account: &str,
        id: &str,
        expected_version: u64,
        actor: &Actor,
    ) -> Result<KeyRecord, Error> {
        let mut p = KeyPatch::new(expected_version);
        p.enabled = Some(true);
        self.update(account, id, &p, actor)
    }

    /// Disables a key (an update of `enabled`); it then fails with `key_disabled`.
    pub fn disable(
        &self,
        account: &str,
        id: &str,
        expected_version: u64,
        actor: &Actor,
    ) -> Result<KeyRecord, Error> {
        let mut p = KeyPatch::new(expected_version);
        p.enabled = Some(false);
        self.update(account, id, &p, actor)
    }

    /// Soft-deletes a key: from the commit on it fails verification with `key_revoked`,
    /// its name is free again, and it shows only in lists with [`KeyStatus::Deleted`].
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
        let rec = with_tx(&self.inner.pool, |conn| {
            let old = self.load_for_update(conn, account, id)?;
            if expected_version.is_some_and(|v| v != old.record.version) {
                return Err(conflict());
            }
            let mut new = old.record.clone();
            new.deleted_at = Some(now);
            new.version += 1;
            new.modified_at = now;
            new.modified_by = actor.clone();
            let n = conn.exec(
                "UPDATE keys SET deleted_at = ?, modified_at = ?, modified_by = ?, version = version + 1 \
                 WHERE id = ? AND account = ? AND version = ? AND deleted_at IS NULL",
                &[
                    Val::Int(now),
                    Val::Int(now),
                    Val::from(actor.to_stored()),
                    Val::from(id),
                    Val::from(account),
                    Val::Int(old.record.version as i64),
                ],
            )?;
            if n != 1 {
                return Err(conflict());
            }
            insert_audit(
                conn,
                &new,
                AuditAction::Delete,
                actor,
                now,
                &diff(&old.record, &new),
            )?;
            notify(conn, &self.inner.instance, id)?;
            Ok(new)
        })?;
        self.inner.cache.invalidate(id);
        Ok(rec)
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
        let rec = with_tx(&self.inner.pool, |conn| {
            let old = self.load_for_update(conn, account, id)?;
            if expected_version.is_some_and(|v| v != old.record.version) {
                return Err(conflict());
            }
            let prev_until = (grace_seconds > 0).then(|| now + grace_seconds);
            let mut new = old.record.clone();
            new.previous_secret_expires_at = prev_until;
            new.rolled_at = Some(now);
            new.version += 1;
            new.modified_at = now;
            new.modified_by = actor.clone();
            let n = conn.exec(
                "UPDATE keys SET digest = ?, prev_digest = ?, prev_digest_until = ?, rolled_at = ?, \
                 modified_at = ?, modified_by = ?, version = version + 1 \
                 WHERE id = ? AND account = ? AND version = ? AND deleted_at IS NULL",
                &[
                    Val::from(digest.as_str()),
                    prev_until.map_or(Val::Null, |_| Val::from(old.digest.as_str())),
                    Val::opt_int(prev_until),
                    Val::Int(now),
                    Val::Int(now),
                    Val::from(actor.to_stored()),
                    Val::from(id),
                    Val::from(account),
                    Val::Int(old.record.version as i64),
                ],
            )?;
            if n != 1 {
                return Err(conflict());
            }
            let mut changes = diff(&old.record, &new);
            // Never the secret or a digest: only the fact that it changed.
            changes.insert(
                "secret".to_owned(),
                json!({ "old": "previous secret", "new": "new secret" }),
            );
            insert_audit(conn, &new, AuditAction::Roll, actor, now, &changes)?;
            notify(conn, &self.inner.instance, id)?;
            Ok(new)
        })?;
        self.inner.cache.invalidate(id);
        Ok(RolledKey { record: rec, key })
    }
}
