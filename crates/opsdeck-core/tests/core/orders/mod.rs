//! Order expiry against the real Redis, SQLite, MariaDB and the fake Alipay.
//!
//! - [`placing`]: stock locked, paid once, one order per idempotency key; SQLite and MariaDB.
//! - [`expiry`]: the sweep and staff cancel asking Alipay first, reconcile, deadlines, refusals,
//!   leases, and the trade expiring at Alipay first.
//! - [`payments`]: payments of another amount, refunds, refused notifies with their trace, a
//!   payment without a trade number.
//! - [`sorting`]: the orders and cancelled lists sorted by a column; a sort a list cannot do.
//! - [`activity`]: orders placed, paid, expired and cancelled per minute.
//!
//! Here: the helpers they share.

mod activity;
mod expiry;
mod payments;
mod placing;
mod sorting;

use std::path::Path;

use opsdeck_api::orders::CancelReason;
use opsdeck_core::orders::model::{Goods, NewGoods, OrderDraft, OrderItem, OrderKind, OrderQuery};
use opsdeck_core::{Actor, Config, Core};
use opsdeck_sandbox::alipay::{FakeAlipay, FakeAlipayConfig, SANDBOX_ALIPAY_PUBLIC_KEY, SANDBOX_APP_PRIVATE_KEY};

use crate::helpers::{config_with, redis_url, toml_string, unique, until};

pub(super) async fn fake() -> FakeAlipay {
    FakeAlipay::start("127.0.0.1:0".parse().unwrap(), FakeAlipayConfig::default()).await.unwrap()
}

pub(super) fn orders_config(
    dir: &Path,
    redis: &str,
    prefix: &str,
    alipay: &FakeAlipay,
    extra: &[(&str, String)],
) -> Config {
    let mut lines = vec![
        ("data_dir", toml_string(&dir.display().to_string())),
        ("redis_url", toml_string(redis)),
        ("redis_prefix", toml_string(prefix)),
        ("health_interval_ms", "200".into()),
        ("alipay_gateway_url", toml_string(&alipay.gateway_url)),
        ("alipay_app_id", toml_string(&FakeAlipayConfig::default().app_id)),
        // PEM keys span lines: TOML's multi-line literal strings keep them as they are.
        ("alipay_private_key", format!("'''{SANDBOX_APP_PRIVATE_KEY}'''")),
        ("alipay_public_key", format!("'''{SANDBOX_ALIPAY_PUBLIC_KEY}'''")),
        ("order_expiry_seconds", "1".into()),
        ("expiry_lease_seconds", "2".into()),
        // The tests sweep when they choose (the property test turns the scheduled sweep back on).
        ("scheduler_enabled", "false".into()),
    ];
    lines.retain(|(key, _)| !extra.iter().any(|(k, _)| k == key));
    lines.extend(extra.iter().cloned());
    config_with(dir, &lines)
}

pub(super) async fn start(dir: &Path, prefix: &str, alipay: &FakeAlipay, extra: &[(&str, String)]) -> Core {
    Core::start(orders_config(dir, &redis_url(), prefix, alipay, extra)).await.unwrap()
}

pub(super) async fn goods(core: &Core, stock: i64) -> Goods {
    let sku = unique("sku");
    core.goods_create(NewGoods { sku, name: "Tea".into(), price_fen: 1250, stock }, &Actor::system("tester"))
        .await
        .unwrap()
}

pub(super) async fn stock(core: &Core, id: i64) -> (i64, i64, i64) {
    let g = core.goods_list(&Actor::system("tester")).await.unwrap().into_iter().find(|g| g.id == id).unwrap();
    (g.stock_available, g.stock_locked, g.stock_sold)
}

pub(super) fn buy(user: i64, goods_id: i64, quantity: i64) -> OrderDraft {
    OrderDraft {
        user_id: user,
        kind: OrderKind::Goods,
        items: vec![OrderItem { goods_id, quantity, price_fen: 0 }],
        amount_fen: None,
    }
}

/// Sweeps until `order_no` is no longer pending (paid, or moved to the cancelled orders); its
/// deadline has to pass first.
pub(super) async fn sweep_until_gone(core: &Core, order_no: &str) {
    until(&format!("{order_no} is swept"), || async {
        core.orders_sweep(None).await.unwrap();
        let pending = core.order_get(order_no).await.is_ok_and(|o| o.paid_at.is_none());
        (!pending).then_some(())
    })
    .await;
}

pub(super) async fn cancelled_by(core: &Core, order_no: &str) -> Option<(String, CancelReason)> {
    let page = core
        .cancelled_list(
            OrderQuery { search: Some(order_no.into()), limit: 10, ..OrderQuery::default() },
            &Actor::system("tester"),
        )
        .await
        .unwrap();
    page.orders.first().map(|o| (o.cancelled_by.clone(), o.reason.clone()))
}

pub(super) fn top_up_draft(user_id: i64) -> OrderDraft {
    OrderDraft { user_id, kind: OrderKind::TopUp, items: vec![], amount_fen: Some(100) }
}
