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
use crate::accounts::{Actor, Callback, Taken, binding_hash, random_token};
use crate::audit::NewAuditEntry;
use crate::config::DatabaseBackend;
use crate::db::{begin_write, is_retryable};
use crate::error::{ApiError, ErrorCode};
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

fn state_error() -> ApiError {
    ApiError::coded(
        ErrorCode::SignInStateInvalid,
        "this sign-in is unknown, expired or already used (the state does not match); start again",
    )
    .field("state")
}

/// A callback bringing the state of an attempt started elsewhere (another window, another
/// customer's browser): refused, and that attempt is left for its own callback.
fn bound_elsewhere() -> ApiError {
    ApiError::coded(
        ErrorCode::SignInElsewhere,
        "this sign-in was started elsewhere (another window or browser session); start again here",
    )
    .field("state")
}

fn link_not_found(id: i64) -> ApiError {
    ApiError::coded(ErrorCode::LinkNotFound, format!("no linked sign-in {id}")).param("id", id)
}

fn link_request_not_found(id: i64) -> ApiError {
    ApiError::coded(ErrorCode::LinkRequestNotFound, format!("no link request {id}")).param("id", id)
}

/// The longest `binding` accepted, and the shortest (a guessable binding would bind nothing).
const MAX_BINDING: usize = 512;
const MIN_BINDING: usize = 16;

fn check_binding(binding: &str) -> Result<(), ApiError> {
    let n = binding.chars().count();
    if (MIN_BINDING..=MAX_BINDING).contains(&n) && !binding.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(ApiError::coded(
            ErrorCode::BindingInvalid,
            format!(
                "the binding must be {MIN_BINDING}–{MAX_BINDING} printable characters, secret to the customer's \
                 browser session (e.g. a hash of its session id)"
            ),
        )
        .field("binding")
        .param("min", MIN_BINDING)
        .param("max", MAX_BINDING))
    }
}

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
    /// The configured sign-in providers.
    pub fn auth_providers(&self) -> Vec<ProviderInfo> {
        self.accounts().providers.infos()
    }

    /// True when `url` is `provider`'s registered redirect URI (the sign-in window stops there).
    pub fn oauth_is_redirect(&self, provider: ProviderKey, url: &url::Url) -> bool {
        self.accounts().providers.get(provider).is_ok_and(|p| crate::accounts::is_redirect(url, p.redirect_uri()))
    }

    /// Starts a sign-in: a fresh state (and PKCE verifier and nonce where supported), kept in
    /// Redis for `oauth_state_ttl`, and the provider's authorize URL. The attempt is bound to
    /// `binding`, an opaque value only its rightful caller knows (the desktop: a secret of the
    /// window that started it; the shop: one derived from the customer's browser session): the
    /// callback must bring it again, so a state from someone else's attempt signs nobody in
    /// here (login CSRF).
    pub async fn oauth_authorize(
        &self,
        provider: ProviderKey,
        purpose: Purpose,
        binding: &str,
    ) -> Result<Authorization, ApiError> {
        check_binding(binding)?;
        let adapter = self.accounts().providers.get(provider)?;
        let pkce = adapter.uses_pkce();
        let attempt = Attempt {
            provider,
            purpose,
            state: random_token(),
            pkce_verifier: pkce.then(random_token),
            nonce: pkce.then(random_token),
            binding: Some(binding_hash(binding)),
            created_at: Utc::now(),
        };
        let url = adapter.authorize_url(&attempt).await?;
        self.accounts().attempts.put(&attempt).await?;
        Ok(Authorization { url, state: attempt.state, redirect_uri: adapter.redirect_uri().to_string() })
    }

    /// Starts a shop customer's sign-in (the shop's login page, through the daemon's HTTP API):
    /// [`Core::oauth_authorize`] for the shop, bound to `binding` (derived from the customer's
    /// browser session); only [`Core::shop_oauth_callback`] completes it.
    pub async fn shop_sign_in_start(&self, provider: ProviderKey, binding: &str) -> Result<Authorization, ApiError> {
        self.oauth_authorize(provider, Purpose::Shop, binding).await
    }

    /// Staff start linking another provider to a user: an operator may for themselves and for
    /// users below their role; a user at or above it needs an admin (checked again when the
    /// link is made).
    pub async fn link_start(
        &self,
        user_id: i64,
        provider: ProviderKey,
        actor: &Actor,
        binding: &str,
    ) -> Result<Authorization, ApiError> {
        actor.require_operator("link sign-ins")?;
        let mut tx = begin_write(self.database()).await?;
        store::lock_staff(&mut tx).await?;
        check_right_over(&mut tx, actor, user_id, "link sign-ins").await?;
        tx.commit().await?;
        self.oauth_authorize(provider, Purpose::Link { user_id, by: actor.user_id }, binding).await
    }

    /// Drops a sign-in attempt (the window was closed); its state can no longer be used. Only
    /// with the attempt's binding: nobody else's attempt can be cancelled. True when it was there.
    pub async fn oauth_cancel(&self, state: &str, binding: &str) -> Result<bool, ApiError> {
        Ok(matches!(self.accounts().attempts.take(state, binding).await?, Taken::Attempt(_)))
    }

    /// Completes a console sign-in or a staff link from the provider's redirect (the desktop's
    /// sign-in window): the state must be one this core issued for this provider, for the
    /// console or a link, and not used before; the code is exchanged, the identity found or
    /// linked or a user created, and (for the console) the staff role settled.
    /// `binding` must be the one the attempt was started with (else refused, and the attempt
    /// stays good for its own window).
    pub async fn oauth_callback(
        &self,
        provider: ProviderKey,
        callback: Callback,
        binding: &str,
    ) -> Result<SignInOutcome, ApiError> {
        self.complete_sign_in(provider, callback, binding, |p| !matches!(p, Purpose::Shop)).await
    }

    /// Completes a shop customer's sign-in (the shop's login page, through the daemon's HTTP
    /// API): only a state issued for the shop is accepted, so a console or link attempt can
    /// never be finished through the shop's endpoint; `binding` must be the one the shop gave
    /// at authorize for this customer's browser session.
    pub async fn shop_oauth_callback(
        &self,
        provider: ProviderKey,
        callback: Callback,
        binding: &str,
    ) -> Result<SignInOutcome, ApiError> {
        self.complete_sign_in(provider, callback, binding, |p| matches!(p, Purpose::Shop)).await
    }

    async fn complete_sign_in(
        &self,
        provider: ProviderKey,
        callback: Callback,
        binding: &str,
        allowed: impl Fn(&Purpose) -> bool,
    ) -> Result<SignInOutcome, ApiError> {
        check_binding(binding)?;
        let state = callback.state.as_deref().filter(|s| !s.is_empty()).ok_or_else(state_error)?;
        // Bound elsewhere: refused and left alone. Bound here, it is taken whatever its
        // purpose: a state offered at the wrong door is spent, not left for a second try.
        let attempt = match self.accounts().attempts.take(state, binding).await? {
            Taken::Attempt(attempt) => attempt,
            Taken::Unknown => return Err(state_error()),
            Taken::OtherBinding => return Err(bound_elsewhere()),
        };
        if attempt.provider != provider || !allowed(&attempt.purpose) {
            return Err(state_error());
        }
        let adapter = self.accounts().providers.get(provider)?;
        let Some(code) = callback.code.as_deref().filter(|c| !c.is_empty()) else {
            let why = callback.error_description.or(callback.error).unwrap_or_else(|| "no code came back".into());
            return Err(ApiError::coded(
                ErrorCode::SignInRefused,
                format!("the sign-in was refused at {}: {why}", adapter.name()),
            )
            .param("provider", provider.as_str()));
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

    /// Audits an accounts action; a failed audit write is logged (the change stands).
    async fn audit_accounts(&self, actor: &Actor, action: &str, target: &str, detail: serde_json::Value) {
        let entry = NewAuditEntry { who: &actor.name, action, target, detail: Some(detail) };
        if let Err(e) = self.record_audit(entry).await {
            tracing::error!(action, error = %e, "cannot audit an accounts action");
        }
    }
}
