//! HTML mail read as its reader sees it: the text of the body, block elements (paragraphs,
//! `div`s, rows, list items, headings) on lines of their own, table cells apart, `<br>` as a
//! line end, entities decoded, and nothing of what a reader never sees (`<head>`, `<style>`,
//! `<script>`, comments, Outlook's conditional blocks and `<xml>` islands). Text inside a
//! `<blockquote>` is written as a quote (`> ` per level), so the reply split reads a quoted
//! history the client did not otherwise mark. Whitespace collapses as a browser collapses it,
//! except inside `<pre>`.
//!
//! Pure and bounded: one pass over the input.

/// Elements whose content a reader never sees.
const HIDDEN: [&str; 7] = [
    "head", "style", "script", "template", "title", "xml", "noscript",
];

/// Elements that have no content, so no closing tag to wait for.
const VOID: [&str; 14] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

/// Whether a start tag's attributes hide its element from the reader: `hidden`, or a
/// style with `display:none`, `visibility:hidden`, Outlook's `mso-hide:all`, or a height
/// of 0 with the overflow hidden (the "preheader" a newsletter shows only in the inbox
/// list, and the tracking fields of a web form).
fn hides(tag: &str) -> bool {
    // Most tags say none of it: looked for without copying the tag first.
    let says = |word: &str| {
        tag.as_bytes()
            .windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
    };
    if !(says("hidden") || says("none") || says("mso-hide")) {
        return false;
    }
    let lower = tag.to_ascii_lowercase();
    let squeezed: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    let attribute_hidden = lower
        .split(|c: char| c.is_whitespace() || c == '/')
        .any(|w| w == "hidden" || w.starts_with("hidden="));
    attribute_hidden
        || squeezed.contains("display:none")
        || squeezed.contains("visibility:hidden")
        || squeezed.contains("mso-hide:all")
        || ((squeezed.contains("max-height:0;")
            || squeezed.contains("max-height:0px")
            || squeezed.contains("max-height:0\""))
            && squeezed.contains("overflow:hidden"))
}

/// Elements that stand on lines of their own.
const BLOCKS: [&str; 30] = [
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "section",
    "table",
    "tr",
    "ul",
    "pre",
];

/// The characters an entity body (between `&` and `;`) stands for. Named ones come from
/// `mail-parser`'s table of HTML's entities; numbers in Windows-1252's C1 range are read
/// as the characters Windows meant, as browsers read them.
fn entity(body: &str) -> Option<String> {
    use mail_parser::decoders::{charsets::map::charset_decoder, html::add_html_token};
    if let Some(num) = body.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse::<u32>().ok()?,
        };
        if let (Ok(byte @ 0x80..=0x9F), Some(cp1252)) =
            (u8::try_from(code), charset_decoder(b"windows-1252"))
        {
            return Some(cp1252(&[byte]));
        }
        return Some(char::from_u32(code).unwrap_or('\u{FFFD}').to_string());
    }
    let token = format!("&{body};");
    let mut decoded = String::new();
    add_html_token(&mut decoded, token.as_bytes(), false);
    // An unknown name comes back as it was written.
    (decoded != token).then_some(decoded)
}

/// The text being written: collapses whitespace as a browser does, keeps line ends asked
/// for by the markup, and prefixes each line with the quote level it was opened at.
struct Out {
    text: String,
    /// Line ends owed before the next visible character (1 = new line, 2 = blank line).
    breaks: usize,
    /// A space is owed before the next visible character on this line.
    space: bool,
    /// Something visible has been written on the current line.
    line_started: bool,
    quote: usize,
}

impl Out {
    fn block(&mut self, n: usize) {
        if !self.text.is_empty() {
            self.breaks = self.breaks.max(n);
        }
        self.space = false;
    }

    fn hard_break(&mut self) {
        // `<br>` always ends a line, even an empty one.
        if self.breaks > 0 || !self.line_started {
            self.flush_breaks();
            self.start_line();
        }
        self.text.push('\n');
        self.line_started = false;
        self.space = false;
    }

    fn flush_breaks(&mut self) {
        if self.breaks == 0 {
            return;
        }
        if self.line_started {
            self.text.push('\n');
            self.line_started = false;
        }
        for _ in 1..self.breaks {
            self.start_line();
            self.text.push('\n');
            self.line_started = false;
        }
        self.breaks = 0;
        self.space = false;
    }

    fn start_line(&mut self) {
        if !self.line_started {
            for _ in 0..self.quote {
                self.text.push_str("> ");
            }
            self.line_started = true;
        }
    }

    fn char(&mut self, c: char, pre: bool) {
        if !pre && c.is_whitespace() && c != '\u{A0}' {
            if self.line_started {
                self.space = true;
            }
            return;
        }
        if pre && c == '\n' {
            self.start_line();
            self.text.push('\n');
            self.line_started = false;
            self.space = false;
            return;
        }
        // Zero-width marks, soft hyphens and byte-order marks are not seen.
        if matches!(c, '\u{200B}'..='\u{200F}' | '\u{AD}' | '\u{FEFF}') {
            return;
        }
        self.flush_breaks();
        self.start_line();
        if self.space {
            self.text.push(' ');
            self.space = false;
        }
        // A non-breaking space is a space to whoever reads the text.
        self.text.push(if c == '\u{A0}' { ' ' } else { c });
    }
}

/// The tag at the start of `rest` (just after `<`): its lower-cased name, whether it closes,
/// and the bytes it spans up to and including `>`. `None` when `<` does not open a tag.
fn tag(rest: &str) -> Option<(String, bool, usize)> {
    let closing = rest.starts_with('/');
    let body = if closing { &rest[1..] } else { rest };
    let first = body.chars().next()?;
    if !first.is_ascii_alphabetic() {
        return None;
    }
    let name: String = body
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == ':' || *c == '-')
        .collect::<String>()
        .to_ascii_lowercase();
    // The tag ends at the first `>` outside a quoted attribute value.
    let mut quote: Option<char> = None;
    for (i, c) in rest.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some((name, closing, i + 1)),
            _ => {}
        }
    }
    Some((name, closing, rest.len()))
}

/// Inline elements mail uses most, which with [`BLOCKS`], [`HIDDEN`] and [`VOID`] make an
/// element name known.
const INLINE: [&str; 16] = [
    "html", "body", "p", "span", "a", "b", "i", "u", "font", "strong", "em", "td", "th", "tbody",
    "thead", "o:p",
];

/// Whether text is markup at all: a comment, a declaration, or a tag (opening or
/// closing) of an element HTML has. An address in angle brackets ("<ana@x.com>") is none,
/// so a body labelled HTML that is plain text is read as text.
pub fn has_markup(text: &str) -> bool {
    text.match_indices('<').any(|(at, _)| {
        let rest = &text[at + 1..];
        rest.starts_with('!')
            || tag(rest).is_some_and(|(name, _, _)| {
                let name = name.as_str();
                let known = BLOCKS.contains(&name)
                    || HIDDEN.contains(&name)
                    || VOID.contains(&name)
                    || INLINE.contains(&name);
                // The name ends the tag's word: "<b>" or "<a href", not "<bom dia>".
                let tail = rest.trim_start_matches('/')[name.len()..].chars().next();
                known && tail.is_some_and(|c| c == '>' || c == '/' || c.is_whitespace())
            })
    })
}

/// The text a reader sees in `html`.
pub fn html_to_text(html: &str) -> String {
    let mut out = Out {
        text: String::with_capacity(html.len() / 2),
        breaks: 0,
        space: false,
        line_started: false,
        quote: 0,
    };
    // The element whose content is hidden, until it closes.
    let mut hidden: Option<&'static str> = None;
    // An element hidden by its attributes, and how deep inside elements of its name we are.
    let mut styled: Option<(String, usize)> = None;
    let mut pre = 0usize;
    let mut i = 0;
    while i < html.len() {
        let rest = &html[i..];
        if let Some(after) = rest.strip_prefix("<!--") {
            // Comments, Outlook's `<!--[if …]> … <![endif]-->` among them.
            i += 4 + after.find("-->").map_or(after.len(), |e| e + 3);
            continue;
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            // A declaration, a CDATA section or `<![endif]>`: up to its `>`.
            i += rest.find('>').map_or(rest.len(), |e| e + 1);
            continue;
        }
        if let Some(after) = rest.strip_prefix('<')
            && let Some((name, closing, len)) = tag(after)
        {
            i += 1 + len;
            if let Some(h) = hidden {
                if closing && name == h {
                    hidden = None;
                }
                continue;
            }
            // The tag's text without its `>` (an unterminated tag runs to the end).
            let inside = after[..len].strip_suffix('>').unwrap_or(&after[..len]);
            let self_closed = inside.trim_end().ends_with('/');
            if let Some((open, depth)) = &mut styled {
                if *open == name && !VOID.contains(&name.as_str()) && !self_closed {
                    if closing {
                        *depth -= 1;
                    } else {
                        *depth += 1;
                    }
                }
                if *depth == 0 {
                    styled = None;
                }
                continue;
            }
            if !closing && !self_closed && !VOID.contains(&name.as_str()) && hides(inside) {
                styled = Some((name, 1));
                continue;
            }
            if let Some(h) = HIDDEN.iter().find(|h| **h == name) {
                if !closing && !self_closed {
                    hidden = Some(h);
                }
                continue;
            }
            match name.as_str() {
                "br" => out.hard_break(),
                "p" => out.block(2),
                "td" | "th" if !closing && out.line_started => out.space = true,
                "blockquote" => {
                    out.block(1);
                    out.quote = if closing {
                        out.quote.saturating_sub(1)
                    } else {
                        out.quote + 1
                    };
                }
                "pre" => {
                    out.block(1);
                    pre = if closing {
                        pre.saturating_sub(1)
                    } else {
                        pre + 1
                    };
                }
                n if BLOCKS.contains(&n) => out.block(1),
                _ => {}
            }
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        if hidden.is_some() || styled.is_some() {
            i += c.len_utf8();
            continue;
        }
        if c == '&' {
            // `&name;` or `&#…;` within a short reach; a lone `&` is itself.
            if let Some(end) = rest[1..].find(';').filter(|e| *e <= 32) {
                let body = &rest[1..1 + end];
                if !body.contains(char::is_whitespace)
                    && let Some(chars) = entity(body)
                {
                    for ch in chars.chars() {
                        out.char(ch, pre > 0);
                    }
                    i += end + 2;
                    continue;
                }
            }
        }
        out.char(c, pre > 0);
        i += c.len_utf8();
    }
    out.text.truncate(out.text.trim_end().len());
    out.text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_stand_on_lines_of_their_own() {
        assert_eq!(
            html_to_text(
                "<div>Bom dia,</div><div>O toner acabou.</div><div><br></div><div>Renata</div>"
            ),
            "Bom dia,\nO toner acabou.\n\nRenata"
        );
        assert_eq!(
            html_to_text(
                "<p class=MsoNormal>Hola,<o:p></o:p></p><p class=MsoNormal>La impresora no enciende.<o:p></o:p></p>"
            ),
            "Hola,\n\nLa impresora no enciende."
        );
        assert_eq!(
            html_to_text(
                "<table><tr><td>Modelo</td><td>MP 2555</td></tr><tr><td>Série</td><td>E335</td></tr></table>"
            ),
            "Modelo MP 2555\nSérie E335"
        );
        assert_eq!(html_to_text("a<br>b<br><br>c"), "a\nb\n\nc");
        assert_eq!(
            html_to_text("<ul><li>one</li><li>two</li></ul>after"),
            "one\ntwo\nafter"
        );
    }

    #[test]
    fn what_a_reader_never_sees_is_left_out() {
        let html = "<html><head><meta charset=utf-8><title>x</title><style>p{margin:0}\n.a>b{}</style>\
                    <!--[if gte mso 9]><xml><o:OfficeDocumentSettings></o:OfficeDocumentSettings></xml><![endif]-->\
                    </head><body lang=PT-BR><script>alert(1)</script><p>Obrigada!</p><!-- hidden --></body></html>";
        assert_eq!(html_to_text(html), "Obrigada!");
        assert_eq!(
            html_to_text("<img src=\"cid:logo\" alt=\"Logo\">Texto"),
            "Texto"
        );
        assert_eq!(
            html_to_text("<a href=\"https://x.test/?a=1&amp;b=2\" title='a>b'>link</a>"),
            "link"
        );
        // A newsletter's preheader, a web form's tracking fields, Outlook-only parts: the
        // element and all inside it, however nested.
        let hidden = [
            "<div style=\"display:none;font-size:1px\">Seu boleto vence <div>em 15/05</div> hoje</div><p>Olá</p>",
            "<span style=\"DISPLAY: NONE !important\">x</span><p>Olá</p>",
            "<div style='mso-hide:all'><table><tr><td>botão</td></tr></table></div><p>Olá</p>",
            "<div hidden><p>utm_source: google</p></div><p>Olá</p>",
            "<div style=\"max-height:0;overflow:hidden\">pre</div><p>Olá</p>",
            "<td style=\"visibility: hidden\">x</td><p>Olá</p>",
        ];
        for h in hidden {
            assert_eq!(html_to_text(h), "Olá", "{h}");
        }
        // What is shown stays, and a hidden void element hides nothing after it.
        assert_eq!(
            html_to_text(
                "<p style=\"display:block\">Sim</p><img style=\"display:none\" src=x>Texto"
            ),
            "Sim\n\nTexto"
        );
        assert_eq!(
            html_to_text("<p>hidden files are in the folder</p>"),
            "hidden files are in the folder"
        );
    }

    #[test]
    fn markup_is_told_from_text_with_angle_brackets() {
        for html in [
            "<p>Olá</p>",
            "x<br>y",
            "</div>",
            "<!-- c -->",
            "<A HREF=x>l</a>",
            "<o:p></o:p>",
        ] {
            assert!(has_markup(html), "{html}");
        }
        for text in [
            "Ana <ana@x.com> escreveu:",
            "> 10 páginas < 20",
            "<bom dia>",
            "a<b",
        ] {
            assert!(!has_markup(text), "{text}");
        }
    }

    #[test]
    fn entities_and_whitespace_read_as_a_browser_reads_them() {
        assert_eq!(
            html_to_text(
                "Orçamento&nbsp;n&ordm; 12 &ndash; R&#36;&nbsp;1.200,00 &amp; &#x20AC;5 &lt;ok&gt; &aacute;&Eacute;&ccedil;&atilde;"
            ),
            "Orçamento nº 12 – R$ 1.200,00 & €5 <ok> áÉçã"
        );
        assert_eq!(html_to_text("&#147;sim&#148;"), "“sim”");
        assert_eq!(html_to_text("a   b\n\n  c"), "a b c");
        assert_eq!(html_to_text("AT&T &unknown; & so"), "AT&T &unknown; & so");
        assert_eq!(html_to_text("<pre>a\n  b</pre>c"), "a\n  b\nc");
    }

    #[test]
    fn blockquotes_read_as_quotes() {
        assert_eq!(
            html_to_text(
                "<div>Sim, pode vir amanhã.</div><blockquote><div>Podemos ir amanhã?</div><blockquote>antes</blockquote></blockquote>"
            ),
            "Sim, pode vir amanhã.\n> Podemos ir amanhã?\n> > antes"
        );
    }

    /// Markup built at random from what mail carries: every word of its visible text comes
    /// out, in order, and nothing of the hidden parts or the tags does.
    #[test]
    fn random_markup_keeps_its_visible_words_in_order() {
        use rand::seq::IndexedRandom;
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x4874_6d6c);
        let tags = [
            "<div>",
            "</div>",
            "<p class=MsoNormal>",
            "</p>",
            "<br>",
            "<br/>",
            "<span style=\"a:b>c\">",
            "</span>",
            "<table><tr><td>",
            "</td><td>",
            "</td></tr></table>",
            "<blockquote type=\"cite\">",
            "</blockquote>",
            "<ul><li>",
            "</li></ul>",
            "<b>",
            "</b>",
            "<o:p></o:p>",
            "<a href='x?a=1&b=2'>",
            "</a>",
            "&nbsp;",
            " ",
            "\n",
            "<img src=\"cid:x\" alt=\"hidden\">",
        ];
        let hidden = [
            "<!-- hidden -->",
            "<style>hidden{}</style>",
            "<!--[if gte mso 9]><xml>hidden</xml><![endif]-->",
            "<script>hidden()</script>",
        ];
        let words = [
            "toner",
            "Impressora",
            "fatura",
            "visita",
            "açúcar",
            "niño",
            "12:30",
            "R$10",
        ];
        for _ in 0..2_000 {
            let mut html = String::new();
            let mut said = Vec::new();
            for _ in 0..rng.random_range(1..40) {
                match rng.random_range(0..10) {
                    0..=3 => {
                        let w = *words.choose(&mut rng).unwrap();
                        html.push_str(w);
                        said.push(w);
                        // A word ends where markup that is not inline begins, or at a space.
                        html.push_str(if rng.random_bool(0.5) { " " } else { "<br>" });
                    }
                    4 => html.push_str(hidden.choose(&mut rng).unwrap()),
                    _ => html.push_str(tags.choose(&mut rng).unwrap()),
                }
            }
            let text = html_to_text(&html);
            let got: Vec<&str> = text.split_whitespace().filter(|w| *w != ">").collect();
            assert_eq!(got, said, "{html:?} -> {text:?}");
        }
    }

    #[test]
    fn a_tag_cut_inside_a_character_ends_the_text() {
        // An unterminated tag whose last byte is inside a character (found by fuzzing).
        assert_eq!(html_to_text("ok<td style=\"a\u{a0}"), "ok");
        assert_eq!(html_to_text("ok<div hidden\u{a0}"), "ok");
    }

    #[test]
    fn hostile_markup_ends_and_keeps_its_text() {
        for html in [
            "<",
            "<div",
            "<!--",
            "&",
            "&#99999999;",
            "<a href=\"",
            "<style>",
            "text<br",
        ] {
            let _ = html_to_text(html);
        }
        assert_eq!(html_to_text("1 < 2 and 3 > 2"), "1 < 2 and 3 > 2");
        let big = "<div>".repeat(50_000) + "x";
        assert_eq!(html_to_text(&big), "x");
    }
}
