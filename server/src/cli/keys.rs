//! `keyseal keys ...`: key management through a running server.

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::client::{Conn, Session};
use super::exit::Exit;
use super::print::{print_table, rfc3339};
use super::{CliResult, fail1};

#[derive(Subcommand)]
pub enum KeysCmd {
    /// Create a key; prints the full key once.
    Create {
        #[command(flatten)]
        conn: Conn,
        /// Unique name in the account: 1-64 of [A-Za-z0-9_-].
        #[arg(long)]
        name: String,
        #[command(flatten)]
        fields: Fields,
        /// Create it disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// List keys.
    List {
        #[command(flatten)]
        conn: Conn,
        /// active, inactive, deleted or all.
        #[arg(long)]
        status: Option<String>,
        /// 1-100.
        #[arg(long)]
        limit: Option<u32>,
        /// Keys after this id.
        #[arg(long)]
        starting_after: Option<String>,
        /// Keys before this id.
        #[arg(long)]
        ending_before: Option<String>,
        /// Keys to skip.
        #[arg(long)]
        offset: Option<u32>,
    },
    /// Show one key.
    Show {
        #[command(flatten)]
        conn: Conn,
        /// Key id.
        id: String,
    },
    /// Change fields of a key.
    Update {
        #[command(flatten)]
        conn: Conn,
        /// Key id.
        id: String,
        /// The version you read (412 if it changed since); read now when omitted.
        #[arg(long)]
        if_match: Option<u64>,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        fields: Fields,
        /// Set read_only to this value.
        #[arg(long)]
        set_read_only: Option<bool>,
        /// Remove the expiry.
        #[arg(long)]
        no_expiry: bool,
    },
    /// Disable a key (it stops verifying at once).
    Disable {
        #[command(flatten)]
        conn: Conn,
        /// Key id.
        id: String,
        /// Expected version.
        #[arg(long)]
        if_match: Option<u64>,
    },
    /// Enable a key.
    Enable {
        #[command(flatten)]
        conn: Conn,
        /// Key id.
        id: String,
        /// Expected version.
        #[arg(long)]
        if_match: Option<u64>,
    },
    /// Give a key a new secret; the old one works for --grace seconds.
    Roll {
        #[command(flatten)]
        conn: Conn,
        /// Key id.
        id: String,
        /// Seconds the old secret keeps working (0-2592000).
        #[arg(long, default_value_t = 0)]
        grace: i64,
    },
    /// Verifications by outcome and credits spent, in minute, hour or day buckets: of
    /// one key (ID), of the keys of one owner (--owner), or of the whole account.
    Usage {
        #[command(flatten)]
        conn: Conn,
        /// Key id or name; the whole account (or --owner's keys) when omitted.
        id: Option<String>,
        /// Only the keys with this owner (without ID).
        #[arg(long, conflicts_with = "id")]
        owner: Option<String>,
        /// Start, unix seconds (default: one hour, day or 30 days before --to).
        #[arg(long)]
        from: Option<i64>,
        /// End, unix seconds, exclusive (default: now).
        #[arg(long)]
        to: Option<i64>,
        /// minute, hour or day.
        #[arg(long, default_value = "hour")]
        granularity: String,
    },
    /// Delete a key (soft; it stops verifying at once).
    Delete {
        #[command(flatten)]
        conn: Conn,
        /// Key id.
        id: String,
        /// Expected version.
        #[arg(long)]
        if_match: Option<u64>,
    },
}

#[derive(Args, Clone, Default)]
pub struct Fields {
    /// Description.
    #[arg(long)]
    pub description: Option<String>,
    /// The user the key acts for.
    #[arg(long)]
    pub owner: Option<String>,
    /// Role, e.g. account-owner or merchant-terminal.
    #[arg(long)]
    pub role: Option<String>,
    /// A granted scope (repeat for several).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Only GET/HEAD/OPTIONS (create).
    #[arg(long)]
    pub read_only: bool,
    /// An allowed client network, CIDR (repeat for several).
    #[arg(long = "allow-ip")]
    pub allowed_ips: Vec<String>,
    /// Expiry, unix seconds.
    #[arg(long)]
    pub expires_at: Option<i64>,
    /// A rate limit, `NAME=LIMIT/WINDOW` with the window in ms or with a unit
    /// (`per_minute=100/1m`, `burst=10/500ms`); repeat for several. Replaces the list.
    #[arg(long = "limit", value_parser = parse_limit)]
    pub limits: Vec<Value>,
    /// Usage credits: the starting balance, without refill (create only; add credits
    /// with `POST .../credits`).
    #[arg(long)]
    pub credits: Option<u64>,
}

/// `NAME=LIMIT/WINDOW` as the API's limit object; the window is milliseconds, or a
/// number with `ms`, `s`, `m`, `h` or `d`.
pub(crate) fn parse_limit(s: &str) -> Result<Value, String> {
    let bad = || format!("expected NAME=LIMIT/WINDOW (e.g. per_minute=100/1m), found {s:?}");
    let (name, rest) = s.split_once('=').ok_or_else(bad)?;
    let (limit, window) = rest.split_once('/').ok_or_else(bad)?;
    let limit: u64 = limit.parse().map_err(|_| bad())?;
    let digits = window.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let unit = match &window[digits.len()..] {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    let window_ms = n.checked_mul(unit).ok_or_else(bad)?;
    Ok(json!({"name": name, "limit": limit, "window_ms": window_ms}))
}

fn fields_json(f: &Fields, m: &mut serde_json::Map<String, Value>, create: bool) {
    if let Some(d) = &f.description {
        m.insert("description".into(), json!(d));
    }
    if let Some(o) = &f.owner {
        m.insert("owner".into(), json!(o));
    }
    if let Some(r) = &f.role {
        m.insert("role".into(), json!(r));
    }
    if !f.scopes.is_empty() {
        m.insert("scopes".into(), json!(f.scopes));
    }
    if create && f.read_only {
        m.insert("read_only".into(), json!(true));
    }
    if !f.allowed_ips.is_empty() {
        m.insert("allowed_ips".into(), json!(f.allowed_ips));
    }
    if let Some(e) = f.expires_at {
        m.insert("expires_at".into(), json!(e));
    }
    if !f.limits.is_empty() {
        m.insert("limits".into(), json!(f.limits));
    }
    if let (true, Some(c)) = (create, f.credits) {
        m.insert("credits".into(), json!({ "remaining": c }));
    }
}

pub fn keys(cmd: KeysCmd) -> CliResult {
    match cmd {
        KeysCmd::Create {
            conn,
            name,
            fields,
            disabled,
        } => {
            let s = Session::open(&conn)?;
            let mut body = serde_json::Map::new();
            body.insert("name".into(), json!(name));
            fields_json(&fields, &mut body, true);
            if disabled {
                body.insert("enabled".into(), json!(false));
            }
            let body = Value::Object(body);
            s.print(&s.call("POST", &s.keys_path(None, None), None, Some(&body))?);
        }
        KeysCmd::List {
            conn,
            status,
            limit,
            starting_after,
            ending_before,
            offset,
        } => {
            let s = Session::open(&conn)?;
            let mut q: Vec<(&str, String)> = Vec::new();
            if let Some(s) = status {
                q.push(("status", s));
            }
            if let Some(l) = limit {
                q.push(("limit", l.to_string()));
            }
            if let Some(s) = starting_after {
                q.push(("starting_after", s));
            }
            if let Some(s) = ending_before {
                q.push(("ending_before", s));
            }
            if let Some(o) = offset {
                q.push(("offset", o.to_string()));
            }
            let qs = serde_urlencoded::to_string(&q).unwrap_or_default();
            let path = format!("{}?{qs}", s.keys_path(None, None));
            let v = s.call("GET", &path, None, None)?;
            if conn.json {
                println!("{v}");
            } else {
                let rows = v["data"].as_array().cloned().unwrap_or_default();
                print_table(&rows);
                println!(
                    "{} of {} keys{}",
                    v["count"],
                    v["total"],
                    if v["has_more"] == json!(true) {
                        " (more: --starting-after <last id>)"
                    } else {
                        ""
                    }
                );
            }
        }
        KeysCmd::Show { conn, id } => {
            let s = Session::open(&conn)?;
            s.print(&s.call("GET", &s.keys_path(Some(&id), None), None, None)?);
        }
        KeysCmd::Update {
            conn,
            id,
            if_match,
            name,
            fields,
            set_read_only,
            no_expiry,
        } => {
            let s = Session::open(&conn)?;
            let path = s.keys_path(Some(&id), None);
            let version = match if_match {
                Some(v) => v,
                None => s.call("GET", &path, None, None)?["version"]
                    .as_u64()
                    .ok_or_else(|| fail1("the server sent no version"))?,
            };
            let mut body = serde_json::Map::new();
            if let Some(n) = name {
                body.insert("name".into(), json!(n));
            }
            fields_json(&fields, &mut body, false);
            if let Some(ro) = set_read_only {
                body.insert("read_only".into(), json!(ro));
            }
            if no_expiry {
                body.insert("expires_at".into(), Value::Null);
            }
            let body = Value::Object(body);
            s.print(&s.call("PATCH", &path, Some(version), Some(&body))?);
        }
        KeysCmd::Disable { conn, id, if_match } => {
            let s = Session::open(&conn)?;
            let path = s.keys_path(Some(&id), Some("disable"));
            s.print(&s.call("POST", &path, if_match, None)?);
        }
        KeysCmd::Enable { conn, id, if_match } => {
            let s = Session::open(&conn)?;
            let path = s.keys_path(Some(&id), Some("enable"));
            s.print(&s.call("POST", &path, if_match, None)?);
        }
        KeysCmd::Roll { conn, id, grace } => {
            let s = Session::open(&conn)?;
            let path = s.keys_path(Some(&id), Some("roll"));
            let body = json!({"grace_seconds": grace});
            s.print(&s.call("POST", &path, None, Some(&body))?);
        }
        KeysCmd::Usage {
            conn,
            id,
            owner,
            from,
            to,
            granularity,
        } => {
            let s = Session::open(&conn)?;
            let mut q: Vec<(&str, String)> = vec![("granularity", granularity)];
            if let Some(f) = from {
                q.push(("from", f.to_string()));
            }
            if let Some(t) = to {
                q.push(("to", t.to_string()));
            }
            if let Some(o) = owner {
                q.push(("owner", o));
            }
            let qs = serde_urlencoded::to_string(&q).unwrap_or_default();
            let path = match &id {
                Some(id) => format!("{}?{qs}", s.keys_path(Some(id), Some("usage"))),
                None => format!("{}?{qs}", s.account_path("usage")),
            };
            let v = s.call("GET", &path, None, None)?;
            if conn.json {
                println!("{v}");
            } else {
                print_usage(&v);
            }
        }
        KeysCmd::Delete { conn, id, if_match } => {
            let s = Session::open(&conn)?;
            s.call("DELETE", &s.keys_path(Some(&id), None), if_match, None)?;
            if conn.json {
                println!("{}", json!({"deleted": id}));
            } else {
                println!("deleted {id}");
            }
        }
    }
    Ok(Exit::Success)
}

/// A usage answer as a table: one line per bucket, then the totals.
fn print_usage(v: &Value) {
    println!(
        "{:<20}  {:>10}  {:>10}  {:>10}  OUTCOMES",
        "START", "VALID", "REFUSED", "CREDITS"
    );
    let (mut valid, mut refused, mut credits) = (0, 0, 0);
    for b in v["data"].as_array().map_or(&[][..], Vec::as_slice) {
        let n = |k: &str| b[k].as_u64().unwrap_or(0);
        (valid, refused, credits) = (
            valid + n("valid"),
            refused + n("refused"),
            credits + n("credits_spent"),
        );
        let outcomes: Vec<String> = b["outcomes"]
            .as_object()
            .map(|m| m.iter().map(|(k, c)| format!("{k}={c}")).collect())
            .unwrap_or_default();
        println!(
            "{:<20}  {:>10}  {:>10}  {:>10}  {}",
            b["start"].as_i64().map_or_else(String::new, rfc3339),
            n("valid"),
            n("refused"),
            n("credits_spent"),
            outcomes.join(" ")
        );
    }
    println!(
        "{} {} buckets: {valid} valid, {refused} refused, {credits} credits spent",
        v["data"].as_array().map_or(0, Vec::len),
        v["granularity"].as_str().unwrap_or("")
    );
}
