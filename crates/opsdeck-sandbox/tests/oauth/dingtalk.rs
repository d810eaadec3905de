//! DingTalk: the camelCase token answer, `users/me`, and its error codes.

use super::*;

async fn dingtalk_error(answer: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(answer.status(), status);
    assert!(content_type(&answer).starts_with("application/json"));
    let body: Value = answer.json().await.unwrap();
    assert!(body["requestid"].as_str().is_some_and(|r| !r.is_empty()), "{body}");
    assert!(body["message"].is_string());
    body
}

#[tokio::test]
async fn dingtalk_token_and_users_me() {
    let fake = fake(Provider::Dingtalk).await;
    let user = fake.config().users[1].clone();
    let code = code_by_page(&fake, &user.uid, "dt").await;
    let answer = dingtalk_token(&fake, &dingtalk_body(&fake, &code)).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let token: Value = answer.json().await.unwrap();
    assert_eq!(token["expireIn"], 7200);
    assert!(token["refreshToken"].is_string() && token["corpId"].is_string());
    let access = token["accessToken"].as_str().unwrap().to_string();

    let me = |access: Option<String>| {
        let url = format!("{}/v1.0/contact/users/me", fake.base_url);
        async move {
            let mut request = http().get(url);
            if let Some(access) = access {
                request = request.header("x-acs-dingtalk-access-token", access);
            }
            request.send().await.unwrap()
        }
    };
    let answer = me(Some(access.clone())).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "nick": "Sandbox DingTalk Two",
            "avatarUrl": user.avatar,
            "mobile": "13800000002",
            "openId": user.uid,
            "unionId": user.unionid,
            "email": user.email,
            "stateCode": "86",
        })
    );

    let body = dingtalk_error(me(None).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["code"], "InvalidAuthentication");
    let body = dingtalk_error(me(Some("unknown".into())).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["code"], "InvalidAuthentication");
    fake.expire_tokens();
    let body = dingtalk_error(me(Some(access)).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["code"], "InvalidAuthentication");
    assert_eq!(body["message"], "不合法的access_token");
}

#[tokio::test]
async fn dingtalk_token_errors() {
    let fake = fake(Provider::Dingtalk).await;
    let code = code_at_once(&fake).await;
    let mut bad_secret = dingtalk_body(&fake, &code);
    bad_secret["clientSecret"] = json!("wrong");
    let body = dingtalk_error(dingtalk_token(&fake, &bad_secret).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["code"], "InvalidAuthentication");
    assert!(body["message"].as_str().unwrap().contains("clientSecret"));
    let mut bad_client = dingtalk_body(&fake, &code);
    bad_client["clientId"] = json!("ding-nobody");
    let body = dingtalk_error(dingtalk_token(&fake, &bad_client).await, StatusCode::BAD_REQUEST).await;
    assert!(body["message"].as_str().unwrap().contains("clientId"));

    let body =
        dingtalk_error(dingtalk_token(&fake, &dingtalk_body(&fake, "nope")).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["code"], "InvalidAuthentication");
    assert!(body["message"].as_str().unwrap().contains("invalid"));

    let mut missing = dingtalk_body(&fake, &code);
    missing.as_object_mut().unwrap().remove("code");
    let body = dingtalk_error(dingtalk_token(&fake, &missing).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["code"], "MissingParameter");
    let answer = http()
        .post(format!("{}/v1.0/oauth2/userAccessToken", fake.base_url))
        .header("content-type", "application/json")
        .body("clientId=x")
        .send()
        .await
        .unwrap();
    assert_eq!(dingtalk_error(answer, StatusCode::BAD_REQUEST).await["code"], "MissingParameter");

    assert_eq!(dingtalk_token(&fake, &dingtalk_body(&fake, &code)).await.status(), StatusCode::OK);
    let body = dingtalk_error(dingtalk_token(&fake, &dingtalk_body(&fake, &code)).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["code"], "InvalidAuthentication");
    assert!(body["message"].as_str().unwrap().contains("used"));
}
