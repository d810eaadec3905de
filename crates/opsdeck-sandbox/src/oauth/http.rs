//! The small pieces every provider's handlers share: parameters, random ids, deadlines, plain
//! answers, redirects and the fake's own HTML pages.

use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

/// Form-encoded parameters in arrival order; the first of a name wins.
pub(super) struct Params(pub(super) Vec<(String, String)>);

impl Params {
    pub(super) fn parse(text: &[u8]) -> Params {
        Params(url::form_urlencoded::parse(text).into_owned().collect())
    }

    pub(super) fn query(query: Option<String>) -> Params {
        Params::parse(query.unwrap_or_default().as_bytes())
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Present and not empty.
    pub(super) fn given(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }
}

pub(super) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    openssl::rand::rand_bytes(&mut buf).expect("OpenSSL's random generator works");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// `now + ttl`, capped at a century so that a huge TTL cannot overflow.
pub(super) fn deadline(ttl: Duration) -> Instant {
    Instant::now() + ttl.min(Duration::from_secs(100 * 365 * 86_400))
}

pub(super) fn answer(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// `302` to `redirect_uri` with `params` appended to its query (an existing query is kept).
pub(super) fn redirect(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return page(StatusCode::BAD_REQUEST, "Sign-in error", &["The registered redirect URI is not a URL."]);
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{margin:0;font:15px/1.5 system-ui,-apple-system,'Segoe UI','PingFang SC','Microsoft YaHei',sans-serif;background:#f4f5f7;color:#1f2328}\
.banner{background:#fff4ce;border-bottom:1px solid #e8d48a;padding:8px 16px;font-size:13px}\
main{max-width:420px;margin:48px auto;background:#fff;border:1px solid #d8dce1;border-radius:8px;padding:24px 28px}\
h1{font-size:20px;margin:0 0 12px}label{display:block;margin:16px 0 6px;font-weight:600}\
select{width:100%;padding:8px;font:inherit}.actions{display:flex;gap:12px;margin-top:24px}\
button{flex:1;padding:10px;font:inherit;border-radius:6px;border:1px solid #c4c9d0;background:#fff;cursor:pointer}\
#authorize{background:#1f6feb;border-color:#1f6feb;color:#fff}.error{color:#b42318}code{font-size:13px}";

/// A page of the fake; `paragraphs` are escaped here.
pub(super) fn page(status: StatusCode, title: &str, paragraphs: &[&str]) -> Response {
    let body: String =
        paragraphs.iter().map(|p| format!("<p class=\"error\" id=\"error\">{}</p>", escape(p))).collect();
    html(status, title, &format!("<h1>{}</h1>{body}", escape(title)))
}

pub(super) fn html(status: StatusCode, title: &str, main: &str) -> Response {
    let text = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{} — OpsDeck sandbox</title><style>{STYLE}</style></head><body>\
<div class=\"banner\" role=\"note\">OpsDeck sandbox: a local stand-in for the real provider. \
No real account is used and nothing leaves this machine.</div><main>{main}</main></body></html>\n",
        escape(title)
    );
    let mut response = answer(status, "text/html; charset=utf-8", text);
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    response
}
