//! The Baidu ID-card client against the sandbox's fake Baidu (real HTTP on loopback).

use std::time::Duration;

use opsdeck_core::ocr::baidu::{BaiduError, BaiduOcr, ErrorAction, IdCardFields, Image, Side, mask_id_number};
use opsdeck_sandbox::baidu::{BaiduConfig, FakeBaidu};
use secrecy::SecretString;

async fn fake(config: BaiduConfig) -> FakeBaidu {
    FakeBaidu::start("127.0.0.1:0".parse().unwrap(), BaiduConfig { latency: Duration::ZERO, ..config }).await.unwrap()
}

fn client(baidu: &FakeBaidu, secret: &str) -> BaiduOcr {
    BaiduOcr::new(
        reqwest::Client::new(),
        &baidu.base_url,
        SecretString::from("sandbox-api-key"),
        SecretString::from(secret.to_string()),
    )
}

#[tokio::test]
async fn recognises_both_sides_and_keeps_its_token() {
    let baidu = fake(BaiduConfig::default()).await;
    let ocr = client(&baidu, "sandbox-secret-key");
    let front = ocr.recognise(Image::Url("https://cdn.example.com/a.jpg"), Side::Front).await.unwrap();
    let IdCardFields::Front(card) = &front.fields else { panic!("front fields") };
    assert_eq!(card.id_number.len(), 18);
    assert!(!card.name.is_empty() && !card.address.is_empty());
    assert_eq!(front.image_status, "normal");
    assert_eq!(front.risk_type.as_deref(), Some("normal"));
    assert!(front.log_id.is_some());
    let printed = format!("{front:?}");
    // No card data prints, not even masked.
    for personal in [&card.id_number, &mask_id_number(&card.id_number), &card.name, &card.birth_date, &card.address] {
        assert!(!printed.contains(personal.as_str()), "{personal} printed: {printed}");
    }

    let back = ocr.recognise(Image::Url("https://cdn.example.com/a.jpg"), Side::Back).await.unwrap();
    let IdCardFields::Back(back) = back.fields else { panic!("back fields") };
    assert!(back.issuing_authority.ends_with("公安局"), "{back:?}");
    let by_image = ocr.recognise(Image::Base64("aGVsbG8="), Side::Front).await.unwrap();
    assert!(matches!(by_image.fields, IdCardFields::Front(_)));
    assert_eq!(baidu.token_calls(), 1, "one token for all calls");
}

#[tokio::test]
async fn an_expired_or_invalid_token_is_replaced_and_the_call_retried_once() {
    let baidu = fake(BaiduConfig::default()).await;
    let ocr = client(&baidu, "sandbox-secret-key");
    ocr.recognise(Image::Url("https://x/1.jpg"), Side::Front).await.unwrap();
    baidu.expire_tokens();
    ocr.recognise(Image::Url("https://x/2.jpg"), Side::Front).await.expect("refreshed after 111");
    assert_eq!(baidu.token_calls(), 2);
    baidu.revoke_tokens();
    ocr.recognise(Image::Url("https://x/3.jpg"), Side::Front).await.expect("refreshed after 110");
    assert_eq!(baidu.token_calls(), 3);
    let codes: Vec<Option<i64>> = baidu.arrivals().iter().map(|a| a.error_code).collect();
    assert_eq!(codes, [None, Some(111), None, Some(110), None]);
}

#[tokio::test]
async fn each_error_code_maps_to_its_action() {
    let baidu = fake(BaiduConfig { qps: 1000, ..BaiduConfig::default() }).await;
    let ocr = client(&baidu, "sandbox-secret-key");
    let cases = [
        ("https://x/a.jpg?fail=1", ErrorAction::Retry),
        ("https://x/b.jpg?fail=2", ErrorAction::Retry),
        ("https://x/c.jpg?fail=4", ErrorAction::Retry),
        ("https://x/d.jpg?fail=282000", ErrorAction::Retry),
        ("https://x/e.jpg?fail=18", ErrorAction::SlowDown),
        ("https://x/f.jpg?fail=17", ErrorAction::PauseUntilQuotaReset),
        ("https://x/g.jpg?fail=6", ErrorAction::PauseMisconfigured),
        ("https://x/h.jpg?fail=14", ErrorAction::PauseMisconfigured),
        ("https://x/i.jpg?fail=19", ErrorAction::PauseMisconfigured),
        ("https://x/j.jpg?fail=100", ErrorAction::DeadLetter),
        ("https://x/k.jpg?fail=216633", ErrorAction::DeadLetter),
        ("https://x/bad-format.jpg", ErrorAction::DeadLetter),
        ("https://x/too-large.jpg", ErrorAction::DeadLetter),
        ("https://x/unreachable.jpg", ErrorAction::DeadLetter),
    ];
    for (url, action) in cases {
        let error = ocr.recognise(Image::Url(url), Side::Front).await.unwrap_err();
        assert_eq!(error.action(), action, "{url}: {error}");
        assert!(matches!(error, BaiduError::Api { log_id: Some(_), .. }), "{url}: the log id is kept");
    }
    let bad_keys = client(&baidu, "wrong-secret");
    let refused = bad_keys.recognise(Image::Url("https://x/1.jpg"), Side::Front).await.unwrap_err();
    assert!(matches!(refused, BaiduError::Credentials(_)), "{refused}");
    assert_eq!(refused.action(), ErrorAction::PauseMisconfigured);
    assert!(!refused.to_string().contains("wrong-secret"), "the secret never prints");
    let nowhere =
        BaiduOcr::new(reqwest::Client::new(), "http://127.0.0.1:9", SecretString::from("k"), SecretString::from("s"));
    let down = nowhere.recognise(Image::Url("https://x/1.jpg"), Side::Front).await.unwrap_err();
    assert_eq!(down.action(), ErrorAction::Retry, "{down}");
}
