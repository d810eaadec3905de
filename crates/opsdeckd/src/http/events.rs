//! `GET /api/v1/events`: the console's live events as server-sent events (`text/event-stream`).
//! Each message is one event: `id: <envelope id>` and `data: <EventEnvelope JSON>` (one line). A
//! client resumes with `Last-Event-ID` (or `?last_event_id=`): the core replays what it still
//! holds after that id, or sends a `resync` first when some of it is gone. A comment line (`:`)
//! goes out every `events_heartbeat_ms` while nothing else does, so proxies keep the stream open
//! and the client notices a dead connection.
//!
//! The session is judged like any read (401 without a valid one, 403 without a console role),
//! and again while the stream runs (the core ends it when the session is revoked or expires, or
//! the role goes). The stream also ends when its connection closes (its lifetime is over, or the
//! server stops: see [`Closing`]): the client reconnects and resumes. Only the answer's head is
//! bounded by the request deadline; the body streams for as long as the session lives.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use opsdeck_api::ops::EventsArgs;
use opsdeck_api::{EventEnvelope, EventStream, SessionToken};
use utoipa::openapi::path::{OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Content, ObjectBuilder, Ref, RefOr, Required, Type};
use utoipa::{PartialSchema, ToSchema};

use super::AppState;
use super::auth::bearer;
use super::error::HttpError;
use super::extract::ApiQuery;
use super::serve::Closing;

/// The header a reconnecting client names its last event with (the SSE standard's).
pub const LAST_EVENT_ID: &str = "last-event-id";

pub async fn serve(state: AppState, request: Request) -> Result<Response, HttpError> {
    let (mut parts, _) = request.into_parts();
    let session = SessionToken::new(bearer(&parts).unwrap_or_default());
    // The session first, as for every operation (a caller without one learns nothing more).
    state.ops.session_staff(&session).await.map_err(HttpError::from_body)?;
    let ApiQuery(query) = ApiQuery::<EventsArgs>::from_request_parts(&mut parts, &state).await?;
    // The header (what a reconnecting EventSource sends) over the query (the first connect's);
    // one that is not text is no id of ours: the core answers it with a resync.
    let header = parts.headers.get(LAST_EVENT_ID).map(|v| v.to_str().unwrap_or("?").to_string());
    let last_event_id = header.or(query.last_event_id).filter(|id| !id.is_empty());
    let events = state.ops.events(&session, last_event_id).await.map_err(HttpError::from_body)?;
    let closing = parts.extensions.get::<Closing>().cloned();
    let heartbeat = state.core.config().http.events_heartbeat;
    Ok(stream_response(messages(events, closing), heartbeat))
}

/// `events` as server-sent messages, until they end or the connection closes.
fn messages(events: EventStream, closing: Option<Closing>) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    let closed = async move {
        match closing {
            Some(closing) => closing.wait().await,
            // Served without our connection loop (no such signal): the stream's own end only.
            None => std::future::pending().await,
        }
    };
    events.take_until(closed).filter_map(|envelope| std::future::ready(message(&envelope).map(Ok)))
}

/// One envelope as a message: its id, and its JSON on one `data:` line.
pub(super) fn message(envelope: &EventEnvelope) -> Option<SseEvent> {
    match serde_json::to_string(envelope) {
        // JSON escapes line breaks in strings, and the ids are ours (no line breaks).
        Ok(json) => Some(SseEvent::default().id(envelope.id.as_str()).data(json)),
        Err(e) => {
            tracing::error!(error = %e, id = %envelope.id, "an event does not serialise; not sent");
            None
        }
    }
}

/// The `text/event-stream` answer of `messages`, with a comment line every `heartbeat` while
/// nothing else is sent; proxies are asked not to buffer it.
pub(super) fn stream_response(
    messages: impl Stream<Item = Result<SseEvent, Infallible>> + Send + 'static,
    heartbeat: std::time::Duration,
) -> Response {
    let mut response = Sse::new(messages).keep_alive(KeepAlive::new().interval(heartbeat)).into_response();
    response.headers_mut().insert(HeaderName::from_static("x-accel-buffering"), HeaderValue::from_static("no"));
    response
}

/// Adds the route to the OpenAPI document.
pub fn describe(doc: &mut utoipa::openapi::OpenApi) {
    let response = |name: &str| RefOr::Ref(Ref::from_response_name(name));
    let last_event_id = |place: ParameterIn, name: &str| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(place)
            .required(Required::False)
            .description(Some(
                "Resume after this event id (the last `id:` received): the events after it that the server \
                 still holds come first; when some are gone, or the id is not this server process's (it \
                 restarted), a `resync` event comes first. The header wins over the query parameter.",
            ))
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .build()
    };
    let operation = OperationBuilder::new()
        .tag(super::v1::TAG)
        .operation_id(Some("v1_events"))
        .summary(Some("Live events (server-sent events)"))
        .description(Some(
            "`Ops::events`. Any staff session (`Authorization: Bearer <session token>`); without a valid \
             session: 401, without a console role: 403. A `text/event-stream` that stays open: each message \
             is one event, `id: <id>` and `data: <EventEnvelope as JSON>` on one line; a comment line (`:`) \
             every `events_heartbeat_ms` (at most 15 s) while nothing else is sent. Ids increase within one \
             server process. An `EventEnvelope` whose `event.kind` is `resync` means events were missed \
             (the client fell behind, or resumed after an id the server no longer holds): reload every \
             page. The stream ends when the session ends (revoked, expired, role removed; checked at least \
             every 15 s), when the connection's lifetime is over or the server stops: reconnect with \
             `Last-Event-ID`.",
        ))
        .parameter(last_event_id(ParameterIn::Header, "Last-Event-ID"))
        .parameter(last_event_id(ParameterIn::Query, "last_event_id"))
        .security(SecurityRequirement::new(super::v1::SESSION, Vec::<String>::new()))
        .response(
            "200",
            ResponseBuilder::new()
                .description("The event stream (`text/event-stream`); each message's `data` is one `EventEnvelope`.")
                .content(
                    "text/event-stream",
                    Content::new(Some(RefOr::<utoipa::openapi::Schema>::Ref(Ref::from_schema_name(
                        EventEnvelope::name(),
                    )))),
                ),
        )
        .response("400", response("BadRequest"))
        .response("401", response("Unauthorized"))
        .response("403", response("Forbidden"))
        .response("500", response("Internal"))
        .response("503", response("Unavailable"))
        .build();
    let (_, path) = opsdeck_api::Operation::Events.http();
    doc.paths.add_path_operation(path, vec![utoipa::openapi::path::HttpMethod::Get], operation);
    let components = doc.components.get_or_insert_with(Default::default);
    let mut schemas = Vec::new();
    EventEnvelope::schemas(&mut schemas);
    schemas.push((EventEnvelope::name().into_owned(), EventEnvelope::schema()));
    for (name, schema) in schemas {
        components.schemas.entry(name).or_insert(schema);
    }
}
