//! A desktop's sign-in through the server (RFC 8252 with PKCE), step by step as its sign-in
//! window and its client make them: `GET /api/v1/auth/desktop/start` → the provider (the
//! sandbox's fake Weibo, approving at once) → `GET /api/v1/auth/callback/weibo` → the desktop's
//! loopback redirect with a one-time code → `POST /api/v1/auth/token`.

use serde_json::json;

use crate::{World, expect_error, json};

/// RFC 7636's own example pair (appendix B).
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "http://127.0.0.1:53111/opsdeck/signin";

fn start_path(redirect: &str, challenge: &str, method: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("provider", "weibo")
        .append_pair("redirect_uri", redirect)
        .append_pair("state", "desktop-state-1")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", method)
        .finish();
    format!("/api/v1/auth/desktop/start?{query}")
}

/// The window's walk from the start URL to the desktop's redirect (returned as a URL).
async fn walk(world: &World) -> url::Url {
    let answer = world.http.get(world.url(&start_path(REDIRECT, CHALLENGE, "S256"))).send().await.unwrap();
    assert_eq!(answer.status(), 303);
    assert_eq!(answer.headers()["cache-control"], "no-store");
    let mut url = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    assert!(url.as_str().starts_with(&world.weibo.base_url), "to the provider: {url}");
    // The fake approves at once and redirects to Weibo's registered redirect URI, which a real
    // deployment points at this server's callback: hand its query to the callback.
    let registered = world.weibo.config().redirect_uri.clone();
    for _ in 0..5 {
        if url.as_str().starts_with(&registered) {
            break;
        }
        let answer = world.http.get(url.clone()).send().await.unwrap();
        url = url.join(answer.headers()["location"].to_str().unwrap()).unwrap();
    }
    assert!(url.as_str().starts_with(&registered), "back from the provider: {url}");
    let callback = format!("/api/v1/auth/callback/weibo?{}", url.query().unwrap());
    let answer = world.http.get(world.url(&callback)).send().await.unwrap();
    assert_eq!(answer.status(), 303, "{:?}", answer.text().await);
    let back = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    assert!(back.as_str().starts_with(REDIRECT), "to the desktop: {back}");
    back
}

fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

async fn exchange(world: &World, code: &str, verifier: &str, redirect: &str) -> reqwest::Response {
    let body = json!({ "code": code, "code_verifier": verifier, "redirect_uri": redirect });
    world.http.post(world.url("/api/v1/auth/token")).json(&body).send().await.unwrap()
}

/// A daemon on a database of its own (not the embedded default, whose first console sign-in
/// becomes admin) where a newcomer's first sign-in gets `role`.
async fn world_where_newcomers_are(role: &str, dir: &tempfile::TempDir) -> World {
    let database = format!("\"sqlite://{}/shared.db?mode=rwc\"", dir.path().display());
    World::start_with(&[("staff_default_role", format!("\"{role}\"")), ("database_url", database)]).await
}

#[tokio::test]
async fn a_desktop_signs_in_through_the_server_and_its_code_works_once() {
    let dir = tempfile::tempdir().unwrap();
    let world = world_where_newcomers_are("operator", &dir).await;
    let back = walk(&world).await;
    assert_eq!(param(&back, "state").as_deref(), Some("desktop-state-1"));
    let code = param(&back, "code").expect("a one-time code");

    let (status, signed_in) = json(exchange(&world, &code, VERIFIER, REDIRECT).await).await;
    assert_eq!(status, 200, "{signed_in}");
    assert_eq!(signed_in["status"], "signed_in");
    assert_eq!(signed_in["staff"]["role"], "operator");
    let token = signed_in["token"].as_str().unwrap().to_string();
    let me = world.http.get(world.url("/api/v1/session")).bearer_auth(&token).send().await.unwrap();
    let (status, staff) = json(me).await;
    assert_eq!((status, staff["role"].as_str()), (200, Some("operator")), "{staff}");

    // Used twice: refused, and nothing else is opened.
    expect_error(exchange(&world, &code, VERIFIER, REDIRECT).await, 400, "sign_in_code_invalid").await;
}

#[tokio::test]
async fn a_code_needs_its_verifier_and_its_redirect_and_burns_on_a_wrong_one() {
    let dir = tempfile::tempdir().unwrap();
    let world = world_where_newcomers_are("operator", &dir).await;
    let code = param(&walk(&world).await, "code").unwrap();
    let other_verifier = "x".repeat(43);
    expect_error(exchange(&world, &code, &other_verifier, REDIRECT).await, 400, "sign_in_code_invalid").await;
    // The wrong attempt used it up: the right verifier comes too late.
    expect_error(exchange(&world, &code, VERIFIER, REDIRECT).await, 400, "sign_in_code_invalid").await;

    let code = param(&walk(&world).await, "code").unwrap();
    expect_error(exchange(&world, &code, VERIFIER, "http://127.0.0.1:1/other").await, 400, "sign_in_code_invalid")
        .await;
    expect_error(exchange(&world, "never-issued", VERIFIER, REDIRECT).await, 400, "sign_in_code_invalid").await;
    expect_error(exchange(&world, "never-issued", "short", REDIRECT).await, 400, "pkce_invalid").await;
}

#[tokio::test]
async fn a_sign_in_without_a_console_role_goes_back_with_an_error_and_no_code() {
    let dir = tempfile::tempdir().unwrap();
    let world = world_where_newcomers_are("none", &dir).await;
    let back = walk(&world).await;
    assert_eq!(param(&back, "code"), None);
    assert_eq!(param(&back, "error").as_deref(), Some("not_staff"));
    assert_eq!(param(&back, "state").as_deref(), Some("desktop-state-1"));
}

#[tokio::test]
async fn only_a_loopback_redirect_with_s256_pkce_starts_a_sign_in() {
    let world = World::start().await;
    let refused = [
        (start_path("https://evil.example/cb", CHALLENGE, "S256"), "redirect_not_registered"),
        (start_path("http://localhost:5000/cb", CHALLENGE, "S256"), "redirect_not_registered"),
        (start_path("http://192.168.1.5:5000/cb", CHALLENGE, "S256"), "redirect_not_registered"),
        (start_path(REDIRECT, CHALLENGE, "plain"), "pkce_invalid"),
        (start_path(REDIRECT, "too-short", "S256"), "pkce_invalid"),
    ];
    for (path, code) in refused {
        let body = expect_error(world.http.get(world.url(&path)).send().await.unwrap(), 400, code).await;
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
    // The provider: absent, unknown, or not configured on this server (QQ, here).
    let weibo = start_path(REDIRECT, CHALLENGE, "S256");
    let redirect =
        format!("redirect_uri={}&", url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>());
    let cases = [
        (weibo.replace("provider=weibo&", ""), "invalid_input", "provider"),
        (weibo.replace("provider=weibo", "provider=myspace"), "invalid_input", "provider"),
        (weibo.replace("provider=weibo", "provider=qq"), "provider_not_configured", "provider"),
        // Left out, as refused when wrong.
        (weibo.replace(&redirect, ""), "redirect_not_registered", "redirect_uri"),
        (weibo.replace("&code_challenge_method=S256", ""), "pkce_invalid", "code_challenge_method"),
        (weibo.replace(&format!("&code_challenge={CHALLENGE}"), ""), "pkce_invalid", "code_challenge"),
        (weibo.replace("state=desktop-state-1&", ""), "length_out_of_range", "state"),
    ];
    for (path, code, field) in cases {
        let body = expect_error(world.http.get(world.url(&path)).send().await.unwrap(), 400, code).await;
        assert_eq!(body["field"], field, "{path}: {body}");
    }
    // No attempt of ours: no redirect to anywhere.
    let stateless = world.http.get(world.url("/api/v1/auth/callback/weibo?code=c")).send().await.unwrap();
    expect_error(stateless, 400, "sign_in_state_invalid").await;
    let unknown = world.http.get(world.url("/api/v1/auth/callback/myspace?code=c&state=s")).send().await.unwrap();
    let (status, body) = json(unknown).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_input")), "{body}");
    let forged = world.http.get(world.url("/api/v1/auth/callback/weibo?code=c&state=forged")).send().await.unwrap();
    expect_error(forged, 400, "sign_in_state_invalid").await;
}

#[tokio::test]
async fn a_code_older_than_60_seconds_is_refused_and_burnt() {
    let dir = tempfile::tempdir().unwrap();
    let world = world_where_newcomers_are("operator", &dir).await;
    let code = param(&walk(&world).await, "code").unwrap();
    let args = |code: &str| opsdeck_api::ops::SignInExchangeArgs {
        code: code.into(),
        code_verifier: VERIFIER.into(),
        redirect_uri: REDIRECT.into(),
    };
    let later = chrono::Utc::now() + chrono::Duration::seconds(61);
    let refused = world.core.sign_in_exchange_at(args(&code), later).await.unwrap_err();
    assert_eq!(refused.code(), opsdeck_api::ErrorCode::SignInCodeInvalid);
    assert!(refused.to_string().contains("60 seconds"), "{refused}");
    // Refused for its age, it is gone for good.
    expect_error(exchange(&world, &code, VERIFIER, REDIRECT).await, 400, "sign_in_code_invalid").await;
    let code = param(&walk(&world).await, "code").unwrap();
    let just_in_time = chrono::Utc::now() + chrono::Duration::seconds(55);
    assert!(world.core.sign_in_exchange_at(args(&code), just_in_time).await.is_ok());
}

/// A throwaway CA and a certificate it signed for 127.0.0.1, as PEM files in `dir`; the CA's PEM.
fn throwaway_tls(dir: &std::path::Path) -> String {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name.push(DnType::CommonName, "OpsDeck sign-in test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    std::fs::write(dir.join("server.pem"), server.signed_by(&key, &issuer).unwrap().pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    ca_pem
}

/// A port free a moment ago (the daemon's callback address must be known before it starts).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn location(answer: &reqwest::Response) -> url::Url {
    let text = answer.headers().get("location").unwrap_or_else(|| panic!("no redirect: {}", answer.status()));
    url::Url::parse(text.to_str().unwrap()).unwrap()
}

/// What the end-to-end test does with the desktop: `opsdeckd run --sandbox --listen` over HTTPS,
/// its fake Weibo's page (no auto-approve: a person picks the account and authorizes), which
/// sends the window straight back to this daemon's own callback, then the desktop's redirect
/// with a code, the exchange, and the session on `/api/v1/session`. Nothing secret of the walk
/// (the provider's code, the one-time code, the verifier, the session token) reaches the log,
/// at debug level.
#[tokio::test]
async fn a_sandbox_daemon_sends_its_fake_providers_back_to_its_own_callback_and_logs_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let ca = throwaway_tls(dir.path());
    let port = free_port();
    let base = format!("https://127.0.0.1:{port}");
    let mut cmd = crate::daemon::bare(dir.path());
    cmd.env("OPSDECK_REDIS_URL", crate::redis_url())
        .env("OPSDECK_REDIS_PREFIX", crate::unique("handoff"))
        .env("OPSDECK_SCHEDULER_ENABLED", "false")
        .env("OPSDECK_SANDBOX_SHOP", "false")
        .env("OPSDECK_TLS_CERT", dir.path().join("server.pem"))
        .env("OPSDECK_TLS_KEY", dir.path().join("server.key"))
        .env("OPSDECK_LOG", "debug,sqlx=warn,hyper=warn,reqwest=warn")
        .env("NO_COLOR", "1")
        .args(["run", "--sandbox", "--listen", &format!("127.0.0.1:{port}")]);
    let mut daemon = crate::daemon::Daemon::spawn(cmd);
    daemon.wait_for("HTTP API listening");
    let http = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()])
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // The window opens the server's start URL: to the fake Weibo's page.
    let answer = http.get(format!("{base}{}", start_path(REDIRECT, CHALLENGE, "S256"))).send().await.unwrap();
    assert_eq!(answer.status(), 303);
    let authorize = location(&answer);
    let page = http.get(authorize.clone()).send().await.unwrap().text().await.unwrap();
    // The fake's registered callback is this daemon's own, over HTTPS.
    let registered = format!("{base}/api/v1/auth/callback/weibo");
    assert!(page.contains(&format!("name=\"redirect_uri\" value=\"{registered}\"")), "{page}");
    // The person picks the first account and authorizes (the page's form).
    let provider_state = param(&authorize, "state").expect("the attempt's state");
    let uid =
        opsdeck_sandbox::oauth::FakeOAuthConfig::sandbox(opsdeck_sandbox::oauth::Provider::Weibo).users[0].uid.clone();
    let form = [
        ("decision", "authorize"),
        ("user", uid.as_str()),
        ("redirect_uri", registered.as_str()),
        ("state", provider_state.as_str()),
    ];
    let decide = authorize.join("/__sandbox/decide").unwrap();
    let answer = http.post(decide).form(&form).send().await.unwrap();
    let callback = location(&answer);
    assert!(callback.as_str().starts_with(&registered), "straight back to the daemon: {callback}");
    let provider_code = param(&callback, "code").expect("the provider's code");

    // The daemon's callback: to the desktop's loopback redirect with a one-time code.
    let answer = http.get(callback).send().await.unwrap();
    assert_eq!(answer.status(), 303, "{:?}", answer.text().await);
    let back = location(&answer);
    assert!(back.as_str().starts_with(REDIRECT), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("desktop-state-1"));
    let code = param(&back, "code").expect("a one-time code");

    let body = json!({ "code": code, "code_verifier": VERIFIER, "redirect_uri": REDIRECT });
    let (status, signed_in) =
        json(http.post(format!("{base}/api/v1/auth/token")).json(&body).send().await.unwrap()).await;
    assert_eq!(status, 200, "{signed_in}");
    let token = signed_in["token"].as_str().unwrap().to_string();
    let (status, staff) =
        json(http.get(format!("{base}/api/v1/session")).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!(status, 200, "{staff}");
    assert_eq!(staff["provider"], "weibo");
    // The code is spent.
    let again = http.post(format!("{base}/api/v1/auth/token")).json(&body).send().await.unwrap();
    expect_error(again, 400, "sign_in_code_invalid").await;

    let log = daemon.terminate();
    assert!(log.iter().any(|line| line.contains("sign-in")), "the sign-in is logged: {log:#?}");
    for (what, secret) in
        [("the provider's code", &provider_code), ("the one-time code", &code), ("the session token", &token)]
    {
        assert!(log.iter().all(|line| !line.contains(secret.as_str())), "{what} reached the log");
    }
    assert!(log.iter().all(|line| !line.contains(VERIFIER) && !line.contains(CHALLENGE)), "PKCE values logged");
}
