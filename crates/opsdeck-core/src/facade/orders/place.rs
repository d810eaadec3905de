//! Goods (added, listed) and orders placed: by the shop, by staff, and with the shop's
//! idempotency key; the draft validated here.

use chrono::Utc;
use serde_json::json;

use crate::accounts::Actor;
use crate::audit::NewAuditEntry;
use crate::error::{ApiError, ErrorCode};
use crate::events::Event;
use crate::facade::Core;
use crate::orders::idempotency::{self, Keyed};
use crate::orders::model::{Goods, NewGoods, Order, OrderDraft, OrderKind};
use crate::orders::store::{self, PlaceError};

use super::{MAX_AMOUNT_FEN, MAX_ITEMS, MAX_QUANTITY, amount_out_of_range, field, new_order_no, no_key};

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
