//! Order expiry: orders unpaid 30 minutes after creation are cancelled (after asking Alipay
//! whether they were paid after all), their locked stock restored, in one transaction.
//!
//! - [`alipay`]: the Alipay open-API client (RSA2 signing and verification, trade.query,
//!   trade.close, async-notify verification).
//! - [`model`]: the types front ends see.
//! - [`store`]: goods, orders, cancelled orders, the timeline: conditional transitions.
//! - [`due`]: the due index in Redis (claim under a lease, reaper).
//! - [`expiry`]: the sweep.
//! - [`idempotency`]: `Idempotency-Key`s of order placement.

pub mod alipay;
pub mod due;
pub mod expiry;
pub mod idempotency;
pub mod model;
pub mod store;
