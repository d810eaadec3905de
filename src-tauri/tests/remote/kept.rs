//! Remote sessions survive a restart: in the OS keychain, else `<data_dir>/server-session.json`
//! (0600), and are only ever sent to the server that issued them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use opsdeck::{Keychain, RemoteTarget, SERVER_SESSION_FILE, SessionStore, Shell};
use opsdeck_api::accounts::Role;
use opsdeck_api::{ErrorCode, Ops, SessionToken};
use serde_json::{Value, json};

use crate::{Daemon, app, invoke, remote_shell, unique, write_server_session};

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_session_is_kept_owner_only_and_a_restarted_shell_is_signed_in_from_it() {
    let daemon = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let (user_id, token) = daemon.staff_token(&unique("admin"), Role::Admin);

    // Kept as the sign-in window keeps it, where no keychain is.
    let store = SessionStore::for_server(dir.path(), &daemon.url, None);
    assert!(!store.holds());
    store.keep(token.clone()).expect("kept");
    let file = dir.path().join(SERVER_SESSION_FILE);
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(kept, json!({ "server_url": daemon.url, "token": token.expose() }));
    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600, "the session file is the owner's only");
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
    assert_eq!(names, [SERVER_SESSION_FILE], "nothing else is left behind");
    drop(store);

    // A restart: signed in, the closed commands answer.
    let (_app, window) = app(remote_shell(&daemon.url, dir.path()));
    assert_eq!(invoke(&window, "auth_session").unwrap()["user_id"], user_id);
    let sessions = invoke(&window, "sessions_list").unwrap();
    assert!(sessions.as_array().unwrap().iter().any(|s| s["current"] == true), "{sessions}");

    // Sign-out ends it at the server and removes the file.
    invoke(&window, "sign_out").unwrap();
    assert!(!file.exists(), "sign-out removes the kept session");
    assert_eq!(invoke(&window, "auth_session").unwrap(), Value::Null);
    assert_eq!(invoke(&window, "jobs_list").unwrap_err()["code"], "unauthenticated");
    let ended = tauri::async_runtime::block_on(daemon.core.session_staff(&token)).unwrap_err();
    assert_eq!(ended.code, ErrorCode::Unauthenticated, "the server ended the session");
    daemon.stop();
}

#[test]
fn a_session_is_sent_only_to_the_server_that_issued_it() {
    let daemon = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let (_, token) = daemon.staff_token(&unique("viewer"), Role::Viewer);
    // Kept for another server (same daemon, another URL: to the shell, another server).
    let elsewhere = daemon.url.replace("127.0.0.1", "localhost");
    write_server_session(dir.path(), &elsewhere, &token);
    let (_app, window) = app(remote_shell(&daemon.url, dir.path()));
    assert_eq!(invoke(&window, "auth_session").unwrap(), Value::Null, "not signed in with another's token");
    assert_eq!(invoke(&window, "jobs_list").unwrap_err()["code"], "unauthenticated");
    assert!(dir.path().join(SERVER_SESSION_FILE).exists(), "the other server's session is left alone");
    daemon.stop();
}

#[test]
fn a_session_the_server_no_longer_honours_is_forgotten() {
    let daemon = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let (user_id, token) = daemon.staff_token(&unique("viewer"), Role::Viewer);
    write_server_session(dir.path(), &daemon.url, &token);
    daemon.revoke(user_id);
    let (_app, window) = app(remote_shell(&daemon.url, dir.path()));
    assert_eq!(invoke(&window, "auth_session").unwrap(), Value::Null, "the server refuses it");
    assert!(!dir.path().join(SERVER_SESSION_FILE).exists(), "and the shell forgets it");
    daemon.stop();
}

/// A keychain in memory; `broken`: refuses every write (a locked keychain).
#[derive(Default)]
struct MemoryKeychain {
    items: Mutex<HashMap<String, String>>,
    broken: bool,
}

impl Keychain for MemoryKeychain {
    fn get(&self, server_url: &str) -> Result<Option<String>, String> {
        Ok(self.items.lock().unwrap().get(server_url).cloned())
    }
    fn set(&self, server_url: &str, token: &str) -> Result<(), String> {
        if self.broken {
            return Err("the keychain is locked".into());
        }
        self.items.lock().unwrap().insert(server_url.to_string(), token.to_string());
        Ok(())
    }
    fn delete(&self, server_url: &str) -> Result<(), String> {
        self.items.lock().unwrap().remove(server_url);
        Ok(())
    }
}

fn shell_with(daemon: &Daemon, dir: &Path, keychain: Arc<MemoryKeychain>) -> Shell {
    let target = RemoteTarget { server_url: daemon.url.clone(), fixed_by_config: false };
    tauri::async_runtime::block_on(async { Shell::remote(target, dir.to_path_buf(), None, Some(keychain)) }).unwrap()
}

#[test]
fn a_keychain_keeps_the_session_when_there_is_one() {
    let daemon = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(SERVER_SESSION_FILE);
    let (user_id, token) = daemon.staff_token(&unique("operator"), Role::Operator);
    let keychain = Arc::new(MemoryKeychain::default());

    // A file the tests (or an older run) left is read, and replaced by the keychain at the next
    // sign-in.
    write_server_session(dir.path(), &daemon.url, &SessionToken::new("an-older-session"));
    let store = SessionStore::for_server(dir.path(), &daemon.url, Some(keychain.clone()));
    assert_eq!(store.token().expose(), "an-older-session");
    store.keep(token.clone()).unwrap();
    assert!(!file.exists(), "kept in the keychain: no file");
    assert_eq!(keychain.items.lock().unwrap().get(&daemon.url), Some(&token.expose().to_string()));
    drop(store);

    let (_app, window) = app(shell_with(&daemon, dir.path(), keychain.clone()));
    assert_eq!(invoke(&window, "auth_session").unwrap()["user_id"], user_id, "signed in from the keychain");
    invoke(&window, "sign_out").unwrap();
    assert!(keychain.items.lock().unwrap().is_empty(), "sign-out removes it from the keychain");

    // A keychain that refuses: the file, 0600, from which the next run signs in.
    let (_, again) = daemon.staff_token(&unique("operator"), Role::Operator);
    let locked = Arc::new(MemoryKeychain { broken: true, ..MemoryKeychain::default() });
    SessionStore::for_server(dir.path(), &daemon.url, Some(locked.clone())).keep(again.clone()).unwrap();
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(kept["token"], again.expose());
    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600);
    let (_app, window) = app(shell_with(&daemon, dir.path(), locked));
    assert_eq!(invoke(&window, "auth_session").unwrap()["role"], "operator");
    daemon.stop();
}
