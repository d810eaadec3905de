//! The fake Alipay against docs/providers.md §3, through real HTTP. Requests
//! are signed here, by hand from that page, not by the core's client.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{FixedOffset, Utc};
use opsdeck_sandbox::alipay::{
    FakeAlipay, FakeAlipayConfig, Outcome, SANDBOX_ALIPAY_PUBLIC_KEY, SANDBOX_APP_PRIVATE_KEY, SANDBOX_APP_PUBLIC_KEY,
};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::Value;

const APP_ID: &str = "2021000000000001";

async fn fake() -> FakeAlipay {
    let config = FakeAlipayConfig { latency: Duration::ZERO, ..FakeAlipayConfig::default() };
    FakeAlipay::start("127.0.0.1:0".parse().unwrap(), config).await.unwrap()
}

/// `k=v&…` over the non-empty parameters but `sign` (and `sign_type` for notifies), sorted.
fn content(params: &[(String, String)], notify: bool) -> String {
    let kept: BTreeMap<&str, &str> = params
        .iter()
        .filter(|(k, v)| !v.is_empty() && k != "sign" && !(notify && k == "sign_type"))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    kept.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

fn now_gmt8() -> String {
    Utc::now().with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap()).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A request's common parameters, unsigned.
fn request(method: &str, biz_content: &str) -> Vec<(String, String)> {
    [
        ("app_id", APP_ID),
        ("method", method),
        ("format", "JSON"),
        ("charset", "utf-8"),
        ("sign_type", "RSA2"),
        ("timestamp", &now_gmt8()),
        ("version", "1.0"),
        ("biz_content", biz_content),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn sign(mut params: Vec<(String, String)>) -> Vec<(String, String)> {
    let key = SigningKey::<Sha256>::new(RsaPrivateKey::from_pkcs8_pem(SANDBOX_APP_PRIVATE_KEY).unwrap());
    let signature = key.sign(content(&params, false).as_bytes());
    params.push(("sign".into(), STANDARD.encode(signature.to_bytes())));
    params
}

fn set(params: &mut [(String, String)], name: &str, value: &str) {
    params.iter_mut().find(|(k, _)| k == name).unwrap().1 = value.to_string();
}

fn alipay_verifies(content: &str, sign: &str) -> bool {
    let key = VerifyingKey::<Sha256>::new(RsaPublicKey::from_public_key_pem(SANDBOX_ALIPAY_PUBLIC_KEY).unwrap());
    let signature = Signature::try_from(STANDARD.decode(sign).unwrap().as_slice()).unwrap();
    key.verify(content.as_bytes(), &signature).is_ok()
}

/// What the gateway said: under which key, its exact text, and whether that text is signed
/// correctly (`None`: unsigned).
struct Answer {
    key: String,
    raw: String,
    fields: Value,
    signature_ok: Option<bool>,
}

async fn post(alipay: &FakeAlipay, params: &[(String, String)]) -> Answer {
    let body =
        reqwest::Client::new().post(&alipay.gateway_url).form(params).send().await.unwrap().text().await.unwrap();
    open(&body)
}

/// Cuts `{"<key>":<raw>,"sign":"…"}` apart by text, as Alipay's own SDK does.
fn open(body: &str) -> Answer {
    let envelope: Value = serde_json::from_str(body).unwrap();
    let key = envelope.as_object().unwrap().keys().find(|k| k.ends_with("_response")).unwrap().clone();
    let start = format!("{{\"{key}\":");
    assert!(body.starts_with(&start), "{body}");
    let (raw, signature_ok) = match envelope.get("sign").and_then(Value::as_str) {
        Some(sign) => {
            let end = body.rfind(",\"sign\":").unwrap();
            let raw = &body[start.len()..end];
            (raw.to_string(), Some(alipay_verifies(raw, sign)))
        }
        None => (body[start.len()..body.len() - 1].to_string(), None),
    };
    let fields: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(fields, envelope[&key], "the cut text is the answer");
    Answer { key, raw, fields, signature_ok }
}

async fn query(alipay: &FakeAlipay, out_trade_no: &str) -> Answer {
    let biz = serde_json::json!({ "out_trade_no": out_trade_no }).to_string();
    post(alipay, &sign(request("alipay.trade.query", &biz))).await
}

async fn close(alipay: &FakeAlipay, out_trade_no: &str) -> Answer {
    let biz = serde_json::json!({ "out_trade_no": out_trade_no }).to_string();
    post(alipay, &sign(request("alipay.trade.close", &biz))).await
}

#[test]
fn the_sandbox_app_keys_are_a_pair() {
    let private = RsaPrivateKey::from_pkcs8_pem(SANDBOX_APP_PRIVATE_KEY).unwrap();
    assert_eq!(private.to_public_key(), RsaPublicKey::from_public_key_pem(SANDBOX_APP_PUBLIC_KEY).unwrap());
    assert_ne!(private.to_public_key(), RsaPublicKey::from_public_key_pem(SANDBOX_ALIPAY_PUBLIC_KEY).unwrap());
}

#[tokio::test]
async fn query_answers_each_outcome_signed_over_the_text_it_sends() {
    let alipay = fake().await;
    alipay.pay("paid", "12.50");
    alipay.set("finished", Outcome::Finished { total_amount: "8.00".into() });
    alipay.set("waiting", Outcome::Waiting);
    alipay.set("closed", Outcome::Closed);
    alipay.set("gone", Outcome::NotExist);

    let paid = query(&alipay, "paid").await;
    assert_eq!(paid.key, "alipay_trade_query_response");
    assert_eq!(paid.signature_ok, Some(true));
    assert!(paid.raw.starts_with(r#"{"code":"10000","msg":"Success","trade_no":"#), "Alipay's order: {}", paid.raw);
    assert_eq!(paid.fields["trade_status"], "TRADE_SUCCESS");
    assert_eq!(paid.fields["total_amount"], "12.50");
    assert_eq!(paid.fields["out_trade_no"], "paid");
    assert_eq!(paid.fields["trade_no"].as_str().unwrap().len(), 28);
    assert_eq!(paid.fields["send_pay_date"].as_str().unwrap().len(), "2026-01-01 00:00:00".len());

    let finished = query(&alipay, "finished").await;
    assert_eq!(
        (finished.fields["trade_status"].as_str(), finished.fields["total_amount"].as_str()),
        (Some("TRADE_FINISHED"), Some("8.00"))
    );
    for (order, status) in [("waiting", "WAIT_BUYER_PAY"), ("closed", "TRADE_CLOSED")] {
        let answer = query(&alipay, order).await;
        assert_eq!(answer.signature_ok, Some(true));
        assert_eq!(answer.fields["trade_status"], status, "{order}");
        assert!(answer.fields.get("send_pay_date").is_none(), "{order} was never paid");
    }
    for order in ["gone", "never-set"] {
        let answer = query(&alipay, order).await;
        assert_eq!(answer.signature_ok, Some(true));
        assert_eq!(answer.fields["code"], "40004");
        assert_eq!(answer.fields["sub_code"], "ACQ.TRADE_NOT_EXIST", "{order}");
        assert_eq!(answer.fields["sub_msg"], "交易不存在", "UTF-8 text signed as sent");
    }
    let log: Vec<(String, String)> = alipay.calls().into_iter().map(|c| (c.method, c.out_trade_no)).collect();
    assert_eq!(log.len(), 6);
    assert!(log.iter().all(|(method, _)| method == "alipay.trade.query"));
    assert_eq!(log[0].1, "paid");
}

#[tokio::test]
async fn close_closes_only_a_waiting_trade() {
    let alipay = fake().await;
    alipay.set("waiting", Outcome::Waiting);
    alipay.pay("paid", "3.00");
    alipay.set("closed", Outcome::Closed);

    let closed = close(&alipay, "waiting").await;
    assert_eq!(closed.key, "alipay_trade_close_response");
    assert_eq!(closed.signature_ok, Some(true));
    assert_eq!(closed.fields["code"], "10000");
    assert_eq!(closed.fields["out_trade_no"], "waiting");
    assert_eq!(query(&alipay, "waiting").await.fields["trade_status"], "TRADE_CLOSED");

    for order in ["paid", "closed", "waiting"] {
        let answer = close(&alipay, order).await;
        assert_eq!(answer.signature_ok, Some(true));
        assert_eq!(answer.fields["sub_code"], "ACQ.TRADE_STATUS_ERROR", "{order}");
    }
    assert_eq!(close(&alipay, "unknown").await.fields["sub_code"], "ACQ.TRADE_NOT_EXIST");
    assert_eq!(query(&alipay, "paid").await.fields["trade_status"], "TRADE_SUCCESS", "a refused close changes nothing");
}

#[tokio::test]
async fn system_errors_count_down_and_the_trade_is_kept() {
    let alipay = fake().await;
    alipay.pay("o1", "1.00");
    alipay.set("o1", Outcome::SystemError { times: 2 });
    assert_eq!(query(&alipay, "o1").await.fields["sub_code"], "ACQ.SYSTEM_ERROR");
    assert_eq!(close(&alipay, "o1").await.fields["sub_code"], "ACQ.SYSTEM_ERROR");
    assert_eq!(query(&alipay, "o1").await.fields["trade_status"], "TRADE_SUCCESS");
    let answered: Vec<(String, Option<String>)> = alipay.calls().into_iter().map(|c| (c.code, c.sub_code)).collect();
    assert_eq!(
        answered,
        [
            ("40004".to_string(), Some("ACQ.SYSTEM_ERROR".to_string())),
            ("40004".to_string(), Some("ACQ.SYSTEM_ERROR".to_string())),
            ("10000".to_string(), None),
        ]
    );
}

#[tokio::test]
async fn the_gateway_refuses_bad_requests_with_error_response() {
    let alipay = fake().await;
    alipay.pay("o1", "1.00");
    let biz = r#"{"out_trade_no":"o1"}"#;
    let good = request("alipay.trade.query", biz);

    let mut tampered = sign(good.clone());
    set(&mut tampered, "biz_content", r#"{"out_trade_no":"o2"}"#);
    let mut utc = good.clone();
    set(&mut utc, "timestamp", &Utc::now().format("%Y-%m-%d %H:%M:%S").to_string());
    let mut sha1 = good.clone();
    set(&mut sha1, "sign_type", "RSA");
    let mut unknown_method = good.clone();
    set(&mut unknown_method, "method", "alipay.trade.pay.nonsense");
    let mut gbk = good.clone();
    set(&mut gbk, "charset", "GBK");
    let cases = [
        ("signed before a change", tampered, "40002", "isv.invalid-signature"),
        ("unsigned", good.clone(), "40001", "isv.missing-signature"),
        ("timestamp in UTC", sign(utc), "40002", "isv.invalid-timestamp"),
        ("RSA (SHA1)", sign(sha1), "40002", "isv.invalid-signature-type"),
        ("unknown method", sign(unknown_method), "40002", "isv.invalid-method"),
        ("GBK", sign(gbk), "40002", "isv.invalid-charset"),
    ];
    for (what, params, code, sub_code) in cases {
        let answer = post(&alipay, &params).await;
        assert_eq!(answer.key, "error_response", "{what}");
        assert_eq!(
            (answer.fields["code"].as_str(), answer.fields["sub_code"].as_str()),
            (Some(code), Some(sub_code)),
            "{what}"
        );
        assert_eq!(answer.signature_ok, Some(true), "{what}: signed by Alipay");
    }

    let mut other_app = good;
    set(&mut other_app, "app_id", "2021000000009999");
    let answer = post(&alipay, &sign(other_app)).await;
    assert_eq!(answer.key, "error_response");
    assert_eq!(answer.fields["sub_code"], "isv.invalid-app-id");
    assert_eq!(answer.signature_ok, None, "an unknown app's error is unsigned");

    let logged: Vec<Option<String>> = alipay.calls().into_iter().map(|c| c.sub_code).collect();
    assert_eq!(logged.len(), 7, "every request is logged, refused or not");
    assert_eq!(logged[0].as_deref(), Some("isv.invalid-signature"));
    assert_eq!(query(&alipay, "o1").await.fields["trade_status"], "TRADE_SUCCESS", "a good request still passes");
}

#[tokio::test]
async fn parameters_are_read_from_the_query_string_too_and_trades_found_by_trade_no() {
    let alipay = fake().await;
    alipay.pay("o1", "9.90");
    let trade_no = query(&alipay, "o1").await.fields["trade_no"].as_str().unwrap().to_string();
    // As Alipay's SDK sends it: common parameters in the URL, biz_content in the form.
    let biz = serde_json::json!({ "trade_no": trade_no }).to_string();
    let params = sign(request("alipay.trade.query", &biz));
    let (body, url): (Vec<_>, Vec<_>) = params.into_iter().partition(|(k, _)| k == "biz_content");
    let text = reqwest::Client::new()
        .post(&alipay.gateway_url)
        .query(&url)
        .form(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let answer = open(&text);
    assert_eq!(answer.signature_ok, Some(true));
    assert_eq!(answer.fields["out_trade_no"], "o1");
    assert_eq!(answer.fields["total_amount"], "9.90");
}

#[tokio::test]
async fn signed_notifies_verify_with_alipays_public_key() {
    let alipay = fake().await;
    alipay.pay("o1", "12.50");
    let notify = alipay.signed_notify("o1", "12.50", "TRADE_SUCCESS");
    let get = |name: &str| notify.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(get("notify_type").as_deref(), Some("trade_status_sync"));
    assert_eq!(get("app_id").as_deref(), Some(APP_ID));
    assert_eq!(get("sign_type").as_deref(), Some("RSA2"));
    assert_eq!(get("out_trade_no").as_deref(), Some("o1"));
    assert_eq!(get("total_amount").as_deref(), Some("12.50"));
    assert!(get("gmt_payment").is_some());
    assert_eq!(get("trade_no"), query(&alipay, "o1").await.fields["trade_no"].as_str().map(str::to_string));
    for name in
        ["notify_time", "notify_id", "charset", "version", "buyer_id", "seller_id", "receipt_amount", "gmt_create"]
    {
        assert!(get(name).is_some_and(|v| !v.is_empty()), "{name}");
    }
    let sign = get("sign").unwrap();
    assert!(alipay_verifies(&content(&notify, true), &sign), "signed without sign and sign_type");
    assert!(!alipay_verifies(&content(&notify, false), &sign), "sign_type is not covered");
    let mut tampered = notify.clone();
    set(&mut tampered, "total_amount", "0.01");
    assert!(!alipay_verifies(&content(&tampered, true), &sign));

    let again = alipay.signed_notify("o1", "12.50", "TRADE_SUCCESS");
    let again_id = again.iter().find(|(k, _)| k == "notify_id").map(|(_, v)| v.clone());
    assert_ne!(again_id, get("notify_id"), "each notify has its own id");
}
