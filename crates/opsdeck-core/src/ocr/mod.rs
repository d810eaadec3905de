//! The OCR queue's parts. So far: the Baidu ID-card client ([`baidu`]). The queue itself
//! (durable requests, the dispatcher under the global cap, the console view) is the open
//! OCR-queue issue.

pub mod baidu;
