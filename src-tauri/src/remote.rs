//! The server's console through `opsdeck_client` (placeholder until that crate lands).

use std::path::Path;
use std::sync::Arc;

use opsdeck_api::{ErrorBody, ErrorCode, LinkState, Ops};
use tokio::sync::watch;

pub(crate) fn connect(
    _server_url: &str,
    _server_ca: Option<&Path>,
) -> anyhow::Result<(Arc<dyn Ops>, watch::Receiver<LinkState>)> {
    anyhow::bail!("remote mode is not built yet")
}

pub(crate) async fn probe(_server_url: &str, _server_ca: Option<&Path>) -> Result<(), ErrorBody> {
    Err(ErrorBody::new(ErrorCode::Internal, "remote mode is not built yet"))
}
