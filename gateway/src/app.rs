//! Wiring: the state every handler shares, and the application that owns the listener and
//! the workers (`Application::build` then `run_until_stopped`), so tests can bind port 0.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use switchboard_channels::webchat::{OriginAllowList, VisitorSigner, WebchatSender};
use switchboard_core::clock::{Ids, SystemClock};
use switchboard_core::dispatcher::{DispatchOptions, Dispatcher, Outbox, Sender};
use switchboard_core::domain::Channel;
use switchboard_core::metrics::Metrics;
use switchboard_core::realtime::{LocalRealtime, Realtime, RedisRealtime};
use switchboard_core::router::{NoBot, Router, RouterOptions};
use switchboard_core::store::Store;
use switchboard_core::stream::Stream;
use switchboard_core::stream::embedded::EmbeddedStream;
use switchboard_core::stream::redis::RedisStream;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::webchat::SocketCounter;

/// Everything a handler needs, passed with axum's `State`.
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
    /// Issues and checks web-chat visitor ids.
    pub visitors: VisitorSigner,
    /// Pages that may open widget sockets (`webchat.allowed_origins`).
    pub allowed_origins: Arc<OriginAllowList>,
    /// Widget sockets open per client address, for `webchat.max_sockets_per_ip`.
    pub widget_sockets: SocketCounter,
}

/// The database secret that keys visitor ids when `webchat.visitor_secret` is not set.
const VISITOR_SECRET: &str = "webchat.visitor";

impl AppState {
    /// Connects the store (migrating it) and the stream the config names.
    pub async fn connect(config: Config, shutdown: CancellationToken) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            anyhow::anyhow!("cannot create data dir {}: {e}", config.data_dir.display())
        })?;
        let ids = Ids::new(Arc::new(SystemClock));
        let store = Store::connect(&config.database_url()).await?;
        store.migrate(ids.now_ms()).await?;
        let secret = match &config.webchat.visitor_secret {
            Some(s) => s.expose().to_owned(),
            None => store.secret_or_create(&ids, VISITOR_SECRET).await?,
        };
        let visitors = VisitorSigner::new(secret.as_bytes())
            .map_err(|e| anyhow::anyhow!("webchat.visitor_secret: {e}"))?;
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
        let outbox = Outbox {
            store: store.clone(),
            stream: stream.clone(),
            ids: ids.clone(),
            realtime: realtime.clone(),
        };
        Ok(Self {
            config: Arc::new(config),
            store,
            stream,
            realtime,
            outbox,
            ids,
            metrics: Arc::new(Metrics::default()),
            shutdown,
            visitors,
            allowed_origins: Arc::new(allowed_origins),
            widget_sockets: SocketCounter::default(),
        })
    }

    /// A stable consumer name per node and role, so a restarted node finds the entries it
    /// had taken (see `Stream::pending_for`). The node is `SWITCHBOARD_NODE_ID`, else the
    /// host name.
    fn consumer_name(&self, role: &str) -> String {
        format!("{}-{role}", self.config.node_id())
    }

    pub fn router(&self) -> Router {
        let mut options = RouterOptions::for_backend(self.store.backend());
        options.reclaim_idle = Duration::from_millis(self.config.router.reclaim_idle_ms);
        Router {
            store: self.store.clone(),
            stream: self.stream.clone(),
            realtime: self.realtime.clone(),
            bot: Arc::new(NoBot),
            outbox: self.outbox.clone(),
            ids: self.ids.clone(),
            metrics: self.metrics.clone(),
            consumer: self.consumer_name("router"),
            options,
        }
    }

    pub fn dispatcher(&self) -> Dispatcher {
        let mut senders: HashMap<Channel, Arc<dyn Sender>> = HashMap::new();
        senders.insert(Channel::Webchat, Arc::new(WebchatSender));
        let d = &self.config.dispatcher;
        Dispatcher {
            outbox: self.outbox.clone(),
            senders,
            metrics: self.metrics.clone(),
            consumer: self.consumer_name("dispatcher"),
            options: DispatchOptions {
                max_attempts: d.max_attempts,
                backoff_base: Duration::from_millis(d.backoff_base_ms),
                backoff_max: Duration::from_millis(d.backoff_max_ms),
                ..DispatchOptions::default()
            },
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
        let dispatcher = tokio::spawn(state.dispatcher().run(workers.clone()));
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
