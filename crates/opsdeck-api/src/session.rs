//! Staff sessions: the bearer token a front end holds after sign-in, and what an admin sees of
//! each session. The core keeps only the token's hash.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::accounts::{LinkRequest, ProviderKey, Staff, UserView};
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
