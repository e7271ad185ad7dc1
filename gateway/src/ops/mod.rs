//! The operator's surface: the home page, health and readiness, metrics, the API's
//! OpenAPI document, dead letters, and the pages' embedded assets.

pub mod openapi;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use switchboard_core::domain::Role;

use crate::kit::AppState;
use crate::kit::api::{Agent, ApiRoute, require, route};
use crate::kit::error::ApiError;
use crate::kit::page::{Table, r};

/// This surface's pages: the embedded assets every page links.
pub fn table() -> Table {
    vec![r(
        "GET",
        "/assets/{file}",
        crate::kit::page::Access::Public,
        get(crate::kit::page::asset),
    )]
}

/// The operator's routes; `api` is the whole API's table, described at
/// `/api/openapi.json`.
pub fn routes(state: &AppState, api: &[ApiRoute]) -> Router<AppState> {
    let document = Arc::new(openapi::document(api));
    crate::kit::page::guarded(state, table())
        .route("/", get(home))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(
            "/api/openapi.json",
            get(move || {
                let document = document.clone();
                async move { Json((*document).clone()) }
            }),
        )
}

async fn healthz() -> &'static str {
    "ok"
}

/// Whether a request may read the operator's detail (`/metrics`, `/readyz`'s checks): one
/// with the configured bearer token; with no token set, one from this machine.
fn ops_allowed(state: &AppState, peer: std::net::SocketAddr, headers: &HeaderMap) -> bool {
    match &state.config.ops.metrics_token {
        Some(token) => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| crate::kit::auth::same_secret(given.trim(), token.expose())),
        None => peer.ip().is_loopback(),
    }
}

/// Ready when the database and the stream both answer. The checks' detail (which may
/// name hosts and users) is for the operator only; everyone else reads the status.
async fn readyz(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
) -> Response {
    // A dependency that hangs must not hang the probe.
    let limit = std::time::Duration::from_secs(2);
    let timed_out = || switchboard_core::Error::Stream("no answer within 2 s".into());
    let db = tokio::time::timeout(limit, state.store.ping())
        .await
        .unwrap_or_else(|_| Err(timed_out()));
    let stream = tokio::time::timeout(limit, state.stream.health())
        .await
        .unwrap_or_else(|_| Err(timed_out()));
    for (what, r) in [("database", &db), ("stream", &stream)] {
        if let Err(e) = r {
            tracing::warn!(check = what, error = %e, "not ready");
        }
    }
    let status = if db.is_ok() && stream.is_ok() && !state.shutdown.is_cancelled() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = json!({
        "status": if status == StatusCode::OK { "ready" } else { "unavailable" },
    });
    if ops_allowed(&state, peer, &headers) {
        let show = |r: &switchboard_core::Result<()>| match r {
            Ok(()) => "ok".to_owned(),
            Err(e) => e.to_string(),
        };
        body["checks"] = json!({"database": show(&db), "stream": show(&stream)});
        body["stream"] = json!(state.stream.kind());
    }
    (status, axum::Json(body)).into_response()
}

async fn metrics(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if !ops_allowed(&state, peer, &headers) {
        return StatusCode::NOT_FOUND.into_response();
    }
    // Queue depth is read at scrape time, so it is current whatever the workers are doing.
    for (topic, group) in [
        (
            switchboard_core::stream::INBOUND,
            switchboard_core::router::GROUP,
        ),
        (
            switchboard_core::stream::OUTBOUND,
            switchboard_core::dispatcher::GROUP,
        ),
    ] {
        if let Ok(depth) = state.stream.depth(topic, group).await {
            state
                .metrics
                .queue_depth
                .get_or_create(&switchboard_core::metrics::TopicLabel {
                    topic: topic.into(),
                })
                .set(i64::try_from(depth).unwrap_or(i64::MAX));
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        state.metrics.encode(),
    )
        .into_response()
}

async fn home() -> Html<&'static str> {
    Html(concat!(
        "<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content='width=device-width,initial-scale=1'>",
        "<title>Switchboard</title><body style='font:16px system-ui;max-width:40em;margin:2em auto;padding:0 1em'>",
        "<h1>Switchboard</h1><ul><li><a href=/login>Agent inbox</a></li><li><a href=/chat>Web chat demo page</a></li>",
        "<li><a href=/readyz>Readiness</a> · <a href=/metrics>Metrics</a></li>",
        "<li>Agent API: <code>/api/v1/conversations</code> with <code>Authorization: Bearer TOKEN</code></li></ul>"
    ))
}

/// This surface's routes of the agent API (under `/api/v1`), with the access each needs.
pub fn api_routes() -> Vec<(ApiRoute, axum::routing::MethodRouter<AppState>)> {
    use crate::kit::page::Access::{Admin, Reports};
    vec![
        route(
            "GET",
            "/dead-letters",
            Reports,
            "Messages that could not be delivered",
            None,
            get(list_dead_letters),
        ),
        route(
            "POST",
            "/dead-letters/{id}/retry",
            Admin,
            "Queue a dead letter for delivery again",
            None,
            post(retry_dead_letter),
        ),
    ]
}

pub async fn list_dead_letters(
    State(state): State<AppState>,
    Agent(user, caller): Agent,
) -> Result<Json<serde_json::Value>, ApiError> {
    require(
        user.role,
        &[Role::Admin, Role::Supervisor, Role::Coordinator],
    )?;
    Ok(Json(
        json!({ "dead_letters": state.store.dead_letters_for(&caller).await? }),
    ))
}

pub async fn retry_dead_letter(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    require(user.role, &[Role::Admin])?;
    let message_id = state.outbox.retry_dead_letter(&id).await?;
    Ok(Json(json!({ "message_id": message_id, "state": "queued" })))
}
