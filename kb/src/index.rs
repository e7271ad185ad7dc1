//! The search index: tantivy, in the data dir (or in memory for tests and benches).
//!
//! Each article is indexed in the fields of its language (`title_pt`, `questions_pt`,
//! `body_pt`…), each with that language's analyzer: words cut, case and accents folded,
//! stop words dropped, stems taken. A query is analyzed for every language it may be in,
//! and the language it looks like weighs more. Titles and alternate questions count more
//! than bodies. A word the index does not know is looked for with one or two typos; the
//! last word of a query still being typed is also taken as a prefix.
//!
//! The index follows article changes one by one ([`KbIndex::upsert`], [`KbIndex::remove`])
//! and can be compared with the database ([`KbIndex::sync`]) or rebuilt from it.
//!
//! The analyzers: lower case, stock stop words, accents folded, then the Snowball stem, so
//! "fatura" and "faturação" typed without accents meet. The language a query shows weighs
//! ×1.5 and the others ×0.5; titles ×3, alternate questions ×2. Excerpts mark matched words
//! in `<mark>` and escape the rest. Clients see published articles, agents also internal
//! ones, editors drafts (tests `index::tests::*`). The comparison with the database goes by
//! article versions (`diff`), so a restart re-indexes only what changed
//! (`changes_are_searchable_at_once_and_the_diff_names_what_moved`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use tantivy::collector::TopDocs;
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, TermQuery,
};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer, TokenStream,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term, doc};

use crate::text::{Guess, detect, typo_budget};
use crate::{Article, ArticleStatus, Lang};

/// Who is searching: clients see published articles; agents also internal ones; editors
/// also drafts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Client,
    Agent,
    Editor,
}

impl Audience {
    fn sees(self, s: ArticleStatus) -> bool {
        match self {
            Audience::Client => s == ArticleStatus::Published,
            Audience::Agent => s != ArticleStatus::Draft,
            Audience::Editor => true,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SearchQuery<'a> {
    pub text: &'a str,
    /// Only articles in this language; `None`: any, the query's own language first.
    pub lang: Option<Lang>,
    pub audience: Audience,
    pub limit: usize,
    /// The last word is still being typed: also match it as a prefix.
    pub as_you_type: bool,
}

impl<'a> SearchQuery<'a> {
    pub fn new(text: &'a str, audience: Audience) -> Self {
        Self {
            text,
            lang: None,
            audience,
            limit: 10,
            as_you_type: false,
        }
    }
}

/// A search result.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Hit {
    pub id: String,
    /// The importer's id when there is one, else `id`.
    pub public_id: String,
    pub lang: String,
    pub slug: String,
    pub title: String,
    pub category: String,
    pub status: String,
    pub score: f32,
    /// Plain-text excerpt around the words that matched.
    pub snippet: String,
    /// The same excerpt as HTML, the matched words in `<mark>`; everything else escaped.
    pub snippet_html: String,
}

#[derive(Debug, Clone, Copy)]
struct LangFields {
    title: Field,
    questions: Field,
    body: Field,
}

#[derive(Debug, Clone)]
struct Fields {
    id: Field,
    public_id: Field,
    lang: Field,
    status: Field,
    slug: Field,
    category: Field,
    title: Field,
    version: Field,
    per_lang: [LangFields; 3],
}

fn lang_index(l: Lang) -> usize {
    match l {
        Lang::En => 0,
        Lang::Es => 1,
        Lang::Pt => 2,
    }
}

fn analyzer_name(l: Lang) -> &'static str {
    match l {
        Lang::En => "kb_en",
        Lang::Es => "kb_es",
        Lang::Pt => "kb_pt",
    }
}

/// The analyzer of a language: words, lower case, its stop words (as written, then
/// folded), accents folded, stems. Folding comes before stemming so that a word typed with
/// or without its accents meets the same stem.
pub fn analyzer(l: Lang) -> TextAnalyzer {
    let language = match l {
        Lang::En => Language::English,
        Lang::Es => Language::Spanish,
        Lang::Pt => Language::Portuguese,
    };
    let builder = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser);
    match StopWordFilter::new(language) {
        Some(stop) => builder
            .filter(stop)
            .filter(AsciiFoldingFilter)
            .filter(StopWordFilter::remove(folded_stop_words(l)))
            .filter(Stemmer::new(language))
            .build(),
        None => builder
            .filter(AsciiFoldingFilter)
            .filter(Stemmer::new(language))
            .build(),
    }
}

/// Stop words as clients type them without accents (the stock lists have them with).
fn folded_stop_words(l: Lang) -> Vec<String> {
    let words: &[&str] = match l {
        Lang::En => &["im", "dont", "cant", "pls", "plz", "u"],
        Lang::Es => &[
            "esta", "estan", "mas", "tambien", "aqui", "alli", "asi", "como", "cual", "que", "q",
            "x",
        ],
        Lang::Pt => &[
            "nao", "esta", "estao", "voce", "voces", "vc", "vcs", "tb", "tbm", "pq", "q", "ja",
            "tambem", "entao", "ate", "so", "ta", "pra", "pro",
        ],
    };
    words.iter().map(|w| (*w).to_owned()).collect()
}

/// The terms a language's analyzer makes of a text.
pub fn analyze(l: Lang, text: &str) -> Vec<String> {
    let mut a = analyzer(l);
    let mut stream = a.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// The search index and its one writer.
pub struct KbIndex {
    reader: IndexReader,
    /// `None` when opened to read only (another process holds the writer).
    writer: Option<Mutex<IndexWriter>>,
    fields: Fields,
}

impl std::fmt::Debug for KbIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KbIndex").finish_non_exhaustive()
    }
}

pub type IndexResult<T> = Result<T, tantivy::TantivyError>;

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let id = b.add_text_field("id", STRING | STORED);
    let public_id = b.add_text_field("public_id", STORED);
    let lang = b.add_text_field("lang", STRING | STORED);
    let status = b.add_text_field("status", STRING | STORED);
    let slug = b.add_text_field("slug", STORED);
    let category = b.add_text_field("category", STORED);
    let title = b.add_text_field("title", STORED);
    let version = b.add_i64_field("version", STORED | FAST | INDEXED);
    let per_lang = Lang::ALL.map(|l| {
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(analyzer_name(l))
            .set_index_option(IndexRecordOption::WithFreqsAndPositions);
        let text = TextOptions::default().set_indexing_options(indexing);
        LangFields {
            title: b.add_text_field(&format!("title_{}", l.code()), text.clone()),
            questions: b.add_text_field(&format!("questions_{}", l.code()), text.clone()),
            body: b.add_text_field(&format!("body_{}", l.code()), text.set_stored()),
        }
    });
    let fields = Fields {
        id,
        public_id,
        lang,
        status,
        slug,
        category,
        title,
        version,
        per_lang,
    };
    (b.build(), fields)
}

impl KbIndex {
    /// The index in `dir`, created when missing. One process at a time may hold it.
    pub fn open(dir: &Path) -> IndexResult<Self> {
        std::fs::create_dir_all(dir)?;
        let (schema, fields) = schema();
        let directory = tantivy::directory::MmapDirectory::open(dir)?;
        let index = Index::open_or_create(directory, schema)?;
        Self::with_index(index, fields)
    }

    /// An index in memory.
    pub fn in_memory() -> IndexResult<Self> {
        let (schema, fields) = schema();
        Self::with_index(Index::create_in_ram(schema), fields)
    }

    /// The index in `dir` for searching only, while another process writes it.
    pub fn open_read_only(dir: &Path) -> IndexResult<Self> {
        let (_, fields) = schema();
        let index = Index::open_in_dir(dir)?;
        Self::build(index, fields, false)
    }

    fn with_index(index: Index, fields: Fields) -> IndexResult<Self> {
        Self::build(index, fields, true)
    }

    fn build(index: Index, fields: Fields, write: bool) -> IndexResult<Self> {
        for l in Lang::ALL {
            index.tokenizers().register(analyzer_name(l), analyzer(l));
        }
        let writer = if write {
            Some(Mutex::new(index.writer_with_num_threads(1, 32_000_000)?))
        } else {
            None
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            reader,
            writer,
            fields,
        })
    }

    fn writer(&self) -> IndexResult<std::sync::MutexGuard<'_, IndexWriter>> {
        match &self.writer {
            Some(w) => Ok(w.lock().unwrap_or_else(|p| p.into_inner())),
            None => Err(tantivy::TantivyError::InvalidArgument(
                "the index is open to read only".into(),
            )),
        }
    }

    /// Whether this process may change the index.
    pub fn writable(&self) -> bool {
        self.writer.is_some()
    }

    /// Sees what another process committed.
    pub fn refresh(&self) -> IndexResult<()> {
        self.reader.reload()
    }

    fn document(&self, a: &Article) -> Option<TantivyDocument> {
        let l = Lang::parse(&a.lang)?;
        let f = &self.fields;
        let lf = f.per_lang[lang_index(l)];
        let mut d = doc!(
            f.id => a.id.as_str(),
            f.public_id => a.public_id(),
            f.lang => l.code(),
            f.status => a.status.as_str(),
            f.slug => a.slug.as_str(),
            f.category => a.category.as_str(),
            f.title => a.title.as_str(),
            f.version => a.version,
            lf.title => a.title.as_str(),
            lf.body => crate::markdown::plain(&a.body),
        );
        for q in &a.questions {
            d.add_text(lf.questions, q);
        }
        for t in &a.tags {
            d.add_text(lf.questions, t);
        }
        Some(d)
    }

    /// Puts these articles in the index (replacing what it had of them) and makes them
    /// searchable before returning.
    pub fn upsert(&self, articles: &[Article]) -> IndexResult<()> {
        {
            let mut w = self.writer()?;
            for a in articles {
                w.delete_term(Term::from_field_text(self.fields.id, &a.id));
                if let Some(d) = self.document(a) {
                    w.add_document(d)?;
                }
            }
            w.commit()?;
        }
        self.reader.reload()
    }

    pub fn remove(&self, ids: &[String]) -> IndexResult<()> {
        {
            let mut w = self.writer()?;
            for id in ids {
                w.delete_term(Term::from_field_text(self.fields.id, id));
            }
            w.commit()?;
        }
        self.reader.reload()
    }

    /// Empties the index and fills it with these articles.
    pub fn rebuild(&self, articles: &[Article]) -> IndexResult<()> {
        {
            let mut w = self.writer()?;
            w.delete_all_documents()?;
            for a in articles {
                if let Some(d) = self.document(a) {
                    w.add_document(d)?;
                }
            }
            w.commit()?;
        }
        self.reader.reload()
    }

    /// Every indexed article's id and version.
    pub fn versions(&self) -> IndexResult<HashMap<String, i64>> {
        let searcher = self.reader.searcher();
        let mut out = HashMap::new();
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            let alive = segment.alive_bitset();
            for doc in 0..segment.max_doc() {
                if alive.is_some_and(|a| !a.is_alive(doc)) {
                    continue;
                }
                let d: TantivyDocument = searcher.doc(tantivy::DocAddress::new(ord as u32, doc))?;
                let id = d
                    .get_first(self.fields.id)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned();
                let v = d
                    .get_first(self.fields.version)
                    .and_then(|v| v.as_i64())
                    .unwrap_or(0);
                out.insert(id, v);
            }
        }
        Ok(out)
    }

    /// What differs from the database's `(id, version)` list: articles to (re)index and ids
    /// to drop. The caller reads the first from the database and applies both.
    pub fn diff(&self, stored: &[(String, i64)]) -> IndexResult<(Vec<String>, Vec<String>)> {
        let mut indexed = self.versions()?;
        let mut stale = Vec::new();
        for (id, v) in stored {
            if indexed.remove(id) != Some(*v) {
                stale.push(id.clone());
            }
        }
        Ok((stale, indexed.into_keys().collect()))
    }

    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn search(&self, q: &SearchQuery<'_>) -> IndexResult<Vec<Hit>> {
        let limit = q.limit.clamp(1, 100);
        let searcher = self.reader.searcher();
        let d = detect(q.text);
        let detected = d.guess.and_then(Guess::served).filter(|_| d.margin >= 1.0);
        let langs: Vec<Lang> = match q.lang {
            Some(l) => vec![l],
            None => Lang::ALL.to_vec(),
        };
        let mut per_lang: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut snippet_queries: HashMap<Lang, Box<dyn Query>> = HashMap::new();
        for l in langs {
            let Some(query) = self.text_query(&searcher, l, q)? else {
                continue;
            };
            snippet_queries.insert(l, query.box_clone());
            // A query that shows its language finds that language's articles first; the
            // others still come, below.
            let boost = match (q.lang, detected) {
                (None, Some(d)) if d == l => 1.5,
                (None, Some(_)) => 0.5,
                _ => 1.0,
            };
            let only_lang: Box<dyn Query> = Box::new(TermQuery::new(
                Term::from_field_text(self.fields.lang, l.code()),
                IndexRecordOption::Basic,
            ));
            per_lang.push((
                Occur::Should,
                Box::new(BoostQuery::new(
                    Box::new(BooleanQuery::new(vec![
                        (Occur::Must, query),
                        (Occur::Must, Box::new(ConstScoreQuery::new(only_lang, 0.0))),
                    ])),
                    boost,
                )),
            ));
        }
        if per_lang.is_empty() {
            return Ok(Vec::new());
        }
        let statuses: Vec<(Occur, Box<dyn Query>)> = [
            ArticleStatus::Published,
            ArticleStatus::Internal,
            ArticleStatus::Draft,
        ]
        .into_iter()
        .filter(|s| q.audience.sees(*s))
        .map(|s| {
            (
                Occur::Should,
                Box::new(TermQuery::new(
                    Term::from_field_text(self.fields.status, s.as_str()),
                    IndexRecordOption::Basic,
                )) as Box<dyn Query>,
            )
        })
        .collect();
        let query = BooleanQuery::new(vec![
            (Occur::Must, Box::new(BooleanQuery::new(per_lang))),
            (
                Occur::Must,
                Box::new(ConstScoreQuery::new(
                    Box::new(BooleanQuery::new(statuses)),
                    0.0,
                )),
            ),
        ]);
        let top = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score())?;
        let mut generators: HashMap<Lang, SnippetGenerator> = HashMap::new();
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let d: TantivyDocument = searcher.doc(address)?;
            let text = |f: Field| {
                d.get_first(f)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            let lang_code = text(self.fields.lang);
            let status = text(self.fields.status);
            // The filter above already did this; a second look costs nothing.
            if !ArticleStatus::parse(&status).is_ok_and(|s| q.audience.sees(s)) {
                continue;
            }
            let (snippet, snippet_html) = match Lang::parse(&lang_code) {
                Some(l) => {
                    let body = self.fields.per_lang[lang_index(l)].body;
                    if let std::collections::hash_map::Entry::Vacant(e) = generators.entry(l)
                        && let Some(sq) = snippet_queries.get(&l)
                    {
                        let mut g = SnippetGenerator::create(&searcher, sq.as_ref(), body)?;
                        g.set_max_num_chars(180);
                        e.insert(g);
                    }
                    match generators.get(&l) {
                        Some(g) => excerpt(g, &text(body)),
                        None => (String::new(), String::new()),
                    }
                }
                None => (String::new(), String::new()),
            };
            hits.push(Hit {
                id: text(self.fields.id),
                public_id: text(self.fields.public_id),
                lang: lang_code,
                slug: text(self.fields.slug),
                title: text(self.fields.title),
                category: text(self.fields.category),
                status,
                score,
                snippet,
                snippet_html,
            });
        }
        Ok(hits)
    }

    /// The query of one language: each word in the title (×3), the alternate questions
    /// (×2) and the body; words the index lacks with typos allowed; the last word as a
    /// prefix while typing. `None` when no word is left after analysis.
    fn text_query(
        &self,
        searcher: &tantivy::Searcher,
        l: Lang,
        q: &SearchQuery<'_>,
    ) -> IndexResult<Option<Box<dyn Query>>> {
        let lf = self.fields.per_lang[lang_index(l)];
        let terms = analyze(l, q.text);
        if terms.is_empty() {
            return Ok(None);
        }
        let typing_last = q.as_you_type && !q.text.ends_with(char::is_whitespace);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let weighted = [(lf.title, 3.0f32), (lf.questions, 2.0), (lf.body, 1.0)];
        for (i, word) in terms.iter().enumerate() {
            let last = i + 1 == terms.len();
            let mut known = false;
            for (field, weight) in weighted {
                let term = Term::from_field_text(field, word);
                if searcher.doc_freq(&term)? > 0 {
                    known = true;
                }
                clauses.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(
                        Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)),
                        weight,
                    )),
                ));
            }
            let budget = typo_budget(word).min(2) as u8;
            if !known && budget > 0 {
                for (field, weight) in weighted {
                    let term = Term::from_field_text(field, word);
                    clauses.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(
                            Box::new(FuzzyTermQuery::new(term, budget, true)),
                            weight * 0.7,
                        )),
                    ));
                }
            }
            if last && typing_last && word.chars().count() >= 2 {
                for (field, weight) in [(lf.title, 2.0f32), (lf.questions, 1.5)] {
                    let term = Term::from_field_text(field, word);
                    clauses.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(
                            Box::new(FuzzyTermQuery::new_prefix(term, 0, true)),
                            weight,
                        )),
                    ));
                }
            }
        }
        Ok(Some(Box::new(BooleanQuery::new(clauses))))
    }
}

/// A plain and an HTML excerpt; the HTML escapes everything but its own `<mark>`s.
fn excerpt(g: &SnippetGenerator, body: &str) -> (String, String) {
    let s = g.snippet(body);
    let fragment = s.fragment();
    let (plain, html) = if fragment.is_empty() {
        let start: String = body.chars().take(160).collect();
        (start.clone(), switchboard_core::html::escape(&start))
    } else {
        let mut html = String::with_capacity(fragment.len() + 32);
        let mut at = 0;
        for r in s.highlighted() {
            if r.start < at || r.end > fragment.len() {
                continue;
            }
            html.push_str(&switchboard_core::html::escape(&fragment[at..r.start]));
            html.push_str("<mark>");
            html.push_str(&switchboard_core::html::escape(&fragment[r.clone()]));
            html.push_str("</mark>");
            at = r.end;
        }
        html.push_str(&switchboard_core::html::escape(&fragment[at..]));
        (fragment.to_owned(), html)
    };
    let ellipsis = if plain.len() < body.len() { "…" } else { "" };
    (
        format!("{}{ellipsis}", plain.trim()),
        format!("{}{ellipsis}", html.trim()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ArticleStatus;

    fn article(
        id: &str,
        lang: &str,
        status: ArticleStatus,
        title: &str,
        body: &str,
        questions: &[&str],
    ) -> Article {
        Article {
            external_id: Some(format!("ext-{id}")),
            status,
            category: "Billing".into(),
            ..Article::published(id, lang, title, body, questions)
        }
    }

    fn kb() -> KbIndex {
        use ArticleStatus::*;
        let index = KbIndex::in_memory().unwrap();
        index
            .upsert(&[
                article("1", "en", Published, "Pay an invoice online", "Open **Invoices**, choose the invoice and press Pay now. Cards and bank transfers are accepted.", &["how do I pay my bill", "payment by card"]),
                article("2", "pt", Published, "Pagar uma fatura", "Abra Faturas, escolha a fatura e clique em Pagar agora. Aceitamos cartão, Pix e boleto.", &["como pago o boleto", "pagamento da fatura"]),
                article("3", "es", Published, "Pedir tóner", "Pida tóner desde el portal: Equipos, elija la máquina y pulse Pedir tóner.", &["¿dónde pido tóner?", "se acabó el tóner"]),
                article("4", "en", Internal, "Refund override procedure", "Agents only: override a refund in the billing console.", &["refund override"]),
                article("5", "en", Draft, "Refund policy draft", "Refunds are coming soon.", &["refund"]),
                article("6", "en", Published, "Order toner", "Order toner from Equipment in the portal <script>x</script>.", &["toner is empty"]),
            ])
            .unwrap();
        index
    }

    fn ids(hits: &[Hit]) -> Vec<&str> {
        hits.iter().map(|h| h.id.as_str()).collect()
    }

    #[test]
    fn words_are_found_with_or_without_accents_and_with_typos() {
        let kb = kb();
        let q = |text| {
            kb.search(&SearchQuery::new(text, Audience::Client))
                .unwrap()
        };
        assert_eq!(ids(&q("cartao pix"))[0], "2");
        assert_eq!(ids(&q("cartão"))[0], "2");
        assert_eq!(
            ids(&q("tonner"))[0..2]
                .iter()
                .filter(|i| ["3", "6"].contains(i))
                .count(),
            2
        );
        assert_eq!(ids(&q("invoise payment"))[0], "1");
        assert!(q("").is_empty());
        assert!(q("the and of").is_empty());
    }

    #[test]
    fn the_querys_language_comes_first() {
        let kb = kb();
        let hits = kb
            .search(&SearchQuery::new("¿dónde pido el tóner?", Audience::Client))
            .unwrap();
        assert_eq!(hits[0].id, "3");
        let hits = kb
            .search(&SearchQuery::new(
                "where do I order toner",
                Audience::Client,
            ))
            .unwrap();
        assert_eq!(hits[0].id, "6");
        let only_pt = SearchQuery {
            lang: Some(Lang::Pt),
            ..SearchQuery::new("toner fatura", Audience::Client)
        };
        assert!(kb.search(&only_pt).unwrap().iter().all(|h| h.lang == "pt"));
    }

    #[test]
    fn clients_never_see_internal_or_draft_articles() {
        let kb = kb();
        let as_client = kb
            .search(&SearchQuery::new("refund override", Audience::Client))
            .unwrap();
        assert!(as_client.is_empty(), "{as_client:?}");
        let as_agent = kb
            .search(&SearchQuery::new("refund override", Audience::Agent))
            .unwrap();
        assert_eq!(ids(&as_agent), vec!["4"]);
        let as_editor = kb
            .search(&SearchQuery::new("refund", Audience::Editor))
            .unwrap();
        assert_eq!(as_editor.len(), 2);
    }

    #[test]
    fn snippets_mark_the_words_and_escape_the_rest() {
        let kb = kb();
        let hits = kb
            .search(&SearchQuery::new("toner equipment", Audience::Client))
            .unwrap();
        let h = hits.iter().find(|h| h.id == "6").unwrap();
        assert!(
            h.snippet_html.contains("<mark>Equipment</mark>"),
            "{}",
            h.snippet_html
        );
        assert!(!h.snippet_html.contains("<script"), "{}", h.snippet_html);
    }

    #[test]
    fn a_word_being_typed_matches_as_a_prefix() {
        let kb = kb();
        let typing = SearchQuery {
            as_you_type: true,
            ..SearchQuery::new("pay an invo", Audience::Client)
        };
        assert_eq!(kb.search(&typing).unwrap()[0].id, "1");
    }

    #[test]
    fn changes_are_searchable_at_once_and_the_diff_names_what_moved() {
        let kb = kb();
        let mut a = article(
            "1",
            "en",
            ArticleStatus::Published,
            "Pay with Zorblax",
            "Zorblax wallets are accepted.",
            &[],
        );
        a.version = 2;
        kb.upsert(std::slice::from_ref(&a)).unwrap();
        assert_eq!(
            ids(&kb
                .search(&SearchQuery::new("zorblax", Audience::Client))
                .unwrap()),
            vec!["1"]
        );
        a.status = ArticleStatus::Draft;
        a.version = 3;
        kb.upsert(std::slice::from_ref(&a)).unwrap();
        assert!(
            kb.search(&SearchQuery::new("zorblax", Audience::Client))
                .unwrap()
                .is_empty()
        );
        let stored = vec![
            ("1".to_owned(), 3),
            ("2".to_owned(), 5),
            ("7".to_owned(), 1),
        ];
        let (mut stale, mut gone) = kb.diff(&stored).unwrap();
        stale.sort();
        gone.sort();
        assert_eq!(stale, vec!["2", "7"]);
        assert_eq!(gone, vec!["3", "4", "5", "6"]);
        kb.remove(&gone).unwrap();
        assert_eq!(kb.len(), 2);
    }

    #[test]
    fn the_index_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let kb = KbIndex::open(dir.path()).unwrap();
            kb.upsert(&[article(
                "9",
                "pt",
                ArticleStatus::Published,
                "Leitura do contador",
                "Envie a leitura do contador até o dia 5.",
                &[],
            )])
            .unwrap();
        }
        let kb = KbIndex::open(dir.path()).unwrap();
        assert_eq!(kb.versions().unwrap().get("9"), Some(&1));
        assert_eq!(
            ids(&kb
                .search(&SearchQuery::new("leituras contadores", Audience::Client))
                .unwrap()),
            vec!["9"]
        );
    }
}
