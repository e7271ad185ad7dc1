//! `switchboard email`: read a message as the channel does, mailbox status, connection tests.

use clap::Subcommand;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::kit::AppState;

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

pub async fn run(cmd: EmailCommand, config: Config) -> anyhow::Result<()> {
    match cmd {
        EmailCommand::Parse { file, json } => {
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
        EmailCommand::Status { json } => {
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
        EmailCommand::Test { inbox } => {
            let state = AppState::connect(config, CancellationToken::new()).await?;
            let mailbox = state
                .mailboxes
                .get(&inbox)
                .map(|m| m.inbox)
                .ok_or_else(|| anyhow::anyhow!("no email inbox is called {inbox:?}"))?;
            let mailbox = &mailbox;
            let mut failed = false;
            if mailbox.imap_url.is_some() {
                match crate::kit::mail::poller::test_imap(mailbox).await {
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
    }
}
