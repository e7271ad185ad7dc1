//! Reading conversations and threads; outbound messages, their delivery state and the
//! dead-letter list.

use sqlx::AssertSqlSafe;

use super::{Store, rows};
use crate::clock::Ids;
use crate::domain::{AuthorKind, Channel, Conversation, DeliveryState, Direction, Message, Status};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub status: Option<Status>,
    pub inbox: Option<String>,
    pub contact_id: Option<String>,
    /// Only conversations whose last message is older than this (paging backwards).
    pub before: Option<i64>,
    pub limit: i64,
}

/// An outbound message to be queued for delivery.
#[derive(Debug, Clone)]
pub struct NewOutbound<'a> {
    pub conversation_id: &'a str,
    pub author_kind: AuthorKind,
    pub author_id: Option<&'a str>,
    pub text: &'a str,
    /// Makes a retried request a no-op (e.g. `api:<user>:<Idempotency-Key>`).
    pub idempotency_key: Option<String>,
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

impl Store {
    pub async fn conversation(&self, id: &str) -> Result<Conversation> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM conversations WHERE id = $1",
            rows::CONVERSATION_COLUMNS
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("conversation {id}")))?;
        rows::conversation(&row)
    }

    /// Conversations by latest activity first.
    pub async fn conversations(&self, filter: &ConversationFilter) -> Result<Vec<Conversation>> {
        let mut sql = format!(
            "SELECT {} FROM conversations WHERE 1 = 1",
            rows::CONVERSATION_COLUMNS
        );
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        if filter.status.is_some() {
            sql.push_str(&format!(" AND status = ${}", next()));
        }
        if filter.inbox.is_some() {
            sql.push_str(&format!(" AND inbox = ${}", next()));
        }
        if filter.contact_id.is_some() {
            sql.push_str(&format!(" AND contact_id = ${}", next()));
        }
        if filter.before.is_some() {
            sql.push_str(&format!(" AND last_message_at < ${}", next()));
        }
        sql.push_str(&format!(
            " ORDER BY last_message_at DESC, id DESC LIMIT ${}",
            next()
        ));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        if let Some(s) = filter.status {
            q = q.bind(s.as_str());
        }
        if let Some(i) = &filter.inbox {
            q = q.bind(i.clone());
        }
        if let Some(c) = &filter.contact_id {
            q = q.bind(c.clone());
        }
        if let Some(b) = filter.before {
            q = q.bind(b);
        }
        let limit = if filter.limit <= 0 {
            50
        } else {
            filter.limit.min(500)
        };
        let rows = q.bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(rows::conversation).collect()
    }

    /// A thread in order, optionally only the messages after `after` (a message id).
    pub async fn messages(
        &self,
        conversation_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Message>> {
        let limit = if limit <= 0 { 200 } else { limit.min(10_000) };
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM messages WHERE conversation_id = $1 AND id > $2 ORDER BY id LIMIT $3",
            rows::MESSAGE_COLUMNS
        )))
        .bind(conversation_id)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::message).collect()
    }

    pub async fn message(&self, id: &str) -> Result<Message> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM messages WHERE id = $1",
            rows::MESSAGE_COLUMNS
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("message {id}")))?;
        rows::message(&row)
    }

    /// Stores an outbound message as `queued`. Returns it, with its conversation when it is
    /// new (a repeated idempotency key returns the first message and no conversation).
    pub async fn insert_outbound(
        &self,
        ids: &Ids,
        new: &NewOutbound<'_>,
    ) -> Result<(Message, Option<Conversation>)> {
        if new.text.trim().is_empty() {
            return Err(Error::invalid("message text is empty"));
        }
        let conversation = self.conversation(new.conversation_id).await?;
        if let Some(key) = &new.idempotency_key {
            let seen: Option<String> =
                sqlx::query_scalar("SELECT id FROM messages WHERE idempotency_key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?;
            if let Some(id) = seen {
                return Ok((self.message(&id).await?, None));
            }
        }
        let now = ids.now_ms();
        let message = Message {
            id: ids.new_id(),
            conversation_id: conversation.id.clone(),
            direction: Direction::Outbound,
            author_kind: new.author_kind,
            author_id: new.author_id.map(str::to_owned),
            channel: conversation.channel,
            text: new.text.to_owned(),
            html: None,
            attachments: Vec::new(),
            delivery_state: DeliveryState::Queued,
            external_id: None,
            created_at: now,
        };
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO messages (id, conversation_id, direction, author_kind, author_id, channel, text, html, attachments, delivery_state, external_id, idempotency_key, attempts, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, '[]', $8, NULL, $9, 0, $10, $10) ON CONFLICT DO NOTHING",
        )
        .bind(&message.id)
        .bind(&message.conversation_id)
        .bind(message.direction.as_str())
        .bind(message.author_kind.as_str())
        .bind(message.author_id.as_deref())
        .bind(message.channel.as_str())
        .bind(&message.text)
        .bind(message.delivery_state.as_str())
        .bind(new.idempotency_key.as_deref())
        .bind(now)
        .execute(&mut **tx)
        .await?;
        if inserted.rows_affected() == 0 {
            drop(tx);
            let key = new.idempotency_key.as_deref().unwrap_or_default();
            let id: String =
                sqlx::query_scalar("SELECT id FROM messages WHERE idempotency_key = $1")
                    .bind(key)
                    .fetch_one(&self.pool)
                    .await?;
            return Ok((self.message(&id).await?, None));
        }
        sqlx::query("UPDATE conversations SET last_message_at = $1, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&conversation.id)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        let mut conversation = conversation;
        conversation.last_message_at = now;
        conversation.updated_at = now;
        Ok((message, Some(conversation)))
    }

    /// Records a delivery attempt's result.
    pub async fn set_delivery(
        &self,
        message_id: &str,
        state: DeliveryState,
        attempts: i64,
        error: Option<&str>,
        external_id: Option<&str>,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE messages SET delivery_state = $1, attempts = $2, last_error = $3, external_id = COALESCE($4, external_id), updated_at = $5 WHERE id = $6",
        )
        .bind(state.as_str())
        .bind(attempts)
        .bind(error)
        .bind(external_id)
        .bind(now)
        .bind(message_id)
        .execute(&self.pool)
        .await?;
        Ok(())
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
        sqlx::query("UPDATE messages SET delivery_state = 'failed', attempts = $1, last_error = $2, updated_at = $3 WHERE id = $4")
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

    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>> {
        let rows = sqlx::query(
            "SELECT d.id, d.message_id, m.conversation_id, d.channel, d.error, d.attempts, d.created_at FROM dead_letters d JOIN messages m ON m.id = d.message_id ORDER BY d.created_at, d.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                use sqlx::Row;
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
        sqlx::query("UPDATE messages SET delivery_state = 'queued', attempts = 0, last_error = NULL, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&message_id)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(message_id)
    }

    /// Moves a conversation to a tier of people, recording why.
    pub async fn hand_off(
        &self,
        ids: &Ids,
        conversation_id: &str,
        tier: crate::domain::Tier,
        reason: &str,
    ) -> Result<()> {
        let now = ids.now_ms();
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE conversations SET tier = $1, status = 'open', updated_at = $2 WHERE id = $3",
        )
        .bind(tier.as_str())
        .bind(now)
        .bind(conversation_id)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("conversation {conversation_id}")));
        }
        sqlx::query("INSERT INTO events (id, conversation_id, kind, payload, created_at) VALUES ($1, $2, 'handoff', $3, $4)")
            .bind(ids.new_id())
            .bind(conversation_id)
            .bind(serde_json::json!({"tier": tier, "reason": reason}).to_string())
            .bind(now)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Messages still `queued` and untouched since `before`: their delivery job may have
    /// been lost between storing them and appending the job.
    pub async fn stale_queued(&self, before: i64, limit: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT id FROM messages WHERE delivery_state = 'queued' AND updated_at < $1 ORDER BY id LIMIT $2")
            .bind(before)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Takes the right to send a message: `queued` → `sending`; returns its attempts so
    /// far, or `None` when it is not this caller's to send. A reclaimed job (whose first
    /// consumer died mid-send) may take over a message already `sending`.
    pub async fn claim_for_sending(
        &self,
        message_id: &str,
        take_over: bool,
        now: i64,
    ) -> Result<Option<i64>> {
        let sql = if take_over {
            "UPDATE messages SET delivery_state = 'sending', updated_at = $1 WHERE id = $2 AND delivery_state IN ('queued', 'sending') RETURNING attempts"
        } else {
            "UPDATE messages SET delivery_state = 'sending', updated_at = $1 WHERE id = $2 AND delivery_state = 'queued' RETURNING attempts"
        };
        Ok(sqlx::query_scalar(sql)
            .bind(now)
            .bind(message_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Shows a card in a conversation.
    pub async fn add_card(
        &self,
        ids: &Ids,
        conversation_id: &str,
        payload: crate::domain::CardPayload,
    ) -> Result<crate::domain::Card> {
        payload.validate()?;
        let conversation = self.conversation(conversation_id).await?;
        let card = crate::domain::Card {
            id: ids.new_id(),
            conversation_id: conversation.id,
            payload,
            created_at: ids.now_ms(),
        };
        sqlx::query("INSERT INTO cards (id, conversation_id, kind, payload, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&card.id)
            .bind(&card.conversation_id)
            .bind(card.payload.kind().as_str())
            .bind(serde_json::to_string(&card.payload)?)
            .bind(card.created_at)
            .execute(&self.pool)
            .await?;
        Ok(card)
    }

    /// A conversation's cards, oldest first.
    pub async fn cards(&self, conversation_id: &str) -> Result<Vec<crate::domain::Card>> {
        let rows: Vec<(String, String, String, String, i64)> =
            sqlx::query_as("SELECT id, conversation_id, kind, payload, created_at FROM cards WHERE conversation_id = $1 ORDER BY id")
                .bind(conversation_id)
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|(id, conversation_id, kind, payload, created_at)| {
                let payload: crate::domain::CardPayload = serde_json::from_str(&payload)?;
                if payload.kind().as_str() != kind {
                    return Err(Error::invalid(format!(
                        "card {id} says {kind} but holds {}",
                        payload.kind()
                    )));
                }
                Ok(crate::domain::Card {
                    id,
                    conversation_id,
                    payload,
                    created_at,
                })
            })
            .collect()
    }

    /// Counts rows of a table; for `readyz`-style checks and tests.
    pub async fn count_messages(&self, conversation_id: Option<&str>) -> Result<i64> {
        let n: i64 = match conversation_id {
            Some(c) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE conversation_id = $1")
                    .bind(c)
                    .fetch_one(&self.pool)
                    .await?
            }
            None => {
                sqlx::query_scalar("SELECT COUNT(*) FROM messages")
                    .fetch_one(&self.pool)
                    .await?
            }
        };
        Ok(n)
    }
}
