//! The fake DingTalk's token and user endpoints (see the module documentation of `oauth`).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::http::{answer, random_hex};
use super::state::{CodeProblem, Shared};

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/v1.0/oauth2/userAccessToken", post(dingtalk_token))
        .route("/v1.0/contact/users/me", get(dingtalk_user))
}

const DINGTALK_JSON: &str = "application/json;charset=utf-8";

fn dingtalk_error(status: StatusCode, code: &str, message: &str) -> Response {
    let id = random_hex(16).to_uppercase();
    let requestid = format!("{}-{}-{}-{}-{}", &id[..8], &id[8..12], &id[12..16], &id[16..20], &id[20..]);
    let body = json!({ "code": code, "message": message, "requestid": requestid });
    answer(status, DINGTALK_JSON, body.to_string())
}

/// `POST /v1.0/oauth2/userAccessToken`, JSON `{"clientId","clientSecret","code","grantType"}`.
async fn dingtalk_token(State(shared): State<Shared>, body: Bytes) -> Response {
    let config = &shared.config;
    let bad = |code, message: &str| dingtalk_error(StatusCode::BAD_REQUEST, code, message);
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
        return bad("MissingParameter", "the request body is not a JSON object.");
    };
    let field = |name: &str| body.get(name).and_then(Value::as_str).filter(|v| !v.is_empty());
    let mut values = Vec::new();
    for name in ["clientId", "clientSecret", "code", "grantType"] {
        match field(name) {
            Some(value) => values.push(value),
            None => return bad("MissingParameter", &format!("{name} is mandatory for this action.")),
        }
    }
    let [client_id, client_secret, code, grant_type] = values[..] else { unreachable!("four fields were read") };
    if grant_type != "authorization_code" {
        return bad("InvalidParameter", "grantType is invalid: the sandbox supports authorization_code.");
    }
    if client_id != config.client_id {
        return bad("InvalidAuthentication", "clientId is invalid: no such application.");
    }
    if client_secret != config.client_secret {
        return bad("InvalidAuthentication", "clientSecret is invalid.");
    }
    let user = match shared.redeem(code, None) {
        Ok(user) => user,
        Err(CodeProblem::Used) => return bad("InvalidAuthentication", "code has been used."),
        Err(CodeProblem::Expired) => return bad("InvalidAuthentication", "code has expired."),
        Err(_) => return bad("InvalidAuthentication", "code is invalid."),
    };
    let token = shared.issue_token(user);
    let body = json!({
        "accessToken": token,
        "refreshToken": random_hex(16),
        "expireIn": shared.token_secs(),
        "corpId": "dingsandbox0psdeck00000000000001",
    });
    answer(StatusCode::OK, DINGTALK_JSON, body.to_string())
}

/// `GET /v1.0/contact/users/me`, the token in `x-acs-dingtalk-access-token`.
async fn dingtalk_user(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let token = headers.get("x-acs-dingtalk-access-token").and_then(|v| v.to_str().ok());
    let Ok(user) = shared.holder(token) else {
        return dingtalk_error(StatusCode::UNAUTHORIZED, "InvalidAuthentication", "不合法的access_token");
    };
    let user = shared.user(user);
    let mut body = json!({
        "nick": user.nickname,
        "avatarUrl": user.avatar,
        "openId": user.uid,
        "stateCode": "86",
    });
    let extra = [("unionId", &user.unionid), ("mobile", &user.mobile), ("email", &user.email)];
    for (name, value) in extra {
        if let Some(value) = value {
            body[name] = json!(value);
        }
    }
    answer(StatusCode::OK, DINGTALK_JSON, body.to_string())
}
