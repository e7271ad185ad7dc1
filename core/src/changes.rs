//! Changes to a conversation made by people (status, assignment, tier, team, priority,
//! labels), each stored with its audit event and published with the conversation's new
//! scope, so every watcher updates without a reload and filters without a database read.

use std::sync::Arc;

use sqlx::AssertSqlSafe;

use crate::clock::Ids;
use crate::domain::{Conversation, Priority, Status, Tier};
use crate::error::{Error, Result};
use crate::realtime::{Event, Realtime};
use crate::store::Store;

/// One change to a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Status(Status),
    /// An agent (a person joins: the bot stops for good), or nobody.
    Assignee(Option<String>),
    Tier(Tier),
    Team(Option<String>),
    Priority(Priority),
    Labels(Vec<String>),
}

impl Change {
    /// The name the event gives the change.
    pub fn name(&self) -> &'static str {
        match self {
            Change::Status(_) => "status",
            Change::Assignee(_) => "assignee",
            Change::Tier(_) => "tier",
            Change::Team(_) => "team",
            Change::Priority(_) => "priority",
            Change::Labels(_) => "labels",
        }
    }
}

/// Labels as stored: trimmed, lower-cased, at most 50 characters each, 20 in all, no
/// duplicates, sorted.
pub fn normalize_labels(labels: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for l in labels {
        let l = l.trim().to_lowercase();
        if l.is_empty() || l.chars().count() > 50 || l.chars().any(char::is_control) {
            return Err(Error::invalid(format!(
                "label {l:?} must be 1-50 printable characters"
            )));
        }
        if !out.contains(&l) {
            out.push(l);
        }
    }
    if out.len() > 20 {
        return Err(Error::invalid("a conversation has at most 20 labels"));
    }
    out.sort();
    Ok(out)
}

/// Applies a change, records it, and publishes it; returns the conversation as it is now.
pub async fn apply(
    store: &Store,
    realtime: &Arc<dyn Realtime>,
    ids: &Ids,
    conversation_id: &str,
    change: &Change,
) -> Result<Conversation> {
    let (set, value): (&str, Option<String>) = match change {
        Change::Status(s) => ("status = $1", Some(s.as_str().to_owned())),
        Change::Assignee(Some(user)) => {
            let agent = store
                .user_by_id(user)
                .await?
                .filter(|u| u.role.is_agent())
                .ok_or_else(|| Error::invalid(format!("{user} is not an agent")))?;
            ("assignee_id = $1, bot_active = 0", Some(agent.id))
        }
        Change::Assignee(None) => ("assignee_id = $1", None),
        Change::Tier(t) => ("tier = $1", Some(t.as_str().to_owned())),
        Change::Team(team) => {
            let team = team.as_deref().map(str::trim).filter(|t| !t.is_empty());
            ("team = $1", team.map(str::to_owned))
        }
        Change::Priority(p) => ("priority = $1", Some(p.as_str().to_owned())),
        Change::Labels(labels) => (
            "labels = $1",
            Some(serde_json::to_string(&normalize_labels(labels)?)?),
        ),
    };
    let now = ids.now_ms();
    let mut tx = store.begin_write().await?;
    let done = sqlx::query(AssertSqlSafe(format!(
        "UPDATE conversations SET {set}, updated_at = $2 WHERE id = $3"
    )))
    .bind(value.as_deref())
    .bind(now)
    .bind(conversation_id)
    .execute(&mut **tx)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            Error::Conflict("the thread already has an open conversation".into())
        }
        _ => e.into(),
    })?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found(format!("conversation {conversation_id}")));
    }
    sqlx::query("INSERT INTO events (id, conversation_id, kind, payload, created_at) VALUES ($1, $2, 'conversation_changed', $3, $4)")
        .bind(ids.new_id())
        .bind(conversation_id)
        .bind(serde_json::json!({"change": change.name(), "value": value}).to_string())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    tx.commit().await?;
    let conversation = store.conversation(conversation_id).await?;
    let event = Event::ConversationChanged {
        change: change.name().into(),
        conversation: conversation.clone(),
    };
    if let Err(e) = realtime.publish(&event).await {
        tracing::debug!(error = %e, "realtime publish failed");
    }
    Ok(conversation)
}
