//! The database and config flags every command on the database shares, and opening the
//! registry with secrets that match it.

use std::path::PathBuf;

use clap::Args;
use keyseal_registry::{PepperCheck, Registry};

use super::exit::Exit;
use super::{Fail, fail1};
use crate::config::{self, Settings};

#[derive(Args, Clone)]
pub struct DbArgs {
    /// SQLite file path or postgres:// URL.
    #[arg(long, env = "KEYSEAL_DB", default_value = "keyseal.db")]
    pub db: String,
    /// Config file with the secrets (created 0600 if missing). Defaults to keyseal.toml
    /// beside the SQLite file (or in the working directory for PostgreSQL).
    #[arg(long, env = "KEYSEAL_CONFIG")]
    pub config: Option<PathBuf>,
}

impl DbArgs {
    pub fn config_path(&self) -> PathBuf {
        self.config
            .clone()
            .unwrap_or_else(|| config::default_config_path(&self.db))
    }
}

/// Loads the secrets and opens the registry, refusing secrets that do not match the
/// database: with no config (and no environment secrets) for a database that already
/// holds keys, new secrets are never generated; and the configured peppers must include
/// the one whose fingerprint the database records (recorded on the first start).
pub fn open_checked(db: &DbArgs, create: bool) -> Result<(Settings, Registry, bool), Fail> {
    let cfg_path = db.config_path();
    let desc = config::describe_db(&db.db);
    if create && !Settings::env_is_set() && !cfg_path.exists() {
        let holds = Registry::holds_keys(&config::storage(&db.db))
            .map_err(|e| Fail(Exit::Unreachable, format!("cannot open {desc}: {e}")))?;
        if holds {
            return Err(fail1(format!(
                "invalid_config: {desc} already holds keys, but there is no config at {}: refusing                  to create new secrets that would not verify them. Pass the original config with                  --config (or KEYSEAL_CONFIG), or set {} and {}",
                cfg_path.display(),
                config::ENV_PEPPER,
                config::ENV_TOKEN_SECRET
            )));
        }
    }
    let (settings, created) = Settings::load(&cfg_path, create).map_err(fail1)?;
    let registry = config::open_registry(&db.db, &settings)
        .map_err(|e| Fail(Exit::Unreachable, format!("cannot open {desc}: {e}")))?;
    let check = registry
        .check_pepper()
        .map_err(|e| Fail(Exit::Unreachable, format!("cannot read {desc}: {e}")))?;
    match check {
        PepperCheck::Unknown { id } => {
            registry.close();
            return Err(fail1(format!(
                "unknown_pepper: the keys in {desc} were digested with pepper {id:?}, which the                  secrets from {} do not hold; start with the config that holds it",
                settings.source
            )));
        }
        PepperCheck::Mismatch { id } => {
            registry.close();
            return Err(fail1(format!(
                "digest_mismatch: pepper {id:?} from {} is not the pepper {desc} was set up with                  (same id, another secret); start with the config that holds it",
                settings.source
            )));
        }
        PepperCheck::Advanced { from, to } => {
            tracing::info!(from = %from, to = %to, "recorded the rotated pepper in the database");
        }
        PepperCheck::Recorded { .. } | PepperCheck::Matches { .. } => {}
    }
    Ok((settings, registry, created))
}
