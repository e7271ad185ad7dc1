//! Tickets clients open from the portal. A ticket is a conversation of its own (thread
//! `ticket:<id>`) that shares its human number, so "#1042" names the same thing on both
//! sides; its status and assignee are the conversation's. Clients read tickets through
//! their [`ClientScope`]: a client admin sees every ticket of the company, a client user
//! the ones it opened.

use sqlx::{AssertSqlSafe, Row};

use super::portal::ClientScope;
use super::{Store, rows};
use crate::clock::Ids;
use crate::domain::{Card, CardPayload, Channel, Conversation, Status, TicketStatus};
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

impl Store {
    /// Opens a ticket for the signed-in client: its conversation (open, for people from
    /// now: the bot stays out), the ticket, its card and the client's audit line, in one
    /// transaction. The same form sent again returns the ticket it opened, with `false`.
    pub async fn open_ticket(
        &self,
        ids: &Ids,
        scope: &ClientScope,
        new: &NewTicket<'_>,
    ) -> Result<(Ticket, Conversation, Card, bool)> {
        let subject = new.subject.trim();
        if subject.is_empty() {
            return Err(Error::invalid("a ticket needs a subject"));
        }
        if subject.chars().count() > MAX_SUBJECT_CHARS {
            return Err(Error::invalid(format!(
                "a subject may be at most {MAX_SUBJECT_CHARS} characters"
            )));
        }
        if new.client_key.is_empty() || new.client_key.len() > 64 {
            return Err(Error::invalid("the form's key is missing; reload the page"));
        }
        let contact_id = self.surviving_contact(&scope.contact_id).await?;
        let now = ids.now_ms();
        let ticket_id = ids.new_id();
        let mut tx = self.begin_write().await?;
        let number = self.take_numbers(&mut tx, "conversation_number", 1).await?;
        let c = super::ingest::ours(
            ids.new_id(),
            number,
            new.inbox,
            new.channel,
            scope.company_id.clone(),
            &contact_id,
            &ticket_thread(&ticket_id),
            Some(subject),
            Status::Open,
            now,
        );
        super::ingest::insert_conversations(&mut tx, std::slice::from_ref(&c)).await?;
        // People from the start: its SLA clocks run from now.
        sqlx::query("UPDATE conversations SET people_since = $1 WHERE id = $2")
            .bind(now)
            .bind(&c.id)
            .execute(&mut **tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO tickets (id, number, conversation_id, company_id, contact_id, subject, category, client_key, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(&ticket_id)
        .bind(number)
        .bind(&c.id)
        .bind(scope.company_id.as_deref())
        .bind(&contact_id)
        .bind(subject)
        .bind(new.category)
        .bind(new.client_key)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        if inserted.rows_affected() == 0 {
            // The same form sent again: the ticket it opened (the number taken is a gap).
            drop(tx);
            let found = self
                .ticket_by_key(scope, new.client_key)
                .await?
                .ok_or_else(|| Error::Conflict("the ticket was opened meanwhile".into()))?;
            return self.opened(found, false).await;
        }
        let t = Ticket {
            id: ticket_id,
            number,
            conversation_id: c.id.clone(),
            company_id: scope.company_id.clone(),
            contact_id,
            opened_by: scope.name.clone(),
            subject: subject.to_owned(),
            category: new.category.to_owned(),
            status: TicketStatus::Open,
            assignee: None,
            created_at: now,
            last_message_at: now,
        };
        let payload = t.card();
        let card = Card {
            id: ids.new_id(),
            conversation_id: c.id.clone(),
            payload: payload.clone(),
            created_at: now,
            updated_at: now,
        };
        sqlx::query(
            "INSERT INTO cards (id, conversation_id, kind, subject_id, payload, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(&card.id)
        .bind(&c.id)
        .bind(payload.kind().as_str())
        .bind(payload.subject_id())
        .bind(serde_json::to_string(&payload)?)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        // The client's activity log has it, written with it.
        sqlx::query(
            "INSERT INTO portal_audit (id, company_id, contact_id, user_id, action, subject, detail, created_at) VALUES ($1, $2, $3, $4, 'ticket', $5, $6, $7)",
        )
        .bind(ids.new_id())
        .bind(scope.company_id.as_deref())
        .bind(&scope.contact_id)
        .bind(&scope.user_id)
        .bind(format!("#{number}"))
        .bind(subject)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        tx.commit().await?;
        Ok((t, c, card, true))
    }

    async fn opened(&self, t: Ticket, fresh: bool) -> Result<(Ticket, Conversation, Card, bool)> {
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
        Ok((t, c, card, fresh))
    }

    async fn ticket_by_key(&self, scope: &ClientScope, key: &str) -> Result<Option<Ticket>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TICKET_COLUMNS} FROM {TICKET_FROM} WHERE t.contact_id = $1 AND t.client_key = $2"
        )))
        .bind(&scope.contact_id)
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
