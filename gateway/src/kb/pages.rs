//! The knowledge base for agents: every article (drafts and internal ones too) with its
//! votes, the editor with a preview and the revision history, the questions the bot could
//! not answer grouped so the gaps show, and an agent's good reply turned into a draft
//! article in two clicks (N1 keeps the knowledge base current).
//!
//! `/kb` lists every article with its votes and a search over all of them; `/kb/new` and
//! `/kb/{id}/edit` are the editor (Markdown preview through the same renderer as the help
//! center, the revision history, a save based on an old version refused); `/kb/gaps` groups
//! the questions the bot could not answer in the last 30 days by the article it thought
//! closest; "Save as article" under an agent's reply (`/kb/from-reply/{message}`, only for
//! a conversation the agent may see) opens a draft made of the client's question and the
//! reply. In a conversation, a bot answer shows the articles it came from and how sure the
//! bot was (`RichContent.confidence`, thousandths, shown to agents only), and the side
//! panel suggests articles for the client's latest message (internal ones included) with
//! "Insert link" and "This answers it" (`/kb/learn`: the client's message becomes a learned
//! question of that article, and the classifier is rebuilt). Browser test `help.test.mjs`
//! (search as you type, article, vote, bot answer, handoff, silence after the agent,
//! sources and suggestions, a reply saved and published as an article; screenshots
//! `help-*`, `widget-bot-*`, `inbox-bot-sources`, `kb-*`).

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use switchboard_core::domain::{AuthorKind, Direction};
use switchboard_core::html::SanitizedHtml;
use switchboard_core::store::kb::{
    Article, ArticleFilter, ArticleInput, ArticleKind, ArticleStatus, Revision,
};
use switchboard_kb::{Audience, Lang, SearchQuery};

use crate::kit::AppState;
use crate::kit::page::{FieldError, Page, WebError, render, render_form};
use crate::kit::session::{WebAgent, WriterAgent};

pub struct Row {
    pub id: String,
    pub title: String,
    pub lang: String,
    pub status: &'static str,
    pub status_word: String,
    pub category: String,
    pub helpful: i64,
    pub unhelpful: i64,
    pub updated: String,
    pub href: Option<String>,
}

#[derive(Template)]
#[template(path = "kb_list.html")]
struct ListPage {
    p: Page,
    rows: Vec<Row>,
    q: String,
    lang: String,
    status: String,
    langs: Vec<(String, String)>,
    statuses: Vec<(String, String)>,
    can_edit: bool,
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    done: String,
}

fn status_word(t: &crate::kit::i18n::Tr, s: ArticleStatus) -> String {
    t.t(&format!("kb-status-{}", s.as_str()))
}

fn lang_label(l: &str) -> String {
    Lang::parse(l).map_or_else(|| l.to_owned(), |l| l.name().to_owned())
}

fn day(ms: i64) -> String {
    switchboard_portal::locale::iso_date(ms.div_euclid(86_400_000))
}

fn row(t: &crate::kit::i18n::Tr, a: &Article) -> Row {
    Row {
        id: a.id.clone(),
        title: a.title.clone(),
        lang: lang_label(&a.lang),
        status: a.status.as_str(),
        status_word: status_word(t, a.status),
        category: a.category.clone(),
        helpful: a.helpful,
        unhelpful: a.unhelpful,
        updated: day(a.updated_at),
        href: (a.status == ArticleStatus::Published)
            .then(|| format!("/help/{}/{}", a.lang, a.slug)),
    }
}

pub async fn list(
    State(state): State<AppState>,
    agent: WebAgent,
    Query(q): Query<ListParams>,
) -> Result<Response, WebError> {
    let t = agent.tr;
    let lang = Lang::parse(&q.lang).map(|l| l.code().to_owned());
    let status = ArticleStatus::parse(&q.status).ok();
    let mut articles = state
        .store
        .articles(&ArticleFilter {
            lang: lang.clone(),
            statuses: status.into_iter().collect(),
            category: None,
        })
        .await?;
    let query = q.q.trim().to_owned();
    if !query.is_empty()
        && let Some(kb) = state.kb.get().cloned()
    {
        let text = query.clone();
        let l = lang.as_deref().and_then(Lang::parse);
        let hits = tokio::task::spawn_blocking(move || {
            kb.index.search(&SearchQuery {
                lang: l,
                limit: 50,
                ..SearchQuery::new(&text, Audience::Editor)
            })
        })
        .await
        .map_err(|e| switchboard_core::Error::Conflict(e.to_string()))?
        .map_err(|e| switchboard_core::Error::Conflict(format!("search: {e}")))?;
        let order: HashMap<String, usize> = hits
            .iter()
            .enumerate()
            .map(|(i, h)| (h.id.clone(), i))
            .collect();
        articles.retain(|a| order.contains_key(&a.id));
        articles.sort_by_key(|a| order.get(&a.id).copied().unwrap_or(usize::MAX));
    }
    let rows = articles.iter().map(|a| row(&t, a)).collect();
    let notice = match q.done.as_str() {
        "saved" => Some(t.t("kb-saved")),
        _ => None,
    };
    let p = Page::agent(&state, &agent, t.t("kb-title"), "kb").await?;
    Ok(render(&ListPage {
        p,
        rows,
        q: query,
        lang: lang.unwrap_or_default(),
        status: status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        langs: ["en", "es", "pt"]
            .iter()
            .map(|l| ((*l).to_owned(), lang_label(l)))
            .collect(),
        statuses: [
            ArticleStatus::Published,
            ArticleStatus::Internal,
            ArticleStatus::Draft,
        ]
        .iter()
        .map(|s| (s.as_str().to_owned(), status_word(&t, *s)))
        .collect(),
        can_edit: agent.user.role.can_reply(),
        notice,
    }))
}

#[derive(Debug, Default, Deserialize, Clone)]
pub struct ArticleForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    category: String,
    /// One per line.
    #[serde(default)]
    questions: String,
    /// Separated by commas.
    #[serde(default)]
    tags: String,
    #[serde(default)]
    version: i64,
    /// "Preview" pressed: show the rendered body, store nothing.
    #[serde(default)]
    preview: Option<String>,
}

impl ArticleForm {
    fn of(a: &Article) -> Self {
        Self {
            title: a.title.clone(),
            body: a.body.clone(),
            lang: a.lang.clone(),
            kind: a.kind.as_str().to_owned(),
            status: a.status.as_str().to_owned(),
            category: a.category.clone(),
            questions: a.questions.join("\n"),
            tags: a.tags.join(", "),
            version: a.version,
            preview: None,
        }
    }

    fn input(&self, external_id: Option<String>) -> Result<ArticleInput, FieldError> {
        let kind = ArticleKind::parse(&self.kind).map_err(|e| FieldError {
            field: "kind",
            message: e.to_string(),
        })?;
        let status = ArticleStatus::parse(&self.status).map_err(|e| FieldError {
            field: "status",
            message: e.to_string(),
        })?;
        Ok(ArticleInput {
            external_id,
            lang: self.lang.clone(),
            kind,
            status,
            category: self.category.clone(),
            title: self.title.clone(),
            body: self.body.clone(),
            questions: self.questions.lines().map(str::to_owned).collect(),
            tags: self.tags.split(',').map(str::to_owned).collect(),
            translation_of: None,
        })
    }
}

pub struct RevisionView {
    pub version: i64,
    pub author: String,
    pub when: String,
    pub title: String,
    pub status_word: String,
}

#[derive(Template)]
#[template(path = "kb_form.html")]
struct FormPage {
    p: Page,
    heading: String,
    action: String,
    form: ArticleForm,
    errors: Vec<FieldError>,
    preview: Option<SanitizedHtml>,
    langs: Vec<(String, String)>,
    kinds: Vec<(String, String)>,
    statuses: Vec<(String, String)>,
    revisions: Vec<RevisionView>,
    votes: Option<(i64, i64)>,
    public_href: Option<String>,
}

#[allow(clippy::too_many_arguments)]
async fn form_page(
    state: &AppState,
    agent: &WebAgent,
    article: Option<&Article>,
    form: ArticleForm,
    errors: Vec<FieldError>,
    preview: Option<SanitizedHtml>,
    revisions: Vec<Revision>,
) -> Result<Response, WebError> {
    let t = agent.tr;
    let (heading, action) = match article {
        Some(a) => (t.t("kb-edit"), format!("/kb/{}/edit", a.id)),
        None => (t.t("kb-new"), "/kb/new".to_owned()),
    };
    let p = Page::agent(state, agent, heading.clone(), "kb").await?;
    let has_errors = !errors.is_empty();
    let page = FormPage {
        p,
        heading,
        action,
        form,
        errors,
        preview,
        langs: ["en", "es", "pt"]
            .iter()
            .map(|l| ((*l).to_owned(), lang_label(l)))
            .collect(),
        kinds: [ArticleKind::Faq, ArticleKind::Guide, ArticleKind::Manual]
            .iter()
            .map(|k| {
                (
                    k.as_str().to_owned(),
                    t.t(&format!("kb-kind-{}", k.as_str())),
                )
            })
            .collect(),
        statuses: [
            ArticleStatus::Draft,
            ArticleStatus::Internal,
            ArticleStatus::Published,
        ]
        .iter()
        .map(|s| (s.as_str().to_owned(), status_word(&t, *s)))
        .collect(),
        revisions: revisions
            .into_iter()
            .map(|r| RevisionView {
                version: r.version,
                author: r.author.unwrap_or_default(),
                when: crate::kit::view::exact(r.created_at),
                title: r.title,
                status_word: status_word(&t, r.status),
            })
            .collect(),
        votes: article.map(|a| (a.helpful, a.unhelpful)),
        public_href: article
            .filter(|a| a.status == ArticleStatus::Published)
            .map(|a| format!("/help/{}/{}", a.lang, a.slug)),
    };
    Ok(render_form(&page, has_errors))
}

/// The store's refusal beside the field it names.
fn field_error(e: switchboard_core::Error) -> Result<FieldError, switchboard_core::Error> {
    crate::kit::page::field_error(
        e,
        &[
            ("title", "title"),
            ("language", "lang"),
            ("question", "questions"),
        ],
        "body",
    )
}

fn kb_of(state: &AppState) -> Result<std::sync::Arc<crate::kit::kb::Kb>, WebError> {
    state.kb.get().cloned().ok_or_else(|| {
        switchboard_core::Error::Conflict("the knowledge base is starting".into()).into()
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct NewParams {
    #[serde(default)]
    lang: String,
}

pub async fn new_page(
    State(state): State<AppState>,
    WriterAgent(agent): WriterAgent,
    Query(q): Query<NewParams>,
) -> Result<Response, WebError> {
    let form = ArticleForm {
        lang: Lang::parse(&q.lang).map_or_else(|| "en".to_owned(), |l| l.code().to_owned()),
        kind: "faq".into(),
        status: "draft".into(),
        ..ArticleForm::default()
    };
    form_page(&state, &agent, None, form, Vec::new(), None, Vec::new()).await
}

pub async fn create(
    State(state): State<AppState>,
    WriterAgent(agent): WriterAgent,
    Form(form): Form<ArticleForm>,
) -> Result<Response, WebError> {
    let input = match form.input(None) {
        Ok(i) => i,
        Err(e) => return form_page(&state, &agent, None, form, vec![e], None, Vec::new()).await,
    };
    if form.preview.is_some() {
        let html = switchboard_kb::markdown::render(&form.body);
        return form_page(
            &state,
            &agent,
            None,
            form,
            Vec::new(),
            Some(html),
            Vec::new(),
        )
        .await;
    }
    let kb = kb_of(&state)?;
    match kb
        .save(input, Some(&crate::kit::view::display_name(&agent.user)))
        .await
    {
        Ok((a, _)) => Ok(Redirect::to(&format!("/kb/{}/edit?done=saved", a.id)).into_response()),
        Err(e) => {
            let error = field_error(e)?;
            form_page(&state, &agent, None, form, vec![error], None, Vec::new()).await
        }
    }
}

async fn article_of(state: &AppState, agent: &WebAgent, id: &str) -> Result<Article, WebError> {
    state.store.article(id).await.map_err(|e| match e {
        switchboard_core::Error::NotFound(_) => WebError::NotFound(agent.tr),
        e => e.into(),
    })
}

pub async fn edit_page(
    State(state): State<AppState>,
    agent: WebAgent,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let a = article_of(&state, &agent, &id).await?;
    let revisions = state.store.article_revisions(&a.id).await?;
    let preview = Some(switchboard_kb::markdown::render(&a.body));
    form_page(
        &state,
        &agent,
        Some(&a),
        ArticleForm::of(&a),
        Vec::new(),
        preview,
        revisions,
    )
    .await
}

pub async fn update(
    State(state): State<AppState>,
    WriterAgent(agent): WriterAgent,
    Path(id): Path<String>,
    Form(form): Form<ArticleForm>,
) -> Result<Response, WebError> {
    let a = article_of(&state, &agent, &id).await?;
    let revisions = state.store.article_revisions(&a.id).await?;
    let input = match form.input(a.external_id.clone()) {
        Ok(i) => i,
        Err(e) => return form_page(&state, &agent, Some(&a), form, vec![e], None, revisions).await,
    };
    if form.preview.is_some() {
        let html = switchboard_kb::markdown::render(&form.body);
        return form_page(
            &state,
            &agent,
            Some(&a),
            form,
            Vec::new(),
            Some(html),
            revisions,
        )
        .await;
    }
    let kb = kb_of(&state)?;
    match kb
        .edit(
            &a.id,
            input,
            form.version,
            Some(&crate::kit::view::display_name(&agent.user)),
        )
        .await
    {
        Ok(a) => Ok(Redirect::to(&format!("/kb/{}/edit?done=saved", a.id)).into_response()),
        Err(e) => {
            let error = field_error(e)?;
            form_page(&state, &agent, Some(&a), form, vec![error], None, revisions).await
        }
    }
}

pub struct GapGroup {
    pub label: String,
    pub href: Option<String>,
    pub count: usize,
    pub examples: Vec<String>,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "kb_gaps.html")]
struct GapsPage {
    p: Page,
    groups: Vec<GapGroup>,
    total: usize,
}

/// Questions the bot could not answer in the last 30 days, grouped by the article it
/// thought closest (or none), biggest groups first.
pub async fn gaps(State(state): State<AppState>, agent: WebAgent) -> Result<Response, WebError> {
    let t = agent.tr;
    let since = state.ids.now_ms() - 30 * 86_400_000;
    let gaps = state.store.bot_gaps(&agent.caller, since, 5000).await?;
    let total = gaps.len();
    let mut by: HashMap<Option<String>, Vec<switchboard_core::store::kb::BotGap>> = HashMap::new();
    for g in gaps {
        by.entry(g.best_article_id.clone()).or_default().push(g);
    }
    let mut groups = Vec::new();
    for (article, items) in by {
        let (label, href) = match &article {
            Some(id) => match state.store.article(id).await {
                Ok(a) => (a.title, Some(format!("/kb/{}/edit", a.id))),
                Err(_) => (t.t("kb-gaps-none"), None),
            },
            None => (t.t("kb-gaps-none"), None),
        };
        let mut reasons: Vec<String> = items.iter().map(|g| g.reason.clone()).collect();
        reasons.sort();
        reasons.dedup();
        groups.push(GapGroup {
            label,
            href,
            count: items.len(),
            examples: items.iter().take(5).map(|g| g.text.clone()).collect(),
            reason: reasons.join(", "),
        });
    }
    groups.sort_by(|a, b| b.count.cmp(&a.count).then(a.label.cmp(&b.label)));
    let p = Page::agent(&state, &agent, t.t("kb-gaps-title"), "kb").await?;
    Ok(render(&GapsPage { p, groups, total }))
}

/// An agent's reply becomes a draft article: the client's question before it as the title
/// and first alternate question, the reply as the body. The editor opens on it.
pub async fn from_reply(
    State(state): State<AppState>,
    WriterAgent(agent): WriterAgent,
    Path(message): Path<String>,
) -> Result<Response, WebError> {
    let m = state.store.message(&message).await.map_err(|e| match e {
        switchboard_core::Error::NotFound(_) => WebError::NotFound(agent.tr),
        e => e.into(),
    })?;
    let number = state.store.conversation(&m.conversation_id).await?.number;
    // Only a conversation the agent may see (else the message is not there).
    let c = crate::kit::page::find(&state, &agent, &number.to_string()).await?;
    let thread = state.store.messages(&c.id, None, 0).await?;
    let Some(at) = thread.iter().position(|m| m.id == message) else {
        return Err(WebError::NotFound(agent.tr));
    };
    let reply = &thread[at];
    if reply.author_kind != AuthorKind::Agent || reply.direction != Direction::Outbound {
        return Err(WebError::NotFound(agent.tr));
    }
    let question = thread[..at]
        .iter()
        .rev()
        .find(|m| m.direction == Direction::Inbound && !m.text.trim().is_empty())
        .map(|m| m.text.trim().to_owned())
        .unwrap_or_default();
    let title: String = if question.is_empty() {
        reply.text.chars().take(80).collect()
    } else {
        question.chars().take(120).collect()
    };
    let lang = switchboard_kb::text::detect(&format!("{question} {}", reply.text))
        .guess
        .and_then(switchboard_kb::text::Guess::served)
        .unwrap_or(Lang::En);
    let input = ArticleInput {
        external_id: None,
        lang: lang.code().to_owned(),
        kind: ArticleKind::Faq,
        status: ArticleStatus::Draft,
        category: String::new(),
        title: title.trim().to_owned(),
        body: reply.text.clone(),
        questions: if question.is_empty() {
            Vec::new()
        } else {
            vec![question]
        },
        tags: Vec::new(),
        translation_of: None,
    };
    let kb = kb_of(&state)?;
    let (a, _) = kb
        .save(input, Some(&crate::kit::view::display_name(&agent.user)))
        .await?;
    Ok(Redirect::to(&format!("/kb/{}/edit", a.id)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct LearnForm {
    article: String,
    message: String,
}

/// "This answers it": an agent confirms that an article answers a client's message, and
/// the bot learns the message as one of the article's questions.
pub async fn learn(
    State(state): State<AppState>,
    WriterAgent(agent): WriterAgent,
    Form(form): Form<LearnForm>,
) -> Result<Response, WebError> {
    let m = state
        .store
        .message(&form.message)
        .await
        .map_err(|e| match e {
            switchboard_core::Error::NotFound(_) => WebError::NotFound(agent.tr),
            e => e.into(),
        })?;
    let number = state.store.conversation(&m.conversation_id).await?.number;
    let c = crate::kit::page::find(&state, &agent, &number.to_string()).await?;
    if m.direction != Direction::Inbound {
        return Err(WebError::NotFound(agent.tr));
    }
    let a = article_of(&state, &agent, &form.article).await?;
    if a.status == ArticleStatus::Draft {
        return Err(switchboard_core::Error::invalid("a draft cannot answer clients yet").into());
    }
    if state
        .store
        .learn_question(&state.ids, &a.id, &m.text, "agent_confirmed")
        .await?
        && let Some(kb) = state.kb.get()
    {
        kb.mark_dirty();
    }
    Ok(Redirect::to(&format!("/conversations/{}?learned=1", c.number)).into_response())
}
