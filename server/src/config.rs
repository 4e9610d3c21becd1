//! Server secrets and settings: a TOML file created by `keyseal init` (or on the first
//! `keyseal serve`) with 0600 permissions, or environment variables.
//!
//! The file holds the peppers that keys' digests are computed with and the HMAC keys that
//! sign exchange tokens. Lose it and every key stops verifying; leak it and the digests
//! in the database can be attacked offline. It is never logged: [`Settings`]' `Debug`
//! redacts the secrets.
//!
//! Two forms are read. The single form (what `keyseal init` writes):
//!
//! ```toml
//! prefix = "ks"
//! token_ttl = 600
//! [pepper]
//! id = "p-abc123"
//! secret_hex = "..."
//! [token]
//! id = "t-abc123"
//! secret_hex = "..."
//! ```
//!
//! and the list form (what `keyseal rotate` writes), where the entry without
//! `verify_until` is the current one and the others only verify until that time (unix
//! seconds or RFC 3339):
//!
//! ```toml
//! [[peppers]]
//! id = "p-abc123"
//! secret_hex = "..."
//! verify_until = "2027-12-01T00:00:00Z"
//! [[peppers]]
//! id = "p-def456"
//! secret_hex = "..."
//! ```
//!
//! `[[token_keys]]` works the same way. `[imports]` turns on imported digests
//! (`accept_imported_digests = true`) and names other systems' peppers
//! (`[[imports.foreign_peppers]]` with `id` and `secret_hex`), verify-only.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use keyseal::{Algorithm, KeyFormat, Keyset, Pepper, PepperSet, RandomSource, TokenKey};
use keyseal_registry::{Registry, RegistryConfig, Storage};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Environment variable: the pepper, as hex (at least 16 bytes). With
/// `KEYSEAL_TOKEN_SECRET_HEX` it replaces the config file; setting only one of the two
/// is an `invalid_config` error.
pub const ENV_PEPPER: &str = "KEYSEAL_PEPPER_HEX";
/// Environment variable: the pepper's id. Defaults to `env`.
pub const ENV_PEPPER_ID: &str = "KEYSEAL_PEPPER_ID";
/// Environment variable: the token signing key, as hex (at least 32 bytes).
pub const ENV_TOKEN_SECRET: &str = "KEYSEAL_TOKEN_SECRET_HEX";
/// Environment variable: the token signing key's id. Defaults to `env`.
pub const ENV_TOKEN_KID: &str = "KEYSEAL_TOKEN_KID";
/// Environment variable: the key prefix. Defaults to `ks`.
pub const ENV_PREFIX: &str = "KEYSEAL_PREFIX";

/// Default key prefix of a new installation.
pub const DEFAULT_PREFIX: &str = "ks";
/// Issuer (`iss`) of exchange tokens.
pub const TOKEN_ISSUER: &str = "keyseal";

/// Default grace of `keyseal rotate pepper`: 365 days. Keys move to the new pepper when
/// they are next used; a key not used within the grace stops verifying (`unknown_pepper`)
/// once the old pepper is dropped.
pub const DEFAULT_PEPPER_GRACE: i64 = 365 * 86_400;
/// Margin added to the token lifetime for the default grace of `keyseal rotate
/// token-key`: 1 day, to restart every server. Until a server restarts it still signs
/// with the old key, so the old key must verify for the token lifetime after that.
pub const TOKEN_GRACE_MARGIN: i64 = 86_400;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretFile {
    id: String,
    secret_hex: String,
}

/// Unix seconds, a TOML date-time (`2027-12-01T00:00:00Z`, unquoted) or an RFC 3339
/// string.
#[derive(Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum Until {
    Unix(i64),
    Date(toml::value::Datetime),
    Text(String),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretEntry {
    id: String,
    secret_hex: String,
    /// Absent on the current entry; on the others, when they stop verifying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verify_until: Option<Until>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ImportsFile {
    /// See `RegistryConfig::accept_imported_digests`. Defaults to false.
    #[serde(default)]
    accept_imported_digests: bool,
    /// Other systems' peppers (verify-only). Defaults to none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    foreign_peppers: Vec<SecretFile>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    /// Key prefix, e.g. `ks` -> `ks_<id>_<secret><checksum>`.
    prefix: String,
    /// Lifetime of exchange tokens in seconds (1-86400).
    #[serde(default = "default_ttl")]
    token_ttl: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pepper: Option<SecretFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<SecretFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    peppers: Vec<SecretEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    token_keys: Vec<SecretEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    imports: Option<ImportsFile>,
}

fn default_ttl() -> u64 {
    keyseal::token::DEFAULT_EXCHANGE_TTL
}

/// One secret: an id, its bytes and, unless it is the current one, when it stops
/// verifying.
struct Secret {
    id: String,
    bytes: Zeroizing<Vec<u8>>,
    verify_until: Option<i64>,
}

/// The secrets and settings the registry and the token signer need.
pub struct Settings {
    /// Key prefix.
    pub prefix: String,
    /// Exchange token lifetime in seconds.
    pub token_ttl: u64,
    /// Peppers; exactly one has no `verify_until` (the current one).
    peppers: Vec<Secret>,
    /// Token keys; exactly one has no `verify_until` (the signing one).
    token_keys: Vec<Secret>,
    /// See `RegistryConfig::accept_imported_digests`.
    accept_imported_digests: bool,
    /// Other systems' peppers, verify-only.
    foreign_peppers: Vec<Secret>,
    /// Where they came from (a path, or "environment").
    pub source: String,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids = |v: &[Secret]| -> Vec<String> {
            v.iter()
                .map(|s| match s.verify_until {
                    None => format!("{} (current)", s.id),
                    Some(t) => format!("{} (until {t})", s.id),
                })
                .collect()
        };
        f.debug_struct("Settings")
            .field("prefix", &self.prefix)
            .field("token_ttl", &self.token_ttl)
            .field("peppers", &ids(&self.peppers))
            .field("token_keys", &ids(&self.token_keys))
            .field("accept_imported_digests", &self.accept_imported_digests)
            .field("foreign_peppers", &ids(&self.foreign_peppers))
            .field("secrets", &"<redacted>")
            .field("source", &self.source)
            .finish()
    }
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(s: &str, what: &str) -> Result<Zeroizing<Vec<u8>>, String> {
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

/// Now, in unix seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// days_from_civil).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses an RFC 3339 date-time (`2027-01-31T12:00:00Z`, `...+02:00`, fractions ignored)
/// into unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())
            .flatten()
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    let offset = match s.get(i..)? {
        "Z" | "z" => 0,
        tz if tz.len() == 6 && matches!(&tz[..1], "+" | "-") && &tz[3..4] == ":" => {
            let off = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
            if &tz[..1] == "+" { off } else { -off }
        }
        _ => return None,
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

fn until_secs(u: &Until, what: &str) -> Result<i64, String> {
    match u {
        Until::Unix(t) => Ok(*t),
        Until::Date(d) => parse_rfc3339(&d.to_string()).ok_or_else(|| {
            format!("{what}.verify_until: expected a date-time with a time zone, e.g. 2027-12-01T00:00:00Z")
        }),
        Until::Text(t) => parse_rfc3339(t).ok_or_else(|| {
            format!("{what}.verify_until is neither unix seconds nor an RFC 3339 date-time")
        }),
    }
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

    fn from_env() -> Result<Option<Settings>, String> {
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

    fn check(&self) -> Result<(), String> {
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

    fn read_config(path: &Path) -> Result<ConfigFile, String> {
        let meta = fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "{} holds secrets but is readable by others (mode {mode:o}); run: chmod 600 {}",
                path.display(),
                path.display()
            ));
        }
        let text = Zeroizing::new(
            fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?,
        );
        // toml's error messages can quote the offending line (a secret): keep only the
        // position.
        toml::from_str(&text).map_err(|e| {
            let at = e
                .span()
                .map(|s| format!(" at byte {}", s.start))
                .unwrap_or_default();
            format!("{}: not a valid keyseal config{at}", path.display())
        })
    }

    fn from_config(file: &ConfigFile, source: &str) -> Result<Settings, String> {
        let list = |single: &Option<SecretFile>,
                    many: &[SecretEntry],
                    one: &str,
                    several: &str|
         -> Result<Vec<Secret>, String> {
            match (single, many.is_empty()) {
                (Some(_), false) => Err(format!(
                    "both [{one}] and [[{several}]] are set; keep one (`keyseal rotate` writes the list form)"
                )),
                (Some(s), true) => Ok(vec![Secret {
                    id: s.id.clone(),
                    bytes: hex_decode(&s.secret_hex, &format!("{one}.secret_hex"))?,
                    verify_until: None,
                }]),
                (None, true) => Err(format!("no [{one}] and no [[{several}]]")),
                (None, false) => many
                    .iter()
                    .map(|e| {
                        Ok(Secret {
                            id: e.id.clone(),
                            bytes: hex_decode(&e.secret_hex, &format!("{several} {:?}", e.id))?,
                            verify_until: e
                                .verify_until
                                .as_ref()
                                .map(|u| until_secs(u, &format!("{several} {:?}", e.id)))
                                .transpose()?,
                        })
                    })
                    .collect(),
            }
        };
        let token_keys = list(&file.token, &file.token_keys, "token", "token_keys")?;
        let imports = file.imports.as_ref();
        let s = Settings {
            prefix: file.prefix.clone(),
            token_ttl: file.token_ttl,
            peppers: list(&file.pepper, &file.peppers, "pepper", "peppers")?,
            token_keys,
            accept_imported_digests: imports.is_some_and(|i| i.accept_imported_digests),
            foreign_peppers: imports
                .map(|i| {
                    i.foreign_peppers
                        .iter()
                        .map(|f| {
                            Ok(Secret {
                                id: f.id.clone(),
                                bytes: hex_decode(
                                    &f.secret_hex,
                                    &format!("foreign pepper {:?}", f.id),
                                )?,
                                verify_until: None,
                            })
                        })
                        .collect::<Result<Vec<_>, String>>()
                })
                .transpose()?
                .unwrap_or_default(),
            source: source.to_owned(),
        };
        s.check()?;
        Ok(s)
    }

    fn read_file(path: &Path) -> Result<Settings, String> {
        let file = Self::read_config(path)?;
        Self::from_config(&file, &path.display().to_string())
            .map_err(|e| format!("invalid_config: {}: {e}", path.display()))
    }

    fn to_config(&self) -> ConfigFile {
        let single = |s: &Secret| SecretFile {
            id: s.id.clone(),
            secret_hex: hex_encode(&s.bytes),
        };
        ConfigFile {
            prefix: self.prefix.clone(),
            token_ttl: self.token_ttl,
            pepper: self.peppers.first().map(single),
            token: self.token_keys.first().map(single),
            peppers: Vec::new(),
            token_keys: Vec::new(),
            imports: None,
        }
    }

    fn write_new(&self, path: &Path) -> Result<(), String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let body = render(&self.to_config())?;
        // create_new + mode 0600: never overwrite an existing file's secrets, never
        // expose them for a moment with a wider mode.
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        f.write_all(body.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(())
    }

    /// Secrets from the environment if set, else from `path`; when neither exists and
    /// `create` is set, new secrets are written to `path` (0600). Returns the settings
    /// and whether the file was just created. Setting only one of the two secret
    /// environment variables is an `invalid_config` error.
    pub fn load(path: &Path, create: bool) -> Result<(Settings, bool), String> {
        if let Some(s) = Settings::from_env()? {
            return Ok((s, false));
        }
        if path.exists() {
            return Ok((Settings::read_file(path)?, false));
        }
        if !create {
            return Err(format!(
                "no config at {} and {ENV_PEPPER} / {ENV_TOKEN_SECRET} are not set; run `keyseal init` first",
                path.display()
            ));
        }
        let mut s = Settings::generate()?;
        s.write_new(path)?;
        s.source = path.display().to_string();
        Ok((s, true))
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

    /// The registry configuration for these settings.
    pub fn registry_config(&self) -> Result<RegistryConfig, keyseal::Error> {
        let format = KeyFormat::new(&self.prefix)?;
        let mut cfg = RegistryConfig::new(format, self.pepper_set(unix_now())?);
        cfg.keyset = Some(self.keyset()?);
        cfg.exchange.ttl = self.token_ttl;
        cfg.exchange.issuer = Some(TOKEN_ISSUER.to_owned());
        cfg.accept_imported_digests = self.accept_imported_digests;
        cfg.foreign_peppers = self
            .foreign_peppers
            .iter()
            .map(|p| Pepper::new(&p.id, &p.bytes))
            .collect::<Result<_, _>>()?;
        Ok(cfg)
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

/// The file's text: a header, then the TOML.
fn render(file: &ConfigFile) -> Result<Zeroizing<String>, String> {
    let body = Zeroizing::new(
        toml::to_string(file).map_err(|_| "cannot serialize the config".to_owned())?,
    );
    let mut out = Zeroizing::new(String::from(
        "# keyseal server configuration. It holds secrets: keep it mode 0600 and back it up;\n\
         # without it no existing key verifies. Never commit it.\n",
    ));
    out.push_str(&body);
    Ok(out)
}

/// Replaces `path` with `body` atomically: a new file beside it (created 0600, so the
/// secrets are never readable by others, not even for a moment), written and fsynced,
/// then renamed over the old one, and the directory fsynced. A crash leaves either the
/// old file or the new one, never a mix and never neither.
pub(crate) fn replace_file(path: &Path, body: &str) -> Result<(), String> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().map_or_else(
        || "keyseal.toml".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let tmp = dir.join(format!(".{name}.{}.tmp", random_base62(8)?));
    let written = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(body.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    written.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("{}: {e}", path.display())
    })
}

/// `postgres://` / `postgresql://` URLs are PostgreSQL; anything else is a SQLite path.
pub fn storage(db: &str) -> Storage {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        Storage::Postgres(db.to_owned())
    } else {
        Storage::Sqlite(db.to_owned())
    }
}

/// A description of the database that never shows a password.
pub fn describe_db(db: &str) -> String {
    match storage(db) {
        Storage::Sqlite(p) => format!("SQLite file {p}"),
        Storage::Postgres(url) => {
            // postgres://user:password@host:port/db?options -> host:port/db. The user
            // part cannot hold '/', '?' or '#' unencoded (RFC 3986 section 3.2.1), and
            // the options may hold a password (`?password=...`): both are left out. A URL
            // that breaks those rules (an '@' after the authority) is not shown at all.
            let rest = url.split_once("://").map_or("", |(_, r)| r);
            let end = rest.find(['?', '#']).unwrap_or(rest.len());
            let (before_options, options) = rest.split_at(end);
            let authority_end = before_options.find('/').unwrap_or(before_options.len());
            let (authority, path) = before_options.split_at(authority_end);
            if options.contains('@') && !authority.contains('@') || path.contains('@') {
                return "PostgreSQL (the URL is not shown: it does not parse as a URL)".to_owned();
            }
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("PostgreSQL at {host}{path}")
        }
    }
}

/// Opens the registry on `db` with `settings`.
pub fn open_registry(db: &str, settings: &Settings) -> Result<Registry, keyseal::Error> {
    let storage = storage(db);
    let mut cfg = settings.registry_config()?;
    if matches!(storage, Storage::Sqlite(_)) {
        // SQLite has one writer at a time and cached verifications never reach the pool;
        // each connection keeps its own page cache (4 MiB), so fewer connections keep
        // RSS down. No memory-mapped I/O: each connection would map the file on its own
        // and every mapped page would count in RSS once per connection (100,000 keys, a
        // 54 MB file: 146 MB of mapped file pages after the load test's warm-up, none
        // without); hot keys are answered from the record cache, and a cold lookup costs
        // a few microseconds more.
        cfg.pool_size = 4;
        cfg.sqlite_mmap_size = 0;
    }
    Registry::open(storage, cfg)
}

/// The default config path for a database: `keyseal.toml` beside a SQLite file, or in the
/// working directory for PostgreSQL.
pub fn default_config_path(db: &str) -> PathBuf {
    match storage(db) {
        Storage::Sqlite(p) => Path::new(&p)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("keyseal.toml"), |d| d.join("keyseal.toml")),
        Storage::Postgres(_) => PathBuf::from("keyseal.toml"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn describe_db_never_shows_a_password() {
        for (url, want) in [
            (
                "postgres://u:s3cret@db.internal:5432/keys",
                "PostgreSQL at db.internal:5432/keys",
            ),
            (
                "postgres://db/keys?user=u&password=s3cret",
                "PostgreSQL at db/keys",
            ),
            (
                "postgresql://u:s3cret@h/k?sslmode=verify-full#x",
                "PostgreSQL at h/k",
            ),
            (
                "postgres://h/k?password=a@s3cret",
                "PostgreSQL (the URL is not shown: it does not parse as a URL)",
            ),
        ] {
            let d = describe_db(url);
            assert_eq!(d, want);
            assert!(!d.contains("s3cret"), "{d}");
        }
    }

    const P1: &str = "01010101010101010101010101010101";
    const T1: &str = "0202020202020202020202020202020202020202020202020202020202020202";

    fn parse(text: &str) -> Result<Settings, String> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| e.to_string())?;
        Settings::from_config(&file, "test")
    }

    #[test]
    fn rfc3339_dates_parse() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2026-11-23T00:00:00Z"), Some(1_795_392_000));
        assert_eq!(
            parse_rfc3339("2026-11-23T02:00:00.123+02:00"),
            Some(1_795_392_000)
        );
        assert_eq!(
            parse_rfc3339("2026-11-22T23:30:00-00:30"),
            Some(1_795_392_000)
        );
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400));
        for bad in [
            "2026-11-23",
            "2026-13-01T00:00:00Z",
            "2026-11-23T00:00:00",
            "x",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn single_form_still_reads() {
        let s = parse(&format!(
            "prefix = \"ks\"\n[pepper]\nid = \"p1\"\nsecret_hex = \"{P1}\"\n[token]\nid = \"t1\"\nsecret_hex = \"{T1}\"\n"
        ))
        .unwrap();
        assert_eq!(s.pepper_set(0).unwrap().current().id(), "p1");
        assert_eq!(s.keyset().unwrap().signing_key().kid(), "t1");
        assert!(!s.accept_imported_digests);
    }

    #[test]
    fn list_form_has_one_current_and_dated_others() {
        let text = format!(
            "prefix = \"ks\"\n\
             [[peppers]]\nid = \"p0\"\nsecret_hex = \"{P1}\"\nverify_until = 100\n\
             [[peppers]]\nid = \"p1\"\nsecret_hex = \"{P1}\"\nverify_until = \"1970-01-01T00:03:20Z\"\n\
             [[peppers]]\nid = \"p2\"\nsecret_hex = \"{P1}\"\n\
             [[peppers]]\nid = \"p3\"\nsecret_hex = \"{P1}\"\nverify_until = 1970-01-01T00:05:00Z\n\
             [[token_keys]]\nid = \"t1\"\nsecret_hex = \"{T1}\"\nverify_until = 500\n\
             [[token_keys]]\nid = \"t2\"\nsecret_hex = \"{T1}\"\n\
             [imports]\naccept_imported_digests = true\n\
             [[imports.foreign_peppers]]\nid = \"legacy\"\nsecret_hex = \"{P1}\"\n"
        );
        let s = parse(&text).unwrap();
        assert_eq!(s.pepper_set(150).unwrap().current().id(), "p2");
        let cfg = s.registry_config().unwrap();
        assert!(cfg.accept_imported_digests);
        assert_eq!(cfg.foreign_peppers[0].id(), "legacy");
        let ks = s.keyset().unwrap();
        assert_eq!(ks.signing_key().kid(), "t2");
        assert_eq!(ks.keys()[1].verify_until(), Some(500));
        // p0 has expired at 150, p1 has not: an old-pepper digest of p1 is still known.
        let set = s.pepper_set(150).unwrap();
        let probe = |id: &str| format!("v1.{id}.{}", "A".repeat(43));
        assert_eq!(
            set.verify("k", &probe("p1")).unwrap_err().code(),
            "digest_mismatch"
        );
        assert_eq!(
            set.verify("k", &probe("p0")).unwrap_err().code(),
            "unknown_pepper"
        );
        // p3's bare TOML date-time is 300: known at 250, dropped at 300.
        let known = |now: i64, id: &str| {
            s.pepper_set(now)
                .unwrap()
                .verify("k", &probe(id))
                .unwrap_err()
                .code()
        };
        assert_eq!(known(250, "p3"), "digest_mismatch");
        assert_eq!(known(300, "p3"), "unknown_pepper");
        // Debug names ids, never secrets.
        let dbg = format!("{s:?}");
        assert!(dbg.contains("p2 (current)") && !dbg.contains(P1), "{dbg}");
    }

    #[test]
    fn bad_lists_are_refused() {
        let two_current = format!(
            "prefix = \"ks\"\n[[peppers]]\nid = \"a\"\nsecret_hex = \"{P1}\"\n[[peppers]]\nid = \"b\"\nsecret_hex = \"{P1}\"\n[token]\nid = \"t\"\nsecret_hex = \"{T1}\"\n"
        );
        assert!(
            parse(&two_current)
                .unwrap_err()
                .contains("exactly one current")
        );
        let both = format!(
            "prefix = \"ks\"\n[pepper]\nid = \"a\"\nsecret_hex = \"{P1}\"\n[[peppers]]\nid = \"b\"\nsecret_hex = \"{P1}\"\n[token]\nid = \"t\"\nsecret_hex = \"{T1}\"\n"
        );
        assert!(
            parse(&both)
                .unwrap_err()
                .contains("both [pepper] and [[peppers]]")
        );
        let dup = format!(
            "prefix = \"ks\"\n[[peppers]]\nid = \"a\"\nsecret_hex = \"{P1}\"\nverify_until = 5\n[[peppers]]\nid = \"a\"\nsecret_hex = \"{P1}\"\n[token]\nid = \"t\"\nsecret_hex = \"{T1}\"\n"
        );
        assert!(parse(&dup).unwrap_err().contains("duplicate_kid"));
        let clash = format!(
            "prefix = \"ks\"\n[pepper]\nid = \"a\"\nsecret_hex = \"{P1}\"\n[token]\nid = \"t\"\nsecret_hex = \"{T1}\"\n[imports]\n[[imports.foreign_peppers]]\nid = \"a\"\nsecret_hex = \"{P1}\"\n"
        );
        assert!(parse(&clash).unwrap_err().contains("duplicate_kid"));
        let bad_date = format!(
            "prefix = \"ks\"\n[[peppers]]\nid = \"a\"\nsecret_hex = \"{P1}\"\nverify_until = \"soon\"\n[[peppers]]\nid = \"b\"\nsecret_hex = \"{P1}\"\n[token]\nid = \"t\"\nsecret_hex = \"{T1}\"\n"
        );
        assert!(parse(&bad_date).unwrap_err().contains("RFC 3339"));
    }

    #[test]
    fn replace_file_is_0600_and_keeps_nothing_behind() {
        let dir = std::env::temp_dir().join(format!("keyseal-cfg-{}", random_base62(8).unwrap()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keyseal.toml");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        replace_file(&path, "new").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }
}
