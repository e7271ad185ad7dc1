//! The client's notification centre: a notice per event and contact (the unique
//! `(contact_id, event)` makes a replayed event, or two nodes seeing it, one notice), read
//! on the portal, and sent by the contact's channel for its kind. Waiting notices are
//! claimed (`claim_waiting_notices`) a contact at a time, so a node sends all that one
//! contact's notices that arrived together as one message, and no two nodes send the
//! same one. Tests: conformance `notices.rs`.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{ClientScope, Store};
use crate::clock::Ids;
use crate::error::{Error, Result};

/// The kinds of notice a client may get, in the order the preferences list them.
pub const NOTICE_KINDS: &[&str] = &[
    "ticket_status",
    "new_message",
    "visit_scheduled",
    "visit_done",
    "invoice_issued",
    "invoice_paid",
    "invoice_due_soon",
    "invoice_overdue",
    "reading_due",
    "survey_waiting",
];

/// Where a notice goes: by mail, by WhatsApp, or nowhere but the portal.
pub const NOTICE_CHANNELS: &[&str] = &["email", "whatsapp", "none"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub id: String,
    pub contact_id: String,
    pub company_id: Option<String>,
    pub kind: String,
    pub event: String,
    /// What its words need (JSON), so it reads in the reader's language.
    pub params: String,
    /// The portal page it opens.
    pub link: String,
    pub created_at: i64,
    pub read_at: Option<i64>,
    /// Where it went (`email`, `whatsapp`, `none`); `None` while it waits to go.
    pub channel: Option<String>,
    pub sent_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewNotice<'a> {
    pub contact_id: &'a str,
    pub company_id: Option<&'a str>,
    pub kind: &'a str,
    pub event: &'a str,
    pub params: &'a str,
    pub link: &'a str,
    /// Already sent by this channel (the mail or message that was the notice itself), or
    /// `None` to send it by the contact's preference.
    pub sent_by: Option<&'a str>,
}

const COLUMNS: &str =
    "id, contact_id, company_id, kind, event, params, link, created_at, read_at, channel, sent_at";

fn notice(r: &AnyRow) -> Result<Notice> {
    Ok(Notice {
        id: r.try_get("id")?,
        contact_id: r.try_get("contact_id")?,
        company_id: r.try_get("company_id")?,
        kind: r.try_get("kind")?,
        event: r.try_get("event")?,
        params: r.try_get("params")?,
        link: r.try_get("link")?,
        created_at: r.try_get("created_at")?,
        read_at: r.try_get("read_at")?,
        channel: r.try_get("channel")?,
        sent_at: r.try_get("sent_at")?,
    })
}

impl Store {
    /// Records a notice once per contact and event: the notice when this call recorded
    /// it, `None` when it was recorded before (a replay, another node).
    pub async fn add_notice(&self, ids: &Ids, n: &NewNotice<'_>) -> Result<Option<Notice>> {
        if !NOTICE_KINDS.contains(&n.kind) {
            return Err(Error::invalid(format!("unknown notice {:?}", n.kind)));
        }
        if n.sent_by.is_some_and(|c| !NOTICE_CHANNELS.contains(&c)) {
            return Err(Error::invalid("a notice goes by email, whatsapp or none"));
        }
        let id = ids.new_id();
        let now = ids.now_ms();
        let done = sqlx::query(
            "INSERT INTO notices (id, contact_id, company_id, kind, event, params, link, created_at, channel, sent_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (contact_id, event) DO NOTHING",
        )
        .bind(&id)
        .bind(n.contact_id)
        .bind(n.company_id)
        .bind(n.kind)
        .bind(n.event)
        .bind(n.params)
        .bind(n.link)
        .bind(now)
        .bind(n.sent_by)
        .bind(n.sent_by.map(|_| now))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM notices WHERE id = $1"
        )))
        .bind(&id)
        .fetch_one(&self.pool)
        .await?;
        notice(&row).map(Some)
    }

    /// The client's own notices, newest first.
    pub async fn notices_for_client(&self, scope: &ClientScope, limit: i64) -> Result<Vec<Notice>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM notices WHERE contact_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
        )))
        .bind(&scope.contact_id)
        .bind(limit.clamp(1, 500))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(notice).collect()
    }

    /// How many of the client's notices are unread.
    pub async fn unread_notices(&self, scope: &ClientScope) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM notices WHERE contact_id = $1 AND read_at IS NULL",
        )
        .bind(&scope.contact_id)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Marks the client's notices read: these ids (of its own only), or all.
    pub async fn mark_notices_read(
        &self,
        scope: &ClientScope,
        ids: Option<&[String]>,
        now: i64,
    ) -> Result<u64> {
        let mut done = 0;
        match ids {
            None => {
                done += sqlx::query(
                    "UPDATE notices SET read_at = $1 WHERE contact_id = $2 AND read_at IS NULL",
                )
                .bind(now)
                .bind(&scope.contact_id)
                .execute(&self.pool)
                .await?
                .rows_affected();
            }
            Some(list) => {
                for id in list.iter().take(500) {
                    done += sqlx::query(
                        "UPDATE notices SET read_at = $1 WHERE id = $2 AND contact_id = $3 AND read_at IS NULL",
                    )
                    .bind(now)
                    .bind(id)
                    .bind(&scope.contact_id)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                }
            }
        }
        Ok(done)
    }

    /// Claims the waiting notices of contacts whose oldest waiting notice came before
    /// `settled` (so the ones that arrive together go together), or whose claim lapsed
    /// before `lapsed` (a node that died sending): each contact's, oldest first, at most
    /// `contacts` contacts. Two nodes never claim the same notice.
    pub async fn claim_waiting_notices(
        &self,
        ids: &Ids,
        settled: i64,
        lapsed: i64,
        contacts: i64,
    ) -> Result<Vec<Notice>> {
        let who: Vec<String> = sqlx::query_scalar(
            "SELECT contact_id FROM notices WHERE channel IS NULL AND (claimed_at IS NULL OR claimed_at < $2) \
             GROUP BY contact_id HAVING MIN(created_at) < $1 ORDER BY MIN(created_at) LIMIT $3",
        )
        .bind(settled)
        .bind(lapsed)
        .bind(contacts.clamp(1, 500))
        .fetch_all(&self.pool)
        .await?;
        let now = ids.now_ms();
        let mut out = Vec::new();
        for contact in who {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE notices SET claimed_at = $1 WHERE contact_id = $2 AND channel IS NULL \
                 AND (claimed_at IS NULL OR claimed_at < $3) RETURNING {COLUMNS}"
            )))
            .bind(now)
            .bind(&contact)
            .bind(lapsed)
            .fetch_all(&self.pool)
            .await?;
            let mut mine = rows.iter().map(notice).collect::<Result<Vec<_>>>()?;
            mine.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            out.extend(mine);
        }
        Ok(out)
    }

    /// Records where claimed notices went.
    pub async fn notices_sent(&self, ids: &Ids, notices: &[String], channel: &str) -> Result<()> {
        if !NOTICE_CHANNELS.contains(&channel) {
            return Err(Error::invalid("a notice goes by email, whatsapp or none"));
        }
        let now = ids.now_ms();
        for id in notices {
            sqlx::query("UPDATE notices SET channel = $1, sent_at = $2 WHERE id = $3")
                .bind(channel)
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// The contact's channel for each kind it chose one for.
    pub async fn notice_preferences(&self, contact_id: &str) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT kind, channel FROM notice_preferences WHERE contact_id = $1 ORDER BY kind",
        )
        .bind(contact_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The channel a kind of notice goes by for a contact: its choice for the kind, else
    /// its notice channel.
    pub async fn notice_channel_for(&self, contact_id: &str, kind: &str) -> Result<String> {
        let chosen: Option<String> = sqlx::query_scalar(
            "SELECT channel FROM notice_preferences WHERE contact_id = $1 AND kind = $2",
        )
        .bind(contact_id)
        .bind(kind)
        .fetch_optional(&self.pool)
        .await?;
        match chosen {
            Some(c) => Ok(c),
            None => self.contact_notice_channel(contact_id).await,
        }
    }

    /// Sets the contact's channel for a kind of notice (`email`, `whatsapp`, `none`).
    pub async fn set_notice_preference(
        &self,
        contact_id: &str,
        kind: &str,
        channel: &str,
    ) -> Result<()> {
        if !NOTICE_KINDS.contains(&kind) {
            return Err(Error::invalid(format!("unknown notice {kind:?}")));
        }
        if !NOTICE_CHANNELS.contains(&channel) {
            return Err(Error::invalid(format!(
                "a notice goes by email, whatsapp or none, not {channel:?}"
            )));
        }
        sqlx::query(
            "INSERT INTO notice_preferences (contact_id, kind, channel) VALUES ($1, $2, $3) \
             ON CONFLICT (contact_id, kind) DO UPDATE SET channel = excluded.channel",
        )
        .bind(contact_id)
        .bind(kind)
        .bind(channel)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
