//! The handlers: each maps its request to one facade call and the answer to its wire shape;
//! validation and logic live in the core. Each is described for the OpenAPI document
//! ([`super::openapi`]) by its `#[utoipa::path]`: its doc comment is the operation's summary
//! (first line) and description.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opsdeck_api::ErrorCode;
use opsdeck_api::accounts::{Authorization, ProviderKey, SignInOutcome};
use opsdeck_api::app::ProviderStatus;
use opsdeck_api::health::{HealthReport, HealthSummary};
use opsdeck_api::ocr::{OcrSubmitted, Side};
use opsdeck_api::orders::{Order, OrderDraft};
use opsdeck_core::{Callback, Keyed};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Authorized, MetricsReader, WithToken};
use super::error::HttpError;
use super::extract::{ApiForm, ApiJson, ApiPath, ApiQuery};
use super::openapi::{
    BadRequest, Forbidden, Internal, NotFound, PayloadTooLarge, ProviderError, TooManyRequests, Unauthorized,
    Unavailable, UnsupportedMediaType,
};
use super::{AppState, metrics, openapi};

type Answer<T> = Result<T, HttpError>;

/// What `/healthz` answers: the open summary, or the full report with a token.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum HealthAnswer {
    Summary(HealthSummary),
    Detailed(DetailedHealth),
}

/// `/healthz` with the API or metrics token: the full report (why a component is down, the
/// masked target probed) and the state of each provider.
#[derive(Serialize, ToSchema)]
pub struct DetailedHealth {
    #[serde(flatten)]
    report: HealthReport,
    providers: Vec<ProviderStatus>,
}

/// Health of the database and Redis, as last probed
///
/// Probed every `health_interval_ms`. 200 when both are up, 503 otherwise. Without a token:
/// `up` or `down` per component, nothing else. With `Authorization: Bearer` and the API token
/// (or the metrics token): the full report (why a component is down, the masked target probed)
/// and the state of each provider (`configured`, `sandbox`, `absent`).
#[utoipa::path(
    get, path = "/healthz", tag = "operations", operation_id = "health",
    responses(
        (status = 200, description = "The database and Redis are up.", body = HealthAnswer),
        (status = 429, response = TooManyRequests),
        (status = 503, description = "The database or Redis is down (or not probed yet).", body = HealthAnswer),
    )
)]
pub async fn healthz(WithToken(detailed): WithToken, State(state): State<AppState>) -> Response {
    let report = state.core.health();
    let status = if report.all_ok() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let answer = if detailed {
        HealthAnswer::Detailed(DetailedHealth { report, providers: state.core.info().providers })
    } else {
        HealthAnswer::Summary(report.summary())
    };
    (status, Json(answer)).into_response()
}

/// Prometheus metrics
///
/// Prometheus text exposition (version 0.0.4), every metric prefixed `opsdeck_`:
/// `opsdeck_ocr_requests{state}` (gauge; pending + in_flight is the queue's depth),
/// `opsdeck_ocr_calls_per_second` (gauge, achieved over the last 60 whole seconds, all
/// instances), `opsdeck_ocr_cap_calls_per_second` (gauge), `opsdeck_ocr_paused` (gauge, 0 or 1),
/// `opsdeck_job_runs{outcome}` (gauge: runs in the kept history), `opsdeck_orders_pending`
/// (gauge), `opsdeck_orders_cancelled_total`, `opsdeck_orders_paid_late_total` (payments the
/// expiry sweep found at Alipay) and `opsdeck_payment_conflicts_total` (counters).
///
/// Needs `Authorization: Bearer <metrics_token>`, or the API token when no `metrics_token` is
/// configured. The figures are read from the database at most once every 5 seconds (concurrent
/// scrapes share one read).
#[utoipa::path(
    get, path = "/metrics", tag = "operations", operation_id = "metrics",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The metrics.", body = String, content_type = "text/plain"),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub async fn metrics(_: MetricsReader, State(state): State<AppState>) -> Answer<Response> {
    let text = state.metrics.text(&state.core).await?;
    Ok(([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text.to_string()).into_response())
}

/// This API's description (OpenAPI 3.1, JSON)
///
/// Generated from the daemon's handlers and the `opsdeck-api` types (also printed by
/// `opsdeckd openapi`).
#[utoipa::path(
    get, path = "/openapi.json", tag = "operations", operation_id = "openapiJson",
    responses(
        (status = 200, description = "The OpenAPI document of this API.", body = Object, content_type = "application/json"),
        (status = 429, response = TooManyRequests),
    )
)]
pub async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi::json()).into_response()
}

/// This API's description (OpenAPI 3.1, YAML)
///
/// The same document as `/openapi.json`, in YAML.
#[utoipa::path(
    get, path = "/openapi.yaml", tag = "operations", operation_id = "openapiYaml",
    responses(
        (status = 200, description = "The OpenAPI document of this API.", body = Object, content_type = "application/yaml"),
        (status = 429, response = TooManyRequests),
    )
)]
pub async fn openapi_yaml() -> Response {
    ([(header::CONTENT_TYPE, "application/yaml")], openapi::yaml()).into_response()
}

/// The body of `POST /api/ocr`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OcrSubmitRequest, example = json!({"url": "https://img.example.com/id/0001-front.jpg", "side": "front"}))]
pub struct OcrSubmitBody {
    /// The image: an http(s) URL with a host, without spaces or control characters, at most 2048
    /// characters (surrounding spaces are trimmed).
    #[schema(pattern = r"^\s*[Hh][Tt][Tt][Pp][Ss]?:")]
    url: String,
    /// Which side of the ID card it shows.
    side: Side,
}

/// Queue an ID-card image for recognition
///
/// A new URL is queued (202). A URL submitted before is not recognised again (200): the answer
/// names its request and, once it is done, carries the kept result.
#[utoipa::path(
    post, path = "/api/ocr", tag = "ocr", operation_id = "ocrSubmit",
    security(("bearerAuth" = [])),
    request_body = OcrSubmitBody,
    responses(
        (status = 200, description = "The URL was known already (its result when done).", body = OcrSubmitted),
        (status = 202, description = "Queued.", body = OcrSubmitted),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub async fn ocr_submit(
    _: Authorized,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<OcrSubmitBody>,
) -> Answer<Response> {
    let submitted = state.core.ocr_submit(&body.url, body.side).await?;
    let status = if submitted.existing { StatusCode::OK } else { StatusCode::ACCEPTED };
    Ok((status, Json(submitted)).into_response())
}

/// Place an order
///
/// Locks the goods' stock (all or nothing) and starts the order's payment deadline
/// (`order_expiry_seconds`, 30 minutes by default); an order unpaid by then is cancelled and its
/// stock restored. Not enough stock: 400 with `field` `items`.
///
/// With an `Idempotency-Key` header, a retry is safe: the same key with the same order (compared
/// by content, not by spelling) is answered 201 with the order the first request placed, with
/// `Idempotent-Replayed: true`, and places nothing (no second order, stock locked once), even
/// when both requests arrive at once. The same key with another order: 422
/// `idempotency_key_reused` (`field` `Idempotency-Key`), nothing placed. Keys are kept in the
/// database with the order.
#[utoipa::path(
    post, path = "/api/orders", tag = "orders", operation_id = "orderPlace",
    security(("bearerAuth" = [])),
    params(IdempotencyHeader),
    request_body = OrderDraft,
    responses(
        (status = 201, description = "Placed (or, with `Idempotent-Replayed` set, placed by an earlier request with this key).",
            body = Order,
            headers(("Idempotent-Replayed" = String, description = "`true` when the order was placed by an earlier request with the same key."))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "The `Idempotency-Key` placed another order (`idempotency_key_reused`); nothing was placed.",
            body = opsdeck_api::ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub async fn order_place(
    _: Authorized,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(draft): ApiJson<OrderDraft>,
) -> Answer<Response> {
    let Some(key) = headers.get(IDEMPOTENCY_KEY) else {
        let order: Order = state.core.order_place(draft).await?;
        return Ok((StatusCode::CREATED, Json(order)).into_response());
    };
    let key =
        key.to_str().map_err(|_| HttpError::invalid_field(IDEMPOTENCY_KEY, "an Idempotency-Key is printable ASCII"))?;
    match state.core.order_place_keyed(draft, key).await? {
        Keyed::Placed(order) => Ok((StatusCode::CREATED, Json(order)).into_response()),
        Keyed::Replayed(order) => {
            Ok((StatusCode::CREATED, [("idempotent-replayed", "true")], Json(order)).into_response())
        }
        Keyed::Reused { order_no } => Err(HttpError::new(
            ErrorCode::IdempotencyKeyReused,
            format!("this Idempotency-Key placed order {order_no} for another request; use a new key"),
        )
        .with_field(IDEMPOTENCY_KEY)),
    }
}

const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// `POST /api/orders`'s optional header, described for the document (the handler reads it from
/// the headers, to tell a missing key from one that is not ASCII).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IdempotencyHeader {
    /// A key the client chooses per order (e.g. a UUID), 1–255 printable ASCII characters;
    /// anything else: 400 with `field` `Idempotency-Key`.
    #[param(rename = "Idempotency-Key", required = false)]
    #[param(min_length = 1, max_length = 255, pattern = r"^[\x21-\x7E]([\x20-\x7E]*[\x21-\x7E])?$")]
    key: String,
}

/// Alipay's async notify parameters (the form it POSTs); more may come, all strings. Described
/// for the document only: the handler keeps the form as sent (the signature covers it).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AlipayNotify {
    notify_time: Option<String>,
    notify_type: Option<String>,
    notify_id: Option<String>,
    app_id: Option<String>,
    charset: Option<String>,
    version: Option<String>,
    sign_type: Option<String>,
    sign: Option<String>,
    trade_no: Option<String>,
    out_trade_no: Option<String>,
    buyer_id: Option<String>,
    seller_id: Option<String>,
    /// `WAIT_BUYER_PAY`, `TRADE_CLOSED`, `TRADE_SUCCESS` or `TRADE_FINISHED`.
    trade_status: Option<String>,
    /// Yuan, e.g. `12.50`.
    total_amount: Option<String>,
    receipt_amount: Option<String>,
    gmt_create: Option<String>,
    gmt_payment: Option<String>,
}

/// Alipay's asynchronous payment notification
///
/// Alipay POSTs it to the notify URL (and repeats it, with the same `notify_id`, until it is
/// answered `success`). The signature (RSA2 over every non-empty parameter but `sign` and
/// `sign_type`, sorted) is verified with Alipay's public key; then `app_id`, `out_trade_no` and
/// `total_amount` are checked against the order. `TRADE_SUCCESS` and `TRADE_FINISHED` mark a
/// pending order paid (once: repeats change nothing; a payment for a cancelled order is
/// recorded for staff); `WAIT_BUYER_PAY` and `TRADE_CLOSED` change nothing. Accepted: exactly
/// `success`. Refused (nothing applied): a JSON error. No bearer token: the signature
/// authenticates the request. Refused with 403 whenever Alipay is not configured with real
/// keys: when it is absent, and in sandbox mode (the built-in fake's keys are published).
#[utoipa::path(
    post, path = "/api/payments/alipay/notify", tag = "payments", operation_id = "alipayNotify",
    request_body(content = AlipayNotify, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Accepted (applied, or nothing to apply): exactly `success`.", body = String, content_type = "text/plain"),
        (status = 400, response = BadRequest),
        (status = 401, description = "The signature does not verify with Alipay's public key.", body = opsdeck_api::ErrorBody),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 429, response = TooManyRequests),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub async fn alipay_notify(
    State(state): State<AppState>,
    ApiForm(form): ApiForm<Vec<(String, String)>>,
) -> Answer<Response> {
    state.core.alipay_notify(&form).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "success").into_response())
}

/// The query of `GET /api/oauth/{provider}/authorize`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeQuery {
    /// An opaque value that only this customer's browser session yields, e.g. a hash of the
    /// shop's session id (never the session id itself, and never something an attacker can
    /// obtain for another customer). Kept only as its SHA-256.
    #[serde(default)]
    #[param(required = true, min_length = 16, max_length = 512)]
    binding: String,
}

/// Start a customer's sign-in with a provider
///
/// Open `url` in the customer's browser; the provider redirects to its registered callback with
/// `code` and `state`, which the shop hands to the callback endpoint together with the same
/// `binding`. The state is good once, for `oauth_state_ttl_seconds`, and only with its binding: a
/// callback that brings a state with another binding (a state from someone else's sign-in,
/// planted in this customer's browser: login CSRF) is refused and that other attempt stays
/// usable. A provider that is not configured: 400 with `field` `provider`; a missing or bad
/// binding: 400 with `field` `binding`.
#[utoipa::path(
    get, path = "/api/oauth/{provider}/authorize", tag = "accounts", operation_id = "oauthAuthorize",
    security(("bearerAuth" = [])),
    params(
        ("provider" = ProviderKey, Path, description = "The sign-in provider (only configured ones answer)."),
        AuthorizeQuery,
    ),
    responses(
        (status = 200, description = "The provider's authorize URL and the attempt's state.", body = Authorization),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
        (status = 502, response = ProviderError),
        (status = 503, response = Unavailable),
    )
)]
pub async fn oauth_authorize(
    _: Authorized,
    State(state): State<AppState>,
    ApiPath(provider): ApiPath<String>,
    ApiQuery(query): ApiQuery<AuthorizeQuery>,
) -> Answer<Response> {
    let provider = parse_provider(&provider)?;
    let authorization = state.core.shop_sign_in_start(provider, &query.binding).await?;
    Ok(Json(authorization).into_response())
}

fn parse_provider(text: &str) -> Result<ProviderKey, HttpError> {
    text.parse().map_err(|message: String| HttpError::invalid_field("provider", message))
}

/// The body of `POST /api/oauth/{provider}/callback`: the provider's redirect parameters and
/// the binding given at authorize.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackRequest {
    /// The code from the provider's redirect (DingTalk's `authCode`).
    #[serde(default)]
    code: Option<String>,
    /// The state from the provider's redirect (the one `authorize` answered).
    #[serde(default)]
    state: Option<String>,
    /// The provider's refusal, when the redirect carried no code.
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
    /// The binding given at authorize for this customer's browser session.
    #[serde(default)]
    #[schema(min_length = 16, max_length = 512)]
    binding: Option<String>,
}

/// What the callback answers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CallbackAnswer {
    /// 200: the customer is signed in as `user_id` (`new_user`: created now with this sign-in;
    /// `linked`: the sign-in was linked to the user now).
    SignedIn { user_id: i64, new_user: bool, linked: bool },
    /// 202: the identity's mobile matches an existing user; staff must confirm the link on the
    /// console before it signs anyone in.
    PendingLink { link_request_id: i64, message: String },
}

/// Complete a customer's sign-in
///
/// Exchanges the code (the state must be one `authorize` issued for this provider, unused, and
/// `binding` the one given there) and finds the customer's user, or creates one with this
/// sign-in. When the identity's mobile (one the provider verified) matches an existing user
/// instead, nothing signs in: a link request waits for staff to confirm it on the console (202).
/// An unknown, expired, reused or foreign state, or one bound to another binding: 400 with
/// `field` `state` (a state bound elsewhere is left usable for its own session); a missing or
/// bad binding: 400 with `field` `binding`; a sign-in refused at the provider (denied, or a bad,
/// reused or expired code): 400 `sign_in_refused`; a provider unreachable or unreadable: 502.
#[utoipa::path(
    post, path = "/api/oauth/{provider}/callback", tag = "accounts", operation_id = "oauthCallback",
    security(("bearerAuth" = [])),
    params(("provider" = ProviderKey, Path, description = "The sign-in provider (only configured ones answer).")),
    request_body = CallbackRequest,
    responses(
        (status = 200, description = "Signed in (`status` `signed_in`).", body = CallbackAnswer),
        (status = 202, description = "A link to an existing user waits for staff to confirm it (`status` `pending_link`); nobody is signed in.",
            body = CallbackAnswer),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
        (status = 502, response = ProviderError),
        (status = 503, response = Unavailable),
    )
)]
pub async fn oauth_callback(
    _: Authorized,
    State(state): State<AppState>,
    ApiPath(provider): ApiPath<String>,
    ApiJson(request): ApiJson<CallbackRequest>,
) -> Answer<Response> {
    let provider = parse_provider(&provider)?;
    let CallbackRequest { code, state: attempt, error, error_description, binding } = request;
    let callback = Callback { code, state: attempt, error, error_description };
    let binding = binding.unwrap_or_default();
    let (status, answer) = match state.core.shop_oauth_callback(provider, callback, &binding).await? {
        SignInOutcome::SignedIn { user, new_user, linked, .. } => {
            (StatusCode::OK, CallbackAnswer::SignedIn { user_id: user.id, new_user, linked })
        }
        // Only a staff link attempt ends so; answered as what it is: this user, linked now.
        SignInOutcome::Linked { user } => {
            (StatusCode::OK, CallbackAnswer::SignedIn { user_id: user.id, new_user: false, linked: true })
        }
        SignInOutcome::PendingLink { request } => {
            let message = "this sign-in's mobile matches an existing user: staff must confirm the link before it \
                           signs in";
            (StatusCode::ACCEPTED, CallbackAnswer::PendingLink { link_request_id: request.id, message: message.into() })
        }
    };
    Ok((status, Json(answer)).into_response())
}
