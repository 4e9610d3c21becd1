//! Owners' shared metering: the limits and credits that every key with the same `owner`
//! in an account spends from together (one `owner_meters` row per account and owner),
//! their cache on the verify path, and adding credits to a key or an owner.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use keyseal::Error;
use serde_json::{Map, Value, json};

use super::audit::insert_audit_row;
use super::lifecycle::Registry;
use super::metering::Part;
use super::rows::col_opt_text;
use super::tx::{notify, with_tx};
use crate::meter::spec::{self, StoredMeter};
use crate::meter::{KeyMeter, OwnerMeter, OwnerMeterPatch, Scope, store};
use crate::store::{Dialect, Val};
use crate::types::{Actor, AuditAction};
use crate::validate;

/// The version, modification time and author of an owner's row.
type Stamp = (u64, i64, Actor);

/// An owner's rules as cached: `None` when the owner has none.
#[derive(Clone)]
struct Cached {
    account: String,
    owner: String,
    subject: String,
    rules: Option<Arc<KeyMeter>>,
    loaded_at: i64,
}

/// Owners' rules by `"<account>\n<owner>"`, for the verify path (a read lock and one
/// lookup per verification of a key with an owner).
#[derive(Default)]
pub(crate) struct OwnerRules {
    map: RwLock<HashMap<String, Cached>>,
}

impl OwnerRules {
    /// Forgets the owner of `subject` (a change here or on another instance).
    pub(crate) fn forget(&self, subject: &str) {
        if !subject.starts_with("o.") {
            return;
        }
        if let Ok(mut m) = self.map.write() {
            m.retain(|_, c| c.subject != subject);
        }
    }
    pub(crate) fn clear(&self) {
        if let Ok(mut m) = self.map.write() {
            m.clear();
        }
    }
}

/// The subject id of an owner: `o.` and 40 hex digits of SHA-256 over the account and the
/// owner, so any owner text fits the id columns and the notification payloads (key ids
/// are base62 and never hold a `.`).
pub(crate) fn owner_subject(account: &str, owner: &str) -> String {
    let h = keyseal::sha256_hex(&format!("{account}\n{owner}"));
    format!("o.{}", &h[..40])
}

fn audit_id(owner: &str) -> String {
    format!("owner:{owner}")
}

fn int(r: &[Val], i: usize) -> i64 {
    r.get(i).and_then(Val::int).unwrap_or(0)
}

impl Registry {
    /// The owner's part of a request from the cache, or with `io` from the database:
    /// `Ok(None)` when it must be read and `io` is false, `Ok(Some(None))` when the
    /// owner has no rules.
    pub(super) fn owner_part(
        &self,
        account: &str,
        owner: &str,
        io: bool,
    ) -> Result<Option<Option<Part>>, Error> {
        let key = format!("{account}\n{owner}");
        let now = self.now();
        let ttl = self.inner.config.cache_ttl;
        let cached = self.inner.owner_rules.map.read().ok().and_then(|m| {
            m.get(&key)
                .filter(|c| now.saturating_sub(c.loaded_at) < ttl)
                .map(|c| c.rules.as_ref().map(|r| (c.subject.clone(), Arc::clone(r))))
        });
        let found = match cached {
            Some(found) => found,
            None if !io => return Ok(None),
            None => {
                let (stored, _) = self.load_owner(account, owner)?;
                let subject = owner_subject(account, owner);
                let rules = KeyMeter::of(&subject, &stored.limits, stored.credits.as_ref())?;
                if let Ok(mut m) = self.inner.owner_rules.map.write() {
                    if m.len() >= self.inner.config.cache_capacity {
                        m.clear();
                    }
                    m.insert(
                        key,
                        Cached {
                            account: account.to_owned(),
                            owner: owner.to_owned(),
                            subject: subject.clone(),
                            rules: rules.clone(),
                            loaded_at: now,
                        },
                    );
                }
                rules.map(|r| (subject, r))
            }
        };
        Ok(Some(found.map(|(subject, rules)| Part {
            scope: Scope::Owner,
            subject,
            rules,
        })))
    }

    /// The owner part of a subject id this instance has metered, if it is an owner's.
    pub(super) fn owner_part_of_subject(&self, subject: &str) -> Result<Option<Part>, Error> {
        if !subject.starts_with("o.") {
            return Ok(None);
        }
        let known = self.inner.owner_rules.map.read().ok().and_then(|m| {
            m.values()
                .find(|c| c.subject == subject)
                .map(|c| (c.account.clone(), c.owner.clone()))
        });
        let Some((account, owner)) = known else {
            return Ok(None);
        };
        Ok(self.owner_part(&account, &owner, true)?.flatten())
    }

    /// The stored rules and version of an owner (version 0 and no rules when it has none).
    fn load_owner(
        &self,
        account: &str,
        owner: &str,
    ) -> Result<(StoredMeter, Option<Stamp>), Error> {
        let mut conn = self.inner.pool.get()?;
        let row = conn.query_one(
            "SELECT meter, version, modified_at, modified_by FROM owner_meters WHERE account = ? AND owner = ?",
            &[Val::from(account), Val::from(owner)],
        )?;
        match row {
            None => Ok((StoredMeter::default(), None)),
            Some(r) => Ok((
                spec::from_column(col_opt_text(&r, 0).as_deref())?,
                Some((
                    u64::try_from(int(&r, 1)).unwrap_or(0),
                    int(&r, 2),
                    Actor::from_stored(col_opt_text(&r, 3).as_deref().unwrap_or("")),
                )),
            )),
        }
    }

    /// An owner's shared limits and credits (with the balance), and its version (0 when
    /// nothing was ever set).
    ///
    /// Errors: `invalid_argument` (account or owner not valid), `storage_unavailable`.
    pub fn owner_meter(&self, account: &str, owner: &str) -> Result<OwnerMeter, Error> {
        validate::account(account)?;
        validate::owner(owner)?;
        let (stored, meta) = self.load_owner(account, owner)?;
        let subject = owner_subject(account, owner);
        let mut credits = stored.credits.clone();
        if let Some(rules) = KeyMeter::of(&subject, &stored.limits, stored.credits.as_ref())?
            && let Some(c) = credits.as_mut()
        {
            c.remaining = self.balance_of(&subject, &rules)?;
        }
        Ok(OwnerMeter {
            account: account.to_owned(),
            owner: owner.to_owned(),
            limits: stored.limits,
            credits,
            version: meta.as_ref().map_or(0, |m| m.0),
            modified_at: meta.as_ref().map(|m| m.1),
            modified_by: meta.map(|m| m.2),
        })
    }

    /// Sets an owner's shared limits and credits at an expected version (0 for an owner
    /// never set): `version_conflict` otherwise. Counters of limits that keep their name
    /// and window keep counting; a `remaining` in `credits` sets the balance. Logged in
    /// the audit log under the key id `owner:<owner>`.
    ///
    /// Errors: `invalid_argument`, `version_conflict`, `storage_unavailable`.
    pub fn update_owner_meter(
        &self,
        account: &str,
        owner: &str,
        patch: &OwnerMeterPatch,
        actor: &Actor,
    ) -> Result<OwnerMeter, Error> {
        validate::account(account)?;
        validate::owner(owner)?;
        validate::actor(actor)?;
        spec::rules(
            patch.limits.as_deref().unwrap_or_default(),
            patch.credits.as_ref().and_then(Option::as_ref),
        )?;
        let now = self.now();
        let now_ms = u64::try_from(now).unwrap_or(0).saturating_mul(1000);
        let subject = owner_subject(account, owner);
        with_tx(&self.inner.pool, |conn| {
            let lock = if conn.dialect() == Dialect::Postgres {
                " FOR UPDATE"
            } else {
                ""
            };
            let row = conn.query_one(
                &format!(
                    "SELECT meter, version FROM owner_meters WHERE account = ? AND owner = ?{lock}"
                ),
                &[Val::from(account), Val::from(owner)],
            )?;
            let (old, version) = match &row {
                None => (StoredMeter::default(), 0),
                Some(r) => (
                    spec::from_column(col_opt_text(r, 0).as_deref())?,
                    u64::try_from(int(r, 1)).unwrap_or(0),
                ),
            };
            if version != patch.expected_version {
                return Err(super::errors::conflict());
            }
            let new = StoredMeter {
                limits: patch.limits.clone().unwrap_or_else(|| old.limits.clone()),
                credits: match &patch.credits {
                    Some(c) => c.clone(),
                    None => old.credits.clone(),
                },
            };
            let column = spec::to_column(&new.limits, new.credits.as_ref())?;
            conn.exec(
                "INSERT INTO owner_meters (account, owner, meter, version, modified_at, modified_by) \
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, owner) DO UPDATE SET \
                 meter = excluded.meter, version = excluded.version, \
                 modified_at = excluded.modified_at, modified_by = excluded.modified_by",
                &[
                    Val::from(account),
                    Val::from(owner),
                    Val::opt_text(column.as_deref()),
                    Val::Int(version as i64 + 1),
                    Val::Int(now),
                    Val::from(actor.to_stored()),
                ],
            )?;
            if let Some(Some(c)) = &patch.credits {
                store::put_balance(conn, &subject, c.remaining, now_ms)?;
            }
            let keep: Vec<&str> = new
                .limits
                .iter()
                .filter(|l| {
                    old.limits
                        .iter()
                        .any(|o| o.name == l.name && o.window_ms == l.window_ms)
                })
                .map(|l| l.name.as_str())
                .collect();
            store::drop_windows_except(conn, &subject, &keep)?;
            let mut changes = Map::new();
            for (field, a, b) in [
                ("limits", json!(old.limits), json!(new.limits)),
                (
                    "credits",
                    json!(old.credits),
                    json!(patch.credits.clone().unwrap_or(old.credits.clone())),
                ),
            ] {
                if a != b {
                    changes.insert(field.to_owned(), json!({"old": a, "new": b}));
                }
            }
            insert_audit_row(
                conn,
                (account, &audit_id(owner)),
                AuditAction::OwnerUpdate,
                actor,
                now,
                version + 1,
                &changes,
            )?;
            notify(conn, &self.inner.instance, &subject)?;
            Ok(())
        })?;
        self.inner.owner_rules.forget(&subject);
        self.inner.meters.unsync(&subject);
        self.owner_meter(account, owner)
    }

    /// Adds `amount` credits to an owner's balance (it must have credits); returns the
    /// balance. Logged as `credits_added` under `owner:<owner>`.
    ///
    /// Errors: `invalid_argument` (no credits, amount out of range), `storage_unavailable`.
    pub fn add_owner_credits(
        &self,
        account: &str,
        owner: &str,
        amount: u64,
        actor: &Actor,
    ) -> Result<u64, Error> {
        validate::account(account)?;
        validate::owner(owner)?;
        validate::actor(actor)?;
        let (stored, meta) = self.load_owner(account, owner)?;
        if stored.credits.is_none() {
            return Err(no_credits());
        }
        let version = meta.map_or(0, |m| m.0);
        let subject = owner_subject(account, owner);
        let now = self.now();
        self.add_to_balance(&subject, amount, now, |conn, old, new| {
            insert_audit_row(
                conn,
                (account, &audit_id(owner)),
                AuditAction::CreditsAdded,
                actor,
                now,
                version,
                &credit_change(old, new, amount),
            )
        })?;
        self.inner.meters.unsync(&subject);
        let rules = KeyMeter::of(&subject, &stored.limits, stored.credits.as_ref())?;
        Ok(match rules {
            Some(r) => self.balance_of(&subject, &r)?.unwrap_or(0),
            None => 0,
        })
    }

    /// Adds `amount` credits to a key's balance (the key must have credits); returns the
    /// balance. Logged as `credits_added`; the key's version does not change.
    ///
    /// Errors: `not_found`, `invalid_argument` (no credits, amount out of range),
    /// `storage_unavailable`.
    pub fn add_credits(
        &self,
        account: &str,
        id: &str,
        amount: u64,
        actor: &Actor,
    ) -> Result<u64, Error> {
        validate::actor(actor)?;
        let record = self.get(account, id)?;
        if record.credits.is_none() {
            return Err(no_credits());
        }
        let now = self.now();
        self.add_to_balance(id, amount, now, |conn, old, new| {
            insert_audit_row(
                conn,
                (account, id),
                AuditAction::CreditsAdded,
                actor,
                now,
                record.version,
                &credit_change(old, new, amount),
            )?;
            notify(conn, &self.inner.instance, id)?;
            Ok(())
        })?;
        self.inner.meters.unsync(id);
        Ok(self.credit_balance(account, id)?.unwrap_or(0))
    }

    /// Adds to a balance in one transaction with `audit(conn, old, new)`.
    fn add_to_balance(
        &self,
        subject: &str,
        amount: u64,
        now: i64,
        audit: impl FnOnce(&mut dyn crate::store::Conn, u64, u64) -> Result<(), Error>,
    ) -> Result<(), Error> {
        if amount == 0 || amount > keyseal::meter::MAX_AMOUNT {
            return Err(Error::registry(
                keyseal::ErrorCode::InvalidArgument,
                "credits to add are an integer from 1 to 2^53-1",
            ));
        }
        let now_ms = u64::try_from(now).unwrap_or(0).saturating_mul(1000);
        with_tx(&self.inner.pool, |conn| {
            store::put_balance(conn, subject, None, now_ms)?;
            let mut b = store::load_balance(conn, subject)?.unwrap_or_default();
            let old = b.remaining;
            b.add(amount);
            store::save_balance(conn, subject, &b)?;
            audit(conn, old, b.remaining)
        })
    }
}

fn no_credits() -> Error {
    Error::registry(
        keyseal::ErrorCode::InvalidArgument,
        "credits can only be added where credits are metered (set credits first)",
    )
}

fn credit_change(old: u64, new: u64, amount: u64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "credits".to_owned(),
        json!({"old": {"remaining": old}, "new": {"remaining": new}, "added": amount}),
    );
    m
}
