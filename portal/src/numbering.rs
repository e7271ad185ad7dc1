//! Invoice and estimate numbers, per business, from a pattern the business chooses:
//! `INV-{YYYY}-{SEQ:5}` gives `INV-2026-00042`. Placeholders: `{YYYY}` and `{YY}` (the
//! issue year), `{MM}` (the issue month), `{SEQ}` or `{SEQ:n}` (the sequence, zero-padded
//! to `n` digits, required exactly once). Anything else is written as is. A pattern is
//! checked once, when it is set, so issuing a number never fails on it.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Year4,
    Year2,
    Month,
    Seq(usize),
}

/// A checked numbering pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    parts: Vec<Part>,
    source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("the pattern needs {{SEQ}} exactly once (found {0})")]
    Sequence(usize),
    #[error("unknown placeholder {{{0}}}: use {{YYYY}}, {{YY}}, {{MM}}, {{SEQ}} or {{SEQ:n}}")]
    Unknown(String),
    #[error("an unclosed {{ in the pattern")]
    Unclosed,
    #[error("a sequence is padded to 1 to 12 digits")]
    Padding,
    #[error("the pattern may hold letters, digits, spaces and - / . _ # outside placeholders")]
    Character(char),
    #[error("the pattern is longer than 40 characters")]
    TooLong,
}

impl Pattern {
    pub fn parse(source: &str) -> Result<Self, PatternError> {
        if source.chars().count() > 40 {
            return Err(PatternError::TooLong);
        }
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = source;
        while let Some(c) = rest.chars().next() {
            if c == '{' {
                let end = rest.find('}').ok_or(PatternError::Unclosed)?;
                let name = &rest[1..end];
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                parts.push(match name {
                    "YYYY" => Part::Year4,
                    "YY" => Part::Year2,
                    "MM" => Part::Month,
                    "SEQ" => Part::Seq(1),
                    n if n.starts_with("SEQ:") => {
                        let pad: usize = n[4..].parse().map_err(|_| PatternError::Padding)?;
                        if !(1..=12).contains(&pad) {
                            return Err(PatternError::Padding);
                        }
                        Part::Seq(pad)
                    }
                    other => return Err(PatternError::Unknown(other.to_owned())),
                });
                rest = &rest[end + 1..];
                continue;
            }
            if !(c.is_alphanumeric() || matches!(c, '-' | '/' | '.' | '_' | '#' | ' ')) {
                return Err(PatternError::Character(c));
            }
            text.push(c);
            rest = &rest[c.len_utf8()..];
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        let seqs = parts.iter().filter(|p| matches!(p, Part::Seq(_))).count();
        if seqs != 1 {
            return Err(PatternError::Sequence(seqs));
        }
        Ok(Self {
            parts,
            source: source.to_owned(),
        })
    }

    /// Whether numbers restart each year (the pattern shows the year).
    pub fn yearly(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Year4 | Part::Year2))
    }

    /// The number for the `seq`-th document issued in `year`-`month`.
    pub fn format(&self, year: i32, month: u32, seq: u64) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Year4 => out.push_str(&format!("{year:04}")),
                Part::Year2 => out.push_str(&format!("{:02}", year.rem_euclid(100))),
                Part::Month => out.push_str(&format!("{month:02}")),
                Part::Seq(pad) => out.push_str(&format!("{seq:0pad$}", pad = *pad)),
            }
        }
        out
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_make_the_numbers_businesses_use() {
        let p = Pattern::parse("INV-{YYYY}-{SEQ:5}").unwrap();
        assert_eq!(p.format(2026, 11, 42), "INV-2026-00042");
        assert!(p.yearly());
        assert_eq!(
            p.format(2026, 11, 123_456),
            "INV-2026-123456",
            "wider than the padding"
        );
        let p = Pattern::parse("NF {YY}/{MM}-{SEQ}").unwrap();
        assert_eq!(p.format(2026, 3, 7), "NF 26/03-7");
        let p = Pattern::parse("#{SEQ:4}").unwrap();
        assert_eq!(p.format(2026, 1, 1), "#0001");
        assert!(!p.yearly(), "no year: one sequence for ever");
        assert_eq!(p.to_string(), "#{SEQ:4}");
        let p = Pattern::parse("Fatura-{SEQ:3}-ção").unwrap();
        assert_eq!(p.format(2026, 1, 9), "Fatura-009-ção");
    }

    #[test]
    fn bad_patterns_say_what_is_wrong() {
        assert_eq!(Pattern::parse("INV-{YYYY}"), Err(PatternError::Sequence(0)));
        assert_eq!(
            Pattern::parse("{SEQ}-{SEQ}"),
            Err(PatternError::Sequence(2))
        );
        assert_eq!(
            Pattern::parse("{DD}-{SEQ}"),
            Err(PatternError::Unknown("DD".into()))
        );
        assert_eq!(Pattern::parse("INV-{SEQ"), Err(PatternError::Unclosed));
        assert_eq!(Pattern::parse("{SEQ:0}"), Err(PatternError::Padding));
        assert_eq!(Pattern::parse("{SEQ:x}"), Err(PatternError::Padding));
        assert_eq!(
            Pattern::parse("<b>{SEQ}"),
            Err(PatternError::Character('<'))
        );
        assert_eq!(
            Pattern::parse(&format!("{}{{SEQ}}", "A".repeat(40))),
            Err(PatternError::TooLong)
        );
    }
}
