//! Who is asking. A console operation names its caller by a session token ([`SessionToken`]);
//! the core looks the session up in SQL (see `accounts::sessions`) and reads the staff member's
//! role as it is now, so a session outlives a restart of the app, an admin can end it, and a
//! role removed or a user deleted ends what it may do at once. Reads check that the caller
//! still holds a console role; actions check more (see `Actor`).

use chrono::Utc;
use opsdeck_api::{SessionToken, SessionView};
use serde_json::json;

use super::Core;
use crate::accounts::model::Staff;
use crate::accounts::{Actor, sessions, store};
use crate::audit::NewAuditEntry;
use crate::error::ApiError;

/// A resolved caller: the session, its staff member, and the actor the facade checks.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub session: sessions::SessionRow,
    pub staff: Staff,
    pub actor: Actor,
}

impl Core {
    /// The caller a session token names, with the role as it is now: refused as
    /// `unauthenticated` without a token, for an unknown, expired or revoked one, or when the
    /// user is gone; as `forbidden` when the user no longer holds a console role.
    pub(crate) async fn caller(&self, token: &SessionToken) -> Result<Caller, ApiError> {
        self.caller_at(token, true).await
    }

    /// [`Core::caller`] without recording a use when `used` is false (a live stream's check).
    pub(crate) async fn caller_at(&self, token: &SessionToken, used: bool) -> Result<Caller, ApiError> {
        if token.is_empty() {
            return Err(ApiError::Unauthenticated("sign in first".into()));
        }
        let session =
            sessions::resolve(self.database().pool(), token.expose(), Utc::now(), self.session_limits(), used)
                .await?
                .ok_or_else(|| {
                ApiError::Unauthenticated("your session has ended (expired or revoked); sign in again".into())
            })?;
        let mut conn = self.database().pool().acquire().await?;
        let user = store::user_alone(&mut conn, session.user_id)
            .await?
            .ok_or_else(|| ApiError::Unauthenticated("your user no longer exists; sign in again".into()))?;
        let role = user.role.ok_or_else(|| {
            ApiError::role_refused("none", "use_the_console", "your console role was removed; ask an admin")
        })?;
        let staff = Staff {
            user_id: user.id,
            name: user.nickname.clone().unwrap_or_else(|| user.username.clone()),
            role,
            provider: session.provider,
            avatar: user.avatar.clone(),
            signed_in_at: session.created_at,
        };
        let actor = Actor::staff(&staff);
        Ok(Caller { session, staff, actor })
    }

    /// How long sessions live (configured).
    pub(crate) fn session_limits(&self) -> sessions::Limits {
        sessions::Limits::of(self.config())
    }

    /// Opens a session for a staff member who just signed in; its token, given once.
    pub(crate) async fn open_session(&self, staff: &Staff) -> Result<SessionToken, ApiError> {
        let mut conn = self.database().pool().acquire().await?;
        let token =
            sessions::create(&mut conn, staff.user_id, staff.provider, Utc::now(), self.session_limits()).await?;
        Ok(SessionToken::new(token))
    }

    /// A session for a user, as a console sign-in would open it: for the tests, which sign in
    /// without a provider.
    #[cfg(feature = "internals")]
    pub async fn open_session_for(
        &self,
        user_id: i64,
        provider: crate::accounts::model::ProviderKey,
    ) -> Result<SessionToken, ApiError> {
        let mut conn = self.database().pool().acquire().await?;
        Ok(SessionToken::new(sessions::create(&mut conn, user_id, provider, Utc::now(), self.session_limits()).await?))
    }

    /// Ends the caller's own session (audited).
    pub(crate) async fn close_session(&self, caller: &Caller) -> Result<(), ApiError> {
        let mut conn = self.database().pool().acquire().await?;
        sessions::revoke(&mut conn, caller.session.id, Utc::now()).await?;
        self.record_audit(NewAuditEntry {
            who: caller.actor.name(),
            action: "staff.sign_out",
            target: &format!("user:{}", caller.staff.user_id),
            detail: Some(json!({ "session": caller.session.id })),
        })
        .await?;
        Ok(())
    }

    /// Every live session (admins).
    pub(crate) async fn sessions_live(&self, caller: &Caller) -> Result<Vec<SessionView>, ApiError> {
        caller.actor.require_admin("list the staff sessions")?;
        let rows = sessions::live(self.database().pool(), Utc::now(), self.session_limits()).await?;
        let mut conn = self.database().pool().acquire().await?;
        let mut views = Vec::with_capacity(rows.len());
        for row in rows {
            // A user gone or without a role any more: the session opens nothing, so it is not shown.
            let (name, role) = match store::user_alone(&mut conn, row.user_id).await? {
                Some(user) => match user.role {
                    Some(role) => (user.nickname.unwrap_or(user.username), role),
                    None => continue,
                },
                None => continue,
            };
            views.push(SessionView {
                id: row.id,
                user_id: row.user_id,
                name,
                role,
                provider: row.provider,
                created_at: row.created_at,
                last_seen_at: row.last_seen_at,
                expires_at: row.ends_at(self.session_limits()),
                current: row.id == caller.session.id,
            });
        }
        Ok(views)
    }

    /// Ends a session (admins; audited). Ending one that already ended changes nothing.
    pub(crate) async fn session_end(&self, caller: &Caller, id: i64) -> Result<(), ApiError> {
        caller.actor.require_admin("end staff sessions")?;
        let mut conn = self.database().pool().acquire().await?;
        let ended = sessions::revoke(&mut conn, id, Utc::now()).await?;
        self.record_audit(NewAuditEntry {
            who: caller.actor.name(),
            action: "staff.session_revoke",
            target: &format!("session:{id}"),
            detail: Some(json!({ "was_live": ended })),
        })
        .await?;
        Ok(())
    }

    /// Ends every session of a staff member (the server's command line; audited).
    pub async fn sessions_revoke_user(&self, user_id: i64, who: &str) -> Result<u64, ApiError> {
        let mut conn = self.database().pool().acquire().await?;
        let ended = sessions::revoke_user(&mut conn, user_id, Utc::now()).await?;
        self.record_audit(NewAuditEntry {
            who,
            action: "staff.sessions_revoke",
            target: &format!("user:{user_id}"),
            detail: Some(json!({ "ended": ended })),
        })
        .await?;
        Ok(ended)
    }

    /// `actor` with its role as it is now: a staff member's is read again (refused when removed,
    /// or when the user is gone); a trusted caller (no user) is taken as it is.
    pub(crate) async fn current_actor(&self, actor: &Actor) -> Result<Actor, ApiError> {
        let Some(user_id) = actor.user_id else {
            return Ok(actor.clone());
        };
        let mut conn = self.database().pool().acquire().await?;
        match store::role_of(&mut conn, user_id).await? {
            Some(Some(role)) => Ok(Actor { role, ..actor.clone() }),
            Some(None) => {
                Err(ApiError::role_refused("none", "use_the_console", "your console role was removed; ask an admin"))
            }
            None => Err(ApiError::Unauthenticated("your user no longer exists; sign in again".into())),
        }
    }

    /// Refuses a read by a caller who is not (or no longer) staff. Every console role may read.
    pub(crate) async fn require_reader(&self, actor: &Actor) -> Result<(), ApiError> {
        self.current_actor(actor).await.map(drop)
    }
}
