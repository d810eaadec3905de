//! Accounts at the facade: the sign-in flow (authorize → callback → link or create → console
//! role), users and their links, staff roles, link requests.
//!
//! - [`sign_in`]: authorize, callback and cancel (the attempt's state and binding).
//! - [`resolve`]: the link step (link, create or ask staff) and the console role it settles.
//! - [`users`]: users, their links, console roles and link requests, as staff manage them.
//!
//! Here: the right of one staff member over a user, and the audit of accounts actions.

mod resolve;
mod sign_in;
mod users;

use super::Core;
use crate::accounts::Actor;
use crate::accounts::model::Role;
use crate::accounts::store;
use crate::audit::NewAuditEntry;
use crate::error::ApiError;

/// Whether `actor` may act on `target` (link, unlink, accept a link request): a user whose role
/// is at or above the actor's needs an admin, unless the actor is that user. Both roles are read
/// inside the caller's transaction, which holds [`store::lock_staff`]; a staff actor whose role
/// was removed meanwhile is refused.
async fn check_right_over(
    conn: &mut sqlx::AnyConnection,
    actor: &Actor,
    target: i64,
    what: &str,
) -> Result<(), ApiError> {
    let actor_role = match actor.user_id {
        None => actor.role,
        Some(id) => match store::role_of(conn, id).await?.flatten() {
            Some(role) => role,
            None => {
                return Err(ApiError::role_refused(
                    "none",
                    "use_the_console",
                    "your console role was removed; ask an admin",
                ));
            }
        },
    };
    Actor { role: actor_role, ..actor.clone() }.require_operator(what)?;
    let Some(target_role) = store::role_of(conn, target).await? else {
        return Err(ApiError::user_not_found(target));
    };
    if actor.user_id == Some(target) || actor_role == Role::Admin {
        return Ok(());
    }
    match target_role {
        Some(role) if role >= actor_role => Err(ApiError::role_refused(
            actor_role.as_str(),
            &crate::accounts::model::action_word(what),
            format!("only an admin can {what} for a user who is {} (you are {})", role.as_str(), actor_role.as_str()),
        )),
        _ => Ok(()),
    }
}

impl Core {
    /// Audits an accounts action; a failed audit write is logged (the change stands).
    async fn audit_accounts(&self, actor: &Actor, action: &str, target: &str, detail: serde_json::Value) {
        let entry = NewAuditEntry { who: &actor.name, action, target, detail: Some(detail) };
        if let Err(e) = self.record_audit(entry).await {
            tracing::error!(action, error = %e, "cannot audit an accounts action");
        }
    }
}
