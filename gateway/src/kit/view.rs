//! Turning domain values into what the templates show: labels in the viewer's language,
//! icons, times, message and card views. Templates escape everything they print; the only
//! HTML built here ([`marked_snippet`]) escapes its text first.
//!
//! **Architecture Invariant:** customer text reaches the pages only through askama's
//! escaping; the one piece of markup built in code, a search snippet's `<mark>`, escapes
//! the text first and never leaves an element open (e2e
//! `inbox::customer_markup_renders_inert_in_list_view_and_search`,
//! `kit::view::tests::snippets_escape_everything_but_their_marks`).

use switchboard_core::domain::{
    AuthorKind, Card, CardPayload, Channel, DeliveryState, Direction, Message, Priority, Status,
    User,
};

use crate::kit::http::html_escape;
use crate::kit::i18n::Tr;

/// Black or white, whichever reads better on `#rrggbb` (WCAG relative luminance).
pub fn text_on(hex: &str) -> &'static str {
    let h = hex.trim_start_matches('#');
    let c = |i: usize| {
        let v =
            f64::from(u8::from_str_radix(h.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0)) / 255.0;
        if v <= 0.039_28 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    let l = 0.2126 * c(0) + 0.7152 * c(2) + 0.0722 * c(4);
    // Contrast against white is (1.05)/(l+0.05); against black (l+0.05)/0.05.
    if 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 {
        "#ffffff"
    } else {
        "#000000"
    }
}

/// What to call a contact: its name, else an address or number it wrote from, else (a
/// web-chat visitor, known only by a long random id) "Visitor 7F3A".
pub fn contact_label(t: &Tr, name: Option<&str>, handle: Option<&str>, number: i64) -> String {
    if let Some(n) = name.map(str::trim).filter(|n| !n.is_empty()) {
        return n.to_owned();
    }
    match handle.map(str::trim).filter(|h| !h.is_empty()) {
        Some(h)
            if h.contains('@') || h.starts_with('+') || h.chars().all(|c| c.is_ascii_digit()) =>
        {
            h.to_owned()
        }
        Some(h) => {
            let code: String = h
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(4)
                .collect();
            t.t1("visitor-name", "code", code.to_uppercase())
        }
        None => format!("#{number}"),
    }
}

/// An identity as the contact panel shows it: a visitor's long id cut short.
pub fn short_identity(value: &str) -> String {
    if value.contains('@') || value.starts_with('+') || value.chars().count() <= 24 {
        value.to_owned()
    } else {
        let head: String = value.chars().take(12).collect();
        format!("{head}…")
    }
}

pub fn display_name(user: &User) -> String {
    user.name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .map_or_else(|| user.email.clone(), str::to_owned)
}

pub fn initials(name: &str) -> String {
    let mut out: String = name
        .split(|c: char| c.is_whitespace() || c == '.' || c == '@')
        .filter_map(|w| w.chars().next())
        .filter(|c| c.is_alphanumeric())
        .take(2)
        .collect();
    if out.is_empty() {
        out.push('?');
    }
    out.to_uppercase()
}

pub fn channel_icon(c: Channel) -> &'static str {
    match c {
        Channel::Webchat => "i-chat",
        Channel::Email => "i-mail",
        Channel::Whatsapp => "i-whatsapp",
        Channel::Portal => "i-portal",
        Channel::Api => "i-settings",
    }
}

pub fn channel_label(t: &Tr, c: Channel) -> String {
    t.t(&format!("channel-{}", c.as_str()))
}

pub fn status_label(t: &Tr, s: Status) -> String {
    t.t(&format!("status-{}", s.as_str()))
}

pub fn priority_label(t: &Tr, p: Priority) -> String {
    t.t(&format!("priority-{}", p.as_str()))
}

/// A pill for priorities worth a glance (urgent, high); none for normal and low.
pub fn priority_pill(t: &Tr, p: Priority) -> Option<(String, String)> {
    matches!(p, Priority::Urgent | Priority::High)
        .then(|| (p.as_str().to_owned(), priority_label(t, p)))
}

/// `2026-11-22T14:05:00Z`
pub fn iso(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// The exact time, for the `title` of a relative time (the page's script shows it in the
/// viewer's own time zone).
pub fn exact(ms: i64) -> String {
    let s = iso(ms);
    format!("{} {} UTC", &s[..10], &s[11..16])
}

/// Days since 1970-01-01 to a civil date (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A search snippet whose matches the store marked with `\u{2}`…`\u{3}`: escaped, then
/// the marks turned into `<mark>`. Nothing else of the text can become markup.
pub fn marked_snippet(s: &str) -> String {
    let mut out = String::new();
    let mut open = false;
    for part in html_escape(s).split_inclusive(['\u{2}', '\u{3}']) {
        let (text, mark) = match part.strip_suffix('\u{2}') {
            Some(t) => (t, Some(true)),
            None => match part.strip_suffix('\u{3}') {
                Some(t) => (t, Some(false)),
                None => (part, None),
            },
        };
        out.push_str(text);
        match mark {
            Some(true) if !open => {
                out.push_str("<mark>");
                open = true;
            }
            Some(false) if open => {
                out.push_str("</mark>");
                open = false;
            }
            _ => {}
        }
    }
    // A snippet cut inside a match still closes it.
    if open {
        out.push_str("</mark>");
    }
    out
}

/// One line of text: whitespace folded, cut at `max` characters.
pub fn one_line(s: &str, max: usize) -> String {
    let folded: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.chars().count() <= max {
        folded
    } else {
        let mut out: String = folded.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

pub fn human_size(bytes: u64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{} KB", bytes / 1024)
    } else {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    }
}

#[derive(Debug, Clone)]
pub struct AttachmentView {
    pub name: String,
    pub size: String,
    pub href: String,
}

#[derive(Debug, Clone)]
pub struct MessageView {
    pub id: String,
    /// in, out, note, system
    pub class: &'static str,
    pub author: String,
    pub channel_icon: &'static str,
    pub channel_label: String,
    pub when_iso: String,
    pub when_title: String,
    pub when_rel: String,
    pub when_ms: i64,
    pub text: String,
    /// The rest of an email (quotes, signature), shown on request.
    pub quoted: Option<String>,
    pub attachments: Vec<AttachmentView>,
    /// (state, label, detail) of an outbound message.
    pub state: Option<(String, String, String)>,
    /// The articles a bot answer came from: (title, link).
    pub sources: Vec<(String, String)>,
    /// How sure the bot was, in percent.
    pub sure: Option<String>,
    /// An agent's reply, which may become a draft article.
    pub save_article: bool,
    /// The first image attached, shown in the bubble: its link and its name.
    pub image: Option<(String, String)>,
    /// A file the channel still holds: (`pending` or `unavailable`, what to say).
    pub media_note: Option<(&'static str, String)>,
    /// A shared place: (its words, a map link).
    pub location: Option<(String, String)>,
    pub forwarded: Option<String>,
    /// The channel's id of the message this one answers, and once found in the thread, a
    /// link to it and its first words.
    pub reply_ext: Option<String>,
    pub reply_to: Option<(String, String)>,
    /// A reaction's emoji (the bubble shows it large).
    pub reaction: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CardView {
    pub id: String,
    pub kind_label: String,
    pub title: Option<String>,
    pub amount: Option<String>,
    pub status: Option<(String, String)>,
    pub fields: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub enum ThreadItem {
    Message(Box<MessageView>),
    Card(CardView),
}

impl ThreadItem {
    pub fn at(&self) -> i64 {
        match self {
            ThreadItem::Message(m) => m.when_ms,
            ThreadItem::Card(_) => 0,
        }
    }
}

/// How a message shows; `author_name` resolves agent ids to names.
pub fn message_view(
    t: &Tr,
    now: i64,
    m: &Message,
    contact_name: &str,
    author_name: impl Fn(&str) -> Option<String>,
    internal: bool,
) -> MessageView {
    let class = match (m.author_kind, m.direction) {
        (AuthorKind::System, _) => "system",
        _ if internal => "note",
        (_, Direction::Inbound) => "in",
        (_, Direction::Outbound) => "out",
    };
    let author = match m.author_kind {
        AuthorKind::Contact => contact_name.to_owned(),
        AuthorKind::Agent => m
            .author_id
            .as_deref()
            .and_then(&author_name)
            .unwrap_or_else(|| t.t("author-agent")),
        AuthorKind::Bot => t.t("author-bot"),
        AuthorKind::System => t.t("author-system"),
    };
    let quoted = m
        .full_text
        .as_deref()
        .filter(|f| f.trim() != m.text.trim())
        .map(|f| {
            f.strip_prefix(m.text.as_str())
                .map_or(f, str::trim_start)
                .to_owned()
        })
        .filter(|q| !q.trim().is_empty());
    let state =
        (m.direction == Direction::Outbound && !internal && m.author_kind != AuthorKind::System)
            .then(|| {
                let s = m.delivery_state;
                let detail = if s == DeliveryState::Failed {
                    m.delivery_error
                        .clone()
                        .unwrap_or_else(|| t.t("state-failed"))
                } else {
                    String::new()
                };
                (
                    s.as_str().to_owned(),
                    t.t(&format!("state-{}", s.as_str())),
                    detail,
                )
            });
    let sources = if m.author_kind == AuthorKind::Bot {
        m.content
            .as_ref()
            .map(|c| {
                c.articles
                    .iter()
                    .map(|a| (a.title.clone(), a.url.clone()))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let sure = m
        .content
        .as_ref()
        .and_then(|c| c.confidence)
        .filter(|_| m.author_kind == AuthorKind::Bot)
        .map(|pm| format!("{}", (u32::from(pm) + 5) / 10));
    let save_article = m.author_kind == AuthorKind::Agent
        && m.direction == Direction::Outbound
        && !internal
        && !m.text.trim().is_empty();
    let content = m.content.as_ref();
    let image = m
        .attachments
        .iter()
        .find(|a| a.mime.starts_with("image/"))
        .map(|a| (format!("/blobs/{}", a.blob.as_str()), a.name.clone()));
    let media_note =
        content
            .and_then(|c| c.media.as_ref())
            .and_then(|md| match md.state.as_str() {
                "pending" => Some(("pending", t.t("wa-media-pending"))),
                "unavailable" => Some((
                    "unavailable",
                    t.t1(
                        "wa-media-unavailable",
                        "reason",
                        md.reason.clone().unwrap_or_default(),
                    ),
                )),
                _ => None,
            });
    let location = content.and_then(|c| c.location.as_ref()).map(|l| {
        let words = [l.name.as_deref(), l.address.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        let words = if words.is_empty() {
            format!("{}, {}", l.latitude, l.longitude)
        } else {
            words
        };
        (
            words,
            format!(
                "https://www.openstreetmap.org/?mlat={}&mlon={}#map=17/{}/{}",
                l.latitude, l.longitude, l.latitude, l.longitude
            ),
        )
    });
    let forwarded = content.and_then(|c| c.forwarded).map(|many| {
        t.t(if many {
            "wa-forwarded-many"
        } else {
            "wa-forwarded"
        })
    });
    let reaction = content
        .and_then(|c| c.reaction.as_ref())
        .map(|r| r.emoji.clone())
        .filter(|e| !e.is_empty());
    // The bracketed words that stand for a place or a file without caption are for
    // previews and search; the bubble draws the thing itself.
    let placeholder = m.text.starts_with('[') && m.text.ends_with(']');
    let text = if location.is_some() || (placeholder && (image.is_some() || media_note.is_some())) {
        String::new()
    } else {
        m.text.clone()
    };
    MessageView {
        image,
        media_note,
        location,
        forwarded,
        reply_ext: content.and_then(|c| c.reply_to.clone()),
        reply_to: None,
        reaction,
        sources,
        sure,
        save_article,
        id: m.id.clone(),
        class,
        author,
        channel_icon: channel_icon(m.channel),
        channel_label: channel_label(t, m.channel),
        when_iso: iso(m.created_at),
        when_title: exact(m.created_at),
        when_rel: t.relative(m.created_at - now),
        when_ms: m.created_at,
        text,
        quoted,
        attachments: m
            .attachments
            .iter()
            .map(|a| AttachmentView {
                name: a.name.clone(),
                size: human_size(a.size),
                href: format!("/blobs/{}", a.blob.as_str()),
            })
            .collect(),
        state,
    }
}

/// Links each message that answers another (WhatsApp's quote) to that message when the
/// thread holds it: its anchor and first words; otherwise it says "an earlier message".
pub fn link_replies(t: &Tr, items: &mut [ThreadItem], messages: &[Message]) {
    let by_ext: std::collections::HashMap<&str, &Message> = messages
        .iter()
        .filter_map(|m| m.external_id.as_deref().map(|e| (e, m)))
        .collect();
    for item in items.iter_mut() {
        let ThreadItem::Message(v) = item else {
            continue;
        };
        let Some(ext) = v.reply_ext.as_deref() else {
            continue;
        };
        v.reply_to = Some(match by_ext.get(ext) {
            Some(m) => {
                let words: String = m.text.chars().take(80).collect();
                (format!("#m-{}", m.id), words)
            }
            None => (String::new(), t.t("wa-earlier-message")),
        });
    }
}

pub fn card_view(t: &Tr, card: &Card) -> CardView {
    let kind = card.payload.kind();
    let kind_label = t.t(&format!("card-kind-{}", kind.as_str()));
    let lang = switchboard_portal::locale::Lang::from_tag(t.lang());
    let words = switchboard_portal::locale::doc_words(lang);
    let money = |m: &switchboard_core::money::Money| {
        switchboard_portal::locale::money(
            m.amount_minor,
            m.currency.code(),
            m.currency.exponent(),
            lang,
        )
    };
    let date = |ms: Option<i64>| ms.map(|m| iso(m)[..10].to_owned());
    type Parts = (
        Option<String>,
        Option<String>,
        Option<(String, String)>,
        Vec<(String, String)>,
    );
    let (title, amount, status, fields): Parts = match &card.payload {
        CardPayload::Invoice {
            number,
            amount,
            due_at,
            status,
            ..
        } => (
            Some(number.clone()),
            Some(money(amount)),
            Some((
                format!("doc-{}", status.as_str()),
                words.status(status.as_str()).to_owned(),
            )),
            date(*due_at)
                .map(|d| vec![("Due".to_owned(), d)])
                .unwrap_or_default(),
        ),
        CardPayload::Estimate {
            number,
            amount,
            valid_until,
            status,
            ..
        } => (
            Some(number.clone()),
            Some(money(amount)),
            Some((
                format!("doc-{}", status.as_str()),
                words.status(status.as_str()).to_owned(),
            )),
            date(*valid_until)
                .map(|d| vec![(t.t("card-valid-until"), d)])
                .unwrap_or_default(),
        ),
        CardPayload::Payment {
            invoice_number,
            amount,
            status,
            ..
        } => (
            invoice_number.clone(),
            Some(money(amount)),
            Some((
                match status.as_str() {
                    "succeeded" => "doc-paid".to_owned(),
                    "failed" => "doc-overdue".to_owned(),
                    other => format!("doc-{other}"),
                },
                {
                    let s = status.as_str().replace('_', " ");
                    let mut c = s.chars();
                    c.next()
                        .map(|f| f.to_uppercase().chain(c).collect())
                        .unwrap_or(s)
                },
            )),
            Vec::new(),
        ),
        CardPayload::Ticket {
            number,
            title,
            status,
            ..
        } => (
            Some(format!("#{number} · {title}")),
            None,
            Some((
                status.as_str().to_owned(),
                status.as_str().replace('_', " "),
            )),
            Vec::new(),
        ),
        CardPayload::Survey {
            question,
            scale,
            answer,
            ..
        } => (
            Some(question.clone()),
            None,
            Some(match answer {
                Some(_) => ("resolved".to_owned(), t.t("survey-answered")),
                None => ("pending".to_owned(), t.t("survey-waiting")),
            }),
            match answer {
                Some(a) => vec![(t.t("survey-answer"), a.clone())],
                None => vec![(t.t("survey-scale"), format!("1–{scale}"))],
            },
        ),
        CardPayload::Machine {
            model,
            serial,
            location,
            status,
            request,
            toner,
            contract,
            last_reading,
            open_requests,
            ..
        } => {
            let w = crate::kit::machines::eq_words(lang);
            let mut fields = vec![(w.serial.to_owned(), serial.clone())];
            let mut add = |k: &str, v: &Option<String>| {
                if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                    fields.push((k.to_owned(), v.clone()));
                }
            };
            add(w.location, location);
            add(w.contract, contract);
            add(w.last_reading, last_reading);
            fields.push((
                w.request.to_owned(),
                crate::kit::machines::request_word(request, lang).to_owned(),
            ));
            if !toner.is_empty() {
                fields.push((
                    w.toner.to_owned(),
                    toner
                        .iter()
                        .map(|c| crate::kit::machines::toner_word(c, lang))
                        .collect::<Vec<_>>()
                        .join(", "),
                ));
            }
            fields.push((w.open_requests.to_owned(), open_requests.to_string()));
            (
                Some(model.clone()),
                None,
                Some((
                    format!("machine-{status}"),
                    crate::kit::machines::status_word(status, lang).to_owned(),
                )),
                fields,
            )
        }
        CardPayload::Visit {
            number,
            machine,
            technician,
            status,
            when,
            report,
            ..
        } => {
            let v = switchboard_portal::visits::visit_words(lang);
            let mut fields = vec![
                (v.machine.to_owned(), machine.clone()),
                (v.technician.to_owned(), technician.clone()),
            ];
            if !when.is_empty() {
                fields.push((v.window.to_owned(), when.clone()));
            }
            if *report {
                fields.push((v.report.to_owned(), "PDF".to_owned()));
            }
            (
                Some(format!("{} {number}", v.visit)),
                None,
                Some((
                    format!("visit-{status}"),
                    switchboard_portal::visits::status_word(status, lang).to_owned(),
                )),
                fields,
            )
        }
    };
    CardView {
        id: card.id.clone(),
        kind_label,
        title,
        amount,
        status,
        fields,
    }
}

/// A card of a kind this version does not know: its fields, shown as they are.
pub fn generic_card_view(t: &Tr, id: &str, kind: &str, payload: &serde_json::Value) -> CardView {
    let mut fields = Vec::new();
    if let Some(obj) = payload.as_object() {
        for (k, v) in obj.iter().filter(|(k, _)| *k != "kind").take(12) {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            fields.push((k.clone(), one_line(&v, 120)));
        }
    }
    CardView {
        id: id.to_owned(),
        kind_label: format!("{} · {}", t.t("card-kind-other"), one_line(kind, 40)),
        title: None,
        amount: None,
        status: None,
        fields,
    }
}

/// The letter a business's mark shows: the first letter or digit of its name.
pub fn initial_of(business: &str) -> String {
    business
        .chars()
        .find(|c| c.is_alphanumeric())
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_colour_contrasts_with_the_accent() {
        assert_eq!(text_on("#2456c7"), "#ffffff");
        assert_eq!(text_on("#ffd400"), "#000000");
        assert_eq!(text_on("#000000"), "#ffffff");
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(1_795_000_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn snippets_escape_everything_but_their_marks() {
        let s = marked_snippet("<img src=x onerror=alert(1)> \u{2}ação\u{3}");
        assert_eq!(s, "&lt;img src=x onerror=alert(1)&gt; <mark>ação</mark>");
        // Marks that do not pair up never leave an element open or close a foreign one.
        assert_eq!(marked_snippet("a\u{3}b\u{2}c"), "ab<mark>c</mark>");
    }

    #[test]
    fn initials_and_lines() {
        assert_eq!(initials("Ana Souza"), "AS");
        assert_eq!(initials("bob@example.com"), "BE");
        assert_eq!(one_line("a\n  b", 10), "a b");
        assert_eq!(one_line("abcdef", 4), "abc…");
    }
}
