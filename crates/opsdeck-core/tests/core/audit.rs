//! The audit log through the facade: recorded, listed newest first, paged, validated; filtered
//! (who, action or family, time range, search) and sorted by a column with offset paging, on
//! SQLite and MariaDB.

use chrono::{DateTime, TimeZone, Utc};
use opsdeck_api::ErrorBody;
use opsdeck_api::audit::{AuditQuery, AuditSort};
use opsdeck_core::audit::NewAuditEntry;
use opsdeck_core::{Actor, Core};
use serde_json::json;

use crate::helpers::{fresh_mysql_url, redis_url, sqlite_config};

#[tokio::test]
async fn records_and_pages_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::start(sqlite_config(dir.path(), &redis_url())).await.unwrap();
    for n in 0..5 {
        core.record_audit(NewAuditEntry {
            who: "alice",
            action: "job.pause",
            target: &format!("job:{n}"),
            detail: Some(serde_json::json!({ "n": n })),
        })
        .await
        .unwrap();
    }
    let first = core.audit_list(2, None, &Actor::system("tester")).await.unwrap();
    let targets: Vec<_> = first.entries.iter().map(|e| e.target.as_str()).collect();
    assert_eq!(targets, ["job:4", "job:3"]);
    assert_eq!(first.entries[0].detail, Some(serde_json::json!({ "n": 4 })));
    assert_eq!(first.entries[0].who, "alice");

    let second = core.audit_list(2, first.next_before_id, &Actor::system("tester")).await.unwrap();
    let targets: Vec<_> = second.entries.iter().map(|e| e.target.as_str()).collect();
    assert_eq!(targets, ["job:2", "job:1"]);
    let last = core.audit_list(2, second.next_before_id, &Actor::system("tester")).await.unwrap();
    assert_eq!(last.entries.len(), 1);
    assert_eq!(last.next_before_id, None, "no page after the last");
    core.shutdown().await;
}

#[tokio::test]
async fn bad_requests_get_a_code_and_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::start(sqlite_config(dir.path(), &redis_url())).await.unwrap();
    let body: ErrorBody = core.audit_list(0, None, &Actor::system("tester")).await.unwrap_err().into();
    assert_eq!(body.code, "value_out_of_range");
    assert!(body.message.contains("limit"), "{body:?}");
    assert_eq!((body.params["min"].as_str(), body.params["max"].as_str()), ("1", "500"), "{body:?}");
    let anonymous =
        core.record_audit(NewAuditEntry { who: " ", action: "x", target: "y", detail: None }).await.unwrap_err();
    assert_eq!(anonymous.code(), "audit_entry_incomplete");
    assert!(
        core.audit_list(10, None, &Actor::system("tester")).await.unwrap().entries.is_empty(),
        "nothing was recorded"
    );
    core.shutdown().await;
}

/// A core on SQLite (None) or on a fresh MariaDB database.
async fn start(dir: &std::path::Path, database_url: Option<String>) -> Core {
    let mut config = sqlite_config(dir, &redis_url());
    if let Some(url) = database_url {
        config = crate::helpers::config_with(
            dir,
            &[
                ("data_dir", crate::helpers::toml_string(&dir.display().to_string())),
                ("database_url", crate::helpers::toml_string(&url)),
                ("redis_url", crate::helpers::toml_string(&redis_url())),
                ("redis_prefix", crate::helpers::toml_string(&crate::helpers::unique("t"))),
            ],
        );
    }
    Core::start(config).await.unwrap()
}

/// A minute after an arbitrary fixed instant (the filters' times are the entries' own).
fn minute(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap() + chrono::Duration::minutes(n)
}

/// Records an entry at a chosen time, as `Core::record_audit` would at that time.
async fn record_at(core: &Core, at: DateTime<Utc>, who: &str, action: &str, target: &str, detail: serde_json::Value) {
    let entry = NewAuditEntry { who, action, target, detail: Some(detail) };
    opsdeck_core::audit::record(core.database(), &entry, at).await.unwrap();
}

async fn targets(core: &Core, query: AuditQuery) -> Vec<String> {
    let page = core.audit_query(AuditQuery { limit: 100, ..query }, &Actor::system("tester")).await.unwrap();
    page.entries.into_iter().map(|e| e.target).collect()
}

/// Each filter alone and together: who acted (exact), the action or its family, the time range
/// (from inclusive, to exclusive), a part of the target or the details (LIKE's wildcards taken
/// as the characters they are).
async fn audit_filters(core: &Core) {
    record_at(core, minute(0), "alice", "job.pause", "job:1", json!({ "name": "nightly" })).await;
    record_at(core, minute(1), "bob", "job.resume", "job:2", json!({ "name": "hourly" })).await;
    record_at(core, minute(2), "alice", "order.cancel", "order:991", json!({ "reason": "100% duplicate" })).await;
    record_at(core, minute(3), "alice2", "order.cancel", "order:992", json!({ "reason": "1000 yuan, wrong" })).await;
    record_at(core, minute(4), "carol", "jobs.legacy", "order:a_b", json!({})).await;
    record_at(core, minute(5), "carol", "ocr.retry", "order:axb", json!({ "ids": [5] })).await;

    let q = AuditQuery::default;
    assert_eq!(targets(core, AuditQuery { actor: Some("alice".into()), ..q() }).await, ["order:991", "job:1"]);
    assert!(targets(core, AuditQuery { actor: Some("ali".into()), ..q() }).await.is_empty(), "who is exact");
    assert_eq!(
        targets(core, AuditQuery { action: Some("order.cancel".into()), ..q() }).await,
        ["order:992", "order:991"]
    );
    assert_eq!(
        targets(core, AuditQuery { action: Some("job.".into()), ..q() }).await,
        ["job:2", "job:1"],
        "a family matches its actions, not jobs.legacy"
    );
    assert!(targets(core, AuditQuery { action: Some("job".into()), ..q() }).await.is_empty(), "no dot: exact");
    assert_eq!(
        targets(core, AuditQuery { from: Some(minute(1)), to: Some(minute(3)), ..q() }).await,
        ["order:991", "job:2"],
        "from inclusive, to exclusive"
    );
    assert_eq!(targets(core, AuditQuery { from: Some(minute(4)), ..q() }).await, ["order:axb", "order:a_b"]);
    assert_eq!(targets(core, AuditQuery { to: Some(minute(1)), ..q() }).await, ["job:1"]);
    // The search reads the target and the details' text.
    assert_eq!(targets(core, AuditQuery { search: Some("nightly".into()), ..q() }).await, ["job:1"]);
    assert_eq!(targets(core, AuditQuery { search: Some("order:99".into()), ..q() }).await, ["order:992", "order:991"]);
    assert_eq!(targets(core, AuditQuery { search: Some("100%".into()), ..q() }).await, ["order:991"], "% is a percent");
    assert_eq!(
        targets(core, AuditQuery { search: Some("a_b".into()), ..q() }).await,
        ["order:a_b"],
        "_ is an underscore"
    );
    assert_eq!(targets(core, AuditQuery { search: Some("  ".into()), ..q() }).await.len(), 6, "a blank search is none");
    // Together: every filter applies.
    let together = AuditQuery {
        actor: Some("alice".into()),
        action: Some("order.".into()),
        from: Some(minute(0)),
        to: Some(minute(10)),
        search: Some("duplicate".into()),
        ..q()
    };
    assert_eq!(targets(core, together.clone()).await, ["order:991"]);
    assert!(targets(core, AuditQuery { actor: Some("bob".into()), ..together }).await.is_empty());
}

#[tokio::test]
async fn audit_filters_each_and_combined_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let core = start(dir.path(), None).await;
    audit_filters(&core).await;
    core.shutdown().await;
}

#[tokio::test]
async fn audit_filters_each_and_combined_on_mariadb() {
    let dir = tempfile::tempdir().unwrap();
    let core = start(dir.path(), Some(fresh_mysql_url().await)).await;
    audit_filters(&core).await;
    core.shutdown().await;
}

/// Sorted by a column, paged by offset to the end; equal values keep the id's order (in the
/// sort's direction), so no entry is seen twice or skipped across pages.
async fn audit_sorted_pages(core: &Core) {
    for (n, who) in ["bob", "alice", "carol", "alice", "bob"].into_iter().enumerate() {
        record_at(core, minute(0), who, "job.pause", &format!("job:{n}"), json!({})).await;
    }
    let pages = |sort: AuditSort, desc: bool| async move {
        let mut seen = Vec::new();
        let mut offset = 0;
        loop {
            let query = AuditQuery { sort: Some(sort), desc, offset, limit: 2, ..AuditQuery::default() };
            let page = core.audit_query(query, &Actor::system("tester")).await.unwrap();
            assert!(page.entries.len() <= 2);
            assert_eq!(page.next_before_id, None, "a sorted page continues by offset");
            seen.extend(page.entries.into_iter().map(|e| format!("{}/{}", e.who, e.target)));
            match page.next_offset {
                Some(next) => offset = next,
                None => return seen,
            }
        }
    };
    assert_eq!(
        pages(AuditSort::Who, false).await,
        ["alice/job:1", "alice/job:3", "bob/job:0", "bob/job:4", "carol/job:2"]
    );
    assert_eq!(
        pages(AuditSort::Who, true).await,
        ["carol/job:2", "bob/job:4", "bob/job:0", "alice/job:3", "alice/job:1"]
    );
    // All at the same instant: the id alone orders them.
    assert_eq!(
        pages(AuditSort::At, true).await,
        ["bob/job:4", "alice/job:3", "carol/job:2", "alice/job:1", "bob/job:0"]
    );
    assert_eq!(pages(AuditSort::Target, false).await.len(), 5);
    let filtered = AuditQuery {
        actor: Some("bob".into()),
        sort: Some(AuditSort::Target),
        desc: true,
        limit: 10,
        ..AuditQuery::default()
    };
    assert_eq!(targets(core, filtered).await, ["job:4", "job:0"], "filters apply to a sorted list too");
}

#[tokio::test]
async fn audit_sorts_and_pages_by_offset_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let core = start(dir.path(), None).await;
    audit_sorted_pages(&core).await;
    core.shutdown().await;
}

#[tokio::test]
async fn audit_sorts_and_pages_by_offset_on_mariadb() {
    let dir = tempfile::tempdir().unwrap();
    let core = start(dir.path(), Some(fresh_mysql_url().await)).await;
    audit_sorted_pages(&core).await;
    core.shutdown().await;
}

#[tokio::test]
async fn a_bad_audit_query_names_its_field() {
    let dir = tempfile::tempdir().unwrap();
    let core = start(dir.path(), None).await;
    let refused = |query: AuditQuery| {
        let core = core.clone();
        async move { ErrorBody::from(core.audit_query(query, &Actor::system("tester")).await.unwrap_err()) }
    };
    let reversed =
        refused(AuditQuery { from: Some(minute(5)), to: Some(minute(1)), limit: 10, ..Default::default() }).await;
    assert_eq!((reversed.code.as_str(), reversed.field.as_deref()), ("range_reversed", Some("from")), "{reversed:?}");
    let limit = refused(AuditQuery { limit: 501, ..Default::default() }).await;
    assert_eq!((limit.code.as_str(), limit.field.as_deref()), ("value_out_of_range", Some("limit")));
    let long = refused(AuditQuery { search: Some("x".repeat(101)), limit: 10, ..Default::default() }).await;
    assert_eq!((long.code.as_str(), long.field.as_deref()), ("text_too_long", Some("search")));
    assert_eq!(long.params["max"], "100");
    core.shutdown().await;
}
