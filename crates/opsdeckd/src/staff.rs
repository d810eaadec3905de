//! `opsdeckd staff …`: console staff from the server's command line. Each needs only the
//! database of the configuration (no Redis) and is audited as the command line.
//!
//! - `grant-admin` names the first admin of a shared database (where the first console sign-in
//!   gets no role), by the sign-in they used (`--provider weibo --uid 5678001`) or by their user
//!   number (`--user-id 7`, which the console shows a newcomer without a role).
//! - `token --name NAME --role ROLE` creates the staff member if no user has that username, sets
//!   the role and prints a new session token as the last line of stdout (for scripts: `tail -n1`).
//! - `list` prints every staff member: id, username, role, live sessions, last seen.
//! - `revoke --name NAME` ends every session of that member.
//!
//! Exit codes: 0 done, 1 refused (an unknown name, the last admin, the database), 2 a usage error.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use opsdeck_api::accounts::{ProviderKey, Role};
use opsdeck_core::{ApiError, Config, GrantTarget, grant_admin, staff_list, staff_revoke, staff_token};

#[derive(Subcommand)]
pub enum StaffCommand {
    /// Make a user admin: the one who signed in with PROVIDER and UID, or user ID.
    GrantAdmin(GrantAdminArgs),
    /// Create the staff member NAME if missing, set their role, print a new session token (last line).
    Token(TokenArgs),
    /// Every staff member: id, username, role, live sessions, last seen.
    List(ListArgs),
    /// End every session of the staff member NAME.
    Revoke(RevokeArgs),
}

#[derive(Args)]
pub struct TokenArgs {
    /// The staff member's username (created, with no sign-in linked, when no user has it).
    #[arg(long)]
    name: String,
    /// Their console role: viewer, operator or admin.
    #[arg(long)]
    role: Role,
}

#[derive(Args)]
pub struct ListArgs {
    /// Print one JSON array instead of lines.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct RevokeArgs {
    /// The staff member's username.
    #[arg(long)]
    name: String,
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
    match command {
        StaffCommand::GrantAdmin(args) => run_grant_admin(args, config),
        StaffCommand::Token(args) => run_token(args, config),
        StaffCommand::List(args) => run_list(args, config),
        StaffCommand::Revoke(args) => run_revoke(args, config),
    }
}

/// A current-thread runtime for one command, or the failure to report.
fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
        eprintln!("opsdeckd: cannot start the async runtime: {e}");
        ExitCode::FAILURE
    })
}

/// Reports a refusal on stderr: a refused argument is a usage error (2), anything else 1.
fn refused(e: ApiError) -> ExitCode {
    let usage = matches!(e, ApiError::InvalidField { .. });
    eprintln!("opsdeckd: {:#}", anyhow::Error::from(e));
    if usage { ExitCode::from(2) } else { ExitCode::FAILURE }
}

fn run_token(args: &TokenArgs, config: &Config) -> ExitCode {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(staff_token(config, &args.name, args.role)) {
        Ok(issued) => {
            let name = args.name.trim();
            if issued.created {
                println!("created staff member {name} (user {})", issued.user_id);
            }
            match issued.previous {
                Some(previous) if previous == issued.role => {
                    println!("user {} ({name}) is already {}", issued.user_id, issued.role.as_str())
                }
                Some(previous) => println!(
                    "user {} ({name}) is now {} (was {})",
                    issued.user_id,
                    issued.role.as_str(),
                    previous.as_str()
                ),
                None => println!("user {} ({name}) is now {}", issued.user_id, issued.role.as_str()),
            }
            println!("a new session token follows (shown once; end it with `opsdeckd staff revoke --name {name}`):");
            // The token is the last line of stdout, and is never logged.
            println!("{}", issued.token.expose());
            ExitCode::SUCCESS
        }
        Err(e) => refused(e),
    }
}

fn run_list(args: &ListArgs, config: &Config) -> ExitCode {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let members = match runtime.block_on(staff_list(config)) {
        Ok(members) => members,
        Err(e) => return refused(e),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&members).expect("staff members serialise"));
        return ExitCode::SUCCESS;
    }
    if members.is_empty() {
        println!("no staff members yet (create one: opsdeckd staff token --name NAME --role admin)");
        return ExitCode::SUCCESS;
    }
    let width = members.iter().map(|m| m.username.chars().count()).max().unwrap_or(0).max("NAME".len());
    println!("{:>6}  {:<width$}  {:<8}  {:>8}  LAST SEEN", "ID", "NAME", "ROLE", "SESSIONS");
    for m in &members {
        let seen = m
            .last_seen_at
            .map_or_else(|| "never".to_string(), |at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        println!("{:>6}  {:<width$}  {:<8}  {:>8}  {seen}", m.user_id, m.username, m.role.as_str(), m.live_sessions);
    }
    ExitCode::SUCCESS
}

fn run_revoke(args: &RevokeArgs, config: &Config) -> ExitCode {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(staff_revoke(config, &args.name)) {
        Ok(revoked) => {
            let sessions = if revoked.ended == 1 { "session" } else { "sessions" };
            println!("ended {} {sessions} of user {} ({})", revoked.ended, revoked.user_id, args.name.trim());
            ExitCode::SUCCESS
        }
        Err(e) => refused(e),
    }
}

fn run_grant_admin(args: &GrantAdminArgs, config: &Config) -> ExitCode {
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
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
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
