//! The desktop sign-in through the server, driven as the shell's sign-in window drives it:
//! `sign_in_start` (which asks the server's start) → the window follows `Authorization::url` (the
//! provider's approve step) until it is sent to `Authorization::redirect_uri` (the server's
//! callback, never requested by the window) → `sign_in_complete` with that whole URL and the
//! window's binding (which hands it to the server and exchanges the code).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use opsdeck_api::accounts::{Authorization, ProviderKey};
use opsdeck_api::ops::DesktopSignInStartArgs;
use opsdeck_api::{ErrorBody, ErrorCode, Ops, SignInResult};
use reqwest::Url;
use sha2::{Digest, Sha256};

use crate::world::World;

/// A binding as the shell makes it (`opsdeck_core::random_token`: 32 random bytes, base64url).
fn binding(seed: u8) -> String {
    URL_SAFE_NO_PAD.encode([seed; 32])
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// What the sign-in window does: follows the redirects from `auth.url` (never requesting the
/// redirect URI itself) and answers the URL it was sent to there.
async fn follow_window(auth: &Authorization) -> String {
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut url = Url::parse(&auth.url).unwrap();
    for _ in 0..6 {
        if url.as_str().starts_with(&auth.redirect_uri) {
            return url.to_string();
        }
        let answer = browser.get(url.clone()).send().await.unwrap();
        let status = answer.status();
        let Some(location) = answer.headers().get("location").cloned() else {
            panic!("{url} answered {status} with no redirect: {}", answer.text().await.unwrap_or_default());
        };
        url = url.join(location.to_str().unwrap()).unwrap();
    }
    panic!("the window was never sent to {}", auth.redirect_uri)
}

#[tokio::test]
async fn sign_in_starts_on_the_server_from_here_and_the_window_sees_only_the_provider() {
    let world = World::start().await;
    let client = world.client();
    let window = binding(1);
    let auth = client.sign_in_start(ProviderKey::Weibo, window.clone()).await.unwrap();
    // The client asked the server's start itself (trusting server_ca): the window opens the
    // provider's page and stops at the server's callback the provider was told.
    assert!(auth.url.starts_with(&world.weibo.base_url), "to the provider: {}", auth.url);
    let url = Url::parse(&auth.url).unwrap();
    assert_eq!(param(&url, "state"), Some(auth.state.clone()), "the provider attempt's state");
    assert_eq!(auth.redirect_uri, world.weibo.config().redirect_uri, "where the window stops");
    assert!(auth.state.len() >= 43, "an unguessable state: {}", auth.state);
    let other = client.sign_in_start(ProviderKey::Weibo, binding(2)).await.unwrap();
    assert_ne!(other.state, auth.state);

    // Another window's redirect is refused and leaves this attempt alone.
    let planted = format!("{}?code=c&state={}", auth.redirect_uri, auth.state);
    let e = client.sign_in_complete(ProviderKey::Weibo, planted.clone(), binding(3)).await.unwrap_err();
    assert_eq!((e.code, e.field.as_deref()), (ErrorCode::SignInElsewhere, Some("state")), "{e:?}");
    // The provider's refusal goes through the server and comes back as the outcome.
    let refused = format!("{}?error=access_denied&error_description=denied&state={}", other.redirect_uri, other.state);
    let e = client.sign_in_complete(ProviderKey::Weibo, refused, binding(2)).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::SignInRefused, "{e:?}");

    // The browser steps as operations: their redirects read, not followed.
    let verifier = binding(4);
    let args = DesktopSignInStartArgs {
        provider: ProviderKey::Weibo,
        redirect_uri: "http://127.0.0.1:50123/opsdeck/signin".into(),
        state: "desktop-state".into(),
        code_challenge: URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        code_challenge_method: "S256".into(),
    };
    let to_provider = client.desktop_sign_in_start(args).await.unwrap();
    assert!(to_provider.starts_with(&world.weibo.base_url), "to the provider: {to_provider}");
    let stray = format!("{}/api/v1/auth/callback/weibo?code=c&state=no-such-state", world.url);
    let e = client.desktop_sign_in_callback(ProviderKey::Weibo, stray).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::SignInStateInvalid, "{e:?}");

    assert!(client.sign_in_cancel(auth.state.clone(), window.clone()).await.unwrap());
    // Gone here: the server is asked, and knows no such attempt.
    assert!(!client.sign_in_cancel(auth.state.clone(), window.clone()).await.unwrap());
    let e = client.sign_in_complete(ProviderKey::Weibo, planted, window).await.unwrap_err();
    assert_ne!(e.code, ErrorCode::ServerUnreachable, "the server judged it: {e:?}");
    world.stop().await;
}

/// One sign-in as the window does it: start, follow, complete; the URL it came back to too.
async fn sign_in(client: &opsdeck_client::RemoteOps, window: String) -> (String, Result<SignInResult, ErrorBody>) {
    let auth = client.sign_in_start(ProviderKey::Weibo, window.clone()).await.unwrap();
    let came_back = follow_window(&auth).await;
    assert_eq!(param(&Url::parse(&came_back).unwrap(), "state"), Some(auth.state.clone()), "the attempt's own state");
    let outcome = client.sign_in_complete(ProviderKey::Weibo, came_back.clone(), window).await;
    (came_back, outcome)
}

#[tokio::test]
async fn a_desktop_signs_in_through_the_server() {
    let world = World::start().await;
    let client = world.client();

    // The database's first console sign-in (one person's own server here) opens the console.
    let window = binding(7);
    let (came_back, outcome) = sign_in(&client, window.clone()).await;
    let SignInResult::SignedIn { staff, token } = outcome.unwrap() else { panic!("not signed in") };
    assert_eq!(staff.provider, ProviderKey::Weibo);
    assert_eq!(client.session_staff(&token).await.unwrap().user_id, staff.user_id);
    // The attempt and its one-time code are spent: the same redirect again opens nothing.
    let again = client.sign_in_complete(ProviderKey::Weibo, came_back, window).await;
    assert!(!matches!(again, Ok(SignInResult::SignedIn { .. })), "{again:?}");

    // Someone else, with no console role: the server's refusal, in our codes.
    world.weibo.select_user(&world.weibo.config().users[1].uid.clone());
    let (_, outcome) = sign_in(&client, binding(8)).await;
    let refused = outcome.unwrap_err();
    assert_eq!(refused.code, ErrorCode::NotStaff, "{refused:?}");
    assert_eq!(refused.params.get("provider").map(String::as_str), Some("weibo"));
    world.stop().await;
}
