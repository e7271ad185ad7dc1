//! The help center: `/help/{lang}` lists the published articles of a language by category
//! with a search box that answers as the client types; `/help/{lang}/{slug}` shows one
//! article, its translations, related articles and "was this helpful?". Public pages:
//! only published articles exist here, whatever the URL.
//!
//! `/help` picks the browser's language. The search box asks `/help/search.json` (excerpts
//! escaped by the server, matched words marked). A vote is one per voter cookie,
//! changeable, counted on the article. `/sitemap.xml` is here too. Anything but a published
//! article is a 404, whatever the URL. Every portal page links to the help center from its
//! footer.
//!
//! The widget shows a bot answer's article as a link and its quick replies as buttons under
//! the newest message; clicking one sends its text. When the business has published
//! articles (the welcome frame's `help`), the widget also searches them before the visitor
//! writes: a search button in its header (and a "Find an answer right away" button while
//! the conversation is empty) opens a search as you type over `/help/search.json`; a result
//! opens inside the widget from `/help/article.json` (title, the body through the same
//! sanitizer, its help-center address; published articles only, readable from any page
//! without cookies), with "Back to results" and "Still need help? Chat with us" (browser
//! test `help.test.mjs`, screenshots `widget-help-*`; e2e
//! `kb::article_changes_reach_every_node_and_the_command_line_keeps_its_contract` for the
//! 404s of internal articles).

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use switchboard_core::html::SanitizedHtml;
use switchboard_kb::{Article, ArticleFilter, ArticleStatus, Audience, Hit, Lang, SearchQuery};

use crate::kit::AppState;
use crate::kit::kb::Kb;
use crate::kit::page::render;
use crate::kit::words::{HelpWords, help_words};

pub fn router(state: AppState) -> Router<AppState> {
    // A vote is a form of ours: the pages' session and CSRF guard checks it (its token is
    // the pre-sign-in cookie's, sent back by the article page's form).
    let vote_route = post(vote).layer(axum::middleware::from_fn_with_state(
        state,
        crate::kit::session::guard,
    ));
    Router::new()
        .route("/help", get(root))
        .route("/help/search.json", get(search_json))
        .route("/help/article.json", get(article_json))
        .route("/help/{lang}", get(home))
        .route("/help/{lang}/{slug}", get(article))
        .route("/help/{lang}/{slug}/vote", vote_route)
        .route("/sitemap.xml", get(sitemap))
}

/// The browser's language, as the portal reads it.
fn preferred(headers: &HeaderMap) -> Lang {
    match crate::kit::words::lang_of(headers) {
        switchboard_portal::locale::Lang::En => Lang::En,
        switchboard_portal::locale::Lang::Es => Lang::Es,
        switchboard_portal::locale::Lang::PtBr => Lang::Pt,
    }
}

pub struct HelpLayout {
    pub w: &'static HelpWords,
    pub lang: Lang,
    pub title: String,
    pub business: String,
    pub accent: String,
    pub accent_text: &'static str,
    pub asset_version: &'static str,
    /// The other languages' pages: (code, name, href).
    pub langs: Vec<(&'static str, &'static str, String)>,
    pub description: String,
}

impl HelpLayout {
    fn new(state: &AppState, lang: Lang, title: String) -> Self {
        Self {
            w: help_words(lang),
            lang,
            title,
            business: state.config.web.business_name.clone(),
            accent: state.config.web.accent.clone(),
            accent_text: crate::kit::view::text_on(&state.config.web.accent),
            asset_version: crate::kit::page::asset_version(),
            langs: Lang::ALL
                .iter()
                .map(|l| (l.code(), l.name(), format!("/help/{}", l.code())))
                .collect(),
            description: String::new(),
        }
    }
    pub fn initial(&self) -> String {
        crate::kit::view::initial_of(&self.business)
    }
}

fn kb(state: &AppState) -> Option<Arc<Kb>> {
    state.kb.get().cloned()
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the help center is starting",
    )
        .into_response()
}

async fn root(headers: HeaderMap) -> Response {
    Redirect::to(&format!("/help/{}", preferred(&headers).code())).into_response()
}

#[derive(Debug, Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    lang: Option<String>,
    /// The last word is still being typed.
    #[serde(default)]
    typing: Option<String>,
}

/// One search result as pages and the widget show it.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    pub title: String,
    pub url: String,
    pub lang: String,
    pub category: String,
    pub snippet_html: String,
}

impl From<Hit> for Found {
    fn from(h: Hit) -> Self {
        Found {
            url: format!("/help/{}/{}", h.lang, h.slug),
            title: h.title,
            lang: h.lang,
            category: h.category,
            snippet_html: h.snippet_html,
        }
    }
}

const MAX_QUERY: usize = 300;

fn client_search(kb: &Kb, q: &str, lang: Option<Lang>, typing: bool, limit: usize) -> Vec<Found> {
    let q: String = q.chars().take(MAX_QUERY).collect();
    let query = SearchQuery {
        lang,
        limit,
        as_you_type: typing,
        ..SearchQuery::new(&q, Audience::Client)
    };
    match kb.index.search(&query) {
        Ok(hits) => hits.into_iter().map(Found::from).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "help search failed");
            Vec::new()
        }
    }
}

/// Search for scripts (the help center's box, the widget): published articles only.
async fn search_json(State(state): State<AppState>, Query(p): Query<SearchParams>) -> Response {
    let Some(kb) = kb(&state) else {
        return unavailable();
    };
    let lang = p.lang.as_deref().and_then(Lang::parse);
    let typing = p.typing.is_some();
    let q = p.q;
    let found = tokio::task::spawn_blocking(move || client_search(&kb, &q, lang, typing, 8))
        .await
        .unwrap_or_default();
    public_json(axum::Json(serde_json::json!({ "results": found })).into_response())
}

/// What scripts on any page may read (the widget on a business's site): published
/// articles only, fresh, with no cookies sent or read.
fn public_json(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

#[derive(Debug, Deserialize)]
pub struct ArticleRef {
    #[serde(default)]
    lang: String,
    #[serde(default)]
    slug: String,
}

/// One published article for the widget, which shows it before the visitor writes: its
/// title, its body as sanitized HTML and its help-center address.
async fn article_json(State(state): State<AppState>, Query(r): Query<ArticleRef>) -> Response {
    let Some(a) = public_article(&state, &r.lang, &r.slug).await else {
        return public_json(
            crate::kit::error::ApiError::NotFound("no published article has this address".into())
                .into_response(),
        );
    };
    let html = switchboard_kb::markdown::render(&a.body);
    public_json(
        axum::Json(serde_json::json!({
            "title": a.title,
            "lang": a.lang,
            "url": format!("/help/{}/{}", a.lang, a.slug),
            "html": html.as_str(),
        }))
        .into_response(),
    )
}

pub struct Category {
    pub name: String,
    pub articles: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "help/home.html")]
struct HomePage {
    l: HelpLayout,
    q: String,
    results: Option<Vec<Found>>,
    categories: Vec<Category>,
}

async fn home(
    State(state): State<AppState>,
    Path(lang): Path<String>,
    Query(p): Query<SearchParams>,
) -> Response {
    let Some(lang) = Lang::parse(&lang).filter(|l| l.code() == lang) else {
        return not_found(&state, Lang::En);
    };
    let Some(kb) = kb(&state) else {
        return unavailable();
    };
    let articles = match published(&state, Some(lang)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut categories: Vec<Category> = Vec::new();
    for a in articles {
        let href = format!("/help/{}/{}", a.lang, a.slug);
        match categories.iter_mut().find(|c| c.name == a.category) {
            Some(c) => c.articles.push((a.title, href)),
            None => categories.push(Category {
                name: a.category,
                articles: vec![(a.title, href)],
            }),
        }
    }
    let q = p.q.trim().to_owned();
    let results = if q.is_empty() {
        None
    } else {
        let query = q.clone();
        Some(
            tokio::task::spawn_blocking(move || client_search(&kb, &query, Some(lang), false, 20))
                .await
                .unwrap_or_default(),
        )
    };
    let w = help_words(lang);
    let mut l = HelpLayout::new(&state, lang, w.title.to_owned());
    l.description = w.lead.to_owned();
    render(&HomePage {
        l,
        q,
        results,
        categories,
    })
}

async fn published(state: &AppState, lang: Option<Lang>) -> Result<Vec<Article>, Response> {
    state
        .store
        .articles(&ArticleFilter {
            lang: lang.map(|l| l.code().to_owned()),
            statuses: vec![ArticleStatus::Published],
            category: None,
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "articles not read");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        })
}

#[derive(Template)]
#[template(path = "help/article.html")]
struct ArticlePage {
    l: HelpLayout,
    a: Article,
    body: SanitizedHtml,
    updated: String,
    updated_iso: String,
    translations: Vec<(&'static str, String)>,
    related: Vec<Found>,
    voted: Option<bool>,
    /// The vote form's CSRF token (the pre-sign-in cookie's).
    csrf: String,
}

#[derive(Template)]
#[template(path = "help/missing.html")]
struct MissingPage {
    l: HelpLayout,
}

fn not_found(state: &AppState, lang: Lang) -> Response {
    let w = help_words(lang);
    let page = MissingPage {
        l: HelpLayout::new(state, lang, w.not_found.to_owned()),
    };
    (StatusCode::NOT_FOUND, render(&page)).into_response()
}

const VOTER: &str = "sb_help_voter";

fn voter_of(headers: &HeaderMap) -> Option<String> {
    crate::kit::session::cookie(headers, VOTER)
        .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned)
}

/// A published article of that language and slug; anything else is not found.
async fn public_article(state: &AppState, lang: &str, slug: &str) -> Option<Article> {
    let l = Lang::parse(lang).filter(|l| l.code() == lang)?;
    state
        .store
        .article_by_slug(l.code(), slug)
        .await
        .ok()
        .flatten()
        .filter(|a| a.status == ArticleStatus::Published)
}

#[derive(Debug, Deserialize)]
pub struct VotedQuery {
    #[serde(default)]
    voted: Option<String>,
}

async fn article(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((lang, slug)): Path<(String, String)>,
    Query(v): Query<VotedQuery>,
) -> Response {
    let (csrf, set) = crate::kit::session::form_token(&state, &headers).await;
    let l = Lang::parse(&lang).unwrap_or(Lang::En);
    let Some(a) = public_article(&state, &lang, &slug).await else {
        return not_found(&state, l);
    };
    let Some(kb) = kb(&state) else {
        return unavailable();
    };
    // The same article in the other languages, where it is published.
    let others: Vec<(Lang, String)> = match state.store.translations(&a.translation_group).await {
        Ok(t) => t
            .into_iter()
            .filter(|t| t.id != a.id && t.status == ArticleStatus::Published)
            .filter_map(|t| {
                Lang::parse(&t.lang).map(|tl| (tl, format!("/help/{}/{}", t.lang, t.slug)))
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    // Related: what a search for this article's title finds, in its language.
    let title = a.title.clone();
    let own = format!("/help/{}/{}", a.lang, a.slug);
    let related: Vec<Found> =
        tokio::task::spawn_blocking(move || client_search(&kb, &title, Some(l), false, 6))
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|f| f.url != own)
            .take(4)
            .collect();
    let body = switchboard_kb::markdown::render(&a.body);
    let day = a.updated_at.div_euclid(86_400_000);
    let updated =
        switchboard_portal::locale::date(day, switchboard_portal::locale::Lang::from_tag(l.code()));
    let updated_iso = switchboard_portal::locale::iso_date(day);
    let mut layout = HelpLayout::new(&state, l, a.title.clone());
    layout.description = switchboard_kb::markdown::summary(&a.body, 160);
    // The language menu leads to the translations.
    for entry in &mut layout.langs {
        if let Some((_, href)) = others.iter().find(|(tl, _)| tl.code() == entry.0) {
            entry.2 = href.clone();
        }
    }
    let translations = others.into_iter().map(|(tl, h)| (tl.name(), h)).collect();
    crate::kit::auth::with_cookie(
        render(&ArticlePage {
            l: layout,
            body,
            updated,
            updated_iso,
            translations,
            related,
            voted: v.voted.as_deref().map(|s| s == "yes"),
            a,
            csrf,
        }),
        set,
    )
}

#[derive(Debug, Deserialize)]
pub struct VoteForm {
    helpful: String,
}

/// Votes one address may cast per hour: a reader votes a few times; a script that drops
/// its cookie to vote again and again is stopped here.
const VOTES_PER_ADDRESS_PER_HOUR: u32 = 30;

fn vote_allowed(ip: std::net::IpAddr) -> bool {
    static LIMITS: std::sync::OnceLock<governor::DefaultKeyedRateLimiter<std::net::IpAddr>> =
        std::sync::OnceLock::new();
    let limits = LIMITS.get_or_init(|| {
        governor::RateLimiter::keyed(crate::kit::limits::allowance(
            VOTES_PER_ADDRESS_PER_HOUR,
            std::time::Duration::from_secs(3600),
        ))
    });
    crate::kit::limits::trim(limits);
    limits.check_key(&ip).is_ok()
}

async fn vote(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Path((lang, slug)): Path<(String, String)>,
    Form(form): Form<VoteForm>,
) -> Response {
    let l = Lang::parse(&lang).unwrap_or(Lang::En);
    let Some(a) = public_article(&state, &lang, &slug).await else {
        return not_found(&state, l);
    };
    let helpful = match form.helpful.as_str() {
        "yes" => true,
        "no" => false,
        _ => return (StatusCode::UNPROCESSABLE_ENTITY, "helpful: yes or no").into_response(),
    };
    if !vote_allowed(peer.ip()) {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "too many votes from this address; try later",
        )
            .into_response();
    }
    let (voter, set) = match voter_of(&headers) {
        Some(v) => (v, None),
        None => {
            let v = hex::encode(switchboard_core::clock::random_bytes::<16>());
            let cookie =
                format!("{VOTER}={v}; Path=/help; Max-Age=31536000; HttpOnly; SameSite=Lax");
            (v, Some(cookie))
        }
    };
    if let Err(e) = state
        .store
        .vote_article(&a.id, &voter, helpful, state.ids.now_ms())
        .await
    {
        tracing::warn!(error = %e, "vote not recorded");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let back = format!(
        "/help/{}/{}?voted={}#vote",
        a.lang,
        a.slug,
        if helpful { "yes" } else { "no" }
    );
    let mut r = Redirect::to(&back).into_response();
    if let Some(c) = set
        && let Ok(v) = HeaderValue::from_str(&c)
    {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// Every published article's page, and each language's home, for search engines.
async fn sitemap(State(state): State<AppState>) -> Response {
    let articles = match published(&state, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let base = state.config.public_url.trim_end_matches('/');
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for l in Lang::ALL {
        xml.push_str(&format!("<url><loc>{base}/help/{}</loc></url>\n", l.code()));
    }
    for a in &articles {
        let day = switchboard_portal::locale::iso_date(a.updated_at.div_euclid(86_400_000));
        xml.push_str(&format!(
            "<url><loc>{}</loc><lastmod>{day}</lastmod></url>\n",
            switchboard_core::html::escape(&format!("{base}/help/{}/{}", a.lang, a.slug))
        ));
    }
    xml.push_str("</urlset>\n");
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml; charset=utf-8"),
        )],
        xml,
    )
        .into_response()
}
