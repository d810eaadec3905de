//! `server_choose`: the sign-in screen's choice of a server (or of the embedded core), judged
//! before anything changes, remembered in `<data_dir>/server.json`, the old server's session
//! ended, then the app restarted (here a counter: the mock runtime cannot restart).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use opsdeck::{Mode, RemoteTarget, SERVER_FILE, SERVER_SESSION_FILE, Shell};
use opsdeck_api::accounts::Role;
use opsdeck_api::{ErrorCode, Ops};
use serde_json::{Value, json};

use crate::{Daemon, app, config_in, invoke, invoke_with, remote_shell, unique, write_server_session};

/// `shell` with its restart counted.
fn counted(mut shell: Shell) -> (Shell, Arc<AtomicU32>) {
    let restarts = Arc::new(AtomicU32::new(0));
    let counter = restarts.clone();
    shell.restart = Some(Arc::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
    }));
    (shell, restarts)
}

fn choose(window: &tauri::WebviewWindow<tauri::test::MockRuntime>, server_url: Option<&str>) -> Result<Value, Value> {
    invoke_with(window, "server_choose", json!({ "serverUrl": server_url }))
}

fn chosen(dir: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(dir.join(SERVER_FILE)).ok()?;
    Some(serde_json::from_str(&text).unwrap())
}

#[test]
fn a_server_is_refused_unless_https_or_loopback_and_answering() {
    let daemon = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let (shell, restarts) = counted(remote_shell(&daemon.url, dir.path()));
    let (_app, window) = app(shell);
    for refused in ["http://ops.example.com", "http://192.0.2.7:8080", "ftp://ops.example.com", "ops.example.com"] {
        let error = choose(&window, Some(refused)).unwrap_err();
        assert_eq!(
            (&error["code"], &error["field"]),
            (&json!("invalid_input"), &json!("server_url")),
            "{refused}: {error}"
        );
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{error}");
    }
    // Nothing answers on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let error = choose(&window, Some(&format!("http://127.0.0.1:{port}"))).unwrap_err();
    assert_eq!(error["field"], "server_url", "{error}");
    assert_ne!(error["code"], "invalid_input", "unreachable, not malformed: {error}");
    assert!(chosen(dir.path()).is_none(), "nothing remembered");
    assert_eq!(restarts.load(Ordering::SeqCst), 0, "no restart");
    daemon.stop();
}

#[test]
fn choosing_a_server_remembers_it_ends_the_old_session_and_restarts() {
    let daemon = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let (_, token) = daemon.staff_token(&unique("viewer"), Role::Viewer);
    write_server_session(dir.path(), &daemon.url, &token);
    // The same daemon under another URL is another server to the shell.
    let other = daemon.url.replace("127.0.0.1", "localhost");
    let (shell, restarts) = counted(remote_shell(&daemon.url, dir.path()));
    let (_app, window) = app(shell);
    assert!(invoke(&window, "auth_session").unwrap().is_object());

    // The server in use already: nothing changes.
    choose(&window, Some(&daemon.url)).unwrap();
    assert_eq!((chosen(dir.path()), restarts.load(Ordering::SeqCst)), (None, 0));

    choose(&window, Some(&format!("{other}/"))).expect("another server that answers");
    assert_eq!(chosen(dir.path()), Some(json!({ "server_url": other })));
    assert_eq!(restarts.load(Ordering::SeqCst), 1, "the app restarts");
    assert!(!dir.path().join(SERVER_SESSION_FILE).exists(), "the old server's session is forgotten");
    let ended = tauri::async_runtime::block_on(daemon.core.session_staff(&token)).unwrap_err();
    assert_eq!(ended.code, ErrorCode::Unauthenticated, "and ended there");
    // The next start opens remote on the chosen server, which the sign-in screen may change.
    let config = config_in(dir.path(), "");
    assert_eq!(
        Mode::of(&config).unwrap(),
        Mode::Remote(RemoteTarget { server_url: other.clone(), fixed_by_config: false })
    );

    // From there, back to the embedded core.
    let (shell, restarts) = counted(remote_shell(&other, dir.path()));
    let (_app, window) = app(shell);
    choose(&window, None).unwrap();
    assert_eq!((chosen(dir.path()), restarts.load(Ordering::SeqCst)), (None, 1));
    assert_eq!(Mode::of(&config).unwrap(), Mode::Embedded);
    daemon.stop();
}

#[test]
fn a_server_fixed_by_the_configuration_cannot_be_changed() {
    let daemon = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let target = RemoteTarget { server_url: daemon.url.clone(), fixed_by_config: true };
    let shell = tauri::async_runtime::block_on(async { Shell::remote(target, dir.path().to_path_buf(), None, None) });
    let (shell, restarts) = counted(shell.unwrap());
    let (_app, window) = app(shell);
    let status = invoke(&window, "connection_status").unwrap();
    assert_eq!(status["fixed_by_config"], true, "{status}");
    for choice in [None, Some(daemon.url.replace("127.0.0.1", "localhost"))] {
        let error = choose(&window, choice.as_deref()).unwrap_err();
        assert_eq!(error["field"], "server_url", "{error}");
        assert!(error["message"].as_str().unwrap().contains("configuration"), "{error}");
    }
    assert_eq!((chosen(dir.path()), restarts.load(Ordering::SeqCst)), (None, 0));
    daemon.stop();
}
