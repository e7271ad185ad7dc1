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
