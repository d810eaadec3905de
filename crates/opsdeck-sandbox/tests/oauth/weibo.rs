//! Weibo: the token answer, `users/show`, and its error codes.

use super::*;

async fn weibo_error(answer: reqwest::Response) -> Value {
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    assert!(content_type(&answer).starts_with("application/json"));
    answer.json().await.unwrap()
}

#[tokio::test]
async fn weibo_token_answer_and_user_show() {
    let fake = fake(Provider::Weibo).await;
    let code = code_by_page(&fake, "5678001", "w").await;
    let answer = weibo_token(&fake, &code, &[]).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(content_type(&answer).starts_with("application/json"));
    let token: Value = answer.json().await.unwrap();
    assert_eq!(token["uid"], "5678001", "uid is a string in the token answer");
    assert_eq!(token["expires_in"], 157_679_999);
    assert_eq!(token["remind_in"], "157679999");
    let access = token["access_token"].as_str().unwrap();
    assert!(access.starts_with("2.00"));

    let user: Value = http()
        .get(format!("{}/2/users/show.json", fake.base_url))
        .query(&[("access_token", access), ("uid", "5678001")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["id"], 5_678_001, "id is a number");
    assert_eq!(user["idstr"], "5678001");
    assert_eq!(user["screen_name"], "沙盒微博用户");
    assert_eq!(user["name"], "沙盒微博用户");
    assert_eq!(user["gender"], "m");
    assert_eq!(user["profile_image_url"], fake.config().users[0].avatar);
    assert_eq!(user["avatar_large"], fake.config().users[0].avatar);
}

#[tokio::test]
async fn weibo_takes_the_token_parameters_from_the_query_string_too() {
    let fake = fake(Provider::Weibo).await;
    let code = code_at_once(&fake).await;
    let c = fake.config();
    let answer = http()
        .post(format!("{}/oauth2/access_token", fake.base_url))
        .query(&[
            ("client_id", c.client_id.as_str()),
            ("client_secret", &c.client_secret),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &c.redirect_uri),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let token: Value = answer.json().await.unwrap();
    assert_eq!(token["uid"], "5678001");
}

#[tokio::test]
async fn weibo_token_errors() {
    let fake = fake(Provider::Weibo).await;
    let code = code_at_once(&fake).await;

    let body = weibo_error(weibo_token(&fake, &code, &[("redirect_uri", Some("https://evil.invalid/cb"))]).await).await;
    assert_eq!((body["error"].as_str(), body["error_code"].as_i64()), (Some("redirect_uri_mismatch"), Some(21322)));
    assert_eq!(body["request"], "/oauth2/access_token");
    assert_eq!(body["error_uri"], "/oauth2/access_token");
    assert!(body["error_description"].is_string());

    let body = weibo_error(weibo_token(&fake, &code, &[("client_secret", Some("wrong"))]).await).await;
    assert_eq!((body["error"].as_str(), body["error_code"].as_i64()), (Some("invalid_client"), Some(21324)));
    let body = weibo_error(weibo_token(&fake, &code, &[("client_id", Some("wrong"))]).await).await;
    assert_eq!(body["error_code"], 21324);
    let body = weibo_error(weibo_token(&fake, &code, &[("grant_type", Some("password"))]).await).await;
    assert_eq!((body["error"].as_str(), body["error_code"].as_i64()), (Some("unsupported_grant_type"), Some(21328)));
    let body = weibo_error(weibo_token(&fake, "not-a-code", &[]).await).await;
    assert_eq!((body["error"].as_str(), body["error_code"].as_i64()), (Some("invalid_grant"), Some(21325)));

    // The failures above did not spend the code; the first good exchange does.
    assert_eq!(weibo_token(&fake, &code, &[]).await.status(), StatusCode::OK);
    let body = weibo_error(weibo_token(&fake, &code, &[]).await).await;
    assert_eq!((body["error"].as_str(), body["error_code"].as_i64()), (Some("invalid_grant"), Some(21325)));
}

#[tokio::test]
async fn weibo_user_show_refuses_expired_and_unknown_tokens() {
    let fake = fake(Provider::Weibo).await;
    let code = code_at_once(&fake).await;
    let token: Value = weibo_token(&fake, &code, &[]).await.json().await.unwrap();
    let show = |token: String| {
        let url = format!("{}/2/users/show.json", fake.base_url);
        async move { http().get(url).query(&[("access_token", token.as_str()), ("uid", "5678001")]).send().await.unwrap() }
    };
    fake.expire_tokens();
    let body = weibo_error(show(token["access_token"].as_str().unwrap().to_string()).await).await;
    assert_eq!(body, json!({ "error": "expired_token", "error_code": 21327, "request": "/2/users/show.json" }));
    let body = weibo_error(show("2.00unknown".into()).await).await;
    assert_eq!(body, json!({ "error": "invalid_access_token", "error_code": 21332, "request": "/2/users/show.json" }));

    // A token issued after expire_tokens works.
    let code = code_at_once(&fake).await;
    let token: Value = weibo_token(&fake, &code, &[]).await.json().await.unwrap();
    assert_eq!(show(token["access_token"].as_str().unwrap().to_string()).await.status(), StatusCode::OK);
}
