//! Accounts: users with their linked sign-ins, staff roles, link requests, sign-in.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// A sign-in provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKey {
    Weibo,
    Qq,
    Wechat,
    Dingtalk,
    Oidc,
}

impl ProviderKey {
    pub const ALL: [ProviderKey; 5] =
        [ProviderKey::Weibo, ProviderKey::Qq, ProviderKey::Wechat, ProviderKey::Dingtalk, ProviderKey::Oidc];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKey::Weibo => "weibo",
            ProviderKey::Qq => "qq",
            ProviderKey::Wechat => "wechat",
            ProviderKey::Dingtalk => "dingtalk",
            ProviderKey::Oidc => "oidc",
        }
    }

    /// The provider's name as users know it.
    pub fn display_name(self) -> &'static str {
        match self {
            ProviderKey::Weibo => "Weibo",
            ProviderKey::Qq => "QQ",
            ProviderKey::Wechat => "WeChat",
            ProviderKey::Dingtalk => "DingTalk",
            ProviderKey::Oidc => "OpenID Connect",
        }
    }
}

impl fmt::Display for ProviderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKey {
    type Err = String;
    fn from_str(s: &str) -> Result<ProviderKey, String> {
        ProviderKey::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown provider {s:?} (known: weibo, qq, wechat, dingtalk, oidc)"))
    }
}

/// A configured provider, as the sign-in screen lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Deserialize, TS, ToSchema)]
pub struct ProviderInfo {
    pub key: ProviderKey,
    pub name: String,
    /// True when it is OpsDeck's built-in fake (sandbox mode).
    pub sandbox: bool,
}

/// A console role. Admins also manage roles; operators act; viewers only look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role {other:?} (use admin, operator or viewer)")),
        }
    }
}

/// A signed-in staff member, as the console's frame shows them.
#[derive(Debug, Clone, Serialize, PartialEq, Deserialize, TS, ToSchema)]
pub struct Staff {
    pub user_id: i64,
    pub name: String,
    pub role: Role,
    pub provider: ProviderKey,
    pub avatar: Option<String>,
    pub signed_in_at: DateTime<Utc>,
}

/// One linked sign-in, as the console shows it (uid masked, no tokens).
#[derive(Debug, Clone, Serialize, PartialEq, Deserialize, TS, ToSchema)]
pub struct LinkView {
    pub id: i64,
    pub provider: ProviderKey,
    pub uid_masked: String,
    pub nickname: Option<String>,
    pub avatar: Option<String>,
    pub linked_at: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

/// A user with their links (mobile masked).
#[derive(Debug, Clone, Serialize, PartialEq, Deserialize, TS, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub nickname: Option<String>,
    pub mobile_masked: Option<String>,
    pub avatar: Option<String>,
    pub role: Option<Role>,
    pub created_at: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub links: Vec<LinkView>,
}

/// A page of users, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct UserPage {
    pub users: Vec<UserView>,
    pub total: i64,
}

/// Which users to list: `search` matches the mobile or the username.
#[derive(Debug, Clone, Default, Deserialize, Serialize, TS, ToSchema)]
pub struct UserQuery {
    #[serde(default)]
    pub search: Option<String>,
    /// The column to sort by (None: newest first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub sort: Option<UserSort>,
    /// Descending (with `sort`).
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub desc: bool,
    #[serde(default)]
    pub offset: u32,
    pub limit: u32,
}

/// The columns the user list sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserSort {
    Id,
    Username,
    Mobile,
    CreatedAt,
}

/// A new identity whose mobile matches an existing user: it is linked only once staff confirm.
#[derive(Debug, Clone, Serialize, PartialEq, Deserialize, TS, ToSchema)]
pub struct LinkRequest {
    pub id: i64,
    pub user_id: i64,
    pub username: String,
    pub provider: ProviderKey,
    pub uid_masked: String,
    pub nickname: Option<String>,
    pub mobile_masked: String,
    /// What the provider verified about this identity (`mobile`, `email`): staff see it before
    /// confirming.
    pub verified: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// A fresh sign-in attempt: open `url`; the callback must bring `state` back.
#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct Authorization {
    pub url: String,
    pub state: String,
    /// The provider's registered redirect URI: the sign-in window stops there and hands the
    /// whole URL to [`crate::Ops::sign_in_complete`].
    pub redirect_uri: String,
}

/// What a completed sign-in did.
#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SignInOutcome {
    /// The identity is (now) linked to `user`: an existing link (`linked` false) or a new user
    /// created with it (`new_user`, `linked` true). `staff` is set when the user has a console
    /// role and the attempt was a console sign-in.
    SignedIn { user: UserView, new_user: bool, linked: bool, staff: Option<Staff> },
    /// A link attempt linked the identity to `user`.
    Linked { user: UserView },
    /// The identity's mobile matches an existing user: staff must confirm the link.
    PendingLink { request: LinkRequest },
}
