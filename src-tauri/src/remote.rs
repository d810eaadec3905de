//! The server's console: `opsdeck_client::RemoteOps` as the window's `Arc<dyn Ops>`, and the
//! check that a server chosen on the sign-in screen answers.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use opsdeck_api::{ErrorBody, ErrorCode, LinkState, Ops};
use opsdeck_client::{ClientConfig, RemoteOps};
use tokio::sync::watch;

/// How long a chosen server has to answer `health`.
const PROBE_WITHIN: Duration = Duration::from_secs(10);

fn client(server_url: &str, server_ca: Option<&Path>) -> Result<RemoteOps, ErrorBody> {
    let config = ClientConfig { server_url: server_url.to_string(), server_ca: server_ca.map(Path::to_path_buf) };
    RemoteOps::new(&config).map_err(ErrorBody::from)
}

/// The client of `server_url` (trusting `server_ca` besides the system's roots) and its link.
pub(crate) fn connect(
    server_url: &str,
    server_ca: Option<&Path>,
) -> anyhow::Result<(Arc<dyn Ops>, watch::Receiver<LinkState>)> {
    let remote = client(server_url, server_ca).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let link = remote.link();
    Ok((Arc::new(remote), link))
}

/// Refuses a server that does not answer `health` (unreachable, not trusted, not OpsDeck), naming
/// the field the sign-in screen shows the refusal at.
pub(crate) async fn probe(server_url: &str, server_ca: Option<&Path>) -> Result<(), ErrorBody> {
    let at_field = |e: ErrorBody| ErrorBody { field: Some("server_url".into()), ..e };
    let remote = client(server_url, server_ca).map_err(at_field)?;
    match tokio::time::timeout(PROBE_WITHIN, remote.health()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(at_field(e)),
        Err(_) => {
            let mut e = ErrorBody::new(
                ErrorCode::ServerUnreachable,
                format!("the server {server_url} did not answer within {} s", PROBE_WITHIN.as_secs()),
            );
            e.params.insert("server".into(), server_url.to_string());
            Err(at_field(e))
        }
    }
}
