//! QQ: the token answer (form-encoded or JSON), `me` (JSONP or JSON), `get_user_info`, and its
//! error codes.

use super::*;

#[tokio::test]
async fn qq_token_answers_form_encoded_by_default_and_json_with_fmt_json() {
    let fake = fake(Provider::Qq).await;
    let code = code_at_once(&fake).await;
    let answer = qq_token(&fake, &code, &[]).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(content_type(&answer).starts_with("text/html"));
    let text = answer.text().await.unwrap();
    let form = form_answer(&text);
    assert!(text.starts_with("access_token="), "{text}");
    assert_eq!(form["expires_in"], "7776000");
    assert!(!form["refresh_token"].is_empty() && !form["access_token"].is_empty());

    let code = code_at_once(&fake).await;
    let answer = qq_token(&fake, &code, &[("fmt", Some("json"))]).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(content_type(&answer).starts_with("text/html"), "JSON, still labelled text/html");
    let token: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
    assert_eq!(token["expires_in"], "7776000", "a string, as QQ sends it");
    assert!(token["access_token"].is_string() && token["refresh_token"].is_string());
}

#[tokio::test]
async fn qq_me_answers_jsonp_or_json_with_the_unionid_when_asked() {
    let fake = fake(Provider::Qq).await;
    let user = fake.config().users[0].clone();
    let code = code_at_once(&fake).await;
    let token = form_answer(&qq_token(&fake, &code, &[]).await.text().await.unwrap())["access_token"].clone();
    let me = |query: Vec<(&'static str, String)>| {
        let url = format!("{}/oauth2.0/me", fake.base_url);
        async move { http().get(url).query(&query).send().await.unwrap() }
    };

    let answer = me(vec![("access_token", token.clone())]).await;
    assert!(content_type(&answer).starts_with("text/html"));
    let text = answer.text().await.unwrap();
    assert!(text.starts_with("callback( {") && text.ends_with("} );\n"), "{text:?}");
    assert_eq!(jsonp(&text), json!({ "client_id": fake.config().client_id, "openid": user.uid }));

    let text = me(vec![("access_token", token.clone()), ("unionid", "1".into())]).await.text().await.unwrap();
    assert_eq!(jsonp(&text)["unionid"], user.unionid.clone().unwrap());

    let text = me(vec![("access_token", token.clone()), ("unionid", "1".into()), ("fmt", "json".into())])
        .await
        .text()
        .await
        .unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body, json!({ "client_id": fake.config().client_id, "openid": user.uid, "unionid": user.unionid }));

    fake.expire_tokens();
    let answer = me(vec![("access_token", token.clone())]).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        jsonp(&answer.text().await.unwrap()),
        json!({ "error": 100014, "error_description": "access token expired" })
    );
    let text = me(vec![("access_token", token), ("fmt", "json".into())]).await.text().await.unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["error"], 100014);
    let text = me(vec![("access_token", "UNKNOWN".into())]).await.text().await.unwrap();
    assert_eq!(jsonp(&text)["error"], 100013);
}

#[tokio::test]
async fn qq_get_user_info_answers_ret_and_msg() {
    let fake = fake(Provider::Qq).await;
    fake.select_user(&fake.config().users[1].uid.clone());
    let user = fake.config().users[1].clone();
    let code = code_at_once(&fake).await;
    let token = form_answer(&qq_token(&fake, &code, &[]).await.text().await.unwrap())["access_token"].clone();
    let info = |key: String, openid: String| {
        let url = format!("{}/user/get_user_info", fake.base_url);
        let token = token.clone();
        async move {
            let answer = http()
                .get(url)
                .query(&[("access_token", token), ("oauth_consumer_key", key), ("openid", openid)])
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), StatusCode::OK);
            answer.json::<Value>().await.unwrap()
        }
    };
    let client_id = fake.config().client_id.clone();
    let body = info(client_id.clone(), user.uid.clone()).await;
    assert_eq!(body["ret"], 0);
    assert_eq!(body["msg"], "");
    assert_eq!(body["nickname"], "Sandbox QQ Two");
    assert_eq!(body["gender"], "女");
    assert_eq!(body["figureurl_qq_1"], user.avatar);
    assert_eq!(body["figureurl_qq_2"], user.avatar);

    let body = info("999".into(), user.uid.clone()).await;
    assert_ne!(body["ret"], 0);
    assert!(body["msg"].as_str().unwrap().contains("oauth_consumer_key"));
    let body = info(client_id.clone(), "SOMEONE".into()).await;
    assert_ne!(body["ret"], 0);

    fake.expire_tokens();
    let body = info(client_id, user.uid).await;
    assert_eq!(body, json!({ "ret": 100014, "msg": "access token expired" }));
}

#[tokio::test]
async fn qq_token_errors_are_jsonp_or_json_with_http_200() {
    let fake = fake(Provider::Qq).await;
    let code = code_at_once(&fake).await;
    let cases: [(Overrides<'_>, i64); 4] = [
        (&[("redirect_uri", Some("https://evil.invalid/cb"))], 100010),
        (&[("client_secret", Some("wrong"))], 100009),
        (&[("client_id", Some("wrong"))], 100008),
        (&[("code", Some("NOTACODE"))], 100019),
    ];
    for (overrides, expected) in cases {
        let answer = qq_token(&fake, &code, overrides).await;
        assert_eq!(answer.status(), StatusCode::OK);
        assert!(content_type(&answer).starts_with("text/html"));
        let body = jsonp(&answer.text().await.unwrap());
        assert_eq!(body["error"], expected, "{overrides:?}");
        assert!(body["error_description"].is_string());

        let mut with_json = overrides.to_vec();
        with_json.push(("fmt", Some("json")));
        let text = qq_token(&fake, &code, &with_json).await.text().await.unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["error"], expected, "{text}");
    }
    let text = qq_token(&fake, &code, &[]).await.text().await.unwrap();
    assert!(text.starts_with("access_token="), "the failures did not spend the code: {text}");
    let text = qq_token(&fake, &code, &[]).await.text().await.unwrap();
    assert_eq!(text, "callback( {\"error\":100020,\"error_description\":\"code is reused error\"} );\n");
    let text = qq_token(&fake, &code, &[("fmt", Some("json"))]).await.text().await.unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({ "error": 100020, "error_description": "code is reused error" })
    );
}
