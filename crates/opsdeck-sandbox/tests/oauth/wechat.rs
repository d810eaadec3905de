//! WeChat: the token answer, `userinfo`, and its error codes.

use super::*;

#[tokio::test]
async fn wechat_token_and_userinfo() {
    let fake = fake(Provider::Wechat).await;
    let user = fake.config().users[0].clone();
    let code = code_by_page(&fake, &user.uid, "wx").await;
    let token = wechat_token(&fake, &code, &[]).await;
    assert_eq!(token["expires_in"], 7200);
    assert_eq!(token["openid"], user.uid);
    assert_eq!(token["scope"], "snsapi_login");
    assert_eq!(token["unionid"], user.unionid.clone().unwrap());
    assert!(token["refresh_token"].is_string());
    let access = token["access_token"].as_str().unwrap().to_string();

    let userinfo = |access: String, openid: String| {
        let url = format!("{}/sns/userinfo", fake.base_url);
        async move {
            let answer = http()
                .get(url)
                .query(&[("access_token", access), ("openid", openid), ("lang", "zh_CN".into())])
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), StatusCode::OK);
            answer.json::<Value>().await.unwrap()
        }
    };
    let body = userinfo(access.clone(), user.uid.clone()).await;
    assert_eq!(body["openid"], user.uid);
    assert_eq!(body["nickname"], "沙盒微信用户");
    assert_eq!(body["sex"], 1);
    assert_eq!(body["headimgurl"], user.avatar);
    assert_eq!(body["privilege"], json!([]));
    assert_eq!(body["unionid"], user.unionid.clone().unwrap());
    for field in ["province", "city", "country"] {
        assert!(body[field].is_string(), "{field}");
    }

    assert_eq!(userinfo(access.clone(), "oSomeoneElse".into()).await["errcode"], 40003);
    assert_eq!(
        userinfo("unknown".into(), user.uid.clone()).await,
        json!({ "errcode": 40001, "errmsg": "invalid credential" })
    );
    fake.expire_tokens();
    assert_eq!(userinfo(access, user.uid).await, json!({ "errcode": 42001, "errmsg": "access_token expired" }));
}

#[tokio::test]
async fn wechat_token_errors() {
    let fake = fake(Provider::Wechat).await;
    let code = code_at_once(&fake).await;
    assert_eq!(
        wechat_token(&fake, &code, &[("appid", Some("wx0000"))]).await,
        json!({ "errcode": 40013, "errmsg": "invalid appid" })
    );
    assert_eq!(
        wechat_token(&fake, &code, &[("secret", Some("wrong"))]).await,
        json!({ "errcode": 40125, "errmsg": "invalid appsecret" })
    );
    assert_eq!(wechat_token(&fake, "nope", &[]).await, json!({ "errcode": 40029, "errmsg": "invalid code" }));
    assert!(wechat_token(&fake, &code, &[]).await["access_token"].is_string());
    assert_eq!(wechat_token(&fake, &code, &[]).await, json!({ "errcode": 40163, "errmsg": "code been used" }));
}
