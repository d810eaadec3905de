//! WeChat Open Platform, website login: `appid`/`secret` instead of a client id and secret, the
//! authorize URL's parameters in WeChat's order and ending in `#wechat_redirect`, and errors as
//! `{"errcode":40029,"errmsg":"invalid code"}` with HTTP 200. A user who refuses comes back with
//! only `state` (handled by the flow).

use futures_util::future::BoxFuture;

use super::{Attempt, Base, OAuthProvider, ProviderError, body_text, json, required, text};
use crate::accounts::model::{Gender, Identity, ProviderKey};

const NAME: &str = "WeChat";

pub struct Wechat(pub(crate) Base);

fn refused(value: &serde_json::Value) -> Option<ProviderError> {
    let code = text(value, "errcode").filter(|c| c != "0")?;
    Some(ProviderError::Refused { provider: NAME, code, message: text(value, "errmsg").unwrap_or_default() })
}

impl OAuthProvider for Wechat {
    fn key(&self) -> ProviderKey {
        ProviderKey::Wechat
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
            let page = self.0.page(
                "/connect/qrconnect",
                &[
                    ("appid", &c.client_id),
                    ("redirect_uri", &c.redirect_uri),
                    ("response_type", "code"),
                    ("scope", "snsapi_login"),
                    ("state", &attempt.state),
                ],
            );
            Ok(format!("{page}#wechat_redirect"))
        })
    }

    fn exchange<'a>(&'a self, code: &'a str, _attempt: &'a Attempt) -> BoxFuture<'a, Result<Identity, ProviderError>> {
        Box::pin(async move {
            let b = &self.0;
            let query = [
                ("appid", b.client.client_id.as_str()),
                ("secret", b.secret()),
                ("code", code),
                ("grant_type", "authorization_code"),
            ];
            let (status, body) =
                body_text(NAME, b.http.get(b.api("/sns/oauth2/access_token")).query(&query).send().await).await?;
            let token = json(NAME, status, &body)?;
            if let Some(e) = refused(&token) {
                return Err(e);
            }
            let access = required(NAME, &token, "access_token")?;
            let openid = required(NAME, &token, "openid")?;
            let (status, body) = body_text(
                NAME,
                b.http
                    .get(b.api("/sns/userinfo"))
                    .query(&[("access_token", access.as_str()), ("openid", openid.as_str()), ("lang", "zh_CN")])
                    .send()
                    .await,
            )
            .await?;
            let user = json(NAME, status, &body)?;
            if let Some(e) = refused(&user) {
                return Err(e);
            }
            Ok(Identity {
                provider: ProviderKey::Wechat,
                unionid: text(&user, "unionid").or_else(|| text(&token, "unionid")),
                uid: openid,
                nickname: text(&user, "nickname"),
                avatar: text(&user, "headimgurl"),
                email: None,
                email_verified: false,
                mobile: None,
                gender: match text(&user, "sex").as_deref() {
                    Some("1") => Gender::Male,
                    Some("2") => Gender::Female,
                    _ => Gender::Unknown,
                },
            })
        })
    }
}
