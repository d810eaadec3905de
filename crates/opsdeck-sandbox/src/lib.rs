//! Local fakes of the providers that no machine here can reach, faithful to
//! `docs/providers.md`: same paths, parameters, content types, answers and error codes.
//! They serve the sandbox mode (try OpsDeck without credentials) and the tests.
//!
//! - [`baidu`]: Baidu AI Cloud's token endpoint and ID-card OCR, with its QPS cap (error 18), a
//!   daily quota (17), token expiry (110/111), bad images (216201/216202), configurable latency,
//!   results derived from the image URL, and a log of every call's arrival.
//! - [`alipay`]: Alipay's open-API gateway (`alipay.trade.query`, `alipay.trade.close`) with
//!   RSA2-signed requests and answers, outcomes scripted per order, gateway errors, and signed
//!   async notifies, on fixed sandbox key pairs.
//! - [`oauth`]: Weibo, QQ, WeChat and DingTalk web logins, one server per provider on the real
//!   paths: an authorize page (a user picker, Authorize and Deny) or auto-approve, single-use
//!   codes that expire, tokens that can be expired, each provider's own answer formats and error
//!   codes, and a log of every request.
//!
//! With the feature `start`, sandbox mode itself, over the core's public API:
//! - [`launch`]: the one start-up of the desktop and the daemon: the fakes where sandbox mode
//!   applies, the core's configuration pointed at them, the core, and the simulated shop.
//! - `shop`: the simulated shop, which drives the core as a shop's backend and staff would.

pub mod alipay;
pub mod baidu;
pub mod oauth;
#[cfg(feature = "start")]
mod shop;
#[cfg(feature = "start")]
mod start;

#[cfg(feature = "start")]
pub use shop::Shop;
#[cfg(feature = "start")]
pub use start::{Running, Sandbox, launch};
