//! The Support tab: a client's tickets, opening one, its thread, and replying.
//!
//! - A ticket is a conversation of its own, opened in the first mailbox that sends mail
//!   (so agents' replies are also mailed, and the client's mailed replies thread back), or
//!   in the `portal` inbox when there is none.
//! - The client's messages go through the inbound stream like every channel's, as the
//!   identity the magic link verified. The page follows the thread live (server-sent
//!   events, with the thread read again from the store on each).
//! - Tickets are found by number in the client's scope only: a client admin sees the
//!   company's, a client user its own; anyone else's number is "not found".
//!
//! With the ticket desk (`kit/desk.rs`), the store's `core/src/store/tickets.rs` and the
//! channel `channels::portal` (`channels/src/portal.rs`). The Support tab lists the
//! client's tickets with status and assignee. "Open a new ticket" posts a multipart form
//! (subject, category, message, up to 5 images or PDFs, and a form key so a form sent twice
//! opens one ticket). The store opens the ticket's own conversation (thread `ticket:<id>`,
//! status open, no bot, the first mailbox's inbox and channel so replies are mailed, else
//! the `portal` inbox), the ticket row, its card, the client's audit line and the ticket's
//! first message (the form's text and files, by the signed-in client's contact, external id
//! `ticket:<id>`) in one transaction: a ticket never exists without its first message, and
//! the conversation is opened with that message's time, so the router has nothing to thread
//! or update for it. The ticket's number is the conversation's.
//!
//! Forms sent at the same moment are opened together (`kit/desk.rs`, the ticket desk: group
//! commit): one task takes every form waiting, `Store::open_tickets` opens them with one
//! transaction and a fixed number of multi-row statements, and each form is answered once
//! it is committed; each keeps its own answer (bad input refuses that form alone, a form
//! sent twice in the batch or before gets the ticket it opened and stores no second
//! message, a key stored meanwhile by another node undoes the attempt and the rest go
//! again). One batch at a time; the forms that arrive meanwhile make the next. On
//! PostgreSQL the batch is one statement, so one round trip: `switchboard_open_tickets`
//! (migration 22) takes each table's rows as JSON (`ingest::json_rows`, read by
//! `jsonb_populate_recordset`), so its text and cached plans are the same whatever the
//! batch's size; it writes the conversations' inbox activity and search rows itself, once,
//! with the first message's preview and words, while the inbox triggers stand aside (their
//! `WHEN` skips them while the batch's transaction-local `switchboard.inbox_rows` is set),
//! and a key stored meanwhile undoes it with SQLSTATE `SB001`. Conversation numbers come
//! first from the counter, in a short transaction of their own. SQLite writes the same rows
//! statement by statement in one transaction, its triggers writing the inbox rows. The
//! inbox hears of the new conversations, cards and messages per batch. Tests: conformance
//! `tickets::tickets_sent_together_open_in_one_batch_each_with_its_own_answer` (a form
//! stored before undoes the PostgreSQL batch, which is then answered and sent again) and
//! `tickets::a_ticket_is_stored_with_its_first_message` (the message; the inbox row the
//! triggers would write, field by field, and later messages updating it; its search words
//! by message, subject and client; one message for a form sent twice; the same message
//! arriving as a stream envelope is a duplicate); `ticket-bench` for the speed.
//!
//! The client's later messages go through the inbound stream like every channel's
//! (`channels::portal::envelope`, sent as the address the magic link verified; they name
//! the first one in `replies_to`, so a message to a resolved ticket opens that ticket
//! again). The page follows the thread by server-sent events
//! (`/portal/tickets/{number}/events`, a "changed" signal; the thread is read again from
//! the store). An agent's reply in a ticket's conversation is mailed with a button that
//! signs the client in on the ticket; the client's mailed reply threads back by
//! `In-Reply-To`. Only mail counts in a mail's `References` (`Store::thread_references`
//! keeps to the conversation's channel). Resolving turns the card (`TicketCards`, a
//! `StatusNotices`); the inbox list shows a Ticket badge. Forms with files carry their CSRF
//! token as their first field, read by the session guard from the body's first bytes
//! (`kit::session::first_part`). The portal pages carry the chat widget with the client's
//! own visitor id (a fresh one at every sign-in, verified on the contact), so the chat is
//! the client's with no pre-chat form; sign-out forgets it, and a new password or a removal
//! forgets them all (e2e `trust::the_portals_chat_id_ends_with_the_session`). Tests:
//! conformance
//! `tickets::tickets_thread_everything_into_one_conversation_and_stay_in_scope`, e2e
//! `tickets::a_portal_ticket_is_answered_by_mail_and_the_mailed_reply_threads_back`
//! (PostgreSQL, Redis, Dovecot: bad forms change nothing, the file to its company only,
//! SSE, the mailed answer and reply, resolve and reopen), the route-scope test (ticket
//! routes included), and browser `portal.test.mjs`.

use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use futures::TryStreamExt;
use serde::Deserialize;
use switchboard_channels::portal::{MAX_FILES, Submission, checked_text, envelope};
use switchboard_core::blob::BlobKey;
use switchboard_core::domain::{
    Attachment, AuthorKind, Channel, Direction, Identity, Message, TicketStatus,
};
use switchboard_core::realtime::Event;
use switchboard_core::store::{Ticket, TicketQuery};
use switchboard_core::stream::INBOUND;
use tokio_util::io::StreamReader;

use super::pages::stamp;
use super::{Client, Layout, not_found, private};
use crate::kit::AppState;
use crate::kit::desk::{Opening, Refused};
use crate::kit::error::ApiError;
use crate::kit::page::render;
use crate::kit::words::{SupportWords, support_words};

type PageResult = Result<Response, Response>;

fn api(e: impl Into<ApiError>) -> Response {
    e.into().into_response()
}

/// The largest body a ticket form may have: its files and a little text.
pub const MAX_FORM_BYTES: usize = MAX_FILES * 25 * 1024 * 1024 + 256 * 1024;

/// The inbox a new ticket is answered from, and the channel replies go out on.
fn ticket_inbox(state: &AppState) -> (String, Channel) {
    match state.email_sender.any_mailbox() {
        Some(m) => (m.inbox, Channel::Email),
        None => ("portal".to_owned(), Channel::Portal),
    }
}

/// A ticket, as the list and its page show it.
#[derive(Debug, Clone)]
pub struct TicketView {
    pub number: i64,
    pub subject: String,
    pub category: String,
    pub status: &'static str,
    pub status_word: &'static str,
    pub assignee: String,
    pub assigned: bool,
    pub opened_by: String,
    pub updated: String,
    pub updated_iso: String,
}

fn ticket_view(t: &Ticket, w: &SupportWords, client: &Client) -> TicketView {
    let (updated, updated_iso) = stamp(t.last_message_at, client.lang);
    TicketView {
        number: t.number,
        subject: t.subject.clone(),
        category: w.category_label(&t.category).to_owned(),
        status: t.status.as_str(),
        status_word: w.status(t.status),
        assigned: t.assignee.is_some(),
        assignee: t
            .assignee
            .clone()
            .unwrap_or_else(|| w.unassigned.to_owned()),
        opened_by: if t.contact_id == client.scope.contact_id {
            w.you.to_owned()
        } else {
            t.opened_by.clone().unwrap_or_default()
        },
        updated,
        updated_iso,
    }
}

#[derive(Template)]
#[template(path = "portal/tickets.html")]
struct ListPage {
    l: Layout,
    s: &'static SupportWords,
    tickets: Vec<TicketView>,
    /// `(href, label, current)`.
    tabs: Vec<(String, &'static str, bool)>,
    admin: bool,
    any: bool,
    prev: Option<String>,
    next: Option<String>,
    /// "Continue on WhatsApp", when the business has a number.
    whatsapp: Option<&'static crate::portal::whatsapp::WaWords>,
}

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    state: Option<String>,
    page: Option<i64>,
}

const PER_PAGE: i64 = 25;

/// `GET /portal/tickets`: the Support tab.
pub async fn list(
    State(state): State<AppState>,
    client: Client,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let w = support_words(client.lang);
    let shown = match q.state.as_deref() {
        Some("resolved") => "resolved",
        Some("all") => "all",
        _ => "open",
    };
    let page = q.page.unwrap_or(1).max(1);
    let (tickets, total) = state
        .store
        .client_tickets(
            &client.scope,
            &TicketQuery {
                state: Some(shown.to_owned()),
                page,
                per_page: PER_PAGE,
            },
        )
        .await
        .map_err(api)?;
    let any = if tickets.is_empty() && shown != "all" {
        let (_, all) = state
            .store
            .client_tickets(
                &client.scope,
                &TicketQuery {
                    state: None,
                    page: 1,
                    per_page: 1,
                },
            )
            .await
            .map_err(api)?;
        all > 0
    } else {
        total > 0
    };
    let href = |s: &str, p: i64| {
        if p > 1 {
            format!("/portal/tickets?state={s}&page={p}")
        } else {
            format!("/portal/tickets?state={s}")
        }
    };
    let pages = (total + PER_PAGE - 1) / PER_PAGE;
    let view = ListPage {
        l: Layout::client(&state, &client, w.support.to_owned(), "support"),
        s: w,
        tickets: tickets.iter().map(|t| ticket_view(t, w, &client)).collect(),
        tabs: [
            ("open", w.show_open),
            ("resolved", w.show_resolved),
            ("all", w.show_all),
        ]
        .into_iter()
        .map(|(k, label)| (href(k, 1), label, k == shown))
        .collect(),
        admin: client.scope.is_admin(),
        whatsapp: crate::portal::whatsapp::business_number(&state)
            .map(|_| crate::portal::whatsapp::wa_words(client.lang)),
        any,
        prev: (page > 1).then(|| href(shown, page - 1)),
        next: (page < pages).then(|| href(shown, page + 1)),
    };
    Ok(private(render(&view)))
}

#[derive(Template)]
#[template(path = "portal/ticket_new.html")]
struct NewPage {
    l: Layout,
    s: &'static SupportWords,
    key: String,
    subject: String,
    category: String,
    message: String,
    error: Option<String>,
    max_files: usize,
    /// The company's machines `(id, label)`, the one chosen, what is asked, and the toner.
    machines: Vec<(String, String)>,
    machine: String,
    request: String,
    toner: Vec<String>,
    e: &'static crate::kit::machines::EqWords,
    requests: Vec<(&'static str, &'static str)>,
    toners: Vec<(&'static str, &'static str)>,
}

fn form_key(state: &AppState) -> String {
    state.ids.new_id().replace('-', "")
}

fn new_page(
    state: &AppState,
    client: &Client,
    form: &TicketForm,
    error: Option<String>,
    machines: &[switchboard_core::store::Machine],
) -> NewPage {
    use crate::kit::machines::{REQUESTS, TONERS, eq_words, request_word, toner_word};
    let w = support_words(client.lang);
    NewPage {
        machines: machines
            .iter()
            .filter(|m| m.status != "removed")
            .map(|m| {
                let place = m
                    .location
                    .as_deref()
                    .map(|l| format!(" · {l}"))
                    .unwrap_or_default();
                (m.id.clone(), format!("{} · {}{place}", m.model, m.serial))
            })
            .collect(),
        machine: form.machine.clone(),
        request: if form.request.is_empty() {
            "failure".into()
        } else {
            form.request.clone()
        },
        toner: form.toner.clone(),
        e: eq_words(client.lang),
        requests: REQUESTS
            .iter()
            .map(|r| (*r, request_word(r, client.lang)))
            .collect(),
        toners: TONERS
            .iter()
            .map(|t| (*t, toner_word(t, client.lang)))
            .collect(),
        l: Layout::client(state, client, w.new_title.to_owned(), "support"),
        s: w,
        key: if form.key.is_empty() {
            form_key(state)
        } else {
            form.key.clone()
        },
        subject: form.subject.clone(),
        category: form.category.clone(),
        message: form.message.clone(),
        error,
        max_files: MAX_FILES,
    }
}

/// `GET /portal/tickets/new`.
pub async fn new_form(
    State(state): State<AppState>,
    client: Client,
    Query(q): Query<NewQuery>,
) -> PageResult {
    let machines = state
        .store
        .machines_for_client(&client.scope)
        .await
        .map_err(api)?;
    let form = TicketForm {
        machine: q
            .machine
            .filter(|id| machines.iter().any(|m| &m.id == id))
            .unwrap_or_default(),
        ..Default::default()
    };
    let page = new_page(&state, &client, &form, None, &machines);
    Ok(private(render(&page)))
}

#[derive(Debug, Deserialize)]
pub struct NewQuery {
    /// The machine the request is about (its page's "Request service").
    #[serde(default)]
    machine: Option<String>,
}

/// What a ticket form sent.
#[derive(Debug, Default)]
pub struct TicketForm {
    pub key: String,
    pub subject: String,
    pub category: String,
    pub message: String,
    pub files: Vec<Attachment>,
    /// The machine it is about (one of the company's), what is asked, and the toner.
    pub machine: String,
    pub request: String,
    pub toner: Vec<String>,
}

/// Reads a ticket form: its text fields, and its files stored as they stream in. A file
/// refused (type, size) refuses the form, with why.
///
/// A new ticket's subject comes before its files in the form: a form without one is
/// refused before any file is stored, so a refused form leaves no files behind.
async fn read_form(
    state: &AppState,
    multipart: Result<Multipart, MultipartRejection>,
    form: &mut TicketForm,
    subject_missing: Option<&str>,
) -> Result<(), String> {
    let mut multipart = multipart.map_err(|e| e.body_text())?;
    let max = state.config.webchat.max_attachment_bytes;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(()),
            Err(e) => return Err(e.body_text()),
        };
        let name = field.name().unwrap_or("").to_owned();
        match name.as_str() {
            "files" => {
                let file_name = field.file_name().unwrap_or("").to_owned();
                // An empty file input still sends a part with no name and no bytes.
                if file_name.is_empty() {
                    continue;
                }
                if let Some(why) = subject_missing
                    && form.subject.trim().is_empty()
                    && form.machine.is_empty()
                {
                    return Err(why.to_owned());
                }
                if form.files.len() >= MAX_FILES {
                    return Err(switchboard_channels::portal::Refused::TooManyFiles.to_string());
                }
                let reader = StreamReader::new(field.map_err(std::io::Error::other));
                match crate::kit::uploads::store_file(state, reader, max, &file_name).await {
                    Ok(a) => form.files.push(a),
                    Err(ApiError::Internal(e)) => {
                        tracing::error!(error = %e, "a ticket's file was not stored");
                        return Err(format!("{file_name}: not stored; try again"));
                    }
                    Err(e) => return Err(format!("{file_name}: {e}")),
                }
            }
            "machine" | "request" | "toner" => {
                let text = field.text().await.map_err(|e| e.body_text())?;
                match name.as_str() {
                    "machine" => form.machine = text.trim().to_owned(),
                    "request" => form.request = text.trim().to_owned(),
                    _ => form.toner.push(text.trim().to_owned()),
                }
            }
            "key" | "subject" | "category" | "message" => {
                let text = field.text().await.map_err(|e| e.body_text())?;
                let slot = match name.as_str() {
                    "key" => &mut form.key,
                    "subject" => &mut form.subject,
                    "category" => &mut form.category,
                    _ => &mut form.message,
                };
                *slot = text;
            }
            // `_csrf`, read by the guard; anything else is not ours.
            _ => {
                let _ = field.bytes().await;
            }
        }
    }
}

fn sender(client: &Client) -> Result<Identity, ApiError> {
    Ok(Identity::email(&client.scope.email)?)
}

/// Puts a ticket's message on the inbound stream.
async fn submit(
    state: &AppState,
    env: &switchboard_core::domain::Envelope,
) -> Result<(), ApiError> {
    let json = serde_json::to_string(env).map_err(switchboard_core::Error::from)?;
    state.stream.append(INBOUND, &json).await?;
    Ok(())
}

/// `POST /portal/tickets`: opens a ticket with its first message and files.
pub async fn create(
    State(state): State<AppState>,
    client: Client,
    multipart: Result<Multipart, MultipartRejection>,
) -> PageResult {
    let w = support_words(client.lang);
    let mut form = TicketForm::default();
    let machines = state
        .store
        .machines_for_client(&client.scope)
        .await
        .map_err(api)?;
    let refuse = |form: &TicketForm, error: String| {
        let page = new_page(&state, &client, form, Some(error), &machines);
        private((axum::http::StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
    };
    if let Err(e) = read_form(&state, multipart, &mut form, Some(w.subject_missing)).await {
        return Err(refuse(&form, e));
    }
    // A request about a machine: one of the company's, a known kind, toner colours named.
    let machine = if form.machine.is_empty() {
        None
    } else {
        let e = crate::kit::machines::eq_words(client.lang);
        let Some(m) = machines.iter().find(|m| m.id == form.machine) else {
            return Err(refuse(&form, e.which_machine.to_owned()));
        };
        if !crate::kit::machines::REQUESTS.contains(&form.request.as_str()) {
            form.request = "support".into();
        }
        form.toner
            .retain(|c| crate::kit::machines::TONERS.contains(&c.as_str()));
        form.toner.dedup();
        if form.request == "toner" && form.toner.is_empty() {
            return Err(refuse(&form, e.toner_colours.to_owned()));
        }
        if form.request != "toner" {
            form.toner.clear();
        }
        if form.subject.trim().is_empty() {
            form.subject = format!(
                "{} · {} {}",
                crate::kit::machines::request_word(&form.request, client.lang),
                m.model,
                m.serial
            );
        }
        form.category = "equipment".into();
        Some(m.clone())
    };
    if form.subject.trim().is_empty() {
        return Err(refuse(&form, w.subject_missing.to_owned()));
    }
    if !w.categories.iter().any(|(k, _)| *k == form.category) {
        form.category = w.categories[0].0.to_owned();
    }
    let text = match checked_text(&form.message, form.files.len()) {
        Ok(t) => t,
        Err(e) => return Err(refuse(&form, e.to_string())),
    };
    let (inbox, channel) = ticket_inbox(&state);
    let opened = state
        .tickets
        .open(Opening {
            scope: client.scope.clone(),
            inbox,
            channel,
            subject: form.subject.clone(),
            category: form.category.clone(),
            key: form.key.clone(),
            text,
            attachments: std::mem::take(&mut form.files),
        })
        .await;
    let (ticket, ..) = match opened {
        Ok(x) => x,
        Err(Refused::Store(switchboard_core::Error::Invalid(m))) => return Err(refuse(&form, m)),
        Err(Refused::Store(e)) => return Err(api(e)),
        Err(Refused::NotSent(e)) => {
            tracing::warn!(error = %e, "a ticket was not opened");
            return Err(refuse(&form, w.not_sent.to_owned()));
        }
    };
    if let Some(m) = machine {
        let link = crate::kit::equipment::Link {
            conversation_id: &ticket.conversation_id,
            ticket_id: Some(&ticket.id),
            kind: &form.request,
            toner: &form.toner,
            confirmed: true,
            replace: false,
        };
        crate::kit::equipment::link_request(&state, link, &m)
            .await
            .map_err(api)?;
    }
    Ok(private(
        Redirect::to(&format!("/portal/tickets/{}?opened=1", ticket.number)).into_response(),
    ))
}

/// A message as the client's thread shows it.
#[derive(Debug, Clone)]
pub struct MessageView {
    pub id: String,
    pub mine: bool,
    pub author: String,
    pub text: String,
    pub when: String,
    pub when_iso: String,
    /// `(href, name, is image)`.
    pub files: Vec<(String, String, bool)>,
    pub via_email: bool,
}

async fn thread_views(
    state: &AppState,
    client: &Client,
    t: &Ticket,
    w: &SupportWords,
) -> Result<Vec<MessageView>, Response> {
    let messages = state.store.ticket_messages(t).await.map_err(api)?;
    let mut names: std::collections::HashMap<String, Option<String>> = Default::default();
    let mut out = Vec::with_capacity(messages.len());
    for m in &messages {
        out.push(message_view(state, client, t, w, m, &mut names).await);
    }
    Ok(out)
}

async fn message_view(
    state: &AppState,
    client: &Client,
    t: &Ticket,
    w: &SupportWords,
    m: &Message,
    names: &mut std::collections::HashMap<String, Option<String>>,
) -> MessageView {
    let mine = m.direction == Direction::Inbound;
    let author = if mine {
        if t.contact_id == client.scope.contact_id {
            w.you.to_owned()
        } else {
            t.opened_by.clone().unwrap_or_else(|| w.you.to_owned())
        }
    } else {
        let agent = match (&m.author_kind, &m.author_id) {
            (AuthorKind::Agent, Some(id)) => match names.get(id) {
                Some(n) => n.clone(),
                None => {
                    let n = state
                        .store
                        .user_by_id(id)
                        .await
                        .ok()
                        .flatten()
                        .and_then(|u| u.name);
                    names.insert(id.clone(), n.clone());
                    n
                }
            },
            _ => None,
        };
        agent.unwrap_or_else(|| w.team.to_owned())
    };
    let (when, when_iso) = stamp(m.created_at, client.lang);
    MessageView {
        id: m.id.clone(),
        mine,
        author,
        text: m.text.clone(),
        when,
        when_iso,
        files: m
            .attachments
            .iter()
            .map(|a| {
                (
                    format!("/portal/tickets/{}/files/{}", t.number, a.blob.as_str()),
                    a.name.clone(),
                    a.mime.starts_with("image/"),
                )
            })
            .collect(),
        via_email: mine && m.channel == Channel::Email,
    }
}

#[derive(Template)]
#[template(path = "portal/ticket.html")]
struct TicketPage {
    l: Layout,
    s: &'static SupportWords,
    t: TicketView,
    messages: Vec<MessageView>,
    v: &'static switchboard_portal::visits::VisitWords,
    visits: Vec<crate::kit::visits::VisitView>,
    key: String,
    resolved: bool,
    opened: bool,
    error: Option<String>,
    message: String,
}

#[derive(Template)]
#[template(path = "portal/_ticket_thread.html")]
struct ThreadFragment {
    s: &'static SupportWords,
    t: TicketView,
    messages: Vec<MessageView>,
    v: &'static switchboard_portal::visits::VisitWords,
    visits: Vec<crate::kit::visits::VisitView>,
}

/// The visits that answer the ticket: technician, window and status, live with the page.
async fn ticket_visits(
    state: &AppState,
    client: &Client,
    t: &Ticket,
) -> Result<Vec<crate::kit::visits::VisitView>, Response> {
    let cal = crate::kit::visits::calendar(state);
    Ok(state
        .store
        .ticket_visits(t)
        .await
        .map_err(api)?
        .iter()
        .map(|v| crate::kit::visits::visit_view(v, &cal, client.lang))
        .collect())
}

#[derive(Debug, Deserialize, Default)]
pub struct ShowQuery {
    opened: Option<String>,
}

async fn own(state: &AppState, client: &Client, number: &str) -> Result<Ticket, Response> {
    let Ok(n) = number.parse::<i64>() else {
        return Err(not_found(state, client.lang));
    };
    state
        .store
        .client_ticket(&client.scope, n)
        .await
        .map_err(api)?
        .ok_or_else(|| not_found(state, client.lang))
}

async fn ticket_page(
    state: &AppState,
    client: &Client,
    t: &Ticket,
    opened: bool,
    error: Option<String>,
    message: String,
) -> Result<TicketPage, Response> {
    let w = support_words(client.lang);
    Ok(TicketPage {
        l: Layout::client(
            state,
            client,
            format!("#{} {}", t.number, t.subject),
            "support",
        ),
        s: w,
        t: ticket_view(t, w, client),
        messages: thread_views(state, client, t, w).await?,
        v: switchboard_portal::visits::visit_words(client.lang),
        visits: ticket_visits(state, client, t).await?,
        key: form_key(state),
        resolved: matches!(t.status, TicketStatus::Resolved | TicketStatus::Closed),
        opened,
        error,
        message,
    })
}

/// `GET /portal/tickets/{number}`: the ticket's thread and the reply form.
pub async fn show(
    State(state): State<AppState>,
    client: Client,
    Path(number): Path<String>,
    query: Result<Query<ShowQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let t = own(&state, &client, &number).await?;
    let opened = query.is_ok_and(|Query(q)| q.opened.is_some());
    let page = ticket_page(&state, &client, &t, opened, None, String::new()).await?;
    Ok(private(render(&page)))
}

/// `GET /portal/tickets/{number}/thread`: the thread alone, for the page to refresh.
pub async fn thread(
    State(state): State<AppState>,
    client: Client,
    Path(number): Path<String>,
) -> PageResult {
    let t = own(&state, &client, &number).await?;
    let w = support_words(client.lang);
    let fragment = ThreadFragment {
        s: w,
        t: ticket_view(&t, w, &client),
        messages: thread_views(&state, &client, &t, w).await?,
        v: switchboard_portal::visits::visit_words(client.lang),
        visits: ticket_visits(&state, &client, &t).await?,
    };
    Ok(private(render(&fragment)))
}

/// `POST /portal/tickets/{number}/reply`.
pub async fn reply(
    State(state): State<AppState>,
    client: Client,
    Path(number): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> PageResult {
    let t = own(&state, &client, &number).await?;
    let w = support_words(client.lang);
    let mut form = TicketForm::default();
    let read = read_form(&state, multipart, &mut form, None).await;
    let checked = read
        .and_then(|()| checked_text(&form.message, form.files.len()).map_err(|e| e.to_string()));
    let text = match checked {
        Ok(t) => t,
        Err(e) => {
            let page =
                ticket_page(&state, &client, &t, false, Some(e), form.message.clone()).await?;
            return Err(private(
                (axum::http::StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response(),
            ));
        }
    };
    let key = if form.key.is_empty() || form.key.len() > 64 {
        form_key(&state)
    } else {
        form.key.clone()
    };
    let conversation = state
        .store
        .conversation(&t.conversation_id)
        .await
        .map_err(api)?;
    let who = sender(&client).map_err(api)?;
    let env = envelope(
        state.ids.new_id(),
        Submission {
            inbox: &conversation.inbox,
            ticket_id: &t.id,
            key: Some(&key),
            sender: &who,
            sender_name: client.scope.name.as_deref(),
            subject: &t.subject,
            text: &text,
            attachments: std::mem::take(&mut form.files),
        },
        state.ids.now_ms(),
    );
    if let Err(e) = submit(&state, &env).await {
        tracing::warn!(error = %e, ticket = %t.id, "ticket reply not accepted");
        let page = ticket_page(
            &state,
            &client,
            &t,
            false,
            Some(w.not_sent.to_owned()),
            form.message.clone(),
        )
        .await?;
        return Err(private(
            (axum::http::StatusCode::SERVICE_UNAVAILABLE, render(&page)).into_response(),
        ));
    }
    if matches!(t.status, TicketStatus::Resolved) {
        // The message opens the ticket again; its card says so at once.
        let mut reopened = t.clone();
        reopened.status = TicketStatus::Open;
        if let Err(e) = switchboard_core::cards::update_subject(
            &state.store,
            &state.realtime,
            &state.ids,
            &reopened.card(),
        )
        .await
        {
            tracing::debug!(error = %e, "ticket card not updated");
        }
    }
    Ok(private(
        Redirect::to(&format!("/portal/tickets/{}#reply", t.number)).into_response(),
    ))
}

/// `GET /portal/tickets/{number}/events`: a server-sent event each time the ticket's
/// thread or status changes, for the page to read its thread again. Notes and anything
/// only agents see never reach it (and carry nothing but "changed" anyway).
pub async fn events(
    State(state): State<AppState>,
    client: Client,
    Path(number): Path<String>,
) -> PageResult {
    let t = own(&state, &client, &number).await?;
    let mut sub = state.realtime.subscribe();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<SseEvent, Infallible>>(4);
    let conversation = t.conversation_id.clone();
    let shutdown = state.shutdown.clone();
    let token = client.token.clone();
    let watcher = state.clone();
    tokio::spawn(async move {
        // A session ended elsewhere (sign-out, a new password, a removal, a move to
        // another company) ends its stream too.
        let mut beat = tokio::time::interval(std::time::Duration::from_secs(30));
        loop {
            let next = tokio::select! {
                () = shutdown.cancelled() => return,
                () = tx.closed() => return,
                _ = beat.tick() => {
                    let limits = crate::kit::session::limits(&watcher);
                    let live = watcher
                        .store
                        .session_is_live(&token, watcher.ids.now_ms(), &limits)
                        .await;
                    if matches!(live, Ok(false)) {
                        return;
                    }
                    continue;
                }
                e = sub.recv_shared() => e,
            };
            let changed = match next {
                Ok(shared) => match shared.event() {
                    Event::Message { scope, .. }
                    | Event::Delivery { scope, .. }
                    | Event::CardUpdated { scope, .. }
                    | Event::CardAdded { scope, .. } => scope.conversation_id == conversation,
                    Event::ConversationChanged {
                        conversation: c, ..
                    } => c.id == conversation,
                    Event::Resync => true,
                    _ => false,
                },
                // Fell behind: read again.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => true,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            if changed
                && tx
                    .send(Ok(SseEvent::default().event("changed").data("{}")))
                    .await
                    .is_err()
            {
                return;
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok(private(
        Sse::new(stream)
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(20)))
            .into_response(),
    ))
}

/// `GET /portal/tickets/{number}/files/{key}`: a file of one of the ticket's messages.
pub async fn file(
    State(state): State<AppState>,
    client: Client,
    Path((number, key)): Path<(String, String)>,
) -> PageResult {
    let t = own(&state, &client, &number).await?;
    let Ok(key) = BlobKey::parse(&key) else {
        return Err(not_found(&state, client.lang));
    };
    let messages = state.store.ticket_messages(&t).await.map_err(api)?;
    let Some(a) = messages
        .iter()
        .flat_map(|m| m.attachments.iter())
        .find(|a| a.blob == key)
    else {
        return Err(not_found(&state, client.lang));
    };
    Ok(private(crate::kit::blobs::send(&state, a).await))
}

/// Keeps a ticket's card on its conversation's status: an agent resolving the ticket's
/// conversation turns its card Resolved.
#[derive(Debug)]
pub struct TicketCards {
    pub store: switchboard_core::store::Store,
    pub realtime: std::sync::Arc<dyn switchboard_core::realtime::Realtime>,
    pub ids: switchboard_core::clock::Ids,
}

#[async_trait::async_trait]
impl switchboard_core::workflow::StatusNotices for TicketCards {
    async fn status_changed(
        &self,
        _before: &switchboard_core::domain::Conversation,
        after: &switchboard_core::domain::Conversation,
    ) {
        if !switchboard_core::store::is_ticket(after) {
            return;
        }
        let ticket = match self.store.ticket_of_conversation(&after.id).await {
            Ok(Some(t)) => t,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, conversation = %after.id, "ticket card not updated");
                return;
            }
        };
        if let Err(e) = switchboard_core::cards::update_subject(
            &self.store,
            &self.realtime,
            &self.ids,
            &ticket.card(),
        )
        .await
        {
            tracing::warn!(error = %e, ticket = %ticket.id, "ticket card not updated");
        }
    }
}
