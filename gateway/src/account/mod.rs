//! An agent's own account: signing in and out (password, second factor, the company's
//! OpenID Connect sign-in), password reset
//! and invitation links, the account page (language, two-step setup, sign out
//! everywhere), and revoking the API token in use.

pub mod pages;
pub mod sso;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use serde_json::json;

use crate::kit::AppState;
use crate::kit::api::Agent;
use crate::kit::api::{ApiRoute, route};
use crate::kit::error::ApiError;
use crate::kit::page::{Table, guarded, r};

/// The account pages, behind the session and CSRF guard.
pub fn routes(state: &AppState) -> Router<AppState> {
    guarded(state, table())
}

/// This surface's pages, with the access each needs (the route-scope test walks it).
pub fn table() -> Table {
    use crate::kit::page::Access::*;
    vec![
        r("GET", "/login", Public, get(pages::login_page)),
        r("POST", "/login", Public, post(pages::login)),
        r("GET", "/login/2fa", Public, get(pages::second_factor_page)),
        r("POST", "/login/2fa", Public, post(pages::second_factor)),
        r("POST", "/logout", Public, post(pages::logout)),
        r("GET", "/sso/start", Public, get(sso::start)),
        r("GET", "/sso/callback", Public, get(sso::callback)),
        r(
            "POST",
            "/logout/everywhere",
            Agent,
            post(pages::logout_everywhere),
        ),
        r("GET", "/password/forgot", Public, get(pages::forgot_page)),
        r("POST", "/password/forgot", Public, post(pages::forgot)),
        r("GET", "/password/reset", Public, get(pages::reset_page)),
        r("POST", "/password/reset", Public, post(pages::reset)),
        r("GET", "/invite", Public, get(pages::invite_page)),
        r("POST", "/invite", Public, post(pages::accept_invite)),
        r("GET", "/account", Agent, get(pages::account_page)),
        r("POST", "/account/locale", Agent, post(pages::set_locale)),
        r("POST", "/account/2fa/begin", Agent, post(pages::begin_totp)),
        r(
            "POST",
            "/account/2fa/confirm",
            Agent,
            post(pages::confirm_totp),
        ),
    ]
}

/// This surface's routes of the agent API (under `/api/v1`), with the access each needs.
pub fn api_routes() -> Vec<(ApiRoute, axum::routing::MethodRouter<AppState>)> {
    use crate::kit::page::Access::Agent as A;
    vec![route(
        "DELETE",
        "/tokens/current",
        A,
        "Revoke the token this request carries (a leaked integration's, say)",
        None,
        axum::routing::delete(revoke_current_token),
    )]
}

/// `DELETE /api/v1/tokens/current`: the token of this request stops working.
pub async fn revoke_current_token(
    State(state): State<AppState>,
    _agent: Agent,
    headers: axum::http::HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized)?;
    let revoked = state
        .store
        .revoke_api_token(token.trim(), state.ids.now_ms())
        .await?;
    Ok(Json(json!({ "revoked": revoked })))
}
