//! The Redis connection: one reconnecting `ConnectionManager` per core, created lazily so that a
//! Redis that is down at start-up (or goes away later) shows up in the health report and comes
//! back by itself.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::config::Config;

/// The shared Redis server: dispatch queues, due indexes, claims, rate limits.
#[derive(Clone)]
pub struct RedisConn {
    client: redis::Client,
    manager: ConnectionManager,
    prefix: String,
}

impl RedisConn {
    pub fn open(config: &Config) -> anyhow::Result<RedisConn> {
        let client = redis::Client::open(config.redis_url.expose())?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.health_timeout))
            .set_response_timeout(Some(config.health_timeout))
            // Few, quick retries per command: the health monitor and the callers retry on their
            // own schedule, and a caller must learn soon that Redis is gone.
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), manager_config)?;
        Ok(RedisConn { client, manager, prefix: config.redis_prefix.clone() })
    }

    /// A handle for commands; cheap to clone, shares one multiplexed connection.
    pub fn manager(&self) -> ConnectionManager {
        self.manager.clone()
    }

    /// A connection of its own, for blocking commands (`XREADGROUP … BLOCK`), which would hold
    /// up every other caller of the shared multiplexed connection. `response_timeout` must
    /// exceed the longest block.
    pub async fn dedicated(&self, response_timeout: Duration) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(response_timeout));
        self.client.get_multiplexed_async_connection_with_config(&config).await
    }

    /// The key for `name` under this environment's prefix.
    pub fn key(&self, name: &str) -> String {
        format!("{}:{}", self.prefix, name)
    }

    /// One `PING`, bounded by `timeout`.
    pub async fn ping(&self, timeout: Duration) -> anyhow::Result<()> {
        let mut conn = self.manager();
        let reply: String = tokio::time::timeout(timeout, redis::cmd("PING").query_async(&mut conn))
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {} ms", timeout.as_millis()))??;
        anyhow::ensure!(reply == "PONG", "unexpected reply to PING: {reply:?}");
        Ok(())
    }
}
