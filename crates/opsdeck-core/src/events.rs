//! The event stream the UI (and any other front end) subscribes to: everything the core wants
//! shown live is published here once, and each subscriber gets its own copy.
//!
//! Every published event becomes an [`EventEnvelope`] with an id `<boot>-<seq>`: `boot` is random
//! per bus (per core started), so an id from another process, or from before a restart, is
//! recognised as unknown; `seq` counts up from 1. The bus keeps the last envelopes (a bounded
//! ring, of the last [`RING_AGE`] at most) so that a subscriber that lost its connection resumes
//! after the last id it saw ([`EventBus::subscribe_from`]) without a gap, or is told to reload
//! ([`Event::Resync`]) when what it missed is gone.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{Notify, broadcast};
use tokio::time::Instant;

pub use opsdeck_api::events::{Event, EventEnvelope};

/// How many envelopes the ring keeps at most. At the sandbox shop's bench load (600 orders and
/// 600 OCR requests a minute, each a few events) that is a few minutes of history, ample for a
/// reconnect; a subscriber away longer reloads everything anyway ([`Event::Resync`]). Also the
/// broadcast channel's capacity: a subscriber that falls this far behind is told to resync.
pub const RING_EVENTS: usize = 4096;

/// And how many bytes of JSON they may take together. The JSON size is a fair estimate of an
/// event's heap size; the bound keeps the ring's memory to about this whatever is published.
/// Snapshots (the Overview, a few KB to tens of KB every few seconds; the OCR figures every second;
/// health reports) are held whole only as the newest of their kind, see [`Held`].
pub const RING_BYTES: usize = 8 * 1024 * 1024;

/// And for how long: the ring drops what is older. The replay is for a subscriber whose link
/// broke (a dropped connection, a restarted proxy: the desktop opens its stream again within
/// seconds); one away longer reloads, as after a restart of the core. Without it the ring filled
/// up to [`RING_EVENTS`] however slowly events came: at the sandbox shop's default pace (about
/// three events a second) the desktop's own core kept growing for over 20 minutes, for replays
/// nobody would ask for (30-minute runs of `scripts/console-memory.sh`, app process PSS: +5.8 MiB
/// and still rising; with the age +4.1, level from minute 20; issue 19, item 6).
pub const RING_AGE: Duration = Duration::from_secs(120);

/// A fan-out of [`EventEnvelope`]s. A slow subscriber that falls more than [`RING_EVENTS`] behind
/// skips ahead (and is told so by `RecvError::Lagged`); publishing never blocks the core.
#[derive(Clone)]
pub struct EventBus {
    shared: Arc<Shared>,
}

struct Shared {
    boot: String,
    /// Numbering, the ring and sending happen under this lock, so that a subscriber taking the
    /// ring's snapshot and its receiver under it gets every event exactly once.
    state: Mutex<Ring>,
    sender: broadcast::Sender<Arc<EventEnvelope>>,
    /// Told whenever somebody subscribes, so that loops that idle while nobody listens (the
    /// health probe's slower pace, the OCR figures) pick up at once.
    joined: Notify,
}

struct Ring {
    /// The last number given (0: none yet).
    seq: u64,
    /// Held events, oldest first, each with its number, the bytes it counts for and when it was
    /// published.
    held: VecDeque<(u64, usize, Instant, Held)>,
    bytes: usize,
}

/// One event the ring holds. A snapshot (see [`superseded_by`]) that a newer one of its kind has
/// replaced keeps only its id and time: a subscriber catching up needs the newest figures, not
/// every second's, so its replay carries the newest snapshot's content under the old id (the ids
/// stay one after another). Holding each whole filled the ring with OCR figures and Overviews
/// (about 230 KB of JSON a minute while a console is open, the sandbox shop at its default pace)
/// up to its byte bound: 8 MB more in the desktop's own core after half an hour, for nothing
/// (issue 19, item 6).
enum Held {
    Whole(Arc<EventEnvelope>),
    Replaced { id: String, at_us: i64, kind: std::mem::Discriminant<Event> },
}

/// What a replaced snapshot counts for in the ring's bytes: its id and time.
const REPLACED_BYTES: usize = 64;

impl Ring {
    /// The held events after `after`, oldest first; a replaced snapshot with the content of the
    /// newest of its kind (held whole: it came later, and the ring drops the oldest first).
    fn replay_after(&self, after: u64) -> Vec<Arc<EventEnvelope>> {
        let newest = |kind: std::mem::Discriminant<Event>| {
            self.held.iter().rev().find_map(|(_, _, _, held)| match held {
                Held::Whole(e) if std::mem::discriminant(&e.event) == kind => Some(e),
                _ => None,
            })
        };
        self.held
            .iter()
            .filter(|(seq, _, _, _)| *seq > after)
            .filter_map(|(_, _, _, held)| match held {
                Held::Whole(e) => Some(e.clone()),
                Held::Replaced { id, at_us, kind } => newest(*kind)
                    .map(|e| Arc::new(EventEnvelope { id: id.clone(), at_us: *at_us, event: e.event.clone() })),
            })
            .collect()
    }
}

/// A subscription from a given id: what to deliver first, then the live receiver.
pub struct Resumed {
    /// Events after the given id, oldest first (empty when nothing was missed).
    pub replay: Vec<Arc<EventEnvelope>>,
    /// Some of what the subscriber asked for is gone (or the id is not this bus's): it must
    /// reload; this is the [`Event::Resync`] to send first, numbered as the last event published.
    pub resync: Option<EventEnvelope>,
    pub receiver: broadcast::Receiver<Arc<EventEnvelope>>,
}

impl EventBus {
    pub fn new() -> EventBus {
        let (sender, _) = broadcast::channel(RING_EVENTS);
        EventBus {
            shared: Arc::new(Shared {
                boot: format!("{:016x}", fastrand::u64(..)),
                state: Mutex::new(Ring { seq: 0, held: VecDeque::new(), bytes: 0 }),
                sender,
                joined: Notify::new(),
            }),
        }
    }

    /// Numbers `event`, stamps it with the time (µs) and sends it to every subscriber.
    pub fn publish(&self, event: Event) {
        let size = json_size(&event);
        let mut ring = self.lock();
        ring.seq += 1;
        let seq = ring.seq;
        let envelope = Arc::new(EventEnvelope { id: self.id(seq), at_us: now_us(), event });
        if superseded_by(&envelope.event) {
            let kind = std::mem::discriminant(&envelope.event);
            // At most one whole snapshot of a kind is held: the newest, replaced now.
            let Ring { held, bytes, .. } = &mut *ring;
            if let Some((_, size, _, entry)) = held
                .iter_mut()
                .rev()
                .find(|(_, _, _, held)| matches!(held, Held::Whole(e) if std::mem::discriminant(&e.event) == kind))
                && let Held::Whole(older) = entry
            {
                *entry = Held::Replaced { id: older.id.clone(), at_us: older.at_us, kind };
                *bytes = *bytes - *size + REPLACED_BYTES;
                *size = REPLACED_BYTES;
            }
        }
        let now = Instant::now();
        ring.held.push_back((seq, size, now, Held::Whole(envelope.clone())));
        ring.bytes += size;
        let stale = |(_, _, at, _): &(u64, usize, Instant, Held)| now.duration_since(*at) > RING_AGE;
        while ring.held.len() > RING_EVENTS
            || (ring.bytes > RING_BYTES && ring.held.len() > 1)
            || ring.held.front().is_some_and(stale)
        {
            if let Some((_, size, _, _)) = ring.held.pop_front() {
                ring.bytes -= size;
            }
        }
        // No subscribers is fine: nobody has the console open.
        let _ = self.shared.sender.send(envelope);
    }

    /// True when somebody listens (a console is open).
    pub fn has_subscribers(&self) -> bool {
        self.shared.sender.receiver_count() > 0
    }

    /// Every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<EventEnvelope>> {
        let receiver = self.shared.sender.subscribe();
        self.shared.joined.notify_waiters();
        receiver
    }

    /// The events after `last_id` that the ring still holds, then every event published from
    /// now on, without a gap or a repeat. With no `last_id`: live events only. An id of another
    /// boot, an unreadable or future one, or one whose successors are partly gone: a resync
    /// first, then live events only.
    pub fn subscribe_from(&self, last_id: Option<&str>) -> Resumed {
        let (replay, resync, receiver) = {
            let ring = self.lock();
            let receiver = self.shared.sender.subscribe();
            let (replay, complete) = match last_id {
                None => (Vec::new(), true),
                Some(id) => match self.seq_of(id) {
                    Some(after) if after <= ring.seq => {
                        let oldest = ring.held.front().map_or(ring.seq + 1, |(seq, _, _, _)| *seq);
                        // Complete when the ring still holds the event right after `after`.
                        (ring.replay_after(after), oldest <= after + 1)
                    }
                    _ => (Vec::new(), false),
                },
            };
            let resync = (!complete).then(|| self.resync_after(ring.seq));
            if complete { (replay, None, receiver) } else { (Vec::new(), resync, receiver) }
        };
        self.shared.joined.notify_waiters();
        Resumed { replay, resync, receiver }
    }

    /// An [`Event::Resync`] numbered `seq`: resuming after it asks for what follows `seq`.
    pub fn resync_after(&self, seq: u64) -> EventEnvelope {
        EventEnvelope { id: self.id(seq), at_us: now_us(), event: Event::Resync }
    }

    /// The number of one of this bus's ids; None for another boot's, or no id at all.
    pub fn seq_of(&self, id: &str) -> Option<u64> {
        let (boot, seq) = id.rsplit_once('-')?;
        if boot != self.shared.boot || seq.starts_with('+') {
            return None;
        }
        seq.parse().ok()
    }

    /// Resolves when somebody subscribes after this is enabled (or first polled).
    pub fn someone_joined(&self) -> tokio::sync::futures::Notified<'_> {
        self.shared.joined.notified()
    }

    fn id(&self, seq: u64) -> String {
        format!("{}-{seq}", self.shared.boot)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        // Nothing under the lock panics halfway (numbers, a queue, a send): a poisoned lock
        // still holds a consistent ring.
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for EventBus {
    fn default() -> EventBus {
        EventBus::new()
    }
}

/// A subscription to the events' content (what [`crate::Core::subscribe`] gives): like a
/// broadcast receiver of [`Event`]s, for the tests and front ends that need no ids.
pub struct EventReceiver {
    inner: broadcast::Receiver<Arc<EventEnvelope>>,
}

impl EventReceiver {
    pub(crate) fn new(inner: broadcast::Receiver<Arc<EventEnvelope>>) -> EventReceiver {
        EventReceiver { inner }
    }

    /// The next event; `Lagged` when some were skipped, `Closed` when the core is gone.
    pub async fn recv(&mut self) -> Result<Event, RecvError> {
        self.inner.recv().await.map(|envelope| envelope.event.clone())
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Result<Event, TryRecvError> {
        self.inner.try_recv().map(|envelope| envelope.event.clone())
    }

    /// The next envelope (id and publish time with the event).
    pub async fn recv_envelope(&mut self) -> Result<Arc<EventEnvelope>, RecvError> {
        self.inner.recv().await
    }
}

/// Whether `event` is a whole snapshot that a newer one of its kind replaces ([`Held`]).
fn superseded_by(event: &Event) -> bool {
    matches!(event, Event::Health { .. } | Event::OcrStats { .. } | Event::Overview { .. })
}

/// Now, in Unix microseconds (an envelope's `at_us`).
fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// The length of `event`'s JSON, counted without building it.
fn json_size(event: &Event) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // An event that does not serialise would not reach any subscriber either; count it small.
    let _ = serde_json::to_writer(&mut count, event);
    count.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seqs(bus: &EventBus, events: &[Arc<EventEnvelope>]) -> Vec<u64> {
        events.iter().map(|e| bus.seq_of(&e.id).unwrap()).collect()
    }

    #[test]
    fn resuming_replays_what_followed_and_receives_the_rest() {
        let bus = EventBus::new();
        for _ in 0..5 {
            bus.publish(Event::JobsChanged);
        }
        let third = bus.resync_after(3).id;
        let mut resumed = bus.subscribe_from(Some(&third));
        assert!(resumed.resync.is_none());
        assert_eq!(seqs(&bus, &resumed.replay), [4, 5]);
        bus.publish(Event::OrdersChanged);
        let next = resumed.receiver.try_recv().unwrap();
        assert_eq!(bus.seq_of(&next.id), Some(6));
        assert!(resumed.receiver.try_recv().is_err(), "nothing twice");

        let latest = bus.subscribe_from(Some(&next.id));
        assert!(latest.resync.is_none() && latest.replay.is_empty());
    }

    #[test]
    fn another_boots_or_a_lost_id_asks_for_a_resync_numbered_as_the_last_event() {
        let (bus, other) = (EventBus::new(), EventBus::new());
        bus.publish(Event::JobsChanged);
        other.publish(Event::JobsChanged);
        for id in [other.resync_after(1).id, "garbage".into(), bus.resync_after(2).id, String::new()] {
            let resumed = bus.subscribe_from(Some(&id));
            let resync = resumed.resync.unwrap_or_else(|| panic!("{id:?}: a resync"));
            assert!(matches!(resync.event, Event::Resync));
            assert_eq!(bus.seq_of(&resync.id), Some(1), "{id:?}");
            assert!(resumed.replay.is_empty());
        }
        // One more than the ring holds: the event after 1 (number 2) is gone.
        for _ in 0..=RING_EVENTS {
            bus.publish(Event::AccountsChanged);
        }
        let first = bus.resync_after(1).id;
        let resumed = bus.subscribe_from(Some(&first));
        assert!(resumed.replay.is_empty(), "the event after 1 is gone: nothing half");
        assert_eq!(bus.seq_of(&resumed.resync.unwrap().id), Some(RING_EVENTS as u64 + 2));
    }

    #[test]
    fn a_replaced_snapshot_keeps_its_id_and_replays_with_the_newest_content() {
        let bus = EventBus::new();
        let health = |target: &str| Event::Health {
            report: opsdeck_api::health::HealthReport {
                database: opsdeck_api::health::ComponentHealth::unknown(target.into()),
                redis: opsdeck_api::health::ComponentHealth::unknown("redis://r".into()),
                checked_at: chrono::Utc::now(),
            },
        };
        let target = |e: &EventEnvelope| match &e.event {
            Event::Health { report } => report.database.target.clone(),
            other => panic!("a health report, got {other:?}"),
        };
        bus.publish(health("first")); // 1
        bus.publish(Event::JobsChanged); // 2
        for i in 0..1000 {
            bus.publish(health(&format!("{i:01000}"))); // 3..=1002, a kilobyte each
        }
        bus.publish(Event::OrdersChanged); // 1003
        {
            let ring = bus.lock();
            let whole = ring.held.iter().filter(|(_, _, _, held)| matches!(held, Held::Whole(_))).count();
            assert_eq!(whole, 3, "the jobs and orders events and the newest report are held whole");
            assert!(
                ring.bytes < 1003 * REPLACED_BYTES + 2 * 1024,
                "{} bytes: the replaced reports' content is gone",
                ring.bytes
            );
        }
        // After the first report: every event since, one after another, the reports as the newest.
        let resumed = bus.subscribe_from(Some(&bus.resync_after(1).id));
        assert!(resumed.resync.is_none(), "nothing was missed");
        assert_eq!(seqs(&bus, &resumed.replay), (2..=1003).collect::<Vec<_>>());
        let newest = format!("{:01000}", 999);
        for e in resumed.replay.iter().filter(|e| matches!(e.event, Event::Health { .. })) {
            assert_eq!(target(e), newest, "{}", e.id);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_ring_forgets_what_is_older_than_its_age() {
        let bus = EventBus::new();
        let after = |seq: u64| bus.subscribe_from(Some(&bus.resync_after(seq).id));
        bus.publish(Event::JobsChanged); // 1
        bus.publish(Event::OrdersChanged); // 2
        tokio::time::advance(RING_AGE / 2).await;
        bus.publish(Event::JobsChanged); // 3
        assert_eq!(seqs(&bus, &after(1).replay), vec![2, 3], "within the age everything replays");
        tokio::time::advance(RING_AGE / 2 + Duration::from_secs(1)).await;
        bus.publish(Event::OrdersChanged); // 4: 1 and 2 are now older than the age
        assert_eq!(bus.lock().held.len(), 2, "only 3 and 4 are held");
        let resumed = after(1);
        assert!(resumed.replay.is_empty(), "2 is gone: nothing half");
        assert_eq!(bus.seq_of(&resumed.resync.unwrap().id), Some(4), "a resync, numbered as the last event");
        let resumed = after(2);
        assert!(resumed.resync.is_none(), "nothing after 2 was dropped");
        assert_eq!(seqs(&bus, &resumed.replay), vec![3, 4]);
    }

    #[test]
    fn the_ring_keeps_to_its_byte_bound() {
        let bus = EventBus::new();
        let big = Event::OcrUpdated {
            request: serde_json::from_value(serde_json::json!({
                "id": 1, "url": format!("https://img.test/{}", "x".repeat(600 * 1024)), "side": "front",
                "status": "pending", "attempts": 0, "created_at": "2026-01-01T00:00:00Z",
                "updated_at": "2026-01-01T00:00:00Z", "next_attempt_at": null, "finished_at": null,
                "error": null, "error_code": null, "result": null, "instance": null
            }))
            .unwrap(),
        };
        for _ in 0..40 {
            bus.publish(big.clone());
        }
        let ring = bus.lock();
        assert!(ring.bytes <= RING_BYTES, "{} bytes held", ring.bytes);
        assert!(ring.held.len() < 40 && !ring.held.is_empty(), "{} held", ring.held.len());
    }
}
