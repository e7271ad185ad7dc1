//! Threading inbound envelopes into the store: contact resolution, finding or opening the
//! conversation, persisting the message. A batch is threaded in one transaction with a
//! fixed number of set-based statements (not one round trip per message per step), and
//! commits or fails as one.
//!
//! **Architecture Invariant:** a replayed inbound message changes nothing:
//! `(channel, external_id)` is unique in `messages`
//! (`router::replayed_entries_are_stored_once`). One unresolved conversation per contact,
//! inbox and thread key is a partial unique index, so a burst never opens two conversations
//! for one thread, whatever the number of nodes (`store::a_burst_opens_one_conversation`,
//! `router::two_routers_one_burst_one_conversation`,
//! `threads::several_open_conversations_per_contact`).
//!
//! **Architecture Invariant:** auto-submitted mail (auto-replies, bounces, loops) opens no
//! contact and no conversation and never reaches the bot; it is kept in `inbound_noise`
//! (`inbound::auto_submitted_mail_opens_nothing_and_is_kept`).

use std::collections::{HashMap, HashSet};

use sqlx::{Any, AssertSqlSafe, Row, Transaction};

use super::{Store, rows};
use crate::clock::Ids;
use crate::domain::{
    AuthorKind, Channel, Conversation, DeliveryState, Direction, Envelope, Identity, IdentityKind,
    Message, Priority, Status, Tier,
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
    /// An auto-reply, bounce or loop: kept aside, opened nothing, never reaches the bot.
    Ignored {
        reason: String,
        conversation_id: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub message: Message,
    pub conversation: Conversation,
    pub contact_id: String,
    pub new_conversation: bool,
    /// A resolved conversation this message opened again.
    pub reopened: bool,
    /// A pending or snoozed conversation this message opened again.
    pub woke: bool,
}

/// A bind value of a dynamically built statement.
#[derive(Debug, Clone)]
pub(super) enum Val {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
}

/// Largest number of bind values in one statement (SQLite allows 32766).
const MAX_BINDS: usize = 30_000;

pub(crate) type Tx = Transaction<'static, Any>;

fn query_with(sql: String, vals: &[Val]) -> sqlx::query::Query<'_, Any, sqlx::any::AnyArguments> {
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for v in vals {
        q = match v {
            Val::Text(s) => q.bind(s.as_str()),
            Val::OptText(s) => q.bind(s.as_deref()),
            Val::Int(i) => q.bind(*i),
            Val::OptInt(i) => q.bind(*i),
        };
    }
    q
}

pub(super) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `INSERT … VALUES (…),(…) <tail>` in chunks that respect the bind limit; returns the
/// rows that `tail`'s RETURNING gives back, if any.
pub(super) async fn insert_rows(
    tx: &mut Tx,
    head: &str,
    tail: &str,
    rows: &[Vec<Val>],
) -> Result<Vec<sqlx::any::AnyRow>> {
    let Some(width) = rows.first().map(Vec::len) else {
        return Ok(Vec::new());
    };
    // On SQLite the binds are anonymous (`?`, numbered by position): a numbered bind
    // (`$n`) is found by name, walking the statement's list of names once per bind, so a
    // batch of 9,000 binds spent about a tenth of the intake's time in those walks.
    // (Only here, where every bind of the statement is one of the rows'.)
    let anonymous = tx.backend_name() == "SQLite";
    let mut out = Vec::new();
    for chunk in rows.chunks((MAX_BINDS / width).max(1)) {
        let mut sql = format!("{head} VALUES ");
        let mut vals = Vec::with_capacity(chunk.len() * width);
        for (r, row) in chunk.iter().enumerate() {
            if r > 0 {
                sql.push(',');
            }
            sql.push('(');
            if anonymous {
                sql.push_str(&vec!["?"; row.len()].join(","));
            } else {
                sql.push_str(&placeholders(vals.len() + 1, row.len()));
            }
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

/// Where an envelope's message goes.
#[derive(Debug, Clone)]
struct Threaded {
    conversation: Conversation,
    /// A resolved conversation that this message opens again.
    reopened: bool,
}

impl Store {
    /// The id of the contact's unresolved conversation of `thread_key` in `inbox`, if it
    /// has one (merges followed).
    pub async fn unresolved_thread(
        &self,
        contact_id: &str,
        inbox: &str,
        thread_key: &str,
    ) -> Result<Option<String>> {
        let contact_id = self.surviving_contact(contact_id).await?;
        Ok(sqlx::query_scalar::<_, String>(
            "SELECT id FROM conversations WHERE contact_id = $1 AND inbox = $2 AND thread_key = $3 AND status <> 'resolved' AND merged_into IS NULL",
        )
        .bind(&contact_id)
        .bind(inbox)
        .bind(thread_key)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The contact's unresolved conversation of `thread_key` in `inbox`, or a new one that
    /// we open (an invoice's mail, a portal ticket): numbered like any other, with its
    /// `conversation_opened` event, in `status`. Two racing callers get one conversation.
    #[allow(clippy::too_many_arguments)]
    pub async fn open_conversation_for(
        &self,
        ids: &Ids,
        contact_id: &str,
        inbox: &str,
        channel: Channel,
        thread_key: &str,
        subject: Option<&str>,
        status: Status,
    ) -> Result<Conversation> {
        let contact_id = self.surviving_contact(contact_id).await?;
        let find = async || self.unresolved_thread(&contact_id, inbox, thread_key).await;
        if let Some(id) = find().await? {
            return self.conversation(&id).await;
        }
        let company: Option<String> =
            sqlx::query_scalar("SELECT company_id FROM contacts WHERE id = $1")
                .bind(&contact_id)
                .fetch_optional(&self.pool)
                .await?
                .flatten();
        let now = ids.now_ms();
        let mut tx = self.begin_write().await?;
        let number = self.take_numbers(&mut tx, "conversation_number", 1).await?;
        let c = ours(
            ids.new_id(),
            number,
            inbox,
            channel,
            company,
            &contact_id,
            thread_key,
            subject,
            status,
            now,
        );
        insert_conversations(&mut tx, std::slice::from_ref(&c), None).await?;
        tx.commit().await?;
        match find().await? {
            Some(id) => self.conversation(&id).await,
            None => Err(Error::Conflict(
                "the conversation was resolved meanwhile".into(),
            )),
        }
    }

    /// Threads a batch of envelopes in one transaction. Outcomes are in input order.
    ///
    /// A `Conflict` is a race with another writer (a contact merged, an identity or
    /// conversation claimed by another node) that a fresh attempt resolves; the batch is
    /// threaded again, a few times at most.
    pub async fn ingest_batch(&self, envelopes: &[Envelope]) -> Result<Vec<IngestOutcome>> {
        Ok(self.ingest_batch_with(None, envelopes).await?.0)
    }

    /// [`Store::ingest_batch`] that also records the batch's webhook events (new
    /// conversations, messages) in the same transaction; returns the deliveries made.
    pub async fn ingest_batch_with_hooks(
        &self,
        ids: &Ids,
        envelopes: &[Envelope],
    ) -> Result<(Vec<IngestOutcome>, Vec<String>)> {
        self.ingest_batch_with(Some(ids), envelopes).await
    }

    async fn ingest_batch_with(
        &self,
        hooks: Option<&Ids>,
        envelopes: &[Envelope],
    ) -> Result<(Vec<IngestOutcome>, Vec<String>)> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut tx = self.begin_write().await?;
            match self.ingest(&mut tx, envelopes).await {
                Ok(out) => {
                    let made = match hooks {
                        Some(ids) => {
                            let events = crate::webhooks::ingest_events(&out)?;
                            self.record_hook_events_in(&mut tx, ids, &events).await?
                        }
                        None => Vec::new(),
                    };
                    tx.commit().await?;
                    return Ok((out, made));
                }
                Err(Error::Conflict(why)) if attempt < 4 => {
                    drop(tx);
                    tracing::debug!(attempt, why, "threading raced another writer; again");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The contact a verified identity belongs to, following merges. A merely claimed
    /// identity (a pre-chat email) belongs to nobody here.
    pub async fn contact_for_identity(&self, identity: &Identity) -> Result<Option<String>> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT COALESCE(c.merged_into, c.id) FROM contact_identities i JOIN contacts c ON c.id = i.contact_id WHERE i.kind = $1 AND i.value = $2",
        )
        .bind(identity.kind().as_str())
        .bind(identity.value())
        .fetch_optional(&self.pool)
        .await?;
        Ok(id)
    }

    /// The named steps of threading a batch: replays, noise, contacts, threads,
    /// messages. Each step is a fixed number of set-based statements for the whole batch.
    async fn ingest(&self, tx: &mut Tx, envs: &[Envelope]) -> Result<Vec<IngestOutcome>> {
        let keys: Vec<String> = envs.iter().map(Envelope::idempotency_key).collect();
        let mut outcomes: Vec<Option<IngestOutcome>> = vec![None; envs.len()];
        let live = replays(tx, envs, &keys, &mut outcomes).await?;
        let live = set_aside_noise(tx, envs, &keys, live, &mut outcomes).await?;
        if live.is_empty() {
            return Ok(outcomes.into_iter().flatten().collect());
        }
        let contacts = self.resolve_contacts(tx, envs, &live).await?;
        let threads = self.thread(tx, envs, &live, &contacts).await?;
        store_messages(tx, envs, &keys, &live, &contacts, &threads, &mut outcomes).await?;
        Ok(outcomes.into_iter().flatten().collect())
    }

    /// Step 3: the contact of every sender (and Cc'd person), creating contacts for
    /// unknown ones. Only verified identities are matched; identities a sender merely
    /// typed are kept on its contact as unverified claims.
    async fn resolve_contacts(
        &self,
        tx: &mut Tx,
        envs: &[Envelope],
        live: &[usize],
    ) -> Result<HashMap<Identity, String>> {
        let mut wanted: Vec<&Identity> = Vec::new();
        for &i in live {
            wanted.push(&envs[i].sender);
            wanted.extend(envs[i].cc.iter());
        }
        let mut contact_of = find_contacts(tx, &wanted).await?;
        let mut created: HashSet<String> = HashSet::new();
        // (contact id, identity, name, time) of contacts to create.
        let mut new_contacts: Vec<(String, &Identity, Option<String>, i64)> = Vec::new();
        let mut planned: HashSet<&Identity> = HashSet::new();
        for &i in live {
            let env = &envs[i];
            if !contact_of.contains_key(&env.sender) && planned.insert(&env.sender) {
                new_contacts.push((
                    env.id.clone(),
                    &env.sender,
                    env.sender_name.clone(),
                    env.received_at,
                ));
            }
            for cc in &env.cc {
                if !contact_of.contains_key(cc) && planned.insert(cc) {
                    new_contacts.push((
                        uuid::Uuid::new_v4().to_string(),
                        cc,
                        None,
                        env.received_at,
                    ));
                }
            }
        }
        if !new_contacts.is_empty() {
            created = create_contacts(tx, &new_contacts, &mut contact_of).await?;
        }

        self.note_claims(tx, envs, live, &contact_of, &created)
            .await?;
        Ok(contact_of)
    }

    /// Identities a sender merely typed (a pre-chat email) are noted on its contact,
    /// unverified, and a name is taken where the contact has none.
    async fn note_claims(
        &self,
        tx: &mut Tx,
        envs: &[Envelope],
        live: &[usize],
        contact_of: &HashMap<Identity, String>,
        created: &HashSet<String>,
    ) -> Result<()> {
        // Claimed identities (a pre-chat email) are noted on the sender's contact,
        // unverified: they never decide whose messages are whose.
        let mut claim_rows: Vec<Vec<Val>> = Vec::new();
        // A contact is named once per batch: its first named message wins, as the first
        // of several updates did.
        let mut named: HashSet<&str> = HashSet::new();
        for &i in live {
            let env = &envs[i];
            let contact = contact_of.get(&env.sender).map_or("", String::as_str);
            for extra in &env.extra_identities {
                if contact_of.get(extra).map(String::as_str) != Some(contact) {
                    claim_rows.push(vec![
                        Val::Text(extra.kind().as_str().into()),
                        Val::Text(extra.value().to_owned()),
                        Val::Text(contact.to_owned()),
                        Val::Int(env.received_at),
                    ]);
                }
            }
            if let Some(name) = &env.sender_name
                && !created.contains(contact)
                && named.insert(contact)
            {
                sqlx::query("UPDATE contacts SET name = $1 WHERE id = $2 AND name IS NULL")
                    .bind(name)
                    .bind(contact)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        insert_rows(
            tx,
            "INSERT INTO contact_claims (kind, value, contact_id, created_at)",
            "ON CONFLICT DO NOTHING",
            &claim_rows,
        )
        .await?;
        if !claim_rows.is_empty() && self.backend == super::Backend::Postgres {
            let used: Vec<String> = live
                .iter()
                .map(|&i| contact_of[&envs[i].sender].clone())
                .collect();
            none_merged(tx, &used).await?;
        }
        Ok(())
    }

    /// Step 4: the conversation of every message. In order: a reply to one of the
    /// conversation's messages (when its sender takes part in it; a resolved one opens
    /// again); the open conversation of the contact's thread in the inbox; a new one.
    async fn thread(
        &self,
        tx: &mut Tx,
        envs: &[Envelope],
        live: &[usize],
        contact_of: &HashMap<Identity, String>,
    ) -> Result<HashMap<usize, Threaded>> {
        let mut threads = reply_parents(tx, envs, live, contact_of).await?;

        let mut open: HashMap<(String, String, String), Conversation> = HashMap::new();
        // Per inbox: the contacts and the thread keys of this batch. Only the threads asked
        // for are read: a contact with a thousand open tickets costs nothing here.
        let mut by_inbox: HashMap<&str, (Vec<String>, Vec<String>)> = HashMap::new();
        for &i in live.iter().filter(|i| !threads.contains_key(i)) {
            let entry = by_inbox.entry(envs[i].inbox.as_str()).or_default();
            entry.0.push(contact_of[&envs[i].sender].clone());
            entry.1.push(envs[i].thread_key().to_owned());
        }
        for (inbox, (contacts, keys)) in &by_inbox {
            let keys = dedup(keys);
            let sql = format!(
                "SELECT {} FROM conversations WHERE inbox = $1 AND status <> 'resolved' AND thread_key IN ({}) AND contact_id",
                rows::CONVERSATION_COLUMNS,
                placeholders(2, keys.len())
            );
            let mut fixed = vec![Val::Text((*inbox).to_owned())];
            fixed.extend(keys.into_iter().map(Val::Text));
            for row in select_in(tx, &sql, &fixed, &dedup(contacts)).await? {
                let c = rows::conversation(&row)?;
                open.insert(thread_of(&c), c);
            }
        }
        let key_of = |i: usize| {
            (
                contact_of[&envs[i].sender].clone(),
                envs[i].inbox.clone(),
                envs[i].thread_key().to_owned(),
            )
        };
        // A contact's default thread (a chat) that was resolved lately opens again on its
        // next message, rather than starting a new conversation.
        let mut reopened_keys: HashSet<(String, String, String)> = HashSet::new();
        for &i in live.iter().filter(|i| !threads.contains_key(i)) {
            let key = key_of(i);
            if open.contains_key(&key) || envs[i].thread_key() != crate::domain::DEFAULT_THREAD {
                continue;
            }
            let since = envs[i].received_at - REOPEN_WINDOW_MS;
            let row = sqlx::query(AssertSqlSafe(format!(
                "SELECT {} FROM conversations WHERE contact_id = $1 AND inbox = $2 AND thread_key = $3 \
                 AND status = 'resolved' AND updated_at >= $4 ORDER BY updated_at DESC, id DESC LIMIT 1",
                rows::CONVERSATION_COLUMNS
            )))
            .bind(&key.0)
            .bind(&key.1)
            .bind(&key.2)
            .bind(since)
            .fetch_optional(&mut **tx)
            .await?;
            let Some(row) = row else { continue };
            let mut c = rows::conversation(&row)?;
            sqlx::query("UPDATE conversations SET status = 'open', resolved_at = NULL, version = version + 1, updated_at = $1 WHERE id = $2 AND status = 'resolved'")
                .bind(envs[i].received_at)
                .bind(&c.id)
                .execute(&mut **tx)
                .await?;
            sqlx::query("INSERT INTO events (id, conversation_id, kind, payload, created_at) VALUES ($1, $2, 'conversation_reopened', $3, $4)")
                .bind(&envs[i].id)
                .bind(&c.id)
                .bind(serde_json::json!({"by_message": envs[i].id}).to_string())
                .bind(envs[i].received_at)
                .execute(&mut **tx)
                .await?;
            c.status = Status::Open;
            c.version += 1;
            reopened_keys.insert(key.clone());
            open.insert(key, c);
        }
        let mut to_open: Vec<usize> = Vec::new();
        let mut opening: HashSet<(String, String, String)> = HashSet::new();
        for &i in live.iter().filter(|i| !threads.contains_key(i)) {
            let key = key_of(i);
            if !open.contains_key(&key) && opening.insert(key) {
                to_open.push(i);
            }
        }
        if !to_open.is_empty() {
            for c in self
                .open_conversations(tx, envs, &to_open, contact_of)
                .await?
            {
                open.insert(thread_of(&c), c);
            }
            if self.backend == super::Backend::Postgres {
                let used: Vec<String> = to_open
                    .iter()
                    .map(|&i| contact_of[&envs[i].sender].clone())
                    .collect();
                none_merged(tx, &used).await?;
            }
        }
        for &i in live {
            if let std::collections::hash_map::Entry::Vacant(slot) = threads.entry(i) {
                let key = key_of(i);
                let c = open
                    .get(&key)
                    .cloned()
                    .ok_or_else(|| Error::Conflict("no conversation for envelope".into()))?;
                slot.insert(Threaded {
                    conversation: c,
                    // The first message of the batch that opened it again says so.
                    reopened: reopened_keys.remove(&key),
                });
            }
        }
        Ok(threads)
    }

    /// Opens a conversation for each of `to_open`'s threads; where another node opened
    /// the same thread first (the partial unique index made us wait), returns theirs.
    async fn open_conversations(
        &self,
        tx: &mut Tx,
        envs: &[Envelope],
        to_open: &[usize],
        contact_of: &HashMap<Identity, String>,
    ) -> Result<Vec<Conversation>> {
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
        // An inbox may name the team its new conversations go to (a WhatsApp number's).
        let inboxes: Vec<String> = to_open.iter().map(|&i| envs[i].inbox.clone()).collect();
        let mut team_of: HashMap<String, String> = HashMap::new();
        for row in select_in(
            tx,
            "SELECT id, settings FROM inboxes WHERE id",
            &[],
            &dedup(&inboxes),
        )
        .await?
        {
            let settings: String = row.try_get(1)?;
            let team = serde_json::from_str::<serde_json::Value>(&settings)
                .ok()
                .and_then(|v| v.get("team").and_then(|t| t.as_str()).map(str::to_owned));
            if let Some(team) = team.filter(|t| !t.is_empty()) {
                team_of.insert(row.try_get(0)?, team);
            }
        }
        let fresh: Vec<Conversation> = to_open
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                let env = &envs[i];
                let contact_id = contact_of[&env.sender].clone();
                Conversation {
                    id: env.id.clone(),
                    number: last - n + 1 + i64::try_from(k).unwrap_or(0),
                    inbox: env.inbox.clone(),
                    channel: env.channel,
                    company_id: company_of.get(&contact_id).cloned().flatten(),
                    contact_id,
                    thread_key: env.thread_key().to_owned(),
                    subject: env.subject.clone(),
                    status: Status::Open,
                    priority: Priority::None,
                    tier: Tier::N1,
                    assignee_id: None,
                    team: team_of.get(&env.inbox).cloned(),
                    labels: Vec::new(),
                    bot_active: true,
                    created_at: env.received_at,
                    updated_at: env.received_at,
                    last_message_at: env.received_at,
                    version: 0,
                    snoozed_until: None,
                }
            })
            .collect();
        let opened = insert_conversations(tx, &fresh, None).await?;
        let mut out = Vec::with_capacity(fresh.len());
        for c in fresh {
            if opened.contains(&c.id) {
                out.push(c);
            } else {
                let theirs = open_in_thread(tx, &c.contact_id, &c.inbox, &c.thread_key)
                    .await?
                    .ok_or_else(|| {
                        Error::Conflict("open conversation vanished while threading".into())
                    })?;
                out.push(theirs);
            }
        }
        Ok(out)
    }
}

/// Creates contacts with their verified identity; where another node claimed an identity
/// first, drops ours for theirs. Records every identity's contact in `contact_of`;
/// returns the contacts created here.
async fn create_contacts(
    tx: &mut Tx,
    new_contacts: &[(String, &Identity, Option<String>, i64)],
    contact_of: &mut HashMap<Identity, String>,
) -> Result<HashSet<String>> {
    let rows: Vec<Vec<Val>> = new_contacts
        .iter()
        .map(|(id, _, name, at)| {
            vec![
                Val::Text(id.clone()),
                Val::OptText(name.clone()),
                Val::Int(*at),
            ]
        })
        .collect();
    insert_rows(tx, "INSERT INTO contacts (id, name, created_at)", "", &rows).await?;
    // Identities go in a fixed order: two nodes creating the same new contacts (a
    // visitor's first messages, read by both) wait on each other's unique entries in
    // the same order, never in a circle.
    let mut ordered: Vec<&(String, &Identity, Option<String>, i64)> = new_contacts.iter().collect();
    ordered.sort_unstable_by(|a, b| {
        (a.1.kind().as_str(), a.1.value()).cmp(&(b.1.kind().as_str(), b.1.value()))
    });
    let rows: Vec<Vec<Val>> = ordered
        .iter()
        .map(|(id, identity, _, at)| {
            vec![
                Val::Text(identity.kind().as_str().into()),
                Val::Text(identity.value().to_owned()),
                Val::Text(id.clone()),
                Val::Int(*at),
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
    for (id, identity, _, _) in new_contacts {
        if claimed.contains(id) {
            contact_of.insert((*identity).clone(), id.clone());
        }
    }
    // Contacts whose identity another node claimed first are dropped for theirs.
    let lost: Vec<String> = new_contacts
        .iter()
        .map(|(id, ..)| id.clone())
        .filter(|id| !claimed.contains(id))
        .collect();
    if !lost.is_empty() {
        select_in(tx, "DELETE FROM contacts WHERE id", &[], &lost).await?;
        let identities: Vec<&Identity> = new_contacts
            .iter()
            .filter(|(id, ..)| !claimed.contains(id))
            .map(|(_, identity, ..)| *identity)
            .collect();
        let found = find_contacts(tx, &identities).await?;
        for identity in identities {
            let id = found
                .get(identity)
                .ok_or_else(|| Error::Conflict("identity vanished while resolving".into()))?;
            contact_of.insert(identity.clone(), id.clone());
        }
    }
    Ok(claimed)
}

/// The head of a conversations insert: the columns [`conversation_rows`] fills.
pub(super) const INSERT_CONVERSATIONS: &str = "INSERT INTO conversations (id, number, inbox, channel, contact_id, company_id, thread_key, subject, status, priority, tier, labels, created_at, updated_at, last_message_at, bot_active, people_since, team)";

/// The head of an events insert: the columns [`opened_events`] fills.
pub(super) const INSERT_EVENTS: &str =
    "INSERT INTO events (id, conversation_id, kind, payload, created_at)";

/// The rows of [`INSERT_CONVERSATIONS`]. `people_since`: the conversations are for people
/// from then on (their SLA clocks run), written with the rows themselves.
pub(super) fn conversation_rows(
    fresh: &[Conversation],
    people_since: Option<i64>,
) -> Vec<Vec<Val>> {
    fresh
        .iter()
        .map(|c| {
            vec![
                Val::Text(c.id.clone()),
                Val::Int(c.number),
                Val::Text(c.inbox.clone()),
                Val::Text(c.channel.as_str().into()),
                Val::Text(c.contact_id.clone()),
                Val::OptText(c.company_id.clone()),
                Val::Text(c.thread_key.clone()),
                Val::OptText(c.subject.clone()),
                Val::Text(c.status.as_str().into()),
                Val::Text(c.priority.as_str().into()),
                Val::Text(c.tier.as_str().into()),
                Val::Text("[]".into()),
                Val::Int(c.created_at),
                Val::Int(c.updated_at),
                Val::Int(c.last_message_at),
                Val::Int(i64::from(c.bot_active)),
                Val::OptInt(people_since),
                Val::OptText(c.team.clone()),
            ]
        })
        .collect()
}

/// The `conversation_opened` events of new conversations, as rows of [`INSERT_EVENTS`].
pub(super) fn opened_events<'a>(opened: impl Iterator<Item = &'a Conversation>) -> Vec<Vec<Val>> {
    opened
        .map(|c| {
            vec![
                Val::Text(c.id.clone()),
                Val::Text(c.id.clone()),
                Val::Text("conversation_opened".into()),
                Val::Text(
                    serde_json::json!({"number": c.number, "channel": c.channel, "thread": c.thread_key})
                        .to_string(),
                ),
                Val::Int(c.created_at),
            ]
        })
        .collect()
}

/// Inserts new conversations, each with its `conversation_opened` event; returns the ids
/// inserted (a thread another node opened first keeps theirs). `people_since`: see
/// [`conversation_rows`].
pub(super) async fn insert_conversations(
    tx: &mut Tx,
    fresh: &[Conversation],
    people_since: Option<i64>,
) -> Result<HashSet<String>> {
    let inserted = insert_rows(
        tx,
        INSERT_CONVERSATIONS,
        "ON CONFLICT DO NOTHING RETURNING id",
        &conversation_rows(fresh, people_since),
    )
    .await?;
    let opened: HashSet<String> = inserted
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
    let events = opened_events(fresh.iter().filter(|c| opened.contains(&c.id)));
    insert_rows(tx, INSERT_EVENTS, "", &events).await?;
    Ok(opened)
}

/// Rows for PostgreSQL's `jsonb_populate_recordset`: a JSON array of objects keyed by the
/// columns that `head` (`INSERT INTO table (a, b, …)`) names, in its order.
pub(super) fn json_rows(head: &str, rows: &[Vec<Val>]) -> Result<String> {
    let columns: Vec<&str> = head
        .split_once('(')
        .and_then(|(_, rest)| rest.rsplit_once(')'))
        .map(|(list, _)| list.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        if row.len() != columns.len() {
            return Err(Error::Invalid(format!(
                "{} values for the {} columns of {head}",
                row.len(),
                columns.len()
            )));
        }
        let object: serde_json::Map<String, serde_json::Value> = columns
            .iter()
            .zip(row)
            .map(|(c, v)| {
                let v = match v {
                    Val::Text(s) => serde_json::Value::from(s.as_str()),
                    Val::OptText(s) => s.as_deref().map_or(serde_json::Value::Null, Into::into),
                    Val::Int(i) => serde_json::Value::from(*i),
                    Val::OptInt(i) => i.map_or(serde_json::Value::Null, Into::into),
                };
                ((*c).to_owned(), v)
            })
            .collect();
        out.push(serde_json::Value::Object(object));
    }
    Ok(serde_json::to_string(&out)?)
}

/// A conversation we open ourselves (an invoice's, a ticket's): for people, no bot, N1.
#[allow(clippy::too_many_arguments)]
pub(super) fn ours(
    id: String,
    number: i64,
    inbox: &str,
    channel: Channel,
    company_id: Option<String>,
    contact_id: &str,
    thread_key: &str,
    subject: Option<&str>,
    status: Status,
    now: i64,
) -> Conversation {
    Conversation {
        id,
        number,
        inbox: inbox.to_owned(),
        channel,
        company_id,
        contact_id: contact_id.to_owned(),
        thread_key: thread_key.to_owned(),
        subject: subject.map(str::to_owned),
        status,
        priority: Priority::None,
        tier: Tier::N1,
        assignee_id: None,
        team: None,
        labels: Vec::new(),
        bot_active: false,
        created_at: now,
        updated_at: now,
        last_message_at: now,
        version: 0,
        snoozed_until: None,
    }
}

/// The thread a conversation is: (contact, inbox, thread key).
fn thread_of(c: &Conversation) -> (String, String, String) {
    (c.contact_id.clone(), c.inbox.clone(), c.thread_key.clone())
}

/// Step 1: replays, of keys already stored or repeated inside this batch, change nothing.
/// Returns the envelopes still to thread.
async fn replays(
    tx: &mut Tx,
    envs: &[Envelope],
    keys: &[String],
    outcomes: &mut [Option<IngestOutcome>],
) -> Result<Vec<usize>> {
    let mut stored: HashMap<String, String> = HashMap::new();
    for row in select_in(
        tx,
        "SELECT idempotency_key, id FROM messages WHERE idempotency_key",
        &[],
        &dedup(keys),
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
    Ok(live)
}

/// Step 2: auto-replies, bounces and loops are kept aside with the conversation they
/// relate to (if a reply names one), and open nothing: no contact, no conversation, no
/// bot. Returns the envelopes still to thread.
async fn set_aside_noise(
    tx: &mut Tx,
    envs: &[Envelope],
    keys: &[String],
    live: Vec<usize>,
    outcomes: &mut [Option<IngestOutcome>],
) -> Result<Vec<usize>> {
    let (noise, live): (Vec<usize>, Vec<usize>) =
        live.into_iter().partition(|&i| envs[i].auto_submitted);
    // The same lookup replies use: the first named message we know.
    let parent = named_messages(tx, envs, &noise).await?;
    for i in noise {
        let env = &envs[i];
        let related = env
            .replies_to
            .iter()
            .find_map(|ext| parent.get(&(env.channel.as_str().to_owned(), ext.clone())))
            .cloned();
        let reason = "auto-submitted (auto-reply, bounce or loop)".to_owned();
        sqlx::query("INSERT INTO inbound_noise (id, channel, inbox, idempotency_key, reason, conversation_id, payload, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING")
            .bind(&env.id)
            .bind(env.channel.as_str())
            .bind(&env.inbox)
            .bind(&keys[i])
            .bind(&reason)
            .bind(related.as_deref())
            .bind(serde_json::to_string(env)?)
            .bind(env.received_at)
            .execute(&mut **tx)
            .await?;
        outcomes[i] = Some(IngestOutcome::Ignored {
            reason,
            conversation_id: related,
        });
    }
    Ok(live)
}

/// PostgreSQL: refuses the batch if a contact it attached new rows to was merged
/// meanwhile; the router then threads it again, and it resolves to the survivor.
///
/// Cheap, and only run when the batch opened conversations or noted claims: a merge
/// locks both contacts `FOR UPDATE` first, and the foreign-key check of a new
/// conversation or identity row takes a key-share lock on its contact. So either this
/// batch inserted first and the merge waits for it (and then moves its rows), or the
/// merge went first, this batch's insert waited for it, and this statement (a fresh
/// snapshot under READ COMMITTED) sees the merge. Either way a message arriving mid-merge
/// lands once, on the survivor. (SQLite has one writer: nothing can interleave.)
async fn none_merged(tx: &mut Tx, contacts: &[String]) -> Result<()> {
    let merged = select_in(
        tx,
        "SELECT id FROM contacts WHERE merged_into IS NOT NULL AND id",
        &[],
        &dedup(contacts),
    )
    .await?;
    if merged.is_empty() {
        Ok(())
    } else {
        Err(Error::Conflict(
            "a contact was merged while its messages were threaded".into(),
        ))
    }
}

/// The conversations that envelopes replying to one of their messages join: the first
/// named message whose conversation the sender takes part in. A sender who is not a
/// participant (someone else's reply chain) is threaded as a new message instead: no
/// cross-customer merging. A resolved conversation opens again, unless its thread already
/// has another open conversation, which the message then joins.
async fn reply_parents(
    tx: &mut Tx,
    envs: &[Envelope],
    live: &[usize],
    contact_of: &HashMap<Identity, String>,
) -> Result<HashMap<usize, Threaded>> {
    let mut out = HashMap::new();
    let replying: Vec<usize> = live
        .iter()
        .copied()
        .filter(|&i| !envs[i].replies_to.is_empty())
        .collect();
    if replying.is_empty() {
        return Ok(out);
    }
    let parent = named_messages(tx, envs, &replying).await?;
    if parent.is_empty() {
        return Ok(out);
    }
    let (conversations, participants) = candidates(tx, &parent).await?;
    let mut conversations = conversations;
    for &i in &replying {
        let env = &envs[i];
        let contact = &contact_of[&env.sender];
        let found = env.replies_to.iter().find_map(|ext| {
            let id = parent.get(&(env.channel.as_str().to_owned(), ext.clone()))?;
            let c = conversations.get(id)?;
            let takes_part =
                &c.contact_id == contact || participants.contains(&(c.id.clone(), contact.clone()));
            takes_part.then(|| c.clone())
        });
        let Some(c) = found else { continue };
        if c.status != Status::Resolved {
            out.insert(
                i,
                Threaded {
                    conversation: c,
                    reopened: false,
                },
            );
            continue;
        }
        if let Some(other) = open_in_thread(tx, &c.contact_id, &c.inbox, &c.thread_key).await? {
            out.insert(
                i,
                Threaded {
                    conversation: other,
                    reopened: false,
                },
            );
            continue;
        }
        sqlx::query("UPDATE conversations SET status = 'open', resolved_at = NULL, version = version + 1, updated_at = $1 WHERE id = $2 AND status = 'resolved'")
            .bind(env.received_at)
            .bind(&c.id)
            .execute(&mut **tx)
            .await?;
        sqlx::query("INSERT INTO events (id, conversation_id, kind, payload, created_at) VALUES ($1, $2, 'conversation_reopened', $3, $4)")
            .bind(&env.id)
            .bind(&c.id)
            .bind(serde_json::json!({"by_message": env.id}).to_string())
            .bind(env.received_at)
            .execute(&mut **tx)
            .await?;
        let mut c = c;
        c.status = Status::Open;
        c.version += 1;
        // Later messages of this batch that name the same conversation join it as it is.
        conversations.insert(c.id.clone(), c.clone());
        out.insert(
            i,
            Threaded {
                conversation: c,
                reopened: true,
            },
        );
    }
    Ok(out)
}

/// The conversations of the messages the replying envelopes name: ours by the channel's
/// id for them, the contacts' own by idempotency key. Keyed by (channel, external id).
async fn named_messages(
    tx: &mut Tx,
    envs: &[Envelope],
    replying: &[usize],
) -> Result<HashMap<(String, String), String>> {
    // (channel, external id) → conversation
    let mut by_channel: HashMap<&str, Vec<String>> = HashMap::new();
    for &i in replying {
        by_channel
            .entry(envs[i].channel.as_str())
            .or_default()
            .extend(envs[i].replies_to.iter().cloned());
    }
    let mut parent: HashMap<(String, String), String> = HashMap::new();
    for (channel, ext) in &by_channel {
        let ext = dedup(ext);
        // Ours, by the channel's id for them; the contact's own, by idempotency key.
        for row in select_in(
            tx,
            "SELECT external_id, conversation_id FROM messages WHERE direction = 'outbound' AND channel = $1 AND external_id",
            &[Val::Text((*channel).to_owned())],
            &ext,
        )
        .await?
        {
            parent.insert(((*channel).to_owned(), row.try_get(0)?), row.try_get(1)?);
        }
        let keys: Vec<String> = ext.iter().map(|e| format!("{channel}:{e}")).collect();
        for row in select_in(
            tx,
            "SELECT external_id, conversation_id FROM messages WHERE idempotency_key",
            &[],
            &keys,
        )
        .await?
        {
            parent
                .entry(((*channel).to_owned(), row.try_get(0)?))
                .or_insert(row.try_get(1)?);
        }
    }
    Ok(parent)
}

/// The candidate conversations and who takes part in them.
async fn candidates(
    tx: &mut Tx,
    parent: &HashMap<(String, String), String>,
) -> Result<(HashMap<String, Conversation>, HashSet<(String, String)>)> {
    let conversation_ids = dedup(&parent.values().cloned().collect::<Vec<_>>());
    let mut conversations: HashMap<String, Conversation> = HashMap::new();
    for row in select_in(
        tx,
        &format!(
            "SELECT {} FROM conversations WHERE id",
            rows::CONVERSATION_COLUMNS
        ),
        &[],
        &conversation_ids,
    )
    .await?
    {
        let c = rows::conversation(&row)?;
        conversations.insert(c.id.clone(), c);
    }
    let mut participants: HashSet<(String, String)> = HashSet::new();
    for row in select_in(
        tx,
        "SELECT conversation_id, contact_id FROM conversation_participants WHERE conversation_id",
        &[],
        &conversation_ids,
    )
    .await?
    {
        participants.insert((row.try_get(0)?, row.try_get(1)?));
    }
    Ok((conversations, participants))
}

/// Step 5: the messages themselves, Cc'd participants, and each conversation's activity
/// (a customer's message opens a pending or snoozed conversation again).
async fn store_messages(
    tx: &mut Tx,
    envs: &[Envelope],
    keys: &[String],
    live: &[usize],
    contact_of: &HashMap<Identity, String>,
    threads: &HashMap<usize, Threaded>,
    outcomes: &mut [Option<IngestOutcome>],
) -> Result<()> {
    let messages: Vec<(usize, Message)> = live
        .iter()
        .map(|&i| {
            let env = &envs[i];
            (
                i,
                Message {
                    id: env.id.clone(),
                    conversation_id: threads[&i].conversation.id.clone(),
                    direction: Direction::Inbound,
                    author_kind: AuthorKind::Contact,
                    author_id: Some(contact_of[&env.sender].clone()),
                    channel: env.channel,
                    text: env.text.clone(),
                    full_text: env.full_text.clone(),
                    html: env.html.clone(),
                    attachments: env.attachments.clone(),
                    content: env.content.clone(),
                    delivery_state: DeliveryState::Received,
                    delivery_error: None,
                    delivery_detail: None,
                    external_id: Some(env.external_id.clone()),
                    created_at: env.received_at,
                    internal: false,
                },
            )
        })
        .collect();
    let rows = message_rows(envs, keys, &messages)?;
    let inserted = insert_rows(
        tx,
        INSERT_MESSAGES,
        "ON CONFLICT DO NOTHING RETURNING id",
        &rows,
    )
    .await?;
    let inserted: HashSet<String> = inserted
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;

    add_cc_participants(tx, envs, &messages, &inserted, contact_of, threads).await?;

    let latest = touch_conversations(tx, &messages, &inserted).await?;

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
        let threaded = &threads[&i];
        let mut conversation = threaded.conversation.clone();
        if let Some(t) = latest.get(&conversation.id) {
            conversation.last_message_at = *t;
            conversation.updated_at = *t;
        }
        let woke = matches!(conversation.status, Status::Snoozed | Status::Pending);
        if woke {
            conversation.status = Status::Open;
            conversation.snoozed_until = None;
            conversation.version += 1;
        }
        message.conversation_id = conversation.id.clone();
        outcomes[i] = Some(IngestOutcome::Stored(Box::new(Ingested {
            contact_id: contact_of[&envs[i].sender].clone(),
            new_conversation: conversation.id == envs[i].id,
            reopened: threaded.reopened,
            woke,
            message,
            conversation,
        })));
    }
    Ok(())
}

/// The statement head that stores inbound messages; its rows come from [`message_row`].
pub(super) const INSERT_MESSAGES: &str = "INSERT INTO messages (id, conversation_id, direction, author_kind, author_id, channel, text, full_text, html, attachments, content, delivery_state, external_id, idempotency_key, extra, attempts, created_at, updated_at)";

/// The `messages` rows of a batch, with unknown envelope fields kept beside each.
fn message_rows(
    envs: &[Envelope],
    keys: &[String],
    messages: &[(usize, Message)],
) -> Result<Vec<Vec<Val>>> {
    let mut rows = Vec::with_capacity(messages.len());
    for (i, m) in messages {
        let extra = if envs[*i].unknown.is_empty() {
            None
        } else {
            Some(serde_json::to_string(&envs[*i].unknown)?)
        };
        rows.push(message_row(m, &keys[*i], extra)?);
    }
    Ok(rows)
}

/// One row of [`INSERT_MESSAGES`]: the message, its idempotency key and the envelope's
/// unknown fields.
pub(super) fn message_row(m: &Message, key: &str, extra: Option<String>) -> Result<Vec<Val>> {
    Ok(vec![
        Val::Text(m.id.clone()),
        Val::Text(m.conversation_id.clone()),
        Val::Text(m.direction.as_str().into()),
        Val::Text(m.author_kind.as_str().into()),
        Val::OptText(m.author_id.clone()),
        Val::Text(m.channel.as_str().into()),
        Val::Text(m.text.clone()),
        Val::OptText(m.full_text.clone()),
        Val::OptText(m.html.as_ref().map(|h| h.as_str().to_owned())),
        Val::Text(serde_json::to_string(&m.attachments)?),
        Val::OptText(m.content.as_ref().map(serde_json::to_string).transpose()?),
        Val::Text(m.delivery_state.as_str().into()),
        Val::OptText(m.external_id.clone()),
        Val::Text(key.to_owned()),
        Val::OptText(extra),
        Val::Int(0),
        Val::Int(m.created_at),
        Val::Int(m.created_at),
    ])
}

/// Cc'd people of stored messages take part in their conversations from now on.
async fn add_cc_participants(
    tx: &mut Tx,
    envs: &[Envelope],
    messages: &[(usize, Message)],
    inserted: &HashSet<String>,
    contact_of: &HashMap<Identity, String>,
    threads: &HashMap<usize, Threaded>,
) -> Result<()> {
    let mut participant_rows: Vec<Vec<Val>> = Vec::new();
    let mut seen: HashSet<(String, String)> = HashSet::new();
    for (i, m) in messages.iter().filter(|(_, m)| inserted.contains(&m.id)) {
        let c = &threads[i].conversation;
        for cc in &envs[*i].cc {
            let Some(contact) = contact_of.get(cc) else {
                continue;
            };
            if contact != &c.contact_id && seen.insert((c.id.clone(), contact.clone())) {
                participant_rows.push(vec![
                    Val::Text(c.id.clone()),
                    Val::Text(contact.clone()),
                    Val::Text("cc".into()),
                    Val::Int(m.created_at),
                ]);
            }
        }
    }
    insert_rows(
        tx,
        "INSERT INTO conversation_participants (conversation_id, contact_id, role, created_at)",
        "ON CONFLICT DO NOTHING",
        &participant_rows,
    )
    .await?;
    Ok(())
}

/// Moves each touched conversation's activity time forward, and opens pending and
/// snoozed ones again (the customer wrote: the SLA pause ends, the version moves on);
/// returns the activity time per conversation.
async fn touch_conversations(
    tx: &mut Tx,
    messages: &[(usize, Message)],
    inserted: &HashSet<String>,
) -> Result<HashMap<String, i64>> {
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
        let first = vals.len() + 1;
        // Each conversation's time joined from a list of (id, time) rows: a `CASE id WHEN
        // … WHEN …` of one branch per conversation, read four times for each row, compared
        // ids a number of times that grew with the square of the batch (it was the
        // intake's largest cost inside PostgreSQL). Every SET expression reads the row as
        // it was before the statement.
        let pairs = (0..chunk.len())
            .map(|k| format!("(${}, ${})", 2 * k + 1, 2 * k + 2))
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "UPDATE conversations SET last_message_at = v.t, updated_at = v.t, \
             pending_ms = pending_ms + CASE WHEN pending_since IS NULL OR v.t < pending_since THEN 0 \
               ELSE v.t - pending_since END, \
             pending_since = NULL, \
             snoozed_until = CASE WHEN status = 'snoozed' THEN NULL ELSE snoozed_until END, \
             version = version + CASE WHEN status IN ('snoozed', 'pending') THEN 1 ELSE 0 END, \
             status = CASE WHEN status IN ('snoozed', 'pending') THEN 'open' ELSE status END \
             FROM (SELECT column1 AS id, column2 AS t FROM (VALUES {pairs}) AS x) AS v \
             WHERE conversations.id = v.id"
        );
        query_with(sql, &vals).execute(&mut **tx).await?;
        let ids = placeholders(first, chunk.len());
        vals.extend(chunk.iter().map(|(id, _)| Val::Text((*id).clone())));
        let case = case.replace("CASE id", "CASE conversation_id");
        let sql = format!(
            "UPDATE sla_pauses SET ended_at = CASE WHEN ({case} ELSE 0 END) < started_at THEN started_at ELSE ({case} ELSE 0 END) END \
             WHERE ended_at IS NULL AND conversation_id IN ({ids})"
        );
        query_with(sql, &vals).execute(&mut **tx).await?;
    }
    Ok(latest)
}

/// Contacts of the given verified identities, following merges.
async fn find_contacts(tx: &mut Tx, identities: &[&Identity]) -> Result<HashMap<Identity, String>> {
    let mut by_kind: HashMap<IdentityKind, Vec<String>> = HashMap::new();
    for i in identities {
        by_kind
            .entry(i.kind())
            .or_default()
            .push(i.value().to_owned());
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
            let value: String = row.try_get(0)?;
            out.insert(Identity::new(kind, &value)?, row.try_get(1)?);
        }
    }
    Ok(out)
}

fn dedup(values: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    values
        .iter()
        .filter(|v| seen.insert(v.as_str()))
        .cloned()
        .collect()
}

/// How long after its resolution a chat's next message opens the same conversation again
/// instead of a new one.
const REOPEN_WINDOW_MS: i64 = 7 * 24 * 3_600_000;

/// The open conversation of a thread, if any.
pub(crate) async fn open_in_thread(
    tx: &mut Tx,
    contact_id: &str,
    inbox: &str,
    thread_key: &str,
) -> Result<Option<Conversation>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {} FROM conversations WHERE contact_id = $1 AND inbox = $2 AND thread_key = $3 AND status <> 'resolved'",
        rows::CONVERSATION_COLUMNS
    )))
    .bind(contact_id)
    .bind(inbox)
    .bind(thread_key)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(rows::conversation).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_rows_key_each_value_by_its_column() {
        let rows = vec![
            vec![
                Val::Text("a".into()),
                Val::OptText(None),
                Val::Int(7),
                Val::OptInt(Some(-1)),
            ],
            vec![
                Val::Text("é \"q\"".into()),
                Val::OptText(Some("x".into())),
                Val::Int(0),
                Val::OptInt(None),
            ],
        ];
        let json = json_rows("INSERT INTO t (id, note, n, since)", &rows).unwrap();
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            back,
            serde_json::json!([
                {"id": "a", "note": null, "n": 7, "since": -1},
                {"id": "é \"q\"", "note": "x", "n": 0, "since": null},
            ])
        );
        assert_eq!(json_rows("INSERT INTO t (id)", &[]).unwrap(), "[]");
        assert!(json_rows("INSERT INTO t (id, n)", &rows[..1]).is_err());
    }
}
