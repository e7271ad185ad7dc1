//! The staff's company sign-in (`[sso.agents]`): `/sso/start` leaves for the provider,
//! `/sso/callback` comes back. The account is the one whose address the provider
//! verified; an unknown address becomes an N1 agent only when the setting says so, and an
//! address of a client's portal account never signs in here.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use switchboard_core::domain::{Role, Tier};

use super::pages::{NextQuery, login_refused, safe_next, start_session};
use crate::kit::AppState;
use crate::kit::oidc::{self, Callback, Refused};
use crate::kit::page::WebError;
use crate::kit::session::AnySession;

fn redirect_uri(state: &AppState) -> String {
    format!(
        "{}/sso/callback",
        state.config.public_url.trim_end_matches('/')
    )
}

/// `GET /sso/start`: on to the provider.
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    let Some(p) = &state.config.sso.agents else {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    };
    match oidc::start(p, "agents", &redirect_uri(&state), &next).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "company sign-in cannot start");
            login_refused(&state, &headers, "sso-failed", &next)
        }
    }
}

/// `GET /sso/callback`: the provider's answer.
pub async fn callback(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    AnySession(old): AnySession,
    Query(q): Query<Callback>,
) -> Result<Response, WebError> {
    let Some(p) = &state.config.sso.agents else {
        return Ok(axum::http::StatusCode::NOT_FOUND.into_response());
    };
    let now_s = state.ids.now_ms() / 1000;
    let refuse = |key: &str| login_refused(&state, &headers, key, "/conversations");
    let (signed, next) = match oidc::callback(
        &headers,
        &q,
        p,
        "agents",
        &redirect_uri(&state),
        now_s,
    )
    .await
    {
        Ok(x) => x,
        Err(Refused::Declined(why)) => {
            tracing::info!(target: "audit", ip = %peer.ip(), why = %why, "company sign-in declined by the provider");
            return Ok(refuse("sso-cancelled"));
        }
        Err(Refused::NotThisBrowser) => {
            tracing::warn!(target: "audit", ip = %peer.ip(), "company sign-in answer for another browser");
            return Ok(refuse("sso-failed"));
        }
        Err(Refused::Failed(e)) => {
            tracing::warn!(target: "audit", ip = %peer.ip(), error = %e, "company sign-in refused");
            return Ok(refuse("sso-failed"));
        }
    };
    let Some(email) = signed.email else {
        tracing::warn!(target: "audit", ip = %peer.ip(), subject = %signed.subject, "company sign-in without a verified address");
        return Ok(refuse("sso-unverified"));
    };
    let user = match state.store.user_by_email(&email).await? {
        Some(u) if u.active && u.role.is_agent() => u,
        Some(_) => {
            tracing::warn!(target: "audit", email = %email, ip = %peer.ip(), "company sign-in refused: not an active staff account");
            return Ok(refuse("sso-refused"));
        }
        None if p.provision => {
            let u = state
                .store
                .create_user(
                    &state.ids,
                    &email,
                    signed.name.as_deref(),
                    Role::Support,
                    Some(Tier::N1),
                )
                .await?;
            tracing::info!(target: "audit", user = %u.id, email = %email, "staff account made at its first company sign-in");
            u
        }
        None => {
            tracing::warn!(target: "audit", email = %email, ip = %peer.ip(), "company sign-in refused: no account");
            return Ok(refuse("sso-refused"));
        }
    };
    let mut resp = start_session(&state, &user.id, old, &next).await?;
    resp.headers_mut()
        .append(header::SET_COOKIE, oidc::forget());
    tracing::info!(target: "audit", user = %user.id, ip = %peer.ip(), "signed in by the company sign-in");
    Ok(resp)
}
