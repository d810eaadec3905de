//! The order invariants under 10,000 random interleavings across two instances, on SQLite and on
//! MariaDB: goods orders and top-ups; payments through signed notifies (the real verification
//! path), payments whose notify was lost (only a query finds them), payments of a different
//! amount whose notify was lost; sweeps on either instance, one of which reaches Alipay through a
//! slow link (a TCP proxy adding up to 1.5 s per request) and Redis through a link that holds
//! back each of its lease renewals for 1.2 s (past the 1 s lease), so that its due-order
//! leases lapse mid-sweep and the other instance claims the same orders; staff cancellations.
//!
//! What must hold at the end: every order is in `orders` or `cancelled_orders`, exactly once; an
//! order a notify paid is paid; an order paid with another amount is never paid; a conflict is
//! recorded once, for a cancelled order; stock is conserved (available + locked + sold) and
//! locked/sold match the pending/paid orders; each user's balance is the sum of their paid
//! top-ups.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opsdeck_api::intake::NotifyOutcome;
use opsdeck_core::orders::due::renew_script_hash;
use opsdeck_core::orders::model::{NewGoods, OrderDraft, OrderItem, OrderKind};
use opsdeck_core::{Actor, Core};
use opsdeck_sandbox::alipay::{FakeAlipay, FakeAlipayConfig, SANDBOX_ALIPAY_PUBLIC_KEY, SANDBOX_APP_PRIVATE_KEY};

use crate::helpers::{config_with, fresh_mysql_url, redis_url, toml_string, unique};
use crate::proxy::{FaultProxy, server_of};

const OPS: usize = 10_000;
const ROUND: usize = 16;
const STOCK: i64 = 100_000;
const USERS: i64 = 6;

/// What the test did to one order.
#[derive(Debug, Default, Clone)]
struct Fate {
    amount_fen: i64,
    /// A top-up for this user.
    top_up_for: Option<i64>,
    /// A signed notify was answered Paid or AlreadyPaid: it must end paid.
    paid_by_notify: bool,
    /// A signed notify was answered Conflict: it must end cancelled, with one record.
    conflict: bool,
    /// Paid at Alipay with its own amount (a notify may or may not follow).
    paid_at_alipay: bool,
    /// Paid at Alipay with another amount (notify lost): it must never be paid.
    wrong_amount: bool,
}

fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

fn instance_config(
    dir: &Path,
    prefix: &str,
    database: &str,
    (gateway, redis): (&str, &str),
    scheduled: bool,
) -> opsdeck_core::Config {
    config_with(
        dir,
        &[
            ("data_dir", toml_string(&dir.display().to_string())),
            ("database_url", toml_string(database)),
            ("redis_url", toml_string(redis)),
            ("redis_prefix", toml_string(prefix)),
            ("health_interval_ms", "200".into()),
            // Redis answers wait behind a held-back renewal: no timeout for that.
            ("health_timeout_ms", "5000".into()),
            ("alipay_gateway_url", toml_string(gateway)),
            ("alipay_app_id", toml_string(&FakeAlipayConfig::default().app_id)),
            ("alipay_private_key", format!("'''{SANDBOX_APP_PRIVATE_KEY}'''")),
            ("alipay_public_key", format!("'''{SANDBOX_ALIPAY_PUBLIC_KEY}'''")),
            ("order_expiry_seconds", "1".into()),
            // Shorter than the slow instance's held-back renewals: its leases lapse mid-sweep.
            ("expiry_lease_seconds", "1".into()),
            ("scheduler_enabled", scheduled.to_string()),
        ],
    )
}

async fn interleavings_keep_every_invariant(database: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&dir_a).unwrap();
    std::fs::create_dir_all(&dir_b).unwrap();
    // One SQLite file for both instances, or one MariaDB database.
    let database = database.unwrap_or_else(|| format!("sqlite://{}/orders.db?mode=rwc", dir.path().display()));
    let alipay = FakeAlipay::start("127.0.0.1:0".parse().unwrap(), FakeAlipayConfig::default()).await.unwrap();
    let slow = FaultProxy::start(server_of(&alipay.gateway_url)).await;
    slow.set_latency(Duration::ZERO, Duration::from_millis(1500));
    let stalled_renewals = FaultProxy::start(server_of(&redis_url())).await;
    stalled_renewals.delay_matching(renew_script_hash().as_bytes(), Duration::from_millis(1200));
    let prefix = unique("t");
    // A sweeps when the test says; B also runs the scheduled sweep, through the slow links.
    let a = Core::start(instance_config(&dir_a, &prefix, &database, (&alipay.gateway_url, &redis_url()), false))
        .await
        .unwrap();
    let b_links = (slow.url_through(&alipay.gateway_url), stalled_renewals.url_through(&redis_url()));
    let b = Core::start(instance_config(&dir_b, &prefix, &database, (&b_links.0, &b_links.1), true)).await.unwrap();
    let instances = [a.clone(), b.clone()];
    let mut all_goods = Vec::new();
    for _ in 0..4 {
        let goods = NewGoods { sku: unique("sku"), name: "Tea".into(), price_fen: 1250, stock: STOCK };
        all_goods.push(a.goods_create(goods, &Actor::system("tester")).await.unwrap().id);
    }
    let seed =
        std::env::var("OPSDECK_PROPTEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    eprintln!("property test seed: {seed} (OPSDECK_PROPTEST_SEED to replay)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let fates = Arc::new(Mutex::new(HashMap::<String, Fate>::new()));
    let mut placed: Vec<String> = Vec::new();
    let mut slow_sweeps = tokio::task::JoinSet::new();
    let mut done = 0;
    while done < OPS {
        let mut round = tokio::task::JoinSet::new();
        for _ in 0..ROUND {
            done += 1;
            let core = instances[rng.usize(..2)].clone();
            let roll = rng.u32(..100);
            let fates = fates.clone();
            let alipay = alipay.clone();
            let target = (!placed.is_empty()).then(|| placed[rng.usize(..placed.len())].clone());
            match (roll, target) {
                (0..22, _) | (_, None) => {
                    let items = vec![OrderItem {
                        goods_id: all_goods[rng.usize(..all_goods.len())],
                        quantity: rng.i64(1..=3),
                        price_fen: 0,
                    }];
                    let draft =
                        OrderDraft { user_id: rng.i64(1..=USERS), kind: OrderKind::Goods, items, amount_fen: None };
                    round.spawn(place(core, draft, fates));
                }
                (22..30, _) => {
                    let user = rng.i64(1..=USERS);
                    let draft = OrderDraft {
                        user_id: user,
                        kind: OrderKind::TopUp,
                        items: vec![],
                        amount_fen: Some(rng.i64(1..=50_000)),
                    };
                    round.spawn(place(core, draft, fates));
                }
                // Paid, and the signed notify arrives (possibly again).
                (30..50, Some(no)) => {
                    let Some(amount) = pay_correctly(&fates, &no) else { continue };
                    round.spawn(async move {
                        alipay.pay(&no, &amount);
                        let form = alipay.signed_notify(&no, &amount, "TRADE_SUCCESS");
                        let outcome = core.alipay_notify(&form).await.unwrap();
                        let mut fates = fates.lock().unwrap();
                        let fate = fates.get_mut(&no).unwrap();
                        match outcome {
                            NotifyOutcome::Paid | NotifyOutcome::AlreadyPaid => fate.paid_by_notify = true,
                            NotifyOutcome::Conflict => fate.conflict = true,
                            NotifyOutcome::Acknowledged => {}
                        }
                        None
                    });
                }
                // Paid at Alipay, the notify lost: only a query finds it.
                (50..60, Some(no)) => {
                    if let Some(amount) = pay_correctly(&fates, &no) {
                        alipay.pay(&no, &amount);
                    }
                }
                // Paid with another amount, the notify lost: it must never count as paid.
                (60..64, Some(no)) => {
                    let mut fates = fates.lock().unwrap();
                    let fate = fates.get_mut(&no).unwrap();
                    if !fate.paid_at_alipay {
                        fate.wrong_amount = true;
                        alipay.pay(&no, &yuan(fate.amount_fen + 1));
                    }
                }
                (64..80, _) => {
                    round.spawn(async move {
                        core.orders_sweep(None).await.unwrap();
                        None
                    });
                }
                // A sweep through the slow link, left running across rounds.
                (80..82, _) => {
                    let b = b.clone();
                    slow_sweeps.spawn(async move { b.orders_sweep(None).await.map(|_| ()) });
                }
                (_, Some(no)) => {
                    round.spawn(async move {
                        // Refused when paid or gone: fine, the invariants say what must hold.
                        let _ = core.order_cancel(&no, "property test", &Actor::system("staff")).await;
                        None
                    });
                }
            }
        }
        while let Some(result) = round.join_next().await {
            if let Some(no) = result.unwrap() {
                placed.push(no);
            }
        }
    }
    while let Some(result) = slow_sweeps.join_next().await {
        result.unwrap().expect("a slow sweep fails only on its own terms");
    }

    let fates = fates.lock().unwrap().clone();
    // Both instances stop (B's scheduled sweep with them); what they left is read on a pool of
    // the test's own.
    a.shutdown().await;
    b.shutdown().await;
    let pool = sqlx::AnyPool::connect(&database).await.unwrap();
    let pool = &pool;
    let mut paid_top_ups: HashMap<i64, i64> = HashMap::new();
    for (no, fate) in &fates {
        // One statement: the scheduled sweep may still run; this is one consistent snapshot.
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM orders WHERE order_no = ?) AS live, \
             (SELECT COUNT(*) FROM orders WHERE order_no = ? AND status = 'paid') AS paid, \
             (SELECT COUNT(*) FROM cancelled_orders WHERE order_no = ?) AS cancelled, \
             (SELECT COUNT(*) FROM order_events WHERE order_no = ? AND event = 'conflict') AS conflicts",
        )
        .bind(no.clone())
        .bind(no.clone())
        .bind(no.clone())
        .bind(no.clone())
        .fetch_one(pool)
        .await
        .unwrap();
        let count = |name: &str| sqlx::Row::try_get::<i64, _>(&row, name).unwrap();
        assert_eq!(count("live") + count("cancelled"), 1, "{no} must be in orders or cancelled, exactly once");
        if fate.paid_by_notify {
            assert_eq!(
                count("paid"),
                1,
                "{no} was paid by a notify but is not paid (cancelled: {})",
                count("cancelled")
            );
        }
        if fate.wrong_amount {
            assert_eq!(count("paid"), 0, "{no} was paid with another amount and must not count as paid");
        }
        if fate.conflict {
            assert_eq!(count("cancelled"), 1, "{no}: a conflict is only for a cancelled order");
            assert_eq!(count("conflicts"), 1, "{no}: the conflict was recorded once");
        }
        if fate.wrong_amount {
            assert!(count("conflicts") <= 1, "{no}: another amount is recorded once, when found");
        }
        if count("paid") == 1
            && let Some(user) = fate.top_up_for
        {
            *paid_top_ups.entry(user).or_insert(0) += fate.amount_fen;
        }
    }
    // Stock is conserved exactly, and locked and sold stock match the pending and paid orders.
    let sold: Vec<(i64, i64, String)> =
        sqlx::query_as("SELECT i.goods_id, i.quantity, o.status FROM order_items i JOIN orders o ON o.id = i.order_id")
            .fetch_all(pool)
            .await
            .unwrap();
    for id in &all_goods {
        let (available, locked, sold_stock): (i64, i64, i64) =
            sqlx::query_as("SELECT stock_available, stock_locked, stock_sold FROM goods WHERE id = ?")
                .bind(*id)
                .fetch_one(pool)
                .await
                .unwrap();
        let quantity =
            |status: &str| -> i64 { sold.iter().filter(|(g, _, s)| g == id && s == status).map(|(_, q, _)| q).sum() };
        assert_eq!(available + locked + sold_stock, STOCK, "goods {id}: stock not conserved");
        assert_eq!(locked, quantity("pending"), "goods {id}: locked ≠ pending orders");
        assert_eq!(sold_stock, quantity("paid"), "goods {id}: sold ≠ paid orders");
    }
    // Each balance is exactly the user's paid top-ups (credited once each).
    for user in 1..=USERS {
        let balance: Option<i64> = sqlx::query_scalar("SELECT balance_fen FROM user_balances WHERE user_id = ?")
            .bind(user)
            .fetch_optional(pool)
            .await
            .unwrap();
        let expected = paid_top_ups.get(&user).copied().unwrap_or(0);
        assert_eq!(balance.unwrap_or(0), expected, "user {user}: balance ≠ paid top-ups");
    }
}

/// Marks the order paid at Alipay with its own amount and returns that amount, unless it was
/// paid with another amount before (which must stay the only payment Alipay knows of).
fn pay_correctly(fates: &Mutex<HashMap<String, Fate>>, no: &str) -> Option<String> {
    let mut fates = fates.lock().unwrap();
    let fate = fates.get_mut(no)?;
    if fate.wrong_amount {
        return None;
    }
    fate.paid_at_alipay = true;
    Some(yuan(fate.amount_fen))
}

async fn place(core: Core, draft: OrderDraft, fates: Arc<Mutex<HashMap<String, Fate>>>) -> Option<String> {
    let top_up_for = (draft.kind == OrderKind::TopUp).then_some(draft.user_id);
    let order = core.order_place(draft).await.unwrap();
    let fate = Fate { amount_fen: order.amount_fen, top_up_for, ..Fate::default() };
    fates.lock().unwrap().insert(order.order_no.clone(), fate);
    Some(order.order_no)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_interleavings_keep_every_order_invariant_on_sqlite() {
    interleavings_keep_every_invariant(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_interleavings_keep_every_order_invariant_on_mariadb() {
    interleavings_keep_every_invariant(Some(fresh_mysql_url().await)).await;
}
