//! `switchboard company`: add a client company.

use clap::Subcommand;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::kit::AppState;

#[derive(Debug, Subcommand)]
pub enum CompanyCommand {
    /// Add a client company and print its id.
    Add {
        #[arg(long)]
        name: String,
    },
}

pub async fn run(cmd: CompanyCommand, config: Config) -> anyhow::Result<()> {
    match cmd {
        CompanyCommand::Add { name } => {
            let state = AppState::connect(config, CancellationToken::new()).await?;
            let id = state.store.create_company(&state.ids, &name).await?;
            println!("{}", serde_json::json!({ "id": id, "name": name.trim() }));
            Ok(())
        }
    }
}
