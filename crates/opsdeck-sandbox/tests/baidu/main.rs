//! The fake Baidu against docs/providers.md §1, through real HTTP.

use std::time::Duration;

use opsdeck_sandbox::baidu::{BaiduConfig, FakeBaidu};
use serde_json::Value;

async fn fake(config: BaiduConfig) -> FakeBaidu {
    FakeBaidu::start("127.0.0.1:0".parse().unwrap(), config).await.unwrap()
}

fn quick() -> BaiduConfig {
    BaiduConfig { latency: Duration::ZERO, ..BaiduConfig::default() }
}

async fn token(baidu: &FakeBaidu) -> String {
    let answer: Value = reqwest::Client::new()
        .get(format!("{}/oauth/2.0/token", baidu.base_url))
        .query(&[
            ("grant_type", "client_credentials"),
            ("client_id", "sandbox-api-key"),
            ("client_secret", "sandbox-secret-key"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_string()
}

async fn idcard(baidu: &FakeBaidu, token: &str, form: &[(&str, &str)]) -> Value {
    reqwest::Client::new()
        .post(format!("{}/rest/2.0/ocr/v1/idcard", baidu.base_url))
        .query(&[("access_token", token)])
        .form(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_token_endpoint_answers_get_and_post_and_refuses_bad_keys() {
    let baidu = fake(quick()).await;
    let client = reqwest::Client::new();
    let url = format!("{}/oauth/2.0/token", baidu.base_url);
    let params = [
        ("grant_type", "client_credentials"),
        ("client_id", "sandbox-api-key"),
        ("client_secret", "sandbox-secret-key"),
    ];
    let by_get: Value = client.get(&url).query(&params).send().await.unwrap().json().await.unwrap();
    let by_post: Value = client.post(&url).form(&params).send().await.unwrap().json().await.unwrap();
    for answer in [&by_get, &by_post] {
        assert_eq!(answer["expires_in"], 2_592_000);
        assert!(answer["access_token"].as_str().unwrap().starts_with("24."));
        assert!(answer["refresh_token"].as_str().unwrap().starts_with("25."));
    }
    assert_ne!(by_get["access_token"], by_post["access_token"]);
    let bad = client
        .get(&url)
        .query(&[("grant_type", "client_credentials"), ("client_id", "x"), ("client_secret", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(baidu.token_calls(), 2);
}

#[tokio::test]
async fn recognition_is_deterministic_per_url_with_valid_id_numbers() {
    let baidu = fake(quick()).await;
    let token = token(&baidu).await;
    let url = "https://cdn.example.com/id/1.jpg";
    let first = idcard(&baidu, &token, &[("url", url), ("id_card_side", "front")]).await;
    let again = idcard(&baidu, &token, &[("url", url), ("id_card_side", "front")]).await;
    assert_eq!(first["words_result"], again["words_result"]);
    assert_eq!(first["image_status"], "normal");
    assert!(first["log_id"].is_u64());
    let number = first["words_result"]["公民身份号码"]["words"].as_str().unwrap();
    assert_eq!(number.len(), 18);
    let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = number.chars().take(17).zip(weights).map(|(c, w)| c.to_digit(10).unwrap() * w).sum();
    assert_eq!(
        number.chars().last().unwrap(),
        ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'][(sum % 11) as usize]
    );
    for key in ["姓名", "性别", "民族", "出生", "住址"] {
        assert!(first["words_result"][key]["words"].is_string(), "{key}");
    }
    let back = idcard(&baidu, &token, &[("url", url), ("id_card_side", "back")]).await;
    for key in ["签发机关", "签发日期", "失效日期"] {
        assert!(back["words_result"][key]["words"].is_string(), "{key}");
    }
    let other = idcard(&baidu, &token, &[("url", "https://cdn.example.com/id/2.jpg"), ("id_card_side", "front")]).await;
    assert_ne!(other["words_result"]["公民身份号码"], first["words_result"]["公民身份号码"]);
    let arrivals = baidu.arrivals();
    assert_eq!(arrivals.len(), 4);
    assert_eq!(arrivals[0].url.as_deref(), Some(url));
}

/// The error code of an idcard call (None: recognised).
async fn code_of(baidu: &FakeBaidu, token: &str, form: &[(&str, &str)]) -> Option<i64> {
    idcard(baidu, token, form).await["error_code"].as_i64()
}

#[tokio::test]
async fn every_error_path_answers_with_its_code() {
    let baidu = fake(BaiduConfig { qps: 1000, daily_quota: 12, ..quick() }).await;
    let token = token(&baidu).await;
    assert_eq!(code_of(&baidu, "nonsense", &[("url", "https://x/1.jpg"), ("id_card_side", "front")]).await, Some(110));
    assert_eq!(code_of(&baidu, &token, &[("url", "https://x/1.jpg")]).await, Some(216101));
    assert_eq!(code_of(&baidu, &token, &[("url", "https://x/1.jpg"), ("id_card_side", "side")]).await, Some(216100));
    assert_eq!(code_of(&baidu, &token, &[("image", "%%%not base64"), ("id_card_side", "front")]).await, Some(216201));
    assert_eq!(
        code_of(&baidu, &token, &[("url", "https://x/too-large.jpg"), ("id_card_side", "front")]).await,
        Some(216202)
    );
    assert_eq!(code_of(&baidu, &token, &[("url", "ftp://x/1.jpg"), ("id_card_side", "front")]).await, Some(282111));
    // A scripted transient fault: twice 282000, then recognised.
    let flaky = "https://x/flaky.jpg?fail=282000&times=2";
    assert_eq!(code_of(&baidu, &token, &[("url", flaky), ("id_card_side", "front")]).await, Some(282000));
    assert_eq!(code_of(&baidu, &token, &[("url", flaky), ("id_card_side", "front")]).await, Some(282000));
    assert_eq!(code_of(&baidu, &token, &[("url", flaky), ("id_card_side", "front")]).await, None);
    let image = "aGVsbG8="; // "hello": any bytes read as a card here
    assert_eq!(code_of(&baidu, &token, &[("image", image), ("id_card_side", "front")]).await, None);

    baidu.expire_tokens();
    assert_eq!(code_of(&baidu, &token, &[("url", "https://x/1.jpg"), ("id_card_side", "front")]).await, Some(111));
    baidu.revoke_tokens();
    assert_eq!(code_of(&baidu, &token, &[("url", "https://x/1.jpg"), ("id_card_side", "front")]).await, Some(110));
    let fresh = self::token(&baidu).await;
    // The daily quota (12) is reached after the calls that were accepted so far.
    let mut last = None;
    for _ in 0..12 {
        last = code_of(&baidu, &fresh, &[("url", "https://x/q.jpg"), ("id_card_side", "front")]).await;
        if last == Some(17) {
            break;
        }
    }
    assert_eq!(last, Some(17), "the daily quota answers 17");
}

#[tokio::test]
async fn calls_beyond_the_qps_cap_answer_18() {
    let baidu = fake(BaiduConfig { qps: 2, ..quick() }).await;
    let token = token(&baidu).await;
    let mut codes = Vec::new();
    for n in 0..4 {
        let url = format!("https://x/{n}.jpg");
        let answer = idcard(&baidu, &token, &[("url", &url), ("id_card_side", "front")]).await;
        codes.push(answer["error_code"].as_i64());
    }
    assert_eq!(codes[..2], [None, None], "two calls fit in a second");
    assert!(codes[2..].iter().all(|c| *c == Some(18)), "{codes:?}");
    assert_eq!(baidu.arrivals().iter().filter(|a| a.error_code == Some(18)).count(), 2, "refusals are logged too");
}
