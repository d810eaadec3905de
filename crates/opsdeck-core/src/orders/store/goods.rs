//! The goods on sale: added, and listed.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::db::{Database, ms};
use crate::orders::model::{Goods, NewGoods};

pub async fn insert_goods(db: &Database, goods: &NewGoods, now: DateTime<Utc>) -> sqlx::Result<i64> {
    db.insert_returning_id(
        "INSERT INTO goods (sku, name, price_fen, stock_available, updated_at) VALUES (?, ?, ?, ?, ?)",
        |q| q.bind(goods.sku.clone()).bind(goods.name.clone()).bind(goods.price_fen).bind(goods.stock).bind(ms(now)),
    )
    .await
}

fn goods_from(row: &AnyRow) -> sqlx::Result<Goods> {
    Ok(Goods {
        id: row.try_get("id")?,
        sku: row.try_get("sku")?,
        name: row.try_get("name")?,
        price_fen: row.try_get("price_fen")?,
        stock_available: row.try_get("stock_available")?,
        stock_locked: row.try_get("stock_locked")?,
        stock_sold: row.try_get("stock_sold")?,
    })
}

pub async fn list_goods(pool: &AnyPool) -> sqlx::Result<Vec<Goods>> {
    let rows = sqlx::query(
        "SELECT id, sku, name, price_fen, stock_available, stock_locked, stock_sold FROM goods ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    rows.iter().map(goods_from).collect()
}
