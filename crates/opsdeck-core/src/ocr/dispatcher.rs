//! The dispatcher of one instance: reads requests from the stream as fast as it has room for
//! them (not in once-per-second batches), takes a slot of the global rate limit right before
//! each call, calls Baidu, and settles the request by what Baidu answered (the table in
//! shared/specs/providers.md §1). Alongside: retries whose time has come are moved back into
//! the stream, and messages an instance took but never finished are taken over after the lease.
//!
//! State machine of a request (also in ARCHITECTURE.md):
//! pending → in_flight → done | dead | pending (retry, requeue, pause); dead → pending (staff).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use super::baidu::{BaiduError, BaiduOcr, ErrorAction, Image};
use super::model::{OcrPause, OcrStatus, PauseKind, result_json};
use super::queue::{self, Delivery, Queue};
use super::store;
use super::submit::Submitter;
use crate::Core;
use crate::events::Event;
use crate::ratelimit::{Limit, RateLimit, Slot};

/// How long one blocking read waits for new messages (an idle instance costs one Redis call per
/// block), and how often a paused reader looks whether the pause was lifted elsewhere.
const READ_BLOCK: Duration = Duration::from_secs(5);
/// The longest the housekeeping loop sleeps (retries promoted, leases checked).
const HOUSEKEEPING: Duration = Duration::from_secs(5);
/// A call to Baidu that takes longer is abandoned and retried.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the limiter grants nothing after Baidu answered 18 (its own QPS cap).
const SLOW_DOWN: Duration = Duration::from_secs(1);
/// The limit is counted per this period rather than per second: the margin keeps calls that
/// reach Baidu a little unevenly after their grant from ever putting `cap + 1` into one second.
const CAP_PERIOD: Duration = Duration::from_millis(1_015);
/// The shortest time between two publications of the figures.
const STATS_SPACING: Duration = Duration::from_millis(250);
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

/// Runs until `cancel`: the reader, the housekeeping, and the live figures for the console.
pub async fn run(core: Core, cancel: CancellationToken) {
    let shared = core.ocr();
    if let Err(e) = shared.queue.ensure_group().await {
        tracing::debug!(error = %e, "cannot create the OCR consumer group yet");
    }
    let calls = Arc::new(Semaphore::new(core.config().ocr_concurrency as usize));
    tokio::join!(
        read_loop(&core, calls.clone(), &cancel),
        housekeeping(&core, calls.clone(), &cancel),
        stats_loop(&core, &cancel),
    );
    // Calls in progress finish (each holds a permit); bounded by the call timeout.
    let all = core.config().ocr_concurrency;
    let _ = tokio::time::timeout(CALL_TIMEOUT, calls.acquire_many(all)).await;
}

async fn read_loop(core: &Core, calls: Arc<Semaphore>, cancel: &CancellationToken) {
    let shared = core.ocr();
    let me = core.instance_id().to_string();
    let mut conn = None;
    loop {
        // Room for at least one call before reading: a message read is a message held.
        let first = tokio::select! {
            _ = cancel.cancelled() => return,
            permit = calls.clone().acquire_owned() => permit.expect("never closed"),
        };
        let mut permits = vec![first];
        while let Ok(more) = calls.clone().try_acquire_owned() {
            permits.push(more);
        }
        match shared.queue.pause().await {
            Ok(Some(pause)) => {
                drop(permits);
                let wait = pause.until.and_then(|u| (u - Utc::now()).to_std().ok()).unwrap_or(READ_BLOCK);
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = shared.resumed.notified() => continue,
                    _ = tokio::time::sleep(wait.min(READ_BLOCK)) => continue,
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the OCR pause state");
                drop(permits);
                pause_a_moment(cancel).await;
                continue;
            }
        }
        if conn.is_none() {
            match core.redis().dedicated(READ_BLOCK + Duration::from_secs(5)).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::debug!(error = %e, "cannot open the OCR reader's connection");
                    drop(permits);
                    pause_a_moment(cancel).await;
                    continue;
                }
            }
        }
        let read = tokio::select! {
            _ = cancel.cancelled() => return,
            read = shared.queue.read(conn.as_mut().expect("opened above"), &me, permits.len(), READ_BLOCK) => read,
        };
        match read {
            Ok(deliveries) => {
                for delivery in deliveries {
                    let Some(permit) = permits.pop() else { break };
                    let core = core.clone();
                    tokio::spawn(async move {
                        handle(&core, delivery).await;
                        drop(permit);
                    });
                }
            }
            Err(e) if e.code() == Some("NOGROUP") => {
                // The stream went away (a flush): recreate it; reconcile refills it from SQL.
                if let Err(e) = shared.queue.ensure_group().await {
                    tracing::debug!(error = %e, "cannot recreate the OCR consumer group");
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the OCR stream");
                conn = None;
                drop(permits);
                pause_a_moment(cancel).await;
            }
        }
    }
}

async fn pause_a_moment(cancel: &CancellationToken) {
    tokio::select! {
        _ = cancel.cancelled() => {}
        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
    }
}

/// Moves due retries into the stream, and takes over messages held past the lease.
async fn housekeeping(core: &Core, calls: Arc<Semaphore>, cancel: &CancellationToken) {
    let shared = core.ocr();
    let me = core.instance_id().to_string();
    let lease = core.config().ocr_lease;
    let mut next_reclaim = tokio::time::Instant::now() + lease / 2;
    loop {
        let mut sleep = HOUSEKEEPING;
        match shared.queue.promote().await {
            Ok((_, Some(next))) => sleep = sleep.min(next + Duration::from_millis(1)),
            Ok((_, None)) => {}
            Err(e) => tracing::debug!(error = %e, "cannot promote OCR retries"),
        }
        if tokio::time::Instant::now() >= next_reclaim {
            next_reclaim = tokio::time::Instant::now() + lease / 2;
            let room = calls.available_permits();
            if room > 0 {
                match shared.queue.reclaim(&me, lease, room).await {
                    Ok(deliveries) => {
                        for delivery in deliveries {
                            let Ok(permit) = calls.clone().try_acquire_owned() else { break };
                            let core = core.clone();
                            tokio::spawn(async move {
                                handle(&core, delivery).await;
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "cannot reclaim OCR messages"),
                }
            }
        }
        let until_reclaim = next_reclaim.saturating_duration_since(tokio::time::Instant::now());
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(sleep.min(until_reclaim)) => {}
        }
    }
}

/// Publishes the OCR figures while anybody listens (a console is open): every second, and soon
/// after a change, at most every [`STATS_SPACING`] (a burst of changes is one publication).
async fn stats_loop(core: &Core, cancel: &CancellationToken) {
    let shared = core.ocr();
    loop {
        // Nobody to tell: no timer at all until a console subscribes (listening for that before
        // looking, so that one subscribing in between is not missed).
        let joined = core.someone_listens();
        tokio::pin!(joined);
        joined.as_mut().enable();
        if !core.has_listeners() {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = joined => {}
            }
            continue;
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = shared.changed.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        if core.has_listeners() {
            core.publish_ocr_stats().await;
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(STATS_SPACING) => {}
        }
    }
}

/// Carries one delivered message to its end (or back to waiting).
async fn handle(core: &Core, delivery: Delivery) {
    let shared = core.ocr();
    let queue = &shared.queue;
    let message = Some(delivery.message_id.as_str());
    let id = delivery.request_id;
    let pool = core.database().pool();
    let row = match store::get(pool, id).await {
        Ok(Some(row)) => row,
        Ok(None) => {
            // Purged meanwhile: nothing to do.
            let _ = queue.settle(message, id, None).await;
            return;
        }
        Err(e) => {
            // Left unacknowledged: the lease runs out and it is tried again.
            tracing::warn!(request = id, error = %e, "cannot read an OCR request");
            return;
        }
    };
    if matches!(row.status, OcrStatus::Done | OcrStatus::Dead) {
        let _ = queue.settle(message, id, None).await;
        return;
    }
    let max_deliveries = u64::from(core.config().ocr_max_deliveries);
    if delivery.deliveries > max_deliveries {
        let reason = format!(
            "taken {} times by instances that never finished it (the limit is {max_deliveries})",
            delivery.deliveries
        );
        finish_dead(core, message, id, &reason, None).await;
        return;
    }

    // A slot of the global limit, right before the call.
    let limit = shared.limit_for(core.config().ocr_qps);
    let renew_every = core.config().ocr_lease / 3;
    let mut last_renew = tokio::time::Instant::now();
    loop {
        if core.stopping() {
            // Shutting down: back to the stream for another instance, rather than waiting.
            requeue(core, message, id, None).await;
            return;
        }
        match shared.limit.try_take(&limit).await {
            Ok(Slot::Granted) => break,
            Ok(Slot::RetryAfter(wait)) => {
                tokio::select! {
                    _ = core.stop_signal() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            Ok(Slot::Gated(_)) => {
                // Paused meanwhile: back to the stream, which nobody reads until it resumes.
                requeue(core, message, id, None).await;
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "cannot take an OCR rate-limit slot");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        if last_renew.elapsed() >= renew_every {
            last_renew = tokio::time::Instant::now();
            let _ = queue.renew(core.instance_id(), &delivery.message_id).await;
        }
    }

    let row = match store::start_call(pool, id, core.instance_id(), Utc::now()).await {
        Ok(Some(row)) => row,
        Ok(None) => {
            let _ = queue.settle(message, id, None).await;
            return;
        }
        Err(e) => {
            tracing::warn!(request = id, error = %e, "cannot mark an OCR request in flight");
            return;
        }
    };
    core.publish(Event::OcrUpdated { request: row.clone().masked() });
    shared.changed.notify_one();
    let answer = match &shared.client {
        None => Err(BaiduError::Credentials(
            "no Baidu credentials are configured (set baidu_api_key and baidu_secret_key)".into(),
        )),
        Some(client) => {
            match tokio::time::timeout(CALL_TIMEOUT, client.recognise(Image::Url(&row.url), row.side)).await {
                Ok(answer) => answer,
                Err(_) => Err(BaiduError::Transport(format!("no answer within {} s", CALL_TIMEOUT.as_secs()))),
            }
        }
    };
    match answer {
        Ok(card) => {
            let now = Utc::now();
            match store::finish_done(pool, id, &card, now).await {
                Ok(true) => {
                    let json = result_json(id, &card);
                    if let Err(e) = queue.put_result(&row.url, &json, core.config().ocr_result_ttl).await {
                        tracing::warn!(request = id, error = %e, "cannot keep an OCR result in Redis; reconcile will");
                    }
                    let _ = queue.settle(message, id, None).await;
                    announce(core, id).await;
                }
                Ok(false) => {
                    // Finished elsewhere first (a take-over raced this call): the first result stands.
                    let _ = queue.settle(message, id, None).await;
                }
                Err(e) => tracing::warn!(request = id, error = %e, "cannot store an OCR result; it will be retried"),
            }
        }
        Err(error) => failed(core, message, &row, error).await,
    }
}

/// What Baidu's refusal means for the request (and the queue).
async fn failed(core: &Core, message: Option<&str>, row: &super::model::OcrRequest, error: BaiduError) {
    let shared = core.ocr();
    let pool = core.database().pool();
    let id = row.id;
    let code = match &error {
        BaiduError::Api { code, .. } => Some(*code),
        _ => None,
    };
    let text = error.to_string();
    match error.action() {
        ErrorAction::SlowDown => {
            // Not the request's fault and not an attempt: back in line, and everyone waits a moment.
            let _ = store::uncount_attempt(pool, id).await;
            let _ = shared.limit.hold(SLOW_DOWN).await;
            tracing::info!(request = id, "Baidu's QPS cap answered 18; slowing down");
            requeue(core, message, id, None).await;
        }
        ErrorAction::PauseUntilQuotaReset => {
            let _ = store::uncount_attempt(pool, id).await;
            let until = next_midnight_shanghai(Utc::now());
            pause(core, PauseKind::Quota, format!("Baidu's daily quota is used up ({text})"), Some(until)).await;
            requeue(core, message, id, None).await;
        }
        ErrorAction::PauseMisconfigured => {
            let _ = store::uncount_attempt(pool, id).await;
            pause(core, PauseKind::Misconfigured, text, None).await;
            requeue(core, message, id, None).await;
        }
        ErrorAction::DeadLetter => finish_dead(core, message, id, &text, code).await,
        ErrorAction::Retry => {
            let attempts = row.attempts.max(1) as u32;
            if attempts >= core.config().ocr_max_attempts {
                let reason = format!("gave up after {attempts} attempts: {text}");
                finish_dead(core, message, id, &reason, code).await;
                return;
            }
            let at = Utc::now() + backoff(core.config().ocr_backoff, attempts);
            tracing::info!(request = id, attempts, error = %text, "OCR call failed; retrying later");
            match store::back_to_pending(pool, id, Some(at), Some((&text, code)), Utc::now()).await {
                Ok(_) => {
                    let _ = shared.queue.settle(message, id, Some(at.timestamp_millis())).await;
                    shared.wake.notify_one();
                    announce(core, id).await;
                }
                Err(e) => tracing::warn!(request = id, error = %e, "cannot schedule an OCR retry"),
            }
        }
    }
}

/// `base × 2^(attempt-1)`, at most [`MAX_BACKOFF`], with jitter: a random point in its upper half.
pub fn backoff(base: Duration, attempt: u32) -> chrono::Duration {
    let full = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20)).min(MAX_BACKOFF);
    let half = full / 2;
    let jitter = Duration::from_millis(fastrand::u64(..=half.as_millis() as u64));
    chrono::Duration::from_std(half + jitter).unwrap_or_else(|_| chrono::Duration::seconds(1))
}

/// Back to waiting at once (the stream), not counted as a failure.
async fn requeue(core: &Core, message: Option<&str>, id: i64, at: Option<DateTime<Utc>>) {
    let pool = core.database().pool();
    if let Err(e) = store::back_to_pending(pool, id, at, None, Utc::now()).await {
        tracing::warn!(request = id, error = %e, "cannot requeue an OCR request");
        return;
    }
    let due = at.map_or(0, |a| a.timestamp_millis());
    let _ = core.ocr().queue.settle(message, id, Some(due)).await;
}

async fn finish_dead(core: &Core, message: Option<&str>, id: i64, reason: &str, code: Option<i64>) {
    match store::finish_dead(core.database().pool(), id, reason, code, Utc::now()).await {
        Ok(_) => {
            tracing::info!(request = id, reason, "OCR request dead-lettered");
            let _ = core.ocr().queue.settle(message, id, None).await;
            announce(core, id).await;
        }
        Err(e) => tracing::warn!(request = id, error = %e, "cannot dead-letter an OCR request"),
    }
}

async fn pause(core: &Core, kind: PauseKind, reason: String, until: Option<DateTime<Utc>>) {
    let pause = OcrPause { kind, reason, since: Utc::now(), until };
    match kind {
        PauseKind::Misconfigured => tracing::error!(reason = %pause.reason, "OCR queue paused: configuration problem"),
        _ => tracing::warn!(reason = %pause.reason, until = ?pause.until, "OCR queue paused"),
    }
    if let Err(e) = core.ocr().queue.set_pause(&pause).await {
        tracing::warn!(error = %e, "cannot record the OCR pause");
    }
    core.publish_ocr_stats().await;
}

/// Tells the windows a request changed (and that the figures did).
async fn announce(core: &Core, id: i64) {
    if let Ok(Some(request)) = store::get(core.database().pool(), id).await {
        core.publish(Event::OcrUpdated { request: request.masked() });
    }
    core.ocr().changed.notify_one();
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
