//! Lateness statistics and process CPU time.

use std::collections::HashMap;

use serde_json::{Value, json};

/// One execution: which job, the instant it was due (ms), and how late it started (ms).
#[derive(Debug, Clone, Copy)]
pub struct Firing {
    pub job: usize,
    pub due_ms: i64,
    pub late_ms: f64,
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The figures of one contender: lateness percentiles, how many fired, missed and duplicated
/// against `expected` (jobs × instants), and the CPU it used.
pub fn summarize(firings: &[Firing], jobs: usize, instants: &[i64], cpu_s: f64) -> Value {
    let mut counts: HashMap<(usize, i64), u32> = HashMap::new();
    for f in firings {
        *counts.entry((f.job, f.due_ms)).or_default() += 1;
    }
    let mut missed = 0;
    for job in 0..jobs {
        for due in instants {
            if !counts.contains_key(&(job, *due)) {
                missed += 1;
            }
        }
    }
    let duplicates: u32 = counts.values().map(|n| n.saturating_sub(1)).sum();
    let mut late: Vec<f64> = firings.iter().map(|f| f.late_ms).collect();
    late.sort_by(|a, b| a.total_cmp(b));
    if let Some(n) = std::env::var("OPSDECK_BENCH_WORST").ok().and_then(|n| n.parse().ok()) {
        print_worst_instants(firings, instants.first().copied().unwrap_or(0), n);
    }
    json!({
        "p50_ms": round(percentile(&late, 50.0)),
        "p99_ms": round(percentile(&late, 99.0)),
        "max_ms": round(late.last().copied().unwrap_or(f64::NAN)),
        "fired": firings.len(),
        "missed": missed,
        "duplicates": duplicates,
        "cpu_s": round(cpu_s),
    })
}

/// Profiling aid (`OPSDECK_BENCH_WORST=N`): the N instants whose latest start was latest, on
/// stderr, as seconds from the first instant with that lateness.
fn print_worst_instants(firings: &[Firing], first_ms: i64, n: usize) {
    let mut worst: HashMap<i64, f64> = HashMap::new();
    for f in firings {
        let w = worst.entry(f.due_ms).or_insert(f64::MIN);
        *w = w.max(f.late_ms);
    }
    let mut worst: Vec<(i64, f64)> = worst.into_iter().collect();
    worst.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (due, late) in worst.into_iter().take(n) {
        eprintln!("instant +{} s: latest start {late:.3} ms late", (due - first_ms) / 1000);
    }
}

/// User + system CPU seconds this process has used, all threads together (including threads
/// that have ended), from the kernel's exact per-process CPU clock rather than 10 ms ticks.
pub fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0.0;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}
