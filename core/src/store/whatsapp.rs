//! WhatsApp's own rows: the message templates each business number may send (as the Graph
//! API last listed them) and the numbers added on the settings page.

use sqlx::Row;

use super::Store;
use crate::error::Result;

/// A message template of one business number.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WaTemplate {
    pub name: String,
    pub language: String,
    /// `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, `DISABLED`.
    pub status: String,
    pub category: String,
    /// The body, with `{{1}}`… where the parameters go.
    pub body: String,
    pub params: i64,
}

impl WaTemplate {
    /// The body with its parameters put in (what the conversation shows as sent).
    pub fn render(&self, params: &[String]) -> String {
        let mut out = self.body.clone();
        for (i, p) in params.iter().enumerate() {
            out = out.replace(&format!("{{{{{}}}}}", i + 1), p);
        }
        out
    }
}

impl Store {
    /// The channel a contact's notices go by (`email` unless they chose another).
    pub async fn contact_notice_channel(&self, contact_id: &str) -> Result<String> {
        let c: Option<Option<String>> =
            sqlx::query_scalar("SELECT notice_channel FROM contacts WHERE id = $1")
                .bind(contact_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(c.flatten().unwrap_or_else(|| "email".into()))
    }

    /// Sets the channel a contact's notices go by (`email` or `whatsapp`).
    pub async fn set_contact_notice_channel(&self, contact_id: &str, channel: &str) -> Result<()> {
        if !matches!(channel, "email" | "whatsapp") {
            return Err(crate::Error::invalid(format!(
                "notices go by email or whatsapp, not {channel:?}"
            )));
        }
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("UPDATE contacts SET notice_channel = $1 WHERE id = $2")
            .bind(channel)
            .bind(contact_id)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(crate::Error::not_found(format!("contact {contact_id}")));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Keeps a "continue on WhatsApp" code (its hash) for a contact until `expires_at`.
    pub async fn put_wa_handover(
        &self,
        code: &str,
        contact_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO whatsapp_handovers (code_hash, contact_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(super::users::token_hash(code))
        .bind(contact_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut **tx)
        .await?;
        // Spent and expired codes go as new ones come.
        sqlx::query("DELETE FROM whatsapp_handovers WHERE expires_at < $1")
            .bind(now - 86_400_000)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Uses a code once: the contact it was made for, if it is known, unused and not
    /// expired. Two racing uses get it once.
    pub async fn take_wa_handover(&self, code: &str, now: i64) -> Result<Option<String>> {
        let mut tx = self.begin_write().await?;
        let contact: Option<String> = sqlx::query_scalar(
            "UPDATE whatsapp_handovers SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING contact_id",
        )
        .bind(super::users::token_hash(code))
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?;
        tx.commit().await?;
        Ok(contact)
    }

    /// The inbox of the contact's latest WhatsApp conversation: the number they write to.
    pub async fn whatsapp_inbox_of(&self, contact_id: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT inbox FROM conversations WHERE contact_id = $1 AND channel = 'whatsapp' AND merged_into IS NULL ORDER BY updated_at DESC LIMIT 1",
        )
        .bind(contact_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Replaces a number's templates with the list just read.
    pub async fn put_wa_templates(
        &self,
        number: &str,
        list: &[WaTemplate],
        now: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM whatsapp_templates WHERE number = $1")
            .bind(number)
            .execute(&mut **tx)
            .await?;
        for t in list {
            sqlx::query("INSERT INTO whatsapp_templates (number, name, language, status, category, body, params, synced_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING")
                .bind(number)
                .bind(&t.name)
                .bind(&t.language)
                .bind(&t.status)
                .bind(&t.category)
                .bind(&t.body)
                .bind(t.params)
                .bind(now)
                .execute(&mut **tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A number's templates, by name and language.
    pub async fn wa_templates(&self, number: &str) -> Result<Vec<WaTemplate>> {
        let rows = sqlx::query("SELECT name, language, status, category, body, params FROM whatsapp_templates WHERE number = $1 ORDER BY name, language")
            .bind(number)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(WaTemplate {
                    name: r.try_get(0)?,
                    language: r.try_get(1)?,
                    status: r.try_get(2)?,
                    category: r.try_get(3)?,
                    body: r.try_get(4)?,
                    params: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// The channel's id of the contact's latest message in a conversation (what a read
    /// mark names).
    pub async fn last_inbound_external_id(&self, conversation_id: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT external_id FROM messages WHERE conversation_id = $1 AND direction = 'inbound' AND author_kind = 'contact' AND external_id IS NOT NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(conversation_id)
        .fetch_optional(&self.pool)
        .await?
        .flatten())
    }

    /// The numbers added on the settings page, as their saved JSON, by name.
    pub async fn wa_numbers(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT name, settings FROM whatsapp_numbers ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    pub async fn put_wa_number(&self, name: &str, settings: &str, now: i64) -> Result<()> {
        sqlx::query("INSERT INTO whatsapp_numbers (name, settings, created_at, updated_at) VALUES ($1, $2, $3, $3) ON CONFLICT (name) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at")
            .bind(name)
            .bind(settings)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_wa_number(&self, name: &str) -> Result<bool> {
        Ok(sqlx::query("DELETE FROM whatsapp_numbers WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?
            .rows_affected()
            > 0)
    }
}
