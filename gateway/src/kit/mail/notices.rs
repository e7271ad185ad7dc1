//! The customer of an email conversation is told by email when its status changes and
//! when it is resolved: a short, localized notice (the contact's language, else the
//! inbox's), sent as a message of the conversation so agents see it went, marked
//! `Auto-Submitted` like all mail no person wrote. At most one per conversation per
//! `email.notify_every_minutes`, and none to a contact who asked for none. An agent's
//! reply needs no notice: in an email conversation the reply is the mail. A client who
//! prefers WhatsApp hears of every request of theirs there instead (`kit::notices`), by
//! mail when WhatsApp cannot carry it.

use switchboard_channels::email::compose::{Lang, words};
use switchboard_core::dispatcher::Outbox;
use switchboard_core::domain::{AuthorKind, Channel, Conversation, Status};
use switchboard_core::store::{NewOutbound, Store};
use switchboard_core::workflow::StatusNotices;

use crate::config::Config;

#[derive(Debug)]
pub struct EmailNotices {
    pub store: Store,
    pub outbox: Outbox,
    pub config: std::sync::Arc<Config>,
    pub mailboxes: std::sync::Arc<crate::kit::mail::mailboxes::Mailboxes>,
    /// For clients who prefer their notices by WhatsApp.
    pub whatsapp: std::sync::Arc<crate::kit::whatsapp::Whatsapp>,
}

/// The notice's text for a conversation that moved to `status`.
pub fn notice_text(lang: Lang, number: i64, status: Status) -> String {
    let w = words(lang);
    let n = number.to_string();
    match status {
        Status::Resolved => w.resolved_body.replace("{n}", &n),
        other => w
            .status_body
            .replace("{n}", &n)
            .replace("{status}", &status_word(lang, other)),
    }
}

#[async_trait::async_trait]
impl StatusNotices for EmailNotices {
    async fn status_changed(&self, before: &Conversation, after: &Conversation) {
        if before.status == after.status {
            return;
        }
        // Snoozing and waking are the agents' business; open, waiting on the customer,
        // and resolved are the customer's.
        if matches!(after.status, Status::Snoozed) || matches!(before.status, Status::Snoozed) {
            return;
        }
        let sent_by = self.deliver(after).await;
        // A request's status is also a notice on the client's portal.
        if let Ok(Some(t)) = self.store.ticket_of_conversation(&after.id).await {
            crate::kit::notify::record_in(
                &self.store,
                &self.outbox.ids,
                crate::kit::notify::Happened {
                    contact_id: t.contact_id.clone(),
                    company_id: t.company_id.clone(),
                    kind: "ticket_status",
                    event: format!("status:{}:{}", after.id, after.version),
                    params: serde_json::json!({"n": t.number, "status": after.status.as_str()}),
                    link: format!("/portal/tickets/{}", t.number),
                    sent_by: Some(sent_by),
                },
            )
            .await;
        }
    }
}

impl EmailNotices {
    /// Sends the status notice by the channel the client prefers; where it went (`none`:
    /// nowhere: a WhatsApp conversation has the agents' messages, or the client asked for
    /// none, or it went a moment ago).
    async fn deliver(&self, after: &Conversation) -> &'static str {
        // A WhatsApp conversation needs no notice: the agents' messages are there.
        if after.channel == Channel::Whatsapp {
            return "none";
        }
        let by_whatsapp = match self
            .store
            .notice_channel_for(&after.contact_id, "ticket_status")
            .await
        {
            Ok(c) if c == "none" => return "none",
            Ok(c) => c == "whatsapp",
            Err(e) => {
                tracing::warn!(conversation = %after.id, error = %e, "no status notice: preferences unreadable");
                return "none";
            }
        };
        let mailbox = self.mailboxes.by_inbox(&after.inbox);
        // By mail only an email conversation's; by WhatsApp any request of a client who
        // prefers it. Nothing else is read for the others.
        let by_mail = after.channel == Channel::Email && mailbox.is_some();
        if !(by_mail || by_whatsapp) {
            return "none";
        }
        let (language, wanted) = match self.store.contact_mail_preferences(&after.contact_id).await
        {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(conversation = %after.id, error = %e, "no status notice: preferences unreadable");
                return "none";
            }
        };
        if !wanted {
            return "none";
        }
        let now = self.outbox.ids.now_ms();
        let every = i64::from(self.config.email.notify_every_minutes) * 60_000;
        match self.store.take_notice_slot(&after.id, now, every).await {
            Ok(true) => {}
            Ok(false) => return "none",
            Err(e) => {
                tracing::warn!(conversation = %after.id, error = %e, "no status notice");
                return "none";
            }
        }
        let tag = language
            .clone()
            .or_else(|| mailbox.as_ref().map(|m| m.language.clone()))
            .unwrap_or_else(|| "en".into());
        let lang = Lang::from_tag(&tag);
        let text = notice_text(lang, after.number, after.status);
        let key = format!("notice:{}:{}:{now}", after.id, after.version);
        if by_whatsapp {
            let notice = crate::kit::notices::Notice {
                key: format!("{key}:whatsapp"),
                kind: "ticket_status",
                text: text.clone(),
                template: self.config.whatsapp.status_template.clone(),
                params: vec![after.number.to_string(), status_word(lang, after.status)],
                lang: tag,
                list: None,
                conversation: None,
                chosen: false,
            };
            let parts = crate::kit::notices::Parts {
                store: &self.store,
                outbox: &self.outbox,
                whatsapp: &self.whatsapp,
            };
            match crate::kit::notices::by_whatsapp(parts, &after.contact_id, notice).await {
                Ok(Some(_)) => return "whatsapp",
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(conversation = %after.id, error = %e, "WhatsApp status notice not queued; it goes by mail");
                }
            }
        }
        if !by_mail {
            return "none";
        }
        let new = NewOutbound::text(&after.id, AuthorKind::System, None, &text).key(key);
        match self.outbox.queue(&new).await {
            Ok(_) => "email",
            Err(e) => {
                tracing::warn!(conversation = %after.id, error = %e, "status notice not queued");
                "none"
            }
        }
    }
}

/// A status in the customer's words (a template's parameter).
pub fn status_word(lang: Lang, status: Status) -> String {
    let w = words(lang);
    match status {
        Status::Open => w.open,
        Status::Pending => w.pending,
        Status::Snoozed => w.snoozed,
        Status::Resolved => w.resolved,
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_name_the_request_and_its_status_in_each_language() {
        assert_eq!(
            notice_text(Lang::En, 12, Status::Pending),
            "The status of your request #12 changed to: waiting for your answer."
        );
        assert!(
            notice_text(Lang::PtBr, 12, Status::Resolved)
                .starts_with("Marcamos sua solicitação #12 como resolvida.")
        );
        assert!(notice_text(Lang::Es, 3, Status::Open).contains("#3 cambió a: abierta"));
    }
}
