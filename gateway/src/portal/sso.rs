//! A client company's own sign-in (`[sso.companies.<name>]`): `/portal/sso/<name>` leaves
//! for the company's provider, `/portal/sso/<name>/callback` comes back. The provider
//! vouches for its one company: the person signed in is the company's person with the
//! address it verified (made when the setting says so), never anyone of another company
//! and never a staff account.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::auth::{NextQuery, open_session, safe_next};
use crate::config::SsoProvider;
use crate::kit::AppState;
use crate::kit::oidc::{self, Callback, Refused};
use crate::kit::session::AnySession;
use crate::kit::words::{account_words, lang_of};

fn provider<'a>(state: &'a AppState, name: &str) -> Option<&'a SsoProvider> {
    state.config.sso.companies.get(name)
}

fn redirect_uri(state: &AppState, name: &str) -> String {
    format!(
        "{}/portal/sso/{name}/callback",
        state.config.public_url.trim_end_matches('/')
    )
}

fn refused(state: &AppState, headers: &HeaderMap, status: StatusCode, failed: bool) -> Response {
    let lang = lang_of(headers);
    let a = account_words(lang);
    let body = if failed { a.sso_failed } else { a.sso_refused };
    let mut resp = super::message(state, lang, status, a.sso_title, body);
    resp.headers_mut()
        .append(header::SET_COOKIE, oidc::forget());
    resp
}

/// `GET /portal/sso/{name}`: on to the company's provider.
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<NextQuery>,
) -> Response {
    let Some(p) = provider(&state, &name) else {
        return super::not_found(&state, lang_of(&headers));
    };
    let next = safe_next(q.next.as_deref());
    match oidc::start(p, &name, &redirect_uri(&state, &name), &next).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, provider = %name, "company sign-in cannot start");
            refused(&state, &headers, StatusCode::BAD_GATEWAY, true)
        }
    }
}

/// `GET /portal/sso/{name}/callback`: the provider's answer.
pub async fn callback(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    AnySession(old): AnySession,
    Path(name): Path<String>,
    Query(q): Query<Callback>,
) -> Response {
    let Some(p) = provider(&state, &name) else {
        return super::not_found(&state, lang_of(&headers));
    };
    let now_s = state.ids.now_ms() / 1000;
    let uri = redirect_uri(&state, &name);
    let (signed, next) = match oidc::callback(&headers, &q, p, &name, &uri, now_s).await {
        Ok(x) => x,
        Err(e) => {
            let why = match &e {
                Refused::Declined(w) => w.clone(),
                Refused::NotThisBrowser => "an answer for another browser".into(),
                Refused::Failed(e) => e.to_string(),
            };
            tracing::warn!(target: "audit", provider = %name, ip = %peer.ip(), why = %why, "client company sign-in refused");
            return refused(&state, &headers, StatusCode::FORBIDDEN, true);
        }
    };
    let Some(email) = signed.email else {
        tracing::warn!(target: "audit", provider = %name, subject = %signed.subject, "client company sign-in without a verified address");
        return refused(&state, &headers, StatusCode::FORBIDDEN, false);
    };
    let company = p.company.as_deref().unwrap_or_default();
    let scope = match state
        .store
        .sso_portal_user(
            &state.ids,
            company,
            &email,
            signed.name.as_deref(),
            p.provision,
        )
        .await
    {
        Ok(s) => s,
        Err(switchboard_core::Error::Conflict(m)) => {
            tracing::warn!(target: "audit", provider = %name, email = %email, why = %m, "client company sign-in refused");
            return refused(&state, &headers, StatusCode::FORBIDDEN, false);
        }
        Err(e) => return crate::kit::error::ApiError::from(e).into_response(),
    };
    tracing::info!(target: "audit", user = %scope.user_id, provider = %name, ip = %peer.ip(), "client signed in by the company sign-in");
    let how = format!("company sign-in ({name}) from {}", peer.ip());
    match open_session(&state, old, &scope, &how, &next).await {
        Ok(mut resp) => {
            resp.headers_mut()
                .append(header::SET_COOKIE, oidc::forget());
            resp
        }
        Err(e) => crate::kit::error::ApiError::from(e).into_response(),
    }
}
