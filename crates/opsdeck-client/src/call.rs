//! One JSON operation on its route, as the server serves it (`crates/opsdeckd/src/http/v1.rs`):
//! ids in the path, a list's query in the query string, every other argument the JSON body; the
//! session `Authorization: Bearer <token>` (never for the open operations); the answer the
//! operation's JSON (`null` for none). An error answer is the server's [`ErrorBody`], handed on
//! as it is; a failure to reach the server is `server_unreachable` and marks the link down.

use std::time::Duration;

use opsdeck_api::{Access, ErrorBody, ErrorCode, HttpMethod, OpResult, Operation, SessionToken};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Inner;

/// How long one operation may take, from connecting to the answer's last byte.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An operation's request being made.
pub(crate) struct Call<'a> {
    inner: &'a Inner,
    op: Operation,
    request: reqwest::RequestBuilder,
}

impl Inner {
    /// `route` (an [`Operation::http`] path) under the server's URL, its `{…}` parameter (if
    /// any) replaced by `param`, percent-encoded as one path segment.
    pub(crate) fn route_url(&self, route: &str, param: Option<&str>) -> Url {
        let mut url = self.base.clone();
        {
            let mut segments = url.path_segments_mut().expect("an http(s) URL has a path");
            segments.pop_if_empty();
            for segment in route.split('/').filter(|s| !s.is_empty()) {
                match (segment.starts_with('{'), param) {
                    (true, Some(value)) => segments.push(value),
                    _ => segments.push(segment),
                };
            }
        }
        url
    }

    /// `op`'s request: its method and route (with `param` for the route's `{…}`), and the
    /// session unless the operation is open.
    pub(crate) fn call(&self, op: Operation, session: Option<&SessionToken>, param: Option<&str>) -> Call<'_> {
        let (method, route) = op.http();
        let method = match method {
            HttpMethod::Get => Method::GET,
            HttpMethod::Post => Method::POST,
            HttpMethod::Put => Method::PUT,
            HttpMethod::Delete => Method::DELETE,
        };
        let mut request = self.http.request(method, self.route_url(route, param));
        if let Some(token) = session.filter(|t| op.access() != Access::Open && !t.is_empty()) {
            // Marked sensitive by reqwest: never in its debug output.
            request = request.bearer_auth(token.expose());
        }
        Call { inner: self, op, request }
    }

    /// `server_unreachable` for `error` (its causes, without the URL's query: no secret is in a
    /// URL we make, but the sign-in's steps carry one-time codes), and the link marked down.
    pub(crate) fn unreachable(&self, error: reqwest::Error) -> ErrorBody {
        let cause = if error.is_timeout() {
            format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())
        } else {
            cause_chain(&error.without_url())
        };
        self.unreachable_because(cause)
    }

    /// `server_unreachable` because of `cause` (plain words), and the link marked down.
    pub(crate) fn unreachable_because(&self, cause: String) -> ErrorBody {
        self.link.down(cause.clone());
        let mut body = ErrorBody::new(
            ErrorCode::ServerUnreachable,
            format!("cannot reach the server {}: {cause}", self.server_url),
        );
        body.params.insert("server".into(), self.server_url.clone());
        body
    }

    /// The error of a non-success answer `status` with `body`: the server's `ErrorBody` as it
    /// is; a gateway's own 502/503/504 (no `ErrorBody`: the server behind it is down) is
    /// `server_unreachable`; anything else `internal`.
    pub(crate) fn refusal(&self, op: Operation, status: StatusCode, body: &[u8]) -> ErrorBody {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(error) => {
                self.link.up();
                error
            }
            Err(_) if matches!(status.as_u16(), 502..=504) => {
                self.unreachable_because(format!("a gateway answered {status}"))
            }
            Err(_) => {
                self.link.up();
                ErrorBody::new(
                    ErrorCode::Internal,
                    format!("the server answered {} with {status} and no error body", op.name()),
                )
            }
        }
    }
}

impl Call<'_> {
    /// The query string (a list's query, `OrdersActivityArgs`, the desktop sign-in's start).
    pub(crate) fn query<Q: Serialize + ?Sized>(mut self, query: &Q) -> Self {
        self.request = self.request.query(query);
        self
    }

    /// The JSON body.
    pub(crate) fn body<B: Serialize + ?Sized>(mut self, body: &B) -> Self {
        self.request = self.request.json(body);
        self
    }

    /// Sends it and reads the answer as `T`.
    pub(crate) async fn send<T: DeserializeOwned>(self) -> OpResult<T> {
        let Call { inner, op, request } = self;
        let response = request.send().await.map_err(|e| request_error(inner, e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| request_error(inner, e))?;
        if !status.is_success() {
            return Err(inner.refusal(op, status, &body));
        }
        inner.link.up();
        serde_json::from_slice(&body).map_err(|e| {
            let message = format!(
                "the server's answer to {} is not what this console reads ({e}); is it another version?",
                op.name()
            );
            ErrorBody::new(ErrorCode::Internal, message)
        })
    }

    /// Sends it and reads the `Location` of its redirect (the desktop sign-in's browser steps,
    /// which answer the sign-in window's next URL).
    pub(crate) async fn send_for_redirect(self) -> OpResult<String> {
        let Call { inner, op, request } = self;
        let response = request.send().await.map_err(|e| request_error(inner, e))?;
        let status = response.status();
        let location =
            response.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_string);
        if status.is_redirection() {
            inner.link.up();
            return location.ok_or_else(|| {
                ErrorBody::new(ErrorCode::Internal, format!("the server redirected {} nowhere", op.name()))
            });
        }
        let body = response.bytes().await.map_err(|e| request_error(inner, e))?;
        if status.is_success() {
            inner.link.up();
            let message = format!("the server answered {} without a redirect", op.name());
            return Err(ErrorBody::new(ErrorCode::Internal, message));
        }
        Err(inner.refusal(op, status, &body))
    }
}

/// A request that could not be made (`internal`: ours) or that found no server.
fn request_error(inner: &Inner, error: reqwest::Error) -> ErrorBody {
    if error.is_builder() {
        return ErrorBody::new(ErrorCode::Internal, format!("cannot make the request: {}", cause_chain(&error)));
    }
    inner.unreachable(error)
}

/// An error and its causes, as one line (`a: b: c`), repeats left out.
pub(crate) fn cause_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text = format!("{text}: {part}");
        }
        source = cause.source();
    }
    text
}
