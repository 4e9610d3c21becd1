//! The config file's format (see the module above for the two forms): reading it
//! (refusing a file others can read, never quoting a line of it in an error), turning it
//! into [`Settings`], and writing it (new files and atomic replacements, always 0600).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::secrets::{hex_decode, hex_encode, random_base62};
use super::{Secret, Settings};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SecretFile {
    pub(super) id: String,
    pub(super) secret_hex: String,
}

/// Unix seconds, a TOML date-time (`2027-12-01T00:00:00Z`, unquoted) or an RFC 3339
/// string.
#[derive(Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum Until {
    Unix(i64),
    Date(toml::value::Datetime),
    Text(String),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SecretEntry {
    pub(super) id: String,
    pub(super) secret_hex: String,
    /// Absent on the current entry; on the others, when they stop verifying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) verify_until: Option<Until>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct ImportsFile {
    /// See `RegistryConfig::accept_imported_digests`. Defaults to false.
    #[serde(default)]
    pub(super) accept_imported_digests: bool,
    /// Other systems' peppers (verify-only). Defaults to none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) foreign_peppers: Vec<SecretFile>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConfigFile {
    /// Key prefix, e.g. `ks` -> `ks_<id>_<secret><checksum>`.
    pub(super) prefix: String,
    /// Lifetime of exchange tokens in seconds (1-86400).
    #[serde(default = "default_ttl")]
    pub(super) token_ttl: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) pepper: Option<SecretFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) token: Option<SecretFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) peppers: Vec<SecretEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) token_keys: Vec<SecretEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) imports: Option<ImportsFile>,
}

pub(super) fn default_ttl() -> u64 {
    keyseal::token::DEFAULT_EXCHANGE_TTL
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
pub(super) fn parse_rfc3339(s: &str) -> Option<i64> {
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

impl Settings {
    pub(super) fn read_config(path: &Path) -> Result<ConfigFile, String> {
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

    pub(super) fn from_config(file: &ConfigFile, source: &str) -> Result<Settings, String> {
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

    pub(super) fn read_file(path: &Path) -> Result<Settings, String> {
        let file = Self::read_config(path)?;
        Self::from_config(&file, &path.display().to_string())
            .map_err(|e| format!("invalid_config: {}: {e}", path.display()))
    }

    pub(super) fn to_config(&self) -> ConfigFile {
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

    pub(super) fn write_new(&self, path: &Path) -> Result<(), String> {
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
}

/// The file's text: a header, then the TOML.
pub(super) fn render(file: &ConfigFile) -> Result<Zeroizing<String>, String> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
