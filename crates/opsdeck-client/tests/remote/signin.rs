//! The desktop sign-in through the server, driven as the shell's sign-in window drives it:
//! `sign_in_start` → the window follows `Authorization::url` (the server's start, the provider's
//! approve step, the server's callback) until it is sent to `Authorization::redirect_uri` →
//! `sign_in_complete` with that whole URL and the window's binding.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use opsdeck_api::accounts::{Authorization, ProviderKey, Role};
use opsdeck_api::{ErrorCode, Ops, SignInResult};
use opsdeck_core::GrantTarget;
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
async fn sign_in_starts_here_with_pkce_and_a_loopback_redirect_and_a_cancel_forgets_it() {
    let world = World::start().await;
    let client = world.client();
    let window = binding(1);
    let auth = client.sign_in_start(ProviderKey::Weibo, window.clone()).await.unwrap();
    let url = Url::parse(&auth.url).unwrap();
    assert_eq!(url.as_str().split('?').next(), Some(format!("{}/api/v1/auth/desktop/start", world.url).as_str()));
    let redirect = Url::parse(&auth.redirect_uri).unwrap();
    assert_eq!(
        (redirect.scheme(), redirect.host_str(), redirect.path()),
        ("http", Some("127.0.0.1"), "/opsdeck/signin")
    );
    assert!(redirect.port().is_some_and(|p| p != 0), "{redirect}");
    assert_eq!(param(&url, "provider").as_deref(), Some("weibo"));
    assert_eq!(param(&url, "redirect_uri"), Some(auth.redirect_uri.clone()));
    assert_eq!(param(&url, "state"), Some(auth.state.clone()));
    assert_eq!(param(&url, "code_challenge_method").as_deref(), Some("S256"));
    // The window's binding is the verifier (it is one): the challenge is its S256.
    assert_eq!(param(&url, "code_challenge"), Some(URL_SAFE_NO_PAD.encode(Sha256::digest(window.as_bytes()))));
    assert!(auth.state.len() >= 43, "an unguessable state: {}", auth.state);
    let other = client.sign_in_start(ProviderKey::Weibo, binding(2)).await.unwrap();
    assert_ne!(other.state, auth.state);

    // Another window's redirect is refused and leaves this attempt alone.
    let planted = format!("{}?code=c&state={}", auth.redirect_uri, auth.state);
    let e = client.sign_in_complete(ProviderKey::Weibo, planted.clone(), binding(3)).await.unwrap_err();
    assert_eq!((e.code, e.field.as_deref()), (ErrorCode::SignInElsewhere, Some("state")), "{e:?}");
    // The server's refusal, handed to the window, is the outcome.
    let refused =
        format!("{}?error=sign_in_refused&error_description=denied&state={}", other.redirect_uri, other.state);
    let e = client.sign_in_complete(ProviderKey::Weibo, refused, binding(2)).await.unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (ErrorCode::SignInRefused, "denied"), "{e:?}");

    assert!(client.sign_in_cancel(auth.state.clone(), window.clone()).await.unwrap());
    // Gone here: the server is asked, and knows no such attempt.
    assert!(!client.sign_in_cancel(auth.state.clone(), window.clone()).await.unwrap());
    let e = client.sign_in_complete(ProviderKey::Weibo, planted, window).await.unwrap_err();
    assert_ne!(e.code, ErrorCode::ServerUnreachable, "the server judged it: {e:?}");
    world.stop().await;
}

#[tokio::test]
async fn a_desktop_signs_in_through_the_server() {
    let world = World::start().await;
    let client = world.client();
    let uid = world.weibo.config().users[0].uid.clone();

    // The first sign-in: the provider's user has no console role yet.
    let window = binding(7);
    let auth = client.sign_in_start(ProviderKey::Weibo, window.clone()).await.unwrap();
    let came_back = follow_window(&auth).await;
    let outcome = client.sign_in_complete(ProviderKey::Weibo, came_back, window).await;
    assert!(!matches!(outcome, Ok(SignInResult::SignedIn { .. })), "no role, no session: {outcome:?}");

    // Made admin on the server's command line, they sign in.
    let target = GrantTarget::Identity { provider: ProviderKey::Weibo, uid };
    opsdeck_core::grant_admin(world.core.config(), &target).await.unwrap();
    let window = binding(8);
    let auth = client.sign_in_start(ProviderKey::Weibo, window.clone()).await.unwrap();
    let came_back = follow_window(&auth).await;
    assert_eq!(param(&Url::parse(&came_back).unwrap(), "state"), Some(auth.state.clone()));
    let outcome = client.sign_in_complete(ProviderKey::Weibo, came_back.clone(), window.clone()).await.unwrap();
    let SignInResult::SignedIn { staff, token } = outcome else { panic!("not signed in: {outcome:?}") };
    assert_eq!(staff.role, Role::Admin);
    assert_eq!(client.session_staff(&token).await.unwrap().user_id, staff.user_id);
    // The code is spent: the same redirect again opens nothing.
    let again = client.sign_in_complete(ProviderKey::Weibo, came_back, window).await;
    assert!(!matches!(again, Ok(SignInResult::SignedIn { .. })), "{again:?}");
    world.stop().await;
}
