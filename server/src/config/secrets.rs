//! The secrets themselves: fresh random ones, the environment's, the checks every set
//! passes, the pepper set and token keyset they become, and `keyseal rotate`.

use std::path::Path;

use keyseal::{Algorithm, KeyFormat, Keyset, Pepper, PepperSet, RandomSource, TokenKey};
use zeroize::Zeroizing;

use super::file::{SecretEntry, Until, default_ttl, render, replace_file};
use super::{
    DEFAULT_PREFIX, ENV_PEPPER, ENV_PEPPER_ID, ENV_PREFIX, ENV_TOKEN_KID, ENV_TOKEN_SECRET, Secret,
    Settings,
};

pub(super) fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn hex_decode(s: &str, what: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{what} is not an even number of hex digits"));
    }
    let mut out = Zeroizing::new(Vec::with_capacity(s.len() / 2));
    for pair in s.as_bytes().chunks(2) {
        let hi = (pair[0] as char).to_digit(16).unwrap_or(0);
        let lo = (pair[1] as char).to_digit(16).unwrap_or(0);
        out.push((hi * 16 + lo) as u8);
    }
    Ok(out)
}

/// Random bytes from the OS.
pub fn random_bytes(n: usize) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut buf = Zeroizing::new(vec![0u8; n]);
    keyseal::OsRandom
        .fill(&mut buf)
        .map_err(|e| format!("cannot read random bytes: {e}"))?;
    Ok(buf)
}

/// `n` random base62 characters (rejection sampling: no modulo bias).
pub fn random_base62(n: usize) -> Result<String, String> {
    const ALPHABET: &[u8; 62] = keyseal::key::BASE62;
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in random_bytes(n * 2)?.iter() {
            if *b < 248 && out.len() < n {
                out.push(ALPHABET[usize::from(*b % 62)] as char);
            }
        }
    }
    Ok(out)
}

/// Which secret `keyseal rotate` replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rotate {
    /// The pepper of key digests.
    Pepper,
    /// The token signing key.
    TokenKey,
}

/// What a rotation did.
#[derive(Debug)]
pub struct Rotated {
    /// The new current secret's id.
    pub new_id: String,
    /// The previous current secret's id.
    pub old_id: String,
    /// When the previous one stops verifying (unix seconds).
    pub old_until: i64,
}

impl Settings {
    /// Fresh random secrets with the default prefix.
    pub fn generate() -> Result<Settings, String> {
        let prefix = std::env::var(ENV_PREFIX).unwrap_or_else(|_| DEFAULT_PREFIX.to_owned());
        KeyFormat::new(&prefix).map_err(|e| format!("{ENV_PREFIX}: {e}"))?;
        let stamp = random_base62(6)?;
        Ok(Settings {
            prefix,
            token_ttl: default_ttl(),
            peppers: vec![Secret {
                id: format!("p-{stamp}"),
                bytes: random_bytes(32)?,
                verify_until: None,
            }],
            token_keys: vec![Secret {
                id: format!("t-{stamp}"),
                bytes: random_bytes(32)?,
                verify_until: None,
            }],
            accept_imported_digests: false,
            foreign_peppers: Vec::new(),
            source: String::new(),
        })
    }

    /// True when either secret environment variable is set (the file is then unused).
    pub fn env_is_set() -> bool {
        std::env::var_os(ENV_PEPPER).is_some() || std::env::var_os(ENV_TOKEN_SECRET).is_some()
    }

    pub(super) fn from_env() -> Result<Option<Settings>, String> {
        let (pepper, token) = match (std::env::var(ENV_PEPPER), std::env::var(ENV_TOKEN_SECRET)) {
            (Ok(p), Ok(t)) => (p, t),
            (Err(_), Err(_)) => return Ok(None),
            (Ok(_), Err(_)) => {
                return Err(format!(
                    "invalid_config: {ENV_PEPPER} is set but {ENV_TOKEN_SECRET} is not; set both \
                     (or neither, to use the config file)"
                ));
            }
            (Err(_), Ok(_)) => {
                return Err(format!(
                    "invalid_config: {ENV_TOKEN_SECRET} is set but {ENV_PEPPER} is not; set both \
                     (or neither, to use the config file)"
                ));
            }
        };
        let s = Settings {
            prefix: std::env::var(ENV_PREFIX).unwrap_or_else(|_| DEFAULT_PREFIX.to_owned()),
            token_ttl: default_ttl(),
            peppers: vec![Secret {
                id: std::env::var(ENV_PEPPER_ID).unwrap_or_else(|_| "env".to_owned()),
                bytes: hex_decode(&pepper, ENV_PEPPER)?,
                verify_until: None,
            }],
            token_keys: vec![Secret {
                id: std::env::var(ENV_TOKEN_KID).unwrap_or_else(|_| "env".to_owned()),
                bytes: hex_decode(&token, ENV_TOKEN_SECRET)?,
                verify_until: None,
            }],
            accept_imported_digests: false,
            foreign_peppers: Vec::new(),
            source: "environment".to_owned(),
        };
        s.check().map_err(|e| format!("invalid_config: {e}"))?;
        Ok(Some(s))
    }

    pub(super) fn check(&self) -> Result<(), String> {
        KeyFormat::new(&self.prefix).map_err(|e| format!("prefix: {e}"))?;
        for (what, list) in [("peppers", &self.peppers), ("token_keys", &self.token_keys)] {
            let current = list.iter().filter(|s| s.verify_until.is_none()).count();
            if current != 1 {
                return Err(format!(
                    "{what}: expected exactly one current entry (the one without verify_until), found {current}"
                ));
            }
            for (i, s) in list.iter().enumerate() {
                if list[..i].iter().any(|o| o.id == s.id) {
                    return Err(format!("duplicate_kid: two {what} share the id {:?}", s.id));
                }
            }
        }
        for p in self.peppers.iter().chain(&self.foreign_peppers) {
            Pepper::new(&p.id, &p.bytes).map_err(|e| format!("pepper {:?}: {e}", p.id))?;
        }
        for (i, f) in self.foreign_peppers.iter().enumerate() {
            if self.peppers.iter().any(|p| p.id == f.id)
                || self.foreign_peppers[..i].iter().any(|o| o.id == f.id)
            {
                return Err(format!(
                    "duplicate_kid: foreign pepper id {:?} is taken by another pepper",
                    f.id
                ));
            }
        }
        for t in &self.token_keys {
            TokenKey::new(&t.id, Algorithm::HS256, &t.bytes)
                .map_err(|e| format!("token key {:?}: {e}", t.id))?;
        }
        if !(1..=86_400).contains(&self.token_ttl) {
            return Err("token_ttl must be 1 to 86400 seconds".to_owned());
        }
        Ok(())
    }

    /// The token keyset (HS256) exchange tokens are signed and verified with: the current
    /// key signs, the others verify until their `verify_until` (`key_retired` after).
    pub fn keyset(&self) -> Result<Keyset, keyseal::Error> {
        let mut signing = None;
        let mut others = Vec::new();
        for t in &self.token_keys {
            let key = TokenKey::new(&t.id, Algorithm::HS256, &t.bytes)?;
            match t.verify_until {
                None => signing = Some(key),
                Some(until) => others.push(key.with_verify_until(until)),
            }
        }
        let mut ks = Keyset::new(signing.ok_or(keyseal::Error::InvalidConfig {
            setting: "token_keys",
            expected: "one current token key (without verify_until)",
        })?);
        for k in others {
            ks = ks.with_verify_only(k)?;
        }
        Ok(ks)
    }

    /// The pepper set at `now`: the current pepper, and the older ones whose
    /// `verify_until` has not passed (a server drops the others when it starts).
    pub fn pepper_set(&self, now: i64) -> Result<PepperSet, keyseal::Error> {
        let current = self
            .peppers
            .iter()
            .find(|p| p.verify_until.is_none())
            .ok_or(keyseal::Error::InvalidConfig {
                setting: "peppers",
                expected: "one current pepper (without verify_until)",
            })?;
        let mut set = PepperSet::new(Pepper::new(&current.id, &current.bytes)?);
        for p in &self.peppers {
            if p.verify_until.is_some_and(|t| now < t) {
                set = set.with_previous(Pepper::new(&p.id, &p.bytes)?)?;
            }
        }
        Ok(set)
    }

    /// `keyseal rotate`: a new random secret becomes current in the file at `path`, the
    /// current one verifies until `now + grace`, and every older one is kept as it is.
    /// The file is rewritten atomically (see [`replace_file`]) in the list form.
    pub fn rotate_file(path: &Path, what: Rotate, grace: i64, now: i64) -> Result<Rotated, String> {
        if grace < 0 {
            return Err("invalid_config: --grace must be zero or more".to_owned());
        }
        let mut file = Self::read_config(path)?;
        // Validate what is there first: never rewrite a broken file.
        Self::from_config(&file, &path.display().to_string())
            .map_err(|e| format!("invalid_config: {}: {e}", path.display()))?;
        let (single, list, tag) = match what {
            Rotate::Pepper => (&mut file.pepper, &mut file.peppers, "p"),
            Rotate::TokenKey => (&mut file.token, &mut file.token_keys, "t"),
        };
        if let Some(s) = single.take() {
            list.push(SecretEntry {
                id: s.id,
                secret_hex: s.secret_hex,
                verify_until: None,
            });
        }
        let old_until = now.saturating_add(grace);
        let old = list
            .iter_mut()
            .find(|e| e.verify_until.is_none())
            .ok_or("invalid_config: no current entry to rotate")?;
        old.verify_until = Some(Until::Unix(old_until));
        let old_id = old.id.clone();
        let new_id = loop {
            let id = format!("{tag}-{}", random_base62(6)?);
            if !list.iter().any(|e| e.id == id) {
                break id;
            }
        };
        let bytes = random_bytes(32)?;
        list.push(SecretEntry {
            id: new_id.clone(),
            secret_hex: hex_encode(&bytes),
            verify_until: None,
        });
        Self::from_config(&file, &path.display().to_string())
            .map_err(|e| format!("invalid_config: {e}"))?;
        replace_file(path, &render(&file)?)?;
        Ok(Rotated {
            new_id,
            old_id,
            old_until,
        })
    }
}
