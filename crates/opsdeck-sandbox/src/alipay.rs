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

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::sign::{Signer, Verifier};
use serde_json::Value;

/// The sandbox app's private key (PKCS#8 PEM, RSA 2048), for clients of the fake to sign with.
/// A sandbox key, not a secret.
pub const SANDBOX_APP_PRIVATE_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIIEuwIBADANBgkqhkiG9w0BAQEFAASCBKUwggShAgEAAoIBAQCXq1isHZLGgBkl
CXhC8ydM8c81stx+Ks1aOXHeRyk62MPebEqRTZoXyE6MbeZroqhFhQkwPJrhwwpB
i3Rp3wbzr0WUtvTPpvEXh6uMLItK4xbFH00TQYX2YclcHyCmtipLOJAMDfCChpNZ
vnlbBKiq9PFXqh5QZ7pqQQVUGHaBhNqYBI64YZ7e0sT9UYmYhEI+4Py37nHmEVYq
S+INHZAN9tpejRrRMG5qzno2ZkknmEiY4clszW6lYaboYYMEldnfXqzusYz/8unz
Eo6gT0dNY4oBiI559HY7xkC3tn/+nwEpiVlB7rCdpD03vguauT4A8WAGR/5J8d82
iJHU9pahAgMBAAECgf8rd9P6YjzsMrZv3qkBq66I2D/BnXkmZpxWM81pvZedbDYx
uTgJjh5/b+4WgxkULdt2o31WxSxmAsrotPl+vrREWBpHmoup4IbEDhJxLG2hj331
e/DLSTZZIpLhWr4Ci02J07fSIFspUATGijKkvSPIlYV+iC13w0YcuWSdWg8Nxi8M
0GuZAZDm8IUb8dqqsL7JlRzqjeKpiqbGrD8AVVxXsTI1MDClc0eMVHMqbxZxxdtw
oBGcP1+eFcoPrKi3VqGlQeRxwG6+0cyexJodb5jYMIa5IwkuvnGsl9F6/XhRX/jh
RZjjCfPsoo6Srscazk3zJNJEGHc8vF2ThDsWUmkCgYEA1L3xqTx4gKqIoBhM7Er0
+z5ii1avPgVY9t1Kf7cTlpkOs1LyIRf3Ek1Emi6UnaEuACFuWh/6EO+lVhB4LOaD
obkVy3i8YnRkZwSFwxlgQI45m7CZEhGUzHeUh99Pk3m46oLRCQbP98LMdULKpgpj
MyzCN8MqFQGWyvGHomlCMjUCgYEAtoJUujj3kXxGFq1tjZkOMOAhFOYoZk3i7/d6
HPzPgLF3JBv1kw2ym0PyDuw+Q4Yhoo4xEKIcztpyu/PzgtawMZb7lERs87P6/sfd
1W2+KdC+DzOAYQilevLOVHffYdlt1VNrini/ZcOyx53KujQxfxKl8+wWTjaXgkpD
hG+CID0CgYAaHk/DBUeOFGG9tf4LrJAzIE+c58GQDbwEYtq4n1NqU9Q4M+DCK10M
BCx9+WYJjDZHkdMogXCED8furwryCEL04fJJDsOiGsQQ2b9KWp00j8GG2cGRNFNe
Xvf/Tm1In9MSB4l+YDW8J1BOvSqABBp1t/MIQY+zEITg2ZJbYCzeWQKBgCmz6CZR
JAijS+Scpj7HrV1vqT98Q9j0jRlmBAohnkx6wI2IsflzFM+zm9jbFHMbcA4TzZRO
ZqTBd5wI5yiLY+FA7aV4aSjahEy5YLAHDn/BidwxWXFSp3VLi+fzKCDUrOskz5rp
clqPeAdyv8MCcBjoKvFsjcA7ay1DSOA3FpXFAoGBAKJD3YkzgzxiiZl5/y4b9Awo
m7ABnuua/oW2RUR4PQrLrmYZo1La5V4pMwN9qmowsWxpn69AYh/bysZAdAEw2pA8
a0VXHRI49OvQYVOnPKfGV/8vnzvzmS85s0ekPFa4GL52ngcXcU0lEE5gw7YLyPZN
8ot0HWpGUUQAmztjypAH
-----END PRIVATE KEY-----
";

/// The sandbox app's public key (SPKI PEM): the fake verifies requests with it.
pub const SANDBOX_APP_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAl6tYrB2SxoAZJQl4QvMn
TPHPNbLcfirNWjlx3kcpOtjD3mxKkU2aF8hOjG3ma6KoRYUJMDya4cMKQYt0ad8G
869FlLb0z6bxF4erjCyLSuMWxR9NE0GF9mHJXB8gprYqSziQDA3wgoaTWb55WwSo
qvTxV6oeUGe6akEFVBh2gYTamASOuGGe3tLE/VGJmIRCPuD8t+5x5hFWKkviDR2Q
DfbaXo0a0TBuas56NmZJJ5hImOHJbM1upWGm6GGDBJXZ316s7rGM//Lp8xKOoE9H
TWOKAYiOefR2O8ZAt7Z//p8BKYlZQe6wnaQ9N74Lmrk+APFgBkf+SfHfNoiR1PaW
oQIDAQAB
-----END PUBLIC KEY-----
";

/// The fake Alipay's public key (SPKI PEM), for clients to verify its answers and notifies.
pub const SANDBOX_ALIPAY_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEArG6x47f1lLh7R/EsrIXb
CDxUrbDBq+VBa9cz9TYuLxsyst/LQ5a4mixDJrZj0evDgktqKyOylGQdPGPhJebY
fIk2X+B6gO9QfhTieSRVJFe07xMfmE18FRPCmJd4ZvpDVWuM1PGZesK9hoXc5h/R
I19EXeABn+wr0mpEmYU/3aF5bx2XAnV8tnpC/zX4g50Lin8vejAkRMMalir6VPie
bUEWHhsPhDcS42zbEZ/dPuZLzK1ocJlDtpz9fL4fFgEfhFIOooxGjgK+hVYhPaoq
suMOqwCzjb/f6JPcLlufvhI1VvE2KuLxVYX+/JOhUSBrdoBbSQLAvw/U0tbE0Wsw
SwIDAQAB
-----END PUBLIC KEY-----
";

/// The fake Alipay's private key (PKCS#8 PEM): it signs answers and notifies.
const SANDBOX_ALIPAY_PRIVATE_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCsbrHjt/WUuHtH
8SyshdsIPFStsMGr5UFr1zP1Ni4vGzKy38tDlriaLEMmtmPR68OCS2orI7KUZB08
Y+El5th8iTZf4HqA71B+FOJ5JFUkV7TvEx+YTXwVE8KYl3hm+kNVa4zU8Zl6wr2G
hdzmH9EjX0Rd4AGf7CvSakSZhT/doXlvHZcCdXy2ekL/NfiDnQuKfy96MCREwxqW
KvpU+J5tQRYeGw+ENxLjbNsRn90+5kvMrWhwmUO2nP18vh8WAR+EUg6ijEaOAr6F
ViE9qiqy4w6rALONv9/ok9wuW5++EjVW8TYq4vFVhf78k6FRIGt2gFtJAsC/D9TS
1sTRazBLAgMBAAECggEAEoYnzSdnlg0FjXJ+0p/kqmtUy34IKE/OKegqGEc0SfI5
jZbWLtIjzchAhImmipgx3i783lqM5j0lGOY/+0Lj8ekJst4aOvy6oHjc5Ze+H9Pe
R6q9w65bTKZdSuhG0oVDM4uEyyGTU+lU0/1QgFZdsNecsBsPAZ+tC4NIEFgMxuHT
N9xhNwmbEIEhv/ID4qKgdIo/+cE+Q8PArChmfI17eKmSiiGuiX0Hl9FBVer0gTmP
EZp1+M25wXl+IMJvV8X+U74C+YukHK0GARf4iX+MT4uRAqw2sIdhhRqsy/nTKatq
rwpYL1DATYW22PY5EXDbJ2qKmQJQJVjUpNxRKaG5PQKBgQDh0Q7Mv7zF88h4cPHQ
OXLLntY+qUXkUgnmKwUFngEoPWYsoNnlPI5TfAe4bP0srGQUzrBB9GkIC+PicJcF
Z6F2NSnMrxfPAqPkcw16pRGasXtLD6S4Q2XHKYU3Qslgj9TlFUJ3Bpo3PlML43Vr
ureNfFQ1uqmhQCCjATQaVtMjJQKBgQDDevKW3gavvSRtqynkhoF6AFLfnfvBxmYR
R2Jv8aw2KwR7zHosVABWpzt/EQ24p/WYj6Zx1XKW/6Khe7lugQBDtTXd8BZb3LSM
XRRSjHLBBEztd8pAYsQNDokOq7wqgnLll81/+g2U1CqzS9bQNPuiklFz4DyJoMBA
uE+1FHpirwKBgDGt3oWpAQzDryzgHDLlEJ4/WX77moa6jbb3a+lqc3K430ueL5HB
Gsa/GKu4PpKfcn0pY5l+/cRpaT8d6fukat8onwOK2cAPIqNVtHdw7UiNF0TSMjjf
ivqf5dDcfpUhz4J+hNrOtwrESVzqM6D5uPwFiDkx0bPJ+eQilaXdyCGJAoGAQjkS
md2ZskuHXcfQp2SR1Hzrlmn08g5+YXgndvkOeENWf4IkGYRToQeCdmeWmGn+H7L6
ljHTYig0NjSt+yukpUtsdkVxrak1WR/nVJfUAGOuk/wy/mD3Pd0gvWGcm2IZ/oHQ
0nwpwbOmy5rzqRFp9gdPpMvgdleJCePmzNelJm0CgYBBbAmCHj5COGOHu+hgLAum
XIL5NJdQzFviNaV2KfGrpR443hu5UCoJwabtTbM2SXqDytwNnMXQXtFGSL3wMIzg
wrrR6lSYMbxS7O5UslnD6RNTJXr02BgOF9St4dJY8hkHuht/Anw46+rYoiLs4qJ1
2nYp5gXcep7QeBAI4ZmIgQ==
-----END PRIVATE KEY-----
";

/// The sandbox shop's Alipay account, named in the fake's notifies.
pub const SANDBOX_SELLER_ID: &str = "2088101117955611";

/// How far a request's `timestamp` may be from the fake's clock.
const TIMESTAMP_WINDOW: Duration = Duration::from_secs(15 * 60);
const QUERY: &str = "alipay.trade.query";
const CLOSE: &str = "alipay.trade.close";

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

/// What an order answers from now on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `TRADE_SUCCESS` with this amount (`"12.50"`); close answers `ACQ.TRADE_STATUS_ERROR`.
    Paid { total_amount: String },
    /// `TRADE_FINISHED` (paid, past the refund window); close answers `ACQ.TRADE_STATUS_ERROR`.
    Finished { total_amount: String },
    /// `WAIT_BUYER_PAY`; close closes it.
    Waiting,
    /// `ACQ.TRADE_NOT_EXIST` to query and close (the default for an order never set).
    NotExist,
    /// The next `times` calls about the order answer `ACQ.SYSTEM_ERROR`; then it answers as it
    /// did before (its state is kept).
    SystemError { times: u32 },
    /// `TRADE_CLOSED`; close answers `ACQ.TRADE_STATUS_ERROR`.
    Closed,
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

#[derive(Debug, Clone)]
enum TradeState {
    NotExist,
    Waiting,
    Paid { total_amount: String, paid_at: String },
    Finished { total_amount: String, paid_at: String },
    Closed,
}

struct Trade {
    state: TradeState,
    system_errors: u32,
    /// The absolute `time_expire` it was created with: waiting past it, Alipay closes it.
    time_expire: Option<DateTime<FixedOffset>>,
}

impl Trade {
    fn new() -> Trade {
        Trade { state: TradeState::NotExist, system_errors: 0, time_expire: None }
    }

    /// Alipay closes a trade still waiting at its `time_expire`.
    fn lapse(&mut self) {
        if matches!(self.state, TradeState::Waiting) && self.time_expire.is_some_and(|at| Utc::now() >= at) {
            self.state = TradeState::Closed;
        }
    }
}

#[derive(Default)]
struct Inner {
    trades: HashMap<String, Trade>,
    calls: Vec<AlipayCall>,
    notifies: u64,
}

/// RSA2 (SHA256withRSA, PKCS#1 v1.5) by OpenSSL, as the client does.
struct Keys {
    app: PKey<Public>,
    alipay: PKey<Private>,
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

    fn sign(&self, content: &str) -> String {
        let signature = Signer::new(MessageDigest::sha256(), &self.keys.alipay)
            .and_then(|mut signer| {
                signer.update(content.as_bytes())?;
                signer.sign_to_vec()
            })
            .expect("the sandbox's own key signs");
        STANDARD.encode(signature)
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
        let router = Router::new().route("/gateway.do", post(gateway)).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let gateway_url = format!("http://{}/gateway.do", listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(FakeAlipay { gateway_url, shared })
    }

    /// What `out_trade_no` answers from now on.
    pub fn set(&self, out_trade_no: &str, outcome: Outcome) {
        let mut inner = self.shared.lock();
        let trade = inner.trades.entry(out_trade_no.to_string()).or_insert_with(Trade::new);
        trade.state = match outcome {
            Outcome::SystemError { times } => {
                trade.system_errors = times;
                return;
            }
            Outcome::Paid { total_amount } => TradeState::Paid { total_amount, paid_at: now_gmt8() },
            Outcome::Finished { total_amount } => TradeState::Finished { total_amount, paid_at: now_gmt8() },
            Outcome::Waiting => TradeState::Waiting,
            Outcome::NotExist => TradeState::NotExist,
            Outcome::Closed => TradeState::Closed,
        };
    }

    /// The shop created the trade with an absolute `time_expire` (`yyyy-MM-dd HH:mm:ss`, GMT+8)
    /// and the buyer opened its payment page: it waits for payment until then, and is closed
    /// after (as Alipay does). An unreadable `time_expire` is refused, as Alipay refuses it.
    pub fn open_trade(&self, out_trade_no: &str, time_expire: &str) -> Result<(), String> {
        let local = NaiveDateTime::parse_from_str(time_expire, "%Y-%m-%d %H:%M:%S")
            .map_err(|e| format!("time_expire {time_expire:?}: {e}"))?;
        let at = gmt8().from_local_datetime(&local).single().ok_or("time_expire: no such time in GMT+8")?;
        let mut inner = self.shared.lock();
        let trade = inner.trades.entry(out_trade_no.to_string()).or_insert_with(Trade::new);
        trade.state = TradeState::Waiting;
        trade.time_expire = Some(at);
        Ok(())
    }

    /// The buyer paid: `set(out_trade_no, Outcome::Paid { total_amount })`, unless the trade was
    /// opened with a `time_expire` that has passed (Alipay closed it: the buyer cannot pay);
    /// whether the payment went through.
    pub fn pay(&self, out_trade_no: &str, total_amount: &str) -> bool {
        {
            let mut inner = self.shared.lock();
            if let Some(trade) = inner.trades.get_mut(out_trade_no) {
                trade.lapse();
                if trade.time_expire.is_some() && matches!(trade.state, TradeState::Closed) {
                    return false;
                }
            }
        }
        self.set(out_trade_no, Outcome::Paid { total_amount: total_amount.to_string() });
        true
    }

    /// Every gateway request so far, in arrival order.
    pub fn calls(&self) -> Vec<AlipayCall> {
        self.shared.lock().calls.clone()
    }

    /// The form Alipay would POST to the notify URL about this trade (values not URL-encoded),
    /// signed as Alipay documents (docs/providers.md §3: every non-empty parameter but `sign` and
    /// `sign_type`, sorted).
    /// Each call has a new `notify_id`. It does not change what the order answers: `pay` first
    /// for a consistent picture.
    pub fn signed_notify(&self, out_trade_no: &str, total_amount: &str, trade_status: &str) -> Vec<(String, String)> {
        let serial = {
            let mut inner = self.shared.lock();
            inner.notifies += 1;
            inner.notifies
        };
        let now = now_gmt8();
        // Unique like Alipay's: the fake's own serial, and a process-wide one for several fakes.
        static NOTIFIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let global = NOTIFIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let notify_id = format!("{:032x}", fnv(&format!("{out_trade_no}/{serial}/{global}/{now}/{trade_status}")));
        let mut form: Vec<(String, String)> = [
            ("notify_time", now.as_str()),
            ("notify_type", "trade_status_sync"),
            ("notify_id", &notify_id),
            ("app_id", &self.shared.config.app_id),
            ("charset", "utf-8"),
            ("version", "1.0"),
            ("sign_type", "RSA2"),
            ("trade_no", &trade_no_of(out_trade_no)),
            ("out_trade_no", out_trade_no),
            ("buyer_id", "2088102177846880"),
            ("seller_id", &self.shared.config.seller_id),
            ("trade_status", trade_status),
            ("total_amount", total_amount),
            ("receipt_amount", total_amount),
            ("gmt_create", &now),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        match trade_status {
            "TRADE_SUCCESS" | "TRADE_FINISHED" => form.push(("gmt_payment".into(), now.clone())),
            "TRADE_CLOSED" => form.push(("gmt_close".into(), now.clone())),
            _ => {}
        }
        let signed: BTreeMap<&str, &str> = form
            .iter()
            .filter(|(k, v)| k != "sign" && k != "sign_type" && !v.is_empty())
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let content: Vec<String> = signed.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let sign = self.shared.sign(&content.join("&"));
        form.push(("sign".into(), sign));
        form
    }
}

/// Alipay's trade number for an order: 28 digits, the same every time.
fn trade_no_of(out_trade_no: &str) -> String {
    format!("2026{:024}", fnv(out_trade_no) % 10u128.pow(24))
}

fn fnv(text: &str) -> u128 {
    // FNV-1a, 128-bit: deterministic across runs and platforms (std's hasher is not).
    let mut hash: u128 = 0x6c62272e07bb014262b821756295c58d;
    for byte in text.bytes() {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(0x0000000001000000000000000000013B);
    }
    hash
}

fn gmt8() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("GMT+8 is a valid offset")
}

fn now_gmt8() -> String {
    Utc::now().with_timezone(&gmt8()).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A JSON object with its keys in the given order (Alipay's order, not sorted: a client that
/// re-serializes what it received instead of verifying the text as sent fails).
fn object(fields: &[(&str, Option<&str>)]) -> String {
    let members: Vec<String> = fields
        .iter()
        .filter_map(|(key, value)| value.map(|v| format!("{}:{}", Value::from(*key), Value::from(v))))
        .collect();
    format!("{{{}}}", members.join(","))
}

/// An answer: the key it goes under (`<method>_response` or `error_response`), its text,
/// whether it is signed, and its code and sub_code for the call log.
struct Reply {
    key: String,
    text: String,
    signed: bool,
    code: String,
    sub_code: Option<String>,
}

impl Reply {
    fn gateway_error(code: &str, msg: &str, sub_code: &str, sub_msg: &str, signed: bool) -> Reply {
        let fields =
            [("code", Some(code)), ("msg", Some(msg)), ("sub_code", Some(sub_code)), ("sub_msg", Some(sub_msg))];
        Reply {
            key: "error_response".into(),
            text: object(&fields),
            signed,
            code: code.into(),
            sub_code: Some(sub_code.into()),
        }
    }

    fn missing(sub_code: &str, sub_msg: &str) -> Reply {
        Reply::gateway_error("40001", "Missing Required Arguments", sub_code, sub_msg, true)
    }

    fn invalid(sub_code: &str, sub_msg: &str) -> Reply {
        Reply::gateway_error("40002", "Invalid Arguments", sub_code, sub_msg, true)
    }

    fn business(method: &str, fields: &[(&str, Option<&str>)]) -> Reply {
        let get = |name: &str| fields.iter().find(|(k, _)| *k == name).and_then(|(_, v)| *v);
        Reply {
            key: format!("{}_response", method.replace('.', "_")),
            text: object(fields),
            signed: true,
            code: get("code").unwrap_or_default().to_string(),
            sub_code: get("sub_code").map(str::to_string),
        }
    }

    fn failed(method: &str, out_trade_no: &str, sub_code: &str, sub_msg: &str) -> Reply {
        Reply::business(
            method,
            &[
                ("code", Some("40004")),
                ("msg", Some("Business Failed")),
                ("sub_code", Some(sub_code)),
                ("sub_msg", Some(sub_msg)),
                ("out_trade_no", Some(out_trade_no).filter(|o| !o.is_empty())),
            ],
        )
    }

    fn into_response(self, shared: &Shared) -> Response {
        let body = if self.signed {
            let sign = shared.sign(&self.text);
            format!("{{{}:{},\"sign\":{}}}", Value::from(self.key), self.text, Value::from(sign))
        } else {
            format!("{{{}:{}}}", Value::from(self.key), self.text)
        };
        ([(header::CONTENT_TYPE, "application/json;charset=utf-8")], body).into_response()
    }
}

async fn gateway(State(shared): State<Shared>, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let at = SystemTime::now();
    let mut params: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
    params.extend(url::form_urlencoded::parse(&body).into_owned());
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let biz: Value = serde_json::from_str(&param("biz_content")).unwrap_or(Value::Null);
    let out_trade_no = biz.get("out_trade_no").and_then(Value::as_str).unwrap_or_default().to_string();
    let reply = answer(&shared, &params, &biz);
    shared.lock().calls.push(AlipayCall {
        at,
        method: param("method"),
        out_trade_no,
        code: reply.code.clone(),
        sub_code: reply.sub_code.clone(),
    });
    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
    reply.into_response(&shared)
}

/// The gateway's checks, then the method's answer.
fn answer(shared: &Shared, params: &[(String, String)], biz: &Value) -> Reply {
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty());
    let Some(app_id) = param("app_id") else {
        return Reply::gateway_error(
            "40001",
            "Missing Required Arguments",
            "isv.missing-app-id",
            "缺少AppID参数",
            false,
        );
    };
    if app_id != shared.config.app_id {
        return Reply::gateway_error("40002", "Invalid Arguments", "isv.invalid-app-id", "无效的AppID参数", false);
    }
    let Some(method) = param("method") else {
        return Reply::missing("isv.missing-method", "缺少方法名参数");
    };
    if method != QUERY && method != CLOSE {
        return Reply::invalid("isv.invalid-method", "不存在的方法名");
    }
    match param("sign_type") {
        None => return Reply::missing("isv.missing-signature-type", "缺少签名类型参数"),
        Some("RSA2") => {}
        Some(_) => return Reply::invalid("isv.invalid-signature-type", "无效的签名类型参数"),
    }
    let Some(sign) = param("sign") else {
        return Reply::missing("isv.missing-signature", "缺少签名参数");
    };
    if !request_signature_verifies(shared, params, sign) {
        return Reply::invalid("isv.invalid-signature", "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配");
    }
    match param("charset") {
        Some(charset) if charset.eq_ignore_ascii_case("utf-8") => {}
        _ => return Reply::invalid("isv.invalid-charset", "字符集错误"),
    }
    if param("version") != Some("1.0") {
        return Reply::invalid("isv.invalid-version", "无效的版本号参数");
    }
    if param("format").is_some_and(|f| !f.eq_ignore_ascii_case("JSON")) {
        return Reply::invalid("isv.invalid-format", "无效的数据格式参数");
    }
    let Some(timestamp) = param("timestamp") else {
        return Reply::missing("isv.missing-timestamp", "缺少时间戳参数");
    };
    if !timestamp_is_fresh(timestamp) {
        return Reply::invalid("isv.invalid-timestamp", "非法的时间戳参数");
    }
    if !biz.is_object() {
        return Reply::invalid("isv.invalid-parameter", "biz_content不是JSON对象");
    }
    business(shared, method, biz)
}

fn request_signature_verifies(shared: &Shared, params: &[(String, String)], sign: &str) -> bool {
    let signed: BTreeMap<&str, &str> =
        params.iter().filter(|(k, v)| k != "sign" && !v.is_empty()).map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let content: Vec<String> = signed.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let Ok(signature) = STANDARD.decode(sign) else { return false };
    Verifier::new(MessageDigest::sha256(), &shared.keys.app)
        .and_then(|mut verifier| {
            verifier.update(content.join("&").as_bytes())?;
            verifier.verify(&signature)
        })
        .unwrap_or(false)
}

fn timestamp_is_fresh(timestamp: &str) -> bool {
    let Ok(local) = NaiveDateTime::parse_from_str(timestamp, "%Y-%m-%d %H:%M:%S") else { return false };
    let Some(at) = gmt8().from_local_datetime(&local).single() else { return false };
    let skew = (Utc::now() - at.with_timezone(&Utc)).abs();
    skew.to_std().is_ok_and(|skew| skew <= TIMESTAMP_WINDOW)
}

fn business(shared: &Shared, method: &str, biz: &Value) -> Reply {
    let mut inner = shared.lock();
    let by_out = biz.get("out_trade_no").and_then(Value::as_str).filter(|o| !o.is_empty());
    let by_trade_no = biz.get("trade_no").and_then(Value::as_str).filter(|t| !t.is_empty());
    let out_trade_no = match (by_out, by_trade_no) {
        (Some(out), _) => out.to_string(),
        (None, Some(trade_no)) => match inner.trades.keys().find(|out| trade_no_of(out) == trade_no) {
            Some(out) => out.clone(),
            None => return Reply::failed(method, "", "ACQ.TRADE_NOT_EXIST", "交易不存在"),
        },
        (None, None) => return Reply::failed(method, "", "ACQ.INVALID_PARAMETER", "参数无效"),
    };
    let Some(trade) = inner.trades.get_mut(&out_trade_no) else {
        return Reply::failed(method, &out_trade_no, "ACQ.TRADE_NOT_EXIST", "交易不存在");
    };
    trade.lapse();
    if trade.system_errors > 0 {
        trade.system_errors -= 1;
        return Reply::failed(method, &out_trade_no, "ACQ.SYSTEM_ERROR", "系统错误");
    }
    let trade_no = trade_no_of(&out_trade_no);
    if method == CLOSE {
        return match trade.state {
            TradeState::NotExist => Reply::failed(method, &out_trade_no, "ACQ.TRADE_NOT_EXIST", "交易不存在"),
            TradeState::Waiting => {
                trade.state = TradeState::Closed;
                Reply::business(
                    method,
                    &[
                        ("code", Some("10000")),
                        ("msg", Some("Success")),
                        ("trade_no", Some(&trade_no)),
                        ("out_trade_no", Some(&out_trade_no)),
                    ],
                )
            }
            _ => Reply::failed(method, &out_trade_no, "ACQ.TRADE_STATUS_ERROR", "交易状态不合法"),
        };
    }
    let (status, amount, paid_at) = match &trade.state {
        TradeState::NotExist => return Reply::failed(method, &out_trade_no, "ACQ.TRADE_NOT_EXIST", "交易不存在"),
        TradeState::Waiting => ("WAIT_BUYER_PAY", None, None),
        TradeState::Closed => ("TRADE_CLOSED", None, None),
        TradeState::Paid { total_amount, paid_at } => {
            ("TRADE_SUCCESS", Some(total_amount.as_str()), Some(paid_at.as_str()))
        }
        TradeState::Finished { total_amount, paid_at } => {
            ("TRADE_FINISHED", Some(total_amount.as_str()), Some(paid_at.as_str()))
        }
    };
    Reply::business(
        method,
        &[
            ("code", Some("10000")),
            ("msg", Some("Success")),
            ("trade_no", Some(&trade_no)),
            ("out_trade_no", Some(&out_trade_no)),
            ("buyer_logon_id", Some("159****5620")),
            ("trade_status", Some(status)),
            ("total_amount", amount),
            ("buyer_pay_amount", amount),
            ("invoice_amount", amount),
            ("receipt_amount", amount),
            ("send_pay_date", paid_at),
            ("buyer_user_id", Some("2088102177846880")),
        ],
    )
}
