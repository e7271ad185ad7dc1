//! The router: reads the inbound stream, threads each envelope into the store (contact,
//! conversation, message), applies delivery receipts, and publishes realtime events. The
//! bot is not on this path: it reads the same stream as a consumer group of its own
//! (`crate::bot`), so a slow bot never slows ingest.
//!
//! Exactly-once effect: an envelope's `(channel, external_id)` is unique in `messages`, so
//! an entry handed out twice (a crash before ack, a reclaim) changes nothing the second
//! time. Entries are acked only after their transaction commits.
//!
//! The whole flow. Clients write over web chat, email and the portal's tickets (and, in
//! later work, WhatsApp). Each channel adapter turns wire input into a normalized
//! `Envelope` and appends it to the **inbound stream**; only once the append is durable
//! does it acknowledge the sender. The **router** (a consumer group on that stream)
//! resolves the contact, finds or opens the conversation, persists the message, applies
//! delivery receipts and publishes realtime events. The **bot** reads the same stream as a
//! consumer group of its own (`BotWorker`), so it never slows ingest, and answers or hands
//! over to people; `serve` runs it with the `bots` crate's `KbBot` when `bot.enabled` (else
//! no bot group is created). Replies (from agents or the bot) are stored as `queued` and
//! put on the **outbound stream**, where the **dispatcher** delivers them through the
//! channel's `Sender`, with retries, backoff and a dead-letter list. Agents and widgets
//! watch realtime events over websockets.
//!
//! ```text
//! widget ──ws──▶ gateway ──append──▶ inbound stream
//!                                      ├──router──▶ store ──▶ realtime ──▶ agents, widgets
//!                                      └──bot group──▶ BotHook ──▶ outbox / handoff
//! agent ──API──▶ gateway ──store queued + append──▶ outbound stream
//!                                                     └──dispatcher──▶ Sender ──▶ channel
//! ```
//!
//! The stream is Redis Streams when `REDIS_URL` is set, otherwise an embedded stream in the
//! store's own database. The store is SQLite (default) or PostgreSQL.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clock::Ids;
use crate::domain::{AuthorKind, Conversation, Envelope, Inbound, Receipt};
use crate::error::Result;
use crate::metrics::Metrics;
use crate::realtime::{Event, Realtime};
use crate::store::{
    Backend, IngestOutcome, NewNotification, NotificationKind, ReceiptOutcome, Store,
};
use crate::stream::{Entry, INBOUND, Stream};
use crate::workflow::Workflow;

pub const GROUP: &str = "router";

#[derive(Debug, Clone)]
pub struct RouterOptions {
    pub batch: usize,
    /// How long to wait for new entries before doing housekeeping.
    pub block: Duration,
    /// Entries pending longer than this (their consumer died) are taken over.
    pub reclaim_idle: Duration,
    /// A consumer that has not read for this long is a dead node's: its entries are
    /// taken over this soon (a live router reads every `block`).
    pub silent_after: Duration,
    /// After this many deliveries an entry that still fails is parked.
    pub max_deliveries: u64,
    /// Independent writers; envelopes of one sender always go to the same one.
    pub partitions: usize,
    /// Batches under way at once (reading the next while one commits).
    pub pipeline: usize,
    /// No bot runs: a new conversation goes straight to people (its SLA clocks start and
    /// it is auto-assigned). With a bot, its handoff does that.
    pub people_first: bool,
}

impl RouterOptions {
    pub fn for_backend(backend: Backend) -> Self {
        Self {
            batch: 512,
            block: Duration::from_millis(500),
            reclaim_idle: Duration::from_secs(30),
            silent_after: Duration::from_secs(10),
            max_deliveries: 5,
            partitions: if backend == Backend::Postgres { 4 } else { 1 },
            // SQLite has one writer: a second batch would only wait for it.
            pipeline: if backend == Backend::Postgres { 2 } else { 1 },
            people_first: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Router {
    pub store: Store,
    pub stream: Arc<dyn Stream>,
    pub realtime: Arc<dyn Realtime>,
    pub ids: Ids,
    pub metrics: Arc<Metrics>,
    pub consumer: String,
    pub options: RouterOptions,
}

struct Parsed {
    entry_id: String,
    deliveries: u64,
    envelope: Envelope,
}

impl Router {
    /// Reads and processes until `shutdown`; finishes the batch in hand before returning.
    pub async fn run(self, shutdown: CancellationToken) {
        if let Err(e) = self.stream.ensure_group(INBOUND, GROUP).await {
            tracing::error!(error = %e, "router cannot create its consumer group");
        }
        // What this node had taken before a crash is redone now, not after reclaim_idle.
        self.resume_own_pending().await;
        let this = std::sync::Arc::new(self.clone());
        // Each batch under way answers how many of its entries it left pending.
        let mut in_flight: tokio::task::JoinSet<usize> = tokio::task::JoinSet::new();
        // When this node redoes its own pending entries, not after reclaim_idle: entries a
        // batch left pending (the database away, a statement failed) a second later, then
        // up to 5 s apart while they keep failing; after the stream failed, as soon as it
        // answers again (a read whose reply a killed Redis never sent). Each try counts as a
        // delivery, so an entry that fails on a database that answers is parked after
        // `max_deliveries`.
        let mut resume_at: Option<tokio::time::Instant> = None;
        let mut retries = 0u32;
        let left_pending = |left: usize, at: &mut Option<tokio::time::Instant>| {
            if left > 0 && at.is_none() {
                *at = Some(tokio::time::Instant::now() + Duration::from_secs(1));
            }
        };
        let mut last_housekeeping = tokio::time::Instant::now();
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            while let Some(done) = in_flight.try_join_next() {
                left_pending(done.unwrap_or(0), &mut resume_at);
            }
            if resume_at.is_some_and(|at| at <= tokio::time::Instant::now()) {
                while let Some(done) = in_flight.join_next().await {
                    left_pending(done.unwrap_or(0), &mut resume_at);
                }
                if self.stream.flush().await.is_ok() && self.resume_own_pending().await {
                    resume_at = None;
                    retries = 0;
                } else {
                    retries += 1;
                    let pause = Duration::from_secs(u64::from(retries.min(5)));
                    resume_at = Some(tokio::time::Instant::now() + pause);
                }
            }
            // Not raced against shutdown: a read dropped after it claimed entries would
            // leave them pending until another consumer reclaims them. A read waits at most
            // `block`, which bounds how long shutdown waits.
            let read = self
                .stream
                .read(
                    INBOUND,
                    GROUP,
                    &self.consumer,
                    self.options.batch,
                    self.options.block,
                )
                .await;
            if read.is_ok() && failures > 0 {
                // The stream answers again: what it may have lost the reply to is redone now.
                failures = 0;
                resume_at = Some(tokio::time::Instant::now());
            }
            match read {
                Ok(entries) if entries.is_empty() => {}
                Ok(entries) => {
                    // The next read starts while this batch commits; at most `pipeline`
                    // batches are under way. Threads stay in order whatever commits first:
                    // messages are ordered by their acceptance ids.
                    while in_flight.len() >= self.options.pipeline.max(1) {
                        if let Some(done) = in_flight.join_next().await {
                            left_pending(done.unwrap_or(0), &mut resume_at);
                        }
                    }
                    let this = this.clone();
                    in_flight.spawn(async move {
                        let n = entries.len();
                        match this.process(entries).await {
                            Ok(left) => left,
                            Err(e) => {
                                tracing::warn!(error = %e, "router batch failed; entries stay pending");
                                n
                            }
                        }
                    });
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, "router cannot read the inbound stream");
                    // The stream may have lost its group (a Redis restarted without its data).
                    let _ = self.stream.ensure_group(INBOUND, GROUP).await;
                    let pause = Duration::from_millis(100 * u64::from(failures.min(20)));
                    tokio::select! { () = tokio::time::sleep(pause) => {}, () = shutdown.cancelled() => break }
                }
            }
            if last_housekeeping.elapsed() >= Duration::from_secs(1) {
                last_housekeeping = tokio::time::Instant::now();
                if let Err(e) = self.housekeeping().await {
                    tracing::warn!(error = %e, "router housekeeping failed");
                }
            }
        }
        while in_flight.join_next().await.is_some() {}
        if let Err(e) = self.stream.flush().await {
            tracing::warn!(error = %e, "router could not flush the stream");
        }
    }

    /// Processes the entries still pending for this consumer (taken before a crash, or left
    /// by a failed batch), batch after batch, until none is left (true) or a batch leaves
    /// some (false; they wait for the next try or reclaim).
    async fn resume_own_pending(&self) -> bool {
        loop {
            match self
                .stream
                .pending_for(INBOUND, GROUP, &self.consumer, self.options.batch)
                .await
            {
                Ok(mine) if !mine.is_empty() => {
                    tracing::info!(
                        entries = mine.len(),
                        "router resumes entries it had taken before it stopped"
                    );
                    match self.process(mine).await {
                        Ok(0) => {}
                        Ok(_) => return false,
                        Err(e) => {
                            tracing::warn!(error = %e, "resumed entries failed; they stay pending");
                            return false;
                        }
                    }
                    // Acknowledgements may be held back; make them count before asking again.
                    if let Err(e) = self.stream.flush().await {
                        tracing::warn!(error = %e, "router could not flush the stream");
                        return false;
                    }
                }
                Ok(_) => return true,
                Err(e) => {
                    tracing::warn!(error = %e, "router cannot read its pending entries");
                    return false;
                }
            }
        }
    }

    /// Takes over stale pending entries and trims the stream. (Queue depth is read when
    /// metrics are scraped, not here.)
    pub async fn housekeeping(&self) -> Result<usize> {
        // A dead node's entries first, after `silent_after`; then any entry left pending
        // past `reclaim_idle` (a live node's batch that never finished).
        let mut stale = self
            .stream
            .reclaim_from_silent(
                INBOUND,
                GROUP,
                &self.consumer,
                self.options.silent_after,
                self.options.batch,
            )
            .await?;
        stale.extend(
            self.stream
                .reclaim(
                    INBOUND,
                    GROUP,
                    &self.consumer,
                    self.options.reclaim_idle,
                    self.options.batch,
                )
                .await?,
        );
        let n = stale.len();
        if n > 0 {
            tracing::info!(entries = n, "router reclaimed stale entries");
            self.process(stale).await?;
        }
        self.stream.trim(INBOUND).await?;
        Ok(n)
    }

    /// One read and its processing; returns how many entries were handled.
    pub async fn step(&self, block: Duration) -> Result<usize> {
        let entries = self
            .stream
            .read(INBOUND, GROUP, &self.consumer, self.options.batch, block)
            .await?;
        let n = entries.len();
        self.process(entries).await?;
        Ok(n)
    }

    /// Stores a read batch; returns how many of its entries were left pending (to be
    /// tried again).
    pub async fn process(&self, entries: Vec<Entry>) -> Result<usize> {
        if entries.is_empty() {
            return Ok(0);
        }
        let mut unreadable = Vec::new();
        let mut receipts: Vec<(String, Receipt)> = Vec::new();
        let mut partitions: Vec<Vec<Parsed>> = (0..self.options.partitions.max(1))
            .map(|_| Vec::new())
            .collect();
        for entry in entries {
            match Inbound::parse(&entry.payload) {
                Ok(Inbound::Message(envelope)) => {
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    envelope.sender.hash(&mut h);
                    let p = usize::try_from(h.finish() % partitions.len() as u64).unwrap_or(0);
                    partitions[p].push(Parsed {
                        entry_id: entry.id,
                        deliveries: entry.deliveries,
                        envelope: *envelope,
                    });
                }
                Ok(Inbound::Receipt(r)) => receipts.push((entry.id, r)),
                Err(e) => unreadable.push((entry, e.to_string())),
            }
        }
        for (entry, error) in unreadable {
            self.park(
                &entry.id,
                &entry.payload,
                &format!("unreadable envelope: {error}"),
            )
            .await?;
        }
        if !receipts.is_empty() {
            self.apply_receipts(receipts).await?;
        }
        let results = futures::future::join_all(
            partitions
                .into_iter()
                .filter(|p| !p.is_empty())
                .map(|p| self.process_partition(p)),
        )
        .await;
        Ok(results
            .into_iter()
            .collect::<Result<Vec<usize>>>()?
            .iter()
            .sum())
    }

    async fn apply_receipts(&self, receipts: Vec<(String, Receipt)>) -> Result<()> {
        let (entry_ids, receipts): (Vec<String>, Vec<Receipt>) = receipts.into_iter().unzip();
        let outcomes = self.store.apply_receipts(&self.ids, &receipts).await?;
        let mut events = Vec::new();
        for (outcome, receipt) in outcomes.into_iter().zip(&receipts) {
            if let ReceiptOutcome::Applied {
                message_id,
                conversation,
                state,
            } = outcome
            {
                events.push(Event::Delivery {
                    scope: conversation.scope(),
                    message_id,
                    state,
                    error_code: receipt.error_code.clone(),
                    error_title: receipt.error_title.clone(),
                });
            }
        }
        if let Err(e) = self.realtime.publish_all(&events).await {
            tracing::debug!(error = %e, "realtime publish failed");
        }
        self.stream.ack(INBOUND, GROUP, &entry_ids).await
    }

    /// Stores one partition's batch; returns how many entries were left pending.
    async fn process_partition(&self, batch: Vec<Parsed>) -> Result<usize> {
        let envelopes: Vec<Envelope> = batch.iter().map(|p| p.envelope.clone()).collect();
        match self
            .store
            .ingest_batch_with_hooks(&self.ids, &envelopes)
            .await
        {
            Ok((outcomes, hooks)) => {
                let ids: Vec<String> = batch.iter().map(|p| p.entry_id.clone()).collect();
                self.after_commit(outcomes, hooks).await;
                self.stream.ack(INBOUND, GROUP, &ids).await?;
                Ok(0)
            }
            Err(batch_error) => {
                let mut left = 0;
                // Find the envelope at fault: one at a time, parking those that keep failing.
                tracing::warn!(error = %batch_error, "batch ingest failed; retrying one by one");
                for p in batch {
                    match self
                        .store
                        .ingest_batch_with_hooks(&self.ids, std::slice::from_ref(&p.envelope))
                        .await
                    {
                        Ok((outcomes, hooks)) => {
                            self.after_commit(outcomes, hooks).await;
                            self.stream
                                .ack(INBOUND, GROUP, std::slice::from_ref(&p.entry_id))
                                .await?;
                        }
                        Err(e) if p.deliveries >= self.options.max_deliveries => {
                            let payload = serde_json::to_string(&p.envelope)?;
                            self.park(&p.entry_id, &payload, &e.to_string()).await?;
                        }
                        Err(e) => {
                            left += 1;
                            tracing::warn!(error = %e, entry = %p.entry_id, "envelope failed; will retry")
                        }
                    }
                }
                Ok(left)
            }
        }
    }

    async fn park(&self, entry_id: &str, payload: &str, error: &str) -> Result<()> {
        tracing::error!(entry = entry_id, error, "parking inbound entry");
        sqlx::query("INSERT INTO stream_parked (topic, seq, payload, error, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
            .bind(INBOUND)
            .bind(entry_id)
            .bind(payload)
            .bind(error)
            .bind(self.ids.now_ms())
            .execute(self.store.pool())
            .await?;
        Metrics::outcome(&self.metrics.ingested, "parked");
        self.stream
            .ack(INBOUND, GROUP, &[entry_id.to_owned()])
            .await
    }

    /// Publishes a committed batch's events and puts its webhook deliveries (recorded in
    /// the batch's transaction) on the outbound stream.
    async fn after_commit(&self, outcomes: Vec<IngestOutcome>, hooks: Vec<String>) {
        let now = self.ids.now_ms();
        let mut events = Vec::with_capacity(outcomes.len() + 1);
        let mut opened = Vec::new();
        // A client's message on a conversation someone owns: its assignee is told.
        let mut replies: Vec<(String, Conversation)> = Vec::new();
        for outcome in outcomes {
            let ingested = match outcome {
                IngestOutcome::Stored(ingested) => ingested,
                IngestOutcome::Duplicate { .. } => {
                    Metrics::outcome(&self.metrics.ingested, "duplicate");
                    continue;
                }
                IngestOutcome::Ignored { .. } => {
                    Metrics::outcome(&self.metrics.ingested, "ignored");
                    continue;
                }
            };
            Metrics::outcome(&self.metrics.ingested, "stored");
            if ingested.new_conversation {
                opened.push(ingested.conversation.id.clone());
                events.push(Event::ConversationOpened {
                    conversation: ingested.conversation.clone(),
                });
            } else if ingested.reopened || ingested.woke {
                events.push(Event::ConversationChanged {
                    change: "status".into(),
                    conversation: ingested.conversation.clone(),
                });
            }
            let waited = (now - ingested.message.created_at).max(0);
            self.metrics
                .accept_to_persist
                .observe(waited as f64 / 1000.0);
            if ingested.message.author_kind == AuthorKind::Contact
                && ingested.conversation.assignee_id.is_some()
            {
                replies.push((ingested.message.id.clone(), ingested.conversation.clone()));
            }
            events.push(Event::Message {
                scope: ingested.conversation.scope(),
                message: ingested.message,
            });
        }
        if let Err(e) = self.realtime.publish_all(&events).await {
            tracing::debug!(error = %e, "realtime publish failed");
        }
        crate::webhooks::enqueue(&self.stream, hooks).await;
        if self.options.people_first || !replies.is_empty() {
            let workflow = Workflow::new(
                self.store.clone(),
                self.realtime.clone(),
                self.ids.clone(),
                self.metrics.clone(),
            );
            let list: Vec<NewNotification> = replies
                .iter()
                .filter_map(|(message, c)| {
                    Some(NewNotification {
                        user_id: c.assignee_id.as_deref()?,
                        kind: NotificationKind::Reply,
                        conversation: c,
                        message_id: Some(message),
                        event: message,
                    })
                })
                .collect();
            workflow.notify_once(&list).await;
            if self.options.people_first
                && let Err(e) = workflow.need_people(&opened).await
            {
                tracing::warn!(error = %e, "auto-assignment failed");
            }
        }
    }
}
