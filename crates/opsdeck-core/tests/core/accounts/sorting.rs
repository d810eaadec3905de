//! The users list sorted by a column (both directions, the id breaking ties, paged by offset);
//! SQLite and MariaDB.

use std::collections::HashMap;

use opsdeck_api::accounts::{UserQuery, UserSort};
use opsdeck_core::{Actor, Core};

use crate::helpers::{config_with, fresh_mysql_url, redis_url, toml_string, unique};

async fn start(dir: &std::path::Path, database_url: Option<String>) -> Core {
    let mut lines = vec![
        ("data_dir", toml_string(&dir.display().to_string())),
        ("redis_url", toml_string(&redis_url())),
        ("redis_prefix", toml_string(&unique("t"))),
    ];
    lines.extend(database_url.map(|url| ("database_url", toml_string(&url))));
    Core::start(config_with(dir, &lines)).await.unwrap()
}

async fn users_sort(core: &Core) {
    // (label, username, mobile, created_at): two users share a name, two a creation time.
    let users = [
        ("zoe", "zoe", Some("13800000003"), 3_000),
        ("amy-a", "amy", None, 1_000),
        ("mia", "mia", Some("13800000001"), 2_000),
        ("amy-b", "amy", Some("13800000002"), 2_000),
    ];
    let mut labels = HashMap::new();
    for (label, name, mobile, created) in users {
        let id = core
            .database()
            .insert_returning_id("INSERT INTO users (username, mobile, balance, created_at) VALUES (?, ?, 0, ?)", |q| {
                q.bind(name).bind(mobile).bind(1_700_000_000_000_i64 + created)
            })
            .await
            .unwrap();
        labels.insert(id, label);
    }
    let listed = |sort: UserSort, desc: bool| {
        let labels = &labels;
        async move {
            let mut seen = Vec::new();
            loop {
                let query = UserQuery { sort: Some(sort), desc, offset: seen.len() as u32, limit: 3, search: None };
                let page = core.users_list(query, &Actor::system("tester")).await.unwrap();
                seen.extend(page.users.iter().map(|u| labels[&u.id]));
                if page.users.is_empty() || seen.len() as i64 >= page.total {
                    return seen;
                }
            }
        }
    };
    assert_eq!(listed(UserSort::Username, false).await, ["amy-a", "amy-b", "mia", "zoe"], "ties by id");
    assert_eq!(listed(UserSort::Username, true).await, ["zoe", "mia", "amy-b", "amy-a"]);
    assert_eq!(listed(UserSort::CreatedAt, false).await, ["amy-a", "mia", "amy-b", "zoe"]);
    assert_eq!(listed(UserSort::Mobile, false).await, ["amy-a", "mia", "amy-b", "zoe"], "no mobile first");
    assert_eq!(listed(UserSort::Id, true).await, ["amy-b", "mia", "amy-a", "zoe"]);
}

#[tokio::test]
async fn users_sort_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let core = start(dir.path(), None).await;
    users_sort(&core).await;
    core.shutdown().await;
}

#[tokio::test]
async fn users_sort_on_mariadb() {
    let dir = tempfile::tempdir().unwrap();
    let core = start(dir.path(), Some(fresh_mysql_url().await)).await;
    users_sort(&core).await;
    core.shutdown().await;
}
