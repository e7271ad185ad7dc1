//! The knowledge base's records: articles with their alternate questions, revisions, votes,
//! what the bot learned and remembers, and the questions it could not answer. The search
//! index and the help center live in the `kb` crate; the bot's policy in `bots`.
//!
//! Migration `0019_kb.sql`. An article's external id is kept and returned; a re-import
//! updates by it and changes nothing when nothing differs. Each save is a revision with who
//! and when, and an editor's change based on an old version is refused. Slugs are unique
//! per language (a published one never moves), translations share a group, votes are one
//! per voter; the bot's memory is kept per conversation (conformance
//! `kb::articles_are_saved_revised_voted_and_linked`).

use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Row};

use super::{Caller, Store};
use crate::clock::Ids;
use crate::error::{Error, Result};

/// Languages articles are written in (each has its own analyzer in the index).
pub const ARTICLE_LANGS: [&str; 3] = ["en", "es", "pt"];
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_BODY_BYTES: usize = 200_000;
pub const MAX_QUESTIONS: usize = 500;
pub const MAX_QUESTION_CHARS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ArticleKind {
    Guide,
    #[default]
    Faq,
    Manual,
}

impl ArticleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ArticleKind::Guide => "guide",
            ArticleKind::Faq => "faq",
            ArticleKind::Manual => "manual",
        }
    }
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "guide" => Ok(ArticleKind::Guide),
            "faq" => Ok(ArticleKind::Faq),
            "manual" => Ok(ArticleKind::Manual),
            other => Err(Error::invalid(format!(
                "kind {other:?} is not one of guide, faq, manual"
            ))),
        }
    }
}

/// Who may read an article: drafts only their editors, internal ones agents, published
/// ones everybody.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ArticleStatus {
    Draft,
    #[default]
    Published,
    Internal,
}

impl ArticleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ArticleStatus::Draft => "draft",
            ArticleStatus::Published => "published",
            ArticleStatus::Internal => "internal",
        }
    }
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "draft" => Ok(ArticleStatus::Draft),
            "published" => Ok(ArticleStatus::Published),
            "internal" => Ok(ArticleStatus::Internal),
            other => Err(Error::invalid(format!(
                "status {other:?} is not one of draft, published, internal"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Article {
    pub id: String,
    pub external_id: Option<String>,
    pub lang: String,
    pub slug: String,
    pub kind: ArticleKind,
    pub status: ArticleStatus,
    pub category: String,
    pub title: String,
    /// Markdown.
    pub body: String,
    pub questions: Vec<String>,
    pub tags: Vec<String>,
    pub translation_group: String,
    pub helpful: i64,
    pub unhelpful: i64,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub updated_by: Option<String>,
}

impl Article {
    /// The id the outside world knows it by: the importer's when there is one.
    pub fn public_id(&self) -> &str {
        self.external_id.as_deref().unwrap_or(&self.id)
    }

    /// A published FAQ article outside any store (tests, benchmarks, the classifier's
    /// own checks): its id is also its translation group, its slug made from its title.
    pub fn published(id: &str, lang: &str, title: &str, body: &str, questions: &[&str]) -> Article {
        Article {
            id: id.to_owned(),
            external_id: None,
            lang: lang.to_owned(),
            slug: crate::text::slugify(title),
            kind: ArticleKind::Faq,
            status: ArticleStatus::Published,
            category: String::new(),
            title: title.to_owned(),
            body: body.to_owned(),
            questions: questions.iter().map(|q| (*q).to_owned()).collect(),
            tags: Vec::new(),
            translation_group: id.to_owned(),
            helpful: 0,
            unhelpful: 0,
            version: 1,
            created_at: 0,
            updated_at: 0,
            updated_by: None,
        }
    }
}

/// An article as an importer or an editor gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArticleInput {
    pub external_id: Option<String>,
    pub lang: String,
    pub kind: ArticleKind,
    pub status: ArticleStatus,
    pub category: String,
    pub title: String,
    pub body: String,
    pub questions: Vec<String>,
    pub tags: Vec<String>,
    /// Another article this one translates (its id or external id).
    pub translation_of: Option<String>,
}

impl ArticleInput {
    /// Trims and checks; every problem is named.
    pub fn checked(mut self) -> Result<Self> {
        self.title = self.title.trim().to_owned();
        self.category = self.category.trim().to_owned();
        self.lang = self.lang.trim().to_ascii_lowercase();
        if self.lang.is_empty() {
            self.lang = "en".into();
        }
        if self.lang == "pt-br" {
            self.lang = "pt".into();
        }
        if !ARTICLE_LANGS.contains(&self.lang.as_str()) {
            return Err(Error::invalid(format!(
                "language {:?} is not one of en, es, pt",
                self.lang
            )));
        }
        if self.title.is_empty() {
            return Err(Error::invalid("an article needs a title"));
        }
        if self.title.chars().count() > MAX_TITLE_CHARS {
            return Err(Error::invalid(format!(
                "a title may be at most {MAX_TITLE_CHARS} characters"
            )));
        }
        if self.body.trim().is_empty() {
            return Err(Error::invalid("an article needs a body"));
        }
        if self.body.len() > MAX_BODY_BYTES {
            return Err(Error::invalid(format!(
                "a body may be at most {MAX_BODY_BYTES} bytes"
            )));
        }
        if let Some(e) = &self.external_id {
            let e = e.trim();
            if e.is_empty() || e.len() > 200 {
                return Err(Error::invalid("an id must have 1 to 200 characters"));
            }
            self.external_id = Some(e.to_owned());
        }
        let mut seen = std::collections::HashSet::new();
        self.questions = std::mem::take(&mut self.questions)
            .into_iter()
            .map(|q| q.trim().to_owned())
            .filter(|q| !q.is_empty() && seen.insert(q.to_lowercase()))
            .collect();
        if self.questions.len() > MAX_QUESTIONS {
            return Err(Error::invalid(format!(
                "an article may have at most {MAX_QUESTIONS} questions"
            )));
        }
        if let Some(q) = self
            .questions
            .iter()
            .find(|q| q.chars().count() > MAX_QUESTION_CHARS)
        {
            return Err(Error::invalid(format!(
                "a question may be at most {MAX_QUESTION_CHARS} characters: {:.40}…",
                q
            )));
        }
        let mut seen = std::collections::HashSet::new();
        self.tags = std::mem::take(&mut self.tags)
            .into_iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty() && seen.insert(t.to_lowercase()))
            .collect();
        Ok(self)
    }
}

/// What saving did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Saved {
    Created,
    Updated,
    Unchanged,
}

/// One saved version of an article.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revision {
    pub version: i64,
    pub author: Option<String>,
    pub created_at: i64,
    pub title: String,
    pub status: ArticleStatus,
    pub body: String,
}

/// Which articles to list.
#[derive(Debug, Clone, Default)]
pub struct ArticleFilter {
    pub lang: Option<String>,
    /// Only these statuses; empty: all.
    pub statuses: Vec<ArticleStatus>,
    pub category: Option<String>,
}

/// A question the bot could not answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BotGap {
    pub message_id: String,
    pub conversation_id: String,
    pub text: String,
    pub lang: Option<String>,
    pub reason: String,
    pub best_article_id: Option<String>,
    pub confidence: f32,
    pub created_at: i64,
}

const ARTICLE_COLUMNS: &str = "id, external_id, lang, slug, kind, status, category, title, body, questions, tags, \
     translation_group, helpful, unhelpful, version, created_at, updated_at, updated_by";

fn article(r: &sqlx::any::AnyRow) -> Result<Article> {
    Ok(Article {
        id: r.try_get("id")?,
        external_id: r.try_get("external_id")?,
        lang: r.try_get("lang")?,
        slug: r.try_get("slug")?,
        kind: ArticleKind::parse(&r.try_get::<String, _>("kind")?)?,
        status: ArticleStatus::parse(&r.try_get::<String, _>("status")?)?,
        category: r.try_get("category")?,
        title: r.try_get("title")?,
        body: r.try_get("body")?,
        questions: serde_json::from_str(&r.try_get::<String, _>("questions")?)?,
        tags: serde_json::from_str(&r.try_get::<String, _>("tags")?)?,
        translation_group: r.try_get("translation_group")?,
        helpful: r.try_get("helpful")?,
        unhelpful: r.try_get("unhelpful")?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        updated_by: r.try_get("updated_by")?,
    })
}

fn same_content(a: &Article, i: &ArticleInput) -> bool {
    a.lang == i.lang
        && a.kind == i.kind
        && a.status == i.status
        && a.category == i.category
        && a.title == i.title
        && a.body == i.body
        && a.questions == i.questions
        && a.tags == i.tags
}

impl Store {
    /// Saves an article given by an importer: a new one, or the one with the same external
    /// id updated (a new revision) when anything changed. Returns it and what was done.
    pub async fn save_article(
        &self,
        ids: &Ids,
        input: ArticleInput,
        author: Option<&str>,
    ) -> Result<(Article, Saved)> {
        let input = input.checked()?;
        if let Some(ext) = &input.external_id
            && let Some(found) = self.article_by_external(ext).await?
        {
            if same_content(&found, &input) {
                return Ok((found, Saved::Unchanged));
            }
            let version = found.version;
            let a = self
                .edit_article(ids, &found.id, input, version, author)
                .await?;
            return Ok((a, Saved::Updated));
        }
        let now = ids.now_ms();
        let id = ids.new_id();
        let group = match &input.translation_of {
            Some(other) => self.find_article(other).await?.translation_group,
            None => id.clone(),
        };
        let mut tx = self.begin_write().await?;
        let slug = free_slug(
            &mut tx,
            &input.lang,
            &crate::text::slugify(&input.title),
            None,
        )
        .await?;
        let a = Article {
            id: id.clone(),
            external_id: input.external_id.clone(),
            lang: input.lang.clone(),
            slug,
            kind: input.kind,
            status: input.status,
            category: input.category.clone(),
            title: input.title.clone(),
            body: input.body.clone(),
            questions: input.questions.clone(),
            tags: input.tags.clone(),
            translation_group: group,
            helpful: 0,
            unhelpful: 0,
            version: 1,
            created_at: now,
            updated_at: now,
            updated_by: author.map(str::to_owned),
        };
        let inserted = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO kb_articles ({ARTICLE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, 0, 1, $13, $13, $14) \
             ON CONFLICT DO NOTHING"
        )))
        .bind(&a.id)
        .bind(a.external_id.as_deref())
        .bind(&a.lang)
        .bind(&a.slug)
        .bind(a.kind.as_str())
        .bind(a.status.as_str())
        .bind(&a.category)
        .bind(&a.title)
        .bind(&a.body)
        .bind(serde_json::to_string(&a.questions)?)
        .bind(serde_json::to_string(&a.tags)?)
        .bind(&a.translation_group)
        .bind(now)
        .bind(author)
        .execute(&mut **tx)
        .await?;
        if inserted.rows_affected() == 0 {
            // Another import of the same external id won the race: update that one.
            drop(tx);
            return Box::pin(self.save_article(ids, input, author)).await;
        }
        revision(&mut tx, ids, &a).await?;
        tx.commit().await?;
        Ok((a, Saved::Created))
    }

    /// An editor's change to an article, based on the version it read: refused when the
    /// article moved on meanwhile, so two editors never overwrite each other unknowingly.
    pub async fn edit_article(
        &self,
        ids: &Ids,
        id: &str,
        input: ArticleInput,
        expected_version: i64,
        author: Option<&str>,
    ) -> Result<Article> {
        let input = input.checked()?;
        let now = ids.now_ms();
        let mut tx = self.begin_write().await?;
        let current = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ARTICLE_COLUMNS} FROM kb_articles WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| article(&r))
        .transpose()?
        .ok_or_else(|| Error::not_found("article"))?;
        if current.version != expected_version {
            return Err(Error::Conflict(format!(
                "the article was changed meanwhile (now version {}); reload it",
                current.version
            )));
        }
        if let Some(ext) = &input.external_id
            && current.external_id.as_deref() != Some(ext)
        {
            let taken: Option<String> =
                sqlx::query_scalar("SELECT id FROM kb_articles WHERE external_id = $1")
                    .bind(ext)
                    .fetch_optional(&mut **tx)
                    .await?;
            if taken.is_some() {
                return Err(Error::invalid(format!("id {ext:?} is another article's")));
            }
        }
        // A slug is kept once published (links point at it); it follows the title of a
        // draft, or moves when the language changes.
        let slug = if current.lang != input.lang
            || (current.status == ArticleStatus::Draft && current.title != input.title)
        {
            free_slug(
                &mut tx,
                &input.lang,
                &crate::text::slugify(&input.title),
                Some(id),
            )
            .await?
        } else {
            current.slug.clone()
        };
        let a = Article {
            external_id: input.external_id.clone().or(current.external_id.clone()),
            lang: input.lang,
            slug,
            kind: input.kind,
            status: input.status,
            category: input.category,
            title: input.title,
            body: input.body,
            questions: input.questions,
            tags: input.tags,
            version: current.version + 1,
            updated_at: now,
            updated_by: author.map(str::to_owned),
            ..current
        };
        let done = sqlx::query(
            "UPDATE kb_articles SET external_id = $1, lang = $2, slug = $3, kind = $4, status = $5, category = $6, title = $7, \
             body = $8, questions = $9, tags = $10, version = $11, updated_at = $12, updated_by = $13 WHERE id = $14 AND version = $15",
        )
        .bind(a.external_id.as_deref())
        .bind(&a.lang)
        .bind(&a.slug)
        .bind(a.kind.as_str())
        .bind(a.status.as_str())
        .bind(&a.category)
        .bind(&a.title)
        .bind(&a.body)
        .bind(serde_json::to_string(&a.questions)?)
        .bind(serde_json::to_string(&a.tags)?)
        .bind(a.version)
        .bind(now)
        .bind(author)
        .bind(id)
        .bind(expected_version)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::Conflict(
                "the article was changed meanwhile; reload it".into(),
            ));
        }
        revision(&mut tx, ids, &a).await?;
        tx.commit().await?;
        Ok(a)
    }

    pub async fn article(&self, id: &str) -> Result<Article> {
        self.maybe_article("id", id)
            .await?
            .ok_or_else(|| Error::not_found("article"))
    }

    pub async fn article_by_external(&self, external_id: &str) -> Result<Option<Article>> {
        self.maybe_article("external_id", external_id).await
    }

    /// An article named by its id or its external id.
    pub async fn find_article(&self, id_or_external: &str) -> Result<Article> {
        if let Some(a) = self.maybe_article("id", id_or_external).await? {
            return Ok(a);
        }
        self.article_by_external(id_or_external)
            .await?
            .ok_or_else(|| Error::not_found(format!("article {id_or_external:?}")))
    }

    async fn maybe_article(&self, column: &'static str, value: &str) -> Result<Option<Article>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {ARTICLE_COLUMNS} FROM kb_articles WHERE {column} = $1"
        )))
        .bind(value)
        .fetch_optional(self.pool())
        .await?
        .map(|r| article(&r))
        .transpose()
    }

    pub async fn article_by_slug(&self, lang: &str, slug: &str) -> Result<Option<Article>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {ARTICLE_COLUMNS} FROM kb_articles WHERE lang = $1 AND slug = $2"
        )))
        .bind(lang)
        .bind(slug)
        .fetch_optional(self.pool())
        .await?
        .map(|r| article(&r))
        .transpose()
    }

    /// Articles by category and title.
    pub async fn articles(&self, filter: &ArticleFilter) -> Result<Vec<Article>> {
        let mut sql = format!("SELECT {ARTICLE_COLUMNS} FROM kb_articles WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        if let Some(l) = &filter.lang {
            binds.push(l.clone());
            sql.push_str(&format!(" AND lang = ${}", binds.len()));
        }
        if let Some(c) = &filter.category {
            binds.push(c.clone());
            sql.push_str(&format!(" AND category = ${}", binds.len()));
        }
        if !filter.statuses.is_empty() {
            let mut parts = Vec::new();
            for s in &filter.statuses {
                binds.push(s.as_str().to_owned());
                parts.push(format!("${}", binds.len()));
            }
            sql.push_str(&format!(" AND status IN ({})", parts.join(", ")));
        }
        sql.push_str(" ORDER BY category, title, id");
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for b in &binds {
            q = q.bind(b);
        }
        q.fetch_all(self.pool())
            .await?
            .iter()
            .map(article)
            .collect()
    }

    /// Every article's id and version: what an index compares itself with.
    pub async fn article_versions(&self) -> Result<Vec<(String, i64)>> {
        sqlx::query("SELECT id, version FROM kb_articles")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("version")?)))
            .collect::<Result<_>>()
    }

    /// The translations of an article, itself included.
    pub async fn translations(&self, group: &str) -> Result<Vec<Article>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {ARTICLE_COLUMNS} FROM kb_articles WHERE translation_group = $1 ORDER BY lang"
        )))
        .bind(group)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(article)
        .collect()
    }

    /// Newest first.
    pub async fn article_revisions(&self, id: &str) -> Result<Vec<Revision>> {
        let rows = sqlx::query(
            "SELECT version, snapshot, author, created_at FROM kb_revisions WHERE article_id = $1 ORDER BY version DESC",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let a: Article = serde_json::from_str(&r.try_get::<String, _>("snapshot")?)?;
                Ok(Revision {
                    version: r.try_get("version")?,
                    author: r.try_get("author")?,
                    created_at: r.try_get("created_at")?,
                    title: a.title,
                    status: a.status,
                    body: a.body,
                })
            })
            .collect()
    }

    /// "Was this helpful?": one vote per voter and article, which the voter may change.
    /// Returns the article's counts after the vote.
    pub async fn vote_article(
        &self,
        article_id: &str,
        voter: &str,
        helpful: bool,
        now: i64,
    ) -> Result<(i64, i64)> {
        let mut tx = self.begin_write().await?;
        let exists: Option<String> = sqlx::query_scalar("SELECT id FROM kb_articles WHERE id = $1")
            .bind(article_id)
            .fetch_optional(&mut **tx)
            .await?;
        if exists.is_none() {
            return Err(Error::not_found("article"));
        }
        let before: Option<i64> =
            sqlx::query_scalar("SELECT helpful FROM kb_votes WHERE article_id = $1 AND voter = $2")
                .bind(article_id)
                .bind(voter)
                .fetch_optional(&mut **tx)
                .await?;
        let now_vote = i64::from(helpful);
        let (dh, du) = match before {
            Some(b) if b == now_vote => (0, 0),
            Some(_) => {
                if helpful {
                    (1, -1)
                } else {
                    (-1, 1)
                }
            }
            None => {
                if helpful {
                    (1, 0)
                } else {
                    (0, 1)
                }
            }
        };
        if before.is_some() {
            sqlx::query("UPDATE kb_votes SET helpful = $1, created_at = $2 WHERE article_id = $3 AND voter = $4")
                .bind(now_vote)
                .bind(now)
                .bind(article_id)
                .bind(voter)
                .execute(&mut **tx)
                .await?;
        } else {
            sqlx::query(
                "INSERT INTO kb_votes (article_id, voter, helpful, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(article_id)
            .bind(voter)
            .bind(now_vote)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
        let row = sqlx::query(
            "UPDATE kb_articles SET helpful = helpful + $1, unhelpful = unhelpful + $2 WHERE id = $3 RETURNING helpful, unhelpful",
        )
        .bind(dh)
        .bind(du)
        .bind(article_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| Error::not_found("article"))?;
        let counts = (row.try_get("helpful")?, row.try_get("unhelpful")?);
        tx.commit().await?;
        Ok(counts)
    }

    /// Adds a question learned for an article; `false` when it was known.
    pub async fn learn_question(
        &self,
        ids: &Ids,
        article_id: &str,
        question: &str,
        source: &str,
    ) -> Result<bool> {
        let q = question.trim();
        if q.is_empty() || q.chars().count() > MAX_QUESTION_CHARS {
            return Ok(false);
        }
        let done = sqlx::query(
            "INSERT INTO kb_learned (id, article_id, question, source, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(ids.new_id())
        .bind(article_id)
        .bind(q)
        .bind(source)
        .bind(ids.now_ms())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every learned question: (article id, question).
    pub async fn learned_questions(&self) -> Result<Vec<(String, String)>> {
        sqlx::query("SELECT article_id, question FROM kb_learned ORDER BY created_at")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("article_id")?, r.try_get("question")?)))
            .collect::<Result<_>>()
    }

    pub async fn bot_memory(&self, conversation_id: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT state FROM bot_memory WHERE conversation_id = $1")
                .bind(conversation_id)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    pub async fn set_bot_memory(&self, conversation_id: &str, state: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO bot_memory (conversation_id, state, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (conversation_id) DO UPDATE SET state = $2, updated_at = $3",
        )
        .bind(conversation_id)
        .bind(state)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records a question the bot could not answer, once per message.
    pub async fn record_bot_gap(&self, ids: &Ids, gap: &BotGap) -> Result<()> {
        sqlx::query(
            "INSERT INTO bot_gaps (id, message_id, conversation_id, text, lang, reason, best_article_id, confidence, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(ids.new_id())
        .bind(&gap.message_id)
        .bind(&gap.conversation_id)
        .bind(gap.text.chars().take(2000).collect::<String>())
        .bind(gap.lang.as_deref())
        .bind(&gap.reason)
        .bind(gap.best_article_id.as_deref())
        .bind((gap.confidence.clamp(0.0, 1.0) * 1000.0).round() as i64)
        .bind(gap.created_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Unanswered questions since a time in conversations the caller may see, newest
    /// first, at most `limit`: they are clients' own words.
    pub async fn bot_gaps(&self, caller: &Caller, since: i64, limit: i64) -> Result<Vec<BotGap>> {
        let (condition, binds) = caller.condition(3);
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "SELECT message_id, conversation_id, text, lang, reason, best_article_id, confidence, created_at FROM bot_gaps \
             WHERE created_at >= $1 AND conversation_id IN (SELECT id FROM conversations WHERE {condition}) \
             ORDER BY created_at DESC LIMIT $2"
        )))
        .bind(since)
        .bind(limit.clamp(1, 10_000));
        for b in &binds {
            q = q.bind(b.as_str());
        }
        q.fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                Ok(BotGap {
                    message_id: r.try_get("message_id")?,
                    conversation_id: r.try_get("conversation_id")?,
                    text: r.try_get("text")?,
                    lang: r.try_get("lang")?,
                    reason: r.try_get("reason")?,
                    best_article_id: r.try_get("best_article_id")?,
                    confidence: r.try_get::<i64, _>("confidence")? as f32 / 1000.0,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }
}

async fn revision(tx: &mut super::WriteTx, ids: &Ids, a: &Article) -> Result<()> {
    sqlx::query(
        "INSERT INTO kb_revisions (id, article_id, version, snapshot, author, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(ids.new_id())
    .bind(&a.id)
    .bind(a.version)
    .bind(serde_json::to_string(a)?)
    .bind(a.updated_by.as_deref())
    .bind(a.updated_at)
    .execute(&mut ***tx)
    .await?;
    Ok(())
}

/// The slug itself, or with "-2", "-3"… when another article of the language has it.
async fn free_slug(
    tx: &mut super::WriteTx,
    lang: &str,
    base: &str,
    own_id: Option<&str>,
) -> Result<String> {
    for n in 1..1000 {
        let candidate = if n == 1 {
            base.to_owned()
        } else {
            format!("{base}-{n}")
        };
        let holder: Option<String> =
            sqlx::query_scalar("SELECT id FROM kb_articles WHERE lang = $1 AND slug = $2")
                .bind(lang)
                .bind(&candidate)
                .fetch_optional(&mut ***tx)
                .await?;
        match holder {
            None => return Ok(candidate),
            Some(h) if Some(h.as_str()) == own_id => return Ok(candidate),
            Some(_) => {}
        }
    }
    Err(Error::Conflict("no free slug for this title".into()))
}
