//! The orders part of the facade: goods, place an order, a payment report, staff cancel and
//! check, lists, the timeline, the sweep and reconcile. Input is validated here; staff actions
//! are audited.

use chrono::Utc;
use opsdeck_api::orders::CancelReason;
use serde::Serialize;
use serde_json::json;

use super::{Core, MAX_PAGE};
use crate::accounts::Actor;
use crate::audit::NewAuditEntry;
use crate::error::{ApiError, ErrorCode};
use crate::events::Event;
use crate::orders::alipay::{NotifyError, Signed, TradeStatus, amount_in_fen};
use crate::orders::expiry::{self, Verdict};
use crate::orders::idempotency::{self, Keyed};
use crate::orders::model::{
    CancelledPage, Goods, NewGoods, Order, OrderDraft, OrderEvent, OrderKind, OrderPage, OrderQuery, PaidOutcome,
    Payment, SweepSummary,
};
use crate::orders::store::{self, PlaceError};

pub use opsdeck_api::intake::NotifyOutcome;
pub use opsdeck_api::orders::OrdersSummary;

/// Items in one order at most, and of one good.
const MAX_ITEMS: usize = 100;
const MAX_QUANTITY: i64 = 10_000;
/// The largest top-up (1,000,000 yuan) and any order amount.
const MAX_AMOUNT_FEN: i64 = 100_000_000;

/// What one reconcile pass repaired.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct OrdersReconcileReport {
    /// Pending orders the due index had lost, added again.
    pub added: u64,
    /// Index entries whose order is no longer pending, removed.
    pub removed: u64,
}

fn amount_conflict(order_no: &str) -> ApiError {
    ApiError::coded(
        ErrorCode::OrderAmountConflict,
        format!(
            "Alipay reports {order_no} paid with another amount than the order's: recorded as a conflict on its \
             timeline, neither paid nor cancelled; settle it at Alipay (a refund) first"
        ),
    )
    .param("order_no", order_no)
}

fn no_key() -> ApiError {
    ApiError::Internal(anyhow::anyhow!("an order placed without an idempotency key reported its key taken"))
}

/// `code` for the form field `name`, with its English `message`.
fn field(code: ErrorCode, name: &str, message: impl Into<String>) -> ApiError {
    ApiError::coded(code, message).field(name)
}

/// An amount (in fen) outside 0.01–1,000,000 yuan in `name`: `amount_out_of_range`, in yuan.
fn amount_out_of_range(name: &str) -> ApiError {
    let max = MAX_AMOUNT_FEN / 100;
    field(ErrorCode::AmountOutOfRange, name, format!("the amount must be from 0.01 to {max} yuan"))
        .param("min", "0.01")
        .param("max", max)
}

/// A refused notify's answer: `notify_field_refused` naming the field, `message` the detail.
fn notify_refused(name: &str, message: impl Into<String>) -> ApiError {
    field(ErrorCode::NotifyFieldRefused, name, message).param("field", name)
}

/// `OD` + the time (UTC, to the second) + 8 random digits: unique in practice, and the unique
/// index catches the rest.
fn new_order_no() -> String {
    format!("OD{}{:08}", Utc::now().format("%Y%m%d%H%M%S"), fastrand::u32(..100_000_000))
}

impl Core {
    pub async fn goods_create(&self, goods: NewGoods, actor: &Actor) -> Result<Goods, ApiError> {
        actor.require_operator("add goods")?;
        let who = actor.name.as_str();
        let sku = goods.sku.trim();
        if sku.is_empty() || sku.len() > 64 || !sku.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(field(ErrorCode::SkuInvalid, "sku", "an SKU is 1 to 64 letters, digits, '-', '_' or '.'")
                .param("max", 64));
        }
        // The column holds 191 characters (not bytes).
        if goods.name.trim().is_empty() || goods.name.trim().chars().count() > 191 {
            return Err(field(ErrorCode::LengthOutOfRange, "name", "the name must be 1 to 191 characters")
                .param("min", 1)
                .param("max", 191));
        }
        if !(1..=MAX_AMOUNT_FEN).contains(&goods.price_fen) {
            return Err(amount_out_of_range("price_fen"));
        }
        if !(0..=1_000_000_000).contains(&goods.stock) {
            return Err(ApiError::out_of_range("stock", 0, 1_000_000_000));
        }
        let clean = NewGoods { sku: sku.to_string(), name: goods.name.trim().to_string(), ..goods };
        let id = store::insert_goods(self.database(), &clean, Utc::now()).await.map_err(|e| {
            if crate::db::is_unique_violation(&e) {
                field(ErrorCode::SkuTaken, "sku", format!("goods with SKU {sku} exist already")).param("sku", sku)
            } else {
                e.into()
            }
        })?;
        self.record_audit(NewAuditEntry {
            who,
            action: "goods.create",
            target: &format!("goods:{id}"),
            detail: Some(json!({ "sku": clean.sku, "stock": clean.stock })),
        })
        .await?;
        store::list_goods(self.database().pool())
            .await?
            .into_iter()
            .find(|g| g.id == id)
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("goods {id} stored, yet not listed")))
    }

    /// Every good with its stock (any staff member).
    pub async fn goods_list(&self, actor: &Actor) -> Result<Vec<Goods>, ApiError> {
        self.require_reader(actor).await?;
        Ok(store::list_goods(self.database().pool()).await?)
    }

    /// Places an order: checks and locks the stock atomically (short stock: a clear error and
    /// nothing changed), stores the order, and adds it to the due index.
    pub async fn order_place(&self, draft: OrderDraft) -> Result<Order, ApiError> {
        self.place_as(draft, "shop", None).await?.ok_or_else(no_key)
    }

    /// [`Core::order_place`] by a staff member from the console (audited).
    pub async fn order_place_by(&self, draft: OrderDraft, actor: &Actor) -> Result<Order, ApiError> {
        actor.require_operator("place orders")?;
        let who = actor.name.as_str();
        let order = self.place_as(draft, who, None).await?.ok_or_else(no_key)?;
        self.record_audit(NewAuditEntry {
            who,
            action: "order.place",
            target: &format!("order:{}", order.order_no),
            detail: Some(json!({ "amount_fen": order.amount_fen, "user_id": order.user_id })),
        })
        .await?;
        Ok(order)
    }

    /// None: the idempotency key (`key`: the key and the request's hash) was taken meanwhile.
    async fn place_as(
        &self,
        draft: OrderDraft,
        placed_by: &str,
        key: Option<(&str, &str)>,
    ) -> Result<Option<Order>, ApiError> {
        if draft.user_id <= 0 {
            return Err(field(ErrorCode::UserIdInvalid, "user_id", "a user id is a positive whole number"));
        }
        match draft.kind {
            OrderKind::Goods => {
                if draft.items.is_empty() || draft.items.len() > MAX_ITEMS {
                    return Err(field(
                        ErrorCode::ItemsCount,
                        "items",
                        format!("a goods order has 1 to {MAX_ITEMS} items"),
                    )
                    .param("min", 1)
                    .param("max", MAX_ITEMS));
                }
                if draft.items.iter().any(|i| !(1..=MAX_QUANTITY).contains(&i.quantity)) {
                    return Err(field(
                        ErrorCode::QuantityOutOfRange,
                        "items",
                        format!("each quantity must be from 1 to {MAX_QUANTITY}"),
                    )
                    .param("min", 1)
                    .param("max", MAX_QUANTITY));
                }
                let mut ids: Vec<i64> = draft.items.iter().map(|i| i.goods_id).collect();
                ids.sort_unstable();
                if let Some(twice) = ids.windows(2).find(|w| w[0] == w[1]) {
                    let goods_id = twice[0];
                    return Err(field(
                        ErrorCode::ItemDuplicate,
                        "items",
                        format!("goods {goods_id} appear more than once: add up their quantities in one item"),
                    )
                    .param("goods_id", goods_id));
                }
                if draft.amount_fen.is_some() {
                    return Err(field(
                        ErrorCode::AmountFromItems,
                        "amount_fen",
                        "a goods order's amount follows from its items: leave the amount out",
                    ));
                }
            }
            OrderKind::TopUp => {
                if !draft.items.is_empty() {
                    return Err(field(ErrorCode::TopUpNoItems, "items", "a top-up order has no items"));
                }
                if !draft.amount_fen.is_some_and(|a| (1..=MAX_AMOUNT_FEN).contains(&a)) {
                    return Err(amount_out_of_range("amount_fen"));
                }
            }
        }
        // Deadlines are by Redis's clock, the one the due index and the sweep compare with; the
        // instance's own only when Redis does not answer (reconcile indexes the order later).
        let now = match self.orders().due.now().await {
            Ok(now) => now,
            Err(e) => {
                tracing::warn!(error = %e, "Redis TIME unavailable: the order's deadline is by this instance's clock");
                Utc::now()
            }
        };
        let expires = now + chrono::Duration::from_std(self.config().order_expiry).unwrap_or_default();
        let mut attempt = 0;
        let order = loop {
            attempt += 1;
            let order_no = new_order_no();
            let new = store::NewOrder {
                order_no: &order_no,
                user_id: draft.user_id,
                kind: draft.kind,
                items: &draft.items,
                amount_fen: draft.amount_fen,
                placed_by,
                idempotency: key,
            };
            let placed = store::place(self.database(), &new, now, expires).await;
            match placed {
                Ok(order) => break order,
                Err(PlaceError::Short { goods_id, name, available, wanted }) => {
                    return Err(field(
                        ErrorCode::StockShort,
                        "items",
                        format!("not enough {name} (goods {goods_id}): {wanted} wanted, {available} available"),
                    )
                    .param("name", name)
                    .param("goods_id", goods_id)
                    .param("wanted", wanted)
                    .param("available", available));
                }
                Err(PlaceError::UnknownGoods(id)) => {
                    return Err(field(ErrorCode::GoodsUnknown, "items", format!("there are no goods {id}"))
                        .param("goods_id", id));
                }
                Err(PlaceError::KeyTaken) => return Ok(None),
                // A taken order number, a deadlock or a busy database: again, with a new number.
                Err(PlaceError::Db(e))
                    if (crate::db::is_unique_violation(&e) || store::is_retryable(&e)) && attempt < 5 =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(fastrand::u64(1..=20))).await;
                    continue;
                }
                Err(PlaceError::Db(e)) => return Err(e.into()),
            }
        };
        if let Err(e) = self.orders().due.add(&[(order.order_no.clone(), order.expires_at.timestamp_millis())]).await {
            // Stored: the reconcile job adds it to the index once Redis answers.
            tracing::warn!(order = %order.order_no, error = %e, "cannot index an order's deadline; reconcile will");
        }
        self.publish(Event::OrdersChanged);
        Ok(Some(order))
    }

    /// A payment of the order's own amount reported without proof (tests and benchmarks only:
    /// public with the `internals` feature, which no front end enables): pending → paid
    /// exactly once, however often it is repeated; for a cancelled order it is recorded as a
    /// conflict for staff.
    #[cfg(feature = "internals")]
    pub async fn order_mark_paid(&self, order_no: &str, trade_no: &str, source: &str) -> Result<PaidOutcome, ApiError> {
        self.settle_payment(order_no, Payment { trade_no, amount_fen: None }, source).await
    }

    /// A payment reported by Alipay (a notify, or a query that found the trade paid), applied by
    /// [`store::mark_paid`], which compares the amount paid with the order's: another amount is
    /// recorded as a conflict for staff and the order leaves the expiry sweep, neither paid nor
    /// cancelled. Retried when the database asks (deadlock, busy).
    pub(crate) async fn settle_payment(
        &self,
        order_no: &str,
        payment: Payment<'_>,
        source: &str,
    ) -> Result<PaidOutcome, ApiError> {
        let outcome =
            store::retrying(|| store::mark_paid(self.database(), order_no, payment, source, None, Utc::now()))
                .await?
                .ok_or_else(|| {
                ApiError::coded(ErrorCode::OrderNotFound, format!("no order {order_no}")).param("order_no", order_no)
            })?;
        if outcome != PaidOutcome::AlreadyPaid {
            if let Err(e) = self.orders().due.remove(&[order_no.to_string()]).await {
                tracing::warn!(order = %order_no, error = %e, "cannot drop a settled order from the due index");
            }
            self.publish(Event::OrdersChanged);
        }
        match outcome {
            PaidOutcome::Conflict => {
                tracing::warn!(order = %order_no, "payment reported for a cancelled order: recorded for staff");
            }
            PaidOutcome::AmountMismatch => tracing::warn!(
                order = %order_no,
                paid_fen = payment.amount_fen,
                "payment of another amount than the order's: not applied, recorded for staff"
            ),
            PaidOutcome::Applied | PaidOutcome::AlreadyPaid => {}
        }
        Ok(outcome)
    }

    /// Alipay's async notify (docs/providers.md §3), the form as POSTed (URL-decoded).
    /// Its signature is verified with Alipay's public key (a forged one is refused and logged,
    /// nothing applied); then the app id, the order (`out_trade_no`, pending, paid or
    /// cancelled) and the amount (exactly, in fen) are checked against ours. A paid status marks
    /// the order paid (source `notify`) through [`Core::settle_payment`], so repeats of one
    /// notify (Alipay retries with the same `notify_id`) change nothing; other statuses are only
    /// acknowledged.
    ///
    /// Refused (`forbidden`) while Alipay is the built-in fake (sandbox mode): its keys are
    /// published, so a notify from outside proves nothing. The simulated shop's own notifies go
    /// through [`Core::sandbox_notify`].
    pub async fn alipay_notify(&self, form: &[(String, String)]) -> Result<NotifyOutcome, ApiError> {
        if self.config().alipay_sandbox {
            return Err(ApiError::coded(
                ErrorCode::NotifySandbox,
                "Alipay is the built-in fake (sandbox mode): payment notifies from outside are refused",
            ));
        }
        self.verified_notify(form).await
    }

    /// [`Core::alipay_notify`] without the sandbox check: the one verification of every notify
    /// (the simulated shop's come through [`Core::sandbox_notify`]).
    pub(crate) async fn verified_notify(&self, form: &[(String, String)]) -> Result<NotifyOutcome, ApiError> {
        let Some(alipay) = &self.orders().alipay else {
            return Err(ApiError::coded(
                ErrorCode::AlipayNotConfigured,
                "Alipay is not configured: notifies cannot be verified",
            ));
        };
        let notify = match alipay.verify_notify(form) {
            Ok(notify) => notify,
            Err(NotifyError::Refused { about, field: name, reason }) => {
                return Err(self.refuse_signed_notify(&about, name, reason).await);
            }
            Err(e) => {
                let out_trade_no = form.iter().find(|(k, _)| k == "out_trade_no").map(|(_, v)| v.as_str());
                tracing::warn!(out_trade_no, reason = %e, "Alipay notify rejected");
                return Err(match e {
                    NotifyError::BadSignature => ApiError::Unauthenticated(e.to_string()),
                    NotifyError::MissingField(name) => notify_refused(name, e.to_string()),
                    NotifyError::Refused { field: name, .. } => notify_refused(name, e.to_string()),
                    NotifyError::Malformed(_) => ApiError::coded(ErrorCode::NotifyMalformed, e.to_string()),
                });
            }
        };
        let order_no = notify.out_trade_no.as_str();
        match store::amount_of(self.database().pool(), order_no).await? {
            Some(_) => {}
            None => {
                tracing::warn!(order = %order_no, notify_id = %notify.notify_id, "Alipay notify for an unknown order");
                return Err(ApiError::coded(ErrorCode::OrderNotFound, format!("no order {order_no}"))
                    .param("order_no", order_no));
            }
        };
        let Some(notified_fen) = amount_in_fen(&notify.total_amount) else {
            let about = Signed {
                out_trade_no: notify.out_trade_no.clone(),
                trade_no: notify.trade_no.clone(),
                notify_id: notify.notify_id.clone(),
            };
            let message = format!("{:?} is not an amount in yuan", notify.total_amount);
            return Err(self.refuse_signed_notify(&about, "total_amount", message).await);
        };
        let outcome = if notify.trade_status.is_paid() {
            // Another amount than the order's is a conflict for staff, decided with the payment
            // itself (`store::mark_paid`): Alipay's retries of this notify change nothing.
            let payment = Payment { trade_no: &notify.trade_no, amount_fen: Some(notified_fen) };
            match self.settle_payment(order_no, payment, "notify").await? {
                PaidOutcome::Applied => NotifyOutcome::Paid,
                PaidOutcome::AlreadyPaid => NotifyOutcome::AlreadyPaid,
                PaidOutcome::Conflict => NotifyOutcome::Conflict,
                // Refused as before (Alipay retries; each retry finds the conflict recorded
                // already), but now with a trace on the timeline and out of the sweep.
                PaidOutcome::AmountMismatch => {
                    return Err(notify_refused(
                        "total_amount",
                        format!(
                            "the notify says {notified_fen} fen, not order {order_no}'s amount: \
                             recorded as a conflict for staff, not applied"
                        ),
                    ));
                }
            }
        } else {
            if notify.trade_status == TradeStatus::Closed {
                self.note_closed_after_paid(order_no, &notify.trade_no, &notify.notify_id).await?;
            }
            NotifyOutcome::Acknowledged
        };
        tracing::info!(
            order = %order_no,
            trade_status = notify.trade_status.as_str(),
            notify_id = %notify.notify_id,
            ?outcome,
            "Alipay notify accepted"
        );
        Ok(outcome)
    }

    pub async fn order_get(&self, order_no: &str) -> Result<Order, ApiError> {
        store::get_order(self.database().pool(), order_no).await?.ok_or_else(|| {
            ApiError::coded(ErrorCode::OrderNotFound, format!("no pending or paid order {order_no}"))
                .param("order_no", order_no)
        })
    }

    /// A page of pending and paid orders (any staff member).
    pub async fn orders_list(&self, query: OrderQuery, actor: &Actor) -> Result<OrderPage, ApiError> {
        self.require_reader(actor).await?;
        check_page(query.limit)?;
        let (orders, total) = store::list_orders(self.database().pool(), &query).await?;
        Ok(OrderPage { orders, total })
    }

    /// A page of cancelled orders (any staff member).
    pub async fn cancelled_list(&self, query: OrderQuery, actor: &Actor) -> Result<CancelledPage, ApiError> {
        self.require_reader(actor).await?;
        check_page(query.limit)?;
        let (orders, total) = store::list_cancelled(self.database().pool(), &query).await?;
        Ok(CancelledPage { orders, total })
    }

    /// An order's timeline (any staff member).
    pub async fn order_timeline(&self, order_no: &str, actor: &Actor) -> Result<Vec<OrderEvent>, ApiError> {
        self.require_reader(actor).await?;
        Ok(store::timeline(self.database().pool(), order_no).await?)
    }

    /// Pending orders and how many expire in the next 5 minutes (any staff member).
    pub async fn orders_summary(&self, actor: &Actor) -> Result<OrdersSummary, ApiError> {
        self.require_reader(actor).await?;
        self.pending_summary().await
    }

    /// [`Core::orders_summary`] for the core's own use (the Overview).
    pub(crate) async fn pending_summary(&self) -> Result<OrdersSummary, ApiError> {
        let now = Utc::now();
        let (pending, expiring_soon) =
            store::pending_counts(self.database().pool(), now, now + chrono::Duration::minutes(5)).await?;
        Ok(OrdersSummary { pending, expiring_soon, sandbox: self.config().alipay_sandbox })
    }

    /// Staff cancel a pending order now: Alipay is asked first (a paid order is marked paid,
    /// not cancelled), the trade closed there, then the order cancelled and its stock restored.
    pub async fn order_cancel(&self, order_no: &str, reason: &str, actor: &Actor) -> Result<(), ApiError> {
        actor.require_operator("cancel orders")?;
        let who = actor.name.as_str();
        let reason = reason.trim();
        if reason.is_empty() || reason.len() > 500 {
            return Err(ApiError::coded(ErrorCode::LengthOutOfRange, "say why (1–500 characters)")
                .field("reason")
                .param("min", 1)
                .param("max", 500));
        }
        if self.order_get(order_no).await?.paid_at.is_some() {
            return Err(ApiError::coded(
                ErrorCode::OrderPaid,
                format!("{order_no} is paid: only pending orders can be cancelled"),
            )
            .param("order_no", order_no));
        }
        let outcome = match expiry::verdict(self, order_no, who, None).await {
            Verdict::Paid { trade_no, amount_fen } => {
                let payment = Payment { trade_no: &trade_no, amount_fen: Some(amount_fen) };
                match self.settle_payment(order_no, payment, who).await? {
                    PaidOutcome::AmountMismatch => Err(amount_conflict(order_no)),
                    _ => Err(ApiError::coded(
                        ErrorCode::OrderFoundPaid,
                        format!("Alipay says {order_no} is paid: it was marked paid, not cancelled"),
                    )
                    .param("order_no", order_no)),
                }
            }
            Verdict::Later(why) => Err(ApiError::coded(
                ErrorCode::OrderCancelLater,
                format!("cannot cancel {order_no} now ({why}); nothing was changed"),
            )
            .param("order_no", order_no)),
            Verdict::Refused(why) => Err(ApiError::coded(
                ErrorCode::AlipayRefused,
                format!(
                    "Alipay refused the call ({why}): check the Alipay configuration (app id, keys, permissions); \
                     {order_no} was not changed"
                ),
            )
            .param("order_no", order_no)),
            Verdict::Cancel => {
                let batch = [(order_no.to_string(), CancelReason::staff(reason).to_stored())];
                let cancelled =
                    store::retrying(|| store::cancel_batch(self.database(), &batch, who, None, Utc::now(), None))
                        .await?;
                let _ = self.orders().due.remove(&[order_no.to_string()]).await;
                self.publish(Event::OrdersChanged);
                if cancelled.is_empty() {
                    Err(ApiError::coded(ErrorCode::OrderNotPending, format!("{order_no} is no longer pending"))
                        .param("order_no", order_no))
                } else {
                    Ok(())
                }
            }
        };
        // What happened happened: an audit write that fails is logged, not reported as the
        // cancel having failed.
        let audited = self
            .record_audit(NewAuditEntry {
                who,
                action: "order.cancel",
                target: &format!("order:{order_no}"),
                detail: Some(json!({ "reason": reason, "done": outcome.is_ok() })),
            })
            .await;
        if let Err(e) = audited {
            tracing::error!(order = %order_no, error = %e, "cannot audit a cancel");
        }
        outcome
    }

    /// Staff ask Alipay about a pending order now; a paid one is marked paid. Returns whether
    /// it was found paid.
    pub async fn order_check_payment(&self, order_no: &str, actor: &Actor) -> Result<bool, ApiError> {
        actor.require_operator("check payments")?;
        let who = actor.name.as_str();
        if self.order_get(order_no).await?.paid_at.is_some() {
            return Ok(true);
        }
        let Some(alipay) = &self.orders().alipay else {
            return Err(ApiError::coded(ErrorCode::AlipayNotConfigured, "Alipay is not configured"));
        };
        let answer = alipay.query(order_no).await.map_err(|e| {
            ApiError::coded(ErrorCode::AlipayUnavailable, format!("Alipay: {e}")).param("order_no", order_no)
        })?;
        let detail = json!({ "trade_status": answer.status.as_str() });
        store::retrying(|| store::record_event(self.database(), order_no, "queried", Some(detail.clone()), who, None))
            .await?;
        let outcome = match answer.status.is_paid() {
            true => {
                // A payment is applied only with the amount Alipay says was paid.
                let Some(amount_fen) = answer.total_amount.as_deref().and_then(amount_in_fen) else {
                    return Err(ApiError::coded(
                        ErrorCode::AlipayAmountUnreadable,
                        format!("Alipay says {order_no} is paid but gives no readable amount; nothing was changed"),
                    )
                    .param("order_no", order_no));
                };
                let trade_no = answer.trade_no.unwrap_or_default();
                let payment = Payment { trade_no: &trade_no, amount_fen: Some(amount_fen) };
                Some(self.settle_payment(order_no, payment, who).await?)
            }
            false => None,
        };
        let mut detail = detail;
        detail["outcome"] = json!(outcome);
        self.record_audit(NewAuditEntry {
            who,
            action: "order.check_payment",
            target: &format!("order:{order_no}"),
            detail: Some(detail),
        })
        .await?;
        match outcome {
            Some(PaidOutcome::AmountMismatch) => Err(amount_conflict(order_no)),
            other => Ok(other.is_some()),
        }
    }

    /// One expiry sweep (what the `order_expiry_sweep` job runs).
    pub async fn orders_sweep(&self, run_key: Option<&str>) -> Result<SweepSummary, ApiError> {
        expiry::sweep(self, run_key).await
    }

    /// Repairs the due index from SQL: pending orders it lost are added; entries whose order is
    /// no longer pending are removed.
    pub async fn orders_reconcile(&self) -> Result<OrdersReconcileReport, ApiError> {
        let due = &self.orders().due;
        let pool = self.database().pool();
        let mut report = OrdersReconcileReport::default();
        let mut after = 0;
        loop {
            let page = store::pending_page(pool, after, 500).await?;
            let Some(last) = page.last() else { break };
            after = last.0;
            let nos: Vec<String> = page.iter().map(|p| p.1.clone()).collect();
            let known = due.known(&nos).await?;
            let lost: Vec<(String, i64)> =
                page.iter().zip(known).filter(|(_, k)| !k).map(|(p, _)| (p.1.clone(), p.2)).collect();
            report.added += lost.len() as u64;
            due.add(&lost).await?;
        }
        let mut offset = 0;
        loop {
            let page = due.due_page(offset, 500).await?;
            if page.is_empty() {
                break;
            }
            let pending = store::still_pending(pool, &page).await?;
            let gone: Vec<String> = page.iter().filter(|no| !pending.contains(no)).cloned().collect();
            report.removed += gone.len() as u64;
            due.remove(&gone).await?;
            offset += page.len() - gone.len();
        }
        Ok(report)
    }
}

fn check_page(limit: u32) -> Result<(), ApiError> {
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::out_of_range("limit", 1, MAX_PAGE));
    }
    Ok(())
}

impl Core {
    /// A notify Alipay signed that we refuse (another app or seller, an unknown status, an
    /// unreadable amount): logged, and, when it is about one of our orders, written on that
    /// order's timeline (`notify_refused`, once per `notify_id`: Alipay repeats a refused
    /// notify for a day). The answer is the refusal itself, as a field error; a database that
    /// cannot record the trace turns it into that error instead (Alipay retries either way).
    async fn refuse_signed_notify(&self, about: &Signed, name: &'static str, reason: String) -> ApiError {
        let order_no = about.out_trade_no.as_str();
        tracing::warn!(order = %order_no, notify_id = %about.notify_id, field = name, %reason, "Alipay notify refused");
        let traced = async {
            if order_no.is_empty() || store::amount_of(self.database().pool(), order_no).await?.is_none() {
                return Ok::<(), ApiError>(());
            }
            let known = store::timeline(self.database().pool(), order_no).await?.iter().any(|e| {
                e.event == "notify_refused"
                    && e.detail.as_ref().is_some_and(|d| d["notify_id"] == json!(about.notify_id))
            });
            if !known {
                let detail = json!({
                    "notify_id": about.notify_id,
                    "trade_no": about.trade_no,
                    "field": name,
                    "reason": reason,
                });
                store::record_event(self.database(), order_no, "notify_refused", Some(detail), "notify", None).await?;
                self.publish(Event::OrdersChanged);
            }
            Ok(())
        };
        match traced.await {
            Ok(()) => notify_refused(name, reason),
            Err(e) => e,
        }
    }

    /// `TRADE_CLOSED` for an order we hold paid: Alipay closes a paid trade when it is refunded
    /// in full. The order stays paid (the goods or the balance are staff's to settle), but the
    /// refund is recorded on its timeline once (`refunded`) and logged, never passed silently.
    async fn note_closed_after_paid(&self, order_no: &str, trade_no: &str, notify_id: &str) -> Result<(), ApiError> {
        let pool = self.database().pool();
        let paid = store::get_order(pool, order_no).await?.is_some_and(|o| o.paid_at.is_some());
        if !paid || store::timeline(pool, order_no).await?.iter().any(|e| e.event == "refunded") {
            return Ok(());
        }
        tracing::warn!(order = %order_no, %notify_id, "Alipay reports a paid order's trade closed (refunded): for staff");
        let detail = json!({
            "trade_no": trade_no,
            "notify_id": notify_id,
            "note": "Alipay closed the paid trade (a full refund): the order stays paid; for staff",
        });
        store::record_event(self.database(), order_no, "refunded", Some(detail), "notify", None).await?;
        self.publish(Event::OrdersChanged);
        Ok(())
    }

    /// [`Core::order_place`] with the shop's idempotency key: the first request with a key places
    /// the order; a repeat of the same request (however its JSON was spelled) is answered with
    /// that order and places nothing (no second order, no stock locked twice), even when both
    /// arrive at once; the key with another request is refused ([`Keyed::Reused`]).
    pub async fn order_place_keyed(&self, draft: OrderDraft, key: &str) -> Result<Keyed, ApiError> {
        if let Some(problem) = idempotency::key_problem(key) {
            return Err(field(ErrorCode::IdempotencyKeyInvalid, "Idempotency-Key", problem)
                .param("max", idempotency::MAX_KEY_LEN));
        }
        let hash = idempotency::request_hash(&draft);
        // Twice at most: a key taken between the lookup and the insert is looked up again.
        for _ in 0..2 {
            if let Some((stored, order_no)) = idempotency::lookup(self.database().pool(), key).await? {
                if stored != hash {
                    return Ok(Keyed::Reused { order_no });
                }
                return Ok(Keyed::Replayed(self.order_get(&order_no).await?));
            }
            if let Some(order) = self.place_as(draft.clone(), "shop", Some((key, &hash))).await? {
                return Ok(Keyed::Placed(order));
            }
        }
        Err(ApiError::Internal(anyhow::anyhow!("idempotency key {key:?} taken, yet not found")))
    }
}
