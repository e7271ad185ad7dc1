//! The email channel's own rows: where each IMAP mailbox was read up to, how its last
//! connection went, when a conversation's customer was last sent a notice, and a
//! contact's language and notice preference.

use sqlx::Row;

use super::Store;
use crate::error::{Error, Result};

/// Where a mailbox was read up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmailCursor {
    pub uid_validity: u32,
    pub last_uid: u32,
}

/// How a mailbox's last connection went.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EmailStatus {
    pub inbox: String,
    pub ok: bool,
    pub detail: String,
    /// Messages read since the server started.
    pub fetched: i64,
    pub updated_at: i64,
    pub last_uid: Option<i64>,
}

impl Store {
    pub async fn email_cursor(&self, inbox: &str) -> Result<Option<EmailCursor>> {
        let row = sqlx::query("SELECT uid_validity, last_uid FROM email_cursors WHERE inbox = $1")
            .bind(inbox)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(EmailCursor {
                uid_validity: u32::try_from(r.try_get::<i64, _>(0)?).unwrap_or(0),
                last_uid: u32::try_from(r.try_get::<i64, _>(1)?).unwrap_or(0),
            })
        })
        .transpose()
    }

    /// Moves a mailbox's cursor (never backwards within one UIDVALIDITY).
    pub async fn set_email_cursor(&self, inbox: &str, cursor: EmailCursor, now: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO email_cursors (inbox, uid_validity, last_uid, synced_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (inbox) DO UPDATE SET \
               last_uid = CASE WHEN email_cursors.uid_validity = excluded.uid_validity AND email_cursors.last_uid > excluded.last_uid THEN email_cursors.last_uid ELSE excluded.last_uid END, \
               uid_validity = excluded.uid_validity, synced_at = excluded.synced_at",
        )
        .bind(inbox)
        .bind(i64::from(cursor.uid_validity))
        .bind(i64::from(cursor.last_uid))
        .bind(now)
        .execute(&mut **tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records how a mailbox's connection is doing; `fetched` adds to its count.
    pub async fn set_email_status(
        &self,
        inbox: &str,
        ok: bool,
        detail: &str,
        fetched: i64,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO email_status (inbox, ok, detail, fetched, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (inbox) DO UPDATE SET ok = excluded.ok, detail = excluded.detail, \
               fetched = email_status.fetched + excluded.fetched, updated_at = excluded.updated_at",
        )
        .bind(inbox)
        .bind(i64::from(ok))
        .bind(detail)
        .bind(fetched)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn email_statuses(&self) -> Result<Vec<EmailStatus>> {
        let rows = sqlx::query(
            "SELECT s.inbox, s.ok, s.detail, s.fetched, s.updated_at, c.last_uid FROM email_status s \
             LEFT JOIN email_cursors c ON c.inbox = s.inbox ORDER BY s.inbox",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(EmailStatus {
                    inbox: r.try_get(0)?,
                    ok: r.try_get::<i64, _>(1)? != 0,
                    detail: r.try_get(2)?,
                    fetched: r.try_get(3)?,
                    updated_at: r.try_get(4)?,
                    last_uid: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// The id a reply address's conversation is threaded by: its newest message of ours
    /// with a channel id, else its newest with one (the customer's first mail).
    pub async fn thread_anchor(&self, conversation_id: &str) -> Result<Option<String>> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT external_id FROM messages WHERE conversation_id = $1 AND external_id IS NOT NULL \
             ORDER BY CASE WHEN direction = 'outbound' THEN 0 ELSE 1 END, id DESC LIMIT 1",
        )
        .bind(conversation_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(id)
    }

    /// Takes the conversation's notice slot if none was sent in the last `every_ms`: true
    /// when a notice may go now (and the slot is then taken).
    pub async fn take_notice_slot(
        &self,
        conversation_id: &str,
        now: i64,
        every_ms: i64,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "INSERT INTO email_notices (conversation_id, last_sent_at) VALUES ($1, $2) \
             ON CONFLICT (conversation_id) DO UPDATE SET last_sent_at = excluded.last_sent_at \
             WHERE email_notices.last_sent_at <= $3",
        )
        .bind(conversation_id)
        .bind(now)
        .bind(now - every_ms)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(done > 0)
    }

    /// A contact's mail language and whether they take notices by email.
    /// Sets a contact's language (`en`, `es`, `pt-BR`): its pages, mail and documents.
    pub async fn set_contact_language(&self, contact_id: &str, language: &str) -> Result<()> {
        if !matches!(language, "en" | "es" | "pt-BR") {
            return Err(Error::invalid(format!(
                "unknown language {language:?}; expected en, es or pt-BR"
            )));
        }
        let done = sqlx::query("UPDATE contacts SET language = $1 WHERE id = $2")
            .bind(language)
            .bind(contact_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("contact {contact_id}")));
        }
        Ok(())
    }

    pub async fn contact_mail_preferences(
        &self,
        contact_id: &str,
    ) -> Result<(Option<String>, bool)> {
        let row = sqlx::query("SELECT language, email_notices FROM contacts WHERE id = $1")
            .bind(contact_id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok((r.try_get(0)?, r.try_get::<i64, _>(1)? != 0)),
            None => Ok((None, false)),
        }
    }

    /// Sets a contact's mail language (`None` keeps it) and notice preference.
    pub async fn set_contact_mail_preferences(
        &self,
        contact_id: &str,
        language: Option<&str>,
        notices: bool,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE contacts SET language = COALESCE($1, language), email_notices = $2 WHERE id = $3",
        )
        .bind(language)
        .bind(i64::from(notices))
        .bind(contact_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        if n == 0 {
            return Err(crate::error::Error::NotFound(format!(
                "contact {contact_id}"
            )));
        }
        Ok(())
    }

    /// The mailboxes added on the settings page: (name, settings JSON), by name.
    pub async fn stored_mailboxes(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT name, settings FROM email_mailboxes ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Adds or replaces a page mailbox's settings.
    pub async fn put_mailbox(&self, name: &str, settings: &str, now: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO email_mailboxes (name, settings, created_at, updated_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (name) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(settings)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a page mailbox (its conversations stay); false when there was none.
    pub async fn delete_mailbox(&self, name: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM email_mailboxes WHERE name = $1")
            .bind(name)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM email_cursors WHERE inbox = $1")
            .bind(format!("email:{name}"))
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM email_status WHERE inbox = $1")
            .bind(format!("email:{name}"))
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Takes or renews `holder`'s lease on a mailbox until `now + ttl_ms`: true when
    /// `holder` holds it now (it had it, or nobody did, or the last holder's lapsed).
    pub async fn take_email_lease(
        &self,
        inbox: &str,
        holder: &str,
        now: i64,
        ttl_ms: i64,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "INSERT INTO email_leases (inbox, holder, until) VALUES ($1, $2, $3) \
             ON CONFLICT (inbox) DO UPDATE SET holder = excluded.holder, until = excluded.until \
             WHERE email_leases.holder = excluded.holder OR email_leases.until < $4",
        )
        .bind(inbox)
        .bind(holder)
        .bind(now + ttl_ms)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Lets a mailbox's lease go, if `holder` has it.
    pub async fn release_email_lease(&self, inbox: &str, holder: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM email_leases WHERE inbox = $1 AND holder = $2")
            .bind(inbox)
            .bind(holder)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Who holds a mailbox's lease (lapsed or not).
    pub async fn email_lease_holder(&self, inbox: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT holder FROM email_leases WHERE inbox = $1")
                .bind(inbox)
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}
