//! The core as [`Ops`]: every console operation resolves its caller's session first (see
//! `session.rs`), refuses an operation that changes state to a viewer before looking at its
//! arguments, and then calls the facade method that checks the rest (admin-only actions, rights
//! over a target), validates, acts and audits. Nothing else lives here.

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
use opsdeck_api::ops::{DesktopSignInStartArgs, SignInExchangeArgs};
use opsdeck_api::orders::{
    CancelledPage, Goods, NewGoods, Order, OrderActivity, OrderDraft, OrderEvent, OrderPage, OrderQuery, OrdersSummary,
};
use opsdeck_api::overview::Overview;
use opsdeck_api::{EventStream, OpResult, Operation, Ops, SessionToken, SessionView, SignInResult};

use super::Core;
use super::session::Caller;
use crate::accounts::Callback;
use crate::accounts::model::{Purpose, SignInOutcome};
use crate::error::{ApiError, ErrorCode};

impl Core {
    /// The caller of an operation that only reads.
    async fn reader(&self, s: &SessionToken) -> Result<Caller, ApiError> {
        self.caller(s).await
    }

    /// The caller of an operation that changes state: a viewer is refused here, before the
    /// operation looks at its arguments (a viewer learns nothing from a refusal).
    async fn writer(&self, s: &SessionToken, what: &str) -> Result<Caller, ApiError> {
        let caller = self.caller(s).await?;
        caller.actor.require_operator(what)?;
        Ok(caller)
    }
}

/// Runs `body` and hands its error to the front end as an [`opsdeck_api::ErrorBody`].
async fn answer<T>(body: impl Future<Output = Result<T, ApiError>>) -> OpResult<T> {
    body.await.map_err(Into::into)
}

fn redirect_url(text: &str) -> Result<url::Url, ApiError> {
    url::Url::parse(text).map_err(|_| {
        ApiError::coded(ErrorCode::RedirectUrlInvalid, "the sign-in window came back with something that is not a URL")
            .field("redirect_url")
    })
}

#[async_trait]
impl Ops for Core {
    async fn health(&self) -> OpResult<HealthReport> {
        Ok(Core::health(self))
    }

    async fn auth_providers(&self) -> OpResult<Vec<ProviderInfo>> {
        Ok(Core::auth_providers(self))
    }

    async fn sign_in_start(&self, provider: ProviderKey, binding: String) -> OpResult<Authorization> {
        answer(self.oauth_authorize(provider, Purpose::Console, &binding)).await
    }

    async fn sign_in_complete(
        &self,
        provider: ProviderKey,
        redirect_url_text: String,
        binding: String,
    ) -> OpResult<SignInResult> {
        answer(async {
            let callback = Callback::from_url(&redirect_url(&redirect_url_text)?);
            Ok(match self.oauth_callback(provider, callback, &binding).await? {
                SignInOutcome::SignedIn { staff: Some(staff), .. } => {
                    let token = self.open_session(&staff).await?;
                    SignInResult::SignedIn { staff, token }
                }
                SignInOutcome::SignedIn { user, staff: None, .. } => {
                    SignInResult::NotStaff { user_id: user.id, name: user.nickname.unwrap_or(user.username) }
                }
                SignInOutcome::Linked { user } => SignInResult::Linked { user },
                SignInOutcome::PendingLink { request } => SignInResult::PendingLink { request },
            })
        })
        .await
    }

    async fn sign_in_cancel(&self, state: String, binding: String) -> OpResult<bool> {
        answer(self.oauth_cancel(&state, &binding)).await
    }

    async fn desktop_sign_in_start(&self, args: DesktopSignInStartArgs) -> OpResult<String> {
        answer(self.handoff_start(args)).await
    }

    async fn desktop_sign_in_callback(&self, provider: ProviderKey, callback_url: String) -> OpResult<String> {
        answer(self.handoff_callback(provider, &callback_url)).await
    }

    async fn sign_in_exchange(&self, args: SignInExchangeArgs) -> OpResult<SignInResult> {
        answer(self.handoff_exchange(args)).await
    }

    async fn session_staff(&self, s: &SessionToken) -> OpResult<Staff> {
        answer(async { Ok(self.reader(s).await?.staff) }).await
    }

    async fn sign_out(&self, s: &SessionToken) -> OpResult<()> {
        answer(async { self.close_session(&self.caller(s).await?).await }).await
    }

    async fn sessions_list(&self, s: &SessionToken) -> OpResult<Vec<SessionView>> {
        answer(async { self.sessions_live(&self.reader(s).await?).await }).await
    }

    async fn session_revoke(&self, s: &SessionToken, id: i64) -> OpResult<()> {
        answer(async { self.session_end(&self.writer(s, Operation::SessionRevoke.action()).await?, id).await }).await
    }

    async fn events(&self, s: &SessionToken, last_event_id: Option<String>) -> OpResult<EventStream> {
        answer(self.live_events(s, last_event_id)).await
    }

    async fn app_info(&self, s: &SessionToken) -> OpResult<AppInfo> {
        answer(async {
            self.reader(s).await?;
            Ok(self.info())
        })
        .await
    }

    async fn overview(&self, s: &SessionToken) -> OpResult<Overview> {
        answer(async { Core::overview(self, &self.reader(s).await?.actor).await }).await
    }

    async fn audit_list(&self, s: &SessionToken, query: AuditQuery) -> OpResult<AuditPage> {
        answer(async { Core::audit_query(self, query, &self.reader(s).await?.actor).await }).await
    }

    async fn jobs_list(&self, s: &SessionToken) -> OpResult<Vec<JobView>> {
        answer(async { Core::jobs_list(self, &self.reader(s).await?.actor).await }).await
    }

    async fn job_get(&self, s: &SessionToken, id: i64) -> OpResult<JobView> {
        answer(async {
            self.reader(s).await?;
            Core::job_get(self, id).await
        })
        .await
    }

    async fn job_kinds(&self, s: &SessionToken) -> OpResult<Vec<TaskKindInfo>> {
        answer(async { Core::job_kinds(self, &self.reader(s).await?.actor).await }).await
    }

    async fn job_preview(
        &self,
        s: &SessionToken,
        trigger: TriggerSpec,
        timezone: String,
        count: u32,
    ) -> OpResult<Vec<FireTime>> {
        answer(async {
            let actor = self.reader(s).await?.actor;
            Core::job_preview(self, &trigger, &timezone, count as usize, &actor).await
        })
        .await
    }

    async fn job_create(&self, s: &SessionToken, draft: JobDraft) -> OpResult<JobView> {
        answer(async {
            Core::job_create(self, draft, &self.writer(s, Operation::JobCreate.action()).await?.actor).await
        })
        .await
    }

    async fn job_update(&self, s: &SessionToken, id: i64, edit: JobEdit) -> OpResult<JobView> {
        answer(async {
            Core::job_update(self, id, edit, &self.writer(s, Operation::JobUpdate.action()).await?.actor).await
        })
        .await
    }

    async fn job_pause(&self, s: &SessionToken, id: i64) -> OpResult<JobView> {
        answer(async {
            self.job_set_paused(id, true, &self.writer(s, Operation::JobPause.action()).await?.actor).await
        })
        .await
    }

    async fn job_resume(&self, s: &SessionToken, id: i64) -> OpResult<JobView> {
        answer(async {
            self.job_set_paused(id, false, &self.writer(s, Operation::JobResume.action()).await?.actor).await
        })
        .await
    }

    async fn job_run_now(&self, s: &SessionToken, id: i64) -> OpResult<JobView> {
        answer(async { Core::job_run_now(self, id, &self.writer(s, Operation::JobRunNow.action()).await?.actor).await })
            .await
    }

    async fn job_delete(&self, s: &SessionToken, id: i64) -> OpResult<()> {
        answer(async { Core::job_delete(self, id, &self.writer(s, Operation::JobDelete.action()).await?.actor).await })
            .await
    }

    async fn run_stop(&self, s: &SessionToken, run_id: i64) -> OpResult<JobRun> {
        answer(async { Core::run_stop(self, run_id, &self.writer(s, Operation::RunStop.action()).await?.actor).await })
            .await
    }

    async fn runs_list(&self, s: &SessionToken, query: RunQuery) -> OpResult<RunPage> {
        answer(async { Core::runs_list(self, query, &self.reader(s).await?.actor).await }).await
    }

    async fn scheduler_instances(&self, s: &SessionToken) -> OpResult<Vec<SchedulerInstance>> {
        answer(async { Core::scheduler_instances(self, &self.reader(s).await?.actor).await }).await
    }

    async fn ocr_list(&self, s: &SessionToken, query: OcrQuery) -> OpResult<OcrPage> {
        answer(async { Core::ocr_list(self, query, &self.reader(s).await?.actor).await }).await
    }

    async fn ocr_get(&self, s: &SessionToken, id: i64) -> OpResult<OcrRequest> {
        answer(async { Core::ocr_get(self, id, &self.reader(s).await?.actor).await }).await
    }

    async fn ocr_reveal(&self, s: &SessionToken, id: i64) -> OpResult<IdCardFront> {
        answer(async { Core::ocr_reveal(self, id, &self.writer(s, Operation::OcrReveal.action()).await?.actor).await })
            .await
    }

    async fn ocr_submit(&self, s: &SessionToken, url: String, side: Side) -> OpResult<OcrSubmitted> {
        answer(async {
            self.ocr_submit_by(&url, side, &self.writer(s, Operation::OcrSubmit.action()).await?.actor).await
        })
        .await
    }

    async fn ocr_retry(&self, s: &SessionToken, ids: Vec<i64>) -> OpResult<RetryOutcome> {
        answer(async { Core::ocr_retry(self, &ids, &self.writer(s, Operation::OcrRetry.action()).await?.actor).await })
            .await
    }

    async fn ocr_cancel(&self, s: &SessionToken, ids: Vec<i64>) -> OpResult<CancelOutcome> {
        answer(async { Core::ocr_cancel(self, &ids, &self.writer(s, Operation::OcrCancel.action()).await?.actor).await })
            .await
    }

    async fn ocr_attempts(&self, s: &SessionToken, id: i64) -> OpResult<Vec<OcrAttempt>> {
        answer(async { Core::ocr_attempts(self, id, &self.reader(s).await?.actor).await }).await
    }

    async fn ocr_purge_dead(&self, s: &SessionToken) -> OpResult<u64> {
        answer(async {
            Core::ocr_purge_dead(self, &self.writer(s, Operation::OcrPurgeDead.action()).await?.actor).await
        })
        .await
    }

    async fn ocr_set_cap(&self, s: &SessionToken, cap: f64) -> OpResult<OcrStats> {
        answer(async {
            Core::ocr_set_cap(self, cap, &self.writer(s, Operation::OcrSetCap.action()).await?.actor).await
        })
        .await
    }

    async fn ocr_pause(&self, s: &SessionToken) -> OpResult<OcrStats> {
        answer(async { Core::ocr_pause(self, &self.writer(s, Operation::OcrPause.action()).await?.actor).await }).await
    }

    async fn ocr_resume(&self, s: &SessionToken) -> OpResult<OcrStats> {
        answer(async { Core::ocr_resume(self, &self.writer(s, Operation::OcrResume.action()).await?.actor).await })
            .await
    }

    async fn ocr_stats(&self, s: &SessionToken) -> OpResult<OcrStats> {
        answer(async { Core::ocr_stats(self, &self.reader(s).await?.actor).await }).await
    }

    async fn orders_list(&self, s: &SessionToken, query: OrderQuery) -> OpResult<OrderPage> {
        answer(async { Core::orders_list(self, query, &self.reader(s).await?.actor).await }).await
    }

    async fn order_get(&self, s: &SessionToken, order_no: String) -> OpResult<Order> {
        answer(async {
            self.reader(s).await?;
            Core::order_get(self, &order_no).await
        })
        .await
    }

    async fn order_timeline(&self, s: &SessionToken, order_no: String) -> OpResult<Vec<OrderEvent>> {
        answer(async { Core::order_timeline(self, &order_no, &self.reader(s).await?.actor).await }).await
    }

    async fn orders_summary(&self, s: &SessionToken) -> OpResult<OrdersSummary> {
        answer(async { Core::orders_summary(self, &self.reader(s).await?.actor).await }).await
    }

    async fn orders_activity(&self, s: &SessionToken, minutes: u32) -> OpResult<Vec<OrderActivity>> {
        answer(async { Core::orders_activity(self, minutes, &self.reader(s).await?.actor).await }).await
    }

    async fn cancelled_list(&self, s: &SessionToken, query: OrderQuery) -> OpResult<CancelledPage> {
        answer(async { Core::cancelled_list(self, query, &self.reader(s).await?.actor).await }).await
    }

    async fn order_place(&self, s: &SessionToken, draft: OrderDraft) -> OpResult<Order> {
        answer(async { self.order_place_by(draft, &self.writer(s, Operation::OrderPlace.action()).await?.actor).await })
            .await
    }

    async fn order_check_payment(&self, s: &SessionToken, order_no: String) -> OpResult<bool> {
        answer(async {
            let actor = self.writer(s, Operation::OrderCheckPayment.action()).await?.actor;
            Core::order_check_payment(self, &order_no, &actor).await
        })
        .await
    }

    async fn order_cancel(&self, s: &SessionToken, order_no: String, reason: String) -> OpResult<()> {
        answer(async {
            let actor = self.writer(s, Operation::OrderCancel.action()).await?.actor;
            Core::order_cancel(self, &order_no, &reason, &actor).await
        })
        .await
    }

    async fn goods_list(&self, s: &SessionToken) -> OpResult<Vec<Goods>> {
        answer(async { Core::goods_list(self, &self.reader(s).await?.actor).await }).await
    }

    async fn goods_create(&self, s: &SessionToken, goods: NewGoods) -> OpResult<Goods> {
        answer(async {
            Core::goods_create(self, goods, &self.writer(s, Operation::GoodsCreate.action()).await?.actor).await
        })
        .await
    }

    async fn users_list(&self, s: &SessionToken, query: UserQuery) -> OpResult<UserPage> {
        answer(async { Core::users_list(self, query, &self.reader(s).await?.actor).await }).await
    }

    async fn user_get(&self, s: &SessionToken, id: i64) -> OpResult<UserView> {
        answer(async {
            self.reader(s).await?;
            Core::user_get(self, id).await
        })
        .await
    }

    async fn link_start(
        &self,
        s: &SessionToken,
        user_id: i64,
        provider: ProviderKey,
        binding: String,
    ) -> OpResult<Authorization> {
        answer(async {
            let actor = self.writer(s, Operation::LinkStart.action()).await?.actor;
            Core::link_start(self, user_id, provider, &actor, &binding).await
        })
        .await
    }

    async fn unlink(&self, s: &SessionToken, link_id: i64) -> OpResult<UserView> {
        answer(async { Core::unlink(self, link_id, &self.writer(s, Operation::Unlink.action()).await?.actor).await })
            .await
    }

    async fn staff_set_role(&self, s: &SessionToken, user_id: i64, role: Option<Role>) -> OpResult<UserView> {
        answer(async {
            let actor = self.writer(s, Operation::StaffSetRole.action()).await?.actor;
            Core::staff_set_role(self, user_id, role, &actor).await
        })
        .await
    }

    async fn link_requests_list(&self, s: &SessionToken) -> OpResult<Vec<LinkRequest>> {
        answer(async { Core::link_requests_list(self, &self.reader(s).await?.actor).await }).await
    }

    async fn link_request_resolve(&self, s: &SessionToken, id: i64, accept: bool) -> OpResult<Option<UserView>> {
        answer(async {
            let actor = self.writer(s, Operation::LinkRequestResolve.action()).await?.actor;
            Core::link_request_resolve(self, id, accept, &actor).await
        })
        .await
    }
}
