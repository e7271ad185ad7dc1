//! The client's notification centre: events become notices (`record`), once per contact
//! and event whatever replays them or however many nodes see them (the store's unique
//! `(contact, event)`); the portal lists them (`/portal/notifications`); and each goes by
//! the contact's channel for its kind (`notice_preferences`, else their notice channel):
//! by mail, by WhatsApp, or only on the portal when they opted out.
//!
//! Where a notice was itself a mail or a message (an invoice sent, a status notice, a
//! reading reminder, an answer in a mailed request), it is recorded as sent by that
//! channel and never sent again. The others wait: every few seconds a node claims the
//! waiting notices of contacts whose oldest one has waited that long, and
//! sends each contact's as one message (several that arrive together go together), keyed
//! so a retry after a crash is the same message. `portal.notice_batch_seconds` (60) is
//! how long one waits for others. Hourly, invoices due within three days
//! and invoices overdue become notices.
//!
//! Tests: conformance `notices.rs`, e2e `portal::notices_reach_the_client_once_by_their_channel`.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_core::domain::{AuthorKind, Channel, IdentityKind, Status};
use switchboard_core::realtime::Event;
use switchboard_core::store::{NewNotice, NewOutbound, Notice};
use switchboard_portal::locale::{Lang, date, money};
use tokio_util::sync::CancellationToken;

use crate::kit::AppState;
use crate::kit::error::ApiError;

/// An event for a contact: its kind, its key (once per contact), what its words need,
/// the page it opens, and whether its own mail or message already carried it.
#[derive(Debug, Clone)]
pub struct Happened {
    pub contact_id: String,
    pub company_id: Option<String>,
    pub kind: &'static str,
    pub event: String,
    pub params: Value,
    pub link: String,
    pub sent_by: Option<&'static str>,
}

/// Records an event's notice (once); a failure is logged, never the caller's.
pub async fn record(state: &AppState, e: Happened) {
    record_in(&state.store, &state.ids, e).await;
}

/// [`record`] with the store and ids alone (for hooks that hold no state).
pub async fn record_in(
    store: &switchboard_core::store::Store,
    ids: &switchboard_core::clock::Ids,
    e: Happened,
) {
    let params = e.params.to_string();
    let n = NewNotice {
        contact_id: &e.contact_id,
        company_id: e.company_id.as_deref(),
        kind: e.kind,
        event: &e.event,
        params: &params,
        link: &e.link,
        sent_by: e.sent_by,
    };
    if let Err(err) = store.add_notice(ids, &n).await {
        tracing::warn!(kind = e.kind, error = %err, "notice not recorded");
    }
}

/// The words of notices in the portal's three languages.
fn words(kind: &str, lang: Lang) -> &'static str {
    match (kind, lang) {
        ("ticket_status", Lang::En) => "Request #{n} is now {status}.",
        ("ticket_status", Lang::Es) => "La solicitud #{n} ahora está {status}.",
        ("ticket_status", Lang::PtBr) => "A solicitação #{n} agora está {status}.",
        ("new_message", Lang::En) => "New reply on request #{n}.",
        ("new_message", Lang::Es) => "Nueva respuesta en la solicitud #{n}.",
        ("new_message", Lang::PtBr) => "Nova resposta na solicitação #{n}.",
        ("visit_scheduled", Lang::En) => "{technician} will visit {machine}: {when}.",
        ("visit_scheduled", Lang::Es) => "{technician} visitará {machine}: {when}.",
        ("visit_scheduled", Lang::PtBr) => "{technician} visitará {machine}: {when}.",
        ("visit_done", Lang::En) => "Visit {n} to {machine} is done; its report is ready.",
        ("visit_done", Lang::Es) => "La visita {n} a {machine} terminó; su informe está listo.",
        ("visit_done", Lang::PtBr) => {
            "A visita {n} à {machine} foi concluída; o relatório está pronto."
        }
        ("invoice_issued", Lang::En) => "Invoice {n} of {amount} is due on {due}.",
        ("invoice_issued", Lang::Es) => "La factura {n} de {amount} vence el {due}.",
        ("invoice_issued", Lang::PtBr) => "A fatura {n} de {amount} vence em {due}.",
        ("invoice_paid", Lang::En) => "Payment received for invoice {n}: {amount}. Thank you!",
        ("invoice_paid", Lang::Es) => "Recibimos el pago de la factura {n}: {amount}. ¡Gracias!",
        ("invoice_paid", Lang::PtBr) => "Recebemos o pagamento da fatura {n}: {amount}. Obrigado!",
        ("invoice_due_soon", Lang::En) => "Invoice {n} of {amount} is due on {due}.",
        ("invoice_due_soon", Lang::Es) => "La factura {n} de {amount} vence el {due}.",
        ("invoice_due_soon", Lang::PtBr) => "A fatura {n} de {amount} vence em {due}.",
        ("invoice_overdue", Lang::En) => "Invoice {n} of {amount} was due on {due}.",
        ("invoice_overdue", Lang::Es) => "La factura {n} de {amount} venció el {due}.",
        ("invoice_overdue", Lang::PtBr) => "A fatura {n} de {amount} venceu em {due}.",
        ("reading_due", Lang::En) => "Meter readings for contract {n} are due by {due}.",
        ("reading_due", Lang::Es) => "Las lecturas del contrato {n} vencen el {due}.",
        ("reading_due", Lang::PtBr) => "As leituras do contrato {n} vencem em {due}.",
        ("survey_waiting", Lang::En) => "How did we do on request #{n}? Two taps to tell us.",
        ("survey_waiting", Lang::Es) => {
            "¿Cómo lo hicimos en la solicitud #{n}? Dos toques para contarnos."
        }
        ("survey_waiting", Lang::PtBr) => {
            "Como foi o atendimento da solicitação #{n}? Dois toques para nos contar."
        }
        (_, Lang::En) => "An update on your account.",
        (_, Lang::Es) => "Novedades en su cuenta.",
        (_, Lang::PtBr) => "Novidades na sua conta.",
    }
}

/// A notice in the reader's words: dates and money in their language, times in the
/// business's zone.
pub fn text(state: &AppState, n: &Notice, lang: Lang) -> String {
    let p: Value = serde_json::from_str(&n.params).unwrap_or(Value::Null);
    let s = |k: &str| match &p[k] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let day = |k: &str| p[k].as_i64().map(|d| date(d, lang)).unwrap_or_default();
    let amount = match (p["amount"].as_i64(), p["currency"].as_str()) {
        (Some(a), Some(c)) => money(a, c, crate::kit::billing::exponent(c), lang),
        _ => String::new(),
    };
    let when = match (p["from"].as_i64(), p["to"].as_i64()) {
        (Some(a), Some(b)) => {
            crate::kit::visits::when(&crate::kit::visits::calendar(state), a, b, lang)
        }
        _ => String::new(),
    };
    let status = p["status"]
        .as_str()
        .and_then(|s| Status::parse(s).ok())
        .map(|st| {
            crate::kit::words::support_words(lang)
                .status(switchboard_core::store::ticket_status(st))
                .to_lowercase()
        })
        .unwrap_or_default();
    words(&n.kind, lang)
        .replace("{n}", &s("n"))
        .replace("{status}", &status)
        .replace("{technician}", &s("technician"))
        .replace("{machine}", &s("machine"))
        .replace("{when}", &when)
        .replace("{amount}", &amount)
        .replace("{due}", &day("due"))
}

/// What a batch of notices says in a message's title, by mail.
fn subject(business: &str, lang: Lang) -> String {
    match lang {
        Lang::En => format!("News from {business}"),
        Lang::Es => format!("Novedades de {business}"),
        Lang::PtBr => format!("Novidades de {business}"),
    }
}

fn button(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "See in your portal",
        Lang::Es => "Ver en su portal",
        Lang::PtBr => "Ver no seu portal",
    }
}

/// The contact's language: theirs, else the first mailbox's.
async fn lang_of(state: &AppState, contact: &str) -> (Lang, String) {
    let tag = match state.store.contact_mail_preferences(contact).await {
        Ok((Some(t), _)) => t,
        _ => state
            .email_sender
            .any_mailbox()
            .map_or_else(|| "en".to_owned(), |m| m.lang.html_tag().to_owned()),
    };
    (Lang::from_tag(&tag), tag)
}

/// Sends one contact's claimed notices, each kind by its channel: WhatsApp ones as one
/// message (by mail when WhatsApp cannot carry it), mail ones as one mail, the others
/// kept on the portal. Where each went is recorded.
async fn send_batch(state: &AppState, contact: &str, batch: &[Notice]) -> Result<(), ApiError> {
    let (lang, tag) = lang_of(state, contact).await;
    let mut by: std::collections::BTreeMap<String, Vec<&Notice>> = Default::default();
    for n in batch {
        let mut channel = state.store.notice_channel_for(contact, &n.kind).await?;
        // A survey goes back on the channel the client wrote on (a portal request's
        // stays on the portal, as a banner), unless they asked for none.
        if n.kind == "survey_waiting" && channel != "none" {
            let p: Value = serde_json::from_str(&n.params).unwrap_or(Value::Null);
            channel = match p["channel"].as_str() {
                Some("email") => "email",
                Some("whatsapp") => "whatsapp",
                _ => "none",
            }
            .to_owned();
        }
        by.entry(channel).or_default().push(n);
    }
    let base = state.config.public_url.trim_end_matches('/').to_owned();
    let url = format!("{base}/portal/notifications");
    // A line of a message: the notice, with its link when it is a survey's (its page
    // answers without signing in).
    let line = |n: &Notice| {
        let t = text(state, n, lang);
        if n.link.starts_with("/survey/") {
            format!("{t} {base}{}", n.link)
        } else {
            t
        }
    };
    let mut by_mail: Vec<&Notice> = by.remove("email").unwrap_or_default();
    if let Some(list) = by.remove("whatsapp") {
        let lines: Vec<String> = list.iter().map(|n| line(n)).collect();
        let text = format!("{}\n\n{url}", lines.join("\n"));
        let (survey_list, survey_conversation) = survey_parts(state, &list, lang, &text).await;
        let notice = crate::kit::notices::Notice {
            conversation: survey_conversation,
            chosen: true,
            key: format!("notices:{}", list[0].id),
            kind: static_kind(&list[0].kind),
            list: survey_list,
            text,
            template: state.config.whatsapp.notices_template.clone(),
            params: vec![lines.join(" · "), url.clone()],
            lang: tag.clone(),
        };
        let parts = crate::kit::notices::Parts {
            store: &state.store,
            outbox: &state.outbox,
            whatsapp: &state.whatsapp,
        };
        match crate::kit::notices::by_whatsapp(parts, contact, notice).await? {
            Some(_) => {
                let ids: Vec<String> = list.iter().map(|n| n.id.clone()).collect();
                state
                    .store
                    .notices_sent(&state.ids, &ids, "whatsapp")
                    .await?;
            }
            // WhatsApp cannot carry it now: by mail instead.
            None => by_mail.extend(list),
        }
    }
    if !by_mail.is_empty() {
        let lines: Vec<String> = by_mail.iter().map(|n| line(n)).collect();
        let sent = mail(state, contact, &by_mail, &lines, lang).await?;
        let ids: Vec<String> = by_mail.iter().map(|n| n.id.clone()).collect();
        state
            .store
            .notices_sent(&state.ids, &ids, if sent { "email" } else { "none" })
            .await?;
    }
    for list in by.into_values() {
        let ids: Vec<String> = list.iter().map(|n| n.id.clone()).collect();
        state.store.notices_sent(&state.ids, &ids, "none").await?;
    }
    Ok(())
}

/// A survey in a WhatsApp batch: its answers as WhatsApp's list (when the batch carries
/// one survey and its words fit an interactive message, so the client answers with one
/// tap), and the conversation it is about (it goes back there).
async fn survey_parts(
    state: &AppState,
    list: &[&Notice],
    lang: Lang,
    text: &str,
) -> (
    Option<switchboard_core::domain::ListContent>,
    Option<String>,
) {
    use switchboard_portal::surveys::{list_id, whatsapp_survey};
    let mut tokens = list.iter().filter_map(|n| n.link.strip_prefix("/survey/"));
    let Some(token) = tokens.next() else {
        return (None, None);
    };
    let conversation = state
        .store
        .survey_by_token(token)
        .await
        .ok()
        .and_then(|s| s.conversation_id);
    if tokens.next().is_some()
        || text.chars().count() > switchboard_channels::whatsapp::outbound::MAX_INTERACTIVE_BODY
    {
        return (None, conversation);
    }
    let w = whatsapp_survey(lang);
    let rows = w
        .rows
        .iter()
        .map(|(n, title)| switchboard_core::domain::Button {
            id: list_id(token, *n),
            title: (*title).to_owned(),
            url: None,
        })
        .collect();
    let list = switchboard_core::domain::ListContent {
        button: w.button.to_owned(),
        rows,
    };
    (Some(list), conversation)
}

/// A stored kind as the list of kinds names it.
fn static_kind(kind: &str) -> &'static str {
    switchboard_core::store::NOTICE_KINDS
        .iter()
        .find(|k| **k == kind)
        .copied()
        .unwrap_or("ticket_status")
}

/// Mails a contact's notices as one mail with a button to the portal's notifications;
/// `false` when there is no address or mailbox to send it by.
async fn mail(
    state: &AppState,
    contact: &str,
    list: &[&Notice],
    lines: &[String],
    lang: Lang,
) -> Result<bool, ApiError> {
    let has_address = state
        .store
        .contact_identities(contact)
        .await?
        .iter()
        .any(|(i, verified)| *verified && i.kind() == IdentityKind::Email);
    let Some(mailbox) = state.email_sender.any_mailbox().filter(|_| has_address) else {
        return Ok(false);
    };
    let subject = subject(&state.config.web.business_name, lang);
    let conversation = state
        .store
        .open_conversation_for(
            &state.ids,
            contact,
            &mailbox.inbox,
            Channel::Email,
            &format!("notices:{contact}"),
            Some(&subject),
            Status::Pending,
        )
        .await?;
    let body = lines
        .iter()
        .map(|l| format!("• {l}"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut message = NewOutbound::text(&conversation.id, AuthorKind::System, None, &body)
        .key(format!("notices:{}", list[0].id));
    message.content = Some(crate::kit::notices::portal_button(
        button(lang),
        "/portal/notifications",
    ));
    state.outbox.queue(&message).await?;
    Ok(true)
}

/// One round of sending: the waiting notices that have settled, each contact's batch.
pub async fn send_waiting(state: &AppState) -> Result<usize, ApiError> {
    let now = state.ids.now_ms();
    let batch_ms = i64::from(state.config.portal.notice_batch_seconds) * 1_000;
    let claimed = state
        .store
        .claim_waiting_notices(&state.ids, now - batch_ms + 1, now - 10 * 60_000, 100)
        .await?;
    let mut sent = 0;
    let mut i = 0;
    while i < claimed.len() {
        let contact = claimed[i].contact_id.clone();
        let j = claimed[i..]
            .iter()
            .position(|n| n.contact_id != contact)
            .map_or(claimed.len(), |k| i + k);
        if let Err(e) = send_batch(state, &contact, &claimed[i..j]).await {
            tracing::warn!(contact = %contact, error = %e, "notices not sent; tried again later");
        } else {
            sent += j - i;
        }
        i = j;
    }
    Ok(sent)
}

/// Invoices due within three days, and overdue ones (up to a month late), become notices.
pub async fn scan_invoices(state: &AppState, today: i64) -> Result<(), ApiError> {
    for (kind, from, to) in [
        ("invoice_due_soon", today, today + 3),
        ("invoice_overdue", today - 30, today - 1),
    ] {
        for inv in state.store.unpaid_invoices_due(from, to, 5_000).await? {
            record(
                state,
                Happened {
                    contact_id: inv.contact_id.clone(),
                    company_id: inv.company_id.clone(),
                    kind,
                    event: format!("invoice:{}:{kind}", inv.id),
                    params: json!({"n": inv.number, "amount": inv.total - inv.paid, "currency": inv.currency, "due": inv.due_day}),
                    link: format!("/portal/invoices/{}", inv.number),
                    sent_by: None,
                },
            )
            .await;
        }
    }
    Ok(())
}

/// A reply in a request's conversation, heard on the realtime bus: a notice for the
/// client; its own mail or WhatsApp message carried it when the request is one of those.
async fn on_event(state: &AppState, e: &Event) {
    let Event::Message { scope, message } = e else {
        return;
    };
    if message.internal
        || message.direction != switchboard_core::domain::Direction::Outbound
        || !matches!(message.author_kind, AuthorKind::Agent | AuthorKind::Bot)
    {
        return;
    }
    let Ok(Some(ticket)) = state
        .store
        .ticket_of_conversation(&scope.conversation_id)
        .await
    else {
        return;
    };
    let sent_by = match message.channel {
        Channel::Email => Some("email"),
        Channel::Whatsapp => Some("whatsapp"),
        _ => None,
    };
    record(
        state,
        Happened {
            contact_id: ticket.contact_id.clone(),
            company_id: ticket.company_id.clone(),
            kind: "new_message",
            event: format!("message:{}", message.id),
            params: json!({"n": ticket.number}),
            link: format!("/portal/tickets/{}", ticket.number),
            sent_by,
        },
    )
    .await;
}

/// The worker on every node: hears replies, sends waiting notices every few seconds,
/// scans invoices hourly.
pub async fn run(state: AppState, stop: CancellationToken) {
    let mut events = state.realtime.subscribe();
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_scan: Option<i64> = None;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            e = events.recv_shared() => {
                match e {
                    Ok(shared) => on_event(&state, shared.event()).await,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                }
                continue;
            }
            _ = tick.tick() => {}
        }
        let now = state.ids.now_ms();
        if last_scan.is_none_or(|t| now - t >= 3_600_000) {
            last_scan = Some(now);
            let today = crate::kit::billing::today(&state);
            if let Err(e) = scan_invoices(&state, today).await {
                tracing::warn!(error = %e, "invoice notices not scanned");
            }
        }
        if let Err(e) = send_waiting(&state).await {
            tracing::warn!(error = %e, "notices not sent");
        }
    }
}

/// The client a visit is for, and the portal page that shows it: the request's contact
/// (its ticket's page), else the machine's contract's contact (the machine's page).
pub async fn visit_contact(
    state: &AppState,
    v: &switchboard_core::store::Visit,
) -> Option<(String, String)> {
    let mut contact = None;
    let mut link = format!("/portal/machines/{}", v.machine_id);
    if let Some(c) = &v.conversation_id
        && let Ok(Some((number, who))) = state.store.conversation_refs(c).await
    {
        contact = Some(who);
        if let Ok(Some(_)) = state.store.ticket_of_conversation(c).await {
            link = format!("/portal/tickets/{number}");
        }
    }
    if contact.is_none()
        && let Ok(Some(c)) = state
            .store
            .contract_of_machine(&v.machine_id, crate::kit::billing::today(state))
            .await
    {
        contact = Some(c.contact_id);
    }
    contact.map(|c| (c, link))
}

/// A visit's notice to the client it is for: the request's contact, else the machine's
/// contract's. `kind` is `visit_scheduled` (booked or moved) or `visit_done`.
pub async fn visit(state: &AppState, v: &switchboard_core::store::Visit, kind: &'static str) {
    let Some((contact_id, link)) = visit_contact(state, v).await else {
        return;
    };
    // Booked and each move are events of their own; so is its end.
    let event = match kind {
        "visit_done" => format!("visit:{}:done", v.id),
        _ => format!(
            "visit:{}:{}:{}:{}",
            v.id, v.technician_id, v.window_from, v.window_to
        ),
    };
    record(
        state,
        Happened {
            contact_id,
            company_id: Some(v.company_id.clone()),
            kind,
            event,
            params: json!({
                "n": v.number, "machine": format!("{} {}", v.model, v.serial),
                "technician": v.technician, "from": v.window_from, "to": v.window_to,
            }),
            link,
            sent_by: None,
        },
    )
    .await;
}
