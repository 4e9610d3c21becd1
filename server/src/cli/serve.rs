//! `keyseal serve`: the HTTP API on a registry opened with checked secrets.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::db::{DbArgs, open_checked};
use super::exit::Exit;
use super::{CliResult, fail1};
use crate::config;
use crate::http::{self, AppState};

/// Registry calls on the blocking pool at once (see `AppState::blocking_slots`).
const BLOCKING_SLOTS: usize = 16;

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "KEYSEAL_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Log format.
    #[arg(long, env = "KEYSEAL_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Seconds a client has to send a request's head, counted from when the server waits
    /// for it (so also how long an idle keep-alive connection stays open).
    #[arg(long, env = "KEYSEAL_HEADER_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
    /// Seconds a client has to send a request's body once its head arrived.
    #[arg(long, env = "KEYSEAL_BODY_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout: u64,
    /// Connections open at once, at most; more wait in the listen backlog.
    #[arg(long, env = "KEYSEAL_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
    /// Seconds requests in flight may take to finish after SIGTERM.
    #[arg(long, env = "KEYSEAL_DRAIN_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub drain_timeout: u64,
    /// Mark the console's session cookie `Secure`: set it when browsers reach the console
    /// over HTTPS (e.g. through a TLS-terminating proxy).
    #[arg(long, env = "KEYSEAL_CONSOLE_SECURE_COOKIES")]
    pub console_secure_cookies: bool,
    /// Seconds a console session lasts after sign-in.
    #[arg(long, env = "KEYSEAL_CONSOLE_SESSION_TTL", default_value_t = 8 * 3600, value_parser = clap::value_parser!(u64).range(1..=30 * 86_400))]
    pub console_session_ttl: u64,
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

pub fn serve(a: ServeArgs) -> CliResult {
    init_logging(&a.log_format);
    let cfg_path = a.db.config_path();
    let (settings, registry, created) = open_checked(&a.db, true)?;
    if created {
        tracing::info!(path = %cfg_path.display(), "created a config with new secrets (mode 0600); back it up");
    }
    let limits = a.limits();
    let mut state = AppState::new(Arc::new(registry), BLOCKING_SLOTS, &limits);
    state.console = crate::console::Console::new(
        a.console_secure_cookies,
        Duration::from_secs(a.console_session_ttl),
    );
    let state = Arc::new(state);
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
        println!(
            "console: open http://{local}/console/ and sign in with an account-owner key (the owner key `init` prints)"
        );
        let _ = std::io::stdout().flush();
        tracing::info!(addr = %local, db = %db_desc, "listening");
        crate::listen::serve(listener, http::router(state), limits, shutdown_signal()).await;
        Ok(())
    });
    // Flush last_used_at and stop the background threads.
    registry.close();
    tracing::info!("stopped");
    r.map(|()| Exit::Success)
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
