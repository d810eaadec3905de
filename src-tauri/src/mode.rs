//! Where the console's core is: in the app (embedded, the zero-configuration default) or on a
//! server (remote: `opsdeckd` over HTTPS, the app holding nothing but a staff session).
//!
//! Remote when the configuration names `server_url` (the file, or `OPSDECK_SERVER_URL`): fixed,
//! the sign-in screen cannot change it. Otherwise remote when the sign-in screen chose a server,
//! remembered in `<data_dir>/server.json` (`{"server_url": "https://…"}`). Otherwise embedded.

use std::io;
use std::path::Path;

use opsdeck_api::{ErrorBody, ErrorCode};
use opsdeck_core::Config;
use serde::{Deserialize, Serialize};

/// The file the sign-in screen's choice of a server is remembered in, inside the data dir.
pub const SERVER_FILE: &str = "server.json";

/// The console's mode, decided once at start-up (a change restarts the app).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The app runs the core itself.
    Embedded,
    Remote(RemoteTarget),
}

/// The server a remote console works against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteTarget {
    /// Normalised ([`check_server_url`]): the key the session is kept under.
    pub server_url: String,
    /// From the configuration (`server_url`, `OPSDECK_SERVER_URL`) rather than the sign-in screen.
    pub fixed_by_config: bool,
}

impl Mode {
    /// The mode `config` asks for: its `server_url`, else the choice remembered in its data dir,
    /// else embedded. A remembered choice that cannot be read (or is no longer a URL the app
    /// accepts) is ignored with a warning: the app opens embedded and the choice can be made again.
    pub fn of(config: &Config) -> Result<Mode, ErrorBody> {
        if let Some(url) = &config.server_url {
            let server_url = check_server_url(url)?;
            return Ok(Mode::Remote(RemoteTarget { server_url, fixed_by_config: true }));
        }
        Ok(match read_choice(&config.data_dir) {
            Some(server_url) => Mode::Remote(RemoteTarget { server_url, fixed_by_config: false }),
            None => Mode::Embedded,
        })
    }

    pub fn server_url(&self) -> Option<&str> {
        match self {
            Mode::Embedded => None,
            Mode::Remote(target) => Some(&target.server_url),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Choice {
    server_url: String,
}

fn read_choice(data_dir: &Path) -> Option<String> {
    let path = data_dir.join(SERVER_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(error = %e, path = %path.display(), "cannot read the chosen server; opening embedded");
            return None;
        }
    };
    let checked = serde_json::from_str::<Choice>(&text)
        .map_err(|e| e.to_string())
        .and_then(|choice| check_server_url(&choice.server_url).map_err(|e| e.message));
    match checked {
        Ok(url) => Some(url),
        Err(why) => {
            tracing::warn!(path = %path.display(), %why, "the chosen server is unreadable; opening embedded");
            None
        }
    }
}

/// Remembers the sign-in screen's choice (`None`: embedded, the file removed).
pub fn save_choice(data_dir: &Path, server_url: Option<&str>) -> io::Result<()> {
    let path = data_dir.join(SERVER_FILE);
    match server_url {
        Some(server_url) => {
            let text = serde_json::to_string(&Choice { server_url: server_url.to_string() })?;
            crate::session::write_private(&path, &text)
        }
        None => match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
    }
}

/// Checks a server's URL and gives it in the one form sessions are kept under: `https://…`, or
/// `http://` to a loopback address only (nothing else crosses a network unencrypted), a host, no
/// credentials, query or fragment, no trailing slash.
pub fn check_server_url(text: &str) -> Result<String, ErrorBody> {
    let refuse = |message: String| ErrorBody {
        field: Some("server_url".into()),
        ..ErrorBody::new(ErrorCode::InvalidInput, message)
    };
    let url = tauri::Url::parse(text.trim()).map_err(|e| refuse(format!("the server's address is not a URL ({e})")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err(refuse("plain http:// is allowed only to a loopback address; use https://".into())),
        other => return Err(refuse(format!("unsupported scheme `{other}:` (use https://)"))),
    }
    if url.host().is_none() {
        return Err(refuse("the server's address names no host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err(refuse("the server's address must hold no user, password, query or fragment".into()));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// True when `url`'s host is a loopback address (`127.0.0.0/8`, `::1`) or `localhost`.
fn is_loopback(url: &tauri::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_is_a_server() {
        assert_eq!(check_server_url("https://ops.example.com/").unwrap(), "https://ops.example.com");
        assert_eq!(
            check_server_url(" https://ops.example.com:8443/deck/ ").unwrap(),
            "https://ops.example.com:8443/deck"
        );
        assert_eq!(check_server_url("http://127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(check_server_url("http://[::1]:8080/").unwrap(), "http://[::1]:8080");
        assert_eq!(check_server_url("http://localhost:8080").unwrap(), "http://localhost:8080");
        for refused in [
            "http://ops.example.com",
            "http://10.0.0.5:8080",
            "ftp://ops.example.com",
            "ops.example.com",
            "https://user:pw@ops.example.com",
            "https://ops.example.com/?x=1",
            "",
        ] {
            let e = check_server_url(refused).unwrap_err();
            assert_eq!((e.code, e.field.as_deref()), (ErrorCode::InvalidInput, Some("server_url")), "{refused}");
        }
    }
}
