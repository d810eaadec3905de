//! What staff see and do to orders: an order, the orders and cancelled lists (sorted as asked),
//! the timeline, the pending summary, orders per minute, a cancel (audited), and a payment check
//! against Alipay.

use chrono::{DateTime, Utc};
use opsdeck_api::orders::{CancelReason, OrderActivity};
use serde_json::json;

use crate::accounts::Actor;
use crate::audit::NewAuditEntry;
use crate::db::instant;
use crate::error::{ApiError, ErrorCode};
use crate::events::Event;
use crate::facade::Core;
use crate::orders::alipay::amount_in_fen;
use crate::orders::expiry::{self, Verdict};
use crate::orders::model::{CancelledPage, Order, OrderEvent, OrderPage, OrderQuery, PaidOutcome, Payment};
use crate::orders::store::{self, OrderList};

use super::{OrdersSummary, amount_conflict, check_page};

/// Refuses a sort by a column `list` does not have (the cancel time of an order not cancelled,
/// the status of a cancelled one), naming `sort` and the columns it has.
fn check_sort(list: OrderList, query: &OrderQuery) -> Result<(), ApiError> {
    let Some(sort) = query.sort else { return Ok(()) };
    if store::sort_column(list, sort).is_some() {
        return Ok(());
    }
    let column = serde_json::to_value(sort).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let allowed = store::sorts_of(list).join(", ");
    let what = if list == OrderList::Orders { "orders" } else { "cancelled orders" };
    Err(ApiError::coded(
        ErrorCode::SortUnavailable,
        format!("{what} cannot be sorted by {column}: sort by one of {allowed}"),
    )
    .field("sort")
    .param("column", column)
    .param("allowed", allowed))
}

impl Core {
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
        check_sort(OrderList::Orders, &query)?;
        let (orders, total) = store::list_orders(self.database().pool(), &query).await?;
        Ok(OrderPage { orders, total })
    }

    /// A page of cancelled orders (any staff member).
    pub async fn cancelled_list(&self, query: OrderQuery, actor: &Actor) -> Result<CancelledPage, ApiError> {
        self.require_reader(actor).await?;
        check_page(query.limit)?;
        check_sort(OrderList::Cancelled, &query)?;
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
}

/// The longest window of [`Core::orders_activity`]: a day of minutes.
const MAX_ACTIVITY_MINUTES: u32 = 1440;

impl Core {
    /// Orders placed, paid, expired (by the sweep) and cancelled (by staff) in each of the last
    /// `minutes` minutes, oldest first, the current minute last; every minute is there, the
    /// quiet ones with zeros (any staff member).
    pub async fn orders_activity(&self, minutes: u32, actor: &Actor) -> Result<Vec<OrderActivity>, ApiError> {
        self.require_reader(actor).await?;
        if minutes == 0 || minutes > MAX_ACTIVITY_MINUTES {
            return Err(ApiError::out_of_range("minutes", 1, MAX_ACTIVITY_MINUTES));
        }
        Ok(self.orders_activity_at(minutes, Utc::now()).await?)
    }

    /// [`Core::orders_activity`] up to the minute holding `now` (the tests choose it).
    pub async fn orders_activity_at(&self, minutes: u32, now: DateTime<Utc>) -> sqlx::Result<Vec<OrderActivity>> {
        const MINUTE_MS: i64 = 60_000;
        let current = now.timestamp_millis().div_euclid(MINUTE_MS) * MINUTE_MS;
        let first = current - (i64::from(minutes) - 1) * MINUTE_MS;
        let counted = store::activity(self.database().pool(), instant(first), instant(current + MINUTE_MS)).await?;
        Ok((0..i64::from(minutes))
            .map(|n| {
                let at = first + n * MINUTE_MS;
                let c = counted.get(&at).copied().unwrap_or_default();
                OrderActivity {
                    at: instant(at),
                    placed: c.placed,
                    paid: c.paid,
                    expired: c.expired,
                    cancelled: c.cancelled,
                }
            })
            .collect())
    }
}
