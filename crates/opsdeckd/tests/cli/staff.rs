//! `opsdeckd staff grant-admin`: the first admin of a shared database, named from the command
//! line by the sign-in they used (or their user number); an identity nobody signed in with is
//! refused with a message saying what to do.

use chrono::Utc;
use opsdeck_core::accounts::model::{Gender, Identity, ProviderKey, Role};
use opsdeck_core::accounts::store;
use opsdeck_core::db::Database;
use opsdeck_core::{Config, ConfigSource};

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
