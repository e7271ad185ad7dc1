//! Settings changed on one node reach every other without a restart: a change to a page
//! mailbox or a WhatsApp number is announced on the `settings` stream topic, and each node
//! reads that topic in a group of its own (`settings-<node>`) and takes the stored settings
//! into use (e2e `mail::a_mailbox_added_on_one_node_is_read_by_another`,
//! `whatsapp::a_number_added_on_one_node_is_served_by_another`).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchboard_core::stream::{Consume, Entry, Stream};
use tokio_util::sync::CancellationToken;

use crate::kit::AppState;

/// The stream topic of settings changes.
pub const TOPIC: &str = "settings";

/// What changed, and on which node (which has taken it into use already).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "what")]
pub enum Change {
    /// A page mailbox was added, changed or removed.
    Mailbox { name: String, node: String },
    /// The page's WhatsApp numbers changed.
    Whatsapp { node: String },
}

/// Tells the other nodes; a failure is logged (they still learn at their next start).
pub async fn announce(state: &AppState, change: Change) {
    let Ok(payload) = serde_json::to_string(&change) else {
        return;
    };
    if let Err(e) = state.stream.append(TOPIC, &payload).await {
        tracing::warn!(error = %e, "a settings change was not announced to the other nodes");
    }
}

/// Follows the topic until `stop`, applying what other nodes changed. A change that
/// cannot be applied yet (the database away) stays pending and is tried again by the
/// housekeeping.
pub async fn follow(state: AppState, stop: CancellationToken) {
    let stream: Arc<dyn Stream> = state.stream.clone();
    let node = state.node.name.clone();
    let group = format!("settings-{node}");
    if let Err(e) = stream.ensure_group(TOPIC, &group).await {
        tracing::warn!(error = %e, "settings changes cannot be followed");
    }
    let how = Consume {
        topic: TOPIC,
        group: &group,
        consumer: &node,
        concurrency: 1,
        block: Duration::from_millis(500),
        every: Duration::from_secs(5),
    };
    let handle = |entry| {
        let (state, group) = (state.clone(), group.clone());
        async move { take(&state, &group, entry).await }
    };
    let housekeeping = || async {
        match stream.pending_for(TOPIC, &group, &node, 64).await {
            Ok(entries) => {
                for entry in entries {
                    take(&state, &group, entry).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "pending settings changes not read"),
        }
        let _ = stream.trim(TOPIC).await;
    };
    switchboard_core::stream::consume(&stream, how, &stop, handle, housekeeping).await;
}

/// Applies one announced change (unless this node made it) and acknowledges it.
async fn take(state: &AppState, group: &str, entry: Entry) {
    let applied = match serde_json::from_str::<Change>(&entry.payload) {
        Ok(Change::Mailbox { node, .. } | Change::Whatsapp { node }) if node == state.node.name => {
            Ok(())
        }
        Ok(change) => apply(state, change).await,
        Err(e) => {
            tracing::warn!(error = %e, "a settings change not understood");
            Ok(())
        }
    };
    match applied {
        Ok(()) => {
            if let Err(e) = state.stream.ack(TOPIC, group, &[entry.id]).await {
                tracing::debug!(error = %e, "settings ack failed");
            }
        }
        Err(e) => tracing::warn!(error = %e, "a settings change is not applied yet"),
    }
}

async fn apply(state: &AppState, change: Change) -> anyhow::Result<()> {
    match change {
        Change::Mailbox { name, .. } => {
            let stored = crate::kit::mail::mailboxes::stored(&state.store).await?;
            match stored.into_iter().find(|m| m.name == name) {
                Some(inbox) => state.mailboxes.take_into_use(state, inbox).await,
                None => state.mailboxes.stop_using(state, &name).await,
            }
        }
        Change::Whatsapp { .. } => crate::kit::whatsapp::reload(state).await?,
    }
    Ok(())
}
