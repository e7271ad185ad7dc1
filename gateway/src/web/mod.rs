//! The agent pages: server-rendered (askama) HTML that works without JavaScript, enhanced
//! by htmx and one small script (live updates over a websocket, shortcuts, saved replies).
//! Assets are embedded in the binary.
//!
//! Every route is declared once, in [`table`], with the access it needs; the router is
//! built from that table and the route-scope test walks the same table, so a new route
//! cannot escape the check.

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};

use crate::app::AppState;
use i18n::Tr;
use session::WebAgent;

pub mod admin;
pub mod auth;
pub mod billing;
pub mod billing_form;
pub mod blobs;
pub mod dashboard;
pub mod i18n;
pub mod inbox;
pub mod kb;
pub mod saved;
pub mod session;
pub mod socket;
pub mod view;

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
}

/// One route of the pages.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

type Table = Vec<(RouteSpec, MethodRouter<AppState>)>;

fn r(
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

/// Every page route, with the access it needs.
pub fn table() -> Table {
    use Access::*;
    vec![
        r("GET", "/assets/{file}", Public, get(asset)),
        r("GET", "/login", Public, get(auth::login_page)),
        r("POST", "/login", Public, post(auth::login)),
        r("GET", "/login/2fa", Public, get(auth::second_factor_page)),
        r("POST", "/login/2fa", Public, post(auth::second_factor)),
        r("POST", "/logout", Public, post(auth::logout)),
        r(
            "POST",
            "/logout/everywhere",
            Agent,
            post(auth::logout_everywhere),
        ),
        r("GET", "/password/forgot", Public, get(auth::forgot_page)),
        r("POST", "/password/forgot", Public, post(auth::forgot)),
        r("GET", "/password/reset", Public, get(auth::reset_page)),
        r("POST", "/password/reset", Public, post(auth::reset)),
        r("GET", "/invite", Public, get(auth::invite_page)),
        r("POST", "/invite", Public, post(auth::accept_invite)),
        r("GET", "/account", Agent, get(auth::account_page)),
        r("POST", "/account/locale", Agent, post(auth::set_locale)),
        r("POST", "/account/2fa/begin", Agent, post(auth::begin_totp)),
        r(
            "POST",
            "/account/2fa/confirm",
            Agent,
            post(auth::confirm_totp),
        ),
        r("GET", "/conversations", Agent, get(inbox::page)),
        r(
            "GET",
            "/conversations/list",
            Agent,
            get(inbox::list_fragment),
        ),
        r(
            "GET",
            "/conversations/views",
            Agent,
            get(inbox::views_fragment),
        ),
        r("POST", "/conversations/bulk", AgentWrite, post(inbox::bulk)),
        r(
            "GET",
            "/conversations/{number}",
            Agent,
            get(inbox::conversation_page),
        ),
        r(
            "GET",
            "/conversations/{number}/thread",
            Agent,
            get(inbox::thread_fragment),
        ),
        r(
            "POST",
            "/conversations/{number}/messages",
            AgentWrite,
            post(inbox::post_message),
        ),
        r(
            "POST",
            "/conversations/{number}/assign",
            AgentWrite,
            post(inbox::assign),
        ),
        r(
            "POST",
            "/conversations/{number}/status",
            AgentWrite,
            post(inbox::set_status),
        ),
        r(
            "POST",
            "/conversations/{number}/snooze",
            AgentWrite,
            post(inbox::snooze),
        ),
        r(
            "POST",
            "/conversations/{number}/priority",
            AgentWrite,
            post(inbox::set_priority),
        ),
        r(
            "POST",
            "/conversations/{number}/tier",
            AgentWrite,
            post(inbox::set_tier),
        ),
        r(
            "POST",
            "/conversations/{number}/labels",
            AgentWrite,
            post(inbox::set_labels),
        ),
        r(
            "POST",
            "/conversations/{number}/merge",
            AgentWrite,
            post(inbox::merge_conversation),
        ),
        r(
            "GET",
            "/conversations/{number}/contact-matches",
            Agent,
            get(inbox::contact_matches),
        ),
        r(
            "POST",
            "/conversations/{number}/merge-contact",
            AgentWrite,
            post(inbox::merge_contact),
        ),
        r("GET", "/blobs/{key}", Agent, get(blobs::agent_blob)),
        r("GET", "/canned", Agent, get(inbox::canned)),
        r("GET", "/saved-replies", Agent, get(saved::list)),
        r("GET", "/saved-replies/new", Agent, get(saved::new_page)),
        r(
            "POST",
            "/saved-replies/new",
            AgentWrite,
            post(saved::create),
        ),
        r("GET", "/saved-replies/{id}", Agent, get(saved::edit_page)),
        r(
            "POST",
            "/saved-replies/{id}",
            AgentWrite,
            post(saved::update),
        ),
        r(
            "POST",
            "/saved-replies/{id}/delete",
            AgentWrite,
            post(saved::delete),
        ),
        r("GET", "/palette", Agent, get(inbox::palette)),
        r("GET", "/inbox/events", Agent, get(socket::upgrade)),
        r("GET", "/dashboard", Reports, get(dashboard::page)),
        r("GET", "/billing", Reports, get(billing::list)),
        r("GET", "/billing/new", Admin, get(billing_form::new_page)),
        r("POST", "/billing/new", Admin, post(billing_form::create)),
        r(
            "GET",
            "/billing/documents/{id}/edit",
            Admin,
            get(billing_form::edit_page),
        ),
        r(
            "POST",
            "/billing/documents/{id}/edit",
            Admin,
            post(billing_form::save),
        ),
        r(
            "GET",
            "/billing/documents/{id}",
            Reports,
            get(billing::document),
        ),
        r(
            "POST",
            "/billing/documents/{id}/send",
            Admin,
            post(billing::send),
        ),
        r(
            "POST",
            "/billing/documents/{id}/payment",
            Admin,
            post(billing::payment),
        ),
        r(
            "POST",
            "/billing/documents/{id}/void",
            Admin,
            post(billing::void),
        ),
        r("GET", "/kb", Agent, get(kb::list)),
        r("GET", "/kb/new", AgentWrite, get(kb::new_page)),
        r("POST", "/kb/new", AgentWrite, post(kb::create)),
        r("GET", "/kb/gaps", Agent, get(kb::gaps)),
        r("POST", "/kb/learn", AgentWrite, post(kb::learn)),
        r("GET", "/kb/{article}/edit", Agent, get(kb::edit_page)),
        r("POST", "/kb/{article}/edit", AgentWrite, post(kb::update)),
        r(
            "POST",
            "/kb/from-reply/{message}",
            AgentWrite,
            post(kb::from_reply),
        ),
        r("GET", "/admin/users", Admin, get(admin::list)),
        r("GET", "/admin/email", Admin, get(admin::email)),
        r("GET", "/admin/email/new", Admin, get(admin::email_new_page)),
        r("POST", "/admin/email/new", Admin, post(admin::email_create)),
        r(
            "GET",
            "/admin/email/{name}/edit",
            Admin,
            get(admin::email_edit_page),
        ),
        r(
            "POST",
            "/admin/email/{name}/edit",
            Admin,
            post(admin::email_update),
        ),
        r(
            "POST",
            "/admin/email/{name}/delete",
            Admin,
            post(admin::email_delete),
        ),
        r(
            "POST",
            "/admin/email/{name}/test",
            Admin,
            post(admin::email_test),
        ),
        r("GET", "/admin/users/new", Admin, get(admin::new_page)),
        r("POST", "/admin/users/new", Admin, post(admin::create)),
        r("GET", "/admin/users/{user}", Admin, get(admin::edit_page)),
        r("POST", "/admin/users/{user}", Admin, post(admin::update)),
        r(
            "POST",
            "/admin/users/{user}/active",
            Admin,
            post(admin::set_active),
        ),
    ]
}

/// The routes of [`table`], for tests and the docs.
pub fn route_specs() -> Vec<RouteSpec> {
    table().into_iter().map(|(s, _)| s).collect()
}

/// The pages' router, behind the session and CSRF guard.
pub fn router(state: AppState) -> Router<AppState> {
    let mut router: Router<AppState> = Router::new();
    for (spec, mr) in table() {
        router = router.route(spec.path, mr);
    }
    router.layer(axum::middleware::from_fn_with_state(state, session::guard))
}

/// Embedded assets; their version (a hash of their bytes) busts caches on upgrade.
const APP_CSS: &str = include_str!("../../assets/app.css");
const APP_JS: &str = include_str!("../../assets/app.js");
const ICONS: &str = include_str!("../../assets/icons.svg");
const HTMX: &str = include_str!("../../assets/vendor/htmx-2.0.11.min.js");
const PORTAL_JS: &str = include_str!("../../assets/portal.js");
const HELP_JS: &str = include_str!("../../assets/help.js");

pub fn asset_version() -> &'static str {
    static V: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for a in [APP_CSS, APP_JS, ICONS, HTMX, PORTAL_JS, HELP_JS] {
            h.update(a.as_bytes());
        }
        hex::encode(&h.finalize()[..6])
    })
}

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let (body, mime) = match file.as_str() {
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "icons.svg" => (ICONS, "image/svg+xml"),
        "htmx.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "portal.js" => (PORTAL_JS, "text/javascript; charset=utf-8"),
        "help.js" => (HELP_JS, "text/javascript; charset=utf-8"),
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
    pub is_admin: bool,
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
            is_admin: false,
        }
    }

    /// A page for a signed-in agent, with the rail's views and counts.
    pub async fn agent(
        state: &AppState,
        agent: &WebAgent,
        title: String,
        current_view: &str,
    ) -> Result<Self, WebError> {
        use switchboard_core::domain::Role;
        let mut page = Self::anonymous(state, agent.tr, title, agent.csrf.clone());
        let name = view::display_name(&agent.user);
        page.signed_in = true;
        page.user_id = agent.user.id.clone();
        page.user_initials = view::initials(&name);
        page.user_name = name;
        page.user_role = agent.tr.t(&format!("role-{}", agent.user.role.as_str()));
        page.current_view = current_view.to_owned();
        page.can_dashboard = matches!(agent.user.role, Role::Admin | Role::Supervisor);
        page.is_admin = agent.user.role == Role::Admin;
        page.views = inbox::view_links(state, agent, current_view).await?;
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
    Api(crate::error::ApiError),
}

impl From<switchboard_core::Error> for WebError {
    fn from(e: switchboard_core::Error) -> Self {
        WebError::Api(e.into())
    }
}

impl From<crate::error::ApiError> for WebError {
    fn from(e: crate::error::ApiError) -> Self {
        WebError::Api(e)
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, tr, key) = match self {
            WebError::NotFound(tr) => (StatusCode::NOT_FOUND, tr, "not-found"),
            WebError::Forbidden(tr) => (StatusCode::FORBIDDEN, tr, "forbidden"),
            WebError::Api(crate::error::ApiError::NotFound(_)) => (
                StatusCode::NOT_FOUND,
                Tr::new(i18n::Locale::En),
                "not-found",
            ),
            WebError::Api(crate::error::ApiError::Forbidden(_)) => (
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
                is_admin: false,
            },
            heading: tr.t(&format!("{key}-title")),
            message: tr.t(&format!("{key}-body")),
        };
        (status, render(&page)).into_response()
    }
}
