//! `keyseal import`: keys hashed elsewhere, straight into the database.

use clap::Args;
use keyseal_registry::Actor;

use super::db::{DbArgs, open_checked};
use super::exit::Exit;
use super::{CliResult, Fail, fail1};

#[derive(Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// File of JSON lines, or `-` for standard input.
    pub file: String,
}

/// `keyseal import`: stops at the first line that fails (the lines before it are
/// imported) and says which line; never echoes a digest.
pub fn import(a: ImportArgs) -> CliResult {
    use std::io::BufRead;
    let input: Box<dyn BufRead> = if a.file == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(&a.file).map_err(|e| fail1(format!("{}: {e}", a.file)))?;
        Box::new(std::io::BufReader::new(f))
    };
    let (_settings, registry, _) = open_checked(&a.db, false)?;
    let mut done = 0usize;
    let r = (|| {
        for (i, line) in input.lines().enumerate() {
            let n = i + 1;
            let line = line.map_err(|e| fail1(format!("line {n}: {e}")))?;
            if line.trim().is_empty() {
                continue;
            }
            let imp: keyseal_registry::ImportKey = serde_json::from_str(&line).map_err(|e| {
                Fail(Exit::Refused,
                    format!(
                        "line {n}: expected an import object (id, fields, digest), invalid at column {}",
                        e.column()
                    ),
                )
            })?;
            registry.import(&imp, &Actor::System).map_err(|e| {
                Fail(
                    Exit::for_error_code(e.code()),
                    format!("line {n}: {}: {e}", e.code()),
                )
            })?;
            done += 1;
        }
        Ok(())
    })();
    registry.close();
    eprintln!("imported {done} keys");
    r.map(|()| Exit::Success)
}
