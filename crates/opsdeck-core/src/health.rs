//! Health: a probe of the database and of Redis, and the monitor that runs it on a fixed period
//! and publishes every report, so the console's status bar is live.

use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::db::Database;
use crate::db_mode::ModeGuard;
use crate::events::{Event, EventBus};
use crate::redis_conn::RedisConn;

pub use opsdeck_api::health::{ComponentHealth, ComponentStatus, HealthReport};

/// One component's state after a probe that took since `started`.
fn probed(target: &str, started: Instant, result: anyhow::Result<()>) -> ComponentHealth {
    let latency_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
    match result {
        Ok(()) => ComponentHealth { status: ComponentStatus::Ok, reason: None, latency_ms, target: target.to_string() },
        Err(e) => ComponentHealth {
            status: ComponentStatus::Unreachable,
            reason: Some(describe_error(e.as_ref())),
            latency_ms: None,
            target: target.to_string(),
        },
    }
}

/// The error's cause chain in one line, without the repeats some drivers produce
/// (`broken pipe: broken pipe`).
pub fn describe_error(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(cause) = next {
        next = cause.source();
        for part in cause.to_string().split(": ") {
            let part = part.trim();
            if !part.is_empty() && !parts.iter().any(|seen| seen.eq_ignore_ascii_case(part)) {
                parts.push(part.to_string());
            }
        }
    }
    parts.join(": ")
}

/// What the probe needs to know about each component.
pub(crate) struct Probe<'a> {
    pub db: &'a Database,
    /// The database's sandbox/live mark, checked once the database answers.
    pub mode: &'a ModeGuard,
    pub db_target: &'a str,
    pub redis: &'a RedisConn,
    pub redis_target: &'a str,
    pub timeout: Duration,
}

impl Probe<'_> {
    /// Probes both components concurrently. A database that has not been migrated yet (it was
    /// down at start-up) is migrated first, and its mode mark checked: it is not healthy until
    /// its schema is current and its mark is this instance's mode.
    pub async fn run(&self) -> HealthReport {
        let database = async {
            let started = Instant::now();
            let result = async {
                self.db.migrate().await?;
                self.mode.ensure(self.db).await.map_err(anyhow::Error::msg)?;
                self.db.ping(self.timeout).await
            };
            let result = match tokio::time::timeout(self.timeout * 4, result).await {
                Ok(result) => result,
                Err(_) => Err(anyhow::anyhow!("no answer within {} ms", (self.timeout * 4).as_millis())),
            };
            probed(self.db_target, started, result)
        };
        let redis = async {
            let started = Instant::now();
            let result = self.redis.ping(self.timeout).await;
            let nobody = result.as_ref().err().is_some_and(nobody_answers);
            let mut health = probed(self.redis_target, started, result);
            if nobody {
                // A first start without a Redis: say which URL was tried and how to get one.
                health.reason = health.reason.map(|reason| format!("{reason}. {}", redis_hint(self.redis_target)));
            }
            health
        };
        let (database, redis) = tokio::join!(database, redis);
        HealthReport { database, redis, checked_at: Utc::now() }
    }
}

/// Whether a failed `PING` means no Redis answered at all (refused, unreachable, silent), as
/// opposed to one that answered and refused (a wrong password): only then is "start one" advice.
fn nobody_answers(error: &anyhow::Error) -> bool {
    match error.downcast_ref::<redis::RedisError>() {
        Some(e) => e.is_io_error() || e.is_connection_refusal() || e.is_timeout() || e.is_connection_dropped(),
        // The probe's own bound ran out.
        None => error.to_string().starts_with("no answer within"),
    }
}

/// What to do when no Redis answers at `target` (the masked URL): the daemon and the desktop
/// both need one.
pub fn redis_hint(target: &str) -> String {
    // The port the URL names (the default `redis_url` is not on Redis's usual 6379).
    let port = url::Url::parse(target).ok().and_then(|url| url.port()).unwrap_or(6379);
    format!(
        "No Redis answers at {target}: start one (e.g. `apt install redis-server`, then \
         `redis-server --port {port}`) or set `redis_url` (OPSDECK_REDIS_URL) to a running one"
    )
}

/// How often the probe runs while nobody watches (no console subscribed to events, nobody
/// waiting on a report): a headless daemon still logs a component going away and `/healthz`
/// stays recent, without two round trips every second that nobody looks at.
pub const UNWATCHED_PERIOD: Duration = Duration::from_secs(5);

/// Probes until cancelled: every `period` while somebody watches, else every
/// [`UNWATCHED_PERIOD`] (or `period`, if longer); at once when a watcher arrives (`wake`, or a
/// new event subscriber). Each report goes to `latest` and to the event bus.
pub(crate) async fn monitor(
    probe: Probe<'_>,
    period: Duration,
    latest: watch::Sender<HealthReport>,
    events: EventBus,
    wake: &Notify,
    cancel: CancellationToken,
) {
    let mut last_ok: Option<(bool, bool)> = None;
    let mut next = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep_until(next) => {}
            _ = wake.notified() => {}
            _ = events.someone_joined() => {}
        }
        let report = tokio::select! {
            _ = cancel.cancelled() => break,
            report = probe.run() => report,
        };
        let ok = (report.database.is_ok(), report.redis.is_ok());
        if last_ok != Some(ok) {
            log_change(&report);
            last_ok = Some(ok);
        }
        latest.send_replace(report.clone());
        events.publish(Event::Health { report });
        if let Some(why) = probe.mode.refused() {
            // Found when the database came back after a start without it: this instance must
            // not work on it. Its background work stops; the report says why.
            tracing::error!(reason = %why, "the database is marked for the other mode: stopping the background work");
            cancel.cancel();
            break;
        }
        // The core keeps one receiver of its own; more means somebody waits for a report.
        let watched = events.has_subscribers() || latest.receiver_count() > 1;
        next = tokio::time::Instant::now() + if watched { period } else { period.max(UNWATCHED_PERIOD) };
    }
}

fn log_change(report: &HealthReport) {
    for (name, component) in [("database", &report.database), ("redis", &report.redis)] {
        match &component.reason {
            None => tracing::info!(component = name, target = %component.target, "reachable"),
            Some(reason) => {
                tracing::warn!(component = name, target = %component.target, %reason, "unreachable")
            }
        }
    }
}
