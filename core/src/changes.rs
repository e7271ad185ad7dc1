//! Changes to a conversation made by people (status, assignment, tier, team, priority,
//! labels), each stored with its audit event and published with the conversation's new
//! scope, so every watcher updates without a reload and filters without a database read.
//!
//! **Architecture Invariant:** every realtime event about a conversation carries its scope
//! (inbox, contact, company, tier, team, assignee), so subscribers filter without reading
//! the database; changes made by people (status, assignee, tier, team, priority, labels) go
//! through `changes::apply`, which records and publishes them
//! (`threads::changes_are_recorded_and_published_with_their_scope`). The widget socket
//! forwards only its own contact's events of its own web-chat inbox (e2e
//! `webchat::a_typed_address_never_draws_its_owners_mail_into_the_widget`); an agent's
//! events socket only those of conversations its `Caller` may see.
//!
//! **Architecture Invariant:** the realtime bus (`crate::realtime`) carries one shared
//! value per event (`realtime::Shared`); its JSON is written once, however many sockets
//! send it, and an event from Redis is sent as the text that was published
//! (`router::subscribers_share_each_event_and_its_json_on_both_buses`).

use std::sync::Arc;

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
    /// Snoozed until this time (epoch milliseconds), when it opens again by itself.
    Snooze(i64),
}

impl Change {
    /// The name the event gives the change.
    pub fn name(&self) -> &'static str {
        match self {
            Change::Status(_) | Change::Snooze(_) => "status",
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
/// For the system's own changes; people's go through `Workflow::change`, which checks
/// the caller and the version they saw.
pub async fn apply(
    store: &Store,
    realtime: &Arc<dyn Realtime>,
    ids: &Ids,
    conversation_id: &str,
    change: &Change,
) -> Result<Conversation> {
    apply_versioned(store, realtime, ids, conversation_id, change, None).await
}

/// A change checked for validity (labels normalized, an assignee that is an agent who
/// answers conversations).
async fn checked(store: &Store, change: &Change, now: i64) -> Result<Change> {
    Ok(match change {
        Change::Assignee(Some(user)) => {
            let agent = store
                .user_by_id(user)
                .await?
                .filter(|u| u.role.can_reply())
                .ok_or_else(|| {
                    Error::invalid(format!("{user} is not an agent who answers conversations"))
                })?;
            Change::Assignee(Some(agent.id))
        }
        Change::Team(team) => Change::Team(
            team.as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned),
        ),
        Change::Labels(labels) => Change::Labels(normalize_labels(labels)?),
        Change::Status(Status::Snoozed) => {
            return Err(Error::invalid(
                "snoozing needs a time to wake up: snooze until a time instead",
            ));
        }
        Change::Snooze(until) if *until <= now => {
            return Err(Error::invalid("a snooze must end in the future"));
        }
        other => other.clone(),
    })
}

/// Applies a change to a conversation as it is under its row lock; with
/// `expected_version`, only if nobody changed it since that version (otherwise a
/// [`Error::Conflict`] and nothing changes). Records and publishes it.
pub async fn apply_versioned(
    store: &Store,
    realtime: &Arc<dyn Realtime>,
    ids: &Ids,
    conversation_id: &str,
    change: &Change,
    expected_version: Option<i64>,
) -> Result<Conversation> {
    let now = ids.now_ms();
    let change = checked(store, change, now).await?;
    let mut tx = store.begin_write().await?;
    let before = store
        .lock_conversation(&mut tx, conversation_id, expected_version)
        .await?;
    let mut after = before.clone();
    let value: Option<String> = match &change {
        Change::Status(s) => {
            after.set_status(*s, None, now);
            Some(s.as_str().to_owned())
        }
        Change::Snooze(until) => {
            after.set_status(Status::Snoozed, Some(*until), now);
            Some(until.to_string())
        }
        Change::Assignee(a) => {
            after.assign(a.clone(), now);
            a.clone()
        }
        Change::Tier(t) => {
            after.conversation.tier = *t;
            Some(t.as_str().to_owned())
        }
        Change::Team(t) => {
            after.conversation.team = t.clone();
            t.clone()
        }
        Change::Priority(p) => {
            after.conversation.priority = *p;
            Some(p.as_str().to_owned())
        }
        Change::Labels(l) => {
            after.conversation.labels = l.clone();
            Some(serde_json::to_string(l)?)
        }
    };
    let conversation = store
        .save_conversation(&mut tx, &before, &after, now)
        .await?;
    Store::record_event(
        &mut tx,
        ids,
        Some(conversation_id),
        "conversation_changed",
        &serde_json::json!({"change": change.name(), "value": value}),
    )
    .await?;
    tx.commit().await?;
    publish(realtime, change.name(), &conversation).await;
    Ok(conversation)
}

/// Publishes a change; a bus that is down loses the event, not the change.
pub(crate) async fn publish(
    realtime: &Arc<dyn Realtime>,
    change: &str,
    conversation: &Conversation,
) {
    let event = Event::ConversationChanged {
        change: change.into(),
        conversation: conversation.clone(),
    };
    if let Err(e) = realtime.publish(&event).await {
        tracing::debug!(error = %e, "realtime publish failed");
    }
}
