//! The verify path: the record and negative caches, the database lookup on a miss
//! (through the lookup gate), digest and policy checks, rehashing outdated digests,
//! `last_used_at` bookkeeping, and exchange tokens (issue and verify), each with a
//! memory-only `*_cached` face.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use keyseal::digest::DigestStatus;
use keyseal::token::ExchangeOptions;
use keyseal::{Error, ErrorCode, RequestContext};

use super::errors::reg;
use super::lifecycle::Registry;
use super::metering::Part;
use super::rows::policy_of;
use super::tx::with_tx;
use crate::cache::Entry;
use crate::meter::{MeterRequest, Scope};
use crate::secrets;
use crate::store::Val;
use crate::tokens;
use crate::types::{ExchangedToken, KeyRecord, TokenCheck, Verification};

impl Registry {
    /// The cache entry for `id` without touching the database: `Some(Some(_))` a fresh
    /// cached record, `Some(None)` an id known to be unknown, `None` a miss.
    pub(super) fn cached_entry(&self, id: &str, now: i64) -> Option<Option<Arc<Entry>>> {
        let inner = &self.inner;
        if let Some(e) = inner.cache.get(id)
            && now.saturating_sub(e.loaded_at) < inner.config.cache_ttl
        {
            return Some(Some(e));
        }
        if inner.negative.contains(id, now) {
            return Some(None);
        }
        None
    }

    /// The entry for `id` from the cache, or with `io` from the database: `Ok(None)` when
    /// it is not cached and `io` is false (the caller retries where it may block),
    /// `Ok(Some(None))` when there is no such key.
    pub(super) fn entry(
        &self,
        id: &str,
        now: i64,
        io: bool,
    ) -> Result<Option<Option<Arc<Entry>>>, Error> {
        match self.cached_entry(id, now) {
            Some(e) => Ok(Some(e)),
            None if io => self.load_entry(id, now).map(Some),
            None => Ok(None),
        }
    }

    /// Loads the record of `id` from the database into the cache. `Ok(None)`: no such key.
    pub(super) fn load_entry(&self, id: &str, now: i64) -> Result<Option<Arc<Entry>>, Error> {
        let inner = &self.inner;
        let generation = inner.cache.generation();
        let loaded = {
            let _pass = inner.lookups.enter()?;
            let mut conn = inner.pool.get()?;
            self.load_by_id(&mut *conn, id)?
        };
        let Some(l) = loaded else {
            inner
                .negative
                .insert(id, now.saturating_add(inner.config.negative_cache_ttl), now);
            return Ok(None);
        };
        // Checked once here, so a cached record always rebuilds a valid policy.
        policy_of(&l.record)?;
        let prev = l.prev.as_ref().map(|(d, until)| (d.as_str(), *until));
        // Decided once per load: the cached entry says whether each digest is an
        // accepted import (imports on, and the seal covers this id and digest).
        let cfg = &inner.config;
        let sealed = |digest: &str| {
            cfg.accept_imported_digests
                && l.import_seal
                    .as_deref()
                    .is_some_and(|s| secrets::seal_is_valid(&cfg.peppers, id, digest, s))
        };
        let imported = sealed(&l.digest);
        let prev_imported = prev.is_some_and(|(d, _)| sealed(d));
        let entry = Arc::new(
            Entry::new(&l.record, &l.digest, prev, now)?.with_imported(imported, prev_imported),
        );
        inner.cache.insert(Arc::clone(&entry), generation);
        Ok(Some(entry))
    }

    /// Verifies a presented key: format and checksum, then the digest (the current
    /// secret, or the previous one until its grace deadline), then the core's policy for
    /// `ctx`. Returns the record and the policy decision once the secret matched.
    ///
    /// A hot key verifies from the in-process cache without touching the database.
    /// Digests made with an older pepper or imported as SHA-256 are replaced with the
    /// current pepper's digest (best effort: a failed write is retried next time).
    ///
    /// Errors before a decision: `malformed_key`, `bad_checksum`, `prefix_mismatch`,
    /// `not_found` (no key with this id), `digest_mismatch`, `storage_unavailable`.
    pub fn verify(&self, key: &str, ctx: &RequestContext<'_>) -> Result<Verification, Error> {
        self.verify_metered(key, ctx, &MeterRequest::default())
    }

    /// [`Registry::verify`] with a metering request: the cost, the limits to apply and
    /// whether to spend (see [`crate::meter`]). A key without limits or credits is not
    /// metered. Once the policy allows the request, every applied limit and the credits
    /// are checked and spent together; a refusal is the decision `rate_limited` or
    /// `usage_exceeded`, with the report in [`Verification::meter`].
    ///
    /// Errors besides [`Registry::verify`]'s: `invalid_argument` (a limit name the key
    /// does not have, a cost above 2^53-1).
    pub fn verify_metered(
        &self,
        key: &str,
        ctx: &RequestContext<'_>,
        meter: &MeterRequest,
    ) -> Result<Verification, Error> {
        self.verify_with(key, ctx, meter, true)?
            .ok_or(Error::Internal {
                detail: "a verification with database access asked for it",
            })
    }

    /// [`Registry::verify_metered`] when it can answer from memory alone (see
    /// [`Registry::verify_cached`]).
    pub fn verify_metered_cached(
        &self,
        key: &str,
        ctx: &RequestContext<'_>,
        meter: &MeterRequest,
    ) -> Option<Result<Verification, Error>> {
        self.verify_with(key, ctx, meter, false).transpose()
    }

    /// [`Registry::verify`] when it can answer from memory alone: `None` when the answer
    /// needs the database (the record is not cached, or its digest is due for a rehash),
    /// so the caller retries with [`Registry::verify`] on a thread that may block.
    ///
    /// Never blocks on I/O (it takes a cache shard's read lock and computes one HMAC), so
    /// an async server may call it on its runtime threads, on either backend.
    pub fn verify_cached(
        &self,
        key: &str,
        ctx: &RequestContext<'_>,
    ) -> Option<Result<Verification, Error>> {
        self.verify_with(key, ctx, &MeterRequest::default(), false)
            .transpose()
    }

    /// The verify path; with `io` false, `Ok(None)` where it would need the database.
    pub(super) fn verify_with(
        &self,
        key: &str,
        ctx: &RequestContext<'_>,
        meter: &MeterRequest,
        io: bool,
    ) -> Result<Option<Verification>, Error> {
        let parts = self.format().check(key)?;
        let id = parts.id();
        let now = self.now();
        let Some(entry) = self.entry(id, now, io)? else {
            return Ok(None);
        };
        let entry = entry.ok_or_else(|| reg(ErrorCode::NotFound, "no key with this id"))?;
        let cfg = &self.inner.config;
        let (status, current) =
            match secrets::check_digest(cfg, key, entry.digest(), entry.imported()) {
                Ok(s) => (s, true),
                Err(e) => match entry.prev().filter(|(_, until)| ctx.now < *until) {
                    Some((d, _)) => match secrets::check_digest(cfg, key, d, entry.prev_imported())
                    {
                        Ok(s) => (s, false),
                        Err(_) => return Err(self.usage_refused(&entry, now, e)),
                    },
                    None => return Err(self.usage_refused(&entry, now, e)),
                },
            };
        if status == DigestStatus::Outdated && current {
            if !io {
                return Ok(None);
            }
            self.rehash(id, key, entry.digest(), entry.imported());
        }
        let record = entry.record(self.format().prefix())?;
        let mut decision = policy_of(&record)?.check(ctx);
        // Metered only once the policy allows the request: a disabled key spends nothing.
        let mut report = None;
        if decision.is_ok() {
            let Some(parts) = self.meter_parts_of(&entry, &record, io)? else {
                return Ok(None);
            };
            let Some(metered) = self.meter_parts(&parts, meter, io)? else {
                return Ok(None);
            };
            if let Some(m) = metered {
                if let Some(code) = m.verdict.code {
                    decision = Err(match code {
                        ErrorCode::RateLimited => Error::RateLimited,
                        _ => Error::UsageExceeded,
                    });
                }
                report = Some(m.report);
            }
        }
        if decision.is_ok() && self.inner.config.track_last_used {
            self.touch(&entry, id, now);
        }
        self.record_usage(&record, now, &decision, report.as_ref());
        Ok(Some(Verification {
            record: Arc::new(record),
            decision,
            meter: report,
        }))
    }

    /// [`Registry::verify`] folded into one result: the record when the request is
    /// allowed, the policy error otherwise.
    pub fn authenticate(
        &self,
        key: &str,
        ctx: &RequestContext<'_>,
    ) -> Result<Arc<KeyRecord>, Error> {
        let v = self.verify(key, ctx)?;
        v.decision?;
        Ok(v.record)
    }

    /// Verifies `key` for `ctx`, then issues the core's short-lived token for it (600 s
    /// by default; `options` overrides the configured [`crate::RegistryConfig::exchange`]).
    pub fn exchange(
        &self,
        key: &str,
        ctx: &RequestContext<'_>,
        options: Option<&ExchangeOptions>,
    ) -> Result<ExchangedToken, Error> {
        refused_as_error(self.exchange_metered(key, ctx, options, &MeterRequest::default())?)
    }

    /// [`Registry::exchange`] with a metering request: the exchange is metered like a
    /// verification (see [`Registry::verify_metered`]). `Ok(Err(verification))` when the
    /// key's policy or its meters refuse it: the verification says why (its `decision`)
    /// and what metering answered (its `meter`, for `Retry-After` and the headers).
    pub fn exchange_metered(
        &self,
        key: &str,
        ctx: &RequestContext<'_>,
        options: Option<&ExchangeOptions>,
        meter: &MeterRequest,
    ) -> Result<Result<ExchangedToken, Verification>, Error> {
        self.exchange_with(key, ctx, options, meter, true)?
            .ok_or(Error::Internal {
                detail: "an exchange with database access asked for it",
            })
    }

    /// [`Registry::exchange`] when it can answer from memory alone; `None` when the
    /// answer needs the database (see [`Registry::verify_cached`]).
    pub fn exchange_cached(
        &self,
        key: &str,
        ctx: &RequestContext<'_>,
        options: Option<&ExchangeOptions>,
    ) -> Option<Result<ExchangedToken, Error>> {
        self.exchange_with(key, ctx, options, &MeterRequest::default(), false)
            .transpose()
            .map(|r| r.and_then(refused_as_error))
    }

    /// [`Registry::exchange_metered`] when it can answer from memory alone.
    pub fn exchange_metered_cached(
        &self,
        key: &str,
        ctx: &RequestContext<'_>,
        options: Option<&ExchangeOptions>,
        meter: &MeterRequest,
    ) -> Option<Result<Result<ExchangedToken, Verification>, Error>> {
        self.exchange_with(key, ctx, options, meter, false)
            .transpose()
    }

    pub(super) fn exchange_with(
        &self,
        key: &str,
        ctx: &RequestContext<'_>,
        options: Option<&ExchangeOptions>,
        meter: &MeterRequest,
        io: bool,
    ) -> Result<Option<Result<ExchangedToken, Verification>>, Error> {
        let keyset = self
            .inner
            .config
            .keyset
            .as_ref()
            .ok_or(Error::InvalidConfig {
                setting: "keyset",
                expected: "a token keyset to sign exchange tokens",
            })?;
        let Some(v) = self.verify_with(key, ctx, meter, io)? else {
            return Ok(None);
        };
        if v.decision.is_err() {
            return Ok(Some(Err(v)));
        }
        let record = v.record;
        let opts = options.unwrap_or(&self.inner.config.exchange);
        let claims = tokens::claims_for(&record, ctx.now, opts)?;
        let token = keyset.issue(&claims)?;
        Ok(Some(Ok(ExchangedToken {
            token,
            expires_at: claims.exp.unwrap_or(ctx.now),
            record,
            meter: v.meter,
        })))
    }

    /// Verifies an exchange token this registry issued and checks the key it stands for
    /// (see [`crate::tokens`]): the signature, `exp` and the configured issuer and
    /// audience, then the [`tokens::ACCOUNT_CLAIM`] and `key_id` claims, then the key
    /// itself: it must still exist in that account, be enabled and not have expired, so a
    /// token stops working as soon as its key is deleted, disabled or expires.
    ///
    /// Errors: the core's token errors (`bad_signature`, `token_expired`, ...),
    /// `missing_claim` for a token without the account binding, `key_revoked`,
    /// `key_disabled`, `key_expired`, `storage_unavailable`.
    pub fn verify_token(&self, token: &str, now: i64) -> Result<TokenCheck, Error> {
        self.verify_token_with(token, now, true)?
            .ok_or(Error::Internal {
                detail: "a token verification with database access asked for it",
            })
    }

    /// [`Registry::verify_token`] when it can answer from memory alone; `None` when the
    /// key's record is not cached (see [`Registry::verify_cached`]).
    pub fn verify_token_cached(&self, token: &str, now: i64) -> Option<Result<TokenCheck, Error>> {
        self.verify_token_with(token, now, false).transpose()
    }

    pub(super) fn verify_token_with(
        &self,
        token: &str,
        now: i64,
        io: bool,
    ) -> Result<Option<TokenCheck>, Error> {
        let config = &self.inner.config;
        let keyset = config.keyset.as_ref().ok_or(Error::InvalidConfig {
            setting: "keyset",
            expected: "a token keyset to verify exchange tokens",
        })?;
        let verified = keyset.verify(token, &tokens::validation(&config.exchange), now)?;
        let (account, key_id) = tokens::binding(&verified.claims)?;
        let Some(entry) = self.entry(key_id, self.now(), io)? else {
            return Ok(None);
        };
        // A key id the registry does not know (any more) has no live key behind it.
        let entry = entry.ok_or(Error::KeyRevoked)?;
        let record = entry.record(self.format().prefix())?;
        tokens::check_key(&record, account, verified.claims.iat, now)?;
        Ok(Some(TokenCheck {
            token: verified,
            record: Arc::new(record),
        }))
    }

    /// The metered parts of a key's request: its own rules, then its owner's. `None` when
    /// the owner's rules must be read and `io` is false.
    fn meter_parts_of(
        &self,
        entry: &Entry,
        record: &KeyRecord,
        io: bool,
    ) -> Result<Option<Vec<Part>>, Error> {
        let mut parts = Vec::with_capacity(2);
        if let Some(rules) = entry.meter() {
            parts.push(Part {
                scope: Scope::Key,
                subject: record.id.clone(),
                rules: Arc::clone(rules),
            });
        }
        if let Some(owner) = &record.owner {
            match self.owner_part(&record.account, owner, io)? {
                None => return Ok(None),
                Some(Some(p)) => parts.push(p),
                Some(None) => {}
            }
        }
        Ok(Some(parts))
    }

    /// Replaces an outdated digest with the current pepper's; an upgraded import also
    /// loses its seal (the row is an ordinary one from then on).
    pub(super) fn rehash(&self, id: &str, key: &str, old: &str, was_import: bool) {
        let new = self.inner.config.peppers.digest(key);
        let sql = if was_import {
            "UPDATE keys SET digest = ?, import_seal = NULL WHERE id = ? AND digest = ?"
        } else {
            "UPDATE keys SET digest = ? WHERE id = ? AND digest = ?"
        };
        let r = with_tx(&self.inner.pool, |conn| {
            conn.exec(
                sql,
                &[Val::from(new.as_str()), Val::from(id), Val::from(old)],
            )?;
            Ok(())
        });
        if r.is_ok() {
            self.inner.cache.invalidate(id);
        }
    }

    pub(super) fn touch(&self, entry: &Entry, id: &str, now: i64) {
        let interval = self.inner.config.last_used_interval;
        let last = entry.last_used.load(Ordering::Relaxed);
        if now.saturating_sub(last) < interval {
            return;
        }
        if entry
            .last_used
            .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        if let Ok(mut p) = self.inner.pending_last_used.lock() {
            p.insert(id.to_owned(), now);
        }
    }
}

/// An exchange refused by the key's policy or meters, as the error of the unmetered API.
fn refused_as_error(r: Result<ExchangedToken, Verification>) -> Result<ExchangedToken, Error> {
    r.map_err(|v| match v.decision {
        Err(e) => e,
        Ok(()) => Error::Internal {
            detail: "an exchange refused by a verification that allowed it",
        },
    })
}
