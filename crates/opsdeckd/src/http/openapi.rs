//! The API's OpenAPI 3.1 document, generated: the operations from the handlers'
//! `#[utoipa::path]` (see [`super::handlers`]), the schemas from the `opsdeck-api` types they
//! take and answer (every one derives `utoipa::ToSchema`), the bearer scheme of the API token,
//! and the error codes with their statuses from [`ErrorCode`]. Served at `/openapi.json` (and
//! `/openapi.yaml`); `opsdeckd openapi` prints it.

use std::sync::LazyLock;

use opsdeck_api::accounts::ProviderKey;
use opsdeck_api::{ErrorBody, ErrorCode};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToResponse};

use super::{handlers, ocr_lookup, ocr_stream};

/// The name of the API token's security scheme.
pub const BEARER: &str = "bearerAuth";

#[derive(OpenApi)]
#[openapi(
    info(title = "OpsDeck daemon API", description = include_str!("openapi.md")),
    servers((url = "/")),
    paths(
        handlers::healthz,
        handlers::metrics,
        handlers::openapi_json,
        handlers::openapi_yaml,
        handlers::ocr_submit,
        ocr_lookup::ocr_lookup,
        ocr_lookup::ocr_lookup_post,
        ocr_stream::ocr_stream,
        handlers::order_place,
        handlers::alipay_notify,
        handlers::oauth_authorize,
        handlers::oauth_callback,
    ),
    components(
        schemas(ErrorBody, ErrorCode, ProviderKey),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            Conflict,
            PayloadTooLarge,
            UnsupportedMediaType,
            TooManyRequests,
            Internal,
            ProviderError,
            Unavailable,
        ),
    ),
    tags(
        (name = "ocr", description = "ID-card recognition of the shop's images (Baidu OCR, under a global cap)."),
        (name = "orders", description = "Orders and their payment deadline."),
        (name = "payments", description = "Alipay's notifications."),
        (name = "accounts", description = "Customers' sign-in with third-party providers."),
        (name = "operations", description = "Health, metrics and this document."),
        (name = "console", description = "The console's operations (`/api/v1/`), each a method of `opsdeck_api::Ops`, for staff with a session: `Authorization: Bearer <session token>`."),
    ),
    modifiers(&Additions),
)]
struct ApiDoc;

/// The bearer scheme, and the list of error codes with their statuses in the description.
struct Additions;

impl Modify for Additions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The daemon's `api_token`."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            super::v1::SESSION,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A staff session's token, issued by the core at sign-in (never the `api_token`); \
                         `opsdeckd staff token` prints one.",
                    ))
                    .build(),
            ),
        );
        super::v1::describe(doc);
        sse_events_described_per_event(doc);
        let codes: Vec<String> =
            ErrorCode::all().map(|code| format!("`{}` ({})", code.as_str(), code.http_status())).collect();
        let description = doc.info.description.get_or_insert_with(String::new);
        description.push_str(&format!("\nThe codes and their HTTP statuses: {}.\n", codes.join(", ")));
        doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    }
}

/// A `text/event-stream` answer's `schema` describes each event (OpenAPI before 3.2, as
/// validators such as schemathesis read it): an object whose `data` is a string of JSON. The
/// JSON's own schema, named where the route was declared, is kept in the description (utoipa
/// has no `contentSchema`).
fn sse_events_described_per_event(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};
    for item in doc.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.delete];
        for operation in operations.into_iter().flatten() {
            for response in operation.responses.responses.values_mut() {
                let RefOr::T(response) = response else { continue };
                let Some(content) = response.content.get_mut("text/event-stream") else { continue };
                let data_type = match &content.schema {
                    Some(RefOr::Ref(reference)) => {
                        reference.ref_location.rsplit('/').next().unwrap_or("JSON").to_string()
                    }
                    _ => "JSON".to_string(),
                };
                let text = |description: &str| {
                    ObjectBuilder::new().schema_type(Type::String).description(Some(description.to_string())).build()
                };
                let data = ObjectBuilder::new()
                    .schema_type(Type::String)
                    .content_media_type("application/json")
                    .description(Some(format!("One `{data_type}`, as JSON (components.schemas.{data_type}).")))
                    .build();
                let event = ObjectBuilder::new()
                    .property("data", data)
                    .required("data")
                    .property("id", text("The event's id (resume after it with `Last-Event-ID`)."))
                    .property("event", text("The event type, when not the default `message`."))
                    .description(Some(format!("One server-sent event; its `data` is a `{data_type}`.")))
                    .build();
                content.schema = Some(RefOr::T(Schema::Object(event)));
            }
        }
    }
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

static JSON: LazyLock<String> =
    LazyLock::new(|| document().to_pretty_json().expect("the OpenAPI document serialises to JSON"));
static YAML: LazyLock<String> =
    LazyLock::new(|| document().to_yaml().expect("the OpenAPI document serialises to YAML"));

/// The document as JSON (built once).
pub fn json() -> &'static str {
    &JSON
}

/// The document as YAML (built once).
pub fn yaml() -> &'static str {
    &YAML
}

// The answers several operations share, referenced from `components.responses`.

/// The input was refused (`field` names the field at fault, when one is).
#[derive(ToResponse)]
pub struct BadRequest(pub ErrorBody);

/// The bearer token (the API token; on `/api/v1/`, a staff session) is missing, wrong, expired
/// or revoked (`unauthenticated`).
#[derive(ToResponse)]
#[response(headers(("WWW-Authenticate" = String, description = "`Bearer`")))]
pub struct Unauthorized(pub ErrorBody);

/// Refused: the session's role may not do this (`forbidden`), or not possible here (e.g. Alipay
/// is not configured).
#[derive(ToResponse)]
pub struct Forbidden(pub ErrorBody);

/// No such thing.
#[derive(ToResponse)]
pub struct NotFound(pub ErrorBody);

/// Not possible in the target's present state (`run_not_running`: the run has ended).
#[derive(ToResponse)]
pub struct Conflict(pub ErrorBody);

/// The body is larger than 64 KiB (`payload_too_large`).
#[derive(ToResponse)]
pub struct PayloadTooLarge(pub ErrorBody);

/// The body is not of the content type the endpoint reads (`unsupported_media_type`).
#[derive(ToResponse)]
pub struct UnsupportedMediaType(pub ErrorBody);

/// Too many requests from this address to the open routes (`rate_limited`).
#[derive(ToResponse)]
#[response(headers(("Retry-After" = u64, description = "Seconds to wait.")))]
pub struct TooManyRequests(pub ErrorBody);

/// An internal error (details in the daemon's log).
#[derive(ToResponse)]
pub struct Internal(pub ErrorBody);

/// The sign-in provider could not be reached or answered something unreadable; nothing was
/// changed (`provider_error`).
#[derive(ToResponse)]
pub struct ProviderError(pub ErrorBody);

/// The database or Redis is unavailable; nothing was changed.
#[derive(ToResponse)]
pub struct Unavailable(pub ErrorBody);
