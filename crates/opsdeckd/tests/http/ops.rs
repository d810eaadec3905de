//! `/healthz`, `/metrics` and the OpenAPI document (`/openapi.json`, `/openapi.yaml`).

use std::collections::BTreeMap;
use std::time::Duration;

use opsdeck_api::health::ComponentStatus;
use opsdeck_api::jobs::{JobDraft, JobPolicy, TriggerSpec};
use opsdeck_api::{Access, ErrorCode, Operation};
use opsdeck_core::Actor;
use opsdeckd::http::ROUTES;
use reqwest::Method;
use serde_json::{Value, json};

use crate::{World, expect_error, json, unique, until};

#[tokio::test]
async fn healthz_is_200_when_the_database_and_redis_are_up() {
    let world = World::start().await;
    let core = world.core.clone();
    tokio::time::timeout(std::time::Duration::from_secs(15), core.wait_for_health(|r| r.all_ok())).await.unwrap();
    let (status, open) = json(world.http.get(world.url("/healthz")).send().await.unwrap()).await;
    assert_eq!(status, 200, "{open}");
    assert_eq!(open, json!({ "status": "up", "database": "up", "redis": "up" }), "only up/down without a token");
    let (status, body) = json(world.authed(Method::GET, "/healthz").send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["database"]["status"], "ok");
    assert_eq!(body["redis"]["status"], "ok");
    assert!(chrono::DateTime::parse_from_rfc3339(body["checked_at"].as_str().unwrap()).is_ok());
    world.stop().await;
}

#[tokio::test]
async fn healthz_is_503_when_redis_is_down_and_says_why() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let world = World::start_with(&[("redis_url", crate::toml_string(&format!("redis://127.0.0.1:{closed}/0")))]).await;
    let core = world.core.clone();
    let wait = core.wait_for_health(|r| r.redis.status == ComponentStatus::Unreachable && r.database.is_ok());
    tokio::time::timeout(std::time::Duration::from_secs(15), wait).await.unwrap();
    let (status, body) = json(world.authed(Method::GET, "/healthz").send().await.unwrap()).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["redis"]["status"], "unreachable");
    assert!(body["redis"]["reason"].as_str().is_some_and(|r| !r.is_empty()), "{body}");
    assert_eq!(body["database"]["status"], "ok");
    // The metrics need Redis too: a JSON error, not half the figures.
    expect_error(world.authed(Method::GET, "/metrics").send().await.unwrap(), 503, "redis_unavailable").await;
    world.stop().await;
}

/// The samples of an exposition: `name{labels}` → value.
async fn scrape(world: &World) -> BTreeMap<String, f64> {
    let response = world.authed(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers().get("content-type").unwrap().to_str().unwrap().to_string();
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let text = response.text().await.unwrap();
    let mut samples = BTreeMap::new();
    let mut typed = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            typed.push(rest.split(' ').next().unwrap().to_string());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("a sample line: {line:?}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("a number: {line:?}"));
        let name = series.split('{').next().unwrap();
        assert!(typed.iter().any(|t| t == name), "{name} has a # TYPE line before its samples");
        assert!(samples.insert(series.to_string(), value).is_none(), "one sample per series: {line}");
    }
    samples
}

fn get(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples.get(series).unwrap_or_else(|| panic!("no {series} in {samples:#?}"))
}

fn ocr_total(samples: &BTreeMap<String, f64>) -> f64 {
    ["pending", "in_flight", "done", "dead"]
        .iter()
        .map(|s| get(samples, &format!("opsdeck_ocr_requests{{state=\"{s}\"}}")))
        .sum()
}

#[tokio::test]
async fn metrics_follow_what_happens() {
    // Every scrape reads the figures afresh (no cache window).
    let world =
        World::start_with_api(&[("order_expiry_seconds", "1".into())], |api| api.metrics_max_age = Duration::ZERO)
            .await;
    let before = scrape(&world).await;
    assert_eq!(ocr_total(&before), 0.0);
    assert_eq!(get(&before, "opsdeck_ocr_cap_calls_per_second"), 100.0, "ocr_qps");
    assert_eq!(get(&before, "opsdeck_ocr_calls_per_second"), 0.0);
    assert_eq!(get(&before, "opsdeck_ocr_paused"), 0.0);
    for outcome in ["running", "ok", "failed", "timed_out", "missed", "skipped_overlap", "stopped"] {
        assert_eq!(get(&before, &format!("opsdeck_job_runs{{outcome=\"{outcome}\"}}")), 0.0);
    }
    for name in [
        "opsdeck_orders_pending",
        "opsdeck_orders_cancelled_total",
        "opsdeck_orders_paid_late_total",
        "opsdeck_payment_conflicts_total",
    ] {
        assert_eq!(get(&before, name), 0.0, "{name}");
    }

    // OCR: one image, recognised.
    let image = format!("https://img.example.com/{}.jpg", unique("metrics"));
    let submitted = world.authed(Method::POST, "/api/ocr").json(&json!({ "url": image, "side": "back" })).send();
    assert_eq!(submitted.await.unwrap().status().as_u16(), 202);
    assert_eq!(ocr_total(&scrape(&world).await), 1.0);
    let done = until("the image is recognised", || async {
        let samples = scrape(&world).await;
        (get(&samples, "opsdeck_ocr_requests{state=\"done\"}") == 1.0).then_some(samples)
    })
    .await;
    assert_eq!(ocr_total(&done), 1.0);
    // The rate covers the last 60 whole seconds: the call counts once its second is over.
    let rate = until("the call shows in the achieved rate", || async {
        let rate = get(&scrape(&world).await, "opsdeck_ocr_calls_per_second");
        (rate > 0.0).then_some(rate)
    })
    .await;
    assert!((rate - 1.0 / 60.0).abs() < 1e-9, "one call over 60 s: {rate}");

    // A job run.
    let job = JobDraft {
        name: unique("metrics-job"),
        kind: "noop".into(),
        trigger: TriggerSpec::Interval { every_seconds: 86_400, start: None, end: None },
        timezone: "Asia/Shanghai".into(),
        args: json!({}),
        policy: JobPolicy::default(),
    };
    let job = world.core.job_create(job, &Actor::system("tester")).await.unwrap();
    world.core.job_run_now(job.id, &Actor::system("tester")).await.unwrap();
    until("the run is recorded", || async {
        (get(&scrape(&world).await, "opsdeck_job_runs{outcome=\"ok\"}") == 1.0).then_some(())
    })
    .await;

    // Orders: paid late (found by the sweep), cancelled (by the sweep), then paid after all (a
    // conflict), and one still pending.
    let mut orders = Vec::new();
    for _ in 0..3 {
        let placed = world
            .authed(Method::POST, "/api/orders")
            .json(&json!({ "user_id": 5, "kind": "top_up", "amount_fen": 1250 }));
        let (status, order) = json(placed.send().await.unwrap()).await;
        assert_eq!(status, 201, "{order}");
        orders.push(order["order_no"].as_str().unwrap().to_string());
    }
    assert_eq!(get(&scrape(&world).await, "opsdeck_orders_pending"), 3.0);
    world.alipay.pay(&orders[0], "12.50");
    until("both orders are swept", || async {
        world.core.orders_sweep(None).await.unwrap();
        (get(&scrape(&world).await, "opsdeck_orders_pending") == 0.0).then_some(())
    })
    .await;
    let form = world.alipay.signed_notify(&orders[1], "12.50", "TRADE_SUCCESS");
    let answer = world.http.post(world.url("/api/payments/alipay/notify")).form(&form).send().await.unwrap();
    assert_eq!(answer.text().await.unwrap(), "success");
    let placed =
        world.authed(Method::POST, "/api/orders").json(&json!({ "user_id": 5, "kind": "top_up", "amount_fen": 1 }));
    assert_eq!(placed.send().await.unwrap().status().as_u16(), 201);

    let after = scrape(&world).await;
    assert_eq!(get(&after, "opsdeck_orders_paid_late_total"), 1.0);
    assert_eq!(get(&after, "opsdeck_orders_cancelled_total"), 2.0);
    assert_eq!(get(&after, "opsdeck_payment_conflicts_total"), 1.0);
    assert_eq!(get(&after, "opsdeck_orders_pending"), 1.0);
    world.stop().await;
}

/// Every `$ref` in `value` points at something in `spec`.
fn check_refs(spec: &Value, value: &Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                let pointer = target.strip_prefix('#').unwrap_or_else(|| panic!("a local $ref: {target}"));
                assert!(spec.pointer(pointer).is_some(), "{target} resolves");
            }
            map.values().for_each(|v| check_refs(spec, v));
        }
        Value::Array(items) => items.iter().for_each(|v| check_refs(spec, v)),
        _ => {}
    }
}

/// The document `/openapi.json` serves (checked to be the one `/openapi.yaml` serves).
async fn served_document(world: &World) -> Value {
    let response = world.http.get(world.url("/openapi.json")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers().get("content-type").unwrap(), "application/json");
    let spec: Value = serde_json::from_str(&response.text().await.unwrap()).expect("the document is JSON");
    let response = world.http.get(world.url("/openapi.yaml")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers().get("content-type").unwrap(), "application/yaml");
    let yaml: Value = serde_norway::from_str(&response.text().await.unwrap()).expect("the YAML form is YAML");
    assert_eq!(yaml, spec, "/openapi.yaml is /openapi.json in YAML");
    spec
}

#[tokio::test]
async fn the_generated_document_is_served_and_lists_exactly_the_routes_served() {
    let world = World::start().await;
    let spec = served_document(&world).await;
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(spec["info"]["version"], env!("CARGO_PKG_VERSION"));
    check_refs(&spec, &spec);
    assert_eq!(
        spec["components"]["securitySchemes"]["bearerAuth"],
        json!({ "type": "http", "scheme": "bearer", "description": "The daemon's `api_token`." })
    );

    assert_eq!(spec["components"]["securitySchemes"]["sessionAuth"]["scheme"], "bearer");

    // Every route served: the intake's (ROUTES: API token or open) and the console's (one per
    // operation, a staff session unless open).
    #[derive(Clone, Copy, PartialEq, Debug)]
    enum Guard {
        Open,
        ApiToken,
        Session,
    }
    let mut served: Vec<(String, String, Guard)> = ROUTES
        .iter()
        .map(|(m, p, token)| (m.to_string(), p.to_string(), if *token { Guard::ApiToken } else { Guard::Open }))
        .collect();
    for &op in Operation::ALL {
        let (method, path) = op.http();
        let guard = if op.access() == Access::Open { Guard::Open } else { Guard::Session };
        served.push((method.as_str().to_string(), path.to_string(), guard));
    }

    let mut documented = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            documented.push((method.to_uppercase(), path.clone()));
            let route = served.iter().find(|(m, p, _)| m.eq_ignore_ascii_case(method) && p == path);
            let (_, _, guard) = route.unwrap_or_else(|| panic!("{method} {path} is documented but not served"));
            match guard {
                Guard::Open => assert!(operation.get("security").is_none(), "{method} {path} is open"),
                Guard::ApiToken => assert_eq!(operation["security"], json!([{ "bearerAuth": [] }]), "{method} {path}"),
                Guard::Session => assert_eq!(operation["security"], json!([{ "sessionAuth": [] }]), "{method} {path}"),
            }
            let responses = operation["responses"].as_object().unwrap();
            // The desktop sign-in's browser steps succeed with a redirect.
            let success = ["200", "201", "303"].iter().any(|status| responses.contains_key(*status));
            assert!(success, "{method} {path}: a success");
            if *guard == Guard::Open {
                assert!(
                    responses.contains_key("429") || path == "/metrics",
                    "{method} {path}: an open route documents its per-address limit"
                );
            } else {
                assert!(responses.contains_key("401"), "{method} {path}: 401 documented");
            }
            if *guard == Guard::Session {
                assert!(responses.contains_key("403"), "{method} {path}: 403 documented");
            }
            // Every error answer is an ErrorBody.
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let response = match response.get("$ref").and_then(Value::as_str) {
                        Some(target) => spec.pointer(target.strip_prefix('#').unwrap()).unwrap(),
                        None => response,
                    };
                    let schema = &response["content"]["application/json"]["schema"];
                    let is_error = *schema == json!({ "$ref": "#/components/schemas/ErrorBody" });
                    let health = path == "/healthz" && status == "503";
                    assert!(is_error || health, "{method} {path} {status}: {response}");
                }
            }
        }
    }
    for (method, path, guard) in &served {
        assert!(
            documented.contains(&(method.to_string(), path.to_string())),
            "{method} {path} is served but not documented"
        );
        // Served indeed: neither the unknown-route fallback nor a wrong method.
        let concrete = path.replace("{provider}", "weibo").replace("{id}", "1").replace("{order_no}", "O1");
        let response = world.authed(method.parse().unwrap(), &concrete).send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert!(
            status != 405 && !(status == 404 && text.contains("no such route")),
            "{method} {path}: {status} {text}"
        );
        // The API token is no staff session.
        if *guard == Guard::Session {
            assert_eq!(status, 401, "{method} {path} with the API token: {text}");
        }
    }
    assert_eq!(documented.len(), served.len());
    world.stop().await;
}

#[tokio::test]
async fn error_code_is_a_string_enum_of_every_code_and_error_body_names_it() {
    let world = World::start().await;
    let spec = served_document(&world).await;
    let schemas = &spec["components"]["schemas"];
    let code = &schemas["ErrorCode"];
    assert_eq!(code["type"], "string", "{code}");
    let values: Vec<&str> = code["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let all: Vec<&str> = ErrorCode::all().map(ErrorCode::as_str).collect();
    assert_eq!(values, all, "ErrorCode's values in the document");
    let body = &schemas["ErrorBody"];
    assert_eq!(body["properties"]["code"], json!({ "$ref": "#/components/schemas/ErrorCode" }), "{body}");
    let required: Vec<&str> = body["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(required, ["code", "message"]);
    // Each code's status, as the daemon answers it, is in the description.
    let description = spec["info"]["description"].as_str().unwrap();
    for code in ErrorCode::all() {
        let named = format!("`{}` ({})", code.as_str(), code.http_status());
        assert!(description.contains(&named), "{named} is not in the description");
    }
    world.stop().await;
}

#[test]
fn opsdeckd_openapi_prints_the_served_document() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_opsdeckd")).arg("openapi").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let served: Value = serde_json::from_str(opsdeckd::http::openapi::json()).unwrap();
    assert_eq!(printed, served);
    assert!(printed["paths"]["/openapi.json"]["get"].is_object());
}
