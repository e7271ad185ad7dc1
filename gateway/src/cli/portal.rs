//! `switchboard portal`: a sign-in link for a contact.

use clap::Subcommand;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::kit::AppState;

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

pub async fn run(cmd: PortalCommand, config: Config) -> anyhow::Result<()> {
    match cmd {
        PortalCommand::Link {
            contact,
            email,
            next,
        } => {
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
    }
}
