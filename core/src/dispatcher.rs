//! The dispatcher: delivers outbound messages through their channel's [`Sender`], retries
//! transient failures with exponential backoff, records delivery state, and parks what
//! keeps failing in the dead-letter list (listed and retried from the CLI and the API).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::clock::Ids;
use crate::domain::{Channel, Conversation, DeliveryState, Message};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::realtime::{Event, Realtime};
use crate::store::{NewOutbound, Store};
use crate::stream::{Entry, OUTBOUND, Stream};

pub const GROUP: &str = "dispatcher";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendReceipt {
    /// The channel's id for the sent message (WhatsApp `wamid`, email `Message-ID`).
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later (timeouts, 5xx, rate limits).
    #[error("transient: {0}")]
    Transient(String),
    /// Will never work (bad address, rejected content).
    #[error("permanent: {0}")]
    Permanent(String),
}

/// A channel's outbound side.
#[async_trait]
pub trait Sender: Send + Sync + std::fmt::Debug {
    fn channel(&self) -> Channel;
    async fn send(
        &self,
        conversation: &Conversation,
        message: &Message,
    ) -> Result<SendReceipt, SendError>;
}

/// A job on the outbound stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub message_id: String,
}

/// Stores outbound messages and puts their delivery job on the outbound stream.
#[derive(Debug, Clone)]
pub struct Outbox {
    pub store: Store,
    pub stream: Arc<dyn Stream>,
    pub ids: Ids,
    pub realtime: Arc<dyn Realtime>,
}

impl Outbox {
    /// Queues a message for delivery. A repeated idempotency key returns the first message
    /// and queues nothing.
    pub async fn queue(&self, new: &NewOutbound<'_>) -> Result<Message> {
        let (message, fresh) = self.store.insert_outbound(&self.ids, new).await?;
        if let Some(conversation) = fresh {
            let _ = self
                .realtime
                .publish(&Event::Message {
                    conversation_id: conversation.id.clone(),
                    contact_id: conversation.contact_id.clone(),
                    message: message.clone(),
                })
                .await;
            // If this append fails the dispatcher's sweep finds the message still queued.
            self.enqueue(&message.id).await?;
        }
        Ok(message)
    }

    pub async fn enqueue(&self, message_id: &str) -> Result<()> {
        let job = serde_json::to_string(&Job {
            message_id: message_id.to_owned(),
        })?;
        self.stream.append(OUTBOUND, &job).await?;
        Ok(())
    }

    /// Sends a dead letter again.
    pub async fn retry_dead_letter(&self, id: &str) -> Result<String> {
        let message_id = self
            .store
            .requeue_dead_letter(id, self.ids.now_ms())
            .await?;
        self.enqueue(&message_id).await?;
        Ok(message_id)
    }
}

#[derive(Debug, Clone)]
pub struct DispatchOptions {
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub concurrency: usize,
    pub reclaim_idle: Duration,
    /// A queued message untouched this long gets its job appended again.
    pub sweep_after: Duration,
}

impl Default for DispatchOptions {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(60),
            concurrency: 64,
            reclaim_idle: Duration::from_secs(120),
            sweep_after: Duration::from_secs(300),
        }
    }
}

/// Delay before attempt `attempt + 1`, after `attempt` failures: base·2^(attempt−1), capped.
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
    base.saturating_mul(factor).min(max)
}

#[derive(Debug, Clone)]
pub struct Dispatcher {
    pub outbox: Outbox,
    pub senders: HashMap<Channel, Arc<dyn Sender>>,
    pub metrics: Arc<Metrics>,
    pub consumer: String,
    pub options: DispatchOptions,
}

impl Dispatcher {
    pub async fn run(self, shutdown: CancellationToken) {
        let stream = self.outbox.stream.clone();
        if let Err(e) = stream.ensure_group(OUTBOUND, GROUP).await {
            tracing::error!(error = %e, "dispatcher cannot create its consumer group");
        }
        // Jobs this node had taken before a crash: the messages may be mid-send, so they
        // are taken over (a `sending` message is resumed, not skipped).
        for _ in 0..1000 {
            let Ok(mine) = stream
                .pending_for(OUTBOUND, GROUP, &self.consumer, 64)
                .await
            else {
                break;
            };
            if mine.is_empty() {
                break;
            }
            for mut entry in mine {
                entry.deliveries = entry.deliveries.max(2);
                self.handle(entry).await;
            }
            if stream.flush().await.is_err() {
                break;
            }
        }
        let permits = Arc::new(Semaphore::new(self.options.concurrency.max(1)));
        let mut last_housekeeping = tokio::time::Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        while !shutdown.is_cancelled() {
            // Not raced against shutdown (see the router): the read waits at most 500 ms.
            let read = stream
                .read(
                    OUTBOUND,
                    GROUP,
                    &self.consumer,
                    64,
                    Duration::from_millis(500),
                )
                .await;
            match read {
                Ok(entries) => {
                    for entry in entries {
                        let Ok(permit) = permits.clone().acquire_owned().await else {
                            break;
                        };
                        let this = self.clone();
                        tasks.spawn(async move {
                            this.handle(entry).await;
                            drop(permit);
                        });
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "dispatcher cannot read the outbound stream");
                    let _ = stream.ensure_group(OUTBOUND, GROUP).await;
                    tokio::select! { () = tokio::time::sleep(Duration::from_secs(1)) => {}, () = shutdown.cancelled() => break }
                }
            }
            while tasks.try_join_next().is_some() {}
            if last_housekeeping.elapsed() >= Duration::from_secs(1) {
                last_housekeeping = tokio::time::Instant::now();
                if let Err(e) = self.housekeeping().await {
                    tracing::warn!(error = %e, "dispatcher housekeeping failed");
                }
            }
        }
        // Graceful shutdown: let deliveries under way finish.
        while tasks.join_next().await.is_some() {}
        if let Err(e) = stream.flush().await {
            tracing::warn!(error = %e, "dispatcher could not flush the stream");
        }
    }

    pub async fn housekeeping(&self) -> Result<()> {
        let stream = &self.outbox.stream;
        for entry in stream
            .reclaim(
                OUTBOUND,
                GROUP,
                &self.consumer,
                self.options.reclaim_idle,
                64,
            )
            .await?
        {
            self.handle(entry).await;
        }
        let cutoff = self.outbox.ids.now_ms()
            - i64::try_from(self.options.sweep_after.as_millis()).unwrap_or(i64::MAX);
        for id in self.outbox.store.stale_queued(cutoff, 100).await? {
            self.outbox.enqueue(&id).await?;
        }
        stream.trim(OUTBOUND).await?;
        Ok(())
    }

    /// Processes whatever is on the stream now, waiting up to `block`; for tests.
    pub async fn step(&self, block: Duration) -> Result<usize> {
        self.outbox.stream.ensure_group(OUTBOUND, GROUP).await?;
        let entries = self
            .outbox
            .stream
            .read(OUTBOUND, GROUP, &self.consumer, 64, block)
            .await?;
        let n = entries.len();
        futures::future::join_all(entries.into_iter().map(|e| self.handle(e))).await;
        Ok(n)
    }

    async fn handle(&self, entry: Entry) {
        let stream = &self.outbox.stream;
        let done = match serde_json::from_str::<Job>(&entry.payload) {
            Ok(job) => self.deliver(&job.message_id, entry.deliveries > 1).await,
            Err(e) => {
                tracing::error!(error = %e, entry = %entry.id, "unreadable outbound job dropped");
                Ok(())
            }
        };
        match done {
            Ok(()) => {
                if let Err(e) = stream
                    .ack(OUTBOUND, GROUP, std::slice::from_ref(&entry.id))
                    .await
                {
                    tracing::warn!(error = %e, "outbound ack failed; the job will be seen again");
                }
            }
            // Left pending: reclaimed and tried again later.
            Err(e) => tracing::warn!(error = %e, entry = %entry.id, "delivery interrupted"),
        }
    }

    /// Delivers one message, with retries. Returns an error only when the store cannot be
    /// reached (the job then stays pending).
    pub async fn deliver(&self, message_id: &str, take_over: bool) -> Result<()> {
        let store = &self.outbox.store;
        let ids = &self.outbox.ids;
        let message = match store.message(message_id).await {
            Ok(m) => m,
            Err(Error::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let Some(attempts) = store
            .claim_for_sending(message_id, take_over, ids.now_ms())
            .await?
        else {
            return Ok(()); // already sent, failed, or another job has it
        };
        let conversation = store.conversation(&message.conversation_id).await?;
        let Some(sender) = self.senders.get(&message.channel) else {
            let error = format!("no sender for channel {}", message.channel);
            store.add_dead_letter(ids, &message, &error, 0).await?;
            Metrics::outcome(&self.metrics.dispatched, "dead");
            return Ok(());
        };
        let mut attempt = u32::try_from(attempts).unwrap_or(0);
        loop {
            attempt += 1;
            let started = tokio::time::Instant::now();
            let result = sender.send(&conversation, &message).await;
            self.metrics
                .send_latency
                .observe(started.elapsed().as_secs_f64());
            match result {
                Ok(receipt) => {
                    store
                        .set_delivery(
                            message_id,
                            DeliveryState::Sent,
                            i64::from(attempt),
                            None,
                            receipt.external_id.as_deref(),
                            ids.now_ms(),
                        )
                        .await?;
                    Metrics::outcome(&self.metrics.dispatched, "sent");
                    self.publish_state(&conversation, message_id, DeliveryState::Sent)
                        .await;
                    return Ok(());
                }
                Err(SendError::Transient(e)) if attempt < self.options.max_attempts => {
                    Metrics::outcome(&self.metrics.dispatched, "retry");
                    store
                        .set_delivery(
                            message_id,
                            DeliveryState::Sending,
                            i64::from(attempt),
                            Some(&e),
                            None,
                            ids.now_ms(),
                        )
                        .await?;
                    tokio::time::sleep(backoff(
                        attempt,
                        self.options.backoff_base,
                        self.options.backoff_max,
                    ))
                    .await;
                }
                Err(e) => {
                    tracing::warn!(message = message_id, attempts = attempt, error = %e, "delivery failed for good");
                    store
                        .add_dead_letter(ids, &message, &e.to_string(), i64::from(attempt))
                        .await?;
                    Metrics::outcome(&self.metrics.dispatched, "dead");
                    self.publish_state(&conversation, message_id, DeliveryState::Failed)
                        .await;
                    return Ok(());
                }
            }
        }
    }

    async fn publish_state(
        &self,
        conversation: &Conversation,
        message_id: &str,
        state: DeliveryState,
    ) {
        let event = Event::Delivery {
            conversation_id: conversation.id.clone(),
            contact_id: conversation.contact_id.clone(),
            message_id: message_id.to_owned(),
            state,
        };
        let _ = self.outbox.realtime.publish(&event).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        assert_eq!(backoff(1, base, max), Duration::from_millis(100));
        assert_eq!(backoff(2, base, max), Duration::from_millis(200));
        assert_eq!(backoff(4, base, max), Duration::from_millis(800));
        assert_eq!(backoff(5, base, max), max);
        assert_eq!(backoff(60, base, max), max);
    }
}
