//! The dispatcher: delivers outbound messages through their channel's [`Sender`], retries
//! transient failures with exponential backoff, records delivery state, and parks what
//! keeps failing in the dead-letter list (listed and retried from the CLI and the API).
//!
//! **Architecture Invariant:** a retry waits in the database (`next_attempt_at`), never in
//! a sleeping worker; a send is claimed under a lease longer than the send timeout, so a
//! job taken over from a dead or hung node is never sent twice; a channel whose permits are
//! all taken defers its messages instead of holding workers
//! (`dispatcher::second_pass::a_send_that_hangs_past_reclaim_is_never_sent_twice`,
//! `dispatcher::second_pass::a_down_channel_does_not_slow_the_others`,
//! `dispatcher::second_pass::the_sweep_does_not_requeue_a_backlog_every_time`).

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
use crate::store::{HookNext, HookResult, NewOutbound, Queued, Recipient, Store};
use crate::stream::{Entry, OUTBOUND, Stream};
use crate::webhooks::HookPoster;

pub const GROUP: &str = "dispatcher";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendReceipt {
    /// The channel's id for the sent message (WhatsApp `wamid`, email `Message-ID`).
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later (timeouts, 4xx from SMTP, 5xx from an API, rate limits);
    /// `retry_after` is the channel's own word on when (a `Retry-After` header).
    #[error("transient: {error}")]
    Transient {
        error: String,
        retry_after: Option<Duration>,
    },
    /// Will never work (bad address, rejected content).
    #[error("permanent: {0}")]
    Permanent(String),
}

impl SendError {
    pub fn transient(error: impl Into<String>) -> Self {
        Self::Transient {
            error: error.into(),
            retry_after: None,
        }
    }
}

/// Everything a sender needs, so that no channel reads another crate's tables: the
/// message and its conversation, who it goes to, the thread it continues, and the inbox's
/// channel settings. Rich content (HTML, attachments, quick replies, buttons, a template)
/// is on the message.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub conversation: Conversation,
    pub message: Message,
    pub recipients: Vec<Recipient>,
    /// The channel's ids of the conversation's earlier messages, oldest first (email
    /// `References`; the last is the one to reply to).
    pub references: Vec<String>,
    pub subject: Option<String>,
    pub inbox_settings: serde_json::Value,
    /// When the contact last wrote here (WhatsApp's 24-hour reply window counts from it).
    pub last_inbound_at: Option<i64>,
}

/// A channel's outbound side.
#[async_trait]
pub trait Sender: Send + Sync + std::fmt::Debug {
    fn channel(&self) -> Channel;
    async fn send(&self, outgoing: &Outgoing) -> Result<SendReceipt, SendError>;
}

/// A job on the outbound stream: a message to send, or a webhook delivery to post.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Job {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
}

impl Job {
    pub fn message(id: impl Into<String>) -> Self {
        Self {
            message_id: id.into(),
            hook: None,
        }
    }

    pub fn hook(delivery: impl Into<String>) -> Self {
        Self {
            message_id: String::new(),
            hook: Some(delivery.into()),
        }
    }
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
    /// and queues nothing; a bot message where a person has joined is not stored.
    pub async fn queue(&self, new: &NewOutbound<'_>) -> Result<Queued> {
        let queued = self.store.insert_outbound(&self.ids, new).await?;
        if let Queued::New(message, conversation) = &queued {
            let _ = self
                .realtime
                .publish(&Event::Message {
                    scope: conversation.scope(),
                    message: message.clone(),
                })
                .await;
            // If this append fails the dispatcher's sweep finds the message still queued.
            self.enqueue(&message.id).await?;
            let hooks: Vec<_> = crate::webhooks::message_created(conversation, message)
                .into_iter()
                .collect();
            crate::webhooks::emit(&self.store, &self.stream, &self.ids, &hooks).await;
        }
        Ok(queued)
    }

    pub async fn enqueue(&self, message_id: &str) -> Result<()> {
        self.enqueue_all(&[message_id.to_owned()]).await
    }

    /// Appends the jobs of many messages in one durable call.
    pub async fn enqueue_all(&self, message_ids: &[String]) -> Result<()> {
        let jobs = message_ids
            .iter()
            .map(|id| serde_json::to_string(&Job::message(id.clone())))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        self.stream.append_batch(OUTBOUND, &jobs).await?;
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
    /// Deliveries under way at once, all channels together.
    pub concurrency: usize,
    /// Deliveries under way at once per channel: a channel that is down or slow holds at
    /// most this many, and the others go on.
    pub per_channel: usize,
    /// Jobs pending this long are taken over: longer than a slow batch of a live node.
    pub reclaim_idle: Duration,
    /// A node that has not asked the stream for anything this long is dead, and its jobs
    /// are taken over then (`Stream::reclaim_from_silent`). A message it was sending
    /// keeps its claim until `lease` runs out: a send is never made twice at once.
    pub silent_after: Duration,
    /// A send call taking longer is abandoned and retried later.
    pub send_timeout: Duration,
    /// How long a claim lasts; longer than `send_timeout`, so a claim is never taken
    /// over while its send call may still be running.
    pub lease: Duration,
    /// How often due retries are put back on the stream.
    pub sweep_every: Duration,
    /// A queued message untouched this long gets its job appended again (its job was
    /// lost between storing the message and appending the job).
    pub lost_after: Duration,
    /// Webhook deliveries: attempts before one is given up, the backoff between them
    /// (receivers are often down for longer than a channel), how long a post may take,
    /// and how long finished deliveries stay in the log.
    pub hook_max_attempts: u32,
    pub hook_backoff_base: Duration,
    pub hook_backoff_max: Duration,
    pub hook_timeout: Duration,
    pub hook_keep: Duration,
}

impl Default for DispatchOptions {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(60),
            concurrency: 64,
            per_channel: 32,
            reclaim_idle: Duration::from_secs(120),
            silent_after: Duration::from_secs(10),
            send_timeout: Duration::from_secs(30),
            lease: Duration::from_secs(45),
            sweep_every: Duration::from_secs(1),
            lost_after: Duration::from_secs(300),
            hook_max_attempts: 10,
            hook_backoff_base: Duration::from_secs(10),
            hook_backoff_max: Duration::from_secs(3600),
            hook_timeout: Duration::from_secs(10),
            hook_keep: Duration::from_secs(30 * 86_400),
        }
    }
}

/// Delay before attempt `attempt + 1`, after `attempt` failures: base·2^(attempt−1), capped.
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
    base.saturating_mul(factor).min(max)
}

/// The backoff with "equal jitter": between half and all of it, so that messages that
/// failed together do not all come back at the same moment.
pub fn jittered(delay: Duration) -> Duration {
    let half = delay / 2;
    half + half.mul_f64(rand::random::<f64>())
}

#[derive(Debug, Clone)]
pub struct Dispatcher {
    pub outbox: Outbox,
    pub senders: HashMap<Channel, Arc<dyn Sender>>,
    pub metrics: Arc<Metrics>,
    pub consumer: String,
    pub options: DispatchOptions,
    /// Per-channel permits (see `DispatchOptions::per_channel`); made on first use.
    pub permits: Arc<std::sync::Mutex<HashMap<Channel, Arc<Semaphore>>>>,
    /// Posts webhook deliveries; without it their jobs are left for a node that has one.
    pub hooks: Option<Arc<dyn HookPoster>>,
    /// When finished webhook deliveries were last pruned (epoch ms).
    pub pruned_at: Arc<std::sync::atomic::AtomicI64>,
    /// When the inbox's view tallies were last looked at for folding (epoch ms).
    pub folded_at: Arc<std::sync::atomic::AtomicI64>,
}

impl Dispatcher {
    pub fn new(
        outbox: Outbox,
        senders: HashMap<Channel, Arc<dyn Sender>>,
        metrics: Arc<Metrics>,
        consumer: String,
        options: DispatchOptions,
    ) -> Self {
        Self {
            outbox,
            senders,
            metrics,
            consumer,
            options,
            permits: Arc::default(),
            hooks: None,
            pruned_at: Arc::default(),
            folded_at: Arc::default(),
        }
    }

    /// Posts webhook deliveries with `poster`.
    pub fn with_hooks(mut self, poster: Arc<dyn HookPoster>) -> Self {
        self.hooks = Some(poster);
        self
    }

    pub async fn run(self, shutdown: CancellationToken) {
        let stream = self.outbox.stream.clone();
        if let Err(e) = stream.ensure_group(OUTBOUND, GROUP).await {
            tracing::error!(error = %e, "dispatcher cannot create its consumer group");
        }
        // Jobs this node had taken before a crash. A message mid-send then is `sending`
        // under a lease; it is sent again only once the lease has run out.
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
            for entry in mine {
                self.handle(entry).await;
            }
            if stream.flush().await.is_err() {
                break;
            }
        }
        let how = crate::stream::Consume {
            topic: OUTBOUND,
            group: GROUP,
            consumer: &self.consumer,
            // Never waits long for a permit: every delivery ends within `send_timeout`.
            concurrency: self.options.concurrency,
            block: self.options.sweep_every.min(Duration::from_millis(500)),
            every: self.options.sweep_every,
        };
        let handle = |entry| {
            let this = self.clone();
            async move { this.handle(entry).await }
        };
        let housekeeping = || async {
            if let Err(e) = self.housekeeping().await {
                tracing::warn!(error = %e, "dispatcher housekeeping failed");
            }
        };
        crate::stream::consume(&stream, how, &shutdown, handle, housekeeping).await;
    }

    /// Takes over jobs of dead consumers, puts due retries back on the stream, trims.
    pub async fn housekeeping(&self) -> Result<()> {
        let stream = &self.outbox.stream;
        let o = &self.options;
        let mut stale = stream
            .reclaim_from_silent(OUTBOUND, GROUP, &self.consumer, o.silent_after, 64)
            .await?;
        stale.extend(
            stream
                .reclaim(OUTBOUND, GROUP, &self.consumer, o.reclaim_idle, 64)
                .await?,
        );
        for entry in stale {
            self.handle(entry).await;
        }
        let lost_after = i64::try_from(self.options.lost_after.as_millis()).unwrap_or(i64::MAX);
        let due = self
            .outbox
            .store
            .take_due(self.outbox.ids.now_ms(), lost_after, 500)
            .await?;
        if !due.is_empty() {
            self.outbox.enqueue_all(&due).await?;
        }
        if self.hooks.is_some() {
            let store = &self.outbox.store;
            let now = self.outbox.ids.now_ms();
            // Taken again by a later sweep if this append fails (`lost_after`).
            let due = store.take_due_hooks(now, lost_after, 500).await?;
            crate::webhooks::enqueue(stream, due).await;
            // Finished deliveries leave the log after `hook_keep`, looked at every 10 min.
            let last = self.pruned_at.load(std::sync::atomic::Ordering::Relaxed);
            if now - last >= 600_000 {
                self.pruned_at
                    .store(now, std::sync::atomic::Ordering::Relaxed);
                let keep = i64::try_from(self.options.hook_keep.as_millis()).unwrap_or(i64::MAX);
                store.forget_old_hooks(now.saturating_sub(keep)).await?;
            }
        }
        // The inbox's view tallies stay a few rows per group: looked at every 10 s (two
        // counts of rows when there is nothing to fold), not on every sweep.
        let now = self.outbox.ids.now_ms();
        if now - self.folded_at.load(std::sync::atomic::Ordering::Relaxed) >= 10_000 {
            self.folded_at
                .store(now, std::sync::atomic::Ordering::Relaxed);
            self.outbox.store.compact_inbox_tallies().await?;
            // PostgreSQL's words rows of messages older than a minute, into their
            // conversations' search rows: a busy thread is rewritten about once a minute,
            // never by the intake. A backlog (after an upgrade) goes 500 conversations per
            // statement, for at most about a second per look.
            let started = std::time::Instant::now();
            while self
                .outbox
                .store
                .fold_search_words(now.saturating_sub(60_000), 500)
                .await?
                == 500
                && started.elapsed() < Duration::from_secs(1)
            {}
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
            Ok(Job {
                hook: Some(delivery),
                ..
            }) => self.deliver_hook(&delivery).await,
            Ok(job) => self.deliver(&job.message_id).await,
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

    fn channel_permits(&self, channel: Channel) -> Arc<Semaphore> {
        let mut map = self.permits.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(channel)
            .or_insert_with(|| Arc::new(Semaphore::new(self.options.per_channel.max(1))))
            .clone()
    }

    /// Makes one delivery attempt. A transient failure schedules the next attempt in the
    /// database (the worker is free at once); a permanent one, or the last attempt, parks
    /// the message as a dead letter. Returns an error only when the store cannot be
    /// reached (the job then stays pending).
    pub async fn deliver(&self, message_id: &str) -> Result<()> {
        let store = &self.outbox.store;
        let ids = &self.outbox.ids;
        let message = match store.message(message_id).await {
            Ok(m) => m,
            Err(Error::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        if !matches!(
            message.delivery_state,
            DeliveryState::Queued | DeliveryState::Sending
        ) {
            return Ok(()); // sent, failed, or not outbound at all
        }
        let Some(sender) = self.senders.get(&message.channel).cloned() else {
            if store
                .claim_for_sending(message_id, ids.now_ms(), 0)
                .await?
                .is_some()
            {
                let error = format!("no sender for channel {}", message.channel);
                store.add_dead_letter(ids, &message, &error, 0).await?;
                Metrics::outcome(&self.metrics.dispatched, "dead");
            }
            return Ok(());
        };
        // A channel with all its permits taken (down, or slow) does not hold this worker:
        // the message comes back shortly through the schedule.
        let Ok(_permit) = self.channel_permits(message.channel).try_acquire_owned() else {
            Metrics::outcome(&self.metrics.dispatched, "deferred");
            store.defer(message_id, ids.now_ms() + 1000).await?;
            return Ok(());
        };
        let lease = i64::try_from(self.options.lease.as_millis()).unwrap_or(i64::MAX);
        let Some(attempts) = store
            .claim_for_sending(message_id, ids.now_ms(), lease)
            .await?
        else {
            return Ok(()); // another job has it under a lease, or it is not due yet
        };
        let conversation = store.conversation(&message.conversation_id).await?;
        let outgoing = Outgoing {
            recipients: store.recipients(&conversation).await?,
            references: store
                .thread_references(&conversation.id, &message.id, 20)
                .await?,
            subject: conversation.subject.clone(),
            inbox_settings: store.inbox_settings(&conversation.inbox).await?,
            last_inbound_at: store.last_inbound_at(&conversation.id).await?,
            conversation,
            message,
        };
        let attempt = u32::try_from(attempts).unwrap_or(0) + 1;
        let started = tokio::time::Instant::now();
        let result =
            match tokio::time::timeout(self.options.send_timeout, sender.send(&outgoing)).await {
                Ok(r) => r,
                Err(_) => Err(SendError::transient(format!(
                    "no answer within {} ms",
                    self.options.send_timeout.as_millis()
                ))),
            };
        self.metrics
            .send_latency
            .observe(started.elapsed().as_secs_f64());
        let conversation = &outgoing.conversation;
        match result {
            Ok(receipt) => {
                let state = store
                    .record_sent(
                        ids,
                        message_id,
                        i64::from(attempt),
                        receipt.external_id.as_deref(),
                    )
                    .await?;
                Metrics::outcome(&self.metrics.dispatched, "sent");
                self.publish_state(conversation, message_id, state).await;
            }
            Err(SendError::Transient { error, retry_after })
                if attempt < self.options.max_attempts =>
            {
                Metrics::outcome(&self.metrics.dispatched, "retry");
                let delay = retry_after.unwrap_or_else(|| {
                    jittered(backoff(
                        attempt,
                        self.options.backoff_base,
                        self.options.backoff_max,
                    ))
                });
                let now = ids.now_ms();
                let at = now + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
                store
                    .schedule_retry(message_id, i64::from(attempt), &error, at, now)
                    .await?;
            }
            Err(e) => {
                tracing::warn!(message = message_id, attempts = attempt, error = %e, "delivery failed for good");
                store
                    .add_dead_letter(ids, &outgoing.message, &e.to_string(), i64::from(attempt))
                    .await?;
                Metrics::outcome(&self.metrics.dispatched, "dead");
                self.publish_state(conversation, message_id, DeliveryState::Failed)
                    .await;
            }
        }
        Ok(())
    }

    /// Makes one attempt at a webhook delivery: a 2xx answer delivers it; 410 Gone, or the
    /// last attempt, fails it; anything else (no answer, 3xx, 4xx, 5xx) tries again after
    /// the backoff. Returns an error only when the store cannot be reached.
    pub async fn deliver_hook(&self, delivery_id: &str) -> Result<()> {
        let Some(poster) = self.hooks.clone() else {
            return Ok(()); // the sweep of a node with a poster puts it back
        };
        let store = &self.outbox.store;
        let ids = &self.outbox.ids;
        let lease = self.options.hook_timeout + Duration::from_secs(5);
        let lease = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
        let claim = match store.claim_hook(delivery_id, ids.now_ms(), lease).await {
            Ok(Some(c)) => c,
            Ok(None) | Err(Error::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let body = &claim.delivery.payload;
        let t = ids.now_ms() / 1000;
        let headers = [
            ("content-type", "application/json".to_owned()),
            (
                crate::webhooks::SIGNATURE_HEADER,
                crate::webhooks::signature(&claim.secret, t, body),
            ),
            ("switchboard-event", claim.delivery.kind.clone()),
            ("switchboard-delivery", claim.delivery.id.clone()),
        ];
        let started = tokio::time::Instant::now();
        let answer = match tokio::time::timeout(
            self.options.hook_timeout,
            poster.post(&claim.url, &headers, body),
        )
        .await
        {
            Ok(a) => a,
            Err(_) => Err(format!(
                "no answer within {} ms",
                self.options.hook_timeout.as_millis()
            )),
        };
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let attempt = u32::try_from(claim.delivery.attempts)
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        let (result, ok, gone) = match answer {
            Ok(r) => (
                HookResult {
                    status: Some(i64::from(r.status)),
                    duration_ms,
                    response: Some(r.body),
                    error: None,
                },
                (200..300).contains(&r.status),
                r.status == 410,
            ),
            Err(e) => (
                HookResult {
                    status: None,
                    duration_ms,
                    response: None,
                    error: Some(e),
                },
                false,
                false,
            ),
        };
        let next = if ok {
            Metrics::outcome(&self.metrics.dispatched, "hook_delivered");
            HookNext::Delivered
        } else if gone || attempt >= self.options.hook_max_attempts {
            Metrics::outcome(&self.metrics.dispatched, "hook_failed");
            HookNext::Failed
        } else {
            Metrics::outcome(&self.metrics.dispatched, "hook_retry");
            let delay = jittered(backoff(
                attempt,
                self.options.hook_backoff_base,
                self.options.hook_backoff_max,
            ));
            HookNext::Retry {
                at: ids.now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2),
            }
        };
        store
            .record_hook_attempt(ids, delivery_id, &result, next)
            .await
    }

    async fn publish_state(
        &self,
        conversation: &Conversation,
        message_id: &str,
        state: DeliveryState,
    ) {
        let event = Event::Delivery {
            scope: conversation.scope(),
            message_id: message_id.to_owned(),
            state,
            error_code: None,
            error_title: None,
        };
        let _ = self.outbox.realtime.publish(&event).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_between_half_and_all() {
        let d = Duration::from_millis(1000);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let j = jittered(d);
            assert!(j >= d / 2 && j <= d, "{j:?}");
            seen.insert(j.as_millis());
        }
        assert!(seen.len() > 10, "jitter varies: {seen:?}");
    }

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
