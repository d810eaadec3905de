//! Live events through the one door (`Ops::events`) in both modes: health before a sign-in, the
//! core's events while signed in, and none once the session is revoked (the window told with
//! `session_changed`, the kept session forgotten).

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use opsdeck::{CORE_EVENT, SessionStore, Shell};
use opsdeck_api::accounts::Role;
use opsdeck_api::ocr::Side;
use opsdeck_core::Core;
use serde_json::Value;
use tauri::Listener;
use tauri::test::MockRuntime;

use crate::{Daemon, app, invoke, receive_until, remote_shell, set_up, unique, write_server_session};

const WITHIN: Duration = Duration::from_secs(20);

/// The window's `core-event`s, from now on.
fn listen(app: &tauri::App<MockRuntime>) -> mpsc::Receiver<Value> {
    let (sender, events) = mpsc::channel::<Value>();
    app.listen_any(CORE_EVENT, move |event| {
        let _ = sender.send(serde_json::from_str(event.payload()).unwrap());
    });
    events
}

fn submit(core: &Core, stem: &str) -> String {
    let url = format!("https://img.example.com/{}.jpg", unique(stem));
    tauri::async_runtime::block_on(core.ocr_submit(&url, Side::Front)).expect("submitted");
    url
}

/// The event flow of a signed-in window over `core`, whose session of `user_id` is kept in the
/// window's store: `ocr_updated` arrives; a revoke ends the flow (`session_changed` with no
/// staff, the store emptied) and nothing but health follows.
fn follows_until_revoked(core: &Core, mut app: tauri::App<MockRuntime>, user_id: i64, kept: &Path) {
    let events = listen(&app);
    set_up(&mut app);
    // Signed in, the window gets nothing but its stream: the first event says it is open.
    receive_until(&events, WITHIN, "the live events' first", |_| true);
    let url = submit(core, "live");
    receive_until(&events, WITHIN, "the submitted request's ocr_updated", |e| {
        e["kind"] == "ocr_updated" && e["request"]["url"] == url.as_str()
    });

    tauri::async_runtime::block_on(core.sessions_revoke_user(user_id, "test")).unwrap();
    let ended = receive_until(&events, WITHIN, "session_changed after the revoke", |e| e["kind"] == "session_changed");
    assert_eq!(ended["staff"], Value::Null, "{ended}");
    assert!(!kept.exists(), "the revoked session is forgotten");

    // Only health from now on: anything forwarded before a health report taken after this
    // submission would arrive first.
    let late = submit(core, "late");
    let after = chrono::Utc::now();
    receive_until(&events, WITHIN, "a health report taken after the late submission", |e| {
        assert_ne!(e["kind"], "ocr_updated", "an event after the revoke: {e} ({late})");
        e["kind"] == "health"
            && e["report"]["checked_at"].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap() > after
    });
}

#[test]
fn remote_events_reach_the_window_and_stop_when_the_session_is_revoked() {
    let daemon = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let (user_id, token) = daemon.staff_token(&unique("viewer"), Role::Viewer);
    write_server_session(dir.path(), &daemon.url, &token);
    let (app, window) = app(remote_shell(&daemon.url, dir.path()));
    assert!(invoke(&window, "auth_session").unwrap().is_object());
    follows_until_revoked(&daemon.core, app, user_id, &dir.path().join(opsdeck::SERVER_SESSION_FILE));
    assert_eq!(invoke(&window, "auth_session").unwrap(), Value::Null);
    assert_eq!(invoke(&window, "overview").unwrap_err()["code"], "unauthenticated");
    daemon.stop();
}

#[test]
fn embedded_events_reach_the_window_and_stop_when_the_session_is_revoked() {
    // The embedded core is the daemon's, without its HTTP API: the shell calls it directly.
    let daemon = Daemon::start();
    let (user_id, token) = daemon.staff_token(&unique("viewer"), Role::Viewer);
    let data_dir = daemon.core.config().data_dir.clone();
    SessionStore::open(&data_dir).keep(token).unwrap();
    let shell = Shell::embedded(&daemon.core);
    assert_eq!(shell.data_dir, data_dir);
    let (app, window) = app(shell);
    let status = invoke(&window, "connection_status").unwrap();
    assert_eq!(
        status,
        serde_json::json!({
            "mode": "embedded", "server_url": null, "fixed_by_config": false, "link": { "state": "connected" }
        })
    );
    follows_until_revoked(&daemon.core, app, user_id, &data_dir.join(opsdeck::TOKEN_FILE));
    daemon.stop();
}

#[test]
fn before_a_sign_in_the_window_gets_the_servers_health_only() {
    let daemon = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let (mut app, _window) = app(remote_shell(&daemon.url, dir.path()));
    let events = listen(&app);
    set_up(&mut app);
    submit(&daemon.core, "unseen");
    let after = chrono::Utc::now();
    receive_until(&events, WITHIN, "the server's health, taken after the submission", |e| {
        assert_eq!(e["kind"], "health", "only health before a sign-in: {e}");
        e["report"]["checked_at"].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap() > after
    });
    daemon.stop();
}
