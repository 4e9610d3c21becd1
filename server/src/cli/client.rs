//! The HTTP client of the `keys` and `token` commands.

use std::time::Duration;

use clap::Args;
use serde_json::Value;

use super::exit::Exit;
use super::{Fail, fail1};

#[derive(Args, Clone)]
pub struct Conn {
    /// Server URL.
    #[arg(long, env = "KEYSEAL_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Your API key (an account-owner key for `keys`). Prefer the environment variable:
    /// command lines are visible to other local users.
    #[arg(long, env = "KEYSEAL_KEY", hide_env_values = true)]
    pub key: String,
    /// Account; defaults to the account of --key.
    #[arg(long, env = "KEYSEAL_ACCOUNT")]
    pub account: Option<String>,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

pub struct Client {
    pub agent: ureq::Agent,
    pub base: String,
}

impl Client {
    pub fn new(url: &str) -> Client {
        let cfg = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build();
        Client {
            agent: ureq::Agent::new_with_config(cfg),
            base: url.trim_end_matches('/').to_owned(),
        }
    }

    /// Sends a request; returns (status, JSON body or Null).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        if_match: Option<u64>,
        body: Option<&Value>,
    ) -> Result<(u16, Value), Fail> {
        let url = format!("{}{path}", self.base);
        let mut req = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        if let Some(v) = if_match {
            req = req.header("if-match", v.to_string());
        }
        let unreachable = |e: ureq::Error| {
            Fail(
                Exit::Unreachable,
                format!("cannot reach {}: {e}", self.base),
            )
        };
        let resp = match body {
            Some(b) => {
                let req = req
                    .header("content-type", "application/json")
                    .body(b.to_string())
                    .map_err(|_| fail1("cannot build the request"))?;
                self.agent.run(req)
            }
            None => {
                let req = req
                    .body(())
                    .map_err(|_| fail1("cannot build the request"))?;
                self.agent.run(req)
            }
        }
        .map_err(unreachable)?;
        let status = resp.status().as_u16();
        let text = resp
            .into_body()
            .read_to_string()
            .map_err(|e| Fail(Exit::Unreachable, format!("cannot read the answer: {e}")))?;
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, v))
    }

    /// The body of a 2xx answer of [`Client::send`]; any other status is a `Fail` with
    /// the API's code and message.
    pub fn ok((status, v): (u16, Value)) -> Result<Value, Fail> {
        if (200..300).contains(&status) {
            return Ok(v);
        }
        Err(http_fail(status, &v, Exit::for_status(status)))
    }
}

/// The account a `keys` command works on, through its server, as the caller of `--key`.
pub struct Session<'a> {
    client: Client,
    conn: &'a Conn,
    account: String,
}

impl<'a> Session<'a> {
    /// Connects to `conn`'s server and learns the account (`--account`, else the key's).
    pub fn open(conn: &'a Conn) -> Result<Session<'a>, Fail> {
        let client = Client::new(&conn.url);
        let account = account_of(&client, conn)?;
        Ok(Session {
            client,
            conn,
            account,
        })
    }

    /// `/v1/accounts/{account}/keys`, then `/{id}` and `/{action}` when given.
    pub fn keys_path(&self, id: Option<&str>, action: Option<&str>) -> String {
        let mut p = format!("/v1/accounts/{}/keys", path_segment(&self.account));
        for seg in [id.map(path_segment), action.map(str::to_owned)]
            .into_iter()
            .flatten()
        {
            p.push('/');
            p.push_str(&seg);
        }
        p
    }

    /// `/v1/accounts/{account}/{rest}`.
    pub fn account_path(&self, rest: &str) -> String {
        format!("/v1/accounts/{}/{rest}", path_segment(&self.account))
    }

    /// A call with the caller's key (see [`Client::send`] and [`Client::ok`]).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        if_match: Option<u64>,
        body: Option<&Value>,
    ) -> Result<Value, Fail> {
        let key = Some(self.conn.key.as_str());
        Client::ok(self.client.send(method, path, key, if_match, body)?)
    }

    /// Prints a record answer as `--json` asks.
    pub fn print(&self, v: &Value) {
        super::print::print_record(v, self.conn.json);
    }
}

/// The failure for an answer with a non-2xx `status` and the API's error body `v`.
pub fn http_fail(status: u16, v: &Value, exit: Exit) -> Fail {
    let code = v["error"]["code"].as_str().unwrap_or("unknown");
    let msg = v["error"]["message"].as_str().unwrap_or("");
    Fail(exit, format!("HTTP {status} {code}: {msg}"))
}

fn account_of(c: &Client, conn: &Conn) -> Result<String, Fail> {
    if let Some(a) = &conn.account {
        return Ok(a.clone());
    }
    let me = Client::ok(c.send("GET", "/v1/whoami", Some(&conn.key), None, None)?)?;
    me["key"]["account"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| fail1("the server did not say which account the key belongs to"))
}

fn path_segment(s: &str) -> String {
    // Path segments: percent-encode everything outside the unreserved set.
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(path_segment("acct_1.a-b~c"), "acct_1.a-b~c");
        assert_eq!(path_segment("a/b c"), "a%2Fb%20c");
    }
}
