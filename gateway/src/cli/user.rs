//! `switchboard user`: add users, issue and revoke their API tokens.

use clap::Subcommand;
use switchboard_core::domain::{Role, Tier};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::kit::AppState;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user and print an API token for it.
    Add {
        #[arg(long)]
        email: String,
        /// support, coordinator, supervisor, admin, client_user or client_admin.
        #[arg(long)]
        role: String,
        /// N1, N2 or N3 (support agents only; default N1).
        #[arg(long)]
        tier: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// Read a password for the sign-in page from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
        /// A team the user works in (repeatable).
        #[arg(long = "team")]
        teams: Vec<String>,
        /// A company a coordinator answers for, by id (repeatable).
        #[arg(long = "company")]
        companies: Vec<String>,
    },
    /// Print a new API token for an existing user.
    Token {
        #[arg(long)]
        email: String,
        /// The token stops working after this many days (default: until revoked).
        #[arg(long)]
        days: Option<u32>,
    },
    /// Revoke every API token of a user.
    RevokeTokens {
        #[arg(long)]
        email: String,
    },
}

pub async fn run(cmd: UserCommand, config: Config) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add {
            email,
            role,
            tier,
            name,
            password_stdin,
            teams,
            companies,
        } => {
            let role = Role::parse(&role)?;
            let tier = tier.as_deref().map(Tier::parse).transpose()?;
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                let line = line.trim_end_matches(['\r', '\n']).to_owned();
                switchboard_core::auth::check_password_policy_for(&line, &email)?;
                Some(line)
            } else {
                None
            };
            let state = AppState::connect(config, CancellationToken::new()).await?;
            let user = state
                .store
                .create_user(&state.ids, &email, name.as_deref(), role, tier)
                .await?;
            if let Some(password) = password {
                state
                    .store
                    .set_password(&user.id, &password, state.ids.now_ms())
                    .await?;
            }
            for team in &teams {
                state.store.add_user_team(&user.id, team).await?;
            }
            for company in &companies {
                state.store.add_user_company(&user.id, company).await?;
            }
            let token = state
                .store
                .issue_api_token(&state.ids, &user.id, "cli")
                .await?;
            println!(
                "{}",
                serde_json::json!({ "id": user.id, "email": user.email, "role": user.role, "tier": user.tier, "token": token })
            );
            Ok(())
        }
        UserCommand::Token { email, days } => {
            let state = AppState::connect(config, CancellationToken::new()).await?;
            let user = user_named(&state, &email).await?;
            let ttl = days.map(|d| i64::from(d.max(1)) * 86_400_000);
            let token = state
                .store
                .issue_expiring_api_token(&state.ids, &user.id, "cli", ttl)
                .await?;
            let expires = ttl.map(|t| state.ids.now_ms() + t);
            println!(
                "{}",
                serde_json::json!({ "id": user.id, "token": token, "expires_at": expires })
            );
            Ok(())
        }
        UserCommand::RevokeTokens { email } => {
            let state = AppState::connect(config, CancellationToken::new()).await?;
            let user = user_named(&state, &email).await?;
            let n = state
                .store
                .revoke_user_tokens(&user.id, state.ids.now_ms())
                .await?;
            println!("{}", serde_json::json!({ "id": user.id, "revoked": n }));
            Ok(())
        }
    }
}

/// The user with this address, or an error that names it.
async fn user_named(
    state: &AppState,
    email: &str,
) -> anyhow::Result<switchboard_core::domain::User> {
    state
        .store
        .user_by_email(email)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user with email {email}"))
}
