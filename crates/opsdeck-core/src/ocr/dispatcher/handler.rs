//! One delivered message carried to its end: the row marked in flight, a slot of the global
//! limit taken, Baidu called, and the request settled by the answer (done, retried later,
//! dead-lettered, or back in line with the queue paused). Each call is recorded in the request's
//! history (`ocr_attempts`) before the request's own transition. A request staff cancelled is
//! never called: it is no longer pending when its message comes, so `start_call` refuses it.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::held::Held;
use super::{CALL_TIMEOUT, backoff, next_midnight_shanghai};
use crate::Core;
use crate::events::Event;
use crate::ocr::attempts::{self, NewAttempt};
use crate::ocr::baidu::{BaiduError, ErrorAction, Image};
use crate::ocr::model::{AttemptOutcome, Masked, OcrPause, OcrStatus, PauseKind, result_json};
use crate::ocr::queue::{self, Delivery};
use crate::ocr::store::{self, Holder};
use crate::ratelimit::Slot;

/// How long the limiter grants nothing after Baidu answered 18 (its own QPS cap).
const SLOW_DOWN: Duration = Duration::from_secs(1);

/// Carries one delivered message to its end (or back to waiting).
pub(super) async fn handle(core: &Core, delivery: Delivery) {
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
    if matches!(row.status, OcrStatus::Done | OcrStatus::Dead | OcrStatus::Cancelled) {
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
        failed(&mut held, holder, error, None).await;
        return;
    };

    let limit = shared.limit_for(core.config().ocr_qps);
    let mut stale: Option<secrecy::SecretString> = None;
    let answer = loop {
        // The token before the slot: after the grant only the call goes out.
        let token = match held.during(client.token(stale.as_ref().map(secrecy::ExposeSecret::expose_secret))).await {
            Ok(token) => token,
            Err(error) => {
                failed(&mut held, holder, error, None).await;
                return;
            }
        };
        let Some(calls) = take_slot(&mut held, &limit).await else {
            // Paused, shutting down or taken over: back to waiting (if still ours).
            requeue(&mut held, holder).await;
            return;
        };
        holder.calls = calls;
        let started = (Utc::now(), tokio::time::Instant::now());
        let call = tokio::time::timeout(CALL_TIMEOUT, client.call(&token, Image::Url(&row.url), row.side));
        let answer = match held.during(call).await {
            Ok(answer) => answer,
            Err(_) => Err(BaiduError::Transport(format!("no answer within {} s", CALL_TIMEOUT.as_secs()))),
        };
        let call = Call { key: attempts::call_key(), at: started.0, took: started.1.elapsed() };
        match answer {
            // 110/111: a new token and another slot, once.
            Err(e) if e.token_expired() && stale.is_none() => {
                record(&mut held, &call, AttemptOutcome::Retry, Some(&e)).await;
                stale = Some(token);
            }
            answer => break (answer, call),
        }
    };
    match answer {
        (Ok(card), call) => {
            record(&mut held, &call, AttemptOutcome::Ok, None).await;
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
        (Err(error), call) => failed(&mut held, holder, error, Some(&call)).await,
    }
}

/// One call made to Baidu: what its line in the history needs besides how it ended.
struct Call {
    key: String,
    at: DateTime<Utc>,
    took: Duration,
}

/// Records a call in the request's history (before the request's transition: a window told of
/// the transition finds it there). The message is the error's text, never the card.
async fn record(held: &mut Held<'_>, call: &Call, outcome: AttemptOutcome, error: Option<&BaiduError>) {
    let core = held.core;
    let message = error.map(ToString::to_string);
    let attempt = NewAttempt {
        request_id: held.delivery.request_id,
        call_key: &call.key,
        at: call.at,
        outcome,
        error_code: match error {
            Some(BaiduError::Api { code, .. }) => Some(*code),
            _ => None,
        },
        message: message.as_deref(),
        duration_ms: i64::try_from(call.took.as_millis()).unwrap_or(i64::MAX),
        instance: core.instance_id(),
    };
    held.persist("record an OCR call", false, || attempts::record(core.database(), &attempt)).await;
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

/// What Baidu's refusal (or a failure to reach it) means for the request (and the queue). `call`:
/// the call that failed, recorded in the history with what it led to (None: no call was made).
async fn failed(held: &mut Held<'_>, mut holder: Holder<'_>, error: BaiduError, call: Option<&Call>) {
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
    let dead = match error.action() {
        ErrorAction::DeadLetter => true,
        ErrorAction::Retry => holder.calls.max(1) as u32 >= core.config().ocr_max_attempts,
        _ => false,
    };
    if let Some(call) = call {
        let outcome = if dead { AttemptOutcome::Dead } else { AttemptOutcome::Retry };
        record(held, call, outcome, Some(&error)).await;
    }
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
