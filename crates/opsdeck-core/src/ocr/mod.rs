//! The OCR queue: ID-card images (by URL) recognised by Baidu's OCR under a global cap.
//!
//! - [`baidu`]: the Baidu client (token, call, typed answer, what each error means).
//! - [`model`]: the types front ends see.
//! - [`store`]: `ocr_requests`, the truth; [`listing`]: the console's filtered, sorted list.
//! - [`attempts`]: `ocr_attempts`, each call to Baidu for a request.
//! - [`queue`]: the Redis stream, retry schedule, pause gate, cap, counters and kept results.
//! - [`submit`]: batched submissions (group commit).
//! - [`dispatcher`]: one instance's reader, caller and housekeeping.

pub mod attempts;
pub mod baidu;
pub mod dispatcher;
pub mod listing;
pub mod model;
pub mod queue;
pub mod store;
pub mod submit;
