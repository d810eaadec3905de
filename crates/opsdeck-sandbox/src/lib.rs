//! Local fakes of the providers that no machine here can reach, faithful to
//! `shared/specs/providers.md`: same paths, parameters, content types, answers and error codes.
//! They serve the sandbox mode (try OpsDeck without credentials) and the tests.
//!
//! - [`baidu`]: Baidu AI Cloud's token endpoint and ID-card OCR, with its QPS cap (error 18), a
//!   daily quota (17), token expiry (110/111), bad images (216201/216202), configurable latency,
//!   results derived from the image URL, and a log of every call's arrival.

pub mod baidu;
