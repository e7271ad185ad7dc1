//! One raw RFC 5322 message read into what the email channel keeps: addresses, thread
//! headers, the visible reply apart from the quoted rest, the HTML, attachments, and
//! whether a machine sent it. Every charset, quoted-printable and base64 are decoded by
//! `mail-parser`; HTML-only mail gets its text from the HTML. Nothing here touches the
//! network or the store, so the command line (`switchboard email parse`) and the inbound
//! paths read mail the same way.

use std::borrow::Cow;

use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders};
use serde::Serialize;

use super::html::{has_markup, html_to_text};
use super::legacy;
use super::reply::{folded, split_reply};
use super::tnef;

/// The largest message read at all; larger ones are refused before parsing.
pub const MAX_MESSAGE_BYTES: usize = 40 * 1024 * 1024;

/// An attachment as the message describes it (its bytes stay in the message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentInfo {
    pub name: String,
    pub mime: String,
    pub size: usize,
    /// `Content-ID` of an inline part (an image the HTML shows with `cid:`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_id: Option<String>,
}

/// A message forwarded as an attachment (`message/rfc822`), read for showing as such.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Forwarded {
    pub from: Option<String>,
    pub subject: Option<String>,
    pub text: String,
}

/// A message as read. The field names are the `email parse --json` contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParsedEmail {
    /// The sender's address, lower-cased.
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: Option<String>,
    /// Without angle brackets.
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    /// The new text: quoted history and signature removed.
    pub reply_text: String,
    /// What was removed from the text (quotes, earlier messages, signature).
    pub quoted_text: String,
    /// The whole text as decoded (reply and rest in their order).
    #[serde(skip)]
    pub full_text: String,
    /// The HTML body as sent (sanitized before it is shown, never here).
    pub html: Option<String>,
    pub attachments: Vec<AttachmentInfo>,
    /// Sent by a machine (auto-reply, bounce, list or bulk mail): it must not open a
    /// conversation or reach the bot.
    pub auto_submitted: bool,
    /// A delivery status notification (`multipart/report; report-type=delivery-status`).
    pub bounce: bool,
    /// Messages attached whole (forwarded as attachments), in order.
    pub forwarded: Vec<Forwarded>,
    /// The message ends before its MIME structure does (a lost connection, a cut file):
    /// what could be read is kept, and this says the rest is missing.
    pub incomplete: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the message is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("not an email message: {0}")]
    NotAMessage(&'static str),
}

/// Reads one raw message.
pub fn parse(raw: &[u8]) -> Result<ParsedEmail, ParseError> {
    read(raw, false).map(|(p, _)| p)
}

/// Reads one raw message with the bytes of its attachments, in the order of
/// [`ParsedEmail::attachments`], for storing them.
pub fn parse_with_attachments(raw: &[u8]) -> Result<(ParsedEmail, Vec<Vec<u8>>), ParseError> {
    read(raw, true)
}

fn read(raw: &[u8], with_bytes: bool) -> Result<(ParsedEmail, Vec<Vec<u8>>), ParseError> {
    if raw.len() > MAX_MESSAGE_BYTES {
        return Err(ParseError::TooLarge {
            size: raw.len(),
            limit: MAX_MESSAGE_BYTES,
        });
    }
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::NotAMessage("it is empty"));
    }
    // Two Content-Types at the top (a broken mailer's): the first is the message's, as
    // the first Subject is.
    if let Some(first_only) = first_content_type_only(raw) {
        return read(&first_only, with_bytes);
    }
    let message = MessageParser::default()
        .parse(raw)
        .ok_or(ParseError::NotAMessage("no header could be read"))?;
    if message.headers().is_empty() {
        return Err(ParseError::NotAMessage("no header could be read"));
    }
    // Outlook's opaque S/MIME signature wraps the whole message in one `smime.p7m`; the
    // signed message inside is readable without any key, and is what the sender wrote.
    if let Some(inner) = opaque_signed(&message) {
        return read(&inner, with_bytes);
    }
    // No From (a scanner's, an intranet's form): the Sender, else the Return-Path.
    let from_addr = message
        .from()
        .and_then(Address::first)
        .or_else(|| message.sender().and_then(Address::first));
    let from = from_addr
        .and_then(|a| a.address())
        .map(|a| a.trim().to_lowercase())
        .filter(|a| !a.is_empty())
        .or_else(|| {
            ids(message.return_path())
                .into_iter()
                .next()
                .map(|a| a.to_lowercase())
                .filter(|a| a.contains('@'))
        });
    let from_name = from_addr
        .and_then(|a| a.name())
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .map(|n| {
            if n.contains('\u{FFFD}') {
                raw_from_name(&message).unwrap_or(n)
            } else {
                n
            }
        });
    let incomplete = is_incomplete(&message, raw);
    let mut text = body_text(&message);
    if text.trim().is_empty() && incomplete {
        // A text part cut before its boundary is read as an unnamed part: its text is
        // still the message's.
        if let Some(t) = message
            .attachments()
            .find(|p| p.attachment_name().is_none() && p.is_text())
            .and_then(|p| p.text_contents())
        {
            text = t.to_owned();
        }
    }
    // A text-only message has no HTML of its own (the parser would make some from the
    // text).
    let html = message
        .html_bodies()
        .any(|p| p.is_text_html())
        .then(|| message.body_html(0).map(|h| h.into_owned()))
        .flatten();
    let has_plain = message
        .text_bodies()
        .any(|p| p.is_text() && !p.is_text_html());
    // A text/plain part left empty beside a full HTML one (some webmails and ERPs), or a
    // stub saying to read the HTML: the HTML is the message.
    let mut blank_plain = false;
    if has_plain
        && text.split_whitespace().nth(STUB_WORDS - 1).is_none()
        && let Some(h) = &html
    {
        let html_text = html_to_text(h);
        if stub_beside(&text, &html_text) {
            text = html_text;
            blank_plain = true;
        }
    }
    let mut offered = offered(&message);
    // A file uuencoded inside the text (old Unix mailers and ERPs): offered as a file, and
    // its lines are not the sender's words.
    if let Some((kept, files)) = legacy::uu_blocks(&text) {
        text = kept;
        for file in files {
            let name = Some(tnef::file_name(&file.name))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "attachment".to_owned());
            let info = AttachmentInfo {
                mime: tnef::by_extension(&name).to_owned(),
                name,
                size: file.data.len(),
                content_id: None,
            };
            offered.files.push((info, Cow::Owned(file.data)));
        }
    }
    if text.trim().is_empty() {
        // Outlook's "rich text" to the outside world: the text is only in its winmail.dat.
        if let Some(t) = offered.streams.iter().find_map(tnef::Tnef::text) {
            text = t;
        }
    }
    // Line ends as the reply split writes them, so the whole text and the visible reply
    // compare equal when nothing was quoted.
    if text.contains('\r') {
        text = text.replace("\r\n", "\n").replace('\r', "\n");
    }
    // HTML-only mail: the clients mark where the quoted history starts; the reply is the
    // text before that mark (and then split as any text is).
    let html_only = blank_plain || !has_plain;
    let split = match html.as_deref().filter(|_| html_only).and_then(html_reply) {
        Some(split) => split,
        None => split_reply(&text),
    };
    let bounce = is_bounce(&message);
    let attachments = offered.files.iter().map(|(info, _)| info.clone()).collect();
    let forwarded = message
        .attachments()
        .filter_map(|part| part.message())
        .map(|inner| Forwarded {
            from: inner
                .from()
                .and_then(Address::first)
                .and_then(|a| a.address())
                .map(|a| a.trim().to_lowercase()),
            subject: inner.subject().map(str::to_owned),
            text: body_text(inner),
        })
        .collect();
    let bytes = if with_bytes {
        offered
            .files
            .iter()
            .map(|(_, bytes)| bytes.to_vec())
            .collect()
    } else {
        Vec::new()
    };
    let parsed = ParsedEmail {
        from: from.clone(),
        from_name,
        to: addresses(message.to()),
        cc: addresses(message.cc()),
        subject: subject(&message),
        message_id: message.message_id().map(unbracket),
        in_reply_to: ids(message.in_reply_to()).into_iter().next(),
        references: ids(message.references()),
        reply_text: split.reply,
        quoted_text: split.rest,
        full_text: text,
        html,
        attachments,
        auto_submitted: bounce || machine_sent(&message, from.as_deref()),
        bounce,
        forwarded,
        incomplete,
    };
    Ok((parsed, bytes))
}

/// The message without the second and later `Content-Type` headers of its top-level
/// header block (with their folded lines); `None` when it has one or none.
fn first_content_type_only(raw: &[u8]) -> Option<Vec<u8>> {
    // One pass over the header block, which ends at the first blank line.
    let mut keep = Vec::new();
    let (mut seen, mut dropping, mut dropped, mut at) = (false, false, false, 0);
    for line in raw.split_inclusive(|b| *b == b'\n') {
        if line.trim_ascii().is_empty() {
            break;
        }
        if !line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            let content_type = line
                .get(..13)
                .is_some_and(|h| h.eq_ignore_ascii_case(b"content-type:"));
            dropping = content_type && seen;
            seen |= content_type;
            dropped |= dropping;
        }
        if !dropping {
            keep.push(at..at + line.len());
        }
        at += line.len();
    }
    if !dropped {
        return None;
    }
    let mut out = Vec::with_capacity(raw.len());
    for range in keep {
        out.extend_from_slice(&raw[range]);
    }
    out.extend_from_slice(&raw[at..]);
    Some(out)
}

/// The text a reader sees in the message's text parts, in order: a `format=flowed` part
/// (RFC 3676) with its soft line breaks joined, an HTML part (a message without plain text)
/// as its reader sees it. All of them, not the first alone: Apple Mail sends the text on
/// either side of an inline picture as two parts.
fn body_text(message: &mail_parser::Message<'_>) -> String {
    let mut parts: Vec<String> = Vec::new();
    for part in message.text_bodies().filter(|p| p.is_text()) {
        let Some(contents) = part.text_contents() else {
            continue;
        };
        let repaired = repaired(message, part, contents);
        // A byte-order mark some clients put before UTF-8 text is not text.
        let contents = repaired
            .as_deref()
            .unwrap_or(contents)
            .trim_start_matches('\u{FEFF}');
        // A part labelled HTML whose body is plain text (some ERPs and forms): its lines
        // are the text, not whitespace to collapse.
        let text = if part.is_text_html() && has_markup(contents) {
            html_to_text(contents)
        } else {
            let text = if content_type_says(part, "format", &["flowed"]) {
                unflow(contents, content_type_says(part, "delsp", &["yes"]))
            } else {
                contents.to_owned()
            };
            unarmoured(&text).unwrap_or(text)
        };
        // An alternative nested in an alternative lists the same text twice; a reader
        // shows it once.
        let same = |other: &String| other.split_whitespace().eq(text.split_whitespace());
        if !text.trim().is_empty() && !parts.iter().any(same) {
            parts.push(text);
        }
    }
    parts.join("\n\n")
}

/// Whether a text/plain part is a stub beside its HTML ("Para visualizar esta mensagem,
/// utilize um leitor compatível com HTML", "To view this email as a web page…"): empty,
/// or short while the HTML says several times more. A reply whose plain part is short
/// and whose HTML also holds the quoted history reads the same either way.
fn stub_beside(plain: &str, html_text: &str) -> bool {
    let plain_words = plain.split_whitespace().count();
    let html_words = html_text.split_whitespace().count();
    plain_words == 0 || (plain_words < STUB_WORDS && html_words >= 3 * plain_words + 20)
}

/// A plain part shorter than this, in words, may be a stub beside its HTML.
const STUB_WORDS: usize = 30;

/// The text of a part whose sender got its encoding wrong, read as the sender meant it;
/// `None` when the part was read cleanly. Two faults seen in real mail: a base64 body with a
/// line that is not base64 (a footer, a row of asterisks), which the decoder refuses whole;
/// and Windows-1252 bytes in a part labelled UTF-8 (or not labelled), which would show as
/// replacement characters.
fn repaired(
    message: &mail_parser::Message<'_>,
    part: &mail_parser::MessagePart<'_>,
    contents: &str,
) -> Option<String> {
    use mail_parser::Encoding;
    use mail_parser::decoders::{
        charsets::map::charset_decoder, quoted_printable::quoted_printable_decode,
    };
    let said = |name: &str| {
        part.content_transfer_encoding()
            .is_some_and(|e| e.trim().eq_ignore_ascii_case(name))
    };
    let base64 = part.encoding == Encoding::Base64 || said("base64");
    let label = part
        .content_type()
        .and_then(|c| c.attribute("charset"))
        .map(str::trim);
    // No label, a Unicode one, or one no decoder knows ("x-unknown"): read as UTF-8.
    let unicode_label = || {
        label.is_none_or(|l| charset_decoder(l.as_bytes()).is_none())
            || content_type_says(part, "charset", &["utf-8", "utf8", "us-ascii", "ascii"])
    };
    // UTF-7, whose decoder in the parser drops the character that ends an encoded run.
    let utf7 = label.is_some_and(legacy::is_utf7);
    let refused_base64 = base64 && part.is_encoding_problem;
    let replaced = || contents.contains('\u{FFFD}') && unicode_label();
    // 8-bit text under a US-ASCII label, which the parser reads as Latin-1 ("OlÃ¡").
    let ascii_label =
        || !contents.is_ascii() && content_type_says(part, "charset", &["us-ascii", "ascii"]);
    if !(refused_base64 || replaced() || ascii_label() || utf7) {
        return None;
    }
    let raw = message
        .raw_message()
        .get(part.raw_body_offset() as usize..part.raw_end_offset() as usize)?;
    let bytes = if base64 {
        lenient_base64(raw)?
    } else if part.encoding == Encoding::QuotedPrintable || said("quoted-printable") {
        quoted_printable_decode(raw)?
    } else {
        raw.to_vec()
    };
    if let Some(l) = label.filter(|_| utf7) {
        return legacy::decode(l, &bytes).filter(|text| text != contents);
    }
    match String::from_utf8(bytes) {
        Ok(text) => Some(text),
        Err(e) if unicode_label() => {
            charset_decoder(b"windows-1252").map(|cp1252| cp1252(e.as_bytes()))
        }
        // Another charset whose decoder refused the base64: decoded by the label's own
        // decoder is beyond this repair; keep what the parser read.
        Err(_) => None,
    }
}

/// Whether the part's `Content-Type` gives `name` one of `values` (any case).
fn content_type_says(part: &mail_parser::MessagePart<'_>, name: &str, values: &[&str]) -> bool {
    part.content_type()
        .and_then(|c| c.attribute(name))
        .is_some_and(|v| values.iter().any(|w| v.trim().eq_ignore_ascii_case(w)))
}

/// Base64 read without the lines that are not base64 at all.
fn lenient_base64(raw: &[u8]) -> Option<Vec<u8>> {
    let base64 = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=');
    let lines: Vec<&[u8]> = raw
        .split(|b| *b == b'\n')
        .map(<[u8]>::trim_ascii)
        .filter(|line| !line.is_empty() && line.iter().all(base64))
        .collect();
    mail_parser::decoders::base64::base64_decode(&lines.concat())
}

/// What a reader is offered to open, with its bytes: the [`listed`] parts, except that a
/// `winmail.dat` that reads whole is replaced by the files inside it (Outlook's TNEF, which
/// no other client opens), not offered when it holds no file (only the message's
/// formatting), and kept beside its files when it holds an Outlook item that is not
/// unpacked. One that does not read whole is offered as it came.
/// The streams that read whole come back beside the files, so that a message whose text is
/// only in one is read from it without reading the stream again.
struct Offered<'a> {
    files: Vec<(AttachmentInfo, Cow<'a, [u8]>)>,
    streams: Vec<tnef::Tnef<'a>>,
}

fn offered<'a>(message: &'a mail_parser::Message<'a>) -> Offered<'a> {
    let mut out = Vec::new();
    let mut streams = Vec::new();
    for part in listed(message) {
        let info = || AttachmentInfo {
            name: attachment_name(message, part),
            mime: part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_owned(),
                })
                .unwrap_or_else(|| {
                    // A digest's parts default to mail (RFC 2046 5.1.5).
                    if part.message().is_some() {
                        "message/rfc822"
                    } else {
                        "application/octet-stream"
                    }
                    .to_owned()
                })
                .to_lowercase(),
            size: part.contents().len(),
            content_id: part
                .content_id()
                .map(|id| id.trim_matches(['<', '>']).to_owned()),
        };
        if tnef_part(part)
            && let Some(inside) = tnef::read(part.contents())
        {
            for file in &inside.files {
                let info = AttachmentInfo {
                    size: file.data.len(),
                    name: file.name.clone(),
                    mime: file.mime.clone(),
                    content_id: file.content_id.clone(),
                };
                out.push((info, Cow::Borrowed(file.data)));
            }
            if inside.kept_inside {
                out.push((info(), Cow::Borrowed(part.contents())));
            }
            streams.push(inside);
            continue;
        }
        out.push((info(), Cow::Borrowed(part.contents())));
    }
    Offered {
        files: out,
        streams,
    }
}

/// Whether a part's Content-Type is `ty/sub` (any case).
fn typed(part: &mail_parser::MessagePart<'_>, ty: &str, sub: &str) -> bool {
    part.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case(ty)
            && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case(sub))
    })
}

/// Outlook's TNEF: `application/ms-tnef` (or `vnd.ms-tnef`), or a part named `winmail.dat`.
fn tnef_part(part: &mail_parser::MessagePart<'_>) -> bool {
    typed(part, "application", "ms-tnef")
        || typed(part, "application", "vnd.ms-tnef")
        || part
            .attachment_name()
            .is_some_and(|n| n.trim().eq_ignore_ascii_case("winmail.dat"))
}

/// The parts a reader is offered as attachments: all but a delivery report's own machine
/// parts (the status, the returned headers), which `dsn.rs` reads and nobody opens.
fn listed<'a>(
    message: &'a mail_parser::Message<'a>,
) -> impl Iterator<Item = &'a mail_parser::MessagePart<'a>> {
    // An invitation's calendar is sent twice by some clients: as the text/calendar
    // rendering of the message (unnamed, inside the alternative) and as an `.ics` file.
    // The file is offered; the rendering only when there is no file.
    let named = |part: &mail_parser::MessagePart<'_>| {
        part.attachment_name().is_some_and(|n| !n.trim().is_empty())
    };
    let ics_file = message.attachments().any(|p| calendar(p) && named(p));
    let bounce = is_bounce(message);
    message.attachments().filter(move |part| {
        if ics_file && calendar(part) && !named(part) {
            return false;
        }
        // PGP/MIME's control part ("Version: 1"), which only says the next part is
        // encrypted.
        if typed(part, "application", "pgp-encrypted") && !named(part) {
            return false;
        }
        // AppleDouble's header part (the Mac's resource fork) beside the file itself.
        if typed(part, "application", "applefile")
            && message.attachments().any(|other| {
                !typed(other, "application", "applefile")
                    && other.attachment_name().is_some()
                    && other.attachment_name() == part.attachment_name()
            })
        {
            return false;
        }
        // A delivery report's own pictures (a provider's icon, shown in its HTML).
        if bounce
            && part.content_id().is_some()
            && part
                .content_type()
                .is_some_and(|ct| ct.ctype().eq_ignore_ascii_case("image"))
        {
            return false;
        }
        !part.content_type().is_some_and(|ct| {
            let sub = ct.subtype().unwrap_or("").to_ascii_lowercase();
            match ct.ctype().to_ascii_lowercase().as_str() {
                "message" => matches!(
                    sub.as_str(),
                    "delivery-status"
                        | "global-delivery-status"
                        | "disposition-notification"
                        | "feedback-report"
                ),
                "text" => sub == "rfc822-headers",
                _ => false,
            }
        })
    })
}

/// The name an attachment is offered under: its own, or for a mail attached without one
/// (Outlook's "attach as item", a bounce's returned message) its subject, as a file.
fn attachment_name(
    message: &mail_parser::Message<'_>,
    part: &mail_parser::MessagePart<'_>,
) -> String {
    use unicode_normalization::UnicodeNormalization;
    // A Mac writes accented names decomposed (NFD); a reader shows and searches them
    // composed.
    if let Some(name) = extended_name(message, part)
        .or_else(|| part.attachment_name().map(str::to_owned))
        .or_else(|| location_name(part))
        .map(|n| tnef::file_name(&n))
        .filter(|n| !n.trim().is_empty())
    {
        return name.nfc().collect();
    }
    if calendar(part) {
        return "invite.ics".to_owned();
    }
    match part.message() {
        Some(inner) => {
            let subject: String = inner
                .subject()
                .unwrap_or("")
                .trim()
                .chars()
                .map(|c| {
                    if "/\\:*?\"<>|".contains(c) || c.is_control() {
                        '_'
                    } else {
                        c
                    }
                })
                .collect();
            if subject.is_empty() {
                "message.eml".to_owned()
            } else {
                format!("{subject}.eml")
            }
        }
        None => "attachment".to_owned(),
    }
}

/// The file name in a part's `Content-Location` (RFC 2557; GroupWise names attachments
/// only there): its last path segment, `%`-escapes read.
fn location_name(part: &mail_parser::MessagePart<'_>) -> Option<String> {
    let location = part
        .headers()
        .iter()
        .find(|h| h.name.as_str().eq_ignore_ascii_case("Content-Location"))
        .and_then(|h| h.value.as_text())?;
    let path = location.trim().split(['?', '#']).next()?;
    let last = path.rsplit(['/', '\\']).next()?.trim();
    if last.is_empty() || !last.contains('.') {
        return None;
    }
    // A name with a stray `%` is kept as written.
    let (whole, bytes) = mail_parser::decoders::hex::decode_hex(last.as_bytes());
    Some(if whole {
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        last.to_owned()
    })
}

/// An iCalendar part: `text/calendar`, or `application/ics` as some clients label the file.
fn calendar(part: &mail_parser::MessagePart<'_>) -> bool {
    typed(part, "text", "calendar") || typed(part, "application", "ics")
}

/// A file name given twice, plainly (`filename="foto_painel.jpg"`) and in RFC 2231's
/// extended form (`filename*=UTF-8''foto%20do%20painel…`): the extended one, which carries
/// the name as its sender wrote it (the plain one is a fallback for old readers).
fn extended_name(
    message: &mail_parser::Message<'_>,
    part: &mail_parser::MessagePart<'_>,
) -> Option<String> {
    let raw = message
        .raw_message()
        .get(part.raw_header_offset() as usize..part.raw_body_offset() as usize)?;
    let raw = String::from_utf8_lossy(raw);
    let headers = [
        (part.content_disposition(), "filename"),
        (part.content_type(), "name"),
    ];
    headers.into_iter().find_map(|(header, key)| {
        let values: Vec<&str> = header?
            .attributes()?
            .iter()
            .filter(|a| a.name == key)
            .map(|a| a.value.as_ref())
            .collect();
        if values.len() < 2 {
            return None;
        }
        // The plain one appears in the header as written; the extended one does not.
        values
            .into_iter()
            .find(|v| {
                !raw.contains(&format!("{key}=\"{v}\"")) && !raw.contains(&format!("{key}={v}"))
            })
            .map(str::to_owned)
    })
}

/// The message inside an opaque S/MIME signature (`application/pkcs7-mime`,
/// `smime-type=signed-data`): the outer headers (sender, subject, thread) with the signed
/// content's own MIME headers and body. `None` for any other message, and for one whose
/// signature is not a CMS `SignedData` holding its content (RFC 5652).
fn opaque_signed(message: &mail_parser::Message<'_>) -> Option<Vec<u8>> {
    let root = message.root_part();
    let ct = root.content_type()?;
    let pkcs7 = ct.ctype().eq_ignore_ascii_case("application")
        && ct.subtype().is_some_and(|s| {
            s.eq_ignore_ascii_case("pkcs7-mime") || s.eq_ignore_ascii_case("x-pkcs7-mime")
        });
    let signed = ct
        .attribute("smime-type")
        .is_none_or(|t| t.trim().eq_ignore_ascii_case("signed-data"));
    if !(pkcs7 && signed) {
        return None;
    }
    let content = cms_signed_content(root.contents())?;
    let raw = message.raw_message();
    let head = String::from_utf8_lossy(raw.get(..root.raw_body_offset() as usize)?);
    // The outer header lines but its own Content-* ones (with their folded lines).
    let mut out = String::new();
    let mut skipping = false;
    for line in head.split_inclusive('\n') {
        if line.trim().is_empty() {
            break;
        }
        if !line.starts_with([' ', '\t']) {
            skipping = line
                .get(..8)
                .is_some_and(|p| p.eq_ignore_ascii_case("content-"));
        }
        if !skipping {
            out.push_str(line);
        }
    }
    let mut inner = out.into_bytes();
    inner.extend_from_slice(&content);
    Some(inner)
}

/// The content a CMS `SignedData` signs (`ContentInfo` → `SignedData` →
/// `encapContentInfo` → `eContent`), read from BER as Outlook writes it (indefinite
/// lengths, the octets in chunks).
fn cms_signed_content(der: &[u8]) -> Option<Vec<u8>> {
    const SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
    let (0x30, info, _) = ber(der, 0)? else {
        return None;
    };
    let (0x06, oid, rest) = ber(info, 0)? else {
        return None;
    };
    if oid != SIGNED_DATA {
        return None;
    }
    let (0xa0, explicit, _) = ber(rest, 0)? else {
        return None;
    };
    let (0x30, signed, _) = ber(explicit, 0)? else {
        return None;
    };
    let (_, _, rest) = ber(signed, 0)?; // version
    let (_, _, rest) = ber(rest, 0)?; // digest algorithms
    let (0x30, encap, _) = ber(rest, 0)? else {
        return None;
    };
    let (0x06, _, rest) = ber(encap, 0)? else {
        return None;
    };
    let (0xa0, explicit, _) = ber(rest, 0)? else {
        return None;
    };
    let (tag, content, _) = ber(explicit, 0)?;
    octets(tag, content, 0)
}

/// How deep BER may nest here: the structures read need five levels.
const BER_DEPTH: usize = 12;

/// One BER element: its tag, its contents and what follows it. An indefinite length is
/// followed to its end-of-contents mark. `None` for what is not BER or nests too deep.
fn ber(b: &[u8], depth: usize) -> Option<(u8, &[u8], &[u8])> {
    if depth > BER_DEPTH {
        return None;
    }
    let (&tag, rest) = b.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    if first == 0x80 {
        if tag & 0x20 == 0 {
            return None;
        }
        let mut cur = rest;
        loop {
            if let [0, 0, after @ ..] = cur {
                let used = rest.len() - cur.len();
                return Some((tag, &rest[..used], after));
            }
            let (_, _, after) = ber(cur, depth + 1)?;
            cur = after;
        }
    }
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |a, &x| (a << 8) | usize::from(x));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// An OCTET STRING's bytes, primitive or in constructed chunks.
fn octets(tag: u8, content: &[u8], depth: usize) -> Option<Vec<u8>> {
    match tag {
        0x04 => Some(content.to_vec()),
        0x24 if depth < BER_DEPTH => {
            let mut out = Vec::new();
            let mut cur = content;
            while !cur.is_empty() {
                let (t, c, after) = ber(cur, depth + 1)?;
                out.extend(octets(t, c, depth + 1)?);
                cur = after;
            }
            Some(out)
        }
        _ => None,
    }
}

/// Text signed with inline PGP (RFC 4880's cleartext signature) as its reader sees it: the
/// armour lines, the hash header and the signature block gone, dash-escaped lines
/// (`- -- `) restored. `None` when the text is not signed so.
fn unarmoured(text: &str) -> Option<String> {
    const BEGIN: &str = "-----BEGIN PGP SIGNED MESSAGE-----";
    let start = text.lines().position(|l| l.trim_end() == BEGIN)?;
    let mut out = Vec::new();
    let mut in_headers = false;
    let mut in_signature = false;
    for (i, line) in text.lines().enumerate() {
        let bare = line.trim_end();
        if i == start {
            in_headers = true;
            continue;
        }
        if in_headers {
            // "Hash: SHA256" lines, up to the blank line that ends them.
            if bare.is_empty() {
                in_headers = false;
            }
            continue;
        }
        if bare == "-----BEGIN PGP SIGNATURE-----" {
            in_signature = true;
            continue;
        }
        if in_signature {
            if bare == "-----END PGP SIGNATURE-----" {
                in_signature = false;
            }
            continue;
        }
        out.push(line.strip_prefix("- ").unwrap_or(line));
    }
    Some(out.join("\n"))
}

/// The subject as its sender wrote it. Some mailers cut a UTF-8 character between two
/// encoded words (RFC 2047 forbids it), so each word alone decodes to a replacement
/// character; such words are joined before they are decoded.
fn subject(message: &mail_parser::Message<'_>) -> Option<String> {
    // The first Subject when a mailer wrote two (the parser keeps the last).
    let first = message
        .headers()
        .iter()
        .find(|h| h.name == mail_parser::HeaderName::Subject);
    let decoded = first
        .and_then(|h| h.value.as_text())
        .or_else(|| message.subject())?;
    // Read again from the raw header: replacement characters, or UTF-7 encoded words (the
    // parser's decoder drops a character after each encoded run).
    let utf7 = first.is_some_and(|h| {
        message
            .raw_message()
            .get(h.offset_start as usize..h.offset_end as usize)
            .is_some_and(|b| b.windows(8).any(|w| w.eq_ignore_ascii_case(b"=?utf-7?")))
    });
    if !decoded.contains('\u{FFFD}') && !utf7 {
        return Some(decoded.to_owned());
    }
    first
        .and_then(|h| raw_header(message, h))
        .and_then(|raw| joined_encoded_words(&raw).or(Some(raw)))
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.contains('\u{FFFD}'))
        .or_else(|| Some(decoded.to_owned()))
}

/// A header's value as its bytes were written: UTF-8, or else (raw 8-bit bytes that ERPs
/// write without encoded words, "Emissão" in Latin-1) Windows-1252, Latin-1's superset.
fn raw_header(message: &mail_parser::Message<'_>, h: &mail_parser::Header<'_>) -> Option<String> {
    use mail_parser::decoders::charsets::map::charset_decoder;
    let bytes = message
        .raw_message()
        .get(h.offset_start as usize..h.offset_end as usize)?;
    Some(match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => charset_decoder(b"windows-1252")?(bytes),
    })
}

/// The sender's display name when the parser could not read its bytes (raw 8-bit in the
/// header): the name part of the raw `From`, decoded as [`raw_header`] does.
fn raw_from_name(message: &mail_parser::Message<'_>) -> Option<String> {
    let h = message
        .headers()
        .iter()
        .find(|h| h.name == mail_parser::HeaderName::From)?;
    let raw = raw_header(message, h)?;
    let name = raw.rsplit_once('<').map_or("", |(name, _)| name);
    let name = name.trim().trim_matches('"').trim();
    let name = joined_encoded_words(name).unwrap_or_else(|| name.to_owned());
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    (!name.is_empty() && !name.contains('\u{FFFD}')).then_some(name)
}

/// RFC 2047 encoded words decoded with adjacent words of one charset and encoding joined
/// byte-wise; `None` when the header is not made of such words.
fn joined_encoded_words(raw: &str) -> Option<String> {
    use mail_parser::decoders::{base64::base64_decode, quoted_printable::quoted_printable_decode};
    let mut out = String::new();
    // The pending run: (charset, encoding) and its bytes.
    let mut run: Option<(String, char, Vec<u8>)> = None;
    let flush = |run: &mut Option<(String, char, Vec<u8>)>, out: &mut String| {
        if let Some((charset, _, bytes)) = run.take() {
            match legacy::decode(&charset, &bytes) {
                Some(text) => out.push_str(&text),
                None => out.push_str(&String::from_utf8_lossy(&bytes)),
            }
        }
    };
    let mut rest = raw;
    let mut words = 0;
    while !rest.is_empty() {
        let Some(at) = rest.find("=?") else {
            flush(&mut run, &mut out);
            out.push_str(rest);
            break;
        };
        let (before, word) = rest.split_at(at);
        let inner = &word[2..];
        let parts: Vec<&str> = inner.splitn(3, '?').collect();
        let end = parts.get(2).and_then(|t| t.find("?="));
        let (Some(charset), Some(enc), Some(end)) = (parts.first(), parts.get(1), end) else {
            flush(&mut run, &mut out);
            out.push_str(rest);
            break;
        };
        let text = &parts[2][..end];
        let consumed = 2 + charset.len() + 1 + enc.len() + 1 + end + 2;
        let enc = enc.chars().next().unwrap_or('B').to_ascii_uppercase();
        let bytes = if enc == 'Q' {
            quoted_printable_decode(text.replace('_', "=20").as_bytes())?
        } else {
            base64_decode(text.as_bytes())?
        };
        // Whitespace between two encoded words is not text (RFC 2047, section 6.2).
        if !before.trim().is_empty() || run.is_none() {
            flush(&mut run, &mut out);
            if !before.trim().is_empty() {
                out.push_str(before);
            }
        }
        let charset = charset.split('*').next().unwrap_or("").to_ascii_lowercase();
        match &mut run {
            Some((c, e, b)) if *c == charset && *e == enc => b.extend(bytes),
            _ => {
                flush(&mut run, &mut out);
                run = Some((charset, enc, bytes));
            }
        }
        words += 1;
        rest = &word[consumed..];
    }
    flush(&mut run, &mut out);
    let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    (words > 0 && !out.contains('\u{FFFD}')).then_some(out)
}

/// RFC 3676: a line ending in a space goes on in the next line of the same quote depth
/// (the space removed too with `delsp=yes`); a space opening a line after its quote marks
/// is stuffing. The signature separator `-- ` is never soft.
fn unflow(text: &str, delsp: bool) -> String {
    let text = text.replace("\r\n", "\n");
    let (body, ends_in_newline) = match text.strip_suffix('\n') {
        Some(b) => (b, true),
        None => (text.as_str(), false),
    };
    let mut out = String::with_capacity(text.len());
    // The quote depth of the paragraph being joined, when the last line was soft.
    let mut open: Option<usize> = None;
    for line in body.split('\n') {
        let depth = line.bytes().take_while(|b| *b == b'>').count();
        let rest = &line[depth..];
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        if open.is_some_and(|d| d != depth) {
            // A soft break before a line of another depth still ends its paragraph.
            out.push('\n');
            open = None;
        }
        if open.is_none() && depth > 0 {
            out.push_str(&">".repeat(depth));
            out.push(' ');
        }
        if rest.ends_with(' ') && rest != "-- " && !dashed_mark(rest) {
            out.push_str(if delsp { &rest[..rest.len() - 1] } else { rest });
            open = Some(depth);
        } else {
            out.push_str(rest);
            out.push('\n');
            open = None;
        }
    }
    if open.is_none() {
        out.pop();
    }
    if ends_in_newline {
        out.push('\n');
    }
    out
}

/// A line framed in dashes ("----- Original Message ----- ", as Outlook Express writes it
/// with its trailing space in flowed text) marks what follows; it goes on in no paragraph.
fn dashed_mark(line: &str) -> bool {
    let line = line.trim();
    line.len() > 6 && line.starts_with("---") && line.ends_with("---")
}

/// Where the clients put the quoted history in their HTML: Gmail's `gmail_quote`,
/// Outlook's `divRplyFwdMsg` and `appendonsend`, Thunderbird's `moz-cite-prefix`, Apple
/// Mail's and Thunderbird's `<blockquote type="cite">`, Yahoo's `yahoo_quoted`, Proton's
/// `protonmail_quote`. Everything from there on is the quote.
const HTML_QUOTE_MARKS: [&str; 7] = [
    "gmail_quote",
    "divrplyfwdmsg",
    "appendonsend",
    "moz-cite-prefix",
    "yahoo_quoted",
    "protonmail_quote",
    "type=\"cite\"",
];

/// The byte offset of the tag that opens the quoted history, if a client marked one.
fn html_quote_start(html: &str) -> Option<usize> {
    // ASCII lower-casing keeps every byte offset.
    let lower = html.to_ascii_lowercase();
    let mark = HTML_QUOTE_MARKS
        .iter()
        .filter_map(|m| lower.find(m))
        .min()?;
    lower[..mark].rfind('<')
}

/// The reply and the rest of an HTML body whose client marked its quote; `None` when no
/// mark is found or nothing but the quote has text (a forward stays whole).
fn html_reply(html: &str) -> Option<super::Split> {
    let at = html_quote_start(html)?;
    let head = split_reply(&html_to_text(&html[..at]));
    if head.reply.trim().is_empty() {
        return None;
    }
    let tail = html_to_text(&html[at..]);
    let rest = [head.rest.trim(), tail.trim()]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    Some(super::Split {
        reply: head.reply,
        rest,
    })
}

pub(super) fn unbracket(id: &str) -> String {
    id.trim().trim_matches(['<', '>']).to_owned()
}

fn addresses(a: Option<&Address<'_>>) -> Vec<String> {
    a.map(|a| {
        a.iter()
            .filter_map(|x| x.address())
            .map(|x| x.trim().to_lowercase())
            .filter(|x| !x.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![unbracket(t)],
        HeaderValue::TextList(l) => l.iter().map(|t| unbracket(t)).collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect()
}

fn header_text<'a>(m: &'a mail_parser::Message<'_>, name: &'a str) -> Option<&'a str> {
    m.header_raw(name).map(str::trim)
}

/// Auto-replies, vacation notices, list and bulk mail, and mail from a mail system,
/// by the headers RFC 3834 and the common mailers use.
fn machine_sent(m: &mail_parser::Message<'_>, from: Option<&str>) -> bool {
    let auto_submitted = header_text(m, "Auto-Submitted")
        .is_some_and(|v| !v.is_empty() && !v.eq_ignore_ascii_case("no"));
    let precedence = header_text(m, "Precedence").is_some_and(|v| {
        let v = v.to_ascii_lowercase();
        ["bulk", "junk", "list", "auto_reply"]
            .iter()
            .any(|p| v.starts_with(p))
    });
    let autoreply_headers = ["X-Autoreply", "X-Autorespond", "X-Autoresponder"]
        .iter()
        .any(|h| header_text(m, h).is_some_and(|v| !v.eq_ignore_ascii_case("no")));
    // A no-reply address on a reply in one of our threads, with no header of a machine,
    // is a person using the only account their computer has (a clinic's web-site address):
    // what they wrote is an answer, and reaches the conversation.
    let replies = !ids(m.in_reply_to()).is_empty() || !ids(m.references()).is_empty();
    let system_sender = from.is_some_and(|f| {
        let local = f.split(['@', '+']).next().unwrap_or("");
        ["mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"].contains(&local)
            || (unanswerable(local) && !replies)
    });
    // A list's distribution (Mailman 3 and others add no Precedence); RFC 2919's header.
    let list = header_text(m, "List-Id").is_some_and(|v| !v.is_empty());
    let auto_subject = m.subject().is_some_and(auto_reply_subject);
    auto_submitted || precedence || autoreply_headers || system_sender || list || auto_subject
}

/// A subject an auto-reply opens with, when the tool that sent it adds no header (an
/// Outlook rule replying with a template, a webmail's filter, an old Exchange): "Resposta
/// automática: …", "Fuera de la oficina", "Out of Office: …". A person's answer to one
/// ("RE: Resposta automática: …") starts with its own prefix, and is a person's.
fn auto_reply_subject(subject: &str) -> bool {
    const OPENINGS: [&str; 16] = [
        "resposta automatica",
        "respuesta automatica",
        "automatic reply",
        "auto reply",
        "auto-reply",
        "autoreply",
        "out of office",
        "out of the office",
        "fuera de la oficina",
        "fora do escritorio",
        "ausencia temporaria",
        "ausencia temporal",
        "reponse automatique",
        "risposta automatica",
        "abwesenheitsnotiz",
        "automatische antwort",
    ];
    let subject = folded(subject.trim());
    OPENINGS.iter().any(|o| subject.starts_with(o))
}

/// A sender's local part that says no one reads what is sent to it, in the languages of our
/// clients' suppliers: `noreply`, `no-reply-billing`, `do_not_reply`, `naoresponda`,
/// `nao.responder`, `no-responder`, `nocontestar`, `ne-pas-repondre`, `keine-antwort`.
fn unanswerable(local: &str) -> bool {
    let folded: String = local
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    [
        "noreply",
        "donotreply",
        "dontreply",
        "naoresponda",
        "naoresponder",
        "noresponder",
        "noresponda",
        "noresponse",
        "nocontestar",
        "nepasrepondre",
        "keineantwort",
        "nonrispondere",
    ]
    .iter()
    // "sapb1-noreply", "erp.no-reply": the mark anywhere in the local part.
    .any(|p| folded.contains(p))
}

/// Whether a multipart message lacks its closing boundary.
fn is_incomplete(m: &mail_parser::Message<'_>, raw: &[u8]) -> bool {
    let Some(ct) = m.content_type() else {
        return false;
    };
    if !ct.ctype().eq_ignore_ascii_case("multipart") {
        return false;
    }
    let Some(boundary) = ct.attribute("boundary") else {
        return true;
    };
    let close = format!("--{boundary}--");
    !raw.windows(close.len()).any(|w| w == close.as_bytes())
}

/// A delivery status notification (RFC 3464), by its content type.
fn is_bounce(m: &mail_parser::Message<'_>) -> bool {
    m.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_mail_that_quotes_nothing_has_no_rest_whatever_its_line_ends() {
        let p = parse(b"From: ana@example.com\r\nSubject: x\r\n\r\nHello,\r\n\r\nThe toner leaks.\r\nOn every page.\r\n").unwrap();
        assert_eq!(p.full_text.trim(), p.reply_text.trim());
        assert_eq!(p.quoted_text, "");
        assert!(!p.full_text.contains('\r'));
    }

    fn mail(headers: &str, body: &str) -> Vec<u8> {
        format!("{headers}\r\n\r\n{body}")
            .replace('\n', "\r\n")
            .replace("\r\r\n", "\r\n")
            .into_bytes()
    }

    #[test]
    fn a_plain_reply_is_read_with_its_thread_headers() {
        let raw = mail(
            "From: \"Ana Lima\" <Ana@Example.com>\nTo: support@acme.test, reply+abc@acme.test\nCc: Bo <bo@example.com>\nSubject: Re: printer\nMessage-ID: <m2@example.com>\nIn-Reply-To: <m1@acme.test>\nReferences: <m0@acme.test> <m1@acme.test>\nContent-Type: text/plain; charset=utf-8",
            "It works now, thanks!\n\nOn Tue, 3 Mar 2026 at 10:02, Support <support@acme.test> wrote:\n> Please restart it.\n",
        );
        let p = parse(&raw).unwrap();
        assert_eq!(p.from.as_deref(), Some("ana@example.com"));
        assert_eq!(p.from_name.as_deref(), Some("Ana Lima"));
        assert_eq!(p.to, ["support@acme.test", "reply+abc@acme.test"]);
        assert_eq!(p.cc, ["bo@example.com"]);
        assert_eq!(p.message_id.as_deref(), Some("m2@example.com"));
        assert_eq!(p.in_reply_to.as_deref(), Some("m1@acme.test"));
        assert_eq!(p.references, ["m0@acme.test", "m1@acme.test"]);
        assert_eq!(p.reply_text, "It works now, thanks!");
        assert!(p.quoted_text.contains("Please restart it."));
        assert!(!p.auto_submitted && !p.incomplete);
        assert_eq!(p.html, None);
    }

    #[test]
    fn charsets_and_transfer_encodings_are_decoded() {
        let latin1 = b"From: a@example.com\r\nSubject: =?ISO-8859-1?Q?A=E7=E3o?=\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nPreciso de uma a=E7=E3o urgente.\r\n";
        let p = parse(latin1).unwrap();
        assert_eq!(p.subject.as_deref(), Some("Ação"));
        assert_eq!(p.reply_text, "Preciso de uma ação urgente.");
        let b64 = mail(
            "From: a@example.com\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64",
            "wqFIb2xhISBFbCBwYWdvIGRlbCBhw7FvIHBhc2Fkby4=",
        );
        assert_eq!(
            parse(&b64).unwrap().reply_text,
            "¡Hola! El pago del año pasado."
        );
        // An unknown charset is read as well as it can be, never refused.
        let odd = mail(
            "From: a@example.com\nContent-Type: text/plain; charset=x-unknown-42",
            "plain words",
        );
        assert_eq!(parse(&odd).unwrap().reply_text, "plain words");
    }

    #[test]
    fn html_only_mail_gets_its_text_from_the_html() {
        let raw = mail(
            "From: a@example.com\nContent-Type: text/html; charset=utf-8",
            "<html><body><p>The <b>toner</b> leaks.</p><div class=\"gmail_quote\">On Mon wrote:<blockquote>old</blockquote></div></body></html>",
        );
        let p = parse(&raw).unwrap();
        assert!(
            p.reply_text.contains("The toner leaks."),
            "{:?}",
            p.reply_text
        );
        assert!(p.html.as_deref().unwrap().contains("<b>toner</b>"));
    }

    #[test]
    fn html_only_replies_lose_the_quote_each_client_marks() {
        for (client, html) in [
            (
                "gmail",
                "<div dir=\"ltr\">Fixed, thanks!</div><br><div class=\"gmail_quote\"><div class=\"gmail_attr\">On Tue, 3 Mar 2026 at 10:02, Support &lt;s@acme.test&gt; wrote:<br></div><blockquote class=\"gmail_quote\">Try restarting it.</blockquote></div>",
            ),
            (
                "outlook",
                "<div>Fixed, thanks!</div><hr><div id=\"divRplyFwdMsg\" dir=\"ltr\"><b>From:</b> Support<br><b>Sent:</b> Tuesday<br><b>Subject:</b> Re: toner</div><div>Try restarting it.</div>",
            ),
            (
                "thunderbird",
                "<p>Fixed, thanks!</p><div class=\"moz-cite-prefix\">On 03/03/2026 10:02, Support wrote:<br></div><blockquote type=\"cite\">Try restarting it.</blockquote>",
            ),
            (
                "apple",
                "<div>Fixed, thanks!</div><div><br><blockquote type=\"cite\"><div>On 3 Mar 2026, at 10:02, Support wrote:</div><div>Try restarting it.</div></blockquote></div>",
            ),
            (
                "yahoo",
                "<div>Fixed, thanks!</div><div class=\"yahoo_quoted\"><div>On Tuesday, March 3, 2026, Support wrote:</div><div>Try restarting it.</div></div>",
            ),
        ] {
            let raw = mail(
                "From: a@example.com\nContent-Type: text/html; charset=utf-8",
                &format!("<html><body>{html}</body></html>"),
            );
            let p = parse(&raw).unwrap();
            assert_eq!(p.reply_text, "Fixed, thanks!", "{client}");
            assert!(
                p.quoted_text.contains("Try restarting it."),
                "{client}: {:?}",
                p.quoted_text
            );
        }
        // A forward with nothing above the quote stays whole.
        let raw = mail(
            "From: a@example.com\nContent-Type: text/html; charset=utf-8",
            "<div class=\"gmail_quote\">---------- Forwarded message ---------<br>The invoice is wrong.</div>",
        );
        assert!(
            parse(&raw)
                .unwrap()
                .reply_text
                .contains("The invoice is wrong.")
        );
    }

    #[test]
    fn flowed_text_is_joined_as_its_reader_joins_it() {
        assert_eq!(
            unflow(
                "Bom dia, o toner da \r\nimpressora acabou.\r\n\r\n>> Podemos \r\n>> ir amanh\u{e3}?\r\n> Sim \r\nOk\r\n-- \r\nAna\r\n",
                false
            ),
            "Bom dia, o toner da impressora acabou.\n\n>> Podemos ir amanh\u{e3}?\n> Sim \nOk\n-- \nAna\n"
        );
        assert_eq!(unflow("exam \r\nple", true), "example");
        assert_eq!(
            unflow(" From the stuffed line", false),
            "From the stuffed line"
        );
        let raw = mail(
            "From: a@example.com\nContent-Type: text/plain; charset=utf-8; format=flowed; delsp=no",
            "O t\u{e9}cnico veio hoje e trocou o \nfusor. Obrigada!\n\nEm 3 de mar., X escreveu:\n> Agendado para \n> amanh\u{e3}.\n",
        );
        let p = parse(&raw).unwrap();
        assert_eq!(
            p.reply_text,
            "O t\u{e9}cnico veio hoje e trocou o fusor. Obrigada!"
        );
        assert!(
            p.quoted_text.contains("Agendado para amanh\u{e3}."),
            "{p:?}"
        );
    }

    #[test]
    fn a_part_encoded_wrongly_is_read_as_its_sender_meant_it() {
        // Windows-1252 bytes under a UTF-8 label, in quoted-printable.
        let mut raw = mail(
            "From: a@example.com\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable",
            "Favor agendar a manuten=E7=E3o =93amanh=E3=94, R=24 10=80.\n",
        );
        let p = parse(&raw).unwrap();
        assert_eq!(p.reply_text, "Favor agendar a manutenção “amanhã”, R$ 10€.");
        // The same bytes unencoded (8bit) and unlabelled.
        raw = b"From: a@example.com\r\n\r\nmanuten\xe7\xe3o\r\n".to_vec();
        assert_eq!(parse(&raw).unwrap().reply_text, "manutenção");
        // Valid UTF-8 is never touched.
        raw = "From: a@example.com\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nmanutenção �\r\n".as_bytes().to_vec();
        assert_eq!(parse(&raw).unwrap().reply_text, "manutenção �");
        // Base64 with a line that is not base64 under it.
        raw = mail(
            "From: a@example.com\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64",
            "T2zDoSwgbyB0b25lciBhY2Fi\nb3Uu\n********\n-- footer --\n",
        );
        assert_eq!(parse(&raw).unwrap().reply_text, "Olá, o toner acabou.");
        assert_eq!(lenient_base64(b"YQ==\n").as_deref(), Some(&b"a"[..]));
        assert_eq!(lenient_base64(b"YWI=\n").as_deref(), Some(&b"ab"[..]));
    }

    #[test]
    fn every_text_part_is_read_in_order() {
        // Apple Mail: the text on either side of a picture is two parts.
        let raw = mail(
            "From: a@example.com\nContent-Type: multipart/mixed; boundary=\"m\"",
            "--m\nContent-Type: text/plain; charset=us-ascii\n\nThe stripe looks like this:\n\n--m\nContent-Type: image/jpeg; name=IMG_1.jpg\nContent-Disposition: inline; filename=IMG_1.jpg\nContent-Transfer-Encoding: base64\n\n/9j/4AAQ\n--m\nContent-Type: text/plain; charset=us-ascii\n\nand it is on every page.\n--m--\n",
        );
        let p = parse(&raw).unwrap();
        assert!(p.reply_text.contains("looks like this"), "{p:?}");
        assert!(p.reply_text.contains("on every page"), "{p:?}");
        assert_eq!(p.attachments.len(), 1);
    }

    #[test]
    fn html_only_mail_keeps_its_lines_apart() {
        let raw = mail(
            "From: a@example.com\nContent-Type: text/html; charset=utf-8",
            "<html><head><style>div{color:red}</style></head><body><div>Bom dia,</div><div>O toner acabou.</div><table><tr><td>S\u{e9}rie</td><td>E335</td></tr></table></body></html>",
        );
        let p = parse(&raw).unwrap();
        assert_eq!(p.reply_text, "Bom dia,\nO toner acabou.\nS\u{e9}rie E335");
    }

    fn base64(b: &[u8]) -> String {
        const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for (i, chunk) in b.chunks(3).enumerate() {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (k, c)| n | u32::from(*c) << (16 - 8 * k));
            for k in 0..4 {
                out.push(if k <= chunk.len() {
                    char::from(ABC[(n >> (18 - 6 * k) & 63) as usize])
                } else {
                    '='
                });
            }
            if i % 19 == 18 {
                out.push('\n');
            }
        }
        out
    }

    /// A mail with a text part and a `winmail.dat` part holding `tnef`.
    fn with_winmail(text: &str, tnef: &[u8]) -> Vec<u8> {
        mail(
            "From: a@example.com\nContent-Type: multipart/mixed; boundary=\"b1\"",
            &format!(
                "--b1\nContent-Type: text/plain; charset=utf-8\n\n{text}\n--b1\nContent-Type: application/ms-tnef; name=\"winmail.dat\"\nContent-Disposition: attachment; filename=\"winmail.dat\"\nContent-Transfer-Encoding: base64\n\n{}\n--b1--\n",
                base64(tnef)
            ),
        )
    }

    #[test]
    fn utf7_keeps_the_character_after_each_encoded_run_in_text_and_subject() {
        let raw = mail(
            "From: a@example.com\nSubject: =?utf-7?Q?Manh+AOM_da_visita?=\nContent-Type: text/plain; charset=utf-7",
            "De manh+AOM as salas est+AOM-o ocupadas.",
        );
        let p = parse(&raw).unwrap();
        assert_eq!(p.subject.as_deref(), Some("Manhã da visita"));
        assert_eq!(p.reply_text, "De manhã as salas estão ocupadas.");
    }

    #[test]
    fn a_second_content_type_or_an_empty_plain_part_does_not_hide_the_text() {
        // The first Content-Type is the message's; the second (HTML, Latin-1) is a
        // mailer's mistake.
        let raw = mail(
            "From: a@example.com\nContent-Type: text/plain; charset=utf-8\nContent-Type: text/html; charset=iso-8859-1",
            "Buenos d\u{ed}as,\nla copiadora raya las hojas.",
        );
        let p = parse(&raw).unwrap();
        assert_eq!(
            p.reply_text,
            "Buenos d\u{ed}as,\nla copiadora raya las hojas."
        );
        assert!(p.html.is_none());
        // A text/plain part left empty beside the HTML one: the HTML is read.
        let raw = mail(
            "From: a@example.com\nContent-Type: multipart/alternative; boundary=\"b\"",
            "--b\nContent-Type: text/plain; charset=utf-8\n\n\n--b\nContent-Type: text/html; charset=utf-8\n\n<p>Please ship the toner.</p><div class=\"gmail_quote\">On Tue, Ana wrote:<blockquote>old</blockquote></div>\n--b--\n",
        );
        let p = parse(&raw).unwrap();
        assert_eq!(p.reply_text, "Please ship the toner.");
        // A list's distribution is a machine's, with or without Precedence.
        let raw = mail(
            "From: hector@example.com\nList-Id: Tecnicos <tecnicos.lists.example.com>",
            "Colegas, alguien vio el SC 899?",
        );
        assert!(parse(&raw).unwrap().auto_submitted);
    }

    #[test]
    fn a_winmail_dat_is_offered_as_the_files_inside_it() {
        use crate::email::tnef::tests::{Writer, props, unicode};
        let pdf = b"%PDF-1.4\n%\xe2\xe3 or\xc3\xa7amento".to_vec();
        let mut w = Writer::new();
        w.file(
            "ORAMEN~1.PDF",
            &pdf,
            &props(&[(0x001F, 0x3707, unicode("Orçamento de toner.pdf"))]),
        );
        w.file("LEITURAS.CSV", b"serie;contador\nE335;48213\n", &[]);
        let (p, bytes) =
            parse_with_attachments(&with_winmail("Segue o or\u{e7}amento.", &w.bytes())).unwrap();
        let names: Vec<_> = p
            .attachments
            .iter()
            .map(|a| (a.name.as_str(), a.mime.as_str(), a.size))
            .collect();
        assert_eq!(
            names,
            vec![
                ("Orçamento de toner.pdf", "application/pdf", pdf.len()),
                ("LEITURAS.CSV", "text/csv", 26),
            ]
        );
        assert_eq!(
            bytes,
            vec![pdf.clone(), b"serie;contador\nE335;48213\n".to_vec()]
        );
        assert_eq!(p.reply_text, "Segue o or\u{e7}amento.");

        // One that does not read whole is offered as it came, with its bytes.
        let mut cut = w.bytes();
        cut.truncate(cut.len() - 7);
        let (p, bytes) = parse_with_attachments(&with_winmail("Segue.", &cut)).unwrap();
        assert_eq!(p.attachments.len(), 1);
        assert_eq!(
            (
                p.attachments[0].name.as_str(),
                p.attachments[0].mime.as_str()
            ),
            ("winmail.dat", "application/ms-tnef")
        );
        assert_eq!(bytes, vec![cut]);

        // One that holds only the message's formatting is not offered; a message whose
        // only text is in it reads that text.
        let mut w = Writer::new();
        w.attr(
            1,
            0x0006_9003,
            &props(&[(
                0x001E,
                0x1000,
                b"Bom dia, a impressora parou com o erro SC542.\0".to_vec(),
            )]),
        );
        let p = parse(&with_winmail("", &w.bytes())).unwrap();
        assert!(p.attachments.is_empty(), "{:?}", p.attachments);
        assert_eq!(
            p.reply_text,
            "Bom dia, a impressora parou com o erro SC542."
        );
    }

    #[test]
    fn attachments_and_inline_images_are_listed() {
        let raw = mail(
            "From: a@example.com\nContent-Type: multipart/related; boundary=\"b1\"",
            "--b1\nContent-Type: text/html; charset=utf-8\n\n<p>See <img src=\"cid:img1@x\"></p>\n--b1\nContent-Type: image/png\nContent-ID: <img1@x>\nContent-Disposition: inline; filename=\"panel.png\"\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n--b1\nContent-Type: application/pdf; name=\"invoice.pdf\"\nContent-Disposition: attachment; filename=\"invoice.pdf\"\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--b1--\n",
        );
        let p = parse(&raw).unwrap();
        let names: Vec<_> = p
            .attachments
            .iter()
            .map(|a| (a.name.as_str(), a.mime.as_str()))
            .collect();
        assert!(names.contains(&("panel.png", "image/png")), "{names:?}");
        assert!(
            names.contains(&("invoice.pdf", "application/pdf")),
            "{names:?}"
        );
        let png = p
            .attachments
            .iter()
            .find(|a| a.name == "panel.png")
            .unwrap();
        assert_eq!(png.content_id.as_deref(), Some("img1@x"));
        assert_eq!(png.size, 8);
    }

    #[test]
    fn a_message_forwarded_as_an_attachment_is_read_as_such() {
        let raw = mail(
            "From: ana@example.com\nSubject: Fwd: invoice\nContent-Type: multipart/mixed; boundary=\"f\"",
            "--f\nContent-Type: text/plain\n\nSee the mail below.\n--f\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename=\"original.eml\"\n\nFrom: Billing <billing@vendor.test>\nSubject: Invoice 42\nContent-Type: text/plain\n\nYou owe 10 EUR.\n--f--\n",
        );
        let p = parse(&raw).unwrap();
        assert_eq!(p.reply_text, "See the mail below.");
        assert_eq!(p.forwarded.len(), 1, "{p:?}");
        assert_eq!(p.forwarded[0].from.as_deref(), Some("billing@vendor.test"));
        assert_eq!(p.forwarded[0].subject.as_deref(), Some("Invoice 42"));
        assert!(p.forwarded[0].text.contains("You owe 10 EUR."));
    }

    #[test]
    fn signed_and_encrypted_parts_are_kept_as_attachments() {
        let smime = mail(
            "From: ana@example.com\nContent-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"s\"",
            "--s\nContent-Type: text/plain\n\nSigned hello.\n--s\nContent-Type: application/pkcs7-signature; name=\"smime.p7s\"\nContent-Disposition: attachment; filename=\"smime.p7s\"\nContent-Transfer-Encoding: base64\n\nMIAGCSqGSIb3DQEHAqCAMIACAQEx\n--s--\n",
        );
        let p = parse(&smime).unwrap();
        assert_eq!(p.reply_text, "Signed hello.");
        assert!(
            p.attachments
                .iter()
                .any(|a| a.name == "smime.p7s" && a.mime == "application/pkcs7-signature"),
            "{:?}",
            p.attachments
        );
        let pgp = mail(
            "From: ana@example.com\nContent-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"e\"",
            "--e\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n--e\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\nContent-Disposition: inline; filename=\"encrypted.asc\"\n\n-----BEGIN PGP MESSAGE-----\nhQEMA\n-----END PGP MESSAGE-----\n--e--\n",
        );
        let p = parse(&pgp).unwrap();
        assert!(
            p.attachments.iter().any(|a| a.name == "encrypted.asc"),
            "{:?}",
            p.attachments
        );
    }

    #[test]
    fn signed_text_names_and_split_words_read_as_their_reader_shows_them() {
        // Inline PGP: the armour and the signature gone, dash-escaped lines restored, so
        // the `-- ` signature is a signature again.
        let pgp = mail(
            "From: jordi@example.es\nSubject: Lectura",
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nHola,\n- - Total: 184\nGracias\n\n- -- \nJordi\n-----BEGIN PGP SIGNATURE-----\n\niHUEARYIAB0W\n=5M9t\n-----END PGP SIGNATURE-----\n",
        );
        let p = parse(&pgp).unwrap();
        assert_eq!(p.reply_text, "Hola,\n- Total: 184\nGracias");
        assert!(!p.full_text.contains("PGP"), "{}", p.full_text);
        // Two encoded words that cut "ç" between them: joined before decoding.
        let split = mail(
            "From: nfe@example.com.br\nSubject: =?UTF-8?B?RGlzdHJpYnVpww==?=\n =?UTF-8?B?p8Ojbw==?= ok",
            "x\n",
        );
        assert_eq!(
            parse(&split).unwrap().subject.as_deref(),
            Some("Distribuição ok")
        );
        // A name given plainly and in RFC 2231's form: the latter; a Mac's decomposed
        // accents composed; an invitation's calendar offered once.
        let named = mail(
            "From: ana@example.com\nContent-Type: multipart/mixed; boundary=\"b\"",
            "--b\nContent-Type: text/plain\n\nSegue.\n--b\nContent-Type: image/jpeg\nContent-Disposition: attachment; filename=\"foto.jpg\";\n filename*=UTF-8''foto%20do%20painel.jpg\n\nxx\n--b\nContent-Type: application/pdf; name=\"Relato\u{301}rio.pdf\"\n\nyy\n--b\nContent-Type: text/calendar; method=REQUEST\n\nBEGIN:VCALENDAR\n--b--\n",
        );
        let names: Vec<String> = parse(&named)
            .unwrap()
            .attachments
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(names, ["foto do painel.jpg", "Relatório.pdf", "invite.ics"]);
    }

    #[test]
    fn headers_and_text_in_8_bit_are_read_as_their_writer_meant() {
        // Raw Latin-1 bytes in the headers (an ERP's, no encoded words), two Subjects, a
        // US-ASCII label over UTF-8 text, a no-reply mark inside the local part.
        let mut raw = b"From: Suprigraf Distribui\xe7\xe3o <sapb1-noreply@example.com.br>\r\nSubject: Emiss\xe3o de NF-e n\xba 48\r\nSubject: second\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 8bit\r\n\r\n".to_vec();
        raw.extend("Olá, estou em férias.\r\n".as_bytes());
        let p = parse(&raw).unwrap();
        assert_eq!(p.from_name.as_deref(), Some("Suprigraf Distribuição"));
        assert_eq!(p.subject.as_deref(), Some("Emissão de NF-e nº 48"));
        assert_eq!(p.reply_text, "Olá, estou em férias.");
        assert!(p.auto_submitted);
    }

    #[test]
    fn an_opaque_signature_s_content_is_read_and_broken_ber_is_refused() {
        // Deep or endless nesting, cut lengths and lengths past the end: no content.
        let deep: Vec<u8> = std::iter::repeat_n([0x30u8, 0x80], 10_000)
            .flatten()
            .collect();
        assert_eq!(cms_signed_content(&deep), None);
        assert_eq!(
            cms_signed_content(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
            None
        );
        assert_eq!(cms_signed_content(&[0x30, 0x05, 0x06]), None);
        assert_eq!(cms_signed_content(&[]), None);
        // A SignedData in BER's indefinite form, its content in two chunks.
        let oid = [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
        ];
        let data_oid = [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
        ];
        let mut der = vec![0x30, 0x80];
        der.extend(oid);
        der.extend([
            0xa0, 0x80, 0x30, 0x80, 0x02, 0x01, 0x01, 0x31, 0x00, 0x30, 0x80,
        ]);
        der.extend(data_oid);
        der.extend([
            0xa0, 0x80, 0x24, 0x80, 0x04, 0x02, b'h', b'i', 0x04, 0x01, b'!', 0, 0,
        ]);
        der.extend([0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(cms_signed_content(&der).as_deref(), Some(&b"hi!"[..]));
    }

    #[test]
    fn machines_are_recognised() {
        for headers in [
            "Auto-Submitted: auto-replied",
            "Auto-Submitted: auto-generated",
            "Precedence: bulk",
            "Precedence: auto_reply",
            "X-Autoreply: yes",
            "X-Autorespond: Out of office",
        ] {
            let raw = mail(&format!("From: a@example.com\n{headers}"), "I am away.");
            assert!(parse(&raw).unwrap().auto_submitted, "{headers}");
        }
        let daemon = mail("From: MAILER-DAEMON@mx.example.com", "failed");
        assert!(parse(&daemon).unwrap().auto_submitted);
        let human = mail("From: a@example.com\nAuto-Submitted: no", "hello");
        assert!(!parse(&human).unwrap().auto_submitted);
        let dsn = mail(
            "From: postmaster@mx.example.com\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"r\"",
            "--r\nContent-Type: text/plain\n\nDelivery failed.\n--r\nContent-Type: message/delivery-status\n\nStatus: 5.1.1\n--r--\n",
        );
        let p = parse(&dsn).unwrap();
        assert!(p.bounce && p.auto_submitted);
        // The report's own parts are read by `dsn.rs`, not offered to the agent.
        assert!(p.attachments.is_empty(), "{:?}", p.attachments);
        for sender in [
            "noreply@portal.example",
            "no-reply+billing@x.example",
            "Do_Not_Reply@x.example",
            "naoresponda@nfe.example.com.br",
            "nao.responda@x.example",
            "no-responder@sat.example.mx",
            "nocontestar@x.example",
            "ne-pas-repondre@x.example",
        ] {
            let raw = mail(&format!("From: {sender}"), "Your invoice is ready.");
            assert!(parse(&raw).unwrap().auto_submitted, "{sender}");
        }
        for person in [
            "noemi@x.example",
            "nora.reply@x.example",
            "responda@x.example",
        ] {
            let raw = mail(&format!("From: {person}"), "A toner, please.");
            assert!(!parse(&raw).unwrap().auto_submitted, "{person}");
        }
        // A person answering our message from the only account their computer has: the
        // no-reply address alone does not set the answer aside; a machine's header does.
        let answer = "From: no-reply@clinica.example\nIn-Reply-To: <q1@acme.test>";
        let raw = mail(answer, "Aprovado, pode trocar o cilindro.");
        assert!(!parse(&raw).unwrap().auto_submitted);
        let raw = mail(&format!("{answer}\nAuto-Submitted: auto-replied"), "Fora.");
        assert!(parse(&raw).unwrap().auto_submitted);
        let raw = mail(
            "From: mailer-daemon@x.example\nReferences: <q1@acme.test>",
            "Failed.",
        );
        assert!(parse(&raw).unwrap().auto_submitted);
        // An auto-reply known only by its subject; a person answering one is a person.
        for (subject, machine) in [
            ("Resposta automática: Chamado 5127", true),
            ("Fuera de la oficina", true),
            ("Out of Office: toner order", true),
            ("RE: Resposta automática: Chamado 5127", false),
            ("Leitura fora do prazo: escritório 2", false),
        ] {
            let raw = mail(
                &format!("From: ana@x.example\nSubject: {subject}"),
                "Texto.",
            );
            assert_eq!(parse(&raw).unwrap().auto_submitted, machine, "{subject}");
        }
    }

    #[test]
    fn broken_and_hostile_input_is_refused_or_read_without_stalling() {
        assert_eq!(
            parse(b"").unwrap_err(),
            ParseError::NotAMessage("it is empty")
        );
        let big = vec![b'a'; MAX_MESSAGE_BYTES + 1];
        assert!(matches!(parse(&big), Err(ParseError::TooLarge { .. })));
        // Truncated MIME: the boundary never closes.
        let truncated = mail(
            "From: a@example.com\nContent-Type: multipart/mixed; boundary=\"x\"",
            "--x\nContent-Type: text/plain\n\nthe start of someth",
        );
        let t = parse(&truncated).unwrap();
        assert!(t.incomplete && t.reply_text.contains("the start"), "{t:?}");
        // A header bomb and a thousand parts: read in bounded time.
        let started = std::time::Instant::now();
        let mut bomb = String::from("From: a@example.com\r\n");
        for i in 0..50_000 {
            bomb.push_str(&format!("X-Filler-{i}: {}\r\n", "y".repeat(20)));
        }
        bomb.push_str("\r\nbody\r\n");
        assert!(parse(bomb.as_bytes()).is_ok());
        let mut parts = String::from(
            "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"p\"\r\n\r\n",
        );
        for i in 0..1_000 {
            parts.push_str(&format!("--p\r\nContent-Type: text/plain; name=\"f{i}.txt\"\r\nContent-Disposition: attachment; filename=\"f{i}.txt\"\r\n\r\npart {i}\r\n"));
        }
        parts.push_str("--p--\r\n");
        let p = parse(parts.as_bytes()).unwrap();
        assert_eq!(p.attachments.len(), 1_000);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    /// One written case of `tests/data/mime/expected.txt`.
    struct MimeCase {
        name: String,
        fields: Vec<(String, String)>,
        reply: String,
    }

    fn mime_cases() -> Vec<MimeCase> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mime");
        // Each set written apart has its own file of expectations: `expected*.txt`.
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("expected") && n.ends_with(".txt"))
            })
            .collect();
        files.sort();
        let text = files
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        let mut cases = Vec::new();
        for block in text.split("=== case: ").skip(1) {
            let (name, rest) = block.split_once('\n').unwrap();
            let (head, rest) = rest.split_once("=== reply\n").unwrap();
            let (reply, _) = rest.split_once("=== end").unwrap();
            let fields = head
                .lines()
                .filter_map(|l| {
                    l.split_once(": ")
                        .or_else(|| l.strip_suffix(':').map(|k| (k, "")))
                })
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect();
            cases.push(MimeCase {
                name: name.trim().to_owned(),
                fields,
                reply: reply.to_owned(),
            });
        }
        cases
    }

    fn collapsed(s: &str) -> String {
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// Messages written from the mail clients' documented shapes (Outlook, Gmail, Apple
    /// Mail, Thunderbird, Mutt, Notes, webmails; charsets, encodings, structures), each
    /// with what a reader sees: sender, subject, attachments, forwards, whether a machine
    /// sent it, and the new text (compared with whitespace collapsed, as HTML leaves it).
    #[test]
    fn written_mail_reads_as_its_reader_sees_it() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mime");
        let cases = mime_cases();
        assert!(cases.len() >= 60, "{} cases", cases.len());
        let mut missed = Vec::new();
        for case in &cases {
            let raw = std::fs::read(dir.join(format!("{}.eml", case.name))).unwrap();
            let p = parse(&raw).unwrap_or_else(|e| panic!("{}: {e}", case.name));
            let mut wrong = Vec::new();
            for (key, want) in &case.fields {
                let got = match key.as_str() {
                    "from" => p.from.clone().unwrap_or_else(|| "-".into()),
                    "from_name" => p.from_name.clone().unwrap_or_else(|| "-".into()),
                    "subject" => p.subject.clone().unwrap_or_else(|| "-".into()),
                    "attachments" => {
                        let list = p
                            .attachments
                            .iter()
                            .map(|a| format!("{} ({})", a.name, a.mime))
                            .collect::<Vec<_>>()
                            .join("; ");
                        if list.is_empty() { "-".into() } else { list }
                    }
                    "forwarded" => p.forwarded.len().to_string(),
                    "machine" => if p.auto_submitted { "yes" } else { "no" }.into(),
                    other => panic!("{}: unknown field {other}", case.name),
                };
                if &got != want {
                    wrong.push(format!("  {key}: got {got:?}, expected {want:?}"));
                }
            }
            if collapsed(&p.reply_text) != collapsed(&case.reply) {
                wrong.push(format!(
                    "  reply:\n--- got\n{}\n--- expected\n{}",
                    p.reply_text.trim(),
                    case.reply.trim()
                ));
            }
            // Nothing the sender wrote is lost between the reply and the rest.
            for word in p.full_text.split_whitespace() {
                if !(p.reply_text.contains(word) || p.quoted_text.contains(word)) {
                    wrong.push(format!("  {word:?} lost"));
                    break;
                }
            }
            if !wrong.is_empty() {
                missed.push(format!("{}:\n{}", case.name, wrong.join("\n")));
            }
        }
        assert!(
            missed.is_empty(),
            "{} of {} messages read otherwise:\n\n{}",
            missed.len(),
            cases.len(),
            missed.join("\n\n")
        );
    }
}
