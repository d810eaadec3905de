//! Facts about the instance, for the console's frame and Settings page.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// Facts about this instance, for the console's frame and overview.
#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct AppInfo {
    pub version: String,
    pub instance_id: String,
    pub timezone: String,
    pub redis_prefix: String,
    pub database_backend: DatabaseBackend,
    pub data_dir: String,
    /// Every provider is a built-in fake (sandbox mode): the console says so.
    pub sandbox: bool,
    /// Each provider `configured`, `sandbox` or `absent`, with the keys that configure it (what
    /// the Settings page can show; absent ones are also logged at start).
    pub providers: Vec<ProviderStatus>,
}

/// How one provider is set up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct ProviderStatus {
    /// `baidu`, `alipay`, `weibo`, `qq`, `wechat`, `dingtalk`, `oidc`.
    pub name: String,
    pub state: ProviderState,
    /// The configuration keys that configure it (each also `OPSDECK_<KEY>`).
    pub keys: Vec<String>,
}

/// Whether a provider is there, and which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseBackend {
    Sqlite,
    Mysql,
}
