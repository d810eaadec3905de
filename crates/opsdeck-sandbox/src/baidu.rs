//! A fake Baidu OCR: `GET|POST /oauth/2.0/token` and `POST /rest/2.0/ocr/v1/idcard`.
//!
//! Faults can be scripted through the image URL's query: `?fail=282000&times=2` answers error
//! 282000 to the first two calls for that URL, then recognises it; `?fail=216633` always fails.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use serde_json::{Value, json};

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct BaiduConfig {
    pub api_key: String,
    pub secret_key: String,
    /// Calls per second it accepts before answering 18.
    pub qps: u32,
    /// Calls per day (Asia/Shanghai) it accepts before answering 17.
    pub daily_quota: u64,
    /// Added before each idcard answer.
    pub latency: Duration,
    /// Lifetime of the tokens it issues (30 days, like the real one).
    pub token_ttl: Duration,
}

impl Default for BaiduConfig {
    fn default() -> BaiduConfig {
        BaiduConfig {
            api_key: "sandbox-api-key".into(),
            secret_key: "sandbox-secret-key".into(),
            qps: 10,
            daily_quota: 50_000,
            latency: Duration::from_millis(20),
            token_ttl: Duration::from_secs(2_592_000),
        }
    }
}

/// One idcard call as it arrived.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub at: SystemTime,
    pub url: Option<String>,
    /// The error code answered, if any.
    pub error_code: Option<i64>,
}

#[derive(Default)]
struct Inner {
    tokens: HashMap<String, Instant>,
    revoked: Vec<String>,
    accepted: Vec<Instant>,
    day_count: u64,
    failures: HashMap<String, u32>,
    arrivals: Vec<Arrival>,
    token_calls: u32,
}

#[derive(Clone)]
struct Shared {
    config: BaiduConfig,
    inner: Arc<Mutex<Inner>>,
}

/// A running fake; dropping it does not stop the server (it lives as long as the runtime).
#[derive(Clone)]
pub struct FakeBaidu {
    pub base_url: String,
    shared: Shared,
}

impl FakeBaidu {
    /// Serves on `addr` (port 0 for any free port).
    pub async fn start(addr: SocketAddr, config: BaiduConfig) -> std::io::Result<FakeBaidu> {
        let shared = Shared { config, inner: Arc::new(Mutex::new(Inner::default())) };
        let app = Router::new()
            .route("/oauth/2.0/token", get(token_query).post(token_form))
            .route("/rest/2.0/ocr/v1/idcard", post(idcard))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeBaidu { base_url, shared })
    }

    /// Every idcard call so far, in arrival order.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.lock().arrivals.clone()
    }

    /// How many tokens were issued.
    pub fn token_calls(&self) -> u32 {
        self.lock().token_calls
    }

    /// Every issued token now answers 111 (expired).
    pub fn expire_tokens(&self) {
        let past = Instant::now() - Duration::from_secs(1);
        for expiry in self.lock().tokens.values_mut() {
            *expiry = past;
        }
    }

    /// Every issued token now answers 110 (invalid).
    pub fn revoke_tokens(&self) {
        let mut inner = self.lock();
        let tokens: Vec<String> = inner.tokens.drain().map(|(t, _)| t).collect();
        inner.revoked.extend(tokens);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn issue_token(shared: &Shared, params: &HashMap<String, String>) -> Response {
    let config = &shared.config;
    let ok = params.get("grant_type").map(String::as_str) == Some("client_credentials")
        && params.get("client_id") == Some(&config.api_key)
        && params.get("client_secret") == Some(&config.secret_key);
    if !ok {
        let body = json!({ "error": "invalid_client", "error_description": "unknown client id" });
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let mut inner = shared.inner.lock().unwrap_or_else(|e| e.into_inner());
    inner.token_calls += 1;
    let issued = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs();
    let ttl = config.token_ttl.as_secs();
    let token = format!(
        "24.{:032x}.{ttl}.{issued}.282335-{}",
        fastish_hash(&format!("{issued}-{}", inner.token_calls)),
        inner.token_calls
    );
    inner.tokens.insert(token.clone(), Instant::now() + config.token_ttl);
    Json(json!({
        "refresh_token": format!("25.{:032x}.315360000.{issued}.282335-1", fastish_hash(&token)),
        "expires_in": ttl,
        "session_key": "9mzdDZXu3dENdFZQurfg0Vz8slgSgvvOAUebNFzyzcpQ5EnbxbF+hfG9DQkpUVQdh4p6HbQcAiz5RmuBAja1JJGgIdJI",
        "access_token": token,
        "scope": "public brain_all_scope brain_ocr_idcard wise_adapt lebo_resource_base",
        "session_secret": "2ca66d464545c77a4767f709873be4",
    }))
    .into_response()
}

async fn token_query(State(shared): State<Shared>, Query(params): Query<HashMap<String, String>>) -> Response {
    issue_token(&shared, &params)
}

async fn token_form(State(shared): State<Shared>, Form(params): Form<HashMap<String, String>>) -> Response {
    issue_token(&shared, &params)
}

fn error(code: i64, msg: &str) -> Value {
    json!({ "error_code": code, "error_msg": msg, "log_id": log_id() })
}

fn log_id() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos() as u64 / 1000
}

fn fastish_hash(text: &str) -> u128 {
    // FNV-1a, 128-bit: deterministic across runs and platforms (std's hasher is not).
    let mut hash: u128 = 0x6c62272e07bb014262b821756295c58d;
    for byte in text.bytes() {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(0x0000000001000000000000000000013B);
    }
    hash
}

async fn idcard(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let url = form.get("url").cloned();
    let (answer, code) = answer_idcard(&shared, query.get("access_token"), &form, url.as_deref());
    {
        let mut inner = shared.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.arrivals.push(Arrival { at: SystemTime::now(), url: url.clone(), error_code: code });
    }
    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
    Json(answer).into_response()
}

fn answer_idcard(
    shared: &Shared,
    token: Option<&String>,
    form: &HashMap<String, String>,
    url: Option<&str>,
) -> (Value, Option<i64>) {
    let mut inner = shared.inner.lock().unwrap_or_else(|e| e.into_inner());
    let fail = |code: i64, msg: &str| (error(code, msg), Some(code));
    let Some(token) = token else {
        return fail(110, "Access token invalid or no longer valid");
    };
    match inner.tokens.get(token) {
        None => return fail(110, "Access token invalid or no longer valid"),
        Some(expiry) if *expiry <= Instant::now() => return fail(111, "Access token expired"),
        Some(_) => {}
    }
    // The per-second cap, over calls accepted in the last second.
    let now = Instant::now();
    inner.accepted.retain(|t| now.duration_since(*t) < Duration::from_secs(1));
    if inner.accepted.len() as u32 >= shared.config.qps {
        return fail(18, "Open api qps request limit reached");
    }
    if inner.day_count >= shared.config.daily_quota {
        return fail(17, "Open api daily request limit reached");
    }
    inner.accepted.push(now);
    inner.day_count += 1;

    let side = match form.get("id_card_side").map(String::as_str) {
        Some(side @ ("front" | "back")) => side.to_string(),
        Some(_) => return fail(216100, "invalid param"),
        None => return fail(216101, "not enough param"),
    };
    let source = match (form.get("image"), url) {
        (Some(image), _) => {
            let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(image.trim()) else {
                return fail(216201, "image format error");
            };
            if bytes.is_empty() {
                return fail(216200, "empty image");
            }
            if bytes.len() > 4 * 1024 * 1024 {
                return fail(216202, "image size error");
            }
            format!("image:{:x}", fastish_hash(image))
        }
        (None, Some(url)) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return fail(282111, "url format illegal");
            }
            let query: HashMap<String, String> =
                url::Url::parse(url).map(|u| u.query_pairs().into_owned().collect()).unwrap_or_default();
            if let Some(code) = query.get("fail").and_then(|c| c.parse::<i64>().ok()) {
                let times = query.get("times").and_then(|t| t.parse::<u32>().ok());
                let seen = inner.failures.entry(url.to_string()).or_insert(0);
                if times.is_none_or(|t| *seen < t) {
                    *seen += 1;
                    return fail(code, message_of(code));
                }
            }
            if url.contains("bad-format") {
                return fail(216201, "image format error");
            }
            if url.contains("too-large") {
                return fail(216202, "image size error");
            }
            if url.contains("unreachable") {
                return fail(282110, "urls is invalid");
            }
            url.to_string()
        }
        (None, None) => return fail(216101, "not enough param"),
    };
    (recognised(&source, &side), None)
}

fn message_of(code: i64) -> &'static str {
    match code {
        1 => "Unknown error",
        2 => "Service temporarily unavailable",
        4 => "Open api request limit reached",
        6 => "No permission to access data",
        14 => "IAM Certification failed",
        17 => "Open api daily request limit reached",
        18 => "Open api qps request limit reached",
        19 => "Open api total request limit reached",
        100 => "Invalid parameter",
        110 => "Access token invalid or no longer valid",
        111 => "Access token expired",
        216100 => "invalid param",
        216101 => "not enough param",
        216103 => "param too long",
        216200 => "empty image",
        216201 => "image format error",
        216202 => "image size error",
        216630 => "recognize error",
        216633 => "recognize idcard error",
        216634 => "detect error",
        282000 => "internal error",
        282110 => "urls is invalid",
        282111 => "url format illegal",
        282112 => "url download timeout",
        282113 => "url response invalid",
        282114 => "url size error",
        _ => "error",
    }
}

const SURNAMES: [&str; 8] = ["张", "李", "王", "刘", "陈", "杨", "赵", "黄"];
const GIVEN: [&str; 8] = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "勇"];
const PLACES: [(&str, &str); 4] = [
    ("320102", "江苏省南京市玄武区中山路18号"),
    ("310101", "上海市黄浦区南京东路100号"),
    ("440305", "广东省深圳市南山区科技园路1号"),
    ("110105", "北京市朝阳区建国路88号"),
];

/// An 18-digit number with a valid GB 11643 check digit.
fn id_number(region: &str, birth: &str, sequence: u32) -> String {
    let body = format!("{region}{birth}{sequence:03}");
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let sum: u32 = body.chars().zip(WEIGHTS).map(|(c, w)| c.to_digit(10).unwrap_or(0) * w).sum();
    format!("{body}{}", CHECK[(sum % 11) as usize])
}

fn word(words: &str) -> Value {
    json!({ "location": { "top": 1, "left": 1, "width": 1, "height": 1 }, "words": words })
}

/// The same source always reads the same (the fake has no camera).
fn recognised(source: &str, side: &str) -> Value {
    let h = fastish_hash(source);
    let pick = |shift: u32, n: usize| ((h >> shift) % n as u128) as usize;
    let (region, address) = PLACES[pick(8, PLACES.len())];
    let birth = format!("{}{:02}{:02}", 1960 + pick(16, 45), 1 + pick(24, 12), 1 + pick(32, 28));
    let sequence = pick(40, 999) as u32;
    let male = sequence % 2 == 1;
    let log_id = 1_700_000_000_000_000_000u64 + (h as u64 % 1_000_000_000_000_000);
    if side == "back" {
        let issued = format!("{}{:02}{:02}", 2015 + pick(48, 10), 1 + pick(56, 12), 1 + pick(64, 28));
        let expires = format!("{}{}", issued[..4].parse::<u32>().unwrap_or(2020) + 20, &issued[4..]);
        return json!({
            "log_id": log_id, "words_result_num": 3, "image_status": "normal", "risk_type": "normal",
            "words_result": {
                "签发机关": word(&format!("{}公安局", &address[..address.find('市').map(|i| i + 3).unwrap_or(address.len())])),
                "签发日期": word(&issued),
                "失效日期": word(&expires),
            }
        });
    }
    let name = format!("{}{}", SURNAMES[pick(72, SURNAMES.len())], GIVEN[pick(80, GIVEN.len())]);
    json!({
        "log_id": log_id, "words_result_num": 6, "idcard_number_type": 1,
        "image_status": "normal", "risk_type": "normal",
        "words_result": {
            "姓名": word(&name),
            "性别": word(if male { "男" } else { "女" }),
            "民族": word("汉"),
            "出生": word(&birth),
            "住址": word(address),
            "公民身份号码": word(&id_number(region, &birth, sequence)),
        }
    })
}
