//! The Alipay client against the sandbox's fake Alipay (real HTTP on loopback): every answer the
//! expiry flow branches on, signatures both ways, notifies, and keys in every form.

use opsdeck_core::orders::alipay::{
    AlipayClient, AlipayConfig, AlipayError, CloseOutcome, NotifyError, TradeStatus, amount_in_fen, signing_content,
};
use opsdeck_sandbox::alipay::{
    FakeAlipay, FakeAlipayConfig, Outcome, SANDBOX_ALIPAY_PUBLIC_KEY, SANDBOX_APP_PRIVATE_KEY, SANDBOX_APP_PUBLIC_KEY,
};
use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey, LineEnding};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::{RsaPrivateKey, RsaPublicKey};
use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const APP_ID: &str = "2021000000000001";

/// A key of nobody's, in PKCS#1 form (`openssl rsa -traditional`).
const STRANGER_PRIVATE_KEY: &str = "\
-----BEGIN RSA PRIVATE KEY-----\n\
MIIEpAIBAAKCAQEAukUDgRbzhGEXS2sAv0H7Bvof+h4iYRh7EkO6vTHTdxJepbsd\n\
V57PoJIRL+RJUgMnVD+o3AZR6cGT/bZlPgtzQubmMXURG3TLrZ0vsBvacpQwxZfW\n\
Zu+FPntbTgndgB3vAIW/YQBeexx0YqdoIHlc2I0WOZm8W6Kclj/xja3CCd/Rl36Z\n\
hXqOA53ia1XUgyWMXUWPIOEFgQlKDjIQd7sUo0YHokkKmvu8dmHQ16QZR7T2VQHW\n\
3ASvbTrEJikI/EhzBDY2BF3x+D4L/QrfQ3Q7jU67kmxdcOeU0J775Ql2BOw7rbiV\n\
nZ1uqjy5ik/PGnVHfK1Rl+h9eB+ggSj7knMUQQIDAQABAoIBABK3AKZBkLO8IA+q\n\
J3Pv7Ilry9bw3GYqRCJGhw5/gTZBVJxc75KoQIbq6hpoWsQIUFUnBL+fjG8arZR0\n\
FRm944WlJptxPkfmjRjLVllgwQraUAioS+jBd78afIbbl6NJzqO8LGlx9Kw0pI5t\n\
cLkzjGQvD7y3kSzZSpePguTn4Hsmk3oiLCTYz3GDg0urcNlii7/281FwF200CGwO\n\
Itj3Bx2uYig09FN71Z5o9QipnxgdRtRfmjpE8FYbR/F6G6tx+O/Hqu4DH8sG1qmC\n\
TKz9/juLLA9mcp9JGopMl8L/eRy3ll5tTXTUcfOXZeBE9dBLCaj7x3GjbL6m8rDn\n\
7DaDGdkCgYEA26iLcyeWn25vtohGSX7R9DtyUU5Amx4CKBI/HiyF3OqIjDMp/SlK\n\
VIi77EWRwEw8he2epcEGVF/oMRtm7Vl0yPSshkkmdWldCxgbO5U11z+ups6SbUGM\n\
G+GwkD+bVnE6JybffCcYBqvC30jBhtqrw97cHK2xE2OgAVJ3F8fHXTkCgYEA2RZQ\n\
MxML2A88cAEurJmedsxeDkOhXlZuzVelfCSitfdnDA2zwGdtfbXOTya1KRlkd6sV\n\
FMIhYsq9GDNNNZcW960zUc2//JQ4NxAQQY3/SImoR8pKTkf83RVHnXDs6BNObm6/\n\
GCVLFR0ODHsDyMRAdu070a+Mk8nukAy+paRkd0kCgYAcUlT4mggfsluRC20UmNd1\n\
SBzrQs2tsmbQx9l/iHoSC+NjQE2PqL0+vQqN4kJyquG62vJzqLmqM1t6yW+x9rDK\n\
IFIGVnQw+07V2VvZiNmSUVGxjDzw/VyVU7oyPyFGOf8ngSmblmbQpWDQ7U6WlqdC\n\
7/8ta2/Dcjr1MK7OUCHycQKBgQCxVM/YmONg8Dk/iUe2SJqwkor2ffpwlIxYgxM0\n\
ULz1hg6QQxUlw5cmTIAmGgl8dDikpIVI+rfI+rHy9d1JPI3PbpVwanE9A1rUZ/PP\n\
iQ4TFBf55N5ECfweIQbqLlfnz/WOsjq5n6UwrxZNzaMuulmqjGoEBLIB+787vp1x\n\
s9M5uQKBgQCRhdNwf5513pw7yCQIbxaEJp5//TujYjL67do2ugWXUsNZVAoU55e3\n\
JLRC79PVjjWC87+gOY40FxORuihroHG+ldKCKl2mH/BcngkTj0ab5LzQbooi+bTG\n\
6NuvmEk1ixGxZd82b7BqQGN7kR+DS1NSbAGqBjhXB21s/gVnFcpkOw==\n\
-----END RSA PRIVATE KEY-----\n\
";

async fn fake() -> FakeAlipay {
    let config = FakeAlipayConfig { latency: std::time::Duration::ZERO, ..FakeAlipayConfig::default() };
    FakeAlipay::start("127.0.0.1:0".parse().unwrap(), config).await.unwrap()
}

fn config(gateway_url: &str, app_private_key: &str, alipay_public_key: &str) -> AlipayConfig {
    AlipayConfig {
        gateway_url: gateway_url.to_string(),
        app_id: APP_ID.to_string(),
        app_private_key: SecretString::from(app_private_key.to_string()),
        alipay_public_key: alipay_public_key.to_string(),
        seller_id: None,
    }
}

fn client(alipay: &FakeAlipay) -> AlipayClient {
    client_with(config(&alipay.gateway_url, SANDBOX_APP_PRIVATE_KEY, SANDBOX_ALIPAY_PUBLIC_KEY))
}

fn client_with(config: AlipayConfig) -> AlipayClient {
    AlipayClient::new(reqwest::Client::new(), config).expect("keys readable")
}

/// The base64 lines of a PEM (what must never print).
fn key_lines(pem: &str) -> Vec<&str> {
    pem.lines().filter(|line| !line.starts_with("-----") && !line.is_empty()).collect()
}

/// A PEM without its armour: the bare base64 Alipay's tools hand out.
fn bare(pem: &str) -> String {
    key_lines(pem).concat()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn set(form: &mut [(String, String)], name: &str, value: &str) {
    form.iter_mut().find(|(k, _)| k == name).unwrap().1 = value.to_string();
}

#[tokio::test]
async fn query_reads_every_trade_state() {
    let alipay = fake().await;
    alipay.pay("paid", "12.50");
    alipay.set("finished", Outcome::Finished { total_amount: "8.00".into() });
    alipay.set("waiting", Outcome::Waiting);
    alipay.set("closed", Outcome::Closed);
    let client = client(&alipay);

    // The fake refuses a timestamp more than 15 minutes off: these calls also show it is GMT+8.
    let paid = client.query("paid").await.unwrap();
    assert_eq!(paid.status, TradeStatus::Success);
    assert!(paid.status.is_paid());
    assert_eq!(paid.total_amount.as_deref(), Some("12.50"));
    assert_eq!(paid.trade_no.as_ref().map(String::len), Some(28));
    assert!(paid.send_pay_date.is_some());

    let finished = client.query("finished").await.unwrap();
    assert_eq!((finished.status, finished.total_amount.as_deref()), (TradeStatus::Finished, Some("8.00")));
    assert!(finished.status.is_paid());

    for (order, status) in [("waiting", TradeStatus::WaitBuyerPay), ("closed", TradeStatus::Closed)] {
        let answer = client.query(order).await.unwrap();
        assert_eq!(answer.status, status, "{order}");
        assert!(!answer.status.is_paid(), "{order}");
        assert_eq!(answer.send_pay_date, None, "{order}");
    }
    let never = client.query("never-opened").await.unwrap();
    assert_eq!(never.status, TradeStatus::NotExist, "ACQ.TRADE_NOT_EXIST is an answer, not an error");
    assert!(!never.status.is_paid());
    assert_eq!((never.trade_no, never.total_amount), (None, None));

    let asked: Vec<(String, String)> = alipay.calls().into_iter().map(|c| (c.method, c.out_trade_no)).collect();
    assert_eq!(asked.len(), 5);
    assert_eq!(asked[0], ("alipay.trade.query".to_string(), "paid".to_string()));
    assert!(
        alipay.calls().iter().all(|c| c.sub_code.is_none() || c.sub_code.as_deref() == Some("ACQ.TRADE_NOT_EXIST"))
    );
}

#[tokio::test]
async fn close_closes_a_waiting_trade_and_names_the_other_cases() {
    let alipay = fake().await;
    alipay.set("waiting", Outcome::Waiting);
    alipay.pay("paid", "3.00");
    alipay.set("closed", Outcome::Closed);
    let client = client(&alipay);

    assert_eq!(client.close("waiting").await.unwrap(), CloseOutcome::Closed);
    assert_eq!(client.query("waiting").await.unwrap().status, TradeStatus::Closed);
    assert_eq!(client.close("waiting").await.unwrap(), CloseOutcome::StatusError, "closed already");
    assert_eq!(client.close("paid").await.unwrap(), CloseOutcome::StatusError, "the buyer paid: query again");
    assert_eq!(client.close("closed").await.unwrap(), CloseOutcome::StatusError);
    assert_eq!(client.close("never-opened").await.unwrap(), CloseOutcome::NotExist);
    let methods: Vec<String> = alipay.calls().into_iter().map(|c| c.method).collect();
    assert_eq!(methods.iter().filter(|m| *m == "alipay.trade.close").count(), 5);
}

#[tokio::test]
async fn a_system_error_is_retried_later_and_the_next_call_succeeds() {
    let alipay = fake().await;
    alipay.pay("o1", "5.00");
    alipay.set("o1", Outcome::SystemError { times: 1 });
    alipay.set("o2", Outcome::Waiting);
    alipay.set("o2", Outcome::SystemError { times: 1 });
    let client = client(&alipay);

    let error = client.query("o1").await.unwrap_err();
    assert!(matches!(error, AlipayError::Retry(_)), "{error:?}");
    assert!(error.is_retryable());
    assert_eq!(client.query("o1").await.unwrap().status, TradeStatus::Success);

    let error = client.close("o2").await.unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
    assert_eq!(client.close("o2").await.unwrap(), CloseOutcome::Closed);
    let sub_codes: Vec<Option<String>> = alipay.calls().into_iter().map(|c| c.sub_code).collect();
    assert_eq!(sub_codes, [Some("ACQ.SYSTEM_ERROR".to_string()), None, Some("ACQ.SYSTEM_ERROR".to_string()), None]);
}

#[tokio::test]
async fn a_wrong_app_key_or_app_id_is_refused() {
    let alipay = fake().await;
    alipay.pay("o1", "5.00");
    let stranger = client_with(config(&alipay.gateway_url, STRANGER_PRIVATE_KEY, SANDBOX_ALIPAY_PUBLIC_KEY));
    let refused = stranger.query("o1").await.unwrap_err();
    let AlipayError::Refused { code, sub_code, .. } = &refused else { panic!("{refused:?}") };
    assert_eq!((code.as_str(), sub_code.as_deref()), ("40002", Some("isv.invalid-signature")));
    assert!(!refused.is_retryable());
    let printed = format!("{refused} {refused:?}");
    assert!(key_lines(STRANGER_PRIVATE_KEY).iter().all(|line| !printed.contains(line)), "{printed}");

    let other_app = client_with(AlipayConfig {
        app_id: "2021000000009999".into(),
        ..config(&alipay.gateway_url, SANDBOX_APP_PRIVATE_KEY, SANDBOX_ALIPAY_PUBLIC_KEY)
    });
    let refused = other_app.close("o1").await.unwrap_err();
    assert!(
        matches!(&refused, AlipayError::Refused { sub_code: Some(s), .. } if s == "isv.invalid-app-id"),
        "an unsigned gateway error is still an error: {refused:?}"
    );
    assert_eq!(client(&alipay).query("o1").await.unwrap().status, TradeStatus::Success, "nothing changed");
}

/// A man in the middle: forwards each request to `target` and rewrites `from` to `to` in the
/// answer's text. Answers `Connection: close`, one request per connection.
async fn tampering_proxy(target: String, from: &'static str, to: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/gateway.do", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, length) = loop {
                    let n = stream.read(&mut chunk).await.unwrap();
                    assert!(n > 0, "the client hung up mid-request");
                    request.extend_from_slice(&chunk[..n]);
                    if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                        let length = head
                            .lines()
                            .find_map(|line| line.strip_prefix("content-length:"))
                            .map(|value| value.trim().parse::<usize>().unwrap())
                            .unwrap_or(0);
                        break (end + 4, length);
                    }
                };
                while request.len() < head_end + length {
                    let n = stream.read(&mut chunk).await.unwrap();
                    request.extend_from_slice(&chunk[..n]);
                }
                let answer = reqwest::Client::new()
                    .post(&target)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(request[head_end..].to_vec())
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                assert!(answer.contains(from), "{answer}");
                let tampered = answer.replace(from, to);
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json;charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{tampered}",
                    tampered.len()
                );
                stream.write_all(response.as_bytes()).await.unwrap();
                let _ = stream.shutdown().await;
            });
        }
    });
    url
}

#[tokio::test]
async fn an_answer_alipay_did_not_sign_is_rejected() {
    let alipay = fake().await;
    alipay.pay("o1", "12.50");

    let proxy = tampering_proxy(alipay.gateway_url.clone(), "\"12.50\"", "\"99.50\"").await;
    let through_proxy = client_with(config(&proxy, SANDBOX_APP_PRIVATE_KEY, SANDBOX_ALIPAY_PUBLIC_KEY));
    let error = through_proxy.query("o1").await.unwrap_err();
    assert!(matches!(error, AlipayError::BadSignature(_)), "a changed amount: {error:?}");
    assert!(error.is_retryable(), "retry later (and look)");

    let wrong_key = client_with(config(&alipay.gateway_url, SANDBOX_APP_PRIVATE_KEY, SANDBOX_APP_PUBLIC_KEY));
    let error = wrong_key.query("o1").await.unwrap_err();
    assert!(matches!(error, AlipayError::BadSignature(_)), "signed by another key: {error:?}");
    let error = wrong_key.close("o1").await.unwrap_err();
    assert!(matches!(error, AlipayError::BadSignature(_)), "a business failure is verified too: {error:?}");

    // The same proxy with nothing to change passes: only the signature decided.
    let harmless = tampering_proxy(alipay.gateway_url.clone(), "\"12.50\"", "\"12.50\"").await;
    let through_harmless = client_with(config(&harmless, SANDBOX_APP_PRIVATE_KEY, SANDBOX_ALIPAY_PUBLIC_KEY));
    assert_eq!(through_harmless.query("o1").await.unwrap().total_amount.as_deref(), Some("12.50"));
}

#[tokio::test]
async fn an_unreachable_or_wrong_gateway_is_retried_later() {
    let alipay = fake().await;
    let nowhere =
        client_with(config("http://127.0.0.1:9/gateway.do", SANDBOX_APP_PRIVATE_KEY, SANDBOX_ALIPAY_PUBLIC_KEY));
    let down = nowhere.query("o1").await.unwrap_err();
    assert!(matches!(down, AlipayError::Retry(_)), "{down:?}");
    let wrong_path = format!("{}/elsewhere", alipay.gateway_url.trim_end_matches("/gateway.do"));
    let lost = client_with(config(&wrong_path, SANDBOX_APP_PRIVATE_KEY, SANDBOX_ALIPAY_PUBLIC_KEY));
    let answer = lost.close("o1").await.unwrap_err();
    assert_eq!(answer, AlipayError::Retry("Alipay answered HTTP 404".into()));
}

#[tokio::test]
async fn notifies_are_verified_and_tampering_is_caught() {
    let alipay = fake().await;
    alipay.pay("o1", "12.50");
    let client = client(&alipay);
    let form = alipay.signed_notify("o1", "12.50", "TRADE_SUCCESS");

    let notify = client.verify_notify(&form).unwrap();
    assert_eq!(notify.out_trade_no, "o1");
    assert_eq!(notify.total_amount, "12.50");
    assert_eq!(notify.trade_status, TradeStatus::Success);
    assert_eq!(notify.app_id, APP_ID);
    assert_eq!(Some(notify.trade_no.clone()), client.query("o1").await.unwrap().trade_no);
    assert!(!notify.notify_id.is_empty());

    let mut cheaper = form.clone();
    set(&mut cheaper, "total_amount", "0.01");
    assert_eq!(client.verify_notify(&cheaper), Err(NotifyError::BadSignature));
    let mut someone_else = form.clone();
    set(&mut someone_else, "out_trade_no", "o2");
    assert_eq!(client.verify_notify(&someone_else), Err(NotifyError::BadSignature));

    let unsigned: Vec<(String, String)> = form.iter().filter(|(k, _)| k != "sign").cloned().collect();
    assert_eq!(client.verify_notify(&unsigned), Err(NotifyError::MissingField("sign")));
    let mut doubled = form.clone();
    doubled.push(("total_amount".into(), "0.01".into()));
    assert!(matches!(client.verify_notify(&doubled), Err(NotifyError::Malformed(_))));
    let mut sha1 = form.clone();
    set(&mut sha1, "sign_type", "RSA");
    assert!(matches!(client.verify_notify(&sha1), Err(NotifyError::Malformed(_))));

    // Not covered by the signature: sign_type, and empty values.
    let without_type: Vec<(String, String)> = form.iter().filter(|(k, _)| k != "sign_type").cloned().collect();
    assert_eq!(client.verify_notify(&without_type).as_ref(), Ok(&notify));
    let mut with_empty = form.clone();
    with_empty.push(("passback_params".into(), String::new()));
    assert_eq!(client.verify_notify(&with_empty).as_ref(), Ok(&notify));
    // A `+` in the signature decoded to a space once too often still verifies.
    let sign = form.iter().find(|(k, _)| k == "sign").unwrap().1.clone();
    if sign.contains('+') {
        let mut spaced = form.clone();
        set(&mut spaced, "sign", &sign.replace('+', " "));
        assert_eq!(client.verify_notify(&spaced).as_ref(), Ok(&notify));
    }

    let other_app = client_with(AlipayConfig {
        app_id: "2021000000009999".into(),
        ..config(&alipay.gateway_url, SANDBOX_APP_PRIVATE_KEY, SANDBOX_ALIPAY_PUBLIC_KEY)
    });
    let refused = other_app.verify_notify(&form);
    assert!(
        matches!(&refused, Err(NotifyError::Refused { field: "app_id", about, .. }) if about.out_trade_no == "o1"),
        "{refused:?}"
    );
    // The seller, when configured, is compared too (the fake signs as seller 2088101117955611).
    let our_seller = client_with(AlipayConfig {
        seller_id: Some("2088101117955611".into()),
        ..config(&alipay.gateway_url, SANDBOX_APP_PRIVATE_KEY, SANDBOX_ALIPAY_PUBLIC_KEY)
    });
    assert_eq!(our_seller.verify_notify(&form).as_ref(), Ok(&notify));
    let other_seller = client_with(AlipayConfig {
        seller_id: Some("2088000000000001".into()),
        ..config(&alipay.gateway_url, SANDBOX_APP_PRIVATE_KEY, SANDBOX_ALIPAY_PUBLIC_KEY)
    });
    let refused = other_seller.verify_notify(&form);
    assert!(matches!(&refused, Err(NotifyError::Refused { field: "seller_id", .. })), "{refused:?}");
    let wrong_key = client_with(config(&alipay.gateway_url, SANDBOX_APP_PRIVATE_KEY, SANDBOX_APP_PUBLIC_KEY));
    assert_eq!(wrong_key.verify_notify(&form), Err(NotifyError::BadSignature));

    let closed = client.verify_notify(&alipay.signed_notify("o3", "1.00", "TRADE_CLOSED")).unwrap();
    assert_eq!(closed.trade_status, TradeStatus::Closed);
    let odd = client.verify_notify(&alipay.signed_notify("o3", "1.00", "TRADE_NOT_EXIST"));
    assert!(matches!(odd, Err(NotifyError::Refused { field: "trade_status", .. })), "{odd:?}");
}

#[test]
fn signing_content_is_sorted_raw_and_drops_sign_and_empty_values() {
    let params = pairs(&[
        ("timestamp", "2014-07-24 03:07:50"),
        ("method", "alipay.trade.query"),
        ("sign", "c2lnbg=="),
        ("app_id", "2014072300007148"),
        ("notify_url", ""),
        ("sign_type", "RSA2"),
        ("biz_content", r#"{"out_trade_no":"20150320010101001","subject":"a&b=c"}"#),
        ("charset", "utf-8"),
        ("version", "1.0"),
    ]);
    assert_eq!(
        signing_content(&params, false),
        "app_id=2014072300007148&biz_content={\"out_trade_no\":\"20150320010101001\",\"subject\":\"a&b=c\"}\
         &charset=utf-8&method=alipay.trade.query&sign_type=RSA2&timestamp=2014-07-24 03:07:50&version=1.0"
    );
    assert_eq!(
        signing_content(&params, true),
        "app_id=2014072300007148&biz_content={\"out_trade_no\":\"20150320010101001\",\"subject\":\"a&b=c\"}\
         &charset=utf-8&method=alipay.trade.query&timestamp=2014-07-24 03:07:50&version=1.0"
    );
    // ASCII order: upper case before lower case, `_` between them.
    assert_eq!(signing_content(&pairs(&[("b", "1"), ("a_b", "2"), ("B", "3"), ("a", "4")]), true), "B=3&a=4&a_b=2&b=1");
    assert_eq!(signing_content(&[], false), "");
}

#[tokio::test]
async fn keys_are_read_in_every_form_alipay_hands_out() {
    let alipay = fake().await;
    alipay.pay("o1", "1.00");
    let private = RsaPrivateKey::from_pkcs8_pem(SANDBOX_APP_PRIVATE_KEY).unwrap();
    let public = RsaPublicKey::from_public_key_pem(SANDBOX_ALIPAY_PUBLIC_KEY).unwrap();
    let pkcs1_private = private.to_pkcs1_pem(LineEnding::LF).unwrap().to_string();
    let pkcs1_public = public.to_pkcs1_pem(LineEnding::LF).unwrap();
    let indented_crlf: String = SANDBOX_APP_PRIVATE_KEY.lines().map(|line| format!("    {line}\r\n")).collect();
    let forms = [
        ("PKCS#8 PEM", SANDBOX_APP_PRIVATE_KEY.to_string(), SANDBOX_ALIPAY_PUBLIC_KEY.to_string()),
        ("PKCS#1 PEM", pkcs1_private.clone(), pkcs1_public.clone()),
        ("bare base64 (PKCS#8, SPKI)", bare(SANDBOX_APP_PRIVATE_KEY), bare(SANDBOX_ALIPAY_PUBLIC_KEY)),
        ("bare base64 (PKCS#1)", bare(&pkcs1_private), bare(&pkcs1_public)),
        ("indented, CRLF", indented_crlf, format!("\n  {SANDBOX_ALIPAY_PUBLIC_KEY}  \n")),
    ];
    for (what, private, public) in forms {
        let client = AlipayClient::new(reqwest::Client::new(), config(&alipay.gateway_url, &private, &public))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let answer = client.query("o1").await.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(answer.status, TradeStatus::Success, "{what}");
    }
}

#[test]
fn unreadable_keys_are_config_errors_that_show_no_key() {
    let truncated: String =
        SANDBOX_APP_PRIVATE_KEY.lines().take(10).chain(["-----END PRIVATE KEY-----"]).collect::<Vec<_>>().join("\n");
    let mut corrupted = SANDBOX_APP_PRIVATE_KEY.to_string();
    corrupted.replace_range(200..204, "AAAA");
    let private_cases = [
        ("garbage", "not a key".to_string()),
        ("empty", String::new()),
        ("truncated", truncated),
        ("corrupted", corrupted),
        ("a public key", SANDBOX_APP_PUBLIC_KEY.to_string()),
        ("a certificate", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".to_string()),
    ];
    for (what, private) in private_cases {
        let error = AlipayClient::new(reqwest::Client::new(), config("http://x", &private, SANDBOX_ALIPAY_PUBLIC_KEY))
            .unwrap_err();
        let AlipayError::Config(message) = &error else { panic!("{what}: {error:?}") };
        assert!(message.starts_with("app_private_key: "), "{what}: {message}");
        assert!(!error.is_retryable());
        for line in key_lines(SANDBOX_APP_PRIVATE_KEY) {
            assert!(!message.contains(line), "{what}: the key shows in {message}");
        }
    }
    for (what, public) in [("garbage", "%%%"), ("a private key", SANDBOX_APP_PRIVATE_KEY)] {
        let error =
            AlipayClient::new(reqwest::Client::new(), config("http://x", SANDBOX_APP_PRIVATE_KEY, public)).unwrap_err();
        assert!(matches!(&error, AlipayError::Config(m) if m.starts_with("alipay_public_key: ")), "{what}: {error:?}");
        assert!(key_lines(SANDBOX_APP_PRIVATE_KEY).iter().all(|line| !error.to_string().contains(line)), "{what}");
    }
}

#[test]
fn keys_never_print() {
    let config = config("http://127.0.0.1:1/gateway.do", SANDBOX_APP_PRIVATE_KEY, SANDBOX_ALIPAY_PUBLIC_KEY);
    let client = AlipayClient::new(reqwest::Client::new(), config.clone()).unwrap();
    assert_eq!(client.app_id(), APP_ID);
    for printed in [format!("{config:?}"), format!("{client:?}"), format!("{config:#?}"), format!("{client:#?}")] {
        assert!(printed.contains(APP_ID), "{printed}");
        for line in key_lines(SANDBOX_APP_PRIVATE_KEY).into_iter().chain(key_lines(SANDBOX_ALIPAY_PUBLIC_KEY)) {
            assert!(!printed.contains(line), "a key prints: {printed}");
        }
        assert!(!printed.contains("BEGIN"), "{printed}");
    }
}

#[test]
fn amounts_read_in_fen() {
    for (text, fen) in
        [("12.50", Some(1250)), ("12.5", Some(1250)), ("12", Some(1200)), ("0.01", Some(1)), ("0.00", Some(0))]
    {
        assert_eq!(amount_in_fen(text), fen, "{text}");
    }
    for text in ["", ".5", "12.", "12.345", "-1.00", "1,00", " 1.00", "1e3", "99999999999999999999.00"] {
        assert_eq!(amount_in_fen(text), None, "{text:?}");
    }
}

/// The built-in fake's Alipay key is published with OpsDeck: a client that would verify with it
/// is refused unless its gateway is on this machine (the fake's). Any other key is fine anywhere.
#[test]
fn the_fakes_published_key_is_refused_for_a_gateway_elsewhere() {
    let at = |gateway: &str, alipay_public_key: &str| {
        AlipayClient::new(reqwest::Client::new(), config(gateway, SANDBOX_APP_PRIVATE_KEY, alipay_public_key))
    };
    let real_gateway = "https://openapi.alipay.com/gateway.do";
    match at(real_gateway, SANDBOX_ALIPAY_PUBLIC_KEY) {
        Err(AlipayError::Config(why)) => assert!(why.contains("published"), "{why}"),
        other => panic!("the published key was accepted for Alipay's own gateway: {other:?}"),
    }
    for local in ["http://127.0.0.1:9/gateway.do", "http://localhost:9/gateway.do", "http://[::1]:9/gateway.do"] {
        let client = at(local, SANDBOX_ALIPAY_PUBLIC_KEY).unwrap();
        assert!(client.trusts_published_sandbox_key());
    }
    // Another key (here the fake's app key, standing in for Alipay's real one): fine anywhere.
    let other = at(real_gateway, SANDBOX_APP_PUBLIC_KEY).unwrap();
    assert!(!other.trusts_published_sandbox_key());
}
