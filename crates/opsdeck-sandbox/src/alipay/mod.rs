//! A fake Alipay open-API gateway: `POST /gateway.do` answering `alipay.trade.query` and
//! `alipay.trade.close`, and the async notifies Alipay would POST, signed.
//!
//! It holds fixed sandbox key pairs (below): it verifies requests with the app's public key and
//! signs answers and notifies with its own private key, over the exact text it sends. Its
//! signing is written apart from the core's client, so that neither can hide the other's mistake.
//! Both private keys are published here: anyone can sign as this fake, so OpsDeck starts it only
//! in sandbox mode proper and then refuses every notify from outside (`Core::alipay_notify`).
//!
//! What each order answers is scripted with [`FakeAlipay::set`]; an order never set does not
//! exist (`ACQ.TRADE_NOT_EXIST`). Gateway checks, each an `error_response`: `app_id` (unknown:
//! 40002 `isv.invalid-app-id`, unsigned), `method`, `sign_type` (RSA2 only), `sign` (40002
//! `isv.invalid-signature`), `charset` (utf-8 only), `version`, `format`, and `timestamp`
//! (GMT+8, refused when more than 15 minutes from the fake's clock: a client in UTC is 8 h off).
//! Parameters are read from the query string and the form body alike (Alipay's own SDK puts the
//! common ones in the query string).
//!
//! - [`keys`]: the sandbox key pairs, the fake's signature and the check of a request's.
//! - [`trades`]: the trade book (what each order answers, as scripted) and its answers.
//! - [`gateway`]: `POST /gateway.do`: the gateway's checks and the answer's shape.
//! - [`notify`]: the signed notifies Alipay would POST.

mod gateway;
mod keys;
mod notify;
mod trades;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::routing::post;
use openssl::pkey::PKey;

use keys::{Keys, SANDBOX_ALIPAY_PRIVATE_KEY};
use trades::Trade;

pub use keys::{SANDBOX_ALIPAY_PUBLIC_KEY, SANDBOX_APP_PRIVATE_KEY, SANDBOX_APP_PUBLIC_KEY, SANDBOX_SELLER_ID};
pub use trades::Outcome;

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeAlipayConfig {
    /// The one app it knows.
    pub app_id: String,
    /// The seller its notifies name ([`SANDBOX_SELLER_ID`] unless a test wants another).
    pub seller_id: String,
    /// Added before each answer.
    pub latency: Duration,
}

impl Default for FakeAlipayConfig {
    fn default() -> FakeAlipayConfig {
        FakeAlipayConfig {
            app_id: "2021000000000001".into(),
            seller_id: SANDBOX_SELLER_ID.into(),
            latency: Duration::from_millis(20),
        }
    }
}

/// One gateway request as it arrived, with what it was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlipayCall {
    pub at: SystemTime,
    /// The `method` parameter (empty when missing).
    pub method: String,
    /// From `biz_content` (empty when missing).
    pub out_trade_no: String,
    /// The answer's `code` (`10000` for success).
    pub code: String,
    pub sub_code: Option<String>,
}

#[derive(Default)]
struct Inner {
    trades: HashMap<String, Trade>,
    calls: Vec<AlipayCall>,
    notifies: u64,
}

#[derive(Clone)]
struct Shared {
    config: FakeAlipayConfig,
    keys: Arc<Keys>,
    inner: Arc<Mutex<Inner>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running fake; dropping it does not stop the server (it lives as long as the runtime).
#[derive(Clone)]
pub struct FakeAlipay {
    /// `http://127.0.0.1:PORT/gateway.do`
    pub gateway_url: String,
    shared: Shared,
}

impl FakeAlipay {
    /// Serves on `addr` (port 0 for any free port).
    pub async fn start(addr: SocketAddr, config: FakeAlipayConfig) -> std::io::Result<FakeAlipay> {
        let app = PKey::public_key_from_pem(SANDBOX_APP_PUBLIC_KEY.as_bytes()).map_err(std::io::Error::other)?;
        let alipay =
            PKey::private_key_from_pem(SANDBOX_ALIPAY_PRIVATE_KEY.as_bytes()).map_err(std::io::Error::other)?;
        let keys = Keys { app, alipay };
        let shared = Shared { config, keys: Arc::new(keys), inner: Arc::new(Mutex::new(Inner::default())) };
        let router = Router::new().route("/gateway.do", post(gateway::gateway)).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let gateway_url = format!("http://{}/gateway.do", listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(FakeAlipay { gateway_url, shared })
    }

    /// Every gateway request so far, in arrival order.
    pub fn calls(&self) -> Vec<AlipayCall> {
        self.shared.lock().calls.clone()
    }
}
