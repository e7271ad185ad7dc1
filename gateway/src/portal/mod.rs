//! The client portal: sign-in by magic link, the client's invoices and estimates with their
//! totals, each invoice's page, PDF and payment, Download All as one streamed ZIP, the
//! Support tab (tickets), and the activity log.
//!
//! Every route is declared once, in [`table`], with the access it needs; the route-scope
//! test walks the same table. A client's documents are always read through its
//! [`ClientScope`], built from the session, never from an id in the URL.
//!
//! The routes, behind the agents' session and CSRF guard: `/portal/login` (a link asked for
//! is mailed in the background and the answer is the same for any address),
//! `/portal/link/{token}` (GET and HEAD show a confirmation and never use the link; the
//! POST uses it once and opens a new session), `/portal` (totals per currency, the invoice
//! table sortable, filterable, paginated, with select-all), `/portal/invoices/{number}`
//! (marks Viewed), `…/pdf`, `…/state` (the page polls it to follow a payment),
//! `POST /portal/invoices/zip` (only the client's own invoices, whatever numbers are
//! posted), and `/portal/activity`, `POST /portal/invoices/{number}/pay` and
//! `POST /portal/estimates/{number}/answer`. Tests: e2e
//! `portal::magic_links_sign_clients_in_once_and_show_their_own_invoices`,
//! `portal::every_portal_route_keeps_a_client_to_its_company` (walks
//! `portal::route_specs()`).

use askama::Template;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get, post};
use switchboard_core::store::ClientScope;
use switchboard_portal::locale::Lang;

use crate::kit::AppState;
use crate::kit::page::render;
use crate::kit::session::Signed;
use crate::kit::view;
use crate::kit::words::{AccountWords, Words, account_words, lang_of, words};

pub mod auth;
pub mod equipment;
pub mod home;
pub mod map;
pub mod notices;
pub mod pages;
pub mod pay;
pub mod sso;
pub mod surveys;
pub mod tickets;
pub mod users;
pub mod whatsapp;

/// What a portal route needs from its caller. The route-scope test reads this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortalAccess {
    /// Anyone (the sign-in pages).
    Public,
    /// A signed-in client; documents in the path are looked up in its scope.
    Client,
}

#[derive(Debug, Clone, Copy)]
pub struct PortalRoute {
    pub method: &'static str,
    pub path: &'static str,
    pub access: PortalAccess,
}

type Table = Vec<(PortalRoute, MethodRouter<AppState>)>;

fn r(
    method: &'static str,
    path: &'static str,
    access: PortalAccess,
    mr: MethodRouter<AppState>,
) -> (PortalRoute, MethodRouter<AppState>) {
    (
        PortalRoute {
            method,
            path,
            access,
        },
        mr,
    )
}

/// Every portal route, with the access it needs.
pub fn table() -> Table {
    use PortalAccess::*;
    vec![
        r("GET", "/portal/login", Public, get(auth::login_page)),
        r("POST", "/portal/login", Public, post(auth::send_link)),
        r(
            "POST",
            "/portal/login/password",
            Public,
            post(users::password_login),
        ),
        r("GET", "/portal/login/2fa", Public, get(users::code_page)),
        r("POST", "/portal/login/2fa", Public, post(users::code)),
        r(
            "GET",
            "/portal/link/{token}",
            Public,
            get(auth::confirm_page),
        ),
        r("POST", "/portal/link/{token}", Public, post(auth::use_link)),
        r("GET", "/portal/sso/{name}", Public, get(sso::start)),
        r(
            "GET",
            "/portal/sso/{name}/callback",
            Public,
            get(sso::callback),
        ),
        // A survey's link answers that survey and signs nobody in.
        r("GET", "/survey/{token}", Public, get(surveys::show)),
        r("POST", "/survey/{token}", Public, post(surveys::submit)),
        r("POST", "/portal/logout", Client, post(auth::logout)),
        r("GET", "/portal", Client, get(home::home)),
        r("GET", "/portal/invoices", Client, get(pages::home)),
        r("POST", "/portal/invoices/zip", Client, post(pages::zip)),
        r(
            "GET",
            "/portal/invoices/{number}",
            Client,
            get(pages::invoice),
        ),
        r(
            "GET",
            "/portal/invoices/{number}/pdf",
            Client,
            get(pages::invoice_pdf),
        ),
        r(
            "GET",
            "/portal/invoices/{number}/state",
            Client,
            get(pages::invoice_state),
        ),
        r(
            "POST",
            "/portal/invoices/{number}/pay",
            Client,
            post(pay::pay),
        ),
        r(
            "GET",
            "/portal/estimates/{number}",
            Client,
            get(pages::estimate),
        ),
        r(
            "POST",
            "/portal/estimates/{number}/answer",
            Client,
            post(pay::answer_estimate),
        ),
        r("GET", "/portal/activity", Client, get(pages::activity)),
        r("GET", "/portal/users", Client, get(users::list)),
        r("POST", "/portal/users", Client, post(users::invite)),
        r(
            "POST",
            "/portal/users/2fa",
            Client,
            post(users::require_2fa),
        ),
        r(
            "POST",
            "/portal/users/{id}/remove",
            Client,
            post(users::remove),
        ),
        r("GET", "/portal/account", Client, get(users::account)),
        r(
            "POST",
            "/portal/account/password",
            Client,
            post(users::set_password),
        ),
        r(
            "POST",
            "/portal/account/2fa/begin",
            Client,
            post(users::begin_totp),
        ),
        r(
            "POST",
            "/portal/account/2fa/confirm",
            Client,
            post(users::confirm_totp),
        ),
        r(
            "POST",
            "/portal/account/2fa/disable",
            Client,
            post(users::disable_totp),
        ),
        r(
            "POST",
            "/portal/account/language",
            Client,
            post(users::set_language),
        ),
        r(
            "POST",
            "/portal/account/notices",
            Client,
            post(whatsapp::set_notices),
        ),
        r(
            "POST",
            "/portal/whatsapp",
            Client,
            post(whatsapp::continue_on_whatsapp),
        ),
        r("GET", "/portal/notifications", Client, get(notices::list)),
        r(
            "POST",
            "/portal/notifications/preferences",
            Client,
            post(notices::preferences),
        ),
        r("GET", "/portal/machines", Client, get(equipment::list)),
        r("GET", "/portal/map", Client, get(map::page)),
        r(
            "POST",
            "/portal/company",
            Client,
            post(home::switch_company),
        ),
        r("GET", "/portal/readings", Client, get(equipment::readings)),
        r(
            "POST",
            "/portal/readings",
            Client,
            post(equipment::add_readings),
        ),
        r(
            "GET",
            "/portal/machines/{machine}",
            Client,
            get(equipment::show),
        ),
        r(
            "POST",
            "/portal/machines/{machine}/readings",
            Client,
            post(equipment::add_reading).layer(DefaultBodyLimit::max(equipment::MAX_FORM_BYTES)),
        ),
        r(
            "GET",
            "/portal/machines/{machine}/readings/{reading}/photo",
            Client,
            get(equipment::photo),
        ),
        r(
            "GET",
            "/portal/contracts/{number}",
            Client,
            get(equipment::contract),
        ),
        r(
            "GET",
            "/portal/visits/{visit}/report",
            Client,
            get(equipment::visit_report),
        ),
        r(
            "GET",
            "/portal/contracts/{number}/pdf",
            Client,
            get(equipment::contract_pdf),
        ),
        r("GET", "/portal/tickets", Client, get(tickets::list)),
        r(
            "POST",
            "/portal/tickets",
            Client,
            post(tickets::create).layer(DefaultBodyLimit::max(tickets::MAX_FORM_BYTES)),
        ),
        r("GET", "/portal/tickets/new", Client, get(tickets::new_form)),
        r(
            "GET",
            "/portal/tickets/{number}",
            Client,
            get(tickets::show),
        ),
        r(
            "GET",
            "/portal/tickets/{number}/thread",
            Client,
            get(tickets::thread),
        ),
        r(
            "GET",
            "/portal/tickets/{number}/events",
            Client,
            get(tickets::events),
        ),
        r(
            "POST",
            "/portal/tickets/{number}/reply",
            Client,
            post(tickets::reply).layer(DefaultBodyLimit::max(tickets::MAX_FORM_BYTES)),
        ),
        r(
            "GET",
            "/portal/tickets/{number}/files/{key}",
            Client,
            get(tickets::file),
        ),
    ]
}

/// The routes of [`table`], for tests.
pub fn route_specs() -> Vec<PortalRoute> {
    table().into_iter().map(|(s, _)| s).collect()
}

/// The portal's router, behind the same session and CSRF guard as the agents' pages.
pub fn routes(state: &AppState) -> Router<AppState> {
    let mut router: Router<AppState> = Router::new();
    for (spec, mr) in table() {
        router = router.route(spec.path, mr);
    }
    router.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        crate::kit::session::guard,
    ))
}

/// What every portal page's layout needs.
#[derive(Debug, Clone)]
pub struct Layout {
    pub w: &'static Words,
    pub a: &'static AccountWords,
    pub lang: Lang,
    pub title: String,
    pub business: String,
    pub accent: String,
    pub accent_text: &'static str,
    pub asset_version: &'static str,
    pub csrf: String,
    pub signed_in: bool,
    pub who: String,
    pub current: &'static str,
    /// The signed-in client is its company's admin (the Users tab).
    pub admin: bool,
    /// The Equipment tab.
    pub equipment: bool,
    /// The client's notices not seen yet.
    pub unread: i64,
    /// The companies to switch between, `(id, name, current)`; empty with only one.
    pub companies: Vec<(String, String, bool)>,
}

impl Layout {
    pub fn new(state: &AppState, lang: Lang, title: String, csrf: String) -> Self {
        Self {
            w: words(lang),
            a: account_words(lang),
            lang,
            title,
            business: state.config.web.business_name.clone(),
            accent: state.config.web.accent.clone(),
            accent_text: view::text_on(&state.config.web.accent),
            asset_version: crate::kit::page::asset_version(),
            csrf,
            signed_in: false,
            who: String::new(),
            current: "",
            admin: false,
            unread: 0,
            companies: Vec::new(),
            equipment: state.config.portal.equipment,
        }
    }

    pub fn client(state: &AppState, c: &Client, title: String, current: &'static str) -> Self {
        let mut l = Self::new(state, c.lang, title, c.csrf.clone());
        l.signed_in = true;
        l.who = c
            .scope
            .name
            .clone()
            .unwrap_or_else(|| c.scope.email.clone());
        l.current = current;
        l.admin = c.scope.is_admin() && c.scope.company_id.is_some();
        l.unread = c.unread;
        if c.companies.len() > 1 {
            l.companies = c
                .companies
                .iter()
                .map(|(id, name)| {
                    (
                        id.clone(),
                        name.clone(),
                        c.scope.company_id.as_deref() == Some(id),
                    )
                })
                .collect();
        }
        l
    }

    pub fn lang_tag(&self) -> &'static str {
        self.lang.tag()
    }

    /// The Notifications tab's name.
    pub fn notices(&self) -> &'static str {
        notices::notice_words(self.lang).title
    }

    /// The Home tab's name.
    pub fn home(&self) -> &'static str {
        home::home_words(self.lang).home
    }

    /// The Equipment tab's name.
    pub fn eq_nav(&self) -> &'static str {
        crate::kit::machines::eq_words(self.lang).equipment
    }

    /// The company switcher's words.
    pub fn company_word(&self) -> &'static str {
        match self.lang {
            Lang::En => "Company",
            Lang::Es => "Empresa",
            Lang::PtBr => "Empresa",
        }
    }

    pub fn switch_word(&self) -> &'static str {
        match self.lang {
            Lang::En => "Switch",
            Lang::Es => "Cambiar",
            Lang::PtBr => "Trocar",
        }
    }

    pub fn current_word(&self) -> &'static str {
        match self.lang {
            Lang::En => "Current",
            Lang::Es => "Actual",
            Lang::PtBr => "Atual",
        }
    }

    pub fn your_companies(&self) -> &'static str {
        match self.lang {
            Lang::En => "Your companies",
            Lang::Es => "Sus empresas",
            Lang::PtBr => "Suas empresas",
        }
    }

    /// Machines down, after their count.
    pub fn down_word(&self) -> &'static str {
        map::map_words(self.lang).down
    }

    /// The link to the sites and their map.
    pub fn sites_nav(&self) -> &'static str {
        map::map_words(self.lang).sites_nav
    }

    pub fn initial(&self) -> String {
        crate::kit::view::initial_of(&self.business)
    }

    /// The help center's name, for the link in every portal page's footer.
    pub fn help_center(&self) -> &'static str {
        let l = match self.lang {
            Lang::En => switchboard_kb::Lang::En,
            Lang::Es => switchboard_kb::Lang::Es,
            Lang::PtBr => switchboard_kb::Lang::Pt,
        };
        crate::kit::words::help_words(l).title
    }
}

/// A signed-in client.
#[derive(Debug, Clone)]
pub struct Client {
    pub scope: ClientScope,
    pub csrf: String,
    pub token: String,
    pub lang: Lang,
    /// Notices not seen yet (the bell's count).
    pub unread: i64,
    /// The companies the client may work in, `(id, name)`: its own and, for a client
    /// admin, those granted to it (the switcher shows when there are several).
    pub companies: Vec<(String, String)>,
}

impl FromRequestParts<AppState> for Client {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let lang = lang_of(&parts.headers);
        let Some(signed) = parts.extensions.get::<Signed>().cloned() else {
            let next = parts.uri.path_and_query().map_or("/portal", |p| p.as_str());
            let to = format!(
                "/portal/login?next={}",
                crate::kit::session::urlencode(next)
            );
            return Err(Redirect::to(&to).into_response());
        };
        let path = parts.uri.path_and_query().map_or("/portal", |p| p.as_str());
        // A session still waiting for its second step opens nothing but the code's page.
        if !signed.session.is_complete() {
            let to = format!(
                "/portal/login/2fa?next={}",
                crate::kit::session::urlencode(path)
            );
            return Err(Redirect::to(&to).into_response());
        }
        // Read with the session, by the guard.
        let Some(scope) = signed.session.client.clone() else {
            return Err(message(
                state,
                lang,
                StatusCode::FORBIDDEN,
                words(lang).not_found,
                words(lang).clients_only,
            ));
        };
        // A company that requires two-step verification: set it up before anything else.
        if scope.company_requires_2fa
            && !scope.two_factor
            && !parts.uri.path().starts_with("/portal/account")
            && parts.uri.path() != "/portal/logout"
        {
            return Err(Redirect::to("/portal/account").into_response());
        }
        // The client's own language, when chosen, before the browser's.
        let lang = scope.language.as_deref().map_or(lang, Lang::from_tag);
        let unread = state.store.unread_notices(&scope).await.unwrap_or(0);
        let companies = if scope.is_admin() {
            state
                .store
                .client_companies(&scope)
                .await
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        Ok(Client {
            scope,
            csrf: signed.session.csrf_token.clone(),
            token: signed.token,
            lang,
            unread,
            companies,
        })
    }
}

/// Counters as the activity log shows them: `mono 12,400 · colour 3,100`.
pub fn counts_words(mono: Option<i64>, colour: Option<i64>, scans: Option<i64>) -> String {
    [("mono", mono), ("colour", colour), ("scans", scans)]
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k} {v}")))
        .collect::<Vec<_>>()
        .join(" · ")
}

#[derive(Template)]
#[template(path = "portal/message.html")]
struct MessagePage {
    l: Layout,
    heading: String,
    body: String,
}

/// A page that says one thing (not found, not allowed).
pub fn message(
    state: &AppState,
    lang: Lang,
    status: StatusCode,
    heading: &str,
    body: &str,
) -> Response {
    let page = MessagePage {
        l: Layout::new(state, lang, heading.to_owned(), String::new()),
        heading: heading.to_owned(),
        body: body.to_owned(),
    };
    (status, render(&page)).into_response()
}

/// Not found, in the client's words: what another company's document looks like too.
pub fn not_found(state: &AppState, lang: Lang) -> Response {
    let w = words(lang);
    message(
        state,
        lang,
        StatusCode::NOT_FOUND,
        w.not_found,
        w.not_found_body,
    )
}

/// Responses that must not be cached or framed.
pub fn private(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(
        header::REFERRER_POLICY,
        // Not `no-referrer`: with it a browser sends `Origin: null` on our own forms, which
        // the CSRF guard refuses. Links with tokens never leave for another site either way.
        HeaderValue::from_static("same-origin"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    resp
}
