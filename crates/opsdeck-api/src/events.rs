//! What the core pushes to every console live.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::health::HealthReport;
use crate::jobs::JobRun;
use crate::ocr::{OcrRequest, OcrStats};
use crate::overview::Overview;

/// Something that happened in the core, tagged by `kind` on the wire.
#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A fresh health report (published after every probe).
    Health {
        report: HealthReport,
    },
    /// A job was added, edited, paused, resumed or deleted (on any instance of this console).
    JobsChanged,
    RunStarted {
        run: JobRun,
    },
    RunFinished {
        run: JobRun,
    },
    /// An OCR request changed state (a result landed, it died, it was retried); ID number masked.
    OcrUpdated {
        request: OcrRequest,
    },
    /// Orders changed (placed, paid, cancelled): the Orders page reloads.
    OrdersChanged,
    /// Users, links, link requests or roles changed: the Accounts page reloads.
    AccountsChanged,
    /// The OCR queue's live figures (every second while a console listens, and on a change).
    OcrStats {
        stats: OcrStats,
    },
    /// The Overview page's figures (every few seconds while a console listens).
    Overview {
        overview: Box<Overview>,
    },
    /// Sent to one subscriber, never published: events it should have had are gone (it fell
    /// behind, or resumed after an id this server no longer holds, e.g. after a restart). Every
    /// page reloads what it shows. Its id stands for the last event it replaces: resuming after
    /// it misses nothing that follows.
    Resync,
}

/// One event as a subscriber receives it ([`crate::Ops::events`], `GET /api/v1/events`).
#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct EventEnvelope {
    /// Opaque and increasing within one server process: resume after it with `Last-Event-ID`
    /// (the server holds the last few thousand events; an id of another process is unknown).
    pub id: String,
    /// When the core published it (Unix time, microseconds); a [`Event::Resync`]: when it was sent.
    #[ts(type = "number")]
    pub at_us: i64,
    pub event: Event,
}

/// A subscriber's events, in order, until its session ends or the core stops.
pub type EventStream = std::pin::Pin<Box<dyn futures_core::Stream<Item = EventEnvelope> + Send>>;
