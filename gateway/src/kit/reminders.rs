//! Reminders that a contract's meter readings are due: a few days before a period's
//! reading day (`contracts.read_before` days before it ends; `overage::reading_due`), a
//! contract whose machines have not all been read goes to its contact once per period, by
//! the channel they prefer: WhatsApp (words in the 24-hour window, the
//! `whatsapp.reading_template` after it), else a mail whose button signs them in on the
//! readings page. Once, whatever the nodes and runs: the period's row in
//! `reading_reminders` is claimed first (`Store::claim_reading_reminder`).
//!
//! Runs with the hourly equipment job, `switchboard equipment remind` and
//! `POST /api/v1/contracts/remind`. Tests: e2e
//! `equipment::readings_due_are_reminded_once_by_the_clients_channel`.

use switchboard_core::domain::{AuthorKind, Channel, IdentityKind, Status};
use switchboard_core::store::{Contract, NewOutbound};
use switchboard_portal::locale::{Lang, date};
use switchboard_portal::overage::{needs_reading, reading_due};

use crate::kit::AppState;
use crate::kit::error::ApiError;

/// What a run of the reminders did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RemindReport {
    pub contracts: usize,
    /// Reminders this run sent, by WhatsApp and by mail.
    pub whatsapp: usize,
    pub email: usize,
    /// Contracts due whose contact has no channel to reach (no address, no mailbox).
    pub unreachable: usize,
}

/// The reminder's words: subject, text, button (`{n}` the contract, `{date}` the day,
/// `{machines}` the serials, `{business}`).
fn texts(lang: Lang) -> (&'static str, &'static str, &'static str) {
    match lang {
        Lang::En => (
            "Meter readings due by {date}: contract {n}",
            "Hello! The counters of your machines under contract {n} with {business} are due by {date}: {machines}. Enter them on your portal in a minute, with a photo if you like.",
            "Enter the readings",
        ),
        Lang::Es => (
            "Lecturas de contador hasta el {date}: contrato {n}",
            "¡Hola! Los contadores de sus máquinas del contrato {n} con {business} deben informarse hasta el {date}: {machines}. Regístrelos en su portal en un minuto, con una foto si lo desea.",
            "Registrar las lecturas",
        ),
        Lang::PtBr => (
            "Leituras de contador até {date}: contrato {n}",
            "Olá! Os contadores das suas máquinas do contrato {n} com {business} devem ser informados até {date}: {machines}. Informe no seu portal em um minuto, com uma foto se quiser.",
            "Informar as leituras",
        ),
    }
}

/// Sends every reminder due `today` (a day number), each once.
pub async fn remind_readings(state: &AppState, today: i64) -> Result<RemindReport, ApiError> {
    let mut report = RemindReport::default();
    let mut after = String::new();
    loop {
        let page = state.store.contracts_after(&after, 200).await?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        for c in &page {
            report.contracts += 1;
            if let Err(e) = remind_one(state, c, today, &mut report).await {
                tracing::warn!(contract = %c.id, error = %e, "reading reminder not sent");
            }
        }
    }
    Ok(report)
}

async fn remind_one(
    state: &AppState,
    c: &Contract,
    today: i64,
    report: &mut RemindReport,
) -> Result<(), ApiError> {
    let Some(read_before) = c.read_before else {
        return Ok(());
    };
    let every = crate::kit::equipment::every(c);
    let Some(due) = reading_due(c.start_day, every, c.end_day, read_before, today) else {
        return Ok(());
    };
    // The machines serving the contract now that have not been read for this day.
    let slots = state.store.contract_machines(&c.id).await?;
    let serving: Vec<String> = slots
        .iter()
        .filter(|s| s.from_day <= today && s.to_day.is_none_or(|t| t > today))
        .map(|s| s.machine_id.clone())
        .collect();
    if serving.is_empty() {
        return Ok(());
    }
    let last = state.store.last_readings(&serving).await?;
    let mut unread: Vec<String> = Vec::new();
    for m in state.store.company_machines(&c.company_id).await? {
        if !serving.contains(&m.id) {
            continue;
        }
        let day = last.iter().find(|r| r.machine_id == m.id).map(|r| r.day);
        if needs_reading(day, due.by) {
            unread.push(m.asset_tag.clone().unwrap_or(m.serial.clone()));
        }
    }
    if unread.is_empty() {
        return Ok(());
    }
    let preferred = state.store.contact_notice_channel(&c.contact_id).await?;
    if !state
        .store
        .claim_reading_reminder(&state.ids, &c.id, due.n, &preferred)
        .await?
    {
        return Ok(());
    }
    let (language, _) = state.store.contact_mail_preferences(&c.contact_id).await?;
    let tag = language
        .or_else(|| {
            state
                .email_sender
                .any_mailbox()
                .map(|m| m.lang.html_tag().to_owned())
        })
        .unwrap_or_else(|| "en".into());
    let lang = Lang::from_tag(&tag);
    let (subject, text, button) = texts(lang);
    let by = date(due.by, lang);
    let fill = |s: &str| {
        s.replace("{n}", &c.number)
            .replace("{date}", &by)
            .replace("{machines}", &unread.join(", "))
            .replace("{business}", &state.config.web.business_name)
    };
    let url = format!(
        "{}/portal/readings",
        state.config.public_url.trim_end_matches('/')
    );
    let notice = crate::kit::notices::Notice {
        key: format!("reading-reminder:{}:{}", c.id, due.n),
        kind: "reading_due",
        text: format!("{}\n\n{url}", fill(text)),
        template: state.config.whatsapp.reading_template.clone(),
        params: vec![c.number.clone(), by.clone(), url],
        lang: tag,
        list: None,
        conversation: None,
        chosen: false,
    };
    let parts = crate::kit::notices::Parts {
        store: &state.store,
        outbox: &state.outbox,
        whatsapp: &state.whatsapp,
    };
    let noted = |by: &'static str| crate::kit::notify::Happened {
        contact_id: c.contact_id.clone(),
        company_id: Some(c.company_id.clone()),
        kind: "reading_due",
        event: format!("readings:{}:{}", c.id, due.n),
        params: serde_json::json!({"n": c.number, "due": due.by}),
        link: "/portal/readings".to_owned(),
        sent_by: Some(by),
    };
    if state
        .store
        .notice_channel_for(&c.contact_id, "reading_due")
        .await?
        == "none"
    {
        crate::kit::notify::record(state, noted("none")).await;
        return Ok(());
    }
    if crate::kit::notices::by_whatsapp(parts, &c.contact_id, notice)
        .await?
        .is_some()
    {
        report.whatsapp += 1;
        crate::kit::notify::record(state, noted("whatsapp")).await;
        return Ok(());
    }
    let has_address = state
        .store
        .contact_identities(&c.contact_id)
        .await?
        .iter()
        .any(|(i, _)| i.kind() == IdentityKind::Email);
    let Some(mailbox) = state.email_sender.any_mailbox().filter(|_| has_address) else {
        report.unreachable += 1;
        crate::kit::notify::record(state, noted("none")).await;
        tracing::info!(contract = %c.id, "reading reminder: the contact has no address to write to");
        return Ok(());
    };
    let subject = fill(subject);
    let conversation = state
        .store
        .open_conversation_for(
            &state.ids,
            &c.contact_id,
            &mailbox.inbox,
            Channel::Email,
            &format!("readings:{}:{}", c.id, due.n),
            Some(&subject),
            Status::Pending,
        )
        .await?;
    let body = fill(text);
    let mut message = NewOutbound::text(&conversation.id, AuthorKind::System, None, &body)
        .key(format!("reading-reminder:{}:{}", c.id, due.n));
    message.content = Some(crate::kit::notices::portal_button(
        button,
        "/portal/readings",
    ));
    state.outbox.queue(&message).await?;
    report.email += 1;
    crate::kit::notify::record(state, noted("email")).await;
    Ok(())
}
