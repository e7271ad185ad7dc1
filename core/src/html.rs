//! Inbound HTML (email bodies, rich messages) is sanitized where it enters the system, and
//! past that edge it exists only as [`SanitizedHtml`]. The type has no way in but the
//! sanitizer, deserializing included, so code that renders a `SanitizedHtml` as markup
//! never has to ask where it came from.
//!
//! **Architecture Invariant:** `core` knows no HTTP and no channel wire format, and of HTML
//! only this sanitizer, so unsanitized markup cannot be stored or shown
//! (`html::tests::xss_corpus_comes_out_inert_and_stable`,
//! `html::tests::deserializing_sanitizes_again`).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use ammonia::{Builder, Url, UrlRelative};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Plain text made safe to place in HTML (text or a quoted attribute).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// What email bodies need to read well: text structure, tables (mail layouts are built
/// of them), inline emphasis, links and images. `font` and `center` stay because older
/// mail clients still write them and they carry no behaviour.
const TAGS: &[&str] = &[
    "a",
    "b",
    "blockquote",
    "br",
    "caption",
    "center",
    "code",
    "col",
    "colgroup",
    "dd",
    "div",
    "dl",
    "dt",
    "em",
    "font",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
];

/// Dropped together with everything inside them. The rest of the disallowed tags lose only
/// the tag and keep their text; these hold script, CSS, raw markup shown as text, or
/// foreign (SVG, MathML) content, none of which means anything to a reader once the tag
/// is gone. Foreign content also goes whole because the parser's namespace switches are
/// what mutation XSS plays on.
const DROPPED_WITH_CONTENT: &[&str] = &[
    "embed", "iframe", "math", "noembed", "noframes", "noscript", "object", "script", "style",
    "svg", "template", "title", "xmp",
];

/// No `style` (CSS can run script in old engines, load URLs, and overlay the page), no
/// `class` or `id` (they would pick up, or clobber, the portal's own styles and element
/// ids), no `target` (every link gets a fixed `rel` instead). `background` is left out on
/// purpose: it takes a URL that the scheme checks do not look at.
const GENERIC_ATTRIBUTES: &[&str] = &["dir", "lang", "title"];

const TAG_ATTRIBUTES: &[(&str, &[&str])] = &[
    ("a", &["href"]),
    ("col", &["align", "span", "valign", "width"]),
    ("colgroup", &["align", "span", "valign", "width"]),
    ("div", &["align"]),
    ("font", &["color", "face", "size"]),
    ("h1", &["align"]),
    ("h2", &["align"]),
    ("h3", &["align"]),
    ("h4", &["align"]),
    ("h5", &["align"]),
    ("h6", &["align"]),
    ("hr", &["align", "size", "width"]),
    ("img", &["alt", "height", "src", "width"]),
    ("li", &["value"]),
    ("ol", &["start", "type"]),
    ("p", &["align"]),
    (
        "table",
        &[
            "align",
            "bgcolor",
            "border",
            "cellpadding",
            "cellspacing",
            "width",
        ],
    ),
    ("tbody", &["align", "valign"]),
    (
        "td",
        &[
            "align", "bgcolor", "colspan", "height", "rowspan", "valign", "width",
        ],
    ),
    ("tfoot", &["align", "valign"]),
    (
        "th",
        &[
            "align", "bgcolor", "colspan", "height", "rowspan", "scope", "valign", "width",
        ],
    ),
    ("thead", &["align", "valign"]),
    ("tr", &["align", "bgcolor", "valign"]),
    ("ul", &["type"]),
];

/// `cid` is let through the sanitizer's own scheme check only so that the attribute filter
/// gets to see it: the filter allows it on `img src` alone, and only to rewrite it.
const URL_SCHEMES: &[&str] = &["cid", "http", "https", "mailto", "tel"];
const LINK_SCHEMES: &[&str] = &["http", "https", "mailto", "tel"];
const IMAGE_SCHEMES: &[&str] = &["http", "https"];

/// A link in a customer's mail must not reach back into the page that shows it, tell its
/// target which portal page it was opened from, or lend the support site's reputation to
/// where it points.
const LINK_REL: &str = "noopener noreferrer nofollow";

static PLAIN: LazyLock<Builder<'static>> = LazyLock::new(|| builder(Cids::Drop));

/// HTML that went through the sanitizer, and so holds no script, no style, no forms, no
/// frames and no URL other than `http(s)`, `mailto:` and `tel:` links and `http(s)` images.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SanitizedHtml(String);

impl SanitizedHtml {
    /// Sanitizes `raw`. `cid:` images lose their source, since nothing can say what they
    /// point at; use [`SanitizedHtml::sanitize_with`] where the message's parts are known.
    pub fn sanitize(raw: &str) -> SanitizedHtml {
        SanitizedHtml(PLAIN.clean(raw).to_string())
    }

    /// Sanitizes `raw`, pointing each `<img src="cid:…">` at what `cid_urls` returns for its
    /// content id: the part after `cid:`, percent-decoded, which RFC 2392 makes equal to the
    /// part's `Content-ID` header without its angle brackets.
    /// References with no mapping, or mapped to anything but an absolute `http(s)` URL,
    /// are dropped: the result must pass [`SanitizedHtml::sanitize`] unchanged, since that
    /// is what reading it back does.
    pub fn sanitize_with(raw: &str, cid_urls: &dyn Fn(&str) -> Option<String>) -> SanitizedHtml {
        // The sanitizer's attribute filter must own what it uses, so it cannot call a
        // borrowed mapping: a first pass learns which content ids the body refers to, and
        // only when it found some does a second pass rewrite them from a map built here.
        let seen = Arc::new(Mutex::new(HashSet::new()));
        let first = builder(Cids::Collect(Arc::clone(&seen)))
            .clean(raw)
            .to_string();
        let ids = std::mem::take(&mut *seen.lock().unwrap_or_else(PoisonError::into_inner));
        let urls: HashMap<String, String> = ids
            .into_iter()
            .filter_map(|id| {
                let url = cid_urls(&id).filter(|url| has_scheme(url, IMAGE_SCHEMES))?;
                Some((id, url))
            })
            .collect();
        if urls.is_empty() {
            return SanitizedHtml(first);
        }
        SanitizedHtml(builder(Cids::Resolve(urls)).clean(raw).to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for SanitizedHtml {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

// Whatever is read back (a stream entry, a database row, a request body) may have been
// written by something other than `sanitize`, so it is sanitized again.
impl<'de> Deserialize<'de> for SanitizedHtml {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Ok(SanitizedHtml::sanitize(&raw))
    }
}

/// What becomes of `cid:` image references during one sanitizing pass.
enum Cids {
    Drop,
    Collect(Arc<Mutex<HashSet<String>>>),
    Resolve(HashMap<String, String>),
}

impl Cids {
    fn resolve(&self, id: &str) -> Option<String> {
        match self {
            Cids::Drop => None,
            Cids::Collect(seen) => {
                seen.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(id.to_owned());
                None
            }
            Cids::Resolve(urls) => urls.get(id).cloned(),
        }
    }
}

fn builder(cids: Cids) -> Builder<'static> {
    let mut builder = Builder::empty();
    builder
        .tags(TAGS.iter().copied().collect())
        .clean_content_tags(DROPPED_WITH_CONTENT.iter().copied().collect())
        .generic_attributes(GENERIC_ATTRIBUTES.iter().copied().collect())
        .tag_attributes(
            TAG_ATTRIBUTES
                .iter()
                .map(|(tag, attributes)| (*tag, attributes.iter().copied().collect()))
                .collect(),
        )
        .url_schemes(URL_SCHEMES.iter().copied().collect())
        // Relative URLs would resolve against the portal that shows the mail, turning an
        // image into a request, with the agent's cookies, to any path of ours.
        .url_relative(UrlRelative::Deny)
        .link_rel(Some(LINK_REL))
        .strip_comments(true)
        .attribute_filter(move |element, attribute, value| {
            filter_attribute(element, attribute, value, &cids)
        });
    builder
}

/// Narrows the schemes allowed overall to those that make sense for each attribute. What
/// this returns is not checked against the allowed schemes again, so a rewritten value
/// must be one that would have passed.
fn filter_attribute<'u>(
    element: &str,
    attribute: &str,
    value: &'u str,
    cids: &Cids,
) -> Option<Cow<'u, str>> {
    match (element, attribute) {
        ("a", "href") => has_scheme(value, LINK_SCHEMES).then_some(Cow::Borrowed(value)),
        ("img", "src") => {
            let url = Url::parse(value).ok()?;
            if IMAGE_SCHEMES.contains(&url.scheme()) {
                Some(Cow::Borrowed(value))
            } else if url.scheme() == "cid" {
                let id = percent_decode(url.path())?;
                cids.resolve(&id).map(Cow::Owned)
            } else {
                None
            }
        }
        _ => Some(Cow::Borrowed(value)),
    }
}

/// Parsed the way a browser parses it, so that whitespace, control characters and case
/// cannot make the scheme read differently here and there.
fn has_scheme(url: &str, schemes: &[&str]) -> bool {
    Url::parse(url).is_ok_and(|url| schemes.contains(&url.scheme()))
}

/// `None` for a malformed escape or a result that is not UTF-8: such a content id can
/// match no part of the message.
fn percent_decode(s: &str) -> Option<String> {
    fn hex(b: u8) -> Option<u8> {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let high = hex(*bytes.get(i + 1)?)?;
            let low = hex(*bytes.get(i + 2)?)?;
            out.push(high << 4 | low);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const XSS: &[&str] = &[
        // Script elements.
        "<script>alert(1)</script>",
        "<SCRIPT SRC=http://evil.example/x.js></SCRIPT>",
        "<scr<script>ipt>alert(1)</scr</script>ipt>",
        "<ScRiPt>alert(1)</sCrIpT>",
        // Event handlers.
        "<img src=x onerror=alert(1)>",
        "<IMG SRC=http://ok.example/a.png ONERROR=alert(1)>",
        "<img src=\"http://ok.example/a.png\" OnErRoR=\"alert(1)\">",
        "<body onload=alert(1)>",
        "<div onmouseover=\"alert(1)\">hover</div>",
        "<p ONMOUSEOVER=alert(1)>x</p>",
        "<details open ontoggle=alert(1)>x</details>",
        "<input autofocus onfocus=alert(1)>",
        "<video><source onerror=alert(1)></video>",
        "<a href=\"https://ok.example/\" onclick=\"alert(1)\" target=\"_blank\">x</a>",
        // Script URLs.
        "<a href=\"javascript:alert(1)\">x</a>",
        "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
        "<a href=\"java&#x09;script:alert(1)\">x</a>",
        "<a href=\"jav&#x0A;ascript:alert(1)\">x</a>",
        "<a href=\"&#106;avascript:alert(1)\">x</a>",
        "<a href=\"&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;:alert(1)\">x</a>",
        "<a href=\"javascript&colon;alert(1)\">x</a>",
        "<a href=\"  javascript:alert(1)\">x</a>",
        "<a href=\"\u{1}\u{7}javascript:alert(1)\">x</a>",
        "<a href=\"&#x01;&#x20;javascript:alert(1)\">x</a>",
        "<img src=\"javascript:alert(1)\">",
        "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
        "<img src=\"data:text/html,<script>alert(1)</script>\">",
        "<a href=\"vbscript:msgbox(1)\">x</a>",
        "<a href=\"VBScript:msgbox(1)\">x</a>",
        // SVG and MathML.
        "<svg onload=alert(1)>",
        "<svg><script>alert(1)</script></svg>",
        "<svg><a xlink:href=\"javascript:alert(1)\"><text x=\"20\" y=\"20\">x</text></a></svg>",
        "<svg><animate attributeName=href values=javascript:alert(1) /><a><text>x</text></a></svg>",
        "<math><a xlink:href=\"javascript:alert(1)\">x</a></math>",
        // CSS.
        "<div style=\"width:expression(alert(1))\">x</div>",
        "<div style=background:url(javascript:alert(1))>x</div>",
        "<style>@import 'http://evil.example/x.css';</style>",
        "<STYLE>li {list-style-image: url(\"javascript:alert(1)\");}</STYLE><ul><li>x</li></ul>",
        "<img src=\"http://ok.example/a.png\" STYLE=\"x:expression(alert(1))\">",
        // Frames, plugins, page-level tags, forms.
        "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
        "<iframe src=\"javascript:alert(1)\"></iframe>",
        "<object data=\"javascript:alert(1)\"></object>",
        "<embed src=\"javascript:alert(1)\">",
        "<base href=\"javascript:alert(1)//\">",
        "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
        "<link rel=stylesheet href=\"javascript:alert(1)\">",
        "<form action=\"javascript:alert(1)\"><input type=submit></form>",
        "<button formaction=\"javascript:alert(1)\">x</button>",
        "<table background=\"javascript:alert(1)\"><tr><td>x</td></tr></table>",
        // Mutation XSS.
        "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
        "<svg></p><style><a id=\"</style><img src=1 onerror=alert(1)>\">",
        "<math><mtext><table><mglyph><style><!--</style><img title=\"--&gt;&lt;/mglyph&gt;&lt;img&Tab;src=1&Tab;onerror=alert(1)&gt;\">",
        "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>",
        "<xmp><img src=x onerror=alert(1)></xmp>",
        "<textarea><img src=x onerror=alert(1)></textarea>",
        // Comments that hide tags.
        "<!--<img src=x onerror=alert(1)>-->",
        "<!-- --!><img src=x onerror=alert(1)> -->",
        "<!--[if gte IE 4]><script>alert(1)</script><![endif]-->",
        "<!--><script>alert(1)</script>-->",
        "<? foo=\"><script>alert(1)</script>\">",
    ];

    /// One tag of serialized output. Text cannot hold a `<` (the serializer escapes it), so
    /// every `<` starts a tag; attribute values are always double-quoted.
    struct Tag {
        name: String,
        attributes: Vec<(String, String)>,
    }

    fn tags(html: &str) -> Vec<Tag> {
        let mut found = Vec::new();
        let mut rest = html;
        while let Some(start) = rest.find('<') {
            rest = rest[start + 1..].trim_start_matches('/');
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .unwrap_or(rest.len());
            let name = rest[..end].to_ascii_lowercase();
            rest = &rest[end..];
            let mut attributes = Vec::new();
            loop {
                rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
                if rest.is_empty() || rest.starts_with('>') {
                    break;
                }
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == '=' || c == '>')
                    .unwrap_or(rest.len());
                let attribute = rest[..end].to_ascii_lowercase();
                rest = &rest[end..];
                let mut value = String::new();
                if let Some(quoted) = rest.strip_prefix("=\"") {
                    let end = quoted.find('"').unwrap_or(quoted.len());
                    value = unescape(&quoted[..end]);
                    rest = quoted.get(end + 1..).unwrap_or("");
                }
                attributes.push((attribute, value));
            }
            found.push(Tag { name, attributes });
        }
        found
    }

    /// The serializer's escapes, undone the way a browser reading the attribute would.
    fn unescape(value: &str) -> String {
        value
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&nbsp;", "\u{a0}")
            .replace("&amp;", "&")
    }

    /// A URL as a browser sees its scheme: leading C0 controls and spaces trimmed, tabs and
    /// newlines removed anywhere, case folded.
    fn url_as_browser_reads(value: &str) -> String {
        value
            .trim_start_matches(|c: char| c <= ' ')
            .chars()
            .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
            .collect::<String>()
            .to_ascii_lowercase()
    }

    fn problems(out: &str) -> Vec<String> {
        let mut problems = Vec::new();
        let lower = out.to_ascii_lowercase();
        for tag in [
            "script", "svg", "math", "style", "iframe", "object", "embed", "base", "meta", "form",
            "link",
        ] {
            if lower.contains(&format!("<{tag}")) {
                problems.push(format!("<{tag} tag"));
            }
        }
        for tag in tags(out) {
            if !TAGS.contains(&tag.name.as_str()) {
                problems.push(format!("tag {:?} is not on the allow-list", tag.name));
            }
            for (attribute, value) in &tag.attributes {
                if attribute.starts_with("on") {
                    problems.push(format!("event handler {attribute}"));
                }
                if matches!(attribute.as_str(), "style" | "class" | "id" | "target") {
                    problems.push(format!("{attribute} attribute"));
                }
                let url = url_as_browser_reads(value);
                for scheme in ["javascript:", "vbscript:", "data:"] {
                    if url.starts_with(scheme) {
                        problems.push(format!("{scheme} URL in {attribute}"));
                    }
                }
                let allowed: &[&str] = match attribute.as_str() {
                    "href" => &["http://", "https://", "mailto:", "tel:"],
                    "src" => &["http://", "https://"],
                    _ => continue,
                };
                if !allowed.iter().any(|prefix| url.starts_with(prefix)) {
                    problems.push(format!(
                        "{attribute}={value:?} has a scheme not allowed there"
                    ));
                }
            }
        }
        problems
    }

    #[test]
    fn the_checker_sees_what_it_looks_for() {
        for bad in [
            "<script>alert(1)</script>",
            "<img src=\"http://a.example/\" onerror=\"alert(1)\">",
            "<a href=\"\tjava\nscript:alert(1)\">x</a>",
            "<p style=\"x\">x</p>",
            "<img src=\"data:image/png;base64,AAAA\">",
            "<SVG>",
            "<a href=\"/relative\">x</a>",
        ] {
            assert!(!problems(bad).is_empty(), "checker missed {bad:?}");
        }
        assert_eq!(
            problems("<p>a &lt;script&gt; onerror=x</p><a href=\"https://a.example/\">x</a>"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn xss_corpus_comes_out_inert_and_stable() {
        assert!(XSS.len() >= 40);
        for payload in XSS {
            let out = SanitizedHtml::sanitize(payload);
            let problems = problems(out.as_str());
            assert!(
                problems.is_empty(),
                "{payload:?} -> {:?}: {problems:?}",
                out.as_str()
            );
            let again = SanitizedHtml::sanitize(out.as_str());
            assert_eq!(again, out, "{payload:?} changed when sanitized again");
        }
    }

    #[test]
    fn xss_corpus_comes_out_inert_with_a_cid_mapping_too() {
        let map = |_: &str| Some("https://support.example/blobs/1".to_owned());
        for payload in XSS {
            let out = SanitizedHtml::sanitize_with(payload, &map);
            let problems = problems(out.as_str());
            assert!(problems.is_empty(), "{payload:?} -> {out:?}: {problems:?}");
            assert_eq!(SanitizedHtml::sanitize(out.as_str()), out, "{payload:?}");
        }
    }

    #[test]
    fn links_keep_their_href_and_get_a_fixed_rel() {
        let out = SanitizedHtml::sanitize(
            "<a href=\"https://example.com/a?b=1&amp;c=2\" target=\"_blank\" rel=\"opener\">docs</a> \
             <a href=\"mailto:help@example.com\">mail</a> <a href=\"tel:+15551234\">call</a>",
        );
        assert_eq!(
            out.as_str(),
            "<a href=\"https://example.com/a?b=1&amp;c=2\" rel=\"noopener noreferrer nofollow\">docs</a> \
             <a href=\"mailto:help@example.com\" rel=\"noopener noreferrer nofollow\">mail</a> \
             <a href=\"tel:+15551234\" rel=\"noopener noreferrer nofollow\">call</a>"
        );
    }

    #[test]
    fn relative_and_cid_links_lose_their_href() {
        let out = SanitizedHtml::sanitize(
            "<a href=\"/admin\">a</a><a href=\"//evil.example/\">b</a><a href=\"cid:x\">c</a>\
             <img src=\"/api/logout\">",
        );
        assert_eq!(
            out.as_str(),
            "<a rel=\"noopener noreferrer nofollow\">a</a>\
             <a rel=\"noopener noreferrer nofollow\">b</a>\
             <a rel=\"noopener noreferrer nofollow\">c</a><img>"
        );
    }

    #[test]
    fn tables_and_text_structure_survive() {
        let html = "<h2 align=\"center\">Order</h2><p>Hi <b>Ann</b>, <em>thanks</em>.</p>\
                    <table border=\"1\" cellpadding=\"4\"><thead><tr><th scope=\"col\">Item</th>\
                    <th>Qty</th></tr></thead><tbody><tr><td colspan=\"2\" valign=\"top\">Mug</td>\
                    </tr></tbody></table><ul><li>one</li></ul><blockquote>quoted</blockquote>\
                    <pre><code>x = 1</code></pre><hr><br>";
        assert_eq!(SanitizedHtml::sanitize(html).as_str(), html);
    }

    #[test]
    fn styling_and_page_hooks_are_dropped() {
        let out = SanitizedHtml::sanitize(
            "<div id=\"app\" class=\"banner\" style=\"position:fixed\">x</div>\
             <form><p>in a form</p><input name=q></form>",
        );
        assert_eq!(out.as_str(), "<div>x</div><p>in a form</p>");
    }

    #[test]
    fn cid_images_are_rewritten_through_the_mapping_and_unmapped_ones_dropped() {
        let map = |id: &str| match id {
            "logo" => Some("https://support.example/blobs/logo-1".to_owned()),
            "part 2@mail" => Some("https://support.example/blobs/part-2".to_owned()),
            _ => None,
        };
        let out = SanitizedHtml::sanitize_with(
            "<img src=\"cid:logo\" alt=\"Logo\"><img src=\"CID:part%202@mail\">\
             <img src=\"cid:missing\" alt=\"gone\"><img src=\"https://cdn.example/a.png\">",
            &map,
        );
        assert_eq!(
            out.as_str(),
            "<img src=\"https://support.example/blobs/logo-1\" alt=\"Logo\">\
             <img src=\"https://support.example/blobs/part-2\">\
             <img alt=\"gone\"><img src=\"https://cdn.example/a.png\">"
        );
        // Reading it back sanitizes it again without a mapping: the blob URLs must stay.
        assert_eq!(SanitizedHtml::sanitize(out.as_str()), out);
    }

    #[test]
    fn a_mapping_cannot_bring_in_what_the_sanitizer_refuses() {
        for url in [
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "/blobs/relative",
            "cid:loop",
        ] {
            let out =
                SanitizedHtml::sanitize_with("<img src=\"cid:x\">", &|_| Some(url.to_owned()));
            assert_eq!(out.as_str(), "<img>", "{url}");
        }
    }

    #[test]
    fn plain_sanitize_drops_cid_sources() {
        let out = SanitizedHtml::sanitize("<img src=\"cid:logo\" alt=\"Logo\">");
        assert_eq!(out.as_str(), "<img alt=\"Logo\">");
    }

    #[test]
    fn text_stays_escaped() {
        let out = SanitizedHtml::sanitize("1 < 2 && 3 > 2, &lt;b&gt;not bold&lt;/b&gt;");
        assert_eq!(
            out.as_str(),
            "1 &lt; 2 &amp;&amp; 3 &gt; 2, &lt;b&gt;not bold&lt;/b&gt;"
        );
        assert_eq!(SanitizedHtml::sanitize(out.as_str()), out);
    }

    #[test]
    fn deserializing_sanitizes_again() {
        let read: SanitizedHtml = serde_json::from_str("\"<img src=x onerror=alert(1)>\"").unwrap();
        assert_eq!(read.as_str(), "<img>");

        let kept = SanitizedHtml::sanitize("<p>Hi <a href=\"https://a.example/\">there</a></p>");
        let json = serde_json::to_string(&kept).unwrap();
        assert_eq!(
            json,
            r#""<p>Hi <a href=\"https://a.example/\" rel=\"noopener noreferrer nofollow\">there</a></p>""#
        );
        assert_eq!(serde_json::from_str::<SanitizedHtml>(&json).unwrap(), kept);
    }

    #[test]
    fn accessors() {
        assert!(SanitizedHtml::sanitize("").is_empty());
        assert!(SanitizedHtml::sanitize("<script>x</script><!-- y -->").is_empty());
        assert!(SanitizedHtml::default().is_empty());
        let html = SanitizedHtml::sanitize("<b>x</b>");
        assert!(!html.is_empty());
        assert_eq!(html.clone().into_string(), html.as_str());
    }

    #[test]
    fn percent_decoding_refuses_malformed_escapes() {
        assert_eq!(percent_decode("a%20b%C3%A9").as_deref(), Some("a bé"));
        assert_eq!(percent_decode("a%2"), None);
        assert_eq!(percent_decode("a%+1"), None);
        assert_eq!(percent_decode("%FF"), None);
    }
}
