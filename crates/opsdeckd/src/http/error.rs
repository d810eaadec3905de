//! Every error the API answers is JSON [`ErrorBody`]: `{"code": "...", "message": "...",
//! "field"?: "...", "params"?: {...}}`. The status follows from the code, in one place
//! ([`ErrorCode::http_status`]): the core's errors keep their code ([`ApiError::code`]), and axum's
//! own refusals (malformed JSON, a wrong content type, a body over the limit, an unknown route, a
//! wrong method) are mapped to the same shape with the transport's codes.

use axum::Json;
use axum::extract::rejection::{BytesRejection, FormRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opsdeck_api::{ErrorBody, ErrorCode};
use opsdeck_core::ApiError;

/// An error on its way to the client.
#[derive(Debug)]
pub struct HttpError {
    pub body: ErrorBody,
    /// Adds `WWW-Authenticate: Bearer` (a refused bearer token).
    challenge: bool,
}

impl HttpError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> HttpError {
        HttpError { body: ErrorBody::new(code, message), challenge: false }
    }

    /// 400 `invalid_input` naming the input `field` at fault.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> HttpError {
        HttpError::new(ErrorCode::InvalidInput, message).with_field(field)
    }

    pub fn with_field(mut self, field: &str) -> HttpError {
        self.body.field = Some(field.into());
        self
    }

    /// The answer's status: the code's ([`ErrorCode::http_status`]).
    pub fn status(&self) -> StatusCode {
        status_of(self.body.code)
    }

    /// 401: a missing or wrong bearer token.
    pub fn unauthenticated(message: &str) -> HttpError {
        HttpError { challenge: true, ..HttpError::new(ErrorCode::Unauthenticated, message) }
    }

    /// The core's error as `Ops` answers it; `unauthenticated` challenges for a bearer token.
    pub fn from_body(body: ErrorBody) -> HttpError {
        let challenge = body.code == ErrorCode::Unauthenticated;
        HttpError { body, challenge }
    }

    /// An extractor's refusal, by the status axum gives it: 413 and 415 keep theirs; a body or
    /// query that does not decode (axum's 422 included) is 400 `invalid_input`.
    fn rejected(status: StatusCode, text: String, limit: usize) -> HttpError {
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => HttpError::new(
                ErrorCode::PayloadTooLarge,
                format!("the request body is larger than {} KiB", limit / 1024),
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => HttpError::new(ErrorCode::UnsupportedMediaType, text),
            s if s.is_server_error() => {
                tracing::error!(status = s.as_u16(), reason = %text, "a request could not be read");
                HttpError::new(ErrorCode::Internal, "internal error")
            }
            _ => HttpError::new(ErrorCode::InvalidInput, text),
        }
    }

    pub fn from_bytes(rejection: BytesRejection, limit: usize) -> HttpError {
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

/// The status an answer with `code` has.
pub fn status_of(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> HttpError {
        // ErrorBody::from logs an internal cause; the client sees only "internal error".
        HttpError { body: ErrorBody::from(e), challenge: false }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body)).into_response();
        if self.challenge {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The router's fallback: no such route.
pub async fn no_route() -> HttpError {
    HttpError::new(ErrorCode::NotFound, "no such route (the routes are in /openapi.json)")
}

/// A route that exists, asked with a method it does not answer (axum adds `Allow`).
pub async fn wrong_method() -> HttpError {
    HttpError::new(ErrorCode::MethodNotAllowed, "this route does not answer that method")
}
