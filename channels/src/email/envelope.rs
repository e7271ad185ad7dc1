//! A read message as the envelope the backbone threads: who sent it (the From address),
//! who else it names (To, Cc: Cc'd people become participants), which of our messages it
//! answers (`replies_to`, nearest first: the conversation a verified reply address named,
//! then In-Reply-To, then References from the newest), and its own thread key, so that
//! a new mail with no link to a thread opens a conversation of its own even from a known
//! contact. The visible reply is the message's text; the whole text is kept beside it.
//!
//! Pure: the caller resolves a reply address to one of the conversation's message ids
//! (that needs the store) and stores attachments as blobs.

use switchboard_core::domain::{Channel, Envelope, Identity};
use switchboard_core::html::SanitizedHtml;

use super::parse::ParsedEmail;

/// Why a message cannot become an envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the message has no usable sender address")]
    NoSender,
}

/// What the caller knows beyond the message itself.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The envelope's id (a new unique id).
    pub id: String,
    /// The inbox (mailbox) it arrived at.
    pub inbox: String,
    pub received_at: i64,
    /// The external id of a message of the conversation a verified `reply+` address in
    /// To or Cc named: threading tries it first.
    pub token_reply: Option<String>,
    /// The external id of a message of the conversation a verified `[ref:…]` marker in
    /// the text named (clients that drop the headers keep the quoted text): tried last.
    pub marker_reply: Option<String>,
    /// An id for a message without `Message-ID` (the hash of its bytes), so that fetching
    /// it twice still stores it once.
    pub fallback_message_id: String,
    /// The attachments as stored (blob keys), in the message's order; those that could
    /// not be kept are left out and named in `not_kept`.
    pub attachments: Vec<switchboard_core::domain::Attachment>,
    /// Where each inline part (`cid:` in the HTML) can be loaded, by content id.
    pub cid_urls: std::collections::HashMap<String, String>,
    /// Attachments refused (over the size limit), each said in a line of its own after the
    /// text, so agents know something was sent that they cannot see.
    pub not_kept: Vec<String>,
}

/// Characters of a forwarded message's text shown in the conversation.
const FORWARD_CHARS: usize = 20_000;

/// The thread key of an email conversation: the first message of its chain.
pub fn thread_key(root_message_id: &str) -> String {
    format!("email:{root_message_id}")
}

pub fn envelope(p: &ParsedEmail, cx: &Context) -> Result<Envelope, EnvelopeError> {
    let sender = p
        .from
        .as_deref()
        .and_then(|f| Identity::email(f).ok())
        .ok_or(EnvelopeError::NoSender)?;
    let message_id = p
        .message_id
        .clone()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| cx.fallback_message_id.clone());
    let visible = if p.reply_text.trim().is_empty() {
        p.full_text.clone()
    } else {
        p.reply_text.clone()
    };
    let mut text = visible.clone();
    // A message forwarded as an attachment is shown as a forward: it is often the point of
    // the mail ("see below").
    for f in &p.forwarded {
        let body: String = f.text.trim().chars().take(FORWARD_CHARS).collect();
        text.push_str(&format!(
            "\n\n---------- Forwarded message ----------\nFrom: {}\nSubject: {}\n\n{body}",
            f.from.as_deref().unwrap_or("-"),
            f.subject.as_deref().unwrap_or("-"),
        ));
    }
    for line in &cx.not_kept {
        text.push_str("\n\n");
        text.push_str(line);
    }
    let mut env = Envelope::new(
        cx.id.clone(),
        Channel::Email,
        &cx.inbox,
        &message_id,
        sender,
        &text,
        cx.received_at,
    );
    env.sender_name = p.from_name.clone();
    let identities = |list: &[String]| -> Vec<Identity> {
        list.iter()
            .filter_map(|a| Identity::email(a).ok())
            .collect()
    };
    env.to = identities(&p.to);
    env.cc = identities(&p.cc);
    let mut replies_to: Vec<String> = Vec::new();
    let mut push = |id: &str| {
        if !id.is_empty() && id != message_id && !replies_to.iter().any(|r| r == id) {
            replies_to.push(id.to_owned());
        }
    };
    if let Some(t) = &cx.token_reply {
        push(t);
    }
    if let Some(r) = &p.in_reply_to {
        push(r);
    }
    for r in p.references.iter().rev() {
        push(r);
    }
    if let Some(m) = &cx.marker_reply {
        push(m);
    }
    // The chain's first message names the thread: a customer's follow-up to their own
    // earlier mail (not to ours) stays in the same conversation.
    let root = p
        .references
        .first()
        .or(p.in_reply_to.as_ref())
        .cloned()
        .unwrap_or_else(|| message_id.clone());
    env.replies_to = replies_to;
    env.thread = Some(thread_key(&root));
    env.subject = p.subject.clone();
    if p.full_text.trim() != visible.trim() {
        env.full_text = Some(p.full_text.clone());
    }
    env.html = p
        .html
        .as_deref()
        .map(|h| SanitizedHtml::sanitize_with(h, &|cid| cx.cid_urls.get(cid).cloned()));
    env.attachments = cx.attachments.clone();
    env.auto_submitted = p.auto_submitted;
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::parse::parse;

    fn cx() -> Context {
        Context {
            id: "env-1".into(),
            inbox: "support".into(),
            received_at: 1_700_000_000_000,
            token_reply: None,
            fallback_message_id: "sha256:abc".into(),
            ..Context::default()
        }
    }

    #[test]
    fn a_new_mail_opens_its_own_thread() {
        let p = parse(b"From: Ana <ana@example.com>\r\nTo: support@acme.test\r\nCc: Bo <BO@example.com>, not-an-address\r\nSubject: Toner\r\nMessage-ID: <n1@example.com>\r\n\r\nThe toner leaks.\r\n").unwrap();
        let e = envelope(&p, &cx()).unwrap();
        assert_eq!(e.channel, Channel::Email);
        assert_eq!(e.sender, Identity::email("ana@example.com").unwrap());
        assert_eq!(e.sender_name.as_deref(), Some("Ana"));
        assert_eq!(e.external_id, "n1@example.com");
        assert_eq!(e.thread.as_deref(), Some("email:n1@example.com"));
        assert!(e.replies_to.is_empty());
        assert_eq!(e.cc, [Identity::email("bo@example.com").unwrap()]);
        assert_eq!(e.text, "The toner leaks.");
        assert_eq!(e.full_text, None);
        assert_eq!(e.subject.as_deref(), Some("Toner"));
    }

    #[test]
    fn a_reply_names_what_it_answers_nearest_first() {
        let p = parse(b"From: ana@example.com\r\nMessage-ID: <r2@example.com>\r\nIn-Reply-To: <sb-2@acme.test>\r\nReferences: <n1@example.com> <sb-1@acme.test> <sb-2@acme.test>\r\n\r\nThanks!\r\n\r\nOn Tue, 3 Mar 2026 at 10:02, Support <support@acme.test> wrote:\r\n> Try this.\r\n").unwrap();
        let mut c = cx();
        c.token_reply = Some("sb-9@acme.test".into());
        c.marker_reply = Some("sb-0@acme.test".into());
        let e = envelope(&p, &c).unwrap();
        assert_eq!(
            e.replies_to,
            [
                "sb-9@acme.test",
                "sb-2@acme.test",
                "sb-1@acme.test",
                "n1@example.com",
                "sb-0@acme.test"
            ]
        );
        assert_eq!(e.thread.as_deref(), Some("email:n1@example.com"));
        assert_eq!(e.text, "Thanks!");
        assert!(e.full_text.as_deref().unwrap().contains("Try this."));
    }

    #[test]
    fn a_forwarded_message_is_shown_as_a_forward() {
        let p = parse(b"From: ana@example.com\r\nContent-Type: multipart/mixed; boundary=\"f\"\r\n\r\n--f\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n--f\r\nContent-Type: message/rfc822\r\n\r\nFrom: billing@vendor.test\r\nSubject: Invoice 42\r\n\r\nYou owe 10 EUR.\r\n--f--\r\n").unwrap();
        let e = envelope(&p, &cx()).unwrap();
        assert!(e.text.starts_with("See below."), "{}", e.text);
        assert!(
            e.text.contains("Forwarded message")
                && e.text.contains("From: billing@vendor.test")
                && e.text.contains("You owe 10 EUR."),
            "{}",
            e.text
        );
    }

    #[test]
    fn machines_and_senderless_mail() {
        let p =
            parse(b"From: ana@example.com\r\nAuto-Submitted: auto-replied\r\n\r\nI am away.\r\n")
                .unwrap();
        let e = envelope(&p, &cx()).unwrap();
        assert!(e.auto_submitted);
        assert_eq!(
            e.external_id, "sha256:abc",
            "no Message-ID: the fallback id"
        );
        let p = parse(b"Subject: who?\r\n\r\nno sender\r\n").unwrap();
        assert_eq!(envelope(&p, &cx()).unwrap_err(), EnvelopeError::NoSender);
    }
}
