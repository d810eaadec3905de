//! The shell's commands in remote mode go to the server, which judges the session and the role.

use opsdeck_api::accounts::Role;
use serde_json::{Value, json};

use crate::{Daemon, app, invoke, invoke_with, remote_shell, unique, write_server_session};

fn job_draft() -> Value {
    json!({
        "draft": {
            "name": unique("desk job"),
            "kind": "noop",
            "trigger": { "type": "interval", "every_seconds": 60 },
            "timezone": "Asia/Shanghai",
            "args": {},
        }
    })
}

#[test]
fn the_commands_work_through_the_server_with_its_roles() {
    let daemon = Daemon::start();
    let (viewer_dir, operator_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (viewer_id, viewer) = daemon.staff_token(&unique("viewer"), Role::Viewer);
    let (_, operator) = daemon.staff_token(&unique("operator"), Role::Operator);
    write_server_session(viewer_dir.path(), &daemon.url, &viewer);
    write_server_session(operator_dir.path(), &daemon.url, &operator);

    let (_app, window) = app(remote_shell(&daemon.url, viewer_dir.path()));
    let status = invoke(&window, "connection_status").unwrap();
    assert_eq!((&status["mode"], &status["server_url"]), (&json!("remote"), &json!(daemon.url)), "{status}");
    assert_eq!(status["fixed_by_config"], false, "{status}");
    assert!(invoke(&window, "health_report").unwrap()["database"].is_object(), "the server's health");
    let staff = invoke(&window, "auth_session").unwrap();
    assert_eq!((&staff["user_id"], &staff["role"]), (&json!(viewer_id), &json!("viewer")), "{staff}");
    assert!(invoke(&window, "app_info").unwrap()["version"].is_string());
    assert!(invoke(&window, "overview").unwrap().is_object());
    let jobs = invoke(&window, "jobs_list").unwrap().as_array().expect("the jobs").len();
    // A viewer is refused a change by the server, and nothing changes.
    let refused = invoke_with(&window, "job_create", job_draft()).unwrap_err();
    assert_eq!(refused["code"], "forbidden", "{refused}");
    assert_eq!(invoke(&window, "jobs_list").unwrap().as_array().unwrap().len(), jobs);
    assert_eq!(invoke(&window, "sessions_list").unwrap_err()["code"], "forbidden", "admins only");

    let (_app, window) = app(remote_shell(&daemon.url, operator_dir.path()));
    let created = invoke_with(&window, "job_create", job_draft()).expect("an operator creates a job");
    assert_eq!(created["kind"], "noop", "{created}");
    assert_eq!(invoke(&window, "jobs_list").unwrap().as_array().unwrap().len(), jobs + 1);
    // The server's own refusal of bad input comes through as it is.
    let bad = invoke_with(&window, "job_delete", json!({ "id": 999_999_999 })).unwrap_err();
    assert_eq!(bad["code"], "job_not_found", "{bad}");
    daemon.stop();
}
