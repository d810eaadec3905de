//! Integration tests of the core against real services: SQLite, MariaDB and Redis.
//! The README's test command starts MariaDB and Redis and sets `OPSDECK_TEST_MYSQL_URL` and
//! `OPSDECK_TEST_REDIS_URL`; see `helpers.rs`.

mod accounts;
mod accounts_roles;
mod alipay;
mod api;
mod audit;
mod baidu;
mod config;
mod conventions;
mod db_mode;
mod handoff;
mod health;
mod helpers;
mod live_events;
mod migrations;
mod ocr;
mod ocr_cancel;
mod ocr_faults;
mod ocr_list;
mod ocr_masking;
mod orders;
mod orders_property;
mod overview;
mod plan;
mod proxy;
mod ratelimit;
mod scheduler;
mod session;
mod triggers;
