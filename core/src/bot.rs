//! The bot's seam. The bot reads the inbound stream as a consumer group of its own, off the
//! router's path: a slow bot never slows ingest. For each inbound message the router has
//! stored, it asks the [`BotHook`] (the `bots` crate implements it) and applies the
//! decision: an answer with structured content, a handoff to a tier of people, or both.
//!
//! Exactly once per inbound message: a `bot_runs` row records each message handled, the
//! answer's idempotency key is the message's, and a handoff is recorded once per message,
//! so an entry handed out again (a crash between the effect and the acknowledgement, a
//! reclaim) changes nothing. Once a person has joined a conversation the bot never speaks
//! in it again: that is checked under the conversation's row lock when the answer is
//! stored.
//!
//! **Architecture Invariant:** the bot is never on the router's path
//! (`bot::a_slow_bot_does_not_slow_ingest`); its effects are recorded once per inbound
//! message (`bot_runs`, the answer's idempotency key, the handoff's key), so a crash
//! between effect and acknowledgement changes nothing
//! (`bot::a_crash_between_effect_and_ack_changes_nothing`); once a person has joined (an
//! agent's message, a handoff) it never speaks again
//! (`bot::the_bot_answers_hands_off_and_then_stays_silent`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::clock::Ids;
use crate::dispatcher::Outbox;
use crate::domain::{
    AuthorKind, Conversation, Direction, Envelope, Handoff, Inbound, Message, RichContent,
};
use crate::error::{Error, Result};
use crate::realtime::{Event, Realtime};
use crate::store::{BotClaim, NewOutbound, Queued, Store};
use crate::stream::{Entry, INBOUND, Stream};

pub const GROUP: &str = "bot";

/// What the bot says.
#[derive(Debug, Clone, PartialEq)]
pub struct BotAnswer {
    pub text: String,
    /// Quick replies ("Did this solve it? Yes / Talk to a person"), article references.
    pub content: RichContent,
    /// How sure the bot is, 0 to 1.
    pub confidence: f32,
}

/// What the bot wants done with a message: nothing, an answer, a handoff, or an answer and
/// a handoff together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BotDecision {
    pub answer: Option<BotAnswer>,
    pub handoff: Option<Handoff>,
}

impl BotDecision {
    pub fn silent() -> Self {
        Self::default()
    }
}

/// What the bot is asked about.
#[derive(Debug, Clone)]
pub struct BotInput<'a> {
    pub conversation: &'a Conversation,
    pub message: &'a Message,
    pub envelope: &'a Envelope,
}

#[async_trait]
pub trait BotHook: Send + Sync + std::fmt::Debug {
    async fn on_message(&self, input: &BotInput<'_>) -> Result<BotDecision>;
}

/// No bot: every message waits for an agent.
#[derive(Debug, Default)]
pub struct NoBot;

#[async_trait]
impl BotHook for NoBot {
    async fn on_message(&self, _: &BotInput<'_>) -> Result<BotDecision> {
        Ok(BotDecision::silent())
    }
}

#[derive(Debug, Clone)]
pub struct BotOptions {
    /// Messages the bot works on at once.
    pub concurrency: usize,
    pub block: Duration,
    /// Entries pending longer than this (a live worker's batch that never finished, or
    /// a consumer that died) are taken over; so is a claim on a run this old.
    pub reclaim_idle: Duration,
    /// A node that has not asked the stream for anything this long is dead: its entries,
    /// and its claims on runs as old, are taken over then (`Stream::reclaim_from_silent`).
    pub silent_after: Duration,
    /// How long to wait for the router to store a message the bot read first.
    pub wait_for_router: Duration,
    /// After this many deliveries an entry whose message never appears (the router parked
    /// it) is let go.
    pub max_deliveries: u64,
}

impl Default for BotOptions {
    fn default() -> Self {
        Self {
            concurrency: 64,
            block: Duration::from_millis(500),
            reclaim_idle: Duration::from_secs(30),
            silent_after: Duration::from_secs(10),
            wait_for_router: Duration::from_secs(5),
            max_deliveries: 5,
        }
    }
}

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotOutcome {
    Answered,
    HandedOff,
    AnsweredAndHandedOff,
    Silent,
    /// A person has joined, or the bot handled this message before.
    Skipped,
}

impl BotOutcome {
    fn as_str(self) -> &'static str {
        match self {
            BotOutcome::Answered => "answered",
            BotOutcome::HandedOff => "handed_off",
            BotOutcome::AnsweredAndHandedOff => "answered_and_handed_off",
            BotOutcome::Silent => "silent",
            BotOutcome::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone)]
pub struct BotWorker {
    pub store: Store,
    pub stream: Arc<dyn Stream>,
    pub outbox: Outbox,
    pub realtime: Arc<dyn Realtime>,
    pub ids: Ids,
    pub bot: Arc<dyn BotHook>,
    pub consumer: String,
    pub options: BotOptions,
}

impl BotWorker {
    pub async fn run(self, shutdown: CancellationToken) {
        if let Err(e) = self.stream.ensure_group(INBOUND, GROUP).await {
            tracing::error!(error = %e, "bot cannot create its consumer group");
        }
        let this = Arc::new(self);
        // What this node had taken before it stopped is finished first.
        match this
            .stream
            .pending_for(INBOUND, GROUP, &this.consumer, 10_000)
            .await
        {
            Ok(mine) => this.clone().work(mine).await,
            Err(e) => tracing::warn!(error = %e, "bot cannot read its pending entries"),
        }
        let how = crate::stream::Consume {
            topic: INBOUND,
            group: GROUP,
            consumer: &this.consumer,
            concurrency: this.options.concurrency,
            block: this.options.block,
            every: Duration::from_secs(1),
        };
        let handle = |entry| {
            let this = this.clone();
            async move { this.handle_and_ack(entry, this.options.reclaim_idle).await }
        };
        let housekeeping = || async {
            if let Err(e) = this.housekeeping().await {
                tracing::warn!(error = %e, "bot cannot reclaim entries");
            }
        };
        crate::stream::consume(&this.stream, how, &shutdown, handle, housekeeping).await;
    }

    /// Takes over the entries of a dead node (silent for `silent_after`), with its claims
    /// as old, then any entry left pending past `reclaim_idle`, and handles them. Returns
    /// how many it took.
    pub async fn housekeeping(self: &Arc<Self>) -> Result<usize> {
        let o = &self.options;
        let dead = self
            .stream
            .reclaim_from_silent(INBOUND, GROUP, &self.consumer, o.silent_after, 64)
            .await?;
        let stale = self
            .stream
            .reclaim(INBOUND, GROUP, &self.consumer, o.reclaim_idle, 64)
            .await?;
        let n = dead.len() + stale.len();
        if n > 0 {
            tracing::info!(entries = n, "bot took over stale entries");
        }
        futures::future::join_all(
            dead.into_iter()
                .map(|e| self.handle_and_ack(e, o.silent_after))
                .chain(
                    stale
                        .into_iter()
                        .map(|e| self.handle_and_ack(e, o.reclaim_idle)),
                ),
        )
        .await;
        Ok(n)
    }

    async fn work(self: Arc<Self>, entries: Vec<Entry>) {
        let lease = self.options.reclaim_idle;
        futures::future::join_all(entries.into_iter().map(|e| self.handle_and_ack(e, lease))).await;
    }

    async fn handle_and_ack(&self, entry: Entry, lease: Duration) {
        match self.handle_claiming(&entry, lease).await {
            Ok(_) => {
                if let Err(e) = self
                    .stream
                    .ack(INBOUND, GROUP, std::slice::from_ref(&entry.id))
                    .await
                {
                    tracing::warn!(error = %e, "bot ack failed; the entry will be seen again");
                }
            }
            Err(e) => tracing::warn!(error = %e, entry = %entry.id, "bot left an entry for later"),
        }
    }

    /// Handles one inbound entry, without acknowledging it. `Err` leaves the entry
    /// pending, to be tried again: so does a run another worker is still on, since that
    /// worker may die before it finishes.
    pub async fn handle(&self, entry: &Entry) -> Result<BotOutcome> {
        self.handle_claiming(entry, self.options.reclaim_idle).await
    }

    /// [`BotWorker::handle`], taking over a claim on the run older than `lease`.
    async fn handle_claiming(&self, entry: &Entry, lease: Duration) -> Result<BotOutcome> {
        let envelope = match Inbound::parse(&entry.payload) {
            Ok(Inbound::Message(e)) => e,
            // Receipts are not the bot's; unreadable entries are parked by the router.
            Ok(Inbound::Receipt(_)) | Err(_) => return Ok(BotOutcome::Skipped),
        };
        if envelope.auto_submitted {
            return Ok(BotOutcome::Skipped);
        }
        let Some(message_id) = self.wait_for_message(&envelope).await? else {
            if entry.deliveries >= self.options.max_deliveries {
                tracing::warn!(entry = %entry.id, "bot gives up on a message the router never stored");
                return Ok(BotOutcome::Skipped);
            }
            return Err(Error::Conflict("message not stored yet".into()));
        };
        let message = self.store.message(&message_id).await?;
        if message.direction != Direction::Inbound {
            return Ok(BotOutcome::Skipped);
        }
        // Claimed before acting: a message already handled finds its run done; a second
        // delivery of it handled at the same moment (a replayed webhook, a reclaim) finds
        // the claim and stands back, its entry left for later.
        let now = self.ids.now_ms();
        let lease = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        let claim = self
            .store
            .claim_bot_run(
                &message.id,
                &message.conversation_id,
                now,
                now.saturating_sub(lease),
            )
            .await?;
        match claim {
            BotClaim::Mine => {}
            BotClaim::Done => return Ok(BotOutcome::Skipped),
            BotClaim::Held => {
                return Err(Error::Conflict(
                    "another worker is on this message; tried again later".into(),
                ));
            }
        }
        let conversation = self.store.conversation(&message.conversation_id).await?;
        let outcome = if conversation.bot_active {
            match self
                .decide_and_apply(&conversation, &message, &envelope)
                .await
            {
                Ok(outcome) => outcome,
                Err(e) => {
                    if let Err(release) = self.store.release_bot_run(&message.id).await {
                        tracing::warn!(error = %release, "bot cannot release its claim; it lapses");
                    }
                    return Err(e);
                }
            }
        } else {
            BotOutcome::Skipped
        };
        self.store
            .record_bot_run(
                &message.id,
                &conversation.id,
                outcome.as_str(),
                self.ids.now_ms(),
            )
            .await?;
        Ok(outcome)
    }

    /// The stored message of an envelope, waiting a little for the router (the two groups
    /// read the same entries at about the same time).
    async fn wait_for_message(&self, envelope: &Envelope) -> Result<Option<String>> {
        let key = envelope.idempotency_key();
        let deadline = tokio::time::Instant::now() + self.options.wait_for_router;
        let mut pause = Duration::from_millis(10);
        loop {
            if let Some(id) = self.store.message_id_by_key(&key).await? {
                return Ok(Some(id));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }

    async fn decide_and_apply(
        &self,
        conversation: &Conversation,
        message: &Message,
        envelope: &Envelope,
    ) -> Result<BotOutcome> {
        let input = BotInput {
            conversation,
            message,
            envelope,
        };
        let decision = match self.bot.on_message(&input).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "bot failed; leaving the message to people");
                return Ok(BotOutcome::Silent);
            }
        };
        let mut answered = false;
        if let Some(answer) = &decision.answer {
            let new = NewOutbound {
                content: Some(answer.content.clone()),
                ..NewOutbound::text(&conversation.id, AuthorKind::Bot, None, &answer.text)
            }
            .key(format!("bot:{}", message.id));
            match self.outbox.queue(&new).await? {
                Queued::New(..) | Queued::Seen(_) => answered = true,
                Queued::BotSilenced => return Ok(BotOutcome::Skipped),
            }
        }
        let mut handed_off = false;
        if let Some(handoff) = &decision.handoff {
            let (after, fresh) = self
                .store
                .hand_off(&self.ids, &conversation.id, handoff, &message.id)
                .await?;
            handed_off = true;
            if fresh {
                let events = [
                    Event::Handoff {
                        scope: after.scope(),
                        handoff: handoff.clone(),
                    },
                    Event::ConversationChanged {
                        change: "tier".into(),
                        conversation: after,
                    },
                ];
                if let Err(e) = self.realtime.publish_all(&events).await {
                    tracing::debug!(error = %e, "realtime publish failed");
                }
                // People have it now: offer it to the next free agent of its tier.
                if let Err(e) = crate::workflow::auto_assign(
                    &self.store,
                    &self.realtime,
                    &self.ids,
                    &conversation.id,
                )
                .await
                {
                    tracing::warn!(error = %e, "auto-assignment after handoff failed");
                }
            }
        }
        Ok(match (answered, handed_off) {
            (true, true) => BotOutcome::AnsweredAndHandedOff,
            (true, false) => BotOutcome::Answered,
            (false, true) => BotOutcome::HandedOff,
            (false, false) => BotOutcome::Silent,
        })
    }
}
