//! The console's OCR list: filters by error (text or Baidu's code) and by submission date, and
//! sorts by a column (ties by id), on SQLite and MariaDB.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use opsdeck_api::ErrorBody;
use opsdeck_api::ocr::OcrSort;
use opsdeck_core::ocr::baidu::Side;
use opsdeck_core::ocr::model::{OcrQuery, OcrStatus};
use opsdeck_core::{Actor, Core};
use opsdeck_sandbox::baidu::BaiduConfig;

use crate::helpers::{fresh_mysql_url, redis_url, toml_string, unique, until};
use crate::ocr::{fake, start, url};

fn day(d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, 8, 0, 0).unwrap()
}

async fn ids(core: &Core, query: OcrQuery) -> Vec<i64> {
    let query = OcrQuery { limit: 50, ..query };
    core.ocr_list(query, &Actor::system("tester")).await.unwrap().requests.iter().map(|r| r.id).collect()
}

/// Four requests: two dead with different errors, two done; submitted on 1, 2, 3 and 4 Nov.
async fn filters_and_sorts(core: &Core) {
    let staff = Actor::system("tester");
    let submit = |stem: &str, query: &str| {
        let core = core.clone();
        let image = format!("{}?{query}", url(stem));
        async move { core.ocr_submit(&image, Side::Front).await.unwrap().request_id }
    };
    let format_error = submit("a-format", "fail=216201").await;
    let url_error = submit("b-url", "fail=282111").await;
    let fine = submit("c-fine", "x=1").await;
    let also_fine = submit("d-fine", "x=2").await;
    for (id, status) in [
        (format_error, OcrStatus::Dead),
        (url_error, OcrStatus::Dead),
        (fine, OcrStatus::Done),
        (also_fine, OcrStatus::Done),
    ] {
        until(&format!("request {id} is {status:?}"), || async {
            (core.ocr_get(id, &staff).await.unwrap().status == status).then_some(())
        })
        .await;
    }
    // Their submission dates, set where the list reads them.
    for (id, d) in [(format_error, 1), (url_error, 2), (fine, 3), (also_fine, 4)] {
        sqlx::query("UPDATE ocr_requests SET created_at = ? WHERE id = ?")
            .bind(day(d).timestamp_millis())
            .bind(id)
            .execute(core.database().pool())
            .await
            .unwrap();
    }
    let by_error = |text: &str| OcrQuery { error: Some(text.into()), ..OcrQuery::default() };
    assert_eq!(ids(core, by_error("IMAGE FORMAT")).await, [format_error], "a part of the text, any case");
    assert_eq!(ids(core, by_error("216201")).await, [format_error], "Baidu's code");
    assert_eq!(ids(core, by_error(" 2821 ")).await, [url_error], "digits within the text, trimmed");
    assert_eq!(ids(core, by_error("Baidu error")).await, [url_error, format_error]);
    assert!(ids(core, by_error("%")).await.is_empty(), "a wildcard is literal");

    let range =
        |from: Option<u32>, to: Option<u32>| OcrQuery { from: from.map(day), to: to.map(day), ..OcrQuery::default() };
    assert_eq!(ids(core, range(Some(2), Some(4))).await, [fine, url_error], "from inclusive, to exclusive");
    assert_eq!(ids(core, range(Some(3), None)).await, [also_fine, fine]);
    assert_eq!(ids(core, range(None, Some(2))).await, [format_error]);
    let both = OcrQuery { error: Some("error".into()), from: Some(day(2)), ..OcrQuery::default() };
    assert_eq!(ids(core, both).await, [url_error], "filters combine");
    let reversed: ErrorBody =
        core.ocr_list(OcrQuery { limit: 10, ..range(Some(4), Some(1)) }, &staff).await.unwrap_err().into();
    assert_eq!((reversed.code.as_str(), reversed.field.as_deref()), ("range_reversed", Some("from")));
    let long: ErrorBody =
        core.ocr_list(OcrQuery { limit: 10, ..by_error(&"x".repeat(201)) }, &staff).await.unwrap_err().into();
    assert_eq!((long.code.as_str(), long.field.as_deref()), ("text_too_long", Some("error")));

    let sorted = |sort: OcrSort, desc: bool| OcrQuery { sort: Some(sort), desc, ..OcrQuery::default() };
    assert_eq!(ids(core, OcrQuery::default()).await, [also_fine, fine, url_error, format_error], "newest first");
    assert_eq!(ids(core, sorted(OcrSort::Id, false)).await, [format_error, url_error, fine, also_fine]);
    assert_eq!(ids(core, sorted(OcrSort::Url, false)).await, [format_error, url_error, fine, also_fine]);
    assert_eq!(ids(core, sorted(OcrSort::Url, true)).await, [also_fine, fine, url_error, format_error]);
    // Ties broken by id, the same way round.
    assert_eq!(ids(core, sorted(OcrSort::Status, false)).await, [format_error, url_error, fine, also_fine]);
    assert_eq!(ids(core, sorted(OcrSort::Status, true)).await, [also_fine, fine, url_error, format_error]);
    assert_eq!(ids(core, sorted(OcrSort::CreatedAt, false)).await, [format_error, url_error, fine, also_fine]);
    // Dead after 1 call each (refused images), done after 1: all tie, by id.
    assert_eq!(ids(core, sorted(OcrSort::Attempts, true)).await, [also_fine, fine, url_error, format_error]);
    // A page of a sorted list continues where the previous stopped.
    let page = OcrQuery { sort: Some(OcrSort::Status), offset: 1, limit: 2, ..OcrQuery::default() };
    let page: Vec<i64> = core.ocr_list(page, &staff).await.unwrap().requests.iter().map(|r| r.id).collect();
    assert_eq!(page, [url_error, fine]);
}

fn fast_fake() -> BaiduConfig {
    BaiduConfig { qps: 1000, latency: Duration::from_millis(5), ..BaiduConfig::default() }
}

#[tokio::test]
async fn the_list_filters_by_error_and_date_and_sorts_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let baidu = fake(fast_fake()).await;
    let core = start(dir.path(), &redis_url(), &unique("t"), &baidu, &[]).await;
    filters_and_sorts(&core).await;
    core.shutdown().await;
}

#[tokio::test]
async fn the_list_filters_by_error_and_date_and_sorts_on_mariadb() {
    let dir = tempfile::tempdir().unwrap();
    let baidu = fake(fast_fake()).await;
    let mysql = fresh_mysql_url().await;
    let core = start(dir.path(), &redis_url(), &unique("t"), &baidu, &[("database_url", toml_string(&mysql))]).await;
    filters_and_sorts(&core).await;
    core.shutdown().await;
}
