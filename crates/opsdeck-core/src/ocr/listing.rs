//! The console's list of requests: filters (status, a part of the URL, a part of the error or
//! Baidu's code, a submission date range) and a sort by a whitelisted column, ties broken by id.

use sqlx::{Any, AnyPool, QueryBuilder, Row};

use super::model::{OcrQuery, OcrRequest, OcrSort};
use super::store::{COLUMNS, from_row};
use crate::db::ms;

fn push_filter(q: &mut QueryBuilder<Any>, query: &OcrQuery) {
    q.push(" WHERE 1 = 1");
    if let Some(status) = query.status {
        q.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(search) = query.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        // A plain substring: LIKE's wildcards in the search are escaped.
        let escaped = crate::db::like_escaped(search);
        q.push(" AND url LIKE ").push_bind(format!("%{escaped}%")).push(" ESCAPE '!'");
    }
    if let Some(error) = query.error.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let escaped = crate::db::like_escaped(error);
        q.push(" AND (error LIKE ").push_bind(format!("%{escaped}%")).push(" ESCAPE '!'");
        // Digits alone may be Baidu's code (216201), which the text need not contain.
        if let Some(code) = error.parse::<i64>().ok().filter(|_| error.bytes().all(|b| b.is_ascii_digit())) {
            q.push(" OR error_code = ").push_bind(code);
        }
        q.push(")");
    }
    if let Some(from) = query.from {
        q.push(" AND created_at >= ").push_bind(ms(from));
    }
    if let Some(to) = query.to {
        q.push(" AND created_at < ").push_bind(ms(to));
    }
}

/// The column of a sort: a fixed name from this list, never text from the caller.
fn column(sort: OcrSort) -> &'static str {
    match sort {
        OcrSort::Id => "id",
        OcrSort::Url => "url",
        OcrSort::Status => "status",
        OcrSort::Attempts => "attempts",
        OcrSort::CreatedAt => "created_at",
        OcrSort::UpdatedAt => "updated_at",
    }
}

/// A page (newest first unless `sort` says otherwise) and the number of matches.
pub async fn list(pool: &AnyPool, query: &OcrQuery) -> sqlx::Result<(Vec<OcrRequest>, i64)> {
    let mut count: QueryBuilder<Any> = QueryBuilder::new("SELECT COUNT(*) AS n FROM ocr_requests");
    push_filter(&mut count, query);
    let total: i64 = count.build().fetch_one(pool).await?.try_get("n")?;
    let mut select: QueryBuilder<Any> = QueryBuilder::new(format!("SELECT {COLUMNS} FROM ocr_requests"));
    push_filter(&mut select, query);
    let order = match query.sort {
        None => " ORDER BY id DESC".to_string(),
        Some(sort) => {
            let direction = if query.desc { " DESC" } else { "" };
            match sort {
                OcrSort::Id => format!(" ORDER BY id{direction}"),
                // Equal values (a status, a count) keep one order across pages: by id, the same way.
                _ => format!(" ORDER BY {}{direction}, id{direction}", column(sort)),
            }
        }
    };
    select.push(order).push(" LIMIT ").push_bind(i64::from(query.limit));
    select.push(" OFFSET ").push_bind(i64::from(query.offset));
    let rows = select.build().fetch_all(pool).await?;
    let requests = rows.iter().map(|r| from_row(r).map(|s| s.request)).collect::<sqlx::Result<Vec<_>>>()?;
    Ok((requests, total))
}
