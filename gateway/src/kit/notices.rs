//! Notices by WhatsApp, for clients who prefer it (`contacts.notice_channel`): a request's
//! status and an invoice issued go to the contact's WhatsApp conversation (on the number
//! they last wrote to, else the first), as free text inside the 24-hour window and as the
//! configured approved template outside it. When WhatsApp cannot carry a notice (no
//! WhatsApp identity, no number, no approved template of that name) it goes by mail as
//! before, so a notice is never lost and never sent twice.
//!
//! The invoice's notice carries the portal page's plain address, never a sign-in link: a
//! WhatsApp number proves only that its holder reads WhatsApp there.
//!
//! Tests: e2e `whatsapp::notices_go_by_whatsapp_to_clients_who_prefer_it`.

use switchboard_channels::whatsapp::outbound::window_open;
use switchboard_core::dispatcher::Outbox;
use switchboard_core::domain::{
    AuthorKind, Channel, DEFAULT_THREAD, IdentityKind, RichContent, Status, Template,
};
use switchboard_core::store::{NewOutbound, Store, WaTemplate};

use crate::kit::whatsapp::Whatsapp;

/// What a notice says, as free text and as a template's parameters.
#[derive(Debug, Clone)]
pub struct Notice {
    /// Makes a retried notice one message.
    pub key: String,
    /// Its kind (`ticket_status`, `invoice_issued`…): the contact's channel is per kind.
    pub kind: &'static str,
    pub text: String,
    /// The template's name (the configuration's `status_template`, `invoice_template`).
    pub template: String,
    pub params: Vec<String>,
    /// The contact's language tag (`pt-BR`), to pick the template's language.
    pub lang: String,
    /// Answers to choose from (a survey's), sent as an interactive list while the window
    /// is open.
    pub list: Option<switchboard_core::domain::ListContent>,
    /// The WhatsApp conversation it answers (a survey's, resolved by then): it goes there
    /// while the window is open, rather than opening a new one.
    pub conversation: Option<String>,
    /// The sender chose WhatsApp already, minding the client's choice per kind (the
    /// notices' batch, which also sends a survey back where the client wrote).
    pub chosen: bool,
}

/// What a notice needs to go by WhatsApp.
#[derive(Debug, Clone, Copy)]
pub struct Parts<'a> {
    pub store: &'a Store,
    pub outbox: &'a Outbox,
    pub whatsapp: &'a Whatsapp,
}

/// Sends `notice` by WhatsApp when the contact prefers it and WhatsApp can carry it:
/// the conversation it went to, or `None` when it must go by mail.
pub async fn by_whatsapp(
    parts: Parts<'_>,
    contact_id: &str,
    notice: Notice,
) -> switchboard_core::Result<Option<String>> {
    let Parts {
        store,
        outbox,
        whatsapp,
    } = parts;
    if !notice.chosen && store.notice_channel_for(contact_id, notice.kind).await? != "whatsapp" {
        return Ok(None);
    }
    if !on_whatsapp(store, contact_id).await? {
        return Ok(None);
    }
    let inbox = match store.whatsapp_inbox_of(contact_id).await? {
        Some(i) if whatsapp.by_inbox(&i).is_some() => i,
        _ => match whatsapp.all().first() {
            Some(n) => n.inbox(),
            None => return Ok(None),
        },
    };
    // The window is the conversation's, as the sender reads it; a conversation is opened
    // only for a notice that can go.
    let mut existing = store
        .unresolved_thread(contact_id, &inbox, DEFAULT_THREAD)
        .await?;
    if existing.is_none()
        && let Some(c) = &notice.conversation
    {
        let answered = store.conversation(c).await?;
        if answered.contact_id == contact_id && answered.inbox == inbox {
            existing = Some(answered.id);
        }
    }
    let last = match &existing {
        Some(id) => store.last_inbound_at(id).await?,
        None => None,
    };
    let (text, content) = if window_open(last, outbox.ids.now_ms()) {
        let content = notice.list.clone().map(|list| RichContent {
            list: Some(list),
            ..RichContent::default()
        });
        (notice.text.clone(), content)
    } else {
        let templates = store.wa_templates(&inbox).await?;
        let Some(t) = pick_template(&templates, &notice) else {
            tracing::info!(contact = %contact_id, template = %notice.template, "no approved template for a WhatsApp notice: it goes by mail");
            return Ok(None);
        };
        (
            t.render(&notice.params),
            Some(RichContent {
                template: Some(Template {
                    name: t.name.clone(),
                    language: t.language.clone(),
                    params: notice.params.clone(),
                }),
                ..RichContent::default()
            }),
        )
    };
    let conversation = match existing {
        Some(id) => id,
        None => {
            store
                .open_conversation_for(
                    &outbox.ids,
                    contact_id,
                    &inbox,
                    Channel::Whatsapp,
                    DEFAULT_THREAD,
                    None,
                    Status::Pending,
                )
                .await?
                .id
        }
    };
    let mut new =
        NewOutbound::text(&conversation, AuthorKind::System, None, &text).key(notice.key.clone());
    new.content = content;
    outbox.queue(&new).await?;
    Ok(Some(conversation))
}

/// Whether the contact has a WhatsApp identity of its own (a number or Meta's user id).
pub async fn on_whatsapp(store: &Store, contact_id: &str) -> switchboard_core::Result<bool> {
    Ok(store
        .contact_identities(contact_id)
        .await?
        .iter()
        .any(|(i, verified)| {
            *verified
                && matches!(
                    i.kind(),
                    IdentityKind::Whatsapp | IdentityKind::WhatsappUser
                )
        }))
}

/// The approved template of the notice's name that takes its parameters, in the contact's
/// language when there is one (`pt_BR`, else `pt`, else any).
pub fn pick_template<'t>(templates: &'t [WaTemplate], notice: &Notice) -> Option<&'t WaTemplate> {
    let fits: Vec<&WaTemplate> = templates
        .iter()
        .filter(|t| {
            t.status == "APPROVED"
                && t.name == notice.template
                && usize::try_from(t.params).ok() == Some(notice.params.len())
        })
        .collect();
    let want = notice.lang.replace('-', "_").to_ascii_lowercase();
    let base = want.split('_').next().unwrap_or_default().to_owned();
    fits.iter()
        .find(|t| t.language.to_ascii_lowercase() == want)
        .or_else(|| {
            fits.iter()
                .find(|t| t.language.to_ascii_lowercase().split('_').next() == Some(&base))
        })
        .or(fits.first())
        .copied()
}

/// A mail's one button to a portal page: the email sender turns it into a fresh sign-in
/// link for the recipient's own address each time it writes the mail, so no usable link
/// is ever stored.
pub fn portal_button(title: &str, path: &str) -> switchboard_core::domain::RichContent {
    switchboard_core::domain::RichContent {
        buttons: vec![switchboard_core::domain::Button {
            id: "portal".into(),
            title: title.to_owned(),
            url: Some(format!(
                "{}{path}",
                switchboard_channels::email::smtp::PORTAL_LINK
            )),
        }],
        ..switchboard_core::domain::RichContent::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, language: &str, status: &str, params: i64) -> WaTemplate {
        WaTemplate {
            name: name.into(),
            language: language.into(),
            status: status.into(),
            category: "UTILITY".into(),
            body: format!("{language}: {{{{1}}}}"),
            params,
        }
    }

    #[test]
    fn the_template_is_approved_takes_the_parameters_and_speaks_the_client_s_language() {
        let notice = |lang: &str| Notice {
            key: "k".into(),
            kind: "ticket_status",
            text: "t".into(),
            template: "request_status".into(),
            params: vec!["12".into(), "resolved".into()],
            lang: lang.into(),
            list: None,
            conversation: None,
            chosen: false,
        };
        let all = [
            t("request_status", "en_US", "APPROVED", 2),
            t("request_status", "pt_BR", "APPROVED", 2),
            t("request_status", "es", "REJECTED", 2),
            t("request_status", "es_MX", "APPROVED", 1),
            t("other", "es", "APPROVED", 2),
        ];
        assert_eq!(
            pick_template(&all, &notice("pt-BR")).unwrap().language,
            "pt_BR"
        );
        assert_eq!(
            pick_template(&all, &notice("pt")).unwrap().language,
            "pt_BR"
        );
        assert_eq!(
            pick_template(&all, &notice("en")).unwrap().language,
            "en_US"
        );
        // No approved Spanish one that takes two parameters: the first that fits.
        assert_eq!(
            pick_template(&all, &notice("es")).unwrap().language,
            "en_US"
        );
        assert!(pick_template(&all[2..], &notice("es")).is_none());
    }
}
