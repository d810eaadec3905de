//! The live events: `GET /api/v1/events`, server-sent events (each message `id:` and `data:` one
//! `EventEnvelope` as JSON; comment lines are the server's heartbeats, at least every 15 s),
//! parsed by `eventsource-stream` from the response's bytes.
//!
//! The stream reconnects by itself: when the connection breaks, goes silent for [`SILENCE_MAX`]
//! (not even a heartbeat) or the server ends it, it connects again (at once after a stream that
//! delivered something, else after the backoff of `link.rs`, cut short when a call finds the
//! server again), naming the last id it yielded in `Last-Event-ID`; the server then replays what
//! was missed, or sends a `resync` (passed on like any event). While it is down the link is
//! `Reconnecting`; connected again, `Connected`. It ends only when the server refuses the session
//! (401/403: it was revoked or expired, or its role removed) or another answer that retrying
//! cannot change.

use std::sync::Arc;
use std::time::Duration;

use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::stream::{self, BoxStream};
use futures_util::{Stream, StreamExt};
use opsdeck_api::{ErrorBody, ErrorCode, EventEnvelope, EventStream, LinkState, OpResult, Operation, SessionToken};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE};
use tokio::sync::watch;

use crate::Inner;
use crate::call::{REQUEST_TIMEOUT, cause_chain};

/// The longest silence of a live connection before it counts as dead: three heartbeats missed.
pub(crate) const SILENCE_MAX: Duration = Duration::from_secs(45);

/// The SSE standard's header for resuming.
const LAST_EVENT_ID: &str = "Last-Event-ID";

/// Opens the live events for `session`, after `last_event_id` when given. The server's refusal
/// of the first connection (401, 403, …) is the answer; a server unreachable on the first
/// connection is not: the stream keeps trying (the link says so).
pub(crate) async fn open(
    inner: Arc<Inner>,
    session: SessionToken,
    last_event_id: Option<String>,
) -> OpResult<EventStream> {
    let link = inner.link.subscribe();
    let mut feed = Feed { inner, session, last_id: last_event_id, source: None, wait: None, delivered: false, link };
    match connect(&feed.inner, &feed.session, feed.last_id.as_deref()).await {
        Connect::Open(source) => feed.source = Some(source),
        Connect::Unreachable(reason) => feed.wait = Some(feed.inner.link.down(reason)),
        // The server answered, but not with the stream: its answer is the caller's.
        Connect::Answered { answer, .. } => return Err(answer),
    }
    Ok(Box::pin(stream::unfold(feed, |mut feed| async move { feed.next().await.map(|e| (e, feed)) })))
}

/// One subscriber's events across connections.
struct Feed {
    inner: Arc<Inner>,
    session: SessionToken,
    /// The last id yielded (or the one the stream was opened after).
    last_id: Option<String>,
    /// The open connection's messages.
    source: Option<Source>,
    /// The wait before the next connection, after a failure.
    wait: Option<Duration>,
    /// Whether the open connection delivered an event (a stream that ends having delivered
    /// nothing is a failure, so a server that closes at once is not asked again at once).
    delivered: bool,
    link: watch::Receiver<LinkState>,
}

/// What a connection attempt came to.
enum Connect {
    Open(Source),
    /// No answer (refused, timed out, TLS failed, a gateway's 502–504): why, in plain words.
    Unreachable(String),
    /// The server's answer instead of the stream; `retry`: one that may change (5xx, 408, 429).
    Answered {
        answer: ErrorBody,
        retry: bool,
    },
}

/// An open connection's messages.
type Source = BoxStream<'static, Result<eventsource_stream::Event, EventStreamError<Broken>>>;

impl Feed {
    async fn next(&mut self) -> Option<EventEnvelope> {
        loop {
            if self.source.is_none() {
                if let Some(wait) = self.wait.take() {
                    self.pause(wait).await;
                }
                match connect(&self.inner, &self.session, self.last_id.as_deref()).await {
                    Connect::Open(source) => {
                        self.source = Some(source);
                        self.delivered = false;
                    }
                    Connect::Unreachable(reason) => {
                        self.wait = Some(self.inner.link.down(reason));
                        continue;
                    }
                    Connect::Answered { answer, retry: true } => {
                        let reason = format!("the server refused the live events for now: {}", answer.message);
                        self.wait = Some(self.inner.link.down(reason));
                        continue;
                    }
                    Connect::Answered { answer, retry: false } => {
                        tracing::info!(code = %answer.code, "the server ended the live events: {}", answer.message);
                        return None;
                    }
                }
            }
            let source = self.source.as_mut().expect("connected above");
            match source.next().await {
                Some(Ok(message)) => match serde_json::from_str::<EventEnvelope>(&message.data) {
                    Ok(envelope) => {
                        self.delivered = true;
                        self.last_id = Some(envelope.id.clone());
                        return Some(envelope);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, id = %message.id, "an event this console cannot read; skipped")
                    }
                },
                Some(Err(e)) => {
                    self.source = None;
                    self.wait = Some(self.inner.link.down(format!("the live events broke: {}", describe(&e))));
                }
                None => {
                    self.source = None;
                    if !self.delivered {
                        self.wait = Some(self.inner.link.down("the server ended the live events at once".into()));
                    }
                }
            }
        }
    }

    /// Waits `wait`, or less if a call finds the server meanwhile (the link comes up).
    async fn pause(&mut self, wait: Duration) {
        self.link.borrow_and_update();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = self.link.wait_for(|state| *state == LinkState::Connected) => {}
        }
    }
}

/// One connection: `GET /api/v1/events` with the session and the last id.
async fn connect(inner: &Inner, session: &SessionToken, last_id: Option<&str>) -> Connect {
    let (_, route) = Operation::Events.http();
    let mut request = inner
        .stream_http
        .get(inner.route_url(route, None))
        .header(ACCEPT, "text/event-stream")
        .header(CACHE_CONTROL, "no-cache");
    if !session.is_empty() {
        request = request.bearer_auth(session.expose());
    }
    if let Some(id) = last_id {
        request = request.header(LAST_EVENT_ID, id);
    }
    let response = match tokio::time::timeout(REQUEST_TIMEOUT, request.send()).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => {
            return Connect::Unreachable(format!("cannot reach the server: {}", cause_chain(&e.without_url())));
        }
        Err(_) => {
            return Connect::Unreachable(format!(
                "the live events got no answer within {} s",
                REQUEST_TIMEOUT.as_secs()
            ));
        }
    };
    let status = response.status();
    let is_stream = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if status == StatusCode::OK && is_stream {
        inner.link.up();
        return Connect::Open(silence_bounded(response.bytes_stream(), SILENCE_MAX).eventsource().boxed());
    }
    let body = match tokio::time::timeout(REQUEST_TIMEOUT, response.bytes()).await {
        Ok(Ok(body)) => body.to_vec(),
        _ => Vec::new(),
    };
    let retry = status.is_server_error()
        || matches!(status, StatusCode::OK | StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS);
    match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(answer) => {
            inner.link.up();
            Connect::Answered { answer, retry }
        }
        // A gateway in front of a server that is down.
        Err(_) if matches!(status.as_u16(), 502..=504) => Connect::Unreachable(format!("a gateway answered {status}")),
        Err(_) => {
            inner.link.up();
            let message = format!("the server answered the live events with {status} and no event stream");
            Connect::Answered { answer: ErrorBody::new(ErrorCode::Internal, message), retry }
        }
    }
}

/// Why a connection's bytes stopped.
#[derive(Debug)]
enum Broken {
    /// The connection failed (its causes, without the URL).
    Transport(String),
    Silent(Duration),
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Broken::Transport(cause) => f.write_str(cause),
            Broken::Silent(d) => write!(f, "nothing received for {} s", d.as_secs()),
        }
    }
}

/// `bytes`, failing with [`Broken::Silent`] when nothing arrives for `silence` (the server's
/// heartbeats count: they are bytes).
fn silence_bounded<B: Send + 'static>(
    bytes: impl Stream<Item = reqwest::Result<B>> + Send + 'static,
    silence: Duration,
) -> impl Stream<Item = Result<B, Broken>> + Send + 'static {
    stream::unfold((Box::pin(bytes), false), move |(mut bytes, failed)| async move {
        if failed {
            return None;
        }
        match tokio::time::timeout(silence, bytes.next()).await {
            Ok(Some(Ok(chunk))) => Some((Ok(chunk), (bytes, false))),
            Ok(Some(Err(e))) => Some((Err(Broken::Transport(cause_chain(&e.without_url()))), (bytes, true))),
            Ok(None) => None,
            Err(_) => Some((Err(Broken::Silent(silence)), (bytes, true))),
        }
    })
}

fn describe(error: &EventStreamError<Broken>) -> String {
    match error {
        EventStreamError::Transport(broken) => broken.to_string(),
        EventStreamError::Utf8(e) => format!("not UTF-8 ({e})"),
        EventStreamError::Parser(e) => format!("not server-sent events ({e:?})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Time is paused: it moves only as far as the sleeps and timeouts ask.
    #[tokio::test(start_paused = true)]
    async fn a_connection_silent_for_45_s_is_dead_and_heartbeats_keep_it_alive() {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<reqwest::Result<&'static str>>();
        let bytes = stream::unfold(receiver, |mut r| async move { r.recv().await.map(|item| (item, r)) });
        let mut bounded = Box::pin(silence_bounded(bytes, SILENCE_MAX));
        // A heartbeat every 15 s: never silent for long.
        let heartbeats = tokio::spawn(async move {
            for _ in 0..4 {
                sender.send(Ok(":\n\n")).unwrap();
                tokio::time::sleep(Duration::from_secs(15)).await;
            }
            // Then nothing, the connection held open.
            std::future::pending::<()>().await;
            drop(sender);
        });
        let started = tokio::time::Instant::now();
        for _ in 0..4 {
            assert!(matches!(bounded.next().await, Some(Ok(":\n\n"))));
        }
        match bounded.next().await {
            Some(Err(Broken::Silent(after))) => assert_eq!(after, SILENCE_MAX),
            other => panic!("not a silent connection: {:?}", other.map(|r| r.map_err(|e| e.to_string()))),
        }
        // The last heartbeat came at 45 s; the silence is noticed 45 s after it.
        assert_eq!(started.elapsed(), Duration::from_secs(90));
        assert!(bounded.next().await.is_none(), "a dead connection yields nothing more");
        heartbeats.abort();
    }
}
