//! `switchboard equipment`: the equipment module's operations.

use clap::Subcommand;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::kit::AppState;

#[derive(Debug, Subcommand)]
pub enum EquipmentCommand {
    /// Close every contract period that has ended into its overage invoice (each once,
    /// however often it runs); prints what it did as JSON.
    Close {
        /// Close as of this day (`YYYY-MM-DD`); default: today.
        #[arg(long)]
        today: Option<String>,
    },
    /// Remind clients whose meter readings are due (each contract's period once, however
    /// often it runs); prints what it did as JSON.
    Remind {
        /// Remind as of this day (`YYYY-MM-DD`); default: today.
        #[arg(long)]
        today: Option<String>,
    },
}

fn day(state: &AppState, today: Option<String>) -> anyhow::Result<i64> {
    match today {
        Some(s) => switchboard_portal::locale::parse_date(&s)
            .ok_or_else(|| anyhow::anyhow!("--today: {s:?} is not a date like 2026-11-30")),
        None => Ok(crate::kit::billing::today(state)),
    }
}

pub async fn run(cmd: EquipmentCommand, config: Config) -> anyhow::Result<()> {
    match cmd {
        EquipmentCommand::Close { today } => {
            let state = AppState::connect(config, CancellationToken::new()).await?;
            let day = day(&state, today)?;
            let report = crate::kit::equipment::close_now(&state, day)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
        EquipmentCommand::Remind { today } => {
            let state = AppState::connect(config, CancellationToken::new()).await?;
            let day = day(&state, today)?;
            let report = crate::kit::reminders::remind_readings(&state, day)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
    }
}
