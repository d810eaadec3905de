//! [`Ops`]: every operation the console performs, as one trait. The core implements it in
//! process; an HTTP client of the server (`opsdeckd`) can implement it too, so nothing here
//! borrows a handle or takes a closure: every argument and answer crosses a wire.
//!
//! Every operation but [`Ops::health`], [`Ops::auth_providers`] and the sign-in steps takes the
//! caller's session and is refused (`unauthenticated`) without a valid one; the core alone
//! decides what the session's role may do (`forbidden`). [`Operation`] names each operation and
//! says whether it changes state (the role tests iterate over it).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::{
    Authorization, LinkRequest, ProviderInfo, ProviderKey, Role, Staff, UserPage, UserQuery, UserView,
};
use crate::app::AppInfo;
use crate::audit::{AuditPage, AuditQuery};
use crate::error::ErrorBody;
use crate::events::EventStream;
use crate::health::HealthReport;
use crate::jobs::{
    FireTime, JobDraft, JobEdit, JobRun, JobView, RunPage, RunQuery, SchedulerInstance, TaskKindInfo, TriggerSpec,
};
use crate::ocr::{
    CancelOutcome, IdCardFront, OcrAttempt, OcrPage, OcrQuery, OcrRequest, OcrStats, OcrSubmitted, RetryOutcome, Side,
};
use crate::orders::{
    CancelledPage, Goods, NewGoods, Order, OrderActivity, OrderDraft, OrderEvent, OrderPage, OrderQuery, OrdersSummary,
};
use crate::overview::Overview;
use crate::session::{SessionToken, SessionView, SignInResult};

/// What every operation answers.
pub type OpResult<T> = Result<T, ErrorBody>;

/// Every console operation. `s` is the caller's session.
#[async_trait]
pub trait Ops: Send + Sync {
    // ---- open: no session
    /// The latest probe of the database and Redis.
    async fn health(&self) -> OpResult<HealthReport>;
    /// The sign-in providers configured.
    async fn auth_providers(&self) -> OpResult<Vec<ProviderInfo>>;
    /// Starts a console sign-in at `provider`. `binding` is a secret only the caller knows (its
    /// sign-in window's); completing the sign-in needs it again.
    async fn sign_in_start(&self, provider: ProviderKey, binding: String) -> OpResult<Authorization>;
    /// Completes a sign-in (or a link) from the provider's redirect URL, with the attempt's
    /// binding. A staff member signing in gets a new session.
    async fn sign_in_complete(
        &self,
        provider: ProviderKey,
        redirect_url: String,
        binding: String,
    ) -> OpResult<SignInResult>;
    /// Drops an attempt (its window was closed); true when it was there.
    async fn sign_in_cancel(&self, state: String, binding: String) -> OpResult<bool>;
    /// A desktop's sign-in through the server (RFC 8252 with PKCE, step 1): records the
    /// desktop's loopback `redirect_uri`, its `state` and `code_challenge`, and answers the
    /// provider's authorize URL, to which the server redirects the desktop's sign-in window. The
    /// provider sends the window back to the server ([`Ops::desktop_sign_in_callback`]).
    async fn desktop_sign_in_start(&self, args: DesktopSignInStartArgs) -> OpResult<String>;
    /// Step 2: the provider redirected the window to the server's callback (`callback_url`, the
    /// whole URL). Completes the sign-in with the provider and answers where to send the window:
    /// the desktop's `redirect_uri` with a one-time `code` (60 s, single use) and its `state`,
    /// or with `error` (and `state`) when the sign-in did not open the console.
    async fn desktop_sign_in_callback(&self, provider: ProviderKey, callback_url: String) -> OpResult<String>;
    /// Step 3: the desktop exchanges the one-time code, with the PKCE verifier and the same
    /// `redirect_uri`, for a staff session.
    async fn sign_in_exchange(&self, args: SignInExchangeArgs) -> OpResult<SignInResult>;

    // ---- the session
    /// The session's staff member with their role as it is now.
    async fn session_staff(&self, s: &SessionToken) -> OpResult<Staff>;
    /// Ends this session.
    async fn sign_out(&self, s: &SessionToken) -> OpResult<()>;
    /// Every live staff session (admins).
    async fn sessions_list(&self, s: &SessionToken) -> OpResult<Vec<SessionView>>;
    /// Ends a session (admins).
    async fn session_revoke(&self, s: &SessionToken, id: i64) -> OpResult<()>;
    /// Live events from now on, or, with `last_event_id`, every event after it that the server
    /// still holds (a [`crate::events::Event::Resync`] first when some are gone). The stream ends
    /// when the session ends (revoked, expired) or the core stops.
    async fn events(&self, s: &SessionToken, last_event_id: Option<String>) -> OpResult<EventStream>;

    // ---- overview, settings, audit
    async fn app_info(&self, s: &SessionToken) -> OpResult<AppInfo>;
    async fn overview(&self, s: &SessionToken) -> OpResult<Overview>;
    async fn audit_list(&self, s: &SessionToken, query: AuditQuery) -> OpResult<AuditPage>;

    // ---- jobs
    async fn jobs_list(&self, s: &SessionToken) -> OpResult<Vec<JobView>>;
    async fn job_get(&self, s: &SessionToken, id: i64) -> OpResult<JobView>;
    async fn job_kinds(&self, s: &SessionToken) -> OpResult<Vec<TaskKindInfo>>;
    /// The next `count` fire times of a trigger in a zone (nothing is saved).
    async fn job_preview(
        &self,
        s: &SessionToken,
        trigger: TriggerSpec,
        timezone: String,
        count: u32,
    ) -> OpResult<Vec<FireTime>>;
    async fn job_create(&self, s: &SessionToken, draft: JobDraft) -> OpResult<JobView>;
    async fn job_update(&self, s: &SessionToken, id: i64, edit: JobEdit) -> OpResult<JobView>;
    async fn job_pause(&self, s: &SessionToken, id: i64) -> OpResult<JobView>;
    async fn job_resume(&self, s: &SessionToken, id: i64) -> OpResult<JobView>;
    async fn job_run_now(&self, s: &SessionToken, id: i64) -> OpResult<JobView>;
    async fn job_delete(&self, s: &SessionToken, id: i64) -> OpResult<()>;
    /// Asks a running run to stop (cooperatively; abandoned after a grace period) and records
    /// it as stopped, with who stopped it. The run as it is after.
    async fn run_stop(&self, s: &SessionToken, run_id: i64) -> OpResult<JobRun>;
    async fn runs_list(&self, s: &SessionToken, query: RunQuery) -> OpResult<RunPage>;
    async fn scheduler_instances(&self, s: &SessionToken) -> OpResult<Vec<SchedulerInstance>>;

    // ---- OCR
    async fn ocr_list(&self, s: &SessionToken, query: OcrQuery) -> OpResult<OcrPage>;
    /// One request, its card data masked.
    async fn ocr_get(&self, s: &SessionToken, id: i64) -> OpResult<OcrRequest>;
    /// A request's portrait side unmasked (audited).
    async fn ocr_reveal(&self, s: &SessionToken, id: i64) -> OpResult<IdCardFront>;
    async fn ocr_submit(&self, s: &SessionToken, url: String, side: Side) -> OpResult<OcrSubmitted>;
    async fn ocr_retry(&self, s: &SessionToken, ids: Vec<i64>) -> OpResult<RetryOutcome>;
    /// Cancels pending requests (others are skipped): they are never called.
    async fn ocr_cancel(&self, s: &SessionToken, ids: Vec<i64>) -> OpResult<CancelOutcome>;
    /// A request's calls to Baidu, oldest first.
    async fn ocr_attempts(&self, s: &SessionToken, id: i64) -> OpResult<Vec<OcrAttempt>>;
    async fn ocr_purge_dead(&self, s: &SessionToken) -> OpResult<u64>;
    async fn ocr_set_cap(&self, s: &SessionToken, cap: f64) -> OpResult<OcrStats>;
    async fn ocr_pause(&self, s: &SessionToken) -> OpResult<OcrStats>;
    async fn ocr_resume(&self, s: &SessionToken) -> OpResult<OcrStats>;
    async fn ocr_stats(&self, s: &SessionToken) -> OpResult<OcrStats>;

    // ---- orders
    async fn orders_list(&self, s: &SessionToken, query: OrderQuery) -> OpResult<OrderPage>;
    async fn order_get(&self, s: &SessionToken, order_no: String) -> OpResult<Order>;
    async fn order_timeline(&self, s: &SessionToken, order_no: String) -> OpResult<Vec<OrderEvent>>;
    async fn orders_summary(&self, s: &SessionToken) -> OpResult<OrdersSummary>;
    /// Orders placed, paid, expired and cancelled per minute over the last `minutes` (oldest
    /// first, a point for every minute).
    async fn orders_activity(&self, s: &SessionToken, minutes: u32) -> OpResult<Vec<OrderActivity>>;
    async fn cancelled_list(&self, s: &SessionToken, query: OrderQuery) -> OpResult<CancelledPage>;
    async fn order_place(&self, s: &SessionToken, draft: OrderDraft) -> OpResult<Order>;
    /// Asks Alipay whether a pending order was paid; true when it was (and is now marked paid).
    async fn order_check_payment(&self, s: &SessionToken, order_no: String) -> OpResult<bool>;
    async fn order_cancel(&self, s: &SessionToken, order_no: String, reason: String) -> OpResult<()>;
    async fn goods_list(&self, s: &SessionToken) -> OpResult<Vec<Goods>>;
    async fn goods_create(&self, s: &SessionToken, goods: NewGoods) -> OpResult<Goods>;

    // ---- accounts
    async fn users_list(&self, s: &SessionToken, query: UserQuery) -> OpResult<UserPage>;
    async fn user_get(&self, s: &SessionToken, id: i64) -> OpResult<UserView>;
    /// Starts linking another provider to a user (see [`Ops::sign_in_start`] for `binding`).
    async fn link_start(
        &self,
        s: &SessionToken,
        user_id: i64,
        provider: ProviderKey,
        binding: String,
    ) -> OpResult<Authorization>;
    async fn unlink(&self, s: &SessionToken, link_id: i64) -> OpResult<UserView>;
    async fn staff_set_role(&self, s: &SessionToken, user_id: i64, role: Option<Role>) -> OpResult<UserView>;
    async fn link_requests_list(&self, s: &SessionToken) -> OpResult<Vec<LinkRequest>>;
    /// Accepts (links) or rejects a pending link; the user when accepted.
    async fn link_request_resolve(&self, s: &SessionToken, id: i64, accept: bool) -> OpResult<Option<UserView>>;
}

macro_rules! operations {
    ($($name:ident = $wire:literal, $access:ident, $method:ident $path:literal;)*) => {
        /// Each operation of [`Ops`] by name, with what it needs of the caller.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Operation { $($name,)* }

        impl Operation {
            /// Every operation, in the order of [`Ops`].
            pub const ALL: &'static [Operation] = &[$(Operation::$name,)*];

            /// The method's name in [`Ops`] (and the command's in the desktop shell).
            pub fn name(self) -> &'static str {
                match self { $(Operation::$name => $wire,)* }
            }

            /// What the caller needs.
            pub fn access(self) -> Access {
                match self { $(Operation::$name => Access::$access,)* }
            }

            /// The operation's route on the server (`opsdeckd`): its method and path under
            /// `/api/v1/`. Path parameters (`{id}`, `{order_no}`) carry the ids; a list's query
            /// is the query string (a `GET`); every other argument is the JSON body (the
            /// operation's draft type, or its `…Args` struct below); the answer is the
            /// operation's JSON (`null` for none), an error an [`ErrorBody`] with the status of
            /// its code. The caller's session is `Authorization: Bearer <session token>`.
            pub fn http(self) -> (HttpMethod, &'static str) {
                match self { $(Operation::$name => (HttpMethod::$method, $path),)* }
            }
        }
    };
}

impl Operation {
    /// What a refusal says the caller cannot do ("pause jobs"): for an operation that changes
    /// state, the words the core's role check uses (in process and, for a viewer refused before
    /// the arguments are read, on the server); for the others, its name.
    pub fn action(self) -> &'static str {
        match self {
            Operation::SessionRevoke => "end staff sessions",
            Operation::JobCreate => "add jobs",
            Operation::JobUpdate => "edit jobs",
            Operation::JobPause => "pause jobs",
            Operation::JobResume => "resume jobs",
            Operation::JobRunNow => "run jobs",
            Operation::JobDelete => "delete jobs",
            Operation::RunStop => "stop runs",
            Operation::OcrReveal => "reveal ID-card data",
            Operation::OcrSubmit => "submit OCR requests",
            Operation::OcrRetry => "retry OCR requests",
            Operation::OcrCancel => "cancel OCR requests",
            Operation::OcrPurgeDead => "purge dead OCR requests",
            Operation::OcrSetCap => "change the OCR cap",
            Operation::OcrPause => "pause the OCR queue",
            Operation::OcrResume => "resume the OCR queue",
            Operation::OrderPlace => "place orders",
            Operation::OrderCheckPayment => "check payments",
            Operation::OrderCancel => "cancel orders",
            Operation::GoodsCreate => "add goods",
            Operation::LinkStart => "link sign-ins",
            Operation::Unlink => "unlink sign-ins",
            Operation::StaffSetRole => "change console roles",
            Operation::LinkRequestResolve => "resolve link requests",
            other => other.name(),
        }
    }
}

/// What an operation needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nothing: health and the sign-in steps.
    Open,
    /// A session of any console role; changes nothing.
    Read,
    /// A session whose role may change state (operator or admin; some need admin).
    Write,
}

/// The HTTP methods of the routes ([`Operation::http`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Delete,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Delete => "DELETE",
        }
    }
}

operations! {
    Health = "health", Open, Get "/api/v1/health";
    AuthProviders = "auth_providers", Open, Get "/api/v1/auth/providers";
    SignInStart = "sign_in_start", Open, Post "/api/v1/sign-in/start";
    SignInComplete = "sign_in_complete", Open, Post "/api/v1/sign-in/complete";
    SignInCancel = "sign_in_cancel", Open, Post "/api/v1/sign-in/cancel";
    DesktopSignInStart = "desktop_sign_in_start", Open, Get "/api/v1/auth/desktop/start";
    DesktopSignInCallback = "desktop_sign_in_callback", Open, Get "/api/v1/auth/callback/{provider}";
    SignInExchange = "sign_in_exchange", Open, Post "/api/v1/auth/token";
    SessionStaff = "session_staff", Read, Get "/api/v1/session";
    SignOut = "sign_out", Read, Post "/api/v1/session/sign-out";
    SessionsList = "sessions_list", Read, Get "/api/v1/sessions";
    SessionRevoke = "session_revoke", Write, Delete "/api/v1/sessions/{id}";
    Events = "events", Read, Get "/api/v1/events";
    AppInfo = "app_info", Read, Get "/api/v1/app";
    Overview = "overview", Read, Get "/api/v1/overview";
    AuditList = "audit_list", Read, Get "/api/v1/audit";
    JobsList = "jobs_list", Read, Get "/api/v1/jobs";
    JobGet = "job_get", Read, Get "/api/v1/jobs/{id}";
    JobKinds = "job_kinds", Read, Get "/api/v1/job-kinds";
    JobPreview = "job_preview", Read, Post "/api/v1/job-preview";
    JobCreate = "job_create", Write, Post "/api/v1/jobs";
    JobUpdate = "job_update", Write, Put "/api/v1/jobs/{id}";
    JobPause = "job_pause", Write, Post "/api/v1/jobs/{id}/pause";
    JobResume = "job_resume", Write, Post "/api/v1/jobs/{id}/resume";
    JobRunNow = "job_run_now", Write, Post "/api/v1/jobs/{id}/run";
    JobDelete = "job_delete", Write, Delete "/api/v1/jobs/{id}";
    RunStop = "run_stop", Write, Post "/api/v1/runs/{id}/stop";
    RunsList = "runs_list", Read, Get "/api/v1/runs";
    SchedulerInstances = "scheduler_instances", Read, Get "/api/v1/scheduler-instances";
    OcrList = "ocr_list", Read, Get "/api/v1/ocr-requests";
    OcrGet = "ocr_get", Read, Get "/api/v1/ocr-requests/{id}";
    OcrReveal = "ocr_reveal", Write, Post "/api/v1/ocr-requests/{id}/reveal";
    OcrSubmit = "ocr_submit", Write, Post "/api/v1/ocr-requests";
    OcrRetry = "ocr_retry", Write, Post "/api/v1/ocr/retry";
    OcrCancel = "ocr_cancel", Write, Post "/api/v1/ocr/cancel";
    OcrAttempts = "ocr_attempts", Read, Get "/api/v1/ocr-requests/{id}/attempts";
    OcrPurgeDead = "ocr_purge_dead", Write, Post "/api/v1/ocr/purge-dead";
    OcrSetCap = "ocr_set_cap", Write, Put "/api/v1/ocr/cap";
    OcrPause = "ocr_pause", Write, Post "/api/v1/ocr/pause";
    OcrResume = "ocr_resume", Write, Post "/api/v1/ocr/resume";
    OcrStats = "ocr_stats", Read, Get "/api/v1/ocr/stats";
    OrdersList = "orders_list", Read, Get "/api/v1/orders";
    OrderGet = "order_get", Read, Get "/api/v1/orders/{order_no}";
    OrderTimeline = "order_timeline", Read, Get "/api/v1/orders/{order_no}/timeline";
    OrdersSummary = "orders_summary", Read, Get "/api/v1/orders-summary";
    OrdersActivity = "orders_activity", Read, Get "/api/v1/orders-activity";
    CancelledList = "cancelled_list", Read, Get "/api/v1/cancelled-orders";
    OrderPlace = "order_place", Write, Post "/api/v1/orders";
    OrderCheckPayment = "order_check_payment", Write, Post "/api/v1/orders/{order_no}/check-payment";
    OrderCancel = "order_cancel", Write, Post "/api/v1/orders/{order_no}/cancel";
    GoodsList = "goods_list", Read, Get "/api/v1/goods";
    GoodsCreate = "goods_create", Write, Post "/api/v1/goods";
    UsersList = "users_list", Read, Get "/api/v1/users";
    UserGet = "user_get", Read, Get "/api/v1/users/{id}";
    LinkStart = "link_start", Write, Post "/api/v1/users/{id}/links";
    Unlink = "unlink", Write, Delete "/api/v1/links/{id}";
    StaffSetRole = "staff_set_role", Write, Put "/api/v1/users/{id}/role";
    LinkRequestsList = "link_requests_list", Read, Get "/api/v1/link-requests";
    LinkRequestResolve = "link_request_resolve", Write, Post "/api/v1/link-requests/{id}/resolve";
}

// The JSON bodies (and the audit list's query) of the operations that take more than an id or a
// draft: one struct per operation, named after it, its fields the method's arguments.
// A body refuses a field it does not know (a misspelt optional one would otherwise be dropped
// silently); the queries accept extra parameters (cache busters, tracking).

/// `sign_in_start`'s body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInStartArgs {
    pub provider: ProviderKey,
    pub binding: String,
}

/// `sign_in_complete`'s body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInCompleteArgs {
    pub provider: ProviderKey,
    /// The URL the provider redirected the sign-in window to.
    pub redirect_url: String,
    pub binding: String,
}

/// `sign_in_cancel`'s body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInCancelArgs {
    pub state: String,
    pub binding: String,
}

/// `desktop_sign_in_start`'s query (the sign-in window opens this URL).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DesktopSignInStartArgs {
    pub provider: ProviderKey,
    /// The desktop's loopback redirect (RFC 8252 §7.3): `http://127.0.0.1:PORT/PATH` or
    /// `http://[::1]:PORT/PATH`; anything else is refused.
    pub redirect_uri: String,
    /// The desktop's own state, handed back with the code.
    pub state: String,
    /// `BASE64URL(SHA-256(code_verifier))` (RFC 7636).
    pub code_challenge: String,
    /// Only `S256`.
    pub code_challenge_method: String,
}

/// `sign_in_exchange`'s body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInExchangeArgs {
    /// The one-time code the server handed the sign-in window.
    pub code: String,
    /// The PKCE verifier whose challenge started the sign-in.
    pub code_verifier: String,
    /// The same `redirect_uri` the sign-in started with.
    pub redirect_uri: String,
}

/// `events`' query: resume after this id (the `Last-Event-ID` header does the same).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventsArgs {
    #[serde(default)]
    pub last_event_id: Option<String>,
}

/// `orders_activity`'s query.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrdersActivityArgs {
    /// How many minutes back, at most 1440.
    pub minutes: u32,
}

/// `job_preview`'s body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobPreviewArgs {
    pub trigger: TriggerSpec,
    pub timezone: String,
    pub count: u32,
}

/// `ocr_submit`'s body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OcrSubmitArgs {
    pub url: String,
    pub side: Side,
}

/// `ocr_retry`'s body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OcrRetryArgs {
    pub ids: Vec<i64>,
}

/// `ocr_cancel`'s body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OcrCancelArgs {
    pub ids: Vec<i64>,
}

/// `ocr_set_cap`'s body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OcrCapArgs {
    /// Calls per second, all instances together.
    pub cap: f64,
}

/// `order_cancel`'s body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderCancelArgs {
    pub reason: String,
}

/// `link_start`'s body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkStartArgs {
    pub provider: ProviderKey,
    pub binding: String,
}

/// `staff_set_role`'s body: `role` null removes the console role.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffRoleArgs {
    pub role: Option<Role>,
}

/// `link_request_resolve`'s body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkResolveArgs {
    pub accept: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each method of `Ops` has its `Operation`, and no other: read from this file's source.
    #[test]
    fn every_method_of_ops_is_an_operation() {
        let source = include_str!("ops.rs");
        let trait_body = &source[source.find("pub trait Ops").unwrap()..source.find("macro_rules!").unwrap()];
        let mut methods: Vec<&str> =
            trait_body.split("async fn ").skip(1).map(|rest| rest.split('(').next().unwrap()).collect();
        let mut names: Vec<&str> = Operation::ALL.iter().map(|o| o.name()).collect();
        methods.sort();
        names.sort();
        assert_eq!(methods, names);
    }

    /// Each operation has its own route, under `/api/v1/`, a path the router accepts.
    #[test]
    fn every_operation_has_a_distinct_route() {
        let mut seen = std::collections::HashSet::new();
        for &op in Operation::ALL {
            let (method, path) = op.http();
            assert!(path.starts_with("/api/v1/"), "{}: {path}", op.name());
            assert!(seen.insert((method, path)), "{} shares {} {path}", op.name(), method.as_str());
            for segment in path.split('/').skip(1) {
                assert!(!segment.is_empty(), "{}: {path}", op.name());
                if segment.starts_with('{') {
                    assert!(matches!(segment, "{id}" | "{order_no}" | "{provider}"), "{}: {path}", op.name());
                }
            }
            // Reads that take no body are GETs; whatever changes state is not.
            if op.access() == Access::Write {
                assert_ne!(method, HttpMethod::Get, "{} changes state", op.name());
            }
        }
        assert_eq!(seen.len(), Operation::ALL.len());
    }
}
