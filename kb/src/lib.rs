//! The knowledge base: articles in several languages, their import and export, their
//! Markdown made into safe HTML, and the search index (tantivy, one analyzer per
//! language) that the help center, the widget, the agents and the bot ask.

pub mod import;
pub mod index;
pub mod markdown;
pub mod text;

pub use index::{Audience, Hit, KbIndex, SearchQuery};
/// What the search index fails with.
pub type IndexError = tantivy::TantivyError;
pub use switchboard_core::store::kb::{
    Article, ArticleFilter, ArticleInput, ArticleKind, ArticleStatus, Saved,
};

/// A language the knowledge base is written in; serialized as its code ("pt").
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    Es,
    Pt,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Es, Lang::Pt];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
            Lang::Pt => "pt",
        }
    }

    /// The language's own name, for menus.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Es => "Español",
            Lang::Pt => "Português",
        }
    }

    /// "en", "es", "pt" (and "pt-BR" and the like, by their first part).
    pub fn parse(s: &str) -> Option<Lang> {
        let head = s.split(['-', '_']).next().unwrap_or("");
        match head.to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "es" => Some(Lang::Es),
            "pt" => Some(Lang::Pt),
            _ => None,
        }
    }
}
