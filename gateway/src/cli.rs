//! The command line (a contract: other tools drive it). See DESIGN.md.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use switchboard_core::domain::{Role, Tier};
use tokio_util::sync::CancellationToken;

use crate::app::{AppState, Application};
use crate::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Omnichannel customer-support gateway"
)]
pub struct Cli {
    /// Configuration file (default: switchboard.toml when present).
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Everything: HTTP, workers, pollers.
    Serve,
    /// Serve with demo data; prints the links to try it.
    Demo,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Outbound messages that kept failing.
    #[command(subcommand, name = "deadletter")]
    DeadLetter(DeadLetterCommand),
    #[command(subcommand)]
    Company(CompanyCommand),
    /// Email tools.
    #[command(subcommand)]
    Email(EmailCommand),
    /// The client portal.
    #[command(subcommand)]
    Portal(PortalCommand),
    /// The knowledge base.
    #[command(subcommand)]
    Kb(KbCommand),
    /// The N1 bot.
    #[command(subcommand)]
    Bot(BotCommand),
}

#[derive(Debug, Subcommand)]
pub enum KbCommand {
    /// Import articles from a .jsonl or .csv file (DESIGN.md's format). Articles with an
    /// `id` already imported are updated; a file with any bad line imports nothing.
    Import { file: PathBuf },
    /// Print every article as JSON Lines, the format `kb import` reads.
    Export,
    /// Search as clients do (published articles only; `--agent` adds internal ones).
    Search {
        query: String,
        #[arg(long)]
        lang: Option<String>,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        agent: bool,
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
    /// Rebuild the search index from the database.
    Reindex,
}

#[derive(Debug, Subcommand)]
pub enum BotCommand {
    /// What the bot would do with a message: answer (which article, how sure) or hand
    /// off (and why). `-` reads one message per line from stdin.
    Ask {
        message: String,
        #[arg(long)]
        lang: Option<String>,
        #[arg(long)]
        json: bool,
        /// The channel the message arrives on (thresholds differ).
        #[arg(long, default_value = "webchat")]
        channel: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PortalCommand {
    /// Print a sign-in link for a contact (to hand over on the phone, or to test). The
    /// address is verified when the link is used; the link works once, within
    /// `portal.login_link_minutes`.
    Link {
        #[arg(long)]
        contact: String,
        #[arg(long)]
        email: String,
        /// Where to land after signing in (a /portal path).
        #[arg(long, default_value = "/portal")]
        next: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum EmailCommand {
    /// Read a raw message (.eml) as the email channel does: addresses, thread headers,
    /// the visible reply apart from the quoted rest, attachments, machine-sent or not.
    Parse {
        file: PathBuf,
        /// One JSON object (DESIGN.md's contract) instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// How each mailbox's connection is doing (as the running server last recorded it).
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Logs in to a mailbox's IMAP and SMTP servers and says how it went; nothing is read,
    /// moved or sent. Exits non-zero when a server cannot be reached or refuses the login.
    Test { inbox: String },
}

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

#[derive(Debug, Subcommand)]
pub enum CompanyCommand {
    /// Add a client company and print its id.
    Add {
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeadLetterCommand {
    /// List dead letters.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Queue a dead letter (by its id or its message id) for delivery again.
    Retry { id: String },
}

pub fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    Ok(Config::load(cli.config.as_deref(), &env)?)
}

pub async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => {
            Application::build(config)
                .await?
                .run_until_stopped(CancellationToken::new())
                .await
        }
        Command::Demo => crate::demo::run(config).await,
        Command::Email(EmailCommand::Parse { file, json }) => {
            let raw = std::fs::read(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let parsed = switchboard_channels::email::parse::parse(&raw)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            if json {
                println!("{}", serde_json::to_string(&parsed)?);
            } else {
                println!("From:     {}", parsed.from.as_deref().unwrap_or("-"));
                println!("Subject:  {}", parsed.subject.as_deref().unwrap_or("-"));
                println!("Reply to: {}", parsed.in_reply_to.as_deref().unwrap_or("-"));
                println!(
                    "Machine:  {}",
                    if parsed.auto_submitted {
                        "yes (opens nothing)"
                    } else {
                        "no"
                    }
                );
                for a in &parsed.attachments {
                    println!("Attached: {} ({}, {} bytes)", a.name, a.mime, a.size);
                }
                println!("\n{}", parsed.reply_text);
            }
            Ok(())
        }
        Command::Email(EmailCommand::Status { json }) => {
            let state = AppState::connect(config, CancellationToken::new()).await?;
            let statuses = state.store.email_statuses().await?;
            if json {
                println!("{}", serde_json::json!({ "mailboxes": statuses }));
            } else {
                for s in &statuses {
                    println!(
                        "{:<20} {:<7} read {:>7}  {}",
                        s.inbox,
                        if s.ok { "ok" } else { "FAILING" },
                        s.fetched,
                        s.detail
                    );
                }
            }
            Ok(())
        }
        Command::Email(EmailCommand::Test { inbox }) => {
            let state = AppState::connect(config, CancellationToken::new()).await?;
            let mailbox = state
                .mailboxes
                .get(&inbox)
                .map(|m| m.inbox)
                .ok_or_else(|| anyhow::anyhow!("no email inbox is called {inbox:?}"))?;
            let mailbox = &mailbox;
            let mut failed = false;
            if mailbox.imap_url.is_some() {
                match crate::email::poller::test_imap(mailbox).await {
                    Ok(m) => println!("IMAP: ok, {m}"),
                    Err(e) => {
                        failed = true;
                        println!("IMAP: {e}");
                    }
                }
            }
            if mailbox.smtp_url.is_some() {
                match state.email_sender.test(&mailbox.inbox()).await {
                    Ok(()) => println!("SMTP: ok"),
                    Err(e) => {
                        failed = true;
                        println!("SMTP: {e}");
                    }
                }
            }
            if failed {
                anyhow::bail!("the connection test failed");
            }
            Ok(())
        }
        Command::Migrate => {
            let state = AppState::connect(config, CancellationToken::new()).await?;
            println!("database is up to date ({:?})", state.store.backend());
            Ok(())
        }
        Command::User(UserCommand::Add {
            email,
            role,
            tier,
            name,
            password_stdin,
            teams,
            companies,
        }) => {
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
        Command::User(UserCommand::Token { email, days }) => {
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
        Command::User(UserCommand::RevokeTokens { email }) => {
            let state = AppState::connect(config, CancellationToken::new()).await?;
            let user = user_named(&state, &email).await?;
            let n = state
                .store
                .revoke_user_tokens(&user.id, state.ids.now_ms())
                .await?;
            println!("{}", serde_json::json!({ "id": user.id, "revoked": n }));
            Ok(())
        }
        Command::Portal(PortalCommand::Link {
            contact,
            email,
            next,
        }) => {
            let state = AppState::connect(config, CancellationToken::new()).await?;
            switchboard_core::domain::Identity::email(&email)?;
            if state.store.contact_company(&contact).await?.is_none() {
                anyhow::bail!("no contact {contact}");
            }
            let minutes = state.config.portal.login_link_minutes.max(1);
            let url = crate::portal::auth::mint(
                &state,
                &contact,
                &email,
                "login",
                minutes * 60_000,
                &next,
            )
            .await
            .map_err(|e| anyhow::anyhow!(e))?;
            println!("{}", serde_json::json!({ "url": url, "minutes": minutes }));
            Ok(())
        }
        Command::Kb(cmd) => crate::kb_cli::run(cmd, config).await,
        Command::Bot(cmd) => crate::kb_cli::bot(cmd, config).await,
        Command::Company(CompanyCommand::Add { name }) => {
            let state = AppState::connect(config, CancellationToken::new()).await?;
            let id = state.store.create_company(&state.ids, &name).await?;
            println!("{}", serde_json::json!({ "id": id, "name": name.trim() }));
            Ok(())
        }
        Command::DeadLetter(cmd) => {
            let state = AppState::connect(config, CancellationToken::new()).await?;
            match cmd {
                DeadLetterCommand::List { json } => {
                    let dead = state.store.dead_letters().await?;
                    if json {
                        println!("{}", serde_json::to_string(&dead)?);
                    } else if dead.is_empty() {
                        println!("no dead letters");
                    } else {
                        for d in dead {
                            println!(
                                "{}  message {}  {}  attempts {}  {}",
                                d.id, d.message_id, d.channel, d.attempts, d.error
                            );
                        }
                    }
                }
                DeadLetterCommand::Retry { id } => {
                    let message_id = state.outbox.retry_dead_letter(&id).await?;
                    println!("message {message_id} queued again");
                }
            }
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
