//! The server's address and what the client trusts: `https://`, or `http://` to a loopback
//! address only (a session token never crosses a network unencrypted); certificates verified by
//! the TLS library (native-tls: the system's roots) plus the `server_ca` file's.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use reqwest::{Certificate, Url};

use crate::ClientError;

/// How long a TCP connection and TLS handshake may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `text` as the base of every route: `https://host[:port][/path]`, or `http://` to
/// `127.0.0.0/8`, `::1` or `localhost`; a host, no credentials, query or fragment.
pub(crate) fn check_server_url(text: &str) -> Result<Url, ClientError> {
    let refuse = |reason: &str| ClientError::ServerUrl { url: text.to_string(), reason: reason.to_string() };
    let url = Url::parse(text.trim()).map_err(|e| refuse(&format!("not a URL ({e})")))?;
    let Some(host) = url.host_str() else { return Err(refuse("no host")) };
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(host) => {}
        "http" => {
            return Err(refuse(
                "plain http:// is refused except to a loopback address (127.0.0.0/8, ::1, localhost): use https://",
            ));
        }
        other => return Err(refuse(&format!("unsupported scheme `{other}:` (use https://)"))),
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err(refuse("it must hold no user, password, query or fragment"));
    }
    Ok(url)
}

/// A loopback host: `127.0.0.0/8`, `::1` (bracketed in a URL) or `localhost`.
pub(crate) fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

/// The certificates of the PEM file `path` (at least one).
pub(crate) fn load_ca(path: &Path) -> Result<Vec<Certificate>, ClientError> {
    let refuse = |reason: String| ClientError::ServerCa { path: path.to_path_buf(), reason };
    let pem = std::fs::read(path).map_err(|e| refuse(format!("cannot read it ({e})")))?;
    let certificates =
        Certificate::from_pem_bundle(&pem).map_err(|e| refuse(format!("not a PEM certificate file ({e})")))?;
    if certificates.is_empty() {
        return Err(refuse("it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into()));
    }
    Ok(certificates)
}

/// A client trusting the system's roots and `extra`; no redirects followed (an operation's
/// answer is its own; the sign-in's redirects are read, not followed); `timeout` bounds a whole
/// request when given.
pub(crate) fn client(extra: &[Certificate], timeout: Option<Duration>) -> Result<reqwest::Client, ClientError> {
    let mut builder = reqwest::Client::builder()
        .tls_backend_native()
        .tls_certs_merge(extra.iter().cloned())
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("opsdeck-desktop/", env!("CARGO_PKG_VERSION")));
    if let Some(timeout) = timeout {
        builder = builder.timeout(timeout);
    }
    builder.build().map_err(|e| ClientError::Client(crate::call::cause_chain(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_and_http_only_to_a_loopback_address() {
        for accepted in [
            "https://ops.example.com",
            "https://ops.example.com:8443/deck/",
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://[::1]:8080/",
            "http://localhost:8080",
            "http://LOCALHOST",
        ] {
            assert!(check_server_url(accepted).is_ok(), "{accepted}");
        }
        for refused in [
            "http://ops.example.com",
            "http://10.0.0.5:8080",
            "http://[::2]:8080",
            "http://localhost.example.com",
            "ftp://ops.example.com",
            "ops.example.com",
            "https://user:pw@ops.example.com",
            "https://ops.example.com/?x=1",
            "https://ops.example.com/#x",
            "",
        ] {
            assert!(matches!(check_server_url(refused), Err(ClientError::ServerUrl { .. })), "{refused}");
        }
    }
}
