//! `opsdeckd staff …` from the outside. `grant-admin`: the first admin of a shared database,
//! named from the command line by the sign-in they used (or their user number); an identity
//! nobody signed in with is refused with a message saying what to do. `token`, `list`, `revoke`:
//! a staff member's session token opens the console through `Ops` with the role given, the list
//! shows them, revoking ends the session; refusals exit 1, usage errors 2; no token is logged.

use chrono::Utc;
use opsdeck_api::Ops;
use opsdeck_api::SessionToken;
use opsdeck_api::error::ErrorCode;
use opsdeck_api::jobs::{JobDraft, JobPolicy, TriggerSpec};
use opsdeck_core::accounts::model::{Gender, Identity, ProviderKey, Role};
use opsdeck_core::accounts::store;
use opsdeck_core::db::Database;
use opsdeck_core::{Config, ConfigSource, Core};

use crate::opsdeckd;

#[tokio::test]
async fn grant_admin_makes_the_signed_in_identity_admin_and_refuses_unknown_ones() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("opsdeck.toml");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("shared.db").display());
    std::fs::write(&file, format!("data_dir = {:?}\ndatabase_url = {url:?}\n", dir.path().display().to_string()))
        .unwrap();
    let grant = |args: &[&str]| {
        let mut cmd = opsdeckd(dir.path());
        cmd.arg("--config").arg(&file).args(["staff", "grant-admin"]).args(args);
        cmd.output().unwrap()
    };

    // Nobody has signed in yet: refused, saying what to do; the database is migrated by it.
    let out = grant(&["--provider", "weibo", "--uid", "5678001"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("nobody has signed in with Weibo") && !stderr.contains("5678001"), "{stderr}");

    // Someone signed in with Weibo (and got no role: a shared database).
    let config = Config::load(&ConfigSource { file: Some(file.clone()) }).unwrap();
    let db = Database::open(&config).unwrap();
    db.migrate().await.unwrap();
    let identity = Identity {
        provider: ProviderKey::Weibo,
        uid: "5678001".into(),
        unionid: None,
        nickname: Some("Ops Lead".into()),
        avatar: None,
        email: None,
        email_verified: false,
        mobile: None,
        gender: Gender::Unknown,
    };
    let mut conn = db.pool().acquire().await.unwrap();
    let user = store::insert_user(&db, &mut conn, &identity, Utc::now()).await.unwrap();
    store::insert_link(&db, &mut conn, user, &identity, Utc::now(), true).await.unwrap();
    assert_eq!(store::role_of(&mut conn, user).await.unwrap(), Some(None));

    let out = grant(&["--provider", "weibo", "--uid", "5678001"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), format!("user {user} is now admin"));
    assert_eq!(store::role_of(&mut conn, user).await.unwrap(), Some(Some(Role::Admin)));
    let out = grant(&["--user-id", &user.to_string()]);
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), format!("user {user} is already admin"));

    // Naming nobody, or two ways at once, is a usage error.
    assert_eq!(grant(&[]).status.code(), Some(2));
    assert_ne!(grant(&["--provider", "weibo", "--uid", "1", "--user-id", "1"]).status.code(), Some(0));
    drop(conn);
    db.pool().close().await;
}

/// A data dir with a configuration file on its own SQLite database and the test Redis (a fresh
/// prefix): the command line and an in-process core read the same file.
fn staff_config(dir: &std::path::Path) -> std::path::PathBuf {
    let redis = std::env::var("OPSDECK_TEST_REDIS_URL")
        .expect("OPSDECK_TEST_REDIS_URL is not set: run the README's test command (scripts/test.sh)");
    let file = dir.join("opsdeck.toml");
    let url = format!("sqlite://{}?mode=rwc", dir.join("staff.db").display());
    std::fs::write(
        &file,
        format!(
            "data_dir = {:?}\ndatabase_url = {url:?}\nredis_url = {redis:?}\nredis_prefix = \"staff-cli-{}\"\n",
            dir.display().to_string(),
            std::process::id()
        ),
    )
    .unwrap();
    file
}

/// What one `opsdeckd staff …` run printed.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// `opsdeckd --config FILE staff ARGS`, logging as much as it can (the token must not be in it).
fn staff(dir: &std::path::Path, file: &std::path::Path, args: &[&str]) -> Run {
    let out = opsdeckd(dir)
        .env("OPSDECK_LOG", "trace")
        .env("NO_COLOR", "1")
        .arg("--config")
        .arg(file)
        .arg("staff")
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// `staff token`: succeeds and prints the token as the last line, which stderr never shows.
fn issue(dir: &std::path::Path, file: &std::path::Path, name: &str, role: &str) -> (String, SessionToken) {
    let run = staff(dir, file, &["token", "--name", name, "--role", role]);
    assert_eq!(run.code, Some(0), "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    assert!(run.stdout.ends_with('\n'), "{:?}", run.stdout);
    let token = run.stdout.lines().last().unwrap().to_string();
    assert!(token.len() >= 40 && !token.contains(' '), "the last line is the token: {:?}", run.stdout);
    assert!(!run.stderr.contains(&token), "the token was logged: {}", run.stderr);
    (run.stdout, SessionToken::new(token))
}

fn viewer_job() -> JobDraft {
    JobDraft {
        name: "not-for-viewers".into(),
        kind: "noop".into(),
        trigger: TriggerSpec::Interval { every_seconds: 86_400, start: None, end: None },
        timezone: "Asia/Shanghai".into(),
        args: serde_json::json!({}),
        policy: JobPolicy::default(),
    }
}

#[tokio::test]
async fn staff_token_opens_the_console_with_the_role_list_shows_it_and_revoke_ends_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = staff_config(dir.path());

    // A viewer made from nothing: created, given the role, a token as the last line.
    let (stdout, viewer) = issue(dir.path(), &file, "night-shift", "viewer");
    assert!(stdout.contains("created staff member night-shift"), "{stdout}");
    assert!(stdout.contains("is now viewer"), "{stdout}");
    let (_, admin) = issue(dir.path(), &file, "ops-lead", "admin");

    let config = Config::load(&ConfigSource { file: Some(file.clone()) }).unwrap();
    let core = Core::start(config).await.unwrap();
    let staff_of = |token: &SessionToken| {
        let core = &core;
        let token = token.clone();
        async move { Ops::session_staff(core, &token).await }
    };
    let me = staff_of(&viewer).await.unwrap();
    assert_eq!((me.name.as_str(), me.role), ("night-shift", Role::Viewer));
    let refused = Ops::job_create(&core, &viewer, viewer_job()).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::Forbidden, "{refused:?}");
    assert!(Ops::jobs_list(&core, &admin).await.unwrap().iter().all(|j| j.name != "not-for-viewers"));
    let lead = staff_of(&admin).await.unwrap();
    assert_eq!((lead.name.as_str(), lead.role), ("ops-lead", Role::Admin));

    // Again for the same name: the same member, the new role, one more session.
    let (stdout, operator) = issue(dir.path(), &file, "night-shift", "operator");
    assert!(!stdout.contains("created") && stdout.contains("is now operator (was viewer)"), "{stdout}");
    assert_eq!(staff_of(&operator).await.unwrap().user_id, me.user_id);
    assert_eq!(staff_of(&viewer).await.unwrap().role, Role::Operator, "the role is read as it is now");

    // The list: one line per member, with the role and the live sessions.
    let list = staff(dir.path(), &file, &["list"]);
    assert_eq!(list.code, Some(0), "{}", list.stderr);
    let shift = line_of(&list.stdout, "night-shift");
    assert_eq!(&shift[..4], [me.user_id.to_string(), "night-shift".into(), "operator".into(), "2".into()]);
    assert_ne!(shift[4], "never", "the sessions were used: {}", list.stdout);
    assert_eq!(&line_of(&list.stdout, "ops-lead")[2..4], ["admin", "1"]);
    let json = staff(dir.path(), &file, &["list", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json[0]["username"], "night-shift");
    assert_eq!(json[0]["role"], "operator");
    assert_eq!(json[0]["live_sessions"], 2);

    // Revoke: both sessions end at once (the same tokens are now unauthenticated).
    let revoke = staff(dir.path(), &file, &["revoke", "--name", "night-shift"]);
    assert_eq!(revoke.code, Some(0), "{}", revoke.stderr);
    assert!(revoke.stdout.contains("ended 2 sessions"), "{}", revoke.stdout);
    for token in [&viewer, &operator] {
        assert_eq!(staff_of(token).await.unwrap_err().code, ErrorCode::Unauthenticated);
    }
    assert_eq!(staff_of(&admin).await.unwrap().role, Role::Admin, "another member's session stays");
    assert_eq!(&line_of(&staff(dir.path(), &file, &["list"]).stdout, "night-shift")[2..4], ["operator", "0"]);

    // Audited as the command line.
    let audit = Ops::audit_list(&core, &admin, opsdeck_api::audit::AuditQuery { limit: 50, ..Default::default() })
        .await
        .unwrap();
    let actions: Vec<(&str, &str)> = audit
        .entries
        .iter()
        .filter(|e| e.target == format!("user:{}", me.user_id))
        .map(|e| (e.who.as_str(), e.action.as_str()))
        .collect();
    for action in ["staff.create", "staff.set_role", "staff.session_open", "staff.sessions_revoke"] {
        assert!(
            actions.iter().any(|(who, a)| *a == action && who.starts_with("command line (opsdeckd staff")),
            "{action} is not audited as the command line: {actions:?}"
        );
    }
    core.shutdown().await;
}

/// The whitespace-separated fields of `name`'s line in a `staff list` output.
fn line_of(stdout: &str, name: &str) -> Vec<String> {
    stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name))
        .unwrap_or_else(|| panic!("{name} is not listed: {stdout}"))
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn staff_commands_refuse_unknown_names_roles_and_demoting_the_last_admin() {
    let dir = tempfile::tempdir().unwrap();
    let file = staff_config(dir.path());

    // Usage errors: 2, nothing printed on stdout.
    for args in [
        &["token", "--name", "someone", "--role", "superuser"][..],
        &["token", "--name", "someone"],
        &["token", "--name", "  ", "--role", "viewer"],
        &["revoke"],
    ] {
        let run = staff(dir.path(), &file, args);
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
    let unknown_role = staff(dir.path(), &file, &["token", "--name", "someone", "--role", "superuser"]);
    assert!(unknown_role.stderr.contains("unknown role"), "{}", unknown_role.stderr);

    // Nobody is named so: 1, saying so.
    let run = staff(dir.path(), &file, &["revoke", "--name", "nobody-here"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("no user is named \"nobody-here\""), "{}", run.stderr);
    let empty = staff(dir.path(), &file, &["list"]);
    assert_eq!(empty.code, Some(0));
    assert!(empty.stdout.contains("no staff members yet"), "{}", empty.stdout);

    // The last admin keeps the role; with a second admin, the first may step down.
    issue(dir.path(), &file, "only-admin", "admin");
    let run = staff(dir.path(), &file, &["token", "--name", "only-admin", "--role", "viewer"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("last admin") && run.stdout.is_empty(), "{}", run.stderr);
    assert_eq!(&line_of(&staff(dir.path(), &file, &["list"]).stdout, "only-admin")[2..4], ["admin", "1"]);
    issue(dir.path(), &file, "second-admin", "admin");
    let (stdout, _) = issue(dir.path(), &file, "only-admin", "viewer");
    assert!(stdout.contains("is now viewer (was admin)"), "{stdout}");
}
