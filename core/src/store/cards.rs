//! Cards: invoices, estimates, payments, tickets and surveys shown in conversations. One
//! card per subject in a conversation, updated in place when its subject changes.

use super::Store;
use crate::clock::Ids;
use crate::domain::{Card, CardKind, CardPayload, Scope};
use crate::error::{Error, Result};

type CardRow = (String, String, String, String, i64, i64);

fn card((id, conversation_id, kind, payload, created_at, updated_at): CardRow) -> Result<Card> {
    let payload: CardPayload = serde_json::from_str(&payload)?;
    if payload.kind().as_str() != kind {
        return Err(Error::invalid(format!(
            "card {id} says {kind} but holds {}",
            payload.kind()
        )));
    }
    Ok(Card {
        id,
        conversation_id,
        payload,
        created_at,
        updated_at,
    })
}

impl Store {
    /// Shows a card in a conversation; if the conversation already shows this subject, its
    /// card is updated in place instead. Returns the card, whether it is new, and its
    /// conversation's scope (for the event).
    pub async fn put_card(
        &self,
        ids: &Ids,
        conversation_id: &str,
        payload: CardPayload,
    ) -> Result<(Card, bool, Scope)> {
        payload.validate()?;
        let conversation = self.conversation(conversation_id).await?;
        let now = ids.now_ms();
        let new_id = ids.new_id();
        let mut tx = self.begin_write().await?;
        let row: CardRow = sqlx::query_as(
            "INSERT INTO cards (id, conversation_id, kind, subject_id, payload, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (conversation_id, kind, subject_id) DO UPDATE SET payload = excluded.payload, updated_at = excluded.updated_at \
             RETURNING id, conversation_id, kind, payload, created_at, updated_at",
        )
        .bind(&new_id)
        .bind(&conversation.id)
        .bind(payload.kind().as_str())
        .bind(payload.subject_id())
        .bind(serde_json::to_string(&payload)?)
        .bind(now)
        .fetch_one(&mut **tx)
        .await?;
        tx.commit().await?;
        let card = card(row)?;
        let fresh = card.id == new_id;
        Ok((card, fresh, conversation.scope()))
    }

    /// Updates every card that shows this subject (an invoice turned Paid), in whatever
    /// conversation; returns them as they are now.
    pub async fn update_subject_cards(
        &self,
        ids: &Ids,
        payload: &CardPayload,
    ) -> Result<Vec<Card>> {
        payload.validate()?;
        // Through the writer (on SQLite, one writer at a time), like every other write.
        let mut tx = self.begin_write().await?;
        let rows: Vec<CardRow> = sqlx::query_as(
            "UPDATE cards SET payload = $1, updated_at = $2 WHERE kind = $3 AND subject_id = $4 \
             RETURNING id, conversation_id, kind, payload, created_at, updated_at",
        )
        .bind(serde_json::to_string(payload)?)
        .bind(ids.now_ms())
        .bind(payload.kind().as_str())
        .bind(payload.subject_id())
        .fetch_all(&mut **tx)
        .await?;
        tx.commit().await?;
        let mut cards = rows.into_iter().map(card).collect::<Result<Vec<_>>>()?;
        cards.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(cards)
    }

    /// A conversation's cards, oldest first.
    pub async fn cards(&self, conversation_id: &str) -> Result<Vec<Card>> {
        let rows: Vec<CardRow> = sqlx::query_as(
            "SELECT id, conversation_id, kind, payload, created_at, updated_at FROM cards WHERE conversation_id = $1 ORDER BY id",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(card).collect()
    }

    /// The cards that show a subject.
    pub async fn cards_of_subject(&self, kind: CardKind, subject_id: &str) -> Result<Vec<Card>> {
        let rows: Vec<CardRow> = sqlx::query_as(
            "SELECT id, conversation_id, kind, payload, created_at, updated_at FROM cards WHERE kind = $1 AND subject_id = $2 ORDER BY id",
        )
        .bind(kind.as_str())
        .bind(subject_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(card).collect()
    }
}
