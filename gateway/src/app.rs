//! Wiring: the state every handler shares, and the application that owns the listener and
//! the workers (`Application::build` then `run_until_stopped`), so tests can bind port 0.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use switchboard_channels::webchat::{OriginAllowList, VisitorSigner, WebchatSender};
use switchboard_core::blob::{BlobStore, LocalBlobStore};
use switchboard_core::bot::{BotHook, BotOptions, BotWorker};
use switchboard_core::clock::{Ids, SystemClock};
use switchboard_core::dispatcher::{DispatchOptions, Dispatcher, Outbox, Sender};
use switchboard_core::domain::Channel;
use switchboard_core::metrics::Metrics;
use switchboard_core::realtime::{LocalRealtime, Realtime, RedisRealtime};
use switchboard_core::router::{Router, RouterOptions};
use switchboard_core::store::Store;
use switchboard_core::stream::Stream;
use switchboard_core::stream::embedded::EmbeddedStream;
use switchboard_core::stream::redis::RedisStream;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::webchat::SocketCounter;

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
    pub widget_uploads: Arc<crate::webchat::attachments::UploadLimits>,
    /// Sign-in attempts per account and per client address.
    pub login_limits: Arc<crate::web::auth::LoginLimits>,
    /// Mails per sender and email inbox (`email.max_mails_per_sender_per_hour`).
    pub email_senders: Arc<crate::email::SenderLimits>,
    /// Signs and reads the `reply+<token>@` addresses and `[ref:…]` markers of our mail.
    pub reply_tokens: switchboard_channels::email::token::ReplyTokens,
    /// Sends email conversations' messages (inboxes with an SMTP server).
    pub email_sender: Arc<switchboard_channels::email::smtp::EmailSender>,
    /// The email inboxes: the configuration file's and the settings page's.
    pub mailboxes: Arc<crate::email::mailboxes::Mailboxes>,
    /// Mail to agents (password reset, invitations) until the email channel sends it.
    pub mailer: Arc<dyn crate::web::auth::Mailer>,
    /// Assignment, status, tiers, notes, snoozes and SLA, with the configured targets.
    pub workflow: Arc<switchboard_core::workflow::Workflow>,
    /// The knowledge base, its index and the bot's classifier: opened by the server (the
    /// index has one writer per data dir), not by one-shot commands.
    pub kb: Arc<std::sync::OnceLock<Arc<crate::kb::Kb>>>,
    /// Opens the portal's tickets sent at the same moment together (group commit).
    pub tickets: crate::portal::desk::TicketDesk,
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

/// The database secret that keys visitor ids when `webchat.visitor_secret` is not set.
const VISITOR_SECRET: &str = "webchat.visitor";
/// The database secret that keys reply addresses when `email.reply_secret` is not set.
const REPLY_SECRET: &str = "email.reply";

impl AppState {
    /// Connects the store (migrating it) and the stream the config names.
    pub async fn connect(config: Config, shutdown: CancellationToken) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            anyhow::anyhow!("cannot create data dir {}: {e}", config.data_dir.display())
        })?;
        let node = NodeName::claim(&config)?;
        let config = Arc::new(config);
        let config_data_dir = config.data_dir.clone();
        let config_web = config.web.clone();
        let email_per_hour = config.email.max_mails_per_sender_per_hour;
        let ids = Ids::new(Arc::new(SystemClock));
        let store = Store::connect(&config.database_url()).await?;
        store.migrate(ids.now_ms()).await?;
        let stored = crate::email::mailboxes::stored(&store).await?;
        let mailboxes = Arc::new(crate::email::mailboxes::Mailboxes::new(
            &config.email.inboxes,
            stored,
        ));
        let secret = match &config.webchat.visitor_secret {
            Some(s) => s.expose().to_owned(),
            None => store.secret_or_create(&ids, VISITOR_SECRET).await?,
        };
        let visitors = VisitorSigner::new(secret.as_bytes())
            .map_err(|e| anyhow::anyhow!("webchat.visitor_secret: {e}"))?;
        let reply_secret = match &config.email.reply_secret {
            Some(s) => s.expose().to_owned(),
            None => store.secret_or_create(&ids, REPLY_SECRET).await?,
        };
        let reply_tokens =
            switchboard_channels::email::token::ReplyTokens::new(reply_secret.as_bytes())
                .map_err(|e| anyhow::anyhow!("email.reply_secret: {e}"))?;
        let allowed_origins = OriginAllowList::new(&config.webchat.allowed_origins)
            .map_err(|e| anyhow::anyhow!("webchat.allowed_origins: {e}"))?;
        let (stream, realtime): (Arc<dyn Stream>, Arc<dyn Realtime>) = match &config.redis_url {
            Some(url) => {
                let stream = RedisStream::connect(url.expose(), &config.redis_prefix).await?;
                let realtime = RedisRealtime::connect(
                    stream.client().clone(),
                    &config.redis_prefix,
                    shutdown.clone(),
                )
                .await?;
                (Arc::new(stream), Arc::new(realtime))
            }
            None => (
                Arc::new(EmbeddedStream::new(store.clone(), ids.clock().clone())),
                Arc::new(LocalRealtime::default()),
            ),
        };
        let metrics = Arc::new(Metrics::default());
        let sla = config
            .sla_config()
            .map_err(|e| anyhow::anyhow!("business_hours: {e}"))?;
        let outbox = Outbox {
            store: store.clone(),
            stream: stream.clone(),
            ids: ids.clone(),
            realtime: realtime.clone(),
        };
        let workflow = Arc::new(
            switchboard_core::workflow::Workflow::new(
                store.clone(),
                realtime.clone(),
                ids.clone(),
                metrics.clone(),
            )
            .with_sla(sla)
            .with_notices(Arc::new(crate::email::notices::EmailNotices {
                store: store.clone(),
                outbox: outbox.clone(),
                config: config.clone(),
                mailboxes: mailboxes.clone(),
            }))
            .with_notices(Arc::new(crate::portal::tickets::TicketCards {
                store: store.clone(),
                realtime: realtime.clone(),
                ids: ids.clone(),
            })),
        );
        let widget_uploads = Arc::new(crate::webchat::attachments::UploadLimits::new(
            config.webchat.max_messages_per_minute,
        ));
        let blobs: Arc<dyn BlobStore> = Arc::new(LocalBlobStore::in_data_dir(&config_data_dir));
        let mut outbound = Vec::new();
        for m in mailboxes.all() {
            if let Some(s) = crate::email::mailboxes::smtp_mailbox(&config, &m.inbox)? {
                outbound.push(s);
            }
        }
        let email_sender = Arc::new(switchboard_channels::email::smtp::EmailSender::new(
            outbound,
            reply_tokens.clone(),
            blobs.clone(),
            store.clone(),
        ));
        let tickets = crate::portal::desk::TicketDesk::start(crate::portal::desk::Parts {
            store: store.clone(),
            ids: ids.clone(),
            realtime: realtime.clone(),
            workflow: workflow.clone(),
        });
        let state = Self {
            config,
            store,
            stream,
            realtime,
            outbox,
            ids,
            metrics,
            node: Arc::new(node),
            blobs,
            reply_tokens,
            email_sender: email_sender.clone(),
            mailboxes,
            shutdown,
            visitors,
            allowed_origins: Arc::new(allowed_origins),
            widget_sockets: SocketCounter::default(),
            widget_uploads,
            login_limits: Arc::new(crate::web::auth::LoginLimits::new(&config_web)),
            email_senders: Arc::new(crate::email::SenderLimits::new(email_per_hour)),
            mailer: Arc::new(crate::web::auth::SmtpMailer(email_sender.clone())),
            tickets,
            workflow,
            kb: Arc::new(std::sync::OnceLock::new()),
        };
        // Invoice and estimate mail carry portal links minted as each mail is written.
        state
            .email_sender
            .set_link_minter(Arc::new(crate::portal::auth::Minter(state.clone())));
        Ok(state)
    }

    /// Opens the knowledge base (its index in the data dir) once.
    pub async fn open_kb(&self) -> anyhow::Result<Arc<crate::kb::Kb>> {
        if let Some(kb) = self.kb.get() {
            return Ok(kb.clone());
        }
        let kb = crate::kb::Kb::open(
            self.store.clone(),
            self.stream.clone(),
            self.ids.clone(),
            &self.config.data_dir,
            self.config.bot.settings(&self.config.public_url),
            crate::kb::encoder(&self.config.bot).await?,
        )
        .await?;
        Ok(self.kb.get_or_init(|| kb).clone())
    }

    /// A stable consumer name per node and role, so a restarted node finds the entries it
    /// had taken (see `Stream::pending_for`). The node is `SWITCHBOARD_NODE_ID`, else the
    /// host name.
    fn consumer_name(&self, role: &str) -> String {
        format!("{}-{role}", self.node.name)
    }

    pub fn router(&self) -> Router {
        let mut options = RouterOptions::for_backend(self.store.backend());
        options.reclaim_idle = Duration::from_millis(self.config.router.reclaim_idle_ms);
        // Without the bot, new conversations go straight to people.
        options.people_first = !self.config.bot.enabled;
        Router {
            store: self.store.clone(),
            stream: self.stream.clone(),
            realtime: self.realtime.clone(),
            ids: self.ids.clone(),
            metrics: self.metrics.clone(),
            consumer: self.consumer_name("router"),
            options,
        }
    }

    pub fn dispatcher(&self) -> Dispatcher {
        let mut senders: HashMap<Channel, Arc<dyn Sender>> = HashMap::new();
        senders.insert(Channel::Webchat, Arc::new(WebchatSender));
        senders.insert(Channel::Email, self.email_sender.clone());
        senders.insert(
            Channel::Portal,
            Arc::new(switchboard_channels::portal::PortalSender),
        );
        let d = &self.config.dispatcher;
        Dispatcher::new(
            self.outbox.clone(),
            senders,
            self.metrics.clone(),
            self.consumer_name("dispatcher"),
            DispatchOptions {
                max_attempts: d.max_attempts,
                backoff_base: Duration::from_millis(d.backoff_base_ms),
                backoff_max: Duration::from_millis(d.backoff_max_ms),
                ..DispatchOptions::default()
            },
        )
    }

    /// The bot's worker: a consumer group of its own on the inbound stream.
    pub fn bot_worker(&self, bot: Arc<dyn BotHook>) -> BotWorker {
        BotWorker {
            store: self.store.clone(),
            stream: self.stream.clone(),
            outbox: self.outbox.clone(),
            realtime: self.realtime.clone(),
            ids: self.ids.clone(),
            bot,
            consumer: self.consumer_name("bot"),
            options: BotOptions::default(),
        }
    }
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
        let state = AppState::connect(config, CancellationToken::new()).await?;
        state.open_kb().await?;
        Ok(Self { listener, state })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT/SIGTERM (or `stop` is cancelled), then stops taking requests,
    /// lets those under way finish, and lets the workers finish their batch.
    pub async fn run_until_stopped(self, stop: CancellationToken) -> anyhow::Result<()> {
        let state = self.state;
        let shutdown = state.shutdown.clone();
        let workers = CancellationToken::new();
        let router = tokio::spawn(state.router().run(workers.clone()));
        // One reader per IMAP mailbox (and those added later on the settings page).
        state.mailboxes.start_all(&state, workers.clone());
        let dispatcher = tokio::spawn(state.dispatcher().run(workers.clone()));
        // Every node's index follows article changes; the bot answers when enabled.
        let kb = state.open_kb().await?;
        let follower = tokio::spawn(kb.clone().follow(state.node.name.clone(), workers.clone()));
        let bot = state.config.bot.enabled.then(|| {
            tokio::spawn(
                state
                    .bot_worker(Arc::new(switchboard_bots::hook::KbBot {
                        store: state.store.clone(),
                        ids: state.ids.clone(),
                        brains: kb.clone(),
                        settings: kb.settings.clone(),
                    }))
                    .run(workers.clone()),
            )
        });
        // Snoozes wake and SLA breaches are counted by the clock, every few seconds.
        let clockwork = tokio::spawn(
            (*state.workflow)
                .clone()
                .run(workers.clone(), Duration::from_secs(5)),
        );
        // Sessions past their limits are deleted now and then (they are refused anyway).
        let housekeeping = {
            let state = state.clone();
            let stop = workers.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(600));
                let mut ticks: u64 = 0;
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        _ = tick.tick() => {
                            let limits = crate::web::session::limits(&state);
                            if let Err(e) = state.store.purge_expired_sessions(state.ids.now_ms(), &limits).await {
                                tracing::warn!(error = %e, "expired sessions not purged");
                            }
                            // Once an hour: files nothing refers to, a week after they came.
                            if ticks.is_multiple_of(6) {
                                let before = state.ids.now_ms() - UNREFERENCED_BLOB_GRACE_MS;
                                match state.store.collect_blobs(state.blobs.as_ref(), before).await {
                                    Ok(0) => {}
                                    Ok(n) => tracing::info!(deleted = n, "unreferenced files collected"),
                                    Err(e) => tracing::warn!(error = %e, "unreferenced files not collected"),
                                }
                            }
                            ticks += 1;
                        }
                    }
                }
            })
        };
        let grace = Duration::from_millis(state.config.shutdown_grace_ms);
        tracing::info!(
            listen = %self.listener.local_addr()?,
            stream = state.stream.kind(),
            database = ?state.store.backend(),
            "switchboard is serving"
        );
        let app = crate::http::routes(state.clone());
        let signal = {
            let shutdown = shutdown.clone();
            async move {
                tokio::select! {
                    () = stop.cancelled() => {},
                    () = termination() => {},
                }
                tracing::info!("stopping: finishing requests under way");
                shutdown.cancel();
            }
        };
        // Peer addresses reach handlers as `ConnectInfo`: the widget socket cap counts by them.
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, app)
            .with_graceful_shutdown(signal)
            .await?;
        workers.cancel();
        let finished = tokio::time::timeout(grace, async {
            let _ = router.await;
            let _ = dispatcher.await;
            let _ = follower.await;
            if let Some(bot) = bot {
                let _ = bot.await;
            }
            let _ = clockwork.await;
            let _ = housekeeping.await;
        })
        .await;
        if finished.is_err() {
            tracing::warn!("workers did not finish within the grace period");
        }
        state.store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

async fn termination() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// Outgoing HTTP (WhatsApp, Stripe) speaks TLS: an https request reaches the
    /// connection stage instead of being refused for want of TLS support.
    #[tokio::test]
    async fn outgoing_http_speaks_tls() {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .https_only(true)
            .build()
            .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = client
            .get(format!("https://127.0.0.1:{port}/"))
            .send()
            .await
            .unwrap_err();
        assert!(err.is_connect(), "{err:?}");
    }

    #[test]
    fn two_processes_on_one_host_never_share_a_consumer_name() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        let first = NodeName::claim(&config).unwrap();
        let second = NodeName::claim(&config).unwrap();
        assert_ne!(first.name, second.name);
        assert!(first.name.ends_with("-0") && second.name.ends_with("-1"));
        // A restarted first process gets its name back, and with it its pending entries.
        let name = first.name.clone();
        drop(first);
        assert_eq!(NodeName::claim(&config).unwrap().name, name);
        // Another installation on the same host differs.
        let other = tempfile::tempdir().unwrap();
        let elsewhere = NodeName::claim(&Config {
            data_dir: other.path().to_owned(),
            ..Config::default()
        })
        .unwrap();
        assert_ne!(elsewhere.name, name);
        // An operator's explicit id wins.
        let named = NodeName::claim(&Config {
            node_id: Some("edge-1".into()),
            ..config
        })
        .unwrap();
        assert_eq!(named.name, "edge-1");
    }
}
