//! Payments: one applied (amount checked, conflicts kept), and Alipay's async notify verified,
//! refused with a trace on the order, or acted on (paid, or closed after paid).

use chrono::Utc;
use serde_json::json;

use crate::error::{ApiError, ErrorCode};
use crate::events::Event;
use crate::facade::Core;
use crate::orders::alipay::{NotifyError, Signed, TradeStatus, amount_in_fen};
use crate::orders::model::{PaidOutcome, Payment};
use crate::orders::store;

use super::{NotifyOutcome, notify_refused};

impl Core {
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
}
