//! Tickets clients open from the portal. A ticket is a conversation of its own (thread
//! `ticket:<id>`) that shares its human number, so "#1042" names the same thing on both
//! sides; its status and assignee are the conversation's. Clients read tickets through
//! their [`ClientScope`]: a client admin sees every ticket of the company, a client user
//! the ones it opened.

use sqlx::{AssertSqlSafe, Row};

use std::collections::HashMap;

use super::ingest::{
    INSERT_CONVERSATIONS, INSERT_EVENTS, INSERT_MESSAGES, Val, conversation_rows, insert_rows,
    json_rows, message_row, opened_events,
};
use super::portal::ClientScope;
use super::{Backend, Store, WriteTx, rows};
use crate::clock::Ids;
use crate::domain::{
    Attachment, AuthorKind, Card, CardPayload, Channel, Conversation, DeliveryState, Direction,
    Message, Status, TicketStatus, idempotency_key,
};
use crate::error::{Error, Result};

/// What the thread keys of ticket conversations start with.
pub const TICKET_THREAD: &str = "ticket:";

/// The thread key of a ticket's conversation.
pub fn ticket_thread(ticket_id: &str) -> String {
    format!("{TICKET_THREAD}{ticket_id}")
}

/// Whether a conversation is a portal ticket.
pub fn is_ticket(c: &Conversation) -> bool {
    c.thread_key.starts_with(TICKET_THREAD)
}

/// The batch insert of tickets on PostgreSQL (migration 22): every table's rows as JSON.
const OPEN_TICKETS: &str = "SELECT switchboard_open_tickets($1::jsonb, $2::jsonb, $3::jsonb, $4::jsonb, $5::jsonb, $6::jsonb)";
/// The SQLSTATE with which [`OPEN_TICKETS`] undoes a batch one of whose forms another
/// transaction stored first.
const OPENED_MEANWHILE: &str = "SB001";
const INSERT_TICKETS: &str = "INSERT INTO tickets (id, number, conversation_id, company_id, contact_id, subject, category, client_key, created_at)";
const INSERT_CARDS: &str =
    "INSERT INTO cards (id, conversation_id, kind, subject_id, payload, created_at, updated_at)";
const INSERT_AUDIT: &str = "INSERT INTO portal_audit (id, company_id, contact_id, user_id, action, subject, detail, created_at)";

/// Longest subject kept.
pub const MAX_SUBJECT_CHARS: usize = 200;

/// A ticket as a list or its page shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ticket {
    pub id: String,
    pub number: i64,
    pub conversation_id: String,
    pub company_id: Option<String>,
    pub contact_id: String,
    /// Who opened it (the contact's name).
    pub opened_by: Option<String>,
    pub subject: String,
    pub category: String,
    pub status: TicketStatus,
    /// The agent working on it, by name.
    pub assignee: Option<String>,
    pub created_at: i64,
    pub last_message_at: i64,
}

impl Ticket {
    /// The card the ticket's conversation shows.
    pub fn card(&self) -> CardPayload {
        CardPayload::Ticket {
            id: self.id.clone(),
            number: self.number.to_string(),
            title: self.subject.clone(),
            status: self.status,
        }
    }
}

/// What a ticket's status is, from its conversation's.
pub fn ticket_status(s: Status) -> TicketStatus {
    match s {
        Status::Open => TicketStatus::Open,
        Status::Pending | Status::Snoozed => TicketStatus::Pending,
        Status::Resolved => TicketStatus::Resolved,
    }
}

/// A ticket to open.
#[derive(Debug, Clone)]
pub struct NewTicket<'a> {
    /// The inbox whose agents answer it, and the channel replies go out on.
    pub inbox: &'a str,
    pub channel: Channel,
    pub subject: &'a str,
    pub category: &'a str,
    /// The form's own key: sending one form twice opens one ticket.
    pub client_key: &'a str,
    /// The client's words in the form, stored with the ticket in its transaction: a
    /// ticket never exists without its first message.
    pub first: Option<FirstMessage<'a>>,
}

/// A ticket's first message, as the client wrote it in the form (its files already
/// stored).
#[derive(Debug, Clone, Copy)]
pub struct FirstMessage<'a> {
    pub text: &'a str,
    pub attachments: &'a [Attachment],
}

/// What opening a ticket gives: the ticket, its conversation, its card, whether it is
/// new (`false`: the form was sent before and this is the ticket it opened), and the
/// first message stored with it (only when new).
pub type Opened = (Ticket, Conversation, Card, bool, Option<Message>);

/// The first message of a ticket, in the portal's channel and its thread, by its client.
fn first_message(t: &Ticket, first: &FirstMessage<'_>, id: String) -> Message {
    Message {
        id,
        conversation_id: t.conversation_id.clone(),
        direction: Direction::Inbound,
        author_kind: AuthorKind::Contact,
        author_id: Some(t.contact_id.clone()),
        channel: Channel::Portal,
        text: first.text.to_owned(),
        full_text: None,
        html: None,
        attachments: first.attachments.to_vec(),
        content: None,
        delivery_state: DeliveryState::Received,
        delivery_error: None,
        delivery_detail: None,
        // The thread's own key, as the portal's channel names a ticket's first message.
        external_id: Some(ticket_thread(&t.id)),
        created_at: t.created_at,
        internal: false,
    }
}

/// A form's subject and key, checked.
fn checked(subject: &str, client_key: &str) -> Result<()> {
    if subject.is_empty() {
        return Err(Error::invalid("a ticket needs a subject"));
    }
    if subject.chars().count() > MAX_SUBJECT_CHARS {
        return Err(Error::invalid(format!(
            "a subject may be at most {MAX_SUBJECT_CHARS} characters"
        )));
    }
    if client_key.is_empty() || client_key.len() > 64 {
        return Err(Error::invalid("the form's key is missing; reload the page"));
    }
    Ok(())
}

/// How the portal lists tickets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketQuery {
    /// `open` (open and pending) or `resolved`; `None`: all.
    pub state: Option<String>,
    pub page: i64,
    /// At most 100; 0 (the default) is 25.
    pub per_page: i64,
}

const TICKET_COLUMNS: &str = "t.id, t.number, t.conversation_id, t.company_id, t.contact_id, t.subject, t.category, t.created_at, \
     c.status, c.last_message_at, ct.name AS opened_by, u.name AS assignee";
const TICKET_FROM: &str = "tickets t JOIN conversations c ON c.id = t.conversation_id \
     LEFT JOIN contacts ct ON ct.id = t.contact_id LEFT JOIN users u ON u.id = c.assignee_id";

fn ticket(r: &sqlx::any::AnyRow) -> Result<Ticket> {
    Ok(Ticket {
        id: r.try_get("id")?,
        number: r.try_get("number")?,
        conversation_id: r.try_get("conversation_id")?,
        company_id: r.try_get("company_id")?,
        contact_id: r.try_get("contact_id")?,
        opened_by: r.try_get("opened_by")?,
        subject: r.try_get("subject")?,
        category: r.try_get("category")?,
        status: ticket_status(Status::parse(&r.try_get::<String, _>("status")?)?),
        assignee: r.try_get("assignee")?,
        created_at: r.try_get("created_at")?,
        last_message_at: r.try_get("last_message_at")?,
    })
}

/// `(clause, binds)`: the tickets a client may see. `$1`, `$2` are taken.
fn scope_clause(s: &ClientScope) -> (&'static str, [String; 2]) {
    match (&s.company_id, s.is_admin()) {
        (Some(c), true) => (
            "(t.company_id = $1 OR t.contact_id = $2)",
            [c.clone(), s.contact_id.clone()],
        ),
        _ => (
            "(t.contact_id = $1 AND t.contact_id = $2)",
            [s.contact_id.clone(), s.contact_id.clone()],
        ),
    }
}

/// The rows a batch of tickets writes, one list per table.
struct TicketRows {
    conversations: Vec<Vec<Val>>,
    events: Vec<Vec<Val>>,
    tickets: Vec<Vec<Val>>,
    cards: Vec<Vec<Val>>,
    audit: Vec<Vec<Val>>,
    messages: Vec<Vec<Val>>,
}

/// The batch's tickets and their open conversations, numbered in order from the `n`
/// numbers taken (`last` the highest), each in its ticket's thread.
fn new_tickets(
    ids: &Ids,
    rows: &[(usize, &ClientScope, &NewTicket<'_>, &str, &str)],
    last: i64,
    n: i64,
    now: i64,
) -> (Vec<Ticket>, Vec<Conversation>) {
    let mut tickets = Vec::with_capacity(rows.len());
    let mut conversations = Vec::with_capacity(rows.len());
    for (k, (_, scope, new, subject, contact)) in rows.iter().enumerate() {
        let number = last - n + 1 + i64::try_from(k).unwrap_or(0);
        let ticket_id = ids.new_id();
        let c = super::ingest::ours(
            ids.new_id(),
            number,
            new.inbox,
            new.channel,
            scope.company_id.clone(),
            contact,
            &ticket_thread(&ticket_id),
            Some(subject),
            Status::Open,
            now,
        );
        tickets.push(Ticket {
            id: ticket_id,
            number,
            conversation_id: c.id.clone(),
            company_id: scope.company_id.clone(),
            contact_id: (*contact).to_owned(),
            opened_by: scope.name.clone(),
            subject: (*subject).to_owned(),
            category: new.category.to_owned(),
            status: TicketStatus::Open,
            assignee: None,
            created_at: now,
            last_message_at: now,
        });
        conversations.push(c);
    }
    (tickets, conversations)
}

/// The `tickets` rows of a batch, each with its form's key so that a form sent twice
/// opens one ticket.
fn ticket_rows(
    rows: &[(usize, &ClientScope, &NewTicket<'_>, &str, &str)],
    tickets: &[Ticket],
    now: i64,
) -> Vec<Vec<Val>> {
    rows.iter()
        .zip(tickets)
        .map(|((_, _, new, ..), t)| {
            vec![
                Val::Text(t.id.clone()),
                Val::Int(t.number),
                Val::Text(t.conversation_id.clone()),
                Val::OptText(t.company_id.clone()),
                Val::Text(t.contact_id.clone()),
                Val::Text(t.subject.clone()),
                Val::Text(t.category.clone()),
                Val::Text(new.client_key.to_owned()),
                Val::Int(now),
            ]
        })
        .collect()
}

/// The card each ticket's conversation shows, so agents see the ticket there.
fn ticket_cards(ids: &Ids, tickets: &[Ticket], now: i64) -> Vec<Card> {
    tickets
        .iter()
        .map(|t| Card {
            id: ids.new_id(),
            conversation_id: t.conversation_id.clone(),
            payload: t.card(),
            created_at: now,
            updated_at: now,
        })
        .collect()
}

/// The `cards` rows of a batch's cards.
fn card_rows(cards: &[Card], now: i64) -> Result<Vec<Vec<Val>>> {
    cards
        .iter()
        .map(|card| {
            Ok(vec![
                Val::Text(card.id.clone()),
                Val::Text(card.conversation_id.clone()),
                Val::Text(card.payload.kind().as_str().into()),
                Val::Text(card.payload.subject_id().to_owned()),
                Val::Text(serde_json::to_string(&card.payload)?),
                Val::Int(now),
                Val::Int(now),
            ])
        })
        .collect::<Result<Vec<_>>>()
}

/// The `portal_audit` rows of a batch: the clients' activity logs have their tickets,
/// written with them.
fn audit_rows(
    ids: &Ids,
    rows: &[(usize, &ClientScope, &NewTicket<'_>, &str, &str)],
    tickets: &[Ticket],
    now: i64,
) -> Vec<Vec<Val>> {
    rows.iter()
        .zip(tickets)
        .map(|((_, scope, ..), t)| {
            vec![
                Val::Text(ids.new_id()),
                Val::OptText(scope.company_id.clone()),
                Val::Text(scope.contact_id.clone()),
                Val::Text(scope.user_id.clone()),
                Val::Text("ticket".into()),
                Val::Text(format!("#{}", t.number)),
                Val::Text(t.subject.clone()),
                Val::Int(now),
            ]
        })
        .collect()
}

/// Each ticket's first message, when its form had one. They go in the same transaction:
/// the conversation was opened with their time as its last message's, so nothing of it
/// is written twice.
fn first_messages(
    ids: &Ids,
    rows: &[(usize, &ClientScope, &NewTicket<'_>, &str, &str)],
    tickets: &[Ticket],
) -> Vec<Option<Message>> {
    rows.iter()
        .zip(tickets)
        .map(|((_, _, new, ..), t)| new.first.map(|f| first_message(t, &f, ids.new_id())))
        .collect()
}

/// The `messages` rows of the first messages, keyed by their thread so that each is
/// stored once.
fn first_message_rows(messages: &[Option<Message>]) -> Result<Vec<Vec<Val>>> {
    messages
        .iter()
        .flatten()
        .map(|m| {
            let key = idempotency_key(m.channel, m.external_id.as_deref().unwrap_or(""));
            message_row(m, &key, None)
        })
        .collect::<Result<Vec<_>>>()
}

/// SQLite: stores a batch in `tx`, one statement per table, and commits; `false`, nothing
/// stored, when a form's key was stored before.
async fn store_tickets_on_sqlite(
    mut tx: WriteTx,
    conversations: &[Conversation],
    now: i64,
    batch: &TicketRows,
) -> Result<bool> {
    super::ingest::insert_conversations(&mut tx, conversations, Some(now)).await?;
    let inserted = insert_rows(
        &mut tx,
        INSERT_TICKETS,
        "ON CONFLICT DO NOTHING RETURNING id",
        &batch.tickets,
    )
    .await?
    .len();
    if inserted < batch.tickets.len() {
        return Ok(false); // rolled back when `tx` is dropped
    }
    insert_rows(&mut tx, INSERT_CARDS, "", &batch.cards).await?;
    insert_rows(&mut tx, INSERT_AUDIT, "", &batch.audit).await?;
    insert_rows(&mut tx, INSERT_MESSAGES, "", &batch.messages).await?;
    tx.commit().await?;
    Ok(true)
}

/// The answers of a stored batch, by form index: each new ticket with its conversation,
/// card and first message.
fn opened_tickets(
    rows: &[(usize, &ClientScope, &NewTicket<'_>, &str, &str)],
    tickets: Vec<Ticket>,
    conversations: Vec<Conversation>,
    cards: Vec<Card>,
    messages: Vec<Option<Message>>,
) -> Vec<(usize, Opened)> {
    rows.iter()
        .zip(
            tickets
                .into_iter()
                .zip(conversations)
                .zip(cards)
                .zip(messages),
        )
        .map(|((i, ..), (((t, c), card), m))| (*i, (t, c, card, true, m)))
        .collect()
}

impl Store {
    /// Opens a ticket for the signed-in client: its conversation (open, for people from
    /// now: the bot stays out), the ticket, its card and the client's audit line, in one
    /// transaction. The same form sent again returns the ticket it opened, with `false`.
    pub async fn open_ticket(
        &self,
        ids: &Ids,
        scope: &ClientScope,
        new: &NewTicket<'_>,
    ) -> Result<Opened> {
        self.open_tickets(ids, &[(scope, new.clone())])
            .await?
            .into_iter()
            .next()
            .unwrap_or_else(|| Err(Error::Conflict("no ticket was opened".into())))
    }

    /// Opens many clients' tickets with one transaction and a fixed number of statements
    /// (group commit: the portal gathers the forms sent at the same moment). Each form
    /// gets its own answer, in order: bad input refuses that form alone, and a form sent
    /// again (stored before, or twice in this batch) gets the ticket it opened, with
    /// `false`. An error for the whole batch (the database) is the outer one.
    pub async fn open_tickets(
        &self,
        ids: &Ids,
        batch: &[(&ClientScope, NewTicket<'_>)],
    ) -> Result<Vec<Result<Opened>>> {
        let mut out: Vec<Option<Result<Opened>>> = batch.iter().map(|_| None).collect();
        let mut subjects: Vec<&str> = Vec::with_capacity(batch.len());
        for (i, (_, new)) in batch.iter().enumerate() {
            let subject = new.subject.trim();
            subjects.push(subject);
            if let Err(e) = checked(subject, new.client_key) {
                out[i] = Some(Err(e));
            }
        }
        // Merged contacts: the ticket goes to the survivor, read once for the batch.
        let asked: Vec<String> = batch
            .iter()
            .enumerate()
            .filter(|(i, _)| out[*i].is_none())
            .map(|(_, (s, _))| s.contact_id.clone())
            .collect();
        let survivors = self.surviving_contacts(&asked).await?;
        // One form per (contact, key); a repeat inside the batch waits for the first.
        let mut first_of: HashMap<(&str, &str), usize> = HashMap::new();
        let mut repeats: Vec<(usize, usize)> = Vec::new();
        let mut pending: Vec<usize> = Vec::new();
        for (i, (scope, new)) in batch.iter().enumerate() {
            if out[i].is_some() {
                continue;
            }
            let Some(contact) = survivors.get(&scope.contact_id) else {
                out[i] = Some(Err(Error::not_found(format!(
                    "contact {}",
                    scope.contact_id
                ))));
                continue;
            };
            match first_of.entry((contact.as_str(), new.client_key)) {
                std::collections::hash_map::Entry::Occupied(e) => repeats.push((i, *e.get())),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(i);
                    pending.push(i);
                }
            }
        }
        // A form whose key another transaction stored first (a form sent twice at once
        // to two nodes) undoes the attempt; the next one answers it with that ticket.
        for _ in 0..3 {
            if pending.is_empty() {
                break;
            }
            let rows: Vec<(usize, &ClientScope, &NewTicket<'_>, &str, &str)> = pending
                .iter()
                .map(|&i| {
                    let (scope, new) = &batch[i];
                    let contact = survivors.get(&scope.contact_id).map_or("", String::as_str);
                    (i, *scope, new, subjects[i], contact)
                })
                .collect();
            let (opened, lost) = self.insert_tickets(ids, &rows).await?;
            for (i, o) in opened {
                out[i] = Some(Ok(o));
            }
            // Nothing was stored: the forms answered by a stored ticket leave, the rest
            // go again.
            for i in lost {
                let (scope, new) = &batch[i];
                let contact = survivors
                    .get(&scope.contact_id)
                    .map_or(scope.contact_id.as_str(), String::as_str);
                if let Some(found) = self.ticket_by_key(contact, new.client_key).await? {
                    out[i] = Some(self.opened(found, false).await);
                }
            }
            pending.retain(|&i| out[i].is_none());
        }
        for i in pending {
            out[i] = Some(Err(Error::Conflict(
                "the ticket was opened meanwhile; send the form again".into(),
            )));
        }
        for (i, first) in repeats {
            out[i] = Some(match &out[first] {
                Some(Ok((t, c, card, ..))) => Ok((t.clone(), c.clone(), card.clone(), false, None)),
                Some(Err(e)) => Err(Error::Conflict(e.to_string())),
                None => Err(Error::Conflict("the ticket was not opened".into())),
            });
        }
        Ok(out
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Err(Error::Conflict("the ticket was not opened".into()))))
            .collect())
    }

    /// One transaction for `rows` (index, scope, form, trimmed subject, surviving contact):
    /// the tickets opened, or none and the indexes whose key may have been stored
    /// meanwhile. On PostgreSQL the transaction is one statement
    /// ([`OPEN_TICKETS`]), so one round trip; on SQLite, in the process, one statement per
    /// table.
    async fn insert_tickets(
        &self,
        ids: &Ids,
        rows: &[(usize, &ClientScope, &NewTicket<'_>, &str, &str)],
    ) -> Result<(Vec<(usize, Opened)>, Vec<usize>)> {
        let n = i64::try_from(rows.len()).map_err(|_| Error::invalid("too many tickets"))?;
        let now = ids.now_ms();
        let (tx, last) = self.ticket_numbers(n).await?;
        let (tickets, conversations) = new_tickets(ids, rows, last, n, now);
        let ticket_rows = ticket_rows(rows, &tickets, now);
        let cards = ticket_cards(ids, &tickets, now);
        let card_rows = card_rows(&cards, now)?;
        let audit_rows = audit_rows(ids, rows, &tickets, now);
        let messages = first_messages(ids, rows, &tickets);
        let batch = TicketRows {
            messages: first_message_rows(&messages)?,
            // People from the start: their SLA clocks run from now.
            conversations: conversation_rows(&conversations, Some(now)),
            events: opened_events(conversations.iter()),
            tickets: ticket_rows,
            cards: card_rows,
            audit: audit_rows,
        };
        let stored = match tx {
            None => self.store_tickets_on_postgres(&batch).await?,
            Some(tx) => store_tickets_on_sqlite(tx, &conversations, now, &batch).await?,
        };
        if !stored {
            // Nothing was stored, and the numbers taken are a gap.
            return Ok((Vec::new(), rows.iter().map(|(i, ..)| *i).collect()));
        }
        let opened = opened_tickets(rows, tickets, conversations, cards, messages);
        Ok((opened, Vec::new()))
    }

    /// Takes a batch's `n` conversation numbers and returns the last one, with the write
    /// transaction on SQLite (`None` on PostgreSQL, whose batch is one statement).
    async fn ticket_numbers(&self, n: i64) -> Result<(Option<WriteTx>, i64)> {
        // SQLite takes its numbers inside the write transaction; PostgreSQL in a short
        // one of their own, before the batch's.
        let mut tx = match self.backend {
            Backend::Sqlite => Some(self.begin_write().await?),
            Backend::Postgres => None,
        };
        let last = match tx.as_mut() {
            Some(tx) => self.take_numbers(tx, "conversation_number", n).await?,
            None => self
                .take_numbers_apart("conversation_number", n)
                .await?
                .ok_or_else(|| Error::Conflict("no counter for conversation numbers".into()))?,
        };
        Ok((tx, last))
    }

    /// PostgreSQL: stores a batch with one statement ([`OPEN_TICKETS`]), so one round
    /// trip; `false`, nothing stored, when another transaction stored one of its forms
    /// first.
    async fn store_tickets_on_postgres(&self, batch: &TicketRows) -> Result<bool> {
        let done = sqlx::query(OPEN_TICKETS)
            .bind(json_rows(INSERT_CONVERSATIONS, &batch.conversations)?)
            .bind(json_rows(INSERT_EVENTS, &batch.events)?)
            .bind(json_rows(INSERT_TICKETS, &batch.tickets)?)
            .bind(json_rows(INSERT_CARDS, &batch.cards)?)
            .bind(json_rows(INSERT_AUDIT, &batch.audit)?)
            .bind(json_rows(INSERT_MESSAGES, &batch.messages)?)
            .execute(&self.pool)
            .await;
        match done {
            Ok(_) => Ok(true),
            // Undone: any form of the batch may be the one stored meanwhile.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(OPENED_MEANWHILE) => {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn opened(&self, t: Ticket, fresh: bool) -> Result<Opened> {
        let c = self.conversation(&t.conversation_id).await?;
        let payload = t.card();
        let card = self
            .cards(&c.id)
            .await?
            .into_iter()
            .find(|c| {
                c.payload.kind() == payload.kind() && c.payload.subject_id() == payload.subject_id()
            })
            .ok_or_else(|| Error::not_found(format!("the card of ticket {}", t.number)))?;
        Ok((t, c, card, fresh, None))
    }

    async fn ticket_by_key(&self, contact_id: &str, key: &str) -> Result<Option<Ticket>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TICKET_COLUMNS} FROM {TICKET_FROM} WHERE t.contact_id = $1 AND t.client_key = $2"
        )))
        .bind(contact_id)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(ticket).transpose()
    }

    /// A page of the tickets the client may see, newest activity first, and how many
    /// there are in all.
    pub async fn client_tickets(
        &self,
        scope: &ClientScope,
        q: &TicketQuery,
    ) -> Result<(Vec<Ticket>, i64)> {
        let state = match q.state.as_deref() {
            None | Some("") | Some("all") => "",
            Some("open") => "AND c.status <> 'resolved'",
            Some("resolved") => "AND c.status = 'resolved'",
            Some(other) => return Err(Error::invalid(format!("no ticket state {other:?}"))),
        };
        let (clause, [a, b]) = scope_clause(scope);
        let per_page = if q.per_page <= 0 {
            25
        } else {
            q.per_page.min(100)
        };
        let offset = (q.page.max(1) - 1).saturating_mul(per_page);
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TICKET_COLUMNS}, CAST(COUNT(*) OVER () AS BIGINT) AS matching FROM {TICKET_FROM} \
             WHERE {clause} {state} ORDER BY c.last_message_at DESC, t.id DESC LIMIT {per_page} OFFSET {offset}"
        )))
        .bind(a)
        .bind(b)
        .fetch_all(&self.pool)
        .await?;
        let total = match rows.first() {
            Some(r) => r.try_get("matching")?,
            None => 0,
        };
        Ok((rows.iter().map(ticket).collect::<Result<_>>()?, total))
    }

    /// One ticket the client may see, by its number; `None` for anyone else's.
    pub async fn client_ticket(&self, scope: &ClientScope, number: i64) -> Result<Option<Ticket>> {
        let (clause, [a, b]) = scope_clause(scope);
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TICKET_COLUMNS} FROM {TICKET_FROM} WHERE {clause} AND t.number = $3"
        )))
        .bind(a)
        .bind(b)
        .bind(number)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(ticket).transpose()
    }

    /// The ticket a conversation is, if it is one (for agents' pages and the card).
    pub async fn ticket_of_conversation(&self, conversation_id: &str) -> Result<Option<Ticket>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TICKET_COLUMNS} FROM {TICKET_FROM} WHERE t.conversation_id = $1"
        )))
        .bind(conversation_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(ticket).transpose()
    }

    /// The messages of a ticket a client sees: its conversation's, without internal
    /// notes and the support side's own lines.
    pub async fn ticket_messages(&self, t: &Ticket) -> Result<Vec<crate::domain::Message>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM messages WHERE conversation_id = $1 AND internal = 0 ORDER BY id LIMIT 500",
            rows::MESSAGE_COLUMNS
        )))
        .bind(&t.conversation_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::message).collect()
    }
}
