//! Errors at the facade: each with a stable [`ErrorCode`] a front end branches on and renders
//! from its catalogues, the values its message names (`params`), the form field at fault, and an
//! English message for logs and the command line. The UI and the HTTP API receive [`ErrorBody`];
//! an internal cause chain goes to the log, never to the user, and no library's own text is a
//! param.
//!
//! A site names a specific code: `ApiError::coded(ErrorCode::JobNotFound, format!("no job with id
//! {id}")).param("id", id)`, `.field("trigger")` for the form field. The kinds below without a
//! code of their own are for the rare rest.

use std::collections::BTreeMap;

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
    /// A specific code with the values its message names (built by [`ApiError::coded`]).
    #[error("{}", .0.message)]
    Coded(Box<Coded>),
}

/// An error with its own code: see [`ApiError::coded`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coded {
    pub code: ErrorCode,
    /// In English, for logs and the command line.
    pub message: String,
    pub field: Option<String>,
    pub params: BTreeMap<String, String>,
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
            ApiError::Coded(coded) => coded.code,
        }
    }

    /// An error with a specific code; `message` says the same in English (logs, the command
    /// line). Add what the catalogue's text names with [`ApiError::param`].
    pub fn coded(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError::Coded(Box::new(Coded { code, message: message.into(), field: None, params: BTreeMap::new() }))
    }

    /// A refusal for the caller's role: `forbidden`, naming the role and the action (a word the
    /// catalogues translate, `cancel_orders`).
    /// A viewer refused an operation that changes state (`op`), as the core's own check says
    /// it: the server refuses a viewer with it before reading the arguments.
    pub fn viewer_refused(op: opsdeck_api::Operation) -> ApiError {
        let what = op.action();
        ApiError::role_refused("viewer", &crate::accounts::model::action_word(what), format!("a viewer cannot {what}"))
    }

    pub fn role_refused(role: &str, action: &str, message: impl Into<String>) -> ApiError {
        ApiError::coded(ErrorCode::Forbidden, message).param("role", role).param("action", action)
    }

    /// A number outside `min..=max` in `field` (`limit`, `count`, `cap`): `value_out_of_range`.
    pub fn out_of_range(field: &str, min: impl ToString, max: impl ToString) -> ApiError {
        let (min, max) = (min.to_string(), max.to_string());
        ApiError::coded(ErrorCode::ValueOutOfRange, format!("{field} must be between {min} and {max}"))
            .field(field)
            .param("min", min)
            .param("max", max)
    }

    /// No user `id`: `user_not_found`.
    pub fn user_not_found(id: i64) -> ApiError {
        ApiError::coded(ErrorCode::UserNotFound, format!("no user {id}")).param("id", id)
    }

    /// `user_id` has no sign-in on the staff allow-list: `staff_not_allowed`.
    pub fn staff_not_allowed(user_id: i64) -> ApiError {
        ApiError::coded(
            ErrorCode::StaffNotAllowed,
            format!("user {user_id} has no sign-in on the staff allow-list (`staff_allow`): add one there first"),
        )
        .param("user_id", user_id)
    }

    /// The form field at fault (`trigger`, `policy.max_instances`, `url`).
    pub fn field(self, field: impl Into<String>) -> ApiError {
        self.with(|coded| coded.field = Some(field.into()))
    }

    /// A value the message names, for the catalogue's `{key}` placeholder.
    pub fn param(self, key: &str, value: impl ToString) -> ApiError {
        self.with(|coded| {
            coded.params.insert(key.to_string(), value.to_string());
        })
    }

    /// The values the message names.
    pub fn params(&self) -> BTreeMap<String, String> {
        match self {
            ApiError::Coded(coded) => coded.params.clone(),
            _ => BTreeMap::new(),
        }
    }

    /// The form field at fault, if any.
    pub fn field_name(&self) -> Option<&str> {
        match self {
            ApiError::InvalidField { field, .. } => Some(field),
            ApiError::Coded(coded) => coded.field.as_deref(),
            _ => None,
        }
    }

    /// Applies `change` to this error as a coded one (an internal error stays as it is: its
    /// cause is for the log).
    fn with(self, change: impl FnOnce(&mut Coded)) -> ApiError {
        let mut coded = match self {
            ApiError::Coded(coded) => coded,
            ApiError::Internal(_) => return self,
            other => Box::new(Coded {
                code: other.code(),
                message: other.to_string(),
                field: other.field_name().map(str::to_string),
                params: BTreeMap::new(),
            }),
        };
        change(&mut coded);
        ApiError::Coded(coded)
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
        let field = e.field_name().map(str::to_string);
        let params = e.params();
        ErrorBody { field, params, ..ErrorBody::new(e.code(), e.to_string()) }
    }
}
