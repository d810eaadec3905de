//! The desktop commands: each takes the core as `Arc<dyn Ops>` and the window's session token
//! from Tauri's state, calls the operation, and hands back its answer or its `ErrorBody`. Nothing
//! else lives here: the core checks the session, the role and the arguments.

use std::sync::Arc;

use opsdeck_api::app::AppInfo;
use opsdeck_api::audit::{AuditPage, AuditQuery};
use opsdeck_api::health::HealthReport;
use opsdeck_api::jobs::{
    FireTime, JobDraft, JobEdit, JobRun, JobView, RunPage, RunQuery, SchedulerInstance, TaskKindInfo, TriggerSpec,
};
use opsdeck_api::ocr::{
    CancelOutcome, IdCardFront, OcrAttempt, OcrPage, OcrQuery, OcrRequest, OcrStats, OcrSubmitted, RetryOutcome, Side,
};
use opsdeck_api::orders::{
    CancelledPage, Goods, NewGoods, Order, OrderActivity, OrderDraft, OrderEvent, OrderPage, OrderQuery, OrdersSummary,
};
use opsdeck_api::overview::Overview;
use opsdeck_api::{ErrorBody, Ops, SessionView};
use tauri::State;

use crate::session::SessionStore;

/// The core, as every command reaches it.
pub(crate) type OpsState<'a> = State<'a, Arc<dyn Ops>>;
/// The window's session token.
pub(crate) type Session<'a> = State<'a, Arc<SessionStore>>;

#[tauri::command]
pub async fn health_report(ops: OpsState<'_>) -> Result<HealthReport, ErrorBody> {
    ops.health().await
}

#[tauri::command]
pub async fn app_info(ops: OpsState<'_>, session: Session<'_>) -> Result<AppInfo, ErrorBody> {
    ops.app_info(&session.token()).await
}

#[tauri::command]
pub async fn audit_list(ops: OpsState<'_>, session: Session<'_>, query: AuditQuery) -> Result<AuditPage, ErrorBody> {
    ops.audit_list(&session.token(), query).await
}

#[tauri::command]
pub async fn sessions_list(ops: OpsState<'_>, session: Session<'_>) -> Result<Vec<SessionView>, ErrorBody> {
    ops.sessions_list(&session.token()).await
}

#[tauri::command]
pub async fn session_revoke(ops: OpsState<'_>, session: Session<'_>, id: i64) -> Result<(), ErrorBody> {
    ops.session_revoke(&session.token(), id).await
}

#[tauri::command]
pub async fn jobs_list(ops: OpsState<'_>, session: Session<'_>) -> Result<Vec<JobView>, ErrorBody> {
    ops.jobs_list(&session.token()).await
}

#[tauri::command]
pub async fn job_kinds(ops: OpsState<'_>, session: Session<'_>) -> Result<Vec<TaskKindInfo>, ErrorBody> {
    ops.job_kinds(&session.token()).await
}

#[tauri::command]
pub async fn job_preview(
    ops: OpsState<'_>,
    session: Session<'_>,
    trigger: TriggerSpec,
    timezone: String,
    count: u32,
) -> Result<Vec<FireTime>, ErrorBody> {
    ops.job_preview(&session.token(), trigger, timezone, count).await
}

#[tauri::command]
pub async fn job_create(ops: OpsState<'_>, session: Session<'_>, draft: JobDraft) -> Result<JobView, ErrorBody> {
    ops.job_create(&session.token(), draft).await
}

#[tauri::command]
pub async fn job_update(ops: OpsState<'_>, session: Session<'_>, id: i64, edit: JobEdit) -> Result<JobView, ErrorBody> {
    ops.job_update(&session.token(), id, edit).await
}

#[tauri::command]
pub async fn job_pause(ops: OpsState<'_>, session: Session<'_>, id: i64) -> Result<JobView, ErrorBody> {
    ops.job_pause(&session.token(), id).await
}

#[tauri::command]
pub async fn job_resume(ops: OpsState<'_>, session: Session<'_>, id: i64) -> Result<JobView, ErrorBody> {
    ops.job_resume(&session.token(), id).await
}

#[tauri::command]
pub async fn job_run_now(ops: OpsState<'_>, session: Session<'_>, id: i64) -> Result<JobView, ErrorBody> {
    ops.job_run_now(&session.token(), id).await
}

#[tauri::command]
pub async fn job_delete(ops: OpsState<'_>, session: Session<'_>, id: i64) -> Result<(), ErrorBody> {
    ops.job_delete(&session.token(), id).await
}

#[tauri::command]
pub async fn runs_list(ops: OpsState<'_>, session: Session<'_>, query: RunQuery) -> Result<RunPage, ErrorBody> {
    ops.runs_list(&session.token(), query).await
}

#[tauri::command]
pub async fn scheduler_instances(ops: OpsState<'_>, session: Session<'_>) -> Result<Vec<SchedulerInstance>, ErrorBody> {
    ops.scheduler_instances(&session.token()).await
}

#[tauri::command]
pub async fn ocr_submit(
    ops: OpsState<'_>,
    session: Session<'_>,
    url: String,
    side: Side,
) -> Result<OcrSubmitted, ErrorBody> {
    ops.ocr_submit(&session.token(), url, side).await
}

#[tauri::command]
pub async fn ocr_list(ops: OpsState<'_>, session: Session<'_>, query: OcrQuery) -> Result<OcrPage, ErrorBody> {
    ops.ocr_list(&session.token(), query).await
}

#[tauri::command]
pub async fn ocr_get(ops: OpsState<'_>, session: Session<'_>, id: i64) -> Result<OcrRequest, ErrorBody> {
    ops.ocr_get(&session.token(), id).await
}

#[tauri::command]
pub async fn ocr_reveal(ops: OpsState<'_>, session: Session<'_>, id: i64) -> Result<IdCardFront, ErrorBody> {
    ops.ocr_reveal(&session.token(), id).await
}

#[tauri::command]
pub async fn ocr_retry(ops: OpsState<'_>, session: Session<'_>, ids: Vec<i64>) -> Result<RetryOutcome, ErrorBody> {
    ops.ocr_retry(&session.token(), ids).await
}

#[tauri::command]
pub async fn ocr_cancel(ops: OpsState<'_>, session: Session<'_>, ids: Vec<i64>) -> Result<CancelOutcome, ErrorBody> {
    ops.ocr_cancel(&session.token(), ids).await
}

#[tauri::command]
pub async fn ocr_attempts(ops: OpsState<'_>, session: Session<'_>, id: i64) -> Result<Vec<OcrAttempt>, ErrorBody> {
    ops.ocr_attempts(&session.token(), id).await
}

#[tauri::command]
pub async fn run_stop(ops: OpsState<'_>, session: Session<'_>, id: i64) -> Result<JobRun, ErrorBody> {
    ops.run_stop(&session.token(), id).await
}

#[tauri::command]
pub async fn orders_activity(
    ops: OpsState<'_>,
    session: Session<'_>,
    minutes: u32,
) -> Result<Vec<OrderActivity>, ErrorBody> {
    ops.orders_activity(&session.token(), minutes).await
}

#[tauri::command]
pub async fn ocr_purge_dead(ops: OpsState<'_>, session: Session<'_>) -> Result<u64, ErrorBody> {
    ops.ocr_purge_dead(&session.token()).await
}

#[tauri::command]
pub async fn ocr_set_cap(ops: OpsState<'_>, session: Session<'_>, cap: f64) -> Result<OcrStats, ErrorBody> {
    ops.ocr_set_cap(&session.token(), cap).await
}

#[tauri::command]
pub async fn ocr_pause(ops: OpsState<'_>, session: Session<'_>) -> Result<OcrStats, ErrorBody> {
    ops.ocr_pause(&session.token()).await
}

#[tauri::command]
pub async fn ocr_resume(ops: OpsState<'_>, session: Session<'_>) -> Result<OcrStats, ErrorBody> {
    ops.ocr_resume(&session.token()).await
}

#[tauri::command]
pub async fn ocr_stats(ops: OpsState<'_>, session: Session<'_>) -> Result<OcrStats, ErrorBody> {
    ops.ocr_stats(&session.token()).await
}

#[tauri::command]
pub async fn orders_list(ops: OpsState<'_>, session: Session<'_>, query: OrderQuery) -> Result<OrderPage, ErrorBody> {
    ops.orders_list(&session.token(), query).await
}

#[tauri::command]
pub async fn cancelled_list(
    ops: OpsState<'_>,
    session: Session<'_>,
    query: OrderQuery,
) -> Result<CancelledPage, ErrorBody> {
    ops.cancelled_list(&session.token(), query).await
}

#[tauri::command]
pub async fn order_timeline(
    ops: OpsState<'_>,
    session: Session<'_>,
    order_no: String,
) -> Result<Vec<OrderEvent>, ErrorBody> {
    ops.order_timeline(&session.token(), order_no).await
}

/// The Overview page's figures (then pushed as `overview` events while the window listens).
#[tauri::command]
pub async fn overview(ops: OpsState<'_>, session: Session<'_>) -> Result<Overview, ErrorBody> {
    ops.overview(&session.token()).await
}

#[tauri::command]
pub async fn orders_summary(ops: OpsState<'_>, session: Session<'_>) -> Result<OrdersSummary, ErrorBody> {
    ops.orders_summary(&session.token()).await
}

#[tauri::command]
pub async fn order_cancel(
    ops: OpsState<'_>,
    session: Session<'_>,
    order_no: String,
    reason: String,
) -> Result<(), ErrorBody> {
    ops.order_cancel(&session.token(), order_no, reason).await
}

#[tauri::command]
pub async fn order_check_payment(ops: OpsState<'_>, session: Session<'_>, order_no: String) -> Result<bool, ErrorBody> {
    ops.order_check_payment(&session.token(), order_no).await
}

#[tauri::command]
pub async fn goods_list(ops: OpsState<'_>, session: Session<'_>) -> Result<Vec<Goods>, ErrorBody> {
    ops.goods_list(&session.token()).await
}

#[tauri::command]
pub async fn goods_create(ops: OpsState<'_>, session: Session<'_>, goods: NewGoods) -> Result<Goods, ErrorBody> {
    ops.goods_create(&session.token(), goods).await
}

#[tauri::command]
pub async fn order_place(ops: OpsState<'_>, session: Session<'_>, draft: OrderDraft) -> Result<Order, ErrorBody> {
    ops.order_place(&session.token(), draft).await
}
