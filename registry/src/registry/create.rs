//! New keys: validation into a record, [`Registry::create`] and [`Registry::import`]
//! (both through group commit).

use std::sync::Arc;

use keyseal::{Error, ErrorCode};

use super::errors::reg;
use super::lifecycle::Registry;
use super::rows::NewRow;
use crate::secrets;
use crate::types::{Actor, AuditAction, CreatedKey, ImportKey, KeyRecord, NewKey};
use crate::validate;

impl Registry {
    /// Validates the fields of a new key into a record (version 1).
    pub(super) fn new_record(
        &self,
        id: String,
        n: &NewKey,
        actor: &Actor,
        at: i64,
    ) -> Result<KeyRecord, Error> {
        validate::account(&n.account)?;
        validate::name(&n.name)?;
        validate::description(&n.description)?;
        validate::actor(actor)?;
        if let Some(o) = &n.owner {
            validate::owner(o)?;
        }
        if let Some(r) = &n.role {
            validate::role(r)?;
        }
        let scopes = validate::scopes(&n.scopes)?;
        let ips = validate::allowed_ips(&n.allowed_ips)?;
        validate::metadata(&n.metadata)?;
        n.expires_at.map(validate::timestamp).transpose()?;
        crate::meter::spec::rules(&n.limits, n.credits.as_ref())?;
        Ok(KeyRecord {
            id,
            prefix: self.format().prefix().to_owned(),
            account: n.account.clone(),
            name: n.name.clone(),
            description: n.description.clone(),
            owner: n.owner.clone(),
            role: n.role.clone(),
            scopes: scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            read_only: n.read_only,
            allowed_ips: ips.iter().map(ToString::to_string).collect(),
            enabled: !n.disabled,
            expires_at: n.expires_at,
            metadata: n.metadata.clone(),
            created_at: at,
            created_by: actor.clone(),
            modified_at: at,
            modified_by: actor.clone(),
            version: 1,
            deleted_at: None,
            last_used_at: None,
            previous_secret_expires_at: None,
            rolled_at: None,
            limits: n.limits.clone(),
            credits: n.credits.clone(),
        })
    }

    /// Creates a key. The returned [`CreatedKey::key`] is the only time the full key
    /// exists: the registry stores only its peppered digest.
    ///
    /// Errors: `invalid_name`, `invalid_argument`, `invalid_scope`, `invalid_cidr`,
    /// `invalid_metadata`, `payload_too_large`, `name_conflict`, `storage_unavailable`.
    pub fn create(&self, new: &NewKey, actor: &Actor) -> Result<CreatedKey, Error> {
        let key = self.format().generate_os()?;
        let now = self.now();
        let record = self.new_record(key.id().to_owned(), new, actor, now)?;
        let digest = self.inner.config.peppers.digest(key.expose());
        let row = NewRow {
            record,
            digest,
            action: AuditAction::Create,
            import_seal: None,
        };
        let record = self.insert_new(row, actor)?;
        Ok(CreatedKey { record, key })
    }

    /// Imports a key hashed elsewhere (see [`ImportKey`]); it verifies at once, and its
    /// digest is replaced by a peppered one on the first successful verification.
    ///
    /// A digest made without our pepper (plain SHA-256, or HMAC-SHA256 under a foreign
    /// pepper named by [`ImportKey::pepper`]) needs
    /// [`crate::RegistryConfig::accept_imported_digests`]; the row then carries an import seal
    /// (a MAC of its id and digest under our pepper), and only sealed rows may hold such
    /// a digest. A keyseal `v1.` digest of one of our peppers imports as is.
    ///
    /// Errors: those of [`Registry::create`], plus `invalid_argument` for an id that is
    /// not of the registry's key format, `malformed_digest` for a digest that is neither
    /// SHA-256 hex/base64 nor a keyseal `v1.` digest (64 hex digits with a foreign
    /// pepper), `invalid_config` when imports are off, and `unknown_pepper` for a foreign
    /// pepper that is not configured.
    pub fn import(&self, import: &ImportKey, actor: &Actor) -> Result<KeyRecord, Error> {
        if !validate::is_key_id(&import.id, self.format().id_len()) {
            return Err(reg(
                ErrorCode::InvalidArgument,
                "expected an id of the registry's key format (base62, the format's id length)",
            ));
        }
        let cfg = &self.inner.config;
        let (digest, sealed) =
            secrets::import_digest(cfg, &import.digest, import.pepper.as_deref())?;
        let import_seal = sealed.then(|| secrets::seal(&cfg.peppers, &import.id, &digest));
        let now = self.now();
        let mut record = self.new_record(import.id.clone(), &import.fields, actor, now)?;
        if let Some(at) = import.created_at {
            record.created_at = validate::timestamp(at)?;
        }
        let row = NewRow {
            record,
            digest,
            action: AuditAction::Import,
            import_seal,
        };
        let record = self.insert_new(row, actor)?;
        self.inner.cache.invalidate(&import.id);
        Ok(record)
    }

    /// Inserts a new row through group commit; its id then stops being "unknown".
    fn insert_new(&self, row: NewRow, actor: &Actor) -> Result<KeyRecord, Error> {
        let row = Arc::new(row);
        self.inner.group.submit(
            &self.inner.pool,
            &self.inner.instance,
            Arc::clone(&row),
            actor,
        )?;
        self.inner.negative.remove(&row.record.id);
        Ok(match Arc::try_unwrap(row) {
            Ok(r) => r.record,
            Err(shared) => shared.record.clone(),
        })
    }
}
