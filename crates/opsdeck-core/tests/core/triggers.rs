//! Triggers and their daylight-saving rules, with fixed instants (no clock involved):
//! America/New_York (2026-03-08 02:00→03:00, 2026-11-01 02:00→01:00) and Europe/London
//! (2026-03-29 01:00→02:00, 2026-10-25 02:00→01:00).

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use opsdeck_api::jobs::DstNote;
use opsdeck_core::scheduler::trigger::{parse_cron, preview};
use opsdeck_core::scheduler::{Schedule, TriggerSpec};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn cron(expr: &str) -> TriggerSpec {
    TriggerSpec::Cron { expr: expr.into() }
}

/// The fires as `2026-03-08T03:00:00-04:00` strings, with their notes.
fn fires(spec: &TriggerSpec, zone: &str, from: &str, count: usize) -> Vec<(String, Option<DstNote>)> {
    preview(spec, zone, at(from), count).unwrap().into_iter().map(|fire| (fire.at.to_rfc3339(), fire.dst)).collect()
}

fn times(list: &[(String, Option<DstNote>)]) -> Vec<&str> {
    list.iter().map(|(t, _)| t.as_str()).collect()
}

#[test]
fn new_york_spring_forward_runs_a_time_in_the_gap_once_right_after_it() {
    let got = fires(&cron("30 2 * * *"), "America/New_York", "2026-03-07T00:00:00-05:00", 3);
    assert_eq!(
        times(&got),
        ["2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"],
        "the day of the gap is neither skipped nor run twice"
    );
    assert_eq!(got[1].1, Some(DstNote::GapShifted));
    assert_eq!(got[0].1, None);
}

#[test]
fn new_york_fall_back_runs_a_repeated_time_once_at_its_first_occurrence() {
    let got = fires(&cron("30 1 * * *"), "America/New_York", "2026-10-31T00:00:00-04:00", 3);
    assert_eq!(times(&got), ["2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]);
    assert_eq!(got[1].1, Some(DstNote::OverlapFirst));
}

#[test]
fn london_transitions_follow_the_same_rules() {
    let spring = fires(&cron("30 1 * * *"), "Europe/London", "2026-03-28T00:00:00Z", 3);
    assert_eq!(times(&spring), ["2026-03-28T01:30:00+00:00", "2026-03-29T02:00:00+01:00", "2026-03-30T01:30:00+01:00"]);
    assert_eq!(spring[1].1, Some(DstNote::GapShifted));

    let autumn = fires(&cron("30 1 * * *"), "Europe/London", "2026-10-24T00:00:00+01:00", 3);
    assert_eq!(times(&autumn), ["2026-10-24T01:30:00+01:00", "2026-10-25T01:30:00+01:00", "2026-10-26T01:30:00+00:00"]);
    assert_eq!(autumn[1].1, Some(DstNote::OverlapFirst));
}

#[test]
fn wildcard_patterns_keep_real_time_through_both_transitions() {
    // Every 30 minutes: through the gap the local 02:xx times do not exist; through the overlap
    // the local 01:xx times happen twice, and both are real instants 30 minutes apart.
    for (from, count) in [("2026-03-08T00:00:00-05:00", 8), ("2026-11-01T00:00:00-04:00", 10)] {
        let list = preview(&cron("*/30 * * * *"), "America/New_York", at(from), count).unwrap();
        for pair in list.windows(2) {
            assert_eq!(pair[1].at - pair[0].at, Duration::minutes(30), "{:?}", list);
        }
    }
    let overlap = fires(&cron("*/30 * * * *"), "America/New_York", "2026-11-01T00:50:00-04:00", 4);
    assert_eq!(
        times(&overlap),
        [
            "2026-11-01T01:00:00-04:00",
            "2026-11-01T01:30:00-04:00",
            "2026-11-01T01:00:00-05:00",
            "2026-11-01T01:30:00-05:00"
        ]
    );
}

#[test]
fn a_one_shot_date_in_a_gap_or_overlap_resolves_like_cron() {
    let gap =
        fires(&TriggerSpec::Date { at: "2026-03-08 02:30".into() }, "America/New_York", "2026-01-01T00:00:00Z", 5);
    assert_eq!(times(&gap), ["2026-03-08T03:00:00-04:00"], "one shot, one fire");
    assert_eq!(gap[0].1, Some(DstNote::GapShifted));
    let overlap =
        fires(&TriggerSpec::Date { at: "2026-10-25T01:30".into() }, "Europe/London", "2026-01-01T00:00:00Z", 5);
    assert_eq!(times(&overlap), ["2026-10-25T01:30:00+01:00"]);
    assert_eq!(overlap[0].1, Some(DstNote::OverlapFirst));
}

#[test]
fn intervals_are_elapsed_time_and_ignore_the_wall_clock() {
    let spec = TriggerSpec::Interval { every_seconds: 3600, start: Some("2026-03-08 00:00".into()), end: None };
    let list = preview(&spec, "America/New_York", at("2026-03-07T23:00:00-05:00"), 5).unwrap();
    let local: Vec<String> = list.iter().map(|f| f.at.to_rfc3339()).collect();
    assert_eq!(
        local,
        [
            "2026-03-08T00:00:00-05:00",
            "2026-03-08T01:00:00-05:00",
            "2026-03-08T03:00:00-04:00",
            "2026-03-08T04:00:00-04:00",
            "2026-03-08T05:00:00-04:00"
        ]
    );
    assert_eq!(list[2].dst, Some(DstNote::OffsetChanged), "the first fire after the change is flagged");
}

#[test]
fn interval_start_end_and_anchor() {
    let tz: Tz = "Asia/Shanghai".parse().unwrap();
    let created = at("2026-01-01T00:00:00Z");
    let plain =
        Schedule::compile(&TriggerSpec::Interval { every_seconds: 10, start: None, end: None }, tz, created).unwrap();
    assert_eq!(plain.next_after(created).unwrap().at, at("2026-01-01T00:00:10Z"), "one interval after the anchor");
    assert_eq!(plain.next_after(at("2026-01-01T00:00:10Z")).unwrap().at, at("2026-01-01T00:00:20Z"));
    assert_eq!(plain.next_after(at("2026-01-01T00:00:15.5Z")).unwrap().at, at("2026-01-01T00:00:20Z"));
    assert_eq!(plain.describe(), "every 10 seconds from 2026-01-01 08:00:10");

    let bounded = TriggerSpec::Interval {
        every_seconds: 3600,
        start: Some("2026-01-01 08:00".into()),
        end: Some("2026-01-01 10:00".into()),
    };
    let list = preview(&bounded, "Asia/Shanghai", at("2025-12-31T00:00:00Z"), 10).unwrap();
    let local: Vec<String> = list.iter().map(|f| f.at.format("%H:%M").to_string()).collect();
    assert_eq!(local, ["08:00", "09:00", "10:00"], "start is inclusive, end bounds the fires");
}

#[test]
fn cron_syntax_seconds_names_last_nth_and_macros() {
    let utc = "UTC";
    let from = "2026-01-01T00:00:00Z";
    assert_eq!(
        times(&fires(&cron("*/15 * * * * *"), utc, from, 2)),
        ["2026-01-01T00:00:15+00:00", "2026-01-01T00:00:30+00:00"]
    );
    assert_eq!(
        times(&fires(&cron("0 8 * JAN MON-FRI"), utc, from, 2)),
        ["2026-01-01T08:00:00+00:00", "2026-01-02T08:00:00+00:00"]
    );
    assert_eq!(
        times(&fires(&cron("0 0 L * *"), utc, from, 2)),
        ["2026-01-31T00:00:00+00:00", "2026-02-28T00:00:00+00:00"]
    );
    assert_eq!(
        times(&fires(&cron("0 0 * * MON#2"), utc, from, 2)),
        ["2026-01-12T00:00:00+00:00", "2026-02-09T00:00:00+00:00"]
    );
    assert_eq!(
        times(&fires(&cron("@hourly"), utc, from, 2)),
        ["2026-01-01T01:00:00+00:00", "2026-01-01T02:00:00+00:00"]
    );
}

#[test]
fn bad_triggers_are_refused_naming_the_field() {
    let message = |spec: TriggerSpec, zone: &str| preview(&spec, zone, at("2026-06-01T00:00:00Z"), 5).unwrap_err();
    let hour = message(cron("0 25 * * *"), "UTC");
    assert_eq!(hour.field, "trigger");
    assert!(hour.message.contains("field 'hour'") && hour.message.contains("0-23"), "{}", hour.message);
    let dow = message(cron("0 8 * * FUNDAY"), "UTC");
    assert!(dow.message.contains("field 'day of week'"), "{}", dow.message);
    let seconds = message(cron("61 0 8 * * *"), "UTC");
    assert!(seconds.message.contains("field 'second'"), "{}", seconds.message);
    let fields = message(cron("* * *"), "UTC");
    assert!(fields.message.contains("expected 5 fields"), "{}", fields.message);
    assert!(parse_cron("0 0 30 2 *").is_err(), "30 February never fires");

    let zero = message(TriggerSpec::Interval { every_seconds: 0, start: None, end: None }, "UTC");
    assert!(zero.message.contains("greater than 0"), "{}", zero.message);
    let negative = message(TriggerSpec::Interval { every_seconds: -5, start: None, end: None }, "UTC");
    assert!(negative.message.contains("greater than 0"), "{}", negative.message);
    let past = message(TriggerSpec::Date { at: "2023-12-05 08:00".into() }, "Asia/Shanghai");
    assert!(past.message.contains("in the past"), "{}", past.message);
    let garbled = message(TriggerSpec::Date { at: "tomorrow at eight".into() }, "UTC");
    assert!(garbled.message.contains("YYYY-MM-DD HH:MM"), "{}", garbled.message);
    let zone = message(cron("* * * * *"), "Mars/Olympus");
    assert_eq!(zone.field, "timezone");
    assert!(zone.message.contains("unknown time zone"), "{}", zone.message);
}

/// A refused cron expression says, as params the console renders in the operator's language,
/// which field is wrong (its name and position), the value found there and an example of a valid
/// one; the cron library's own text ("illegal character 'D' in part '1DAY'") is in none of them.
#[test]
fn a_refused_cron_names_the_field_its_position_and_an_example() {
    let refused = |expr: &str| preview(&cron(expr), "UTC", at("2026-06-01T00:00:00Z"), 5).unwrap_err();
    let params = |e: &opsdeck_core::scheduler::trigger::TriggerError| {
        let get = |key: &str| e.params.get(key).cloned().unwrap_or_default();
        (get("field"), get("position"), get("value"), get("example"))
    };

    let day = refused("0 0 1DAY * *");
    assert_eq!((day.field, day.code.as_str()), ("trigger", "cron_invalid"));
    assert_eq!(params(&day), ("day_of_month".into(), "3".into(), "1DAY".into(), "1".into()));
    let hour = refused("0 25 * * *");
    assert_eq!(params(&hour), ("hour".into(), "2".into(), "25".into(), "9".into()));
    let weekday = refused("0 8 * * FUNDAY");
    assert_eq!(params(&weekday), ("day_of_week".into(), "5".into(), "FUNDAY".into(), "MON-FRI".into()));
    let second = refused("61 0 8 * * *");
    assert_eq!(params(&second), ("second".into(), "1".into(), "61".into(), "0".into()));
    for e in [&day, &hour, &weekday, &second] {
        let text = format!("{:?}", e.params);
        assert!(!text.contains("illegal") && !text.contains("part"), "no library text in the params: {text}");
        // Every example is itself valid in its place.
        let (_, position, _, example) = params(e);
        let n = if e.params["field"] == "second" { 6 } else { 5 };
        let fields: Vec<&str> =
            (1..=n).map(|i| if i.to_string() == position { example.as_str() } else { "*" }).collect();
        assert!(parse_cron(&fields.join(" ")).is_ok(), "{example} is valid at {position}");
    }

    let count = refused("* * *");
    assert_eq!(count.code.as_str(), "cron_field_count");
    assert_eq!(count.params["count"], "3");
    assert_eq!(count.params["example"], "0 9 * * MON-FRI");
    assert_eq!(refused("@fortnightly").code.as_str(), "cron_macro_unknown");
    assert_eq!(refused("0 0 30 2 *").code.as_str(), "cron_never_fires");
    let zone = preview(&cron("* * * * *"), "Mars/Olympus", at("2026-06-01T00:00:00Z"), 5).unwrap_err();
    assert_eq!((zone.field, zone.code.as_str()), ("timezone", "timezone_unknown"));
    assert_eq!((zone.params["value"].as_str(), zone.params["example"].as_str()), ("Mars/Olympus", "Asia/Shanghai"));
}
