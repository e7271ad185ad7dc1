//! Signing clients in with magic links (OWASP's guidance for them):
//!
//! - `GET /portal/link/{token}` shows a one-click confirmation and changes nothing, so a
//!   mail scanner that fetches the link (GET or HEAD) does not use it up; only the
//!   confirmation's `POST` does, once.
//! - An expired, used, altered or unknown link gets a page that says which, with the form
//!   that mails a new one; no session.
//! - "Email me a sign-in link" answers the same whether or not the address has a portal,
//!   and mails in the background so the answer's timing says nothing either; it is limited
//!   per address and per client IP.
//! - Using a link proves the address: it becomes a verified identity of the contact.
//! - A new session (a new cookie) is issued at every sign-in; sign-out ends it.

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use switchboard_core::store::{LinkState, NewLink};

use super::{Client, Layout, private};
use crate::kit::AppState;
use crate::kit::auth::{pre_csrf, with_cookie};
use crate::kit::page::render;
use crate::kit::session::{AnySession, SESSION_COOKIE, limits, set_cookie};
use crate::kit::words::{lang_of, words};

/// A portal path to land on after signing in; anything else lands on the portal's home.
pub fn safe_next(next: Option<&str>) -> String {
    next.and_then(crate::kit::session::local_path)
        .filter(|n| {
            let path = n.split('?').next().unwrap_or_default();
            (path == "/portal" || path.starts_with("/portal/"))
                && !path.contains("//")
                && !path.starts_with("/portal/link")
        })
        .unwrap_or_else(|| "/portal".to_owned())
}

#[derive(Template)]
#[template(path = "portal/login.html")]
struct LoginPage {
    l: Layout,
    email: String,
    next: String,
    error: Option<String>,
    notice: Option<String>,
    /// Why a link could not be used, when the page answers one.
    problem: Option<String>,
    /// The companies' own sign-ins shown on the page (those given a label): words, address.
    sso: Vec<(String, String)>,
}

/// The company sign-ins shown on the portal's sign-in page: only those given a label (a
/// company's name on a public page is its choice); the others are reached at
/// `/portal/sso/<name>` from the company's own pages.
fn sso_buttons(state: &AppState, next: &str) -> Vec<(String, String)> {
    state
        .config
        .sso
        .companies
        .iter()
        .filter_map(|(name, p)| {
            p.label.as_ref().map(|label| {
                (
                    label.clone(),
                    format!(
                        "/portal/sso/{name}?next={}",
                        crate::kit::session::urlencode(next)
                    ),
                )
            })
        })
        .collect()
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    pub next: Option<String>,
}

pub async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let (csrf, set) = pre_csrf(&headers);
    let lang = lang_of(&headers);
    let w = words(lang);
    let next = safe_next(q.next.as_deref());
    let page = LoginPage {
        l: Layout::new(&state, lang, w.sign_in_title.to_owned(), csrf),
        email: String::new(),
        sso: sso_buttons(&state, &next),
        next,
        error: None,
        notice: None,
        problem: None,
    };
    with_cookie(render(&page), set)
}

#[derive(Debug, Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    email: String,
    next: Option<String>,
}

pub async fn send_link(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LinkForm>,
) -> Response {
    let (csrf, set) = pre_csrf(&headers);
    let lang = lang_of(&headers);
    let w = words(lang);
    let email = form.email.trim().to_lowercase();
    let next = safe_next(form.next.as_deref());
    let mut page = LoginPage {
        l: Layout::new(&state, lang, w.sign_in_title.to_owned(), csrf),
        email: form.email.trim().to_owned(),
        next: next.clone(),
        error: None,
        notice: None,
        problem: None,
        sso: Vec::new(),
    };
    if email.is_empty() {
        page.error = Some(w.email_missing.to_owned());
        let mut resp = with_cookie(render(&page), set);
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return resp;
    }
    // Per hour, shared by every node.
    let p = &state.config.portal;
    let allowed = crate::kit::limits::shared_take_both(
        &state.store,
        state.ids.now_ms(),
        ("link-ip", p.links_per_ip_per_hour),
        peer.ip(),
        ("link", p.links_per_address_per_hour),
        &crate::kit::limits::address_key(&email),
        3600 * 1000,
    )
    .await;
    if !allowed {
        page.error = Some(w.too_many.to_owned());
        let mut resp = with_cookie(render(&page), set);
        *resp.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        return resp;
    }
    // The answer is the same whoever asks; the mail, if any, goes in the background.
    let bg = state.clone();
    tokio::spawn(async move {
        if let Err(e) = mail_login_link(&bg, &email, &next, lang).await {
            tracing::warn!(error = %e, "sign-in link not mailed");
        }
    });
    page.notice = Some(w.link_sent.to_owned());
    page.email = String::new();
    with_cookie(render(&page), set)
}

async fn mail_login_link(
    state: &AppState,
    email: &str,
    next: &str,
    lang: switchboard_portal::locale::Lang,
) -> Result<(), String> {
    let Some(contact) = state
        .store
        .contact_for_portal_email(email)
        .await
        .map_err(|e| e.to_string())?
    else {
        tracing::info!(target: "audit", "sign-in link asked for an address with no portal");
        return Ok(());
    };
    let minutes = state.config.portal.login_link_minutes.max(1);
    let url = mint(state, &contact, email, "login", minutes * 60_000, next).await?;
    let w = words(lang);
    let cl = switchboard_channels::email::compose::Lang::from_tag(lang.tag());
    state
        .email_sender
        .send_direct(
            email,
            w.link_mail_subject,
            w.link_mail_text,
            Some((w.link_mail_button.to_owned(), url)),
            Some(cl),
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Issues a link and returns its address (`<public_url>/portal/link/<token>?next=…`).
pub async fn mint(
    state: &AppState,
    contact_id: &str,
    email: &str,
    purpose: &str,
    ttl_ms: i64,
    next: &str,
) -> Result<String, String> {
    let token = state
        .store
        .create_magic_link(
            &state.ids,
            &NewLink {
                contact_id,
                email,
                purpose,
                ttl_ms,
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(link_url(state, &token, next))
}

/// A link's address: `<public_url>/portal/link/<token>?next=…`.
pub fn link_url(state: &AppState, token: &str, next: &str) -> String {
    let base = state.config.public_url.trim_end_matches('/');
    let next = safe_next(Some(next));
    format!(
        "{base}/portal/link/{token}?next={}",
        crate::kit::session::urlencode(&next)
    )
}

/// Mints links for invoice and estimate mail, as the email sender writes them.
pub struct Minter(pub AppState);

#[async_trait::async_trait]
impl switchboard_channels::email::smtp::LinkMinter for Minter {
    async fn mint(&self, contact_id: &str, email: &str, next: &str) -> Result<String, String> {
        let days = self.0.config.portal.invoice_link_days.max(1);
        mint(
            &self.0,
            contact_id,
            email,
            "invoice",
            days * 86_400_000,
            next,
        )
        .await
    }

    fn sign_in_page(&self, next: &str) -> String {
        let base = self.0.config.public_url.trim_end_matches('/');
        format!(
            "{base}/portal/login?next={}",
            crate::kit::session::urlencode(&safe_next(Some(next)))
        )
    }
}

#[derive(Template)]
#[template(path = "portal/confirm.html")]
struct ConfirmPage {
    l: Layout,
    token: String,
    next: String,
}

fn problem_page(state: &AppState, headers: &HeaderMap, link: &LinkState, next: String) -> Response {
    let (csrf, set) = pre_csrf(headers);
    let lang = lang_of(headers);
    let w = words(lang);
    let why = match link {
        LinkState::Expired => w.link_expired,
        LinkState::Used => w.link_used,
        _ => w.link_unknown,
    };
    let page = LoginPage {
        l: Layout::new(state, lang, w.link_bad_title.to_owned(), csrf),
        email: String::new(),
        next,
        error: None,
        notice: None,
        problem: Some(why.to_owned()),
        sso: Vec::new(),
    };
    let mut resp = private(with_cookie(render(&page), set));
    *resp.status_mut() = if matches!(link, LinkState::Unknown) {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::GONE
    };
    resp
}

/// The confirmation page. Reading it (GET or HEAD) never uses the link.
pub async fn confirm_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Query(q): Query<NextQuery>,
) -> Result<Response, Response> {
    let now = state.ids.now_ms();
    let link = state
        .store
        .magic_link_state(&token, now)
        .await
        .map_err(|e| crate::kit::error::ApiError::from(e).into_response())?;
    let next = safe_next(q.next.as_deref());
    if !matches!(link, LinkState::Usable { .. }) {
        return Ok(problem_page(&state, &headers, &link, next));
    }
    let (csrf, set) = pre_csrf(&headers);
    let lang = lang_of(&headers);
    let page = ConfirmPage {
        l: Layout::new(&state, lang, words(lang).confirm_title.to_owned(), csrf),
        token,
        next,
    };
    Ok(private(with_cookie(render(&page), set)))
}

#[derive(Debug, Deserialize)]
pub struct UseForm {
    next: Option<String>,
}

/// The confirmation's POST: uses the link once and signs the client in.
pub async fn use_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    AnySession(old): AnySession,
    Path(token): Path<String>,
    Form(form): Form<UseForm>,
) -> Result<Response, Response> {
    let api = |e: switchboard_core::Error| crate::kit::error::ApiError::from(e).into_response();
    let now = state.ids.now_ms();
    let next = safe_next(form.next.as_deref());
    let Some(link) = state.store.use_magic_link(&token, now).await.map_err(api)? else {
        let link = state
            .store
            .magic_link_state(&token, now)
            .await
            .map_err(api)?;
        return Ok(problem_page(&state, &headers, &link, next));
    };
    let scoped = if link.purpose == "invite" {
        state.store.join_by_invitation(&state.ids, &link).await
    } else {
        state
            .store
            .portal_user_for_link(&state.ids, &link.contact_id, &link.email)
            .await
    };
    let scope = match scoped {
        Ok(s) => s,
        Err(switchboard_core::Error::Conflict(m)) => {
            tracing::warn!(target: "audit", error = %m, "portal sign-in refused");
            let lang = lang_of(&headers);
            let w = words(lang);
            return Ok(super::message(
                &state,
                lang,
                StatusCode::FORBIDDEN,
                w.link_bad_title,
                w.clients_only,
            ));
        }
        Err(e) => return Err(api(e)),
    };
    tracing::info!(target: "audit", user = %scope.user_id, ip = %peer.ip(), "client signed in by link");
    let how = format!("{} link from {}", link.purpose, peer.ip());
    open_session(&state, old, &scope, &how, &next)
        .await
        .map_err(api)
}

/// A new session for a client who proved who they are (a link, their company's sign-in),
/// recorded in the company's log, on to the second step or to `next`.
pub(crate) async fn open_session(
    state: &AppState,
    old: Option<crate::kit::session::Signed>,
    scope: &switchboard_core::store::ClientScope,
    how: &str,
    next: &str,
) -> Result<Response, switchboard_core::Error> {
    // A session from before (maybe planted by someone else) ends: a new one at sign-in.
    if let Some(old) = old {
        state.store.end_session(&old.token).await?;
    }
    let session = state
        .store
        .create_session(&state.ids, &scope.user_id, !scope.two_factor)
        .await?;
    state
        .store
        .audit(
            &state.ids,
            scope.company_id.as_deref(),
            &scope.contact_id,
            Some(&scope.user_id),
            "login",
            None,
            Some(how),
        )
        .await?;
    Ok(super::users::after_first_step(state, scope, &session, next).await)
}

/// The answer to a sign-in: the session cookie, and the chat widget's visitor cookie set
/// to the client's own, verified web-chat identity (its chat is the client's, with no
/// pre-chat form), then on to `next`.
pub(crate) async fn signed_in(
    state: &AppState,
    scope: &switchboard_core::store::ClientScope,
    session: &str,
    next: &str,
) -> Response {
    let mut resp = Redirect::to(next).into_response();
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, session, limits(state).absolute_ms / 1000),
    );
    // A fresh id at every sign-in, not one derived from the contact: signing out (or a
    // new password, or a removal) forgets it, and the next sign-in gets another.
    let visitor = state
        .visitors
        .issue(switchboard_core::clock::random_bytes());
    let verified = match switchboard_core::domain::Identity::visitor(&visitor) {
        Ok(identity) => state
            .store
            .verify_identity(&state.ids, &scope.contact_id, &identity)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match verified {
        Ok(()) => {
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{VISITOR_COOKIE}={visitor}; Path=/; Secure; SameSite=Lax; Max-Age=31536000"
            )) {
                h.append(header::SET_COOKIE, v);
            }
        }
        // The portal works without its chat.
        Err(e) => tracing::warn!(error = %e, "portal chat identity not set"),
    }
    private(resp)
}

/// The chat widget's visitor cookie (read by the widget's script, so not `HttpOnly`).
pub const VISITOR_COOKIE: &str = "sb_visitor";

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
) -> Result<Response, Response> {
    let api = |e: switchboard_core::Error| crate::kit::error::ApiError::from(e).into_response();
    state.store.end_session(&client.token).await.map_err(api)?;
    // The chat id this browser had stops being the client's: kept by anyone, it now reads
    // nothing of theirs.
    if let Some(visitor) = crate::kit::session::cookie(&headers, VISITOR_COOKIE) {
        state
            .store
            .forget_visitor(&client.scope.contact_id, visitor)
            .await
            .map_err(api)?;
    }
    let mut resp = Redirect::to("/portal/login").into_response();
    let h = resp.headers_mut();
    h.append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0));
    // The next person at this browser does not get the client's chat.
    h.append(
        header::SET_COOKIE,
        HeaderValue::from_static("sb_visitor=; Path=/; Secure; SameSite=Lax; Max-Age=0"),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_portal_paths_are_landed_on() {
        assert_eq!(
            safe_next(Some("/portal/invoices/INV-1")),
            "/portal/invoices/INV-1"
        );
        assert_eq!(safe_next(Some("/portal")), "/portal");
        for bad in [
            "https://evil.example/portal",
            "//evil.example/portal",
            "/portal//evil.example",
            "/portal\\evil",
            "/conversations",
            "/portalx",
            "/portal/link/abc",
        ] {
            assert_eq!(safe_next(Some(bad)), "/portal", "{bad}");
        }
        assert_eq!(safe_next(None), "/portal");
    }
}
