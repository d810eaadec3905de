//! The connection loop: HTTP/1 by hyper with a header-read timeout (a client that sends half a
//! request head is dropped), at most [`Limits::max_connections`] connections at once (the next
//! waits in the listen backlog), the peer's address handed to the routes (per-IP limits), and a
//! graceful shutdown (no new connections; requests in progress finish). `axum::serve` offers no
//! header-read timeout or connection cap, hence this loop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::Semaphore;

/// The transport's limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// How long a client may take to send a request's head (line and headers), from the
    /// connection's start or the end of the previous request.
    pub header_read_timeout: Duration,
    /// How long a request body may take to arrive, once its handler reads it.
    pub body_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Requests per second each peer address may make to the open routes (`/healthz`,
    /// `/openapi.yaml`, Alipay's notify), on average…
    pub open_per_second: u32,
    /// …with bursts of this many.
    pub open_burst: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 1024,
            open_per_second: 20,
            open_burst: 100,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting and lets the
/// connections in progress finish their requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: &Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Per-connection failures (reset before accept) and resource exhaustion
                    // (EMFILE): keep serving; a short pause lets descriptors free up.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            let mut router = router.clone();
            async move { tower_service::Service::call(&mut router, request).await }
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
