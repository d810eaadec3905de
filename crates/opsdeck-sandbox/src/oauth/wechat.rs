//! The fake WeChat's token and user endpoints (see the module documentation of `oauth`).

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use super::http::{Params, answer, random_hex};
use super::state::{CodeProblem, Shared, TokenProblem};

pub(super) fn routes() -> Router<Shared> {
    Router::new().route("/sns/oauth2/access_token", get(wechat_token)).route("/sns/userinfo", get(wechat_user))
}

const WECHAT_JSON: &str = "application/json; encoding=utf-8";

fn wechat_reply(body: &Value) -> Response {
    answer(StatusCode::OK, WECHAT_JSON, body.to_string())
}

fn wechat_error(code: u32, message: &str) -> Response {
    wechat_reply(&json!({ "errcode": code, "errmsg": message }))
}

/// `GET /sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code`.
async fn wechat_token(State(shared): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let params = Params::query(query);
    let config = &shared.config;
    match params.given("appid") {
        None => return wechat_error(41002, "appid missing"),
        Some(appid) if appid != config.client_id => return wechat_error(40013, "invalid appid"),
        Some(_) => {}
    }
    match params.given("secret") {
        None => return wechat_error(41004, "appsecret missing"),
        Some(secret) if secret != config.client_secret => return wechat_error(40125, "invalid appsecret"),
        Some(_) => {}
    }
    if params.get("grant_type") != Some("authorization_code") {
        return wechat_error(40002, "invalid grant_type");
    }
    let Some(code) = params.given("code") else {
        return wechat_error(41008, "missing code");
    };
    let user = match shared.redeem(code, None) {
        Ok(user) => user,
        Err(CodeProblem::Used) => return wechat_error(40163, "code been used"),
        Err(_) => return wechat_error(40029, "invalid code"),
    };
    let token = shared.issue_token(user);
    let user = shared.user(user);
    let mut body = json!({
        "access_token": token,
        "expires_in": shared.token_secs(),
        "refresh_token": random_hex(40),
        "openid": user.uid,
        "scope": "snsapi_login",
    });
    if let Some(unionid) = &user.unionid {
        body["unionid"] = json!(unionid);
    }
    wechat_reply(&body)
}

/// `GET /sns/userinfo?access_token&openid[&lang]`.
async fn wechat_user(State(shared): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let params = Params::query(query);
    let user = match shared.holder(params.get("access_token")) {
        Ok(user) => shared.user(user),
        Err(TokenProblem::Missing) => return wechat_error(41001, "access_token missing"),
        Err(TokenProblem::Unknown) => return wechat_error(40001, "invalid credential"),
        Err(TokenProblem::Expired) => return wechat_error(42001, "access_token expired"),
    };
    match params.given("openid") {
        None => return wechat_error(41009, "missing openid"),
        Some(openid) if openid != user.uid => return wechat_error(40003, "invalid openid"),
        Some(_) => {}
    }
    let sex = match user.gender.as_deref() {
        Some("m") => 1,
        Some("f") => 2,
        _ => 0,
    };
    let mut body = json!({
        "openid": user.uid,
        "nickname": user.nickname,
        "sex": sex,
        "language": "",
        "province": "",
        "city": "",
        "country": "",
        "headimgurl": user.avatar,
        "privilege": [],
    });
    if let Some(unionid) = &user.unionid {
        body["unionid"] = json!(unionid);
    }
    wechat_reply(&body)
}
