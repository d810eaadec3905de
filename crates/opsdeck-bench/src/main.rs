//! OpsDeck benchmarks. Each prints one JSON object on stdout.
//!
//! - `scheduler [--seconds N]`: 20 jobs every second; lateness of OpsDeck (as shipped, with its
//!   claims and history), tokio-cron-scheduler (the baseline; median p99 over start phases 0,
//!   240 and 480 ms) and `limit` (plain tokio tasks sleeping until absolute deadlines).
//! - `scheduler-cluster [--seconds N]`: 4 instance processes on one Redis and one database,
//!   one killed (SIGKILL) midway and restarted; counts duplicates and missed runs.
//! - `ocr`: the OCR queue (3 instances, cap 10, 300 requests) against the fake Baidu, beside the
//!   original once-per-second batch design; submission throughput against redis-benchmark XADD.
//! - `expiry`: 10,000 due orders (3 items each) against the fake Alipay at 50 ms, OpsDeck's sweep
//!   beside the original one-at-a-time loop, on SQLite and (with `OPSDECK_BENCH_MYSQL_URL`) MariaDB.
//! - `console [--seconds N] [--sessions N]`: N console sessions (200) on `/api/v1/events` of one
//!   `opsdeckd` process whose sandbox shop places 600 orders and 600 OCR requests a minute;
//!   event latency, the daemon's CPU and peak RSS, events dropped.
//!
//! Services: Redis from `OPSDECK_BENCH_REDIS_URL`, else a `redis-server` the bench starts on a
//! free port (Debian's package; the test command installs it).

mod cluster;
mod console;
mod expiry;
mod ocr;
mod scheduler;
mod services;
mod sse;
mod stats;

use std::process::ExitCode;

fn arg_value(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds = |default: u64| arg_value(&args, "--seconds").and_then(|s| s.parse().ok()).unwrap_or(default);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let result = match args.first().map(String::as_str) {
        Some("scheduler") => runtime.block_on(scheduler::run(seconds(60), args.iter().any(|a| a == "--only-opsdeck"))),
        Some("scheduler-cluster") => runtime.block_on(cluster::run(seconds(60))),
        Some("cluster-worker") => runtime.block_on(cluster::worker(&args)),
        Some("ocr") => runtime.block_on(ocr::run()),
        Some("expiry") => runtime.block_on(expiry::run()),
        Some("console") => {
            let sessions = arg_value(&args, "--sessions").and_then(|s| s.parse().ok()).unwrap_or(200);
            runtime.block_on(console::run(seconds(60), sessions))
        }
        _ => {
            eprintln!(
                "usage: opsdeck-bench scheduler|scheduler-cluster [--seconds N] | ocr | expiry | console [--seconds N] [--sessions N]"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(json) => {
            if let Some(json) = json {
                println!("{json}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("opsdeck-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
