//! The desktop's remote mode: [`RemoteOps`] implements [`opsdeck_api::Ops`] over the server's
//! HTTPS API (`opsdeckd`, `/api/v1/`), so the desktop shell works against a server exactly as
//! against its own core, holding nothing but a staff session.
//!
//! - `address.rs`: the server's URL (https, or http to a loopback address only) and the TLS roots
//!   (the system's, plus an optional `server_ca`).
//! - `call.rs`: one JSON operation on its route ([`opsdeck_api::Operation::http`]); the session
//!   as `Authorization: Bearer`; an error answer is the server's `ErrorBody` as it is, a transport
//!   failure `server_unreachable`.
//! - `link.rs`: the link state the status bar shows ([`LinkState`]) and the reconnect backoff.
//! - `events.rs`: the live events (server-sent events), reconnecting by themselves with
//!   `Last-Event-ID` until the session ends.
//! - `signin.rs`: the desktop sign-in through the server (RFC 8252 with PKCE).
//! - `ops.rs`: the `Ops` table, one line per operation.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use opsdeck_api::{ErrorBody, ErrorCode, LinkState};
use tokio::sync::watch;

mod address;
mod call;
mod events;
mod link;
mod ops;
mod signin;

/// Where the server is and what to trust besides the system's roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// `https://host[:port][/path]`, or `http://` to a loopback address (`127.0.0.0/8`, `::1`,
    /// `localhost`) only.
    pub server_url: String,
    /// A PEM file of CA certificates trusted for the server besides the system's roots (a
    /// company CA, a self-signed server's certificate).
    pub server_ca: Option<PathBuf>,
}

/// Why a [`RemoteOps`] cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server's address is not a URL the console uses.
    #[error("server_url {url:?}: {reason}")]
    ServerUrl { url: String, reason: String },
    /// The `server_ca` file cannot be read, or holds no PEM certificate.
    #[error("server_ca {}: {reason}", path.display())]
    ServerCa { path: PathBuf, reason: String },
    /// The HTTP client could not be built (the TLS library refused its set-up).
    #[error("cannot set up the HTTPS client: {0}")]
    Client(String),
}

impl From<ClientError> for ErrorBody {
    /// A bad `server_url` or `server_ca` is the input at fault (`invalid_input` naming the field);
    /// a client that cannot be built is ours (`internal`).
    fn from(error: ClientError) -> ErrorBody {
        let message = error.to_string();
        match error {
            ClientError::ServerUrl { .. } => {
                ErrorBody { field: Some("server_url".into()), ..ErrorBody::new(ErrorCode::InvalidInput, message) }
            }
            ClientError::ServerCa { .. } => {
                ErrorBody { field: Some("server_ca".into()), ..ErrorBody::new(ErrorCode::InvalidInput, message) }
            }
            ClientError::Client(_) => ErrorBody::new(ErrorCode::Internal, message),
        }
    }
}

/// The console's operations on a server. Cheap to clone: clones share the connections, the link
/// state and the sign-in attempts.
#[derive(Clone)]
pub struct RemoteOps {
    inner: Arc<Inner>,
}

/// What the clones share.
pub(crate) struct Inner {
    /// Normalised: no trailing slash.
    pub(crate) server_url: String,
    pub(crate) base: reqwest::Url,
    /// The operations' client: connect 5 s, whole request 30 s, no redirects.
    pub(crate) http: reqwest::Client,
    /// The live events' client: connect 5 s and no whole-request limit (the stream stays open;
    /// its silence is bounded instead, in `events.rs`).
    pub(crate) stream_http: reqwest::Client,
    pub(crate) link: link::Link,
    pub(crate) attempts: signin::Attempts,
}

impl RemoteOps {
    /// A client of `config.server_url`, trusting the system's roots and `config.server_ca`. Makes
    /// no connection: the first operation does.
    pub fn new(config: &ClientConfig) -> Result<RemoteOps, ClientError> {
        let base = address::check_server_url(&config.server_url)?;
        let roots = match &config.server_ca {
            Some(path) => address::load_ca(path)?,
            None => Vec::new(),
        };
        let http = address::client(&roots, Some(call::REQUEST_TIMEOUT))?;
        let stream_http = address::client(&roots, None)?;
        let server_url = base.as_str().trim_end_matches('/').to_string();
        Ok(RemoteOps {
            inner: Arc::new(Inner {
                server_url,
                base,
                http,
                stream_http,
                link: link::Link::new(),
                attempts: signin::Attempts::default(),
            }),
        })
    }

    /// The server's URL, normalised (no trailing slash).
    pub fn server_url(&self) -> &str {
        &self.inner.server_url
    }

    /// The link to the server: `Connected` after any answer from it (and while the live events
    /// flow), `Reconnecting` after a call found it unreachable or while the live events reconnect.
    /// Starts `Connected` (nothing has failed yet).
    pub fn link(&self) -> watch::Receiver<LinkState> {
        self.inner.link.subscribe()
    }
}

impl fmt::Debug for RemoteOps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteOps").field("server_url", &self.inner.server_url).finish_non_exhaustive()
    }
}
