//! Cards in conversations, with their realtime events: showing a card, and updating every
//! card of a subject in place when the subject changes (an invoice card turns Paid).

use std::sync::Arc;

use crate::clock::Ids;
use crate::domain::{Card, CardPayload};
use crate::error::Result;
use crate::realtime::{Event, Realtime};
use crate::store::Store;

/// Shows a card in a conversation (or updates the one showing the same subject) and
/// tells the conversation's watchers.
pub async fn show(
    store: &Store,
    realtime: &Arc<dyn Realtime>,
    ids: &Ids,
    conversation_id: &str,
    payload: CardPayload,
) -> Result<Card> {
    let (card, fresh, scope) = store.put_card(ids, conversation_id, payload).await?;
    let event = if fresh {
        Event::CardAdded {
            scope,
            card: card.clone(),
        }
    } else {
        Event::CardUpdated {
            scope,
            card: card.clone(),
        }
    };
    if let Err(e) = realtime.publish(&event).await {
        tracing::debug!(error = %e, "realtime publish failed");
    }
    Ok(card)
}

/// Updates every card showing this subject, in every conversation, and tells each
/// conversation's watchers.
pub async fn update_subject(
    store: &Store,
    realtime: &Arc<dyn Realtime>,
    ids: &Ids,
    payload: &CardPayload,
) -> Result<Vec<Card>> {
    let cards = store.update_subject_cards(ids, payload).await?;
    let mut events = Vec::with_capacity(cards.len());
    for card in &cards {
        let scope = store.conversation(&card.conversation_id).await?.scope();
        events.push(Event::CardUpdated {
            scope,
            card: card.clone(),
        });
    }
    if let Err(e) = realtime.publish_all(&events).await {
        tracing::debug!(error = %e, "realtime publish failed");
    }
    Ok(cards)
}
