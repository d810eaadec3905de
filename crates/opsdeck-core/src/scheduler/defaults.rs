//! The jobs code provides on first start. They are inserted only when no job of that name
//! exists, so staff edits (and pauses) persist across restarts.

use serde_json::json;

use super::policy::JobPolicy;
use super::store::JobDraft;
use super::trigger::TriggerSpec;

pub fn default_jobs(timezone: &str) -> Vec<JobDraft> {
    vec![
        JobDraft {
            name: "prune-run-history".into(),
            kind: "prune_history".into(),
            trigger: TriggerSpec::Cron { expr: "17 * * * *".into() },
            timezone: timezone.to_string(),
            args: json!({}),
            policy: JobPolicy { misfire_grace_seconds: 3600, ..JobPolicy::default() },
        },
        JobDraft {
            name: "ocr-reconcile".into(),
            kind: "ocr_reconcile".into(),
            trigger: TriggerSpec::Interval { every_seconds: 30, start: None, end: None },
            timezone: timezone.to_string(),
            args: json!({}),
            // Catching up once is enough: one pass repairs everything it finds.
            policy: JobPolicy { coalesce: true, misfire_grace_seconds: 60, ..JobPolicy::default() },
        },
        JobDraft {
            name: "order-expiry-sweep".into(),
            kind: "order_expiry_sweep".into(),
            trigger: TriggerSpec::Interval { every_seconds: 10, start: None, end: None },
            timezone: timezone.to_string(),
            args: json!({}),
            policy: JobPolicy { coalesce: true, misfire_grace_seconds: 30, ..JobPolicy::default() },
        },
        JobDraft {
            name: "orders-reconcile".into(),
            kind: "orders_reconcile".into(),
            trigger: TriggerSpec::Interval { every_seconds: 60, start: None, end: None },
            timezone: timezone.to_string(),
            args: json!({}),
            policy: JobPolicy { coalesce: true, misfire_grace_seconds: 120, ..JobPolicy::default() },
        },
    ]
}
