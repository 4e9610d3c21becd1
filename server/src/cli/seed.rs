//! `keyseal seed-keys` (hidden): many keys at once for the load test.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use keyseal_registry::meter::{CreditSpec, LimitSpec};
use keyseal_registry::{Actor, NewKey};

use super::db::{DbArgs, open_checked};
use super::exit::Exit;
use super::{CliResult, Fail, fail1};

#[derive(Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Account to create the keys in.
    #[arg(long)]
    pub account: String,
    /// How many keys.
    #[arg(long)]
    pub count: usize,
    /// Output file for the keys (created 0600).
    #[arg(long)]
    pub out: PathBuf,
    /// A limit of this many verifications per minute on every key (named `per_minute`),
    /// for the load test's limits mode. Defaults to none.
    #[arg(long)]
    pub limit_per_minute: Option<u64>,
    /// A balance of this many usage credits on every key (no refill), for the load
    /// test's limits mode. Defaults to none.
    #[arg(long)]
    pub credits: Option<u64>,
}

pub fn seed_keys(a: SeedArgs) -> CliResult {
    use std::os::unix::fs::OpenOptionsExt;
    let (_settings, registry, _) = open_checked(&a.db, false)?;
    let registry = Arc::new(registry);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&a.out)
        .map_err(|e| fail1(format!("{}: {e}", a.out.display())))?;
    let out = Arc::new(std::sync::Mutex::new(std::io::BufWriter::new(file)));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Concurrent creates share group commits (one fsync for many rows).
    let threads: Vec<_> = (0..32)
        .map(|_| {
            let (registry, out, next, account, count) = (
                Arc::clone(&registry),
                Arc::clone(&out),
                Arc::clone(&next),
                a.account.clone(),
                a.count,
            );
            let limits: Vec<LimitSpec> = a
                .limit_per_minute
                .map(|limit| LimitSpec {
                    name: "per_minute".to_owned(),
                    limit,
                    window_ms: 60_000,
                })
                .into_iter()
                .collect();
            let credits = a.credits.map(|remaining| CreditSpec {
                remaining: Some(remaining),
                refill: None,
            });
            std::thread::spawn(move || -> Result<(), Fail> {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= count {
                        return Ok(());
                    }
                    let mut new = NewKey::new(&account, &format!("load-{i}"));
                    new.scopes = vec!["load:read".to_owned()];
                    new.limits = limits.clone();
                    new.credits = credits.clone();
                    let created = registry.create(&new, &Actor::System).map_err(|e| {
                        Fail(
                            Exit::for_error_code(e.code()),
                            format!("create failed: {e}"),
                        )
                    })?;
                    let mut w = out
                        .lock()
                        .map_err(|_| fail1("a writer lock was poisoned"))?;
                    writeln!(w, "{}", created.key.expose())
                        .map_err(|e| fail1(format!("write failed: {e}")))?;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().map_err(|_| fail1("a seeding thread panicked"))??;
    }
    out.lock()
        .map_err(|_| fail1("a writer lock was poisoned"))?
        .flush()
        .map_err(|e| fail1(format!("write failed: {e}")))?;
    registry.close();
    Ok(Exit::Success)
}
