//! Separates what the sender wrote in an email from what their client appended: the quoted
//! thread, forwarded or embedded emails, and signatures.
//!
//! Mail clients mark those parts in many ways and many languages ("On … wrote:", "Am …
//! schrieb …:", an Outlook "From: / Sent: / To: / Subject:" block, "-----Original
//! Message-----", "> " quotes, "Sent from my iPhone", "-- "), and none of them is reliable
//! on its own. So the body is first cut into typed spans of lines, and the reply is then
//! chosen from the order of those spans: a quote answered inline stays, a quote nothing
//! follows goes, and so on.
//!
//! The split never throws the message away: when trimming would leave nothing but the body
//! has text (a bare forward, a body that is only a quote), the whole body is the reply.
//!
//! A forward under the sender's note ("FYI", "Veja abaixo", "Mira abajo" over a
//! "Forwarded message", "Begin forwarded message:", "-----Original Message-----") splits
//! like a reply: the note is the reply, the forwarded mail goes whole to the rest. That is
//! honest only because the rest is never hidden from the agent: the parsed email keeps the
//! whole text (`full_text`), the message is stored with it, and the agent's thread shows
//! what is beyond the reply under "show quoted" (`gateway/src/kit/view.rs`). So `reply` is
//! what the sender newly wrote, and what they sent along stays one click away
//! (`tests::email_forward_under_a_note_stays_whole_in_the_rest`).
//!
//! Two libFuzzer targets in `fuzz/` (`email_parse`: any bytes as a raw message;
//! `email_reply`: any text split) check that nothing panics and no word is lost between the
//! reply and the rest; `scripts/test` runs each for 30 s from the fixtures. A reply address
//! names a conversation only if its tag verifies under the server's secret
//! (`email::token::tests::forged_altered_or_foreign_tokens_name_nothing`).

/// The visible reply of an email body and everything taken out of it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Split {
    /// What the sender wrote, without blank lines around it. Empty only when the body had
    /// no text beyond blank lines, quote marks, delimiter lines and "… wrote:" lines.
    pub reply: String,
    /// Everything taken out, in body order: a mail server's external-sender warning on
    /// top, quoted history, embedded and forwarded emails, signatures (with a legal notice
    /// under them). Empty when nothing was taken out.
    pub rest: String,
}

/// Splits a plain-text email body into the visible reply and the rest.
///
/// Line endings are normalized to `\n` first, so both fields use `\n`.
pub fn split_reply(body: &str) -> Split {
    let text = body.replace("\r\n", "\n").replace('\r', "\n");
    let mut lines: Vec<&str> = Vec::new();
    for line in text.split('\n') {
        // "…obrigado. Em ter., 12 de mai. de 2026 às 10:02, Ana <a@b.c> escreveu:" (a
        // client that lost the line break): the attribution goes on a line of its own.
        match glued_attribution(line) {
            Some(at) => {
                lines.push(line[..at].trim_end());
                lines.push(line[at..].trim_start());
            }
            None => lines.push(line),
        }
    }
    let spans = classify(&lines);
    let in_reply = choose_reply(&lines, &spans);

    let mut reply = Vec::new();
    let mut rest = Vec::new();
    for (span, kept) in spans.iter().zip(&in_reply) {
        let target = if *kept { &mut reply } else { &mut rest };
        target.extend_from_slice(&lines[span.start..span.end]);
    }
    // Spaces at the ends of the reply's lines are invisible; some clients leave them.
    let reply: Vec<&str> = reply.iter().map(|line| line.trim_end()).collect();
    let reply = join_trimmed(&reply);
    if reply.is_empty() && lines.iter().any(|line| carries_message(line)) {
        // Forwarded mail and quote-only bodies are never truncated to nothing.
        return Split {
            reply: join_trimmed(&lines),
            rest: String::new(),
        };
    }
    Split {
        reply,
        rest: join_trimmed(&rest),
    }
}

/// Where an attribution starts inside a line, after the sender's last sentence: a sentence
/// end (". ", "! ", "? ") followed by text that opens an attribution and reads as a whole
/// one ("… wrote:", with a date or an address).
fn glued_attribution(line: &str) -> Option<usize> {
    if line.len() > MAX_ATTRIBUTION_CHARS * 4
        || !line.trim_end().ends_with([':', '：'])
        || opens_attribution_itself(line)
        || is_quote(line)
    {
        return None;
    }
    // The sentence's last word, not an abbreviation of a date ("tir. 3. mar. 2026 kl.
    // 10:02 skrev …:", "Op 2 feb. 2015 om …"): four letters or more.
    let ends_a_sentence = |at: usize| {
        line[..at]
            .split_whitespace()
            .next_back()
            .is_some_and(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 4)
    };
    line.match_indices(['.', '!', '?'])
        .filter(|(at, _)| ends_a_sentence(*at))
        .map(|(at, mark)| at + mark.len())
        .filter(|after| line[*after..].starts_with(' '))
        .find(|after| {
            let tail = line[*after..].trim_start();
            tail.len() <= MAX_ATTRIBUTION_CHARS
                && opens_attribution_itself(tail)
                && is_attribution(tail)
                && line[..*after].split_whitespace().count() >= 3
        })
        .map(|after| after + 1)
}

/// What a run of lines is, as far as choosing the reply goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Blank,
    /// Anything written by the sender, and everything inside a fenced code block.
    Text,
    /// A `>` quote line (or a supercite one, `JD>`).
    Quote,
    /// A line made only of `-`, `_`, `=`, `*`, `#`, `~`, `+`, dashes or Gmail's `ᐧ`.
    Delimiter,
    /// The first line of a signature: `-- `, a "Sent from my …" line, or a line of
    /// underscores over a signature block.
    Signature,
    /// "-----Original Message-----", "Begin forwarded message:" and their translations.
    ForwardMark,
    /// An embedded email's header block: "From: / Sent: / To: / Subject:" and translations.
    HeaderFields,
    /// "On … wrote:" and its translations, over as many lines as the client wrapped it.
    Attribution,
}

/// Lines `start..end` of the body, all of one kind.
#[derive(Debug, Clone, Copy)]
struct Span {
    kind: Kind,
    start: usize,
    end: usize,
}

/// Cuts the body into spans. Most are one line; attributions and header blocks may be
/// several.
fn classify(lines: &[&str]) -> Vec<Span> {
    let in_code = code_block_lines(lines);
    let mut spans = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        let one = index + 1;
        let (kind, end) = if in_code[index] {
            (Kind::Text, one)
        } else if is_blank(line) {
            (Kind::Blank, one)
        } else if is_framed_header(line) {
            (Kind::HeaderFields, one)
        } else if let Some(end) = attribution_at(lines, index) {
            (Kind::Attribution, end)
        } else if let Some(end) = quoted_header_at(lines, index) {
            (Kind::HeaderFields, end)
        } else if is_quote(line) || wraps_quote(lines, index) || in_quoted_link(lines, index) {
            (Kind::Quote, one)
        } else if is_forward_mark(line)
            || announces_embedded(lines, index)
            || asks_to_reply_above(line)
        {
            (Kind::ForwardMark, one)
        } else if let Some(end) = header_fields_at(lines, index) {
            (Kind::HeaderFields, end)
        } else if is_signature_start(line)
            && !continues_sentence(lines, index)
            && !continued_below(lines, index)
        {
            (Kind::Signature, one)
        } else if is_delimiter(line) || is_image_placeholder(line) {
            (Kind::Delimiter, one)
        } else {
            (Kind::Text, one)
        };
        spans.push(Span {
            kind,
            start: index,
            end,
        });
        index = end;
    }
    mark_last_signatures(lines, &mut spans);
    spans
}

/// Signatures that only their place tells apart from the sender's text: a "Sent from …"
/// line of an app not in `SIGNATURE_OPENERS`, and a block of short lines under a line of
/// underscores (how Outlook and webmail signatures are commonly drawn, the `-- ` of those
/// who never heard of it). Either is a signature only when none of the sender's text
/// follows it, just blank lines, the history or the end.
fn mark_last_signatures(lines: &[&str], spans: &mut [Span]) {
    for index in 0..spans.len() {
        let span = spans[index];
        let line = lines[span.start];
        let is_last = |from: usize| {
            next_non_blank(spans, from).is_none_or(|next| spans[next].kind != Kind::Text)
        };
        let sign_off = span.kind == Kind::Text
            && is_last(index + 1)
            && !continues_sentence(lines, span.start)
            && reads_like_sign_off(line);
        let underscored = span.kind == Kind::Delimiter
            && is_underscore_line(line)
            && signature_block_end(lines, spans, index + 1).is_some_and(is_last);
        if sign_off || underscored {
            spans[index].kind = Kind::Signature;
        }
    }
}

/// A line of underscores only, two or more.
fn is_underscore_line(line: &str) -> bool {
    let text = line.trim();
    text.len() >= 2 && text.chars().all(|c| c == '_')
}

/// A signature has a few lines: name, role, company, phone, site.
const MAX_SIGNATURE_BLOCK_LINES: usize = 8;
/// A signature's lines are short; a longer line is a sentence.
const MAX_SIGNATURE_BLOCK_LINE_CHARS: usize = 60;

/// The span after the signature block starting at span `from`: one to
/// `MAX_SIGNATURE_BLOCK_LINES` short lines of text right under the delimiter, with no blank
/// line between them, and the company's legal notice under them if it has one (long
/// lines, right under or after one blank line).
fn signature_block_end(lines: &[&str], spans: &[Span], from: usize) -> Option<usize> {
    let count = spans[from.min(spans.len())..]
        .iter()
        .take_while(|span| {
            span.kind == Kind::Text
                && lines[span.start].trim().chars().count() <= MAX_SIGNATURE_BLOCK_LINE_CHARS
        })
        .count();
    if !(1..=MAX_SIGNATURE_BLOCK_LINES).contains(&count) {
        return None;
    }
    let end = from + count;
    let notice_from = match spans.get(end) {
        Some(span) if span.kind == Kind::Blank => end + 1,
        _ => end,
    };
    let notice = spans[notice_from.min(spans.len())..]
        .iter()
        .take_while(|span| span.kind == Kind::Text)
        .count();
    let text = spans[notice_from.min(spans.len())..][..notice]
        .iter()
        .flat_map(|span| &lines[span.start..span.end])
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    Some(if notice > 0 && is_legal_notice(&text) {
        notice_from + notice
    } else {
        end
    })
}

/// Whether a paragraph is the legal notice companies put under their signatures: it says
/// the message is confidential or meant for its addressee, or names the data-protection law.
fn is_legal_notice(text: &str) -> bool {
    let lower = folded(text);
    const MARKS: &[&str] = &[
        "confidencial",
        "confidential",
        "privileged",
        "privilegiad",
        "intended solely",
        "intended only",
        "intended recipient",
        "destinatario",
        "received this",
        "recebido por engano",
        "recebeu esta mensagem por engano",
        "recibido por error",
        "recibido este",
        "lgpd",
        "rgpd",
        "gdpr",
        "protecao de dados",
        "proteccion de datos",
        "aviso legal",
    ];
    MARKS.iter().any(|mark| lower.contains(mark))
}

/// Marks the lines inside fenced code blocks (and the fences), whose `#`, `>` or `--` lines
/// are code, not mail structure. A fence nothing closes is not a block.
fn code_block_lines(lines: &[&str]) -> Vec<bool> {
    let mut inside = vec![false; lines.len()];
    let mut open = None;
    for (index, line) in lines.iter().enumerate() {
        if !line.trim_start().starts_with("```") {
            continue;
        }
        match open.take() {
            None => open = Some(index),
            Some(first) => inside[first..=index].fill(true),
        }
    }
    inside
}

/// Decides, span by span, what is the reply.
///
/// Embedded headers at the very top are dropped with the quote they introduce (the sender
/// answered below it), and the reply starts after them. From there the reply runs until
/// the first signature, forward mark or header block; an attribution or quote ends it too,
/// unless more of the sender's text follows the quote (an inline answer), in which case
/// only the attribution line is dropped. Blank and delimiter lines just before the end go
/// with what follows them.
fn choose_reply(lines: &[&str], spans: &[Span]) -> Vec<bool> {
    if let Some(in_reply) = help_desk_comment(lines, spans) {
        return in_reply;
    }
    let start = skip_leading_embedded(lines, spans);
    let mut end = spans.len();
    // A mail server's warning put above the sender's text goes to the rest, and so do the
    // placeholders of pictures above it ("[image: Screenshot.png]": the picture is an
    // attachment, the line is no words of the sender's).
    let mut dropped: Vec<usize> = external_banner(lines, spans, start).collect();
    let mut top = dropped.last().map_or(start, |last| last + 1);
    while let Some(first) = next_non_blank(spans, top) {
        let span = spans[first];
        if span.end - span.start != 1 || !is_image_placeholder(lines[span.start]) {
            break;
        }
        dropped.push(first);
        top = first + 1;
    }
    let mut index = start;
    while index < spans.len() {
        match spans[index].kind {
            Kind::Blank | Kind::Text | Kind::Delimiter => index += 1,
            Kind::Signature | Kind::ForwardMark | Kind::HeaderFields => {
                end = index;
                break;
            }
            Kind::Attribution => match answered_quote_after(spans, index + 1) {
                Some(quote) => {
                    dropped.push(index);
                    index = quote;
                }
                None => {
                    end = index;
                    break;
                }
            },
            Kind::Quote => match answered_quote_after(spans, index) {
                Some(_) => {
                    let after = quote_block_end(spans, index) + 1;
                    if quotes_a_sign_off(lines, &spans[index..after])
                        || only_sign_off_after(lines, spans, after)
                    {
                        // The quoted mail's own sign-off, left above the sender's: not
                        // answered, so history (blank lines around it stay, as around a
                        // dropped attribution).
                        dropped.extend(index..after);
                    }
                    index = after;
                }
                None => {
                    end = index;
                    break;
                }
            },
        }
    }
    while end > start && matches!(spans[end - 1].kind, Kind::Blank | Kind::Delimiter) {
        end -= 1;
    }

    let mut in_reply = vec![false; spans.len()];
    in_reply[start..end].fill(true);
    for index in dropped {
        in_reply[index] = false;
    }
    in_reply
}

/// A help desk's notification of a comment ("##- Digite sua resposta acima desta linha
/// -##" on top, then the newest comment's author and date, its text, and the older
/// comments each under a rule of dashes): the reply is the newest comment's text; its
/// author and date lines, the marker and the older comments go to the rest. `None` when
/// the body does not open with such a marker.
fn help_desk_comment(lines: &[&str], spans: &[Span]) -> Option<Vec<bool>> {
    let marker = next_non_blank(spans, 0)?;
    if spans[marker].kind != Kind::ForwardMark || !asks_to_reply_above(lines[spans[marker].start]) {
        return None;
    }
    let mut from = marker + 1;
    let mut dropped = Vec::new();
    // The comment's header: a short line naming its author, then its date and time.
    if let Some(author) = next_non_blank(spans, from)
        && let Some(date) = next_non_blank(spans, author + 1)
    {
        let name = lines[spans[author].start].trim();
        let when = lines[spans[date].start].trim();
        if spans[author].kind == Kind::Text
            && name.chars().count() <= 60
            && when.chars().count() <= 40
            && has_year(when)
            && has_time(when)
        {
            dropped.extend([author, date]);
            from = date + 1;
        }
    }
    let end = (from..spans.len())
        .find(|&i| is_dash_rule(lines[spans[i].start]))
        .unwrap_or(spans.len());
    let mut in_reply = vec![false; spans.len()];
    in_reply[from..end].fill(true);
    for index in dropped {
        in_reply[index] = false;
    }
    Some(in_reply)
}

/// A line of ten dashes or more and nothing else: a help desk's rule between comments.
fn is_dash_rule(line: &str) -> bool {
    let text = line.trim();
    text.chars().count() >= 10 && text.chars().all(|c| c == '-')
}

/// Most lines a mail server's warning banner takes.
const MAX_BANNER_LINES: usize = 6;

/// The spans of the warning a receiving mail server puts on top of mail from outside
/// ("CAUTION: This email originated from outside of the organization…", "ATENÇÃO: Este
/// e-mail foi enviado de fora da organização…", "You don't often get email from …"), when
/// the first paragraph from `start` is one: a few lines that open like a warning and speak
/// of the organisation and of links, attachments or the sender. Nobody the agent talks to
/// wrote it.
fn external_banner(lines: &[&str], spans: &[Span], start: usize) -> std::ops::Range<usize> {
    let Some(first) = next_non_blank(spans, start) else {
        return 0..0;
    };
    let count = spans[first..]
        .iter()
        .take_while(|span| span.kind == Kind::Text)
        .count();
    if count == 0 || count > MAX_BANNER_LINES {
        return 0..0;
    }
    let text = spans[first..first + count]
        .iter()
        .flat_map(|span| &lines[span.start..span.end])
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    if is_external_banner(&text) {
        first..first + count
    } else {
        0..0
    }
}

/// Whether a paragraph reads as an external-sender warning (see `external_banner`).
fn is_external_banner(text: &str) -> bool {
    let lower = folded(text);
    let lower = lower.trim_start_matches(|c: char| !c.is_alphanumeric());
    if lower.chars().count() > 600 {
        return false;
    }
    const OPENERS: &[&str] = &[
        "caution",
        "warning",
        "external",
        "atencao",
        "aviso",
        "cuidado",
        "precaucion",
        "advertencia",
        "externo",
        "this email",
        "this e-mail",
        "this message",
        "este e-mail",
        "este email",
        "este correo",
        "esta mensagem",
        "este mensaje",
        "esse e-mail",
        "esse email",
        "you don't often",
        "you don’t often",
        "voce nao costuma",
        "no suele recibir",
        "no recibe correos",
    ];
    if !OPENERS.iter().any(|opener| lower.starts_with(opener)) {
        return false;
    }
    // A tip about a sender seen for the first time names the tip, not the organisation.
    const FIRST_CONTACT: &[&str] = &[
        "often get email from",
        "nao costuma receber",
        "no suele recibir",
        "no recibe correos",
    ];
    if FIRST_CONTACT.iter().any(|tip| lower.contains(tip)) {
        return true;
    }
    let mentions = |words: &[&str]| words.iter().any(|word| lower.contains(word));
    let outside = mentions(&["outside", "fora d", "fuera d", "extern"]);
    let organisation = mentions(&[
        "organization",
        "organisation",
        "organizacao",
        "organizacion",
        "empresa",
        "company",
    ]);
    let advice = mentions(&[
        "link",
        "enlace",
        "vinculo",
        "anexo",
        "adjunto",
        "attachment",
        "remetente",
        "remitente",
        "sender",
    ]);
    outside && organisation && advice
}

/// Lower case without accents, for matching words people type both ways ("Atenção" /
/// "atencao"); the subjects of auto-replies are read the same way.
pub(crate) fn folded(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::is_combining_mark;
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Index of the first span of the reply once the embedded headers at the top of the body
/// are skipped: an attribution with the quote under it, or a forward mark with the header
/// block under it. What is forwarded or answered below stays.
fn skip_leading_embedded(lines: &[&str], spans: &[Span]) -> usize {
    let after_blanks = |from: usize| next_non_blank(spans, from).unwrap_or(spans.len());
    let mut index = after_blanks(0);
    loop {
        let Some(span) = spans.get(index) else {
            return index;
        };
        let introduced = match span.kind {
            // A quoted header block introduces the quoted mail under it.
            Kind::Attribution | Kind::HeaderFields => Kind::Quote,
            Kind::ForwardMark => Kind::HeaderFields,
            // A bottom post: the whole message answered, quoted from its attribution on
            // ("> On … wrote:"), and the answer under it. Answers between several quotes
            // keep them (see below).
            Kind::Quote
                if opens_with_quoted_attribution(lines, span.start)
                    && !interleaved(spans, quote_block_end(spans, index) + 1) =>
            {
                index = after_blanks(quote_block_end(spans, index) + 1);
                continue;
            }
            // Outlook's line of underscores over the header block of a bare forward, and
            // an app's sign-off with nothing written above it ("Obter o Outlook para
            // Android" over a forward sent on without a word).
            Kind::Delimiter | Kind::Signature
                if lines[span.start].trim() != "--"
                    && next_non_blank(spans, index + 1).is_some_and(|next| {
                        matches!(spans[next].kind, Kind::HeaderFields | Kind::ForwardMark)
                            || (span.kind == Kind::Signature && spans[next].kind == Kind::Delimiter)
                    }) =>
            {
                index = after_blanks(index + 1);
                continue;
            }
            _ => return index,
        };
        let mut after = index + 1;
        if let Some(next) = next_non_blank(spans, after)
            && spans[next].kind == introduced
        {
            // Answers between several quotes from the top: the first quote is one of the
            // questions answered, and stays.
            if introduced == Kind::Quote && interleaved(spans, quote_block_end(spans, next) + 1) {
                return next;
            }
            after = if introduced == Kind::Quote {
                quote_block_end(spans, next) + 1
            } else {
                next + 1
            };
        }
        index = after_blanks(after);
    }
}

/// A quote line's text without its mark (`> `, or supercite's `JD> `).
fn unquote(line: &str) -> &str {
    line.trim_start()
        .trim_start_matches(|c: char| c.is_ascii_uppercase())
        .trim_start_matches('>')
        .trim_start()
}

/// Whether the quote starting at line `start` opens with the attribution of the message it
/// quotes ("> Em 15 de jun. de 2026, às 11:20, Ana <a@b.c> escreveu:", wrapped or not).
fn opens_with_quoted_attribution(lines: &[&str], start: usize) -> bool {
    let unquoted: Vec<&str> = lines[start..]
        .iter()
        .take(MAX_ATTRIBUTION_LINES)
        .take_while(|line| is_quote(line))
        .map(|line| unquote(line))
        .collect();
    !unquoted.is_empty()
        && (attribution_at(&unquoted, 0).is_some() || is_numeric_date_header(unquoted[0]))
}

/// Whether all that follows the quote ending before span `from` is the sender's sign-off: a
/// closing of a few words ending in a comma ("Cumprimentos,", "Gracias,", "Best
/// regards,") and a few short lines under it, with no quote after them. A quote above a
/// sign-off is the quoted mail's own closing, which nobody answers.
fn only_sign_off_after(lines: &[&str], spans: &[Span], from: usize) -> bool {
    let Some(first) = next_non_blank(spans, from) else {
        return false;
    };
    if spans[first].kind != Kind::Text || !is_closing(lines[spans[first].start].trim()) {
        return false;
    }
    let mut text_lines = 0;
    for span in &spans[first..] {
        match span.kind {
            Kind::Blank => {}
            Kind::Text => {
                text_lines += span.end - span.start;
                let long =
                    lines[span.start].trim().chars().count() > MAX_SIGNATURE_BLOCK_LINE_CHARS;
                if long || text_lines > MAX_SIGNATURE_BLOCK_LINES {
                    return false;
                }
            }
            Kind::Quote | Kind::Attribution => return false,
            _ => break,
        }
    }
    true
}

/// Whether a quote block (its spans) is only the quoted mail's sign-off: a closing ("> Un
/// saludo,") and a few short lines under it (the name, the company). Nobody answers a
/// sign-off, so the sender's text under it is not an answer to it.
fn quotes_a_sign_off(lines: &[&str], block: &[Span]) -> bool {
    let quoted: Vec<&str> = block
        .iter()
        .flat_map(|span| &lines[span.start..span.end])
        .map(|line| unquote(line).trim_end())
        .filter(|text| !text.is_empty())
        .collect();
    let Some(first) = quoted.first() else {
        return false;
    };
    // Under the closing, names: a person, a role, a company; no question or sentence.
    let names = |text: &&str| {
        text.split_whitespace().count() <= MAX_NAME_WORDS && !text.ends_with(['?', ':', '.'])
    };
    is_closing(first)
        && quoted.len() <= MAX_SIGNATURE_BLOCK_LINES / 2
        && quoted[1..].iter().all(names)
}

/// "Ejecutivo Comercial - Copiperú S.A.C." is five words.
const MAX_NAME_WORDS: usize = 5;

/// A closing: a few words ending in a comma ("Un saludo,", "Best regards,"), not an
/// answer's first word ("Sim,").
fn is_closing(text: &str) -> bool {
    let lower = text.trim_end_matches(',').to_lowercase();
    let answers = ANSWER_WORDS.contains(&lower.as_str());
    let greets = GREETINGS.iter().any(|greeting| {
        lower
            .strip_prefix(greeting)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
    });
    text.ends_with(',')
        && text.split_whitespace().count() <= MAX_CLOSING_WORDS
        && !answers
        && !greets
}

/// How a mail opens, lowercase: "Hi Gareth," ends in a comma as a closing does.
const GREETINGS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "dear",
    "good morning",
    "good afternoon",
    "good evening",
    "olá",
    "ola",
    "oi",
    "prezado",
    "prezada",
    "prezados",
    "caro",
    "cara",
    "bom dia",
    "boa tarde",
    "boa noite",
    "hola",
    "estimado",
    "estimada",
    "estimados",
    "querido",
    "querida",
    "buenos días",
    "buenos dias",
    "buenas tardes",
    "buenas noches",
    "bonjour",
    "hallo",
    "ciao",
    "buongiorno",
    "sr",
    "sr.",
    "sra",
    "sra.",
    "señor",
    "señora",
    "senhor",
    "senhora",
];

/// "Con los mejores saludos," is four words.
const MAX_CLOSING_WORDS: usize = 4;
/// An answer's first word, which a comma may follow as a closing's does ("Sim, às 14h").
const ANSWER_WORDS: &[&str] = &[
    "sim", "não", "nao", "si", "sí", "no", "yes", "ok", "okay", "claro", "oui", "non", "ja",
    "nein", "certo", "vale", "dale", "bueno", "bom", "ótimo", "otimo", "perfeito", "perfecto",
];

/// Whether the sender's text at `from` is followed, further on, by another quote that is
/// answered too: answers written between quotes.
fn interleaved(spans: &[Span], from: usize) -> bool {
    let Some(text) = next_non_blank(spans, from) else {
        return false;
    };
    if spans[text].kind != Kind::Text {
        return false;
    }
    let next_quote = (text..spans.len())
        .take_while(|&i| matches!(spans[i].kind, Kind::Text | Kind::Blank | Kind::Quote))
        .find(|&i| spans[i].kind == Kind::Quote);
    next_quote.is_some_and(|q| answered_quote_after(spans, q).is_some())
}

/// The quote starting at the first non-blank span from `from`, if the sender's own text
/// follows it: that quote is being answered inline and belongs to the reply.
fn answered_quote_after(spans: &[Span], from: usize) -> Option<usize> {
    let quote = next_non_blank(spans, from)?;
    if spans[quote].kind != Kind::Quote {
        return None;
    }
    let after = next_non_blank(spans, quote_block_end(spans, quote) + 1)?;
    (spans[after].kind == Kind::Text).then_some(quote)
}

/// Last quote span of the block starting at `quote`; blank lines inside a block don't end it.
fn quote_block_end(spans: &[Span], quote: usize) -> usize {
    let mut last = quote;
    while let Some(next) = next_non_blank(spans, last + 1) {
        if spans[next].kind != Kind::Quote {
            break;
        }
        last = next;
    }
    last
}

fn next_non_blank(spans: &[Span], from: usize) -> Option<usize> {
    (from..spans.len()).find(|&index| spans[index].kind != Kind::Blank)
}

/// Joins lines with `\n`, without the empty lines at either end. A line of invisible
/// characters is kept: it is not whitespace, so dropping it would lose a "word" of the body.
fn join_trimmed(lines: &[&str]) -> String {
    let first = lines.iter().position(|line| !line.trim().is_empty());
    let last = lines.iter().rposition(|line| !line.trim().is_empty());
    match (first, last) {
        (Some(first), Some(last)) => lines[first..=last].join("\n").trim_end().to_string(),
        _ => String::new(),
    }
}

/// Whether a line holds any message, once quote marks are set aside: "… wrote:" lines and
/// delimiters say who wrote what, not what was said.
fn carries_message(line: &str) -> bool {
    let text = line.trim_start_matches(|c: char| c == '>' || c.is_whitespace());
    let says_who_wrote = (opens_attribution(text) && is_attribution(text))
        || is_numeric_date_header(text)
        || is_framed_attribution(text);
    !(is_blank(text) || is_delimiter(text) || says_who_wrote)
}

/// Nothing visible: spaces (non-breaking ones included, which `char::is_whitespace` counts)
/// and the zero-width characters that HTML mail leaves behind when it becomes text.
fn is_blank(line: &str) -> bool {
    line.chars().all(|c| c.is_whitespace() || is_invisible(c))
}

/// Zero-width spaces and joiners, the word joiner, the byte-order mark and the soft hyphen:
/// characters that take no room on screen. Editors put them around images and
/// signatures; `split_whitespace` still counts them as words.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}'
    )
}

// ---------------------------------------------------------------------------------------
// Attributions: "On … wrote:" and friends.
// ---------------------------------------------------------------------------------------

/// Clients wrap a long attribution; the longest seen in the wild spans five lines (an HTML
/// `mailto:` link broken around a blank line).
const MAX_ATTRIBUTION_LINES: usize = 6;
/// An attribution is one sentence; a longer run of lines is a paragraph that happens to
/// end with "wrote:".
const MAX_ATTRIBUTION_CHARS: usize = 400;

/// The verb of an attribution, lowercase, in the languages clients write them in.
const WROTE: &[&str] = &[
    "wrote",
    "writes",
    "schrieb",
    "escreveu",
    "escribió",
    "escribio",
    "escribiu",
    "idatzi zuen",
    "écrit",
    "ecrit",
    "scritto",
    "scrisse",
    "schreef",
    "geschreven",
    "skrev",
    "napisał",
    "napisal",
    "pisze",
    "написал",
    "написав",
    "пише",
    "写道",
    "寫道",
    "kirjoitti",
    "írta",
    "napsal",
    "napísal",
    "napisao",
    "napisala",
    "написа",
    "написао",
    "yazdı",
    "a scris",
    "va escriure",
    "έγραψε",
    "viết",
    "menulis",
    "rašė",
    "rakstīja",
    "kirjutas",
    "작성",
    "のメッセージ",
    "のメール",
    "書きました",
];

/// Words an attribution starts with ("On 3 Mar…", "Am 03.02.2016…", "Le 4 janv.…"),
/// compared case-sensitively since they open the line.
const ATTRIBUTION_LEADS: &[&str] = &[
    "On",
    "At",
    "Am",
    "Le",
    "El",
    "Em",
    "Op",
    "Il",
    "Den",
    "Dnia",
    "På",
    "W dniu",
    "Dne",
    "Quoting",
    "Citando",
    "Zitat von",
    "Pada",
    "Vào",
    "No dia",
    "在",
    "於",
];

/// Weekdays an attribution may start with ("понедельник, 6 октября 2014 г. …"), lowercase.
const WEEKDAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "montag",
    "dienstag",
    "mittwoch",
    "donnerstag",
    "freitag",
    "samstag",
    "sonntag",
    "lundi",
    "mardi",
    "mercredi",
    "jeudi",
    "vendredi",
    "samedi",
    "dimanche",
    "lunes",
    "martes",
    "miércoles",
    "jueves",
    "viernes",
    "sábado",
    "domingo",
    "segunda-feira",
    "terça-feira",
    "quarta-feira",
    "quinta-feira",
    "sexta-feira",
    "понедельник",
    "вторник",
    "среда",
    "четверг",
    "пятница",
    "суббота",
    "воскресенье",
    "понеділок",
    "вівторок",
    "середа",
    "четвер",
    "пʼятниця",
    "п'ятниця",
    "субота",
    "неділя",
];

/// The end (exclusive) of the attribution starting at line `start`, if one does.
fn attribution_at(lines: &[&str], start: usize) -> Option<usize> {
    let first = lines[start];
    if is_blank(first) || is_quote(first) {
        return None;
    }
    if is_framed_attribution(first) || introduces_last_quote(lines, start) {
        return Some(start + 1);
    }
    let end = if is_numeric_date_header(first) {
        numeric_date_header_end(lines, start)
    } else if opens_attribution(first) {
        attribution_end(lines, start)?
    } else {
        return None;
    };
    // "I bought 3 apples.\nOn 3 Mar 2026, Ana wrote:" starts at the second line; but
    // "Em qua., 26 de mar. de\n2025 às 15:47, Tiago <t@x.com>\nescreveu:" is one attribution
    // wrapped inside its date.
    let starts_later = !wrapped_inside_date(first)
        && (start + 1..end).any(|later| {
            opens_attribution_itself(lines[later]) && attribution_end(lines, later) == Some(end)
        });
    // "On 2 March your technician wrote:" with the words right under it, and no address
    // or time in it, is the sender telling a story, not a client's attribution.
    let joined = lines[start..end].join(" ");
    let told = !has_email_address(&joined)
        && !has_time(&joined)
        && lines
            .get(end)
            .is_some_and(|next| !is_blank(next) && !is_quote(next) && field_of(next).is_none());
    (!starts_later && !told).then_some(end)
}

/// Whether a line is the start of an attribution that its client wrapped inside the date
/// ("Am 14.03.2025 um", "Em qua., 26 de mar. de", "On Tue, Mar 3, 2026 at"): it opens with
/// a lead word or a weekday, has a number in it, and ends on a short word no sentence ends
/// with, or on a comma.
fn wrapped_inside_date(line: &str) -> bool {
    let text = strip_decoration(line).trim_end();
    let last = text.rsplit(char::is_whitespace).next().unwrap_or_default();
    !text.starts_with(|c: char| c.is_ascii_digit())
        && opens_attribution_itself(text)
        && text.contains(|c: char| c.is_ascii_digit())
        && (text.ends_with(',')
            || (last.chars().count() <= 3 && last.chars().all(char::is_lowercase)))
}

/// Zoho Mail frames its attribution in dashes and may leave the date out ("---- Suporte
/// CopyTec escreveu ----"): the frame around "… wrote" is mark enough.
fn is_framed_attribution(line: &str) -> bool {
    let Some(inner) = line
        .trim()
        .strip_prefix("--")
        .and_then(|text| text.strip_suffix("--"))
    else {
        return false;
    };
    let inner = inner
        .trim_matches(|c: char| c == '-' || c.is_whitespace())
        .to_lowercase();
    inner.split_whitespace().count() >= 2 && WROTE.iter().any(|verb| inner.ends_with(verb))
}

/// GroupWise heads the mail it answers with one line framed in `>>>`, the history below it
/// unquoted: ">>> Brian Walsh <bwalsh@x.com> 3/12/2024 9:41 AM >>>".
fn is_framed_header(line: &str) -> bool {
    line.trim()
        .strip_prefix(">>>")
        .and_then(|text| text.strip_suffix(">>>"))
        .is_some_and(|inner| {
            let inner = inner.trim();
            !inner.starts_with('>')
                && (has_email_address(inner) || (has_time(inner) && has_year(inner)))
        })
}

/// The attribution of clients that write no date ("Tom Becker wrote:", "Pablo Ríos
/// escribió:", SquirrelMail's and some webmails'): a short line ending in the verb and a
/// colon, right over a quote that runs to the end of the body. (So "Here is what Bob
/// wrote:" stays in the reply when the sender writes on under the quote.)
fn introduces_last_quote(lines: &[&str], start: usize) -> bool {
    let text = lines[start].trim();
    let Some(head) = text.strip_suffix(':').or_else(|| text.strip_suffix('：')) else {
        return false;
    };
    let lower = head.trim_end().to_lowercase();
    let Some(name) = WROTE.iter().find_map(|verb| lower.strip_suffix(verb)) else {
        return false;
    };
    let words = name.split_whitespace().count();
    (1..=MAX_NAME_WORDS).contains(&words)
        && lines.get(start + 1).is_some_and(|next| is_quote(next))
        && lines[start + 1..]
            .iter()
            .all(|line| is_blank(line) || is_quote(line))
}

/// Where the attribution whose first line is `start` ends: the first line that completes
/// "… wrote:" with a date or an address in it. Continuation lines may not be quotes,
/// except a lone `>` closing a wrapped `<address`, and may not be blank, except before a
/// line opening `<address`.
fn attribution_end(lines: &[&str], start: usize) -> Option<usize> {
    let mut joined = String::new();
    let last = lines.len().min(start + MAX_ATTRIBUTION_LINES);
    for index in start..last {
        let line = lines[index];
        if index > start {
            if is_blank(line) {
                let next = lines[index + 1..].iter().find(|line| !is_blank(line));
                if next.is_some_and(|next| next.trim_start().starts_with('<')) {
                    continue;
                }
                return None;
            }
            if is_quote(line) && !has_open_angle(&joined) {
                return None;
            }
            joined.push(' ');
        }
        joined.push_str(line.trim());
        if has_collapsed_attribution(&joined) {
            return Some(index + 1);
        }
        if joined.len() > MAX_ATTRIBUTION_CHARS {
            return None;
        }
        if is_attribution(&joined) {
            return Some(index + 1);
        }
    }
    None
}

/// Yahoo's plain text part sets the quoted message on its attribution's own line, after a
/// few spaces ("… Ana <ana@x.com> wrote:   Hi Ana, …"): whether the text up to such a
/// colon reads as an attribution. The whole line is then history.
fn has_collapsed_attribution(text: &str) -> bool {
    text.match_indices([':', '：']).any(|(at, colon)| {
        let head = &text[..at + colon.len()];
        let tail = &text[at + colon.len()..];
        let gap = tail.chars().take_while(|c| c.is_whitespace()).count();
        gap >= 2 && !is_blank(tail) && head.len() <= MAX_ATTRIBUTION_CHARS && is_attribution(head)
    })
}

/// Whether a line can open an attribution: a lead word, a weekday or a digit first
/// (`opens_attribution_itself`), or a "Name <address>" in it ("Some One <a@b.c> wrote:").
fn opens_attribution(line: &str) -> bool {
    opens_attribution_itself(line) || has_email_address(line)
}

/// Whether a line opens an attribution by the way it starts.
fn opens_attribution_itself(line: &str) -> bool {
    let text = strip_decoration(line);
    if text.starts_with(|c: char| c.is_ascii_digit()) {
        return true;
    }
    let led = ATTRIBUTION_LEADS.iter().any(|lead| {
        text.strip_prefix(lead).is_some_and(|after| {
            !lead.is_ascii() || after.starts_with(|c: char| c.is_whitespace() || c == ',')
        })
    });
    // Portugal's "A 15/06/2026, às 10:20, Ana escreveu:" and "A sex., 15/06/2026 …":
    // "A" opens too many sentences to lead on its own.
    let portugal = text.strip_prefix("A ").is_some_and(|after| {
        after.starts_with(|c: char| c.is_ascii_digit())
            || ["seg", "ter", "qua", "qui", "sex", "sáb", "sab", "dom"]
                .iter()
                .any(|day| after.starts_with(day))
    });
    // Galicia's "O xov., 12 de mar. de 2026 ás 10:12, Iria escribiu:": "O" opens even more
    // sentences, so its weekday must be cut short.
    let galicia = text.strip_prefix("O ").is_some_and(|after| {
        after.starts_with(|c: char| c.is_ascii_digit())
            || ["luns", "mar", "mér", "xov", "ven", "sáb", "dom"]
                .iter()
                .any(|day| {
                    after
                        .strip_prefix(day)
                        .is_some_and(|rest| rest.starts_with(['.', ',']))
                })
    });
    led || portugal || galicia || {
        let lower = text.to_lowercase();
        WEEKDAYS.iter().any(|day| {
            lower
                .strip_prefix(day)
                .is_some_and(|after| !after.starts_with(char::is_alphabetic))
        })
    }
}

/// Whether text (an attribution's lines joined) reads "… wrote:": it ends with a colon (or
/// with "wrote ----"), says "wrote" in some language (or ends "<address>:"), and names a
/// date, time or address.
/// The last condition keeps "Here is what Bob wrote:" in the reply.
fn is_attribution(text: &str) -> bool {
    let trimmed = text.trim();
    let dashed = trimmed.ends_with('-');
    let core = trimmed
        .trim_end_matches(|c: char| c == '-' || c.is_whitespace())
        .trim_start_matches(|c: char| c == '-' || c == '*' || c.is_whitespace());
    let lower = core.to_lowercase();
    let ends_like_one = core.ends_with(':')
        || core.ends_with('：')
        || (dashed && WROTE.iter().any(|verb| lower.ends_with(verb)));
    // Gmail in some languages names no verb: "вт, 3 мар. 2026 г. в 10:02, Ana <a@b.c>:".
    // Mutt names none either: "* Ana <a@b.c> [2026-06-15 10:20]:".
    let says_wrote = WROTE.iter().any(|verb| lower.contains(verb))
        || (core.ends_with(">:") && has_email_address(core) && names_before_address(core))
        || (core.ends_with("]:") && has_email_address(core))
        || names_its_sender_last(core);
    ends_like_one && says_wrote && (has_email_address(core) || has_time(core) || has_year(core))
}

/// Whether something (a name, a date) comes before the `<address>` a text ends on: a
/// bounce's "<compras@x.com.ar>:" alone names the failed address, not who wrote.
fn names_before_address(core: &str) -> bool {
    core.rfind('<')
        .is_some_and(|at| core[..at].chars().any(char::is_alphanumeric))
}

/// Tuta names no verb either, and ends on the bare address: "Mar 12, 2026, 10:12 by
/// billing@x.co:" ("… von …:" in German). Only with a year and a time before it.
fn names_its_sender_last(core: &str) -> bool {
    let Some(head) = core.strip_suffix(':') else {
        return false;
    };
    let mut words = head.rsplit(char::is_whitespace);
    let address = words.next().unwrap_or_default();
    let bare = address
        .split_once('@')
        .is_some_and(|(user, host)| !user.is_empty() && host.contains('.'))
        && !address.contains(['<', '>', '(', ')']);
    bare && words.next().is_some() && has_year(head) && has_time(head)
}

/// Gmail's attribution in some locales has no verb: "2016-03-03 17:21 GMT+01:00 Some One"
/// or "2013/7/20 sam <info@example.org>". The zone or address tells it from a log line.
fn is_numeric_date_header(line: &str) -> bool {
    let text = line.trim();
    starts_with_numeric_date(text)
        && text.chars().count() <= MAX_ATTRIBUTION_CHARS / 2
        && (text.contains("GMT+") || text.contains("GMT-") || has_email_address(text))
}

/// A numeric-date attribution ends with its line, or with the line closing its `<address`.
fn numeric_date_header_end(lines: &[&str], start: usize) -> usize {
    let mut joined = lines[start].to_string();
    let mut end = start + 1;
    while has_open_angle(&joined)
        && end < lines.len()
        && end - start < MAX_ATTRIBUTION_LINES
        && !is_blank(lines[end])
    {
        joined.push_str(lines[end]);
        end += 1;
    }
    end
}

/// `YYYY-MM-DD ` or `YYYY/M/D ` at the start.
fn starts_with_numeric_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits_from = |from: usize| {
        bytes[from.min(bytes.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    if digits_from(0) != 4 {
        return false;
    }
    let Some(&separator) = bytes.get(4) else {
        return false;
    };
    if separator != b'-' && separator != b'/' {
        return false;
    }
    let month = digits_from(5);
    if !(1..=2).contains(&month) || bytes.get(5 + month) != Some(&separator) {
        return false;
    }
    let day_at = 6 + month;
    let day = digits_from(day_at);
    (1..=2).contains(&day) && bytes.get(day_at + day) == Some(&b' ')
}

/// More `<` than `>`: a wrapped `<address` still to be closed.
fn has_open_angle(text: &str) -> bool {
    text.matches('<').count() > text.matches('>').count()
}

/// `local@domain`, however it is bracketed or escaped.
fn has_email_address(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    chars.iter().enumerate().any(|(index, &c)| {
        c == '@'
            && index > 0
            && (chars[index - 1].is_alphanumeric() || "._%+-".contains(chars[index - 1]))
            && chars
                .get(index + 1)
                .is_some_and(|next| next.is_alphanumeric())
    })
}

/// A clock time: `10:02`, `8:45`, `13.16`.
fn has_time(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let digit = |index: usize| chars.get(index).is_some_and(|c| c.is_ascii_digit());
    (0..chars.len()).any(|start| {
        if !digit(start) || (start > 0 && digit(start - 1)) {
            return false;
        }
        let hour = if digit(start + 1) { 2 } else { 1 };
        let separator = start + hour;
        matches!(chars.get(separator), Some(':' | '.'))
            && digit(separator + 1)
            && digit(separator + 2)
            && !digit(separator + 3)
    })
}

/// A year from 1900 to 2099 standing on its own.
fn has_year(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let digit = |index: usize| chars.get(index).is_some_and(|c| c.is_ascii_digit());
    (0..chars.len()).any(|start| {
        (start == 0 || !digit(start - 1))
            && (0..4).all(|offset| digit(start + offset))
            && !digit(start + 4)
            && matches!((chars[start], chars[start + 1]), ('1', '9') | ('2', '0'))
    })
}

/// The line without the dashes, stars and spaces clients put around marks.
fn strip_decoration(line: &str) -> &str {
    line.trim_matches(|c: char| c.is_whitespace() || "-*_=~".contains(c))
}

// ---------------------------------------------------------------------------------------
// Quotes, forward marks, header blocks, signatures and delimiters.
// ---------------------------------------------------------------------------------------

/// `>` after at most three spaces (four make an indented code line), or supercite's
/// initials (`C>`, `JD>`).
fn is_quote(line: &str) -> bool {
    let text = line.trim_start_matches(' ');
    if line.len() - text.len() > 3 {
        return false;
    }
    let initials = text.chars().take_while(char::is_ascii_uppercase).count();
    initials <= 3 && text[initials..].starts_with('>')
}

/// The lines that announce an embedded email, lowercase, without their dashes or colon.
const FORWARD_MARKS: &[&str] = &[
    "original message",
    // Yahoo's bounce, over the message it returns.
    "below this line is a copy of the message",
    "forwarded message",
    "begin forwarded message",
    "forwarded message follows",
    "ursprüngliche nachricht",
    "weitergeleitete nachricht",
    "mensaje original",
    "mensaje reenviado",
    "mensagem original",
    "mensagem encaminhada",
    "início da mensagem encaminhada",
    "inicio da mensagem encaminhada",
    "inicio del mensaje reenviado",
    "comienzo del mensaje reenviado",
    "message d'origine",
    "message original",
    "message transféré",
    "mail original",
    "début du message réexpédié",
    "anfang der weitergeleiteten nachricht",
    "anfang der weitergeleiteten e-mail",
    "begin doorgestuurd bericht",
    "messaggio originale",
    "messaggio inoltrato",
    "inizio messaggio inoltrato",
    "původní zpráva",
    "přeposlaná zpráva",
    "eredeti üzenet",
    "továbbított üzenet",
    "alkuperäinen viesti",
    "välitetty viesti",
    "orijinal mesaj",
    "iletilen ileti",
    "αρχικό μήνυμα",
    "προωθημένο μήνυμα",
    "oorspronkelijk bericht",
    "origineel bericht",
    "doorgestuurd bericht",
    "opprinnelig melding",
    "videresendt melding",
    "oprindelig meddelelse",
    "videresendt meddelelse",
    "ursprungligt meddelande",
    "vidarebefordrat meddelande",
    "wiadomość oryginalna",
    "oryginalna wiadomość",
    "wiadomość przekazana",
    "przekazana wiadomość",
    "исходное сообщение",
    "пересылаемое сообщение",
    "пересланное сообщение",
    "оригінальне повідомлення",
    "пересланий лист",
    "原始邮件",
    "原始郵件",
    "转发的邮件",
    "轉寄的郵件",
];

fn is_forward_mark(line: &str) -> bool {
    let core = strip_decoration(line)
        .trim_end_matches([':', '：', '.'])
        .trim()
        .to_lowercase();
    FORWARD_MARKS.contains(&core.as_str())
}

/// Word stems of "forwarded" and "original" in the languages clients announce an embedded
/// email in, lowercase.
const FORWARD_STEMS: &[&str] = &[
    "forward",
    "fwd",
    "original",
    "origine",
    "weitergeleitet",
    "ursprüngliche",
    "encaminhad",
    "reenviad",
    "transféré",
    "réexpédié",
    "inoltrat",
    "doorgestuurd",
    "oorspronkelijk",
    "vidarebefordra",
    "videresend",
    "przekazan",
    "oryginaln",
    "пересыла",
    "переслан",
    "исходн",
    "转发",
    "轉寄",
    "転送",
    "原始",
];

/// A mark announcing an embedded email that is in no list, known by its shape: a line of a
/// few words framed by dashes ("---------- Przekazana wiadomość ---------"), or ending in a
/// colon and saying "forwarded" or "original" in some language ("Anfang der
/// weitergeleiteten E-Mail:"), right over an embedded header block (blank lines between
/// allowed). The header block is what makes it safe: a sentence of the sender's that reads
/// like one is not followed by "From: … / Subject: …".
fn announces_embedded(lines: &[&str], index: usize) -> bool {
    let text = lines[index].trim();
    let core = strip_decoration(text).trim_end_matches([':', '：']).trim();
    let words = core.split_whitespace().count();
    if words == 0 || words > MAX_FORWARD_MARK_WORDS {
        return false;
    }
    let framed = ["--", "==", "__", "**"]
        .iter()
        .any(|frame| text.starts_with(frame) && text.ends_with(frame));
    let says_so = text.ends_with([':', '：']) && {
        let lower = core.to_lowercase();
        FORWARD_STEMS.iter().any(|stem| lower.contains(stem))
    };
    if !(framed || says_so) {
        return false;
    }
    let next = (index + 1..lines.len().min(index + 4)).find(|&i| !is_blank(lines[i]));
    next.is_some_and(|next| header_fields_at(lines, next).is_some())
}

/// "Début du message réexpédié" is four words; a sentence is longer.
const MAX_FORWARD_MARK_WORDS: usize = 6;

/// A help desk's line over the thread it sends ("##- Please type your reply above this line
/// -##", "Responda acima desta linha"): everything under it is the desk's, like a forward.
fn asks_to_reply_above(line: &str) -> bool {
    // Every phrase below names the line; most lines name none, and are not lowercased.
    let names_a_line = [
        "ine", "INE", "inha", "INHA", "ínea", "ÍNEA", "igne", "IGNE", "eile", "EILE", "iga", "IGA",
        "egel", "EGEL", "ijn", "IJN",
    ]
    .iter()
    .any(|hint| line.contains(hint));
    if !names_a_line || line.len() > 2 * MAX_REPLY_ABOVE_CHARS {
        return false;
    }
    let lower = line.to_lowercase();
    lower.chars().count() <= MAX_REPLY_ABOVE_CHARS
        && REPLY_ABOVE.iter().any(|words| lower.contains(words))
}

/// A help desk's marker is one short line.
const MAX_REPLY_ABOVE_CHARS: usize = 120;

/// "Above this line", in the help desks' languages, lowercase.
const REPLY_ABOVE: &[&str] = &[
    "above this line",
    "acima desta linha",
    "acima dessa linha",
    "acima da linha",
    "encima de esta línea",
    "encima de esta linea",
    "arriba de esta línea",
    "arriba de esta linea",
    "au-dessus de cette ligne",
    "oberhalb dieser zeile",
    "über dieser zeile",
    "sopra questa riga",
    "sopra questa linea",
    "boven deze regel",
    "boven deze lijn",
];

/// A field of an embedded email's header block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    From,
    Sent,
    To,
    Copy,
    Subject,
    ReplyTo,
}

/// Field names, lowercase, in the languages clients write header blocks in.
const FIELD_NAMES: &[(Field, &[&str])] = &[
    (
        Field::From,
        &[
            "from",
            "de",
            "von",
            "van",
            "da",
            "od",
            "от",
            "від",
            "från",
            "fra",
            "frá",
            "nork",
            "lähettäjä",
            "feladó",
            "kimden",
            "expéditeur",
            "发件人",
            "寄件者",
            "發件人",
            "差出人",
            "보낸 사람",
        ],
    ),
    (
        Field::Sent,
        &[
            "sent",
            "date",
            "fecha",
            "enviado el",
            "enviat el",
            "enviat",
            "noiz",
            "bidalia",
            "enviada em",
            "enviado em",
            "gesendet",
            "datum",
            "enviado",
            "enviada",
            "envoyé",
            "verzonden",
            "inviato",
            "data",
            "wysłano",
            "wysłane",
            "отправлено",
            "дата",
            "надіслано",
            "skickat",
            "sendt",
            "dato",
            "lähetetty",
            "päivämäärä",
            "elküldve",
            "tarih",
            "gönderildi",
            "gönderilme tarihi",
            "发送时间",
            "日期",
            "時間",
            "傳送時間",
            "送信日時",
            "日付",
            "보낸 날짜",
            "날짜",
        ],
    ),
    (
        Field::To,
        &[
            "to",
            "an",
            "para",
            "à",
            "a",
            "aan",
            "per a",
            "nori",
            "do",
            "кому",
            "till",
            "til",
            "vastaanottaja",
            "címzett",
            "kime",
            "komu",
            "收件人",
            "收件者",
            "宛先",
            "받는 사람",
        ],
    ),
    (
        Field::Copy,
        &[
            "cc",
            "kopie",
            "копия",
            "копія",
            "kopia",
            "kopio",
            "másolat",
            "抄送",
            "副本",
        ],
    ),
    (
        Field::Subject,
        &[
            "subject",
            "betreff",
            "asunto",
            "assunto",
            "assumpte",
            "gaia",
            "objet",
            "onderwerp",
            "oggetto",
            "temat",
            "тема",
            "ämne",
            "emne",
            "aihe",
            "tárgy",
            "předmět",
            "konu",
            "主题",
            "主旨",
            "件名",
            "제목",
        ],
    ),
    (
        Field::ReplyTo,
        &[
            "reply-to",
            "antwort an",
            "risposta",
            "responder a",
            "répondre à",
            "svara till",
            "odpowiedź do",
        ],
    ),
];

/// The field a header line names: `From: …`, `*From:* …` (Outlook's HTML as text),
/// `Von: …`, `发件人：…`. A colon not followed by a space (`http://`) names none.
fn field_of(line: &str) -> Option<Field> {
    let text = line.trim_start().trim_start_matches('*');
    let colon = text.find([':', '：'])?;
    let name = text[..colon].trim_end_matches('*').trim();
    if name.is_empty() || name.chars().count() > 20 {
        return None;
    }
    let full_width = text[colon..].starts_with('：');
    let value = text[colon..]
        .trim_start_matches([':', '：'])
        .trim_start_matches('*');
    if !full_width && !value.is_empty() && !value.starts_with(char::is_whitespace) {
        return None;
    }
    let name = name.to_lowercase();
    FIELD_NAMES
        .iter()
        .find(|(_, names)| names.contains(&name.as_str()))
        .map(|(field, _)| *field)
}

/// The end (exclusive) of the header block starting at line `start`: consecutive field
/// lines (a value may wrap onto one more line) naming the sender, the subject and when it
/// was sent, as every client's embedded header does. Asking for a subject keeps "From:
/// Lisbon / To: Porto / Date: …" in the reply, and asking for a date a letter's "De: … /
/// Para: … / Assunto: …" that the sender pasted into their text.
fn header_fields_at(lines: &[&str], start: usize) -> Option<usize> {
    field_of(lines[start])?;
    let mut fields = Vec::new();
    let mut end = start;
    let mut index = start;
    let mut wrapped = false;
    while let Some(line) = lines.get(index) {
        if let Some(field) = field_of(line).or_else(|| dated_field(line)) {
            if !fields.contains(&field) {
                fields.push(field);
            }
            wrapped = false;
            end = index + 1;
        } else if is_blank(line) || wrapped {
            break;
        } else {
            wrapped = true;
        }
        index += 1;
    }
    let names_a_message = [Field::From, Field::Subject, Field::Sent]
        .iter()
        .all(|field| fields.contains(field));
    names_a_message.then_some(end)
}

/// A header line whose name is in no list but whose value is a date with its time
/// ("Gönderildi: 10 Haziran 2026 Çarşamba 15:20"): the block's date, in a language the
/// lists miss.
fn dated_field(line: &str) -> Option<Field> {
    let (name, value) = line.trim().split_once([':', '：'])?;
    let name = name.trim_matches('*').trim();
    let one_name = !name.is_empty()
        && name.chars().count() <= 20
        && name.split_whitespace().count() <= 3
        && name
            .chars()
            .all(|c| c.is_alphabetic() || c.is_whitespace() || c == '-');
    let value = value.trim_start_matches(['*', ':']);
    (one_name && value.starts_with(char::is_whitespace) && has_year(value) && has_time(value))
        .then_some(Field::Sent)
}

/// How mail apps sign off for their users, lowercase. Each opens a line of its own.
const SIGNATURE_OPENERS: &[&str] = &[
    "sent from my ",
    "sent from mobile",
    "sent from outlook",
    "sent from yahoo",
    "sent from mailbox",
    "sent from windows mail",
    "sent from mail for windows",
    "sent from [mail]",
    "sent from gmail",
    "sent from samsung",
    "sent from iphone",
    "sent from ipad",
    "sent from android",
    "sent from a phone",
    "sent via ",
    "sent with ",
    "sent using ",
    "get outlook for ",
    "obter o outlook para ",
    "obtenha o outlook para ",
    "baixe o outlook para ",
    "obtener outlook para ",
    "descargar outlook para ",
    "enviado do yahoo",
    "enviado desde yahoo",
    "enviado do email para ",
    "enviado do e-mail para ",
    "enviado desde correo para ",
    "envoyé de mon ",
    "envoyé depuis mon ",
    "envoyé à partir de ",
    "diese nachricht wurde von meinem ",
    "gesendet von meinem ",
    "enviado desde mi ",
    "enviado desde ",
    "enviado do meu ",
    "enviado de meu ",
    "enviado de mi ",
    "inviato da ",
    "inviato dal mio ",
    "verzonden met ",
    "verstuurd vanaf ",
    "verstuurd met ",
    "verzonden vanaf ",
    "verzonden van mijn ",
    "sendt fra min ",
    "sendt fra ",
    "skickat från min ",
    "skickat från ",
    "lähetetty ",
    "wysłane z ",
    "wysłano z ",
    "отправлено с ",
    "отправлено из ",
    "надіслано з ",
    "从我的",
    "從我的",
    "发自我的",
    "發自我的",
];

/// Lines longer than this are prose, even when they start like an app's sign-off.
const MAX_SIGNATURE_LINE_CHARS: usize = 100;

/// `-- ` (the signature separator, often with its space lost) or an app's sign-off line.
fn is_signature_start(line: &str) -> bool {
    let text = line.trim();
    if text == "--" {
        return true;
    }
    if text.chars().count() > MAX_SIGNATURE_LINE_CHARS {
        return false;
    }
    let lower = without_link_targets(text).to_lowercase();
    let lower = lower.trim_start_matches(['(', '<', '*', '_', ' ']);
    SIGNATURE_OPENERS
        .iter()
        .any(|opener| lower.starts_with(opener))
        || (lower.starts_with("von meinem ") && lower.contains("gesendet"))
        || invites_to_a_mail_app(lower)
}

/// Mobile mail apps sign off with an invitation to get them ("Get Outlook for iOS",
/// "Obtenez Outlook pour Android", "Outlook für iOS beziehen", "Get BlueMail for Android",
/// "Download Spark for iOS"): a short line naming a phone platform and either a mail app or
/// a verb of getting first.
fn invites_to_a_mail_app(lower: &str) -> bool {
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect();
    words.len() <= 6
        && !lower.contains('?')
        && (words.contains(&"ios") || words.contains(&"android"))
        && (words.iter().any(|word| MAIL_APPS.contains(word))
            || words.first().is_some_and(|word| GET.contains(word)))
}

/// Mail apps that invite their users' correspondents to get them, lowercase: names no
/// sentence uses for anything else ("Spark", "Nine" and "Canary" sign off with "Sent with
/// …", which `SIGNATURE_OPENERS` reads).
const MAIL_APPS: &[&str] = &[
    "outlook",
    "bluemail",
    "typeapp",
    "aquamail",
    "fairemail",
    "protonmail",
    "tutanota",
    "yahoo",
];

/// "Get" or "download" as an app's invitation starts, lowercase.
const GET: &[&str] = &[
    "get",
    "download",
    "obter",
    "obtenha",
    "baixe",
    "baixar",
    "obtener",
    "obtén",
    "descarga",
    "descargar",
    "descargue",
    "obtenez",
    "télécharger",
    "téléchargez",
    "scarica",
    "ottieni",
    "hol",
    "holen",
    "downloaden",
];

/// The text of a line with its links' targets taken out: Outlook writes a link as
/// `Email<https://…>` and Markdown-minded clients as `[Email](https://…)`, so "Enviado do
/// Email<https://go.microsoft.com/…> para Windows" reads "Enviado do Email para Windows".
fn without_link_targets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find(['<', '(']) {
        let close = if rest[open..].starts_with('<') {
            '>'
        } else {
            ')'
        };
        let Some(length) = rest[open..].find(close) else {
            break;
        };
        let inside = &rest[open + 1..open + length];
        let is_target = inside.contains("://") || inside.starts_with("mailto:");
        out.push_str(&rest[..open]);
        if !is_target {
            out.push_str(&rest[open..=open + length]);
        }
        rest = &rest[open + length + 1..];
    }
    out.push_str(rest);
    out.replace(['[', ']'], "")
}

/// A short line opening like an app's sign-off ("Sent from Proton Mail mobile", "Sent from
/// the all new AOL app for iOS"): apps keep adding their own, so beyond the known ones any
/// "Sent from …" of a few words is one when it is the last thing the sender wrote (see
/// `mark_last_signatures`).
fn reads_like_sign_off(line: &str) -> bool {
    if line.split_whitespace().count() > MAX_SIGN_OFF_WORDS + 2 {
        // Even with a link target or two taken out, a sentence.
        return false;
    }
    let text = without_link_targets(line.trim());
    let words: Vec<String> = text
        .split_whitespace()
        .map(|word| {
            word.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .collect();
    if words.len() > MAX_SIGN_OFF_WORDS || text.ends_with([':', '?', '：', '？']) {
        return false;
    }
    if text.starts_with("Sent from ") {
        return true;
    }
    // In any language: "sent" first or last ("Verstuurd vanaf mijn iPhone", "Von meinem
    // Galaxy gesendet", "iPhoneから送信") and a device or a mail app named.
    let lower = text.to_lowercase();
    let sent = |word: &String| SENT.contains(&word.as_str());
    let sent_first_or_last = words.first().is_some_and(sent)
        || words.last().is_some_and(sent)
        || SENT_CJK.iter().any(|verb| lower.contains(verb));
    sent_first_or_last && DEVICES.iter().any(|device| lower.contains(device))
}

/// "Sent", as an app's sign-off says it, lowercase.
const SENT: &[&str] = &[
    "sent",
    "enviado",
    "enviada",
    "envoyé",
    "envoye",
    "gesendet",
    "inviato",
    "verstuurd",
    "verzonden",
    "skickat",
    "sendt",
    "wysłane",
    "wysłano",
    "отправлено",
    "надіслано",
    "lähetetty",
    "odesláno",
    "odoslané",
    "küldve",
    "gönderildi",
    "trimis",
    "poslano",
];
/// "Sent" in scripts without spaces between words.
const SENT_CJK: &[&str] = &["から送信", "发自", "發自", "傳送", "送信"];
/// Devices and mail apps that sign off for their users, lowercase.
const DEVICES: &[&str] = &[
    "iphone",
    "ipad",
    "android",
    "samsung",
    "galaxy",
    "huawei",
    "xiaomi",
    "motorola",
    "pixel",
    "blackberry",
    "outlook",
    "gmail",
    "yahoo",
    "smartphone",
    "celular",
    "móvil",
    "movil",
    "mobile",
    "handy",
    "telefon",
    "teléfono",
    "telefone",
    "phone",
    "tablet",
    "mail",
    "correo",
    "移动",
    "手机",
    "手機",
    "携帯",
];

/// "Sent from the all new AOL app for iOS" is nine words; a sentence is longer.
const MAX_SIGN_OFF_WORDS: usize = 10;

/// The end of an embedded email's header block quoted with `>` ("> From: … / > Sent: …"),
/// as a client quotes an Outlook reply it answers below.
fn quoted_header_at(lines: &[&str], start: usize) -> Option<usize> {
    if !is_quote(lines[start]) || field_of(unquote(lines[start])).is_none() {
        return None;
    }
    // A header block is a few lines; no need to look further.
    let unquoted: Vec<&str> = lines[start..]
        .iter()
        .take(16)
        .take_while(|line| is_quote(line))
        .map(|line| unquote(line))
        .collect();
    header_fields_at(&unquoted, 0).map(|end| start + end)
}

/// Whether a line is the rest of the quote line above it, which the client wrapped
/// without its `>` (a long URL, a long sentence): the line above is a long quote line that
/// ends mid-sentence, so long that the line's first word would not have fitted after it
/// (clients wrap at 66 to 80 columns: "> 3. Horario en que pueden recibir al tecnico" over
/// "De lunes a viernes" is a question and its answer), and a quote, a blank line or the
/// end follows.
fn wraps_quote(lines: &[&str], index: usize) -> bool {
    let Some(above) = index.checked_sub(1).map(|i| lines[i]) else {
        return false;
    };
    if !is_quote(above) || is_blank(lines[index]) {
        return false;
    }
    let quoted = above
        .trim_start_matches(|c: char| c == '>' || c.is_whitespace())
        .trim_end();
    let mid_sentence = !quoted.ends_with(['.', '?', '!', ':', ';', ')', '"']);
    let closed = lines
        .get(index + 1)
        .is_none_or(|next| is_blank(next) || is_quote(next));
    let first_word = lines[index].split_whitespace().next().unwrap_or_default();
    let overflows =
        above.trim_end().chars().count() + 1 + first_word.chars().count() > MIN_WRAP_COLUMNS;
    quoted.chars().count() >= 40 && overflows && mid_sentence && closed
}

/// The narrowest width at which clients wrap the lines they quote.
const MIN_WRAP_COLUMNS: usize = 60;

/// A link is one word, so clients that wrap long lines cannot break it at a space: they
/// put it, or what overflows of it, on lines of its own without the `>`. How many lines
/// a wrapped link may take.
const MAX_LINK_LINES: usize = 4;

/// Whether a line is part of a link inside a quote that the client left without its `>`:
/// a run of lines without spaces between two quote lines, which either is a link itself
/// (`https://…`, `<https://…>`, `www.…`) or goes on with the link the quote line above
/// ends with.
fn in_quoted_link(lines: &[&str], index: usize) -> bool {
    let is_piece = |line: &str| {
        let text = line.trim();
        !text.is_empty() && !is_quote(line) && !text.contains(char::is_whitespace)
    };
    if !is_piece(lines[index]) {
        return false;
    }
    let first = (index.saturating_sub(MAX_LINK_LINES)..=index)
        .rev()
        .take_while(|&i| is_piece(lines[i]))
        .last()
        .unwrap_or(index);
    let after = (index..lines.len().min(first + MAX_LINK_LINES + 1)).find(|&i| !is_piece(lines[i]));
    let (Some(above), Some(below)) = (first.checked_sub(1), after) else {
        return false;
    };
    if !is_quote(lines[above]) || !is_quote(lines[below]) {
        return false;
    }
    let quoted_tail = lines[above].split_whitespace().last().unwrap_or_default();
    is_link(lines[first].trim()) || (is_link(quoted_tail) && !quoted_tail.ends_with(['.', ':']))
}

/// `https://…`, `<https://…>`, `www.…`.
fn is_link(word: &str) -> bool {
    let word = word.trim_start_matches(['<', '(', '[']).to_lowercase();
    word.starts_with("http://") || word.starts_with("https://") || word.starts_with("www.")
}

/// Whether a line carries on the sentence of the line above it ("…fue\nenviado desde mi
/// correo personal"): it starts in lowercase right under a line of text.
fn continues_sentence(lines: &[&str], index: usize) -> bool {
    index > 0
        && !is_blank(lines[index - 1])
        && lines[index].trim_start().starts_with(char::is_lowercase)
}

/// What HTML mail leaves of an inline image once it is text: a line that is only
/// `[cid:image001.png@01DA…]`, `[image: Logo]`, `[imagem: …]`, `[imagen]`. It draws
/// nothing the sender wrote, so like a delimiter it stays inside the reply and goes with
/// what follows it at the reply's end (a logo under a signature).
fn is_image_placeholder(line: &str) -> bool {
    let mut rest = line.trim();
    if rest.is_empty() {
        return false;
    }
    // One image or several side by side ("[image: Facebook] [image: Instagram]"); beside
    // one, Outlook writes a linked picture as its alt text and link ("[cid:…]  [Leading
    // Law Firm 2026]<https://…>").
    let mut named = false;
    while let Some(after_open) = rest.strip_prefix('[') {
        let Some(close) = after_open.find(']') else {
            return false;
        };
        let inner = &after_open[..close];
        let lower = inner.to_lowercase();
        let label = lower.split(':').next().unwrap_or_default().trim();
        let mut after = &after_open[close + 1..];
        let linked = after
            .strip_prefix("<http")
            .and_then(|l| l.find('>').map(|e| &l[e + 1..]));
        if inner.contains('[') {
            return false;
        }
        if lower.starts_with("cid:") || IMAGE_LABELS.contains(&label) {
            named = true;
        } else if let Some(tail) = linked {
            after = tail;
        } else {
            return false;
        }
        rest = after.trim_start();
    }
    named && rest.is_empty()
}

/// How mail clients label an inline image in the text part, lowercase.
const IMAGE_LABELS: &[&str] = &[
    "image",
    "imagem",
    "imagen",
    "immagine",
    "bild",
    "afbeelding",
    "obraz",
    "logo",
    "inline image",
    "imagen insertada",
    "imagem inline",
    "image intégrée",
];

/// Whether the line under this one carries on its sentence: text that starts in lowercase
/// right under it ("Enviado do meu escritório as 10h\nde ontem, …" is prose, not an app's
/// sign-off, which stands alone on its line).
fn continued_below(lines: &[&str], index: usize) -> bool {
    lines.get(index + 1).is_some_and(|next| {
        !is_blank(next) && !is_quote(next) && next.trim_start().starts_with(char::is_lowercase)
    })
}

/// A line drawn to separate parts: only `-_*=#~+`, dashes, dots, and `ᐧ` (which Gmail
/// adds under some messages).
fn is_delimiter(line: &str) -> bool {
    let text = line.trim();
    !text.is_empty() && text.chars().all(|c| "-_*=#~+—–ᐧ.·".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    /// Mails put together at random from the parts real clients write (a customer's new
    /// text in Portuguese, Spanish or English, a sign-off, an app's signature, and the
    /// history below in one of the clients' shapes, quoted or not, or a forward): the
    /// reply is exactly the new text and its sign-off, and every word of the body is kept
    /// between the reply and the rest.
    #[test]
    fn mails_made_of_real_clients_parts_split_exactly() {
        use rand::seq::IndexedRandom;
        use rand::{Rng, SeedableRng};
        const SAID: &[&str] = &[
            "Bom dia, a impressora do segundo andar voltou a dar atolamento de papel.",
            "oi, preciso da segunda via do boleto de marco, nao chegou",
            "Hola, la copiadora marca error SC542 desde esta manana.",
            "Hi, the toner you sent is the wrong model for our MP C3004.",
            "Segue a leitura do contador: 45.230 paginas pb e 3.120 coloridas.",
            "Buenas tardes, cuando pueden venir a revisar la maquina?",
            "We paid invoice INV-2026-0412 on Friday by bank transfer.",
            "vcs conseguem mandar um tecnico hj ainda? ta parado tudo aqui",
            "Perfecto, el jueves a las 10 nos queda bien.",
            "Thanks, the printer is working again after the visit.",
            "Ainda nao recebemos o toner amarelo que pedimos semana passada.",
            "La factura de septiembre vino con el RFC equivocado, pueden corregirla?",
        ];
        const SIGN_OFFS: &[&str] = &[
            "Obrigado,\nFernanda",
            "Att,\nRicardo Alves\nFinanceiro",
            "Saludos,\nLucía",
            "Best regards,\nTom Becker",
            "Gracias!",
            "Abs",
        ];
        const APPS: &[&str] = &[
            "Enviado do meu iPhone",
            "Enviado desde mi iPhone",
            "Sent from my iPhone",
            "Sent from my Galaxy",
            "Get Outlook for Android",
            "Obter o Outlook para Android",
            "-- \nFernanda Costa\nCopyTec Clientes\n+55 11 4004-0000",
        ];
        const OLD: &[&str] = &[
            "Olá, o técnico pode ir na quinta-feira à tarde?",
            "Hola Martina, el repuesto llega el viernes.",
            "Hello Paul, your toner was shipped today.",
            "Segue em anexo a fatura de marco.",
        ];
        let histories = |old: &str, quoted: bool| -> Vec<String> {
            let q = |text: &str| -> String {
                if quoted {
                    text.lines()
                        .map(|l| {
                            if l.is_empty() {
                                ">".to_owned()
                            } else {
                                format!("> {l}")
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                } else {
                    text.to_owned()
                }
            };
            let body = format!("{old}\n\nSuporte CopyTec");
            vec![
                format!(
                    "On Tue, 3 Mar 2026 at 10:12, Suporte <suporte@copytec.com.br> wrote:\n\n{}",
                    q(&body)
                ),
                format!(
                    "Em ter., 3 de mar. de 2026 às 10:12, Suporte <suporte@copytec.com.br>\nescreveu:\n\n{}",
                    q(&body)
                ),
                format!(
                    "El mar, 3 mar 2026 a las 10:12, Soporte (<soporte@copimex.mx>) escribió:\n{}",
                    q(&body)
                ),
                format!(
                    "On 3 Mar 2026, at 10:12, Support <support@printserve.co> wrote:\n\n{}",
                    q(&body)
                ),
                format!(
                    "________________________________\nDe: Suporte CopyTec <suporte@copytec.com.br>\nEnviado: terça-feira, 3 de março de 2026 10:12\nPara: Fernanda <f@cliente.com.br>\nAssunto: Re: Chamado 1234\n\n{}",
                    q(&body)
                ),
                format!(
                    "From: PrintServe Support <support@printserve.co>\nSent: Tuesday, March 3, 2026 10:12 AM\nTo: Tom <tom@becker.example>\nSubject: RE: Toner order\n\n{}",
                    q(&body)
                ),
                format!(
                    "-----Original Message-----\nFrom: Soporte <soporte@copimex.mx>\nSent: martes, 3 de marzo de 2026 10:12\nTo: Lucía <lucia@cliente.mx>\nSubject: Factura\n\n{}",
                    q(&body)
                ),
                format!(
                    "---- On Tue, 03 Mar 2026 10:12:05 -0300 Suporte <suporte@copytec.com.br> wrote ----\n\n{}",
                    q(&body)
                ),
                format!(
                    "De: Soporte Copimex <soporte@copimex.mx>\nEnviado el: martes, 3 de marzo de 2026 10:12\nPara: Lucía <lucia@cliente.mx>\nAsunto: RE: Visita técnica\n\n{}",
                    q(&body)
                ),
                format!(
                    "De : Support <support@reprotec.fr>\nEnvoyé : mardi 3 mars 2026 10:12\nÀ : Tom <tom@becker.example>\nObjet : RE: Toner\n\n{}",
                    q(&body)
                ),
                format!(
                    "Am Di., 3. März 2026 um 10:12 Uhr schrieb Support <support@printserve.de>:\n\n{}",
                    q(&body)
                ),
                format!(
                    "Le mar. 3 mars 2026 à 10:12, Support <support@reprotec.fr> a écrit :\n\n{}",
                    q(&body)
                ),
                format!(
                    "On Tuesday, March 3, 2026, 10:12:05 AM GMT-3, Suporte <suporte@copytec.com.br> wrote:\n\n\n{}",
                    q(&body)
                ),
                format!(
                    "---------- Forwarded message ---------\nFrom: Transportadora <sac@transporte.example>\nDate: Tue, 3 Mar 2026 at 10:12\nSubject: Entrega do pedido 5521\nTo: <compras@cliente.com.br>\n\n\n{body}"
                ),
                format!(
                    "Início da mensagem encaminhada:\n\nDe: Transportadora <sac@transporte.example>\nAssunto: Entrega do pedido 5521\nData: 3 de março de 2026 10:12:05 BRT\nPara: compras@cliente.com.br\n\n{body}"
                ),
            ]
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5b_2026);
        let mut missed = Vec::new();
        for round in 0..3_000 {
            let paragraphs = rng.random_range(1..=3);
            let mut new: Vec<String> = (0..paragraphs)
                .map(|_| (*SAID.choose(&mut rng).unwrap()).to_owned())
                .collect();
            if rng.random_bool(0.6) {
                new.push((*SIGN_OFFS.choose(&mut rng).unwrap()).to_owned());
            }
            let expected = new.join("\n\n");
            let mut body = expected.clone();
            if rng.random_bool(0.4) {
                body.push_str("\n\n");
                body.push_str(APPS.choose(&mut rng).unwrap());
            }
            let old = OLD.choose(&mut rng).unwrap();
            let history = histories(old, rng.random_bool(0.7));
            body.push_str(if rng.random_bool(0.8) { "\n\n" } else { "\n" });
            body.push_str(history.choose(&mut rng).unwrap());
            if rng.random_bool(0.1) {
                // Trailing spaces, as some clients leave them.
                body = body.replace('\n', " \n");
            }
            if rng.random_bool(0.2) {
                body = body.replace('\n', "\r\n");
            }
            let split = split_reply(&body);
            for word in body.split_whitespace() {
                assert!(
                    split.reply.contains(word) || split.rest.contains(word),
                    "round {round}: {word:?} lost from\n{body}"
                );
            }
            if split.reply != expected {
                missed.push(format!("--- body\n{body}\n--- got\n{}", split.reply));
            }
        }
        assert!(
            missed.is_empty(),
            "{} of 3000 missed; first:\n{}",
            missed.len(),
            missed[..missed.len().min(3)].join("\n\n")
        );
    }

    /// Our own development set (`channels/tests/data/replies.txt`): cases written from the
    /// mail clients' documented formats in Portuguese, Spanish, English and others, each
    /// with the exact reply expected. Every case passes; a miss names the case and shows
    /// what came out.
    #[test]
    fn our_written_cases_split_exactly() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/replies.txt");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut cases = Vec::new();
        for block in text.split("=== case: ").skip(1) {
            let (name, rest) = block.split_once('\n').unwrap();
            let (body, rest) = rest.split_once("\n=== reply\n").unwrap();
            let (reply, _) = rest.split_once("\n=== end").unwrap();
            cases.push((name.trim().to_owned(), body.to_owned(), reply.to_owned()));
        }
        assert!(cases.len() >= 150, "{} cases", cases.len());
        let mut missed = Vec::new();
        for (name, body, expected) in &cases {
            let split = split_reply(body);
            if split.reply != expected.trim_end() {
                missed.push(format!(
                    "{name}:\n--- got\n{}\n--- expected\n{expected}",
                    split.reply
                ));
            }
            // Nothing the sender wrote is lost between the reply and the rest.
            for word in body.split_whitespace() {
                assert!(
                    split.reply.contains(word) || split.rest.contains(word),
                    "{name}: {word:?} lost"
                );
            }
        }
        assert!(
            missed.is_empty(),
            "{} of {} cases missed:\n\n{}",
            missed.len(),
            cases.len(),
            missed.join("\n\n")
        );
    }

    fn fixtures_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/email_replies")
    }

    /// The cases in the fixtures folder, by name, sorted.
    fn fixture_names() -> Vec<String> {
        let dir = fixtures_dir();
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()));
        let mut names: Vec<String> = entries
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "input"))
            .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn fixture(name: &str, extension: &str) -> String {
        let path = fixtures_dir().join(format!("{name}.{extension}"));
        std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
    }

    #[test]
    fn email_reply_fixtures() {
        let names = fixture_names();
        let mut failures = Vec::new();
        for name in &names {
            let expected = fixture(name, "expected");
            let got = split_reply(&fixture(name, "input"));
            if got.reply.trim() != expected.trim() {
                failures.push(format!(
                    "--- {name}\n  expected:\n{}\n  got:\n{}\n",
                    expected.trim(),
                    got.reply.trim()
                ));
            }
        }
        let passed = names.len() - failures.len();
        println!("email reply fixtures: {passed}/{} pass", names.len());
        assert_eq!(names.len(), 64, "the fixtures folder should hold 64 cases");
        assert!(
            failures.is_empty(),
            "{passed}/{} fixtures pass; failing:\n{}",
            names.len(),
            failures.concat()
        );
    }

    #[test]
    fn an_attribution_glued_to_the_last_sentence_is_cut_there() {
        let body = "Segue a leitura: 48.213. Obrigado. Em ter., 12 de mai. de 2026 às 10:02, \
                    Ana <ana@copytec.com.br> escreveu:\n> Favor enviar a leitura.\n";
        let split = split_reply(body);
        assert_eq!(split.reply, "Segue a leitura: 48.213. Obrigado.");
        assert!(split.rest.starts_with("Em ter., 12 de mai."), "{split:?}");
        // A date's abbreviations are no sentence ends, and prose stays whole.
        for body in [
            "tir. 3. mar. 2026 kl. 10:02 skrev Ana <ana@x.com>:\n> Hi\n",
            "I asked twice. On Monday the technician wrote: nothing about the fuser.\n",
        ] {
            assert!(
                glued_attribution(body.lines().next().unwrap_or("")).is_none(),
                "{body}"
            );
        }
    }

    /// The warning a receiving mail server puts on top of mail from outside is nobody's
    /// reply, in any of the three languages; a customer's own first paragraph about such a
    /// mail stays.
    #[test]
    fn an_external_sender_banner_on_top_goes_to_the_rest() {
        for banner in [
            "CAUTION: This email originated from outside of the organization. Do not click \
             links or open attachments unless you recognize the sender and know the content \
             is safe.",
            "[EXTERNO] PRECAUCIÓN: Este correo se originó fuera de la organización.\nNo haga \
             clic en enlaces ni abra adjuntos salvo que reconozca al remitente.",
            "Atencao: este e-mail veio de fora da organizacao. Nao clique em links nem abra \
             anexos se nao conhecer o remetente.",
            "You don't often get email from ana@cliente.com.br. Learn why this is important",
            "Você não costuma receber emails de ana@cliente.com.br. Saiba por que isso é \
             importante",
        ] {
            let body = format!(
                "{banner}\n\nBom dia, a Ricoh travou de novo.\n\nAna\n\nEm ter., 12 de mai. \
                 de 2026 às 10:02, Suporte <s@x.com> escreveu:\n> Algo mais?\n"
            );
            let split = split_reply(&body);
            assert_eq!(
                split.reply, "Bom dia, a Ricoh travou de novo.\n\nAna",
                "{banner}"
            );
            assert!(
                split.rest.starts_with(banner.lines().next().unwrap()),
                "{split:?}"
            );
        }
        for body in [
            "Recebemos um e-mail de fora da organização com um link para pagar o boleto, com \
             o remetente de vocês. É golpe?\n\nAna",
            "Caution: the fuser is hot. Our company's technician left the attachment open.\n",
        ] {
            assert_eq!(split_reply(body).reply, body.trim_end(), "{body}");
        }
    }

    /// A help desk's notification of a comment: the newest comment's text, without its
    /// author and date; the older comments under the rule of dashes are the rest. A rule of
    /// dashes in a plain mail is still the sender's own.
    #[test]
    fn a_help_desk_comment_is_its_newest_text() {
        let body = "##- Please type your reply above this line -##\n\nAna Souza (Clínica Luz)\n\n\
                    May 14, 2026, 10:14 GMT-3\n\nThe scanner stopped sending to e-mail.\n\nAna\n\n\
                    ----------------------------------------------\n\nSupport\n\nMay 13, 2026, \
                    17:02 GMT-3\n\nDid anything change?\n";
        let split = split_reply(body);
        assert_eq!(split.reply, "The scanner stopped sending to e-mail.\n\nAna");
        assert!(split.rest.contains("Did anything change?"), "{split:?}");
        assert!(split.rest.contains("Ana Souza (Clínica Luz)"), "{split:?}");
        let body = "Primeiro ponto: a fatura.\n\n------------------------------\n\nSegundo \
                    ponto: a visita.\n";
        assert_eq!(split_reply(body).reply, body.trim_end());
    }

    /// The placeholder of a picture put above the text ("[image: Screenshot.png]") is no
    /// words of the sender's: the picture is an attachment.
    #[test]
    fn a_picture_s_placeholder_on_top_goes_to_the_rest() {
        let split = split_reply("[image: Screenshot_1.png]\nAsí quedó la pantalla.\n");
        assert_eq!(split.reply, "Así quedó la pantalla.");
        assert_eq!(split.rest, "[image: Screenshot_1.png]");
    }

    /// A company's legal notice under the signature that a line of underscores opens is
    /// signature too; a paragraph of the sender's own under such a line is not.
    #[test]
    fn a_legal_notice_under_an_underscored_signature_is_signature() {
        let body = "Podem vir amanhã?\n\nObrigada,\nTânia\n__________\nTânia Moura\nRH | \
                    Hospital\nEsta mensagem é confidencial e destinada exclusivamente ao \
                    destinatário.\n";
        assert_eq!(
            split_reply(body).reply,
            "Podem vir amanhã?\n\nObrigada,\nTânia"
        );
        let body = "Podem vir amanhã?\n__________\nTânia Moura\nRH\nE mais uma coisa: a \
                    impressora do segundo andar também está com a faixa cinza na folha.\n";
        assert_eq!(split_reply(body).reply, body.trim_end());
    }

    /// Splitting only moves lines (or cuts one where an attribution was glued to it): each
    /// line of the body is in the reply or in the rest.
    #[test]
    fn email_reply_fixtures_lose_no_line() {
        let count = |text: &str| {
            let mut lines = BTreeMap::new();
            for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
                *lines.entry(line.to_string()).or_insert(0) += 1;
            }
            lines
        };
        for name in fixture_names() {
            let input = fixture(&name, "input");
            let split = split_reply(&input);
            let mut out = count(&split.reply);
            for (line, n) in count(&split.rest) {
                *out.entry(line).or_insert(0) += n;
            }
            assert_eq!(count(&input), out, "{name}");
            let elided = fixture(&name, "elided");
            assert_eq!(
                split.rest.is_empty(),
                elided.trim().is_empty(),
                "{name}: rest is {:?}",
                split.rest
            );
        }
    }

    /// Bodies shuffled together from the fixtures' lines, some of them mangled, never panic
    /// the split, never lose a line, and never get an empty reply when they hold a message.
    #[test]
    fn email_shuffled_bodies_keep_every_line() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x6d61_696c);
        let mut pool: Vec<String> = fixture_names()
            .iter()
            .flat_map(|name| {
                let input = fixture(name, "input");
                input.lines().map(str::to_string).collect::<Vec<_>>()
            })
            .collect();
        pool.extend(
            [
                "",
                ">",
                "```",
                "--",
                "<",
                "> wrote:",
                "é:",
                "On 1",
                "2020/1/1 <a@b",
            ]
            .map(String::from),
        );
        let noise = [
            '>', '<', ':', '-', '@', '\r', '\n', 'é', '写', ' ', '1', '*',
        ];
        for _ in 0..3_000 {
            let mut body = String::new();
            for _ in 0..rng.random_range(0..40) {
                let mut line: Vec<char> = pool[rng.random_range(0..pool.len())].chars().collect();
                if rng.random_range(0..4) == 0 {
                    let at = rng.random_range(0..=line.len());
                    line.insert(at, noise[rng.random_range(0..noise.len())]);
                }
                body.extend(line);
                body.push(if rng.random_range(0..10) == 0 {
                    '\r'
                } else {
                    '\n'
                });
            }
            let split = split_reply(&body);
            let normalized = body.replace("\r\n", "\n").replace('\r', "\n");
            let mut kept: Vec<&str> = split.reply.lines().chain(split.rest.lines()).collect();
            let mut all: Vec<&str> = normalized.lines().collect();
            // The reply and the rest lose only blank lines at their ends and trailing spaces.
            kept.retain(|line| !is_blank(line));
            all.retain(|line| !is_blank(line));
            kept.iter_mut().for_each(|line| *line = line.trim_end());
            all.iter_mut().for_each(|line| *line = line.trim_end());
            kept.sort_unstable();
            all.sort_unstable();
            assert_eq!(kept, all, "{body:?}");
            if normalized.lines().any(carries_message) {
                assert!(!split.reply.is_empty(), "{body:?}");
            }
        }
    }

    /// The reply of `body`, which must have taken out a rest starting with `rest_starts`.
    fn reply_of(body: &str, rest_starts: &str) -> String {
        let split = split_reply(body);
        assert!(
            split.rest.starts_with(rest_starts),
            "rest should start with {rest_starts:?}: {split:?}"
        );
        split.reply
    }

    const ANSWER: &str = "Thanks, the new password works.\n\nAna";
    const QUOTED: &str = "> Hi Ana,\n>\n> Try resetting your password.\n";

    #[test]
    fn email_outlook_reply() {
        let body = format!(
            "{ANSWER}\n\n________________________________\nFrom: Support <help@x.com>\n\
             Sent: Tuesday, March 3, 2026 10:02 AM\nTo: Ana <ana@x.com>\n\
             Subject: RE: Password\n\nHi Ana,\n\nTry resetting your password.\n"
        );
        assert_eq!(reply_of(&body, "____"), ANSWER);
        let markdownish = body
            .replace("From:", "*From:*")
            .replace("Sent:", "*Sent:*")
            .replace("To:", "*To:*")
            .replace("Subject:", "*Subject:*");
        assert_eq!(reply_of(&markdownish, "____"), ANSWER);
    }

    #[test]
    fn email_outlook_reply_in_other_languages() {
        for fields in [
            ["Von", "Gesendet", "An", "Betreff"],
            ["De", "Enviado", "Para", "Asunto"],
            ["Van", "Verzonden", "Aan", "Onderwerp"],
            ["Da", "Inviato", "A", "Oggetto"],
            ["Od", "Wysłano", "Do", "Temat"],
            ["От", "Отправлено", "Кому", "Тема"],
            ["Від", "Надіслано", "Кому", "Тема"],
            ["Från", "Skickat", "Till", "Ämne"],
            ["Fra", "Sendt", "Til", "Emne"],
            ["发件人", "发送时间", "收件人", "主题"],
        ] {
            let [from, sent, to, subject] = fields;
            let body = format!(
                "{ANSWER}\n\n{from}: Support <help@x.com>\n{sent}: 3.3.2026 10:02\n\
                 {to}: Ana <ana@x.com>\n{subject}: Password\n\nTry resetting it.\n"
            );
            assert_eq!(reply_of(&body, from), ANSWER, "{from}");
        }
    }

    #[test]
    fn email_gmail_reply() {
        let body = format!(
            "{ANSWER}\n\nOn Tue, 3 Mar 2026 at 10:02, Support <help@x.com> wrote:\n\n{QUOTED}"
        );
        assert_eq!(reply_of(&body, "On Tue"), ANSWER);
    }

    #[test]
    fn email_apple_mail_reply() {
        let body =
            format!("{ANSWER}\n\n> On 3 Mar 2026, at 10:02, Ana <ana@x.com> wrote:\n>\n{QUOTED}");
        assert_eq!(reply_of(&body, "> On 3 Mar"), ANSWER);
        let unquoted =
            format!("{ANSWER}\n\nOn 3 Mar 2026, at 10:02, Ana <ana@x.com> wrote:\n\n{QUOTED}");
        assert_eq!(reply_of(&unquoted, "On 3 Mar"), ANSWER);
    }

    #[test]
    fn email_thunderbird_reply() {
        let body = format!("{ANSWER}\n\nOn 03/03/2026 10:02, Ana wrote:\n{QUOTED}");
        assert_eq!(reply_of(&body, "On 03/03"), ANSWER);
    }

    #[test]
    fn email_yahoo_reply() {
        // Yahoo leaves the earlier message unquoted under its attribution.
        let body = format!(
            "{ANSWER}\n\nOn Tuesday, March 3, 2026, 10:02:11 AM GMT, Ana <ana@x.com> wrote:\n\n\
             Hi Ana,\n\nTry resetting your password.\n"
        );
        assert_eq!(reply_of(&body, "On Tuesday"), ANSWER);
    }

    #[test]
    fn email_portuguese_and_spanish_replies() {
        for attribution in [
            "Em ter., 3 de mar. de 2026 às 10:02, Ana <ana@x.com> escreveu:",
            "El mar, 3 mar 2026 a las 10:02, Ana (<ana@x.com>) escribió:",
        ] {
            let body = format!("{ANSWER}\n\n{attribution}\n\n{QUOTED}");
            assert_eq!(reply_of(&body, attribution), ANSWER);
        }
    }

    #[test]
    fn email_gmail_attributions_in_more_languages() {
        for attribution in [
            "Am Di., 3. März 2026 um 10:02 Uhr schrieb Ana <ana@x.com>:",
            "Le mar. 3 mars 2026 à 10:02, Ana <ana@x.com> a écrit :",
            "Il giorno mar 3 mar 2026 alle ore 10:02 Ana <ana@x.com> ha scritto:",
            "Op di 3 mrt 2026 om 10:02 schreef Ana <ana@x.com>:",
            "Den tis 3 mars 2026 kl 10:02 skrev Ana <ana@x.com>:",
            "tir. 3. mar. 2026 kl. 10:02 skrev Ana <ana@x.com>:",
            "wt., 3 mar 2026 o 10:02 Ana <ana@x.com> napisał(a):",
            "вт, 3 мар. 2026 г. в 10:02, Ana <ana@x.com>:",
            "вт, 3 бер. 2026 р. о 10:02 Ana <ana@x.com> пише:",
            "Ana <ana@x.com> 于2026年3月3日周二 10:02写道：",
        ] {
            let body = format!("{ANSWER}\n\n{attribution}\n\n{QUOTED}");
            assert_eq!(reply_of(&body, attribution), ANSWER, "{attribution}");
        }
    }

    #[test]
    fn email_wrapped_attribution() {
        let body = format!(
            "{ANSWER}\n\nOn Mon, Jan 1, 2024 at 10:00 AM John <j@x.com>\nwrote:\n\n{QUOTED}"
        );
        assert_eq!(reply_of(&body, "On Mon"), ANSWER);
    }

    #[test]
    fn email_attribution_starts_on_its_own_line() {
        let body = format!(
            "On 2 March I ordered 3 of them.\nOn Tue, 3 Mar 2026 at 10:02, Support <help@x.com> \
             wrote:\n{QUOTED}"
        );
        assert_eq!(reply_of(&body, "On Tue"), "On 2 March I ordered 3 of them.");
    }

    #[test]
    fn email_inline_answers_keep_the_quotes() {
        let body = "Answers below.\n\nOn Tue, 3 Mar 2026 at 10:02, Support <help@x.com> wrote:\n\
                    > Which plan are you on?\n\nThe yearly one.\n\n\
                    > And since when?\n\nSince January.\n";
        let split = split_reply(body);
        assert_eq!(
            split.reply,
            "Answers below.\n\n> Which plan are you on?\n\nThe yearly one.\n\n\
             > And since when?\n\nSince January."
        );
        assert!(split.rest.starts_with("On Tue"));
    }

    #[test]
    fn email_reply_below_the_quote() {
        let body = format!(
            "On Tue, 3 Mar 2026 at 10:02, Support <help@x.com> wrote:\n{QUOTED}\n{ANSWER}\n"
        );
        assert_eq!(reply_of(&body, "On Tue"), ANSWER);
    }

    #[test]
    fn email_pure_forward_keeps_the_forwarded_message() {
        let body = "---------- Forwarded message ---------\nFrom: Bank <no-reply@bank.com>\n\
                    Date: Tue, Mar 3, 2026 at 10:02 AM\nSubject: Your card\nTo: <ana@x.com>\n\n\
                    Your card was blocked.\n";
        let split = split_reply(body);
        assert_eq!(split.reply, "Your card was blocked.");
        assert!(split.rest.starts_with("---------- Forwarded message"));
    }

    #[test]
    fn email_forward_with_nothing_under_it_is_not_emptied() {
        let body = "Begin forwarded message:\n\nFrom: Bank <no-reply@bank.com>\n\
                    Subject: Your card\nDate: 3 March 2026 at 10:02:11 GMT\nTo: ana@x.com\n";
        let split = split_reply(body);
        assert_eq!(split.reply, body.trim());
        assert_eq!(split.rest, "");
        let quoted = "> Please see below.\n>\n> Ana\n";
        assert_eq!(split_reply(quoted).reply, quoted.trim());
    }

    #[test]
    fn email_forward_under_a_note() {
        let body = "Can you help with this?\n\n-----Original Message-----\n\
                    From: Bank <no-reply@bank.com>\nSent: 3 March 2026 10:02\nTo: ana@x.com\n\
                    Subject: Your card\n\nYour card was blocked.\n";
        assert_eq!(
            reply_of(body, "-----Original Message-----"),
            "Can you help with this?"
        );
    }

    /// The forwarded mail under a note is all in the rest, line for line, for the agent to
    /// open; the note alone is the reply.
    #[test]
    fn email_forward_under_a_note_stays_whole_in_the_rest() {
        let forward = "---------- Forwarded message ---------\n\
                       From: Courier <noreply@courier.example>\n\
                       Date: Wed, Nov 25, 2026 at 10:12 AM\nSubject: Delivery failed\n\
                       To: <ana@x.com>\n\nWe could not deliver parcel 88120044.\n\n\
                       On Tue, Nov 24, 2026 at 9:00 AM Ana <ana@x.com> wrote:\n> Where is it?";
        for note in ["FYI", "Veja abaixo.", "Mira abajo, por favor."] {
            let split = split_reply(&format!("{note}\n\n{forward}\n"));
            assert_eq!(split.reply, note);
            assert_eq!(split.rest, forward);
        }
    }

    #[test]
    fn email_signatures_known_by_their_place() {
        for (body, reply) in [
            (
                "Please cancel the order.\n\nSent from Proton Mail mobile\n",
                "Please cancel the order.",
            ),
            (
                "Thanks,\nMike\n__________\nMike Torres | Office Manager\nT: (512) 555-0142\n",
                "Thanks,\nMike",
            ),
            // Not last: the sender goes on writing, so these are theirs.
            (
                "Sent from the warehouse on Monday\n\nIt should arrive by Friday.",
                "Sent from the warehouse on Monday\n\nIt should arrive by Friday.",
            ),
            (
                "Notes:\n_____\nBlack toner\n\nCan you send it?",
                "Notes:\n_____\nBlack toner\n\nCan you send it?",
            ),
        ] {
            assert_eq!(split_reply(body).reply, reply, "{body}");
        }
    }

    #[test]
    fn email_links_wrapped_out_of_a_quote() {
        let body = "Done.\n\nOn Wed, Nov 25, 2026 at 10:12 AM Ana <ana@x.com> wrote:\n\
                    > Upload it at:\nhttps://portal.example/upload?id=1\n> Thanks\n";
        assert_eq!(reply_of(body, "On Wed"), "Done.");
        let answered = "> Where is the manual?\n\nhttps://example.com/manual.pdf\n\n> Thanks";
        assert!(split_reply(answered).reply.contains("manual.pdf"));
    }

    #[test]
    fn email_invisible_lines_are_blank_and_kept_in_the_rest() {
        let body = "\u{200B}\nThanks!\n\u{FEFF}\n\u{a0}\u{200C}\n";
        let split = split_reply(body);
        assert_eq!(split.reply, "Thanks!");
        let words = |s: &str| s.split_whitespace().count();
        assert_eq!(words(&split.reply) + words(&split.rest), words(body));
    }

    #[test]
    fn email_mobile_signatures() {
        for signature in [
            "Sent from my iPhone",
            "Enviado do meu iPhone",
            "Enviado desde mi Samsung Galaxy",
            "Von meinem iPhone gesendet",
            "Envoyé de mon iPhone",
            "-- \nAna Silva\nACME",
        ] {
            let body = format!("{ANSWER}\n\n{signature}\n");
            assert_eq!(reply_of(&body, signature.trim_end()), ANSWER, "{signature}");
        }
    }

    #[test]
    fn email_line_endings_are_normalized() {
        let split = split_reply("Yes.\r\n\r\nOn 03/03/2026 10:02, Ana wrote:\r\n> Ok?\r\n");
        assert_eq!(split.reply, "Yes.");
        assert_eq!(split.rest, "On 03/03/2026 10:02, Ana wrote:\n> Ok?");
        assert_eq!(split_reply("One\rTwo").reply, "One\nTwo");
    }

    #[test]
    fn email_prose_and_code_stay() {
        for body in [
            "Here is what Bob wrote:\n\nThe server is down.",
            "2026-03-03 10:02:11 UTC ERROR disk full\n2026-03-03 10:02:12 UTC INFO retry",
            "Logs:\n```\n> make\n--\n-----Original Message-----\n```\nThat's all.",
            "Part one\n\n-----\n\nPart two",
            "My booking:\nFrom: Lisbon\nTo: Porto\nDate: 3 March 2026\n\nCan I change seats?",
        ] {
            let split = split_reply(body);
            assert_eq!(split.reply, body, "{body}");
            assert_eq!(split.rest, "");
        }
    }

    #[test]
    fn email_empty_bodies() {
        assert_eq!(split_reply(""), Split::default());
        assert_eq!(split_reply("\n \r\n"), Split::default());
    }
}
