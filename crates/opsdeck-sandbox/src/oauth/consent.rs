//! The authorize page (a user picker with Authorize and Deny, or auto-approve) and the decision
//! its form posts, answered as each provider's redirect.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::http::{Params, escape, html, page, redirect};
use super::state::Shared;
use super::{DECIDE_PATH, FakeOAuthConfig, Provider};

/// What is wrong with an authorize request, in the provider's words.
fn authorize_problem(config: &FakeOAuthConfig, params: &Params) -> Option<&'static str> {
    let provider = config.provider;
    let client_ok = params.get(provider.client_id_param()) == Some(config.client_id.as_str());
    let redirect_ok = params.get("redirect_uri") == Some(config.redirect_uri.as_str());
    let response_type_ok = params.get("response_type") == Some("code");
    let scope = params.get("scope").unwrap_or_default();
    let has_scope = |wanted: &str| scope.split([' ', ',']).any(|s| s == wanted);
    match provider {
        Provider::Weibo if !client_ok => Some("invalid_client (21324): client_id is unknown."),
        Provider::Weibo if !redirect_ok => {
            Some("redirect_uri_mismatch (21322): redirect_uri does not match the application's registered callback.")
        }
        Provider::Weibo if !response_type_ok => Some("unsupported_response_type (21329): response_type must be code."),
        Provider::Qq if params.given("client_id").is_none() => Some("client_id is missing (100001)."),
        Provider::Qq if !client_ok => Some("client id is illegal (100008)."),
        Provider::Qq if !redirect_ok => Some("redirect uri is illegal(100010)"),
        Provider::Qq if !response_type_ok => Some("response_type is illegal (100000)."),
        Provider::Wechat if !client_ok => Some("AppID 参数错误 (the appid is unknown)."),
        Provider::Wechat if !redirect_ok => {
            Some("redirect_uri 参数错误 (the redirect_uri is not the registered callback).")
        }
        Provider::Wechat if !response_type_ok => Some("response_type 参数错误 (it must be code)."),
        Provider::Wechat if !has_scope("snsapi_login") => {
            Some("Scope 参数错误或没有 Scope 权限 (website login needs snsapi_login).")
        }
        Provider::Dingtalk if !client_ok => Some("client_id is invalid: no such application."),
        Provider::Dingtalk if !redirect_ok => {
            Some("redirect_uri is invalid: it is not the application's registered callback.")
        }
        Provider::Dingtalk if !response_type_ok => Some("response_type is invalid: it must be code."),
        Provider::Dingtalk if !has_scope("openid") => Some("scope is invalid: it must include openid."),
        _ => None,
    }
}

pub(super) async fn authorize(State(shared): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let params = Params::query(query);
    let config = &shared.config;
    let name = config.provider.display_name();
    if let Some(problem) = authorize_problem(config, &params) {
        return page(StatusCode::BAD_REQUEST, &format!("{name} sign-in error"), &[problem]);
    }
    let state = params.get("state");
    let (auto_approve, selected) = {
        let inner = shared.lock();
        (inner.auto_approve, inner.selected)
    };
    if auto_approve {
        return approve(&shared, selected, state);
    }
    consent_page(&shared, selected, state)
}

fn consent_page(shared: &Shared, selected: usize, state: Option<&str>) -> Response {
    let config = &shared.config;
    let name = config.provider.display_name();
    let options: String = config
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            format!(
                "<option value=\"{}\"{}>{} ({})</option>",
                escape(&u.uid),
                if i == selected { " selected" } else { "" },
                escape(&u.nickname),
                escape(&u.uid)
            )
        })
        .collect();
    let state_field =
        state.map(|s| format!("<input type=\"hidden\" name=\"state\" value=\"{}\">", escape(s))).unwrap_or_default();
    let (heading, lead) = if config.provider == Provider::Wechat {
        (
            "Scan to sign in with WeChat".to_string(),
            "The real WeChat shows a QR code here, to scan with the phone app. In the sandbox, pick \
             the account that “scanned” and confirm."
                .to_string(),
        )
    } else {
        (format!("Sign in to {name}"), format!("Choose the {name} account to sign in with."))
    };
    let main = format!(
        "<h1>{heading}</h1><p>{lead}</p><p>The application <code>{client}</code> asks to know who you are.</p>\
<form method=\"post\" action=\"{DECIDE_PATH}\">\
<label for=\"user\">Account</label><select id=\"user\" name=\"user\">{options}</select>\
<input type=\"hidden\" name=\"redirect_uri\" value=\"{redirect}\">{state_field}\
<div class=\"actions\"><button id=\"authorize\" type=\"submit\" name=\"decision\" value=\"authorize\">Authorize</button>\
<button id=\"deny\" type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></div></form>",
        heading = escape(&heading),
        lead = escape(&lead),
        client = escape(&config.client_id),
        redirect = escape(&config.redirect_uri),
    );
    html(StatusCode::OK, &format!("Sign in to {name}"), &main)
}

/// The redirect of an approval: a fresh code for `user`, in the provider's parameters.
fn approve(shared: &Shared, user: usize, state: Option<&str>) -> Response {
    let redirect_uri = &shared.config.redirect_uri;
    let code = shared.issue_code(user, redirect_uri);
    let mut params: Vec<(&str, &str)> = match shared.config.provider {
        Provider::Dingtalk => vec![("authCode", code.as_str()), ("code", code.as_str())],
        _ => vec![("code", code.as_str())],
    };
    params.extend(state.map(|s| ("state", s)));
    redirect(redirect_uri, &params)
}

/// The redirect of a refusal, in the provider's parameters.
fn deny(shared: &Shared, state: Option<&str>) -> Response {
    let mut params: Vec<(&str, &str)> = match shared.config.provider {
        Provider::Weibo => vec![
            ("error", "access_denied"),
            ("error_code", "21330"),
            ("error_description", "user denied your request."),
        ],
        Provider::Qq => vec![("usercancel", "1")],
        Provider::Wechat => vec![],
        Provider::Dingtalk => vec![("error", "access_denied")],
    };
    params.extend(state.map(|s| ("state", s)));
    redirect(&shared.config.redirect_uri, &params)
}

/// `POST /__sandbox/decide`: the authorize page's form (`decision`, `user`, `redirect_uri`,
/// `state`).
pub(super) async fn decide(State(shared): State<Shared>, body: Bytes) -> Response {
    let form = Params::parse(&body);
    let config = &shared.config;
    let title = format!("{} sign-in error", config.provider.display_name());
    if form.get("redirect_uri") != Some(config.redirect_uri.as_str()) {
        return page(StatusCode::BAD_REQUEST, &title, &["redirect_uri is not the registered callback."]);
    }
    let state = form.get("state");
    match form.get("decision") {
        Some("authorize") => match form.get("user").and_then(|uid| shared.user_by_uid(uid)) {
            Some(user) => approve(&shared, user, state),
            None => page(StatusCode::BAD_REQUEST, &title, &["No such account."]),
        },
        Some("deny") => deny(&shared, state),
        _ => page(StatusCode::BAD_REQUEST, &title, &["decision must be authorize or deny."]),
    }
}
