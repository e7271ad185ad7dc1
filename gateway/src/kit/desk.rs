//! The ticket desk: portal tickets opened together (group commit). Each `POST
//! /portal/tickets` hands its form to one task, which takes every form waiting at that
//! moment and opens them, each with its first message, with one transaction
//! ([`Store::open_tickets`]), and answers each form once it is committed. The
//! announcements (the inbox's new conversations, cards and messages, the offer to agents
//! online) follow for the whole batch at once. The first messages do not pass through
//! the inbound stream: the router's work for them (the contact, the thread) is already
//! done by the form, whose client is signed in, and its ticket's conversation is new.
//!
//! A lone form waits for nobody: a batch starts as soon as one form arrives and a slot
//! is free, and the next batch is what came in meanwhile.

use std::sync::Arc;

use switchboard_core::clock::Ids;
use switchboard_core::domain::{Attachment, Channel};
use switchboard_core::realtime::{Event, Realtime};
use switchboard_core::store::{ClientScope, FirstMessage, NewTicket, Opened, Store};
use switchboard_core::workflow::Workflow;
use tokio::sync::{Semaphore, mpsc, oneshot};

/// The most forms one transaction takes.
const MAX_BATCH: usize = 256;
/// Batches being opened at once. One: on PostgreSQL a batch is one statement, a single
/// round trip, so the forms that arrive while it runs make the next, larger batch, and the
/// database does less work per ticket than with two smaller batches overlapping (a
/// ticket-bench run: 2,100-2,500 batches and 8.2-9.0 s of PostgreSQL's CPU with one, 3,252
/// batches and 10.7 s with two; docs/BENCHMARKS.md). SQLite's writers queue anyway.
const IN_FLIGHT: usize = 1;

/// A client's form: the ticket and its first message.
#[derive(Debug)]
pub struct Opening {
    pub scope: ClientScope,
    pub inbox: String,
    pub channel: Channel,
    pub subject: String,
    pub category: String,
    pub key: String,
    pub text: String,
    pub attachments: Vec<Attachment>,
}

/// Why a form opened no ticket.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error(transparent)]
    Store(#[from] switchboard_core::Error),
    /// Nothing of the batch was stored (the database failed): the same form sent again
    /// opens the ticket.
    #[error("not sent: {0}")]
    NotSent(String),
}

struct Job {
    form: Opening,
    reply: oneshot::Sender<Result<Opened, Refused>>,
}

/// What the desk's task works with.
pub struct Parts {
    pub store: Store,
    pub ids: Ids,
    pub realtime: Arc<dyn Realtime>,
    pub workflow: Arc<Workflow>,
    /// Where webhook deliveries' jobs go (`ticket.created`, `conversation.opened`).
    pub stream: Arc<dyn switchboard_core::stream::Stream>,
}

/// Hands forms to the desk's task; cheap to clone.
#[derive(Clone, Debug)]
pub struct TicketDesk {
    jobs: mpsc::Sender<Job>,
}

impl TicketDesk {
    /// Starts the task; it ends when the last handle is dropped.
    pub fn start(parts: Parts) -> Self {
        let (jobs, rx) = mpsc::channel(MAX_BATCH * 4);
        tokio::spawn(run(Arc::new(parts), rx));
        Self { jobs }
    }

    /// Opens the form's ticket with its first message; returns once both are durable.
    pub async fn open(&self, form: Opening) -> Result<Opened, Refused> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { form, reply })
            .await
            .map_err(|_| switchboard_core::Error::ShuttingDown)?;
        answer
            .await
            .map_err(|_| switchboard_core::Error::ShuttingDown)?
    }
}

async fn run(parts: Arc<Parts>, mut rx: mpsc::Receiver<Job>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        // A free slot first: while every slot is busy, forms gather into the next batch.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = rx.recv().await else {
            return;
        };
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let parts = parts.clone();
        tokio::spawn(async move {
            let announce = serve(&parts, jobs).await;
            drop(slot);
            if !announce.is_empty() {
                announce_opened(&parts, announce).await;
            }
        });
    }
}

/// Opens a batch and answers each form; returns the new tickets to announce.
async fn serve(parts: &Parts, jobs: Vec<Job>) -> Vec<Opened> {
    let forms: Vec<(&ClientScope, NewTicket<'_>)> = jobs
        .iter()
        .map(|j| {
            (
                &j.form.scope,
                NewTicket {
                    inbox: &j.form.inbox,
                    channel: j.form.channel,
                    subject: &j.form.subject,
                    category: &j.form.category,
                    client_key: &j.form.key,
                    first: Some(FirstMessage {
                        text: &j.form.text,
                        attachments: &j.form.attachments,
                    }),
                },
            )
        })
        .collect();
    let results = match parts.store.open_tickets(&parts.ids, &forms).await {
        Ok(r) => r,
        Err(e) => {
            let message = e.to_string();
            tracing::warn!(error = %message, forms = jobs.len(), "tickets not opened");
            for j in jobs {
                let _ = j.reply.send(Err(Refused::NotSent(message.clone())));
            }
            return Vec::new();
        }
    };
    drop(forms);
    let mut fresh = Vec::new();
    for (j, r) in jobs.into_iter().zip(results) {
        let answer = match r {
            Err(e) => Err(Refused::Store(e)),
            Ok(o) => {
                if o.3 {
                    fresh.push(o.clone());
                }
                Ok(o)
            }
        };
        let _ = j.reply.send(answer);
    }
    fresh
}

/// The inbox learns of the new tickets and their first messages, and agents online are
/// offered them: no bot on a ticket, it goes to people at once (its SLA clocks run from
/// its opening).
async fn announce_opened(parts: &Parts, opened: Vec<Opened>) {
    let mut events = Vec::with_capacity(opened.len() * 3);
    let mut ids = Vec::with_capacity(opened.len());
    let mut hooks = Vec::with_capacity(opened.len() * 3);
    for (ticket, conversation, card, _, message) in opened {
        hooks.push(switchboard_core::webhooks::event(
            "ticket.created",
            &ticket.id,
            conversation.created_at,
            serde_json::json!({ "ticket": ticket }),
        ));
        hooks.push(switchboard_core::webhooks::conversation_opened(
            &conversation,
        ));
        if let Some(m) = &message {
            hooks.extend(switchboard_core::webhooks::message_created(
                &conversation,
                m,
            ));
        }
        ids.push(conversation.id.clone());
        let scope = conversation.scope();
        events.push(Event::ConversationOpened { conversation });
        events.push(Event::CardAdded {
            scope: scope.clone(),
            card,
        });
        if let Some(message) = message {
            events.push(Event::Message { scope, message });
        }
    }
    if let Err(e) = parts.realtime.publish_all(&events).await {
        tracing::debug!(error = %e, "realtime publish failed");
    }
    switchboard_core::webhooks::emit(&parts.store, &parts.stream, &parts.ids, &hooks).await;
    if let Err(e) = parts.workflow.offer(&ids).await {
        tracing::warn!(error = %e, "new tickets were not offered to agents");
    }
}
