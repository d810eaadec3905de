//! `POST /api/orders` and Alipay's notify, `POST /api/payments/alipay/notify`.

use opsdeck_core::Actor;
use reqwest::Method;
use serde_json::json;

use crate::{World, expect_error, json};

async fn place(world: &World, draft: serde_json::Value) -> reqwest::Response {
    world.authed(Method::POST, "/api/orders").json(&draft).send().await.unwrap()
}

async fn top_up(world: &World, amount_fen: i64) -> String {
    let (status, order) =
        json(place(world, json!({ "user_id": 7, "kind": "top_up", "amount_fen": amount_fen })).await).await;
    assert_eq!(status, 201, "{order}");
    order["order_no"].as_str().unwrap().to_string()
}

/// POSTs the form as Alipay does (no bearer token); returns the status, content type and body.
async fn notify(world: &World, form: &[(String, String)]) -> (u16, String, String) {
    let response = world.http.post(world.url("/api/payments/alipay/notify")).form(form).send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").unwrap().to_str().unwrap().to_string();
    (status, content_type, response.text().await.unwrap())
}

fn assert_success(answer: &(u16, String, String)) {
    assert_eq!(answer.0, 200, "{answer:?}");
    assert!(answer.1.starts_with("text/plain"), "{answer:?}");
    assert_eq!(answer.2, "success", "exactly `success`");
}

fn error_code(answer: &(u16, String, String)) -> serde_json::Value {
    assert!(answer.1.starts_with("application/json"), "{answer:?}");
    serde_json::from_str(&answer.2).unwrap()
}

async fn events(world: &World, order_no: &str, event: &str) -> usize {
    world
        .core
        .order_timeline(order_no, &Actor::system("tester"))
        .await
        .unwrap()
        .iter()
        .filter(|e| e.event == event)
        .count()
}

async fn stock(world: &World, id: i64) -> (i64, i64, i64) {
    let g = world.core.goods_list(&Actor::system("tester")).await.unwrap().into_iter().find(|g| g.id == id).unwrap();
    (g.stock_available, g.stock_locked, g.stock_sold)
}

#[tokio::test]
async fn placing_an_order_locks_stock_and_short_stock_is_refused_changing_nothing() {
    let world = World::start().await;
    let goods = world.goods(1250, 3).await;
    let draft = json!({ "user_id": 42, "kind": "goods", "items": [{ "goods_id": goods.id, "quantity": 2 }] });
    let (status, order) = json(place(&world, draft).await).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["status"], "pending");
    assert_eq!(order["amount_fen"], 2500);
    assert_eq!(order["user_id"], 42);
    assert_eq!(order["kind"], "goods");
    assert_eq!(order["items"], json!([{ "goods_id": goods.id, "quantity": 2, "price_fen": 1250 }]));
    assert!(order["paid_at"].is_null() && order["trade_no"].is_null(), "{order}");
    let created = chrono::DateTime::parse_from_rfc3339(order["created_at"].as_str().unwrap()).unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(order["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_seconds(), 1800, "the 30-minute clock");
    assert_eq!(stock(&world, goods.id).await, (1, 2, 0));
    let stored = world.core.order_get(order["order_no"].as_str().unwrap()).await.unwrap();
    assert_eq!(stored.amount_fen, 2500);

    let short = json!({ "user_id": 42, "kind": "goods", "items": [{ "goods_id": goods.id, "quantity": 2 }] });
    let body = expect_error(place(&world, short).await, 400, "stock_short").await;
    assert_eq!(body["field"], "items", "{body}");
    assert!(body["message"].as_str().unwrap().contains("not enough"), "{body}");
    assert_eq!(stock(&world, goods.id).await, (1, 2, 0), "nothing changed");

    for (bad, field, code) in [
        (json!({ "user_id": 0, "kind": "top_up", "amount_fen": 100 }), "user_id", "user_id_invalid"),
        (json!({ "user_id": 1, "kind": "top_up" }), "amount_fen", "amount_out_of_range"),
        (json!({ "user_id": 1, "kind": "goods", "items": [] }), "items", "items_count"),
        (
            json!({ "user_id": 1, "kind": "goods", "items": [{ "goods_id": 999999, "quantity": 1 }] }),
            "items",
            "goods_unknown",
        ),
        (
            json!({ "user_id": 1, "kind": "goods", "items": [{ "goods_id": goods.id, "quantity": 0 }] }),
            "items",
            "quantity_out_of_range",
        ),
    ] {
        let body = expect_error(place(&world, bad.clone()).await, 400, code).await;
        assert_eq!(body["field"], field, "{bad}: {body}");
    }
    let unknown_kind = place(&world, json!({ "user_id": 1, "kind": "gift" })).await;
    expect_error(unknown_kind, 400, "invalid_input").await;
    assert_eq!(world.core.metrics().await.unwrap().orders_pending, 1);
    world.stop().await;
}

#[tokio::test]
async fn a_notify_is_verified_checked_and_applied_once() {
    let world = World::start().await;
    let goods = world.goods(1250, 5).await;
    let draft = json!({ "user_id": 9, "kind": "goods", "items": [{ "goods_id": goods.id, "quantity": 1 }] });
    let (_, order) = json(place(&world, draft).await).await;
    let order_no = order["order_no"].as_str().unwrap().to_string();
    world.alipay.pay(&order_no, "12.50");

    // Forged: a changed amount (signature no longer matches), a changed sign, no sign.
    let good = world.alipay.signed_notify(&order_no, "12.50", "TRADE_SUCCESS");
    let mut tampered = good.clone();
    tampered.iter_mut().find(|(k, _)| k == "total_amount").unwrap().1 = "0.01".into();
    let mut resigned = good.clone();
    let sign = &mut resigned.iter_mut().find(|(k, _)| k == "sign").unwrap().1;
    let flipped = if &sign[10..11] == "A" { "B" } else { "A" };
    sign.replace_range(10..11, flipped);
    let unsigned: Vec<(String, String)> = good.iter().filter(|(k, _)| k != "sign").cloned().collect();
    for (form, status, code) in [
        (&tampered, 401, "unauthenticated"),
        (&resigned, 401, "unauthenticated"),
        (&unsigned, 400, "notify_field_refused"),
    ] {
        let answer = notify(&world, form).await;
        assert_eq!(answer.0, status, "{answer:?}");
        assert_eq!(error_code(&answer)["code"], code, "{answer:?}");
    }
    // Signed, but the amount is not the order's; or the order is unknown.
    let answer = notify(&world, &world.alipay.signed_notify(&order_no, "12.51", "TRADE_SUCCESS")).await;
    assert_eq!(answer.0, 400, "{answer:?}");
    assert_eq!(error_code(&answer)["field"], "total_amount");
    let answer = notify(&world, &world.alipay.signed_notify("OD-NOT-OURS", "12.50", "TRADE_SUCCESS")).await;
    assert_eq!(answer.0, 404, "{answer:?}");
    assert_eq!(error_code(&answer)["code"], "order_not_found");
    assert!(world.core.order_get(&order_no).await.unwrap().paid_at.is_none(), "nothing was applied");
    assert_eq!(stock(&world, goods.id).await, (4, 1, 0));

    // Accepted, then repeated by Alipay (the same notify_id): applied once, both `success`. The
    // repeat comes as Alipay sends it, with a charset in the content type.
    assert_success(&notify(&world, &good).await);
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&good).finish();
    let repeat = world
        .http
        .post(world.url("/api/payments/alipay/notify"))
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    let content_type = repeat.headers().get("content-type").unwrap().to_str().unwrap().to_string();
    assert_success(&(repeat.status().as_u16(), content_type, repeat.text().await.unwrap()));
    // "12.5" is the same amount.
    assert_success(&notify(&world, &world.alipay.signed_notify(&order_no, "12.5", "TRADE_FINISHED")).await);
    let paid = world.core.order_get(&order_no).await.unwrap();
    assert!(paid.paid_at.is_some());
    let trade_no = &good.iter().find(|(k, _)| k == "trade_no").unwrap().1;
    assert_eq!(paid.trade_no.as_deref(), Some(trade_no.as_str()));
    assert_eq!(stock(&world, goods.id).await, (4, 0, 1), "sold once");
    assert_eq!(events(&world, &order_no, "paid").await, 1);
    let timeline = world.core.order_timeline(&order_no, &Actor::system("tester")).await.unwrap();
    assert_eq!(timeline.iter().find(|e| e.event == "paid").unwrap().who, "notify");
    world.stop().await;
}

#[tokio::test]
async fn waiting_and_closed_notifies_change_nothing_and_a_late_payment_is_a_conflict() {
    let world = World::start().await;
    let waiting = top_up(&world, 990).await;
    for status in ["WAIT_BUYER_PAY", "TRADE_CLOSED"] {
        assert_success(&notify(&world, &world.alipay.signed_notify(&waiting, "9.90", status)).await);
    }
    assert!(world.core.order_get(&waiting).await.unwrap().paid_at.is_none());
    assert_eq!(world.core.order_timeline(&waiting, &Actor::system("tester")).await.unwrap().len(), 1, "only `placed`");

    // Cancelled by staff (Alipay does not know the trade), then Alipay reports a payment.
    let cancelled = top_up(&world, 1000).await;
    world.core.order_cancel(&cancelled, "customer asked", &Actor::system("tester")).await.unwrap();
    let form = world.alipay.signed_notify(&cancelled, "10.00", "TRADE_SUCCESS");
    assert_success(&notify(&world, &form).await);
    assert_success(&notify(&world, &form).await);
    assert_eq!(events(&world, &cancelled, "conflict").await, 1, "recorded once for staff");
    assert_eq!(events(&world, &cancelled, "paid").await, 0, "never applied");
    assert_eq!(world.core.metrics().await.unwrap().payment_conflicts, 1);
    // The amount is checked against the cancelled order too.
    let answer = notify(&world, &world.alipay.signed_notify(&cancelled, "1.00", "TRADE_SUCCESS")).await;
    assert_eq!(answer.0, 400, "{answer:?}");
    world.stop().await;
}

async fn place_keyed(world: &World, key: &str, draft: &serde_json::Value) -> reqwest::Response {
    world.authed(Method::POST, "/api/orders").header("Idempotency-Key", key).json(draft).send().await.unwrap()
}

#[tokio::test]
async fn an_idempotency_key_sent_twice_places_one_order_and_locks_stock_once() {
    let world = World::start().await;
    let goods = world.goods(1250, 10).await;
    let draft = json!({ "user_id": 42, "kind": "goods", "items": [{ "goods_id": goods.id, "quantity": 2 }] });
    let first = place_keyed(&world, "retry-1", &draft).await;
    assert!(first.headers().get("idempotent-replayed").is_none());
    let (status, order) = json(first).await;
    assert_eq!(status, 201, "{order}");
    // The shop's retry after a timeout: the same body (spelled differently), the same key.
    let again = json!({ "items": [{ "quantity": 2, "goods_id": goods.id }], "kind": "goods", "user_id": 42 });
    let second = place_keyed(&world, "retry-1", &again).await;
    assert_eq!(second.headers().get("idempotent-replayed").unwrap(), "true");
    let (status, replayed) = json(second).await;
    assert_eq!(status, 201, "{replayed}");
    assert_eq!(replayed, order, "the same answer");
    assert_eq!(stock(&world, goods.id).await, (8, 2, 0), "stock locked once");

    // The key with another order: refused, nothing placed.
    let other = json!({ "user_id": 42, "kind": "goods", "items": [{ "goods_id": goods.id, "quantity": 3 }] });
    let body = expect_error(place_keyed(&world, "retry-1", &other).await, 422, "idempotency_key_reused").await;
    assert_eq!(body["field"], "Idempotency-Key", "{body}");
    assert!(body["message"].as_str().unwrap().contains(order["order_no"].as_str().unwrap()), "{body}");
    // Malformed keys: refused, nothing placed.
    for bad in ["x".repeat(256), "a\tb".to_string()] {
        let body = expect_error(place_keyed(&world, &bad, &draft).await, 400, "idempotency_key_invalid").await;
        assert_eq!(body["field"], "Idempotency-Key", "{body}");
    }
    assert_eq!(stock(&world, goods.id).await, (8, 2, 0), "nothing changed");

    // Two requests with one key at once: one order.
    let (a, b) = tokio::join!(place_keyed(&world, "race-1", &draft), place_keyed(&world, "race-1", &draft));
    let ((status_a, a), (status_b, b)) = (json(a).await, json(b).await);
    assert_eq!((status_a, status_b), (201, 201), "{a} {b}");
    assert_eq!(a["order_no"], b["order_no"], "one order");
    assert_eq!(stock(&world, goods.id).await, (6, 4, 0), "stock locked once more");
    assert_eq!(world.core.metrics().await.unwrap().orders_pending, 2);
    world.stop().await;
}
