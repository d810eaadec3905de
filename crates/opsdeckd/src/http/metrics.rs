//! `/metrics`: the core's figures ([`Metrics`]) in the Prometheus text exposition format
//! (version 0.0.4), encoded by the official client (`prometheus-client`). The figures live in SQL
//! and Redis, shared by every instance; they are read at most once per [`MetricsCache`] window
//! (a few seconds), however many scrapes arrive: concurrent scrapes share one read.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opsdeck_core::{ApiError, Core, Metrics};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::time::Instant;

/// How long one read of the figures serves every scrape.
pub const MAX_AGE: Duration = Duration::from_secs(5);

/// A read taking longer than this is given up (the scrape answers 503; the next one tries again).
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The exposition text of the last read, and when it was read. A scrape takes the lock: the
/// first after the window reads the figures while the others wait for its text, so the database
/// sees one set of queries per window at most (a failed read is not kept).
pub struct MetricsCache {
    max_age: Duration,
    last: tokio::sync::Mutex<Option<(Instant, Arc<str>)>>,
    reads: AtomicU64,
}

impl MetricsCache {
    pub fn new(max_age: Duration) -> MetricsCache {
        MetricsCache { max_age, last: tokio::sync::Mutex::new(None), reads: AtomicU64::new(0) }
    }

    /// The exposition text, read now if the last read is older than the window.
    pub async fn text(&self, core: &Core) -> Result<Arc<str>, ApiError> {
        let mut last = self.last.lock().await;
        if let Some((at, text)) = last.as_ref()
            && at.elapsed() < self.max_age
        {
            return Ok(text.clone());
        }
        self.reads.fetch_add(1, Ordering::Relaxed);
        let figures = tokio::time::timeout(READ_TIMEOUT, core.metrics()).await.map_err(|_| {
            ApiError::DatabaseUnavailable(format!("the figures were not read within {} s", READ_TIMEOUT.as_secs()))
        })??;
        let text: Arc<str> = encode(&figures).into();
        *last = Some((Instant::now(), text.clone()));
        Ok(text)
    }

    /// How many times the figures were read from the database and Redis (one set of queries
    /// each), for the tests.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }
}

/// The `Content-Type` of the answer.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

type Labels = Vec<(&'static str, &'static str)>;

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The exposition text of `m`; every metric is prefixed `opsdeck_`.
pub fn encode(m: &Metrics) -> String {
    let mut registry = Registry::with_prefix("opsdeck");

    let ocr = Family::<Labels, Gauge>::default();
    for (state, n) in [
        ("pending", m.ocr.pending),
        ("in_flight", m.ocr.in_flight),
        ("done", m.ocr.done),
        ("dead", m.ocr.dead),
        ("cancelled", m.ocr.cancelled),
    ] {
        ocr.get_or_create(&vec![("state", state)]).set(n);
    }
    registry.register("ocr_requests", "OCR requests by state (pending + in_flight: the queue's depth)", ocr);

    let calls = Gauge::<f64, AtomicU64>::default();
    calls.set(m.ocr_calls_per_second);
    registry.register(
        "ocr_calls_per_second",
        "Calls that reached Baidu per second over the last 60 whole seconds, all instances",
        calls,
    );
    let cap = Gauge::<f64, AtomicU64>::default();
    cap.set(m.ocr_cap);
    registry.register("ocr_cap_calls_per_second", "The OCR calls-per-second cap in force, all instances", cap);
    let paused = Gauge::<i64>::default();
    paused.set(i64::from(m.ocr_paused));
    registry.register("ocr_paused", "1 while the OCR queue is paused (quota, configuration or staff)", paused);

    let runs = Family::<Labels, Gauge>::default();
    for (outcome, n) in &m.job_runs {
        runs.get_or_create(&vec![("outcome", outcome.as_str())]).set(*n);
    }
    registry.register("job_runs", "Job runs in the kept history (run_retention_hours) by outcome", runs);

    let pending = Gauge::<i64>::default();
    pending.set(m.orders_pending);
    registry.register("orders_pending", "Orders waiting for payment", pending);
    let counters = [
        ("orders_cancelled", "Orders cancelled", m.orders_cancelled),
        (
            "orders_paid_late",
            "Orders whose payment the expiry sweep found at Alipay (the notify never came)",
            m.orders_paid_late,
        ),
        (
            "payment_conflicts",
            "Payments reported for orders cancelled already (recorded for staff)",
            m.payment_conflicts,
        ),
    ];
    for (name, help, n) in counters {
        let counter = Counter::<u64>::default();
        counter.inc_by(count(n));
        registry.register(name, help, counter);
    }

    let mut text = String::new();
    prometheus_text::encode(&mut text, &registry).expect("writing to a String does not fail");
    text
}
