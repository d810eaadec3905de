//! The fake itself, common to the four: its sandbox configs and users, the call log, code
//! expiry, stopping, and a user without the optional fields.

use super::*;

#[test]
fn the_sandbox_configs_are_distinct_and_complete() {
    let mut uids = Vec::new();
    for provider in Provider::ALL {
        let c = FakeOAuthConfig::sandbox(provider);
        let key = provider.key();
        assert_eq!(c.provider, provider);
        assert_eq!(c.client_id, format!("sandbox-{key}-client"));
        assert_eq!(c.client_secret, format!("sandbox-{key}-secret"));
        assert_eq!(c.redirect_uri, format!("https://opsdeck.invalid/oauth/callback/{key}"));
        assert_eq!(c.users.len(), 2);
        assert!(!c.auto_approve);
        assert_eq!(c.code_ttl, Duration::from_secs(600));
        for user in &c.users {
            assert!(user.avatar.starts_with("https://"), "{key}");
            uids.push(user.uid.clone());
        }
        assert!(!format!("{c:?}").contains(&c.client_secret), "the secret never prints");
    }
    let secs = |p| FakeOAuthConfig::sandbox(p).token_ttl.as_secs();
    assert_eq!(
        [secs(Provider::Weibo), secs(Provider::Qq), secs(Provider::Wechat), secs(Provider::Dingtalk)],
        [157_679_999, 7_776_000, 7_200, 7_200]
    );
    let weibo = FakeOAuthConfig::sandbox(Provider::Weibo);
    assert_eq!((weibo.users[0].uid.as_str(), weibo.users[0].nickname.as_str()), ("5678001", "沙盒微博用户"));
    assert_eq!((weibo.users[1].uid.as_str(), weibo.users[1].nickname.as_str()), ("5678002", "Sandbox Weibo Two"));
    let dingtalk = FakeOAuthConfig::sandbox(Provider::Dingtalk);
    assert_eq!(dingtalk.users[0].mobile.as_deref(), Some("13800000001"));
    assert_eq!(dingtalk.users[1].mobile.as_deref(), Some("13800000002"));
    assert!(dingtalk.users.iter().all(|u| u.unionid.is_some() && u.email.is_some()));
    let mut unique = uids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), uids.len(), "users are distinct across providers");
    let keys: Vec<_> = Provider::ALL.iter().map(|p| (p.key(), p.display_name())).collect();
    assert_eq!(keys, [("weibo", "Weibo"), ("qq", "QQ"), ("wechat", "WeChat"), ("dingtalk", "DingTalk")]);
}

#[tokio::test]
async fn every_request_is_logged_in_order() {
    let fake = fake(Provider::Weibo).await;
    let code = code_by_page(&fake, "5678001", "logged").await;
    let _ = weibo_token(&fake, &code, &[]).await;
    let calls = fake.calls();
    let seen: Vec<(&str, &str)> = calls.iter().map(|c| (c.method.as_str(), c.path.as_str())).collect();
    assert_eq!(seen, [("GET", "/oauth2/authorize"), ("POST", "/__sandbox/decide"), ("POST", "/oauth2/access_token")]);
    assert!(calls[0].query.contains("state=logged") && calls[0].query.contains("response_type=code"));
    assert!(calls[1].body.contains("decision=authorize"));
    assert!(calls[2].body.contains(&format!("code={code}")) && calls[2].body.contains("grant_type=authorization_code"));
    assert_eq!(calls[2].query, "");
}

#[tokio::test]
async fn a_code_is_expired_once_its_ttl_is_over() {
    for provider in Provider::ALL {
        let mut config = FakeOAuthConfig::sandbox(provider);
        config.code_ttl = Duration::ZERO;
        let fake = start(config).await;
        let code = code_at_once(&fake).await;
        match provider {
            Provider::Weibo => {
                let answer = weibo_token(&fake, &code, &[]).await;
                assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
                let body: Value = answer.json().await.unwrap();
                assert_eq!((body["error"].as_str(), body["error_code"].as_i64()), (Some("invalid_grant"), Some(21325)));
            }
            Provider::Qq => {
                let body = jsonp(&qq_token(&fake, &code, &[]).await.text().await.unwrap());
                assert_eq!(body["error"], 100019);
            }
            Provider::Wechat => assert_eq!(wechat_token(&fake, &code, &[]).await["errcode"], 40029),
            Provider::Dingtalk => {
                let answer = dingtalk_token(&fake, &dingtalk_body(&fake, &code)).await;
                assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
                let body: Value = answer.json().await.unwrap();
                assert_eq!(body["code"], "InvalidAuthentication");
                assert!(body["message"].as_str().unwrap().contains("expired"));
            }
        }
    }
}

#[tokio::test]
async fn dropping_the_fake_stops_its_server() {
    let fake = fake(Provider::Wechat).await;
    let addr = fake.base_url.trim_start_matches("http://").to_string();
    assert!(tokio::net::TcpStream::connect(&addr).await.is_ok());
    drop(fake);
    let mut refused = false;
    for _ in 0..1000 {
        if tokio::net::TcpStream::connect(&addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(refused, "the listener closes once the fake is dropped");
}

#[tokio::test]
async fn a_config_without_users_is_refused() {
    let mut config = FakeOAuthConfig::sandbox(Provider::Qq);
    config.users.clear();
    let error = FakeOAuth::start("127.0.0.1:0".parse().unwrap(), config).await.err().unwrap();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
}

#[tokio::test]
async fn a_user_without_optional_fields_gets_each_providers_blank() {
    let user = FakeUser {
        uid: "9000001".into(),
        unionid: None,
        nickname: "Plain".into(),
        avatar: "https://sandbox.opsdeck.invalid/a.png".into(),
        gender: None,
        mobile: None,
        email: None,
    };
    let mut config = FakeOAuthConfig::sandbox(Provider::Weibo);
    config.users = vec![user.clone()];
    let weibo = start(config).await;
    let code = code_at_once(&weibo).await;
    let token: Value = weibo_token(&weibo, &code, &[]).await.json().await.unwrap();
    let body: Value = http()
        .get(format!("{}/2/users/show.json", weibo.base_url))
        .query(&[("access_token", token["access_token"].as_str().unwrap()), ("uid", "9000001")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["gender"], "n");

    let mut config = FakeOAuthConfig::sandbox(Provider::Wechat);
    config.users = vec![user];
    let wechat = start(config).await;
    let code = code_at_once(&wechat).await;
    let token = wechat_token(&wechat, &code, &[]).await;
    assert!(token.get("unionid").is_none());
    let body: Value = http()
        .get(format!("{}/sns/userinfo", wechat.base_url))
        .query(&[("access_token", token["access_token"].as_str().unwrap()), ("openid", "9000001")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["sex"], 0);
    assert!(body.get("unionid").is_none());
}
