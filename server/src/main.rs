//! `keyseal`: the keyseal server and its command-line client.
//!
//! `keyseal serve` runs the HTTP API on an embedded SQLite file (default `./keyseal.db`)
//! or a PostgreSQL URL; `keyseal init` creates an account and its first owner key;
//! `keyseal keys ...` and `keyseal token ...` talk to a running server; `keyseal inspect`
//! reads a key offline. See `keyseal --help` and server/README.md.

mod cli;
mod config;
mod console;
mod error;
mod http;
mod listen;
mod metrics;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
