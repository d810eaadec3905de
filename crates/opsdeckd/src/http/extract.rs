//! axum's extractors with their refusals turned into the API's JSON errors.

use axum::Form;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use opsdeck_api::ErrorCode;
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::HttpError;
use super::json_errors;

/// A JSON body (`Content-Type: application/json`).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = HttpError;

    /// As axum's `Json` (the content type, the body limit), but a value of the wrong shape is
    /// refused in plain words naming its field ([`json_errors`]), not in serde's.
    async fn from_request(req: Request, state: &AppState) -> Result<Self, HttpError> {
        if !json_content_type(req.headers()) {
            return Err(HttpError::new(
                ErrorCode::UnsupportedMediaType,
                "Expected request with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|rejection| HttpError::from_bytes(rejection, state.settings.body_limit))?;
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            let path = e.path().to_string();
            let error = e.into_inner();
            if error.is_data() { json_errors::data_error(&path, &error) } else { json_errors::syntax_error(&error) }
        })?;
        // Trailing characters after the value.
        deserializer.end().map_err(|e| json_errors::syntax_error(&e))?;
        Ok(ApiJson(value))
    }
}

/// `application/json`, or a `+json` type (`application/merge-patch+json`), parameters ignored.
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A form body (`Content-Type: application/x-www-form-urlencoded`).
pub struct ApiForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiForm<T> {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, HttpError> {
        match Form::<T>::from_request(req, state).await {
            Ok(Form(value)) => Ok(ApiForm(value)),
            Err(rejection) => Err(HttpError::from_form(rejection, state.settings.body_limit)),
        }
    }
}

/// The query string.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts<AppState> for ApiQuery<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(HttpError::from_query(rejection)),
        }
    }
}

/// Path parameters.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for ApiPath<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(HttpError::from_path(rejection)),
        }
    }
}
