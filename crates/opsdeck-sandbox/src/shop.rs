//! The simulated shop of sandbox mode: buyers place orders at `sandbox_orders_per_minute`; most
//! pay (`sandbox_pay_ratio`) a little later at the fake Alipay, whose signed notify then goes
//! through the same verification as a real one, in-process (`Core::sandbox_notify`:
//! [`Core::alipay_notify`], the daemon's route, refuses every notify while Alipay is the fake,
//! whose keys are published); one notify in eight is "lost", so the expiry sweep finds those
//! payments by asking Alipay. The rest are left unpaid
//! and expire. Customers' ID-card images arrive at `sandbox_ocr_per_minute`; a few are scripted
//! to fail once (retried) or for good (dead-letter list), so every path of the queue shows.
//!
//! Everything goes through the core's public API, as the shop's backend and its staff would: the
//! catalogue through [`Ops`] with the session of the shop's own staff member ("sandbox shop", an
//! operator: [`Core::sandbox_shop_session`], sandbox mode only), the orders and ID cards through
//! the core's intake (`order_place`, `ocr_submit`, what the daemon's HTTP API serves the shop).

use std::time::Duration;

use opsdeck_api::Ops;
use opsdeck_api::SessionToken;
use opsdeck_api::ocr::Side;
use opsdeck_api::orders::{NewGoods, OrderDraft, OrderItem, OrderKind};
use opsdeck_core::{Core, ShopSettings};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::alipay::FakeAlipay;

/// The share of paid orders whose notify never arrives.
const LOST_NOTIFY: f64 = 0.125;
/// Buyers' user ids.
const BUYERS: std::ops::RangeInclusive<i64> = 1001..=1040;

const CATALOGUE: &[(&str, &str, i64)] = &[
    ("SBX-TEA-01", "Longjing green tea, 250 g", 12_800),
    ("SBX-MUG-01", "Celadon mug", 4_900),
    ("SBX-FAN-01", "Silk folding fan", 8_800),
    ("SBX-INK-01", "Ink stick set", 15_600),
];

/// The running simulation; stops when dropped.
pub struct Shop {
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Shop {
    pub fn start(core: Core, alipay: FakeAlipay, settings: ShopSettings) -> Shop {
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(core, alipay, settings, cancel.clone()));
        tracing::info!("sandbox shop: simulated buyers are placing orders and sending ID cards");
        Shop { cancel, task: Some(task) }
    }

    /// Stops the simulation and waits for it (payments not yet made are dropped).
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn every(per_minute: f64) -> Option<tokio::time::Interval> {
    (per_minute > 0.0).then(|| {
        let mut interval = tokio::time::interval(Duration::from_secs_f64(60.0 / per_minute));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval
    })
}

async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn run(core: Core, alipay: FakeAlipay, settings: ShopSettings, cancel: CancellationToken) {
    let goods = tokio::select! {
        _ = cancel.cancelled() => return,
        goods = stock_shelves(&core) => goods,
    };
    let mut orders = every(settings.orders_per_minute);
    let mut images = every(settings.ocr_per_minute);
    let mut serial: u64 = 0;
    let run_id = chrono::Utc::now().timestamp();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick(&mut orders) => place_order(&core, &alipay, &settings, &goods, &cancel).await,
            _ = tick(&mut images) => {
                serial += 1;
                submit_image(&core, run_id, serial).await;
            }
        }
    }
}

/// The shop's goods ids: its catalogue, created on first start (retried until the database
/// answers). Nothing is written, and so the shop does not start, until the database's mark is
/// confirmed to be sandbox (a database down at start-up may yet prove to be a live one): the
/// core refuses the shop's session until then.
async fn stock_shelves(core: &Core) -> Vec<(i64, i64)> {
    let mut wait = Duration::from_millis(500);
    loop {
        match sign_in_and_stock(core).await {
            Ok(goods) => return goods,
            Err(e) => {
                tracing::warn!(error = %e, "sandbox shop: cannot stock the shelves yet; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// Signs the shop's staff member in, stocks the shelves, and signs out again (the shop needs
/// its session for nothing else).
async fn sign_in_and_stock(core: &Core) -> Result<Vec<(i64, i64)>, String> {
    let session = core.sandbox_shop_session().await.map_err(|e| e.to_string())?;
    let goods = ensure_catalogue(core, &session).await;
    if let Err(e) = Ops::sign_out(core, &session).await {
        tracing::debug!(error = %e, "sandbox shop: cannot end its session");
    }
    goods
}

/// The catalogue's goods (id, price), each created by the shop's staff member when missing.
async fn ensure_catalogue(core: &Core, session: &SessionToken) -> Result<Vec<(i64, i64)>, String> {
    let existing = Ops::goods_list(core, session).await.map_err(|e| e.to_string())?;
    let mut ids = Vec::new();
    for (sku, name, price) in CATALOGUE {
        let goods = match existing.iter().find(|g| g.sku == *sku) {
            Some(goods) => goods.clone(),
            None => {
                let new = NewGoods { sku: sku.to_string(), name: name.to_string(), price_fen: *price, stock: 100_000 };
                Ops::goods_create(core, session, new).await.map_err(|e| e.to_string())?
            }
        };
        ids.push((goods.id, goods.price_fen));
    }
    Ok(ids)
}

/// Alipay's amount text for fen: 1280 → "12.80".
pub fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

async fn place_order(
    core: &Core,
    alipay: &FakeAlipay,
    settings: &ShopSettings,
    goods: &[(i64, i64)],
    cancel: &CancellationToken,
) {
    let user_id = fastrand::i64(BUYERS);
    let draft = if goods.is_empty() || fastrand::f64() < 0.15 {
        OrderDraft {
            user_id,
            kind: OrderKind::TopUp,
            items: Vec::new(),
            amount_fen: Some(fastrand::i64(10..=200) * 100),
        }
    } else {
        let mut items: Vec<OrderItem> = Vec::new();
        for _ in 0..fastrand::usize(1..=2) {
            let (goods_id, _) = goods[fastrand::usize(..goods.len())];
            if !items.iter().any(|i| i.goods_id == goods_id) {
                items.push(OrderItem { goods_id, quantity: fastrand::i64(1..=2), price_fen: 0 });
            }
        }
        OrderDraft { user_id, kind: OrderKind::Goods, items, amount_fen: None }
    };
    let order = match core.order_place(draft).await {
        Ok(order) => order,
        Err(e) => {
            tracing::debug!(error = %e, "sandbox shop: an order was refused");
            return;
        }
    };
    if fastrand::f64() >= settings.pay_ratio {
        return;
    }
    // The buyer pays between a tenth and half of the deadline later.
    let delay = settings.order_expiry.mul_f64(0.1 + 0.4 * fastrand::f64());
    let (core, alipay, cancel) = (core.clone(), alipay.clone(), cancel.clone());
    tokio::spawn(async move {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        let amount = yuan(order.amount_fen);
        // The shop creates the trade with the order's absolute time_expire, as a real shop
        // must; a buyer later than that finds the trade closed.
        if let Err(e) = alipay.open_trade(&order.order_no, &order.alipay_time_expire) {
            tracing::warn!(order = %order.order_no, error = %e, "sandbox shop: cannot create the trade");
            return;
        }
        if !alipay.pay(&order.order_no, &amount) {
            tracing::debug!(order = %order.order_no, "sandbox shop: too late, Alipay closed the trade");
            return;
        }
        if fastrand::f64() < LOST_NOTIFY {
            tracing::debug!(order = %order.order_no, "sandbox shop: paid, and the notify is lost");
            return;
        }
        let form = alipay.signed_notify(&order.order_no, &amount, "TRADE_SUCCESS");
        if let Err(e) = core.sandbox_notify(&form).await {
            tracing::warn!(order = %order.order_no, error = %e, "sandbox shop: the notify was refused");
        }
    });
}

async fn submit_image(core: &Core, run_id: i64, serial: u64) {
    let side = if serial % 2 == 1 { Side::Front } else { Side::Back };
    let name = format!("{run_id}-{serial:05}-{}", if side == Side::Front { "front" } else { "back" });
    // Mostly good images; a few fail once (and are retried), a few can never be read.
    let url = match fastrand::u8(..100) {
        0..=3 => format!("https://sandbox-shop.invalid/idcards/{name}.jpg?fail=282000&times=1"),
        4..=5 => format!("https://sandbox-shop.invalid/idcards/{name}-unreachable.jpg"),
        _ => format!("https://sandbox-shop.invalid/idcards/{name}.jpg"),
    };
    if let Err(e) = core.ocr_submit(&url, side).await {
        tracing::debug!(error = %e, "sandbox shop: an ID card was refused");
    }
}

#[cfg(test)]
mod tests {
    use super::yuan;

    #[test]
    fn amounts_are_written_as_alipay_does() {
        assert_eq!(yuan(1280), "12.80");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(100_000), "1000.00");
    }
}
