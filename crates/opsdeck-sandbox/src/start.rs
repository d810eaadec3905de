//! Sandbox mode's start-up (feature `start`): the one start-up of the desktop and the daemon,
//! [`launch`]. It starts the fakes this crate serves on loopback where sandbox mode applies,
//! points the core's configuration at them (the core reaches them over HTTP, as it does the real
//! providers), starts the core, and then the simulated shop ([`crate::shop`]):
//!
//! ```ignore
//! let running = opsdeck_sandbox::launch(config, cli_asked_for_sandbox).await?;
//! serve(running.core());
//! running.shutdown().await;
//! ```
//!
//! Sandbox mode proper is the default when no provider credentials are configured at all: every
//! provider is a fake, the console says so, and the simulated shop runs (unless
//! `sandbox_shop = false`), with orders expiring after `sandbox_order_expiry_seconds`. With some
//! credentials configured, no fake starts at all: the providers left without credentials are
//! absent (logged at start with the keys that configure them), so nothing outside sandbox mode
//! ever trusts a fake's published keys or its passwordless sign-in pages.

use std::net::{Ipv4Addr, SocketAddr};

use opsdeck_core::{Config, Core, OAuthClient, ProviderState, ProviderStatus, ShopSettings};

use crate::alipay::{FakeAlipay, FakeAlipayConfig, SANDBOX_ALIPAY_PUBLIC_KEY, SANDBOX_APP_PRIVATE_KEY};
use crate::baidu::{BaiduConfig, FakeBaidu};
use crate::oauth::{FakeOAuth, FakeOAuthConfig, Provider};
use crate::shop::Shop;

/// Starts what the desktop and the daemon run on: the fakes (in sandbox mode proper, which is
/// `asked` for, `--sandbox`, or applies when no provider credentials are configured at all; see
/// [`Sandbox::wanted`]), the core on `config` pointed at them, then the simulated shop. Fails as
/// [`Core::start`] fails (the fakes started stop).
pub async fn launch(mut config: Config, asked: bool) -> anyhow::Result<Running> {
    let full = Sandbox::wanted(&config, asked);
    let sandbox = Sandbox::start(&mut config, full).await;
    let core = Core::start(config).await?;
    let shop = sandbox.start_shop(&core);
    Ok(Running { core, sandbox, shop })
}

/// The core started by [`launch`], with the fakes and the simulated shop it runs with. Stop it
/// with [`Running::shutdown`].
pub struct Running {
    core: Core,
    sandbox: Sandbox,
    shop: Option<Shop>,
}

impl Running {
    pub fn core(&self) -> &Core {
        &self.core
    }

    /// The fakes started (none outside sandbox mode proper).
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// Whether the simulated shop runs.
    pub fn shop_runs(&self) -> bool {
        self.shop.is_some()
    }

    /// Stops the simulated shop (payments not yet made are dropped), then the core, then the
    /// fakes.
    pub async fn shutdown(self) {
        if let Some(shop) = self.shop {
            shop.stop().await;
        }
        self.core.shutdown().await;
        drop(self.sandbox);
    }
}

/// The fakes started for this process. They serve for as long as it is kept (the sign-in fakes
/// stop when dropped).
pub struct Sandbox {
    pub baidu: Option<FakeBaidu>,
    pub alipay: Option<FakeAlipay>,
    pub oauth: Vec<FakeOAuth>,
    /// Sandbox mode proper: every provider is a fake.
    pub full: bool,
}

fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

impl Sandbox {
    /// Whether sandbox mode proper applies: asked for (`--sandbox`), or no provider credentials
    /// are configured at all (which is what a newcomer's zero configuration gives).
    pub fn wanted(config: &Config, asked: bool) -> bool {
        let oauth = &config.oauth;
        let any_sign_in = [&oauth.weibo, &oauth.qq, &oauth.wechat, &oauth.dingtalk].iter().any(|p| p.client.is_some())
            || oauth.oidc.is_some();
        asked || !(config.baidu_configured() || config.alipay_configured() || any_sign_in)
    }

    /// The providers `config` leaves absent (no credentials, no fake), each with the keys that
    /// configure it.
    pub fn absent(config: &Config) -> Vec<ProviderStatus> {
        config.providers().into_iter().filter(|p| p.state == ProviderState::Absent).collect()
    }

    /// In sandbox mode proper (`full`), starts a fake of every provider on loopback and points
    /// `config` at them; a fake that cannot start is logged and left out (that part then stays
    /// unconfigured and says so). Otherwise starts nothing and logs each provider left without
    /// credentials, and how to configure it.
    async fn start(config: &mut Config, full: bool) -> Sandbox {
        let mut sandbox = Sandbox { baidu: None, alipay: None, oauth: Vec::new(), full };
        if !full {
            log_absent(config);
            if config
                .alipay_public_key
                .as_deref()
                .is_some_and(|key| key_body(key) == key_body(SANDBOX_ALIPAY_PUBLIC_KEY))
            {
                tracing::error!(
                    "alipay_public_key is the built-in fake's, whose private half is published: anyone can sign \
                     a notify this instance accepts. Configure Alipay's real public key"
                );
            }
            return sandbox;
        }
        let fake = BaiduConfig::default();
        match FakeBaidu::start(loopback(), fake.clone()).await {
            Ok(baidu) => {
                config.use_sandbox_baidu(&baidu.base_url, &fake.api_key, &fake.secret_key);
                tracing::warn!(url = %baidu.base_url, "sandbox: OCR calls go to the built-in fake Baidu");
                sandbox.baidu = Some(baidu);
            }
            Err(e) => tracing::error!(error = %e, "cannot start the built-in fake Baidu; OCR stays unconfigured"),
        }
        let fake = FakeAlipayConfig::default();
        match FakeAlipay::start(loopback(), fake.clone()).await {
            Ok(alipay) => {
                config.use_sandbox_alipay(
                    &alipay.gateway_url,
                    &fake.app_id,
                    SANDBOX_APP_PRIVATE_KEY,
                    SANDBOX_ALIPAY_PUBLIC_KEY,
                );
                tracing::warn!(url = %alipay.gateway_url, "sandbox: payment queries go to the built-in fake Alipay");
                sandbox.alipay = Some(alipay);
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot start the built-in fake Alipay; order expiry stays unconfigured")
            }
        }
        for provider in Provider::ALL {
            let mut fake = FakeOAuthConfig::sandbox(provider);
            if let Some(base) = &config.sandbox_callback_base {
                // A daemon: sign-ins come back to it (desktops sign in through the server).
                fake.redirect_uri = format!("{base}/api/v1/auth/callback/{}", provider.key());
            }
            match FakeOAuth::start(loopback(), fake.clone()).await {
                Ok(server) => {
                    config.use_sandbox_oauth(
                        provider.key(),
                        &server.base_url,
                        OAuthClient {
                            client_id: fake.client_id.clone(),
                            client_secret: Some(fake.client_secret.clone().into()),
                            redirect_uri: fake.redirect_uri.clone(),
                        },
                    );
                    tracing::warn!(provider = provider.key(), url = %server.base_url, "sandbox: sign-in goes to the built-in fake");
                    sandbox.oauth.push(server);
                }
                Err(e) => {
                    tracing::error!(provider = provider.key(), error = %e, "cannot start a fake sign-in provider")
                }
            }
        }
        config.sandbox_mode = true;
        let configured = config.sources.get("order_expiry_seconds").is_some_and(|origin| origin != "default");
        if config.shop.enabled && !configured {
            config.order_expiry = config.shop.order_expiry;
            config.sources.insert("order_expiry_seconds", "sandbox".into());
        }
        tracing::warn!(
            shop = config.shop.enabled,
            order_expiry_s = config.order_expiry.as_secs(),
            "sandbox mode: every provider is a built-in fake"
        );
        sandbox
    }

    /// Starts the simulated shop, in sandbox mode proper when `sandbox_shop` is on (it pays
    /// through the fake Alipay, so it needs that one).
    fn start_shop(&self, core: &Core) -> Option<Shop> {
        // The buyers pay within the deadline the core applies (configured or the sandbox's).
        let settings = ShopSettings { order_expiry: core.config().order_expiry, ..core.config().shop.clone() };
        if !self.full || !settings.enabled {
            return None;
        }
        let alipay = self.alipay.clone()?;
        Some(Shop::start(core.clone(), alipay, settings))
    }
}

/// A key's base64 body, without its PEM lines and whitespace.
fn key_body(key: &str) -> String {
    key.lines()
        .filter(|line| !line.trim_start().starts_with("-----"))
        .flat_map(|line| line.split_whitespace())
        .collect()
}

/// One line per provider left without credentials outside sandbox mode: what is off and how to
/// configure it. Baidu and Alipay are warnings (the OCR queue waits; payments cannot be checked
/// and Alipay's notifies are refused); a sign-in provider is information (its button is absent).
fn log_absent(config: &Config) {
    for provider in Sandbox::absent(config) {
        let how = provider.how_to_configure();
        match provider.name {
            "baidu" => tracing::warn!(
                provider = provider.name,
                "Baidu OCR is not configured: OCR requests wait unanswered; {how}"
            ),
            "alipay" => tracing::warn!(
                provider = provider.name,
                "Alipay is not configured: payments cannot be checked or closed and Alipay's notifies are refused; {how}"
            ),
            "oidc" => tracing::info!(provider = provider.name, "OpenID Connect sign-in is not configured; {how}"),
            name => {
                tracing::info!(provider = name, "sign-in with {name} is not configured (no button, no fake); {how}")
            }
        }
    }
}
