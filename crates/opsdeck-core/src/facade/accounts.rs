//! Accounts at the facade: the sign-in flow (authorize → callback → link or create → console
//! role), users and their links, staff roles, link requests.

use chrono::Utc;
use serde_json::json;

use super::{Core, MAX_PAGE};
use crate::accounts::model::{
    Authorization, Identity, LinkRequest, ProviderInfo, ProviderKey, Purpose, Role, SignInOutcome, Staff, UserPage,
    UserQuery, UserView,
};
use crate::accounts::providers::{Attempt, OAuthProvider};
use crate::accounts::store::{self, RoleRefusal, UnlinkRefusal};
use crate::accounts::{Actor, Callback, random_token};
use crate::audit::NewAuditEntry;
use crate::db::{begin_write, is_retryable};
use crate::error::ApiError;
use crate::events::Event;

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

fn state_error() -> ApiError {
    ApiError::InvalidField {
        field: "state".into(),
        message: "this sign-in is unknown, expired or already used (the state does not match); start again".into(),
    }
}

impl Core {
    /// The configured sign-in providers.
    pub fn auth_providers(&self) -> Vec<ProviderInfo> {
        self.accounts().providers.infos()
    }

    /// True when `url` is `provider`'s registered redirect URI (the sign-in window stops there).
    pub fn oauth_is_redirect(&self, provider: ProviderKey, url: &url::Url) -> bool {
        self.accounts().providers.get(provider).is_ok_and(|p| crate::accounts::is_redirect(url, p.redirect_uri()))
    }

    /// Starts a sign-in: a fresh state (and PKCE verifier and nonce where supported), kept in
    /// Redis for `oauth_state_ttl`, and the provider's authorize URL.
    pub async fn oauth_authorize(&self, provider: ProviderKey, purpose: Purpose) -> Result<Authorization, ApiError> {
        let adapter = self.accounts().providers.get(provider)?;
        let pkce = adapter.uses_pkce();
        let attempt = Attempt {
            provider,
            purpose,
            state: random_token(),
            pkce_verifier: pkce.then(random_token),
            nonce: pkce.then(random_token),
            created_at: Utc::now(),
        };
        let url = adapter.authorize_url(&attempt).await?;
        self.accounts().attempts.put(&attempt).await?;
        Ok(Authorization { url, state: attempt.state })
    }

    /// Staff start linking another provider to a user.
    pub async fn link_start(
        &self,
        user_id: i64,
        provider: ProviderKey,
        actor: &Actor,
    ) -> Result<Authorization, ApiError> {
        actor.require_operator("link sign-ins")?;
        self.user_get(user_id).await?;
        self.oauth_authorize(provider, Purpose::Link { user_id }).await
    }

    /// Drops a sign-in attempt (the window was closed); its state can no longer be used.
    pub async fn oauth_cancel(&self, state: &str) -> Result<bool, ApiError> {
        Ok(self.accounts().attempts.cancel(state).await?)
    }

    /// Completes a console sign-in or a staff link from the provider's redirect (the desktop's
    /// sign-in window): the state must be one this core issued for this provider, for the
    /// console or a link, and not used before; the code is exchanged, the identity found or
    /// linked or a user created, and (for the console) the staff role settled.
    pub async fn oauth_callback(&self, provider: ProviderKey, callback: Callback) -> Result<SignInOutcome, ApiError> {
        self.complete_sign_in(provider, callback, |p| !matches!(p, Purpose::Shop)).await
    }

    /// Completes a shop customer's sign-in (the shop's login page, through the daemon's HTTP
    /// API): only a state issued for the shop is accepted, so a console or link attempt can
    /// never be finished through the shop's endpoint.
    pub async fn shop_oauth_callback(
        &self,
        provider: ProviderKey,
        callback: Callback,
    ) -> Result<SignInOutcome, ApiError> {
        self.complete_sign_in(provider, callback, |p| matches!(p, Purpose::Shop)).await
    }

    async fn complete_sign_in(
        &self,
        provider: ProviderKey,
        callback: Callback,
        allowed: impl Fn(&Purpose) -> bool,
    ) -> Result<SignInOutcome, ApiError> {
        let state = callback.state.as_deref().filter(|s| !s.is_empty()).ok_or_else(state_error)?;
        // Taken whatever its purpose: a state offered at the wrong door is spent, not left for
        // a second try.
        let attempt = self.accounts().attempts.take(state).await?.ok_or_else(state_error)?;
        if attempt.provider != provider || !allowed(&attempt.purpose) {
            return Err(state_error());
        }
        let adapter = self.accounts().providers.get(provider)?;
        let Some(code) = callback.code.as_deref().filter(|c| !c.is_empty()) else {
            let why = callback.error_description.or(callback.error).unwrap_or_else(|| "no code came back".into());
            return Err(ApiError::SignInRefused(format!("the sign-in was refused at {}: {why}", adapter.name())));
        };
        let identity = adapter.exchange(code, &attempt).await?;
        tracing::info!(provider = %provider, purpose = ?attempt.purpose, "sign-in: identity received");
        let outcome = self.settle(adapter.as_ref(), &identity, attempt.purpose).await?;
        self.publish(Event::AccountsChanged);
        Ok(outcome)
    }

    /// Links or creates, in one transaction (again once, should a concurrent sign-in of the same
    /// identity insert first), then builds the outcome.
    async fn settle(
        &self,
        adapter: &dyn OAuthProvider,
        identity: &Identity,
        purpose: Purpose,
    ) -> Result<SignInOutcome, ApiError> {
        let mut tries = 0;
        let (resolved, staff_role) = loop {
            tries += 1;
            match self.resolve(identity, purpose).await {
                Err(e) if tries < 3 && (store::is_unique_violation(&e) || is_retryable(&e)) => {
                    continue;
                }
                other => break other?,
            }
        };
        let now = Utc::now();
        match resolved {
            Resolved::Conflict { owner } => Err(ApiError::InvalidInput(format!(
                "this {} account is already linked to user {owner}; unlink it there first",
                identity.provider.display_name()
            ))),
            Resolved::Pending { request_id } => {
                let requests = self.link_requests_list().await?;
                let request = requests.into_iter().find(|r| r.id == request_id).ok_or_else(|| {
                    ApiError::NotFound("the link request was resolved meanwhile; sign in again".into())
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

    /// The link step's transaction; returns what it did and, for a console sign-in, the role.
    async fn resolve(&self, identity: &Identity, purpose: Purpose) -> sqlx::Result<(Resolved, Option<Role>)> {
        let db = self.database();
        let cipher = &self.accounts().cipher;
        let now = Utc::now();
        let mut tx = begin_write(db).await?;
        let resolved = match store::find_link(&mut tx, identity.provider, &identity.uid).await? {
            Some((link_id, user_id)) => {
                if let Purpose::Link { user_id: wanted } = purpose
                    && wanted != user_id
                {
                    tx.rollback().await?;
                    return Ok((Resolved::Conflict { owner: user_id }, None));
                }
                store::touch_link(&mut tx, link_id, user_id, identity, cipher, now).await?;
                match purpose {
                    Purpose::Link { .. } => Resolved::Linked { user_id },
                    _ => Resolved::Existing { user_id },
                }
            }
            None => match purpose {
                Purpose::Link { user_id } => {
                    store::insert_link(db, &mut tx, user_id, identity, cipher, now, false).await?;
                    Resolved::Linked { user_id }
                }
                _ => {
                    let matched = match identity.mobile.as_deref() {
                        Some(mobile) => store::user_with_mobile(&mut tx, mobile).await?.map(|u| (u, mobile)),
                        None => None,
                    };
                    match matched {
                        Some((user_id, mobile)) => Resolved::Pending {
                            request_id: store::upsert_link_request(db, &mut tx, user_id, identity, mobile, cipher, now)
                                .await?,
                        },
                        None => {
                            let user_id = store::insert_user(db, &mut tx, identity, now).await?;
                            store::insert_link(db, &mut tx, user_id, identity, cipher, now, true).await?;
                            Resolved::Created { user_id }
                        }
                    }
                }
            },
        };
        let role = match (&resolved, purpose) {
            (Resolved::Existing { user_id } | Resolved::Created { user_id }, Purpose::Console) => {
                let current = store::role_of(&mut tx, *user_id).await?.flatten();
                match current {
                    Some(role) => Some(role),
                    None => {
                        // The very first console sign-in becomes the admin; later newcomers get
                        // the configured default role (none: an admin grants one).
                        let granted = if store::any_admin(&mut tx).await? {
                            self.config().staff_default_role
                        } else {
                            Some(Role::Admin)
                        };
                        if let Some(role) = granted {
                            store::set_role(&mut tx, *user_id, Some(role)).await?.ok();
                        }
                        granted
                    }
                }
            }
            _ => None,
        };
        tx.commit().await?;
        Ok((resolved, role))
    }

    /// The signed-in staff member as an [`Actor`], with the role as it is now (an admin may have
    /// changed it since the sign-in).
    pub async fn staff_actor(&self, staff: &Staff) -> Result<Actor, ApiError> {
        let mut conn = self.database().pool().acquire().await?;
        match store::role_of(&mut conn, staff.user_id).await? {
            Some(Some(role)) => Ok(Actor::staff(&Staff { role, ..staff.clone() })),
            Some(None) => Err(ApiError::Forbidden("your console role was removed; ask an admin".into())),
            None => Err(ApiError::Unauthenticated("your user no longer exists; sign in again".into())),
        }
    }

    /// Audits a staff member's sign-out.
    pub async fn staff_signed_out(&self, staff: &Staff) {
        self.audit_accounts(&Actor::staff(staff), "staff.sign_out", &format!("user:{}", staff.user_id), json!({}))
            .await;
    }

    /// One user with their links.
    pub async fn user_get(&self, id: i64) -> Result<UserView, ApiError> {
        let mut conn = self.database().pool().acquire().await?;
        store::user(&mut conn, id).await?.ok_or_else(|| ApiError::NotFound(format!("no user {id}")))
    }

    /// Users newest first, with their links; `search` matches the mobile or the username.
    pub async fn users_list(&self, query: UserQuery) -> Result<UserPage, ApiError> {
        if query.limit == 0 || query.limit > MAX_PAGE {
            return Err(ApiError::InvalidField {
                field: "limit".into(),
                message: format!("limit must be between 1 and {MAX_PAGE}"),
            });
        }
        if query.search.as_ref().is_some_and(|s| s.len() > 100) {
            return Err(ApiError::InvalidField { field: "search".into(), message: "the search is too long".into() });
        }
        let mut conn = self.database().pool().acquire().await?;
        Ok(store::users_page(&mut conn, &query).await?)
    }

    /// Removes a linked sign-in, unless it is the user's last.
    pub async fn unlink(&self, link_id: i64, actor: &Actor) -> Result<UserView, ApiError> {
        actor.require_operator("unlink sign-ins")?;
        let mut tx = begin_write(self.database()).await?;
        let done = store::unlink(&mut tx, link_id).await?;
        let (user_id, provider, uid) = match done {
            Ok(done) => done,
            Err(UnlinkRefusal::NoSuchLink) => return Err(ApiError::NotFound(format!("no linked sign-in {link_id}"))),
            Err(UnlinkRefusal::LastLink) => {
                return Err(ApiError::InvalidInput(
                    "this is the user's last sign-in method: it cannot be unlinked (link another first)".into(),
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

    /// Sets or removes a user's console role (admins only; the last admin stays).
    pub async fn staff_set_role(&self, user_id: i64, role: Option<Role>, actor: &Actor) -> Result<UserView, ApiError> {
        actor.require_admin("change console roles")?;
        let mut tx = begin_write(self.database()).await?;
        match store::set_role(&mut tx, user_id, role).await? {
            Ok(()) => tx.commit().await?,
            Err(RoleRefusal::NoSuchUser) => return Err(ApiError::NotFound(format!("no user {user_id}"))),
            Err(RoleRefusal::LastAdmin) => {
                return Err(ApiError::InvalidInput("this is the last admin: make someone else admin first".into()));
            }
        }
        self.audit_accounts(actor, "staff.set_role", &format!("user:{user_id}"), json!({ "role": role })).await;
        self.publish(Event::AccountsChanged);
        self.user_get(user_id).await
    }

    /// Links waiting for staff to confirm them.
    pub async fn link_requests_list(&self) -> Result<Vec<LinkRequest>, ApiError> {
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
            match store::accept_link_request(&mut tx, id, Utc::now()).await {
                Ok(Some(user_id)) => Some(user_id),
                Ok(None) => return Err(ApiError::NotFound(format!("no link request {id}"))),
                Err(e) if store::is_unique_violation(&e) => {
                    return Err(ApiError::InvalidInput("this sign-in was linked to a user meanwhile".into()));
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            if !store::delete_link_request(&mut tx, id).await? {
                return Err(ApiError::NotFound(format!("no link request {id}")));
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

    /// Audits an accounts action; a failed audit write is logged (the change stands).
    async fn audit_accounts(&self, actor: &Actor, action: &str, target: &str, detail: serde_json::Value) {
        let entry = NewAuditEntry { who: &actor.name, action, target, detail: Some(detail) };
        if let Err(e) = self.record_audit(entry).await {
            tracing::error!(action, error = %e, "cannot audit an accounts action");
        }
    }
}
