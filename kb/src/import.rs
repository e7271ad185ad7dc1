//! `switchboard kb import FILE`: articles from JSON Lines or CSV (DESIGN.md's format), and
//! `kb export` back to JSON Lines. Parsing is pure; every bad line is named with its
//! number, and a file with any bad line imports nothing.
//!
//! CSV lists are ` | `-separated, with quoted commas and newlines; every line becomes a
//! checked `ArticleInput` (tests `import::tests::*`).

use serde::{Deserialize, Serialize};

use crate::{Article, ArticleInput, ArticleKind, ArticleStatus};

/// One article as a file gives it. All but `title` and `body` are optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportArticle {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub title: String,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub questions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The id of another article of the file (or already stored) this one translates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translation_of: Option<String>,
}

/// A line that cannot be imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl ImportArticle {
    /// The article to save, every field checked.
    pub fn to_input(&self) -> Result<ArticleInput, String> {
        let kind = match self.kind.as_deref().map(str::trim) {
            None | Some("") => ArticleKind::Faq,
            Some(k) => ArticleKind::parse(&k.to_ascii_lowercase()).map_err(|e| short(&e))?,
        };
        let status = match self.status.as_deref().map(str::trim) {
            None | Some("") => ArticleStatus::Published,
            Some(s) => ArticleStatus::parse(&s.to_ascii_lowercase()).map_err(|e| short(&e))?,
        };
        ArticleInput {
            external_id: self.id.clone().filter(|s| !s.trim().is_empty()),
            lang: self.lang.clone().unwrap_or_default(),
            kind,
            status,
            category: self.category.clone().unwrap_or_default(),
            title: self.title.clone(),
            body: self.body.clone(),
            questions: self.questions.clone(),
            tags: self.tags.clone(),
            translation_of: self.translation_of.clone().filter(|s| !s.trim().is_empty()),
        }
        .checked()
        .map_err(|e| short(&e))
    }

    pub fn from_article(a: &Article, translation_of: Option<String>) -> Self {
        Self {
            id: Some(a.public_id().to_owned()),
            title: a.title.clone(),
            body: a.body.clone(),
            lang: Some(a.lang.clone()),
            kind: Some(a.kind.as_str().to_owned()),
            status: Some(a.status.as_str().to_owned()),
            category: Some(a.category.clone()).filter(|c| !c.is_empty()),
            questions: a.questions.clone(),
            tags: a.tags.clone(),
            translation_of,
        }
    }
}

fn short(e: &switchboard_core::Error) -> String {
    match e {
        switchboard_core::Error::Invalid(m) => m.clone(),
        other => other.to_string(),
    }
}

/// The format of a file, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Csv,
}

impl Format {
    pub fn of_path(path: &std::path::Path) -> Option<Format> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("jsonl" | "ndjson" | "json") => Some(Format::Jsonl),
            Some("csv") => Some(Format::Csv),
            _ => None,
        }
    }
}

/// Parses a whole file. `Err` lists every bad line (at most 50); `Ok` has every article
/// checked, with no two sharing an id.
pub fn parse(text: &str, format: Format) -> Result<Vec<(usize, ArticleInput)>, Vec<LineError>> {
    let rows = match format {
        Format::Jsonl => jsonl_rows(text),
        Format::Csv => csv_rows(text),
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut ids = std::collections::HashMap::new();
    for (line, row) in rows {
        match row.and_then(|r| r.to_input()) {
            Ok(input) => {
                if let Some(id) = &input.external_id
                    && let Some(first) = ids.insert(id.clone(), line)
                {
                    errors.push(LineError {
                        line,
                        message: format!("id {id:?} is also on line {first}"),
                    });
                    continue;
                }
                out.push((line, input));
            }
            Err(message) => errors.push(LineError { line, message }),
        }
        if errors.len() >= 50 {
            break;
        }
    }
    if text.trim().is_empty() {
        errors.push(LineError {
            line: 1,
            message: "the file has no articles".into(),
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

type Row = (usize, Result<ImportArticle, String>);

fn jsonl_rows(text: &str) -> Vec<Row> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            (
                i + 1,
                serde_json::from_str::<ImportArticle>(l.trim_start_matches('\u{feff}'))
                    .map_err(|e| format!("not an article: {e}")),
            )
        })
        .collect()
}

const CSV_COLUMNS: [&str; 10] = [
    "id",
    "title",
    "body",
    "lang",
    "kind",
    "status",
    "category",
    "questions",
    "tags",
    "translation_of",
];

fn csv_rows(text: &str) -> Vec<Row> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_ascii_lowercase()).collect(),
        Err(e) => return vec![(1, Err(format!("unreadable header: {e}")))],
    };
    if let Some(unknown) = headers.iter().find(|h| !CSV_COLUMNS.contains(&h.as_str())) {
        return vec![(
            1,
            Err(format!(
                "unknown column {unknown:?}; the columns are {}",
                CSV_COLUMNS.join(", ")
            )),
        )];
    }
    for needed in ["title", "body"] {
        if !headers.iter().any(|h| h == needed) {
            return vec![(1, Err(format!("the header has no {needed:?} column")))];
        }
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                rows.push((line, Err(format!("unreadable row: {e}"))));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        let get = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|i| record.get(i))
                .map(str::to_owned)
                .filter(|s| !s.trim().is_empty())
        };
        let list = |name: &str| {
            get(name)
                .map(|s| {
                    s.split(" | ")
                        .map(|p| p.trim().to_owned())
                        .filter(|p| !p.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        rows.push((
            line,
            Ok(ImportArticle {
                id: get("id"),
                title: get("title").unwrap_or_default(),
                body: get("body").unwrap_or_default(),
                lang: get("lang"),
                kind: get("kind"),
                status: get("status"),
                category: get("category"),
                questions: list("questions"),
                tags: list("tags"),
                translation_of: get("translation_of"),
            }),
        ));
    }
    rows
}

/// One JSON line per article, in DESIGN.md's format: what `kb import` reads back.
pub fn export_line(a: &ImportArticle) -> String {
    serde_json::to_string(a).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_in_the_documented_format_imports() {
        let text = r#"{"id":"ext-1","title":"Pay an invoice","body":"Open **Invoices**.","lang":"en","kind":"faq","category":"Billing","questions":["how do i pay"," how do i pay ","pay bill"],"tags":["billing"]}

{"title":"Pagar uma fatura","body":"Abra Faturas.","lang":"pt-BR","translation_of":"ext-1"}
"#;
        let got = parse(text, Format::Jsonl).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, 1);
        assert_eq!(got[0].1.questions, vec!["how do i pay", "pay bill"]);
        assert_eq!(got[1].0, 3);
        assert_eq!(got[1].1.lang, "pt");
        assert_eq!(got[1].1.status, ArticleStatus::Published);
        assert_eq!(got[1].1.translation_of.as_deref(), Some("ext-1"));
    }

    #[test]
    fn every_bad_line_is_named_and_nothing_is_taken() {
        let text = r#"{"id":"a","title":"T","body":"B"}
{"title":"","body":"B"}
not json
{"id":"a","title":"T2","body":"B2"}
{"title":"T","body":"B","lang":"fr"}
{"title":"T","body":"B","kind":"poem"}
{"title":"T","body":"B","colour":"red"}
"#;
        let errors = parse(text, Format::Jsonl).unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6, 7], "{errors:?}");
        assert!(errors[0].message.contains("title"));
        assert!(errors[2].message.contains("line 1"));
        assert!(errors[3].message.contains("en, es, pt"));
        assert!(parse("   \n", Format::Jsonl).is_err());
    }

    #[test]
    fn csv_lists_are_split_on_bars_and_quotes_hold_commas() {
        let text = "id,title,body,lang,questions,tags\n\
                    ext-2,\"Toner, ordering\",\"Line one,\nline two\",es,¿dónde pido tóner? | pedir toner,toner | pedidos\n";
        let got = parse(text, Format::Csv).unwrap();
        assert_eq!(got.len(), 1);
        let a = &got[0].1;
        assert_eq!(a.title, "Toner, ordering");
        assert_eq!(a.body, "Line one,\nline two");
        assert_eq!(a.questions, vec!["¿dónde pido tóner?", "pedir toner"]);
        assert_eq!(a.tags, vec!["toner", "pedidos"]);
        let bad = parse("title,colour\nx,y\n", Format::Csv).unwrap_err();
        assert!(bad[0].message.contains("colour"));
        let no_body = parse("id,title\nx,y\n", Format::Csv).unwrap_err();
        assert!(no_body[0].message.contains("body"));
    }

    #[test]
    fn an_export_reads_back_as_the_same_article() {
        let line = r#"{"id":"ext-1","title":"Pay","body":"Body","lang":"en","kind":"guide","status":"internal","category":"Billing","questions":["q1"],"tags":["t"]}"#;
        let first = parse(line, Format::Jsonl).unwrap();
        let back: ImportArticle = serde_json::from_str(line).unwrap();
        let again = parse(&export_line(&back), Format::Jsonl).unwrap();
        assert_eq!(first, again);
    }
}
