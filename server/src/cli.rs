//! The command line: `serve`, `init`, `keys ...`, `token ...`, `rotate ...`, `import`, `inspect`.
//!
//! Exit codes (also in `keyseal --help`):
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | success |
//! | 1 | any other failure (configuration, I/O, database at start-up) |
//! | 2 | usage error (unknown flag, missing argument) |
//! | 3 | the server refused the input (400, 413, 422) |
//! | 4 | authentication or permission failure (401, 403) |
//! | 5 | not found (404) |
//! | 6 | conflict: name taken or stale If-Match version (409, 412) |
//! | 7 | the server or its database is unreachable (503, connection refused) |
//! | 8 | a negative answer: `inspect` of a bad key, `token verify` of an invalid token |

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use keyseal_registry::{Actor, NewKey, PepperCheck, Registry};
use serde_json::{Value, json};

use crate::config::{self, Settings};
use crate::http::{self, AppState, OWNER_ROLE};

const EXIT_CODES: &str = "Exit codes: 0 success; 1 other failure (config, I/O, start-up); 2 usage error; \
3 input refused (HTTP 400/413/422); 4 authentication or permission (401/403); 5 not found (404); \
6 conflict (409/412); 7 server or database unreachable (503, connection refused); \
8 negative answer (inspect of a bad key, token verify of an invalid token).";

/// Registry calls on the blocking pool at once (see `AppState::blocking_slots`).
const BLOCKING_SLOTS: usize = 16;

/// keyseal: a self-hosted API-key service and its client.
#[derive(Parser)]
#[command(name = "keyseal", version = keyseal::VERSION, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the HTTP API (creates the config with fresh secrets on first start).
    Serve(ServeArgs),
    /// Create an account and its first account-owner key; prints the key once.
    Init(InitArgs),
    /// Manage keys through a running server.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Exchange a key for a token, or verify a token, through a running server.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Rotate a secret in the config file: a new one becomes current, the old one only
    /// verifies until --grace has passed. Running servers pick it up when restarted.
    #[command(subcommand)]
    Rotate(RotateCmd),
    /// Import keys hashed elsewhere straight into the database, one JSON object a line:
    /// {"id", "fields": {"account", "name", ...}, "digest", "pepper"?, "created_at"?}.
    /// Digests other than keyseal's need `[imports] accept_imported_digests = true`.
    Import(ImportArgs),
    /// Read a key offline: prefix, id, whether the checksum is valid. Never prints the secret.
    /// Load-test helper: creates COUNT keys straight in the database and writes them,
    /// one per line, to OUT (mode 0600). Used by benches/server/load.sh.
    #[command(hide = true)]
    SeedKeys(SeedArgs),
    Inspect {
        /// The key (or `-` to read it from standard input).
        key: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Clone)]
struct DbArgs {
    /// SQLite file path or postgres:// URL.
    #[arg(long, env = "KEYSEAL_DB", default_value = "keyseal.db")]
    db: String,
    /// Config file with the secrets (created 0600 if missing). Defaults to keyseal.toml
    /// beside the SQLite file (or in the working directory for PostgreSQL).
    #[arg(long, env = "KEYSEAL_CONFIG")]
    config: Option<PathBuf>,
}

impl DbArgs {
    fn config_path(&self) -> PathBuf {
        self.config
            .clone()
            .unwrap_or_else(|| config::default_config_path(&self.db))
    }
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "KEYSEAL_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Log format.
    #[arg(long, env = "KEYSEAL_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// Seconds a client has to send a request's head, counted from when the server waits
    /// for it (so also how long an idle keep-alive connection stays open).
    #[arg(long, env = "KEYSEAL_HEADER_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: u64,
    /// Seconds a client has to send a request's body once its head arrived.
    #[arg(long, env = "KEYSEAL_BODY_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    body_timeout: u64,
    /// Connections open at once, at most; more wait in the listen backlog.
    #[arg(long, env = "KEYSEAL_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
    /// Seconds requests in flight may take to finish after SIGTERM.
    #[arg(long, env = "KEYSEAL_DRAIN_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=3600))]
    drain_timeout: u64,
}

impl ServeArgs {
    fn limits(&self) -> crate::listen::Limits {
        crate::listen::Limits {
            header_timeout: Duration::from_secs(self.header_timeout),
            body_timeout: Duration::from_secs(self.body_timeout),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            drain_timeout: Duration::from_secs(self.drain_timeout),
        }
    }
}

#[derive(Subcommand)]
enum RotateCmd {
    /// New pepper for key digests; keys move to it when next used. --grace defaults to
    /// 365d: a key not used by then stops verifying once the old pepper is dropped.
    Pepper(RotateArgs),
    /// New token signing key; tokens signed by the old one verify until --grace has
    /// passed. --grace defaults to the token lifetime plus 1 day (time to restart).
    TokenKey(RotateArgs),
}

#[derive(Args)]
struct RotateArgs {
    #[command(flatten)]
    db: DbArgs,
    /// How long the old secret keeps verifying: seconds, or a number with s, m, h or d.
    #[arg(long)]
    grace: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ImportArgs {
    #[command(flatten)]
    db: DbArgs,
    /// File of JSON lines, or `-` for standard input.
    file: String,
}

#[derive(Args)]
struct SeedArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Account to create the keys in.
    #[arg(long)]
    account: String,
    /// How many keys.
    #[arg(long)]
    count: usize,
    /// Output file for the keys (created 0600).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct InitArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Account id (1-128 of [A-Za-z0-9_.:-]); a random `acct_...` when omitted.
    #[arg(long)]
    account: Option<String>,
    /// Name of the owner key.
    #[arg(long, default_value = "owner")]
    name: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Clone)]
struct Conn {
    /// Server URL.
    #[arg(long, env = "KEYSEAL_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Your API key (an account-owner key for `keys`). Prefer the environment variable:
    /// command lines are visible to other local users.
    #[arg(long, env = "KEYSEAL_KEY", hide_env_values = true)]
    key: String,
    /// Account; defaults to the account of --key.
    #[arg(long, env = "KEYSEAL_ACCOUNT")]
    account: Option<String>,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum KeysCmd {
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
struct Fields {
    /// Description.
    #[arg(long)]
    description: Option<String>,
    /// The user the key acts for.
    #[arg(long)]
    owner: Option<String>,
    /// Role, e.g. account-owner or merchant-terminal.
    #[arg(long)]
    role: Option<String>,
    /// A granted scope (repeat for several).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Only GET/HEAD/OPTIONS (create).
    #[arg(long)]
    read_only: bool,
    /// An allowed client network, CIDR (repeat for several).
    #[arg(long = "allow-ip")]
    allowed_ips: Vec<String>,
    /// Expiry, unix seconds.
    #[arg(long)]
    expires_at: Option<i64>,
}

#[derive(Subcommand)]
enum TokenCmd {
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

/// A failure with its exit code and a one-line message.
struct Fail(u8, String);

type CliResult = Result<ExitCode, Fail>;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Serve(a) => serve(a),
        Cmd::Init(a) => init(a),
        Cmd::Keys(k) => keys(k),
        Cmd::Token(t) => token(t),
        Cmd::Rotate(r) => rotate(r),
        Cmd::Import(a) => import(a),
        Cmd::SeedKeys(a) => seed_keys(a),
        Cmd::Inspect { key, json } => inspect(&key, json),
    };
    match r {
        Ok(c) => c,
        Err(Fail(code, msg)) => {
            eprintln!("keyseal: {msg}");
            ExitCode::from(code)
        }
    }
}

fn fail1(msg: impl Into<String>) -> Fail {
    Fail(1, msg.into())
}

// ---------------------------------------------------------------------------------------
// serve

/// Log targets that write SQL parameters (key digests, metadata) or connection details
/// at debug and trace level: the PostgreSQL driver (`tokio_postgres` logs "executing
/// statement ... with parameters: [...]"), its blocking face and the TLS stack. They may
/// only log warnings and errors, whatever `KEYSEAL_LOG` says (rusqlite logs nothing).
const QUIET_TARGETS: &[&str] = &[
    "tokio_postgres",
    "postgres",
    "tokio_postgres_rustls",
    "rustls",
];

/// The filter applied after `KEYSEAL_LOG`'s: false for a quiet target below `warn`.
fn loud_enough(meta: &tracing::Metadata<'_>) -> bool {
    let target = meta.target();
    let quiet = QUIET_TARGETS.iter().any(|q| {
        target
            .strip_prefix(q)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    });
    !quiet || *meta.level() <= tracing::Level::WARN
}

fn init_logging(format: &str) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEYSEAL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // A global filter next to KEYSEAL_LOG's, so no directive (`trace`,
    // `tokio_postgres::query=trace`, a span filter) can let statement parameters through.
    // init() also routes the `log` records of the drivers through both filters.
    let quiet = tracing_subscriber::filter::filter_fn(loud_enough);
    if format == "json" {
        builder.json().finish().with(quiet).init();
    } else {
        builder.finish().with(quiet).init();
    }
}

fn serve(a: ServeArgs) -> CliResult {
    init_logging(&a.log_format);
    let cfg_path = a.db.config_path();
    let (settings, registry, created) = open_checked(&a.db, true)?;
    if created {
        tracing::info!(path = %cfg_path.display(), "created a config with new secrets (mode 0600); back it up");
    }
    let limits = a.limits();
    let state = Arc::new(AppState::new(Arc::new(registry), BLOCKING_SLOTS, &limits));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Registry calls block; more threads than connections in the pool only queue,
        // and each idle thread keeps its own allocator arena (RSS).
        .max_blocking_threads(32)
        .build()
        .map_err(|e| fail1(format!("cannot start the runtime: {e}")))?;
    let db_desc = config::describe_db(&a.db.db);
    let init_hint = {
        let mut s = String::from("init");
        match config::storage(&a.db.db) {
            keyseal_registry::Storage::Sqlite(p) if p != "keyseal.db" => {
                s.push_str(&format!(" --db {p}"));
            }
            keyseal_registry::Storage::Postgres(_) => s.push_str(" --db <the same postgres url>"),
            keyseal_registry::Storage::Sqlite(_) => {}
        }
        if a.db.config.is_some() {
            s.push_str(&format!(" --config {}", cfg_path.display()));
        }
        format!(
            "`keyseal {s}` (from the source tree: `cargo run --release -p keyseal-server -- {s}`)"
        )
    };
    let registry = Arc::clone(&state.registry);
    let r = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(a.addr)
            .await
            .map_err(|e| fail1(format!("cannot listen on {}: {e}", a.addr)))?;
        let local = listener
            .local_addr()
            .map_err(|e| fail1(format!("cannot read the listening address: {e}")))?;
        // The first line on stdout is the address (tests and scripts read it).
        println!("keyseal listening on http://{local}");
        println!("database: {db_desc}; secrets: {}", settings.source);
        println!(
            "first key: run {init_hint} to create an account and its owner key (printed once)"
        );
        let _ = std::io::stdout().flush();
        tracing::info!(addr = %local, db = %db_desc, "listening");
        crate::listen::serve(listener, http::router(state), limits, shutdown_signal()).await;
        Ok(())
    });
    // Flush last_used_at and stop the background threads.
    registry.close();
    tracing::info!("stopped");
    r.map(|()| ExitCode::SUCCESS)
}

/// SIGTERM or Ctrl-C: stop accepting, let in-flight requests finish.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {},
        _ = tokio::signal::ctrl_c() => {},
    }
    tracing::info!("shutdown signal: draining in-flight requests");
}

/// Loads the secrets and opens the registry, refusing secrets that do not match the
/// database: with no config (and no environment secrets) for a database that already
/// holds keys, new secrets are never generated; and the configured peppers must include
/// the one whose fingerprint the database records (recorded on the first start).
fn open_checked(db: &DbArgs, create: bool) -> Result<(Settings, Registry, bool), Fail> {
    let cfg_path = db.config_path();
    let desc = config::describe_db(&db.db);
    if create && !Settings::env_is_set() && !cfg_path.exists() {
        let holds = Registry::holds_keys(&config::storage(&db.db))
            .map_err(|e| Fail(7, format!("cannot open {desc}: {e}")))?;
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
        .map_err(|e| Fail(7, format!("cannot open {desc}: {e}")))?;
    let check = registry
        .check_pepper()
        .map_err(|e| Fail(7, format!("cannot read {desc}: {e}")))?;
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

// ---------------------------------------------------------------------------------------
// rotate

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
                2,
                format!("--grace: expected seconds or a number with s, m, h or d, found {s:?}"),
            )
        })
}

fn rotate(cmd: RotateCmd) -> CliResult {
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
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------------------
// import

/// `keyseal import`: stops at the first line that fails (the lines before it are
/// imported) and says which line; never echoes a digest.
fn import(a: ImportArgs) -> CliResult {
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
                Fail(
                    3,
                    format!(
                        "line {n}: expected an import object (id, fields, digest), invalid at column {}",
                        e.column()
                    ),
                )
            })?;
            registry.import(&imp, &Actor::System).map_err(|e| {
                Fail(
                    exit_for_code(e.code()),
                    format!("line {n}: {}: {e}", e.code()),
                )
            })?;
            done += 1;
        }
        Ok(())
    })();
    registry.close();
    eprintln!("imported {done} keys");
    r.map(|()| ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------------------
// init

fn init(a: InitArgs) -> CliResult {
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
            exit_for_code(e.code()),
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
                "access_key": created.key.access_key(),
                "secret_key": created.key.expose_secret_key(),
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
    Ok(ExitCode::SUCCESS)
}

fn seed_keys(a: SeedArgs) -> CliResult {
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
            std::thread::spawn(move || -> Result<(), Fail> {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= count {
                        return Ok(());
                    }
                    let mut new = NewKey::new(&account, &format!("load-{i}"));
                    new.scopes = vec!["load:read".to_owned()];
                    let created = registry.create(&new, &Actor::System).map_err(|e| {
                        Fail(exit_for_code(e.code()), format!("create failed: {e}"))
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
    Ok(ExitCode::SUCCESS)
}

fn exit_for_code(code: &str) -> u8 {
    match code {
        "not_found" => 5,
        "name_conflict" | "version_conflict" => 6,
        "storage_unavailable" => 7,
        "invalid_name" | "invalid_argument" | "invalid_metadata" | "invalid_limit"
        | "invalid_cursor" | "payload_too_large" => 3,
        _ => 1,
    }
}

// ---------------------------------------------------------------------------------------
// HTTP client commands

struct Client {
    agent: ureq::Agent,
    base: String,
}

impl Client {
    fn new(url: &str) -> Client {
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
    fn send(
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
        let unreachable = |e: ureq::Error| Fail(7, format!("cannot reach {}: {e}", self.base));
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
            .map_err(|e| Fail(7, format!("cannot read the answer: {e}")))?;
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, v))
    }

    /// Like `send`, but a non-2xx status is a `Fail` with the API's code and message.
    fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        if_match: Option<u64>,
        body: Option<&Value>,
    ) -> Result<Value, Fail> {
        let (status, v) = self.send(method, path, key, if_match, body)?;
        if (200..300).contains(&status) {
            return Ok(v);
        }
        let code = v["error"]["code"].as_str().unwrap_or("unknown");
        let msg = v["error"]["message"].as_str().unwrap_or("");
        let exit = match status {
            400 | 413 | 422 => 3,
            401 | 403 => 4,
            404 => 5,
            409 | 412 => 6,
            503 => 7,
            _ => 1,
        };
        Err(Fail(exit, format!("HTTP {status} {code}: {msg}")))
    }
}

fn account_of(c: &Client, conn: &Conn) -> Result<String, Fail> {
    if let Some(a) = &conn.account {
        return Ok(a.clone());
    }
    let me = c.call("GET", "/v1/whoami", Some(&conn.key), None, None)?;
    me["key"]["account"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| fail1("the server did not say which account the key belongs to"))
}

fn enc(s: &str) -> String {
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

/// Unix seconds as RFC 3339 UTC (proleptic Gregorian; Howard Hinnant's civil_from_days).
fn rfc3339(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

fn print_table(rows: &[Value]) {
    let cols = ["id", "name", "role", "status", "version", "created_at"];
    let cell = |r: &Value, c: &str| -> String {
        match (c, &r[c]) {
            ("created_at", Value::Number(n)) => n.as_i64().map_or_else(String::new, rfc3339),
            (_, Value::String(s)) => s.clone(),
            (_, Value::Null) => "-".to_owned(),
            (_, v) => v.to_string(),
        }
    };
    let mut widths: Vec<usize> = cols.iter().map(|c| c.len()).collect();
    for r in rows {
        for (i, c) in cols.iter().enumerate() {
            widths[i] = widths[i].max(cell(r, c).chars().count());
        }
    }
    let line = |vals: Vec<String>| {
        let parts: Vec<String> = vals
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(cols.iter().map(|c| c.to_uppercase()).collect());
    for r in rows {
        line(cols.iter().map(|c| cell(r, c)).collect());
    }
}

fn print_record(v: &Value, json: bool) {
    if json {
        println!("{v}");
        return;
    }
    if let Some(m) = v.as_object() {
        for (k, val) in m {
            if matches!(k.as_str(), "secret" | "secret_key" | "access_key") {
                continue;
            }
            let shown = match (k.as_str(), val) {
                (k, Value::Number(n)) if k.ends_with("_at") => {
                    n.as_i64().map_or_else(|| n.to_string(), rfc3339)
                }
                (_, Value::String(s)) => s.clone(),
                (_, Value::Null) => "-".to_owned(),
                (_, other) => other.to_string(),
            };
            println!("{k:<28} {shown}");
        }
        if let Some(s) = m.get("secret").and_then(Value::as_str) {
            println!();
            println!("key (shown once, store it now): {s}");
        }
    }
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
}

fn keys(cmd: KeysCmd) -> CliResult {
    match cmd {
        KeysCmd::Create {
            conn,
            name,
            fields,
            disabled,
        } => {
            let c = Client::new(&conn.url);
            let acct = account_of(&c, &conn)?;
            let mut body = serde_json::Map::new();
            body.insert("name".into(), json!(name));
            fields_json(&fields, &mut body, true);
            if disabled {
                body.insert("enabled".into(), json!(false));
            }
            let v = c.call(
                "POST",
                &format!("/v1/accounts/{}/keys", enc(&acct)),
                Some(&conn.key),
                None,
                Some(&Value::Object(body)),
            )?;
            print_record(&v, conn.json);
        }
        KeysCmd::List {
            conn,
            status,
            limit,
            starting_after,
            ending_before,
            offset,
        } => {
            let c = Client::new(&conn.url);
            let acct = account_of(&c, &conn)?;
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
            let v = c.call(
                "GET",
                &format!("/v1/accounts/{}/keys?{qs}", enc(&acct)),
                Some(&conn.key),
                None,
                None,
            )?;
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
            let c = Client::new(&conn.url);
            let acct = account_of(&c, &conn)?;
            let v = c.call(
                "GET",
                &format!("/v1/accounts/{}/keys/{}", enc(&acct), enc(&id)),
                Some(&conn.key),
                None,
                None,
            )?;
            print_record(&v, conn.json);
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
            let c = Client::new(&conn.url);
            let acct = account_of(&c, &conn)?;
            let path = format!("/v1/accounts/{}/keys/{}", enc(&acct), enc(&id));
            let version = match if_match {
                Some(v) => v,
                None => c.call("GET", &path, Some(&conn.key), None, None)?["version"]
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
            let v = c.call(
                "PATCH",
                &path,
                Some(&conn.key),
                Some(version),
                Some(&Value::Object(body)),
            )?;
            print_record(&v, conn.json);
        }
        KeysCmd::Disable { conn, id, if_match } => set_enabled_cmd(&conn, &id, if_match, false)?,
        KeysCmd::Enable { conn, id, if_match } => set_enabled_cmd(&conn, &id, if_match, true)?,
        KeysCmd::Roll { conn, id, grace } => {
            let c = Client::new(&conn.url);
            let acct = account_of(&c, &conn)?;
            let v = c.call(
                "POST",
                &format!("/v1/accounts/{}/keys/{}/roll", enc(&acct), enc(&id)),
                Some(&conn.key),
                None,
                Some(&json!({"grace_seconds": grace})),
            )?;
            print_record(&v, conn.json);
        }
        KeysCmd::Delete { conn, id, if_match } => {
            let c = Client::new(&conn.url);
            let acct = account_of(&c, &conn)?;
            c.call(
                "DELETE",
                &format!("/v1/accounts/{}/keys/{}", enc(&acct), enc(&id)),
                Some(&conn.key),
                if_match,
                None,
            )?;
            if conn.json {
                println!("{}", json!({"deleted": id}));
            } else {
                println!("deleted {id}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn set_enabled_cmd(
    conn: &Conn,
    id: &str,
    if_match: Option<u64>,
    enabled: bool,
) -> Result<(), Fail> {
    let c = Client::new(&conn.url);
    let acct = account_of(&c, conn)?;
    let action = if enabled { "enable" } else { "disable" };
    let v = c.call(
        "POST",
        &format!("/v1/accounts/{}/keys/{}/{action}", enc(&acct), enc(id)),
        Some(&conn.key),
        if_match,
        None,
    )?;
    print_record(&v, conn.json);
    Ok(())
}

fn token(cmd: TokenCmd) -> CliResult {
    match cmd {
        TokenCmd::Issue { url, key, json } => {
            let c = Client::new(&url);
            let (status, v) = c.send("POST", "/v1/token", Some(&key), None, None)?;
            if status != 200 {
                let exit = if status == 503 { 7 } else { 4 };
                return Err(Fail(
                    exit,
                    format!(
                        "HTTP {status} {}: {}",
                        v["error"]["code"].as_str().unwrap_or("unknown"),
                        v["error"]["message"].as_str().unwrap_or("")
                    ),
                ));
            }
            if json {
                println!("{v}");
            } else {
                println!("{}", v["token"].as_str().unwrap_or(""));
                eprintln!("expires in {} s", v["expires_in"]);
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCmd::Verify { url, token, json } => {
            let token = read_arg(token)?;
            let c = Client::new(&url);
            let v = c.call(
                "POST",
                "/v1/tokens/verify",
                None,
                None,
                Some(&json!({"token": token})),
            )?;
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
            Ok(if valid {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(8)
            })
        }
    }
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

// ---------------------------------------------------------------------------------------
// inspect

fn inspect(key: &str, json_out: bool) -> CliResult {
    let key = zeroize::Zeroizing::new(read_arg(key.to_owned())?);
    let parsed = keyseal::parse_key(&key);
    // Structure from the right: <prefix>_<id>_<secret+checksum>; the secret never prints.
    let mut parts = key.rsplitn(3, '_');
    let tail_len = parts.next().map_or(0, str::len);
    let id = parts.next().unwrap_or("");
    let prefix = parts.next().unwrap_or("");
    let (valid, code) = match &parsed {
        Ok(_) => (true, "ok"),
        Err(e) => (false, e.code()),
    };
    // The last 6 characters are the CRC32 of the rest (checked even when another part
    // of the key is malformed).
    let bytes = key.as_bytes();
    let checksum_valid = bytes.len() > keyseal::key::CHECKSUM_LEN && {
        let (body, sum) = bytes.split_at(bytes.len() - keyseal::key::CHECKSUM_LEN);
        keyseal::key::checksum(body) == sum
    };
    let (prefix, id) = match &parsed {
        Ok(k) => (k.prefix().to_owned(), k.id().to_owned()),
        Err(_) => (prefix.to_owned(), id.to_owned()),
    };
    let safe = |s: &str| -> Option<String> {
        (!s.is_empty()
            && s.len() <= 64
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .then(|| s.to_owned())
    };
    let out = json!({
        "valid": valid,
        "code": code,
        "prefix": safe(&prefix),
        "id": safe(&id),
        "checksum_valid": checksum_valid,
        "secret_length": tail_len.saturating_sub(6),
    });
    if json_out {
        println!("{out}");
    } else {
        println!("prefix:          {}", out["prefix"].as_str().unwrap_or("-"));
        println!("id:              {}", out["id"].as_str().unwrap_or("-"));
        println!("checksum valid:  {checksum_valid}");
        println!("result:          {code}");
    }
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_392_000), "2026-11-23T00:00:00Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(enc("acct_1.a-b~c"), "acct_1.a-b~c");
        assert_eq!(enc("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
