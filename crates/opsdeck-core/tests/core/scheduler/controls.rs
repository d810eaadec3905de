//! Staff controls: pause and resume, run now (audited), input refused with nothing saved, and
//! the default jobs provided once with staff edits surviving a restart.

use chrono::Utc;
use opsdeck_api::jobs::JobPolicy;
use opsdeck_core::scheduler::{RunOutcome, TriggerSpec};
use opsdeck_core::{Actor, Core};
use serde_json::json;

use crate::helpers::{redis_url, sqlite_config};

use super::{cron, draft, every, finished_runs, runs_of, started, wait_for_job, who};

#[tokio::test]
async fn pause_stops_runs_and_resume_restarts_them() {
    let (_dir, core, mut events) = started().await;
    let job = core.job_create(draft("pausable", every(1), json!({}), JobPolicy::default()), &who()).await.unwrap();
    let sentinel = core.job_create(draft("sentinel", every(1), json!({}), JobPolicy::default()), &who()).await.unwrap();
    finished_runs(&mut events, 1, |r| r.job_id == job.id).await;

    let paused = core.job_set_paused(job.id, true, &who()).await.unwrap();
    assert!(paused.paused);
    assert!(paused.next_fires.is_empty(), "a paused job shows no upcoming fires");
    let paused_at = Utc::now();
    // Three more sentinel runs prove time went on while the job stayed silent.
    finished_runs(&mut events, 3, |r| r.job_id == sentinel.id && r.scheduled_at > paused_at).await;
    let during = runs_of(&core, job.id).await;
    assert!(
        during.iter().all(|r| r.scheduled_at <= paused_at + chrono::Duration::milliseconds(100)),
        "no run of the paused job after the pause: {during:?}"
    );
    let again = core.job_set_paused(job.id, true, &who()).await.unwrap();
    assert!(again.paused, "pausing twice is harmless");

    core.job_set_paused(job.id, false, &who()).await.unwrap();
    let resumed_at = Utc::now();
    let after = finished_runs(&mut events, 1, |r| r.job_id == job.id).await;
    assert!(after[0].scheduled_at >= resumed_at - chrono::Duration::seconds(1), "the paused period is not replayed");
    let actions: Vec<String> = core
        .audit_list(20, None, &Actor::system("tester"))
        .await
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions.iter().filter(|a| *a == "job.pause").count(), 1, "a repeated pause is not audited twice");
    assert!(actions.contains(&"job.resume".to_string()));
    core.shutdown().await;
}

#[tokio::test]
async fn run_now_starts_a_manual_run_and_is_audited() {
    let (_dir, core, mut events) = started().await;
    let job =
        core.job_create(draft("nightly", cron("0 3 * * *"), json!({}), JobPolicy::default()), &who()).await.unwrap();
    core.job_run_now(job.id, &who()).await.unwrap();
    let run = finished_runs(&mut events, 1, |r| r.job_id == job.id).await.remove(0);
    assert!(run.manual);
    assert_eq!(run.outcome, RunOutcome::Ok);
    let audit = core.audit_list(5, None, &Actor::system("tester")).await.unwrap();
    assert_eq!(audit.entries[0].action, "job.run_now");
    core.shutdown().await;
}

#[tokio::test]
async fn bad_input_is_refused_and_nothing_is_saved() {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::start(sqlite_config(dir.path(), &redis_url())).await.unwrap();
    let refuse = |e: opsdeck_core::ApiError| -> (String, String) {
        let body: opsdeck_api::ErrorBody = e.into();
        assert_eq!(body.code.http_status(), 400, "{body:?}");
        (body.field.unwrap_or_default(), body.message)
    };
    let bad_cron = refuse(
        core.job_create(draft("x", cron("0 25 * * *"), json!({}), JobPolicy::default()), &who()).await.unwrap_err(),
    );
    assert_eq!(bad_cron.0, "trigger");
    assert!(bad_cron.1.contains("hour"));
    let past = refuse(
        core.job_create(
            draft("x", TriggerSpec::Date { at: "2023-12-05 08:00".into() }, json!({}), JobPolicy::default()),
            &who(),
        )
        .await
        .unwrap_err(),
    );
    assert!(past.1.contains("in the past"), "{}", past.1);
    let zero =
        refuse(core.job_create(draft("x", every(0), json!({}), JobPolicy::default()), &who()).await.unwrap_err());
    assert_eq!(zero.0, "trigger");
    let mut zone = draft("x", every(5), json!({}), JobPolicy::default());
    zone.timezone = "Nowhere/Land".into();
    assert_eq!(refuse(core.job_create(zone, &who()).await.unwrap_err()).0, "timezone");
    let args = refuse(
        core.job_create(draft("x", every(5), json!({ "sleep_ms": "soon" }), JobPolicy::default()), &who())
            .await
            .unwrap_err(),
    );
    assert_eq!(args.0, "args");
    let mut kind = draft("x", every(5), json!({}), JobPolicy::default());
    kind.kind = "rm_rf".into();
    assert_eq!(refuse(core.job_create(kind, &who()).await.unwrap_err()).0, "kind");
    assert!(core.jobs_list(&Actor::system("tester")).await.unwrap().iter().all(|j| j.name != "x"), "nothing was saved");
    assert!(
        core.audit_list(10, None, &Actor::system("tester")).await.unwrap().entries.is_empty(),
        "nothing was audited"
    );

    let job = core.job_create(draft("editable", every(60), json!({}), JobPolicy::default()), &who()).await.unwrap();
    let edit = opsdeck_api::jobs::JobEdit {
        trigger: cron("0 8 * * FUNDAY"),
        timezone: "Europe/London".into(),
        policy: JobPolicy::default(),
        args: json!({}),
    };
    assert_eq!(refuse(core.job_update(job.id, edit, &who()).await.unwrap_err()).0, "trigger");
    let unchanged = core.job_get(job.id).await.unwrap();
    assert_eq!(unchanged.timezone, "Asia/Shanghai", "a refused edit changes nothing");
    assert_eq!(unchanged.trigger, every(60));
    let dup = refuse(
        core.job_create(draft("editable", every(5), json!({}), JobPolicy::default()), &who()).await.unwrap_err(),
    );
    assert_eq!(dup.0, "name");
    core.shutdown().await;
}

#[tokio::test]
async fn default_jobs_are_provided_once_and_staff_edits_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = sqlite_config(dir.path(), &redis_url());
    let core = Core::start(config.clone()).await.unwrap();
    let prune = wait_for_job(&core, "prune-run-history").await;
    assert_eq!(prune.kind, "prune_history");
    let delete = core.job_delete(prune.id, &who()).await.unwrap_err();
    assert_eq!(delete.code(), "job_built_in", "a default job cannot be deleted");
    let edit = opsdeck_api::jobs::JobEdit {
        trigger: cron("5 4 * * *"),
        timezone: "Europe/London".into(),
        policy: prune.policy.clone(),
        args: json!({}),
    };
    core.job_update(prune.id, edit, &who()).await.unwrap();
    core.job_set_paused(prune.id, true, &who()).await.unwrap();
    core.shutdown().await;

    let restarted = Core::start(config).await.unwrap();
    let after = wait_for_job(&restarted, "prune-run-history").await;
    assert_eq!(after.trigger, cron("5 4 * * *"));
    assert_eq!(after.timezone, "Europe/London");
    assert!(after.paused, "the pause survived the restart");
    assert_eq!(
        restarted
            .jobs_list(&Actor::system("tester"))
            .await
            .unwrap()
            .iter()
            .filter(|j| j.name == "prune-run-history")
            .count(),
        1
    );
    restarted.shutdown().await;
}
