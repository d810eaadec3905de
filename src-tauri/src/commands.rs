//! The desktop commands: each takes the core from Tauri's state, calls the facade, and maps the
//! error to `{code, message}`. Nothing else lives here. Every command but health and app info
//! names its caller (the window's signed-in staff member), and the facade checks it: nothing is
//! read or done without a session.

use opsdeck_core::audit::AuditPage;
use opsdeck_core::facade::{FireTime, JobEdit, JobView, OrdersSummary, SchedulerInstance};
use opsdeck_core::ocr::baidu::{IdCardFront, Side};
use opsdeck_core::ocr::model::{OcrPage, OcrQuery, OcrRequest, OcrStats, OcrSubmitted, RetryOutcome};
use opsdeck_core::orders::model::{
    CancelledPage, Goods, NewGoods, Order, OrderDraft, OrderEvent, OrderPage, OrderQuery,
};
use opsdeck_core::overview::Overview;
use opsdeck_core::scheduler::tasks::TaskKindInfo;
use opsdeck_core::scheduler::{JobDraft, RunPage, RunQuery, TriggerSpec};
use opsdeck_core::{Actor, AppInfo, Core, ErrorBody, HealthReport};

use std::sync::Arc;

use crate::signin::Session;
use tauri::State;

/// The window's signed-in staff member as the caller, with the role as it is now; refused
/// (`unauthenticated`) when nobody is signed in.
async fn caller(core: &Core, session: &Session) -> Result<Actor, ErrorBody> {
    Ok(core.session_actor(session.staff().as_ref()).await?)
}

#[tauri::command]
pub fn health_report(core: State<'_, Core>) -> HealthReport {
    core.health()
}

#[tauri::command]
pub fn app_info(core: State<'_, Core>) -> AppInfo {
    core.info()
}

#[tauri::command]
pub async fn audit_list(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    limit: u32,
    before_id: Option<i64>,
) -> Result<AuditPage, ErrorBody> {
    Ok(core.audit_list(limit, before_id, &caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn jobs_list(core: State<'_, Core>, session: State<'_, Arc<Session>>) -> Result<Vec<JobView>, ErrorBody> {
    Ok(core.jobs_list(&caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn job_kinds(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
) -> Result<Vec<TaskKindInfo>, ErrorBody> {
    Ok(core.job_kinds(&caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn job_preview(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    trigger: TriggerSpec,
    timezone: String,
    count: usize,
) -> Result<Vec<FireTime>, ErrorBody> {
    Ok(core.job_preview(&trigger, &timezone, count, &caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn job_create(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    draft: JobDraft,
) -> Result<JobView, ErrorBody> {
    Ok(core.job_create(draft, &caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn job_update(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    id: i64,
    edit: JobEdit,
) -> Result<JobView, ErrorBody> {
    Ok(core.job_update(id, edit, &caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn job_pause(core: State<'_, Core>, session: State<'_, Arc<Session>>, id: i64) -> Result<JobView, ErrorBody> {
    Ok(core.job_set_paused(id, true, &caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn job_resume(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    id: i64,
) -> Result<JobView, ErrorBody> {
    Ok(core.job_set_paused(id, false, &caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn job_run_now(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    id: i64,
) -> Result<JobView, ErrorBody> {
    Ok(core.job_run_now(id, &caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn job_delete(core: State<'_, Core>, session: State<'_, Arc<Session>>, id: i64) -> Result<(), ErrorBody> {
    Ok(core.job_delete(id, &caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn runs_list(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    query: RunQuery,
) -> Result<RunPage, ErrorBody> {
    Ok(core.runs_list(query, &caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn scheduler_instances(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
) -> Result<Vec<SchedulerInstance>, ErrorBody> {
    Ok(core.scheduler_instances(&caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn ocr_submit(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    url: String,
    side: Side,
) -> Result<OcrSubmitted, ErrorBody> {
    Ok(core.ocr_submit_by(&url, side, &caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn ocr_list(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    query: OcrQuery,
) -> Result<OcrPage, ErrorBody> {
    Ok(core.ocr_list(query, &caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn ocr_get(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    id: i64,
) -> Result<OcrRequest, ErrorBody> {
    Ok(core.ocr_get(id, &caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn ocr_reveal(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    id: i64,
) -> Result<IdCardFront, ErrorBody> {
    Ok(core.ocr_reveal(id, &caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn ocr_retry(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    ids: Vec<i64>,
) -> Result<RetryOutcome, ErrorBody> {
    Ok(core.ocr_retry(&ids, &caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn ocr_purge_dead(core: State<'_, Core>, session: State<'_, Arc<Session>>) -> Result<u64, ErrorBody> {
    Ok(core.ocr_purge_dead(&caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn ocr_set_cap(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    cap: f64,
) -> Result<OcrStats, ErrorBody> {
    Ok(core.ocr_set_cap(cap, &caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn ocr_pause(core: State<'_, Core>, session: State<'_, Arc<Session>>) -> Result<OcrStats, ErrorBody> {
    Ok(core.ocr_pause(&caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn ocr_resume(core: State<'_, Core>, session: State<'_, Arc<Session>>) -> Result<OcrStats, ErrorBody> {
    Ok(core.ocr_resume(&caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn ocr_stats(core: State<'_, Core>, session: State<'_, Arc<Session>>) -> Result<OcrStats, ErrorBody> {
    Ok(core.ocr_stats(&caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn orders_list(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    query: OrderQuery,
) -> Result<OrderPage, ErrorBody> {
    Ok(core.orders_list(query, &caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn cancelled_list(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    query: OrderQuery,
) -> Result<CancelledPage, ErrorBody> {
    Ok(core.cancelled_list(query, &caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn order_timeline(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    order_no: String,
) -> Result<Vec<OrderEvent>, ErrorBody> {
    Ok(core.order_timeline(&order_no, &caller(&core, &session).await?).await?)
}

/// The Overview page's figures (then pushed as `overview` events while the window listens).
#[tauri::command]
pub async fn overview(core: State<'_, Core>, session: State<'_, Arc<Session>>) -> Result<Overview, ErrorBody> {
    Ok(core.overview(&caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn orders_summary(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
) -> Result<OrdersSummary, ErrorBody> {
    Ok(core.orders_summary(&caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn order_cancel(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    order_no: String,
    reason: String,
) -> Result<(), ErrorBody> {
    Ok(core.order_cancel(&order_no, &reason, &caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn order_check_payment(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    order_no: String,
) -> Result<bool, ErrorBody> {
    Ok(core.order_check_payment(&order_no, &caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn goods_list(core: State<'_, Core>, session: State<'_, Arc<Session>>) -> Result<Vec<Goods>, ErrorBody> {
    Ok(core.goods_list(&caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn goods_create(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    goods: NewGoods,
) -> Result<Goods, ErrorBody> {
    Ok(core.goods_create(goods, &caller(&core, &session).await?).await?)
}

#[tauri::command]
pub async fn order_place(
    core: State<'_, Core>,
    session: State<'_, Arc<Session>>,
    draft: OrderDraft,
) -> Result<Order, ErrorBody> {
    Ok(core.order_place_by(draft, &caller(&core, &session).await?).await?)
}
