//! The command line (a contract: other tools drive it; see DESIGN.md): one module per
//! command group, none importing another; this one parses and dispatches.

pub mod backup;
pub mod company;
pub mod deadletter;
pub mod demo;
pub mod email;
pub mod equipment;
pub mod kb;
pub mod portal;
pub mod user;
pub mod whatsapp;

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
    /// Machines, contracts and their periods.
    #[command(subcommand)]
    Equipment(equipment::EquipmentCommand),
    /// The WhatsApp channel's tools.
    #[command(subcommand)]
    Whatsapp(whatsapp::WhatsappCommand),
    /// The knowledge base.
    #[command(subcommand)]
    Kb(kb::KbCommand),
    /// The N1 bot.
    #[command(subcommand)]
    Bot(kb::BotCommand),
    /// Copy the database and the files into a new folder, while the server runs.
    Backup(backup::BackupArgs),
    /// Put a backup back on this node (stopped); the search index is rebuilt at start.
    Restore(backup::RestoreArgs),
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
        Command::Equipment(cmd) => equipment::run(cmd, config).await,
        Command::Whatsapp(cmd) => whatsapp::run(cmd),
        Command::Kb(cmd) => kb::run(cmd, config).await,
        Command::Bot(cmd) => kb::bot(cmd, config).await,
        Command::Backup(args) => backup::backup(args, config).await,
        Command::Restore(args) => backup::restore(args, config).await,
    }
}
