//! Threading inbound envelopes into the store: contact resolution, finding or opening the
//! conversation, persisting the message. A batch is threaded in one transaction with a
//! fixed number of set-based statements (not one round trip per message per step), and
//! commits or fails as one.

use std::collections::{HashMap, HashSet};

use sqlx::{Any, AssertSqlSafe, Row, Transaction};

use super::{Store, rows};
use crate::domain::{
    AuthorKind, Conversation, DeliveryState, Direction, Envelope, Identity, IdentityKind, Message,
    Priority, Status, Tier,
};
use crate::error::{Error, Result};

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

/// A bind value of a dynamically built statement.
#[derive(Debug, Clone)]
enum Val {
    Text(String),
    OptText(Option<String>),
    Int(i64),
}

/// Largest number of bind values in one statement (SQLite allows 32766).
const MAX_BINDS: usize = 30_000;

type Tx = Transaction<'static, Any>;

fn query_with(sql: String, vals: &[Val]) -> sqlx::query::Query<'_, Any, sqlx::any::AnyArguments> {
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for v in vals {
        q = match v {
            Val::Text(s) => q.bind(s.as_str()),
            Val::OptText(s) => q.bind(s.as_deref()),
            Val::Int(i) => q.bind(*i),
        };
    }
    q
}

fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `INSERT … VALUES (…),(…) <tail>` in chunks that respect the bind limit; returns the
/// rows that `tail`'s RETURNING gives back, if any.
async fn insert_rows(
    tx: &mut Tx,
    head: &str,
    tail: &str,
    rows: &[Vec<Val>],
) -> Result<Vec<sqlx::any::AnyRow>> {
    let Some(width) = rows.first().map(Vec::len) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for chunk in rows.chunks((MAX_BINDS / width).max(1)) {
        let mut sql = format!("{head} VALUES ");
        let mut vals = Vec::with_capacity(chunk.len() * width);
        for (r, row) in chunk.iter().enumerate() {
            if r > 0 {
                sql.push(',');
            }
            sql.push('(');
            sql.push_str(&placeholders(vals.len() + 1, row.len()));
            sql.push(')');
            vals.extend(row.iter().cloned());
        }
        sql.push(' ');
        sql.push_str(tail);
        out.extend(query_with(sql, &vals).fetch_all(&mut **tx).await?);
    }
    Ok(out)
}

/// `SELECT … WHERE <prefix> col IN (…)` in chunks; `fixed` binds come first.
async fn select_in(
    tx: &mut Tx,
    sql_before_in: &str,
    fixed: &[Val],
    keys: &[String],
) -> Result<Vec<sqlx::any::AnyRow>> {
    let mut out = Vec::new();
    for chunk in keys.chunks(MAX_BINDS - fixed.len()) {
        let sql = format!(
            "{sql_before_in} IN ({})",
            placeholders(fixed.len() + 1, chunk.len())
        );
        let mut vals = fixed.to_vec();
        vals.extend(chunk.iter().cloned().map(Val::Text));
        out.extend(query_with(sql, &vals).fetch_all(&mut **tx).await?);
    }
    Ok(out)
}

impl Store {
    /// Threads a batch of envelopes in one transaction. Outcomes are in input order.
    pub async fn ingest_batch(&self, envelopes: &[Envelope]) -> Result<Vec<IngestOutcome>> {
        let mut tx = self.begin_write().await?;
        let out = self.ingest(&mut tx, envelopes).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// The contact an identity belongs to, following merges.
    pub async fn contact_for_identity(&self, identity: &Identity) -> Result<Option<String>> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT COALESCE(c.merged_into, c.id) FROM contact_identities i JOIN contacts c ON c.id = i.contact_id WHERE i.kind = $1 AND i.value = $2",
        )
        .bind(identity.kind.as_str())
        .bind(&identity.value)
        .fetch_optional(&self.pool)
        .await?;
        Ok(id)
    }

    async fn ingest(&self, tx: &mut Tx, envs: &[Envelope]) -> Result<Vec<IngestOutcome>> {
        let mut outcomes: Vec<Option<IngestOutcome>> = vec![None; envs.len()];

        // 1. Replays: keys already stored, or repeated inside this batch.
        let keys: Vec<String> = envs.iter().map(Envelope::idempotency_key).collect();
        let mut stored: HashMap<String, String> = HashMap::new();
        for row in select_in(
            tx,
            "SELECT idempotency_key, id FROM messages WHERE idempotency_key",
            &[],
            &dedup(&keys),
        )
        .await?
        {
            stored.insert(row.try_get(0)?, row.try_get(1)?);
        }
        let mut live = Vec::new();
        let mut first_of: HashMap<&str, usize> = HashMap::new();
        for (i, key) in keys.iter().enumerate() {
            if let Some(id) = stored.get(key) {
                outcomes[i] = Some(IngestOutcome::Duplicate {
                    message_id: id.clone(),
                });
            } else if let Some(&j) = first_of.get(key.as_str()) {
                outcomes[i] = Some(IngestOutcome::Duplicate {
                    message_id: envs[j].id.clone(),
                });
            } else {
                first_of.insert(key, i);
                live.push(i);
            }
        }
        if live.is_empty() {
            return Ok(outcomes.into_iter().flatten().collect());
        }

        // 2. Contacts: look up every identity named, create contacts for unknown senders.
        let mut wanted: Vec<&Identity> = Vec::new();
        for &i in &live {
            wanted.push(&envs[i].sender);
            wanted.extend(envs[i].extra_identities.iter());
        }
        let mut contact_of = self.find_contacts(tx, &wanted).await?;
        let mut created: HashSet<String> = HashSet::new();
        let mut new_contacts: Vec<(String, &Envelope)> = Vec::new();
        for &i in &live {
            let env = &envs[i];
            if !contact_of.contains_key(&env.sender) {
                contact_of.insert(env.sender.clone(), env.id.clone());
                new_contacts.push((env.id.clone(), env));
            }
        }
        if !new_contacts.is_empty() {
            let rows: Vec<Vec<Val>> = new_contacts
                .iter()
                .map(|(id, e)| {
                    vec![
                        Val::Text(id.clone()),
                        Val::OptText(e.sender_name.clone()),
                        Val::Int(e.received_at),
                    ]
                })
                .collect();
            insert_rows(tx, "INSERT INTO contacts (id, name, created_at)", "", &rows).await?;
            let rows: Vec<Vec<Val>> = new_contacts
                .iter()
                .map(|(id, e)| {
                    vec![
                        Val::Text(e.sender.kind.as_str().into()),
                        Val::Text(e.sender.value.clone()),
                        Val::Text(id.clone()),
                        Val::Int(e.received_at),
                    ]
                })
                .collect();
            let claimed = insert_rows(
                tx,
                "INSERT INTO contact_identities (kind, value, contact_id, created_at)",
                "ON CONFLICT DO NOTHING RETURNING contact_id",
                &rows,
            )
            .await?;
            let claimed: HashSet<String> = claimed
                .iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<_, _>>()?;
            // Contacts whose identity another node claimed first are dropped for theirs.
            let lost: Vec<String> = new_contacts
                .iter()
                .map(|(id, _)| id.clone())
                .filter(|id| !claimed.contains(id))
                .collect();
            if !lost.is_empty() {
                select_in(tx, "DELETE FROM contacts WHERE id", &[], &lost).await?;
                let identities: Vec<&Identity> = new_contacts
                    .iter()
                    .filter(|(id, _)| !claimed.contains(id))
                    .map(|(_, e)| &e.sender)
                    .collect();
                let found = self.find_contacts(tx, &identities).await?;
                for identity in identities {
                    let id = found.get(identity).ok_or_else(|| {
                        Error::Conflict("identity vanished while resolving".into())
                    })?;
                    contact_of.insert(identity.clone(), id.clone());
                }
            }
            created.extend(claimed);
        }

        // Further identities (e.g. a pre-chat email) join the sender's contact unless taken.
        let mut extra_rows: Vec<Vec<Val>> = Vec::new();
        let mut seen_extra: HashSet<&Identity> = HashSet::new();
        for &i in &live {
            let env = &envs[i];
            let contact = contact_of.get(&env.sender).cloned().unwrap_or_default();
            for extra in &env.extra_identities {
                if !contact_of.contains_key(extra) && seen_extra.insert(extra) {
                    extra_rows.push(vec![
                        Val::Text(extra.kind.as_str().into()),
                        Val::Text(extra.value.clone()),
                        Val::Text(contact.clone()),
                        Val::Int(env.received_at),
                    ]);
                }
            }
            if let Some(name) = &env.sender_name
                && !created.contains(&contact)
            {
                sqlx::query("UPDATE contacts SET name = $1 WHERE id = $2 AND name IS NULL")
                    .bind(name)
                    .bind(&contact)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        insert_rows(
            tx,
            "INSERT INTO contact_identities (kind, value, contact_id, created_at)",
            "ON CONFLICT DO NOTHING",
            &extra_rows,
        )
        .await?;

        // 3. Conversations: a reply joins its parent's open conversation; otherwise the
        // contact's open conversation in the inbox; otherwise a new one.
        let mut conversation_of: HashMap<usize, Conversation> = HashMap::new();
        for &i in &live {
            if let Some(c) = reply_parent(tx, &envs[i]).await? {
                conversation_of.insert(i, c);
            }
        }
        let mut open: HashMap<(String, String), Conversation> = HashMap::new();
        let mut by_inbox: HashMap<&str, Vec<String>> = HashMap::new();
        for &i in &live {
            by_inbox
                .entry(envs[i].inbox.as_str())
                .or_default()
                .push(contact_of[&envs[i].sender].clone());
        }
        for (inbox, contacts) in &by_inbox {
            let sql = format!(
                "SELECT {} FROM conversations WHERE inbox = $1 AND status <> 'resolved' AND contact_id",
                rows::CONVERSATION_COLUMNS
            );
            for row in select_in(
                tx,
                &sql,
                &[Val::Text((*inbox).to_owned())],
                &dedup(contacts),
            )
            .await?
            {
                let c = rows::conversation(&row)?;
                open.insert((c.contact_id.clone(), c.inbox.clone()), c);
            }
        }
        let mut to_open: Vec<usize> = Vec::new();
        let mut opening: HashSet<(String, String)> = HashSet::new();
        for &i in &live {
            let key = (contact_of[&envs[i].sender].clone(), envs[i].inbox.clone());
            if !conversation_of.contains_key(&i) && !open.contains_key(&key) && opening.insert(key)
            {
                to_open.push(i);
            }
        }
        let mut opened: HashSet<String> = HashSet::new();
        if !to_open.is_empty() {
            let n = i64::try_from(to_open.len()).unwrap_or(i64::MAX);
            let last = self.take_numbers(tx, "conversation_number", n).await?;
            let contacts: Vec<String> = to_open
                .iter()
                .map(|&i| contact_of[&envs[i].sender].clone())
                .collect();
            let mut company_of: HashMap<String, Option<String>> = HashMap::new();
            for row in select_in(
                tx,
                "SELECT id, company_id FROM contacts WHERE id",
                &[],
                &dedup(&contacts),
            )
            .await?
            {
                company_of.insert(row.try_get(0)?, row.try_get(1)?);
            }
            let mut fresh: Vec<Conversation> = Vec::new();
            for (k, &i) in to_open.iter().enumerate() {
                let env = &envs[i];
                let contact_id = contact_of[&env.sender].clone();
                fresh.push(Conversation {
                    id: env.id.clone(),
                    number: last - n + 1 + i64::try_from(k).unwrap_or(0),
                    inbox: env.inbox.clone(),
                    channel: env.channel,
                    company_id: company_of.get(&contact_id).cloned().flatten(),
                    contact_id,
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
                });
            }
            let rows: Vec<Vec<Val>> = fresh
                .iter()
                .map(|c| {
                    vec![
                        Val::Text(c.id.clone()),
                        Val::Int(c.number),
                        Val::Text(c.inbox.clone()),
                        Val::Text(c.channel.as_str().into()),
                        Val::Text(c.contact_id.clone()),
                        Val::OptText(c.company_id.clone()),
                        Val::OptText(c.subject.clone()),
                        Val::Text(c.status.as_str().into()),
                        Val::Text(c.priority.as_str().into()),
                        Val::Text(c.tier.as_str().into()),
                        Val::Text("[]".into()),
                        Val::Int(c.created_at),
                        Val::Int(c.updated_at),
                        Val::Int(c.last_message_at),
                    ]
                })
                .collect();
            let inserted = insert_rows(
                tx,
                "INSERT INTO conversations (id, number, inbox, channel, contact_id, company_id, subject, status, priority, tier, labels, created_at, updated_at, last_message_at)",
                "ON CONFLICT DO NOTHING RETURNING id",
                &rows,
            )
            .await?;
            opened = inserted
                .iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<_, _>>()?;
            let events: Vec<Vec<Val>> = fresh
                .iter()
                .filter(|c| opened.contains(&c.id))
                .map(|c| {
                    vec![
                        Val::Text(c.id.clone()),
                        Val::Text(c.id.clone()),
                        Val::Text("conversation_opened".into()),
                        Val::Text(
                            serde_json::json!({"number": c.number, "channel": c.channel})
                                .to_string(),
                        ),
                        Val::Int(c.created_at),
                    ]
                })
                .collect();
            insert_rows(
                tx,
                "INSERT INTO events (id, conversation_id, kind, payload, created_at)",
                "",
                &events,
            )
            .await?;
            for c in fresh {
                let key = (c.contact_id.clone(), c.inbox.clone());
                if opened.contains(&c.id) {
                    open.insert(key, c);
                } else {
                    // Another node opened it first; the partial unique index made us wait.
                    let theirs = open_conversation(tx, &c.contact_id, &c.inbox)
                        .await?
                        .ok_or_else(|| {
                            Error::Conflict("open conversation vanished while threading".into())
                        })?;
                    open.insert(key, theirs);
                }
            }
        }
        for &i in &live {
            if let std::collections::hash_map::Entry::Vacant(slot) = conversation_of.entry(i) {
                let key = (contact_of[&envs[i].sender].clone(), envs[i].inbox.clone());
                let c = open
                    .get(&key)
                    .cloned()
                    .ok_or_else(|| Error::Conflict("no conversation for envelope".into()))?;
                slot.insert(c);
            }
        }

        // 4. Messages.
        let messages: Vec<(usize, Message)> = live
            .iter()
            .map(|&i| {
                let env = &envs[i];
                (
                    i,
                    Message {
                        id: env.id.clone(),
                        conversation_id: conversation_of[&i].id.clone(),
                        direction: Direction::Inbound,
                        author_kind: AuthorKind::Contact,
                        author_id: Some(contact_of[&env.sender].clone()),
                        channel: env.channel,
                        text: env.text.clone(),
                        html: env.html.clone(),
                        attachments: env.attachments.clone(),
                        delivery_state: DeliveryState::Received,
                        external_id: Some(env.external_id.clone()),
                        created_at: env.received_at,
                    },
                )
            })
            .collect();
        let mut rows = Vec::with_capacity(messages.len());
        for (i, m) in &messages {
            rows.push(vec![
                Val::Text(m.id.clone()),
                Val::Text(m.conversation_id.clone()),
                Val::Text(m.direction.as_str().into()),
                Val::Text(m.author_kind.as_str().into()),
                Val::OptText(m.author_id.clone()),
                Val::Text(m.channel.as_str().into()),
                Val::Text(m.text.clone()),
                Val::OptText(m.html.clone()),
                Val::Text(serde_json::to_string(&m.attachments)?),
                Val::Text(m.delivery_state.as_str().into()),
                Val::OptText(m.external_id.clone()),
                Val::Text(keys[*i].clone()),
                Val::Int(0),
                Val::Int(m.created_at),
                Val::Int(m.created_at),
            ]);
        }
        let inserted = insert_rows(
            tx,
            "INSERT INTO messages (id, conversation_id, direction, author_kind, author_id, channel, text, html, attachments, delivery_state, external_id, idempotency_key, attempts, created_at, updated_at)",
            "ON CONFLICT DO NOTHING RETURNING id",
            &rows,
        )
        .await?;
        let inserted: HashSet<String> = inserted
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<_, _>>()?;

        // 5. Conversation activity; a new message wakes a snoozed conversation.
        let mut latest: HashMap<String, i64> = HashMap::new();
        for (_, m) in messages.iter().filter(|(_, m)| inserted.contains(&m.id)) {
            let t = latest
                .entry(m.conversation_id.clone())
                .or_insert(m.created_at);
            *t = (*t).max(m.created_at);
        }
        let mut touched: Vec<(&String, &i64)> = latest.iter().collect();
        touched.sort();
        for chunk in touched.chunks(MAX_BINDS / 3) {
            let mut case = String::from("CASE id");
            let mut vals = Vec::new();
            for (id, t) in chunk {
                case.push_str(&format!(
                    " WHEN ${} THEN ${}",
                    vals.len() + 1,
                    vals.len() + 2
                ));
                vals.push(Val::Text((*id).clone()));
                vals.push(Val::Int(**t));
            }
            let mut sql = format!(
                "UPDATE conversations SET last_message_at = {case} ELSE last_message_at END, updated_at = {case} ELSE updated_at END, \
                 status = CASE WHEN status = 'snoozed' THEN 'open' ELSE status END WHERE id IN ("
            );
            let first = vals.len() + 1;
            sql.push_str(&placeholders(first, chunk.len()));
            sql.push(')');
            vals.extend(chunk.iter().map(|(id, _)| Val::Text((*id).clone())));
            query_with(sql, &vals).execute(&mut **tx).await?;
        }

        for (i, mut message) in messages {
            if !inserted.contains(&message.id) {
                // Another node stored the same envelope between our check and our insert.
                let id: String =
                    sqlx::query_scalar("SELECT id FROM messages WHERE idempotency_key = $1")
                        .bind(&keys[i])
                        .fetch_one(&mut **tx)
                        .await?;
                outcomes[i] = Some(IngestOutcome::Duplicate { message_id: id });
                continue;
            }
            let mut conversation = conversation_of[&i].clone();
            if let Some(t) = latest.get(&conversation.id) {
                conversation.last_message_at = *t;
                conversation.updated_at = *t;
            }
            if conversation.status == Status::Snoozed {
                conversation.status = Status::Open;
            }
            message.conversation_id = conversation.id.clone();
            outcomes[i] = Some(IngestOutcome::Stored(Box::new(Ingested {
                contact_id: contact_of[&envs[i].sender].clone(),
                new_conversation: opened.contains(&conversation.id)
                    && conversation.id == envs[i].id,
                message,
                conversation,
            })));
        }
        Ok(outcomes.into_iter().flatten().collect())
    }

    /// Contacts of the given identities that exist, following merges.
    async fn find_contacts(
        &self,
        tx: &mut Tx,
        identities: &[&Identity],
    ) -> Result<HashMap<Identity, String>> {
        let mut by_kind: HashMap<IdentityKind, Vec<String>> = HashMap::new();
        for i in identities {
            by_kind.entry(i.kind).or_default().push(i.value.clone());
        }
        let mut out = HashMap::new();
        for (kind, values) in by_kind {
            let rows = select_in(
                tx,
                "SELECT i.value, COALESCE(c.merged_into, c.id) FROM contact_identities i JOIN contacts c ON c.id = i.contact_id WHERE i.kind = $1 AND i.value",
                &[Val::Text(kind.as_str().into())],
                &dedup(&values),
            )
            .await?;
            for row in rows {
                out.insert(
                    Identity {
                        kind,
                        value: row.try_get(0)?,
                    },
                    row.try_get(1)?,
                );
            }
        }
        Ok(out)
    }
}

fn dedup(values: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    values
        .iter()
        .filter(|v| seen.insert(v.as_str()))
        .cloned()
        .collect()
}

/// The open conversation of the message this envelope replies to, if any.
async fn reply_parent(tx: &mut Tx, env: &Envelope) -> Result<Option<Conversation>> {
    for parent in &env.replies_to {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM conversations WHERE status <> 'resolved' AND id = (SELECT conversation_id FROM messages WHERE idempotency_key = $1)",
            rows::CONVERSATION_COLUMNS
        )))
        .bind(format!("{}:{}", env.channel, parent))
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(row) = row {
            return Ok(Some(rows::conversation(&row)?));
        }
    }
    Ok(None)
}

async fn open_conversation(
    tx: &mut Tx,
    contact_id: &str,
    inbox: &str,
) -> Result<Option<Conversation>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {} FROM conversations WHERE contact_id = $1 AND inbox = $2 AND status <> 'resolved'",
        rows::CONVERSATION_COLUMNS
    )))
    .bind(contact_id)
    .bind(inbox)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(rows::conversation).transpose()
}
