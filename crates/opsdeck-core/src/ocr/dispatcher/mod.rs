//! The dispatcher of one instance: reads requests from the stream as fast as it has room for
//! them (not in once-per-second batches), takes a slot of the global rate limit right before
//! each call, calls Baidu, and settles the request by what Baidu answered (the table in
//! docs/providers.md §1). The reader also takes over messages an instance took but never
//! finished once their lease lapsed, with its own call permits, so an idle instance does it too.
//! Alongside: retries whose time has come are moved back into the stream.
//!
//! A message is held (its lease renewed) for as long as its handler works on it, through a slow
//! or absent database as much as through a slow call: every database step is retried until it
//! succeeds, so a database outage delays requests but never abandons, dead-letters or drops
//! them. A handler that finds its message taken over stops (before a call) or writes only what
//! is still conditional on it (a result, which was paid for).
//!
//! Nothing but the call itself follows a slot's grant: the token is fetched and the row marked
//! in flight before the slot is asked for, and the grant itself counts the call for the request
//! in Redis (`queue::STARTED`), so the attempts in SQL equal the calls Baidu saw even when an
//! instance dies mid-call.
//!
//! State machine of a request (also in ARCHITECTURE.md):
//! pending → in_flight → done | dead | pending (retry, requeue, pause); dead → pending (staff);
//! pending → cancelled (staff; never called after) → pending (submitted again).
//!
//! - [`reader`]: the reader (new messages and take-overs) handing each message to a handler.
//! - [`handler`]: one message carried to its end (slot, call, what the answer means).
//! - [`held`]: a held message (its lease renewed) and its database steps retried.
//! - [`housekeeping`]: due retries promoted, and the live figures published.

mod handler;
mod held;
mod housekeeping;
mod reader;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use super::baidu::BaiduOcr;
use super::queue::{self, Queue};
use super::submit::Submitter;
use crate::Core;
use crate::ratelimit::{Limit, RateLimit};

/// A call to Baidu that takes longer is abandoned and retried.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// The limit is counted per this period rather than per second: the margin keeps calls that
/// reach Baidu a little unevenly after their grant from ever putting `cap + 1` into one second.
const CAP_PERIOD: Duration = Duration::from_millis(1_015);
/// The longest wait between two retries.
const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// The OCR parts that live as long as the core.
pub struct OcrShared {
    pub queue: Queue,
    pub limit: RateLimit,
    pub client: Option<BaiduOcr>,
    pub submitter: Submitter,
    /// Wakes the housekeeping loop (a retry was scheduled).
    pub wake: Notify,
    /// Wakes a paused reader (the pause was lifted from this instance).
    pub resumed: Notify,
    /// Something changed: publish the figures soon (coalesced, see `stats_loop`).
    pub changed: Notify,
}

impl OcrShared {
    /// Must be called inside a Tokio runtime (the submission writer starts here).
    pub fn new(
        core_redis: crate::redis_conn::RedisConn,
        db: crate::db::Database,
        instance: &str,
        client: Option<BaiduOcr>,
    ) -> Arc<OcrShared> {
        let queue = Queue::new(core_redis.clone());
        Arc::new(OcrShared {
            submitter: Submitter::start(db, queue.clone(), instance.to_string()),
            queue,
            limit: RateLimit::new(core_redis, queue::RATE_LIMIT),
            client,
            wake: Notify::new(),
            resumed: Notify::new(),
            changed: Notify::new(),
        })
    }

    pub fn limit_for(&self, default_cap: f64) -> Limit<'static> {
        Limit {
            rate: default_cap,
            period: CAP_PERIOD,
            burst: 1,
            rate_override: Some(queue::CAP),
            gate: Some(queue::PAUSE),
            counters: Some(queue::CALLS),
        }
    }
}

/// Runs until `cancel`: the reader (new messages, and messages taken over), the housekeeping
/// (due retries), and the live figures for the console.
pub async fn run(core: Core, cancel: CancellationToken) {
    let shared = core.ocr();
    if let Err(e) = shared.queue.ensure_group().await {
        tracing::debug!(error = %e, "cannot create the OCR consumer group yet");
    }
    let calls = Arc::new(Semaphore::new(core.config().ocr_concurrency as usize));
    tokio::join!(
        reader::read_loop(&core, calls.clone(), &cancel),
        housekeeping::housekeeping(&core, &cancel),
        housekeeping::stats_loop(&core, &cancel),
    );
    // Calls in progress finish (each holds a permit); bounded by the call timeout.
    let all = core.config().ocr_concurrency;
    let _ = tokio::time::timeout(CALL_TIMEOUT, calls.acquire_many(all)).await;
}

/// `base × 2^(attempt-1)`, at most [`MAX_BACKOFF`], with jitter: a random point in its upper half.
pub fn backoff(base: Duration, attempt: u32) -> chrono::Duration {
    let full = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20)).min(MAX_BACKOFF);
    let half = full / 2;
    let jitter = Duration::from_millis(fastrand::u64(..=half.as_millis() as u64));
    chrono::Duration::from_std(half + jitter).unwrap_or_else(|_| chrono::Duration::seconds(1))
}

/// The next midnight in Asia/Shanghai after `now` (when Baidu's daily quota resets).
pub fn next_midnight_shanghai(now: DateTime<Utc>) -> DateTime<Utc> {
    let tz = chrono_tz::Asia::Shanghai;
    let local = now.with_timezone(&tz).date_naive();
    let tomorrow = local.succ_opt().unwrap_or(local);
    let midnight = tz
        .with_ymd_and_hms(tomorrow.year(), tomorrow.month(), tomorrow.day(), 0, 0, 0)
        .single()
        .expect("Shanghai has no DST");
    midnight.with_timezone(&Utc)
}
