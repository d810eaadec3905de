//! The daemon's HTTP API, driven in-process over real HTTP (the router bound to 127.0.0.1:0,
//! reqwest as the client) against a real core: SQLite in a temp dir, the test Redis under a
//! fresh key prefix, and the sandbox's fakes of Baidu, Alipay and Weibo/DingTalk.
//!
//! The README's test command starts Redis and sets `OPSDECK_TEST_REDIS_URL`; without it these
//! tests fail (they skip nothing).

mod console;
mod daemon;
mod errors;
mod events;
mod handoff;
mod intake_edges;
mod limits;
mod oauth;
mod ocr;
mod ocr_stream;
mod ops;
mod orders;
mod runs;
mod tls;

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use opsdeck_core::orders::model::{Goods, NewGoods};
use opsdeck_core::{Actor, Config, Core};
use opsdeck_sandbox::alipay::{FakeAlipay, FakeAlipayConfig, SANDBOX_ALIPAY_PUBLIC_KEY, SANDBOX_APP_PRIVATE_KEY};
use opsdeck_sandbox::baidu::{BaiduConfig, FakeBaidu};
use opsdeck_sandbox::oauth::{FakeOAuth, FakeOAuthConfig, Provider};
use opsdeckd::http::{ApiSettings, Server};
use secrecy::SecretString;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name no other test (in this or a parallel process) uses.
pub fn unique(stem: &str) -> String {
    format!("{stem}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// The Redis server the test command started.
pub fn redis_url() -> String {
    std::env::var("OPSDECK_TEST_REDIS_URL").unwrap_or_else(|_| {
        panic!(
            "OPSDECK_TEST_REDIS_URL is not set: run the README's test command (scripts/test.sh), which starts Redis and sets it"
        )
    })
}

pub fn toml_string(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A configuration file in `dir` holding `lines`, loaded through the real layers.
fn config_with(dir: &Path, lines: &[(&str, String)]) -> Config {
    let file = dir.join("config.toml");
    let body: String = lines.iter().map(|(key, value)| format!("{key} = {value}\n")).collect();
    std::fs::write(&file, body).unwrap();
    Config::from_layers(dir.to_path_buf(), Some(&file)).expect("valid test configuration")
}

#[path = "../common/poll.rs"]
mod poll;

/// Polls `check` until it answers Some, for at most 30 s; fails naming `what`.
pub async fn until<T, F: std::future::Future<Output = Option<T>>>(what: &str, check: impl FnMut() -> F) -> T {
    poll::until_within(what, Duration::from_secs(30), check).await
}

pub const TOKEN: &str = "test-token-0123456789abcdef";

/// A core with every fake, and the API serving it on a free port.
pub struct World {
    pub core: Core,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub http: reqwest::Client,
    pub alipay: FakeAlipay,
    pub weibo: FakeOAuth,
    pub dingtalk: FakeOAuth,
    server: Option<Server>,
    _dir: tempfile::TempDir,
}

impl World {
    pub async fn start() -> World {
        World::start_with(&[]).await
    }

    /// `extra` configuration lines replace or add to the defaults.
    pub async fn start_with(extra: &[(&'static str, String)]) -> World {
        World::start_with_api(extra, |_| {}).await
    }

    /// Like [`World::start_with`], with the API's settings changed by `api` (limits, timeouts).
    pub async fn start_with_api(extra: &[(&'static str, String)], api: impl FnOnce(&mut ApiSettings)) -> World {
        let dir = tempfile::tempdir().unwrap();
        let baidu_config = BaiduConfig { qps: 1000, latency: Duration::from_millis(5), ..BaiduConfig::default() };
        let baidu = FakeBaidu::start(([127, 0, 0, 1], 0).into(), baidu_config).await.unwrap();
        let alipay_config = FakeAlipayConfig { latency: Duration::ZERO, ..FakeAlipayConfig::default() };
        let alipay = FakeAlipay::start(([127, 0, 0, 1], 0).into(), alipay_config).await.unwrap();
        let mut weibo_config = FakeOAuthConfig::sandbox(Provider::Weibo);
        weibo_config.auto_approve = true;
        let weibo = FakeOAuth::start(([127, 0, 0, 1], 0).into(), weibo_config).await.unwrap();
        // Both DingTalk users share one mobile: the second to sign in matches the first's user.
        let mut dingtalk_config = FakeOAuthConfig::sandbox(Provider::Dingtalk);
        dingtalk_config.auto_approve = true;
        dingtalk_config.users[1].mobile = dingtalk_config.users[0].mobile.clone();
        let dingtalk = FakeOAuth::start(([127, 0, 0, 1], 0).into(), dingtalk_config).await.unwrap();
        let (w, d) = (weibo.config(), dingtalk.config());
        let mut lines: Vec<(&str, String)> = vec![
            ("data_dir", toml_string(&dir.path().display().to_string())),
            ("redis_url", toml_string(&redis_url())),
            ("redis_prefix", toml_string(&unique("http"))),
            ("health_interval_ms", "100".into()),
            ("scheduler_enabled", "false".into()),
            ("baidu_url", toml_string(&baidu.base_url)),
            ("baidu_api_key", toml_string("sandbox-api-key")),
            ("baidu_secret_key", toml_string("sandbox-secret-key")),
            ("ocr_qps", "100".into()),
            ("ocr_backoff_ms", "20".into()),
            ("alipay_gateway_url", toml_string(&alipay.gateway_url)),
            ("alipay_app_id", toml_string(&FakeAlipayConfig::default().app_id)),
            // PEM keys span lines: TOML's multi-line literal strings keep them as they are.
            ("alipay_private_key", format!("'''{SANDBOX_APP_PRIVATE_KEY}'''")),
            ("alipay_public_key", format!("'''{SANDBOX_ALIPAY_PUBLIC_KEY}'''")),
            ("weibo_url", toml_string(&weibo.base_url)),
            ("weibo_client_id", toml_string(&w.client_id)),
            ("weibo_client_secret", toml_string(&w.client_secret)),
            ("weibo_redirect_uri", toml_string(&w.redirect_uri)),
            ("dingtalk_login_url", toml_string(&dingtalk.base_url)),
            ("dingtalk_api_url", toml_string(&dingtalk.base_url)),
            ("dingtalk_client_id", toml_string(&d.client_id)),
            ("dingtalk_client_secret", toml_string(&d.client_secret)),
            ("dingtalk_redirect_uri", toml_string(&d.redirect_uri)),
        ];
        lines.retain(|(key, _)| !extra.iter().any(|(k, _)| k == key));
        lines.extend(extra.iter().cloned());
        let core = Core::start(config_with(dir.path(), &lines)).await.unwrap();
        let mut settings = ApiSettings::new(SecretString::from(TOKEN));
        api(&mut settings);
        let server = Server::start(([127, 0, 0, 1], 0).into(), core.clone(), settings).await.unwrap();
        let base = format!("http://{}", server.local_addr);
        World {
            core,
            base,
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            alipay,
            weibo,
            dingtalk,
            server: Some(server),
            _dir: dir,
        }
    }

    /// How many times `/metrics` read the figures from the database and Redis.
    pub fn metrics_reads(&self) -> u64 {
        self.server.as_ref().expect("serving").metrics_reads()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with the API token.
    pub fn authed(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(TOKEN)
    }

    pub async fn goods(&self, price_fen: i64, stock: i64) -> Goods {
        let goods = NewGoods { sku: unique("sku"), name: "Tea".into(), price_fen, stock };
        self.core.goods_create(goods, &Actor::system("tester")).await.unwrap()
    }

    /// Stops the server (waiting for requests in progress) and the core.
    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await.unwrap();
        }
        self.core.shutdown().await;
    }
}

/// A response's status and JSON body.
pub async fn json(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{status}: not JSON ({e}), content-type {content_type:?}: {text:?}"));
    assert!(content_type.starts_with("application/json"), "{status}: content-type {content_type:?}: {text}");
    (status, body)
}

/// Asserts the API's error shape: `{code, message}` with this status and code.
pub async fn expect_error(response: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    let (got, body) = json(response).await;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "a message: {body}");
    body
}
