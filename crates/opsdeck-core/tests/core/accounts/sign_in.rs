//! Signing in: every provider through its fake (the same user each time, each its own parameters),
//! bad, reused and expired codes and tokens refused with the provider's code, the state checked
//! (mismatch, replay, refusal, cancellation), and the code flow with PKCE against a real provider.

use opsdeck_api::ErrorBody;
use opsdeck_core::accounts::model::{ProviderKey, Purpose, Role, SignInOutcome, UserQuery};
use opsdeck_core::accounts::{Actor, Callback};
use opsdeck_sandbox::oauth::Provider;

use super::{BINDING, World, assert_no_provider_token_stored, code_of, key_of, oidc_issuer, oidc_login, signed_in};

#[tokio::test]
async fn every_chinese_provider_signs_in_and_returns_the_same_user() {
    let world = World::start(None, &[]).await;
    for (n, provider) in Provider::ALL.into_iter().enumerate() {
        let (user_id, new_user, staff) = signed_in(world.sign_in(provider).await.unwrap());
        assert!(new_user, "{provider:?}: a first sign-in creates a user");
        // The very first console sign-in becomes admin; later ones get no role (the default).
        assert_eq!(staff.map(|s| s.role), if n == 0 { Some(Role::Admin) } else { None }, "{provider:?}");
        let again = signed_in(world.sign_in(provider).await.unwrap());
        assert_eq!((again.0, again.1), (user_id, false), "{provider:?}: the same identity is the same user");
        let user = world.core.user_get(user_id).await.unwrap();
        assert_eq!(user.links.len(), 1);
        assert_eq!(user.links[0].provider, key_of(provider));
        let fake_user = &world.fake(provider).config().users[0];
        assert_eq!(user.nickname.as_deref(), Some(fake_user.nickname.as_str()), "{provider:?}: nickname");
        assert!(!user.links[0].uid_masked.contains(&fake_user.uid) || fake_user.uid.len() <= 4, "uid masked");
        assert!(user.links[0].last_sign_in_at.is_some());
    }
    assert_no_provider_token_stored(&world).await;
    world.core.shutdown().await;
}

#[tokio::test]
async fn adapters_send_each_provider_its_own_parameters() {
    let world = World::start(None, &[]).await;
    for provider in Provider::ALL {
        world.sign_in(provider).await.unwrap();
    }
    let calls = |p: Provider| world.fake(p).calls();
    let weibo = calls(Provider::Weibo);
    let token = weibo.iter().find(|c| c.path == "/oauth2/access_token").unwrap();
    assert_eq!(token.method, "POST");
    assert!(
        token.body.contains("grant_type=authorization_code") && token.body.contains("redirect_uri="),
        "{}",
        token.body
    );
    assert!(weibo.iter().any(|c| c.path == "/2/users/show.json" && c.query.contains("uid=")));
    let qq = calls(Provider::Qq);
    assert!(qq.iter().any(|c| c.path == "/oauth2.0/token" && c.method == "GET" && !c.query.contains("fmt=json")));
    assert!(qq.iter().any(|c| c.path == "/oauth2.0/me"));
    assert!(qq.iter().any(|c| c.path == "/user/get_user_info" && c.query.contains("oauth_consumer_key=")));
    let wechat = calls(Provider::Wechat);
    assert!(
        wechat
            .iter()
            .any(|c| c.path == "/sns/oauth2/access_token" && c.query.contains("appid=") && c.query.contains("secret="))
    );
    assert!(wechat.iter().any(|c| c.path == "/sns/userinfo" && c.query.contains("lang=zh_CN")));
    let dingtalk = calls(Provider::Dingtalk);
    let token = dingtalk.iter().find(|c| c.path == "/v1.0/oauth2/userAccessToken").unwrap();
    let body: serde_json::Value = serde_json::from_str(&token.body).unwrap();
    assert_eq!(body["grantType"], "authorization_code");
    assert!(body["clientId"].is_string() && body["clientSecret"].is_string() && body["code"].is_string());
    // The authorize URLs: WeChat's ends in #wechat_redirect, DingTalk asks for consent.
    let wechat_url = world.core.oauth_authorize(ProviderKey::Wechat, Purpose::Console, BINDING).await.unwrap().url;
    assert!(wechat_url.ends_with("#wechat_redirect") && wechat_url.contains("scope=snsapi_login"), "{wechat_url}");
    let dingtalk_url = world.core.oauth_authorize(ProviderKey::Dingtalk, Purpose::Console, BINDING).await.unwrap().url;
    assert!(dingtalk_url.contains("prompt=consent") && dingtalk_url.contains("scope=openid"), "{dingtalk_url}");
    world.core.shutdown().await;
}

#[tokio::test]
async fn bad_and_reused_codes_are_refused_with_the_providers_code() {
    let world = World::start(None, &[]).await;
    let expected_bad = [
        (Provider::Weibo, "21325"),
        (Provider::Qq, "100019"),
        (Provider::Wechat, "40029"),
        (Provider::Dingtalk, "InvalidAuthentication"),
    ];
    for (provider, code) in expected_bad {
        let key = key_of(provider);
        let auth = world.core.oauth_authorize(key, Purpose::Console, BINDING).await.unwrap();
        let callback = Callback { code: Some("not-a-code".into()), state: Some(auth.state), ..Callback::default() };
        let e = world.core.oauth_callback(key, callback, BINDING).await.unwrap_err();
        assert!(e.code() == "sign_in_refused" && e.to_string().contains(code), "{provider:?}: {e}");
        assert_eq!(e.params()["provider"], key.as_str(), "the catalogues name the provider");
    }
    let expected_reused = [
        (Provider::Weibo, "21325"),
        (Provider::Qq, "100020"),
        (Provider::Wechat, "40163"),
        (Provider::Dingtalk, "InvalidAuthentication"),
    ];
    for (provider, code) in expected_reused {
        let key = key_of(provider);
        let first = Callback::from_url(&world.redirect(provider, Purpose::Console).await);
        let used_code = first.code.clone();
        world.core.oauth_callback(key, first, BINDING).await.unwrap();
        // A fresh attempt carrying the used code: the provider refuses it.
        let auth = world.core.oauth_authorize(key, Purpose::Console, BINDING).await.unwrap();
        let e = world
            .core
            .oauth_callback(key, Callback { code: used_code, state: Some(auth.state), ..Callback::default() }, BINDING)
            .await
            .unwrap_err();
        assert!(e.code() == "sign_in_refused" && e.to_string().contains(code), "{provider:?}: {e}");
    }
    world.core.shutdown().await;
}

#[tokio::test]
async fn expired_tokens_are_refused_with_the_providers_code() {
    // Tokens that expire the moment they are issued: the identity call after the exchange fails.
    let world = World::start_with(None, &[], Some(std::time::Duration::ZERO)).await;
    let expected = [
        (Provider::Weibo, "21327"),
        (Provider::Qq, "100014"),
        (Provider::Wechat, "42001"),
        (Provider::Dingtalk, "InvalidAuthentication"),
    ];
    for (provider, code) in expected {
        let e = world.sign_in(provider).await.unwrap_err();
        assert!(e.code() == "sign_in_refused" && e.to_string().contains(code), "{provider:?}: {e}");
    }
    let users =
        world.core.users_list(UserQuery { limit: 50, ..UserQuery::default() }, &Actor::system("tester")).await.unwrap();
    assert_eq!(users.total, 0, "a failed sign-in creates nobody");
    world.core.shutdown().await;
}

#[tokio::test]
async fn state_mismatch_replay_refusal_and_cancellation_are_rejected() {
    let world = World::start(None, &[]).await;
    // An unknown state.
    let forged = Callback { code: Some("x".into()), state: Some("forged".into()), ..Callback::default() };
    let e = world.core.oauth_callback(ProviderKey::Weibo, forged, BINDING).await.unwrap_err();
    assert_eq!(ErrorBody::from(e).field.as_deref(), Some("state"));
    // No state at all.
    let e = world
        .core
        .oauth_callback(ProviderKey::Weibo, Callback { code: Some("x".into()), ..Callback::default() }, BINDING)
        .await;
    assert_eq!(code_of(e.unwrap_err()), "sign_in_state_invalid");
    // A Weibo state used on the QQ callback, then (consumed) on its own.
    let redirect = Callback::from_url(&world.redirect(Provider::Weibo, Purpose::Console).await);
    assert!(world.core.oauth_callback(ProviderKey::Qq, redirect.clone(), BINDING).await.is_err());
    assert!(
        world.core.oauth_callback(ProviderKey::Weibo, redirect, BINDING).await.is_err(),
        "a state works once, even after a mismatch"
    );
    // Each door takes only its own attempts: a console state at the shop's callback, a shop
    // state at the console's; either is spent by the try.
    let console = Callback::from_url(&world.redirect(Provider::Weibo, Purpose::Console).await);
    let e = world.core.shop_oauth_callback(ProviderKey::Weibo, console.clone(), BINDING).await.unwrap_err();
    assert_eq!(ErrorBody::from(e).field.as_deref(), Some("state"));
    assert!(world.core.oauth_callback(ProviderKey::Weibo, console, BINDING).await.is_err(), "spent at the wrong door");
    let shop = Callback::from_url(&world.redirect(Provider::Weibo, Purpose::Shop).await);
    assert!(world.core.oauth_callback(ProviderKey::Weibo, shop, BINDING).await.is_err());
    let shop = Callback::from_url(&world.redirect(Provider::Qq, Purpose::Shop).await);
    let outcome = world.core.shop_oauth_callback(ProviderKey::Qq, shop, BINDING).await.unwrap();
    assert!(matches!(outcome, SignInOutcome::SignedIn { staff: None, .. }), "a shop customer is no staff: {outcome:?}");
    // Replay of a successful callback.
    let redirect = Callback::from_url(&world.redirect(Provider::Weibo, Purpose::Console).await);
    world.core.oauth_callback(ProviderKey::Weibo, redirect.clone(), BINDING).await.unwrap();
    let e = world.core.oauth_callback(ProviderKey::Weibo, redirect, BINDING).await.unwrap_err();
    assert_eq!(ErrorBody::from(e).field.as_deref(), Some("state"));
    // Cancelled (the window was closed): the state is dead.
    let redirect = Callback::from_url(&world.redirect(Provider::Qq, Purpose::Console).await);
    let state = redirect.state.as_deref().unwrap();
    assert!(!world.core.oauth_cancel(state, "another-window-binding").await.unwrap(), "not another's to cancel");
    assert!(world.core.oauth_cancel(state, BINDING).await.unwrap());
    assert!(world.core.oauth_callback(ProviderKey::Qq, redirect, BINDING).await.is_err());
    // The user refused at the provider (WeChat brings back only the state).
    let auth = world.core.oauth_authorize(ProviderKey::Wechat, Purpose::Console, BINDING).await.unwrap();
    let refused = Callback { state: Some(auth.state), ..Callback::default() };
    let e = world.core.oauth_callback(ProviderKey::Wechat, refused, BINDING).await.unwrap_err();
    assert!(e.code() == "sign_in_refused" && e.to_string().contains("refused"), "{e}");
    // Nothing was created by any of these: one user from the two successful Weibo sign-ins,
    // and the shop's QQ customer.
    let users =
        world.core.users_list(UserQuery { limit: 50, ..UserQuery::default() }, &Actor::system("tester")).await.unwrap();
    assert_eq!(users.total, 2);
    world.core.shutdown().await;
}

#[tokio::test]
async fn openid_connect_code_flow_with_pkce_against_a_real_provider() {
    let _ = oidc_issuer();
    let world = World::start(None, &[]).await;
    let auth = world.core.oauth_authorize(ProviderKey::Oidc, Purpose::Console, BINDING).await.unwrap();
    let url = url::Url::parse(&auth.url).unwrap();
    let params: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(params.get("code_challenge_method").map(String::as_str), Some("S256"));
    assert!(params.contains_key("code_challenge") && params.contains_key("nonce"));
    assert_eq!(params.get("state"), Some(&auth.state));
    let redirect = oidc_login(&auth.url, "alice").await;
    let callback = Callback::from_url(&redirect);
    let (user_id, new_user, staff) =
        signed_in(world.core.oauth_callback(ProviderKey::Oidc, callback.clone(), BINDING).await.unwrap());
    assert!(new_user);
    assert_eq!(staff.unwrap().provider, ProviderKey::Oidc);
    let user = world.core.user_get(user_id).await.unwrap();
    assert_eq!(user.links[0].provider, ProviderKey::Oidc);
    assert!(user.nickname.is_some());
    // The same code again, on a fresh attempt: the provider refuses it (single use).
    let again = world.core.oauth_authorize(ProviderKey::Oidc, Purpose::Console, BINDING).await.unwrap();
    let replay = Callback { code: callback.code.clone(), state: Some(again.state), ..Callback::default() };
    let e = world.core.oauth_callback(ProviderKey::Oidc, replay, BINDING).await.unwrap_err();
    assert!(e.code() == "sign_in_refused" && e.to_string().contains("invalid_grant"), "{e}");
    // A code from one attempt with another attempt's state fails PKCE (the verifier differs).
    let first = world.core.oauth_authorize(ProviderKey::Oidc, Purpose::Console, BINDING).await.unwrap();
    let second = world.core.oauth_authorize(ProviderKey::Oidc, Purpose::Console, BINDING).await.unwrap();
    let code = Callback::from_url(&oidc_login(&first.url, "alice").await).code;
    let swapped = Callback { code, state: Some(second.state), ..Callback::default() };
    let e = world.core.oauth_callback(ProviderKey::Oidc, swapped, BINDING).await.unwrap_err();
    assert!(e.code() == "sign_in_refused", "{e}");
    // Signing in again is the same user.
    let again = world.core.oauth_authorize(ProviderKey::Oidc, Purpose::Console, BINDING).await.unwrap();
    let redirect = oidc_login(&again.url, "alice").await;
    assert_eq!(
        signed_in(world.core.oauth_callback(ProviderKey::Oidc, Callback::from_url(&redirect), BINDING).await.unwrap())
            .0,
        user_id
    );
    world.core.shutdown().await;
}
