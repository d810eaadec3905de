//! DingTalk (new-style API): the token request is a JSON body in camelCase
//! (`clientId`, `clientSecret`, `code`, `grantType`), the answer camelCase too (`accessToken`,
//! `expireIn`); the user call takes the token in the `x-acs-dingtalk-access-token` header; errors
//! are HTTP 400/401 with `{"code","message","requestid"}`. The callback brings `authCode` and/or
//! `code` (the flow accepts both). The stable id is `unionId`. The `mobile` answered is the
//! account's login number, which DingTalk verified by SMS, so it may match an existing user.

use futures_util::future::BoxFuture;

use super::{Attempt, Base, OAuthProvider, ProviderError, body_text, json, required, text};
use crate::accounts::model::{Gender, Identity, ProviderKey};

const NAME: &str = "DingTalk";

pub struct Dingtalk(pub(crate) Base);

/// Non-2xx answers are errors with a `code` and a `message`.
fn checked(status: u16, body: &str) -> Result<serde_json::Value, ProviderError> {
    let value = json(NAME, status, body)?;
    if (200..300).contains(&status) {
        return Ok(value);
    }
    Err(ProviderError::Refused {
        provider: NAME,
        code: text(&value, "code").unwrap_or_else(|| format!("HTTP {status}")),
        message: text(&value, "message").unwrap_or_default(),
    })
}

impl OAuthProvider for Dingtalk {
    fn key(&self) -> ProviderKey {
        ProviderKey::Dingtalk
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
                "/oauth2/auth",
                &[
                    ("redirect_uri", &c.redirect_uri),
                    ("response_type", "code"),
                    ("client_id", &c.client_id),
                    ("scope", "openid"),
                    ("state", &attempt.state),
                    ("prompt", "consent"),
                ],
            ))
        })
    }

    fn exchange<'a>(&'a self, code: &'a str, _attempt: &'a Attempt) -> BoxFuture<'a, Result<Identity, ProviderError>> {
        Box::pin(async move {
            let b = &self.0;
            let request = serde_json::json!({
                "clientId": b.client.client_id,
                "clientSecret": b.secret(),
                "code": code,
                "grantType": "authorization_code",
            });
            let (status, body) =
                body_text(NAME, b.http.post(b.api("/v1.0/oauth2/userAccessToken")).json(&request).send().await).await?;
            let token = checked(status, &body)?;
            let access = required(NAME, &token, "accessToken")?;
            let (status, body) = body_text(
                NAME,
                b.http.get(b.api("/v1.0/contact/users/me")).header("x-acs-dingtalk-access-token", &access).send().await,
            )
            .await?;
            let user = checked(status, &body)?;
            let union_id = required(NAME, &user, "unionId")?;
            Ok(Identity {
                provider: ProviderKey::Dingtalk,
                uid: union_id.clone(),
                unionid: Some(union_id),
                nickname: text(&user, "nick"),
                avatar: text(&user, "avatarUrl"),
                email: text(&user, "email"),
                email_verified: false,
                // DingTalk accounts are registered and signed into with their mobile number, which
                // DingTalk verifies by SMS: `mobile` is that login number.
                mobile: text(&user, "mobile"),
                gender: Gender::Unknown,
            })
        })
    }
}
