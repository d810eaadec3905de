//! The OpsDeck API: the types of every console operation and [`Ops`], the one trait every front
//! end (the desktop shell, the daemon, the tests) calls the core through.
//!
//! No I/O here: serde, chrono, and the derives that generate the console's TypeScript types
//! (ts-rs; `cargo run -p opsdeck-api --bin opsdeck-gen-ts`) and the daemon's OpenAPI schemas
//! (utoipa). Everything crosses a wire as JSON.

pub mod accounts;
pub mod app;
pub mod audit;
pub mod error;
pub mod events;
pub mod health;
pub mod intake;
pub mod jobs;
pub mod ocr;
pub mod ops;
pub mod orders;
pub mod overview;
pub mod session;
pub mod typescript;

pub use error::{ErrorBody, ErrorCode, ErrorReason};
pub use events::{Event, EventEnvelope, EventStream};
pub use ops::{Access, HttpMethod, OpResult, Operation, Ops};
pub use session::{ConnectionStatus, ConsoleMode, LinkState, SessionToken, SessionView, SignInResult};
