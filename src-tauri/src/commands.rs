//! The desktop commands: each takes the core from Tauri's state, calls the facade, and maps the
//! error to `{code, message}`. Nothing else lives here.

use opsdeck_core::audit::AuditPage;
use opsdeck_core::{AppInfo, Core, ErrorBody, HealthReport};
use tauri::State;

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
    limit: u32,
    before_id: Option<i64>,
) -> Result<AuditPage, ErrorBody> {
    Ok(core.audit_list(limit, before_id).await?)
}
