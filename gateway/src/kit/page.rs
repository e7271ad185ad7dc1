//! What every agent page shares: the layout (`Page`, the rail's views), rendering and
//! the page error, field errors on forms, the embedded assets, and the route-table types
//! (`Access`, `RouteSpec`) each surface declares its pages with; the route-scope test
//! walks every surface's table.
//!
//! The agent pages (`inbox/`, `account/`, `admin/`): askama templates
//! (`gateway/templates/`), Fluent texts in en, es and pt-BR (`gateway/locales/`, read by
//! `kit/i18n.rs`), and assets embedded in the binary (`gateway/assets/`: one CSS file of
//! custom properties, a small script for live updates, shortcuts and saved replies, an SVG
//! sprite of our own icons, and htmx, vendored unmodified with its licence).
//! `kit/session.rs` is the session cookie and the CSRF guard, `account/pages.rs` sign-in,
//! two-step verification, links and the account page (shared bits in `kit/auth.rs` and
//! `kit/limits.rs`), `inbox/pages.rs` the list and the conversation, `inbox/socket.rs` the
//! inbox's websocket, `admin/pages.rs` users, `inbox/saved.rs` saved replies,
//! `inbox/dashboard.rs` the supervisor dashboard. `inbox/api.rs` is every inbox action over
//! the JSON API; `ops/openapi.rs` describes the API from the same table the router is built
//! from.
//!
//! **Architecture Invariant:** every page route and every API route is declared once, in
//! its surface's table (gathered by `app::page_table()` and `app::api_table()`; the API's
//! route type is in `kit/api.rs`), with the access it needs; the routers are built from
//! those tables and nothing else, `/api/openapi.json` is made from the API's, and the
//! route-scope test walks both: an agent of another team and a coordinator of another
//! company get "not found" for a conversation outside their scope on every route that names
//! one, a supervisor gets 403 on every route that writes, and admin pages are for admins
//! (e2e `inbox::every_route_keeps_to_the_callers_scope_embedded`, `…_postgres_redis`,
//! `inbox::the_api_does_what_the_inbox_does_and_describes_it`). Scope is checked before a
//! body is read, so a malformed body does not reveal whether a conversation exists. In the
//! store, every query an agent triggers carries `Caller::condition`
//! (`inbox::no_view_filter_search_or_count_leaves_the_callers_scope`,
//! `workflow::supervisors_read_everything_and_write_nothing`).

use askama::Template;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::MethodRouter;

use super::i18n::{self, Tr};
use super::session::WebAgent;
use super::view;
use crate::kit::AppState;
use switchboard_core::domain::{Conversation, Role};
use switchboard_core::store::View;

/// What a route needs from its caller. The route-scope test reads this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (sign-in pages, assets).
    Public,
    /// A signed-in agent; ids in the path are checked against its scope.
    Agent,
    /// A signed-in agent who may write the conversation in the path (not a supervisor).
    AgentWrite,
    /// Admins only.
    Admin,
    /// Admins and supervisors (read-only reports).
    Reports,
    /// The supervisor board: admins and supervisors, and coordinators over their own
    /// companies (read-only).
    Board,
}

/// One route of the pages.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

/// Embedded assets; their version (a hash of their bytes) busts caches on upgrade.
const APP_CSS: &str = include_str!("../../assets/app.css");
const APP_JS: &str = include_str!("../../assets/app.js");
const ICONS: &str = include_str!("../../assets/icons.svg");
const HTMX: &str = include_str!("../../assets/vendor/htmx-2.0.11.min.js");
const PORTAL_JS: &str = include_str!("../../assets/portal.js");
const HELP_JS: &str = include_str!("../../assets/help.js");
const LEAFLET_JS: &str = include_str!("../../assets/vendor/leaflet-1.9.4.js");
const LEAFLET_CSS: &str = include_str!("../../assets/vendor/leaflet-1.9.4.css");
const PORTAL_MAP_JS: &str = include_str!("../../assets/portal-map.js");

pub fn asset_version() -> &'static str {
    static V: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for a in [
            APP_CSS,
            APP_JS,
            ICONS,
            HTMX,
            PORTAL_JS,
            HELP_JS,
            LEAFLET_JS,
            LEAFLET_CSS,
            PORTAL_MAP_JS,
        ] {
            h.update(a.as_bytes());
        }
        hex::encode(&h.finalize()[..6])
    })
}

pub async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let (body, mime) = match file.as_str() {
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "icons.svg" => (ICONS, "image/svg+xml"),
        "htmx.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "portal.js" => (PORTAL_JS, "text/javascript; charset=utf-8"),
        "help.js" => (HELP_JS, "text/javascript; charset=utf-8"),
        "leaflet.js" => (LEAFLET_JS, "text/javascript; charset=utf-8"),
        "leaflet.css" => (LEAFLET_CSS, "text/css; charset=utf-8"),
        "portal-map.js" => (PORTAL_MAP_JS, "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        body,
    )
        .into_response()
}

/// A view in the left rail.
#[derive(Debug, Clone)]
pub struct ViewLink {
    pub href: String,
    pub label: String,
    pub icon: &'static str,
    pub open: String,
    pub unread: i64,
    pub unread_title: String,
    pub current: bool,
    pub group: String,
    pub first_of_group: bool,
}

/// What every page's layout needs.
#[derive(Debug, Clone)]
pub struct Page {
    pub t: Tr,
    pub title: String,
    pub csrf: String,
    pub business: String,
    pub accent: String,
    pub accent_text: &'static str,
    pub asset_version: &'static str,
    pub signed_in: bool,
    pub user_id: String,
    pub user_name: String,
    pub user_initials: String,
    pub user_role: String,
    pub current_view: String,
    pub views: Vec<ViewLink>,
    pub can_dashboard: bool,
    /// Billing's pages: admins and supervisors.
    pub can_billing: bool,
    pub is_admin: bool,
    /// The agent's notifications not read yet.
    pub unread_notifications: i64,
}

impl Page {
    /// A page for someone not signed in.
    pub fn anonymous(state: &AppState, t: Tr, title: String, csrf: String) -> Self {
        Self {
            t,
            title,
            csrf,
            business: state.config.web.business_name.clone(),
            accent: state.config.web.accent.clone(),
            accent_text: view::text_on(&state.config.web.accent),
            asset_version: asset_version(),
            signed_in: false,
            user_id: String::new(),
            user_name: String::new(),
            user_initials: String::new(),
            user_role: String::new(),
            current_view: String::new(),
            views: Vec::new(),
            can_dashboard: false,
            can_billing: false,
            is_admin: false,
            unread_notifications: 0,
        }
    }

    /// A page for a signed-in agent, with the rail's views and counts.
    pub async fn agent(
        state: &AppState,
        agent: &WebAgent,
        title: String,
        current_view: &str,
    ) -> Result<Self, WebError> {
        let mut page = Self::anonymous(state, agent.tr, title, agent.csrf.clone());
        let name = view::display_name(&agent.user);
        page.signed_in = true;
        page.user_id = agent.user.id.clone();
        page.user_initials = view::initials(&name);
        page.user_name = name;
        page.user_role = agent.tr.t(&format!("role-{}", agent.user.role.as_str()));
        page.current_view = current_view.to_owned();
        page.can_dashboard = matches!(
            agent.user.role,
            Role::Admin | Role::Supervisor | Role::Coordinator
        );
        page.can_billing = matches!(agent.user.role, Role::Admin | Role::Supervisor);
        page.unread_notifications = state
            .store
            .unread_notifications(&agent.user.id)
            .await
            .unwrap_or(0);
        page.is_admin = agent.user.role == Role::Admin;
        page.views = view_links(state, agent, current_view).await?;
        Ok(page)
    }
}

/// Renders a template into a response.
/// The store's refusal (invalid or conflicting input) as a message beside the field it is
/// about: the first field whose words the message names (`(word, field)` pairs), else
/// `other`. Any other error stays an error.
pub fn field_error(
    e: switchboard_core::Error,
    fields: &[(&str, &'static str)],
    other: &'static str,
) -> Result<FieldError, switchboard_core::Error> {
    match e {
        switchboard_core::Error::Invalid(m) | switchboard_core::Error::Conflict(m) => {
            let lower = m.to_lowercase();
            let field = fields
                .iter()
                .find(|(word, _)| lower.contains(word))
                .map_or(other, |(_, f)| f);
            Ok(FieldError { field, message: m })
        }
        e => Err(e),
    }
}

/// A form page: 422 when it shows errors, so scripts and tests see the refusal.
pub fn render_form(t: &impl Template, has_errors: bool) -> Response {
    let mut resp = render(t);
    if has_errors && resp.status().is_success() {
        *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    resp
}

pub fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A field's error, for the error summary.
#[derive(Debug, Clone)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    p: Page,
    heading: String,
    message: String,
}

/// A page's failure, shown as a page in the viewer's language.
#[derive(Debug)]
pub enum WebError {
    NotFound(Tr),
    Forbidden(Tr),
    Api(crate::kit::error::ApiError),
}

impl From<switchboard_core::Error> for WebError {
    fn from(e: switchboard_core::Error) -> Self {
        WebError::Api(e.into())
    }
}

impl From<crate::kit::error::ApiError> for WebError {
    fn from(e: crate::kit::error::ApiError) -> Self {
        WebError::Api(e)
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, tr, key) = match self {
            WebError::NotFound(tr) => (StatusCode::NOT_FOUND, tr, "not-found"),
            WebError::Forbidden(tr) => (StatusCode::FORBIDDEN, tr, "forbidden"),
            WebError::Api(crate::kit::error::ApiError::NotFound(_)) => (
                StatusCode::NOT_FOUND,
                Tr::new(i18n::Locale::En),
                "not-found",
            ),
            WebError::Api(crate::kit::error::ApiError::Forbidden(_)) => (
                StatusCode::FORBIDDEN,
                Tr::new(i18n::Locale::En),
                "forbidden",
            ),
            WebError::Api(e) => return e.into_response(),
        };
        let page = ErrorPage {
            p: Page {
                t: tr,
                title: tr.t(&format!("{key}-title")),
                csrf: String::new(),
                business: String::new(),
                accent: "#2456c7".into(),
                accent_text: "#ffffff",
                asset_version: asset_version(),
                signed_in: false,
                user_id: String::new(),
                user_name: String::new(),
                user_initials: String::new(),
                user_role: String::new(),
                current_view: String::new(),
                views: Vec::new(),
                can_dashboard: false,
                can_billing: false,
                is_admin: false,
                unread_notifications: 0,
            },
            heading: tr.t(&format!("{key}-title")),
            message: tr.t(&format!("{key}-body")),
        };
        (status, render(&page)).into_response()
    }
}

pub fn view_label(t: &crate::kit::i18n::Tr, v: &View) -> String {
    match v {
        View::Mine => t.t("view-mine"),
        View::Unassigned => t.t("view-unassigned"),
        View::All => t.t("view-all"),
        View::Team(name) => name.clone(),
        View::Tier(tier) => t.t1("view-tier", "tier", tier.as_str()),
    }
}

/// The rail's views with their counts.
pub async fn view_links(
    state: &AppState,
    agent: &WebAgent,
    current: &str,
) -> Result<Vec<ViewLink>, WebError> {
    let counts = state.store.inbox_counts(&agent.caller).await?;
    let t = &agent.tr;
    let mut last_group = String::new();
    Ok(counts
        .into_iter()
        .map(|c| {
            let (group, icon) = match &c.view {
                View::Mine => (String::new(), "i-user"),
                View::Unassigned => (String::new(), "i-unassigned"),
                View::All => (String::new(), "i-all"),
                View::Team(_) => (t.t("group-teams"), "i-users"),
                View::Tier(_) => (t.t("group-tiers"), "i-layers"),
            };
            let first_of_group = group != last_group;
            last_group.clone_from(&group);
            let key = c.view.key();
            ViewLink {
                href: format!(
                    "/conversations?view={}",
                    crate::kit::session::urlencode(&key)
                ),
                label: view_label(t, &c.view),
                icon,
                open: t.number(c.open),
                unread: c.unread,
                unread_title: t.t1("unread-count", "n", c.unread),
                current: key == current,
                group,
                first_of_group,
            }
        })
        .collect())
}

pub async fn find(
    state: &AppState,
    agent: &WebAgent,
    number: &str,
) -> Result<Conversation, WebError> {
    let n: i64 = number
        .trim_start_matches('#')
        .parse()
        .map_err(|_| WebError::NotFound(agent.tr))?;
    state
        .store
        .conversation_by_number_for(&agent.caller, n)
        .await
        .map_err(|e| match e {
            switchboard_core::Error::NotFound(_) => WebError::NotFound(agent.tr),
            e => e.into(),
        })
}

/// One route of a surface's page table.
pub fn r(
    method: &'static str,
    path: &'static str,
    access: Access,
    mr: MethodRouter<AppState>,
) -> (RouteSpec, MethodRouter<AppState>) {
    (
        RouteSpec {
            method,
            path,
            access,
        },
        mr,
    )
}

/// A surface's page routes, with the access each needs.
pub type Table = Vec<(RouteSpec, MethodRouter<AppState>)>;

/// A page table's router, behind the session and CSRF guard.
pub fn guarded(state: &AppState, table: Table) -> axum::Router<AppState> {
    let mut router: axum::Router<AppState> = axum::Router::new();
    for (spec, mr) in table {
        router = router.route(spec.path, mr);
    }
    router.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        super::session::guard,
    ))
}
