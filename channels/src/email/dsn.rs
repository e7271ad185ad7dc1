//! Delivery status notifications (RFC 3464): the report a mail system sends back when a
//! message of ours could not be delivered. What it says becomes a receipt for our message:
//! which message (the original's `Message-ID`, from the returned message or its headers,
//! else the report's own `In-Reply-To`/`References`), whether delivery failed for good,
//! and the remote server's own words.
//!
//! Pure: the caller turns the result into a [`switchboard_core::domain::Receipt`].

use mail_parser::{HeaderValue, MessageParser, MimeHeaders, PartType};

use super::parse::unbracket;

/// What a bounce reports about one of our messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// The ids the report names for the returned message, the most certain first (the
    /// returned message's own `Message-ID`, then the report's `In-Reply-To`, then its
    /// `References` from the newest).
    pub original_ids: Vec<String>,
    /// `Action: failed` for at least one recipient, or no per-recipient part at all (a
    /// report without one is a failure notice). `delayed`/`relayed`/`delivered` only is
    /// not a failure.
    pub failed: bool,
    /// The first failed recipient's `Status` (e.g. `5.1.1`).
    pub status: Option<String>,
    /// The remote server's words (`Diagnostic-Code`), else the report's human text.
    pub diagnostic: Option<String>,
    /// The address that could not be reached.
    pub recipient: Option<String>,
}

/// The longest diagnostic kept.
const DIAGNOSTIC_CHARS: usize = 500;

/// Reads a delivery status notification; `None` when `raw` is not one.
pub fn read_bounce(raw: &[u8]) -> Option<Bounce> {
    let message = MessageParser::default().parse(raw)?;
    let is_report = message.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });
    if !is_report {
        return None;
    }
    let mut original_ids = Vec::new();
    let mut fields: Option<String> = None;
    let mut human: Option<String> = None;
    for part in message.parts.iter() {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let kind = format!(
            "{}/{}",
            ct.ctype().to_ascii_lowercase(),
            ct.subtype().unwrap_or("").to_ascii_lowercase()
        );
        match (kind.as_str(), &part.body) {
            ("message/delivery-status" | "message/global-delivery-status", _) => {
                fields = Some(String::from_utf8_lossy(part.contents()).into_owned());
            }
            (_, PartType::Message(inner)) => {
                if let Some(id) = inner.message_id() {
                    original_ids.push(unbracket(id));
                }
            }
            ("text/rfc822-headers" | "message/global-headers", _) => {
                let mut headers = part.contents().to_vec();
                headers.extend_from_slice(b"\r\n\r\n");
                if let Some(id) = MessageParser::default()
                    .parse(&headers)
                    .and_then(|m| m.message_id().map(unbracket))
                {
                    original_ids.push(id);
                }
            }
            ("text/plain", _) if human.is_none() => {
                human = part.text_contents().map(str::to_owned);
            }
            _ => {}
        }
    }
    if let HeaderValue::Text(t) = message.in_reply_to() {
        original_ids.push(unbracket(t));
    }
    match message.references() {
        HeaderValue::Text(t) => original_ids.push(unbracket(t)),
        HeaderValue::TextList(l) => original_ids.extend(l.iter().rev().map(|t| unbracket(t))),
        _ => {}
    }
    let mut seen = std::collections::HashSet::new();
    original_ids.retain(|id| !id.is_empty() && seen.insert(id.clone()));
    let recipients = fields.as_deref().map(per_recipient).unwrap_or_default();
    let failed_one = recipients
        .iter()
        .find(|r| r.action.as_deref().is_some_and(|a| a.starts_with("failed")));
    let failed = failed_one.is_some() || recipients.is_empty();
    let chosen = failed_one.or(recipients.first());
    let diagnostic = chosen
        .and_then(|r| r.diagnostic.clone())
        .or_else(|| human.map(|h| h.trim().to_owned()))
        .filter(|d| !d.is_empty())
        .map(|d| {
            let one_line = d.split_whitespace().collect::<Vec<_>>().join(" ");
            one_line.chars().take(DIAGNOSTIC_CHARS).collect()
        });
    Some(Bounce {
        original_ids,
        failed,
        status: chosen.and_then(|r| r.status.clone()),
        diagnostic,
        recipient: chosen.and_then(|r| r.recipient.clone()),
    })
}

#[derive(Debug, Default)]
struct Recipient {
    recipient: Option<String>,
    action: Option<String>,
    status: Option<String>,
    diagnostic: Option<String>,
}

/// The per-recipient field groups of a `message/delivery-status` body (the first group
/// is per message; groups are separated by blank lines; long fields are folded).
fn per_recipient(body: &str) -> Vec<Recipient> {
    let mut groups: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for line in body.lines() {
        if line.trim().is_empty() {
            if groups.last().is_some_and(|g| !g.is_empty()) {
                groups.push(Vec::new());
            }
            continue;
        }
        let group = groups.last_mut();
        let Some(group) = group else { continue };
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = group.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            group.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    groups
        .into_iter()
        .filter(|g| {
            g.iter()
                .any(|(k, _)| k == "final-recipient" || k == "original-recipient" || k == "action")
        })
        .map(|g| {
            let get = |name: &str| g.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
            // `rfc822; ana@example.com` and `smtp; 550 5.1.1 …`: the part after the type.
            let typed = |v: String| match v.split_once(';') {
                Some((_, rest)) => rest.trim().to_owned(),
                None => v,
            };
            Recipient {
                recipient: get("final-recipient")
                    .or_else(|| get("original-recipient"))
                    .map(typed)
                    .map(|r| r.to_lowercase()),
                action: get("action").map(|a| a.to_ascii_lowercase()),
                status: get("status"),
                diagnostic: get("diagnostic-code").map(typed),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const POSTFIX_BOUNCE: &str = "From: MAILER-DAEMON@mx.example.com (Mail Delivery System)\r\n\
To: support@acme.test\r\n\
Subject: Undelivered Mail Returned to Sender\r\n\
Auto-Submitted: auto-replied\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B1\"\r\n\
Message-Id: <bounce-1@mx.example.com>\r\n\
\r\n\
--B1\r\n\
Content-Description: Notification\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n\
This is the mail system at host mx.example.com.\r\n\
\r\n\
I'm sorry to have to inform you that your message could not\r\n\
be delivered to one or more recipients.\r\n\
\r\n\
--B1\r\n\
Content-Description: Delivery report\r\n\
Content-Type: message/delivery-status\r\n\
\r\n\
Reporting-MTA: dns; mx.example.com\r\n\
Arrival-Date: Tue,  3 Mar 2026 10:02:11 +0000 (UTC)\r\n\
\r\n\
Final-Recipient: rfc822; Ana@Example.com\r\n\
Original-Recipient: rfc822;ana@example.com\r\n\
Action: failed\r\n\
Status: 5.1.1\r\n\
Remote-MTA: dns; in.example.com\r\n\
Diagnostic-Code: smtp; 550 5.1.1 <ana@example.com>: Recipient address\r\n\
\trejected: User unknown in virtual mailbox table\r\n\
\r\n\
--B1\r\n\
Content-Description: Undelivered Message Headers\r\n\
Content-Type: text/rfc822-headers\r\n\
\r\n\
From: Support <support@acme.test>\r\n\
To: ana@example.com\r\n\
Subject: Re: Toner\r\n\
Message-ID: <sb-42@acme.test>\r\n\
\r\n\
--B1--\r\n";

    #[test]
    fn a_failed_delivery_names_our_message_and_the_servers_words() {
        let b = read_bounce(POSTFIX_BOUNCE.as_bytes()).unwrap();
        assert_eq!(b.original_ids, ["sb-42@acme.test"]);
        assert!(b.failed);
        assert_eq!(b.status.as_deref(), Some("5.1.1"));
        assert_eq!(b.recipient.as_deref(), Some("ana@example.com"));
        assert_eq!(
            b.diagnostic.as_deref(),
            Some(
                "550 5.1.1 <ana@example.com>: Recipient address rejected: User unknown in virtual mailbox table"
            )
        );
    }

    #[test]
    fn a_returned_whole_message_and_a_delay_notice() {
        let raw = "From: mailer-daemon@mx.example.com\r\nIn-Reply-To: <sb-7@acme.test>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nDelayed.\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\nFinal-Recipient: rfc822; bo@example.com\r\nAction: delayed\r\nStatus: 4.4.7\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nMessage-ID: <sb-8@acme.test>\r\nSubject: hi\r\n\r\nhello\r\n--b--\r\n";
        let b = read_bounce(raw.as_bytes()).unwrap();
        assert_eq!(b.original_ids, ["sb-8@acme.test", "sb-7@acme.test"]);
        assert!(!b.failed, "a delay is not a failure");
        assert_eq!(b.status.as_deref(), Some("4.4.7"));
    }

    #[test]
    fn ordinary_mail_is_not_a_bounce() {
        assert_eq!(
            read_bounce(b"From: ana@example.com\r\nSubject: hi\r\n\r\nhello\r\n"),
            None
        );
        assert_eq!(read_bounce(b""), None);
    }
}
