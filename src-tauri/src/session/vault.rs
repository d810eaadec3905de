//! Where a session token is kept between runs of the app.
//!
//! Embedded: `<data_dir>/session.token` (0600), beside the core's own secrets in that dir.
//!
//! Remote: the OS keychain (service `opsdeck`, user the server's URL: the Secret Service on
//! Linux, the Keychain on macOS, the Credential Manager on Windows). Where there is none (no
//! session bus, no Secret Service on it: a server's desktop, CI under Xvfb), the file
//! `<data_dir>/server-session.json` (0600), `{"server_url": "…", "token": "…"}`. A token is only
//! ever read back for the server it names: a token is sent to the server that issued it, never
//! another. The file is read first: whoever put it there (the end-to-end tests do) means it.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use opsdeck_api::SessionToken;
use serde::{Deserialize, Serialize};

/// The embedded core's session, inside the data dir.
pub const TOKEN_FILE: &str = "session.token";
/// A server's session where no keychain is available, inside the data dir.
pub const SERVER_SESSION_FILE: &str = "server-session.json";
/// The keychain service remote sessions are kept under (the user is the server's URL).
pub const KEYCHAIN_SERVICE: &str = "opsdeck";

/// A keychain of secrets by server URL: the OS's ([`OsKeychain`]), or a test's own.
pub trait Keychain: Send + Sync {
    fn get(&self, server_url: &str) -> Result<Option<String>, String>;
    fn set(&self, server_url: &str, token: &str) -> Result<(), String>;
    fn delete(&self, server_url: &str) -> Result<(), String>;
}

/// The OS keychain, through the `keyring` crate.
pub struct OsKeychain;

impl OsKeychain {
    /// The OS keychain if this session can have one. On Linux the Secret Service lives on the
    /// session bus: without one (no `DBUS_SESSION_BUS_ADDRESS`) there is none, and asking libdbus
    /// anyway would make it launch a bus of its own.
    pub fn available() -> Option<Arc<dyn Keychain>> {
        if cfg!(target_os = "linux") && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
            return None;
        }
        Some(Arc::new(OsKeychain))
    }

    fn entry(server_url: &str) -> Result<keyring::Entry, String> {
        keyring::Entry::new(KEYCHAIN_SERVICE, server_url).map_err(|e| e.to_string())
    }
}

impl Keychain for OsKeychain {
    fn get(&self, server_url: &str) -> Result<Option<String>, String> {
        match OsKeychain::entry(server_url)?.get_password() {
            Ok(token) => Ok(Some(token)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn set(&self, server_url: &str, token: &str) -> Result<(), String> {
        OsKeychain::entry(server_url)?.set_password(token).map_err(|e| e.to_string())
    }

    fn delete(&self, server_url: &str) -> Result<(), String> {
        match OsKeychain::entry(server_url)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Where one console's token is kept.
pub(crate) enum Vault {
    /// The embedded core's session: a file.
    Local { path: PathBuf },
    /// A server's session: the keychain, else a file naming the server.
    Server { server_url: String, file: PathBuf, keychain: Option<Arc<dyn Keychain>> },
}

#[derive(Serialize, Deserialize)]
struct ServerSession {
    server_url: String,
    token: String,
}

impl Vault {
    pub(crate) fn local(data_dir: &Path) -> Vault {
        Vault::Local { path: data_dir.join(TOKEN_FILE) }
    }

    pub(crate) fn server(data_dir: &Path, server_url: &str, keychain: Option<Arc<dyn Keychain>>) -> Vault {
        Vault::Server { server_url: server_url.to_string(), file: data_dir.join(SERVER_SESSION_FILE), keychain }
    }

    /// The file a token is (or would be) kept in.
    pub(crate) fn path(&self) -> &Path {
        match self {
            Vault::Local { path } => path,
            Vault::Server { file, .. } => file,
        }
    }

    /// The token kept by an earlier run, if any. Anything unreadable counts as none (the user
    /// signs in again), with a warning.
    pub(crate) fn load(&self) -> Option<SessionToken> {
        match self {
            Vault::Local { path } => match std::fs::read_to_string(path) {
                Ok(text) if !text.trim().is_empty() => Some(SessionToken::new(text.trim())),
                Ok(_) => None,
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => {
                    tracing::warn!(error = %e, path = %path.display(), "cannot read the kept session; sign in again");
                    None
                }
            },
            Vault::Server { server_url, file, keychain } => {
                if let Some(token) = read_server_file(file, server_url) {
                    return Some(token);
                }
                let keychain = keychain.as_ref()?;
                match keychain.get(server_url) {
                    Ok(token) => token.filter(|t| !t.is_empty()).map(SessionToken::new),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the session from the keychain; sign in again");
                        None
                    }
                }
            }
        }
    }

    /// Keeps `token`: in the keychain if there is one that takes it (then no file is left
    /// naming this server), else in the file. The error is the file's.
    pub(crate) fn store(&self, token: &SessionToken) -> io::Result<()> {
        match self {
            Vault::Local { path } => write_private(path, token.expose()),
            Vault::Server { server_url, file, keychain } => {
                if let Some(keychain) = keychain {
                    match keychain.set(server_url, token.expose()) {
                        Ok(()) => {
                            remove_server_file(file, server_url);
                            return Ok(());
                        }
                        Err(e) => tracing::warn!(error = %e,
                            "the keychain refused the session; keeping it in a file only its owner may read"),
                    }
                }
                let text = serde_json::to_string(&ServerSession {
                    server_url: server_url.clone(),
                    token: token.expose().to_string(),
                })?;
                write_private(file, &text)
            }
        }
    }

    /// Forgets the token wherever it was kept.
    pub(crate) fn clear(&self) {
        match self {
            Vault::Local { path } => remove(path),
            Vault::Server { server_url, file, keychain } => {
                remove_server_file(file, server_url);
                if let Some(keychain) = keychain
                    && let Err(e) = keychain.delete(server_url)
                {
                    tracing::warn!(error = %e, "cannot remove the session from the keychain");
                }
            }
        }
    }
}

/// The server whose session `<data_dir>/server-session.json` holds, if it holds one.
pub(crate) fn server_file_names(data_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(data_dir.join(SERVER_SESSION_FILE)).ok()?;
    serde_json::from_str::<ServerSession>(&text).ok().map(|kept| kept.server_url)
}

fn read_server_file(file: &Path, server_url: &str) -> Option<SessionToken> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(error = %e, path = %file.display(), "cannot read the kept session; sign in again");
            return None;
        }
    };
    match serde_json::from_str::<ServerSession>(&text) {
        Ok(kept) if same_server(&kept.server_url, server_url) && !kept.token.trim().is_empty() => {
            Some(SessionToken::new(kept.token.trim()))
        }
        Ok(kept) => {
            if !same_server(&kept.server_url, server_url) {
                tracing::info!(path = %file.display(), "the kept session is another server's: not sent to this one");
            }
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, path = %file.display(), "the kept session is unreadable; sign in again");
            None
        }
    }
}

/// Removes the session file if it names `server_url` (another server's is left alone).
fn remove_server_file(file: &Path, server_url: &str) {
    let names = std::fs::read_to_string(file)
        .ok()
        .and_then(|text| serde_json::from_str::<ServerSession>(&text).ok())
        .map(|kept| kept.server_url);
    match names {
        Some(named) if !same_server(&named, server_url) => {}
        // Ours, or unreadable (it holds nothing usable): removed.
        _ => remove(file),
    }
}

fn same_server(a: &str, b: &str) -> bool {
    match (crate::mode::check_server_url(a), crate::mode::check_server_url(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn remove(path: &Path) {
    if let Err(e) = std::fs::remove_file(path)
        && e.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(error = %e, path = %path.display(), "cannot remove the kept session");
    }
}

/// Writes `text` to `path` readable by its owner only, atomically: a temporary file beside it
/// (created 0600), synced, then renamed over it.
pub(crate) fn write_private(path: &Path, text: &str) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or(TOKEN_FILE);
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&temp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = (|| {
        let mut file = options.open(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}
