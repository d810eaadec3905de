//! axum's extractors with their refusals turned into the API's JSON errors.

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::{Form, Json};
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::HttpError;

/// A JSON body (`Content-Type: application/json`).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, HttpError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(HttpError::from_json(rejection, state.settings.body_limit)),
        }
    }
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
