//! The HTTP listener: accepts connections up to a cap, serves each with HTTP/1.1 under
//! time limits, and drains on shutdown.
//!
//! `axum::serve` has no knobs for any of this: a client that sends half a request head,
//! or opens connections and sends nothing, would keep a connection (and a task) for as
//! long as it liked, and SIGTERM would wait for such idle connections forever. Here:
//! - a request head must arrive completely within [`Limits::header_timeout`], counted from
//!   when the server starts waiting for it, so a keep-alive connection that sends nothing
//!   is closed after the same time (hyper's `header_read_timeout`);
//! - at most [`Limits::max_connections`] connections are open at once; past that the
//!   listener stops accepting and new clients wait in the kernel's backlog;
//! - request heads are at most [`MAX_HEAD_BYTES`] (431 above);
//! - on shutdown the listener closes, idle connections close at once, requests in flight
//!   get [`Limits::drain_timeout`] to finish, then what is left is dropped.
//!
//! Body timeouts are enforced where bodies are read (`http::body::RawBody`).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tower_service::Service;

/// Largest request head (request line and headers): 32 KiB. hyper's own limit is about
/// 400 KB; no keyseal request needs more than a few hundred bytes.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// Connection limits of `keyseal serve` (each is a `serve` flag; see `keyseal serve
/// --help`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Time to receive a request's complete head, from when the server starts waiting
    /// for it: on a new connection, or after the previous response on a keep-alive
    /// connection (so it is also how long an idle connection stays open). Defaults to
    /// 10 seconds.
    pub header_timeout: Duration,
    /// Time to receive a request's body once its head arrived. Defaults to 10 seconds.
    pub body_timeout: Duration,
    /// Connections open at once, at most. Defaults to 1024.
    pub max_connections: usize,
    /// On shutdown, how long requests in flight may take to finish. Defaults to 30
    /// seconds.
    pub drain_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_connections: 1024,
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // Finished connections are reaped as we go, so the set holds live ones only.
        while connections.try_join_next().is_some() {}
        let slot = tokio::select! {
            s = Arc::clone(&slots).acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let closing = closing_rx.clone();
        connections.spawn(async move {
            connection(stream, peer, app, limits, closing).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let drained = tokio::time::timeout(limits.drain_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = connections.len(),
            "drain timeout: closing the connections still open"
        );
        connections.abort_all();
    }
}

async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    mut closing: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let mut app = app.clone();
        async move { Ok::<_, Infallible>(app.call(req).await.unwrap_or_else(|e| match e {})) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD_BYTES.max(8192));
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let closed = async move {
        // Dropping the guard `wait_for` returns keeps this future `Send`.
        let _ = closing.wait_for(|c| *c).await.map(drop);
    };
    tokio::select! {
        _ = conn.as_mut() => {}
        () = closed => {
            // Idle: closes now. A request in flight: finishes, then the connection closes.
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
