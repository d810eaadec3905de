//! `expiry`: 10,000 due orders of 3 items each against the fake Alipay answering after 50 ms,
//! on SQLite and on MariaDB. OpsDeck's sweep as shipped (bounded concurrency, batched
//! transactions) against the seed loop of the original design (for each order: query Alipay,
//! then one transaction), in the same run. The seed loop's rate is flat, so it is measured over
//! its first [`SEED_SECONDS`] (it would need minutes for all 10,000); the sweep then takes the
//! rest.

use opsdeck_core::Actor;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use opsdeck_core::Core;
use opsdeck_core::orders::alipay::{AlipayClient, AlipayConfig};
use opsdeck_core::orders::model::{NewGoods, OrderDraft, OrderItem, OrderKind};
use opsdeck_core::orders::store;
use opsdeck_sandbox::alipay::{FakeAlipay, FakeAlipayConfig, SANDBOX_ALIPAY_PUBLIC_KEY, SANDBOX_APP_PRIVATE_KEY};
use serde_json::{Value, json};

use crate::services::{Redis, config_with};
use crate::stats::round;

const ORDERS: usize = 10_000;
const LATENCY: Duration = Duration::from_millis(50);
const SEED_SECONDS: u64 = 15;

pub async fn run() -> anyhow::Result<Option<Value>> {
    let dir = tempfile::tempdir()?;
    let redis = Redis::start(dir.path()).await?;
    let sqlite_dir = dir.path().join("sqlite");
    std::fs::create_dir_all(&sqlite_dir)?;
    let sqlite_url = format!("sqlite://{}?mode=rwc", sqlite_dir.join("expiry.db").display());
    let sqlite = one(&sqlite_dir, &sqlite_url, &redis, "sqlite").await?;
    let mariadb = match std::env::var("OPSDECK_BENCH_MYSQL_URL") {
        Ok(url) => {
            let maria_dir = dir.path().join("mariadb");
            std::fs::create_dir_all(&maria_dir)?;
            one(&maria_dir, &url, &redis, "mariadb").await?
        }
        Err(_) => json!({ "skipped": "set OPSDECK_BENCH_MYSQL_URL to an empty MariaDB database" }),
    };
    Ok(Some(json!({
        "bench": "expiry",
        "orders": ORDERS,
        "provider_latency_ms": LATENCY.as_millis() as u64,
        "sqlite": sqlite,
        "mariadb": mariadb,
    })))
}

async fn one(dir: &Path, database_url: &str, redis: &Redis, name: &str) -> anyhow::Result<Value> {
    let alipay = FakeAlipay::start(
        ([127, 0, 0, 1], 0).into(),
        FakeAlipayConfig { latency: LATENCY, ..FakeAlipayConfig::default() },
    )
    .await?;
    let settings = format!(
        "alipay_gateway_url = {:?}\nalipay_app_id = {:?}\nalipay_private_key = '''{}'''\nalipay_public_key = '''{}'''\n\
         order_expiry_seconds = 1\nscheduler_enabled = false\n",
        alipay.gateway_url,
        FakeAlipayConfig::default().app_id,
        SANDBOX_APP_PRIVATE_KEY,
        SANDBOX_ALIPAY_PUBLIC_KEY,
    );
    let prefix = format!("bench-expiry-{name}-{}", std::process::id());
    let core = Core::start(config_with(dir, database_url, &redis.url, &prefix, &settings)?).await?;
    core.wait_for_health(|r| r.all_ok()).await;

    // 10,000 orders of 3 goods each, placed through the facade.
    let mut goods = Vec::new();
    for i in 0..9 {
        let new = NewGoods { sku: format!("g{i}"), name: format!("Goods {i}"), price_fen: 100 + i, stock: 1_000_000 };
        goods.push(core.goods_create(new, &Actor::system("bench")).await?.id);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..16 {
        let core = core.clone();
        let goods = goods.clone();
        tasks.spawn(async move {
            for n in (worker..ORDERS).step_by(16) {
                let items = (0..3)
                    .map(|k| OrderItem { goods_id: goods[(n + k * 3) % goods.len()], quantity: 1, price_fen: 0 })
                    .collect();
                let draft = OrderDraft { user_id: n as i64 + 1, kind: OrderKind::Goods, items, amount_fen: None };
                core.order_place(draft).await.expect("an order");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done?;
    }
    // Every deadline passes (1 s).
    tokio::time::sleep(Duration::from_millis(1_200)).await;

    let seed_per_s = seed_loop(&core, &alipay).await?;
    let before = core.orders_summary(&Actor::system("bench")).await?.pending;
    let started = Instant::now();
    while core.orders_summary(&Actor::system("bench")).await?.pending > 0 {
        core.orders_sweep(None).await?;
        anyhow::ensure!(started.elapsed() < Duration::from_secs(600), "the sweep did not finish within 10 minutes");
    }
    let opsdeck_per_s = before as f64 / started.elapsed().as_secs_f64();
    core.shutdown().await;
    Ok(json!({
        "opsdeck_per_s": round(opsdeck_per_s),
        "seed_loop_per_s": round(seed_per_s),
        "ratio": round(opsdeck_per_s / seed_per_s),
    }))
}

/// The original design: due order numbers from the sorted set, one at a time: ask Alipay, then
/// one transaction that moves the order and restores its stock, then remove it from the set.
async fn seed_loop(core: &Core, alipay: &FakeAlipay) -> anyhow::Result<f64> {
    let client = AlipayClient::new(
        reqwest::Client::new(),
        AlipayConfig {
            gateway_url: alipay.gateway_url.clone(),
            app_id: FakeAlipayConfig::default().app_id,
            app_private_key: SANDBOX_APP_PRIVATE_KEY.to_string().into(),
            alipay_public_key: SANDBOX_ALIPAY_PUBLIC_KEY.to_string(),
            seller_id: None,
        },
    )?;
    let mut redis = redis::Client::open(core.config().redis_url.expose())?.get_multiplexed_async_connection().await?;
    let due_key = format!("{}:orders:due", core.config().redis_prefix);
    let started = Instant::now();
    let mut done = 0u64;
    while started.elapsed() < Duration::from_secs(SEED_SECONDS) {
        let now = Utc::now().timestamp_millis();
        let due: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(&due_key)
            .arg("-inf")
            .arg(now)
            .arg("LIMIT")
            .arg(0)
            .arg(1)
            .query_async(&mut redis)
            .await?;
        let Some(order_no) = due.into_iter().next() else { break };
        let answer = client.query(&order_no).await?;
        if !answer.status.is_paid() {
            let batch = [(order_no.clone(), "unpaid".to_string())];
            store::cancel_batch(core.database(), &batch, "seed", None, Utc::now(), None).await?;
        }
        let _: () = redis::cmd("ZREM").arg(&due_key).arg(&order_no).query_async(&mut redis).await?;
        done += 1;
    }
    Ok(done as f64 / started.elapsed().as_secs_f64())
}
