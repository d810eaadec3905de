// The app's own commands become permissions (`allow-health-report`, …) that
// capabilities/main.json grants to the main window only.
const COMMANDS: &[&str] = &["health_report", "app_info", "audit_list"];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build failed");
}
