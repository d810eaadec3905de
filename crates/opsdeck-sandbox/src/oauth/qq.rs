//! The fake QQ's token and user endpoints (see the module documentation of `oauth`).

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use super::http::{Params, answer, random_hex};
use super::state::{CodeProblem, Shared, TokenProblem};

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/oauth2.0/token", get(qq_token))
        .route("/oauth2.0/me", get(qq_me))
        .route("/user/get_user_info", get(qq_user))
}

const QQ_TEXT: &str = "text/html;charset=utf-8";

/// QQ's `oauth2.0` answers: JSON with `fmt=json`, else JSONP `callback( … );\n`; HTTP 200.
fn qq_reply(json_format: bool, body: &Value) -> Response {
    let text = if json_format { body.to_string() } else { format!("callback( {body} );\n") };
    answer(StatusCode::OK, QQ_TEXT, text)
}

fn qq_error(json_format: bool, code: u32, description: &str) -> Response {
    qq_reply(json_format, &json!({ "error": code, "error_description": description }))
}

/// `GET /oauth2.0/token?grant_type=authorization_code&client_id&client_secret&code&redirect_uri[&fmt=json]`.
async fn qq_token(State(shared): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let params = Params::query(query);
    let config = &shared.config;
    let json_format = params.get("fmt") == Some("json");
    let fail = |code, description| qq_error(json_format, code, description);
    if params.get("grant_type") != Some("authorization_code") {
        return fail(100004, "grant_type is illegal");
    }
    match params.given("client_id") {
        None => return fail(100001, "client_id is missing"),
        Some(id) if id != config.client_id => return fail(100008, "client id is illegal"),
        Some(_) => {}
    }
    match params.given("client_secret") {
        None => return fail(100002, "client_secret is missing"),
        Some(secret) if secret != config.client_secret => return fail(100009, "client secret is illegal"),
        Some(_) => {}
    }
    let Some(code) = params.given("code") else {
        return fail(100005, "code is missing");
    };
    let Some(redirect_uri) = params.get("redirect_uri").filter(|r| *r == config.redirect_uri) else {
        return fail(100010, "redirect uri is illegal");
    };
    let user = match shared.redeem(code, Some(redirect_uri)) {
        Ok(user) => user,
        Err(CodeProblem::RedirectMismatch) => return fail(100010, "redirect uri is illegal"),
        Err(CodeProblem::Used) => return fail(100020, "code is reused error"),
        Err(_) => return fail(100019, "code to access token error"),
    };
    let token = shared.issue_token(user);
    let refresh = random_hex(16).to_uppercase();
    let secs = shared.token_secs().to_string();
    if json_format {
        return qq_reply(true, &json!({ "access_token": token, "expires_in": secs, "refresh_token": refresh }));
    }
    answer(StatusCode::OK, QQ_TEXT, format!("access_token={token}&expires_in={secs}&refresh_token={refresh}"))
}

/// `GET /oauth2.0/me?access_token[&unionid=1][&fmt=json]`.
async fn qq_me(State(shared): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let params = Params::query(query);
    let json_format = params.get("fmt") == Some("json");
    let user = match shared.holder(params.get("access_token")) {
        Ok(user) => shared.user(user),
        Err(TokenProblem::Missing) => return qq_error(json_format, 100007, "access token is missing"),
        Err(TokenProblem::Unknown) => return qq_error(json_format, 100013, "access token is illegal"),
        Err(TokenProblem::Expired) => return qq_error(json_format, 100014, "access token expired"),
    };
    let client_id = shared.lock().me_client_id.clone().unwrap_or_else(|| shared.config.client_id.clone());
    let mut body = json!({ "client_id": client_id, "openid": user.uid });
    if let (Some("1"), Some(unionid)) = (params.get("unionid"), &user.unionid) {
        body["unionid"] = json!(unionid);
    }
    qq_reply(json_format, &body)
}

/// `GET /user/get_user_info?access_token&oauth_consumer_key&openid`.
async fn qq_user(State(shared): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let params = Params::query(query);
    let fail = |ret: i64, msg: &str| {
        answer(StatusCode::OK, "application/json;charset=utf-8", json!({ "ret": ret, "msg": msg }).to_string())
    };
    let user = match shared.holder(params.get("access_token")) {
        Ok(user) => shared.user(user),
        Err(TokenProblem::Missing) => return fail(100007, "access token is missing"),
        Err(TokenProblem::Unknown) => return fail(100013, "access token is illegal"),
        Err(TokenProblem::Expired) => return fail(100014, "access token expired"),
    };
    if params.get("oauth_consumer_key") != Some(shared.config.client_id.as_str()) {
        return fail(-1, "client request's parameters are invalid, invalid oauth_consumer_key");
    }
    if params.get("openid") != Some(user.uid.as_str()) {
        return fail(-1, "client request's parameters are invalid, invalid openid");
    }
    let (gender, gender_type) = match user.gender.as_deref() {
        Some("m") => ("男", 1),
        Some("f") => ("女", 2),
        _ => ("", 0),
    };
    let body = json!({
        "ret": 0,
        "msg": "",
        "is_lost": 0,
        "nickname": user.nickname,
        "gender": gender,
        "gender_type": gender_type,
        "province": "",
        "city": "",
        "year": "",
        "figureurl": user.avatar,
        "figureurl_1": user.avatar,
        "figureurl_2": user.avatar,
        "figureurl_qq_1": user.avatar,
        "figureurl_qq_2": user.avatar,
        "figureurl_qq": user.avatar,
        "is_yellow_vip": "0",
        "vip": "0",
        "yellow_vip_level": "0",
        "level": "0",
        "is_yellow_year_vip": "0",
    });
    answer(StatusCode::OK, "application/json;charset=utf-8", body.to_string())
}
