//! The link step of a sign-in: the identity found, linked or a user created (or a link request
//! for staff when only the mobile matches), in one transaction; then the outcome, with the
//! console role settled for a console sign-in.

use chrono::Utc;
use serde_json::json;

use super::check_right_over;
use crate::accounts::Actor;
use crate::accounts::model::{Identity, Purpose, Role, SignInOutcome, Staff};
use crate::accounts::providers::OAuthProvider;
use crate::accounts::store;
use crate::config::DatabaseBackend;
use crate::db::{begin_write, is_retryable};
use crate::error::{ApiError, ErrorCode};
use crate::facade::Core;

/// What the link step decided, inside its transaction.
enum Resolved {
    Existing {
        user_id: i64,
    },
    Created {
        user_id: i64,
    },
    Linked {
        user_id: i64,
    },
    Pending {
        request_id: i64,
    },
    /// A link attempt for one user found the identity linked to another.
    Conflict {
        owner: i64,
    },
}

/// Why the link step failed: the database, or a refusal decided inside it.
enum ResolveError {
    Sql(sqlx::Error),
    Refused(ApiError),
}

impl From<sqlx::Error> for ResolveError {
    fn from(e: sqlx::Error) -> ResolveError {
        ResolveError::Sql(e)
    }
}

impl From<ApiError> for ResolveError {
    fn from(e: ApiError) -> ResolveError {
        ResolveError::Refused(e)
    }
}

impl Core {
    /// Links or creates, in one transaction (again once, should a concurrent sign-in of the same
    /// identity insert first), then builds the outcome.
    pub(super) async fn settle(
        &self,
        adapter: &dyn OAuthProvider,
        identity: &Identity,
        purpose: Purpose,
    ) -> Result<SignInOutcome, ApiError> {
        let mut tries = 0;
        let resolved = loop {
            tries += 1;
            match self.resolve(identity, purpose).await {
                Err(ResolveError::Sql(e)) if tries < 3 && (store::is_unique_violation(&e) || is_retryable(&e)) => {
                    continue;
                }
                Err(ResolveError::Sql(e)) => return Err(e.into()),
                Err(ResolveError::Refused(e)) => return Err(e),
                Ok(resolved) => break resolved,
            }
        };
        // With a staff allow-list, only a listed sign-in opens the console (and gets a role).
        let listed = store::allowed_staff(&self.config().staff_allow, &[(identity.provider, identity.uid.clone())]);
        let staff_role = match (&resolved, purpose) {
            (Resolved::Existing { user_id } | Resolved::Created { user_id }, Purpose::Console) if listed => {
                let bootstrap = self
                    .config()
                    .bootstrap_admin
                    .as_ref()
                    .is_some_and(|(provider, uid)| *provider == identity.provider && *uid == identity.uid);
                crate::db::retrying(|| self.console_role(*user_id, bootstrap)).await?
            }
            _ => None,
        };
        let now = Utc::now();
        match resolved {
            Resolved::Conflict { owner } => Err(ApiError::coded(
                ErrorCode::IdentityLinkedElsewhere,
                format!(
                    "this {} account is already linked to user {owner}; unlink it there first",
                    identity.provider.display_name()
                ),
            )
            .param("provider", identity.provider.as_str())
            .param("user_id", owner)),
            Resolved::Pending { request_id } => {
                let mut conn = self.database().pool().acquire().await?;
                let requests = store::link_requests(&mut conn).await?;
                let request = requests.into_iter().find(|r| r.id == request_id).ok_or_else(|| {
                    ApiError::coded(
                        ErrorCode::LinkRequestNotFound,
                        "the link request was resolved meanwhile; sign in again",
                    )
                    .param("id", request_id)
                })?;
                Ok(SignInOutcome::PendingLink { request })
            }
            Resolved::Linked { user_id } => {
                let user = self.user_get(user_id).await?;
                Ok(SignInOutcome::Linked { user })
            }
            Resolved::Existing { user_id } | Resolved::Created { user_id } => {
                let user = self.user_get(user_id).await?;
                let new_user = matches!(resolved, Resolved::Created { .. });
                let staff = match (purpose, staff_role) {
                    (Purpose::Console, Some(role)) => Some(Staff {
                        user_id,
                        name: user.nickname.clone().unwrap_or_else(|| user.username.clone()),
                        role,
                        provider: adapter.key(),
                        avatar: user.avatar.clone(),
                        signed_in_at: now,
                    }),
                    _ => None,
                };
                if let Some(staff) = &staff {
                    self.audit_accounts(
                        &Actor::staff(staff),
                        "staff.sign_in",
                        &format!("user:{user_id}"),
                        json!({
                            "provider": adapter.key(),
                            "role": staff.role,
                        }),
                    )
                    .await;
                }
                Ok(SignInOutcome::SignedIn { user, new_user, linked: new_user, staff })
            }
        }
    }

    /// The link step's transaction; returns what it did. A staff link checks again, under
    /// [`store::lock_staff`], that its starter may still act on the user.
    async fn resolve(&self, identity: &Identity, purpose: Purpose) -> Result<Resolved, ResolveError> {
        let db = self.database();
        let now = Utc::now();
        let mut tx = begin_write(db).await?;
        if let Purpose::Link { user_id, by: Some(by) } = purpose {
            store::lock_staff(&mut tx).await?;
            let starter = match store::role_of(&mut tx, by).await?.flatten() {
                Some(role) => Actor { name: String::new(), role, user_id: Some(by) },
                None => {
                    return Err(ResolveError::Refused(ApiError::role_refused(
                        "none",
                        "link_sign_ins",
                        "the staff member who started this link has no console role any more",
                    )));
                }
            };
            check_right_over(&mut tx, &starter, user_id, "link sign-ins").await.map_err(ResolveError::Refused)?;
        }
        let resolved = match store::find_link(&mut tx, identity.provider, &identity.uid).await? {
            Some((link_id, user_id)) => {
                if let Purpose::Link { user_id: wanted, .. } = purpose
                    && wanted != user_id
                {
                    tx.rollback().await?;
                    return Ok(Resolved::Conflict { owner: user_id });
                }
                store::touch_link(&mut tx, link_id, user_id, identity, now).await?;
                match purpose {
                    Purpose::Link { .. } => Resolved::Linked { user_id },
                    _ => Resolved::Existing { user_id },
                }
            }
            None => match purpose {
                Purpose::Link { user_id, .. } => {
                    store::insert_link(db, &mut tx, user_id, identity, now, false).await?;
                    Resolved::Linked { user_id }
                }
                _ => {
                    let matched = match identity.mobile.as_deref() {
                        Some(mobile) => store::user_with_mobile(&mut tx, mobile).await?.map(|u| (u, mobile)),
                        None => None,
                    };
                    match matched {
                        Some((user_id, mobile)) => Resolved::Pending {
                            request_id: store::upsert_link_request(db, &mut tx, user_id, identity, mobile, now).await?,
                        },
                        None => {
                            let user_id = store::insert_user(db, &mut tx, identity, now).await?;
                            store::insert_link(db, &mut tx, user_id, identity, now, true).await?;
                            Resolved::Created { user_id }
                        }
                    }
                }
            },
        };
        tx.commit().await?;
        Ok(resolved)
    }

    /// The console role of a user who just signed into the console, settled under
    /// [`store::lock_staff`]: their role if they have one; else admin when there is no admin yet
    /// and either this start is one person's own (sandbox mode, or the embedded database in the
    /// data dir that the run command uses when nothing is configured) or the sign-in is the
    /// configured `bootstrap_admin` (`bootstrap`); else `staff_default_role`. On a shared
    /// database the first admin is made explicitly (`bootstrap_admin`, or `opsdeckd staff
    /// grant-admin`).
    async fn console_role(&self, user_id: i64, bootstrap: bool) -> sqlx::Result<Option<Role>> {
        let mut tx = begin_write(self.database()).await?;
        store::lock_staff(&mut tx).await?;
        let role = match store::role_of(&mut tx, user_id).await?.flatten() {
            Some(role) => Some(role),
            None => {
                let granted = if (bootstrap || self.first_sign_in_is_admin()) && !store::any_admin(&mut tx).await? {
                    Some(Role::Admin)
                } else {
                    self.config().staff_default_role
                };
                if let Some(role) = granted {
                    store::set_role(&mut tx, user_id, Some(role)).await?.ok();
                }
                granted
            }
        };
        tx.commit().await?;
        Ok(role)
    }

    /// True when the first console sign-in may become admin: sandbox mode, or the embedded
    /// database the configuration left at its default (one person's own machine and data).
    fn first_sign_in_is_admin(&self) -> bool {
        let config = self.config();
        config.sandbox_mode
            || (config.database_backend() == DatabaseBackend::Sqlite
                && config.sources.get("database_url").is_none_or(|origin| origin == "default"))
    }
}
