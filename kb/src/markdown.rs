//! Article bodies are Markdown. Rendered to HTML they pass the same sanitizer as every
//! other markup that enters the system, so an article can never carry a script, whoever
//! wrote or imported it.
//!
//! Tested by `markdown::tests::markdown_renders_and_scripts_do_not`. Bodies are also made
//! into plain text and summaries here.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd, html};
use switchboard_core::html::SanitizedHtml;

/// The body as safe HTML.
pub fn render(markdown: &str) -> SanitizedHtml {
    let parser = Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    );
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, parser);
    SanitizedHtml::sanitize(&out)
}

/// The body as plain text, paragraphs separated by blank lines: for search, snippets,
/// mail and chat answers. Raw HTML in the Markdown is dropped, not shown as tags.
pub fn plain(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            Event::SoftBreak => out.push(' '),
            Event::HardBreak => out.push('\n'),
            Event::Start(Tag::Item) => out.push_str("• "),
            Event::End(
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item | TagEnd::TableRow,
            ) => out.push('\n'),
            Event::End(TagEnd::List(_) | TagEnd::CodeBlock | TagEnd::BlockQuote(_)) => {
                out.push('\n')
            }
            Event::End(TagEnd::TableCell) => out.push_str("  "),
            _ => {}
        }
    }
    let mut lines: Vec<&str> = out.lines().map(str::trim_end).collect();
    lines.dedup_by(|a, b| a.is_empty() && b.is_empty());
    lines.join("\n").trim().to_owned()
}

/// The first `max` characters of the plain text, cut at a word, with "…" when cut.
pub fn summary(markdown: &str, max: usize) -> String {
    let text = plain(markdown).replace('\n', " ");
    if text.chars().count() <= max {
        return text;
    }
    let cut: String = text.chars().take(max).collect();
    let at = cut.rfind(' ').unwrap_or(cut.len());
    format!("{}…", cut[..at].trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_and_scripts_do_not() {
        let html = render(
            "Open **Invoices**\n\n- one\n- two\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))",
        );
        let s = html.as_str();
        assert!(s.contains("<strong>Invoices</strong>"), "{s}");
        assert!(s.contains("<li>one</li>"), "{s}");
        assert!(!s.contains("<script"), "{s}");
        assert!(!s.contains("javascript:"), "{s}");
    }

    #[test]
    fn plain_text_keeps_words_and_drops_markup() {
        let p = plain("# Title\n\nOpen **Invoices** and `Pay`.\n\n- one\n- two\n\n<b>raw</b>");
        assert_eq!(p, "Title\nOpen Invoices and Pay.\n• one\n• two\n\nraw");
        assert_eq!(summary("word ".repeat(100).as_str(), 12), "word word…");
    }
}
