//! `keyseal init`: an account and its first owner key, printed once.

use clap::Args;
use keyseal_registry::{Actor, NewKey};
use serde_json::json;

use super::db::{DbArgs, open_checked};
use super::exit::Exit;
use super::{CliResult, Fail, fail1};
use crate::config;
use crate::http::OWNER_ROLE;

#[derive(Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Account id (1-128 of [A-Za-z0-9_.:-]); a random `acct_...` when omitted.
    #[arg(long)]
    pub account: Option<String>,
    /// Name of the owner key.
    #[arg(long, default_value = "owner")]
    pub name: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn init(a: InitArgs) -> CliResult {
    let cfg_path = a.db.config_path();
    let (_settings, registry, created) = open_checked(&a.db, true)?;
    if created {
        eprintln!(
            "created {} with new secrets (mode 0600): back it up, and never commit it",
            cfg_path.display()
        );
    }
    let account = match a.account {
        Some(acct) => acct,
        None => format!("acct_{}", config::random_base62(16).map_err(fail1)?),
    };
    let mut new = NewKey::new(&account, &a.name);
    new.role = Some(OWNER_ROLE.to_owned());
    new.description = "first owner key, created by keyseal init".to_owned();
    let created = registry.create(&new, &Actor::System).map_err(|e| {
        Fail(
            Exit::for_error_code(e.code()),
            format!("cannot create the owner key: {e}"),
        )
    })?;
    registry.close();
    if a.json {
        println!(
            "{}",
            json!({
                "account": account,
                "key_id": created.record.id,
                "secret": created.key.expose(),
                "access_key": created.key.prefixed_id(),
                "secret_key": created.key.expose_secret_with_checksum(),
                "role": OWNER_ROLE,
            })
        );
    } else {
        println!("account:   {account}");
        println!("key id:    {}", created.record.id);
        println!("owner key: {}", created.key.expose());
        println!();
        println!("This key is shown once: store it now (the server keeps only a digest).");
        println!(
            "Try it: curl -H 'x-api-key: <owner key>' http://127.0.0.1:8080/v1/accounts/{account}/keys"
        );
    }
    Ok(Exit::Success)
}
