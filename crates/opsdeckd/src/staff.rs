//! `opsdeckd staff grant-admin`: names the first admin of a shared database (where the first
//! console sign-in gets no role), by the sign-in they used (`--provider weibo --uid 5678001`) or
//! by their user number (`--user-id 7`, which the console shows a newcomer without a role). Needs
//! only the database of the configuration; audited as the command line.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use opsdeck_api::accounts::{ProviderKey, Role};
use opsdeck_core::{Config, GrantTarget, grant_admin};

#[derive(Subcommand)]
pub enum StaffCommand {
    /// Make a user admin: the one who signed in with PROVIDER and UID, or user ID.
    GrantAdmin(GrantAdminArgs),
}

#[derive(Args)]
pub struct GrantAdminArgs {
    /// The sign-in provider: weibo, qq, wechat, dingtalk or oidc.
    #[arg(long, requires = "uid", conflicts_with = "user_id")]
    provider: Option<String>,
    /// The provider's id of the person (Weibo uid, QQ/WeChat openid, DingTalk unionId, OIDC sub).
    #[arg(long, requires = "provider")]
    uid: Option<String>,
    /// The user's number instead (shown in the console after signing in without a role).
    #[arg(long, value_name = "ID")]
    user_id: Option<i64>,
}

pub fn run(command: &StaffCommand, config: &Config) -> ExitCode {
    let StaffCommand::GrantAdmin(args) = command;
    let target = match (&args.provider, &args.uid, args.user_id) {
        (Some(provider), Some(uid), None) => match provider.parse::<ProviderKey>() {
            Ok(provider) => GrantTarget::Identity { provider, uid: uid.trim().to_string() },
            Err(e) => {
                eprintln!("opsdeckd: {e}");
                return ExitCode::from(2);
            }
        },
        (None, None, Some(id)) => GrantTarget::User(id),
        _ => {
            eprintln!("opsdeckd: name the user: --provider P --uid U, or --user-id N");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("opsdeckd: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(grant_admin(config, &target)) {
        Ok(granted) if granted.previous == Some(Role::Admin) => {
            println!("user {} is already admin", granted.user_id);
            ExitCode::SUCCESS
        }
        Ok(granted) => {
            println!("user {} is now admin", granted.user_id);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("opsdeckd: {:#}", anyhow::Error::from(e));
            ExitCode::FAILURE
        }
    }
}
