//! The desktop sign-in's browser steps: `GET /api/v1/auth/desktop/start` and `/api/v1/auth/callback/{provider}` (issue 18; being built).

use axum::extract::Request;
use axum::response::Response;
use opsdeck_api::{ErrorCode, Operation};
use opsdeck_core::ApiError;

use super::AppState;
use super::error::HttpError;

pub async fn serve(op: Operation, state: AppState, request: Request) -> Result<Response, HttpError> {
    let _ = (op, state, request);
    Err(ApiError::coded(ErrorCode::Internal, "desktop sign-in is not built yet").into())
}

/// Adds the routes to the OpenAPI document.
pub fn describe(doc: &mut utoipa::openapi::OpenApi) {
    let _ = doc;
}
