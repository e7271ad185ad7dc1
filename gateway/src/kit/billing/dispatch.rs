//! Sending a document to its client, and showing it in the client's conversation.
//!
//! - Dispatch mails the client a localized mail with one large button. The button's
//!   address is `portal-link:/portal/invoices/<number>`, which the email sender turns into a
//!   fresh sign-in link each time it writes the mail, so no usable link is ever stored.
//! - The mail goes out as a message of the document's own conversation (thread
//!   `billing:<id>` in the first mailbox that sends mail), so agents see it went, retries
//!   are the dispatcher's, and the client's reply threads back to it.
//! - The conversation shows one card per document, updated in place as its status moves;
//!   a payment adds a payment card.

use switchboard_core::domain::{
    AuthorKind, CardPayload, Channel, EstimateStatus, IdentityKind, InvoiceStatus, PaymentStatus,
    Status,
};
use switchboard_core::money::Money;
use switchboard_core::store::{Invoice, NewOutbound};
use switchboard_portal::locale::{Lang, date};

use crate::kit::AppState;
use crate::kit::billing::{amount, shown, today};
use crate::kit::error::ApiError;
use crate::kit::words::words;

/// The card a document shows today.
pub fn card(doc: &Invoice, today: i64) -> Result<CardPayload, ApiError> {
    let status = shown(doc, today);
    let money = Money::new(doc.total, &doc.currency)?;
    Ok(if doc.kind == "estimate" {
        CardPayload::Estimate {
            id: doc.id.clone(),
            number: doc.number.clone(),
            amount: money,
            valid_until: doc.due_day.map(|d| d * 86_400_000),
            status: EstimateStatus::parse(&status)?,
        }
    } else {
        CardPayload::Invoice {
            id: doc.id.clone(),
            number: doc.number.clone(),
            amount: money,
            due_at: doc.due_day.map(|d| d * 86_400_000),
            status: InvoiceStatus::parse(&status)?,
        }
    })
}

/// Updates the document's card wherever it shows.
pub async fn refresh_card(state: &AppState, doc: &Invoice) -> Result<(), ApiError> {
    let payload = card(doc, today(state))?;
    switchboard_core::cards::update_subject(&state.store, &state.realtime, &state.ids, &payload)
        .await?;
    Ok(())
}

/// After a payment or refund: the document's card follows, and its conversation shows a
/// payment card.
pub async fn after_payment(
    state: &AppState,
    invoice_id: &str,
    reference: &str,
    paid_amount: i64,
    refund: bool,
) -> Result<(), ApiError> {
    let doc = state.store.invoice(invoice_id).await?;
    refresh_card(state, &doc).await?;
    // Paid in full by this payment (the shown status is computed: `paid` covers `total`).
    if !refund && doc.kind == "invoice" && doc.total > 0 && doc.paid >= doc.total {
        let event = switchboard_core::webhooks::event(
            "invoice.paid",
            &doc.id,
            state.ids.now_ms(),
            serde_json::json!({ "invoice": &doc, "payment": { "reference": reference, "amount": paid_amount, "currency": &doc.currency } }),
        );
        switchboard_core::webhooks::emit(&state.store, &state.stream, &state.ids, &[event]).await;
    }
    if !refund {
        crate::kit::notify::record(
            state,
            crate::kit::notify::Happened {
                contact_id: doc.contact_id.clone(),
                company_id: doc.company_id.clone(),
                kind: "invoice_paid",
                event: format!("payment:{}:{reference}", doc.id),
                params: serde_json::json!({"n": doc.number, "amount": paid_amount, "currency": doc.currency}),
                link: format!("/portal/invoices/{}", doc.number),
                sent_by: None,
            },
        )
        .await;
    }
    if let Some(conversation) = &doc.conversation_id {
        let payload = CardPayload::Payment {
            id: format!("{}:{reference}", doc.id),
            invoice_number: Some(doc.number.clone()),
            amount: Money::new(paid_amount, &doc.currency)?,
            status: if refund {
                PaymentStatus::Refunded
            } else {
                PaymentStatus::Succeeded
            },
        };
        switchboard_core::cards::show(
            &state.store,
            &state.realtime,
            &state.ids,
            conversation,
            payload,
        )
        .await?;
    }
    Ok(())
}

/// An invoice sent: the client's notice of it, carried by its own mail or message.
async fn issued(state: &AppState, doc: &Invoice, by: &'static str) {
    crate::kit::notify::record(
        state,
        crate::kit::notify::Happened {
            contact_id: doc.contact_id.clone(),
            company_id: doc.company_id.clone(),
            kind: "invoice_issued",
            event: format!("invoice:{}:issued", doc.id),
            params: serde_json::json!({"n": doc.number, "amount": doc.total, "currency": doc.currency, "due": doc.due_day}),
            link: format!("/portal/invoices/{}", doc.number),
            sent_by: Some(by),
        },
    )
    .await;
}

/// A draft turned sent (a sent document as it is).
async fn mark_sent(state: &AppState, doc: &Invoice) -> Result<Invoice, ApiError> {
    Ok(if doc.status == "draft" {
        state
            .store
            .set_document_status(&doc.id, &["draft"], "sent", state.ids.now_ms())
            .await?
    } else {
        doc.clone()
    })
}

/// An invoice for a client who prefers WhatsApp goes there (`kit::notices`): its words,
/// amount and due date with the portal page's plain address (no sign-in link), as the
/// `invoice_template` once the 24-hour window has closed; its card shows in that
/// conversation. `None` when it must go by mail (an estimate, no WhatsApp for them).
async fn by_whatsapp(state: &AppState, doc: &Invoice) -> Result<Option<Invoice>, ApiError> {
    if doc.kind == "estimate" {
        return Ok(None);
    }
    let (language, _) = state
        .store
        .contact_mail_preferences(&doc.contact_id)
        .await?;
    let tag = language
        .or_else(|| {
            state
                .email_sender
                .any_mailbox()
                .map(|m| m.lang.html_tag().to_owned())
        })
        .unwrap_or_else(|| "en".into());
    let lang = Lang::from_tag(&tag);
    let w = words(lang);
    let total = amount(doc.total, &doc.currency, lang);
    let due = doc
        .due_day
        .map(|d| date(d, lang))
        .unwrap_or_else(|| "—".into());
    let url = format!(
        "{}/portal/invoices/{}",
        state.config.public_url.trim_end_matches('/'),
        doc.number
    );
    let text = w
        .invoice_mail_text
        .replace("{n}", &doc.number)
        .replace("{business}", &state.config.web.business_name)
        .replace("{amount}", &total)
        .replace("{due}", &due);
    let notice = crate::kit::notices::Notice {
        key: format!("dispatch:{}:{}", doc.id, state.ids.now_ms()),
        kind: "invoice_issued",
        text: format!("{text}\n\n{url}"),
        template: state.config.whatsapp.invoice_template.clone(),
        params: vec![doc.number.clone(), total, due, url],
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
    let Some(conversation) =
        crate::kit::notices::by_whatsapp(parts, &doc.contact_id, notice).await?
    else {
        return Ok(None);
    };
    let sent = mark_sent(state, doc).await?;
    issued(state, &sent, "whatsapp").await;
    state
        .store
        .set_document_conversation(&doc.id, &conversation)
        .await?;
    switchboard_core::cards::show(
        &state.store,
        &state.realtime,
        &state.ids,
        &conversation,
        card(&sent, today(state))?,
    )
    .await?;
    Ok(Some(state.store.invoice(&doc.id).await?))
}

/// Sends a draft (or sends again a sent document): the mail with its button, the card.
pub async fn dispatch(
    state: &AppState,
    doc: &Invoice,
    by: Option<&str>,
) -> Result<Invoice, ApiError> {
    if !matches!(doc.status.as_str(), "draft" | "sent" | "viewed") {
        return Err(ApiError::Conflict(format!(
            "{} {} is {}: it cannot be sent",
            doc.kind, doc.number, doc.status
        )));
    }
    if let Some(sent) = by_whatsapp(state, doc).await? {
        return Ok(sent);
    }
    let identities = state.store.contact_identities(&doc.contact_id).await?;
    // The email sender writes to the contact's address; without one there is no mail.
    if !identities
        .iter()
        .any(|(i, _)| i.kind() == IdentityKind::Email)
    {
        return Err(ApiError::Invalid(
            "the contact has no email address to send it to".into(),
        ));
    }
    let Some(mailbox) = state.email_sender.any_mailbox() else {
        return Err(ApiError::Unavailable(
            "no mailbox sends mail: add one under Settings › Email".into(),
        ));
    };
    let (language, _) = state
        .store
        .contact_mail_preferences(&doc.contact_id)
        .await?;
    let lang = Lang::from_tag(language.as_deref().unwrap_or(mailbox.lang.html_tag()));
    let w = words(lang);
    let business = &state.config.web.business_name;
    let total = amount(doc.total, &doc.currency, lang);
    let due = doc
        .due_day
        .map(|d| date(d, lang))
        .unwrap_or_else(|| "—".into());
    let (subject, text, button, path) = if doc.kind == "estimate" {
        (
            w.estimate_mail_subject,
            w.estimate_mail_text,
            w.estimate_mail_button,
            format!("/portal/estimates/{}", doc.number),
        )
    } else {
        (
            w.invoice_mail_subject,
            w.invoice_mail_text,
            w.invoice_mail_button,
            format!("/portal/invoices/{}", doc.number),
        )
    };
    let fill = |s: &str| {
        s.replace("{n}", &doc.number)
            .replace("{business}", business)
            .replace("{amount}", &total)
            .replace("{due}", &due)
    };
    let subject = fill(subject);
    let text = fill(text);
    let conversation = state
        .store
        .open_conversation_for(
            &state.ids,
            &doc.contact_id,
            &mailbox.inbox,
            Channel::Email,
            &format!("billing:{}", doc.id),
            Some(&subject),
            Status::Pending,
        )
        .await?;
    let sent = mark_sent(state, doc).await?;
    let mut message = NewOutbound::text(
        &conversation.id,
        if by.is_some() {
            AuthorKind::Agent
        } else {
            AuthorKind::System
        },
        by,
        &text,
    )
    .key(format!("dispatch:{}:{}", doc.id, state.ids.now_ms()));
    message.content = Some(crate::kit::notices::portal_button(button, &path));
    state.outbox.queue(&message).await?;
    if doc.kind == "invoice" {
        issued(state, &sent, "email").await;
    }
    state
        .store
        .set_document_conversation(&doc.id, &conversation.id)
        .await?;
    switchboard_core::cards::show(
        &state.store,
        &state.realtime,
        &state.ids,
        &conversation.id,
        card(&sent, today(state))?,
    )
    .await?;
    Ok(state.store.invoice(&doc.id).await?)
}
