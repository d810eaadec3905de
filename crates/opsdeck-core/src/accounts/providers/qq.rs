//! QQ (QQ互联): the token answer is form-encoded by default (JSON only with `fmt=json`, and then
//! still served as text/html); the openid comes from a separate `me` call answering JSONP
//! (`callback( {…} );`); token and `me` errors are JSONP too, user-info errors are `ret` ≠ 0.

use futures_util::future::BoxFuture;

use super::{Attempt, Base, OAuthProvider, ProviderError, body_text, required, text};
use crate::accounts::model::{Gender, Identity, ProviderKey};

const NAME: &str = "QQ";

pub struct Qq(pub(crate) Base);

/// Reads any of QQ's answer shapes as a JSON object: JSONP `callback( {…} );`, plain JSON, or a
/// form-encoded `a=1&b=2`.
pub fn parse_answer(status: u16, body: &str) -> Result<serde_json::Value, ProviderError> {
    let trimmed = body.trim();
    let inner = trimmed
        .strip_prefix("callback(")
        .and_then(|rest| rest.trim_end().strip_suffix(';').unwrap_or(rest).trim_end().strip_suffix(')'))
        .map(str::trim)
        .unwrap_or(trimmed);
    if inner.starts_with('{') {
        return super::json(NAME, status, inner);
    }
    let pairs: serde_json::Map<String, serde_json::Value> = url::form_urlencoded::parse(inner.as_bytes())
        .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
        .collect();
    if pairs.is_empty() {
        return Err(ProviderError::Unavailable {
            provider: NAME,
            message: format!("unreadable answer (HTTP {status})"),
        });
    }
    Ok(serde_json::Value::Object(pairs))
}

/// A token/`me` error (`{"error":100020,"error_description":…}`), if this is one.
fn refused(value: &serde_json::Value) -> Option<ProviderError> {
    let code = text(value, "error")?;
    Some(ProviderError::Refused { provider: NAME, code, message: text(value, "error_description").unwrap_or_default() })
}

/// The openid of a `me` answer, provided the token it describes was issued to this app: a token
/// QQ issued to another app (its `client_id`) is refused, so a code or token obtained for
/// someone else's app cannot sign anyone in here.
pub fn openid_for(me: &serde_json::Value, client_id: &str) -> Result<String, ProviderError> {
    let issued_to = required(NAME, me, "client_id")?;
    if issued_to != client_id {
        return Err(ProviderError::Refused {
            provider: NAME,
            code: "client_id_mismatch".into(),
            message: "the token was issued to another app".into(),
        });
    }
    required(NAME, me, "openid")
}

impl OAuthProvider for Qq {
    fn key(&self) -> ProviderKey {
        ProviderKey::Qq
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
                "/oauth2.0/authorize",
                &[
                    ("response_type", "code"),
                    ("client_id", &c.client_id),
                    ("redirect_uri", &c.redirect_uri),
                    ("state", &attempt.state),
                    ("scope", "get_user_info"),
                ],
            ))
        })
    }

    fn exchange<'a>(&'a self, code: &'a str, _attempt: &'a Attempt) -> BoxFuture<'a, Result<Identity, ProviderError>> {
        Box::pin(async move {
            let b = &self.0;
            let query = [
                ("grant_type", "authorization_code"),
                ("client_id", b.client.client_id.as_str()),
                ("client_secret", b.secret()),
                ("code", code),
                ("redirect_uri", b.client.redirect_uri.as_str()),
            ];
            let (status, body) =
                body_text(NAME, b.http.get(b.api("/oauth2.0/token")).query(&query).send().await).await?;
            let token = parse_answer(status, &body)?;
            if let Some(e) = refused(&token) {
                return Err(e);
            }
            let access = required(NAME, &token, "access_token")?;
            let (status, body) = body_text(
                NAME,
                b.http
                    .get(b.api("/oauth2.0/me"))
                    .query(&[("access_token", access.as_str()), ("unionid", "1")])
                    .send()
                    .await,
            )
            .await?;
            let me = parse_answer(status, &body)?;
            if let Some(e) = refused(&me) {
                return Err(e);
            }
            let openid = openid_for(&me, &b.client.client_id)?;
            let (status, body) = body_text(
                NAME,
                b.http
                    .get(b.api("/user/get_user_info"))
                    .query(&[
                        ("access_token", access.as_str()),
                        ("oauth_consumer_key", b.client.client_id.as_str()),
                        ("openid", openid.as_str()),
                    ])
                    .send()
                    .await,
            )
            .await?;
            let user = super::json(NAME, status, &body)?;
            match text(&user, "ret").as_deref() {
                Some("0") | None => {}
                Some(ret) => {
                    return Err(ProviderError::Refused {
                        provider: NAME,
                        code: ret.to_string(),
                        message: text(&user, "msg").unwrap_or_default(),
                    });
                }
            }
            Ok(Identity {
                provider: ProviderKey::Qq,
                uid: openid,
                unionid: text(&me, "unionid"),
                nickname: text(&user, "nickname"),
                avatar: text(&user, "figureurl_qq_2").or_else(|| text(&user, "figureurl_qq_1")),
                email: None,
                email_verified: false,
                mobile: None,
                gender: match text(&user, "gender").as_deref() {
                    Some("男") => Gender::Male,
                    Some("女") => Gender::Female,
                    _ => Gender::Unknown,
                },
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_answer_shape() {
        let form = parse_answer(200, "access_token=ABC&expires_in=7776000&refresh_token=R").unwrap();
        assert_eq!(form["access_token"], "ABC");
        assert_eq!(form["expires_in"], "7776000");
        let jsonp = parse_answer(200, "callback( {\"client_id\":\"101\",\"openid\":\"OPENID\"} );\n").unwrap();
        assert_eq!(jsonp["openid"], "OPENID");
        let error = parse_answer(200, "callback( {\"error\":100020,\"error_description\":\"code is reused error\"} );")
            .unwrap();
        assert!(matches!(refused(&error), Some(ProviderError::Refused { code, .. }) if code == "100020"));
        let json = parse_answer(200, "{\"access_token\":\"X\",\"expires_in\":\"7776000\"}").unwrap();
        assert_eq!(json["access_token"], "X");
        assert!(parse_answer(502, "").is_err());
    }

    #[test]
    fn a_token_issued_to_another_app_is_refused() {
        let me = parse_answer(200, "callback( {\"client_id\":\"101\",\"openid\":\"OPENID\"} );").unwrap();
        assert_eq!(openid_for(&me, "101").unwrap(), "OPENID");
        let other = openid_for(&me, "102").unwrap_err();
        assert!(matches!(&other, ProviderError::Refused { code, .. } if code == "client_id_mismatch"), "{other}");
        let without = parse_answer(200, "callback( {\"openid\":\"OPENID\"} );").unwrap();
        assert!(openid_for(&without, "101").is_err(), "an answer without client_id is not trusted");
    }
}
