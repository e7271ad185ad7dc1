//! Outbound messages: queuing, the dispatcher's claims and schedule, delivery receipts,
//! the dead-letter list, and what a sender is told about a message.
//!
//! **Architecture Invariant:** delivery states only move forward; a receipt for a message
//! not known yet waits and applies when the send call records its external id
//! (`inbound::receipts_move_forward_and_wait_for_unknown_messages`).

use sqlx::{AssertSqlSafe, Row};

use super::{Store, rows};
use crate::clock::Ids;
use crate::domain::{
    Attachment, AuthorKind, Channel, Conversation, DeliveryState, Direction, IdentityKind, Message,
    Receipt, RichContent,
};
use crate::error::{Error, Result};
use crate::html::SanitizedHtml;

/// An outbound message to be queued for delivery.
#[derive(Debug, Clone)]
pub struct NewOutbound<'a> {
    pub conversation_id: &'a str,
    pub author_kind: AuthorKind,
    pub author_id: Option<&'a str>,
    pub text: &'a str,
    pub html: Option<SanitizedHtml>,
    pub attachments: Vec<Attachment>,
    pub content: Option<RichContent>,
    /// Makes a retried request a no-op (e.g. `api:<user>:<Idempotency-Key>`).
    pub idempotency_key: Option<String>,
}

impl<'a> NewOutbound<'a> {
    /// A plain text message.
    pub fn text(
        conversation_id: &'a str,
        author_kind: AuthorKind,
        author_id: Option<&'a str>,
        text: &'a str,
    ) -> Self {
        Self {
            conversation_id,
            author_kind,
            author_id,
            text,
            html: None,
            attachments: Vec::new(),
            content: None,
            idempotency_key: None,
        }
    }

    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
}

/// Why an outbound message was not queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Queued {
    /// Stored now; the conversation as it is after it.
    New(Message, Box<Conversation>),
    /// The idempotency key was used before: the first message, nothing queued.
    Seen(Message),
    /// The bot asked to speak where a person has joined: nothing stored.
    BotSilenced,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeadLetter {
    pub id: String,
    pub message_id: String,
    pub conversation_id: String,
    pub channel: Channel,
    pub error: String,
    pub attempts: i64,
    pub created_at: i64,
}

/// A recipient of an outbound message and how the message names them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Recipient {
    pub identity: crate::domain::Identity,
    /// `to` or `cc`.
    pub role: &'static str,
}

/// What a receipt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptOutcome {
    /// The message moved to the receipt's state.
    Applied {
        message_id: String,
        conversation: Box<Conversation>,
        state: DeliveryState,
    },
    /// Recorded; the message is already further along (a late "delivered" after "read").
    Recorded { message_id: String },
    /// No message has this external id yet; applied when one does.
    Waiting,
}

impl Store {
    /// Stores an outbound message as `queued`. A message by an agent means a person has
    /// joined: the bot stays silent in the conversation from then on. A bot message is
    /// stored only while the bot may still speak, checked under the conversation's row
    /// lock so an agent joining at the same moment wins.
    pub async fn insert_outbound(&self, ids: &Ids, new: &NewOutbound<'_>) -> Result<Queued> {
        if new.text.trim().is_empty() && new.attachments.is_empty() {
            return Err(Error::invalid("message text is empty"));
        }
        if let Some(key) = &new.idempotency_key
            && let Some(id) = self.message_id_by_key(key).await?
        {
            return Ok(Queued::Seen(self.message(&id).await?));
        }
        let now = ids.now_ms();
        let mut tx = self.begin_write().await?;
        let touch = match new.author_kind {
            AuthorKind::Bot => {
                "UPDATE conversations SET last_message_at = $1, updated_at = $1 WHERE id = $2 AND bot_active = 1"
            }
            // A person's first message is the conversation's first response (SLA), and a
            // person has joined from then on.
            AuthorKind::Agent => {
                "UPDATE conversations SET last_message_at = $1, updated_at = $1, bot_active = 0, \
                 people_since = COALESCE(people_since, $1), first_response_at = COALESCE(first_response_at, $1), \
                 first_responder_id = COALESCE(first_responder_id, $3) WHERE id = $2"
            }
            _ => "UPDATE conversations SET last_message_at = $1, updated_at = $1 WHERE id = $2",
        };
        let mut touch = sqlx::query(touch).bind(now).bind(new.conversation_id);
        if new.author_kind == AuthorKind::Agent {
            touch = touch.bind(new.author_id);
        }
        let touched = touch.execute(&mut **tx).await?;
        if touched.rows_affected() == 0 {
            drop(tx);
            // Either no such conversation, or a person has joined it.
            let conversation = self.conversation(new.conversation_id).await?;
            if new.author_kind == AuthorKind::Bot && !conversation.bot_active {
                return Ok(Queued::BotSilenced);
            }
            return Err(Error::Conflict("conversation changed while queuing".into()));
        }
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM conversations WHERE id = $1",
            rows::CONVERSATION_COLUMNS
        )))
        .bind(new.conversation_id)
        .fetch_one(&mut **tx)
        .await?;
        let conversation = rows::conversation(&row)?;
        let message = Message {
            id: ids.new_id(),
            conversation_id: conversation.id.clone(),
            direction: Direction::Outbound,
            author_kind: new.author_kind,
            author_id: new.author_id.map(str::to_owned),
            channel: conversation.channel,
            text: new.text.to_owned(),
            full_text: None,
            html: new.html.clone(),
            attachments: new.attachments.clone(),
            content: new.content.clone().filter(|c| !c.is_empty()),
            delivery_state: DeliveryState::Queued,
            delivery_error: None,
            delivery_detail: None,
            external_id: None,
            created_at: now,
            internal: false,
        };
        let content = message
            .content
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?;
        let inserted = sqlx::query(
            "INSERT INTO messages (id, conversation_id, direction, author_kind, author_id, channel, text, html, attachments, content, delivery_state, external_id, idempotency_key, attempts, next_attempt_at, enqueued_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, $12, 0, $13, $13, $13, $13) ON CONFLICT DO NOTHING",
        )
        .bind(&message.id)
        .bind(&message.conversation_id)
        .bind(message.direction.as_str())
        .bind(message.author_kind.as_str())
        .bind(message.author_id.as_deref())
        .bind(message.channel.as_str())
        .bind(&message.text)
        .bind(message.html.as_ref().map(SanitizedHtml::as_str))
        .bind(serde_json::to_string(&message.attachments)?)
        .bind(content)
        .bind(message.delivery_state.as_str())
        .bind(new.idempotency_key.as_deref())
        .bind(now)
        .execute(&mut **tx)
        .await?;
        if inserted.rows_affected() == 0 {
            drop(tx);
            let key = new.idempotency_key.as_deref().unwrap_or_default();
            let id = self
                .message_id_by_key(key)
                .await?
                .ok_or_else(|| Error::Conflict("message vanished while queuing".into()))?;
            return Ok(Queued::Seen(self.message(&id).await?));
        }
        tx.commit().await?;
        Ok(Queued::New(message, Box::new(conversation)))
    }

    /// The id of the message stored under an idempotency key, if any.
    pub async fn message_id_by_key(&self, key: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT id FROM messages WHERE idempotency_key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Takes the right to send a message for `lease_ms`: a `queued` message that is due,
    /// or a `sending` one whose sender's lease ran out (its node died or hung past its
    /// send timeout, which is shorter than the lease). Returns the attempts so far, or
    /// `None` when it is not this caller's to send now. An internal note is never
    /// anyone's to send, whatever job names it.
    pub async fn claim_for_sending(
        &self,
        message_id: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "UPDATE messages SET delivery_state = 'sending', next_attempt_at = $1, updated_at = $2 \
             WHERE id = $3 AND delivery_state IN ('queued', 'sending') AND COALESCE(next_attempt_at, 0) <= $2 AND internal = 0 RETURNING attempts",
        )
        .bind(now + lease_ms)
        .bind(now)
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Records a successful send, then applies any receipt that arrived for its external
    /// id before the send call answered.
    pub async fn record_sent(
        &self,
        ids: &Ids,
        message_id: &str,
        attempts: i64,
        external_id: Option<&str>,
    ) -> Result<DeliveryState> {
        let now = ids.now_ms();
        let mut tx = self.begin_write().await?;
        let channel: Option<String> = sqlx::query_scalar(
            "UPDATE messages SET delivery_state = 'sent', attempts = $1, last_error = NULL, next_attempt_at = NULL, external_id = COALESCE($2, external_id), updated_at = $3 \
             WHERE id = $4 AND delivery_state = 'sending' RETURNING channel",
        )
        .bind(attempts)
        .bind(external_id)
        .bind(now)
        .bind(message_id)
        .fetch_optional(&mut **tx)
        .await?;
        let mut state = DeliveryState::Sent;
        if let (Some(channel), Some(external_id)) = (channel, external_id) {
            let waiting = sqlx::query(
                "SELECT state, error_code, error_title, detail FROM delivery_receipts WHERE channel = $1 AND external_id = $2 AND message_id IS NULL ORDER BY at, created_at",
            )
            .bind(&channel)
            .bind(external_id)
            .fetch_all(&mut **tx)
            .await?;
            let mut best: Option<(DeliveryState, Option<String>, Option<String>)> = None;
            let mut detail: Option<String> = None;
            for row in waiting {
                if let Some(d) = row.try_get::<Option<String>, _>(3)? {
                    detail = Some(d);
                }
                let s = DeliveryState::parse(&row.try_get::<String, _>(0)?)?;
                if best.as_ref().is_none_or(|(b, ..)| s.rank() > b.rank()) {
                    best = Some((s, row.try_get(1)?, row.try_get(2)?));
                }
            }
            if let Some((s, code, title)) = best
                && s.rank() > state.rank()
            {
                sqlx::query("UPDATE messages SET delivery_state = $1, error_code = $2, last_error = $3 WHERE id = $4")
                    .bind(s.as_str())
                    .bind(code)
                    .bind(title)
                    .bind(message_id)
                    .execute(&mut **tx)
                    .await?;
                state = s;
            }
            if let Some(d) = detail {
                sqlx::query("UPDATE messages SET delivery_detail = $1 WHERE id = $2")
                    .bind(d)
                    .bind(message_id)
                    .execute(&mut **tx)
                    .await?;
            }
            sqlx::query("UPDATE delivery_receipts SET message_id = $1 WHERE channel = $2 AND external_id = $3 AND message_id IS NULL")
                .bind(message_id)
                .bind(&channel)
                .bind(external_id)
                .execute(&mut **tx)
                .await?;
        }
        tx.commit().await?;
        Ok(state)
    }

    /// A transient failure: the message waits in the database until `at`, holding no
    /// worker; the dispatcher's sweep puts it back on the stream then.
    pub async fn schedule_retry(
        &self,
        message_id: &str,
        attempts: i64,
        error: &str,
        at: i64,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE messages SET delivery_state = 'queued', attempts = $1, last_error = $2, next_attempt_at = $3, updated_at = $4 WHERE id = $5 AND delivery_state = 'sending'",
        )
        .bind(attempts)
        .bind(error)
        .bind(at)
        .bind(now)
        .bind(message_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Messages whose delivery job must be appended (again): a retry that came due, a
    /// sender's lease that ran out, or a queued message whose job was lost between
    /// storing it and appending it (not touched for `lost_after_ms`). Each is marked as
    /// enqueued now, so under a backlog the sweep does not append the same messages every
    /// time it runs.
    pub async fn take_due(&self, now: i64, lost_after_ms: i64, limit: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "UPDATE messages SET enqueued_at = $1 WHERE id IN (SELECT id FROM messages \
               WHERE delivery_state IN ('queued', 'sending') AND ( \
                 (next_attempt_at <= $1 AND (enqueued_at IS NULL OR enqueued_at < next_attempt_at)) \
                 OR enqueued_at < $2) \
               ORDER BY next_attempt_at LIMIT $3) RETURNING id",
        )
        .bind(now)
        .bind(now - lost_after_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Applies delivery receipts in order. States only move forward: a late "delivered"
    /// never undoes "read", and "failed" after "read" is recorded but changes nothing. A
    /// receipt for a message not known yet is kept and applied when it is.
    pub async fn apply_receipts(
        &self,
        ids: &Ids,
        receipts: &[Receipt],
    ) -> Result<Vec<ReceiptOutcome>> {
        let mut out = Vec::with_capacity(receipts.len());
        let now = ids.now_ms();
        let mut tx = self.begin_write().await?;
        for r in receipts {
            let row = sqlx::query(
                "SELECT id, delivery_state FROM messages WHERE channel = $1 AND external_id = $2 AND direction = 'outbound'",
            )
            .bind(r.channel.as_str())
            .bind(&r.external_id)
            .fetch_optional(&mut **tx)
            .await?;
            let message = match &row {
                Some(row) => Some((
                    row.try_get::<String, _>(0)?,
                    DeliveryState::parse(&row.try_get::<String, _>(1)?)?,
                )),
                None => None,
            };
            sqlx::query("INSERT INTO delivery_receipts (id, channel, external_id, state, error_code, error_title, at, message_id, created_at, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                .bind(ids.new_id())
                .bind(r.channel.as_str())
                .bind(&r.external_id)
                .bind(r.state.as_str())
                .bind(r.error_code.as_deref())
                .bind(r.error_title.as_deref())
                .bind(r.at)
                .bind(message.as_ref().map(|(id, _)| id.as_str()))
                .bind(now)
                .bind(r.detail.as_deref())
                .execute(&mut **tx)
                .await?;
            let Some((message_id, current)) = message else {
                out.push(ReceiptOutcome::Waiting);
                continue;
            };
            if let Some(d) = r.detail.as_deref() {
                sqlx::query("UPDATE messages SET delivery_detail = $1 WHERE id = $2")
                    .bind(d)
                    .bind(&message_id)
                    .execute(&mut **tx)
                    .await?;
            }
            // Only states a channel reports move a message; `queued`/`sending` are ours.
            let reportable = matches!(
                r.state,
                DeliveryState::Sent
                    | DeliveryState::Delivered
                    | DeliveryState::Read
                    | DeliveryState::Failed
            );
            let lower: Vec<&str> = DeliveryState::ALL
                .iter()
                .filter(|s| s.rank() < r.state.rank() && **s != DeliveryState::Received)
                .map(|s| s.as_str())
                .collect();
            let moved = if reportable && r.state.rank() > current.rank() {
                let mut q = sqlx::query(AssertSqlSafe(format!(
                    "UPDATE messages SET delivery_state = $1, error_code = COALESCE($2, error_code), last_error = COALESCE($3, last_error), updated_at = $4 WHERE id = $5 AND delivery_state IN ({})",
                    (0..lower.len()).map(|i| format!("${}", i + 6)).collect::<Vec<_>>().join(",")
                )))
                .bind(r.state.as_str())
                .bind(r.error_code.as_deref())
                .bind(r.error_title.as_deref())
                .bind(now)
                .bind(&message_id);
                for s in &lower {
                    q = q.bind(*s);
                }
                q.execute(&mut **tx).await?.rows_affected() > 0
            } else {
                false
            };
            if moved {
                let row = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {} FROM conversations WHERE id = (SELECT conversation_id FROM messages WHERE id = $1)",
                    rows::CONVERSATION_COLUMNS
                )))
                .bind(&message_id)
                .fetch_one(&mut **tx)
                .await?;
                out.push(ReceiptOutcome::Applied {
                    message_id,
                    conversation: Box::new(rows::conversation(&row)?),
                    state: r.state,
                });
            } else {
                out.push(ReceiptOutcome::Recorded { message_id });
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// A message's delivery state and its provider error, if any.
    pub async fn delivery(
        &self,
        message_id: &str,
    ) -> Result<(DeliveryState, Option<String>, Option<String>)> {
        let row = sqlx::query(
            "SELECT delivery_state, error_code, last_error FROM messages WHERE id = $1",
        )
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("message {message_id}")))?;
        Ok((
            DeliveryState::parse(&row.try_get::<String, _>(0)?)?,
            row.try_get(1)?,
            row.try_get(2)?,
        ))
    }

    /// Parks a message that kept failing: marks it failed and lists it as a dead letter.
    pub async fn add_dead_letter(
        &self,
        ids: &Ids,
        message: &Message,
        error: &str,
        attempts: i64,
    ) -> Result<()> {
        let now = ids.now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE messages SET delivery_state = 'failed', attempts = $1, last_error = $2, next_attempt_at = NULL, updated_at = $3 WHERE id = $4")
            .bind(attempts)
            .bind(error)
            .bind(now)
            .bind(&message.id)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO dead_letters (id, message_id, channel, error, attempts, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(ids.new_id())
        .bind(&message.id)
        .bind(message.channel.as_str())
        .bind(error)
        .bind(attempts)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        sqlx::query("INSERT INTO events (id, conversation_id, kind, payload, created_at) VALUES ($1, $2, 'dead_lettered', $3, $4)")
            .bind(ids.new_id())
            .bind(&message.conversation_id)
            .bind(serde_json::json!({"message_id": message.id, "error": error}).to_string())
            .bind(now)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every dead letter (for the CLI and workers).
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>> {
        self.list_dead_letters(None).await
    }

    /// The dead letters of the conversations a caller may see.
    pub async fn dead_letters_for(&self, caller: &super::Caller) -> Result<Vec<DeadLetter>> {
        self.list_dead_letters(Some(caller)).await
    }

    async fn list_dead_letters(&self, caller: Option<&super::Caller>) -> Result<Vec<DeadLetter>> {
        let (scope, binds) = caller.map_or(("1 = 1".to_owned(), Vec::new()), |c| c.condition(1));
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "SELECT d.id, d.message_id, m.conversation_id, d.channel, d.error, d.attempts, d.created_at FROM dead_letters d \
             JOIN messages m ON m.id = d.message_id JOIN conversations ON conversations.id = m.conversation_id \
             WHERE {scope} ORDER BY d.created_at, d.id"
        )));
        for b in &binds {
            q = q.bind(b.clone());
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(DeadLetter {
                    id: r.try_get("id")?,
                    message_id: r.try_get("message_id")?,
                    conversation_id: r.try_get("conversation_id")?,
                    channel: Channel::parse(&r.try_get::<String, _>("channel")?)?,
                    error: r.try_get("error")?,
                    attempts: r.try_get("attempts")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Takes a dead letter off the list and puts its message back to `queued` with a fresh
    /// attempt count. Returns the message id to dispatch again.
    pub async fn requeue_dead_letter(&self, id: &str, now: i64) -> Result<String> {
        let mut tx = self.begin_write().await?;
        let message_id: String = sqlx::query_scalar(
            "DELETE FROM dead_letters WHERE id = $1 OR message_id = $1 RETURNING message_id",
        )
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| Error::not_found(format!("dead letter {id}")))?;
        sqlx::query("UPDATE messages SET delivery_state = 'queued', attempts = 0, last_error = NULL, next_attempt_at = $1, enqueued_at = $1, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&message_id)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(message_id)
    }

    /// Who an outbound message goes to: the conversation's contact's verified identities
    /// for the channel (`to`), then its Cc'd participants' (`cc`).
    pub async fn recipients(&self, conversation: &Conversation) -> Result<Vec<Recipient>> {
        let kind = match conversation.channel {
            Channel::Email => IdentityKind::Email,
            Channel::Whatsapp => IdentityKind::Whatsapp,
            Channel::Webchat => IdentityKind::Visitor,
            Channel::Portal | Channel::Api => return Ok(Vec::new()),
        };
        let mut rows = self.recipient_rows(conversation, kind).await?;
        let mut kind = kind;
        // A WhatsApp user who hides the number is written to by the user id.
        if rows.is_empty() && kind == IdentityKind::Whatsapp {
            kind = IdentityKind::WhatsappUser;
            rows = self.recipient_rows(conversation, kind).await?;
        }
        rows.iter()
            .map(|r| {
                let role: String = r.try_get(1)?;
                Ok(Recipient {
                    identity: crate::domain::Identity::new(kind, &r.try_get::<String, _>(0)?)?,
                    role: if role == "to" { "to" } else { "cc" },
                })
            })
            .collect()
    }

    async fn recipient_rows(
        &self,
        conversation: &Conversation,
        kind: IdentityKind,
    ) -> Result<Vec<sqlx::any::AnyRow>> {
        Ok(sqlx::query(
            "SELECT i.value, CASE WHEN i.contact_id = $1 THEN 'to' ELSE 'cc' END AS role FROM contact_identities i \
             WHERE i.kind = $2 AND (i.contact_id = $1 OR i.contact_id IN (SELECT contact_id FROM conversation_participants WHERE conversation_id = $3)) \
             ORDER BY role DESC, i.created_at, i.value",
        )
        .bind(&conversation.contact_id)
        .bind(kind.as_str())
        .bind(&conversation.id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The channel's ids of a conversation's earlier messages, oldest first (the last
    /// `limit`): what an email's `References` or a WhatsApp reply context is made of.
    /// Only messages of the conversation's own channel count: a portal ticket's messages
    /// written on the portal are no mail to refer to.
    pub async fn thread_references(
        &self,
        conversation_id: &str,
        before_message: &str,
        limit: i64,
    ) -> Result<Vec<String>> {
        let mut refs: Vec<String> = sqlx::query_scalar(
            "SELECT external_id FROM messages WHERE conversation_id = $1 AND id < $2 AND external_id IS NOT NULL \
             AND channel = (SELECT channel FROM conversations WHERE id = $1) ORDER BY id DESC LIMIT $3",
        )
        .bind(conversation_id)
        .bind(before_message)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        refs.reverse();
        Ok(refs)
    }

    /// Saves an inbox's channel settings (JSON read by its channel's sender).
    pub async fn put_inbox(
        &self,
        ids: &Ids,
        inbox: &str,
        channel: Channel,
        settings: &serde_json::Value,
    ) -> Result<()> {
        sqlx::query("INSERT INTO inboxes (id, channel, settings, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET channel = excluded.channel, settings = excluded.settings, updated_at = excluded.updated_at")
            .bind(inbox)
            .bind(channel.as_str())
            .bind(settings.to_string())
            .bind(ids.now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// An inbox's channel settings; an empty object for an inbox never configured.
    pub async fn inbox_settings(&self, inbox: &str) -> Result<serde_json::Value> {
        let s: Option<String> = sqlx::query_scalar("SELECT settings FROM inboxes WHERE id = $1")
            .bind(inbox)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match s {
            Some(s) => serde_json::from_str(&s)?,
            None => serde_json::json!({}),
        })
    }
}

impl Store {
    /// Puts a queued message off until `at` without an attempt (its channel is busy).
    pub async fn defer(&self, message_id: &str, at: i64) -> Result<()> {
        sqlx::query(
            "UPDATE messages SET next_attempt_at = $1 WHERE id = $2 AND delivery_state = 'queued'",
        )
        .bind(at)
        .bind(message_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
