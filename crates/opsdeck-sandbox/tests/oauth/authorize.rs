//! The authorize page and its decision, common to the four: the users offered, approval and
//! refusal as each provider redirects, `state`, and the requests refused with a page.

use super::*;

#[tokio::test]
async fn the_page_offers_the_users_and_both_buttons() {
    for provider in Provider::ALL {
        let fake = fake(provider).await;
        let name = provider.display_name();
        let users = &fake.config().users;
        let page = get_authorize(&fake, &authorize_params(&fake, "st<\"&>", &[])).await;
        assert_eq!(page.status(), StatusCode::OK, "{name}");
        assert_eq!(content_type(&page), "text/html; charset=utf-8");
        let html = page.text().await.unwrap();
        assert!(html.contains(&format!("<title>Sign in to {name} — OpsDeck sandbox</title>")), "{html}");
        assert!(html.contains("OpsDeck sandbox"));
        assert!(html.contains(r#"<select id="user" name="user">"#));
        assert!(html.contains(&format!(
            r#"<option value="{}" selected>{} ({})</option>"#,
            users[0].uid, users[0].nickname, users[0].uid
        )));
        assert!(html.contains(&format!(
            r#"<option value="{}">{} ({})</option>"#,
            users[1].uid, users[1].nickname, users[1].uid
        )));
        assert!(
            html.contains(
                r#"<button id="authorize" type="submit" name="decision" value="authorize">Authorize</button>"#
            )
        );
        assert!(html.contains(r#"<button id="deny" type="submit" name="decision" value="deny">Deny</button>"#));
        assert!(html.contains(r#"<form method="post" action="/__sandbox/decide">"#));
        assert!(html.contains(r#"<input type="hidden" name="state" value="st&lt;&quot;&amp;&gt;">"#), "state escaped");
        assert!(
            html.contains(&format!(
                r#"<input type="hidden" name="redirect_uri" value="{}">"#,
                fake.config().redirect_uri
            ))
        );

        fake.select_user(&users[1].uid);
        let html = get_authorize(&fake, &authorize_params(&fake, "s", &[])).await.text().await.unwrap();
        assert!(html.contains(&format!(r#"<option value="{}" selected>"#, users[1].uid)), "{name}: preselected");
        assert!(html.contains(&format!(r#"<option value="{}">"#, users[0].uid)));
    }
}

#[tokio::test]
#[should_panic(expected = "no configured user")]
async fn selecting_an_unknown_user_panics() {
    fake(Provider::Weibo).await.select_user("nobody");
}

#[tokio::test]
async fn the_full_sign_in_through_the_page_returns_the_chosen_user() {
    for provider in Provider::ALL {
        let fake = fake(provider).await;
        let second = fake.config().users[1].clone();
        let code = code_by_page(&fake, &second.uid, "state-1").await;
        assert_eq!(who_signed_in(&fake, &code).await, (second.uid.clone(), second.nickname.clone()), "{provider:?}");
    }
}

#[tokio::test]
async fn auto_approve_redirects_at_once_as_the_selected_user() {
    for provider in Provider::ALL {
        let mut config = FakeOAuthConfig::sandbox(provider);
        config.auto_approve = true;
        let fake = start(config).await;
        let users = fake.config().users.clone();
        let answer = get_authorize(&fake, &authorize_params(&fake, "auto", &[])).await;
        let query = pairs(&redirected(&answer, &fake.config().redirect_uri));
        assert_eq!(query["state"], "auto");
        assert_eq!(who_signed_in(&fake, &query["code"]).await.0, users[0].uid, "{provider:?}");

        fake.select_user(&users[1].uid);
        let code = code_at_once(&fake).await;
        assert_eq!(who_signed_in(&fake, &code).await.0, users[1].uid, "{provider:?}");

        fake.set_auto_approve(false);
        let page = get_authorize(&fake, &authorize_params(&fake, "s", &[])).await;
        assert_eq!(page.status(), StatusCode::OK, "{provider:?}: the page again");
    }
}

#[tokio::test]
async fn deny_redirects_with_each_providers_parameters() {
    for provider in Provider::ALL {
        let fake = fake(provider).await;
        let c = fake.config();
        let answer = decide(
            &fake,
            &[("decision", "deny"), ("user", &c.users[0].uid), ("redirect_uri", &c.redirect_uri), ("state", "S1")],
        )
        .await;
        let query = redirected(&answer, &c.redirect_uri);
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let expected: Vec<(&str, &str)> = match provider {
            Provider::Weibo => vec![
                ("error", "access_denied"),
                ("error_code", "21330"),
                ("error_description", "user denied your request."),
                ("state", "S1"),
            ],
            Provider::Qq => vec![("usercancel", "1"), ("state", "S1")],
            Provider::Wechat => vec![("state", "S1")],
            Provider::Dingtalk => vec![("error", "access_denied"), ("state", "S1")],
        };
        assert_eq!(query, expected, "{provider:?}");
    }
}

#[tokio::test]
async fn state_comes_back_unchanged_and_the_callbacks_own_query_is_kept() {
    let state = "a b&c=d/é+%?#";
    for provider in Provider::ALL {
        let mut config = FakeOAuthConfig::sandbox(provider);
        config.redirect_uri = "https://app.opsdeck.invalid/cb?from=sandbox&x=1".into();
        let fake = start(config).await;
        let uid = fake.config().users[0].uid.clone();
        let answer = decide(
            &fake,
            &[
                ("decision", "authorize"),
                ("user", &uid),
                ("redirect_uri", &fake.config().redirect_uri),
                ("state", state),
            ],
        )
        .await;
        let query = redirected(&answer, &fake.config().redirect_uri);
        assert_eq!(query[0], ("from".into(), "sandbox".into()), "{provider:?}");
        assert_eq!(query[1], ("x".into(), "1".into()));
        assert_eq!(pairs(&query)["state"], state);

        // Without a state, none comes back.
        let answer =
            decide(&fake, &[("decision", "authorize"), ("user", &uid), ("redirect_uri", &fake.config().redirect_uri)])
                .await;
        assert!(!pairs(&redirected(&answer, &fake.config().redirect_uri)).contains_key("state"));
    }
}

#[tokio::test]
async fn authorize_refuses_a_foreign_redirect_uri_or_client_with_a_page_never_a_redirect() {
    for provider in Provider::ALL {
        let fake = fake(provider).await;
        let client_param = if provider == Provider::Wechat { "appid" } else { "client_id" };
        let cases: [(Overrides<'_>, &str); 3] = [
            (
                &[("redirect_uri", Some("https://evil.invalid/cb"))],
                match provider {
                    Provider::Weibo => "redirect_uri_mismatch (21322)",
                    Provider::Qq => "redirect uri is illegal(100010)",
                    Provider::Wechat => "redirect_uri 参数错误",
                    Provider::Dingtalk => "redirect_uri is invalid",
                },
            ),
            (
                // A prefix of the registered URI is not it.
                &[("redirect_uri", Some("https://opsdeck.invalid/oauth/callback/"))],
                "redirect",
            ),
            (
                &[(client_param, Some("someone-else"))],
                match provider {
                    Provider::Weibo => "invalid_client (21324)",
                    Provider::Qq => "client id is illegal (100008)",
                    Provider::Wechat => "AppID 参数错误",
                    Provider::Dingtalk => "client_id is invalid",
                },
            ),
        ];
        for (overrides, words) in cases {
            let answer = get_authorize(&fake, &authorize_params(&fake, "s", overrides)).await;
            assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{provider:?} {overrides:?}");
            assert!(answer.headers().get(reqwest::header::LOCATION).is_none());
            assert_eq!(content_type(&answer), "text/html; charset=utf-8");
            let html = answer.text().await.unwrap();
            assert!(html.contains(words), "{provider:?}: {html}");
            assert!(html.contains("OpsDeck sandbox"));
        }
        // Auto-approve does not skip the checks.
        fake.set_auto_approve(true);
        let answer =
            get_authorize(&fake, &authorize_params(&fake, "s", &[("redirect_uri", Some("https://evil.invalid/cb"))]))
                .await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
        // Nor does the decision form.
        let uid = fake.config().users[0].uid.clone();
        let answer =
            decide(&fake, &[("decision", "authorize"), ("user", &uid), ("redirect_uri", "https://evil.invalid/cb")])
                .await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
        assert!(answer.headers().get(reqwest::header::LOCATION).is_none());
    }
}

#[tokio::test]
async fn wechat_and_dingtalk_want_their_scope_and_everyone_response_type_code() {
    for provider in [Provider::Wechat, Provider::Dingtalk] {
        let fake = fake(provider).await;
        let answer = get_authorize(&fake, &authorize_params(&fake, "s", &[("scope", Some("snsapi_userinfo"))])).await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{provider:?}");
    }
    for provider in Provider::ALL {
        let fake = fake(provider).await;
        let answer = get_authorize(&fake, &authorize_params(&fake, "s", &[("response_type", Some("token"))])).await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{provider:?}");
    }
}

#[tokio::test]
async fn the_decision_form_refuses_an_unknown_user_or_decision() {
    let fake = fake(Provider::Qq).await;
    let redirect_uri = fake.config().redirect_uri.clone();
    let answer = decide(&fake, &[("decision", "authorize"), ("user", "nobody"), ("redirect_uri", &redirect_uri)]).await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let answer = decide(&fake, &[("user", &fake.config().users[0].uid), ("redirect_uri", &redirect_uri)]).await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
}
