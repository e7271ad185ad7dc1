//! `switchboard deadletter`: outbound messages that kept failing, listed and retried.

use clap::Subcommand;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::kit::AppState;

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

pub async fn run(cmd: DeadLetterCommand, config: Config) -> anyhow::Result<()> {
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
