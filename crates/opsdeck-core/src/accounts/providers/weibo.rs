//! Weibo: a standard authorization-code flow whose token answer carries the user's `uid`;
//! errors are JSON with a numeric `error_code` (21325 invalid_grant, 21327 expired_token, …).

use futures_util::future::BoxFuture;

use super::{Attempt, Base, OAuthProvider, ProviderError, body_text, json, required, text};
use crate::accounts::model::{Gender, Identity, ProviderKey};

const NAME: &str = "Weibo";

pub struct Weibo(pub(crate) Base);

/// A Weibo error answer, if this is one.
fn refused(value: &serde_json::Value) -> Option<ProviderError> {
    let code = text(value, "error_code")?;
    let message = text(value, "error_description").or_else(|| text(value, "error")).unwrap_or_default();
    Some(ProviderError::Refused { provider: NAME, code, message })
}

impl OAuthProvider for Weibo {
    fn key(&self) -> ProviderKey {
        ProviderKey::Weibo
    }
    fn name(&self) -> &str {
        NAME
    }
    fn sandbox(&self) -> bool {
        self.0.settings.sandbox
    }
    fn redirect_uri(&self) -> &str {
        &self.0.client.redirect_uri
    }

    fn authorize_url<'a>(&'a self, attempt: &'a Attempt) -> BoxFuture<'a, Result<String, ProviderError>> {
        let c = &self.0.client;
        Box::pin(async move {
            Ok(self.0.page(
                "/oauth2/authorize",
                &[
                    ("client_id", &c.client_id),
                    ("redirect_uri", &c.redirect_uri),
                    ("response_type", "code"),
                    ("state", &attempt.state),
                ],
            ))
        })
    }

    fn exchange<'a>(&'a self, code: &'a str, _attempt: &'a Attempt) -> BoxFuture<'a, Result<Identity, ProviderError>> {
        Box::pin(async move {
            let b = &self.0;
            let form = [
                ("client_id", b.client.client_id.as_str()),
                ("client_secret", b.secret()),
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", b.client.redirect_uri.as_str()),
            ];
            let (status, body) =
                body_text(NAME, b.http.post(b.api("/oauth2/access_token")).form(&form).send().await).await?;
            let token = json(NAME, status, &body)?;
            if let Some(e) = refused(&token) {
                return Err(e);
            }
            let access = required(NAME, &token, "access_token")?;
            let uid = required(NAME, &token, "uid")?;
            let (status, body) = body_text(
                NAME,
                b.http
                    .get(b.api("/2/users/show.json"))
                    .query(&[("access_token", access.as_str()), ("uid", &uid)])
                    .send()
                    .await,
            )
            .await?;
            let user = json(NAME, status, &body)?;
            if let Some(e) = refused(&user) {
                return Err(e);
            }
            Ok(Identity {
                provider: ProviderKey::Weibo,
                nickname: text(&user, "screen_name").or_else(|| text(&user, "name")),
                avatar: text(&user, "avatar_large").or_else(|| text(&user, "profile_image_url")),
                email: None,
                email_verified: false,
                mobile: None,
                gender: match text(&user, "gender").as_deref() {
                    Some("m") => Gender::Male,
                    Some("f") => Gender::Female,
                    _ => Gender::Unknown,
                },
                uid,
                unionid: None,
            })
        })
    }
}
