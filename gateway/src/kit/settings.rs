//! Settings changed on one node reach every other without a restart: a change to a page
//! mailbox or a WhatsApp number is announced on the `settings` stream topic, and each node
//! reads that topic in a group of its own (`settings-<node>`) and takes the stored settings
//! into use (e2e `mail::a_mailbox_added_on_one_node_is_read_by_another`).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchboard_core::stream::Stream;
use tokio_util::sync::CancellationToken;

use crate::kit::AppState;

/// The stream topic of settings changes.
pub const TOPIC: &str = "settings";

/// What changed.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "what")]
pub enum Change {
    /// A page mailbox was added, changed or removed.
    Mailbox { name: String, node: String },
    /// The page's WhatsApp numbers changed.
    Whatsapp { node: String },
}

impl Change {
    fn node(&self) -> &str {
        match self {
            Change::Mailbox { node, .. } | Change::Whatsapp { node } => node,
        }
    }
}

/// Tells the other nodes; a failure is logged (they still learn at their next start).
pub async fn announce(state: &AppState, change: Change) {
    let result = match serde_json::to_string(&change) {
        Ok(payload) => state.stream.append(TOPIC, &payload).await.map(|_| ()),
        Err(e) => Err(switchboard_core::Error::Invalid(e.to_string())),
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "a settings change was not announced to the other nodes");
    }
}

/// Follows the topic until `stop`, applying what other nodes changed.
pub async fn follow(state: AppState, stop: CancellationToken) {
    let node = state.node.name.clone();
    let group = format!("settings-{node}");
    let stream: &dyn Stream = state.stream.as_ref();
    if let Err(e) = stream.ensure_group(TOPIC, &group).await {
        tracing::warn!(error = %e, "settings changes cannot be followed");
    }
    loop {
        let read = tokio::select! {
            () = stop.cancelled() => return,
            r = stream.read(TOPIC, &group, &node, 64, Duration::from_millis(500)) => r,
        };
        let entries = match read {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read settings changes");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if entries.is_empty() {
            continue;
        }
        let mut done = Vec::with_capacity(entries.len());
        for entry in entries {
            match serde_json::from_str::<Change>(&entry.payload) {
                Ok(change) if change.node() != node => {
                    if let Err(e) = apply(&state, change).await {
                        tracing::warn!(error = %e, "a settings change is not applied yet");
                        continue;
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "a settings change not understood"),
            }
            done.push(entry.id);
        }
        if let Err(e) = stream.ack(TOPIC, &group, &done).await {
            tracing::debug!(error = %e, "settings ack failed");
        }
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
