//! Staff sessions: the bearer token a front end holds after sign-in, and what an admin sees of
//! each session. The core keeps only the token's hash.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::accounts::{LinkRequest, ProviderKey, Role, Staff, UserView};
use crate::error::ErrorBody;

/// A staff session's bearer token, as the core issued it at sign-in. Its `Debug` hides it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionToken(String);

impl SessionToken {
    pub fn new(token: impl Into<String>) -> SessionToken {
        SessionToken(token.into())
    }

    /// No session at all (an operation called before sign-in): refused as unauthenticated.
    pub fn none() -> SessionToken {
        SessionToken(String::new())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(..)")
    }
}

/// One staff session, as admins see it (never the token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct SessionView {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    /// The staff member's console role as it is now.
    pub role: Role,
    pub provider: ProviderKey,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// When it ends unless revoked first (the earlier of its idle and absolute limits).
    pub expires_at: DateTime<Utc>,
    /// True for the session that asks.
    pub current: bool,
}

/// A sign-in's outcome, as the console receives it.
#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SignInResult {
    /// A staff member signed in: `token` is the new session's (kept by the front end).
    SignedIn {
        staff: Staff,
        #[ts(type = "string")]
        #[schema(value_type = String)]
        token: SessionToken,
    },
    /// A staff link attempt linked the identity to `user`.
    Linked {
        user: UserView,
    },
    /// The identity's mobile matches an existing user: staff must confirm the link.
    PendingLink {
        request: LinkRequest,
    },
    /// Signed in at the provider, but the user has no console role yet.
    NotStaff {
        user_id: i64,
        name: String,
    },
    Cancelled,
    Error {
        error: ErrorBody,
    },
}

/// Where the desktop console's core is: in the app itself, or a server (`server_url`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsoleMode {
    /// The app runs the core itself (the zero-configuration default).
    Embedded,
    /// The app works against `opsdeckd` over HTTPS and holds nothing but a staff session.
    Remote,
}

/// The state of the desktop's link to its core, shown in the status bar (the shell sends it as
/// `connection-state` whenever it changes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LinkState {
    /// Calls and live events flow.
    Connected,
    /// The server is unreachable (or the event stream broke): retrying in `retry_in_ms`, the
    /// `attempt`-th time; `reason` says what failed, in plain words (no token).
    Reconnecting { attempt: u32, retry_in_ms: u64, reason: String },
}

/// The desktop's mode and link (embedded: always connected).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct ConnectionStatus {
    pub mode: ConsoleMode,
    /// The server's URL in remote mode.
    pub server_url: Option<String>,
    /// Whether `server_url` comes from the configuration (`server_url`, `OPSDECK_SERVER_URL`),
    /// which the sign-in screen cannot change, rather than a choice made there.
    pub fixed_by_config: bool,
    pub link: LinkState,
}
