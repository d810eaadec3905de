//! Start-up decides the mode: `server_url` in the configuration (fixed), else the sign-in
//! screen's remembered choice, else embedded. Remote mode starts no core: the launcher is never
//! called, and the configuration needs nothing but `server_url`.

use opsdeck::{Mode, RemoteTarget, SERVER_FILE, start};
use serde_json::json;

use crate::{app, config_in, invoke};

#[test]
fn remote_mode_starts_no_core_and_needs_nothing_but_the_server_url() {
    let dir = tempfile::tempdir().unwrap();
    // No database, no Redis, no provider: nothing but the server.
    let config = config_in(dir.path(), "server_url = \"https://ops.example.invalid/\"\n");
    let started =
        tauri::async_runtime::block_on(start(config, None, |_| async { panic!("remote mode launched a core") }));
    let (shell, running) = started.expect("remote mode starts");
    assert!(running.is_none(), "no core runs");
    let server_url = "https://ops.example.invalid".to_string();
    assert_eq!(shell.mode, Mode::Remote(RemoteTarget { server_url: server_url.clone(), fixed_by_config: true }));
    let (_app, window) = app(shell);
    let status = invoke(&window, "connection_status").unwrap();
    assert_eq!((&status["mode"], &status["server_url"]), (&json!("remote"), &json!(server_url)), "{status}");
    assert_eq!(status["fixed_by_config"], true);
    assert_eq!(invoke(&window, "auth_session").unwrap(), serde_json::Value::Null, "no session kept");
    assert_eq!(invoke(&window, "jobs_list").unwrap_err()["code"], "unauthenticated");
    let files: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
    assert_eq!(files, ["config.toml"], "no database or other file made in the data dir");
}

#[test]
fn the_mode_follows_the_configuration_then_the_remembered_choice() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path(), "");
    assert_eq!(Mode::of(&config).unwrap(), Mode::Embedded, "the zero-configuration default");

    std::fs::write(dir.path().join(SERVER_FILE), r#"{"server_url": "https://chosen.example.invalid/"}"#).unwrap();
    let chosen = RemoteTarget { server_url: "https://chosen.example.invalid".into(), fixed_by_config: false };
    assert_eq!(Mode::of(&config).unwrap(), Mode::Remote(chosen));

    // The configuration wins over the choice.
    let fixed = config_in(dir.path(), "server_url = \"http://127.0.0.1:8080\"\n");
    let target = RemoteTarget { server_url: "http://127.0.0.1:8080".into(), fixed_by_config: true };
    assert_eq!(Mode::of(&fixed).unwrap(), Mode::Remote(target));

    // A choice the app would not accept (edited by hand) is ignored: embedded.
    for bad in [r#"{"server_url": "http://ops.example.com"}"#, "not json"] {
        std::fs::write(dir.path().join(SERVER_FILE), bad).unwrap();
        assert_eq!(Mode::of(&config).unwrap(), Mode::Embedded, "{bad}");
    }
}
