//! What the accounts core speaks: providers, normalised identities, users with their links, staff
//! roles, and the actor every manual action names.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

pub use opsdeck_api::accounts::{
    Authorization, LinkRequest, LinkView, ProviderInfo, ProviderKey, Role, SignInOutcome, Staff, UserPage, UserQuery,
    UserView,
};

/// The gender a provider reports, normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Gender {
    Male,
    Female,
    Unknown,
}

/// Who a provider says signed in, normalised across providers. Only what the console shows or
/// matches on is kept: no provider token and no raw profile (nothing uses them, so nothing
/// stores them). Its `Debug` prints the provider and the masked uid only.
#[derive(Clone)]
pub struct Identity {
    pub provider: ProviderKey,
    /// The stable id to store: Weibo `uid`, QQ `openid`, WeChat `openid`, DingTalk `unionId`,
    /// OpenID Connect `sub`.
    pub uid: String,
    /// The id across one company's apps, where the provider gives one (WeChat, QQ, DingTalk).
    pub unionid: Option<String>,
    pub nickname: Option<String>,
    pub avatar: Option<String>,
    pub email: Option<String>,
    /// True when the provider says it verified the email (OpenID Connect `email_verified`).
    pub email_verified: bool,
    /// A mobile number the provider verified, and only then (OpenID Connect:
    /// `phone_number_verified: true`; DingTalk: the account's login number). An unverified number
    /// is dropped by the adapter: it never matches a user nor lands on one.
    pub mobile: Option<String>,
    #[cfg_attr(not(feature = "internals"), allow(dead_code))] // used by the tests (feature `internals`)
    pub gender: Gender,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("provider", &self.provider)
            .field("uid", &mask_middle(&self.uid))
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// What the provider verified, as link requests show it to staff (`mobile`, `email`).
    pub fn verified(&self) -> Vec<String> {
        let mut verified = Vec::new();
        if self.mobile.is_some() {
            verified.push("mobile".to_string());
        }
        if self.email.is_some() && self.email_verified {
            verified.push("email".to_string());
        }
        verified
    }
}

/// Who performs a manual action: a signed-in staff member, or a trusted caller (the daemon's
/// command line, a benchmark, a test). The audit log names them; their role gates the action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// What the audit log shows.
    pub(crate) name: String,
    pub(crate) role: Role,
    /// The staff member's user, when signed in.
    pub(crate) user_id: Option<i64>,
}

impl Actor {
    /// What the audit log shows.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The role the actor acts with.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The staff member's user, when signed in.
    pub fn user_id(&self) -> Option<i64> {
        self.user_id
    }

    /// A trusted caller with every right, for tests and benchmarks only: public only with the
    /// `internals` feature, which no front end enables.
    #[cfg(feature = "internals")]
    pub fn system(name: &str) -> Actor {
        Actor { name: name.to_string(), role: Role::Admin, user_id: None }
    }

    /// A signed-in staff member.
    pub fn staff(staff: &Staff) -> Actor {
        Actor { name: format!("{} (#{})", staff.name, staff.user_id), role: staff.role, user_id: Some(staff.user_id) }
    }

    /// Refuses a viewer: `what` completes "a viewer cannot …".
    pub fn require_operator(&self, what: &str) -> Result<(), ApiError> {
        if self.role >= Role::Operator {
            Ok(())
        } else {
            Err(ApiError::role_refused(
                self.role.as_str(),
                &action_word(what),
                format!("a {} cannot {what}", self.role.as_str()),
            ))
        }
    }

    /// Refuses anyone but an admin.
    pub fn require_admin(&self, what: &str) -> Result<(), ApiError> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::role_refused(
                self.role.as_str(),
                &action_word(what),
                format!("only an admin can {what}; you are {}", self.role.as_str()),
            ))
        }
    }
}

/// The action a refusal names, as the console's catalogues name it: "cancel orders" →
/// `cancel_orders`.
pub(crate) fn action_word(what: &str) -> String {
    what.split_whitespace().map(|w| w.to_ascii_lowercase().replace('-', "_")).collect::<Vec<_>>().join("_")
}

/// Why a sign-in attempt was started; the callback acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Purpose {
    /// Staff signing into the console.
    Console,
    /// A shop customer signing in (the daemon's HTTP API).
    Shop,
    /// Staff linking another provider to this user; `by` is the staff member who started it
    /// (their right over the user is checked again when the link is made).
    Link {
        user_id: i64,
        #[serde(default)]
        by: Option<i64>,
    },
}

/// Reads the staff allow-list: `provider:uid` entries separated by commas (or spaces);
/// empty: no list.
pub fn parse_staff_allow(text: &str) -> Result<Vec<(ProviderKey, String)>, String> {
    text.split([',', ' ', '\n', '\t'])
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (provider, uid) = entry
                .split_once(':')
                .ok_or_else(|| format!("{entry:?} is not `provider:uid` (e.g. `weibo:5678001`)"))?;
            let provider = provider.parse::<ProviderKey>().map_err(|e| e.to_string())?;
            if uid.is_empty() {
                return Err(format!("{entry:?} has no uid"));
            }
            Ok((provider, uid.to_string()))
        })
        .collect()
}

/// Masks the middle of an identifier: `5678001` → `56***01`, a mobile `13800000001` → `138****0001`,
/// a long openid to its ends and four stars.
pub fn mask_middle(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len();
    if n <= 4 {
        return "*".repeat(n.max(1));
    }
    let (keep_head, keep_tail) = if n >= 11 { (3, 4) } else { (2, 2) };
    let head: String = chars[..keep_head].iter().collect();
    let tail: String = chars[n - keep_tail..].iter().collect();
    format!("{head}{}{tail}", "*".repeat((n - keep_head - keep_tail).min(4)))
}
