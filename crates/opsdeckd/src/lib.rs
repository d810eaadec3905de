//! `opsdeckd` as a library: the HTTP API the binary serves with `run --listen` (and the tests
//! drive in-process). The binary itself (`main.rs`) is the command line.

pub mod http;
