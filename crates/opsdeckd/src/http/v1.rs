//! `/api/v1/`: every console operation of [`Ops`] over HTTP JSON, on the route
//! [`Operation::http`] gives it (the table a remote client of `Ops` uses too).
//!
//! One generic layer, no logic of its own: the caller's staff session is
//! `Authorization: Bearer <session token>` (never the API token); every operation but the open
//! ones ([`Access::Open`]: health, the providers, the sign-in steps) first asks the core who the
//! session is (`unauthenticated` without a valid one), and an operation that changes state
//! ([`Access::Write`]) refuses a viewer `forbidden` *before* its path, query or body is read, so a
//! viewer learns nothing from a body's validation. Then the arguments are read (ids from the path,
//! a list's query from the query string, anything else from the JSON body), the core is called
//! ([`AppState::ops`]), and its answer is the JSON answered (`null` for none); its error is an
//! [`ErrorBody`](opsdeck_api::ErrorBody) with the status of its code.
//!
//! The table below ([`v1_table!`]) names each operation's arguments with their types once: the
//! dispatch and the operation's OpenAPI description are both generated from it.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use opsdeck_api::accounts::{Authorization, LinkRequest, ProviderInfo, Role, Staff, UserPage, UserQuery, UserView};
use opsdeck_api::app::AppInfo;
use opsdeck_api::audit::{AuditPage, AuditQuery};
use opsdeck_api::health::HealthReport;
use opsdeck_api::jobs::{
    FireTime, JobDraft, JobEdit, JobRun, JobView, RunPage, RunQuery, SchedulerInstance, TaskKindInfo,
};
use opsdeck_api::ocr::{
    CancelOutcome, IdCardFront, OcrAttempt, OcrPage, OcrQuery, OcrRequest, OcrStats, OcrSubmitted, RetryOutcome,
};
use opsdeck_api::ops::{
    JobPreviewArgs, LinkResolveArgs, LinkStartArgs, OcrCancelArgs, OcrCapArgs, OcrRetryArgs, OcrSubmitArgs,
    OrderCancelArgs, OrdersActivityArgs, SignInCancelArgs, SignInCompleteArgs, SignInExchangeArgs, SignInStartArgs,
    StaffRoleArgs,
};
use opsdeck_api::orders::{
    CancelledPage, Goods, NewGoods, Order, OrderActivity, OrderDraft, OrderEvent, OrderPage, OrderQuery, OrdersSummary,
};
use opsdeck_api::overview::Overview;
use opsdeck_api::{Access, HttpMethod, OpResult, Operation, Ops, SessionToken, SessionView, SignInResult};
use opsdeck_core::ApiError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;
use utoipa::openapi::path::{OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Content, Ref, RefOr, Required};

use super::AppState;
use super::auth::bearer;
use super::error::HttpError;
use super::extract::{ApiJson, ApiPath, ApiQuery};

/// The name of the staff session's security scheme in the OpenAPI document.
pub const SESSION: &str = "sessionAuth";

/// The tag of the console's operations in the OpenAPI document.
pub const TAG: &str = "console";

/// The handler of every `/api/v1/` route: `op`'s.
pub async fn handle(op: Operation, State(state): State<AppState>, request: Request) -> Response {
    match run(op, state, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

/// The operations whose answer is not one JSON value: the live events (server-sent events) and
/// the desktop sign-in's two browser steps (redirects). Each is served by its own module; the
/// table below leaves them out.
const OWN_HANDLERS: &[Operation] =
    &[Operation::Events, Operation::DesktopSignInStart, Operation::DesktopSignInCallback];

async fn run(op: Operation, state: AppState, request: Request) -> Result<Response, HttpError> {
    match op {
        Operation::Events => return super::events::serve(state, request).await,
        Operation::DesktopSignInStart | Operation::DesktopSignInCallback => {
            return super::handoff::serve(op, state, request).await;
        }
        _ => {}
    }
    let (parts, body) = request.into_parts();
    // No header (or another scheme): no session, which the core refuses.
    let session = SessionToken::new(bearer(&parts).unwrap_or_default());
    let ops = state.ops.clone();
    if op.access() != Access::Open {
        let staff = ops.session_staff(&session).await.map_err(HttpError::from_body)?;
        if op.access() == Access::Write && staff.role == Role::Viewer {
            return Err(ApiError::viewer_refused(op).into());
        }
    }
    let input = Input { parts, body: Some(body), state };
    dispatch(op, ops, session, input).await
}

/// A request's arguments, read one at a time (after the session is judged).
struct Input {
    parts: Parts,
    body: Option<Body>,
    state: AppState,
}

impl Input {
    /// The path parameter (`{id}`, `{order_no}`).
    async fn path<T: DeserializeOwned + Send>(&mut self) -> Result<T, HttpError> {
        let ApiPath(value) = ApiPath::<T>::from_request_parts(&mut self.parts, &self.state).await?;
        Ok(value)
    }

    /// The query string.
    async fn query<T: DeserializeOwned>(&mut self) -> Result<T, HttpError> {
        let ApiQuery(value) = ApiQuery::<T>::from_request_parts(&mut self.parts, &self.state).await?;
        Ok(value)
    }

    /// The JSON body (`Content-Type: application/json`, at most the body limit).
    async fn body<T: DeserializeOwned>(&mut self) -> Result<T, HttpError> {
        let body = self.body.take().expect("one body per operation");
        let request = Request::from_parts(self.parts.clone(), body);
        let ApiJson(value) = ApiJson::<T>::from_request(request, &self.state).await?;
        Ok(value)
    }
}

/// The answer: the operation's JSON, 200.
fn answer<T: Serialize>(result: OpResult<T>) -> Result<Response, HttpError> {
    match result {
        Ok(value) => Ok(Json(value).into_response()),
        Err(body) => Err(HttpError::from_body(body)),
    }
}

/// What the OpenAPI description of an operation is made of.
#[derive(Default)]
struct Shape {
    parameters: Vec<utoipa::openapi::path::Parameter>,
    body: Option<RefOr<Schema>>,
    answer: Option<RefOr<Schema>>,
    schemas: Vec<(String, RefOr<Schema>)>,
}

impl Shape {
    /// `name` is the route's `{…}` parameter.
    fn path<T: ToSchema>(&mut self, op: Operation) {
        let (_, route) = op.http();
        let name = route.split('{').nth(1).and_then(|rest| rest.split('}').next()).expect("a path parameter");
        self.parameters.push(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(T::schema()))
                .build(),
        );
    }

    /// Each field of `T` is a query parameter.
    fn query<T: ToSchema>(&mut self, _: Operation) {
        T::schemas(&mut self.schemas);
        let RefOr::T(Schema::Object(object)) = T::schema() else { panic!("a query is a struct: {}", T::name()) };
        for (name, schema) in object.properties {
            let required = if object.required.contains(&name) { Required::True } else { Required::False };
            let description = match &schema {
                RefOr::T(Schema::Object(field)) => field.description.clone(),
                _ => None,
            };
            self.parameters.push(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Query)
                    .required(required)
                    .description(description)
                    .schema(Some(schema))
                    .build(),
            );
        }
    }

    fn body<T: ToSchema>(&mut self, _: Operation) {
        T::schemas(&mut self.schemas);
        self.body = Some(T::schema());
    }

    fn answer<T: ToSchema>(&mut self) {
        T::schemas(&mut self.schemas);
        self.answer = Some(T::schema());
    }
}

/// The table: `Operation(argument: where Type, …) -> Answer => |ops, session| call;`. Generates
/// [`dispatch`] and [`shape`]; both match every [`Operation`] (a new one does not compile until
/// it is added here).
macro_rules! v1_table {
    ($($op:ident($($arg:ident: $how:ident $ty:ty),*) -> $answer:ty => |$ops:ident, $s:ident| $call:expr;)*) => {
        /// Reads `op`'s arguments from `input` and calls the core.
        #[allow(unused_mut, unused_variables)]
        async fn dispatch(op: Operation, ops: Arc<dyn Ops>, session: SessionToken, mut input: Input)
        -> Result<Response, HttpError> {
            match op {
                $(Operation::$op => {
                    $(let $arg: $ty = input.$how::<$ty>().await?;)*
                    let $ops = &*ops;
                    let $s = &session;
                    let result: OpResult<$answer> = $call.await;
                    answer(result)
                })*
                Operation::Events | Operation::DesktopSignInStart | Operation::DesktopSignInCallback => {
                    unreachable!("{} is served by its own handler (OWN_HANDLERS)", op.name())
                }
            }
        }

        /// `op`'s arguments and answer, for the OpenAPI document.
        fn shape(op: Operation) -> Shape {
            let mut shape = Shape::default();
            match op {
                $(Operation::$op => {
                    $(shape.$how::<$ty>(op);)*
                    shape.answer::<$answer>();
                })*
                Operation::Events | Operation::DesktopSignInStart | Operation::DesktopSignInCallback => {}
            }
            shape
        }
    };
}

v1_table! {
    Health() -> HealthReport => |o, _s| o.health();
    AuthProviders() -> Vec<ProviderInfo> => |o, _s| o.auth_providers();
    SignInStart(a: body SignInStartArgs) -> Authorization => |o, _s| o.sign_in_start(a.provider, a.binding);
    SignInComplete(a: body SignInCompleteArgs) -> SignInResult
        => |o, _s| o.sign_in_complete(a.provider, a.redirect_url, a.binding);
    SignInCancel(a: body SignInCancelArgs) -> bool => |o, _s| o.sign_in_cancel(a.state, a.binding);
    SignInExchange(a: body SignInExchangeArgs) -> SignInResult => |o, _s| o.sign_in_exchange(a);
    SessionStaff() -> Staff => |o, s| o.session_staff(s);
    SignOut() -> () => |o, s| o.sign_out(s);
    SessionsList() -> Vec<SessionView> => |o, s| o.sessions_list(s);
    SessionRevoke(id: path i64) -> () => |o, s| o.session_revoke(s, id);
    AppInfo() -> AppInfo => |o, s| o.app_info(s);
    Overview() -> Overview => |o, s| o.overview(s);
    AuditList(q: query AuditQuery) -> AuditPage => |o, s| o.audit_list(s, q);
    JobsList() -> Vec<JobView> => |o, s| o.jobs_list(s);
    JobGet(id: path i64) -> JobView => |o, s| o.job_get(s, id);
    JobKinds() -> Vec<TaskKindInfo> => |o, s| o.job_kinds(s);
    JobPreview(a: body JobPreviewArgs) -> Vec<FireTime> => |o, s| o.job_preview(s, a.trigger, a.timezone, a.count);
    JobCreate(draft: body JobDraft) -> JobView => |o, s| o.job_create(s, draft);
    JobUpdate(id: path i64, edit: body JobEdit) -> JobView => |o, s| o.job_update(s, id, edit);
    JobPause(id: path i64) -> JobView => |o, s| o.job_pause(s, id);
    JobResume(id: path i64) -> JobView => |o, s| o.job_resume(s, id);
    JobRunNow(id: path i64) -> JobView => |o, s| o.job_run_now(s, id);
    JobDelete(id: path i64) -> () => |o, s| o.job_delete(s, id);
    RunStop(id: path i64) -> JobRun => |o, s| o.run_stop(s, id);
    RunsList(q: query RunQuery) -> RunPage => |o, s| o.runs_list(s, q);
    SchedulerInstances() -> Vec<SchedulerInstance> => |o, s| o.scheduler_instances(s);
    OcrList(q: query OcrQuery) -> OcrPage => |o, s| o.ocr_list(s, q);
    OcrGet(id: path i64) -> OcrRequest => |o, s| o.ocr_get(s, id);
    OcrReveal(id: path i64) -> IdCardFront => |o, s| o.ocr_reveal(s, id);
    OcrSubmit(a: body OcrSubmitArgs) -> OcrSubmitted => |o, s| o.ocr_submit(s, a.url, a.side);
    OcrRetry(a: body OcrRetryArgs) -> RetryOutcome => |o, s| o.ocr_retry(s, a.ids);
    OcrCancel(a: body OcrCancelArgs) -> CancelOutcome => |o, s| o.ocr_cancel(s, a.ids);
    OcrAttempts(id: path i64) -> Vec<OcrAttempt> => |o, s| o.ocr_attempts(s, id);
    OcrPurgeDead() -> u64 => |o, s| o.ocr_purge_dead(s);
    OcrSetCap(a: body OcrCapArgs) -> OcrStats => |o, s| o.ocr_set_cap(s, a.cap);
    OcrPause() -> OcrStats => |o, s| o.ocr_pause(s);
    OcrResume() -> OcrStats => |o, s| o.ocr_resume(s);
    OcrStats() -> OcrStats => |o, s| o.ocr_stats(s);
    OrdersList(q: query OrderQuery) -> OrderPage => |o, s| o.orders_list(s, q);
    OrderGet(no: path String) -> Order => |o, s| o.order_get(s, no);
    OrderTimeline(no: path String) -> Vec<OrderEvent> => |o, s| o.order_timeline(s, no);
    OrdersSummary() -> OrdersSummary => |o, s| o.orders_summary(s);
    OrdersActivity(q: query OrdersActivityArgs) -> Vec<OrderActivity> => |o, s| o.orders_activity(s, q.minutes);
    CancelledList(q: query OrderQuery) -> CancelledPage => |o, s| o.cancelled_list(s, q);
    OrderPlace(draft: body OrderDraft) -> Order => |o, s| o.order_place(s, draft);
    OrderCheckPayment(no: path String) -> bool => |o, s| o.order_check_payment(s, no);
    OrderCancel(no: path String, a: body OrderCancelArgs) -> () => |o, s| o.order_cancel(s, no, a.reason);
    GoodsList() -> Vec<Goods> => |o, s| o.goods_list(s);
    GoodsCreate(goods: body NewGoods) -> Goods => |o, s| o.goods_create(s, goods);
    UsersList(q: query UserQuery) -> UserPage => |o, s| o.users_list(s, q);
    UserGet(id: path i64) -> UserView => |o, s| o.user_get(s, id);
    LinkStart(id: path i64, a: body LinkStartArgs) -> Authorization
        => |o, s| o.link_start(s, id, a.provider, a.binding);
    Unlink(id: path i64) -> UserView => |o, s| o.unlink(s, id);
    StaffSetRole(id: path i64, a: body StaffRoleArgs) -> UserView => |o, s| o.staff_set_role(s, id, a.role);
    LinkRequestsList() -> Vec<LinkRequest> => |o, s| o.link_requests_list(s);
    LinkRequestResolve(id: path i64, a: body LinkResolveArgs) -> Option<UserView>
        => |o, s| o.link_request_resolve(s, id, a.accept);
}

/// The axum method filter of a route's method.
pub fn method_filter(method: HttpMethod) -> axum::routing::MethodFilter {
    use axum::routing::MethodFilter;
    match method {
        HttpMethod::Get => MethodFilter::GET,
        HttpMethod::Post => MethodFilter::POST,
        HttpMethod::Put => MethodFilter::PUT,
        HttpMethod::Delete => MethodFilter::DELETE,
    }
}

/// Adds every `/api/v1/` operation to `doc` (with the schemas they name).
pub fn describe(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::HttpMethod as DocMethod;
    let response = |name: &str| RefOr::Ref(Ref::from_response_name(name));
    super::events::describe(doc);
    super::handoff::describe(doc);
    for &op in Operation::ALL.iter().filter(|op| !OWN_HANDLERS.contains(op)) {
        let Shape { parameters, body, answer, schemas } = shape(op);
        let (method, path) = op.http();
        let access = match op.access() {
            Access::Open => "Open: no session (limited per address).",
            Access::Read => {
                "Any staff session (`Authorization: Bearer <session token>`); changes nothing. Without a valid \
                 session: 401."
            }
            Access::Write => {
                "Changes state: operators and admins (some operations admins only). A viewer's session is \
                 refused 403 `forbidden` before the arguments are read; without a valid session: 401."
            }
        };
        let summary = {
            let words = op.name().replace('_', " ");
            let mut chars = words.chars();
            chars.next().map(|first| first.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default()
        };
        let mut builder = OperationBuilder::new()
            .tag(TAG)
            .operation_id(Some(format!("v1_{}", op.name())))
            .summary(Some(summary))
            .description(Some(format!("`Ops::{}`. {access}", op.name())))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("The operation's answer.")
                    .content("application/json", Content::new(answer)),
            );
        let takes_arguments = !parameters.is_empty() || body.is_some();
        for parameter in parameters {
            builder = builder.parameter(parameter);
        }
        if let Some(schema) = &body {
            builder = builder.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content("application/json", Content::new(Some(schema.clone())))
                    .build(),
            ));
        }
        if takes_arguments || op.access() == Access::Write {
            builder = builder.response("400", response("BadRequest"));
        }
        if op.access() == Access::Open {
            builder = builder.response("429", response("TooManyRequests"));
        } else {
            builder = builder
                .security(SecurityRequirement::new(SESSION, Vec::<String>::new()))
                .response("401", response("Unauthorized"))
                .response("403", response("Forbidden"))
                .response("404", response("NotFound"));
        }
        if op == Operation::RunStop {
            builder = builder.response("409", response("Conflict"));
        }
        if body.is_some() {
            builder =
                builder.response("413", response("PayloadTooLarge")).response("415", response("UnsupportedMediaType"));
        }
        builder = builder
            .response("500", response("Internal"))
            .response("502", response("ProviderError"))
            .response("503", response("Unavailable"));
        let method = match method {
            HttpMethod::Get => DocMethod::Get,
            HttpMethod::Post => DocMethod::Post,
            HttpMethod::Put => DocMethod::Put,
            HttpMethod::Delete => DocMethod::Delete,
        };
        doc.paths.add_path_operation(path, vec![method], builder.build());
        let components = doc.components.get_or_insert_with(Default::default);
        for (name, schema) in schemas {
            components.schemas.entry(name).or_insert(schema);
        }
    }
}
