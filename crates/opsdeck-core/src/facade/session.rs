//! Who is asking. Every console read and action at the facade takes its caller (an [`Actor`]);
//! a front end turns its session into one with [`Core::session_actor`], which refuses when
//! nobody is signed in. Reads check here that a staff caller still holds a console role: an
//! actor kept across a role change or a deleted user reads nothing more.

use super::Core;
use crate::accounts::model::Staff;
use crate::accounts::{Actor, store};
use crate::error::ApiError;

impl Core {
    /// The caller of a console read or action: the window's signed-in staff member with the role
    /// as it is now. `None` (nobody signed in) is refused as unauthenticated.
    pub async fn session_actor(&self, staff: Option<&Staff>) -> Result<Actor, ApiError> {
        let staff = staff.ok_or_else(|| ApiError::Unauthenticated("sign in first".into()))?;
        self.staff_actor(staff).await
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
            Some(None) => Err(ApiError::Forbidden("your console role was removed; ask an admin".into())),
            None => Err(ApiError::Unauthenticated("your user no longer exists; sign in again".into())),
        }
    }

    /// Refuses a read by a caller who is not (or no longer) staff. Every console role may read.
    pub(crate) async fn require_reader(&self, actor: &Actor) -> Result<(), ApiError> {
        self.current_actor(actor).await.map(drop)
    }
}
