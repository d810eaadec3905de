//! The handlers: each maps its request to one facade call and the answer to its wire shape;
//! validation and logic live in the core.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opsdeck_core::accounts::Callback;
use opsdeck_core::accounts::model::{ProviderKey, Purpose, SignInOutcome};
use opsdeck_core::config::ProviderStatus;
use opsdeck_core::ocr::baidu::Side;
use opsdeck_core::orders::idempotency::Keyed;
use opsdeck_core::orders::model::OrderDraft;
use opsdeck_core::{ApiError, HealthReport};
use serde::{Deserialize, Serialize};

use super::auth::{Authorized, MetricsReader, WithToken};
use super::error::HttpError;
use super::extract::{ApiForm, ApiJson, ApiPath, ApiQuery};
use super::{AppState, OPENAPI, metrics};

type Answer<T> = Result<T, HttpError>;

/// `GET /healthz`: 200 when the database and Redis are up, else 503. Without a token: up or
/// down per component, nothing else; with the API (or metrics) token: the latest health report
/// (masked targets, reasons) and each provider's state.
pub async fn healthz(WithToken(detailed): WithToken, State(state): State<AppState>) -> Response {
    let report = state.core.health();
    let status = if report.all_ok() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    if detailed {
        let providers = state.core.config().providers();
        (status, Json(DetailedHealth { report, providers })).into_response()
    } else {
        (status, Json(report.summary())).into_response()
    }
}

/// `/healthz` with a token.
#[derive(Serialize)]
pub struct DetailedHealth {
    #[serde(flatten)]
    report: HealthReport,
    providers: Vec<ProviderStatus>,
}

/// `GET /metrics`: Prometheus text exposition (read at most once per cache window).
pub async fn metrics(_: MetricsReader, State(state): State<AppState>) -> Answer<Response> {
    let text = state.metrics.text(&state.core).await?;
    Ok(([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text.to_string()).into_response())
}

/// `GET /openapi.yaml`: this API's description.
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI).into_response()
}

#[derive(Debug, Deserialize)]
pub struct OcrSubmitBody {
    url: String,
    side: Side,
}

/// `POST /api/ocr`: 202 with the new request, or 200 with the known one (and its kept result
/// when it is done).
pub async fn ocr_submit(
    _: Authorized,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<OcrSubmitBody>,
) -> Answer<Response> {
    let submitted = state.core.ocr_submit(&body.url, body.side).await?;
    let status = if submitted.existing { StatusCode::OK } else { StatusCode::ACCEPTED };
    Ok((status, Json(submitted)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct OcrLookupQuery {
    url: String,
}

/// `GET /api/ocr?url=…`: status and result of an image URL; 404 when it was never submitted.
pub async fn ocr_lookup(
    _: Authorized,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<OcrLookupQuery>,
) -> Answer<Response> {
    match state.core.ocr_lookup(&query.url).await? {
        Some(lookup) => Ok(Json(lookup).into_response()),
        None => Err(ApiError::NotFound("no OCR request for this URL".into()).into()),
    }
}

/// `POST /api/orders`: 201 with the order placed (stock locked, the expiry clock started).
/// With an `Idempotency-Key` header, a repeat of the same request is answered 201 with the
/// same order (and `Idempotent-Replayed: true`), placing nothing; the key with another request
/// is refused, 422 `idempotency_key_reused`.
pub async fn order_place(
    _: Authorized,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(draft): ApiJson<OrderDraft>,
) -> Answer<Response> {
    let Some(key) = headers.get(IDEMPOTENCY_KEY) else {
        let order = state.core.order_place(draft).await?;
        return Ok((StatusCode::CREATED, Json(order)).into_response());
    };
    let key = key.to_str().map_err(|_| ApiError::InvalidField {
        field: IDEMPOTENCY_KEY.into(),
        message: "an Idempotency-Key is printable ASCII".into(),
    })?;
    match state.core.order_place_keyed(draft, key).await? {
        Keyed::Placed(order) => Ok((StatusCode::CREATED, Json(order)).into_response()),
        Keyed::Replayed(order) => {
            Ok((StatusCode::CREATED, [("idempotent-replayed", "true")], Json(order)).into_response())
        }
        Keyed::Reused { order_no } => {
            let mut e = HttpError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                format!("this Idempotency-Key placed order {order_no} for another request; use a new key"),
            );
            e.body.field = Some(IDEMPOTENCY_KEY.into());
            Err(e)
        }
    }
}

const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// `POST /api/payments/alipay/notify`: Alipay's async notify. Its signature authenticates it (no
/// bearer token); accepted, it is answered exactly `success`.
pub async fn alipay_notify(
    State(state): State<AppState>,
    ApiForm(form): ApiForm<Vec<(String, String)>>,
) -> Answer<Response> {
    state.core.alipay_notify(&form).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "success").into_response())
}

/// The query of `GET /api/oauth/{provider}/authorize`.
#[derive(Debug, Deserialize)]
pub struct AuthorizeQuery {
    /// An opaque value secret to the customer's browser session (e.g. a hash of the shop's
    /// session id); the callback must bring it again. Checked by the core.
    #[serde(default)]
    binding: String,
}

/// `GET /api/oauth/{provider}/authorize?binding=…`: a fresh sign-in for a shop customer:
/// `{url, state}`, bound to `binding`.
pub async fn oauth_authorize(
    _: Authorized,
    State(state): State<AppState>,
    ApiPath(provider): ApiPath<String>,
    ApiQuery(query): ApiQuery<AuthorizeQuery>,
) -> Answer<Response> {
    let provider: ProviderKey = provider.parse()?;
    let authorization = state.core.oauth_authorize(provider, Purpose::Shop, &query.binding).await?;
    Ok(Json(authorization).into_response())
}

/// The body of `POST /api/oauth/{provider}/callback`: the provider's redirect parameters and
/// the binding given at authorize.
#[derive(Debug, Deserialize)]
pub struct CallbackRequest {
    #[serde(flatten)]
    callback: Callback,
    #[serde(default)]
    binding: Option<String>,
}

/// What the callback answers.
#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CallbackAnswer {
    /// 200: the customer is signed in as `user_id` (`new_user`: created now with this sign-in;
    /// `linked`: the sign-in was linked to the user now).
    SignedIn { user_id: i64, new_user: bool, linked: bool },
    /// 202: the identity's mobile matches an existing user; staff must confirm the link on the
    /// console before it signs anyone in.
    PendingLink { link_request_id: i64, message: String },
}

/// `POST /api/oauth/{provider}/callback` with `{code, state, binding}` (or the provider's
/// `error`).
pub async fn oauth_callback(
    _: Authorized,
    State(state): State<AppState>,
    ApiPath(provider): ApiPath<String>,
    ApiJson(request): ApiJson<CallbackRequest>,
) -> Answer<Response> {
    let provider: ProviderKey = provider.parse()?;
    let binding = request.binding.unwrap_or_default();
    let (status, answer) = match state.core.shop_oauth_callback(provider, request.callback, &binding).await? {
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
