//! Looking up an image URL's request: `GET /api/ocr?url=` (the URL percent-encoded in the
//! query) and `POST /api/ocr/lookup` (the URL as it is, in a JSON body: signed storage and CDN
//! links carry query strings of their own).

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use opsdeck_api::ocr::OcrLookup;
use opsdeck_core::ApiError;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::Authorized;
use super::error::HttpError;
use super::extract::{ApiJson, ApiQuery};
use super::openapi::{
    BadRequest, Internal, NotFound, PayloadTooLarge, Unauthorized, Unavailable, UnsupportedMediaType,
};

type Answer<T> = Result<T, HttpError>;

/// The query of `GET /api/ocr`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OcrLookupQuery {
    /// The image URL as submitted.
    #[param(pattern = r"^\s*[Hh][Tt][Tt][Pp][Ss]?:")]
    url: String,
}

/// Status and result of an image URL
///
/// 404 when it was never submitted. An image URL with its own query string must be
/// percent-encoded here; `POST /api/ocr/lookup` takes it as it is, in a JSON body. A 404 whose
/// query string looks unencoded (a second `?`, an `&` before something other than `url=`) says so.
#[utoipa::path(
    get, path = "/api/ocr", tag = "ocr", operation_id = "ocrLookup",
    security(("bearerAuth" = [])),
    params(OcrLookupQuery),
    responses(
        (status = 200, description = "The request for this URL.", body = OcrLookup),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub async fn ocr_lookup(
    _: Authorized,
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    ApiQuery(query): ApiQuery<OcrLookupQuery>,
) -> Answer<Response> {
    match state.core.ocr_lookup(&query.url).await? {
        Some(lookup) => Ok(Json(lookup).into_response()),
        None if raw.as_deref().is_some_and(looks_unencoded) => Err(ApiError::NotFound(
            "no OCR request for this URL; the query string looks like an image URL that was not \
             percent-encoded (a second `?`, or `&` before something that is not a parameter of this \
             route), so only its first part was read as `url`: encode it, or send it in a JSON body \
             to POST /api/ocr/lookup"
                .into(),
        )
        .into()),
        None => Err(ApiError::NotFound("no OCR request for this URL".into()).into()),
    }
}

/// Whether `GET /api/ocr`'s raw query string carries an image URL's own query unencoded: a
/// second `?` (the image URL's), or a `&` followed by something other than `url=` (the only
/// parameter of the route), which the query parser took as the end of `url`.
fn looks_unencoded(raw: &str) -> bool {
    raw.contains('?') || raw.split('&').skip(1).any(|part| !part.starts_with("url="))
}

/// The body of `POST /api/ocr/lookup`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OcrLookupRequest, example = json!({"url": "https://cdn.example.com/id/0001-front.jpg?sign=abc&expires=1767225600"}))]
pub struct OcrLookupBody {
    /// The image URL exactly as submitted, query string and all (no encoding needed).
    #[schema(pattern = r"^\s*[Hh][Tt][Tt][Pp][Ss]?:")]
    url: String,
}

/// Status and result of an image URL, given in the body
///
/// The same answer as `GET /api/ocr?url=`, for URLs that carry their own query string (signed
/// storage and CDN links): in a JSON body the URL needs no percent-encoding. 404 when it was
/// never submitted.
#[utoipa::path(
    post, path = "/api/ocr/lookup", tag = "ocr", operation_id = "ocrLookupByBody",
    security(("bearerAuth" = [])),
    request_body = OcrLookupBody,
    responses(
        (status = 200, description = "The request for this URL.", body = OcrLookup),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub async fn ocr_lookup_post(
    _: Authorized,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<OcrLookupBody>,
) -> Answer<Response> {
    match state.core.ocr_lookup(&body.url).await? {
        Some(lookup) => Ok(Json(lookup).into_response()),
        None => Err(ApiError::NotFound("no OCR request for this URL".into()).into()),
    }
}
