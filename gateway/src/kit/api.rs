//! What every surface's part of the agent API shares (JSON, bearer tokens): the route
//! type the router and the OpenAPI document read, the authenticated `Agent`, role checks
//! and body reading.

use axum::Json;
use axum::extract::FromRequestParts;
use axum::extract::rejection::JsonRejection;
use axum::http::request::Parts;
use serde_json::json;
use switchboard_core::domain::{Role, User};
use switchboard_core::store::Caller;

use crate::kit::AppState;
use crate::kit::error::ApiError;

/// One route of the API, as the router and the OpenAPI document see it.
#[derive(Debug, Clone)]
pub struct ApiRoute {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    /// JSON Schema of the request body, for routes that take one.
    pub body: Option<serde_json::Value>,
    pub access: crate::kit::page::Access,
}

pub fn route(
    method: &'static str,
    path: &'static str,
    access: crate::kit::page::Access,
    summary: &'static str,
    body: Option<serde_json::Value>,
    handler: axum::routing::MethodRouter<AppState>,
) -> (ApiRoute, axum::routing::MethodRouter<AppState>) {
    (
        ApiRoute {
            method,
            path,
            summary,
            body,
            access,
        },
        handler,
    )
}

/// A JSON Schema object with these required string/number/boolean properties.
pub fn schema(props: &[(&str, &str)], required: &[&str]) -> Option<serde_json::Value> {
    let properties: serde_json::Map<String, serde_json::Value> = props
        .iter()
        .map(|(name, ty)| ((*name).to_owned(), json!({ "type": ty })))
        .collect();
    Some(
        json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": false }),
    )
}

/// A JSON Schema object with these properties (any JSON Schema each).
pub fn obj(props: serde_json::Value, required: &[&str]) -> Option<serde_json::Value> {
    Some(
        json!({ "type": "object", "properties": props, "required": required, "additionalProperties": false }),
    )
}

/// An authenticated agent, with what it may see.
pub struct Agent(pub User, pub Caller);

impl FromRequestParts<AppState> for Agent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Only from the header: a token in a URL ends up in logs and browser history. The
        // events socket takes a single-use ticket instead (see `events_ticket`).
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        let user = state
            .store
            .user_by_token(token.trim(), state.ids.now_ms())
            .await?
            .ok_or(ApiError::Unauthorized)?;
        agent(state, user).await
    }
}

/// The agent behind a user, refused for clients.
pub async fn agent(state: &AppState, user: User) -> Result<Agent, ApiError> {
    if !user.role.is_agent() {
        return Err(ApiError::Forbidden("this API is for agents".into()));
    }
    let caller = state.store.caller(&user).await?;
    Ok(Agent(user, caller))
}

/// Refuses a caller whose role is not among `roles`.
pub fn require(role: Role, roles: &[Role]) -> Result<(), ApiError> {
    if roles.contains(&role) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!("a {role} cannot do this")))
    }
}

/// A JSON body, or the reason it is not one.
pub fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    Ok(b?.0)
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such API route".into())
}
