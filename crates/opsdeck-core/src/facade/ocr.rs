//! The OCR queue's part of the facade: submit, look up by URL, list, reveal, retry, cancel, a
//! request's calls, purge, pause, resume, change the cap, the live figures, and reconcile. Input is validated here;
//! every staff action is audited.

use chrono::Utc;
use serde::Serialize;
use serde_json::json;

use super::{Core, MAX_PAGE};
use crate::accounts::Actor;
use crate::audit::NewAuditEntry;
use crate::error::{ApiError, ErrorCode};
use crate::events::Event;
use crate::ocr::attempts;
use crate::ocr::baidu::{IdCardFields, IdCardFront, Side};
use crate::ocr::listing;
use crate::ocr::model::Masked;
use crate::ocr::model::{
    CancelOutcome, OcrAttempt, OcrLookup, OcrPage, OcrPause, OcrQuery, OcrRequest, OcrStats, OcrStatus, OcrSubmitted,
    PauseKind, RetryOutcome, masked_result_json, result_json,
};
use crate::ocr::store::{self, NewRequest};

/// The longest image URL accepted.
pub const MAX_URL_LEN: usize = 2048;
/// The highest cap staff may set (Baidu's add-on packs go to 100 per interface).
pub const MAX_CAP: f64 = 1000.0;
/// The most requests one retry (or cancel) may name.
const MAX_RETRY: usize = 1000;
/// The longest text searched for in errors.
const MAX_ERROR_SEARCH: usize = 200;
/// A request touched this recently is left alone by reconcile (its submission may be on its way
/// to Redis right now).
const RECONCILE_GRACE: chrono::Duration = chrono::Duration::seconds(10);

/// What one reconcile pass repaired.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Unfinished requests Redis had lost, enqueued again.
    pub requeued: u64,
    /// Kept results Redis had lost, written again.
    pub results_restored: u64,
    /// Run-time controls (the cap staff set, a pause) Redis had lost or held differently from
    /// the database, written again.
    pub controls_restored: u64,
}

/// Checks an image URL: http(s), with a host, no spaces, at most [`MAX_URL_LEN`].
pub fn validate_image_url(url: &str) -> Result<String, ApiError> {
    // `reason` is a word the console's catalogues translate (`errors.values.reason`); the URL
    // library's own text stays out of it.
    let bad = |reason: &str, message: String| {
        ApiError::coded(ErrorCode::ImageUrlInvalid, message)
            .field("url")
            .param("reason", reason)
            .param("example", "https://shop.example.com/id/front.jpg")
    };
    let trimmed = url.trim();
    if trimmed.is_empty() {
        return Err(bad("empty", "the image URL is empty".into()));
    }
    if trimmed.len() > MAX_URL_LEN {
        return Err(bad("too_long", format!("the image URL is longer than {MAX_URL_LEN} characters")));
    }
    if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("spaces", "the image URL contains spaces or control characters".into()));
    }
    let parsed = url::Url::parse(trimmed).map_err(|e| bad("not_url", format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad(
            "scheme",
            format!("only http and https image URLs can be recognised, not {}:", parsed.scheme()),
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("no_host", "the image URL has no host".into()));
    }
    Ok(trimmed.to_string())
}

impl Core {
    /// Queues an image for recognition. A URL already recognised answers with its kept result
    /// at once; one still waiting answers with that request (no second call is made); a dead
    /// one is tried again.
    pub async fn ocr_submit(&self, url: &str, side: Side) -> Result<OcrSubmitted, ApiError> {
        let url = validate_image_url(url)?;
        let (submitted, revived) = self.ocr().submitter.submit(NewRequest { url, side }).await?;
        if !submitted.existing || revived.is_some() {
            self.announce_request(submitted.request_id).await;
        }
        Ok(submitted)
    }

    /// [`Core::ocr_submit`] by a staff member from the console (audited); a kept result comes
    /// back masked like every card the console sees.
    pub async fn ocr_submit_by(&self, url: &str, side: Side, actor: &Actor) -> Result<OcrSubmitted, ApiError> {
        actor.require_operator("submit OCR requests")?;
        let who = actor.name.as_str();
        let mut submitted = self.ocr_submit(url, side).await?;
        submitted.result = submitted.result.map(masked_result_json);
        let details = json!({ "url": url.trim(), "side": side, "existing": submitted.existing });
        self.record_audit(NewAuditEntry {
            who,
            action: "ocr.submit",
            target: &format!("ocr:{}", submitted.request_id),
            detail: Some(details),
        })
        .await?;
        Ok(submitted)
    }

    /// Status and result of an image URL (what the shop's page polled). The kept result comes
    /// from Redis when it is there, else from SQL.
    pub async fn ocr_lookup(&self, url: &str) -> Result<Option<OcrLookup>, ApiError> {
        let url = validate_image_url(url)?;
        let Some(request) = store::get_by_url(self.database().pool(), &url).await? else {
            return Ok(None);
        };
        let result = match (request.status, &request.result) {
            (OcrStatus::Done, Some(card)) => match self.ocr().queue.result(&url).await {
                Ok(Some(kept)) => Some(kept),
                _ => Some(result_json(request.id, card)),
            },
            _ => None,
        };
        Ok(Some(OcrLookup { request_id: request.id, url, status: request.status, result, error: request.error }))
    }

    /// A page of requests (newest first unless sorted); card data masked (any staff member).
    pub async fn ocr_list(&self, query: OcrQuery, actor: &Actor) -> Result<OcrPage, ApiError> {
        self.require_reader(actor).await?;
        if query.limit == 0 || query.limit > MAX_PAGE {
            return Err(ApiError::out_of_range("limit", 1, MAX_PAGE));
        }
        if query.search.as_ref().is_some_and(|s| s.len() > MAX_URL_LEN) {
            return Err(ApiError::coded(ErrorCode::TextTooLong, "the search is too long")
                .field("search")
                .param("max", MAX_URL_LEN));
        }
        if query.error.as_ref().is_some_and(|s| s.chars().count() > MAX_ERROR_SEARCH) {
            return Err(ApiError::coded(ErrorCode::TextTooLong, "the error search is too long")
                .field("error")
                .param("max", MAX_ERROR_SEARCH));
        }
        if let (Some(from), Some(to)) = (query.from, query.to)
            && from > to
        {
            return Err(ApiError::coded(ErrorCode::RangeReversed, "from must not be after to").field("from"));
        }
        let (requests, total) = listing::list(self.database().pool(), &query).await?;
        Ok(OcrPage { requests: requests.into_iter().map(OcrRequest::masked).collect(), total })
    }

    /// One request; its card data masked (any staff member).
    pub async fn ocr_get(&self, id: i64, actor: &Actor) -> Result<OcrRequest, ApiError> {
        self.require_reader(actor).await?;
        Ok(self.request(id).await?.masked())
    }

    async fn request(&self, id: i64) -> Result<OcrRequest, ApiError> {
        store::get(self.database().pool(), id).await?.ok_or_else(|| {
            ApiError::coded(ErrorCode::OcrRequestNotFound, format!("no OCR request {id}")).param("id", id)
        })
    }

    /// The portrait side's fields in full (name, ID number, birth date, address), for an
    /// operator who asked to see them (the role as it is now; audited; the data itself never
    /// goes to the audit log or the logs).
    pub async fn ocr_reveal(&self, id: i64, actor: &Actor) -> Result<IdCardFront, ApiError> {
        let actor = self.current_actor(actor).await?;
        actor.require_operator("reveal ID card data")?;
        let who = actor.name.as_str();
        let request = self.request(id).await?;
        let front = match request.result.map(|card| card.fields) {
            Some(IdCardFields::Front(front)) => front,
            Some(IdCardFields::Back(_)) => {
                return Err(ApiError::coded(
                    ErrorCode::OcrBackSide,
                    "the back side of an ID card carries no ID number",
                ));
            }
            None => {
                return Err(
                    ApiError::coded(ErrorCode::OcrNoResult, format!("request {id} has no result yet")).param("id", id)
                );
            }
        };
        self.record_audit(NewAuditEntry {
            who,
            action: "ocr.reveal",
            target: &format!("ocr:{id}"),
            detail: Some(json!({ "url": request.url, "fields": ["name", "id_number", "birth_date", "address"] })),
        })
        .await?;
        Ok(front)
    }

    /// Sends dead requests back to the queue with a fresh count of attempts. Requests that are
    /// not dead (any more) are skipped, so a double click retries once.
    pub async fn ocr_retry(&self, ids: &[i64], actor: &Actor) -> Result<RetryOutcome, ApiError> {
        actor.require_operator("retry OCR requests")?;
        let who = actor.name.as_str();
        if ids.is_empty() || ids.len() > MAX_RETRY {
            return Err(ApiError::coded(
                ErrorCode::OcrRetryCount,
                format!("retry 1 to {MAX_RETRY} requests at a time"),
            )
            .field("ids")
            .param("min", 1)
            .param("max", MAX_RETRY));
        }
        let mut unique = ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let revived = store::revive(self.database().pool(), &unique, false, Utc::now()).await?;
        let items: Vec<(i64, i64)> = revived.iter().map(|id| (*id, 0)).collect();
        let queue = &self.ocr().queue;
        let enqueued = async { queue.forget_started(&revived).await.and(queue.enqueue(&items).await) };
        if let Err(e) = enqueued.await {
            // Pending in SQL: reconcile enqueues them once Redis answers.
            tracing::warn!(error = %e, "cannot enqueue retried OCR requests; reconcile will");
        }
        let outcome = RetryOutcome { retried: revived.len() as u64, skipped: (unique.len() - revived.len()) as u64 };
        self.record_audit(NewAuditEntry {
            who,
            action: "ocr.retry",
            target: "ocr",
            detail: Some(json!({ "requested": unique, "retried": revived })),
        })
        .await?;
        for id in revived {
            self.announce_request(id).await;
        }
        self.publish_ocr_stats().await;
        Ok(outcome)
    }

    /// Deletes every dead request and its calls' history (staff confirmed it); returns how many.
    pub async fn ocr_purge_dead(&self, actor: &Actor) -> Result<u64, ApiError> {
        actor.require_operator("purge dead OCR requests")?;
        let who = actor.name.as_str();
        let purged = store::purge_dead(self.database().pool()).await?;
        self.record_audit(NewAuditEntry {
            who,
            action: "ocr.purge_dead",
            target: "ocr",
            detail: Some(json!({ "purged": purged })),
        })
        .await?;
        self.publish_ocr_stats().await;
        Ok(purged)
    }

    /// Changes the calls-per-second cap for every instance, at once.
    pub async fn ocr_set_cap(&self, cap: f64, actor: &Actor) -> Result<OcrStats, ApiError> {
        actor.require_operator("change the OCR cap")?;
        let who = actor.name.as_str();
        if !cap.is_finite() || !(0.1..=MAX_CAP).contains(&cap) {
            return Err(ApiError::coded(
                ErrorCode::OcrCapOutOfRange,
                format!("the cap must be from 0.1 to {MAX_CAP} calls per second"),
            )
            .field("cap")
            .param("min", 0.1)
            .param("max", MAX_CAP));
        }
        let before = store::controls(self.database().pool()).await?.cap;
        // The database first (the truth, which reconcile copies back after a flush).
        store::set_cap(self.database(), Some(cap), Utc::now()).await?;
        self.ocr().queue.set_cap(cap).await?;
        self.record_audit(NewAuditEntry {
            who,
            action: "ocr.set_cap",
            target: "ocr",
            detail: Some(json!({ "from": before.unwrap_or(self.config().ocr_qps), "to": cap })),
        })
        .await?;
        self.publish_ocr_stats().await;
        self.ocr_figures().await
    }

    /// Stops calling Baidu until resumed (requests keep waiting).
    pub async fn ocr_pause(&self, actor: &Actor) -> Result<OcrStats, ApiError> {
        actor.require_operator("pause the OCR queue")?;
        let who = actor.name.as_str();
        let pause =
            OcrPause { kind: PauseKind::Manual, reason: format!("paused by {who}"), since: Utc::now(), until: None };
        store::set_pause(self.database(), Some(&pause), Utc::now()).await?;
        self.ocr().queue.set_pause(&pause).await?;
        self.record_audit(NewAuditEntry { who, action: "ocr.pause", target: "ocr", detail: Some(json!({})) }).await?;
        self.publish_ocr_stats().await;
        self.ocr_figures().await
    }

    /// Calls Baidu again (after any pause: staff, quota, configuration).
    pub async fn ocr_resume(&self, actor: &Actor) -> Result<OcrStats, ApiError> {
        actor.require_operator("resume the OCR queue")?;
        let who = actor.name.as_str();
        let was = store::controls(self.database().pool()).await?.pause.or(self.ocr().queue.pause().await?);
        store::set_pause(self.database(), None, Utc::now()).await?;
        self.ocr().queue.clear_pause().await?;
        self.ocr().wake.notify_one();
        self.ocr().resumed.notify_one();
        self.record_audit(NewAuditEntry {
            who,
            action: "ocr.resume",
            target: "ocr",
            detail: Some(json!({ "was": was.map(|p| p.kind) })),
        })
        .await?;
        self.publish_ocr_stats().await;
        self.ocr_figures().await
    }

    /// The live figures: counts, cap, calls per second, time to drain, pause (any staff member).
    pub async fn ocr_stats(&self, actor: &Actor) -> Result<OcrStats, ApiError> {
        self.require_reader(actor).await?;
        self.ocr_figures().await
    }

    /// [`Core::ocr_stats`] for the core's own use (the pushed figures, the Overview).
    pub(crate) async fn ocr_figures(&self) -> Result<OcrStats, ApiError> {
        let queue = &self.ocr().queue;
        let counts = store::counts(self.database().pool()).await?;
        let (override_cap, calls, pause) = tokio::try_join!(queue.cap(), queue.calls(60), queue.pause())?;
        let cap = override_cap.unwrap_or(self.config().ocr_qps);
        let waiting = counts.pending + counts.in_flight;
        Ok(OcrStats {
            counts,
            cap,
            cap_source: if override_cap.is_some() { "console" } else { "config" }.into(),
            calls,
            drain_seconds: (waiting > 0).then(|| waiting as f64 / cap),
            pause,
            sandbox: self.config().baidu_sandbox,
        })
    }

    /// Puts back into Redis what it lost: the run-time controls (first, so that a paused queue
    /// stays paused), unfinished requests it no longer knows (after a restart without
    /// persistence, a flush) and kept results still within their TTL.
    pub async fn ocr_reconcile(&self) -> Result<ReconcileReport, ApiError> {
        let queue = &self.ocr().queue;
        let pool = self.database().pool();
        let mut report =
            ReconcileReport { controls_restored: self.restore_ocr_controls().await?, ..Default::default() };
        queue.ensure_group().await?;
        let now = Utc::now();
        let mut after = 0;
        loop {
            let rows = store::unfinished(pool, now - RECONCILE_GRACE, after, 500).await?;
            let Some(last) = rows.last() else { break };
            after = last.0;
            let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
            let known = queue.known(&ids).await?;
            let lost: Vec<(i64, i64)> = rows
                .iter()
                .zip(known)
                .filter(|(_, known)| !known)
                .map(|(r, _)| (r.0, r.3.map_or(0, |at| at.timestamp_millis())))
                .collect();
            report.requeued += queue.enqueue(&lost).await?;
        }
        let ttl = chrono::Duration::from_std(self.config().ocr_result_ttl).unwrap_or_default();
        let mut after = 0;
        loop {
            let rows = store::done_since(pool, now - ttl, after, 500).await?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            // One round trip per page, not per row.
            let urls: Vec<&str> = rows.iter().map(|r| r.url.as_str()).collect();
            let kept = queue.have_results(&urls).await?;
            for (request, kept) in rows.iter().zip(kept) {
                let (Some(card), Some(finished), false) = (&request.result, request.finished_at, kept) else {
                    continue;
                };
                let left = (finished + ttl - now).to_std().unwrap_or_default();
                queue.put_result(&request.url, &result_json(request.id, card), left).await?;
                report.results_restored += 1;
            }
        }
        if report != ReconcileReport::default() {
            tracing::info!(
                requeued = report.requeued,
                results = report.results_restored,
                controls = report.controls_restored,
                "OCR queue reconciled"
            );
            self.ocr().wake.notify_one();
            self.publish_ocr_stats().await;
        }
        Ok(report)
    }

    /// Makes Redis's copy of the cap and the pause what the database says; returns how many of
    /// the two it changed.
    async fn restore_ocr_controls(&self) -> Result<u64, ApiError> {
        let queue = &self.ocr().queue;
        let wanted = store::controls(self.database().pool()).await?;
        let now = Utc::now();
        // A pause that ended by itself (the quota reset) is no pause.
        let pause = wanted.pause.filter(|p| p.until.is_none_or(|until| until > now));
        let (cap, held) = tokio::try_join!(queue.cap(), queue.pause())?;
        let mut restored = 0;
        if cap != wanted.cap {
            match wanted.cap {
                Some(cap) => queue.set_cap(cap).await?,
                None => queue.clear_cap().await?,
            }
            restored += 1;
        }
        if held != pause {
            match &pause {
                Some(pause) => queue.set_pause(pause).await?,
                None => {
                    queue.clear_pause().await?;
                    self.ocr().resumed.notify_one();
                }
            }
            tracing::warn!(paused = pause.is_some(), "the OCR pause in Redis differed from the database; restored");
            restored += 1;
        }
        Ok(restored)
    }

    async fn announce_request(&self, id: i64) {
        if let Ok(Some(request)) = store::get(self.database().pool(), id).await {
            self.publish(Event::OcrUpdated { request: request.masked() });
        }
        self.ocr().changed.notify_one();
    }

    /// Publishes the live figures now (after a change).
    pub(crate) async fn publish_ocr_stats(&self) {
        match self.ocr_figures().await {
            Ok(stats) => self.publish(Event::OcrStats { stats }),
            Err(e) => tracing::debug!(error = %e, "cannot compute the OCR figures"),
        }
    }
}

impl Core {
    /// Cancels pending requests: they are never called (an instance that reads one finds it
    /// cancelled). Requests not pending (any more: an instance took it, it finished, it was
    /// cancelled already) are skipped, so a double click cancels once. Submitting the URL again
    /// starts it afresh.
    pub async fn ocr_cancel(&self, ids: &[i64], actor: &Actor) -> Result<CancelOutcome, ApiError> {
        let actor = self.current_actor(actor).await?;
        actor.require_operator(opsdeck_api::Operation::OcrCancel.action())?;
        let who = actor.name.as_str();
        if ids.is_empty() || ids.len() > MAX_RETRY {
            return Err(ApiError::coded(
                ErrorCode::OcrCancelCount,
                format!("cancel 1 to {MAX_RETRY} requests at a time"),
            )
            .field("ids")
            .param("min", 1)
            .param("max", MAX_RETRY));
        }
        let mut unique = ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let cancelled = store::cancel(self.database().pool(), &unique, Utc::now()).await?;
        // Out of the retry schedule too; a message in the stream is skipped when read. Redis
        // being away changes nothing that matters: the row decides.
        if let Err(e) = self.ocr().queue.withdraw(&cancelled).await {
            tracing::warn!(error = %e, "cannot withdraw cancelled OCR requests from the retry schedule");
        }
        let outcome =
            CancelOutcome { cancelled: cancelled.len() as u64, skipped: (unique.len() - cancelled.len()) as u64 };
        self.record_audit(NewAuditEntry {
            who,
            action: "ocr.cancel",
            target: "ocr",
            detail: Some(json!({ "requested": unique, "cancelled": cancelled, "skipped": outcome.skipped })),
        })
        .await?;
        for id in cancelled {
            self.announce_request(id).await;
        }
        self.publish_ocr_stats().await;
        Ok(outcome)
    }

    /// A request's calls to Baidu, oldest first (any staff member). No card data: a call's
    /// message is its error's text.
    pub async fn ocr_attempts(&self, id: i64, actor: &Actor) -> Result<Vec<OcrAttempt>, ApiError> {
        self.require_reader(actor).await?;
        self.request(id).await?;
        Ok(attempts::of_request(self.database().pool(), id).await?)
    }
}
