//! The connection loop: HTTP/1 by hyper with a header-read timeout (a client that sends half a
//! request head is dropped), at most [`Limits::max_connections`] connections at once (the next
//! waits in the listen backlog) and a quarter of them per peer (an IPv4 address, an IPv6 /64),
//! every request answered or dropped within twice the body timeout (a body trickled a byte at a
//! time holds nothing for long), every connection closed gracefully after
//! [`CONNECTION_LIFETIME`] (and dropped if it cannot finish within the body timeout: a client
//! that never reads its answers), the peer's address handed to the routes (per-IP limits), and
//! a graceful shutdown (no new connections; requests in progress finish). `axum::serve` offers
//! none of these limits, hence this loop. With TLS ([`Tls`]) every connection first completes
//! its handshake within the header-read timeout (a client that stalls it is dropped), holding its
//! connection slot meanwhile, so the same limits bound half-open handshakes.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use opsdeck_api::ErrorCode;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Semaphore, watch};

use super::error::HttpError;
use super::tls::Tls;

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
    /// `/openapi.json`, `/openapi.yaml`, Alipay's notify), on average…
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

/// How long one connection is served before it is asked to close (after the request in
/// progress); keep-alive clients reconnect.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(600);

/// The part of [`Limits::max_connections`] one peer may hold at once.
const PER_PEER_SHARE: usize = 4;

/// Serves `router` on `listener` (HTTPS with `tls`) until `shutdown` completes, then stops
/// accepting and lets the connections in progress finish their requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: &Limits,
    tls: Option<Tls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max));
    let per_peer = Arc::new(PeerCount::new((max / PER_PEER_SHARE).max(1)));
    let (close_all, closing) = watch::channel(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let deadline = limits.body_timeout * 2;
    let grace = limits.body_timeout;
    let handshake_timeout = limits.header_read_timeout;
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
                    // (EMFILE): keep serving; a short pause lets descriptors free up (the
                    // pause is the remedy, not a wait for an event).
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(held) = per_peer.take(peer.ip()) else {
            tracing::debug!(%peer, "too many connections from this peer: closed");
            drop(stream);
            continue;
        };
        let router = router.clone();
        let (ending, ended) = watch::channel(false);
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            request.extensions_mut().insert(Closing(ended.clone()));
            let mut router = router.clone();
            async move {
                let answer = tower_service::Service::call(&mut router, request);
                match tokio::time::timeout(deadline, answer).await {
                    Ok(answered) => answered,
                    Err(_) => Ok(HttpError::new(
                        ErrorCode::RequestTimeout,
                        format!("the request was not received and answered within {} s", deadline.as_secs()),
                    )
                    .into_response()),
                }
            }
        });
        let mut closing = closing.clone();
        let http = http.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => drive(&http, stream, service, closing, ending, grace, peer).await,
                Some(tls) => {
                    // The handshake is bounded like a request head, and abandoned at shutdown.
                    let handshake = tokio::select! {
                        done = tokio::time::timeout(handshake_timeout, tls.acceptor().accept(stream)) => Some(done),
                        _ = closing.wait_for(|closing| *closing) => None,
                    };
                    match handshake {
                        Some(Ok(Ok(stream))) => drive(&http, stream, service, closing, ending, grace, peer).await,
                        Some(Ok(Err(e))) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Some(Err(_)) => tracing::debug!(%peer, "TLS handshake not completed in time: closed"),
                        None => {}
                    }
                }
            }
            drop(held);
            drop(slot);
        });
    }
    drop(listener);
    let _ = close_all.send(true);
    // Every connection gives its slot back when it ends.
    let _all = slots.acquire_many(u32::try_from(max).unwrap_or(u32::MAX)).await;
    Ok(())
}

/// Serves one connection (plain TCP or TLS) until it ends, [`CONNECTION_LIFETIME`] passes or the
/// server closes; then tells its streams ([`Closing`]) and lets the request in progress finish
/// within `grace`.
async fn drive<I, S>(
    http: &hyper::server::conn::http1::Builder,
    io: I,
    service: S,
    mut closing: watch::Receiver<bool>,
    ending: watch::Sender<bool>,
    grace: Duration,
    peer: SocketAddr,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut connection = std::pin::pin!(http.serve_connection(TokioIo::new(io), service));
    let ended = tokio::select! {
        ended = connection.as_mut() => Some(ended),
        () = tokio::time::sleep(CONNECTION_LIFETIME) => None,
        _ = closing.wait_for(|closing| *closing) => None,
    };
    let ended = match ended {
        Some(ended) => ended,
        None => {
            // Finish the request in progress, then close; a connection that cannot (its client
            // does not read) is dropped after the grace.
            let _ = ending.send(true);
            connection.as_mut().graceful_shutdown();
            tokio::time::timeout(grace, connection.as_mut()).await.unwrap_or(Ok(()))
        }
    };
    if let Err(e) = ended {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// In every request's extensions: resolves when the connection is closing (its lifetime is over,
/// or the server stops). An answer that streams until then (server-sent events) ends there, so
/// the close is clean (the client resumes) instead of a drop after the grace.
#[derive(Clone)]
pub(super) struct Closing(watch::Receiver<bool>);

impl Closing {
    pub(super) async fn wait(mut self) {
        // The sender lives as long as the connection: its end is a close too.
        let _ = self.0.wait_for(|closing| *closing).await;
    }
}

/// Connections held per peer: an IPv4 address, or an IPv6 /64 (one host's usual allotment).
struct PeerCount {
    max: usize,
    held: Mutex<HashMap<IpAddr, usize>>,
}

impl PeerCount {
    fn new(max: usize) -> PeerCount {
        PeerCount { max, held: Mutex::new(HashMap::new()) }
    }

    /// One more connection of `ip`'s peer, unless it holds its share already.
    fn take(self: &Arc<Self>, ip: IpAddr) -> Option<PeerHeld> {
        let key = peer_key(ip);
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let count = held.entry(key).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(PeerHeld { count: self.clone(), key })
    }
}

/// A connection counted for its peer until dropped.
struct PeerHeld {
    count: Arc<PeerCount>,
    key: IpAddr,
}

impl Drop for PeerHeld {
    fn drop(&mut self) {
        let mut held = self.count.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = held.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.key);
            }
        }
    }
}

/// The key a peer is counted and limited under: IPv4 (also IPv4-mapped IPv6) as it is, IPv6 by
/// its /64 (one host can use any address of its /64).
pub(super) fn peer_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_are_keyed_by_ipv4_address_and_ipv6_slash_64() {
        let v6 = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(peer_key(v6("2001:db8:1:2:aaaa::1")), peer_key(v6("2001:db8:1:2:bbbb::9")));
        assert_ne!(peer_key(v6("2001:db8:1:2::1")), peer_key(v6("2001:db8:1:3::1")));
        assert_eq!(peer_key(v6("::ffff:10.0.0.7")), v6("10.0.0.7"));
        assert_ne!(peer_key(v6("10.0.0.7")), peer_key(v6("10.0.0.8")));
    }

    #[test]
    fn a_peer_holds_its_share_of_connections_and_gets_them_back() {
        let count = Arc::new(PeerCount::new(2));
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        let same_host: IpAddr = "2001:db8::2".parse().unwrap();
        let (a, b) = (count.take(ip).unwrap(), count.take(same_host).unwrap());
        assert!(count.take(ip).is_none(), "a third connection of the same /64");
        assert!(count.take("192.0.2.1".parse().unwrap()).is_some(), "another peer is not held back");
        drop(a);
        assert!(count.take(ip).is_some(), "a slot given back is usable again");
        drop(b);
    }
}
