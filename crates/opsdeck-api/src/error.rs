//! Errors: a stable [`ErrorCode`] a front end branches on and renders from its catalogues (en,
//! zh-CN), the values the message names ([`ErrorBody::params`]), and an English `message` for
//! logs, scripts and the command line. No library's own text is meant for the screen.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// What went wrong, as a front end branches on it. Each value has an entry in the console's en
/// and zh-CN catalogues (`ui/src/i18n/*.ts`; the test command checks).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    TS,
    ToSchema,
    strum::EnumIter,
    strum::IntoStaticStr,
)]
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
    // Specific refusals; `{name}` is a param the catalogues' text names.
    /// A number outside `{min}`–`{max}` (`field` names it: `limit`, `count`, `cap`, …).
    ValueOutOfRange,
    /// A duration outside `{min}`–`{max}` seconds.
    SecondsOutOfRange,
    /// A text not `{min}` to `{max}` characters long.
    LengthOutOfRange,
    /// A text longer than `{max}` characters.
    TextTooLong,
    /// An end (or `to`) that does not come after its start (or `from`).
    RangeReversed,
    /// The list has no column `{column}` to sort by (`field` is `sort`; `{allowed}` lists those
    /// it has).
    SortUnavailable,
    /// Cron: the expression is empty (`{example}` a valid one).
    CronEmpty,
    /// Cron: `{count}` fields where 5 or 6 are expected (`{example}`).
    CronFieldCount,
    /// Cron: `{value}` is not one of the macros (`{example}`).
    CronMacroUnknown,
    /// Cron: field number `{position}` (`{field}`: second, minute, hour, day_of_month, month,
    /// day_of_week) is `{value}`, which is not valid there; `{example}` is.
    CronInvalid,
    /// Cron: every field is valid alone but `{value}` is not (`{example}`).
    CronUnreadable,
    /// Cron: `{value}` never fires (30 February).
    CronNeverFires,
    /// `{value}` is not a time zone of the IANA database (`{example}`).
    TimezoneUnknown,
    /// `{value}` is not a local date and time (`{example}`).
    DateTimeInvalid,
    /// A one-shot date, `{at}` in `{timezone}`, that has passed.
    DateInPast,
    /// No job with id `{id}`.
    JobNotFound,
    /// A job named `{name}` exists already.
    JobNameTaken,
    /// `{name}` is one of OpsDeck's own jobs: it can be paused, not deleted.
    JobBuiltIn,
    /// No run with id `{id}` in the history (it may have been pruned).
    RunNotFound,
    /// Run `{id}` of `{job}` is not running (it ended `{outcome}`): there is nothing to stop.
    RunNotRunning,
    /// No task kind `{kind}` (in this build).
    TaskKindUnknown,
    /// Task args: not a JSON object (`{example}`).
    ArgsNotObject,
    /// Task args: `{key}` is not one of `{allowed}`.
    ArgUnknown,
    /// Task args: `{key}` is required.
    ArgRequired,
    /// Task args: `{key}` must be a whole number from `{min}` to `{max}`.
    ArgNumber,
    /// Task args: `{key}` must be true or false.
    ArgBoolean,
    /// Task args: `{key}` must be a text of 1 to `{max}` characters.
    ArgText,
    /// Task args: `{key}` must be an http:// or https:// URL.
    ArgUrl,
    /// An image URL refused: `{reason}` is empty, too_long, spaces, not_url, scheme or no_host
    /// (`{example}` a valid one).
    ImageUrlInvalid,
    /// No OCR request `{id}`.
    OcrRequestNotFound,
    /// OCR request `{id}` has no result yet.
    OcrNoResult,
    /// The back side of an ID card carries no ID number.
    OcrBackSide,
    /// This image URL was submitted as the `{side}` side (front, back) already, as request `{id}`.
    OcrSideTaken,
    /// A retry of fewer than `{min}` or more than `{max}` requests at once.
    OcrRetryCount,
    /// A cancel of fewer than `{min}` or more than `{max}` requests at once.
    OcrCancelCount,
    /// An OCR cap outside `{min}`–`{max}` calls per second.
    OcrCapOutOfRange,
    /// No order `{order_no}` (pending or paid).
    OrderNotFound,
    /// `{order_no}` is paid: only pending orders can be cancelled.
    OrderPaid,
    /// Alipay says `{order_no}` is paid: it was marked paid, not cancelled.
    OrderFoundPaid,
    /// `{order_no}` is no longer pending.
    OrderNotPending,
    /// `{order_no}` cannot be cancelled now (Alipay could not tell); nothing was changed.
    OrderCancelLater,
    /// Alipay refused the call for `{order_no}`: its configuration (app id, keys, permissions).
    AlipayRefused,
    /// Alipay could not be reached or answered something unreadable about `{order_no}`.
    AlipayUnavailable,
    /// Alipay is not configured.
    AlipayNotConfigured,
    /// An SKU that is not 1 to `{max}` letters, digits, `-`, `_` or `.`.
    SkuInvalid,
    /// Goods with SKU `{sku}` exist already.
    SkuTaken,
    /// An amount (a price, a top-up) outside `{min}`–`{max}` yuan.
    AmountOutOfRange,
    /// A user id that is not a positive whole number.
    UserIdInvalid,
    /// A goods order with fewer than `{min}` or more than `{max}` items.
    ItemsCount,
    /// A quantity outside `{min}`–`{max}`.
    QuantityOutOfRange,
    /// Goods `{goods_id}` appear in more than one item of an order.
    ItemDuplicate,
    /// A goods order given an amount (it follows from its items).
    AmountFromItems,
    /// A top-up order given items.
    TopUpNoItems,
    /// Not enough `{name}` (goods `{goods_id}`): `{wanted}` wanted, `{available}` in stock.
    StockShort,
    /// No goods `{goods_id}`.
    GoodsUnknown,
    /// Alipay reports `{order_no}` paid with another amount: a conflict for staff.
    OrderAmountConflict,
    /// Alipay says `{order_no}` is paid but gives no readable amount.
    AlipayAmountUnreadable,
    /// A notify from outside while Alipay is the built-in fake (sandbox mode).
    NotifySandbox,
    /// A notify refused for its `{field}` (missing, for another app, another amount, …).
    NotifyFieldRefused,
    /// A notify that is not a well-formed form (a parameter twice, another sign type).
    NotifyMalformed,
    /// An `Idempotency-Key` that is not 1 to `{max}` printable ASCII characters.
    IdempotencyKeyInvalid,
    /// This sign-in is unknown, expired or already used (its `state`).
    SignInStateInvalid,
    /// This sign-in was started in another window or browser session.
    SignInElsewhere,
    /// A sign-in `binding` that is not `{min}` to `{max}` printable characters.
    BindingInvalid,
    /// `{provider}` (a provider key) sign-in is not configured.
    ProviderNotConfigured,
    /// No user `{id}`.
    UserNotFound,
    /// Nobody has signed in with `{provider}` uid `{uid}` (masked) yet.
    IdentityUnknown,
    /// This `{provider}` account is linked to user `{user_id}` already.
    IdentityLinkedElsewhere,
    /// No linked sign-in `{id}`.
    LinkNotFound,
    /// No link request `{id}` (it may have been resolved meanwhile).
    LinkRequestNotFound,
    /// The user's last sign-in method: it cannot be unlinked.
    LinkLast,
    /// The sign-in was linked to a user meanwhile.
    LinkedMeanwhile,
    /// User `{user_id}` has no sign-in on the staff allow-list (`staff_allow`).
    StaffNotAllowed,
    /// The last admin cannot lose the role.
    LastAdmin,
    /// An audit entry without who or what was done.
    AuditEntryIncomplete,
    /// Only in sandbox mode (`{what}`: shop_session, shop_notify).
    SandboxOnly,
    /// The sign-in window came back with something that is not a URL.
    RedirectUrlInvalid,
    /// A desktop sign-in through the server: the desktop's `redirect_uri` is not a loopback
    /// address (`http://127.0.0.1:PORT/…` or `http://[::1]:PORT/…`, RFC 8252).
    RedirectNotRegistered,
    /// A desktop sign-in through the server: PKCE missing or malformed (`field`: the challenge,
    /// its method, which must be S256, or the verifier).
    PkceInvalid,
    /// The one-time sign-in code is unknown, already used, older than 60 seconds, or does not
    /// match the verifier or the redirect it was issued for.
    SignInCodeInvalid,
    /// The sign-in worked but this person holds no console role (ask an admin).
    NotStaff,
    /// The sign-in matches an existing user by mobile: staff must confirm the link first.
    LinkPending,
    // A run's failure, as its history keeps it.
    /// The task failed on purpose (the `noop` task's `fail`).
    TaskFailedOnPurpose,
    /// The task panicked (its message is in the log).
    TaskPanicked,
    /// Stopped after the `{seconds}` s timeout.
    TaskTimedOut,
    /// Stopped: another instance took over this instant's claim.
    RunClaimLost,
    /// Stopped: its running slot lapsed and another run took it.
    RunSlotLost,
    /// Stopped by `{who}` from the console; the task ended when told to.
    RunStopped,
    /// Stopped by `{who}`; the task did not end within `{seconds}` s of being told to and was
    /// abandoned (`job_stop_grace_seconds`).
    RunAbandoned,
    /// GET `{url}` could not be completed (no answer, refused, timed out).
    HttpGetFailed,
    /// GET `{url}` answered `{status}`.
    HttpGetStatus,
    /// Alipay refused the expiry sweep's calls for `{count}` orders: they stay pending.
    SweepRefused,
    /// A reason stored before reasons had codes: `{text}`, as it was written (English).
    LegacyText,
    // The HTTP transport's own.
    PayloadTooLarge,
    UnsupportedMediaType,
    MethodNotAllowed,
    RateLimited,
    RequestTimeout,
    // The desktop's remote mode (its client of the server).
    /// The server `{server}` could not be reached (refused, timed out, its certificate not
    /// trusted); the message says why. The link shows it until the server answers again.
    ServerUnreachable,
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
            ErrorCode::InvalidInput
            | ErrorCode::SignInRefused
            | ErrorCode::ValueOutOfRange
            | ErrorCode::SecondsOutOfRange
            | ErrorCode::LengthOutOfRange
            | ErrorCode::TextTooLong
            | ErrorCode::RangeReversed
            | ErrorCode::SortUnavailable
            | ErrorCode::CronEmpty
            | ErrorCode::CronFieldCount
            | ErrorCode::CronMacroUnknown
            | ErrorCode::CronInvalid
            | ErrorCode::CronUnreadable
            | ErrorCode::CronNeverFires
            | ErrorCode::TimezoneUnknown
            | ErrorCode::DateTimeInvalid
            | ErrorCode::DateInPast
            | ErrorCode::JobNameTaken
            | ErrorCode::TaskKindUnknown
            | ErrorCode::ArgsNotObject
            | ErrorCode::ArgUnknown
            | ErrorCode::ArgRequired
            | ErrorCode::ArgNumber
            | ErrorCode::ArgBoolean
            | ErrorCode::ArgText
            | ErrorCode::ArgUrl
            | ErrorCode::ImageUrlInvalid
            | ErrorCode::OcrNoResult
            | ErrorCode::OcrBackSide
            | ErrorCode::OcrSideTaken
            | ErrorCode::OcrRetryCount
            | ErrorCode::OcrCancelCount
            | ErrorCode::OcrCapOutOfRange
            | ErrorCode::SkuInvalid
            | ErrorCode::SkuTaken
            | ErrorCode::AmountOutOfRange
            | ErrorCode::UserIdInvalid
            | ErrorCode::ItemsCount
            | ErrorCode::QuantityOutOfRange
            | ErrorCode::ItemDuplicate
            | ErrorCode::AmountFromItems
            | ErrorCode::TopUpNoItems
            | ErrorCode::StockShort
            | ErrorCode::GoodsUnknown
            | ErrorCode::NotifyFieldRefused
            | ErrorCode::NotifyMalformed
            | ErrorCode::IdempotencyKeyInvalid
            | ErrorCode::SignInStateInvalid
            | ErrorCode::SignInElsewhere
            | ErrorCode::BindingInvalid
            | ErrorCode::ProviderNotConfigured
            | ErrorCode::IdentityLinkedElsewhere
            | ErrorCode::LinkLast
            | ErrorCode::LinkedMeanwhile
            | ErrorCode::StaffNotAllowed
            | ErrorCode::LastAdmin
            | ErrorCode::AuditEntryIncomplete
            | ErrorCode::RedirectUrlInvalid
            | ErrorCode::RedirectNotRegistered
            | ErrorCode::PkceInvalid
            | ErrorCode::SignInCodeInvalid => 400,
            ErrorCode::Unauthenticated => 401,
            ErrorCode::Forbidden
            | ErrorCode::JobBuiltIn
            | ErrorCode::OrderPaid
            | ErrorCode::OrderFoundPaid
            | ErrorCode::OrderNotPending
            | ErrorCode::OrderCancelLater
            | ErrorCode::AlipayNotConfigured
            | ErrorCode::OrderAmountConflict
            | ErrorCode::NotifySandbox
            | ErrorCode::SandboxOnly
            | ErrorCode::NotStaff
            | ErrorCode::LinkPending => 403,
            ErrorCode::NotFound
            | ErrorCode::JobNotFound
            | ErrorCode::OcrRequestNotFound
            | ErrorCode::OrderNotFound
            | ErrorCode::UserNotFound
            | ErrorCode::IdentityUnknown
            | ErrorCode::LinkNotFound
            | ErrorCode::LinkRequestNotFound
            | ErrorCode::RunNotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::RunNotRunning => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::IdempotencyKeyReused => 422,
            ErrorCode::RateLimited => 429,
            // Codes of a stored run's failure; an answer never carries them.
            ErrorCode::Internal
            | ErrorCode::TaskFailedOnPurpose
            | ErrorCode::TaskPanicked
            | ErrorCode::TaskTimedOut
            | ErrorCode::RunClaimLost
            | ErrorCode::RunSlotLost
            | ErrorCode::RunStopped
            | ErrorCode::RunAbandoned
            | ErrorCode::HttpGetFailed
            | ErrorCode::HttpGetStatus
            | ErrorCode::SweepRefused
            | ErrorCode::LegacyText => 500,
            ErrorCode::ProviderError
            | ErrorCode::AlipayRefused
            | ErrorCode::AlipayUnavailable
            | ErrorCode::AlipayAmountUnreadable => 502,
            ErrorCode::DatabaseUnavailable | ErrorCode::RedisUnavailable | ErrorCode::ServerUnreachable => 503,
        }
    }
}

/// `code == "forbidden"`: scripts and tests compare with the wire name.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
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

/// An error kept with what it happened to (a run's failure): its code and the values its
/// message names, rendered from the catalogues in the viewer's language. Stored as this JSON; a
/// text stored before reasons had codes reads as `legacy_text` with the text as `{text}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct ErrorReason {
    pub code: ErrorCode,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[ts(as = "Option<BTreeMap<String, String>>", optional)]
    pub params: BTreeMap<String, String>,
}

impl ErrorReason {
    pub fn new(code: ErrorCode) -> ErrorReason {
        ErrorReason { code, params: BTreeMap::new() }
    }

    /// Adds a value the message names.
    pub fn param(mut self, key: &str, value: impl ToString) -> ErrorReason {
        self.params.insert(key.to_string(), value.to_string());
        self
    }

    /// The stored text: this as JSON.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a stored text: JSON `{code, params}`, or plain text from before (`legacy_text`).
    pub fn from_stored(text: &str) -> ErrorReason {
        serde_json::from_str(text).unwrap_or_else(|_| ErrorReason::new(ErrorCode::LegacyText).param("text", text))
    }
}

impl From<&ErrorBody> for ErrorReason {
    fn from(body: &ErrorBody) -> ErrorReason {
        ErrorReason { code: body.code, params: body.params.clone() }
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
    fn a_stored_reason_reads_back_and_plain_text_from_before_is_legacy_text() {
        let reason = ErrorReason::new(ErrorCode::TaskTimedOut).param("seconds", 30);
        assert_eq!(reason.to_stored(), r#"{"code":"task_timed_out","params":{"seconds":"30"}}"#);
        assert_eq!(ErrorReason::from_stored(&reason.to_stored()), reason);
        let old = ErrorReason::from_stored("stopped after the 30 s timeout");
        assert_eq!(old, ErrorReason::new(ErrorCode::LegacyText).param("text", "stopped after the 30 s timeout"));

        use crate::orders::{CancelCode, CancelReason};
        let cancel = CancelReason::new(CancelCode::UnpaidMinutes).param("minutes", 2);
        assert_eq!(CancelReason::from_stored(&cancel.to_stored()), cancel);
        let old = CancelReason::from_stored("unpaid 2 minutes after it was placed");
        assert_eq!(old.code, CancelCode::LegacyText);
        assert_eq!(old.params["text"], "unpaid 2 minutes after it was placed");
        // Text that happens to be JSON but not a reason is legacy text too.
        assert_eq!(CancelReason::from_stored("{}").code, CancelCode::LegacyText);
    }

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
