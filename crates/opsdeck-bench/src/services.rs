//! The services a benchmark needs: a Redis server (given, or started here) and an OpsDeck
//! configuration on a scratch SQLite database.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use opsdeck_core::Config;

pub struct Redis {
    pub url: String,
    child: Option<Child>,
}

impl Redis {
    pub async fn start(dir: &Path) -> anyhow::Result<Redis> {
        if let Ok(url) = std::env::var("OPSDECK_BENCH_REDIS_URL") {
            return Ok(Redis { url, child: None });
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .spawn()
            .context("starting redis-server (apt-get install redis-server)")?;
        let url = format!("redis://127.0.0.1:{port}/0");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            anyhow::ensure!(tokio::time::Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Redis { url, child: Some(child) })
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A configuration file in `dir` for one instance.
pub fn config(dir: &Path, database_url: &str, redis_url: &str, prefix: &str) -> anyhow::Result<Config> {
    config_with(dir, database_url, redis_url, prefix, "")
}

/// [`config`] with `extra` TOML lines.
pub fn config_with(
    dir: &Path,
    database_url: &str,
    redis_url: &str,
    prefix: &str,
    extra: &str,
) -> anyhow::Result<Config> {
    let file = dir.join("bench.toml");
    std::fs::write(
        &file,
        format!(
            "data_dir = {:?}\ndatabase_url = {:?}\nredis_url = {:?}\nredis_prefix = {:?}\nlog = \"warn\"\n{extra}",
            dir.display().to_string(),
            database_url,
            redis_url,
            prefix
        ),
    )?;
    Ok(Config::from_layers(dir.to_path_buf(), Some(&file))?)
}
