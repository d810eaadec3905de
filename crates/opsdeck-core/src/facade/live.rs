//! `Ops::events`: a subscriber's live events, resumable after an id (`GET /api/v1/events`, the
//! desktop's push). The stream is judged like any operation (a session with a console role) and
//! keeps being judged while it runs: it ends when the session is revoked or expires, or the role
//! is removed, at the latest one check period later, and when the core stops.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream;
use opsdeck_api::{EventEnvelope, EventStream, SessionToken};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::Core;
use crate::error::{ApiError, ErrorCode};

/// The longest a stream runs on a session that has ended. The check reads the session again
/// (one SQL query per open stream per period) and, like any use, keeps an idle session alive: a
/// console open on the Overview is in use; the absolute age and a revoke still end it.
const SESSION_CHECK_MAX: Duration = Duration::from_secs(15);

impl Core {
    /// The events after `last_event_id` (those the core still holds; an `Event::Resync` first
    /// when some are gone or the id is not this core's), then live ones, for the session `s`.
    /// Refused like any read without a live session or a console role.
    pub(crate) async fn live_events(
        &self,
        s: &SessionToken,
        last_event_id: Option<String>,
    ) -> Result<EventStream, ApiError> {
        self.caller(s).await?;
        let bus = self.event_bus();
        let resumed = bus.subscribe_from(last_event_id.as_deref());
        // Shared with the ring until delivered: a subscriber resuming after a long absence holds
        // pointers, not copies.
        let mut pending: VecDeque<Arc<EventEnvelope>> = resumed.resync.map(Arc::new).into_iter().collect();
        pending.extend(resumed.replay);
        let period = self.config().http.events_heartbeat.min(SESSION_CHECK_MAX);
        let mut check = tokio::time::interval_at(Instant::now() + period, period);
        check.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let live =
            Live { core: self.clone(), session: s.clone(), pending, receiver: resumed.receiver, check, lagged: false };
        Ok(Box::pin(stream::unfold(live, |mut live| async move { live.next().await.map(|e| (e, live)) })))
    }

    /// Publishes `event` as the core would: for the tests and the bench, which need many events
    /// (or a given one) at once.
    #[cfg(feature = "internals")]
    pub fn publish_event(&self, event: crate::events::Event) {
        self.publish(event);
    }
}

/// One subscriber's stream.
struct Live {
    core: Core,
    session: SessionToken,
    /// Ready to deliver, in order (a resync, replayed events).
    pending: VecDeque<Arc<EventEnvelope>>,
    receiver: broadcast::Receiver<Arc<EventEnvelope>>,
    check: Interval,
    /// The receiver skipped events: a resync goes before the next one.
    lagged: bool,
}

impl Live {
    /// The next envelope; None when the stream ends.
    async fn next(&mut self) -> Option<EventEnvelope> {
        loop {
            if let Some(envelope) = self.pending.pop_front() {
                return Some(EventEnvelope::clone(&envelope));
            }
            tokio::select! {
                // Stopping wins over what is still queued: the core is going away.
                biased;
                () = self.core.stop_signal() => return None,
                _ = self.check.tick() => {
                    if !self.session_lives().await {
                        return None;
                    }
                }
                received = self.receiver.recv() => match received {
                    Ok(envelope) => {
                        if std::mem::take(&mut self.lagged) {
                            // Numbered just before the event that follows it: resuming after the
                            // resync misses nothing, and ids keep increasing.
                            let bus = self.core.event_bus();
                            let seq = bus.seq_of(&envelope.id).unwrap_or(1);
                            self.pending.push_back(Arc::new(bus.resync_after(seq.saturating_sub(1))));
                        }
                        self.pending.push_back(envelope);
                    }
                    Err(RecvError::Lagged(skipped)) => {
                        tracing::debug!(skipped, "an event subscriber fell behind: it resyncs");
                        self.lagged = true;
                    }
                    Err(RecvError::Closed) => return None,
                },
            }
        }
    }

    /// Whether the session still opens the console. A database that does not answer keeps the
    /// stream going (the health events say so; the next check decides).
    async fn session_lives(&self) -> bool {
        match self.core.caller_at(&self.session, false).await {
            Ok(_) => true,
            Err(e) if matches!(e.code(), ErrorCode::Unauthenticated | ErrorCode::Forbidden) => {
                tracing::debug!("an event stream's session ended: the stream ends");
                false
            }
            Err(e) => {
                tracing::debug!(error = %e, "an event stream's session could not be checked; checked again later");
                true
            }
        }
    }
}
