//! Cancelling pending OCR requests (never called afterwards, audited, role-checked, idempotent,
//! started afresh when submitted again) and each request's history of calls to Baidu.

use std::time::Duration;

use opsdeck_api::accounts::{ProviderKey, Role};
use opsdeck_api::ocr::AttemptOutcome;
use opsdeck_api::{ErrorBody, Event, Ops, SessionToken};
use opsdeck_core::ocr::baidu::Side;
use opsdeck_core::ocr::model::OcrStatus;
use opsdeck_core::{Actor, Core};
use opsdeck_sandbox::baidu::{BaiduConfig, FakeBaidu};
use sqlx::Row;

use crate::helpers::{redis_url, unique, until};
use crate::ocr::{counts, fake, start, url};
use crate::session::user;

fn fast_fake() -> BaiduConfig {
    BaiduConfig { qps: 1000, latency: Duration::from_millis(5), ..BaiduConfig::default() }
}

async fn session(core: &Core, role: Role) -> SessionToken {
    let id = user(core, &unique(role.as_str()), Some(role)).await;
    core.open_session_for(id, ProviderKey::Weibo).await.unwrap()
}

fn calls_for(baidu: &FakeBaidu, image: &str) -> usize {
    baidu.arrivals().iter().filter(|a| a.url.as_deref() == Some(image)).count()
}

async fn status_of(core: &Core, id: i64) -> OcrStatus {
    core.ocr_get(id, &Actor::system("tester")).await.unwrap().status
}

async fn until_status(core: &Core, id: i64, want: OcrStatus) {
    until(&format!("request {id} becomes {want:?}"), || async { (status_of(core, id).await == want).then_some(()) })
        .await;
}

/// Redis holds nothing more for the queue to read: the stream is read and every message
/// acknowledged (a cancelled request's message has been read and dropped).
async fn until_stream_drained(core: &Core) {
    let prefix = core.config().redis_prefix.clone();
    let redis = redis::Client::open(redis_url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    until("the OCR stream is read to its end and acknowledged", || {
        let mut redis = redis.clone();
        let stream = format!("{prefix}:ocr:stream");
        async move {
            let len: u64 = redis::cmd("XLEN").arg(&stream).query_async(&mut redis).await.unwrap();
            (len == 0).then_some(())
        }
    })
    .await;
}

/// The audit entries of `action`, oldest first: (who, detail).
async fn audited(core: &Core, action: &str) -> Vec<(String, serde_json::Value)> {
    sqlx::query("SELECT who, detail FROM audit_log WHERE action = ? ORDER BY id")
        .bind(action)
        .fetch_all(core.database().pool())
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let detail: String = r.get("detail");
            (r.get("who"), serde_json::from_str(&detail).unwrap())
        })
        .collect()
}

#[tokio::test]
async fn a_cancelled_pending_request_is_never_called_and_a_second_cancel_skips_it() {
    let dir = tempfile::tempdir().unwrap();
    let baidu = fake(fast_fake()).await;
    let core = start(dir.path(), &redis_url(), &unique("t"), &baidu, &[]).await;
    let operator = session(&core, Role::Operator).await;
    let mut events = core.subscribe();
    // Paused, so both stay pending (in the stream) until the cancel is done.
    core.ocr_pause(&Actor::system("tester")).await.unwrap();
    let (cancelled_url, kept_url) = (url("cancel-me"), url("keep-me"));
    let cancelled = core.ocr_submit(&cancelled_url, Side::Front).await.unwrap().request_id;
    let kept = core.ocr_submit(&kept_url, Side::Front).await.unwrap().request_id;

    let outcome = Ops::ocr_cancel(&core, &operator, vec![cancelled, cancelled]).await.unwrap();
    assert_eq!((outcome.cancelled, outcome.skipped), (1, 0), "the same id twice is one request");
    assert_eq!(status_of(&core, cancelled).await, OcrStatus::Cancelled);
    let figures = counts(&core).await;
    assert_eq!((figures.cancelled, figures.pending), (1, 1));
    // The console hears of it: the request, then the figures.
    until("an ocr_updated event saying the request is cancelled", || {
        let got = match events.try_recv() {
            Ok(Event::OcrUpdated { request }) => {
                (request.id == cancelled && request.status == OcrStatus::Cancelled).then_some(())
            }
            _ => None,
        };
        std::future::ready(got)
    })
    .await;
    until("ocr_stats counting the cancelled request", || {
        let got = match events.try_recv() {
            Ok(Event::OcrStats { stats }) => (stats.counts.cancelled == 1).then_some(()),
            _ => None,
        };
        std::future::ready(got)
    })
    .await;

    // A double click cancels once.
    let again = Ops::ocr_cancel(&core, &operator, vec![cancelled]).await.unwrap();
    assert_eq!((again.cancelled, again.skipped), (0, 1));
    let entries = audited(&core, "ocr.cancel").await;
    assert_eq!(entries.len(), 2, "each cancel is audited, the one that changed nothing too");
    assert!(entries[0].0.contains("operator"), "the operator is named: {}", entries[0].0);
    assert_eq!(entries[0].1["requested"], serde_json::json!([cancelled]));
    assert_eq!(entries[0].1["cancelled"], serde_json::json!([cancelled]));
    assert_eq!(entries[1].1["cancelled"], serde_json::json!([]));
    assert_eq!(entries[1].1["skipped"], 1);

    // Resumed: the other is recognised, and the cancelled one's message is read and dropped.
    core.ocr_resume(&Actor::system("tester")).await.unwrap();
    until_status(&core, kept, OcrStatus::Done).await;
    until_stream_drained(&core).await;
    assert_eq!(calls_for(&baidu, &cancelled_url), 0, "no call for a cancelled request");
    assert_eq!(status_of(&core, cancelled).await, OcrStatus::Cancelled);
    assert!(core.ocr_attempts(cancelled, &Actor::system("tester")).await.unwrap().is_empty());

    // Submitted again, it starts afresh.
    let back = core.ocr_submit(&cancelled_url, Side::Front).await.unwrap();
    assert_eq!((back.request_id, back.status), (cancelled, OcrStatus::Pending));
    until_status(&core, cancelled, OcrStatus::Done).await;
    assert_eq!(calls_for(&baidu, &cancelled_url), 1);
    core.shutdown().await;
}

#[tokio::test]
async fn a_cancelled_retry_leaves_the_retry_schedule_and_a_viewer_cannot_cancel() {
    let dir = tempfile::tempdir().unwrap();
    let baidu = fake(fast_fake()).await;
    let prefix = unique("t");
    // A retry a minute away: it waits in Redis's retry schedule, pending, when cancelled.
    let core = start(dir.path(), &redis_url(), &prefix, &baidu, &[("ocr_backoff_ms", "120000".into())]).await;
    let image = format!("{}?fail=282000&times=1", url("flaky"));
    let id = core.ocr_submit(&image, Side::Front).await.unwrap().request_id;
    until("the first call failed and a retry is scheduled", || async {
        let request = core.ocr_get(id, &Actor::system("tester")).await.unwrap();
        (request.status == OcrStatus::Pending && request.next_attempt_at.is_some()).then_some(())
    })
    .await;
    let mut redis = redis::Client::open(redis_url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let scheduled = || {
        let mut redis = redis.clone();
        let key = format!("{prefix}:ocr:delayed");
        async move { redis::cmd("ZSCORE").arg(key).arg(id).query_async::<Option<f64>>(&mut redis).await.unwrap() }
    };
    assert!(scheduled().await.is_some(), "the retry waits in the schedule");

    let viewer = session(&core, Role::Viewer).await;
    let refused: ErrorBody = Ops::ocr_cancel(&core, &viewer, vec![id]).await.unwrap_err();
    assert_eq!(refused.code, "forbidden");
    assert_eq!(status_of(&core, id).await, OcrStatus::Pending, "a viewer changes nothing");
    assert!(audited(&core, "ocr.cancel").await.is_empty(), "nor is anything audited");

    let none: ErrorBody = core.ocr_cancel(&[], &Actor::system("tester")).await.unwrap_err().into();
    assert_eq!((none.code.as_str(), none.field.as_deref()), ("ocr_cancel_count", Some("ids")));

    let outcome = core.ocr_cancel(&[id], &Actor::system("tester")).await.unwrap();
    assert_eq!((outcome.cancelled, outcome.skipped), (1, 0));
    assert_eq!(scheduled().await, None, "out of the retry schedule");
    let known: bool =
        redis::cmd("SISMEMBER").arg(format!("{prefix}:ocr:known")).arg(id).query_async(&mut redis).await.unwrap();
    assert!(!known, "Redis forgets it, so a new submission enqueues it again");
    assert_eq!(calls_for(&baidu, &image), 1);

    // Submitted again: afresh (its attempts count from 0), and called at once.
    core.ocr_submit(&image, Side::Front).await.unwrap();
    until_status(&core, id, OcrStatus::Done).await;
    let done = core.ocr_get(id, &Actor::system("tester")).await.unwrap();
    assert_eq!((done.attempts, calls_for(&baidu, &image)), (1, 2));
    // The history keeps both calls: the one before the cancel and the one after.
    let history = core.ocr_attempts(id, &Actor::system("tester")).await.unwrap();
    let outcomes: Vec<_> = history.iter().map(|a| (a.attempt, a.outcome, a.error_code)).collect();
    assert_eq!(outcomes, [(1, AttemptOutcome::Retry, Some(282000)), (2, AttemptOutcome::Ok, None)]);
    core.shutdown().await;
}

#[tokio::test]
async fn a_request_in_flight_or_done_is_not_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    // Each call takes 1.5 s: long enough to cancel while it is in flight.
    let baidu = fake(BaiduConfig { latency: Duration::from_millis(1500), ..fast_fake() }).await;
    let core = start(dir.path(), &redis_url(), &unique("t"), &baidu, &[]).await;
    let image = url("busy");
    let id = core.ocr_submit(&image, Side::Back).await.unwrap().request_id;
    until_status(&core, id, OcrStatus::InFlight).await;
    let outcome = core.ocr_cancel(&[id], &Actor::system("tester")).await.unwrap();
    assert_eq!((outcome.cancelled, outcome.skipped), (0, 1), "an instance took it: it finishes");
    until_status(&core, id, OcrStatus::Done).await;
    let outcome = core.ocr_cancel(&[id], &Actor::system("tester")).await.unwrap();
    assert_eq!((outcome.cancelled, outcome.skipped), (0, 1));
    assert_eq!(status_of(&core, id).await, OcrStatus::Done);
    assert_eq!(calls_for(&baidu, &image), 1);
    core.shutdown().await;
}

#[tokio::test]
async fn every_call_is_in_the_history_with_its_outcome_and_code_and_purging_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let baidu = fake(fast_fake()).await;
    let core = start(dir.path(), &redis_url(), &unique("t"), &baidu, &[("ocr_max_attempts", "3".into())]).await;
    let staff = Actor::system("tester");
    let submit = |stem: &str, query: &str| {
        let core = core.clone();
        let image = format!("{}?{query}", url(stem));
        async move { core.ocr_submit(&image, Side::Front).await.unwrap().request_id }
    };
    // Transient for ever: retried, then given up.
    let broken = submit("broken", "fail=282000").await;
    until_status(&core, broken, OcrStatus::Dead).await;
    let history = core.ocr_attempts(broken, &staff).await.unwrap();
    let outcomes: Vec<_> = history.iter().map(|a| (a.attempt, a.outcome, a.error_code)).collect();
    assert_eq!(
        outcomes,
        [
            (1, AttemptOutcome::Retry, Some(282000)),
            (2, AttemptOutcome::Retry, Some(282000)),
            (3, AttemptOutcome::Dead, Some(282000))
        ]
    );
    for attempt in &history {
        assert!(attempt.message.as_deref().is_some_and(|m| m.contains("282000")), "{attempt:?}");
        assert_eq!(attempt.instance.as_deref(), Some(core.instance_id()));
        assert!(attempt.duration_ms.is_some_and(|d| d >= 0), "{attempt:?}");
    }
    assert!(history.windows(2).all(|w| w[0].at <= w[1].at), "oldest first");

    // A success: one line, no code, no message (never card data).
    let fine = submit("fine", "x=1").await;
    until_status(&core, fine, OcrStatus::Done).await;
    let history = core.ocr_attempts(fine, &staff).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].outcome, history[0].error_code, history[0].message.as_deref()),
        (AttemptOutcome::Ok, None, None)
    );
    let card = core.ocr_reveal(fine, &staff).await.unwrap();
    let stored: Vec<String> = sqlx::query_scalar("SELECT COALESCE(message, '') FROM ocr_attempts")
        .fetch_all(core.database().pool())
        .await
        .unwrap();
    assert!(stored.iter().all(|m| !m.contains(&card.id_number) && !m.contains(&card.name)), "no card data: {stored:?}");

    // Refused at once, then retried by staff and recognised: both calls, the retry's attempts afresh.
    let bad = submit("bad", "fail=216201&times=1").await;
    until_status(&core, bad, OcrStatus::Dead).await;
    core.ocr_retry(&[bad], &staff).await.unwrap();
    until_status(&core, bad, OcrStatus::Done).await;
    let history = core.ocr_attempts(bad, &staff).await.unwrap();
    let outcomes: Vec<_> = history.iter().map(|a| (a.attempt, a.outcome, a.error_code)).collect();
    assert_eq!(outcomes, [(1, AttemptOutcome::Dead, Some(216201)), (2, AttemptOutcome::Ok, None)]);
    assert!(history[0].message.as_deref().is_some_and(|m| m.contains("image format error")));
    assert_eq!(core.ocr_get(bad, &staff).await.unwrap().attempts, 1);

    // Purging the dead deletes their history with them; the others keep theirs.
    assert_eq!(core.ocr_purge_dead(&staff).await.unwrap(), 1);
    let gone: ErrorBody = core.ocr_attempts(broken, &staff).await.unwrap_err().into();
    assert_eq!(gone.code, "ocr_request_not_found");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ocr_attempts WHERE request_id = ?")
        .bind(broken)
        .fetch_one(core.database().pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert_eq!(core.ocr_attempts(bad, &staff).await.unwrap().len(), 2);
    core.shutdown().await;
}
