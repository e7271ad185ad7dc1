//! Portal submissions: a ticket a signed-in client opens, and its later messages, as
//! normalized envelopes; and the portal's outbound side.
//!
//! - A ticket's messages thread by the ticket: thread key `ticket:<id>`. The first
//!   message's external id is the thread key itself; each later one names it in
//!   `replies_to`, so a message to a resolved ticket opens that ticket again rather than
//!   starting another conversation.
//! - The sender is the identity the portal verified at sign-in (the magic link's address),
//!   never an address typed into the form.
//!
//! Pure: no IO.

use async_trait::async_trait;
use switchboard_core::dispatcher::{Outgoing, SendError, SendReceipt, Sender};
use switchboard_core::domain::{Attachment, Channel, Envelope, Identity};
use switchboard_core::store::ticket_thread;

/// Longest message accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 20_000;
/// Most files on one message.
pub const MAX_FILES: usize = 5;

/// Why a submission is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("write a message or attach a file")]
    Empty,
    #[error("a message may be at most {MAX_TEXT_CHARS} characters")]
    TooLong,
    #[error("at most {MAX_FILES} files per message")]
    TooManyFiles,
}

/// Checks a message's text and files; returns the text as it will be stored (line ends
/// made `\n`, surrounding blank space trimmed).
pub fn checked_text(text: &str, files: usize) -> Result<String, Refused> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let text = text.trim();
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(Refused::TooLong);
    }
    if files > MAX_FILES {
        return Err(Refused::TooManyFiles);
    }
    if text.is_empty() && files == 0 {
        return Err(Refused::Empty);
    }
    Ok(text.to_owned())
}

/// One message of a ticket, as the client wrote it on the portal.
#[derive(Debug, Clone)]
pub struct Submission<'a> {
    pub inbox: &'a str,
    pub ticket_id: &'a str,
    /// `None` for the message that opens the ticket; else the form's own key, so the same
    /// form sent twice is one message.
    pub key: Option<&'a str>,
    /// The verified address the client signed in with.
    pub sender: &'a Identity,
    pub sender_name: Option<&'a str>,
    pub subject: &'a str,
    pub text: &'a str,
    pub attachments: Vec<Attachment>,
}

/// The envelope of a ticket's message.
pub fn envelope(id: String, s: Submission<'_>, now_ms: i64) -> Envelope {
    let thread = ticket_thread(s.ticket_id);
    let external_id = match s.key {
        None => thread.clone(),
        Some(k) => format!("{thread}:{k}"),
    };
    let mut e = Envelope::new(
        id,
        Channel::Portal,
        s.inbox,
        &external_id,
        s.sender.clone(),
        s.text,
        now_ms,
    );
    if s.key.is_some() {
        e.replies_to = vec![thread.clone()];
    }
    e.thread = Some(thread);
    e.subject = Some(s.subject.to_owned());
    e.sender_name = s
        .sender_name
        .map(str::to_owned)
        .filter(|n| !n.trim().is_empty());
    e.attachments = s.attachments;
    e
}

/// The portal's outbound side: an agent's reply to a portal-only ticket is shown on the
/// ticket's page (the realtime event and the page's reads carry it), so sending only
/// confirms it.
#[derive(Debug, Default, Clone)]
pub struct PortalSender;

#[async_trait]
impl Sender for PortalSender {
    fn channel(&self) -> Channel {
        Channel::Portal
    }

    async fn send(&self, outgoing: &Outgoing) -> Result<SendReceipt, SendError> {
        Ok(SendReceipt {
            external_id: Some(format!("portal:{}", outgoing.message.id)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who() -> Identity {
        Identity::email("Ana@Example.com").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_ticket_opens_its_thread_and_later_messages_name_it() {
        let sender = who();
        let first = envelope(
            "e1".into(),
            Submission {
                inbox: "mail",
                ticket_id: "t1",
                key: None,
                sender: &sender,
                sender_name: Some("Ana"),
                subject: "Printer jams",
                text: "It jams on page 2",
                attachments: vec![],
            },
            5,
        );
        assert_eq!(first.channel, Channel::Portal);
        assert_eq!(first.thread_key(), "ticket:t1");
        assert_eq!(first.external_id, "ticket:t1");
        assert!(first.replies_to.is_empty());
        assert_eq!(first.sender.value(), "ana@example.com");
        let later = envelope(
            "e2".into(),
            Submission {
                key: Some("k9"),
                sender_name: Some("  "),
                ..Submission {
                    inbox: "mail",
                    ticket_id: "t1",
                    key: None,
                    sender: &sender,
                    sender_name: None,
                    subject: "Printer jams",
                    text: "still",
                    attachments: vec![],
                }
            },
            6,
        );
        assert_eq!(later.external_id, "ticket:t1:k9");
        assert_eq!(later.replies_to, vec!["ticket:t1".to_owned()]);
        assert_eq!(later.sender_name, None);
        assert_eq!(later.idempotency_key(), "portal:ticket:t1:k9");
    }

    #[test]
    fn texts_are_checked_and_tidied() {
        assert_eq!(checked_text("  a\r\nb \r", 0).as_deref(), Ok("a\nb"));
        assert_eq!(checked_text(" \n ", 0), Err(Refused::Empty));
        assert_eq!(checked_text("", 1).as_deref(), Ok(""));
        assert_eq!(
            checked_text(&"é".repeat(MAX_TEXT_CHARS), 0).map(|t| t.chars().count()),
            Ok(MAX_TEXT_CHARS)
        );
        assert_eq!(
            checked_text(&"é".repeat(MAX_TEXT_CHARS + 1), 0),
            Err(Refused::TooLong)
        );
        assert_eq!(
            checked_text("hi", MAX_FILES + 1),
            Err(Refused::TooManyFiles)
        );
    }
}
