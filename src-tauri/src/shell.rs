//! What the window works against, made at start-up: the core as `Arc<dyn Ops>` (embedded: the
//! app's own; remote: the server, through `opsdeck_client::RemoteOps`), the mode, the session
//! store, the link. [`start`] is the one place that decides whether a core starts at all: in
//! remote mode it never calls the launcher (no database, no Redis, no provider or Alipay secret,
//! no fakes).

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use opsdeck_api::{LinkState, Ops};
use opsdeck_core::{Config, Core};
use opsdeck_sandbox::Running;
use tokio::sync::watch;

use crate::mode::{Mode, RemoteTarget};
use crate::session::{Keychain, SessionStore};

/// The window's core and what the shell keeps around it.
pub struct Shell {
    pub ops: Arc<dyn Ops>,
    pub mode: Mode,
    /// Where the shell keeps its files (the session, the chosen server): the configuration's
    /// data dir.
    pub data_dir: PathBuf,
    /// The configuration's `server_ca`: trusted for any server chosen on the sign-in screen too.
    pub server_ca: Option<PathBuf>,
    pub link: watch::Receiver<LinkState>,
    pub session: Arc<SessionStore>,
    /// Replaces the app's restart after `server_choose` (a test's: the mock runtime cannot).
    pub restart: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Shell {
    /// The app's own core: always connected, its session in `<data_dir>/session.token`.
    pub fn embedded(core: &Core) -> Shell {
        let config = core.config();
        // The sender goes: the embedded link never changes.
        let (_, link) = watch::channel(LinkState::Connected);
        Shell {
            ops: Arc::new(core.clone()),
            mode: Mode::Embedded,
            data_dir: config.data_dir.clone(),
            server_ca: config.server_ca.clone(),
            link,
            session: Arc::new(SessionStore::open(&config.data_dir)),
            restart: None,
        }
    }

    /// A server's console: nothing but the client and the session kept for that server.
    pub fn remote(
        target: RemoteTarget,
        data_dir: PathBuf,
        server_ca: Option<PathBuf>,
        keychain: Option<Arc<dyn Keychain>>,
    ) -> anyhow::Result<Shell> {
        let (ops, link) = crate::remote::connect(&target.server_url, server_ca.as_deref())?;
        let session = Arc::new(SessionStore::for_server(&data_dir, &target.server_url, keychain));
        Ok(Shell { ops, mode: Mode::Remote(target), data_dir, server_ca, link, session, restart: None })
    }
}

/// The shell for `config`'s mode ([`Mode::of`]) and, embedded, the running core: `launch` starts
/// it (`opsdeck_sandbox::launch`). Remote: `launch` is never called and nothing but the client
/// is made.
pub async fn start<F, Fut>(
    config: Config,
    keychain: Option<Arc<dyn Keychain>>,
    launch: F,
) -> anyhow::Result<(Shell, Option<Running>)>
where
    F: FnOnce(Config) -> Fut,
    Fut: Future<Output = anyhow::Result<Running>>,
{
    match Mode::of(&config).map_err(|e| anyhow::anyhow!("server_url: {}", e.message))? {
        Mode::Remote(target) => {
            tracing::info!(server_url = %target.server_url, fixed_by_config = target.fixed_by_config,
                "remote mode: no core in this app");
            let shell = Shell::remote(target, config.data_dir.clone(), config.server_ca.clone(), keychain)
                .context("cannot set up the connection to the server")?;
            Ok((shell, None))
        }
        Mode::Embedded => {
            let running = launch(config).await?;
            let shell = Shell::embedded(running.core());
            Ok((shell, Some(running)))
        }
    }
}
