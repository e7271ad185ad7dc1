//! Notifications (a mention in an internal note, a conversation assigned, a client's
//! message, an SLA breach, a survey answered; each event once per user) and the agents
//! a mention can name.

use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Row};

use super::{Store, WriteTx, rows};
use crate::clock::Ids;
use crate::domain::{User, text_enum};
use crate::error::{Error, Result};

text_enum!(
    /// Why an agent is notified.
    NotificationKind {
        Mention => "mention",
        Assigned => "assigned",
        Reply => "reply",
        Breach => "breach",
        Survey => "survey",
    }
);

/// Something an agent is told about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: String,
    pub user_id: String,
    pub kind: NotificationKind,
    pub conversation_id: String,
    /// The conversation's human number, for the notification's text.
    pub conversation_number: i64,
    /// The note that mentioned the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<i64>,
}

fn notification(row: &sqlx::any::AnyRow) -> Result<Notification> {
    Ok(Notification {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        kind: NotificationKind::parse(&row.try_get::<String, _>("kind")?)?,
        conversation_id: row.try_get("conversation_id")?,
        conversation_number: row.try_get("number")?,
        message_id: row.try_get("message_id")?,
        created_at: row.try_get("created_at")?,
        read_at: row.try_get("read_at")?,
    })
}

/// A notification of an event, added once per user, kind and event.
#[derive(Debug, Clone)]
pub struct NewNotification<'a> {
    pub user_id: &'a str,
    pub kind: NotificationKind,
    pub conversation: &'a crate::domain::Conversation,
    pub message_id: Option<&'a str>,
    /// What happened, as a key: a message id, `conversation:target` for a breach, a
    /// survey id.
    pub event: &'a str,
}

impl Store {
    /// Adds notifications of events, each once per user, kind and event however often
    /// and on however many nodes it is seen: returns the ones added now.
    pub async fn add_notifications_once(
        &self,
        ids: &Ids,
        list: &[NewNotification<'_>],
    ) -> Result<Vec<Notification>> {
        if list.is_empty() {
            return Ok(Vec::new());
        }
        let mut added = Vec::new();
        let mut tx = self.begin_write().await?;
        for n in list {
            let made = Notification {
                id: ids.new_id(),
                user_id: n.user_id.to_owned(),
                kind: n.kind,
                conversation_id: n.conversation.id.clone(),
                conversation_number: n.conversation.number,
                message_id: n.message_id.map(str::to_owned),
                created_at: ids.now_ms(),
                read_at: None,
            };
            let done = sqlx::query(
                "INSERT INTO notifications (id, user_id, kind, conversation_id, message_id, created_at, event) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            )
            .bind(&made.id)
            .bind(&made.user_id)
            .bind(made.kind.as_str())
            .bind(&made.conversation_id)
            .bind(&made.message_id)
            .bind(made.created_at)
            .bind(n.event)
            .execute(&mut **tx)
            .await?;
            if done.rows_affected() == 1 {
                added.push(made);
            }
        }
        tx.commit().await?;
        Ok(added)
    }

    /// How many of a user's notifications are unread.
    pub async fn unread_notifications(&self, user_id: &str) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Adds a notification inside a transaction.
    pub(crate) async fn add_notification(
        tx: &mut WriteTx,
        ids: &Ids,
        user_id: &str,
        kind: NotificationKind,
        conversation: &crate::domain::Conversation,
        message_id: Option<&str>,
    ) -> Result<Notification> {
        let n = Notification {
            id: ids.new_id(),
            user_id: user_id.to_owned(),
            kind,
            conversation_id: conversation.id.clone(),
            conversation_number: conversation.number,
            message_id: message_id.map(str::to_owned),
            created_at: ids.now_ms(),
            read_at: None,
        };
        sqlx::query("INSERT INTO notifications (id, user_id, kind, conversation_id, message_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&n.id)
            .bind(&n.user_id)
            .bind(n.kind.as_str())
            .bind(&n.conversation_id)
            .bind(n.message_id.as_deref())
            .bind(n.created_at)
            .execute(&mut ***tx)
            .await?;
        Ok(n)
    }

    /// A user's notifications, newest first (at most 200).
    pub async fn notifications(
        &self,
        user_id: &str,
        unread_only: bool,
    ) -> Result<Vec<Notification>> {
        let unread = if unread_only {
            " AND n.read_at IS NULL"
        } else {
            ""
        };
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT n.id, n.user_id, n.kind, n.conversation_id, c.number, n.message_id, n.created_at, n.read_at \
             FROM notifications n JOIN conversations c ON c.id = n.conversation_id \
             WHERE n.user_id = $1{unread} ORDER BY n.created_at DESC, n.id DESC LIMIT 200"
        )))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(notification).collect()
    }

    /// Marks a user's notifications read: the given ones, or all when `ids` is `None`.
    /// Another user's ids are left alone. Returns how many were unread.
    pub async fn mark_notifications_read(
        &self,
        user_id: &str,
        ids: Option<&[String]>,
        now: i64,
    ) -> Result<u64> {
        let Some(ids) = ids else {
            let done = sqlx::query(
                "UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL",
            )
            .bind(now)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
            return Ok(done.rows_affected());
        };
        if ids.len() > 500 {
            return Err(Error::invalid("at most 500 notifications at a time"));
        }
        let mut total = 0;
        if ids.is_empty() {
            return Ok(0);
        }
        let list = (3..3 + ids.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL AND id IN ({list})"
        )))
        .bind(now)
        .bind(user_id);
        for id in ids {
            q = q.bind(id.as_str());
        }
        total += q.execute(&self.pool).await?.rows_affected();
        Ok(total)
    }

    /// Every active agent (support, coordinator, supervisor, admin), by id.
    pub async fn agents(&self) -> Result<Vec<User>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM users \
             WHERE role IN ('support', 'coordinator', 'supervisor', 'admin') AND active = 1 ORDER BY id",
            rows::USER_COLUMNS
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::user).collect()
    }
}
