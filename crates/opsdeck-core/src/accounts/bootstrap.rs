//! The explicit first admin of a shared database: `opsdeckd staff grant-admin`; and staff
//! members by username from the server's command line: `staff token` (create, set the role, open
//! a session), `staff list`, `staff revoke` (end every session).
//!
//! The first admin: on a database that several people's consoles share, the first console
//! sign-in gets no role (only sandbox mode and the embedded default database, one person's own,
//! make it admin); whoever runs the daemon's command line with the database's credentials names
//! the first admin instead, by the identity they signed in with or by their user number (the
//! console shows it to a newcomer).
//!
//! Each needs only the database (no Redis, no core tasks); role changes run under
//! [`store::lock_staff`] like every role change; every change is audited.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{AnyConnection, Row};

use super::model::{ProviderKey, Role, mask_middle};
use super::{sessions, store};
use crate::audit::{self, NewAuditEntry};
use crate::config::Config;
use crate::db::{Database, begin_write, instant, ms};
use crate::error::{ApiError, ErrorCode};

/// Whom to make admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantTarget {
    /// The user linked to this sign-in (provider and the provider's uid).
    Identity { provider: ProviderKey, uid: String },
    /// A user by number.
    User(i64),
}

/// What a grant did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    pub user_id: i64,
    /// The role the user had before (`Some(Admin)`: nothing changed).
    pub previous: Option<Role>,
}

/// Who the audit log names for a grant from the command line.
pub const GRANT_ADMIN_ACTOR: &str = "command line (opsdeckd staff grant-admin)";

/// Makes `target` an admin on the configured database (migrated first if needed); with a staff
/// allow-list, only a user with a listed sign-in.
pub async fn grant_admin(config: &Config, target: &GrantTarget) -> Result<Granted, ApiError> {
    let db = Database::open(config).map_err(ApiError::Internal)?;
    db.migrate().await.map_err(|e| ApiError::Internal(anyhow::anyhow!("cannot migrate the database: {e}")))?;
    let granted = grant_admin_on(&db, target, &config.staff_allow).await;
    db.pool().close().await;
    granted
}

/// [`grant_admin`] on an open database, with the staff allow-list `allow` (empty: none).
pub async fn grant_admin_on(
    db: &Database,
    target: &GrantTarget,
    allow: &[(ProviderKey, String)],
) -> Result<Granted, ApiError> {
    let mut tx = begin_write(db).await?;
    store::lock_staff(&mut tx).await?;
    let user_id = match target {
        GrantTarget::User(id) => *id,
        GrantTarget::Identity { provider, uid } => {
            store::user_of_identity(&mut tx, *provider, uid).await?.ok_or_else(|| {
                let uid = mask_middle(uid);
                ApiError::coded(
                    ErrorCode::IdentityUnknown,
                    format!(
                        "nobody has signed in with {} uid {uid} yet: sign into the console once (you get no role), \
                         then run this again",
                        provider.display_name(),
                    ),
                )
                .param("provider", provider.as_str())
                .param("uid", uid)
            })?
        }
    };
    let Some(previous) = store::role_of(&mut tx, user_id).await? else {
        return Err(ApiError::user_not_found(user_id));
    };
    if !store::allowed_staff(allow, &store::identities_of(&mut tx, user_id).await?) {
        return Err(ApiError::staff_not_allowed(user_id));
    }
    if previous != Some(Role::Admin) {
        store::set_role(&mut tx, user_id, Some(Role::Admin)).await?.ok();
    }
    tx.commit().await?;
    let entry = NewAuditEntry {
        who: GRANT_ADMIN_ACTOR,
        action: "staff.set_role",
        target: &format!("user:{user_id}"),
        detail: Some(json!({ "role": Role::Admin, "previous": previous })),
    };
    if let Err(e) = audit::record(db, &entry, Utc::now()).await {
        tracing::error!(error = %e, "cannot audit the admin grant");
    }
    Ok(Granted { user_id, previous })
}

// ---- `opsdeckd staff token | list | revoke`: staff members by username, for scripts and
// operators on the server. Like the grant above, these need only the database.

/// Who the audit log names for `opsdeckd staff token`.
pub const STAFF_TOKEN_ACTOR: &str = "command line (opsdeckd staff token)";
/// Who the audit log names for `opsdeckd staff revoke`.
pub const STAFF_REVOKE_ACTOR: &str = "command line (opsdeckd staff revoke)";

/// The longest username the command line accepts (a sign-in's username is cut at 60 too).
const NAME_MAX_CHARS: usize = 60;

/// What `staff token` did: the member, whether they were created, their role before, and the new
/// session's token (given once: only its hash is stored).
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub user_id: i64,
    pub created: bool,
    /// The role before (`None`: none, or just created).
    pub previous: Option<Role>,
    pub role: Role,
    pub token: opsdeck_api::SessionToken,
}

/// One staff member (a user with a console role), as `staff list` prints them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StaffMember {
    pub user_id: i64,
    pub username: String,
    pub nickname: Option<String>,
    pub role: Role,
    /// Sessions neither revoked nor expired.
    pub live_sessions: u64,
    /// The later of the last sign-in and the last use of any of their sessions.
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// What `staff revoke` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokedSessions {
    pub user_id: i64,
    /// Sessions that were live and now are ended.
    pub ended: u64,
}

/// A username as given on the command line: trimmed, not empty, at most 60 characters, no control
/// characters. Refused as an `InvalidField` on `name`.
fn checked_name(name: &str) -> Result<&str, ApiError> {
    let name = name.trim();
    let refuse = |why: &str| ApiError::InvalidField { field: "name".into(), message: format!("--name: {why}") };
    if name.is_empty() {
        return Err(refuse("give the staff member's username"));
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(refuse(&format!("at most {NAME_MAX_CHARS} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(refuse("no control characters"));
    }
    Ok(name)
}

/// The one user with this username: `None` when nobody has it; refused when several users share
/// it (only possible for users made outside the console), naming them.
async fn user_named(conn: &mut AnyConnection, name: &str) -> Result<Option<i64>, ApiError> {
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = ? ORDER BY id")
        .bind(name.to_string())
        .fetch_all(&mut *conn)
        .await?;
    match ids.as_slice() {
        [] => Ok(None),
        [id] => Ok(Some(*id)),
        several => Err(ApiError::InvalidInput(format!(
            "several users are named {name:?} (users {}): rename all but one first",
            several.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// Opens the configured database, migrated, runs `work` on it and closes it.
async fn with_database<T>(
    config: &Config,
    work: impl AsyncFnOnce(&Database) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let db = Database::open(config).map_err(ApiError::Internal)?;
    db.migrate().await.map_err(|e| ApiError::Internal(anyhow::anyhow!("cannot migrate the database: {e}")))?;
    let done = work(&db).await;
    db.pool().close().await;
    done
}

/// `opsdeckd staff token`: the staff member `name` (created when no user has that username: a
/// user with no sign-in linked, who signs in with such tokens only) gets `role`, and a new
/// session whose token is returned. Under [`store::lock_staff`]: the last admin is never given a
/// lower role; with a staff allow-list, an existing user with linked sign-ins needs a listed one.
/// Audited.
pub async fn staff_token(config: &Config, name: &str, role: Role) -> Result<IssuedToken, ApiError> {
    let name = checked_name(name)?;
    with_database(config, async |db| {
        staff_token_on(db, name, role, &config.staff_allow, sessions::Limits::of(config)).await
    })
    .await
}

/// [`staff_token`] on an open database, with the staff allow-list `allow` (empty: none).
pub async fn staff_token_on(
    db: &Database,
    name: &str,
    role: Role,
    allow: &[(ProviderKey, String)],
    limits: sessions::Limits,
) -> Result<IssuedToken, ApiError> {
    let name = checked_name(name)?;
    let now = Utc::now();
    let mut tx = begin_write(db).await?;
    store::lock_staff(&mut tx).await?;
    let (user_id, created) = match user_named(&mut tx, name).await? {
        Some(id) => (id, false),
        None => {
            let id = db
                .insert_returning_id_on(&mut tx, "INSERT INTO users (username, created_at) VALUES (?, ?)", |q| {
                    q.bind(name.to_string()).bind(ms(now))
                })
                .await?;
            (id, true)
        }
    };
    let identities = store::identities_of(&mut tx, user_id).await?;
    // The allow-list names sign-ins; a member made here has none (their only way in is a token
    // from this command), one who signed in through a provider must have a listed sign-in.
    if !identities.is_empty() && !store::allowed_staff(allow, &identities) {
        return Err(ApiError::InvalidInput(format!(
            "user {user_id} ({name}) has no sign-in on the staff allow-list (`staff_allow`): add one there first"
        )));
    }
    let previous = store::role_of(&mut tx, user_id).await?.flatten();
    if previous != Some(role) {
        match store::set_role(&mut tx, user_id, Some(role)).await? {
            Ok(()) => {}
            Err(store::RoleRefusal::NoSuchUser) => return Err(ApiError::NotFound(format!("no user {user_id}"))),
            Err(store::RoleRefusal::LastAdmin) => {
                return Err(ApiError::InvalidInput(format!(
                    "{name} is the last admin: make someone else admin first (nothing was changed)"
                )));
            }
        }
    }
    // A session names the provider it was opened with; a member with linked sign-ins gets their
    // first one's, a member made here OpenID Connect (the console shows it as the sign-in).
    let provider = identities.first().map_or(ProviderKey::Oidc, |(provider, _)| *provider);
    let token = sessions::create(&mut tx, user_id, provider, now, limits).await?;
    tx.commit().await?;

    let target = format!("user:{user_id}");
    let mut entries = Vec::new();
    if created {
        entries.push(("staff.create", json!({ "username": name })));
    }
    if previous != Some(role) {
        entries.push(("staff.set_role", json!({ "role": role, "previous": previous })));
    }
    entries.push(("staff.session_open", json!({ "via": "command line", "provider": provider })));
    for (action, detail) in entries {
        let entry = NewAuditEntry { who: STAFF_TOKEN_ACTOR, action, target: &target, detail: Some(detail) };
        if let Err(e) = audit::record(db, &entry, now).await {
            tracing::error!(error = %e, action, "cannot audit the command line's staff token");
        }
    }
    Ok(IssuedToken { user_id, created, previous, role, token: opsdeck_api::SessionToken::new(token) })
}

/// `opsdeckd staff list`: every user with a console role, by id.
pub async fn staff_list(config: &Config) -> Result<Vec<StaffMember>, ApiError> {
    with_database(config, async |db| staff_list_on(db, sessions::Limits::of(config)).await).await
}

/// [`staff_list`] on an open database.
pub async fn staff_list_on(db: &Database, limits: sessions::Limits) -> Result<Vec<StaffMember>, ApiError> {
    let now = Utc::now();
    let mut conn = db.pool().acquire().await?;
    let rows = sqlx::query(
        "SELECT u.id, u.username, u.nickname, u.role, u.last_sign_in_at,
                (SELECT MAX(s.last_seen_at) FROM staff_sessions s WHERE s.user_id = u.id) AS last_seen
         FROM users u WHERE u.role IS NOT NULL ORDER BY u.id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let live = sessions::live(db.pool(), now, limits).await?;
    let mut members = Vec::with_capacity(rows.len());
    for row in rows {
        let role: String = row.try_get("role")?;
        let Ok(role) = role.parse::<Role>() else { continue };
        let user_id: i64 = row.try_get("id")?;
        let signed_in: Option<i64> = row.try_get("last_sign_in_at")?;
        let seen: Option<i64> = row.try_get("last_seen")?;
        members.push(StaffMember {
            user_id,
            username: row.try_get("username")?,
            nickname: row.try_get("nickname")?,
            role,
            live_sessions: live.iter().filter(|s| s.user_id == user_id).count() as u64,
            last_seen_at: signed_in.max(seen).map(instant),
        });
    }
    Ok(members)
}

/// `opsdeckd staff revoke`: ends every session of the user named `name` (refused as `NotFound`
/// when nobody has that username). Audited, also when none was live.
pub async fn staff_revoke(config: &Config, name: &str) -> Result<RevokedSessions, ApiError> {
    let name = checked_name(name)?;
    with_database(config, async |db| staff_revoke_on(db, name).await).await
}

/// [`staff_revoke`] on an open database.
pub async fn staff_revoke_on(db: &Database, name: &str) -> Result<RevokedSessions, ApiError> {
    let name = checked_name(name)?;
    let now = Utc::now();
    let mut conn = db.pool().acquire().await?;
    let user_id = user_named(&mut conn, name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no user is named {name:?} (see `opsdeckd staff list`)")))?;
    let ended = sessions::revoke_user(&mut conn, user_id, now).await?;
    drop(conn);
    let entry = NewAuditEntry {
        who: STAFF_REVOKE_ACTOR,
        action: "staff.sessions_revoke",
        target: &format!("user:{user_id}"),
        detail: Some(json!({ "ended": ended })),
    };
    if let Err(e) = audit::record(db, &entry, now).await {
        tracing::error!(error = %e, "cannot audit the command line's session revoke");
    }
    Ok(RevokedSessions { user_id, ended })
}
