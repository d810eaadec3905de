//! `GET /api/v1/events`: the console's live events as server-sent events (issue 18; being built).

use axum::extract::Request;
use axum::response::Response;
use opsdeck_api::ErrorCode;
use opsdeck_core::ApiError;

use super::AppState;
use super::error::HttpError;

pub async fn serve(state: AppState, request: Request) -> Result<Response, HttpError> {
    let _ = (state, request);
    Err(ApiError::coded(ErrorCode::Internal, "live events are not built yet").into())
}

/// Adds the route to the OpenAPI document.
pub fn describe(doc: &mut utoipa::openapi::OpenApi) {
    let _ = doc;
}
