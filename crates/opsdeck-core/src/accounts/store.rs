//! SQL for users, their links, roles and link requests. (provider, uid) is unique in
//! `oauth_accounts`; unlinking and role changes check their guard (not the last link, not the last
//! admin) inside the same write transaction as the change, and role decisions hold
//! [`lock_staff`]. No provider token and no raw profile is stored.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, QueryBuilder, Row};

use super::model::{Identity, LinkRequest, LinkView, ProviderKey, Role, UserPage, UserQuery, UserView, mask_middle};
use crate::db::{Database, instant, ms};
use opsdeck_api::accounts::UserSort;

pub use crate::db::is_unique_violation;

/// The user a (provider, uid) is linked to, and the link's id.
pub async fn find_link(conn: &mut AnyConnection, provider: ProviderKey, uid: &str) -> sqlx::Result<Option<(i64, i64)>> {
    let row = sqlx::query("SELECT id, user_id FROM oauth_accounts WHERE provider = ? AND uid = ?")
        .bind(provider.as_str())
        .bind(uid.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| Ok((r.try_get("id")?, r.try_get("user_id")?))).transpose()
}

/// A returning sign-in: the profile as the provider gives it now on the link, the time on both.
pub async fn touch_link(
    conn: &mut AnyConnection,
    link_id: i64,
    user_id: i64,
    identity: &Identity,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE oauth_accounts SET nickname = ?, avatar = ?, unionid = COALESCE(?, unionid), last_sign_in_at = ?
         WHERE id = ?",
    )
    .bind(identity.nickname.clone())
    .bind(identity.avatar.clone())
    .bind(identity.unionid.clone())
    .bind(ms(now))
    .bind(link_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE users SET last_sign_in_at = ? WHERE id = ?")
        .bind(ms(now))
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Links an identity to a user. `signed_in` marks it as used to sign in now. Only what the
/// console shows is kept: no provider token, no raw profile.
pub async fn insert_link(
    db: &Database,
    conn: &mut AnyConnection,
    user_id: i64,
    identity: &Identity,
    now: DateTime<Utc>,
    signed_in: bool,
) -> sqlx::Result<i64> {
    db.insert_returning_id_on(
        conn,
        "INSERT INTO oauth_accounts (user_id, provider, uid, unionid, nickname, avatar, created_at, last_sign_in_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        |q| {
            q.bind(user_id)
                .bind(identity.provider.as_str())
                .bind(identity.uid.clone())
                .bind(identity.unionid.clone())
                .bind(identity.nickname.clone())
                .bind(identity.avatar.clone())
                .bind(ms(now))
                .bind(signed_in.then(|| ms(now)))
        },
    )
    .await
}

/// A new user for an identity nobody has linked: the username is the nickname (or the provider
/// and uid), made unique with a numeric suffix.
pub async fn insert_user(
    db: &Database,
    conn: &mut AnyConnection,
    identity: &Identity,
    now: DateTime<Utc>,
) -> sqlx::Result<i64> {
    let base = identity
        .nickname
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().take(60).collect::<String>())
        .unwrap_or_else(|| format!("{}-{}", identity.provider, identity.uid.chars().take(40).collect::<String>()));
    let taken: Vec<String> =
        sqlx::query_scalar("SELECT username FROM users WHERE username = ? OR username LIKE ? ESCAPE '!'")
            .bind(base.clone())
            .bind(format!("{}-%", crate::db::like_escaped(&base)))
            .fetch_all(&mut *conn)
            .await?;
    let username = (1..)
        .map(|n| if n == 1 { base.clone() } else { format!("{base}-{n}") })
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or(base);
    db.insert_returning_id_on(
        conn,
        "INSERT INTO users (username, nickname, mobile, email, avatar, created_at, last_sign_in_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
        |q| {
            q.bind(username)
                .bind(identity.nickname.clone())
                .bind(identity.mobile.clone())
                .bind(identity.email.clone())
                .bind(identity.avatar.clone())
                .bind(ms(now))
                .bind(ms(now))
        },
    )
    .await
}

/// The user whose mobile is this one, if any.
pub async fn user_with_mobile(conn: &mut AnyConnection, mobile: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM users WHERE mobile = ? ORDER BY id LIMIT 1")
        .bind(mobile.to_string())
        .fetch_optional(&mut *conn)
        .await
}

/// Records (or refreshes) a link waiting for staff to confirm it, with what the provider
/// verified.
pub async fn upsert_link_request(
    db: &Database,
    conn: &mut AnyConnection,
    user_id: i64,
    identity: &Identity,
    mobile: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<i64> {
    sqlx::query("DELETE FROM link_requests WHERE provider = ? AND uid = ?")
        .bind(identity.provider.as_str())
        .bind(identity.uid.clone())
        .execute(&mut *conn)
        .await?;
    db.insert_returning_id_on(
        conn,
        "INSERT INTO link_requests (user_id, provider, uid, unionid, nickname, avatar, mobile, email, verified,
            created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        |q| {
            q.bind(user_id)
                .bind(identity.provider.as_str())
                .bind(identity.uid.clone())
                .bind(identity.unionid.clone())
                .bind(identity.nickname.clone())
                .bind(identity.avatar.clone())
                .bind(mobile.to_string())
                .bind(identity.email.clone())
                .bind(identity.verified().join(","))
                .bind(ms(now))
        },
    )
    .await
}

/// The user a waiting request would link to.
pub async fn link_request_user(conn: &mut AnyConnection, id: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT user_id FROM link_requests WHERE id = ?").bind(id).fetch_optional(&mut *conn).await
}

/// Moves a confirmed request into `oauth_accounts`; returns the user, or None when the request
/// is gone.
pub async fn accept_link_request(conn: &mut AnyConnection, id: i64, now: DateTime<Utc>) -> sqlx::Result<Option<i64>> {
    let Some(user_id) = link_request_user(conn, id).await? else {
        return Ok(None);
    };
    sqlx::query(
        "INSERT INTO oauth_accounts (user_id, provider, uid, unionid, nickname, avatar, created_at, last_sign_in_at)
         SELECT user_id, provider, uid, unionid, nickname, avatar, ?, NULL
         FROM link_requests WHERE id = ?",
    )
    .bind(ms(now))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM link_requests WHERE id = ?").bind(id).execute(&mut *conn).await?;
    Ok(Some(user_id))
}

/// Drops a request; true when there was one.
pub async fn delete_link_request(conn: &mut AnyConnection, id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM link_requests WHERE id = ?").bind(id).execute(&mut *conn).await?;
    Ok(done.rows_affected() > 0)
}

/// Every waiting link request, oldest first.
pub async fn link_requests(conn: &mut AnyConnection) -> sqlx::Result<Vec<LinkRequest>> {
    let rows = sqlx::query(
        "SELECT r.id, r.user_id, u.username, r.provider, r.uid, r.nickname, r.mobile, r.verified, r.created_at
         FROM link_requests r JOIN users u ON u.id = r.user_id ORDER BY r.id",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let provider: String = r.try_get("provider")?;
            let uid: String = r.try_get("uid")?;
            let mobile: String = r.try_get("mobile")?;
            let verified: Option<String> = r.try_get("verified")?;
            Ok(LinkRequest {
                id: r.try_get("id")?,
                user_id: r.try_get("user_id")?,
                username: r.try_get("username")?,
                provider: provider.parse().map_err(|e: String| sqlx::Error::Decode(e.into()))?,
                uid_masked: mask_middle(&uid),
                nickname: r.try_get("nickname")?,
                mobile_masked: mask_middle(&mobile),
                verified: verified
                    .as_deref()
                    .unwrap_or_default()
                    .split(',')
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
                    .collect(),
                created_at: instant(r.try_get("created_at")?),
            })
        })
        .collect()
}

/// Serialises every change of, or decision on, console roles (role changes, the first admin,
/// acting on a user of a given role) on both backends: the first statement of such a
/// transaction, it holds the one row of `staff_lock` until the commit. On MySQL that row lock
/// comes before the transaction's first read, so its snapshot already sees whatever the
/// previous holder committed; SQLite's `BEGIN IMMEDIATE` serialises writers anyway.
pub async fn lock_staff(conn: &mut AnyConnection) -> sqlx::Result<()> {
    sqlx::query("UPDATE staff_lock SET version = version + 1 WHERE id = 1").execute(&mut *conn).await?;
    Ok(())
}

/// The user a link belongs to.
pub async fn link_owner(conn: &mut AnyConnection, link_id: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT user_id FROM oauth_accounts WHERE id = ?").bind(link_id).fetch_optional(&mut *conn).await
}

/// The user linked to (provider, uid), if any.
pub async fn user_of_identity(conn: &mut AnyConnection, provider: ProviderKey, uid: &str) -> sqlx::Result<Option<i64>> {
    Ok(find_link(conn, provider, uid).await?.map(|(_, user_id)| user_id))
}

/// The sign-ins (provider, uid) linked to a user.
pub async fn identities_of(conn: &mut AnyConnection, user_id: i64) -> sqlx::Result<Vec<(ProviderKey, String)>> {
    let rows = sqlx::query("SELECT provider, uid FROM oauth_accounts WHERE user_id = ? ORDER BY id")
        .bind(user_id)
        .fetch_all(&mut *conn)
        .await?;
    let mut identities = Vec::with_capacity(rows.len());
    for row in rows {
        let provider: String = row.try_get("provider")?;
        if let Ok(provider) = provider.parse() {
            identities.push((provider, row.try_get("uid")?));
        }
    }
    Ok(identities)
}

/// True when the allow-list is empty (anyone may be staff) or names one of `identities`.
pub fn allowed_staff(allow: &[(ProviderKey, String)], identities: &[(ProviderKey, String)]) -> bool {
    allow.is_empty() || identities.iter().any(|identity| allow.contains(identity))
}

/// Is there any admin yet? (The first console sign-in becomes one when not.)
pub async fn any_admin(conn: &mut AnyConnection) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin'").fetch_one(&mut *conn).await?;
    Ok(n > 0)
}

/// The user's console role.
pub async fn role_of(conn: &mut AnyConnection, user_id: i64) -> sqlx::Result<Option<Option<Role>>> {
    let row: Option<Option<String>> =
        sqlx::query_scalar("SELECT role FROM users WHERE id = ?").bind(user_id).fetch_optional(&mut *conn).await?;
    Ok(row.map(|role| role.and_then(|r| r.parse().ok())))
}

/// Why a role change was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum RoleRefusal {
    NoSuchUser,
    LastAdmin,
}

/// Sets (or removes) a user's role; never leaves the console without an admin.
pub async fn set_role(
    conn: &mut AnyConnection,
    user_id: i64,
    role: Option<Role>,
) -> sqlx::Result<Result<(), RoleRefusal>> {
    let Some(current) = role_of(conn, user_id).await? else {
        return Ok(Err(RoleRefusal::NoSuchUser));
    };
    if current == Some(Role::Admin) && role != Some(Role::Admin) {
        let admins: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin'").fetch_one(&mut *conn).await?;
        if admins <= 1 {
            return Ok(Err(RoleRefusal::LastAdmin));
        }
    }
    sqlx::query("UPDATE users SET role = ? WHERE id = ?")
        .bind(role.map(|r| r.as_str()))
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(Ok(()))
}

/// Why an unlink was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum UnlinkRefusal {
    NoSuchLink,
    LastLink,
}

/// Removes a link unless it is the user's last; returns the user and what was unlinked.
pub async fn unlink(
    conn: &mut AnyConnection,
    link_id: i64,
) -> sqlx::Result<Result<(i64, ProviderKey, String), UnlinkRefusal>> {
    let Some(row) = sqlx::query("SELECT user_id, provider, uid FROM oauth_accounts WHERE id = ?")
        .bind(link_id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(Err(UnlinkRefusal::NoSuchLink));
    };
    let user_id: i64 = row.try_get("user_id")?;
    let provider: String = row.try_get("provider")?;
    let uid: String = row.try_get("uid")?;
    let links: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM oauth_accounts WHERE user_id = ?")
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?;
    if links <= 1 {
        return Ok(Err(UnlinkRefusal::LastLink));
    }
    sqlx::query("DELETE FROM oauth_accounts WHERE id = ?").bind(link_id).execute(&mut *conn).await?;
    let provider = provider.parse().unwrap_or(ProviderKey::Oidc);
    Ok(Ok((user_id, provider, uid)))
}

fn user_from(row: &AnyRow) -> sqlx::Result<UserView> {
    let mobile: Option<String> = row.try_get("mobile")?;
    let role: Option<String> = row.try_get("role")?;
    let last: Option<i64> = row.try_get("last_sign_in_at")?;
    Ok(UserView {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        nickname: row.try_get("nickname")?,
        mobile_masked: mobile.as_deref().map(mask_middle),
        avatar: row.try_get("avatar")?,
        role: role.and_then(|r| r.parse().ok()),
        created_at: instant(row.try_get("created_at")?),
        last_sign_in_at: last.map(instant),
        links: Vec::new(),
    })
}

const USER_COLUMNS: &str = "id, username, nickname, mobile, avatar, role, created_at, last_sign_in_at";

/// Fills in each user's links (one query for the page).
async fn with_links(conn: &mut AnyConnection, mut users: Vec<UserView>) -> sqlx::Result<Vec<UserView>> {
    if users.is_empty() {
        return Ok(users);
    }
    let mut query = QueryBuilder::new(
        "SELECT id, user_id, provider, uid, nickname, avatar, created_at, last_sign_in_at
         FROM oauth_accounts WHERE user_id IN (",
    );
    let mut ids = query.separated(", ");
    for user in &users {
        ids.push_bind(user.id);
    }
    query.push(") ORDER BY id");
    for row in query.build().fetch_all(&mut *conn).await? {
        let user_id: i64 = row.try_get("user_id")?;
        let provider: String = row.try_get("provider")?;
        let uid: String = row.try_get("uid")?;
        let last: Option<i64> = row.try_get("last_sign_in_at")?;
        let Ok(provider) = provider.parse::<ProviderKey>() else { continue };
        if let Some(user) = users.iter_mut().find(|u| u.id == user_id) {
            user.links.push(LinkView {
                id: row.try_get("id")?,
                provider,
                uid_masked: mask_middle(&uid),
                nickname: row.try_get("nickname")?,
                avatar: row.try_get("avatar")?,
                linked_at: instant(row.try_get("created_at")?),
                last_sign_in_at: last.map(instant),
            });
        }
    }
    Ok(users)
}

/// One user with their links.
pub async fn user(conn: &mut AnyConnection, id: i64) -> sqlx::Result<Option<UserView>> {
    let Some(user) = user_alone(conn, id).await? else {
        return Ok(None);
    };
    Ok(with_links(conn, vec![user]).await?.pop())
}

/// One user without their links (`links` empty): what resolving a session needs, once per
/// console operation, in one query.
pub async fn user_alone(conn: &mut AnyConnection, id: i64) -> sqlx::Result<Option<UserView>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *conn).await?;
    row.as_ref().map(user_from).transpose()
}

/// A page of users, newest first or sorted as `query` asks; `search` matches the whole mobile number (never a part of
/// it: a prefix search would reveal a masked number digit by digit) or any part of the
/// username.
pub async fn users_page(conn: &mut AnyConnection, query: &UserQuery) -> sqlx::Result<UserPage> {
    let search = query.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let filter = |builder: &mut QueryBuilder<sqlx::Any>| {
        if let Some(search) = search {
            let escaped = crate::db::like_escaped(search);
            builder
                .push(" WHERE (mobile = ")
                .push_bind(search.to_string())
                .push(" OR username LIKE ")
                .push_bind(format!("%{escaped}%"))
                .push(" ESCAPE '!')");
        }
    };
    let mut count = QueryBuilder::new("SELECT COUNT(*) FROM users");
    filter(&mut count);
    let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
    let mut page = QueryBuilder::new(format!("SELECT {USER_COLUMNS} FROM users"));
    filter(&mut page);
    page.push(match query.sort {
        // A fixed column per sort, never the caller's text; the id breaks ties, same direction.
        Some(sort) => {
            let column = match sort {
                UserSort::Id => "id",
                UserSort::Username => "username",
                UserSort::Mobile => "mobile",
                UserSort::CreatedAt => "created_at",
            };
            let direction = if query.desc { "DESC" } else { "ASC" };
            format!(" ORDER BY {column} {direction}, id {direction} LIMIT ")
        }
        None => " ORDER BY id DESC LIMIT ".to_string(),
    })
    .push_bind(i64::from(query.limit))
    .push(" OFFSET ")
    .push_bind(i64::from(query.offset));
    let rows = page.build().fetch_all(&mut *conn).await?;
    let users = rows.iter().map(user_from).collect::<sqlx::Result<Vec<_>>>()?;
    Ok(UserPage { users: with_links(conn, users).await?, total })
}
