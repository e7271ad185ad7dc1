//! Who may read a stored attachment. A blob is read through a message that carries it:
//! by an agent who may see that message's conversation, and by the contact whose
//! conversation it is, only through messages the contact is shown (never an internal
//! note or a system line). Anyone else is told "not found", as for a key never stored.

use sqlx::AssertSqlSafe;

use super::{Caller, Store, rows};
use crate::blob::BlobKey;
use crate::clock::Ids;
use crate::domain::{Attachment, Channel, Conversation, Message};
use crate::error::{Error, Result};

fn pick(key: &BlobKey, rows: Vec<String>) -> Result<Attachment> {
    for json in rows {
        let attachments: Vec<Attachment> = serde_json::from_str(&json)?;
        if let Some(a) = attachments.into_iter().find(|a| &a.blob == key) {
            return Ok(a);
        }
    }
    Err(Error::not_found(format!("attachment {key}")))
}

impl Store {
    /// Deletes the blobs nothing refers to that were stored before `before_ms`: no message
    /// carries them, no meter reading's photo or contract's PDF is one, and no entry of the embedded stream waiting to be routed names them
    /// (an upload never sent, a mail's file over a limit). The grace before `before_ms`
    /// covers what is still on its way through Redis. Returns how many went.
    pub async fn collect_blobs(
        &self,
        blobs: &dyn crate::blob::BlobStore,
        before_ms: i64,
    ) -> Result<usize> {
        let mut gone = 0;
        for key in blobs.stored_before(before_ms).await? {
            let needle = format!("%{}%", key.as_str());
            let used: Option<i64> = sqlx::query_scalar(
                "SELECT 1 WHERE EXISTS (SELECT 1 FROM message_blobs WHERE blob_key = $1) \
                 OR EXISTS (SELECT 1 FROM stream_entries WHERE payload LIKE $2) \
                 OR EXISTS (SELECT 1 FROM stream_parked WHERE payload LIKE $2) \
                 OR EXISTS (SELECT 1 FROM meter_readings WHERE photo LIKE $2) \
                 OR EXISTS (SELECT 1 FROM contracts WHERE document LIKE $2)",
            )
            .bind(key.as_str())
            .bind(&needle)
            .fetch_optional(&self.pool)
            .await?;
            if used.is_none() {
                blobs.delete(&key).await?;
                gone += 1;
            }
        }
        Ok(gone)
    }

    /// The attachment `key` as a message of a conversation the caller may see carries it
    /// (notes included: agents see them).
    pub async fn attachment_for(&self, caller: &Caller, key: &BlobKey) -> Result<Attachment> {
        let (condition, binds) = caller.condition(2);
        let sql = format!(
            "SELECT m.attachments FROM message_blobs b JOIN messages m ON m.id = b.message_id \
             WHERE b.blob_key = $1 AND m.conversation_id IN (SELECT id FROM conversations WHERE {condition}) \
             ORDER BY m.id LIMIT 1"
        );
        let mut q = sqlx::query_scalar(AssertSqlSafe(sql)).bind(key.as_str());
        for b in &binds {
            q = q.bind(b.as_str());
        }
        pick(key, q.fetch_all(&self.pool).await?)
    }

    /// The attachment `key` as one of the contact's own conversations in `inbox` shows it
    /// to the contact: in a message that is neither an internal note nor a system line.
    pub async fn attachment_for_contact(
        &self,
        contact_id: &str,
        inbox: &str,
        key: &BlobKey,
    ) -> Result<Attachment> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT m.attachments FROM message_blobs b JOIN messages m ON m.id = b.message_id \
             JOIN conversations c ON c.id = m.conversation_id \
             WHERE b.blob_key = $1 AND c.contact_id = $2 AND c.inbox = $3 \
             AND m.internal = 0 AND m.author_kind <> 'system' ORDER BY m.id LIMIT 1",
        )
        .bind(key.as_str())
        .bind(contact_id)
        .bind(inbox)
        .fetch_all(&self.pool)
        .await?;
        pick(key, rows)
    }
}

impl Store {
    /// Records what became of a file the channel still held for an inbound message (named
    /// by its channel id): a kept file joins the message's attachments and its media reads
    /// `kept`; otherwise the media reads `unavailable`, with the reason. Returns the message
    /// and its conversation as they are now, or `None` when no such message is stored (yet).
    pub async fn settle_remote_media(
        &self,
        ids: &Ids,
        channel: Channel,
        external_id: &str,
        kept: Option<Attachment>,
        reason: Option<&str>,
    ) -> Result<Option<(Message, Conversation)>> {
        let key = crate::domain::idempotency_key(channel, external_id);
        let mut tx = self.begin_write().await?;
        let Some(mut message) = sqlx::query_as::<_, Message>(AssertSqlSafe(format!(
            "SELECT {} FROM messages WHERE idempotency_key = $1",
            rows::MESSAGE_COLUMNS
        )))
        .bind(&key)
        .fetch_optional(&mut **tx)
        .await?
        else {
            return Ok(None);
        };
        let mut content = message.content.clone().unwrap_or_default();
        if let Some(media) = content.media.as_mut() {
            media.state = if kept.is_some() {
                "kept"
            } else {
                "unavailable"
            }
            .into();
            media.reason = reason.map(str::to_owned);
        }
        if let Some(a) = kept
            && !message.attachments.iter().any(|x| x.blob == a.blob)
        {
            {
                sqlx::query("INSERT INTO message_blobs (blob_key, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(a.blob.as_str())
                    .bind(&message.id)
                    .execute(&mut **tx)
                    .await?;
                message.attachments.push(a);
            }
        }
        message.content = Some(content);
        sqlx::query(
            "UPDATE messages SET attachments = $1, content = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(serde_json::to_string(&message.attachments)?)
        .bind(serde_json::to_string(&message.content)?)
        .bind(ids.now_ms())
        .bind(&message.id)
        .execute(&mut **tx)
        .await?;
        let conversation = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM conversations WHERE id = $1",
            rows::CONVERSATION_COLUMNS
        )))
        .bind(&message.conversation_id)
        .fetch_one(&mut **tx)
        .await?;
        let conversation = rows::conversation(&conversation)?;
        tx.commit().await?;
        Ok(Some((message, conversation)))
    }

    /// When the contact last wrote in a conversation (what a channel's reply window counts
    /// from), if ever.
    pub async fn last_inbound_at(&self, conversation_id: &str) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT MAX(created_at) FROM messages WHERE conversation_id = $1 AND direction = 'inbound' AND author_kind = 'contact'",
        )
        .bind(conversation_id)
        .fetch_one(&self.pool)
        .await?)
    }
}
