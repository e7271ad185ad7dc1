//! The command line (a contract: other tools drive it; see DESIGN.md): one module per
//! command group, none importing another; this one parses and dispatches.

pub mod company;
pub mod deadletter;
pub mod demo;
pub mod email;
pub mod kb;
pub mod portal;
pub mod user;

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::app::Application;
use crate::config::Config;
use crate::kit::AppState;

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
    User(user::UserCommand),
    /// Outbound messages that kept failing.
    #[command(subcommand, name = "deadletter")]
    DeadLetter(deadletter::DeadLetterCommand),
    #[command(subcommand)]
    Company(company::CompanyCommand),
    /// Email tools.
    #[command(subcommand)]
    Email(email::EmailCommand),
    /// The client portal.
    #[command(subcommand)]
    Portal(portal::PortalCommand),
    /// The knowledge base.
    #[command(subcommand)]
    Kb(kb::KbCommand),
    /// The N1 bot.
    #[command(subcommand)]
    Bot(kb::BotCommand),
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
        Command::Demo => demo::run(config).await,
        Command::Migrate => {
            let state = AppState::connect(config, CancellationToken::new()).await?;
            println!("database is up to date ({:?})", state.store.backend());
            Ok(())
        }
        Command::User(cmd) => user::run(cmd, config).await,
        Command::DeadLetter(cmd) => deadletter::run(cmd, config).await,
        Command::Company(cmd) => company::run(cmd, config).await,
        Command::Email(cmd) => email::run(cmd, config).await,
        Command::Portal(cmd) => portal::run(cmd, config).await,
        Command::Kb(cmd) => kb::run(cmd, config).await,
        Command::Bot(cmd) => kb::bot(cmd, config).await,
    }
}
