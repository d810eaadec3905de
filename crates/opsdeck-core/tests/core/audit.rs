//! The audit log through the facade: recorded, listed newest first, paged, validated.

use opsdeck_api::ErrorBody;
use opsdeck_core::audit::NewAuditEntry;
use opsdeck_core::{Actor, Core};

use crate::helpers::{redis_url, sqlite_config};

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
