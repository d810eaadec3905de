//! `RemoteOps` against a real `opsdeckd`: the daemon's router on a real port over a real core
//! (SQLite in a temp dir, the test Redis under a fresh prefix, the sandbox's fake Weibo).
//!
//! The README's test command starts Redis and sets `OPSDECK_TEST_REDIS_URL`; without it these
//! tests fail (they skip nothing).

mod events;
mod ops;
mod signin;
mod tls;
mod world;

use std::time::Duration;

use futures_util::StreamExt;
use opsdeck_api::{Event, EventEnvelope, EventStream, LinkState};
use tokio::sync::{mpsc, watch};

/// A stream read continuously (as the shell reads it: a stream reconnects while it is read),
/// its events kept for the test in order.
pub struct Reader {
    events: mpsc::UnboundedReceiver<EventEnvelope>,
}

impl Reader {
    pub fn new(mut stream: EventStream) -> Reader {
        let (sender, events) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(envelope) = stream.next().await {
                if sender.send(envelope).is_err() {
                    break;
                }
            }
        });
        Reader { events }
    }

    /// The next event, or None when the stream ended; within `within`, else fails naming `what`.
    pub async fn next(&mut self, what: &str, within: Duration) -> Option<EventEnvelope> {
        tokio::time::timeout(within, self.events.recv())
            .await
            .unwrap_or_else(|_| panic!("not within {} s: {what}", within.as_secs()))
    }

    /// The next event that `wanted` accepts (others, e.g. the periodic figures, are passed
    /// over), within `within`; fails naming `what` when the stream ends or time runs out.
    pub async fn next_wanted(
        &mut self,
        what: &str,
        within: Duration,
        wanted: impl Fn(&Event) -> bool,
    ) -> EventEnvelope {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(what, left).await {
                Some(envelope) if wanted(&envelope.event) => return envelope,
                Some(_) => {}
                None => panic!("the event stream ended before {what}"),
            }
        }
    }
}

/// Waits until the link is in a state `wanted` accepts (told by the watch, no polling).
pub async fn link_becomes(
    link: &mut watch::Receiver<LinkState>,
    what: &str,
    wanted: impl Fn(&LinkState) -> bool,
) -> LinkState {
    let outcome = {
        let wait = link.wait_for(|state| wanted(state));
        tokio::time::timeout(Duration::from_secs(30), wait).await.map(|r| r.map(|state| state.clone()))
    };
    match outcome {
        Ok(Ok(state)) => state,
        Ok(Err(_)) => panic!("the link's sender went before {what}"),
        Err(_) => panic!("not within 30 s: {what} (the link is {:?})", *link.borrow()),
    }
}
