//! Triggers: when a job fires. One code path serves the scheduler, the console's preview and
//! `opsdeckd schedule preview`.
//!
//! Kinds: `interval` (every N seconds from an anchor, optional start and end), `date` (one shot at
//! a local date-time), and `cron` (5 fields, or 6 with seconds first; names like MON-FRI and JAN;
//! `L`, `W`, `#`; `@hourly`-style macros), each evaluated in the job's time zone.
//!
//! Daylight-saving rules (documented in ARCHITECTURE.md):
//! - A local time that falls in a spring-forward gap runs once, at the first real instant after
//!   the gap (02:30 on a day that jumps from 02:00 to 03:00 runs at 03:00). Never skipped.
//! - A local time repeated by a fall-back overlap runs once, at its first occurrence. Never twice.
//! - Cron patterns with wildcard hours (every N minutes, …) keep running on real time through both
//!   transitions: every real instant that matches runs, once.
//! - Intervals are elapsed time and ignore wall clocks entirely.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use opsdeck_api::ErrorCode;

pub use opsdeck_api::jobs::{DstNote, FireTime, TriggerSpec};

/// Why a trigger was refused: `field` names the form field (`trigger`, `timezone`), `code` and
/// `params` are what the console renders, `message` says the same in English (the command line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TriggerError {
    pub field: &'static str,
    pub code: ErrorCode,
    pub message: String,
    pub params: BTreeMap<String, String>,
}

impl TriggerError {
    fn param(mut self, key: &str, value: impl ToString) -> TriggerError {
        self.params.insert(key.to_string(), value.to_string());
        self
    }
}

fn trigger_error(code: ErrorCode, message: impl Into<String>) -> TriggerError {
    TriggerError { field: "trigger", code, message: message.into(), params: BTreeMap::new() }
}

/// One instant a schedule fires at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fire {
    pub at: DateTime<Utc>,
    pub dst: Option<DstNote>,
}

/// A validated trigger in a zone, ready to compute fire times.
#[derive(Debug, Clone)]
pub struct Schedule {
    tz: Tz,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Interval {
        every: Duration,
        /// The first fire (inclusive) when a start was given, else one interval after creation.
        first: DateTime<Utc>,
        end: Option<DateTime<Utc>>,
    },
    Date {
        at: DateTime<Utc>,
        note: Option<DstNote>,
        local: NaiveDateTime,
    },
    Cron(Box<Cron>),
}

/// The longest interval accepted: a year.
const MAX_INTERVAL_SECONDS: i64 = 366 * 24 * 3600;

impl Schedule {
    /// Validates `spec` in zone `tz`. `created` anchors intervals that have no start.
    pub fn compile(spec: &TriggerSpec, tz: Tz, created: DateTime<Utc>) -> Result<Schedule, TriggerError> {
        let kind = match spec {
            TriggerSpec::Interval { every_seconds, start, end } => {
                if *every_seconds <= 0 || *every_seconds > MAX_INTERVAL_SECONDS {
                    let message = if *every_seconds <= 0 {
                        format!("interval: every_seconds must be greater than 0 (got {every_seconds})")
                    } else {
                        format!("interval: every_seconds must be at most {MAX_INTERVAL_SECONDS} (a year)")
                    };
                    return Err(trigger_error(ErrorCode::SecondsOutOfRange, message)
                        .param("min", 1)
                        .param("max", MAX_INTERVAL_SECONDS));
                }
                let every = Duration::seconds(*every_seconds);
                let start = start.as_deref().map(|s| local_instant(s, tz, "interval start")).transpose()?;
                let end = end.as_deref().map(|s| local_instant(s, tz, "interval end")).transpose()?;
                if let (Some((start, _)), Some((end, _))) = (start, end)
                    && end <= start
                {
                    return Err(trigger_error(ErrorCode::RangeReversed, "interval: end must be after start"));
                }
                Kind::Interval {
                    every,
                    first: start.map(|(at, _)| at).unwrap_or(created + every),
                    end: end.map(|(at, _)| at),
                }
            }
            TriggerSpec::Date { at } => {
                let (instant, note) = local_instant(at, tz, "date")?;
                Kind::Date { at: instant, note, local: parse_local(at, "date")? }
            }
            TriggerSpec::Cron { expr } => Kind::Cron(Box::new(parse_cron(expr)?)),
        };
        Ok(Schedule { tz, kind })
    }

    /// The first fire strictly after `after`, if any.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<Fire> {
        match &self.kind {
            Kind::Interval { every, first, end } => {
                let at = if after < *first {
                    *first
                } else {
                    let elapsed = (after - *first).num_milliseconds();
                    let step = every.num_milliseconds();
                    *first + Duration::milliseconds((elapsed / step + 1) * step)
                };
                match end {
                    Some(end) if at > *end => None,
                    _ => Some(Fire { at, dst: None }),
                }
            }
            Kind::Date { at, note, .. } => (*at > after).then_some(Fire { at: *at, dst: *note }),
            Kind::Cron(cron) => {
                let local = after.with_timezone(&self.tz);
                let next = cron.find_next_occurrence(&local, false).ok()?;
                Some(Fire { at: next.with_timezone(&Utc), dst: cron_note(cron, &next) })
            }
        }
    }

    /// Up to `count` fires after `after`, each flagged when its UTC offset differs from the one
    /// before it (or from `after`'s, for the first).
    pub fn upcoming(&self, after: DateTime<Utc>, count: usize) -> Vec<Fire> {
        let mut fires = Vec::with_capacity(count);
        let mut cursor = after;
        let mut offset = self.offset_at(after);
        while fires.len() < count {
            let Some(mut fire) = self.next_after(cursor) else {
                break;
            };
            let fire_offset = self.offset_at(fire.at);
            if fire.dst.is_none() && fire_offset != offset {
                fire.dst = Some(DstNote::OffsetChanged);
            }
            offset = fire_offset;
            cursor = fire.at;
            fires.push(fire);
        }
        fires
    }

    fn offset_at(&self, at: DateTime<Utc>) -> i32 {
        at.with_timezone(&self.tz).offset().fix().local_minus_utc()
    }

    /// The trigger in words, e.g. "every 10 seconds", "once at 2026-12-05 08:00".
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Interval { every, first, end } => {
                let mut text = format!("every {}", duration_words(every.num_seconds()));
                let local = |at: &DateTime<Utc>| at.with_timezone(&self.tz).format("%Y-%m-%d %H:%M:%S").to_string();
                text.push_str(&format!(" from {}", local(first)));
                if let Some(end) = end {
                    text.push_str(&format!(" until {}", local(end)));
                }
                text
            }
            Kind::Date { local, .. } => format!("once at {}", local.format("%Y-%m-%d %H:%M:%S")),
            Kind::Cron(cron) => cron.describe(),
        }
    }

    /// For a one-shot date trigger: its instant.
    pub fn one_shot_at(&self) -> Option<DateTime<Utc>> {
        match &self.kind {
            Kind::Date { at, .. } => Some(*at),
            _ => None,
        }
    }
}

/// The next `count` fires of `spec` in zone `timezone` after `from`, as local times with their
/// UTC offset: what the console's preview and `opsdeckd schedule preview` show.
pub fn preview(
    spec: &TriggerSpec,
    timezone: &str,
    from: DateTime<Utc>,
    count: usize,
) -> Result<Vec<FireTime>, TriggerError> {
    let tz = parse_timezone(timezone)?;
    let schedule = Schedule::compile(spec, tz, from)?;
    if let Some(at) = schedule.one_shot_at()
        && at <= from
    {
        let local = at.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string();
        return Err(trigger_error(ErrorCode::DateInPast, format!("date: {local} ({}) is in the past", tz.name()))
            .param("at", local)
            .param("timezone", tz.name()));
    }
    Ok(schedule.local_fires(from, count))
}

impl Schedule {
    /// [`Schedule::upcoming`] as local times in the schedule's zone.
    pub fn local_fires(&self, after: DateTime<Utc>, count: usize) -> Vec<FireTime> {
        self.upcoming(after, count)
            .into_iter()
            .map(|fire| FireTime { at: fire.at.with_timezone(&self.tz).fixed_offset(), dst: fire.dst })
            .collect()
    }
}

/// Flags a cron fire that a daylight-saving change moved or deduplicated.
fn cron_note(cron: &Cron, fire: &DateTime<Tz>) -> Option<DstNote> {
    let local = fire.naive_local();
    if !cron.is_time_matching(&local).unwrap_or(true) {
        return Some(DstNote::GapShifted);
    }
    match fire.timezone().from_local_datetime(&local) {
        LocalResult::Ambiguous(_, _) => Some(DstNote::OverlapFirst),
        _ => None,
    }
}

fn duration_words(seconds: i64) -> String {
    let (n, unit) = if seconds % 3600 == 0 {
        (seconds / 3600, "hour")
    } else if seconds % 60 == 0 {
        (seconds / 60, "minute")
    } else {
        (seconds, "second")
    };
    if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") }
}

fn parse_local(text: &str, what: &str) -> Result<NaiveDateTime, TriggerError> {
    let text = text.trim();
    for format in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(at);
        }
    }
    Err(trigger_error(
        ErrorCode::DateTimeInvalid,
        format!("{what}: {text:?} is not a local date and time (use YYYY-MM-DD HH:MM[:SS])"),
    )
    .param("value", text)
    .param("example", "2026-12-05 08:00"))
}

/// A local date-time in `tz` as an instant, applying the daylight-saving rules above.
fn local_instant(text: &str, tz: Tz, what: &str) -> Result<(DateTime<Utc>, Option<DstNote>), TriggerError> {
    let local = parse_local(text, what)?;
    Ok(resolve_local(local, tz))
}

/// Gap: the first real instant after it; overlap: the first occurrence.
fn resolve_local(local: NaiveDateTime, tz: Tz) -> (DateTime<Utc>, Option<DstNote>) {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(at) => (at.with_timezone(&Utc), None),
        LocalResult::Ambiguous(first, _) => (first.with_timezone(&Utc), Some(DstNote::OverlapFirst)),
        LocalResult::None => {
            // Walk forward minute by minute (gaps are at most a few hours) to the first local
            // time that exists: the moment the clocks jumped.
            let mut probe = local.with_second(0).unwrap_or(local);
            for _ in 0..(24 * 60) {
                probe += Duration::minutes(1);
                if let Some(at) = tz.from_local_datetime(&probe).earliest() {
                    return (at.with_timezone(&Utc), Some(DstNote::GapShifted));
                }
            }
            // No zone has a day-long gap; fall back to reading the time as UTC offset-free.
            (Utc.from_utc_datetime(&local), Some(DstNote::GapShifted))
        }
    }
}

/// The fields of a cron expression, as the console's catalogues name them (`errors.values.field`),
/// with an example of a valid value.
const FIVE_FIELDS: [(&str, &str); 5] =
    [("minute", "*/15"), ("hour", "9"), ("day_of_month", "1"), ("month", "JAN"), ("day_of_week", "MON-FRI")];
const SIX_FIELDS: [(&str, &str); 6] = [
    ("second", "0"),
    ("minute", "*/15"),
    ("hour", "9"),
    ("day_of_month", "1"),
    ("month", "JAN"),
    ("day_of_week", "MON-FRI"),
];
/// An example of a whole valid expression.
const CRON_EXAMPLE: &str = "0 9 * * MON-FRI";

fn cron_parser() -> CronParser {
    CronParser::builder().seconds(Seconds::Optional).build()
}

/// Parses a cron expression; a refusal names the offending field, its position and an example
/// of a valid value (the cron library's own text goes to the log only).
pub fn parse_cron(expr: &str) -> Result<Cron, TriggerError> {
    let expr = expr.trim();
    if expr.is_empty() {
        return Err(trigger_error(ErrorCode::CronEmpty, "cron: the expression is empty").param("example", CRON_EXAMPLE));
    }
    match cron_parser().parse(expr) {
        Ok(cron) => {
            // Reject patterns that never fire (e.g. 30 February) now, not at run time.
            let probe = Utc::now().with_timezone(&chrono_tz::UTC);
            cron.find_next_occurrence(&probe, false).map_err(|_| {
                trigger_error(ErrorCode::CronNeverFires, format!("cron: {expr:?} never fires")).param("value", expr)
            })?;
            Ok(cron)
        }
        Err(error) => {
            tracing::debug!(expr, error = %error, "cron expression refused");
            Err(describe_cron_error(expr))
        }
    }
}

/// Finds which field is at fault by parsing each alone among wildcards.
fn describe_cron_error(expr: &str) -> TriggerError {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let names: &[(&str, &str)] = match fields.len() {
        5 => &FIVE_FIELDS,
        6 => &SIX_FIELDS,
        _ if expr.starts_with('@') => {
            return trigger_error(
                ErrorCode::CronMacroUnknown,
                format!("cron: unknown macro {expr:?} (use @yearly, @monthly, @weekly, @daily or @hourly)"),
            )
            .param("value", expr)
            .param("example", "@daily");
        }
        n => {
            return trigger_error(
                ErrorCode::CronFieldCount,
                format!(
                    "cron: expected 5 fields (minute hour day-of-month month day-of-week) or 6 (with seconds \
                     first), got {n}; e.g. {CRON_EXAMPLE}"
                ),
            )
            .param("count", n)
            .param("example", CRON_EXAMPLE);
        }
    };
    let at_fault = fields.iter().enumerate().find(|(index, _)| {
        let probe: Vec<&str> = (0..fields.len()).map(|i| if i == *index { fields[i] } else { "*" }).collect();
        cron_parser().parse(&probe.join(" ")).is_err()
    });
    // When every field passes alone, the combination is at fault: name the whole expression.
    let (index, value) = match at_fault {
        Some((index, value)) => (index, *value),
        None => {
            return trigger_error(
                ErrorCode::CronUnreadable,
                format!("cron: {expr:?} is not a valid expression; e.g. {CRON_EXAMPLE}"),
            )
            .param("value", expr)
            .param("example", CRON_EXAMPLE);
        }
    };
    let (name, example) = names[index];
    let words = name.replace('_', " ");
    trigger_error(
        ErrorCode::CronInvalid,
        format!(
            "cron: field '{words}' (field {} of {}): {value:?} is not valid (allowed: {}); e.g. {example}",
            index + 1,
            fields.len(),
            allowed(name)
        ),
    )
    .param("field", name)
    .param("position", index + 1)
    .param("value", value)
    .param("example", example)
}

fn allowed(field: &str) -> &'static str {
    match field {
        "second" | "minute" => "0-59, * , - /",
        "hour" => "0-23, * , - /",
        "day_of_month" => "1-31, L, W, * , - /",
        "month" => "1-12 or JAN-DEC, * , - /",
        _ => "0-7 or SUN-SAT, L, #, * , - /",
    }
}

/// A zone name from the IANA database.
pub fn parse_timezone(name: &str) -> Result<Tz, TriggerError> {
    Tz::from_str(name.trim()).map_err(|_| {
        TriggerError {
            field: "timezone",
            ..trigger_error(
                ErrorCode::TimezoneUnknown,
                format!("unknown time zone {name:?} (use an IANA name such as Asia/Shanghai)"),
            )
        }
        .param("value", name)
        .param("example", "Asia/Shanghai")
    })
}
