//! Errors at the facade: a small set of kinds a front end can branch on, each with a stable
//! `code`. The UI and the HTTP API receive [`ErrorBody`] (`{code, message}`); an internal cause
//! chain goes to the log, never to the user.

pub use opsdeck_api::{ErrorBody, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The caller's input was refused; the message says which field and why.
    #[error("{0}")]
    InvalidInput(String),
    /// One form field was refused; `field` names it (`trigger`, `timezone`, `policy.max_instances`).
    #[error("{message}")]
    InvalidField { field: String, message: String },
    #[error("{0}")]
    NotFound(String),
    /// The action is not allowed on this target (or for this user).
    #[error("{0}")]
    Forbidden(String),
    /// Nobody is signed in (or the user is gone).
    #[error("{0}")]
    Unauthenticated(String),
    /// A sign-in provider could not be reached, or answered something unreadable; nothing was
    /// changed.
    #[error("{0}")]
    Provider(String),
    /// A sign-in the provider (or the user, at the provider) refused: a denied consent, or a
    /// bad, reused or expired code. The caller's attempt failed; the provider works.
    #[error("{0}")]
    SignInRefused(String),
    /// The SQL database could not be reached; nothing was changed.
    #[error("the database is unavailable: {0}")]
    DatabaseUnavailable(String),
    /// Redis could not be reached; nothing was changed.
    #[error("Redis is unavailable: {0}")]
    RedisUnavailable(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::InvalidInput(_) | ApiError::InvalidField { .. } => ErrorCode::InvalidInput,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            ApiError::Provider(_) => ErrorCode::ProviderError,
            ApiError::SignInRefused(_) => ErrorCode::SignInRefused,
            ApiError::DatabaseUnavailable(_) => ErrorCode::DatabaseUnavailable,
            ApiError::RedisUnavailable(_) => ErrorCode::RedisUnavailable,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
                ApiError::DatabaseUnavailable(e.to_string())
            }
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<redis::RedisError> for ApiError {
    fn from(e: redis::RedisError) -> ApiError {
        if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal() {
            ApiError::RedisUnavailable(e.to_string())
        } else {
            ApiError::Internal(e.into())
        }
    }
}

impl From<ApiError> for ErrorBody {
    fn from(e: ApiError) -> ErrorBody {
        if let ApiError::Internal(cause) = &e {
            tracing::error!(error = format!("{cause:#}"), "internal error at the facade");
        }
        let field = match &e {
            ApiError::InvalidField { field, .. } => Some(field.clone()),
            _ => None,
        };
        ErrorBody { field, ..ErrorBody::new(e.code(), e.to_string()) }
    }
}
