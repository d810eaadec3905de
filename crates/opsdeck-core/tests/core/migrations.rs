//! Migrations apply cleanly on SQLite and MariaDB, twice (a restart is a no-op), and the schema
//! enforces what it promises.

use opsdeck_core::Config;
use opsdeck_core::db::Database;
use sqlx::Row;

use crate::helpers::{config_with, fresh_mysql_url, redis_url, toml_string};

/// Opens the database twice, as two successive starts would, migrating each time.
async fn migrate_twice(config: &Config) -> Database {
    let first = Database::open(config).unwrap();
    first.migrate().await.expect("first migration");
    first.close().await;
    let second = Database::open(config).unwrap();
    second.migrate().await.expect("second start migrates again without error");
    second
}

async fn assert_schema(db: &Database) {
    let pool = db.pool();
    let applied: i64 = sqlx::query("SELECT COUNT(*) AS n FROM _sqlx_migrations WHERE success = TRUE")
        .fetch_one(pool)
        .await
        .unwrap()
        .get("n");
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite")).unwrap().count();
    assert_eq!(applied as usize, files, "every migration applied exactly once");

    let user = db
        .insert_returning_id("INSERT INTO users (mobile, username, balance, created_at) VALUES (?, ?, ?, ?)", |q| {
            q.bind("13800000000").bind("张三").bind(0_i64).bind(1_700_000_000_000_i64)
        })
        .await
        .unwrap();
    let link = |provider: &'static str, uid: &'static str, user: i64| {
        sqlx::query("INSERT INTO oauth_accounts (user_id, provider, uid, created_at) VALUES (?, ?, ?, ?)")
            .bind(user)
            .bind(provider)
            .bind(uid)
            .bind(1_700_000_000_000_i64)
            .execute(pool)
    };
    link("weibo", "abcas32423", user).await.unwrap();
    link("qq", "234234", user).await.expect("one user may link several providers");
    let duplicate = link("weibo", "abcas32423", user).await.unwrap_err();
    assert!(
        duplicate.as_database_error().is_some_and(|e| e.is_unique_violation()),
        "(provider, uid) is unique: {duplicate}"
    );
    let orphan = link("weixin", "o123", user + 1000).await.unwrap_err();
    assert!(
        orphan.as_database_error().is_some_and(|e| e.is_foreign_key_violation()),
        "a link needs its user: {orphan}"
    );
    let negative = sqlx::query("UPDATE users SET balance = -1 WHERE id = ?").bind(user).execute(pool).await;
    assert!(negative.is_err(), "a balance never goes below zero");
    let name: String = sqlx::query("SELECT username FROM users WHERE id = ?")
        .bind(user)
        .fetch_one(pool)
        .await
        .unwrap()
        .get("username");
    assert_eq!(name, "张三", "text round-trips as UTF-8");
}

#[tokio::test]
async fn sqlite_migrates_twice_and_enforces_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(
        dir.path(),
        &[("data_dir", toml_string(&dir.path().display().to_string())), ("redis_url", toml_string(&redis_url()))],
    );
    let db = migrate_twice(&config).await;
    assert!(dir.path().join("opsdeck.db").is_file(), "the embedded database lives in the data dir");
    assert_schema(&db).await;
}

#[tokio::test]
async fn mariadb_migrates_twice_and_enforces_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(
        dir.path(),
        &[
            ("data_dir", toml_string(&dir.path().display().to_string())),
            ("database_url", toml_string(&fresh_mysql_url().await)),
            ("redis_url", toml_string(&redis_url())),
        ],
    );
    let db = migrate_twice(&config).await;
    assert_schema(&db).await;
}
