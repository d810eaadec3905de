//! `console`: `--sessions N` (200) console sessions subscribed to `GET /api/v1/events` of one
//! `opsdeckd` process (sandbox mode, its simulated shop placing 600 orders and sending 600 ID
//! cards a minute, on the bench's Redis and a SQLite file), for `--seconds N` (60). All use one
//! viewer's session (`opsdeckd staff token`), each on an HTTP/1.1 connection of its own.
//!
//! The figures, over the window that starts once every session is subscribed:
//! - `events`: deliveries in total, across all sessions, of the events published during the
//!   window (each event counts once per session that received it; `resync`s not counted).
//! - `event_p50_ms`/`event_p99_ms`: over those deliveries, the time the chunk completing the
//!   message arrived at the client minus the envelope's `at_us` (when the core published it; the
//!   same machine's clock).
//! - `server_cpu_s`: the daemon's user + system CPU over the window (`/proc/<pid>/stat`).
//! - `server_rss_mb`: the daemon's peak resident memory (`VmHWM`, MiB) at the window's end.
//! - `dropped`: see [`dropped`].
//!
//! The daemon is `opsdeckd` next to this executable (`cargo build --release -p opsdeckd`), or
//! `OPSDECK_BENCH_OPSDECKD`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

use crate::services::Redis;
use crate::sse::{ClientLog, KINDS, Run, now_us};
use crate::stats::{percentile, round};

/// After the window, how long each session may take to show it received everything published
/// in it (an event published after it arrives).
const DRAIN: Duration = Duration::from_secs(10);

pub async fn run(seconds: u64, sessions: usize) -> anyhow::Result<Option<Value>> {
    anyhow::ensure!(seconds >= 1 && sessions >= 1, "--seconds and --sessions must be at least 1");
    let dir = tempfile::tempdir()?;
    let redis = Redis::start(dir.path()).await?;
    let config = write_config(dir.path(), &redis.url)?;
    let bin = daemon_binary()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut daemon = Daemon::start(&bin, &config, dir.path(), port)?;
    let base = format!("http://127.0.0.1:{port}");
    daemon.wait_healthy(&base).await?;
    let token = staff_token(&bin, &config, dir.path())?;

    let run = Arc::new(Run {
        http: crate::sse::http_client()?,
        url: format!("{base}/api/v1/events"),
        token,
        window_end_us: AtomicI64::new(0),
        ended: Notify::new(),
        drain: DRAIN,
    });
    let (subscribed_tx, mut subscribed) = mpsc::channel(sessions);
    let clients: Vec<_> =
        (0..sessions).map(|_| tokio::spawn(crate::sse::client(run.clone(), subscribed_tx.clone()))).collect();
    drop(subscribed_tx);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for n in 0..sessions {
        let answer = tokio::time::timeout_at(deadline, subscribed.recv())
            .await
            .with_context(|| format!("only {n} of {sessions} sessions subscribed within 60 s"))?;
        if let Some(Err(e)) = answer {
            anyhow::bail!("a session could not subscribe: {e}\nopsdeckd's log:\n{}", daemon.log_tail());
        }
    }
    eprintln!("opsdeck-bench: {sessions} sessions subscribed; measuring for {seconds} s");

    let start_us = now_us();
    let cpu_start = daemon.cpu_seconds()?;
    let mut peak_rss_kb = 0;
    let end = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < end {
        peak_rss_kb = peak_rss_kb.max(daemon.status_kb("VmRSS:")?);
        tokio::time::sleep(Duration::from_millis(250).min(end.saturating_duration_since(Instant::now()))).await;
    }
    let end_us = now_us();
    let cpu = daemon.cpu_seconds()? - cpu_start;
    let hwm_kb = daemon.status_kb("VmHWM:")?.max(peak_rss_kb);
    run.window_end_us.store(end_us, Ordering::Release);
    run.ended.notify_waiters();

    let mut logs = Vec::with_capacity(sessions);
    for client in clients {
        logs.push(client.await?);
    }
    daemon.stop();
    report_problems(&logs);
    let (events, latencies_ms) = window_latencies(&logs, start_us, end_us);
    print_kinds(&logs, start_us, end_us);
    // In the order (a serde_json map would sort the keys), on one line.
    let fields = [
        ("bench", json!("console")),
        ("sessions", json!(sessions)),
        ("events", json!(events)),
        ("event_p50_ms", json!(round(percentile(&latencies_ms, 50.0)))),
        ("event_p99_ms", json!(round(percentile(&latencies_ms, 99.0)))),
        ("server_cpu_s", json!(round(cpu))),
        ("server_rss_mb", json!(round(hwm_kb as f64 / 1024.0))),
        ("dropped", json!(dropped(&logs))),
    ];
    let fields: Vec<String> = fields.iter().map(|(key, value)| format!("{key:?}:{value}")).collect();
    println!("{{{}}}", fields.join(","));
    Ok(None)
}

/// Events a session should have received and did not, summed over the sessions, plus every
/// `resync` received (the server saying it skipped some).
///
/// The bus numbers each published event (`<boot>-<seq>`, seq 1, 2, 3… with no gap: a `resync`
/// reuses a number, it is never published) and sends every one to every subscriber, so a
/// session subscribed before event `f` (the first it received) should receive every seq from
/// `f` to `last`, the highest seq published before the window's end that any session received.
/// A seq in that range missing from a session counts once for it, so an event no session
/// received counts for all of them (comparing with the union of what the sessions received
/// would miss it). A session whose stream failed, or that had not caught up to the window's end
/// within the drain time, counts everything it lacks up to `last`.
fn dropped(logs: &[ClientLog]) -> u64 {
    let last = logs.iter().flat_map(|log| log.deliveries.iter().map(|d| d.seq)).max().unwrap_or(0);
    logs.iter()
        .map(|log| {
            let Some(first) = log.deliveries.first().map(|d| d.seq) else { return log.resyncs };
            let mut seen: Vec<u64> = log.deliveries.iter().map(|d| d.seq).filter(|s| *s >= first).collect();
            seen.sort_unstable();
            seen.dedup();
            (last - first + 1) - seen.len() as u64 + log.resyncs
        })
        .sum()
}

/// The deliveries of events published during the window, and their latencies (ms, sorted).
fn window_latencies(logs: &[ClientLog], start_us: i64, end_us: i64) -> (usize, Vec<f64>) {
    let mut ms: Vec<f64> = logs
        .iter()
        .flat_map(|log| log.deliveries.iter())
        .filter(|d| d.at_us >= start_us && d.at_us < end_us)
        .map(|d| (d.recv_us - d.at_us) as f64 / 1000.0)
        .collect();
    ms.sort_by(f64::total_cmp);
    (ms.len(), ms)
}

/// Profiling aid on stderr: per event kind, the events published in the window, deliveries,
/// and latency p50/p99/max.
fn print_kinds(logs: &[ClientLog], start_us: i64, end_us: i64) {
    for (index, kind) in KINDS.iter().enumerate() {
        let mut ms = Vec::new();
        let mut seqs = std::collections::HashSet::new();
        for d in logs.iter().flat_map(|log| log.deliveries.iter()) {
            if d.kind as usize == index && d.at_us >= start_us && d.at_us < end_us {
                ms.push((d.recv_us - d.at_us) as f64 / 1000.0);
                seqs.insert(d.seq);
            }
        }
        if ms.is_empty() {
            continue;
        }
        ms.sort_by(f64::total_cmp);
        eprintln!(
            "opsdeck-bench: {kind:>16}: {:>5} events, {:>7} deliveries, p50 {:8.3} ms, p99 {:8.3} ms, max {:8.3} ms",
            seqs.len(),
            ms.len(),
            percentile(&ms, 50.0),
            percentile(&ms, 99.0),
            ms.last().copied().unwrap_or(f64::NAN)
        );
    }
}

fn report_problems(logs: &[ClientLog]) {
    let failed: Vec<&str> = logs.iter().filter_map(|log| log.error.as_deref()).collect();
    if let Some(first) = failed.first() {
        eprintln!("opsdeck-bench: {} sessions' streams failed; the first: {first}", failed.len());
    }
    let resyncs: u64 = logs.iter().map(|log| log.resyncs).sum();
    if resyncs > 0 {
        eprintln!("opsdeck-bench: {resyncs} resync events received (sessions that fell behind)");
    }
}

/// The daemon's configuration: sandbox mode on the bench's Redis and a SQLite file; the shop at
/// the bench's rates; OCR at the fake Baidu's own cap (10 calls a second, an enterprise
/// account's), so ID cards are read as fast as they arrive (600 a minute) instead of queueing.
fn write_config(dir: &Path, redis_url: &str) -> anyhow::Result<PathBuf> {
    let file = dir.join("console.toml");
    let database_url = format!("sqlite://{}?mode=rwc", dir.join("console.db").display());
    std::fs::write(
        &file,
        format!(
            "data_dir = {:?}\ndatabase_url = {database_url:?}\nredis_url = {redis_url:?}\n\
             redis_prefix = \"bench-console-{}\"\nlog = {:?}\n\
             sandbox_orders_per_minute = 600\nsandbox_ocr_per_minute = 600\nocr_qps = 10\n",
            dir.display().to_string(),
            std::process::id(),
            // A profiling aid: the daemon's log filter (its log is shown when it fails).
            std::env::var("OPSDECK_BENCH_DAEMON_LOG").unwrap_or_else(|_| "warn".into()),
        ),
    )?;
    Ok(file)
}

fn daemon_binary() -> anyhow::Result<PathBuf> {
    if let Ok(path) = std::env::var("OPSDECK_BENCH_OPSDECKD") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()?;
    let bin = exe.with_file_name("opsdeckd");
    anyhow::ensure!(
        bin.exists(),
        "no {} (build it with the bench's profile: cargo build --release -p opsdeckd; or set OPSDECK_BENCH_OPSDECKD)",
        bin.display()
    );
    Ok(bin)
}

/// `opsdeckd --config FILE` with none of the caller's `OPSDECK_` variables and HOME in `dir`.
fn opsdeckd(bin: &Path, config: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(bin);
    for (key, _) in std::env::vars() {
        if key.starts_with("OPSDECK_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("HOME", dir).arg("--config").arg(config);
    cmd
}

/// `opsdeckd staff token --name bench --role viewer`: the token is stdout's last line.
fn staff_token(bin: &Path, config: &Path, dir: &Path) -> anyhow::Result<String> {
    let out = opsdeckd(bin, config, dir).args(["staff", "token", "--name", "bench", "--role", "viewer"]).output()?;
    anyhow::ensure!(out.status.success(), "staff token failed: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout)?;
    stdout.lines().last().map(str::to_string).context("staff token printed nothing")
}

/// The `opsdeckd run` process; killed and reaped when dropped.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(bin: &Path, config: &Path, dir: &Path, port: u16) -> anyhow::Result<Daemon> {
        let log = dir.join("opsdeckd.log");
        let child = opsdeckd(bin, config, dir)
            .args(["run", "--sandbox", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        eprintln!("opsdeck-bench: {} (pid {}) on 127.0.0.1:{port}", bin.display(), child.id());
        Ok(Daemon { child, log })
    }

    /// Until `/healthz` answers 200 (its database and Redis reached), at most 60 s.
    async fn wait_healthy(&mut self, base: &str) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("opsdeckd exited ({status}) at start-up: {}", self.log_tail());
            }
            if let Ok(answer) = http.get(format!("{base}/healthz")).send().await
                && answer.status().is_success()
            {
                return Ok(());
            }
            anyhow::ensure!(Instant::now() < deadline, "opsdeckd not healthy within 60 s: {}", self.log_tail());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// utime + stime (fields 14 and 15 of `/proc/<pid>/stat`, after the parenthesised name).
    fn cpu_seconds(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        let after_name = stat.rsplit_once(')').context("an unreadable /proc/<pid>/stat")?.1;
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
        let ticks: u64 = fields
            .get(11)
            .zip(fields.get(12))
            .and_then(|(u, s)| Some(u.parse::<u64>().ok()? + s.parse::<u64>().ok()?))
            .context("no utime/stime in /proc/<pid>/stat")?;
        // SAFETY: sysconf reads a constant of the system.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        Ok(ticks as f64 / per_second.max(1) as f64)
    }

    /// A `kB` line of `/proc/<pid>/status` (`VmRSS:`, `VmHWM:`).
    fn status_kb(&self, field: &str) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse().ok())
            .with_context(|| format!("no {field} in /proc/<pid>/status"))
    }

    /// SIGTERM, then a bounded wait for a clean stop (else SIGKILL).
    fn stop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("opsdeck-bench: opsdeckd did not stop within 30 s of SIGTERM; killed");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::Delivery;

    fn log(seqs: &[u64], resyncs: u64) -> ClientLog {
        let deliveries = seqs.iter().map(|&seq| Delivery {
            seq,
            at_us: seq as i64 * 1000,
            recv_us: seq as i64 * 1000 + 500,
            kind: 0,
        });
        ClientLog { deliveries: deliveries.collect(), resyncs, ..ClientLog::default() }
    }

    #[test]
    fn dropped_counts_gaps_from_each_sessions_first_event_to_the_last_published_and_resyncs() {
        // Complete from their own first event (subscribed at different times): nothing dropped.
        assert_eq!(dropped(&[log(&[3, 4, 5, 6], 0), log(&[5, 6], 0)]), 0);
        // A hole in one session, and one that stopped short of the last (6): 1 + 2.
        assert_eq!(dropped(&[log(&[3, 5, 6], 0), log(&[3, 4], 0)]), 3);
        // An event no session received (5) counts for every session that should have had it.
        assert_eq!(dropped(&[log(&[3, 4, 6], 0), log(&[4, 6], 0)]), 2);
        // A resync counts even when what followed it is complete; a repeat is no gap.
        assert_eq!(dropped(&[log(&[3, 4, 4, 5], 1), log(&[], 2)]), 3);
    }

    #[test]
    fn latencies_cover_the_events_published_in_the_window_once_per_delivery() {
        let (events, ms) = window_latencies(&[log(&[1, 2, 3, 4], 0), log(&[2, 3], 0)], 2000, 4000);
        assert_eq!(events, 4, "seqs 2 and 3 (published at 2 and 3 ms), twice each");
        assert_eq!(ms, vec![0.5; 4]);
    }
}
