//! One console session of the `console` bench: a single HTTP/1.1 connection to
//! `GET /api/v1/events`, read as server-sent events, every message logged with the time it
//! arrived.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Notify, mpsc};

/// The events' kinds (`Event`'s `kind` on the wire), to break the latencies down by kind.
pub const KINDS: &[&str] = &[
    "health",
    "jobs_changed",
    "run_started",
    "run_finished",
    "ocr_updated",
    "orders_changed",
    "accounts_changed",
    "ocr_stats",
    "overview",
    "other",
];

/// One event as a client received it.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    /// The number in its id (`<boot>-<seq>`): the bus numbers every published event, 1, 2, 3…
    pub seq: u64,
    /// When the core published it (Unix µs, from the envelope).
    pub at_us: i64,
    /// When the chunk that completed its message arrived here (Unix µs, same clock).
    pub recv_us: i64,
    /// Index in [`KINDS`].
    pub kind: u8,
}

/// What one client saw.
#[derive(Debug, Default)]
pub struct ClientLog {
    /// Every event published before the window's end, in the order received.
    pub deliveries: Vec<Delivery>,
    /// `resync` events received (the server telling this client it skipped events).
    pub resyncs: u64,
    /// It received an event published after the window's end, so (delivery being in order)
    /// everything published before it that it was going to get.
    pub reached_end: bool,
    /// Why the stream ended early (connect failure, a non-200 answer, the server closing it).
    pub error: Option<String>,
}

/// The shared signals: the clients say when they are subscribed; the window's end is set once.
pub struct Run {
    pub http: reqwest::Client,
    pub url: String,
    pub token: String,
    /// 0 until the window ends; then its end (Unix µs).
    pub window_end_us: AtomicI64,
    pub ended: Notify,
    /// After the window's end, how long a client may take to see an event published after it.
    pub drain: Duration,
}

pub fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Subscribes (a 200 answer's head means the core holds the subscription: every event published
/// from then on is this client's), tells `subscribed`, then reads until it has an event
/// published after the window's end, the drain time is over, or the stream fails.
pub async fn client(run: Arc<Run>, subscribed: mpsc::Sender<Result<(), String>>) -> ClientLog {
    let mut log = ClientLog::default();
    let mut response = match connect(&run).await {
        Ok(response) => {
            let _ = subscribed.send(Ok(())).await;
            response
        }
        Err(e) => {
            let _ = subscribed.send(Err(e.clone())).await;
            log.error = Some(e);
            return log;
        }
    };
    drop(subscribed);
    let mut parser = Parser::default();
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let end_us = run.window_end_us.load(Ordering::Acquire);
        if end_us != 0 && deadline.is_none() {
            deadline = Some(tokio::time::Instant::now() + run.drain);
        }
        let chunk = tokio::select! {
            chunk = response.chunk() => chunk,
            () = run.ended.notified(), if deadline.is_none() => continue,
            () = sleep_until(deadline) => {
                log.error = Some("no event published after the window's end arrived within the drain time".into());
                return log;
            }
        };
        let chunk = match chunk {
            Ok(Some(chunk)) => chunk,
            Ok(None) => {
                log.error = Some("the server ended the stream".into());
                return log;
            }
            Err(e) => {
                log.error = Some(format!("reading the stream: {e}"));
                return log;
            }
        };
        let recv_us = now_us();
        for message in parser.feed(&chunk) {
            match delivery(&message, recv_us) {
                Ok(Some(d)) => {
                    let end_us = run.window_end_us.load(Ordering::Acquire);
                    if end_us != 0 && d.at_us >= end_us {
                        log.reached_end = true;
                        return log;
                    }
                    log.deliveries.push(d);
                }
                Ok(None) => log.resyncs += 1,
                Err(e) => {
                    log.error = Some(e);
                    return log;
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The sessions' HTTP client: HTTP/1.1 only, and no connection kept once its request ends.
/// Each streaming request holds a connection of its own (HTTP/1.1 runs one request at a time on
/// a connection), so every session has exactly one, as a desktop console does. One client for
/// all: building one loads the system's root certificates (native-tls), tens of ms of CPU that
/// 200 builds at once would spend while the first sessions wait to send their request.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(0)
        .connect_timeout(Duration::from_secs(5))
        .build()?)
}

/// The subscription's request; its answer once the head says 200.
async fn connect(run: &Run) -> Result<reqwest::Response, String> {
    let started = std::time::Instant::now();
    let request = run.http.get(&run.url).bearer_auth(&run.token).header("accept", "text/event-stream").send();
    let response = tokio::time::timeout(Duration::from_secs(30), request)
        .await
        .map_err(|_| "no answer to the subscription within 30 s".to_string())?
        .map_err(|e| format!("subscribing (after {:?}): {:#}", started.elapsed(), anyhow::Error::from(e)))?;
    if response.status() != reqwest::StatusCode::OK {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        return Err(format!("subscribing: {status}: {body}"));
    }
    Ok(response)
}

/// One message's delivery; None for a `resync`; an error for a message that is not an event
/// envelope (the bench stops trusting that client's stream).
fn delivery(message: &Message, recv_us: i64) -> Result<Option<Delivery>, String> {
    let envelope: Value =
        serde_json::from_slice(&message.data).map_err(|e| format!("a message's data is not JSON: {e}"))?;
    let id = envelope["id"].as_str().ok_or("a message without an envelope id")?;
    if message.id.as_deref() != Some(id) {
        return Err(format!("the message's id {:?} is not its envelope's {id:?}", message.id));
    }
    let seq = id.rsplit_once('-').and_then(|(_, seq)| seq.parse().ok()).ok_or(format!("an unnumbered id {id:?}"))?;
    let at_us = envelope["at_us"].as_i64().ok_or("an envelope without at_us")?;
    let kind = envelope["event"]["kind"].as_str().unwrap_or("other");
    if kind == "resync" {
        return Ok(None);
    }
    let kind = KINDS.iter().position(|k| *k == kind).unwrap_or(KINDS.len() - 1) as u8;
    Ok(Some(Delivery { seq, at_us, recv_us, kind }))
}

/// A complete server-sent message: its `id` and its `data` lines joined.
#[derive(Debug, Default, PartialEq)]
pub struct Message {
    pub id: Option<String>,
    pub data: Vec<u8>,
}

/// The `text/event-stream` format, fed in chunks that split lines anywhere: fields up to a blank
/// line make a message; comment lines (`:`, the heartbeat) and other fields are skipped.
#[derive(Debug, Default)]
pub struct Parser {
    line: Vec<u8>,
    message: Message,
    has_data: bool,
}

impl Parser {
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Message> {
        let mut done = Vec::new();
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            self.line.extend_from_slice(&rest[..end]);
            rest = &rest[end + 1..];
            let line = std::mem::take(&mut self.line);
            self.field(line.strip_suffix(b"\r").unwrap_or(&line), &mut done);
        }
        self.line.extend_from_slice(rest);
        done
    }

    fn field(&mut self, line: &[u8], done: &mut Vec<Message>) {
        if line.is_empty() {
            if std::mem::take(&mut self.has_data) {
                done.push(std::mem::take(&mut self.message));
            }
            self.message = Message::default();
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (name, value) = match line.iter().position(|b| *b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match name {
            b"id" => self.message.id = Some(String::from_utf8_lossy(value).into_owned()),
            b"data" => {
                if self.has_data {
                    self.message.data.push(b'\n');
                }
                self.message.data.extend_from_slice(value);
                self.has_data = true;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_split_across_chunks_are_joined_and_heartbeats_skipped() {
        let mut parser = Parser::default();
        assert!(parser.feed(b": heartbeat\n\nid: b-1\nda").is_empty());
        let got = parser.feed(b"ta: {\"a\":1}\r\n\nid: b-2\ndata: x\ndata: y\n\n");
        assert_eq!(
            got,
            vec![
                Message { id: Some("b-1".into()), data: b"{\"a\":1}".to_vec() },
                Message { id: Some("b-2".into()), data: b"x\ny".to_vec() },
            ]
        );
    }

    #[test]
    fn an_envelope_becomes_a_delivery_and_a_resync_is_counted_apart() {
        let message = |id: &str, kind: &str| Message {
            id: Some(id.into()),
            data: format!(r#"{{"id":"{id}","at_us":1000,"event":{{"kind":"{kind}"}}}}"#).into_bytes(),
        };
        let d = delivery(&message("ab-42", "orders_changed"), 3500).unwrap().unwrap();
        assert_eq!((d.seq, d.at_us, d.recv_us, KINDS[d.kind as usize]), (42, 1000, 3500, "orders_changed"));
        assert!(delivery(&message("ab-42", "resync"), 3500).unwrap().is_none());
        let mut wrong = message("ab-42", "health");
        wrong.id = Some("ab-41".into());
        assert!(delivery(&wrong, 0).is_err());
    }
}
