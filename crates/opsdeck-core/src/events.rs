//! The event stream the UI (and any other front end) subscribes to: everything the core wants
//! shown live is published here once, and each subscriber gets its own copy.

use std::sync::Arc;

use tokio::sync::{Notify, broadcast};


pub use opsdeck_api::events::Event;

/// A fan-out of [`Event`]s. A slow subscriber that falls more than the capacity behind skips
/// ahead (and is told so by `RecvError::Lagged`); publishing never blocks the core.
#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Event>,
    /// Told whenever somebody subscribes, so that loops that idle while nobody listens (the
    /// health probe's slower pace, the OCR figures) pick up at once.
    joined: Arc<Notify>,
}

impl EventBus {
    pub fn new(capacity: usize) -> EventBus {
        let (sender, _) = broadcast::channel(capacity);
        EventBus { sender, joined: Arc::new(Notify::new()) }
    }

    pub fn publish(&self, event: Event) {
        // No subscribers is fine: nobody has the console open.
        let _ = self.sender.send(event);
    }

    /// True when somebody listens (a console is open).
    pub fn has_subscribers(&self) -> bool {
        self.sender.receiver_count() > 0
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        let receiver = self.sender.subscribe();
        self.joined.notify_waiters();
        receiver
    }

    /// Resolves when somebody subscribes after this is enabled (or first polled).
    pub fn someone_joined(&self) -> tokio::sync::futures::Notified<'_> {
        self.joined.notified()
    }
}
