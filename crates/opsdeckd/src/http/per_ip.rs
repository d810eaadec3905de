//! Per-IP limits on the open routes (those without a bearer token: `/healthz`,
//! `/openapi.json`, `/openapi.yaml`, Alipay's notify): GCRA by `governor`, keyed by the peer (an
//! IPv4 address, or an IPv6 /64: one host may use any address of its /64), in this process's
//! memory. Over the limit: 429 `rate_limited` with `Retry-After`. Behind a reverse proxy every
//! request has the proxy's address: limit there too.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use opsdeck_api::ErrorCode;

use super::error::HttpError;

/// Addresses remembered before the idle ones are forgotten.
const FORGET_ABOVE: usize = 10_000;

/// The limiter of the open routes.
pub struct PerIp {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    /// When idle addresses were last forgotten (at most once a second: it scans them all).
    forgotten: std::sync::Mutex<std::time::Instant>,
}

impl PerIp {
    /// `per_second` requests a second on average per address, bursts of `burst`.
    pub fn new(per_second: u32, burst: u32) -> PerIp {
        let rate = NonZeroU32::new(per_second.max(1)).expect("at least 1");
        let burst = NonZeroU32::new(burst.max(1)).expect("at least 1");
        PerIp {
            limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            clock: DefaultClock::default(),
            forgotten: std::sync::Mutex::new(std::time::Instant::now()),
        }
    }

    /// `Ok` when `ip` may make a request now, else how many whole seconds to wait.
    fn check(&self, ip: IpAddr) -> Result<(), u64> {
        if self.limiter.len() > FORGET_ABOVE
            && let Ok(mut last) = self.forgotten.try_lock()
            && last.elapsed() >= std::time::Duration::from_secs(1)
        {
            self.limiter.retain_recent();
            *last = std::time::Instant::now();
        }
        self.limiter.check_key(&super::serve::peer_key(ip)).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

/// The middleware of the open routes. A request without a peer address (a router driven
/// in-process, not through [`super::serve`]) is not limited.
pub async fn limit(State(per_ip): State<Arc<PerIp>>, request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
    if let Some(ip) = peer
        && let Err(wait_s) = per_ip.check(ip)
    {
        tracing::debug!(%ip, path = %request.uri().path(), "rate limited");
        let mut response =
            HttpError::new(ErrorCode::RateLimited, format!("too many requests from this address: retry in {wait_s} s"))
                .into_response();
        if let Ok(value) = HeaderValue::from_str(&wait_s.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    next.run(request).await
}
