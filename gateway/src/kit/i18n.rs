//! The agent pages' languages: English, Spanish and Brazilian Portuguese, with Fluent
//! (`locales/<lang>/main.ftl`, compiled into the binary). A user's own setting wins; else
//! the browser's `Accept-Language`; else English.

use std::borrow::Cow;
use std::collections::HashMap;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, langid};

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // No Unicode isolation marks around arguments: they show up as boxes in some fonts
        // and break copy-paste of numbers.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// The languages the pages speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    En,
    Es,
    PtBr,
}

impl Locale {
    pub const ALL: [Locale; 3] = [Locale::En, Locale::Es, Locale::PtBr];

    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Es => "es",
            Locale::PtBr => "pt-BR",
        }
    }

    /// A stored setting ("en", "es", "pt-BR"; also "pt").
    pub fn parse(tag: &str) -> Option<Locale> {
        let tag = tag.trim().to_ascii_lowercase();
        let primary = tag.split(['-', '_']).next().unwrap_or("");
        match primary {
            "en" => Some(Locale::En),
            "es" => Some(Locale::Es),
            "pt" => Some(Locale::PtBr),
            _ => None,
        }
    }

    /// The best of ours for an `Accept-Language` header, by its q-values.
    pub fn negotiate(accept_language: Option<&str>) -> Locale {
        let Some(header) = accept_language else {
            return Locale::En;
        };
        let mut best: Option<(f32, usize, Locale)> = None;
        for (i, part) in header.split(',').enumerate() {
            let mut bits = part.split(';');
            let tag = bits.next().unwrap_or("").trim();
            let q = bits
                .find_map(|b| b.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if q <= 0.0 {
                continue;
            }
            if let Some(l) = Locale::parse(tag) {
                // Higher q wins; among equals, the earlier one.
                if best.is_none_or(|(bq, bi, _)| q > bq || (q == bq && i < bi)) {
                    best = Some((q, i, l));
                }
            }
        }
        best.map_or(Locale::En, |(_, _, l)| l)
    }

    fn langid(self) -> LanguageIdentifier {
        match self {
            Locale::En => langid!("en"),
            Locale::Es => langid!("es"),
            Locale::PtBr => langid!("pt-BR"),
        }
    }
}

/// Looks texts up in one language; templates call `t.t("key")`.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub locale: Locale,
}

impl Tr {
    pub fn new(locale: Locale) -> Self {
        Self { locale }
    }

    pub fn lang(&self) -> &'static str {
        self.locale.tag()
    }

    /// The text for `key`.
    pub fn t(&self, key: &str) -> String {
        LOCALES.lookup(&self.locale.langid(), key)
    }

    /// The text for `key` with one argument.
    pub fn t1(&self, key: &str, name: &'static str, value: impl Into<Arg>) -> String {
        let mut args: HashMap<Cow<'static, str>, FluentValue<'_>> = HashMap::new();
        args.insert(Cow::Borrowed(name), value.into().0);
        LOCALES.lookup_with_args(&self.locale.langid(), key, &args)
    }

    /// The text for `key` with two arguments.
    pub fn t2(
        &self,
        key: &str,
        a: &'static str,
        av: impl Into<Arg>,
        b: &'static str,
        bv: impl Into<Arg>,
    ) -> String {
        let mut args: HashMap<Cow<'static, str>, FluentValue<'_>> = HashMap::new();
        args.insert(Cow::Borrowed(a), av.into().0);
        args.insert(Cow::Borrowed(b), bv.into().0);
        LOCALES.lookup_with_args(&self.locale.langid(), key, &args)
    }

    /// "3 min ago", "in 2 h", from milliseconds relative to now (negative: past).
    pub fn relative(&self, delta_ms: i64) -> String {
        let past = delta_ms <= 0;
        let abs = delta_ms.unsigned_abs() / 1000;
        let (key, n) = if abs < 60 {
            return self.t(if past {
                "time-just-now"
            } else {
                "time-in-moments"
            });
        } else if abs < 3600 {
            ("minutes", abs / 60)
        } else if abs < 86_400 {
            ("hours", abs / 3600)
        } else {
            ("days", abs / 86_400)
        };
        let key = format!("time-{}-{key}", if past { "ago" } else { "in" });
        self.t1(&key, "n", i64::try_from(n).unwrap_or(i64::MAX))
    }

    /// A whole number with the locale's grouping ("1,234", "1.234").
    pub fn number(&self, n: i64) -> String {
        let digits = n.unsigned_abs().to_string();
        let sep = match self.locale {
            Locale::En => ',',
            Locale::Es | Locale::PtBr => '.',
        };
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(sep);
            }
            out.push(c);
        }
        if n < 0 { format!("-{out}") } else { out }
    }

    /// A duration in words, compact: "45 min", "3 h 10 min", "2 d 4 h".
    pub fn duration(&self, ms: i64) -> String {
        let m = ms.max(0) / 60_000;
        if m < 60 {
            format!("{m} min")
        } else if m < 24 * 60 {
            let (h, r) = (m / 60, m % 60);
            if r == 0 {
                format!("{h} h")
            } else {
                format!("{h} h {r} min")
            }
        } else {
            let (d, h) = (m / (24 * 60), (m % (24 * 60)) / 60);
            let day = self.t("unit-day");
            if h == 0 {
                format!("{d} {day}")
            } else {
                format!("{d} {day} {h} h")
            }
        }
    }
}

/// A Fluent argument.
pub struct Arg(FluentValue<'static>);

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg(FluentValue::from(v))
    }
}
impl From<usize> for Arg {
    fn from(v: usize) -> Self {
        Arg(FluentValue::from(i64::try_from(v).unwrap_or(i64::MAX)))
    }
}
impl From<&i64> for Arg {
    fn from(v: &i64) -> Self {
        Arg(FluentValue::from(*v))
    }
}
impl From<&&str> for Arg {
    fn from(v: &&str) -> Self {
        Arg(FluentValue::from((*v).to_owned()))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg(FluentValue::from(v))
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg(FluentValue::from(v.to_owned()))
    }
}

pub fn locale_options(current: Option<&str>) -> Vec<(String, String, bool)> {
    let current = current.and_then(Locale::parse);
    Locale::ALL
        .iter()
        .map(|l| {
            let name = match l {
                Locale::En => "English",
                Locale::Es => "Español",
                Locale::PtBr => "Português (Brasil)",
            };
            (l.tag().to_owned(), name.to_owned(), current == Some(*l))
        })
        .collect()
}

/// A language by its own name.
pub fn locale_label(l: &str) -> String {
    match Locale::parse(l) {
        Some(Locale::En) => "English".into(),
        Some(Locale::Es) => "Español".into(),
        Some(Locale::PtBr) => "Português (Brasil)".into(),
        None => l.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_we_speak() {
        assert_eq!(
            Locale::negotiate(Some("pt-BR,pt;q=0.9,en;q=0.8")),
            Locale::PtBr
        );
        assert_eq!(
            Locale::negotiate(Some("de-DE,es;q=0.5,en;q=0.4")),
            Locale::Es
        );
        assert_eq!(Locale::negotiate(Some("en;q=0.2, es-MX")), Locale::Es);
        assert_eq!(Locale::negotiate(Some("fr, de")), Locale::En);
        assert_eq!(Locale::negotiate(Some("es;q=0, pt")), Locale::PtBr);
        assert_eq!(Locale::negotiate(None), Locale::En);
    }

    #[test]
    fn every_language_has_every_key() {
        let en = include_str!("../../locales/en/main.ftl");
        let keys = |src: &str| -> Vec<String> {
            src.lines()
                .filter(|l| !l.starts_with(['#', ' ', '\t', '*', '[']) && l.contains(" ="))
                .filter_map(|l| l.split(" =").next().map(str::to_owned))
                .collect()
        };
        let want = keys(en);
        assert!(want.len() > 50, "{}", want.len());
        for (name, src) in [
            ("es", include_str!("../../locales/es/main.ftl")),
            ("pt-BR", include_str!("../../locales/pt-BR/main.ftl")),
        ] {
            let have = keys(src);
            let missing: Vec<_> = want.iter().filter(|k| !have.contains(k)).collect();
            assert!(missing.is_empty(), "{name} lacks {missing:?}");
        }
    }

    #[test]
    fn numbers_and_times_follow_the_locale() {
        assert_eq!(Tr::new(Locale::En).number(1_234_567), "1,234,567");
        assert_eq!(Tr::new(Locale::PtBr).number(1_234), "1.234");
        assert_eq!(Tr::new(Locale::En).relative(-3 * 60_000), "3 min ago");
        assert_eq!(Tr::new(Locale::Es).relative(-3 * 60_000), "hace 3 min");
        assert_eq!(Tr::new(Locale::PtBr).relative(-2 * 3_600_000), "há 2 h");
        assert_eq!(Tr::new(Locale::En).duration(190 * 60_000), "3 h 10 min");
    }
}
