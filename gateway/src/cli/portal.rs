//! `switchboard portal`: a sign-in link for a contact.

use clap::Subcommand;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::kit::AppState;

#[derive(Debug, Subcommand)]
pub enum PortalCommand {
    /// Print a sign-in link for a client (to hand over on the phone, or to test): the
    /// contact that holds `--email` verified, or the `--contact` named (its id, as the
    /// inbox's contact panel and the API show it), whose address is verified when the
    /// link is used. The link works once, within `portal.login_link_minutes`.
    Link {
        /// The contact's id; without it, the contact whose verified address `--email` is.
        #[arg(long)]
        contact: Option<String>,
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
            let address = switchboard_core::domain::Identity::email(&email)?;
            let owner = state.store.verified_owner(&address).await?;
            let contact = match (contact, owner) {
                (Some(c), Some(o)) if state.store.surviving_contact(&c).await? != o => {
                    // A link never signs anyone in as someone else: the address is the
                    // other contact's.
                    anyhow::bail!(
                        "{} is the verified address of another contact ({o}), not of {c}",
                        address.value()
                    );
                }
                (Some(c), _) => c,
                (None, Some(o)) => o,
                (None, None) => anyhow::bail!(
                    "no contact has {} as a verified address: name one with --contact (its id is on the inbox's contact panel and in the API)",
                    address.value()
                ),
            };
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
