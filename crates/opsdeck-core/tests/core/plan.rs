//! Misfire grace, coalescing and the due window, with `now` given (no clock involved).

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use opsdeck_api::jobs::JobPolicy;
use opsdeck_core::scheduler::plan::{Decision, MAX_DUE, decide, due_fires};
use opsdeck_core::scheduler::policy::PolicyExt;
use opsdeck_core::scheduler::{Schedule, TriggerSpec};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn every(seconds: i64, created: DateTime<Utc>) -> Schedule {
    let tz: Tz = "UTC".parse().unwrap();
    Schedule::compile(&TriggerSpec::Interval { every_seconds: seconds, start: None, end: None }, tz, created).unwrap()
}

fn policy(grace: u64, coalesce: bool) -> JobPolicy {
    JobPolicy { misfire_grace_seconds: grace, coalesce, ..JobPolicy::default() }
}

#[test]
fn an_on_time_instant_runs() {
    let t0 = at("2026-01-01T00:00:00Z");
    let schedule = every(10, t0);
    let now = t0 + Duration::milliseconds(10_003);
    let (due, skipped) = due_fires(&schedule, t0, now);
    assert_eq!(due, [t0 + Duration::seconds(10)]);
    assert_eq!(skipped, 0);
    assert_eq!(decide(&due, skipped, now, &policy(60, true)), [Decision::Run { scheduled: due[0], coalesced: 0 }]);
    assert!(due_fires(&schedule, due[0], now).0.is_empty(), "nothing due twice");
}

#[test]
fn an_instant_found_later_than_the_grace_is_missed_not_run() {
    let t0 = at("2026-01-01T00:00:00Z");
    let scheduled = t0 + Duration::seconds(10);
    let now = scheduled + Duration::seconds(61);
    assert_eq!(decide(&[scheduled], 0, now, &policy(60, false)), [Decision::Missed { scheduled, coalesced: 0 }]);
    assert_eq!(
        decide(&[scheduled], 0, scheduled + Duration::seconds(60), &policy(60, false)),
        [Decision::Run { scheduled, coalesced: 0 }],
        "exactly at the grace still runs"
    );
}

#[test]
fn after_downtime_coalesce_runs_once_for_all_missed_instants() {
    let t0 = at("2026-01-01T00:00:00Z");
    let schedule = every(10, t0);
    let now = t0 + Duration::seconds(95); // instants at 10, 20, …, 90 are due
    let (due, skipped) = due_fires(&schedule, t0, now);
    assert_eq!(due.len(), 9);
    let newest = t0 + Duration::seconds(90);
    assert_eq!(decide(&due, skipped, now, &policy(60, true)), [Decision::Run { scheduled: newest, coalesced: 8 }]);
    // Beyond the grace even the newest is late: one missed entry, not fifty.
    let later = t0 + Duration::seconds(505);
    let (due, skipped) = due_fires(&schedule, t0, later);
    let decisions = decide(&due, skipped, later, &policy(3, true));
    assert_eq!(decisions.len(), 1);
    assert!(matches!(decisions[0], Decision::Missed { coalesced: 49, .. }), "{decisions:?}");
}

#[test]
fn without_coalesce_each_instant_stands_alone() {
    let t0 = at("2026-01-01T00:00:00Z");
    let schedule = every(10, t0);
    let now = t0 + Duration::seconds(95);
    let (due, skipped) = due_fires(&schedule, t0, now);
    let decisions = decide(&due, skipped, now, &policy(30, false));
    assert_eq!(decisions.len(), 9);
    let runs = decisions.iter().filter(|d| matches!(d, Decision::Run { .. })).count();
    let missed = decisions.iter().filter(|d| matches!(d, Decision::Missed { .. })).count();
    assert_eq!((runs, missed), (3, 6), "70, 80, 90 are within 30 s of now; 10…60 are not");
}

#[test]
fn a_very_long_outage_is_bounded() {
    let t0 = at("2026-01-01T00:00:00Z");
    let schedule = every(1, t0);
    let now = t0 + Duration::seconds(86_400);
    let (due, skipped) = due_fires(&schedule, t0, now);
    assert_eq!(due.len(), MAX_DUE + 1);
    assert_eq!(*due.last().unwrap(), now, "the newest due instant is kept");
    assert_eq!(due.len() as u64 + skipped, 86_400, "every instant is accounted for");
    let decisions = decide(&due, skipped, now, &policy(60, true));
    assert_eq!(decisions, [Decision::Run { scheduled: now, coalesced: 86_399 }]);
}

#[test]
fn a_one_shot_date_fires_once() {
    let tz: Tz = "Asia/Shanghai".parse().unwrap();
    let created = at("2026-01-01T00:00:00Z");
    let schedule = Schedule::compile(&TriggerSpec::Date { at: "2026-01-02 08:00".into() }, tz, created).unwrap();
    let now = at("2026-01-02T00:00:01Z");
    let (due, _) = due_fires(&schedule, created, now);
    assert_eq!(due, [at("2026-01-02T00:00:00Z")]);
    assert!(due_fires(&schedule, due[0], now + Duration::days(30)).0.is_empty());
}

#[test]
fn policy_validation_names_the_field() {
    let bad = [
        (JobPolicy { max_instances: 0, ..JobPolicy::default() }, "policy.max_instances"),
        (JobPolicy { misfire_grace_seconds: 0, ..JobPolicy::default() }, "policy.misfire_grace_seconds"),
        (JobPolicy { jitter_seconds: 7200, ..JobPolicy::default() }, "policy.jitter_seconds"),
        (JobPolicy { timeout_seconds: Some(0), ..JobPolicy::default() }, "policy.timeout_seconds"),
    ];
    for (policy, field) in bad {
        assert_eq!(policy.validate().unwrap_err().0, field);
    }
    assert!(JobPolicy::default().validate().is_ok());
    assert_eq!(JobPolicy::default().max_instances, 1);
}
