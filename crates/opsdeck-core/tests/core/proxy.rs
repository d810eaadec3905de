//! A TCP proxy between the code under test and a real server (MariaDB, Redis), for injecting
//! network faults for real: latency on what the client sends (each chunk is passed on a random
//! time in a range after it arrived, in order: a slow link, not a narrow one), or the server
//! made unreachable (every open connection cut, new ones closed at once) until it is restored.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

struct State {
    target: SocketAddr,
    /// Latency range in µs for client → server chunks.
    latency: std::sync::Mutex<(u64, u64)>,
    down: AtomicBool,
    /// A byte pattern and a delay: a client → server chunk containing the pattern waits that
    /// long (instead of the latency range) before it is passed on.
    matching: std::sync::Mutex<Option<(Vec<u8>, Duration)>>,
    /// Byte patterns: the next client → server chunk containing all of them is passed on, then
    /// its connection is cut before the answer comes back (a reply lost on the way). Once.
    cut_after: std::sync::Mutex<Option<Vec<Vec<u8>>>>,
    /// The chunk that `cut_after` matched.
    cut_chunk: std::sync::Mutex<Option<Vec<u8>>>,
    /// Bumped on every cut: open connections watch it and close.
    cuts: watch::Sender<u64>,
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    state: Arc<State>,
    accept: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `target`.
    pub async fn start(target: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            target,
            latency: std::sync::Mutex::new((0, 0)),
            down: AtomicBool::new(false),
            matching: std::sync::Mutex::new(None),
            cut_after: std::sync::Mutex::new(None),
            cut_chunk: std::sync::Mutex::new(None),
            cuts: watch::channel(0).0,
        });
        let accepting = state.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if accepting.down.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                tokio::spawn(forward(client, accepting.clone()));
            }
        });
        FaultProxy { addr, state, accept }
    }

    /// `url` with its host and port replaced by the proxy's.
    pub fn url_through(&self, url: &str) -> String {
        let mut parsed = url::Url::parse(url).expect("a URL");
        parsed.set_ip_host(self.addr.ip()).unwrap();
        parsed.set_port(Some(self.addr.port())).unwrap();
        parsed.to_string()
    }

    /// Every chunk the client sends waits between `min` and `max` before it is passed on.
    pub fn set_latency(&self, min: Duration, max: Duration) {
        *self.state.latency.lock().unwrap() = (min.as_micros() as u64, max.as_micros() as u64);
    }

    /// Every chunk the client sends that contains `pattern` (a key bound in a statement, say)
    /// waits `delay` before it is passed on; the chunks after it on that connection wait behind
    /// it. Other connections and chunks are not slowed.
    pub fn delay_matching(&self, pattern: &[u8], delay: Duration) {
        *self.state.matching.lock().unwrap() = Some((pattern.to_vec(), delay));
    }

    /// No more delays for matching chunks.
    pub fn clear_matching(&self) {
        *self.state.matching.lock().unwrap() = None;
    }

    /// The next chunk the client sends that contains every one of `patterns` reaches the
    /// server, and its connection is cut at once: the server acts on it, the client never hears
    /// the answer.
    pub fn cut_after_matching(&self, patterns: &[&[u8]]) {
        *self.state.cut_after.lock().unwrap() = Some(patterns.iter().map(|p| p.to_vec()).collect());
    }

    /// The chunk [`FaultProxy::cut_after_matching`] cut after, once it happened.
    pub fn cut_chunk(&self) -> Option<Vec<u8>> {
        self.state.cut_chunk.lock().unwrap().clone()
    }

    /// The server becomes unreachable: open connections are cut, new ones closed at once.
    pub fn cut(&self) {
        self.state.down.store(true, Ordering::SeqCst);
        self.state.cuts.send_modify(|n| *n += 1);
    }

    /// The server is reachable again.
    pub fn restore(&self) {
        self.state.down.store(false, Ordering::SeqCst);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// The address of a `mysql://` or `redis://` URL's server.
pub fn server_of(url: &str) -> SocketAddr {
    let parsed = url::Url::parse(url).expect("a URL");
    let host = parsed.host_str().expect("a host");
    let port = parsed.port_or_known_default().or(match parsed.scheme() {
        "mysql" | "mariadb" => Some(3306),
        "redis" => Some(6379),
        _ => None,
    });
    format!("{host}:{}", port.expect("a port")).parse().expect("an IP address and port")
}

async fn forward(client: TcpStream, state: Arc<State>) {
    let Ok(server) = TcpStream::connect(state.target).await else { return };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let mut cut = state.cuts.subscribe();
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    // What the client sends is read at once and stamped with when it may go on: its arrival
    // plus its delay, and never before the chunk ahead of it (a link's latency, in order; not a
    // throughput of one chunk per delay, which would stall a busy connection without bound).
    let (chunks, mut pending) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let reader = {
        let state = state.clone();
        async move {
            let mut buf = vec![0u8; 64 * 1024];
            let mut last = tokio::time::Instant::now();
            loop {
                let n = match client_read.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let matched = state
                    .matching
                    .lock()
                    .unwrap()
                    .as_ref()
                    .filter(|(pattern, _)| buf[..n].windows(pattern.len()).any(|w| w == pattern.as_slice()))
                    .map(|(_, delay)| *delay);
                let (min, max) = *state.latency.lock().unwrap();
                let delay = match matched {
                    Some(delay) => delay,
                    None if max > 0 => Duration::from_micros(fastrand::u64(min..=max)),
                    None => Duration::ZERO,
                };
                last = last.max(tokio::time::Instant::now() + delay);
                if chunks.send((last, buf[..n].to_vec())).is_err() {
                    return;
                }
            }
        }
    };
    let upstream = async {
        while let Some((release, chunk)) = pending.recv().await {
            // The injected latency (the fault itself), not a wait.
            tokio::time::sleep_until(release).await;
            let cut_here = {
                let mut cut_after = state.cut_after.lock().unwrap();
                let hit = cut_after
                    .as_ref()
                    .is_some_and(|patterns| patterns.iter().all(|p| chunk.windows(p.len()).any(|w| w == p.as_slice())));
                if hit {
                    *cut_after = None;
                    *state.cut_chunk.lock().unwrap() = Some(chunk.clone());
                }
                hit
            };
            if server_write.write_all(&chunk).await.is_err() || cut_here {
                return;
            }
        }
    };
    let downstream = tokio::io::copy(&mut server_read, &mut client_write);
    // Forwarding ends when the upstream does: after the last chunk once the client stopped
    // sending (the reader ends and drops its sender), or at once after a cut.
    let forwarding = async {
        tokio::pin!(reader, upstream);
        let mut reading = true;
        loop {
            tokio::select! {
                () = &mut upstream => return,
                () = &mut reader, if reading => reading = false,
            }
        }
    };
    tokio::select! {
        () = forwarding => {}
        _ = downstream => {}
        _ = cut.changed() => {}
    }
}
