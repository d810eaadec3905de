//! The desktop shell through Tauri's mock runtime: every registered command but the open ones
//! (health, signing in and out) is refused without a session, and the window gets no core event
//! but health until somebody signs in. The session token the core issues at sign-in is kept in
//! `<data_dir>/session.token` (0600) across a restart of the shell, until sign-out or until the
//! core no longer honours it.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use opsdeck::{COMMANDS, CORE_EVENT, OPEN_COMMANDS, SessionStore, Shell, TOKEN_FILE, run_app};
use opsdeck_api::accounts::{ProviderKey, Role, Staff};
use opsdeck_api::ocr::Side;
use opsdeck_api::{ErrorCode, Ops, SessionToken, SignInResult};
use opsdeck_core::{Config, Core};
use opsdeck_sandbox::oauth::{FakeOAuth, FakeOAuthConfig, Provider};
use serde_json::{Value, json};
use tauri::test::{INVOKE_KEY, MockRuntime, mock_builder, mock_context, noop_assets};
use tauri::webview::InvokeRequest;
use tauri::{App, Listener, WebviewWindow, WebviewWindowBuilder};

/// A core on a fresh SQLite file in `dir` and the test Redis under a fresh prefix, started on
/// Tauri's runtime as the app does.
fn core(dir: &Path) -> Core {
    core_with(dir, "")
}

/// [`core`] with more configuration lines (TOML).
fn core_with(dir: &Path, extra: &str) -> Core {
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
             baidu_url = \"http://127.0.0.1:9\"\n{extra}",
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
    let app =
        run_app(mock_builder(), Shell::embedded(&core)).build(mock_context(noop_assets())).expect("the app builds");
    let window = WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("the main window");
    (app, window)
}

fn invoke(window: &WebviewWindow<MockRuntime>, command: &str) -> Result<Value, Value> {
    invoke_with(window, command, json!({}))
}

fn invoke_with(window: &WebviewWindow<MockRuntime>, command: &str, args: Value) -> Result<Value, Value> {
    tauri::test::get_ipc_response(
        window,
        InvokeRequest {
            cmd: command.into(),
            callback: tauri::ipc::CallbackFn(0),
            error: tauri::ipc::CallbackFn(1),
            // The app's own origin on Linux (remote origins meet the capabilities instead).
            url: "tauri://localhost".parse().unwrap(),
            body: tauri::ipc::InvokeBody::Json(args),
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
        [
            "health_report",
            "connection_status",
            "server_choose",
            "auth_providers",
            "auth_session",
            "sign_in",
            "sign_in_cancel",
            "sign_out"
        ]
    );
    assert!(COMMANDS.len() > 40, "the registered commands: {COMMANDS:?}");
    assert!(COMMANDS.contains(&"sessions_list") && COMMANDS.contains(&"session_revoke"));
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
    let submitted =
        tauri::async_runtime::block_on(core.ocr_submit("https://img.example.com/desktop-gate.jpg", Side::Front))
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

/// A core whose Weibo is a local fake that approves at once, its first user the bootstrap admin,
/// and the fake (dropped: it stops).
fn core_with_weibo(dir: &Path) -> (Core, FakeOAuth) {
    let mut config = FakeOAuthConfig::sandbox(Provider::Weibo);
    config.auto_approve = true;
    let fake = tauri::async_runtime::block_on(FakeOAuth::start(([127, 0, 0, 1], 0).into(), config))
        .expect("the fake Weibo starts");
    let c = fake.config();
    let extra = format!(
        "weibo_client_id = \"{}\"\nweibo_client_secret = \"{}\"\nweibo_redirect_uri = \"{}\"\nweibo_url = \"{}\"\n\
         bootstrap_admin = \"weibo:{}\"\n",
        c.client_id, c.client_secret, c.redirect_uri, fake.base_url, c.users[0].uid
    );
    (core_with(dir, &extra), fake)
}

/// Signs in at the fake Weibo as the shell's sign-in window does: starts the attempt, follows the
/// provider's redirects (by hand, no cookie jar) until one goes to the redirect URI, and hands
/// that whole URL to the core.
fn sign_in(core: &Core) -> (Staff, SessionToken) {
    tauri::async_runtime::block_on(async {
        let binding = opsdeck_core::random_token();
        let auth = core.sign_in_start(ProviderKey::Weibo, binding.clone()).await.expect("the attempt starts");
        let redirect = tauri::Url::parse(&auth.redirect_uri).unwrap();
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let mut url = tauri::Url::parse(&auth.url).unwrap();
        for _ in 0..5 {
            if opsdeck::is_redirect(&redirect, &url) {
                break;
            }
            let answer = http.get(url.clone()).send().await.unwrap();
            let location = answer.headers().get("location").unwrap_or_else(|| panic!("no redirect from {url}"));
            url = url.join(location.to_str().unwrap()).unwrap();
        }
        assert!(opsdeck::is_redirect(&redirect, &url), "never sent back to {redirect}: {url}");
        match core.sign_in_complete(ProviderKey::Weibo, url.to_string(), binding).await.expect("the sign-in") {
            SignInResult::SignedIn { staff, token } => (staff, token),
            other => panic!("not signed in: {other:?}"),
        }
    })
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_session_is_kept_owner_only_across_a_restart_until_sign_out() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _weibo) = core_with_weibo(dir.path());
    let (staff, token) = sign_in(&core);
    assert_eq!(staff.role, Role::Admin, "the bootstrap admin");

    // The window's store keeps the token the core issued: in a file only its owner may read.
    let store = SessionStore::open(dir.path());
    assert!(!store.holds(), "no session before a sign-in");
    store.keep(token.clone()).expect("the token is kept");
    let file = dir.path().join(TOKEN_FILE);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), token.expose());
    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600, "the token file is the owner's only");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains(TOKEN_FILE) && n != TOKEN_FILE)
        .collect();
    assert!(leftovers.is_empty(), "no temporary file is left behind: {leftovers:?}");
    drop(store);

    // A restart: a new store over the same data dir names the same staff member to the core.
    let restarted = SessionStore::open(dir.path());
    let again = tauri::async_runtime::block_on(restarted.staff(&core)).unwrap().expect("still signed in");
    assert_eq!((again.user_id, again.role), (staff.user_id, Role::Admin));
    drop(restarted);

    // And the whole shell after a restart: signed in, the closed commands answer.
    let (_app, window) = app(core.clone());
    let session = invoke(&window, "auth_session").unwrap();
    assert_eq!(session["user_id"], staff.user_id, "{session}");
    assert!(invoke(&window, "jobs_list").unwrap().is_array());
    let sessions = invoke(&window, "sessions_list").unwrap();
    assert_eq!(sessions.as_array().map(Vec::len), Some(1), "{sessions}");
    assert_eq!(sessions[0]["current"], true);
    assert!(invoke(&window, "app_info").unwrap()["version"].is_string());

    // Sign-out ends the session at the core and removes the file.
    invoke(&window, "sign_out").unwrap();
    assert!(!file.exists(), "sign-out removes the kept token");
    assert_eq!(invoke(&window, "auth_session").unwrap(), Value::Null);
    assert_eq!(invoke(&window, "jobs_list").unwrap_err()["code"], "unauthenticated");
    let ended = tauri::async_runtime::block_on(core.session_staff(&token)).unwrap_err();
    assert_eq!(ended.code, ErrorCode::Unauthenticated, "the core ended the session too");
    tauri::async_runtime::block_on(core.shutdown());
}

#[test]
fn a_session_the_core_no_longer_honours_is_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _weibo) = core_with_weibo(dir.path());
    let file = dir.path().join(TOKEN_FILE);

    // A token the core never issued.
    let store = SessionStore::open(dir.path());
    store.keep(SessionToken::new("not-a-session-the-core-issued")).unwrap();
    assert_eq!(tauri::async_runtime::block_on(store.staff(&core)).unwrap(), None);
    assert!(!store.holds() && !file.exists(), "an unauthenticated answer forgets the token");

    // A real session, revoked by the server's operator while the app was closed.
    let (staff, token) = sign_in(&core);
    store.keep(token).unwrap();
    drop(store);
    let ended = tauri::async_runtime::block_on(core.sessions_revoke_user(staff.user_id, "test")).unwrap();
    assert_eq!(ended, 1);
    let (_app, window) = app(core.clone());
    assert!(file.exists(), "kept until the core is asked");
    assert_eq!(invoke(&window, "auth_session").unwrap(), Value::Null, "the core refuses it");
    assert!(!file.exists(), "and the shell forgets it");
    let error = invoke(&window, "overview").unwrap_err();
    assert_eq!(error["code"], "unauthenticated", "{error}");
    tauri::async_runtime::block_on(core.shutdown());
}

#[test]
fn admins_end_sessions_through_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _weibo) = core_with_weibo(dir.path());
    let (_, other) = sign_in(&core);
    let (_, mine) = sign_in(&core);
    SessionStore::open(dir.path()).keep(mine).unwrap();
    let (_app, window) = app(core.clone());
    let sessions = invoke(&window, "sessions_list").unwrap();
    let theirs = sessions.as_array().unwrap().iter().find(|s| s["current"] == false).expect("the other session");
    invoke_with(&window, "session_revoke", json!({ "id": theirs["id"] })).unwrap();
    let refused = tauri::async_runtime::block_on(core.session_staff(&other)).unwrap_err();
    assert_eq!(refused.code, ErrorCode::Unauthenticated, "the other session ended");
    assert!(invoke(&window, "auth_session").unwrap().is_object(), "this one goes on");
    tauri::async_runtime::block_on(core.shutdown());
}
