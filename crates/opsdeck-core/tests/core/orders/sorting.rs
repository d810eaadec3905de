//! The orders and cancelled orders lists sorted by a column (both directions, the id breaking
//! ties, paged by offset), and a sort a list has no column for refused naming `sort`; SQLite and
//! MariaDB.

use opsdeck_api::ErrorBody;
use opsdeck_api::orders::{OrderSort, OrderStatus};
use opsdeck_core::orders::model::{OrderDraft, OrderKind, OrderQuery};
use opsdeck_core::{Actor, Core};

use opsdeck_sandbox::alipay::Outcome;

use crate::helpers::{fresh_mysql_url, toml_string, unique};

use super::{fake, start};

fn top_up(user_id: i64, amount_fen: i64) -> OrderDraft {
    OrderDraft { user_id, kind: OrderKind::TopUp, items: vec![], amount_fen: Some(amount_fen) }
}

/// The orders' users in the order `query` lists them, every page read (2 a page).
async fn orders_users(core: &Core, sort: OrderSort, desc: bool, status: Option<OrderStatus>) -> Vec<i64> {
    let mut users = Vec::new();
    loop {
        let query =
            OrderQuery { sort: Some(sort), desc, status, offset: users.len() as u32, limit: 2, ..Default::default() };
        let page = core.orders_list(query, &Actor::system("tester")).await.unwrap();
        users.extend(page.orders.iter().map(|o| o.user_id));
        if page.orders.is_empty() || users.len() as i64 >= page.total {
            return users;
        }
    }
}

async fn cancelled_users(core: &Core, sort: OrderSort, desc: bool) -> Vec<i64> {
    let query = OrderQuery { sort: Some(sort), desc, limit: 50, ..Default::default() };
    core.cancelled_list(query, &Actor::system("tester")).await.unwrap().orders.iter().map(|o| o.user_id).collect()
}

async fn orders_sort(core: &Core, alipay: &opsdeck_sandbox::alipay::FakeAlipay) {
    // Users 1..=5 in placing order (ids ascending); amounts with a tie (3 and 4) and user 2 paid.
    for (user, amount) in [(1, 500), (2, 100), (3, 300), (4, 300), (5, 200)] {
        core.order_place(top_up(user, amount)).await.unwrap();
    }
    let orders = core.orders_list(OrderQuery { limit: 10, ..Default::default() }, &Actor::system("tester")).await;
    let paid = orders.unwrap().orders.into_iter().find(|o| o.user_id == 2).unwrap();
    core.order_mark_paid(&paid.order_no, "T2", "notify").await.unwrap();

    assert_eq!(orders_users(core, OrderSort::Amount, false, None).await, [2, 5, 3, 4, 1], "ties by id, ascending");
    assert_eq!(orders_users(core, OrderSort::Amount, true, None).await, [1, 4, 3, 5, 2], "ties by id, descending");
    assert_eq!(orders_users(core, OrderSort::UserId, true, None).await, [5, 4, 3, 2, 1]);
    assert_eq!(orders_users(core, OrderSort::Status, false, None).await, [2, 1, 3, 4, 5], "paid before pending");
    assert_eq!(orders_users(core, OrderSort::Amount, false, Some(OrderStatus::Pending)).await, [5, 3, 4, 1]);
    assert_eq!(orders_users(core, OrderSort::CreatedAt, true, None).await, [5, 4, 3, 2, 1]);
    assert_eq!(orders_users(core, OrderSort::ExpiresAt, false, None).await, [1, 2, 3, 4, 5]);
    assert_eq!(orders_users(core, OrderSort::OrderNo, false, None).await.len(), 5);

    // Cancelled: users 3 and 5, in that order.
    let pending = core.orders_list(OrderQuery { limit: 10, ..Default::default() }, &Actor::system("tester")).await;
    for user in [3, 5] {
        let order = pending.as_ref().unwrap().orders.iter().find(|o| o.user_id == user).unwrap();
        alipay.set(&order.order_no, Outcome::Waiting);
        core.order_cancel(&order.order_no, "customer asked", &Actor::system("alice")).await.unwrap();
    }
    assert_eq!(cancelled_users(core, OrderSort::CancelledAt, false).await, [3, 5]);
    assert_eq!(cancelled_users(core, OrderSort::CancelledAt, true).await, [5, 3]);
    assert_eq!(cancelled_users(core, OrderSort::Amount, false).await, [5, 3]);
    assert_eq!(cancelled_users(core, OrderSort::UserId, true).await, [5, 3]);

    let refused = |list: &'static str, sort: OrderSort| async move {
        let query = OrderQuery { sort: Some(sort), limit: 10, ..Default::default() };
        let error = match list {
            "orders" => core.orders_list(query, &Actor::system("tester")).await.unwrap_err(),
            _ => core.cancelled_list(query, &Actor::system("tester")).await.unwrap_err(),
        };
        ErrorBody::from(error)
    };
    let not_cancelled = refused("orders", OrderSort::CancelledAt).await;
    assert_eq!((not_cancelled.code.as_str(), not_cancelled.field.as_deref()), ("sort_unavailable", Some("sort")));
    assert_eq!(not_cancelled.params["column"], "cancelled_at");
    assert!(not_cancelled.message.contains("cancelled_at"), "{}", not_cancelled.message);
    let no_status = refused("cancelled", OrderSort::Status).await;
    assert_eq!((no_status.code.as_str(), no_status.params["column"].as_str()), ("sort_unavailable", "status"));
    assert!(no_status.params["allowed"].contains("cancelled_at"), "{no_status:?}");
}

#[tokio::test]
async fn orders_and_cancelled_orders_sort_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake().await;
    let core = start(dir.path(), &unique("t"), &alipay, &[("order_expiry_seconds", "600".into())]).await;
    orders_sort(&core, &alipay).await;
    core.shutdown().await;
}

#[tokio::test]
async fn orders_and_cancelled_orders_sort_on_mariadb() {
    let dir = tempfile::tempdir().unwrap();
    let alipay = fake().await;
    let extra = [("database_url", toml_string(&fresh_mysql_url().await)), ("order_expiry_seconds", "600".into())];
    let core = start(dir.path(), &unique("t"), &alipay, &extra).await;
    orders_sort(&core, &alipay).await;
    core.shutdown().await;
}
