//! The command line: `serve`, `init`, `keys ...`, `token ...`, `rotate ...`, `import`,
//! `inspect`, one file per subcommand. Exit codes are listed once, in [`exit::Exit`]
//! (also printed by `keyseal --help`).

mod client;
mod db;
mod exit;
mod import;
mod init;
mod inspect;
mod keys;
mod print;
mod rotate;
mod seed;
mod serve;
mod token;

pub(crate) use keys::parse_limit;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use exit::Exit;

/// keyseal: a self-hosted API-key service and its client.
#[derive(Parser)]
#[command(name = "keyseal", version = keyseal::VERSION, after_help = Exit::help())]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the HTTP API (creates the config with fresh secrets on first start).
    Serve(serve::ServeArgs),
    /// Create an account and its first account-owner key; prints the key once.
    Init(init::InitArgs),
    /// Manage keys through a running server.
    #[command(subcommand)]
    Keys(keys::KeysCmd),
    /// Exchange a key for a token, or verify a token, through a running server.
    #[command(subcommand)]
    Token(token::TokenCmd),
    /// Rotate a secret in the config file: a new one becomes current, the old one only
    /// verifies until --grace has passed. Running servers pick it up when restarted.
    #[command(subcommand)]
    Rotate(rotate::RotateCmd),
    /// Import keys hashed elsewhere straight into the database, one JSON object a line:
    /// {"id", "fields": {"account", "name", ...}, "digest", "pepper"?, "created_at"?}.
    /// Digests other than keyseal's need `[imports] accept_imported_digests = true`.
    Import(import::ImportArgs),
    /// Read a key offline: prefix, id, whether the checksum is valid. Never prints the secret.
    /// Load-test helper: creates COUNT keys straight in the database and writes them,
    /// one per line, to OUT (mode 0600). Used by benches/server/load.sh.
    #[command(hide = true)]
    SeedKeys(seed::SeedArgs),
    Inspect {
        /// The key (or `-` to read it from standard input).
        key: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A failure with its exit code and a one-line message.
struct Fail(Exit, String);

/// A command's outcome: its exit code, or a failure to report.
type CliResult = Result<Exit, Fail>;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Serve(a) => serve::serve(a),
        Cmd::Init(a) => init::init(a),
        Cmd::Keys(k) => keys::keys(k),
        Cmd::Token(t) => token::token(t),
        Cmd::Rotate(r) => rotate::rotate(r),
        Cmd::Import(a) => import::import(a),
        Cmd::SeedKeys(a) => seed::seed_keys(a),
        Cmd::Inspect { key, json } => inspect::inspect(&key, json),
    };
    match r {
        Ok(c) => c.into(),
        Err(Fail(code, msg)) => {
            eprintln!("keyseal: {msg}");
            code.into()
        }
    }
}

fn fail1(msg: impl Into<String>) -> Fail {
    Fail(Exit::Failure, msg.into())
}

fn read_arg(v: String) -> Result<String, Fail> {
    if v != "-" {
        return Ok(v);
    }
    let mut s = String::new();
    std::io::stdin()
        .read_line(&mut s)
        .map_err(|e| fail1(format!("cannot read standard input: {e}")))?;
    Ok(s.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
