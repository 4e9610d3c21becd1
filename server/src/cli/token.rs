//! `keyseal token issue|verify`: exchange tokens through a running server.

use clap::Subcommand;
use serde_json::json;

use super::client::{Client, http_fail};
use super::exit::Exit;
use super::{CliResult, read_arg};

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Exchange --key for a short-lived token (prints the token).
    Issue {
        /// Server URL.
        #[arg(long, env = "KEYSEAL_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        /// The API key to exchange.
        #[arg(long, env = "KEYSEAL_KEY", hide_env_values = true)]
        key: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Verify a token with the server (exit 8 when invalid).
    Verify {
        /// Server URL.
        #[arg(long, env = "KEYSEAL_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        /// The token (or `-` to read it from standard input).
        token: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn token(cmd: TokenCmd) -> CliResult {
    match cmd {
        TokenCmd::Issue { url, key, json } => {
            let c = Client::new(&url);
            let (status, v) = c.send("POST", "/v1/token", Some(&key), None, None)?;
            if status != 200 {
                // Any refusal is about the key, unless the server cannot look it up.
                let exit = match Exit::for_status(status) {
                    Exit::Unreachable => Exit::Unreachable,
                    _ => Exit::Auth,
                };
                return Err(http_fail(status, &v, exit));
            }
            if json {
                println!("{v}");
            } else {
                println!("{}", v["token"].as_str().unwrap_or(""));
                eprintln!("expires in {} s", v["expires_in"]);
            }
            Ok(Exit::Success)
        }
        TokenCmd::Verify { url, token, json } => {
            let token = read_arg(token)?;
            let c = Client::new(&url);
            let body = json!({"token": token});
            let v = Client::ok(c.send("POST", "/v1/tokens/verify", None, None, Some(&body))?)?;
            let valid = v["valid"] == json!(true);
            if json {
                println!("{v}");
            } else if valid {
                println!("valid");
                println!("claims: {}", v["claims"]);
            } else {
                println!(
                    "invalid: {} ({})",
                    v["code"].as_str().unwrap_or(""),
                    v["message"].as_str().unwrap_or("")
                );
            }
            Ok(if valid { Exit::Success } else { Exit::Negative })
        }
    }
}
