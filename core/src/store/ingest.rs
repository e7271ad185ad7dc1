//! Threading an inbound envelope into the store: contact resolution, finding or opening
//! the conversation, persisting the message. All of it runs inside the caller's
//! transaction, so a batch of envelopes commits (or not) as one.

use sqlx::{Any, Row, Transaction};

use super::{Store, rows};
use crate::domain::{
    AuthorKind, Conversation, DeliveryState, Direction, Envelope, Identity, Message, Priority,
    Status, Tier,
};
use crate::error::Result;

/// What became of one envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    Stored(Box<Ingested>),
    /// The idempotency key was seen before: nothing changed.
    Duplicate {
        message_id: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub message: Message,
    pub conversation: Conversation,
    pub contact_id: String,
    pub new_conversation: bool,
}

impl Store {
    /// Threads a batch of envelopes in one transaction. Order within the batch is kept.
    pub async fn ingest_batch(&self, envelopes: &[Envelope]) -> Result<Vec<IngestOutcome>> {
        let mut tx = self.begin_write().await?;
        let mut out = Vec::with_capacity(envelopes.len());
        for env in envelopes {
            out.push(ingest_one(&mut tx, env).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    /// The contact an identity belongs to, following merges.
    pub async fn contact_for_identity(&self, identity: &Identity) -> Result<Option<String>> {
        let mut conn = self.pool.acquire().await?;
        find_contact(&mut conn, identity).await
    }
}

async fn find_contact(
    conn: &mut sqlx::AnyConnection,
    identity: &Identity,
) -> Result<Option<String>> {
    let id: Option<String> = sqlx::query_scalar(
        "SELECT COALESCE(c.merged_into, c.id) FROM contact_identities i JOIN contacts c ON c.id = i.contact_id WHERE i.kind = $1 AND i.value = $2",
    )
    .bind(identity.kind.as_str())
    .bind(&identity.value)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(id)
}

async fn ingest_one(tx: &mut Transaction<'_, Any>, env: &Envelope) -> Result<IngestOutcome> {
    let key = env.idempotency_key();
    let seen: Option<String> =
        sqlx::query_scalar("SELECT id FROM messages WHERE idempotency_key = $1")
            .bind(&key)
            .fetch_optional(&mut **tx)
            .await?;
    if let Some(message_id) = seen {
        return Ok(IngestOutcome::Duplicate { message_id });
    }

    let contact_id = resolve_contact(tx, env).await?;
    let (conversation, new_conversation) = find_or_open_conversation(tx, env, &contact_id).await?;

    let message = Message {
        id: env.id.clone(),
        conversation_id: conversation.id.clone(),
        direction: Direction::Inbound,
        author_kind: AuthorKind::Contact,
        author_id: Some(contact_id.clone()),
        channel: env.channel,
        text: env.text.clone(),
        html: env.html.clone(),
        attachments: env.attachments.clone(),
        delivery_state: DeliveryState::Received,
        external_id: Some(env.external_id.clone()),
        created_at: env.received_at,
    };
    let inserted: Option<String> = sqlx::query(
        "INSERT INTO messages (id, conversation_id, direction, author_kind, author_id, channel, text, html, attachments, delivery_state, external_id, idempotency_key, attempts, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13, $13) ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(&message.id)
    .bind(&message.conversation_id)
    .bind(message.direction.as_str())
    .bind(message.author_kind.as_str())
    .bind(message.author_id.as_deref())
    .bind(message.channel.as_str())
    .bind(&message.text)
    .bind(message.html.as_deref())
    .bind(serde_json::to_string(&message.attachments)?)
    .bind(message.delivery_state.as_str())
    .bind(message.external_id.as_deref())
    .bind(&key)
    .bind(message.created_at)
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| r.try_get::<String, _>(0))
    .transpose()?;
    if inserted.is_none() {
        // Another node stored the same envelope between our check and our insert.
        let message_id: String =
            sqlx::query_scalar("SELECT id FROM messages WHERE idempotency_key = $1")
                .bind(&key)
                .fetch_one(&mut **tx)
                .await?;
        return Ok(IngestOutcome::Duplicate { message_id });
    }

    // A new message wakes a snoozed conversation.
    sqlx::query(
        "UPDATE conversations SET last_message_at = $1, updated_at = $1, status = CASE WHEN status = 'snoozed' THEN 'open' ELSE status END WHERE id = $2",
    )
    .bind(env.received_at)
    .bind(&conversation.id)
    .execute(&mut **tx)
    .await?;
    let mut conversation = conversation;
    conversation.last_message_at = env.received_at;
    conversation.updated_at = env.received_at;
    if conversation.status == Status::Snoozed {
        conversation.status = Status::Open;
    }

    Ok(IngestOutcome::Stored(Box::new(Ingested {
        message,
        conversation,
        contact_id,
        new_conversation,
    })))
}

/// Finds the contact by the sender's identity or creates it. The unique (kind, value) key
/// makes two racing nodes agree on one contact.
async fn resolve_contact(tx: &mut Transaction<'_, Any>, env: &Envelope) -> Result<String> {
    let contact_id = match find_contact(tx, &env.sender).await? {
        Some(id) => id,
        None => {
            sqlx::query("INSERT INTO contacts (id, name, created_at) VALUES ($1, $2, $3)")
                .bind(&env.id)
                .bind(env.sender_name.as_deref())
                .bind(env.received_at)
                .execute(&mut **tx)
                .await?;
            let claimed = claim_identity(tx, &env.sender, &env.id, env.received_at).await?;
            if claimed {
                env.id.clone()
            } else {
                sqlx::query("DELETE FROM contacts WHERE id = $1")
                    .bind(&env.id)
                    .execute(&mut **tx)
                    .await?;
                find_contact(tx, &env.sender).await?.ok_or_else(|| {
                    crate::Error::Conflict("identity vanished while resolving".into())
                })?
            }
        }
    };
    for extra in &env.extra_identities {
        claim_identity(tx, extra, &contact_id, env.received_at).await?;
    }
    if let Some(name) = &env.sender_name {
        sqlx::query("UPDATE contacts SET name = $1 WHERE id = $2 AND name IS NULL")
            .bind(name)
            .bind(&contact_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(contact_id)
}

/// Gives an identity to a contact unless another contact already has it.
async fn claim_identity(
    tx: &mut Transaction<'_, Any>,
    identity: &Identity,
    contact_id: &str,
    now: i64,
) -> Result<bool> {
    let claimed = sqlx::query(
        "INSERT INTO contact_identities (kind, value, contact_id, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(identity.kind.as_str())
    .bind(&identity.value)
    .bind(contact_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

async fn find_or_open_conversation(
    tx: &mut Transaction<'_, Any>,
    env: &Envelope,
    contact_id: &str,
) -> Result<(Conversation, bool)> {
    // A reply to a known message joins that message's conversation while it is open.
    for parent in &env.replies_to {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM conversations WHERE status <> 'resolved' AND id = (SELECT conversation_id FROM messages WHERE idempotency_key = $1)",
            rows::CONVERSATION_COLUMNS
        )))
        .bind(format!("{}:{}", env.channel, parent))
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(row) = row {
            return Ok((rows::conversation(&row)?, false));
        }
    }
    if let Some(open) = open_conversation(tx, contact_id, &env.inbox).await? {
        return Ok((open, false));
    }
    let number = Store::take_counter(tx, "conversation_number", 1).await?;
    let company_id: Option<String> =
        sqlx::query_scalar("SELECT company_id FROM contacts WHERE id = $1")
            .bind(contact_id)
            .fetch_one(&mut **tx)
            .await?;
    let conversation = Conversation {
        id: env.id.clone(),
        number,
        inbox: env.inbox.clone(),
        channel: env.channel,
        contact_id: contact_id.to_owned(),
        company_id,
        subject: env.subject.clone(),
        status: Status::Open,
        priority: Priority::None,
        tier: Tier::N1,
        assignee_id: None,
        team: None,
        labels: Vec::new(),
        created_at: env.received_at,
        updated_at: env.received_at,
        last_message_at: env.received_at,
    };
    let opened = sqlx::query(
        "INSERT INTO conversations (id, number, inbox, channel, contact_id, company_id, subject, status, priority, tier, labels, created_at, updated_at, last_message_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, '[]', $11, $11, $11) ON CONFLICT DO NOTHING",
    )
    .bind(&conversation.id)
    .bind(conversation.number)
    .bind(&conversation.inbox)
    .bind(conversation.channel.as_str())
    .bind(&conversation.contact_id)
    .bind(conversation.company_id.as_deref())
    .bind(conversation.subject.as_deref())
    .bind(conversation.status.as_str())
    .bind(conversation.priority.as_str())
    .bind(conversation.tier.as_str())
    .bind(conversation.created_at)
    .execute(&mut **tx)
    .await?;
    if opened.rows_affected() == 1 {
        sqlx::query("INSERT INTO events (id, conversation_id, kind, payload, created_at) VALUES ($1, $1, 'conversation_opened', $2, $3)")
            .bind(&conversation.id)
            .bind(serde_json::json!({"number": number, "channel": env.channel}).to_string())
            .bind(env.received_at)
            .execute(&mut **tx)
            .await?;
        return Ok((conversation, true));
    }
    // Another node opened it first; the partial unique index made us wait for it.
    let open = open_conversation(tx, contact_id, &env.inbox)
        .await?
        .ok_or_else(|| {
            crate::Error::Conflict("open conversation vanished while threading".into())
        })?;
    Ok((open, false))
}

async fn open_conversation(
    tx: &mut Transaction<'_, Any>,
    contact_id: &str,
    inbox: &str,
) -> Result<Option<Conversation>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM conversations WHERE contact_id = $1 AND inbox = $2 AND status <> 'resolved'",
        rows::CONVERSATION_COLUMNS
    )))
    .bind(contact_id)
    .bind(inbox)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(rows::conversation).transpose()
}
