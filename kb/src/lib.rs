//! Knowledge base: articles, categories, translations, the search index and help-center pages.
