//! Realtime fan-out of conversation events to connected agents and widgets. In-process
//! for one node; through Redis pub/sub when Redis is configured, so every node's sockets
//! see every event. Events are a notification, not the record: a client that missed some
//! (a `Resync` event says so) reads the thread again from the store.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio_util::sync::CancellationToken;

use crate::domain::{Card, Conversation, DeliveryState, Handoff, Scope};
use crate::error::Result;

/// A realtime event. Every event about a conversation carries its [`Scope`] (inbox,
/// contact, company, tier, team, assignee), so a subscriber decides who may see it
/// without reading the database.
// Events are built once and fanned out by reference-counted broadcast; the size of the
// largest variant costs nothing worth an allocation per event.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A message was stored (inbound or outbound).
    Message {
        scope: Scope,
        message: crate::domain::Message,
    },
    /// An outbound message's delivery state changed.
    Delivery {
        scope: Scope,
        message_id: String,
        state: DeliveryState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_code: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_title: Option<String>,
    },
    ConversationOpened {
        conversation: Conversation,
    },
    /// Status, assignment, tier, team or labels changed; `change` names what.
    ConversationChanged {
        change: String,
        conversation: Conversation,
    },
    /// The conversation was handed to people.
    Handoff {
        scope: Scope,
        handoff: Handoff,
    },
    CardAdded {
        scope: Scope,
        card: Card,
    },
    CardUpdated {
        scope: Scope,
        card: Card,
    },
    /// Someone is typing; `from` is `contact` or `agent`. A visitor typing before its
    /// first message has no conversation yet: then only `contact_id` is known.
    Typing {
        #[serde(default)]
        scope: Option<Scope>,
        contact_id: String,
        from: String,
        on: bool,
    },
    /// A message only agents see (an internal note, a system line of the support side).
    /// It names no contact, so no widget ever receives it.
    Note {
        scope: Scope,
        message: crate::domain::Message,
    },
    /// Something one agent is told about (a mention, an assignment). Its scope names
    /// that agent as the recipient: nobody else receives it, whatever their role.
    Notification {
        scope: Scope,
        notification: crate::store::Notification,
    },
    /// An agent has a conversation open (the "also viewing" indicator). Agents only.
    Viewing {
        scope: Scope,
        user_id: String,
        name: String,
        conversation_id: String,
    },
    /// Events may have been missed (the bus reconnected): re-read state.
    Resync,
}

impl Event {
    /// The scope of the conversation the event is about, if any.
    pub fn scope(&self) -> Option<std::borrow::Cow<'_, Scope>> {
        use std::borrow::Cow;
        match self {
            Event::Message { scope, .. }
            | Event::Delivery { scope, .. }
            | Event::Handoff { scope, .. }
            | Event::CardAdded { scope, .. }
            | Event::CardUpdated { scope, .. }
            | Event::Note { scope, .. }
            | Event::Notification { scope, .. }
            | Event::Viewing { scope, .. } => Some(Cow::Borrowed(scope)),
            Event::ConversationOpened { conversation }
            | Event::ConversationChanged { conversation, .. } => {
                Some(Cow::Owned(conversation.scope()))
            }
            Event::Typing { scope, .. } => scope.as_ref().map(Cow::Borrowed),
            Event::Resync => None,
        }
    }

    /// The contact whose widget may see this event, if any: never for what only agents
    /// see (notes, notifications).
    pub fn contact_id(&self) -> Option<&str> {
        match self {
            Event::Message { scope, .. }
            | Event::Delivery { scope, .. }
            | Event::Handoff { scope, .. }
            | Event::CardAdded { scope, .. }
            | Event::CardUpdated { scope, .. } => Some(&scope.contact_id),
            Event::ConversationOpened { conversation }
            | Event::ConversationChanged { conversation, .. } => Some(&conversation.contact_id),
            Event::Typing { contact_id, .. } => Some(contact_id),
            Event::Note { .. }
            | Event::Notification { .. }
            | Event::Viewing { .. }
            | Event::Resync => None,
        }
    }

    /// The inbox of the conversation the event is about, if any.
    pub fn inbox(&self) -> Option<&str> {
        match self {
            Event::Message { scope, .. }
            | Event::Delivery { scope, .. }
            | Event::Handoff { scope, .. }
            | Event::CardAdded { scope, .. }
            | Event::CardUpdated { scope, .. } => Some(&scope.inbox),
            Event::ConversationOpened { conversation }
            | Event::ConversationChanged { conversation, .. } => Some(&conversation.inbox),
            Event::Typing { scope, .. } => scope.as_ref().map(|s| s.inbox.as_str()),
            Event::Note { scope, .. } | Event::Viewing { scope, .. } => Some(&scope.inbox),
            Event::Notification { .. } | Event::Resync => None,
        }
    }
}

/// An event as every subscriber on this node receives it: one value shared by all of
/// them, and its JSON written at most once however many sockets send it. With 500 agent
/// sockets open, each event is neither copied nor serialized 500 times.
#[derive(Debug)]
pub struct Shared {
    event: Event,
    json: OnceLock<String>,
}

impl Shared {
    pub fn new(event: Event) -> Arc<Self> {
        Arc::new(Self {
            event,
            json: OnceLock::new(),
        })
    }

    /// An event read off the bus together with the JSON it arrived as (the same text
    /// [`Shared::json`] would write).
    fn received(event: Event, json: String) -> Arc<Self> {
        Arc::new(Self {
            event,
            json: OnceLock::from(json),
        })
    }

    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The event as JSON, written by the first subscriber that asks.
    pub fn json(&self) -> &str {
        self.json.get_or_init(|| {
            serde_json::to_string(&self.event).unwrap_or_else(|e| {
                tracing::error!(error = %e, "realtime event not serializable");
                String::new()
            })
        })
    }
}

impl std::ops::Deref for Shared {
    type Target = Event;
    fn deref(&self) -> &Event {
        &self.event
    }
}

/// What one subscriber reads: every event published after it subscribed, in order, or
/// `Lagged` when it fell more than the channel's capacity behind.
#[derive(Debug)]
pub struct Subscription(broadcast::Receiver<Arc<Shared>>);

impl Subscription {
    /// The next event, shared with every other subscriber.
    pub async fn recv_shared(&mut self) -> std::result::Result<Arc<Shared>, RecvError> {
        self.0.recv().await
    }

    /// The next event, as a value of its own.
    pub async fn recv(&mut self) -> std::result::Result<Event, RecvError> {
        self.0.recv().await.map(|s| s.event.clone())
    }

    /// The next event if one is waiting, shared with every other subscriber.
    pub fn try_recv_shared(&mut self) -> std::result::Result<Arc<Shared>, TryRecvError> {
        self.0.try_recv()
    }

    pub fn try_recv(&mut self) -> std::result::Result<Event, TryRecvError> {
        self.0.try_recv().map(|s| s.event.clone())
    }
}

#[async_trait]
pub trait Realtime: Send + Sync + fmt::Debug {
    async fn publish(&self, event: &Event) -> Result<()>;
    /// Publishes several events in order; one round trip where the bus allows.
    async fn publish_all(&self, events: &[Event]) -> Result<()> {
        for e in events {
            self.publish(e).await?;
        }
        Ok(())
    }
    fn subscribe(&self) -> Subscription;
}

const CAPACITY: usize = 8192;

/// One node: a broadcast channel.
#[derive(Debug, Clone)]
pub struct LocalRealtime {
    tx: broadcast::Sender<Arc<Shared>>,
}

impl Default for LocalRealtime {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(CAPACITY).0,
        }
    }
}

#[async_trait]
impl Realtime for LocalRealtime {
    async fn publish(&self, event: &Event) -> Result<()> {
        // No subscriber is not an error: nobody is watching.
        let _ = self.tx.send(Shared::new(event.clone()));
        Ok(())
    }
    fn subscribe(&self) -> Subscription {
        Subscription(self.tx.subscribe())
    }
}

/// Many nodes: `PUBLISH` to one channel; a subscriber task per node feeds the local
/// broadcast and reconnects by itself when Redis goes away.
#[derive(Clone)]
pub struct RedisRealtime {
    conn: ConnectionManager,
    channel: String,
    local: broadcast::Sender<Arc<Shared>>,
}

impl fmt::Debug for RedisRealtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRealtime")
            .field("channel", &self.channel)
            .finish()
    }
}

impl RedisRealtime {
    pub async fn connect(
        client: redis::Client,
        prefix: &str,
        shutdown: CancellationToken,
    ) -> Result<Self> {
        let config = crate::stream::redis::config(Duration::from_secs(2));
        let conn = ConnectionManager::new_with_config(client.clone(), config).await?;
        let channel = format!("{prefix}:events");
        let local = broadcast::channel(CAPACITY).0;
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(subscriber(
            client,
            channel.clone(),
            local.clone(),
            shutdown,
            ready_tx,
        ));
        // Wait for the first subscription so that nothing published after `connect`
        // returns is missed; give up waiting after a while (the task keeps trying).
        let _ = tokio::time::timeout(Duration::from_secs(5), ready_rx).await;
        Ok(Self {
            conn,
            channel,
            local,
        })
    }
}

async fn subscriber(
    client: redis::Client,
    channel: String,
    local: broadcast::Sender<Arc<Shared>>,
    shutdown: CancellationToken,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let mut delay = Duration::from_millis(100);
    let mut lost = false;
    loop {
        let attempt = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        match tokio::select! { r = attempt => r, () = shutdown.cancelled() => return } {
            Ok(pubsub) => {
                delay = Duration::from_millis(100);
                if let Some(r) = ready.take() {
                    let _ = r.send(());
                }
                if lost {
                    tracing::info!("realtime bus reconnected");
                    let _ = local.send(Shared::new(Event::Resync));
                }
                let mut messages = pubsub.into_on_message();
                loop {
                    let next = tokio::select! { m = messages.next() => m, () = shutdown.cancelled() => return };
                    let Some(msg) = next else { break };
                    let payload = msg.get_payload_bytes();
                    match serde_json::from_slice::<Event>(payload) {
                        Ok(event) => {
                            // The payload is what `serde_json` wrote for this event on the
                            // publishing node: the sockets send it as it came.
                            let shared = match std::str::from_utf8(payload) {
                                Ok(json) => Shared::received(event, json.to_owned()),
                                Err(_) => Shared::new(event),
                            };
                            let _ = local.send(shared);
                        }
                        Err(e) => tracing::warn!(error = %e, "unreadable realtime event"),
                    }
                }
                tracing::warn!("realtime bus connection lost; reconnecting");
                lost = true;
            }
            Err(e) => {
                lost = true;
                tracing::debug!(error = %e, "realtime bus unavailable");
            }
        }
        tokio::select! { () = tokio::time::sleep(delay) => {}, () = shutdown.cancelled() => return }
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

#[async_trait]
impl Realtime for RedisRealtime {
    async fn publish(&self, event: &Event) -> Result<()> {
        let payload = serde_json::to_string(event)?;
        let _: i64 = crate::stream::redis::retry_dropped(|| {
            let mut conn = self.conn.clone();
            let cmd = redis::cmd("PUBLISH")
                .arg(&self.channel)
                .arg(&payload)
                .to_owned();
            async move { cmd.query_async(&mut conn).await }
        })
        .await?;
        Ok(())
    }
    async fn publish_all(&self, events: &[Event]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for e in events {
            pipe.cmd("PUBLISH")
                .arg(&self.channel)
                .arg(serde_json::to_string(e)?)
                .ignore();
        }
        let () = crate::stream::redis::retry_dropped(|| {
            let mut conn = self.conn.clone();
            let pipe = pipe.clone();
            async move { pipe.query_async(&mut conn).await }
        })
        .await?;
        Ok(())
    }

    fn subscribe(&self) -> Subscription {
        Subscription(self.local.subscribe())
    }
}
