//! Canned responses: the rules for their shortcuts and locales, and how their
//! placeholders are filled in. Pure; the store keeps them (`Store::canned_by_prefix`, …).
//!
//! Placeholders: `{{contact.name}}`, `{{conversation.number}}`, `{{agent.name}}` (spaces
//! inside the braces are allowed). A placeholder the renderer does not know, or one whose
//! value is missing, stays visible as written, so the agent sees what to fill in before
//! sending; except the contact's name, which falls back politely: "there" in English
//! ("Hi there,"), and in other languages nothing, taking the comma or space before it
//! along ("¡Hola, {{contact.name}}!" becomes "¡Hola!").

use crate::error::{Error, Result};

/// What placeholders are filled with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlaceholderValues {
    pub contact_name: Option<String>,
    pub conversation_number: Option<i64>,
    pub agent_name: Option<String>,
    /// The response's locale, for the fallbacks (`en`, `es`, `pt-BR`, …).
    pub locale: String,
}

/// What stands in for a contact without a name.
pub fn contact_name_fallback(locale: &str) -> &'static str {
    if locale.to_ascii_lowercase().starts_with("en") {
        "there"
    } else {
        ""
    }
}

/// Fills in a canned response's placeholders (see the module's documentation).
pub fn render_canned(body: &str, values: &PlaceholderValues) -> String {
    let mut out = String::with_capacity(body.len() + 32);
    let mut rest = body;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            out.push_str(&rest[open..]);
            return out;
        };
        let written = &rest[open..open + 2 + close + 2];
        let key = after[..close].trim();
        let non_empty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        match key {
            "contact.name" => {
                let name = non_empty(&values.contact_name)
                    .unwrap_or_else(|| contact_name_fallback(&values.locale).to_owned());
                if name.is_empty() {
                    // "Hola, {{contact.name}}!" → "Hola!": the separator goes too.
                    let kept = out.trim_end().trim_end_matches(',').trim_end().len();
                    out.truncate(kept);
                } else {
                    out.push_str(&name);
                }
            }
            "conversation.number" => match values.conversation_number {
                Some(n) => out.push_str(&n.to_string()),
                None => out.push_str(written),
            },
            "agent.name" => match non_empty(&values.agent_name) {
                Some(name) => out.push_str(&name),
                None => out.push_str(written),
            },
            _ => out.push_str(written),
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}

/// A shortcut as stored: without the composer's leading `/`, lower-case, 1 to 32 of
/// `a-z`, `0-9`, `-` and `_`.
pub fn normalize_shortcut(shortcut: &str) -> Result<String> {
    let s = shortcut.trim().trim_start_matches('/').to_lowercase();
    if s.is_empty()
        || s.chars().count() > 32
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::invalid(format!(
            "shortcut {shortcut:?} must be 1-32 letters, digits, '-' or '_'"
        )));
    }
    Ok(s)
}

/// A locale as stored: a language (`en`, lower-case), optionally with a region
/// (`pt-BR`, upper-case).
pub fn normalize_locale(locale: &str) -> Result<String> {
    let t = locale.trim().replace('_', "-");
    let mut parts = t.split('-');
    let lang = parts.next().unwrap_or("").to_ascii_lowercase();
    let region = parts.next().map(str::to_ascii_uppercase);
    let ok_lang = (2..=3).contains(&lang.len()) && lang.chars().all(|c| c.is_ascii_alphabetic());
    let ok_region = region
        .as_deref()
        .is_none_or(|r| r.len() == 2 && r.chars().all(|c| c.is_ascii_alphabetic()));
    if !ok_lang || !ok_region || parts.next().is_some() {
        return Err(Error::invalid(format!(
            "locale {locale:?} must look like en, es or pt-BR"
        )));
    }
    Ok(match region {
        Some(r) => format!("{lang}-{r}"),
        None => lang,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn values(name: Option<&str>, locale: &str) -> PlaceholderValues {
        PlaceholderValues {
            contact_name: name.map(str::to_owned),
            conversation_number: Some(1042),
            agent_name: Some("Bea".into()),
            locale: locale.into(),
        }
    }

    #[test]
    fn placeholders_are_filled() {
        let body = "Hi {{contact.name}}, I'm {{ agent.name }}: #{{conversation.number}}.";
        assert_eq!(
            render_canned(body, &values(Some("Ana"), "en")),
            "Hi Ana, I'm Bea: #1042."
        );
    }

    #[test]
    fn a_missing_name_falls_back_politely_per_locale() {
        assert_eq!(
            render_canned("Hi {{contact.name}}, thanks!", &values(None, "en")),
            "Hi there, thanks!"
        );
        assert_eq!(
            render_canned("¡Hola, {{contact.name}}! Gracias.", &values(None, "es")),
            "¡Hola! Gracias."
        );
        assert_eq!(
            render_canned(
                "Olá, {{contact.name}}! Tudo bem?",
                &values(Some("  "), "pt-BR")
            ),
            "Olá! Tudo bem?"
        );
    }

    #[test]
    fn unknown_or_unfilled_placeholders_stay_visible() {
        let mut v = values(Some("Ana"), "en");
        v.agent_name = None;
        v.conversation_number = None;
        assert_eq!(
            render_canned(
                "{{agent.name}} {{conversation.number}} {{order.id}} {{oops",
                &v
            ),
            "{{agent.name}} {{conversation.number}} {{order.id}} {{oops"
        );
        assert_eq!(render_canned("no placeholders", &v), "no placeholders");
    }

    #[test]
    fn shortcuts_and_locales_are_normalized() {
        assert_eq!(normalize_shortcut("/Greeting").unwrap(), "greeting");
        assert_eq!(normalize_shortcut("follow-up_2").unwrap(), "follow-up_2");
        assert!(normalize_shortcut("/").is_err());
        assert!(normalize_shortcut("two words").is_err());
        assert!(normalize_shortcut(&"x".repeat(33)).is_err());
        assert_eq!(normalize_locale("pt_br").unwrap(), "pt-BR");
        assert_eq!(normalize_locale("EN").unwrap(), "en");
        assert!(normalize_locale("portuguese").is_err());
        assert!(normalize_locale("pt-BR-x").is_err());
    }
}
