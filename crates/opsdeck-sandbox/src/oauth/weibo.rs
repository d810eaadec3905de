//! The fake Weibo's token and user endpoints (see the module documentation of `oauth`).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::http::{Params, answer};
use super::state::{CodeProblem, Shared, TokenProblem};

pub(super) fn routes() -> Router<Shared> {
    Router::new().route("/oauth2/access_token", post(weibo_token)).route("/2/users/show.json", get(weibo_user))
}

const WEIBO_JSON: &str = "application/json;charset=UTF-8";

fn weibo_error(request: &str, error: &str, code: u32, description: Option<&str>) -> Response {
    let mut body = json!({ "error": error, "error_code": code, "request": request });
    if let Some(description) = description {
        body["error_uri"] = json!(request);
        body["error_description"] = json!(description);
    }
    answer(StatusCode::BAD_REQUEST, WEIBO_JSON, body.to_string())
}

/// `POST /oauth2/access_token`, parameters from the query string and the form body alike.
async fn weibo_token(State(shared): State<Shared>, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let mut params = Params::query(query);
    params.0.extend(Params::parse(&body).0);
    let config = &shared.config;
    let path = "/oauth2/access_token";
    let fail = |error, code, description| weibo_error(path, error, code, Some(description));
    if params.get("client_id") != Some(config.client_id.as_str()) {
        return fail("invalid_client", 21324, "invalid client_id");
    }
    if params.get("client_secret") != Some(config.client_secret.as_str()) {
        return fail("invalid_client", 21324, "invalid client_secret");
    }
    match params.get("grant_type") {
        Some("authorization_code") => {}
        None => return fail("invalid_request", 21323, "miss grant_type"),
        Some(_) => return fail("unsupported_grant_type", 21328, "unsupported grant_type"),
    }
    let Some(code) = params.given("code") else {
        return fail("invalid_request", 21323, "miss code");
    };
    let Some(redirect_uri) = params.get("redirect_uri").filter(|r| *r == config.redirect_uri) else {
        return fail("redirect_uri_mismatch", 21322, "redirect_uri_mismatch");
    };
    let user = match shared.redeem(code, Some(redirect_uri)) {
        Ok(user) => user,
        Err(CodeProblem::RedirectMismatch) => return fail("redirect_uri_mismatch", 21322, "redirect_uri_mismatch"),
        Err(CodeProblem::Used) => return fail("invalid_grant", 21325, &format!("authorization code used:{code}")),
        Err(_) => return fail("invalid_grant", 21325, &format!("invalid authorization code:{code}")),
    };
    let token = shared.issue_token(user);
    let secs = shared.token_secs();
    let body = json!({
        "access_token": token,
        "remind_in": secs.to_string(),
        "expires_in": secs,
        "uid": shared.user(user).uid,
        "isRealName": "true",
    });
    answer(StatusCode::OK, WEIBO_JSON, body.to_string())
}

/// `GET /2/users/show.json?access_token&uid`.
async fn weibo_user(State(shared): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let params = Params::query(query);
    let path = "/2/users/show.json";
    match shared.holder(params.get("access_token")) {
        Ok(_) => {}
        Err(TokenProblem::Missing) => {
            return weibo_error(path, "source paramter(appkey) is missing", 10006, None);
        }
        Err(TokenProblem::Unknown) => return weibo_error(path, "invalid_access_token", 21332, None),
        Err(TokenProblem::Expired) => return weibo_error(path, "expired_token", 21327, None),
    }
    let Some(uid) = params.given("uid") else {
        return weibo_error(path, "miss required parameter (uid or screen_name), see doc for more info.", 10016, None);
    };
    let Some(user) = shared.user_by_uid(uid) else {
        return weibo_error(path, "User does not exists!", 20003, None);
    };
    let user = shared.user(user);
    let id = user.uid.parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::from(user.uid.as_str()));
    let gender = match user.gender.as_deref() {
        Some("m") => "m",
        Some("f") => "f",
        _ => "n",
    };
    let body = json!({
        "id": id,
        "idstr": user.uid,
        "screen_name": user.nickname,
        "name": user.nickname,
        "location": "",
        "description": "",
        "profile_image_url": user.avatar,
        "avatar_large": user.avatar,
        "avatar_hd": user.avatar,
        "gender": gender,
        "verified": false,
    });
    answer(StatusCode::OK, WEIBO_JSON, body.to_string())
}
