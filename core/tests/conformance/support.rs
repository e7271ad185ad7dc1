use std::sync::Arc;

use switchboard_core::clock::{Ids, SystemClock};
use switchboard_core::dispatcher::Outbox;
use switchboard_core::domain::{AuthorKind, Channel, Envelope, Identity, IdentityKind, Message};
use switchboard_core::metrics::Metrics;
use switchboard_core::realtime::{LocalRealtime, Realtime};
use switchboard_core::router::{Router, RouterOptions};
use switchboard_core::store::{IngestOutcome, NewOutbound, Queued, Store};
use switchboard_core::stream::Stream;
use switchboard_core::stream::embedded::EmbeddedStream;
use switchboard_core::stream::redis::RedisStream;

#[derive(Debug, Clone, Copy)]
pub enum Db {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Copy)]
pub enum Bus {
    Embedded,
    Redis,
}

pub fn pg_admin_url() -> String {
    std::env::var("SB_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("SB_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A fresh PostgreSQL database for one test; returns its url.
pub async fn fresh_pg() -> String {
    let admin = pg_admin_url();
    let name = format!("sbt_{}", uuid::Uuid::new_v4().simple());
    let store = Store::connect(&admin)
        .await
        .expect("postgres reachable at SB_TEST_PG");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    let base = admin.rsplit_once('/').unwrap().0;
    format!("{base}/{name}")
}

pub struct Env {
    pub store: Store,
    pub stream: Arc<dyn Stream>,
    pub realtime: Arc<LocalRealtime>,
    pub ids: Ids,
    pub metrics: Arc<Metrics>,
    _dir: tempfile::TempDir,
}

impl Env {
    pub async fn new(db: Db, bus: Bus) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = match db {
            Db::Sqlite => Store::sqlite_url(dir.path()),
            Db::Postgres => fresh_pg().await,
        };
        let store = Store::connect(&url).await.unwrap();
        let ids = Ids::new(Arc::new(SystemClock));
        store.migrate(ids.now_ms()).await.unwrap();
        let stream: Arc<dyn Stream> = match bus {
            Bus::Embedded => Arc::new(EmbeddedStream::new(store.clone(), ids.clock().clone())),
            Bus::Redis => {
                let prefix = format!("sbt:{}", uuid::Uuid::new_v4().simple());
                Arc::new(RedisStream::connect(&redis_url(), &prefix).await.unwrap())
            }
        };
        stream
            .ensure_group(
                switchboard_core::stream::INBOUND,
                switchboard_core::router::GROUP,
            )
            .await
            .unwrap();
        Self {
            store,
            stream,
            realtime: Arc::new(LocalRealtime::default()),
            ids,
            metrics: Arc::new(Metrics::default()),
            _dir: dir,
        }
    }

    pub fn outbox(&self) -> Outbox {
        Outbox {
            store: self.store.clone(),
            stream: self.stream.clone(),
            ids: self.ids.clone(),
            realtime: self.realtime.clone() as Arc<dyn Realtime>,
        }
    }

    pub fn router(&self, consumer: &str) -> Router {
        Router {
            store: self.store.clone(),
            stream: self.stream.clone(),
            realtime: self.realtime.clone(),
            ids: self.ids.clone(),
            metrics: self.metrics.clone(),
            consumer: consumer.into(),
            options: RouterOptions::for_backend(self.store.backend()),
        }
    }

    pub fn plain_router(&self) -> Router {
        self.router("r1")
    }

    /// Appends an envelope to the inbound stream, as a channel adapter does.
    pub async fn inbound(&self, e: &Envelope) {
        self.stream
            .append(
                switchboard_core::stream::INBOUND,
                &serde_json::to_string(e).unwrap(),
            )
            .await
            .unwrap();
    }

    /// An inbound web-chat envelope from a visitor.
    pub fn envelope(&self, visitor: &str, external_id: &str, text: &str) -> Envelope {
        Envelope::new(
            self.ids.new_id(),
            Channel::Webchat,
            "webchat:default",
            external_id,
            Identity::new(IdentityKind::Visitor, visitor).unwrap(),
            text,
            self.ids.now_ms(),
        )
    }

    /// Stores one envelope directly; returns the id of its conversation.
    pub async fn open(&self, e: Envelope) -> String {
        match &self.store.ingest_batch(&[e]).await.unwrap()[0] {
            IngestOutcome::Stored(i) => i.conversation.id.clone(),
            other => panic!("{other:?}"),
        }
    }

    /// Queues an agent's message in a conversation.
    pub async fn agent_says(&self, conversation: &str, text: &str) -> Message {
        match self
            .outbox()
            .queue(&NewOutbound::text(
                conversation,
                AuthorKind::Agent,
                None,
                text,
            ))
            .await
            .unwrap()
        {
            Queued::New(m, _) => m,
            other => panic!("{other:?}"),
        }
    }

    /// Queues an agent's message and records that its channel sent it as `external`.
    pub async fn agent_sent(&self, conversation: &str, text: &str, external: &str) -> Message {
        let m = self.agent_says(conversation, text).await;
        assert!(
            self.store
                .claim_for_sending(&m.id, self.ids.now_ms(), 1000)
                .await
                .unwrap()
                .is_some()
        );
        self.store
            .record_sent(&self.ids, &m.id, 1, Some(external))
            .await
            .unwrap();
        m
    }

    /// The messages of a conversation written by `author`.
    pub async fn count_by(&self, conversation: &str, author: AuthorKind) -> usize {
        self.store
            .messages(conversation, None, 0)
            .await
            .unwrap()
            .iter()
            .filter(|m| m.author_kind == author)
            .count()
    }

    /// An inbound email envelope from `from` to the `support` mailbox.
    pub fn email(&self, from: &str, message_id: &str, text: &str) -> Envelope {
        Envelope::new(
            self.ids.new_id(),
            Channel::Email,
            "email:support",
            message_id,
            Identity::email(from).unwrap(),
            text,
            self.ids.now_ms(),
        )
    }
}

/// Runs one async test body on every backend pair.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                use $crate::support::{Bus, Db, Env};
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite_embedded() { super::$name(Env::new(Db::Sqlite, Bus::Embedded).await).await }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite_redis() { super::$name(Env::new(Db::Sqlite, Bus::Redis).await).await }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_embedded() { super::$name(Env::new(Db::Postgres, Bus::Embedded).await).await }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_redis() { super::$name(Env::new(Db::Postgres, Bus::Redis).await).await }
            }
        )+
    };
}
