//! The state every handler shares, passed with axum's `State`, and this process's name
//! among the streams' consumers. `app.rs` builds it; surfaces read it.

use std::sync::Arc;

use switchboard_channels::webchat::{OriginAllowList, VisitorSigner};
use switchboard_core::blob::BlobStore;
use switchboard_core::clock::Ids;
use switchboard_core::dispatcher::Outbox;
use switchboard_core::metrics::Metrics;
use switchboard_core::realtime::Realtime;
use switchboard_core::store::Store;
use switchboard_core::stream::Stream;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::kit::limits::SocketCounter;

/// Everything a handler needs, passed with axum's `State`.
/// How long a stored file nothing refers to is kept (an upload never sent, a refused
/// form's): longer than anything stays on its way through the stream.
pub const UNREFERENCED_BLOB_GRACE_MS: i64 = 7 * 86_400_000;

#[derive(Clone, Debug)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub stream: Arc<dyn Stream>,
    pub realtime: Arc<dyn Realtime>,
    pub outbox: Outbox,
    pub ids: Ids,
    pub metrics: Arc<Metrics>,
    /// Cancelled when the server begins to stop; long-lived sockets close on it.
    pub shutdown: CancellationToken,
    /// This process's name among the consumers of the streams (see [`NodeName`]).
    pub node: Arc<NodeName>,
    /// Attachments, media and generated PDFs: `<data_dir>/blobs` by default.
    pub blobs: Arc<dyn BlobStore>,
    /// Issues and checks web-chat visitor ids.
    pub visitors: VisitorSigner,
    /// Pages that may open widget sockets (`webchat.allowed_origins`).
    pub allowed_origins: Arc<OriginAllowList>,
    /// Widget sockets open per client address, for `webchat.max_sockets_per_ip`.
    pub widget_sockets: SocketCounter,
    /// Widget uploads per visitor, for `webchat.max_messages_per_minute`.
    pub widget_uploads: Arc<crate::kit::limits::UploadLimits>,
    /// Sign-in attempts per account and per client address.
    pub login_limits: Arc<crate::kit::limits::LoginLimits>,
    /// Mails per sender and email inbox (`email.max_mails_per_sender_per_hour`).
    pub email_senders: Arc<crate::kit::limits::SenderLimits>,
    /// Signs and reads the `reply+<token>@` addresses and `[ref:…]` markers of our mail.
    pub reply_tokens: switchboard_channels::email::token::ReplyTokens,
    /// Sends email conversations' messages (inboxes with an SMTP server).
    pub email_sender: Arc<switchboard_channels::email::smtp::EmailSender>,
    /// The email inboxes: the configuration file's and the settings page's.
    pub mailboxes: Arc<crate::kit::mail::mailboxes::Mailboxes>,
    /// The WhatsApp numbers, the Graph API client and the sender.
    pub whatsapp: Arc<crate::kit::whatsapp::Whatsapp>,
    /// Mail to agents (password reset, invitations) until the email channel sends it.
    pub mailer: Arc<dyn crate::kit::auth::Mailer>,
    /// Assignment, status, tiers, notes, snoozes and SLA, with the configured targets.
    pub workflow: Arc<switchboard_core::workflow::Workflow>,
    /// The knowledge base, its index and the bot's classifier: opened by the server (the
    /// index has one writer per data dir), not by one-shot commands.
    pub kb: Arc<std::sync::OnceLock<Arc<crate::kit::kb::Kb>>>,
    /// Opens the portal's tickets sent at the same moment together (group commit).
    pub tickets: crate::kit::desk::TicketDesk,
}

/// A consumer name that no other process shares, and that a restarted process gets back.
///
/// `SWITCHBOARD_NODE_ID` when set (the operator then keeps it unique). Otherwise the host
/// name, a short hash of the data directory (two installations on one host differ), and a
/// slot: the first free `node-<slot>.lock` in the data directory, held with an exclusive
/// file lock for the life of the process. A second process on the same host and data
/// directory gets the next slot; a restarted process gets its old slot back, and with it
/// the stream entries it had taken before it stopped.
#[derive(Debug)]
pub struct NodeName {
    pub name: String,
    _lock: Option<std::fs::File>,
}

impl NodeName {
    pub fn claim(config: &Config) -> anyhow::Result<Self> {
        if let Some(id) = config.node_id.clone().filter(|n| !n.trim().is_empty()) {
            return Ok(Self {
                name: id,
                _lock: None,
            });
        }
        let host = config.node_id();
        let dir = std::fs::canonicalize(&config.data_dir).unwrap_or(config.data_dir.clone());
        let tag = {
            use sha2::Digest;
            hex::encode(&sha2::Sha256::digest(dir.to_string_lossy().as_bytes())[..3])
        };
        for slot in 0..1024 {
            let path = config.data_dir.join(format!("node-{slot}.lock"));
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
            if file.try_lock().is_ok() {
                return Ok(Self {
                    name: format!("{host}-{tag}-{slot}"),
                    _lock: Some(file),
                });
            }
        }
        anyhow::bail!("no free node slot in {}", config.data_dir.display())
    }
}
