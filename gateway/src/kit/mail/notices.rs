//! The customer of an email conversation is told by email when its status changes and
//! when it is resolved: a short, localized notice (the contact's language, else the
//! inbox's), sent as a message of the conversation so agents see it went, marked
//! `Auto-Submitted` like all mail no person wrote. At most one per conversation per
//! `email.notify_every_minutes`, and none to a contact who asked for none. An agent's
//! reply needs no notice: in an email conversation the reply is the mail.

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
}

/// The notice's text for a conversation that moved to `status`.
pub fn notice_text(lang: Lang, number: i64, status: Status) -> String {
    let w = words(lang);
    let n = number.to_string();
    match status {
        Status::Resolved => w.resolved_body.replace("{n}", &n),
        other => {
            let name = match other {
                Status::Open => w.open,
                Status::Pending => w.pending,
                Status::Snoozed => w.snoozed,
                Status::Resolved => w.resolved,
            };
            w.status_body.replace("{n}", &n).replace("{status}", name)
        }
    }
}

#[async_trait::async_trait]
impl StatusNotices for EmailNotices {
    async fn status_changed(&self, before: &Conversation, after: &Conversation) {
        if after.channel != Channel::Email || before.status == after.status {
            return;
        }
        // Snoozing and waking are the agents' business; open, waiting on the customer,
        // and resolved are the customer's.
        if matches!(after.status, Status::Snoozed) || matches!(before.status, Status::Snoozed) {
            return;
        }
        let Some(inbox) = self.mailboxes.by_inbox(&after.inbox) else {
            return;
        };
        let (language, wanted) = match self.store.contact_mail_preferences(&after.contact_id).await
        {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(conversation = %after.id, error = %e, "no status notice: preferences unreadable");
                return;
            }
        };
        if !wanted {
            return;
        }
        let now = self.outbox.ids.now_ms();
        let every = i64::from(self.config.email.notify_every_minutes) * 60_000;
        match self.store.take_notice_slot(&after.id, now, every).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(conversation = %after.id, error = %e, "no status notice");
                return;
            }
        }
        let lang = Lang::from_tag(language.as_deref().unwrap_or(&inbox.language));
        let text = notice_text(lang, after.number, after.status);
        let new = NewOutbound::text(&after.id, AuthorKind::System, None, &text)
            .key(format!("notice:{}:{}:{now}", after.id, after.version));
        if let Err(e) = self.outbox.queue(&new).await {
            tracing::warn!(conversation = %after.id, error = %e, "status notice not queued");
        }
    }
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
