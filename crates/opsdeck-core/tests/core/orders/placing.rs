//! Placing orders: stock locked and paid once (short stock changes nothing), and one order per
//! idempotency key however many requests bring it at once; SQLite and MariaDB.

use opsdeck_api::ErrorBody;
use opsdeck_core::Core;
use opsdeck_core::orders::model::{OrderDraft, OrderKind, PaidOutcome};

use crate::helpers::{toml_string, unique};

use super::{buy, fake, goods, start, stock};

async fn placing_locks_stock_and_short_stock_changes_nothing(core: &Core) {
    let tea = goods(core, 5).await;
    let order = core.order_place(buy(7, tea.id, 3)).await.unwrap();
    assert_eq!(order.amount_fen, 3 * 1250);
    assert_eq!(stock(core, tea.id).await, (2, 3, 0));
    let short: ErrorBody = core.order_place(buy(7, tea.id, 3)).await.unwrap_err().into();
    assert_eq!(short.field.as_deref(), Some("items"));
    assert!(short.message.contains("3 wanted, 2 available"), "{}", short.message);
    assert_eq!(
        (short.code.as_str(), short.params["wanted"].as_str(), short.params["available"].as_str()),
        ("stock_short", "3", "2")
    );
    assert_eq!(short.params["name"], tea.name, "the catalogue names the goods");
    assert_eq!(stock(core, tea.id).await, (2, 3, 0), "a refused order changes nothing");
    for (draft, field, code) in [
        (buy(0, tea.id, 1), "user_id", "user_id_invalid"),
        (buy(7, tea.id, 0), "items", "quantity_out_of_range"),
        (buy(7, 999_999, 1), "items", "goods_unknown"),
        (
            OrderDraft { user_id: 7, kind: OrderKind::TopUp, items: vec![], amount_fen: Some(0) },
            "amount_fen",
            "amount_out_of_range",
        ),
    ] {
        let body: ErrorBody = core.order_place(draft).await.unwrap_err().into();
        assert_eq!((body.field.as_deref(), body.code.as_str()), (Some(field), code), "{body:?}");
    }
    // Paid once, whatever the repeats: locked stock becomes sold.
    assert_eq!(core.order_mark_paid(&order.order_no, "T1", "notify").await.unwrap(), PaidOutcome::Applied);
    assert_eq!(core.order_mark_paid(&order.order_no, "T1", "notify").await.unwrap(), PaidOutcome::AlreadyPaid);
    assert_eq!(stock(core, tea.id).await, (2, 0, 3));
}

#[tokio::test]
async fn orders_lock_stock_and_are_paid_once_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake().await;
    let core = start(dir.path(), &unique("t"), &alipay, &[("order_expiry_seconds", "600".into())]).await;
    placing_locks_stock_and_short_stock_changes_nothing(&core).await;
    core.shutdown().await;
}

#[tokio::test]
async fn orders_lock_stock_and_are_paid_once_on_mariadb() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake().await;
    let mysql = crate::helpers::fresh_mysql_url().await;
    let extra = [("database_url", toml_string(&mysql)), ("order_expiry_seconds", "600".into())];
    let core = start(dir.path(), &unique("t"), &alipay, &extra).await;
    placing_locks_stock_and_short_stock_changes_nothing(&core).await;
    core.shutdown().await;
}

/// Two requests with one idempotency key at once: one order, stock locked once, both answered
/// with it; on MariaDB the second's key insert waits for the first's transaction.
async fn one_idempotency_key_places_one_order(database: Option<String>) {
    use opsdeck_core::orders::idempotency::Keyed;
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake().await;
    let extra: Vec<(&str, String)> = database.iter().map(|url| ("database_url", toml_string(url))).collect();
    let core = start(dir.path(), &unique("t"), &alipay, &extra).await;
    let tea = goods(&core, 10).await;
    let (a, b) = tokio::join!(
        core.order_place_keyed(buy(1, tea.id, 2), "key-1"),
        core.order_place_keyed(buy(1, tea.id, 2), "key-1")
    );
    let order_no = |k: Keyed| match k {
        Keyed::Placed(o) | Keyed::Replayed(o) => o.order_no,
        Keyed::Reused { order_no } => panic!("the same request is no reuse ({order_no})"),
    };
    assert_eq!(order_no(a.unwrap()), order_no(b.unwrap()), "one order");
    assert_eq!(stock(&core, tea.id).await, (8, 2, 0), "stock locked once");
    assert!(matches!(core.order_place_keyed(buy(1, tea.id, 3), "key-1").await.unwrap(), Keyed::Reused { .. }));
    assert_eq!(stock(&core, tea.id).await, (8, 2, 0));
    core.shutdown().await;
}

#[tokio::test]
async fn one_idempotency_key_places_one_order_on_sqlite() {
    one_idempotency_key_places_one_order(None).await;
}

#[tokio::test]
async fn one_idempotency_key_places_one_order_on_mariadb() {
    one_idempotency_key_places_one_order(Some(crate::helpers::fresh_mysql_url().await)).await;
}
