//! Who may read a stored attachment. A blob is read through a message that carries it:
//! by an agent who may see that message's conversation, and by the contact whose
//! conversation it is, only through messages the contact is shown (never an internal
//! note or a system line). Anyone else is told "not found", as for a key never stored.

use sqlx::AssertSqlSafe;

use super::{Caller, Store};
use crate::blob::BlobKey;
use crate::domain::Attachment;
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
    /// carries them and no entry of the embedded stream waiting to be routed names them
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
                 OR EXISTS (SELECT 1 FROM stream_parked WHERE payload LIKE $2)",
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
