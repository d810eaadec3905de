//! `opsdeckd schedule preview`: the next fire times of a trigger, from the scheduler's own code.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{ArgGroup, Args};
use opsdeck_api::jobs::TriggerSpec;
use opsdeck_core::{Config, ConfigSource, schedule_preview};

#[derive(Args)]
#[command(group(ArgGroup::new("trigger").required(true).args(["cron", "interval", "date"])))]
pub struct PreviewArgs {
    /// A cron expression: 5 fields, or 6 with seconds first (quote it).
    #[arg(long, value_name = "EXPR")]
    cron: Option<String>,
    /// An interval: seconds, or a number with s, m, h or d (90, 90s, 5m, 2h, 1d).
    #[arg(long, value_name = "EVERY")]
    interval: Option<String>,
    /// A one-shot local date and time: "2026-12-05 08:00" or 2026-12-05T08:00:00.
    #[arg(long, value_name = "DATETIME")]
    date: Option<String>,
    /// The time zone (IANA name); default: the configured zone (Asia/Shanghai).
    #[arg(long, value_name = "ZONE")]
    tz: Option<String>,
    /// Start after this instant (ISO-8601 with offset, e.g. 2026-03-08T00:00:00-05:00); default: now.
    #[arg(long, value_name = "ISO-8601")]
    from: Option<String>,
    /// How many fire times to print.
    #[arg(long, default_value_t = 5, value_name = "N")]
    count: usize,
}

fn parse_interval(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&text[..i], &text[i..]),
        None => (text, "s"),
    };
    let n: i64 =
        number.trim().parse().map_err(|_| format!("interval: {text:?} is not a number of seconds (or 5m, 2h, 1d)"))?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        other => {
            return Err(format!("interval: unknown unit {other:?} (use s, m, h or d)"));
        }
    };
    n.checked_mul(factor).ok_or_else(|| format!("interval: {text:?} is too large"))
}

pub fn run(args: &PreviewArgs, config: Option<PathBuf>) -> ExitCode {
    match preview_lines(args, config) {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("opsdeckd: {message}");
            ExitCode::from(2)
        }
    }
}

fn preview_lines(args: &PreviewArgs, config: Option<PathBuf>) -> Result<Vec<String>, String> {
    let spec = if let Some(expr) = &args.cron {
        TriggerSpec::Cron { expr: expr.clone() }
    } else if let Some(every) = &args.interval {
        TriggerSpec::Interval { every_seconds: parse_interval(every)?, start: None, end: None }
    } else {
        TriggerSpec::Date { at: args.date.clone().unwrap_or_default() }
    };
    let timezone = match &args.tz {
        Some(tz) => tz.clone(),
        None => Config::load(&ConfigSource { file: config }).map_err(|e| e.to_string())?.timezone.name().to_string(),
    };
    let from = match &args.from {
        Some(text) => DateTime::parse_from_rfc3339(text.trim())
            .map_err(|e| format!("--from: {text:?} is not ISO-8601 with an offset ({e})"))?
            .with_timezone(&Utc),
        None => Utc::now(),
    };
    if args.count == 0 || args.count > 10_000 {
        return Err("--count must be between 1 and 10000".into());
    }
    let fires = schedule_preview(&spec, &timezone, from, args.count).map_err(|e| e.to_string())?;
    Ok(fires.into_iter().map(|fire| fire.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)).collect())
}
