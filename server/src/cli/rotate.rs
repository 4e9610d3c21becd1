//! `keyseal rotate pepper|token-key`: a new secret in the config file.

use clap::{Args, Subcommand};
use serde_json::json;

use super::db::DbArgs;
use super::exit::Exit;
use super::print::rfc3339;
use super::{CliResult, Fail, fail1};
use crate::config::{self, Settings};

#[derive(Subcommand)]
pub enum RotateCmd {
    /// New pepper for key digests; keys move to it when next used. --grace defaults to
    /// 365d: a key not used by then stops verifying once the old pepper is dropped.
    Pepper(RotateArgs),
    /// New token signing key; tokens signed by the old one verify until --grace has
    /// passed. --grace defaults to the token lifetime plus 1 day (time to restart).
    TokenKey(RotateArgs),
}

#[derive(Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// How long the old secret keeps verifying: seconds, or a number with s, m, h or d.
    #[arg(long)]
    pub grace: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `30`, `90s`, `15m`, `12h`, `365d` -> seconds.
fn parse_grace(s: &str) -> Result<i64, Fail> {
    let s = s.trim();
    let (num, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => 0,
    };
    num.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0 && mult > 0)
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| {
            Fail(
                Exit::Usage,
                format!("--grace: expected seconds or a number with s, m, h or d, found {s:?}"),
            )
        })
}

pub fn rotate(cmd: RotateCmd) -> CliResult {
    let (what, a) = match cmd {
        RotateCmd::Pepper(a) => (config::Rotate::Pepper, a),
        RotateCmd::TokenKey(a) => (config::Rotate::TokenKey, a),
    };
    if Settings::env_is_set() {
        return Err(fail1(format!(
            "invalid_config: {} / {} are set, so servers ignore the config file; rotate by              moving the secrets into the file (or change the variables yourself)",
            config::ENV_PEPPER,
            config::ENV_TOKEN_SECRET
        )));
    }
    let path = a.db.config_path();
    if !path.exists() {
        return Err(fail1(format!(
            "no config at {}; pass --config (or KEYSEAL_CONFIG)",
            path.display()
        )));
    }
    let (settings, _) = Settings::load(&path, false).map_err(fail1)?;
    let grace = match (&a.grace, what) {
        (Some(g), _) => parse_grace(g)?,
        (None, config::Rotate::Pepper) => config::DEFAULT_PEPPER_GRACE,
        (None, config::Rotate::TokenKey) => {
            i64::try_from(settings.token_ttl).unwrap_or(86_400) + config::TOKEN_GRACE_MARGIN
        }
    };
    let r = Settings::rotate_file(&path, what, grace, config::unix_now()).map_err(fail1)?;
    let kind = match what {
        config::Rotate::Pepper => "pepper",
        config::Rotate::TokenKey => "token key",
    };
    if a.json {
        println!(
            "{}",
            json!({"rotated": kind, "current": r.new_id, "previous": r.old_id, "previous_verify_until": r.old_until})
        );
    } else {
        println!("{kind} rotated in {}", path.display());
        println!("current:  {}", r.new_id);
        println!(
            "previous: {} (verifies until {})",
            r.old_id,
            rfc3339(r.old_until)
        );
        println!("Restart every server with this file to use it.");
    }
    Ok(Exit::Success)
}
