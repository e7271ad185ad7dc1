//! Our outgoing mail as bytes: multipart text + HTML in one clean, branded, localized
//! (en, es, pt-BR) layout, with the headers that keep a thread together (`Message-ID`,
//! `In-Reply-To`, `References`, `Reply-To: reply+<token>@`), the marker for clients that
//! drop them, attachments, and `Auto-Submitted: auto-replied` on mail no person wrote.
//!
//! Pure: the caller reads attachments from the blob store and hands the bytes to SMTP.

use lettre::Message;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use switchboard_core::html::escape;

/// The languages our mail is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Es,
    PtBr,
}

impl Lang {
    /// `es…` → Spanish, `pt…` → Portuguese (Brazil), anything else English.
    pub fn from_tag(tag: &str) -> Self {
        let t = tag.trim().to_ascii_lowercase();
        if t.starts_with("es") {
            Lang::Es
        } else if t.starts_with("pt") {
            Lang::PtBr
        } else {
            Lang::En
        }
    }

    pub fn html_tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
            Lang::PtBr => "pt-BR",
        }
    }
}

/// The sentences of our mail, per language.
pub struct Words {
    pub reply_hint: &'static str,
    pub request: &'static str,
    pub status_subject: &'static str,
    pub status_body: &'static str,
    pub resolved_subject: &'static str,
    pub resolved_body: &'static str,
    pub reply_subject: &'static str,
    pub reply_body: &'static str,
    pub open: &'static str,
    pub pending: &'static str,
    pub resolved: &'static str,
    pub snoozed: &'static str,
    /// The button of a mail about a portal ticket.
    pub view_ticket: &'static str,
}

pub fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::En => &Words {
            reply_hint: "Reply to this email to continue the conversation.",
            request: "Request",
            status_subject: "Your request #{n} is now {status}",
            status_body: "The status of your request #{n} changed to: {status}.",
            resolved_subject: "Your request #{n} has been resolved",
            resolved_body: "We have marked your request #{n} as resolved. If anything is still wrong, just reply to this email and it opens again.",
            reply_subject: "New reply to your request #{n}",
            reply_body: "{agent} replied to your request #{n}:",
            open: "open",
            pending: "waiting for your answer",
            resolved: "resolved",
            snoozed: "on hold",
            view_ticket: "View request #{n} in your portal",
        },
        Lang::Es => &Words {
            reply_hint: "Responde a este correo para continuar la conversación.",
            request: "Solicitud",
            status_subject: "Tu solicitud #{n} ahora está {status}",
            status_body: "El estado de tu solicitud #{n} cambió a: {status}.",
            resolved_subject: "Tu solicitud #{n} fue resuelta",
            resolved_body: "Marcamos tu solicitud #{n} como resuelta. Si algo sigue mal, responde a este correo y se abrirá de nuevo.",
            reply_subject: "Nueva respuesta a tu solicitud #{n}",
            reply_body: "{agent} respondió a tu solicitud #{n}:",
            open: "abierta",
            pending: "esperando tu respuesta",
            resolved: "resuelta",
            snoozed: "en espera",
            view_ticket: "Ver la solicitud #{n} en su portal",
        },
        Lang::PtBr => &Words {
            reply_hint: "Responda a este e-mail para continuar a conversa.",
            request: "Solicitação",
            status_subject: "Sua solicitação #{n} agora está {status}",
            status_body: "O status da sua solicitação #{n} mudou para: {status}.",
            resolved_subject: "Sua solicitação #{n} foi resolvida",
            resolved_body: "Marcamos sua solicitação #{n} como resolvida. Se algo ainda estiver errado, é só responder a este e-mail que ela é reaberta.",
            reply_subject: "Nova resposta à sua solicitação #{n}",
            reply_body: "{agent} respondeu à sua solicitação #{n}:",
            open: "aberta",
            pending: "aguardando sua resposta",
            resolved: "resolvida",
            snoozed: "em espera",
            view_ticket: "Ver a solicitação #{n} no seu portal",
        },
    }
}

/// An attachment to send.
#[derive(Debug, Clone)]
pub struct OutgoingFile {
    pub name: String,
    pub mime: String,
    pub bytes: Vec<u8>,
}

/// One mail of ours.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub from_name: String,
    pub from_address: String,
    /// `reply+<token>@…`: replies come back to the conversation whatever the client does
    /// with the thread headers.
    pub reply_to: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    /// Without angle brackets.
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    /// The message as the agent wrote it (plain text).
    pub text: String,
    /// The message's own HTML (already sanitized), shown instead of the text in the HTML
    /// part when present.
    pub html: Option<String>,
    pub files: Vec<OutgoingFile>,
    /// No person wrote it (a bot answer, a notification): `Auto-Submitted: auto-replied`,
    /// so other robots do not answer it.
    pub automatic: bool,
    pub lang: Lang,
    /// The business's name at the top of the HTML and after the signature.
    pub brand: String,
    /// Who wrote it, under the text (the agent's name).
    pub signature: Option<String>,
    /// `[ref:<token>]`, at the foot of both parts.
    pub marker: Option<String>,
    /// One large call to action under the text (title, address): "View and pay invoice".
    pub button: Option<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("bad address {0:?}")]
    Address(String),
    #[error("the mail has no recipient")]
    NoRecipient,
    #[error("cannot build the mail: {0}")]
    Build(String),
}

#[derive(Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-replied".to_owned())
    }
}

fn mailbox(name: Option<&str>, address: &str) -> Result<Mailbox, ComposeError> {
    let addr = address
        .parse()
        .map_err(|_| ComposeError::Address(address.to_owned()))?;
    Ok(Mailbox::new(
        name.filter(|n| !n.trim().is_empty()).map(str::to_owned),
        addr,
    ))
}

fn bracketed(id: &str) -> String {
    format!("<{}>", id.trim_matches(['<', '>']))
}

/// Plain text as HTML paragraphs (blank lines part them, single newlines are breaks).
fn paragraphs(text: &str) -> String {
    text.trim()
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            format!(
                "<p style=\"margin:0 0 14px 0\">{}</p>",
                escape(p.trim()).replace('\n', "<br>")
            )
        })
        .collect()
}

/// The text part: the message, the signature, the hint and the marker.
pub fn text_part(m: &OutgoingMail) -> String {
    let w = words(m.lang);
    let mut out = m.text.trim_end().to_owned();
    if let Some((title, url)) = &m.button {
        out.push_str(&format!("\n\n{title}:\n{url}"));
    }
    out.push_str("\n\n-- \n");
    match &m.signature {
        Some(s) => out.push_str(&format!("{s} · {}\n", m.brand)),
        None => out.push_str(&format!("{}\n", m.brand)),
    }
    out.push_str(w.reply_hint);
    out.push('\n');
    if let Some(marker) = &m.marker {
        out.push_str(marker);
        out.push('\n');
    }
    out
}

/// The HTML part: one centred card, readable from a phone to a wide monitor, with
/// inline styles only (mail clients drop style sheets).
pub fn html_part(m: &OutgoingMail) -> String {
    let w = words(m.lang);
    let body = match &m.html {
        Some(h) if !h.trim().is_empty() => h.clone(),
        _ => paragraphs(&m.text),
    };
    let signature = m
        .signature
        .as_deref()
        .map(|s| {
            format!(
                "<p style=\"margin:18px 0 0 0;color:#374151\">— {}</p>",
                escape(s)
            )
        })
        .unwrap_or_default();
    let button = m
        .button
        .as_ref()
        .map(|(title, url)| {
            format!(
                "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" style=\"margin:8px 0 18px 0\"><tr><td style=\"border-radius:8px;background:#4f46e5\">\
<a href=\"{url}\" style=\"display:inline-block;padding:14px 28px;font:600 17px/1.2 -apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#ffffff;text-decoration:none;border-radius:8px\">{title}</a></td></tr></table>\
<p style=\"margin:0 0 14px 0;font-size:12px;color:#6b7280;word-break:break-all\">{url}</p>",
                url = escape(url),
                title = escape(title),
            )
        })
        .unwrap_or_default();
    let marker = m
        .marker
        .as_deref()
        .map(|k| format!("<br><span style=\"color:#9ca3af\">{}</span>", escape(k)))
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{subject}</title></head>\
<body style=\"margin:0;padding:0;background:#f3f4f6\">\
<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"background:#f3f4f6;padding:24px 12px\"><tr><td align=\"center\">\
<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"max-width:600px;background:#ffffff;border-radius:8px;border:1px solid #e5e7eb\">\
<tr><td style=\"padding:16px 24px;border-bottom:3px solid #4f46e5;font:600 16px/1.4 -apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#111827\">{brand}</td></tr>\
<tr><td style=\"padding:24px;font:15px/1.6 -apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#111827\">{body}{button}{signature}</td></tr>\
<tr><td style=\"padding:14px 24px;border-top:1px solid #e5e7eb;font:12px/1.5 -apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#6b7280\">{hint}{marker}</td></tr>\
</table></td></tr></table></body></html>",
        lang = m.lang.html_tag(),
        subject = escape(&m.subject),
        brand = escape(&m.brand),
        hint = escape(w.reply_hint),
    )
}

/// The mail as RFC 5322 bytes, and the envelope recipients.
pub fn compose(m: &OutgoingMail) -> Result<(Vec<u8>, Vec<String>), ComposeError> {
    if m.to.is_empty() && m.cc.is_empty() {
        return Err(ComposeError::NoRecipient);
    }
    let mut b = Message::builder()
        .from(mailbox(Some(&m.from_name), &m.from_address)?)
        .subject(m.subject.clone())
        .message_id(Some(bracketed(&m.message_id)));
    if let Some(r) = &m.reply_to {
        b = b.reply_to(mailbox(Some(&m.from_name), r)?);
    }
    for t in &m.to {
        b = b.to(mailbox(None, t)?);
    }
    for c in &m.cc {
        b = b.cc(mailbox(None, c)?);
    }
    if let Some(r) = &m.in_reply_to {
        b = b.in_reply_to(bracketed(r));
    }
    if !m.references.is_empty() {
        let refs: Vec<String> = m.references.iter().map(|r| bracketed(r)).collect();
        b = b.references(refs.join(" "));
    }
    if m.automatic {
        b = b.header(AutoSubmitted);
    }
    let alternative = MultiPart::alternative_plain_html(text_part(m), html_part(m));
    let message = if m.files.is_empty() {
        b.multipart(alternative)
    } else {
        let mut mixed = MultiPart::mixed().multipart(alternative);
        for f in &m.files {
            let ct = ContentType::parse(&f.mime)
                .or_else(|_| ContentType::parse("application/octet-stream"))
                .map_err(|e| ComposeError::Build(e.to_string()))?;
            let part: SinglePart = Attachment::new(f.name.clone()).body(f.bytes.clone(), ct);
            mixed = mixed.singlepart(part);
        }
        b.multipart(mixed)
    }
    .map_err(|e| ComposeError::Build(e.to_string()))?;
    let rcpt = m.to.iter().chain(&m.cc).cloned().collect();
    Ok((message.formatted(), rcpt))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::parse::parse;

    fn mail(lang: Lang) -> OutgoingMail {
        OutgoingMail {
            from_name: "Acme Support".into(),
            from_address: "support@acme.test".into(),
            reply_to: Some("reply+0123@acme.test".into()),
            to: vec!["ana@example.com".into()],
            cc: vec!["bo@example.com".into()],
            subject: "Re: Toner <leaks>".into(),
            message_id: "sb-1@acme.test".into(),
            in_reply_to: Some("n1@example.com".into()),
            references: vec!["n1@example.com".into(), "r2@example.com".into()],
            text: "Olá Ana,\n\nTry a new cartridge & tell me.\nThanks".into(),
            html: None,
            files: vec![OutgoingFile {
                name: "guide.pdf".into(),
                mime: "application/pdf".into(),
                bytes: b"%PDF-1.4 fake".to_vec(),
            }],
            button: None,
            automatic: false,
            lang,
            brand: "Acme".into(),
            signature: Some("Rita".into()),
            marker: Some("[ref:abc]".into()),
        }
    }

    #[test]
    fn our_mail_reads_back_with_its_thread_headers_parts_and_marker() {
        let (raw, rcpt) = compose(&mail(Lang::PtBr)).unwrap();
        assert_eq!(rcpt, ["ana@example.com", "bo@example.com"]);
        let p = parse(&raw).unwrap();
        assert_eq!(p.from.as_deref(), Some("support@acme.test"));
        assert_eq!(p.message_id.as_deref(), Some("sb-1@acme.test"));
        assert_eq!(p.in_reply_to.as_deref(), Some("n1@example.com"));
        assert_eq!(p.references, ["n1@example.com", "r2@example.com"]);
        assert_eq!(p.cc, ["bo@example.com"]);
        assert!(!p.auto_submitted, "a person wrote it");
        assert!(p.full_text.contains("Olá Ana,"));
        assert!(p.full_text.contains("Responda a este e-mail"));
        assert!(p.full_text.contains("[ref:abc]"));
        let html = p.html.unwrap();
        assert!(html.contains("lang=\"pt-BR\""));
        assert!(
            html.contains("cartridge &amp; tell me.<br>Thanks"),
            "{html}"
        );
        assert!(html.contains("Re: Toner &lt;leaks&gt;"));
        assert_eq!(p.attachments.len(), 1);
        assert_eq!(p.attachments[0].name, "guide.pdf");
        let text = String::from_utf8_lossy(&raw);
        assert!(
            text.contains("Reply-To: \"Acme Support\" <reply+0123@acme.test>"),
            "{text}"
        );
    }

    #[test]
    fn automatic_mail_says_so_and_each_language_has_its_words() {
        let mut m = mail(Lang::Es);
        m.automatic = true;
        m.files.clear();
        let (raw, _) = compose(&m).unwrap();
        let p = parse(&raw).unwrap();
        assert!(p.auto_submitted);
        assert!(p.full_text.contains("Responde a este correo"));
        assert!(text_part(&mail(Lang::En)).contains("Reply to this email"));
        assert_eq!(Lang::from_tag("pt-BR"), Lang::PtBr);
        assert_eq!(Lang::from_tag("es-MX"), Lang::Es);
        assert_eq!(Lang::from_tag("fr"), Lang::En);
    }

    #[test]
    fn bad_addresses_and_no_recipient_are_refused() {
        let mut m = mail(Lang::En);
        m.to = vec!["not an address".into()];
        assert!(matches!(compose(&m), Err(ComposeError::Address(_))));
        m.to.clear();
        m.cc.clear();
        assert!(matches!(compose(&m), Err(ComposeError::NoRecipient)));
    }
}
