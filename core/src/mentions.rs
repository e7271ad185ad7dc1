//! @mentions in internal notes: `@ana` (the local part of an agent's email address) or
//! `@"Ana Souza"` (an agent's full name). Pure; the workflow resolves them to agents who
//! may see the conversation.

use crate::domain::User;

/// One mention as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mention {
    /// `@ana`: an email address's local part, lower-cased.
    Handle(String),
    /// `@"Ana Souza"`: a full name, as written.
    Name(String),
}

fn handle_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '+')
}

/// The mentions of a text, in order, each once. An `@` inside a word (an email address
/// such as `ana@example.com`) is not a mention.
pub fn parse_mentions(text: &str) -> Vec<Mention> {
    let mut out: Vec<Mention> = Vec::new();
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        let starts = c == '@' && prev.is_none_or(|p| !handle_char(p) && p != '@');
        prev = Some(c);
        if !starts {
            continue;
        }
        let rest = &text[i + 1..];
        let mention = if let Some(quoted) = rest.strip_prefix('"') {
            quoted.find('"').and_then(|end| {
                let name = quoted[..end].trim();
                (!name.is_empty() && name.chars().count() <= 100 && !name.contains('\n'))
                    .then(|| Mention::Name(name.to_owned()))
            })
        } else {
            let end = rest.find(|c: char| !handle_char(c)).unwrap_or(rest.len());
            // A sentence may end right after the handle: "thanks @ana."
            let handle = rest[..end].trim_end_matches(['.', '-', '_', '+']);
            (!handle.is_empty()).then(|| Mention::Handle(handle.to_lowercase()))
        };
        if let Some(m) = mention
            && !out.contains(&m)
        {
            out.push(m);
        }
    }
    out
}

/// Whether a mention names this user.
pub fn names(mention: &Mention, user: &User) -> bool {
    match mention {
        Mention::Handle(h) => user
            .email
            .split_once('@')
            .is_some_and(|(local, _)| local.to_lowercase() == *h),
        Mention::Name(n) => user
            .name
            .as_deref()
            .is_some_and(|name| name.trim().to_lowercase() == n.to_lowercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Mention {
        Mention::Handle(s.into())
    }

    #[test]
    fn handles_and_quoted_names_are_found_once_each() {
        assert_eq!(
            parse_mentions("@Ana can you look? cc @\"Bea Lima\", thanks @ana."),
            vec![h("ana"), Mention::Name("Bea Lima".into())]
        );
        assert_eq!(parse_mentions("(@joao.silva)"), vec![h("joao.silva")]);
    }

    #[test]
    fn email_addresses_and_lone_signs_are_not_mentions() {
        assert!(parse_mentions("write to ana@example.com").is_empty());
        assert!(parse_mentions("@ alone, @\"\" and @\"unclosed").is_empty());
        assert!(parse_mentions("@@ana").is_empty());
    }

    #[test]
    fn mentions_name_users_by_local_part_or_full_name() {
        let user = User {
            id: "u1".into(),
            email: "ana.souza@example.com".into(),
            name: Some("Ana Souza".into()),
            role: crate::domain::Role::Support,
            tier: None,
            created_at: 0,
            active: true,
            locale: "en".into(),
            capacity: 10,
            totp_enabled: false,
        };
        assert!(names(&h("ana.souza"), &user));
        assert!(names(&Mention::Name("ana souza".into()), &user));
        assert!(!names(&h("ana"), &user));
        assert!(!names(&Mention::Name("Ana".into()), &user));
    }
}
