//! [`Ops`] over the server: each operation on its route, with its arguments where the server
//! reads them (`crates/opsdeckd/src/http/v1.rs`, the `v1_table!`): ids in the path, a list's
//! query (and `OrdersActivityArgs`) in the query string, the rest the JSON body (the draft, or the
//! operation's `…Args` struct).

use async_trait::async_trait;
use opsdeck_api::accounts::{
    Authorization, LinkRequest, ProviderInfo, ProviderKey, Role, Staff, UserPage, UserQuery, UserView,
};
use opsdeck_api::app::AppInfo;
use opsdeck_api::audit::{AuditPage, AuditQuery};
use opsdeck_api::health::HealthReport;
use opsdeck_api::jobs::{
    FireTime, JobDraft, JobEdit, JobRun, JobView, RunPage, RunQuery, SchedulerInstance, TaskKindInfo, TriggerSpec,
};
use opsdeck_api::ocr::{
    CancelOutcome, IdCardFront, OcrAttempt, OcrPage, OcrQuery, OcrRequest, OcrStats, OcrSubmitted, RetryOutcome, Side,
};
use opsdeck_api::ops::{
    DesktopSignInStartArgs, JobPreviewArgs, LinkResolveArgs, LinkStartArgs, OcrCancelArgs, OcrCapArgs, OcrRetryArgs,
    OcrSubmitArgs, OrderCancelArgs, OrdersActivityArgs, SignInCancelArgs, SignInCompleteArgs, SignInExchangeArgs,
    StaffRoleArgs,
};
use opsdeck_api::orders::{
    CancelledPage, Goods, NewGoods, Order, OrderActivity, OrderDraft, OrderEvent, OrderPage, OrderQuery, OrdersSummary,
};
use opsdeck_api::overview::Overview;
use opsdeck_api::{
    ErrorBody, ErrorCode, EventStream, OpResult, Operation, Ops, SessionToken, SessionView, SignInResult,
};
use reqwest::Url;

use crate::RemoteOps;
use crate::signin::{self, Redirect};

use Operation as Op;

#[async_trait]
impl Ops for RemoteOps {
    async fn health(&self) -> OpResult<HealthReport> {
        self.inner.call(Op::Health, None, None).send().await
    }

    async fn auth_providers(&self) -> OpResult<Vec<ProviderInfo>> {
        self.inner.call(Op::AuthProviders, None, None).send().await
    }

    /// The desktop's own attempt, started on the server from here: see `signin.rs`. `binding`
    /// becomes the PKCE verifier (or derives it).
    async fn sign_in_start(&self, provider: ProviderKey, binding: String) -> OpResult<Authorization> {
        let (args, attempt) = signin::prepare(provider, binding)?;
        let provider_url = self.desktop_sign_in_start(args).await?;
        signin::started(&self.inner, attempt, provider_url)
    }

    /// This desktop's attempt: its code exchanged (`POST /api/v1/auth/token`). Any other
    /// redirect (a link the server started) is the server's to complete.
    async fn sign_in_complete(
        &self,
        provider: ProviderKey,
        redirect_url: String,
        binding: String,
    ) -> OpResult<SignInResult> {
        match signin::read_redirect(&self.inner, provider, &redirect_url, &binding) {
            Redirect::Own(attempt) => {
                let attempt = attempt?;
                let loopback = self.desktop_sign_in_callback(provider, redirect_url).await?;
                self.sign_in_exchange(signin::read_loopback(attempt, &loopback)?).await
            }
            Redirect::Server => {
                let args = SignInCompleteArgs { provider, redirect_url, binding };
                self.inner.call(Op::SignInComplete, None, None).body(&args).send().await
            }
        }
    }

    /// This desktop's attempt is forgotten here (the server's expires unused); another is the
    /// server's.
    async fn sign_in_cancel(&self, state: String, binding: String) -> OpResult<bool> {
        if signin::cancel(&self.inner, &state, &binding) {
            return Ok(true);
        }
        self.inner.call(Op::SignInCancel, None, None).body(&SignInCancelArgs { state, binding }).send().await
    }

    /// The browser step's redirect, read rather than followed: where the server sends the window.
    async fn desktop_sign_in_start(&self, args: DesktopSignInStartArgs) -> OpResult<String> {
        self.inner.call(Op::DesktopSignInStart, None, None).query(&args).send_for_redirect().await
    }

    /// `callback_url`'s query, as the provider brought it, on the server's callback route.
    async fn desktop_sign_in_callback(&self, provider: ProviderKey, callback_url: String) -> OpResult<String> {
        let url = Url::parse(&callback_url).map_err(|_| {
            let mut error = ErrorBody::new(ErrorCode::RedirectUrlInvalid, "the callback is not a URL");
            error.field = Some("callback_url".into());
            error
        })?;
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        self.inner
            .call(Op::DesktopSignInCallback, None, Some(provider.as_str()))
            .query(&query)
            .send_for_redirect()
            .await
    }

    async fn sign_in_exchange(&self, args: SignInExchangeArgs) -> OpResult<SignInResult> {
        self.inner.call(Op::SignInExchange, None, None).body(&args).send().await
    }

    async fn session_staff(&self, s: &SessionToken) -> OpResult<Staff> {
        self.inner.call(Op::SessionStaff, Some(s), None).send().await
    }

    async fn sign_out(&self, s: &SessionToken) -> OpResult<()> {
        self.inner.call(Op::SignOut, Some(s), None).send().await
    }

    async fn sessions_list(&self, s: &SessionToken) -> OpResult<Vec<SessionView>> {
        self.inner.call(Op::SessionsList, Some(s), None).send().await
    }

    async fn session_revoke(&self, s: &SessionToken, id: i64) -> OpResult<()> {
        self.inner.call(Op::SessionRevoke, Some(s), Some(&id.to_string())).send().await
    }

    /// Server-sent events that reconnect by themselves (`events.rs`).
    async fn events(&self, s: &SessionToken, last_event_id: Option<String>) -> OpResult<EventStream> {
        crate::events::open(self.inner.clone(), s.clone(), last_event_id).await
    }

    async fn app_info(&self, s: &SessionToken) -> OpResult<AppInfo> {
        self.inner.call(Op::AppInfo, Some(s), None).send().await
    }

    async fn overview(&self, s: &SessionToken) -> OpResult<Overview> {
        self.inner.call(Op::Overview, Some(s), None).send().await
    }

    async fn audit_list(&self, s: &SessionToken, query: AuditQuery) -> OpResult<AuditPage> {
        self.inner.call(Op::AuditList, Some(s), None).query(&query).send().await
    }

    async fn jobs_list(&self, s: &SessionToken) -> OpResult<Vec<JobView>> {
        self.inner.call(Op::JobsList, Some(s), None).send().await
    }

    async fn job_get(&self, s: &SessionToken, id: i64) -> OpResult<JobView> {
        self.inner.call(Op::JobGet, Some(s), Some(&id.to_string())).send().await
    }

    async fn job_kinds(&self, s: &SessionToken) -> OpResult<Vec<TaskKindInfo>> {
        self.inner.call(Op::JobKinds, Some(s), None).send().await
    }

    async fn job_preview(
        &self,
        s: &SessionToken,
        trigger: TriggerSpec,
        timezone: String,
        count: u32,
    ) -> OpResult<Vec<FireTime>> {
        let args = JobPreviewArgs { trigger, timezone, count };
        self.inner.call(Op::JobPreview, Some(s), None).body(&args).send().await
    }

    async fn job_create(&self, s: &SessionToken, draft: JobDraft) -> OpResult<JobView> {
        self.inner.call(Op::JobCreate, Some(s), None).body(&draft).send().await
    }

    async fn job_update(&self, s: &SessionToken, id: i64, edit: JobEdit) -> OpResult<JobView> {
        self.inner.call(Op::JobUpdate, Some(s), Some(&id.to_string())).body(&edit).send().await
    }

    async fn job_pause(&self, s: &SessionToken, id: i64) -> OpResult<JobView> {
        self.inner.call(Op::JobPause, Some(s), Some(&id.to_string())).send().await
    }

    async fn job_resume(&self, s: &SessionToken, id: i64) -> OpResult<JobView> {
        self.inner.call(Op::JobResume, Some(s), Some(&id.to_string())).send().await
    }

    async fn job_run_now(&self, s: &SessionToken, id: i64) -> OpResult<JobView> {
        self.inner.call(Op::JobRunNow, Some(s), Some(&id.to_string())).send().await
    }

    async fn job_delete(&self, s: &SessionToken, id: i64) -> OpResult<()> {
        self.inner.call(Op::JobDelete, Some(s), Some(&id.to_string())).send().await
    }

    async fn run_stop(&self, s: &SessionToken, run_id: i64) -> OpResult<JobRun> {
        self.inner.call(Op::RunStop, Some(s), Some(&run_id.to_string())).send().await
    }

    async fn runs_list(&self, s: &SessionToken, query: RunQuery) -> OpResult<RunPage> {
        self.inner.call(Op::RunsList, Some(s), None).query(&query).send().await
    }

    async fn scheduler_instances(&self, s: &SessionToken) -> OpResult<Vec<SchedulerInstance>> {
        self.inner.call(Op::SchedulerInstances, Some(s), None).send().await
    }

    async fn ocr_list(&self, s: &SessionToken, query: OcrQuery) -> OpResult<OcrPage> {
        self.inner.call(Op::OcrList, Some(s), None).query(&query).send().await
    }

    async fn ocr_get(&self, s: &SessionToken, id: i64) -> OpResult<OcrRequest> {
        self.inner.call(Op::OcrGet, Some(s), Some(&id.to_string())).send().await
    }

    async fn ocr_reveal(&self, s: &SessionToken, id: i64) -> OpResult<IdCardFront> {
        self.inner.call(Op::OcrReveal, Some(s), Some(&id.to_string())).send().await
    }

    async fn ocr_submit(&self, s: &SessionToken, url: String, side: Side) -> OpResult<OcrSubmitted> {
        self.inner.call(Op::OcrSubmit, Some(s), None).body(&OcrSubmitArgs { url, side }).send().await
    }

    async fn ocr_retry(&self, s: &SessionToken, ids: Vec<i64>) -> OpResult<RetryOutcome> {
        self.inner.call(Op::OcrRetry, Some(s), None).body(&OcrRetryArgs { ids }).send().await
    }

    async fn ocr_cancel(&self, s: &SessionToken, ids: Vec<i64>) -> OpResult<CancelOutcome> {
        self.inner.call(Op::OcrCancel, Some(s), None).body(&OcrCancelArgs { ids }).send().await
    }

    async fn ocr_attempts(&self, s: &SessionToken, id: i64) -> OpResult<Vec<OcrAttempt>> {
        self.inner.call(Op::OcrAttempts, Some(s), Some(&id.to_string())).send().await
    }

    async fn ocr_purge_dead(&self, s: &SessionToken) -> OpResult<u64> {
        self.inner.call(Op::OcrPurgeDead, Some(s), None).send().await
    }

    async fn ocr_set_cap(&self, s: &SessionToken, cap: f64) -> OpResult<OcrStats> {
        self.inner.call(Op::OcrSetCap, Some(s), None).body(&OcrCapArgs { cap }).send().await
    }

    async fn ocr_pause(&self, s: &SessionToken) -> OpResult<OcrStats> {
        self.inner.call(Op::OcrPause, Some(s), None).send().await
    }

    async fn ocr_resume(&self, s: &SessionToken) -> OpResult<OcrStats> {
        self.inner.call(Op::OcrResume, Some(s), None).send().await
    }

    async fn ocr_stats(&self, s: &SessionToken) -> OpResult<OcrStats> {
        self.inner.call(Op::OcrStats, Some(s), None).send().await
    }

    async fn orders_list(&self, s: &SessionToken, query: OrderQuery) -> OpResult<OrderPage> {
        self.inner.call(Op::OrdersList, Some(s), None).query(&query).send().await
    }

    async fn order_get(&self, s: &SessionToken, order_no: String) -> OpResult<Order> {
        self.inner.call(Op::OrderGet, Some(s), Some(&order_no)).send().await
    }

    async fn order_timeline(&self, s: &SessionToken, order_no: String) -> OpResult<Vec<OrderEvent>> {
        self.inner.call(Op::OrderTimeline, Some(s), Some(&order_no)).send().await
    }

    async fn orders_summary(&self, s: &SessionToken) -> OpResult<OrdersSummary> {
        self.inner.call(Op::OrdersSummary, Some(s), None).send().await
    }

    async fn orders_activity(&self, s: &SessionToken, minutes: u32) -> OpResult<Vec<OrderActivity>> {
        self.inner.call(Op::OrdersActivity, Some(s), None).query(&OrdersActivityArgs { minutes }).send().await
    }

    async fn cancelled_list(&self, s: &SessionToken, query: OrderQuery) -> OpResult<CancelledPage> {
        self.inner.call(Op::CancelledList, Some(s), None).query(&query).send().await
    }

    async fn order_place(&self, s: &SessionToken, draft: OrderDraft) -> OpResult<Order> {
        self.inner.call(Op::OrderPlace, Some(s), None).body(&draft).send().await
    }

    async fn order_check_payment(&self, s: &SessionToken, order_no: String) -> OpResult<bool> {
        self.inner.call(Op::OrderCheckPayment, Some(s), Some(&order_no)).send().await
    }

    async fn order_cancel(&self, s: &SessionToken, order_no: String, reason: String) -> OpResult<()> {
        self.inner.call(Op::OrderCancel, Some(s), Some(&order_no)).body(&OrderCancelArgs { reason }).send().await
    }

    async fn goods_list(&self, s: &SessionToken) -> OpResult<Vec<Goods>> {
        self.inner.call(Op::GoodsList, Some(s), None).send().await
    }

    async fn goods_create(&self, s: &SessionToken, goods: NewGoods) -> OpResult<Goods> {
        self.inner.call(Op::GoodsCreate, Some(s), None).body(&goods).send().await
    }

    async fn users_list(&self, s: &SessionToken, query: UserQuery) -> OpResult<UserPage> {
        self.inner.call(Op::UsersList, Some(s), None).query(&query).send().await
    }

    async fn user_get(&self, s: &SessionToken, id: i64) -> OpResult<UserView> {
        self.inner.call(Op::UserGet, Some(s), Some(&id.to_string())).send().await
    }

    /// A link is the server's attempt (its provider's redirect URI): the window's redirect goes
    /// back to the server through `sign_in_complete`.
    async fn link_start(
        &self,
        s: &SessionToken,
        user_id: i64,
        provider: ProviderKey,
        binding: String,
    ) -> OpResult<Authorization> {
        let args = LinkStartArgs { provider, binding };
        self.inner.call(Op::LinkStart, Some(s), Some(&user_id.to_string())).body(&args).send().await
    }

    async fn unlink(&self, s: &SessionToken, link_id: i64) -> OpResult<UserView> {
        self.inner.call(Op::Unlink, Some(s), Some(&link_id.to_string())).send().await
    }

    async fn staff_set_role(&self, s: &SessionToken, user_id: i64, role: Option<Role>) -> OpResult<UserView> {
        self.inner
            .call(Op::StaffSetRole, Some(s), Some(&user_id.to_string()))
            .body(&StaffRoleArgs { role })
            .send()
            .await
    }

    async fn link_requests_list(&self, s: &SessionToken) -> OpResult<Vec<LinkRequest>> {
        self.inner.call(Op::LinkRequestsList, Some(s), None).send().await
    }

    async fn link_request_resolve(&self, s: &SessionToken, id: i64, accept: bool) -> OpResult<Option<UserView>> {
        let args = LinkResolveArgs { accept };
        self.inner.call(Op::LinkRequestResolve, Some(s), Some(&id.to_string())).body(&args).send().await
    }
}
