// The app's own commands become permissions (`allow-health-report`, …) that
// capabilities/main.json grants to the main window only.
const COMMANDS: &[&str] = &[
    "health_report",
    "app_info",
    "audit_list",
    "jobs_list",
    "job_kinds",
    "job_preview",
    "job_create",
    "job_update",
    "job_pause",
    "job_resume",
    "job_run_now",
    "job_delete",
    "runs_list",
    "scheduler_instances",
    "ocr_submit",
    "ocr_list",
    "ocr_get",
    "ocr_reveal",
    "ocr_retry",
    "ocr_purge_dead",
    "ocr_set_cap",
    "ocr_pause",
    "ocr_resume",
    "ocr_stats",
    "orders_list",
    "cancelled_list",
    "order_timeline",
    "orders_summary",
    "order_cancel",
    "order_check_payment",
    "goods_list",
    "goods_create",
    "order_place",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build failed");
}
