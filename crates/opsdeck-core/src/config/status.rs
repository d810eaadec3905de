//! What the configuration says about the providers and the database, in the shapes the front ends
//! show (the start-up log, the daemon's `/healthz`, `check-config`, the console).

use serde::Serialize;

/// How one provider is set up (see [`Config::providers`](super::Config::providers)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderStatus {
    /// `baidu`, `alipay`, `weibo`, `qq`, `wechat`, `dingtalk`, `oidc`.
    pub name: &'static str,
    pub state: ProviderState,
    /// The keys that configure it (each also `OPSDECK_<KEY>`).
    pub keys: &'static [&'static str],
}

impl ProviderStatus {
    /// How to configure it, in words: `set alipay_app_id, … (or OPSDECK_ALIPAY_APP_ID, …)`.
    pub fn how_to_configure(&self) -> String {
        super::keys::how_to_configure(self.keys)
    }
}

/// Whether a provider is there, and which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderState {
    /// Real credentials configured.
    Configured,
    /// The built-in fake (sandbox mode proper only).
    Sandbox,
    /// Not configured: what needs it is refused or idle.
    Absent,
}

/// The backend a database URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseBackend {
    Sqlite,
    Mysql,
}
