//! The desktop shell through Tauri's mock runtime: every registered command but the open ones
//! (health, app info, signing in and out) is refused without a signed-in session, and the window
//! gets no core event but health until somebody signs in.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use opsdeck::{COMMANDS, CORE_EVENT, OPEN_COMMANDS, run_app};
use opsdeck_core::{Config, Core};
use serde_json::{Value, json};
use tauri::test::{INVOKE_KEY, MockRuntime, mock_builder, mock_context, noop_assets};
use tauri::webview::InvokeRequest;
use tauri::{App, Listener, WebviewWindow, WebviewWindowBuilder};

/// A core on a fresh SQLite file in `dir` and the test Redis under a fresh prefix, started on
/// Tauri's runtime as the app does.
fn core(dir: &Path) -> Core {
    let redis = std::env::var("OPSDECK_TEST_REDIS_URL")
        .expect("OPSDECK_TEST_REDIS_URL is not set: run the README's test command (scripts/test.sh)");
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let prefix = format!("desk_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let file = dir.join("config.toml");
    let quoted = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
    std::fs::write(
        &file,
        format!(
            "data_dir = {}\nredis_url = {}\nredis_prefix = {}\nhealth_interval_ms = 100\nscheduler_enabled = false\n\
             baidu_url = \"http://127.0.0.1:9\"\n",
            quoted(&dir.display().to_string()),
            quoted(&redis),
            quoted(&prefix)
        ),
    )
    .unwrap();
    let config = Config::from_layers(dir.to_path_buf(), Some(&file)).expect("a valid test configuration");
    tauri::async_runtime::block_on(Core::start(config)).expect("the core starts")
}

fn app(core: Core) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let app = run_app(mock_builder(), core).build(mock_context(noop_assets())).expect("the app builds");
    let window = WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("the main window");
    (app, window)
}

fn invoke(window: &WebviewWindow<MockRuntime>, command: &str) -> Result<Value, Value> {
    tauri::test::get_ipc_response(
        window,
        InvokeRequest {
            cmd: command.into(),
            callback: tauri::ipc::CallbackFn(0),
            error: tauri::ipc::CallbackFn(1),
            // The app's own origin on Linux (remote origins meet the capabilities instead).
            url: "tauri://localhost".parse().unwrap(),
            body: tauri::ipc::InvokeBody::Json(json!({})),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<Value>().unwrap_or(Value::Null))
}

#[test]
fn every_command_but_the_open_ones_refuses_without_a_session() {
    let dir = tempfile::tempdir().unwrap();
    let core = core(dir.path());
    let (_app, window) = app(core.clone());
    // The open ones are exactly these: a new command is closed unless added here on purpose.
    assert_eq!(
        OPEN_COMMANDS,
        ["health_report", "app_info", "auth_providers", "auth_session", "sign_in", "sign_in_cancel", "sign_out"]
    );
    assert!(COMMANDS.len() > 40, "the registered commands: {COMMANDS:?}");
    for command in COMMANDS.iter().filter(|c| !OPEN_COMMANDS.contains(c)) {
        match invoke(&window, command) {
            Err(error) => {
                assert_eq!(error["code"], "unauthenticated", "{command}: {error}");
                assert!(error["message"].as_str().is_some_and(|m| m.contains("sign in")), "{command}: {error}");
            }
            Ok(answer) => panic!("{command} answered without a session: {answer}"),
        }
    }
    // The open ones answer (or refuse their arguments), never for want of a session.
    for command in OPEN_COMMANDS {
        if let Err(error) = invoke(&window, command) {
            assert_ne!(error["code"], "unauthenticated", "{command}: {error}");
        }
    }
    assert_eq!(invoke(&window, "auth_session").unwrap(), Value::Null, "nobody is signed in");
    assert!(invoke(&window, "health_report").unwrap()["database"].is_object());
    tauri::async_runtime::block_on(core.shutdown());
}

#[test]
fn the_window_gets_health_but_no_data_before_a_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let core = core(dir.path());
    let (mut app, _window) = app(core.clone());
    let (sender, events) = mpsc::channel::<Value>();
    app.listen_any(CORE_EVENT, move |event| {
        let _ = sender.send(serde_json::from_str(event.payload()).unwrap());
    });
    // The setup (which starts the event bridge) runs with the first turn of the event loop;
    // one turn, not the busy loop the deprecation warns of.
    #[allow(deprecated)]
    app.run_iteration(|_, _| {});
    // A request submitted by the shop is published by the core as `ocr_updated`.
    let submitted = tauri::async_runtime::block_on(
        core.ocr_submit("https://img.example.com/desktop-gate.jpg", opsdeck_core::ocr::baidu::Side::Front),
    )
    .unwrap();
    assert!(!submitted.existing);
    let after = chrono::Utc::now();
    // Events reach the window in order: once a health report taken after the submission
    // arrives, anything published before it would have arrived first.
    loop {
        let event = events.recv_timeout(Duration::from_secs(15)).expect("a health event within 15 s");
        assert_eq!(event["kind"], "health", "only health before a sign-in: {event}");
        let checked: chrono::DateTime<chrono::Utc> = event["report"]["checked_at"].as_str().unwrap().parse().unwrap();
        if checked > after {
            break;
        }
    }
    tauri::async_runtime::block_on(core.shutdown());
}

/// The permissions `build.rs` declares and the capability grants follow the registered commands.
#[test]
fn the_capability_grants_exactly_the_registered_commands() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let build = std::fs::read_to_string(root.join("build.rs")).unwrap();
    let declared: Vec<&str> = build
        .split_once("const COMMANDS: &[&str] = &[")
        .and_then(|(_, rest)| rest.split_once("];"))
        .map(|(list, _)| list.split(',').map(|s| s.trim().trim_matches('"')).filter(|s| !s.is_empty()).collect())
        .expect("the COMMANDS list in build.rs");
    assert_eq!(declared, COMMANDS, "build.rs declares the registered commands");
    let capability: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("capabilities/main.json")).unwrap()).unwrap();
    let granted: Vec<String> = capability["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_str()?.strip_prefix("allow-").map(|c| c.replace('-', "_")))
        .collect();
    assert_eq!(granted, COMMANDS, "capabilities/main.json grants the registered commands");
}
