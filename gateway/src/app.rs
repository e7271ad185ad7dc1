//! Composition: builds the shared state from the lower crates, merges the surfaces'
//! routers and API tables, and owns the listener and the workers (`Application::build`
//! then `run_until_stopped`, so tests can bind port 0).

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

use axum::http::HeaderName;
use axum::routing::MethodRouter;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::kit::AppState;
use crate::kit::api::ApiRoute;
use crate::kit::limits::SocketCounter;
use crate::kit::page::RouteSpec;
use crate::kit::state::{NodeName, UNREFERENCED_BLOB_GRACE_MS};

/// Every surface's agent pages, with the access each needs: what the route-scope sweep
/// walks.
pub fn page_table() -> Vec<(RouteSpec, MethodRouter<AppState>)> {
    let mut table = crate::ops::table();
    table.extend(crate::account::table());
    table.extend(crate::inbox::table());
    table.extend(crate::billing::table());
    table.extend(crate::equipment::table());
    table.extend(crate::kb::table());
    table.extend(crate::admin::table());
    table
}

/// The routes of [`page_table`], for tests and the docs.
pub fn route_specs() -> Vec<RouteSpec> {
    page_table().into_iter().map(|(s, _)| s).collect()
}

/// Every surface's part of the agent API (`/api/v1`): the router and the OpenAPI document
/// are both made from it.
pub fn api_table() -> Vec<(ApiRoute, MethodRouter<AppState>)> {
    let mut table = crate::inbox::api_routes();
    table.extend(crate::ops::api_routes());
    table.extend(crate::admin::api_routes());
    table.extend(crate::billing::api_routes());
    table.extend(crate::equipment::api_routes());
    table.extend(crate::account::api_routes());
    table
}

/// The whole HTTP surface: every surface's routes, the API under `/api/v1`, and the
/// layers every request passes (body limit, request id, request log, security headers).
pub fn routes(state: AppState) -> axum::Router {
    const REQUEST_ID: HeaderName = crate::kit::http::REQUEST_ID;
    let mut api = axum::Router::new();
    let mut specs = Vec::new();
    for (spec, route) in api_table() {
        api = api.route(spec.path, route);
        specs.push(spec);
    }
    let api = api.fallback(crate::kit::api::not_found);
    axum::Router::new()
        .merge(crate::account::routes(&state))
        .merge(crate::inbox::routes(&state))
        .merge(crate::billing::routes(&state))
        .merge(crate::equipment::routes(&state))
        .merge(crate::kb::routes(&state))
        .merge(crate::admin::routes(&state))
        .merge(crate::portal::routes(&state))
        .merge(crate::webchat::routes())
        .merge(crate::email::routes())
        .merge(crate::whatsapp::routes(&state))
        .merge(crate::ops::routes(&state, &specs))
        .nest("/api/v1", api)
        .layer(axum::extract::DefaultBodyLimit::max(256 * 1024))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), path = %crate::kit::http::redacted_path(req.uri().path()), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(axum::middleware::map_response_with_state(
            state.clone(),
            crate::kit::http::security_headers,
        ))
        .with_state(state)
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
        let stored = crate::kit::mail::mailboxes::stored(&store).await?;
        let mailboxes = Arc::new(crate::kit::mail::mailboxes::Mailboxes::new(
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
        let blobs: Arc<dyn BlobStore> = Arc::new(LocalBlobStore::in_data_dir(&config_data_dir));
        let whatsapp = Arc::new(crate::kit::whatsapp::Whatsapp::new(
            &config,
            blobs.clone(),
            ids.clone(),
        )?);
        let workflow = Arc::new(
            switchboard_core::workflow::Workflow::new(
                store.clone(),
                realtime.clone(),
                ids.clone(),
                metrics.clone(),
            )
            .with_sla(sla)
            .with_notices(Arc::new(crate::kit::mail::notices::EmailNotices {
                store: store.clone(),
                outbox: outbox.clone(),
                config: config.clone(),
                mailboxes: mailboxes.clone(),
                whatsapp: whatsapp.clone(),
            }))
            .with_notices(Arc::new(crate::portal::tickets::TicketCards {
                store: store.clone(),
                realtime: realtime.clone(),
                ids: ids.clone(),
            }))
            .with_notices(Arc::new(crate::kit::surveys::Surveys {
                store: store.clone(),
                realtime: realtime.clone(),
                ids: ids.clone(),
            }))
            .with_notices(Arc::new(switchboard_core::webhooks::ResolvedHooks {
                store: store.clone(),
                stream: stream.clone(),
                ids: ids.clone(),
            })),
        );
        let widget_uploads = Arc::new(crate::kit::limits::UploadLimits::new(
            config.webchat.max_messages_per_minute,
        ));
        let mut outbound = Vec::new();
        for m in mailboxes.all() {
            if let Some(s) = crate::kit::mail::mailboxes::smtp_mailbox(&config, &m.inbox)? {
                outbound.push(s);
            }
        }
        let email_sender = Arc::new(switchboard_channels::email::smtp::EmailSender::new(
            outbound,
            reply_tokens.clone(),
            blobs.clone(),
            store.clone(),
        ));
        let tickets = crate::kit::desk::TicketDesk::start(crate::kit::desk::Parts {
            store: store.clone(),
            ids: ids.clone(),
            realtime: realtime.clone(),
            workflow: workflow.clone(),
            stream: stream.clone(),
        });
        let state = Self {
            config,
            store: store.clone(),
            stream,
            realtime,
            outbox,
            ids: ids.clone(),
            metrics,
            node: Arc::new(node),
            blobs,
            reply_tokens,
            email_sender: email_sender.clone(),
            mailboxes,
            whatsapp,
            shutdown,
            visitors,
            allowed_origins: Arc::new(allowed_origins),
            widget_sockets: SocketCounter::default(),
            widget_uploads,
            login_limits: Arc::new(crate::kit::limits::LoginLimits::new(
                &config_web,
                store.clone(),
                ids.clone(),
            )),
            email_senders: Arc::new(crate::kit::limits::SenderLimits::new(email_per_hour)),
            mailer: Arc::new(crate::kit::auth::SmtpMailer(email_sender.clone())),
            tickets,
            workflow,
            kb: Arc::new(std::sync::OnceLock::new()),
        };
        // The WhatsApp numbers of the settings page join the file's; each inbox names its
        // team, read when a conversation opens there.
        crate::kit::whatsapp::reload(&state).await?;
        // Invoice and estimate mail carry portal links minted as each mail is written.
        state
            .email_sender
            .set_link_minter(Arc::new(crate::portal::auth::Minter(state.clone())));
        Ok(state)
    }

    /// Opens the knowledge base (its index in the data dir) once.
    pub async fn open_kb(&self) -> anyhow::Result<Arc<crate::kit::kb::Kb>> {
        if let Some(kb) = self.kb.get() {
            return Ok(kb.clone());
        }
        let kb = crate::kit::kb::Kb::open(
            self.store.clone(),
            self.stream.clone(),
            self.ids.clone(),
            &self.config.data_dir,
            self.config.bot.settings(&self.config.public_url),
            crate::kit::kb::encoder(&self.config.bot).await?,
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
        senders.insert(Channel::Whatsapp, self.whatsapp.sender.clone());
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
                hook_max_attempts: d.hook_max_attempts,
                hook_backoff_base: Duration::from_millis(d.hook_backoff_base_ms),
                hook_backoff_max: Duration::from_millis(d.hook_backoff_max_ms),
                ..DispatchOptions::default()
            },
        )
        .with_hooks(Arc::new(crate::kit::webhooks::HttpPoster::new()))
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
        let media = tokio::spawn(crate::kit::whatsapp::run_media(
            state.clone(),
            workers.clone(),
        ));
        let templates = tokio::spawn(crate::kit::whatsapp::run_templates(
            state.clone(),
            workers.clone(),
        ));
        // Every node's index follows article changes; the bot answers when enabled.
        let kb = state.open_kb().await?;
        let follower = tokio::spawn(kb.clone().follow(state.node.name.clone(), workers.clone()));
        // Settings changed on other nodes (page mailboxes, WhatsApp numbers) come into use.
        let settings = tokio::spawn(crate::kit::settings::follow(state.clone(), workers.clone()));
        // The bot, when enabled, reads meter readings sent in words first (equipment).
        let bot = state.config.bot.enabled.then(|| {
            let kb_bot: Arc<dyn switchboard_core::bot::BotHook> =
                Arc::new(switchboard_bots::hook::KbBot {
                    store: state.store.clone(),
                    ids: state.ids.clone(),
                    brains: kb.clone(),
                    settings: kb.settings.clone(),
                });
            let hook: Arc<dyn switchboard_core::bot::BotHook> = if state.config.portal.equipment {
                Arc::new(crate::kit::equipment::ReadingsByMessage {
                    inner: kb_bot,
                    state: state.clone(),
                })
            } else {
                kb_bot
            };
            tokio::spawn(state.bot_worker(hook).run(workers.clone()))
        });
        // Snoozes wake and SLA breaches are counted by the clock, every few seconds.
        let clockwork = tokio::spawn(
            (*state.workflow)
                .clone()
                .run(workers.clone(), Duration::from_secs(5)),
        );
        // Sessions past their limits are deleted now and then (they are refused anyway).
        // Clients' notices: replies heard, waiting ones sent, invoices due scanned.
        let notices = tokio::spawn(crate::kit::notify::run(state.clone(), workers.clone()));
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
                            let limits = crate::kit::session::limits(&state);
                            if let Err(e) = state.store.purge_expired_sessions(state.ids.now_ms(), &limits).await {
                                tracing::warn!(error = %e, "expired sessions not purged");
                            }
                            // Once an hour: contract periods that ended are billed and
                            // readings due are reminded (each once, whichever node gets
                            // there first), and files nothing refers to, a week after they
                            // came, are collected.
                            if ticks.is_multiple_of(6) {
                                let today = crate::kit::billing::today(&state);
                                match crate::kit::equipment::close_now(&state, today).await {
                                    Ok(r) if r.periods > 0 => tracing::info!(periods = r.periods, invoices = r.invoices, "contract periods closed"),
                                    Ok(_) => {}
                                    Err(e) => tracing::warn!(error = %e, "contract periods not closed"),
                                }
                                match crate::kit::reminders::remind_readings(&state, today).await {
                                    Ok(r) if r.whatsapp + r.email > 0 => tracing::info!(whatsapp = r.whatsapp, email = r.email, "reading reminders sent"),
                                    Ok(_) => {}
                                    Err(e) => tracing::warn!(error = %e, "reading reminders not sent"),
                                }
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
        let app = routes(state.clone());
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
            let _ = media.await;
            let _ = templates.await;
            let _ = follower.await;
            let _ = settings.await;
            if let Some(bot) = bot {
                let _ = bot.await;
            }
            let _ = clockwork.await;
            let _ = housekeeping.await;
            let _ = notices.await;
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

    #[test]
    fn every_api_route_is_described_once_with_its_body() {
        let table = api_table();
        let specs: Vec<_> = table.iter().map(|(s, _)| s.clone()).collect();
        let doc = crate::ops::openapi::document(&specs);
        let paths = doc["paths"].as_object().unwrap();
        let mut ids = std::collections::HashSet::new();
        for (route, _) in api_table() {
            let op = &paths[&format!("/api/v1{}", route.path)][route.method.to_ascii_lowercase()];
            assert!(op.is_object(), "{} {} is missing", route.method, route.path);
            assert!(!op["summary"].as_str().unwrap().is_empty());
            assert!(
                ids.insert(op["operationId"].as_str().unwrap().to_owned()),
                "duplicate id"
            );
            if route.method == "POST" && route.body.is_some() {
                assert!(op["requestBody"].is_object());
            }
            for p in route.path.split('/').filter(|s| s.starts_with('{')) {
                let name = p.trim_matches(['{', '}']);
                assert!(
                    op["parameters"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|x| x["name"] == name)
                );
            }
        }
    }
}
