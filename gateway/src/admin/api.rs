//! Users over the JSON API: the list, invitations, changes and reset links (admins only).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_core::domain::{Role, Tier};
use switchboard_core::store::{LinkPurpose, UserUpdate};

use crate::kit::AppState;
use crate::kit::api::{Agent, body, require};
use crate::kit::error::ApiError;

type Reply = Result<Json<Value>, ApiError>;

pub async fn users(State(state): State<AppState>, Agent(user, _): Agent) -> Reply {
    require(user.role, &[Role::Admin])?;
    let users: Vec<Value> = state
        .store
        .list_users()
        .await?
        .into_iter()
        .map(|u| json!({ "user": u.user, "teams": u.teams, "companies": u.companies, "last_login_at": u.last_login_at }))
        .collect();
    Ok(Json(json!({ "users": users })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    email: String,
    name: Option<String>,
    role: String,
    tier: Option<String>,
}

/// Makes a user without a password and returns an invitation link to choose one.
pub async fn invite(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    b: Result<Json<InviteBody>, JsonRejection>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    require(user.role, &[Role::Admin])?;
    let b = body(b)?;
    let role = Role::parse(&b.role)?;
    let tier = b.tier.as_deref().map(Tier::parse).transpose()?;
    let (invited, token) = state
        .store
        .invite_user(
            &state.ids,
            &b.email,
            b.name.as_deref(),
            role,
            tier,
            7 * 24 * 3_600_000,
        )
        .await?;
    let link = format!(
        "{}/invite?token={token}",
        state.config.public_url.trim_end_matches('/')
    );
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!({ "user": invited, "invite_link": link })),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    name: Option<String>,
    role: Option<String>,
    tier: Option<String>,
    teams: Option<Vec<String>>,
    companies: Option<Vec<String>>,
    locale: Option<String>,
    capacity: Option<i64>,
    active: Option<bool>,
}

pub async fn update_user(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    Path(id): Path<String>,
    b: Result<Json<UserBody>, JsonRejection>,
) -> Reply {
    require(user.role, &[Role::Admin])?;
    if state.store.user_including_inactive(&id).await?.is_none() {
        return Err(ApiError::NotFound(format!("user {id} not found")));
    }
    let b = body(b)?;
    let update = UserUpdate {
        name: b.name,
        role: b.role.as_deref().map(Role::parse).transpose()?,
        tier: b.tier.as_deref().map(Tier::parse).transpose()?,
        teams: b.teams,
        companies: b.companies,
        locale: b.locale,
        capacity: b.capacity,
    };
    let mut updated = state.store.update_user(&id, &update).await?;
    if let Some(active) = b.active {
        state
            .store
            .set_user_active(&id, active, state.ids.now_ms())
            .await?;
        updated.active = active;
    }
    Ok(Json(json!({ "user": updated })))
}

/// A password-reset link for a user, for an admin to pass on.
pub async fn reset_link(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    Path(id): Path<String>,
) -> Reply {
    require(user.role, &[Role::Admin])?;
    if state.store.user_by_id(&id).await?.is_none() {
        return Err(ApiError::NotFound(format!("user {id} not found")));
    }
    let token = state
        .store
        .issue_account_link(&state.ids, &id, LinkPurpose::Reset, 3_600_000)
        .await?;
    Ok(Json(json!({
        "reset_link": format!("{}/password/reset?token={token}", state.config.public_url.trim_end_matches('/'))
    })))
}
