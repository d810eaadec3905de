//! The two doors sandbox mode's simulated shop (in the `opsdeck-sandbox` crate) needs besides the
//! public API, each open only in sandbox mode proper (every provider a built-in fake,
//! `Config::sandbox_mode`, set by the sandbox's start-up) and refused otherwise:
//! - [`Core::sandbox_shop_session`]: a staff session of the shop's own staff member, an operator,
//!   with which it stocks its catalogue through `opsdeck_api::Ops` like any operator would;
//! - [`Core::sandbox_notify`]: the fake Alipay's signed notifies, delivered in-process (the
//!   desktop has no HTTP server), through the same verification as a real one.

use chrono::Utc;
use opsdeck_api::SessionToken;
use opsdeck_api::intake::NotifyOutcome;
use serde_json::json;

use super::Core;
use crate::accounts::model::{ProviderKey, Role};
use crate::accounts::{sessions, store};
use crate::audit::NewAuditEntry;
use crate::db::{begin_write, ms};
use crate::error::{ApiError, ErrorCode};

/// The simulated shop's staff member: its username (and nickname, what the console shows).
pub const SANDBOX_SHOP_STAFF: &str = "sandbox shop";

/// The provider a session row names, which every session must: the shop signs in with none, so
/// its session names the first of the sandbox's fake sign-ins.
const SHOP_SESSION_PROVIDER: ProviderKey = ProviderKey::Weibo;

impl Core {
    /// A staff session of the simulated shop's staff member ("sandbox shop", an operator; created
    /// without any sign-in link, so no sign-in can open it, when missing, and given the operator
    /// role back when it has less; audited). A new session each call (the shop signs out once
    /// it is done with it). Refused (`forbidden`) outside sandbox mode proper, and
    /// (`database_unavailable`, to try again) until the database's sandbox mark is confirmed:
    /// nothing is written before.
    pub async fn sandbox_shop_session(&self) -> Result<SessionToken, ApiError> {
        if !self.config().sandbox_mode {
            return Err(ApiError::coded(
                ErrorCode::SandboxOnly,
                "the simulated shop's session exists in sandbox mode only",
            )
            .param("what", "shop_session"));
        }
        if !self.mode_checked() {
            return Err(ApiError::DatabaseUnavailable(
                "the database's sandbox mark is not confirmed yet; nothing is written before".into(),
            ));
        }
        let now = Utc::now();
        let mut tx = begin_write(self.database()).await?;
        store::lock_staff(&mut tx).await?;
        let existing: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM users u WHERE username = ?
               AND NOT EXISTS (SELECT 1 FROM oauth_accounts a WHERE a.user_id = u.id)
             ORDER BY id LIMIT 1",
        )
        .bind(SANDBOX_SHOP_STAFF)
        .fetch_optional(&mut *tx)
        .await?;
        let user_id = match existing {
            Some(id) => id,
            None => {
                self.database()
                    .insert_returning_id_on(
                        &mut tx,
                        "INSERT INTO users (username, nickname, created_at) VALUES (?, ?, ?)",
                        |q| q.bind(SANDBOX_SHOP_STAFF).bind(SANDBOX_SHOP_STAFF).bind(ms(now)),
                    )
                    .await?
            }
        };
        let previous = store::role_of(&mut tx, user_id).await?.flatten();
        let granted = previous.is_none_or(|role| role < Role::Operator);
        if granted {
            store::set_role(&mut tx, user_id, Some(Role::Operator)).await?.ok();
        }
        let token = sessions::create(&mut tx, user_id, SHOP_SESSION_PROVIDER, now, self.session_limits()).await?;
        tx.commit().await?;
        if granted {
            self.record_audit(NewAuditEntry {
                who: "sandbox",
                action: "staff.set_role",
                target: &format!("user:{user_id}"),
                detail: Some(json!({ "role": Role::Operator, "previous": previous, "staff": SANDBOX_SHOP_STAFF })),
            })
            .await?;
        }
        Ok(SessionToken::new(token))
    }

    /// The simulated shop's Alipay notify, in-process: verified as [`Core::alipay_notify`]
    /// verifies a real one. Refused (`forbidden`) unless in sandbox mode proper with Alipay the
    /// built-in fake (whose keys are published, so its notifies prove something only here).
    pub async fn sandbox_notify(&self, form: &[(String, String)]) -> Result<NotifyOutcome, ApiError> {
        let config = self.config();
        if !(config.sandbox_mode && config.alipay_sandbox) {
            return Err(ApiError::coded(
                ErrorCode::SandboxOnly,
                "in-process notifies are the sandbox shop's, in sandbox mode only with the built-in fake Alipay",
            )
            .param("what", "shop_notify"));
        }
        self.verified_notify(form).await
    }
}
