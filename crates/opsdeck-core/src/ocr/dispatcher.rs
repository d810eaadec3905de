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
//! pending → in_flight → done | dead | pending (retry, requeue, pause); dead → pending (staff).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use super::baidu::{BaiduError, BaiduOcr, ErrorAction, Image};
use super::model::{OcrPause, OcrStatus, PauseKind, result_json};
use super::queue::{self, Delivery, Queue, RECLAIM_START};
use super::store::{self, Holder};
use super::submit::Submitter;
use crate::Core;
use crate::events::Event;
use crate::ocr::model::Masked;
use crate::ratelimit::{Limit, RateLimit, Slot};

/// How long one blocking read waits for new messages (an idle instance costs one Redis call per
/// block), and how often a paused reader looks whether the pause was lifted elsewhere.
const READ_BLOCK: Duration = Duration::from_secs(5);
/// The longest the housekeeping loop sleeps (retries promoted).
const HOUSEKEEPING: Duration = Duration::from_secs(5);
/// A call to Baidu that takes longer is abandoned and retried.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// The first wait before a failed database step is tried again (doubling up to the next).
const DB_RETRY_FIRST: Duration = Duration::from_millis(100);
const DB_RETRY_MAX: Duration = Duration::from_secs(2);
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

/// Runs until `cancel`: the reader (new messages, and messages taken over), the housekeeping
/// (due retries), and the live figures for the console.
pub async fn run(core: Core, cancel: CancellationToken) {
    let shared = core.ocr();
    if let Err(e) = shared.queue.ensure_group().await {
        tracing::debug!(error = %e, "cannot create the OCR consumer group yet");
    }
    let calls = Arc::new(Semaphore::new(core.config().ocr_concurrency as usize));
    tokio::join!(read_loop(&core, calls.clone(), &cancel), housekeeping(&core, &cancel), stats_loop(&core, &cancel),);
    // Calls in progress finish (each holds a permit); bounded by the call timeout.
    let all = core.config().ocr_concurrency;
    let _ = tokio::time::timeout(CALL_TIMEOUT, calls.acquire_many(all)).await;
}

async fn read_loop(core: &Core, calls: Arc<Semaphore>, cancel: &CancellationToken) {
    let shared = core.ocr();
    let me = core.instance_id().to_string();
    let lease = core.config().ocr_lease;
    let mut conn = None;
    // Take-overs: scanned every half lease (at once on start: a dead instance may have left
    // messages), resuming from XAUTOCLAIM's cursor until the whole pending list was seen.
    let mut cursor = RECLAIM_START.to_string();
    let mut next_reclaim = tokio::time::Instant::now();
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
        // Messages held past their lease first (they have waited longest), with the same permits
        // as new ones: the reader, not a loop that needs a free permit, so that an idle instance,
        // whose permits all wait in its blocking read, takes them over too.
        if tokio::time::Instant::now() >= next_reclaim {
            let now = tokio::time::Instant::now();
            next_reclaim = now + lease / 2;
            match shared.queue.reclaim(&me, lease, permits.len(), &cursor).await {
                Ok((next, deliveries)) => {
                    if next != RECLAIM_START {
                        // More of the pending list to scan: go on at the next turn.
                        next_reclaim = now;
                    }
                    cursor = next;
                    if !deliveries.is_empty() {
                        tracing::info!(messages = deliveries.len(), "taking over OCR messages whose lease lapsed");
                    }
                    dispatch(core, deliveries, &mut permits);
                }
                Err(e) if e.code() == Some("NOGROUP") => recreate_group(shared).await,
                Err(e) => tracing::debug!(error = %e, "cannot take over OCR messages"),
            }
            if permits.is_empty() {
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
        // Never past the next take-over scan (and never 0, which would block for ever).
        let block = next_reclaim
            .saturating_duration_since(tokio::time::Instant::now())
            .clamp(Duration::from_millis(1), READ_BLOCK);
        let read = tokio::select! {
            _ = cancel.cancelled() => return,
            read = shared.queue.read(conn.as_mut().expect("opened above"), &me, permits.len(), block) => read,
        };
        match read {
            Ok(deliveries) => dispatch(core, deliveries, &mut permits),
            Err(e) if e.code() == Some("NOGROUP") => recreate_group(shared).await,
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the OCR stream");
                conn = None;
                drop(permits);
                pause_a_moment(cancel).await;
            }
        }
    }
}

/// A handler for each delivery, each holding one of the permits it was read with.
fn dispatch(core: &Core, deliveries: Vec<Delivery>, permits: &mut Vec<tokio::sync::OwnedSemaphorePermit>) {
    for delivery in deliveries {
        let Some(permit) = permits.pop() else { break };
        let core = core.clone();
        tokio::spawn(async move {
            handle(&core, delivery).await;
            drop(permit);
        });
    }
}

/// The stream went away (a flush): recreate it; reconcile refills it from SQL.
async fn recreate_group(shared: &OcrShared) {
    if let Err(e) = shared.queue.ensure_group().await {
        tracing::debug!(error = %e, "cannot recreate the OCR consumer group");
    }
}

async fn pause_a_moment(cancel: &CancellationToken) {
    tokio::select! {
        _ = cancel.cancelled() => {}
        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
    }
}

/// Moves due retries into the stream.
async fn housekeeping(core: &Core, cancel: &CancellationToken) {
    let shared = core.ocr();
    loop {
        let mut sleep = HOUSEKEEPING;
        match shared.queue.promote().await {
            Ok((_, Some(next))) => sleep = sleep.min(next + Duration::from_millis(1)),
            Ok((_, None)) => {}
            Err(e) => tracing::debug!(error = %e, "cannot promote OCR retries"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(sleep) => {}
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

/// A message this instance holds: its lease is renewed while the handler works on it, and it
/// learns when another instance took it over.
struct Held<'a> {
    core: &'a Core,
    delivery: &'a Delivery,
    renew_every: Duration,
    last_renew: tokio::time::Instant,
    lost: bool,
}

impl<'a> Held<'a> {
    fn new(core: &'a Core, delivery: &'a Delivery) -> Held<'a> {
        Held {
            core,
            delivery,
            renew_every: core.config().ocr_lease / 3,
            last_renew: tokio::time::Instant::now(),
            lost: false,
        }
    }

    fn message(&self) -> Option<&'a str> {
        Some(self.delivery.message_id.as_str())
    }

    /// Renews the lease when a third of it has passed; false once the message was taken over.
    async fn keep(&mut self) -> bool {
        if !self.lost && self.last_renew.elapsed() >= self.renew_every {
            self.last_renew = tokio::time::Instant::now();
            let queue = &self.core.ocr().queue;
            match queue.renew(self.core.instance_id(), &self.delivery.message_id).await {
                Ok(held) => self.lost = !held,
                // Redis is away: the lease cannot lapse unseen by us any faster than by others.
                Err(e) => tracing::debug!(error = %e, "cannot renew an OCR message's lease"),
            }
            if self.lost {
                tracing::info!(request = self.delivery.request_id, "OCR message taken over by another instance");
            }
        }
        !self.lost
    }

    /// Runs `work` while renewing the lease.
    async fn during<F: std::future::Future>(&mut self, work: F) -> F::Output {
        tokio::pin!(work);
        loop {
            let wait = self.renew_every.saturating_sub(self.last_renew.elapsed());
            tokio::select! {
                out = &mut work => return out,
                _ = tokio::time::sleep(wait) => { self.keep().await; }
            }
        }
    }

    /// Runs a database step until it succeeds, waiting longer after each failure and holding the
    /// message meanwhile. Before the call (`before_call`) it gives up when the core stops or
    /// the message was taken over (someone else carries it on); after the call it never gives
    /// up, since what it writes was paid for.
    async fn persist<T, F, Fut>(&mut self, what: &str, before_call: bool, mut step: F) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = sqlx::Result<T>>,
    {
        let mut wait = DB_RETRY_FIRST;
        let mut failures = 0u32;
        loop {
            match step().await {
                Ok(value) => {
                    if failures > 0 {
                        tracing::info!(request = self.delivery.request_id, failures, "OCR database step done: {what}");
                    }
                    return Some(value);
                }
                Err(e) => {
                    failures += 1;
                    if failures == 1 {
                        tracing::warn!(request = self.delivery.request_id, error = %e, "cannot {what}; trying again");
                    } else {
                        tracing::debug!(request = self.delivery.request_id, error = %e, "cannot {what}; trying again");
                    }
                }
            }
            if before_call && self.core.stopping() {
                return None;
            }
            let core = self.core;
            self.during(async {
                tokio::select! {
                    _ = core.stop_signal(), if before_call => {}
                    _ = tokio::time::sleep(wait) => {}
                }
            })
            .await;
            if before_call && (!self.keep().await || self.core.stopping()) {
                return None;
            }
            wait = (wait * 2).min(DB_RETRY_MAX);
        }
    }

    /// Settles the message (see [`Queue::settle`]).
    async fn settle(&self, due: Option<i64>) {
        let queue = &self.core.ocr().queue;
        let id = self.delivery.request_id;
        if let Err(e) = queue.settle(self.core.instance_id(), self.message(), id, due).await {
            // Left pending under this instance: taken over after the lease and settled then.
            tracing::debug!(request = id, error = %e, "cannot settle an OCR message");
        }
    }
}

/// Carries one delivered message to its end (or back to waiting).
async fn handle(core: &Core, delivery: Delivery) {
    let shared = core.ocr();
    let id = delivery.request_id;
    let pool = core.database().pool();
    let mut held = Held::new(core, &delivery);
    let Some(row) = held.persist("read an OCR request", true, || store::get(pool, id)).await else { return };
    let Some(row) = row else {
        // Purged meanwhile: nothing to do.
        held.settle(None).await;
        return;
    };
    if matches!(row.status, OcrStatus::Done | OcrStatus::Dead) {
        held.settle(None).await;
        return;
    }
    if let Ok(Some(_)) = shared.queue.pause().await {
        // Paused since it was read: back to the stream, its row untouched.
        held.settle(Some(0)).await;
        return;
    }
    // Calls granted for it so far: a dead holder's calls that never came back count too.
    let counted = shared.queue.started(id).await.unwrap_or(0);
    let mut holder = Holder { instance: core.instance_id(), calls: counted.max(row.attempts) };
    let Some(started) =
        held.persist("mark an OCR request in flight", true, || store::start_call(pool, id, holder, Utc::now())).await
    else {
        return;
    };
    let Some(row) = started else {
        held.settle(None).await;
        return;
    };
    core.publish(Event::OcrUpdated { request: row.clone().masked() });
    shared.changed.notify_one();
    let max_deliveries = core.config().ocr_max_deliveries;
    if delivery.deliveries > u64::from(max_deliveries) && holder.calls >= i64::from(max_deliveries) {
        // Taken over again and again, each time after a call that never came back: a message
        // that kills its instances. (Deliveries without calls, e.g. through a database outage,
        // never count.)
        let reason = format!(
            "delivered {} times and called {} times without ever finishing (the limit is {max_deliveries})",
            delivery.deliveries, holder.calls
        );
        finish_dead(&mut held, holder, &reason, None).await;
        return;
    }
    let Some(client) = &shared.client else {
        let error = BaiduError::Credentials(
            "no Baidu credentials are configured (set baidu_api_key and baidu_secret_key)".into(),
        );
        failed(&mut held, holder, error).await;
        return;
    };

    let limit = shared.limit_for(core.config().ocr_qps);
    let mut stale: Option<secrecy::SecretString> = None;
    let answer = loop {
        // The token before the slot: after the grant only the call goes out.
        let token = match held.during(client.token(stale.as_ref().map(secrecy::ExposeSecret::expose_secret))).await {
            Ok(token) => token,
            Err(error) => {
                failed(&mut held, holder, error).await;
                return;
            }
        };
        let Some(calls) = take_slot(&mut held, &limit).await else {
            // Paused, shutting down or taken over: back to waiting (if still ours).
            requeue(&mut held, holder).await;
            return;
        };
        holder.calls = calls;
        let call = tokio::time::timeout(CALL_TIMEOUT, client.call(&token, Image::Url(&row.url), row.side));
        let answer = match held.during(call).await {
            Ok(answer) => answer,
            Err(_) => Err(BaiduError::Transport(format!("no answer within {} s", CALL_TIMEOUT.as_secs()))),
        };
        match answer {
            // 110/111: a new token and another slot, once.
            Err(e) if e.token_expired() && stale.is_none() => stale = Some(token),
            answer => break answer,
        }
    };
    match answer {
        Ok(card) => {
            let calls = holder.calls;
            let stored = held
                .persist("store an OCR result", false, || store::finish_done(pool, id, &card, calls, Utc::now()))
                .await
                .unwrap_or(false);
            // Not stored: finished first elsewhere (a take-over raced this call), or by this very
            // write whose answer a dropped connection lost. Either way the stored result stands
            // and is the one kept by URL.
            let kept = if stored {
                Some(card)
            } else {
                let row = held.persist("read an OCR result", false, || store::get(pool, id)).await.flatten();
                row.filter(|r| r.status == OcrStatus::Done).and_then(|r| r.result)
            };
            if let Some(card) = kept {
                let json = result_json(id, &card);
                if let Err(e) = shared.queue.put_result(&row.url, &json, core.config().ocr_result_ttl).await {
                    tracing::warn!(request = id, error = %e, "cannot keep an OCR result in Redis; reconcile will");
                }
            }
            held.settle(None).await;
            if stored {
                announce(core, id).await;
            }
        }
        Err(error) => failed(&mut held, holder, error).await,
    }
}

/// Waits for a slot of the global limit, holding the message; the calls granted for the
/// request so far with the grant, or None when the queue was paused, the core is stopping or
/// the message was taken over.
async fn take_slot(held: &mut Held<'_>, limit: &crate::ratelimit::Limit<'_>) -> Option<i64> {
    let core = held.core;
    let shared = core.ocr();
    let id = held.delivery.request_id;
    loop {
        if core.stopping() || !held.keep().await {
            return None;
        }
        match shared.limit.try_take_counted(limit, queue::STARTED, id).await {
            Ok(Slot::Granted(calls)) => return Some(calls),
            Ok(Slot::RetryAfter(wait)) => {
                held.during(async {
                    tokio::select! {
                        _ = core.stop_signal() => {}
                        _ = tokio::time::sleep(wait) => {}
                    }
                })
                .await;
            }
            // Paused meanwhile: back to the stream, which nobody reads until it resumes.
            Ok(Slot::Gated(_)) => return None,
            Err(e) => {
                tracing::debug!(error = %e, "cannot take an OCR rate-limit slot");
                held.during(tokio::time::sleep(Duration::from_millis(500))).await;
            }
        }
    }
}

async fn uncount(core: &Core, holder: &mut Holder<'_>, id: i64, called: bool) {
    if called {
        holder.calls -= 1;
        if let Err(e) = core.ocr().queue.unstart(id).await {
            tracing::debug!(request = id, error = %e, "cannot uncount an OCR call");
        }
    }
}

/// What Baidu's refusal (or a failure to reach it) means for the request (and the queue).
async fn failed(held: &mut Held<'_>, mut holder: Holder<'_>, error: BaiduError) {
    let core = held.core;
    let shared = core.ocr();
    let pool = core.database().pool();
    let id = held.delivery.request_id;
    let code = match &error {
        BaiduError::Api { code, .. } => Some(*code),
        _ => None,
    };
    let text = error.to_string();
    // A call Baidu refused for reasons not the request's own is not an attempt (a failure to
    // fetch the token made no call at all).
    let called = matches!(error, BaiduError::Api { .. } | BaiduError::Http(_) | BaiduError::Malformed(_));
    match error.action() {
        ErrorAction::SlowDown => {
            // Not the request's fault and not an attempt: back in line, and everyone waits a moment.
            uncount(core, &mut holder, id, called).await;
            let _ = shared.limit.hold(SLOW_DOWN).await;
            tracing::info!(request = id, "Baidu's QPS cap answered 18; slowing down");
            requeue(held, holder).await;
        }
        ErrorAction::PauseUntilQuotaReset => {
            uncount(core, &mut holder, id, called).await;
            let until = next_midnight_shanghai(Utc::now());
            pause(core, PauseKind::Quota, format!("Baidu's daily quota is used up ({text})"), Some(until)).await;
            requeue(held, holder).await;
        }
        ErrorAction::PauseMisconfigured => {
            uncount(core, &mut holder, id, called).await;
            pause(core, PauseKind::Misconfigured, text, None).await;
            requeue(held, holder).await;
        }
        ErrorAction::DeadLetter => finish_dead(held, holder, &text, code).await,
        ErrorAction::Retry => {
            let attempts = holder.calls.max(1) as u32;
            if attempts >= core.config().ocr_max_attempts {
                let reason = format!("gave up after {attempts} attempts: {text}");
                finish_dead(held, holder, &reason, code).await;
                return;
            }
            let at = Utc::now() + backoff(core.config().ocr_backoff, attempts);
            tracing::info!(request = id, attempts, error = %text, "OCR call failed; retrying later");
            let step = || store::back_to_pending(pool, id, holder, Some(at), Some((&text, code)), Utc::now());
            if held.persist("schedule an OCR retry", false, step).await == Some(true) {
                held.settle(Some(at.timestamp_millis())).await;
                shared.wake.notify_one();
                announce(core, id).await;
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

/// Back to waiting at once (the stream), not counted as a failure; only while still the holder.
async fn requeue(held: &mut Held<'_>, holder: Holder<'_>) {
    let pool = held.core.database().pool();
    let id = held.delivery.request_id;
    let step = || store::back_to_pending(pool, id, holder, None, None, Utc::now());
    // Nothing paid for is at stake: when stopping or taken over, the message is left to the lease.
    if held.persist("requeue an OCR request", true, step).await == Some(true) {
        held.settle(Some(0)).await;
    }
}

async fn finish_dead(held: &mut Held<'_>, holder: Holder<'_>, reason: &str, code: Option<i64>) {
    let core = held.core;
    let pool = core.database().pool();
    let id = held.delivery.request_id;
    let step = || store::finish_dead(pool, id, holder, reason, code, Utc::now());
    if held.persist("dead-letter an OCR request", false, step).await == Some(true) {
        tracing::info!(request = id, reason, "OCR request dead-lettered");
        held.settle(None).await;
        announce(core, id).await;
    }
}

async fn pause(core: &Core, kind: PauseKind, reason: String, until: Option<DateTime<Utc>>) {
    let pause = OcrPause { kind, reason, since: Utc::now(), until };
    match kind {
        PauseKind::Misconfigured => tracing::error!(reason = %pause.reason, "OCR queue paused: configuration problem"),
        _ => tracing::warn!(reason = %pause.reason, until = ?pause.until, "OCR queue paused"),
    }
    // SQL first (the truth, which reconcile copies back after a flush), then the gate itself.
    if let Err(e) = store::set_pause(core.database(), Some(&pause), Utc::now()).await {
        tracing::warn!(error = %e, "cannot record the OCR pause in the database");
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
