//! Every error the API answers is JSON: `{"code": "...", "message": "...", "field"?: "..."}`
//! ([`ErrorBody`]). The core's errors keep their code ([`ApiError::code`]) and get the HTTP
//! status their kind means; axum's own refusals (malformed JSON, a wrong content type, a body
//! over the limit, an unknown route, a wrong method) are mapped to the same shape.

use axum::Json;
use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opsdeck_core::{ApiError, ErrorBody};

/// Codes the transport adds to [`ApiError::code`]'s.
pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported_media_type";
pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";

/// An error on its way to the client.
#[derive(Debug)]
pub struct HttpError {
    pub status: StatusCode,
    pub body: ErrorBody,
    /// Adds `WWW-Authenticate: Bearer` (a refused bearer token).
    challenge: bool,
}

impl HttpError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            body: ErrorBody { code: code.into(), message: message.into(), field: None },
            challenge: false,
        }
    }

    /// 401: a missing or wrong bearer token.
    pub fn unauthenticated(message: &str) -> HttpError {
        HttpError { challenge: true, ..HttpError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message) }
    }

    /// An extractor's refusal, by the status axum gives it: 413 and 415 keep theirs; a body or
    /// query that does not decode (axum's 422 included) is 400 `invalid_input`.
    fn rejected(status: StatusCode, text: String, limit: usize) -> HttpError {
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => HttpError::new(
                status,
                PAYLOAD_TOO_LARGE,
                format!("the request body is larger than {} KiB", limit / 1024),
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => HttpError::new(status, UNSUPPORTED_MEDIA_TYPE, text),
            s if s.is_server_error() => {
                tracing::error!(status = s.as_u16(), reason = %text, "a request could not be read");
                HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
            }
            _ => HttpError::new(StatusCode::BAD_REQUEST, "invalid_input", text),
        }
    }

    pub fn from_json(rejection: JsonRejection, limit: usize) -> HttpError {
        HttpError::rejected(rejection.status(), rejection.body_text(), limit)
    }

    pub fn from_form(rejection: FormRejection, limit: usize) -> HttpError {
        HttpError::rejected(rejection.status(), rejection.body_text(), limit)
    }

    pub fn from_query(rejection: QueryRejection) -> HttpError {
        HttpError::rejected(rejection.status(), rejection.body_text(), 0)
    }

    pub fn from_path(rejection: PathRejection) -> HttpError {
        HttpError::rejected(rejection.status(), rejection.body_text(), 0)
    }
}

/// The status each kind of core error means.
pub fn status_of(code: &str) -> StatusCode {
    match code {
        "invalid_input" => StatusCode::BAD_REQUEST,
        "not_found" => StatusCode::NOT_FOUND,
        "forbidden" => StatusCode::FORBIDDEN,
        "unauthenticated" => StatusCode::UNAUTHORIZED,
        "provider_error" => StatusCode::BAD_GATEWAY,
        "sign_in_refused" => StatusCode::BAD_REQUEST,
        "database_unavailable" | "redis_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> HttpError {
        let status = status_of(e.code());
        // ErrorBody::from logs an internal cause; the client sees only "internal error".
        HttpError { status, body: ErrorBody::from(e), challenge: false }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if self.challenge {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The router's fallback: no such route.
pub async fn no_route() -> HttpError {
    HttpError::new(StatusCode::NOT_FOUND, "not_found", "no such route (the routes are in /openapi.yaml)")
}

/// A route that exists, asked with a method it does not answer (axum adds `Allow`).
pub async fn wrong_method() -> HttpError {
    HttpError::new(StatusCode::METHOD_NOT_ALLOWED, METHOD_NOT_ALLOWED, "this route does not answer that method")
}
