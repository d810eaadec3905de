//! Users and their links as staff see and manage them: the signed-in staff member's actor,
//! users listed and read, sign-ins unlinked, console roles set, link requests resolved.

use chrono::Utc;
use serde_json::json;

use super::check_right_over;
use crate::accounts::Actor;
use crate::accounts::model::{LinkRequest, Role, Staff, UserPage, UserQuery, UserView};
use crate::accounts::store::{self, RoleRefusal, UnlinkRefusal};
use crate::db::begin_write;
use crate::error::{ApiError, ErrorCode};
use crate::events::Event;
use crate::facade::{Core, MAX_PAGE};

fn link_not_found(id: i64) -> ApiError {
    ApiError::coded(ErrorCode::LinkNotFound, format!("no linked sign-in {id}")).param("id", id)
}

fn link_request_not_found(id: i64) -> ApiError {
    ApiError::coded(ErrorCode::LinkRequestNotFound, format!("no link request {id}")).param("id", id)
}

impl Core {
    /// The signed-in staff member as an [`Actor`], with the role as it is now (an admin may have
    /// changed it since the sign-in).
    pub async fn staff_actor(&self, staff: &Staff) -> Result<Actor, ApiError> {
        let mut conn = self.database().pool().acquire().await?;
        match store::role_of(&mut conn, staff.user_id).await? {
            Some(Some(role)) => Ok(Actor::staff(&Staff { role, ..staff.clone() })),
            Some(None) => {
                Err(ApiError::role_refused("none", "use_the_console", "your console role was removed; ask an admin"))
            }
            None => Err(ApiError::Unauthenticated("your user no longer exists; sign in again".into())),
        }
    }

    /// One user with their links.
    pub async fn user_get(&self, id: i64) -> Result<UserView, ApiError> {
        let mut conn = self.database().pool().acquire().await?;
        store::user(&mut conn, id).await?.ok_or_else(|| ApiError::user_not_found(id))
    }

    /// Users newest first, with their links; `search` matches the mobile or the username (any
    /// staff member).
    pub async fn users_list(&self, query: UserQuery, actor: &Actor) -> Result<UserPage, ApiError> {
        self.require_reader(actor).await?;
        if query.limit == 0 || query.limit > MAX_PAGE {
            return Err(ApiError::out_of_range("limit", 1, MAX_PAGE));
        }
        if query.search.as_ref().is_some_and(|s| s.len() > 100) {
            return Err(ApiError::coded(ErrorCode::TextTooLong, "the search is too long")
                .field("search")
                .param("max", 100));
        }
        let mut conn = self.database().pool().acquire().await?;
        Ok(store::users_page(&mut conn, &query).await?)
    }

    /// Removes a linked sign-in, unless it is the user's last.
    pub async fn unlink(&self, link_id: i64, actor: &Actor) -> Result<UserView, ApiError> {
        actor.require_operator("unlink sign-ins")?;
        let mut tx = begin_write(self.database()).await?;
        store::lock_staff(&mut tx).await?;
        let owner = store::link_owner(&mut tx, link_id).await?.ok_or_else(|| link_not_found(link_id))?;
        check_right_over(&mut tx, actor, owner, "unlink sign-ins").await?;
        let done = store::unlink(&mut tx, link_id).await?;
        let (user_id, provider, uid) = match done {
            Ok(done) => done,
            Err(UnlinkRefusal::NoSuchLink) => return Err(link_not_found(link_id)),
            Err(UnlinkRefusal::LastLink) => {
                return Err(ApiError::coded(
                    ErrorCode::LinkLast,
                    "this is the user's last sign-in method: it cannot be unlinked (link another first)",
                ));
            }
        };
        tx.commit().await?;
        self.audit_accounts(
            actor,
            "account.unlink",
            &format!("user:{user_id}"),
            json!({
                "provider": provider,
                "uid": crate::accounts::model::mask_middle(&uid),
            }),
        )
        .await;
        self.publish(Event::AccountsChanged);
        self.user_get(user_id).await
    }

    /// Sets or removes a user's console role: admins only (anyone may lower their own), and the
    /// last admin stays. Decided under [`store::lock_staff`] with the actor's role as it is at
    /// that moment, so two admins demoting each other at once cannot both succeed.
    pub async fn staff_set_role(&self, user_id: i64, role: Option<Role>, actor: &Actor) -> Result<UserView, ApiError> {
        let mut tx = begin_write(self.database()).await?;
        store::lock_staff(&mut tx).await?;
        let actor_role = match actor.user_id {
            None => Some(actor.role),
            Some(id) => store::role_of(&mut tx, id).await?.flatten(),
        };
        let stepping_down = actor.user_id == Some(user_id) && actor_role.is_some() && role < actor_role;
        if !stepping_down {
            match actor_role {
                Some(current) => Actor { role: current, ..actor.clone() }.require_admin("change console roles")?,
                None => {
                    return Err(ApiError::role_refused(
                        "none",
                        "use_the_console",
                        "your console role was removed; ask an admin",
                    ));
                }
            }
        }
        if role.is_some()
            && store::role_of(&mut tx, user_id).await?.is_some()
            && !store::allowed_staff(&self.config().staff_allow, &store::identities_of(&mut tx, user_id).await?)
        {
            return Err(ApiError::staff_not_allowed(user_id));
        }
        match store::set_role(&mut tx, user_id, role).await? {
            Ok(()) => tx.commit().await?,
            Err(RoleRefusal::NoSuchUser) => return Err(ApiError::user_not_found(user_id)),
            Err(RoleRefusal::LastAdmin) => {
                return Err(ApiError::coded(
                    ErrorCode::LastAdmin,
                    "this is the last admin: make someone else admin first",
                ));
            }
        }
        self.audit_accounts(actor, "staff.set_role", &format!("user:{user_id}"), json!({ "role": role })).await;
        self.publish(Event::AccountsChanged);
        self.user_get(user_id).await
    }

    /// Links waiting for staff to confirm them (any staff member).
    pub async fn link_requests_list(&self, actor: &Actor) -> Result<Vec<LinkRequest>, ApiError> {
        self.require_reader(actor).await?;
        let mut conn = self.database().pool().acquire().await?;
        Ok(store::link_requests(&mut conn).await?)
    }

    /// Confirms (links to the matched user) or rejects a link request; returns the user when linked.
    pub async fn link_request_resolve(
        &self,
        id: i64,
        accept: bool,
        actor: &Actor,
    ) -> Result<Option<UserView>, ApiError> {
        actor.require_operator("confirm links")?;
        let mut tx = begin_write(self.database()).await?;
        let user_id = if accept {
            store::lock_staff(&mut tx).await?;
            let target = store::link_request_user(&mut tx, id).await?.ok_or_else(|| link_request_not_found(id))?;
            check_right_over(&mut tx, actor, target, "confirm links").await?;
            match store::accept_link_request(&mut tx, id, Utc::now()).await {
                Ok(Some(user_id)) => Some(user_id),
                Ok(None) => return Err(link_request_not_found(id)),
                Err(e) if store::is_unique_violation(&e) => {
                    return Err(ApiError::coded(
                        ErrorCode::LinkedMeanwhile,
                        "this sign-in was linked to a user meanwhile",
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            if !store::delete_link_request(&mut tx, id).await? {
                return Err(link_request_not_found(id));
            }
            None
        };
        tx.commit().await?;
        let action = if accept { "account.link_confirm" } else { "account.link_reject" };
        self.audit_accounts(actor, action, &format!("link_request:{id}"), json!({ "user_id": user_id })).await;
        self.publish(Event::AccountsChanged);
        match user_id {
            Some(user_id) => Ok(Some(self.user_get(user_id).await?)),
            None => Ok(None),
        }
    }
}
