//! `kill -9` of the instance that is sweeping, while its Alipay calls are in flight: its leases
//! lapse, another instance takes the orders over, and no stock is restored twice.

use std::process::Stdio;
use std::time::Duration;

use opsdeck_core::orders::model::{NewGoods, OrderDraft, OrderItem, OrderKind};
use opsdeck_core::{Actor, Config, Core};
use opsdeck_sandbox::alipay::{FakeAlipay, FakeAlipayConfig, SANDBOX_ALIPAY_PUBLIC_KEY, SANDBOX_APP_PRIVATE_KEY};

use super::poll::until_within;
use super::{Daemon, opsdeckd};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweeper_killed_mid_sweep_restores_each_order_once() {
    let dir = tempfile::tempdir().unwrap();
    let redis = std::env::var("OPSDECK_TEST_REDIS_URL")
        .expect("OPSDECK_TEST_REDIS_URL is not set: run the README's test command (scripts/test.sh)");
    // Slow answers: the victim is certainly mid-sweep when it dies.
    let alipay = FakeAlipay::start(
        "127.0.0.1:0".parse().unwrap(),
        FakeAlipayConfig { latency: Duration::from_secs(2), ..FakeAlipayConfig::default() },
    )
    .await
    .unwrap();
    let settings = [
        ("data_dir", dir.path().display().to_string()),
        ("redis_url", redis),
        ("redis_prefix", format!("sweepkill-{}", std::process::id())),
        ("alipay_gateway_url", alipay.gateway_url.clone()),
        ("alipay_app_id", FakeAlipayConfig::default().app_id),
        ("alipay_private_key", SANDBOX_APP_PRIVATE_KEY.to_string()),
        ("alipay_public_key", SANDBOX_ALIPAY_PUBLIC_KEY.to_string()),
        ("order_expiry_seconds", "1".into()),
        ("expiry_lease_seconds", "3".into()),
    ];
    // This process places the orders and watches; only the daemons sweep.
    let file = dir.path().join("watcher.toml");
    let body: String = settings
        .iter()
        .map(|(k, v)| if v.parse::<u64>().is_ok() { format!("{k} = {v}\n") } else { format!("{k} = '''{v}'''\n") })
        .collect();
    std::fs::write(&file, format!("{body}scheduler_enabled = false\n")).unwrap();
    let watcher = Core::start(Config::from_layers(dir.path().to_path_buf(), Some(&file)).unwrap()).await.unwrap();
    let tea = watcher
        .goods_create(
            NewGoods { sku: "tea".into(), name: "Tea".into(), price_fen: 100, stock: 1000 },
            &Actor::system("test"),
        )
        .await
        .unwrap();
    let mut orders = Vec::new();
    for user in 1..=20 {
        let draft = OrderDraft {
            user_id: user,
            kind: OrderKind::Goods,
            items: vec![OrderItem { goods_id: tea.id, quantity: 5, price_fen: 0 }],
            amount_fen: None,
        };
        orders.push(watcher.order_place(draft).await.unwrap().order_no);
    }
    let spawn = || {
        let mut cmd = opsdeckd(dir.path());
        for (key, value) in &settings {
            cmd.env(format!("OPSDECK_{}", key.to_ascii_uppercase()), value);
        }
        Daemon(cmd.env("OPSDECK_LOG", "warn").arg("run").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap())
    };
    let mut victim = spawn();
    // The sweep job fires every 10 s; wait (bounded) until the victim's queries are in flight.
    until_within("the victim started sweeping", Duration::from_secs(40), || async {
        alipay.calls().iter().any(|c| orders.contains(&c.out_trade_no)).then_some(())
    })
    .await;
    let _ = victim.0.kill();
    let _ = victim.0.wait();
    assert_eq!(
        watcher.orders_summary(&Actor::system("tester")).await.unwrap().pending,
        20,
        "nothing was applied before the kill"
    );

    let _survivor = spawn();
    until_within("the orders were taken over", Duration::from_secs(60), || async {
        (watcher.orders_summary(&Actor::system("tester")).await.unwrap().pending == 0).then_some(())
    })
    .await;
    let goods =
        watcher.goods_list(&Actor::system("tester")).await.unwrap().into_iter().find(|g| g.id == tea.id).unwrap();
    assert_eq!(
        (goods.stock_available, goods.stock_locked, goods.stock_sold),
        (1000, 0, 0),
        "each order's stock back once"
    );
    for no in &orders {
        let restored = watcher
            .order_timeline(no, &Actor::system("tester"))
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.event == "stock_restored")
            .count();
        assert_eq!(restored, 1, "{no}: stock restored {restored} times");
    }
    watcher.shutdown().await;
}
