//! The explicit first admin of a shared database: `opsdeckd staff grant-admin`. On a database
//! that several people's consoles share, the first console sign-in gets no role (only sandbox
//! mode and the embedded default database, one person's own, make it admin); whoever runs the
//! daemon's command line with the database's credentials names the first admin instead, by the
//! identity they signed in with or by their user number (the console shows it to a newcomer).
//!
//! It needs only the database (no Redis, no core tasks), runs under [`store::lock_staff`] like
//! every role change, and is audited.

use chrono::Utc;
use serde_json::json;

use super::model::{ProviderKey, Role, mask_middle};
use super::store;
use crate::audit::{self, NewAuditEntry};
use crate::config::Config;
use crate::db::{Database, begin_write};
use crate::error::ApiError;

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
                ApiError::NotFound(format!(
                    "nobody has signed in with {} uid {} yet: sign into the console once (you get no role), then \
                     run this again",
                    provider.display_name(),
                    mask_middle(uid)
                ))
            })?
        }
    };
    let Some(previous) = store::role_of(&mut tx, user_id).await? else {
        return Err(ApiError::NotFound(format!("no user {user_id}")));
    };
    if !store::allowed_staff(allow, &store::identities_of(&mut tx, user_id).await?) {
        return Err(ApiError::InvalidInput(format!(
            "user {user_id} has no sign-in on the staff allow-list (`staff_allow`): add one there first"
        )));
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
