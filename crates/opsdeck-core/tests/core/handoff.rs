//! A desktop's sign-in through the server (RFC 8252 with PKCE), the core's three steps through
//! `Ops` as the daemon calls them, against the sandbox's fake providers over real HTTP and the
//! test Redis: start (loopback redirect, S256 challenge) → the fake approves → callback (a
//! one-time code for the desktop's redirect, or an error) → exchange (code + verifier + redirect
//! for a session). The HTTP side: `crates/opsdeckd/tests/http/handoff.rs`.

use opsdeck_api::ops::{DesktopSignInStartArgs, SignInExchangeArgs};
use opsdeck_api::{ErrorBody, ErrorCode, Ops, SessionToken, SignInResult};
use opsdeck_core::accounts::model::Role;
use opsdeck_core::accounts::{Actor, sessions};
use opsdeck_sandbox::oauth::Provider;
use sha2::Digest;

use crate::accounts::{World, follow_to_redirect, key_of, signed_in};

/// RFC 7636's own example pair (appendix B).
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "http://127.0.0.1:53111/opsdeck/signin";
const STATE: &str = "desktop-state-7";

fn start_args(provider: Provider, redirect: &str, challenge: &str, method: &str) -> DesktopSignInStartArgs {
    DesktopSignInStartArgs {
        provider: key_of(provider),
        redirect_uri: redirect.into(),
        state: STATE.into(),
        code_challenge: challenge.into(),
        code_challenge_method: method.into(),
    }
}

fn exchange_args(code: &str, verifier: &str, redirect: &str) -> SignInExchangeArgs {
    SignInExchangeArgs { code: code.into(), code_verifier: verifier.into(), redirect_uri: redirect.into() }
}

fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// The sign-in window's walk: the server's start, the provider (approving at once), the
/// server's callback; where the window is sent at the end (the desktop's redirect).
async fn walk(world: &World, provider: Provider) -> url::Url {
    let ops: &dyn Ops = &world.core;
    let authorize = ops.desktop_sign_in_start(start_args(provider, REDIRECT, CHALLENGE, "S256")).await.unwrap();
    let fake = world.fake(provider);
    assert!(authorize.starts_with(&fake.base_url), "to the provider: {authorize}");
    let from_provider = follow_to_redirect(&authorize, &fake.config().redirect_uri).await;
    let back = ops.desktop_sign_in_callback(key_of(provider), from_provider.to_string()).await.unwrap();
    let back = url::Url::parse(&back).unwrap();
    assert!(back.as_str().starts_with(REDIRECT), "to the desktop's redirect: {back}");
    assert_eq!(param(&back, "state").as_deref(), Some(STATE), "the desktop's own state comes back");
    back
}

async fn code_from(world: &World, provider: Provider) -> String {
    let back = walk(world, provider).await;
    param(&back, "code").unwrap_or_else(|| panic!("a one-time code: {back}"))
}

fn refused<T: std::fmt::Debug>(result: Result<T, ErrorBody>, code: ErrorCode) -> ErrorBody {
    let error = result.expect_err("refused");
    assert_eq!(error.code, code, "{error:?}");
    assert!(!error.message.is_empty());
    error
}

/// Every key, and every string value, under this core's prefix in Redis.
async fn redis_contents(world: &World) -> Vec<String> {
    let client = redis::Client::open(crate::helpers::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let pattern = format!("{}*", world.core.config().redis_prefix);
    let keys: Vec<String> = redis::cmd("KEYS").arg(&pattern).query_async(&mut conn).await.unwrap();
    let mut contents = keys.clone();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut conn).await.unwrap();
        if kind == "string" {
            let value: Option<String> = redis::cmd("GET").arg(&key).query_async(&mut conn).await.unwrap();
            contents.extend(value);
        }
    }
    contents
}

#[tokio::test]
async fn a_desktop_signs_in_through_the_server_and_its_code_opens_one_session_once() {
    let world = World::start(None, &[]).await;
    let ops: &dyn Ops = &world.core;
    let code = code_from(&world, Provider::Weibo).await;
    // Kept hashed: neither a key nor a value holds the code itself.
    let held = redis_contents(&world).await;
    let hash: String = sha2::Sha256::digest(code.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    assert!(held.iter().any(|key| key.contains(&hash)), "kept under its SHA-256: {held:?}");
    assert!(held.iter().all(|text| !text.contains(&code)), "the code is kept only as its hash");

    let SignInResult::SignedIn { staff, token } =
        ops.sign_in_exchange(exchange_args(&code, VERIFIER, REDIRECT)).await.unwrap()
    else {
        panic!("signed in")
    };
    assert_eq!(staff.role, Role::Admin, "the embedded default database: the first sign-in is its admin");
    assert_eq!(ops.session_staff(&token).await.unwrap().user_id, staff.user_id, "the session works");
    let live =
        sessions::live(world.core.database().pool(), chrono::Utc::now(), sessions::Limits::of(world.core.config()))
            .await
            .unwrap();
    assert_eq!(live.len(), 1, "one session, opened by the exchange");

    // Used twice: refused, and no second session.
    let again =
        refused(ops.sign_in_exchange(exchange_args(&code, VERIFIER, REDIRECT)).await, ErrorCode::SignInCodeInvalid);
    assert_eq!(again.field.as_deref(), Some("code"));
    assert!(!again.message.contains(&code), "the message does not repeat the code: {}", again.message);
    let live =
        sessions::live(world.core.database().pool(), chrono::Utc::now(), sessions::Limits::of(world.core.config()))
            .await
            .unwrap();
    assert_eq!(live.len(), 1);
    // Neither the provider's redirect nor a replay of it gets a second code.
    let fake = world.fake(Provider::Weibo);
    let authorize = ops.desktop_sign_in_start(start_args(Provider::Weibo, REDIRECT, CHALLENGE, "S256")).await.unwrap();
    let from_provider = follow_to_redirect(&authorize, &fake.config().redirect_uri).await.to_string();
    ops.desktop_sign_in_callback(key_of(Provider::Weibo), from_provider.clone()).await.unwrap();
    refused(ops.desktop_sign_in_callback(key_of(Provider::Weibo), from_provider).await, ErrorCode::SignInStateInvalid);
    world.core.shutdown().await;
}

#[tokio::test]
async fn a_code_needs_its_verifier_and_redirect_burns_on_a_wrong_one_and_lives_60_seconds() {
    let world = World::start(None, &[]).await;
    let ops: &dyn Ops = &world.core;
    // A wrong verifier: refused, and the code is spent (no second guess).
    let code = code_from(&world, Provider::Weibo).await;
    let wrong = "W".repeat(43);
    let error =
        refused(ops.sign_in_exchange(exchange_args(&code, &wrong, REDIRECT)).await, ErrorCode::SignInCodeInvalid);
    assert!(error.message.contains("verifier"), "{}", error.message);
    refused(ops.sign_in_exchange(exchange_args(&code, VERIFIER, REDIRECT)).await, ErrorCode::SignInCodeInvalid);
    // Another redirect than the one it was issued for: the same.
    let code = code_from(&world, Provider::Weibo).await;
    let error = refused(
        ops.sign_in_exchange(exchange_args(&code, VERIFIER, "http://127.0.0.1:53112/opsdeck/signin")).await,
        ErrorCode::SignInCodeInvalid,
    );
    assert!(error.message.contains("redirect_uri"), "{}", error.message);
    refused(ops.sign_in_exchange(exchange_args(&code, VERIFIER, REDIRECT)).await, ErrorCode::SignInCodeInvalid);
    // A verifier that is no PKCE verifier at all: refused before the code is looked at.
    let code = code_from(&world, Provider::Weibo).await;
    let error = refused(ops.sign_in_exchange(exchange_args(&code, "short", REDIRECT)).await, ErrorCode::PkceInvalid);
    assert_eq!(error.field.as_deref(), Some("code_verifier"));
    refused(
        ops.sign_in_exchange(exchange_args("never-issued", VERIFIER, REDIRECT)).await,
        ErrorCode::SignInCodeInvalid,
    );
    refused(ops.sign_in_exchange(exchange_args("", VERIFIER, REDIRECT)).await, ErrorCode::SignInCodeInvalid);

    // The code's lifetime, on the core's clock moved forward: 61 s is too late (and spends it)...
    let late = world
        .core
        .sign_in_exchange_at(
            exchange_args(&code, VERIFIER, REDIRECT),
            chrono::Utc::now() + chrono::Duration::seconds(61),
        )
        .await
        .unwrap_err();
    assert_eq!(late.code(), ErrorCode::SignInCodeInvalid);
    assert!(late.to_string().contains("60 seconds"), "{late}");
    refused(ops.sign_in_exchange(exchange_args(&code, VERIFIER, REDIRECT)).await, ErrorCode::SignInCodeInvalid);
    // ...55 s is in time.
    let code = code_from(&world, Provider::Weibo).await;
    let in_time = world
        .core
        .sign_in_exchange_at(
            exchange_args(&code, VERIFIER, REDIRECT),
            chrono::Utc::now() + chrono::Duration::seconds(55),
        )
        .await
        .unwrap();
    assert!(matches!(in_time, SignInResult::SignedIn { .. }), "{in_time:?}");
    world.core.shutdown().await;
}

#[tokio::test]
async fn only_a_loopback_redirect_with_an_s256_challenge_and_a_state_starts_a_sign_in() {
    let world = World::start(None, &[]).await;
    let ops: &dyn Ops = &world.core;
    for redirect in [
        "https://evil.example/cb",
        "http://evil.example:53111/cb",
        "http://localhost:53111/cb",
        "http://192.168.1.5:53111/cb",
        "https://127.0.0.1:53111/cb",
        "http://user:pw@127.0.0.1:53111/cb",
        "http://127.0.0.1:53111/cb#fragment",
        "opsdeck://signin",
        "",
    ] {
        let error = refused(
            ops.desktop_sign_in_start(start_args(Provider::Weibo, redirect, CHALLENGE, "S256")).await,
            ErrorCode::RedirectNotRegistered,
        );
        assert_eq!(error.field.as_deref(), Some("redirect_uri"), "{redirect}");
    }
    for (challenge, method, field) in [
        (CHALLENGE, "plain", "code_challenge_method"),
        (CHALLENGE, "", "code_challenge_method"),
        ("", "S256", "code_challenge"),
        ("too-short", "S256", "code_challenge"),
        ("not+base64url/at=all-not+base64url/at=all-x", "S256", "code_challenge"),
    ] {
        let error = refused(
            ops.desktop_sign_in_start(start_args(Provider::Weibo, REDIRECT, challenge, method)).await,
            ErrorCode::PkceInvalid,
        );
        assert_eq!(error.field.as_deref(), Some(field), "{challenge:?} {method:?}");
    }
    let mut no_state = start_args(Provider::Weibo, REDIRECT, CHALLENGE, "S256");
    no_state.state = String::new();
    assert_eq!(ops.desktop_sign_in_start(no_state).await.unwrap_err().field.as_deref(), Some("state"));
    // The IPv6 loopback is a loopback too.
    let v6 = ops.desktop_sign_in_start(start_args(Provider::Weibo, "http://[::1]:53111/cb", CHALLENGE, "S256")).await;
    assert!(v6.is_ok(), "{v6:?}");

    // A callback whose state is no desktop sign-in's is refused outright: no redirect anywhere.
    let forged = "https://opsdeck.invalid/oauth/callback/weibo?code=c&state=forged".to_string();
    refused(ops.desktop_sign_in_callback(key_of(Provider::Weibo), forged).await, ErrorCode::SignInStateInvalid);
    let stateless = "https://opsdeck.invalid/oauth/callback/weibo?code=c".to_string();
    refused(ops.desktop_sign_in_callback(key_of(Provider::Weibo), stateless).await, ErrorCode::SignInStateInvalid);
    // A console sign-in the desktop started by itself (no loopback redirect) is not completed here.
    let own = ops.sign_in_start(key_of(Provider::Weibo), crate::accounts::BINDING.into()).await.unwrap();
    let from_provider = follow_to_redirect(&own.url, &world.fake(Provider::Weibo).config().redirect_uri).await;
    refused(
        ops.desktop_sign_in_callback(key_of(Provider::Weibo), from_provider.to_string()).await,
        ErrorCode::SignInStateInvalid,
    );
    world.core.shutdown().await;
}

#[tokio::test]
async fn no_console_role_a_refusal_or_a_role_removed_meanwhile_sends_the_desktop_an_error_and_opens_nothing() {
    let world = World::start(None, &[]).await;
    let ops: &dyn Ops = &world.core;
    let (_, _, admin) = signed_in(world.sign_in(Provider::Weibo).await.unwrap());
    let admin = Actor::staff(&admin.expect("the first sign-in is the admin"));

    // Somebody without a console role: the desktop hears `not_staff`, with its state, no code.
    let back = walk(&world, Provider::Wechat).await;
    assert_eq!(param(&back, "code"), None, "{back}");
    assert_eq!(param(&back, "error").as_deref(), Some("not_staff"), "{back}");
    assert!(param(&back, "error_description").is_some_and(|d| d.contains("console role")), "{back}");

    // The person refuses at the provider: `sign_in_refused`.
    let authorize = ops.desktop_sign_in_start(start_args(Provider::Qq, REDIRECT, CHALLENGE, "S256")).await.unwrap();
    let provider_state = param(&url::Url::parse(&authorize).unwrap(), "state").expect("the attempt's state");
    let denied = format!("https://opsdeck.invalid/oauth/callback/qq?error=access_denied&state={provider_state}");
    let back = url::Url::parse(&ops.desktop_sign_in_callback(key_of(Provider::Qq), denied).await.unwrap()).unwrap();
    assert!(back.as_str().starts_with(REDIRECT), "{back}");
    assert_eq!(param(&back, "error").as_deref(), Some("sign_in_refused"), "{back}");
    assert_eq!((param(&back, "state").as_deref(), param(&back, "code")), (Some(STATE), None));

    // An operator whose role is removed between the callback and the exchange: nothing opens.
    let wechat = world.sign_in(Provider::Wechat).await.unwrap();
    let (wechat_id, _, _) = signed_in(wechat);
    world.core.staff_set_role(wechat_id, Some(Role::Operator), &admin).await.unwrap();
    let code = code_from(&world, Provider::Wechat).await;
    world.core.staff_set_role(wechat_id, None, &admin).await.unwrap();
    refused(ops.sign_in_exchange(exchange_args(&code, VERIFIER, REDIRECT)).await, ErrorCode::NotStaff);
    let live =
        sessions::live(world.core.database().pool(), chrono::Utc::now(), sessions::Limits::of(world.core.config()))
            .await
            .unwrap();
    assert!(live.iter().all(|s| s.user_id != wechat_id), "no session for them");
    // Given the role again, they sign in as what they are now.
    world.core.staff_set_role(wechat_id, Some(Role::Viewer), &admin).await.unwrap();
    let code = code_from(&world, Provider::Wechat).await;
    let SignInResult::SignedIn { staff, token } =
        ops.sign_in_exchange(exchange_args(&code, VERIFIER, REDIRECT)).await.unwrap()
    else {
        panic!("signed in")
    };
    assert_eq!((staff.user_id, staff.role), (wechat_id, Role::Viewer));
    assert_eq!(ops.session_staff(&token).await.unwrap().role, Role::Viewer);
    assert_eq!(
        ops.session_staff(&SessionToken::new("not-a-session")).await.unwrap_err().code,
        ErrorCode::Unauthenticated
    );
    world.core.shutdown().await;
}
