//! Task kinds, registered in code. A job names a kind and gives it JSON args; the kind checks
//! the args when the job is saved and runs them when the job fires.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::Core;
use crate::error::{ApiError, ErrorBody, ErrorCode};

pub use opsdeck_api::ErrorReason;
pub use opsdeck_api::jobs::TaskKindInfo;

/// What a run produced: a summary for the history, or why it failed (a code and its params,
/// which the console renders in the viewer's language).
pub type TaskResult = Result<Value, ErrorReason>;

/// A facade error as a run's failure (its code and params; an internal cause goes to the log).
pub fn failure(error: ApiError) -> ErrorReason {
    ErrorReason::from(&ErrorBody::from(error))
}
pub type TaskFuture = Pin<Box<dyn Future<Output = TaskResult> + Send>>;
type RunFn = dyn Fn(TaskContext, Value) -> TaskFuture + Send + Sync;

/// What a running task may use.
#[derive(Clone)]
pub struct TaskContext {
    pub core: Core,
    pub job_name: String,
    /// The run's unique key in `job_runs` (`s:<job>:<ms>` or `m:<job>:<ms>:<nonce>`): what
    /// records made by the task link to.
    pub run_key: String,
    pub scheduled_at: DateTime<Utc>,
    /// Cancelled when staff stop the run: a task that can end early should listen and return
    /// (what it returns is kept in the summary). One that does not is abandoned after
    /// `job_stop_grace_seconds`, its future dropped at its next await.
    pub stop: tokio_util::sync::CancellationToken,
}

/// A registered kind of task. Its future must not block the thread (CPU-heavy work belongs in
/// `spawn_blocking`). A panic fails the run and nothing else.
#[derive(Clone)]
pub struct TaskKind {
    pub name: &'static str,
    pub description: &'static str,
    pub args_example: Value,
    validate: fn(&Value) -> Result<(), ApiError>,
    run: Arc<RunFn>,
}

impl TaskKind {
    pub fn new(
        name: &'static str,
        description: &'static str,
        args_example: Value,
        validate: fn(&Value) -> Result<(), ApiError>,
        run: impl Fn(TaskContext, Value) -> TaskFuture + Send + Sync + 'static,
    ) -> TaskKind {
        TaskKind { name, description, args_example, validate, run: Arc::new(run) }
    }

    pub fn validate(&self, args: &Value) -> Result<(), ApiError> {
        (self.validate)(args)
    }

    pub fn run(&self, ctx: TaskContext, args: Value) -> TaskFuture {
        (self.run)(ctx, args)
    }

    pub fn info(&self) -> TaskKindInfo {
        TaskKindInfo {
            name: self.name.to_string(),
            description: self.description.to_string(),
            args_example: self.args_example.clone(),
        }
    }
}

/// The kinds this build knows, by name.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: BTreeMap<&'static str, TaskKind>,
}

impl Registry {
    /// The kinds every OpsDeck has.
    pub fn builtin() -> Registry {
        let mut registry = Registry::default();
        registry.register(noop());
        registry.register(sleep());
        registry.register(log());
        registry.register(http_get());
        registry.register(prune_history());
        registry.register(ocr_reconcile());
        registry.register(order_expiry_sweep());
        registry.register(orders_reconcile());
        registry
    }

    pub fn register(&mut self, kind: TaskKind) {
        self.kinds.insert(kind.name, kind);
    }

    pub fn get(&self, name: &str) -> Option<&TaskKind> {
        self.kinds.get(name)
    }

    pub fn infos(&self) -> Vec<TaskKindInfo> {
        self.kinds.values().map(TaskKind::info).collect()
    }
}

fn object(args: &Value) -> Result<&serde_json::Map<String, Value>, ApiError> {
    match args {
        Value::Object(map) => Ok(map),
        Value::Null => {
            Err(ApiError::coded(ErrorCode::ArgsNotObject, "args must be a JSON object (use {})").param("example", "{}"))
        }
        _ => Err(ApiError::coded(ErrorCode::ArgsNotObject, "args must be a JSON object").param("example", "{}")),
    }
}

fn only_keys(map: &serde_json::Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => {
            let allowed = if allowed.is_empty() { "—".to_string() } else { allowed.join(", ") };
            Err(ApiError::coded(ErrorCode::ArgUnknown, format!("unknown argument {key:?} (allowed: {allowed})"))
                .param("key", key)
                .param("allowed", allowed))
        }
        None => Ok(()),
    }
}

fn optional_u64(map: &serde_json::Map<String, Value>, key: &str, max: u64) -> Result<Option<u64>, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n <= max => Ok(Some(n)),
            _ => Err(ApiError::coded(ErrorCode::ArgNumber, format!("{key} must be a whole number from 0 to {max}"))
                .param("key", key)
                .param("min", 0)
                .param("max", max)),
        },
    }
}

/// `noop`: does nothing (optionally for `sleep_ms`, or failing or panicking on purpose): for
/// testing the scheduler itself. Its sleep does not listen for a stop (a task that ignores the
/// signal, abandoned after the grace).
fn noop() -> TaskKind {
    fn validate(args: &Value) -> Result<(), ApiError> {
        let map = object(args)?;
        only_keys(map, &["sleep_ms", "fail", "panic"])?;
        optional_u64(map, "sleep_ms", 3_600_000)?;
        for key in ["fail", "panic"] {
            if !matches!(map.get(key), None | Some(Value::Bool(_)) | Some(Value::Null)) {
                return Err(
                    ApiError::coded(ErrorCode::ArgBoolean, format!("{key} must be true or false")).param("key", key)
                );
            }
        }
        Ok(())
    }
    TaskKind::new(
        "noop",
        "Does nothing (optionally sleeps sleep_ms, fails when fail is true, panics when panic is true); \
         for testing the scheduler.",
        json!({}),
        validate,
        |_ctx, args| {
            Box::pin(async move {
                let sleep_ms = args.get("sleep_ms").and_then(Value::as_u64).unwrap_or(0);
                if sleep_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
                }
                if args.get("fail").and_then(Value::as_bool).unwrap_or(false) {
                    return Err(ErrorReason::new(ErrorCode::TaskFailedOnPurpose));
                }
                if args.get("panic").and_then(Value::as_bool).unwrap_or(false) {
                    panic!("panicked on purpose (panic: true)");
                }
                Ok(json!({ "slept_ms": sleep_ms }))
            })
        },
    )
}

/// `sleep`: waits `seconds`, ending early when the run is stopped (a long job to try stopping
/// with, in the console or a test).
fn sleep() -> TaskKind {
    fn validate(args: &Value) -> Result<(), ApiError> {
        let map = object(args)?;
        only_keys(map, &["seconds"])?;
        match optional_u64(map, "seconds", 86_400)? {
            Some(_) => Ok(()),
            None => Err(ApiError::coded(ErrorCode::ArgRequired, "seconds is required").param("key", "seconds")),
        }
    }
    TaskKind::new(
        "sleep",
        "Waits the given seconds, ending early (cooperatively) when the run is stopped.",
        json!({ "seconds": 30 }),
        validate,
        |ctx, args| {
            Box::pin(async move {
                let seconds = args.get("seconds").and_then(Value::as_u64).unwrap_or(0);
                let started = tokio::time::Instant::now();
                let stopped = tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(seconds)) => false,
                    _ = ctx.stop.cancelled() => true,
                };
                let slept_ms = started.elapsed().as_millis() as u64;
                Ok(json!({ "seconds": seconds, "slept_ms": slept_ms, "stopped_early": stopped }))
            })
        },
    )
}

/// `log`: writes a message to the log.
fn log() -> TaskKind {
    fn validate(args: &Value) -> Result<(), ApiError> {
        let map = object(args)?;
        only_keys(map, &["message"])?;
        match map.get("message") {
            Some(Value::String(m)) if !m.trim().is_empty() && m.len() <= 1000 => Ok(()),
            _ => Err(ApiError::coded(
                ErrorCode::ArgText,
                "message must be a non-empty string of at most 1000 characters",
            )
            .param("key", "message")
            .param("max", 1000)),
        }
    }
    TaskKind::new("log", "Writes a message to the log.", json!({ "message": "hello" }), validate, |ctx, args| {
        Box::pin(async move {
            let message = args.get("message").and_then(Value::as_str).unwrap_or_default().to_string();
            tracing::info!(job = %ctx.job_name, %message, "log task");
            Ok(json!({ "message": message }))
        })
    })
}

/// `http_get`: calls a URL and records the status; a non-2xx answer fails the run.
fn http_get() -> TaskKind {
    fn validate(args: &Value) -> Result<(), ApiError> {
        let map = object(args)?;
        only_keys(map, &["url", "timeout_seconds"])?;
        let url = map
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::coded(ErrorCode::ArgRequired, "url is required").param("key", "url"))?;
        let not_http = |message: String| ApiError::coded(ErrorCode::ArgUrl, message).param("key", "url");
        let parsed = url::Url::parse(url).map_err(|e| not_http(format!("url is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(not_http("url must be http:// or https://".into()));
        }
        optional_u64(map, "timeout_seconds", 600)?;
        Ok(())
    }
    TaskKind::new(
        "http_get",
        "Calls a URL with GET; the run fails unless the answer is 2xx.",
        json!({ "url": "https://example.com/health", "timeout_seconds": 10 }),
        validate,
        |ctx, args| {
            Box::pin(async move {
                let url = args.get("url").and_then(Value::as_str).unwrap_or_default().to_string();
                let timeout = args.get("timeout_seconds").and_then(Value::as_u64).unwrap_or(10);
                let started = std::time::Instant::now();
                let response = ctx
                    .core
                    .http()
                    .get(&url)
                    // The run's key, so that the receiver can tell a repeat from a new run.
                    .header("x-opsdeck-run", ctx.run_key.as_str())
                    .timeout(Duration::from_secs(timeout))
                    .send()
                    .await
                    .map_err(|e| {
                        tracing::info!(%url, error = crate::health::describe_error(&e), "http_get failed");
                        ErrorReason::new(ErrorCode::HttpGetFailed).param("url", &url)
                    })?;
                let status = response.status();
                let bytes = response.bytes().await.map(|b| b.len()).unwrap_or(0);
                let summary = json!({
                    "url": url,
                    "status": status.as_u16(),
                    "bytes": bytes,
                    "elapsed_ms": started.elapsed().as_millis() as u64,
                });
                if status.is_success() {
                    Ok(summary)
                } else {
                    Err(ErrorReason::new(ErrorCode::HttpGetStatus).param("url", &url).param("status", status.as_u16()))
                }
            })
        },
    )
}

/// `prune_history`: deletes runs older than the configured retention.
fn prune_history() -> TaskKind {
    fn validate(args: &Value) -> Result<(), ApiError> {
        only_keys(object(args)?, &[])
    }
    TaskKind::new(
        "prune_history",
        "Deletes job runs older than the run retention (run_retention_hours).",
        json!({}),
        validate,
        |ctx, _args| {
            Box::pin(async move {
                let retention = ctx.core.config().run_retention;
                let before = ctx.scheduled_at - chrono::Duration::from_std(retention).unwrap_or_default();
                let deleted = super::store::prune_runs(ctx.core.database().pool(), before)
                    .await
                    .map_err(|e| failure(e.into()))?;
                Ok(json!({ "deleted": deleted, "before": before }))
            })
        },
    )
}

/// `ocr_reconcile`: puts back into Redis what it lost (unfinished requests, kept results).
fn ocr_reconcile() -> TaskKind {
    fn validate(args: &Value) -> Result<(), ApiError> {
        only_keys(object(args)?, &[])
    }
    TaskKind::new(
        "ocr_reconcile",
        "Re-enqueues OCR requests that SQL says are unfinished but Redis has lost, and restores lost results.",
        json!({}),
        validate,
        |ctx, _args| {
            Box::pin(async move {
                let done = ctx.core.ocr_reconcile().await.map_err(failure)?;
                Ok(serde_json::to_value(done).unwrap_or_default())
            })
        },
    )
}

/// `order_expiry_sweep`: cancels orders unpaid past their deadline (after asking Alipay).
fn order_expiry_sweep() -> TaskKind {
    fn validate(args: &Value) -> Result<(), ApiError> {
        only_keys(object(args)?, &[])
    }
    TaskKind::new(
        "order_expiry_sweep",
        "Cancels orders unpaid past their deadline (asking Alipay first) and restores their stock.",
        json!({}),
        validate,
        |ctx, _args| {
            Box::pin(async move {
                let summary = ctx.core.orders_sweep(Some(&ctx.run_key)).await.map_err(failure)?;
                crate::orders::expiry::outcome(&summary)
            })
        },
    )
}

/// `orders_reconcile`: repairs the due index in Redis from SQL.
fn orders_reconcile() -> TaskKind {
    fn validate(args: &Value) -> Result<(), ApiError> {
        only_keys(object(args)?, &[])
    }
    TaskKind::new(
        "orders_reconcile",
        "Adds pending orders the due index lost and removes entries whose order is no longer pending.",
        json!({}),
        validate,
        |ctx, _args| {
            Box::pin(async move {
                let done = ctx.core.orders_reconcile().await.map_err(failure)?;
                Ok(serde_json::to_value(done).unwrap_or_default())
            })
        },
    )
}
