//! `run --listen`: the API token (configured, or the data dir's token file), HTTPS or a warning
//! about plain HTTP off the loopback, and the server's start and stop around the core's life.

use std::net::SocketAddr;
use std::time::Duration;

use opsdeck_core::Core;
use opsdeckd::http::{ApiSettings, Limits, Server, Tls, auth};

/// How long requests in progress may take to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves the API on `addr`. The token is `api_token` when configured, else the one kept in
/// `<data_dir>/api-token` (generated on first use); only the file's path is logged. With `tls`
/// the API is served over HTTPS only.
pub async fn start(addr: SocketAddr, core: &Core, tls: Option<Tls>) -> anyhow::Result<Server> {
    let token = match &core.config().api_token {
        Some(token) => token.clone(),
        None => {
            let (token, path) = auth::token_from_file(&core.config().data_dir)
                .map_err(|e| anyhow::anyhow!("cannot read or create the API token file: {e}"))?;
            tracing::info!(path = %path.display(), "no api_token configured: the HTTP API's bearer token is in this file");
            token
        }
    };
    let config = core.config();
    let limits = Limits {
        header_read_timeout: config.http.header_timeout,
        body_timeout: config.http.body_timeout,
        max_connections: usize::try_from(config.http.max_connections).unwrap_or(usize::MAX),
        open_per_second: config.http.open_per_ip_per_second,
        open_burst: config.http.open_per_ip_per_second.saturating_mul(5),
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    if tls.is_none() && !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "serving plain HTTP on an address other machines can reach: staff sessions (and the API token) \
             would cross the network unencrypted; set tls_cert and tls_key, or listen on 127.0.0.1 behind a \
             TLS proxy"
        );
    }
    let settings = ApiSettings { metrics_token: config.metrics_token.clone(), limits, tls, ..ApiSettings::new(token) };
    let server = Server::start(addr, core.clone(), settings)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let addr = server.local_addr;
    tracing::info!(%addr, scheme = %scheme, "HTTP API listening: serving {scheme} on {addr} (description at /openapi.json)");
    Ok(server)
}

/// Stops accepting requests and waits (bounded) for those in progress.
pub async fn stop(server: Server) {
    match tokio::time::timeout(DRAIN, server.stop()).await {
        Ok(Ok(())) => tracing::info!("HTTP API stopped"),
        Ok(Err(e)) => tracing::error!(error = %e, "the HTTP API stopped with an error"),
        Err(_) => tracing::warn!("requests still in progress after {DRAIN:?}: stopping anyway"),
    }
}
