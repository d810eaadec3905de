//! Errors: a stable [`ErrorCode`] a front end branches on and renders from its catalogues (en,
//! zh-CN), the values the message names ([`ErrorBody::params`]), and an English `message` for
//! logs, scripts and the command line. No library's own text is meant for the screen.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// What went wrong, as a front end branches on it. Each value has an entry in the console's en
/// and zh-CN catalogues (`ui/src/i18n/*.ts`; the test command checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS, ToSchema)]
#[derive(strum::EnumIter, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ErrorCode {
    /// The input was refused (`field` and `params` say which and why).
    InvalidInput,
    NotFound,
    /// The caller's role does not allow it (or not on this target).
    Forbidden,
    /// No session, or an expired or revoked one.
    Unauthenticated,
    /// A provider could not be reached or answered something unreadable; nothing was changed.
    ProviderError,
    /// The provider (or the user at the provider) refused the sign-in.
    SignInRefused,
    DatabaseUnavailable,
    RedisUnavailable,
    Internal,
    /// The daemon's order intake: this `Idempotency-Key` placed another order (nothing placed).
    IdempotencyKeyReused,
    // The HTTP transport's own.
    PayloadTooLarge,
    UnsupportedMediaType,
    MethodNotAllowed,
    RateLimited,
    RequestTimeout,
}

impl ErrorCode {
    /// Every value, in declaration order.
    pub fn all() -> impl Iterator<Item = ErrorCode> {
        <ErrorCode as strum::IntoEnumIterator>::iter()
    }

    /// The wire name (`invalid_input`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The HTTP status of an answer with this code (the daemon's API; one place for every
    /// code: a new code must be given its status here).
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidInput | ErrorCode::SignInRefused => 400,
            ErrorCode::Unauthenticated => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::IdempotencyKeyReused => 422,
            ErrorCode::RateLimited => 429,
            ErrorCode::Internal => 500,
            ErrorCode::ProviderError => 502,
            ErrorCode::DatabaseUnavailable | ErrorCode::RedisUnavailable => 503,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a front end receives for a failed call: `{code, message, field?, params?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// In English, for logs, scripts and the command line. The console shows `code` and
    /// `params` rendered from its catalogue in the viewer's language instead.
    pub message: String,
    /// The form field at fault, when there is one (`trigger`, `policy.max_instances`, `url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub field: Option<String>,
    /// The values the message names (`{"limit": "500"}`), for the catalogue's placeholders.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[ts(as = "Option<BTreeMap<String, String>>", optional)]
    pub params: BTreeMap<String, String>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ErrorBody {
        ErrorBody { code, message: message.into(), field: None, params: BTreeMap::new() }
    }
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for ErrorBody {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_named_as_serde_names_it_and_once() {
        for code in ErrorCode::all() {
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::Value::String(code.as_str().into()));
        }
        let mut names: Vec<_> = ErrorCode::all().map(|c| c.as_str()).collect();
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count);
    }
}
