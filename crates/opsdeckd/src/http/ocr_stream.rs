//! `GET /api/ocr/stream?url=…`: the push alternative to polling `GET /api/ocr` (server-sent
//! events, API token). One message, the request's final state in the same JSON as `GET /api/ocr`
//! answers, as soon as it is `done` or `dead` (at once when it already is), then the stream
//! closes; heartbeat comments meanwhile.
//!
//! The core's events are subscribed to before the URL is looked up, so a result landing in
//! between is not missed. An `ocr_updated` event of this request to a final state triggers a
//! fresh look-up (the event's card data is masked; the look-up's is the shop's). Events are per
//! process: a request another instance recognises is seen by looking again every [`RECHECK`].

use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use axum::response::sse::Event as SseEvent;
use futures_util::{StreamExt, stream};
use opsdeck_api::Event;
use opsdeck_api::ocr::{OcrLookup, OcrStatus};
use opsdeck_core::{ApiError, Core, EventReceiver};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;

use super::AppState;
use super::auth::Authorized;
use super::error::HttpError;
use super::events::stream_response;
use super::extract::ApiQuery;
use super::openapi::{BadRequest, Internal, NotFound, Unauthorized, Unavailable};
use super::serve::Closing;

/// How often a waiting stream looks the request up again: a result reached by another
/// instance (whose events this process does not see), or an event missed by falling behind.
pub const RECHECK: Duration = Duration::from_secs(2);

/// The query of `GET /api/ocr/stream`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OcrStreamQuery {
    /// The image URL as submitted.
    #[param(pattern = r"^\s*[Hh][Tt][Tt][Pp][Ss]?:")]
    url: String,
}

/// The result of an image URL, pushed
///
/// Server-sent events (`text/event-stream`): one message whose `data` is the request's final
/// state, the same JSON as `GET /api/ocr` answers (`status` `done` with `result`, or `dead` with
/// `error`), sent as soon as it exists (at once when it already does), then the stream closes.
/// Meanwhile a comment line (`:`) every `events_heartbeat_ms` (at most 15 s). A stream that
/// closes without a message (the server stopped, the connection's lifetime of 10 minutes is
/// over, or the request was purged meanwhile): ask again. 404 when the URL was never submitted.
#[utoipa::path(
    get, path = "/api/ocr/stream", tag = "ocr", operation_id = "ocrStream",
    security(("bearerAuth" = [])),
    params(OcrStreamQuery),
    responses(
        (status = 200, description = "The stream: one message with the final state (`OcrLookup`), then the end.",
            content_type = "text/event-stream", body = OcrLookup),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub async fn ocr_stream(
    _: Authorized,
    State(state): State<AppState>,
    closing: Option<Extension<Closing>>,
    ApiQuery(query): ApiQuery<OcrStreamQuery>,
) -> Result<Response, HttpError> {
    // Before the look-up: whatever lands after it is seen on the events.
    let events = state.core.subscribe();
    let Some(lookup) = state.core.ocr_lookup(&query.url).await? else {
        return Err(ApiError::NotFound("no OCR request for this URL".into()).into());
    };
    let wait = Wait { core: state.core.clone(), events, url: lookup.url.clone(), request_id: lookup.request_id };
    let closed = async move {
        match closing {
            Some(Extension(closing)) => closing.wait().await,
            None => std::future::pending().await,
        }
    };
    let messages = stream::once(wait.until_final(lookup))
        .filter_map(|last| std::future::ready(last.and_then(|lookup| message(&lookup))))
        .map(Ok)
        .take_until(closed);
    Ok(stream_response(messages, state.core.config().http.events_heartbeat))
}

/// A request waited for.
struct Wait {
    core: Core,
    events: EventReceiver,
    url: String,
    request_id: i64,
}

impl Wait {
    /// The request's final state, starting from `lookup`; None when it is gone (purged) or the
    /// core stops.
    async fn until_final(mut self, mut lookup: OcrLookup) -> Option<OcrLookup> {
        let mut recheck = tokio::time::interval_at(tokio::time::Instant::now() + RECHECK, RECHECK);
        recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if is_final(lookup.status) {
                return Some(lookup);
            }
            let look_again = tokio::select! {
                _ = self.core.halted() => return None,
                _ = recheck.tick() => true,
                event = self.events.recv() => match event {
                    Ok(Event::OcrUpdated { request }) => request.id == self.request_id && is_final(request.status),
                    Ok(_) => false,
                    Err(RecvError::Lagged(_)) => true,
                    Err(RecvError::Closed) => return None,
                },
            };
            if look_again {
                match self.core.ocr_lookup(&self.url).await {
                    Ok(Some(again)) if again.request_id == self.request_id => lookup = again,
                    // Purged (and perhaps submitted anew): this stream's request is gone.
                    Ok(_) => return None,
                    Err(e) => tracing::debug!(error = %e, "an OCR stream's look-up failed; looking again later"),
                }
            }
        }
    }
}

fn is_final(status: OcrStatus) -> bool {
    matches!(status, OcrStatus::Done | OcrStatus::Dead)
}

fn message(lookup: &OcrLookup) -> Option<SseEvent> {
    match serde_json::to_string(lookup) {
        Ok(json) => Some(SseEvent::default().data(json)),
        Err(e) => {
            tracing::error!(error = %e, request = lookup.request_id, "an OCR result does not serialise");
            None
        }
    }
}
