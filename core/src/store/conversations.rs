//! Reading conversations and threads.

use sqlx::AssertSqlSafe;

use super::{Store, rows};
use crate::clock::Ids;
use crate::domain::{Conversation, Message, Status};
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

impl Store {
    pub async fn conversation(&self, id: &str) -> Result<Conversation> {
        sqlx::query_as::<_, Conversation>(AssertSqlSafe(format!(
            "SELECT {} FROM conversations WHERE id = $1",
            rows::CONVERSATION_COLUMNS
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("conversation {id}")))
    }

    /// Conversations by latest activity first, all of them (for workers and tests).
    pub async fn conversations(&self, filter: &ConversationFilter) -> Result<Vec<Conversation>> {
        self.list_conversations(filter, None).await
    }

    /// The conversations a caller may see, by latest activity first.
    pub async fn conversations_for(
        &self,
        caller: &super::Caller,
        filter: &ConversationFilter,
    ) -> Result<Vec<Conversation>> {
        self.list_conversations(filter, Some(caller)).await
    }

    async fn list_conversations(
        &self,
        filter: &ConversationFilter,
        caller: Option<&super::Caller>,
    ) -> Result<Vec<Conversation>> {
        let (scope, scope_binds) =
            caller.map_or(("1 = 1".to_owned(), Vec::new()), |c| c.condition(1));
        let mut sql = format!(
            "SELECT {} FROM conversations WHERE {scope}",
            rows::CONVERSATION_COLUMNS
        );
        let mut n = scope_binds.len();
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
        for b in &scope_binds {
            q = q.bind(b.clone());
        }
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

    /// A thread in order as the customer's side may see it, optionally only the messages
    /// after `after` (a message id): internal notes are left out, so whatever shows a
    /// thread to its customer (the widget's history) cannot show one. Agents read the
    /// whole thread through [`Store::messages_for`].
    pub async fn messages(
        &self,
        conversation_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Message>> {
        self.read_thread(conversation_id, after, limit, false).await
    }

    /// A thread in order, internal notes included when `notes` says so.
    pub(crate) async fn read_thread(
        &self,
        conversation_id: &str,
        after: Option<&str>,
        limit: i64,
        notes: bool,
    ) -> Result<Vec<Message>> {
        let limit = if limit <= 0 { 200 } else { limit.min(10_000) };
        let notes = if notes { "" } else { " AND internal = 0" };
        Ok(sqlx::query_as::<_, Message>(AssertSqlSafe(format!(
            "SELECT {} FROM messages WHERE conversation_id = $1 AND id > $2{notes} ORDER BY id LIMIT $3",
            rows::MESSAGE_COLUMNS
        )))
        .bind(conversation_id)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn message(&self, id: &str) -> Result<Message> {
        sqlx::query_as::<_, Message>(AssertSqlSafe(format!(
            "SELECT {} FROM messages WHERE id = $1",
            rows::MESSAGE_COLUMNS
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("message {id}")))
    }

    /// Hands a conversation to a tier of people: the bot stops for good, the SLA clocks
    /// start, the reason and
    /// the bot's summary are kept as a system message (once per `key`, so a replayed
    /// handoff changes nothing). Returns the conversation as it is now, and whether this
    /// call did it.
    pub async fn hand_off(
        &self,
        ids: &Ids,
        conversation_id: &str,
        handoff: &crate::domain::Handoff,
        key: &str,
    ) -> Result<(Conversation, bool)> {
        let now = ids.now_ms();
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE conversations SET tier = $1, status = 'open', bot_active = 0, people_since = COALESCE(people_since, $2), \
             version = version + 1, updated_at = $2 WHERE id = $3",
        )
        .bind(handoff.tier.as_str())
        .bind(now)
        .bind(conversation_id)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("conversation {conversation_id}")));
        }
        let mut text = format!("Handed off to {}: {}", handoff.tier, handoff.reason);
        if let Some(summary) = handoff.summary.as_deref().filter(|s| !s.trim().is_empty()) {
            text.push_str("\n\n");
            text.push_str(summary);
        }
        let inserted = sqlx::query(
            "INSERT INTO messages (id, conversation_id, direction, author_kind, author_id, channel, text, attachments, delivery_state, idempotency_key, attempts, created_at, updated_at) \
             SELECT $1, id, 'outbound', 'system', NULL, channel, $2, '[]', 'sent', $3, 0, $4, $4 FROM conversations WHERE id = $5 ON CONFLICT DO NOTHING",
        )
        .bind(ids.new_id())
        .bind(&text)
        .bind(format!("handoff:{key}"))
        .bind(now)
        .bind(conversation_id)
        .execute(&mut **tx)
        .await?
        .rows_affected()
            > 0;
        if inserted {
            sqlx::query("INSERT INTO events (id, conversation_id, kind, payload, created_at) VALUES ($1, $2, 'handoff', $3, $4)")
                .bind(ids.new_id())
                .bind(conversation_id)
                .bind(serde_json::to_string(handoff)?)
                .bind(now)
                .execute(&mut **tx)
                .await?;
        }
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM conversations WHERE id = $1",
            rows::CONVERSATION_COLUMNS
        )))
        .bind(conversation_id)
        .fetch_one(&mut **tx)
        .await?;
        tx.commit().await?;
        Ok((rows::conversation(&row)?, inserted))
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
