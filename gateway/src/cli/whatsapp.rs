//! `switchboard whatsapp`: read one Cloud API webhook payload as the channel does.

use std::path::PathBuf;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum WhatsappCommand {
    /// Read one webhook payload (the JSON Meta POSTs) and print its normalized events:
    /// one per message, status or system notice, none dropped. A payload that is not a
    /// WhatsApp webhook exits non-zero with the reason.
    Parse {
        file: PathBuf,
        /// A JSON array of the events (DESIGN.md's names) instead of a summary.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: WhatsappCommand) -> anyhow::Result<()> {
    match cmd {
        WhatsappCommand::Parse { file, json } => {
            let raw = std::fs::read(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let events = switchboard_channels::whatsapp::read(&raw)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            if json {
                println!("{}", serde_json::to_string(&events)?);
            } else {
                for e in &events {
                    let what = e
                        .text
                        .as_deref()
                        .or(e.caption.as_deref())
                        .or(e.status.as_deref())
                        .unwrap_or("");
                    println!(
                        "{:<7} {:<12} {} from {}: {what}",
                        e.kind,
                        e.kind_of,
                        e.wamid,
                        e.from
                            .as_deref()
                            .or(e.recipient_id.as_deref())
                            .unwrap_or("-")
                    );
                }
            }
            Ok(())
        }
    }
}
