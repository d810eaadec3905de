//! `/metrics`: the core's figures ([`Metrics`]) in the Prometheus text exposition format
//! (version 0.0.4), encoded by the official client (`prometheus-client`). The figures live in SQL
//! and Redis, shared by every instance, so each scrape reads them afresh into a new registry.

use std::sync::atomic::AtomicU64;

use opsdeck_core::facade::Metrics;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

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
    for (state, n) in
        [("pending", m.ocr.pending), ("in_flight", m.ocr.in_flight), ("done", m.ocr.done), ("dead", m.ocr.dead)]
    {
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
