//! What a running fake remembers: the codes and tokens it issued, the selected user, the call
//! log; and the checks a code or a token goes through.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::time::Instant;

use super::http::{deadline, random_hex};
use super::{FakeOAuthConfig, FakeUser, OAuthCall, Provider};

pub(super) struct Grant {
    user: usize,
    redirect_uri: String,
    expires_at: Instant,
    used: bool,
}

pub(super) struct Issued {
    pub(super) user: usize,
    pub(super) expires_at: Instant,
    pub(super) expired: bool,
}

pub(super) struct Inner {
    pub(super) selected: usize,
    pub(super) auto_approve: bool,
    /// QQ: the `client_id` the `me` answer names instead of the configured one (a token issued
    /// to another app).
    pub(super) me_client_id: Option<String>,
    pub(super) codes: HashMap<String, Grant>,
    pub(super) tokens: HashMap<String, Issued>,
    pub(super) calls: Vec<OAuthCall>,
}

#[derive(Clone)]
pub(super) struct Shared {
    pub(super) config: Arc<FakeOAuthConfig>,
    pub(super) inner: Arc<Mutex<Inner>>,
}

/// Why a code does not buy a token.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum CodeProblem {
    Unknown,
    Expired,
    Used,
    RedirectMismatch,
}

/// Why a token is refused.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum TokenProblem {
    Missing,
    Unknown,
    Expired,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn user(&self, index: usize) -> &FakeUser {
        &self.config.users[index]
    }

    pub(super) fn issue_code(&self, user: usize, redirect_uri: &str) -> String {
        let code = match self.config.provider {
            Provider::Qq => random_hex(16).to_uppercase(),
            _ => random_hex(16),
        };
        let grant = Grant {
            user,
            redirect_uri: redirect_uri.to_string(),
            expires_at: deadline(self.config.code_ttl),
            used: false,
        };
        self.lock().codes.insert(code.clone(), grant);
        code
    }

    /// Spends `code`; with `redirect_uri`, it must be the one the code was issued for (a
    /// mismatch leaves the code unspent).
    pub(super) fn redeem(&self, code: &str, redirect_uri: Option<&str>) -> Result<usize, CodeProblem> {
        let mut inner = self.lock();
        let grant = inner.codes.get_mut(code).ok_or(CodeProblem::Unknown)?;
        if grant.used {
            return Err(CodeProblem::Used);
        }
        if Instant::now() >= grant.expires_at {
            return Err(CodeProblem::Expired);
        }
        if redirect_uri.is_some_and(|r| r != grant.redirect_uri) {
            return Err(CodeProblem::RedirectMismatch);
        }
        grant.used = true;
        Ok(grant.user)
    }

    pub(super) fn issue_token(&self, user: usize) -> String {
        let token = match self.config.provider {
            Provider::Weibo => format!("2.00{}", random_hex(14)),
            Provider::Qq => random_hex(16).to_uppercase(),
            Provider::Wechat => random_hex(40),
            Provider::Dingtalk => random_hex(16),
        };
        let issued = Issued { user, expires_at: deadline(self.config.token_ttl), expired: false };
        self.lock().tokens.insert(token.clone(), issued);
        token
    }

    pub(super) fn holder(&self, token: Option<&str>) -> Result<usize, TokenProblem> {
        let token = token.filter(|t| !t.is_empty()).ok_or(TokenProblem::Missing)?;
        let inner = self.lock();
        let issued = inner.tokens.get(token).ok_or(TokenProblem::Unknown)?;
        if issued.expired || Instant::now() >= issued.expires_at {
            return Err(TokenProblem::Expired);
        }
        Ok(issued.user)
    }

    pub(super) fn user_by_uid(&self, uid: &str) -> Option<usize> {
        self.config.users.iter().position(|u| u.uid == uid)
    }

    pub(super) fn token_secs(&self) -> u64 {
        self.config.token_ttl.as_secs()
    }
}
