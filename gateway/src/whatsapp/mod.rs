//! The WhatsApp webhook, `/webhooks/whatsapp`.
//!
//! - `GET` answers Meta's setup check: `hub.mode=subscribe`, a `hub.verify_token` one of
//!   our numbers has, and `hub.challenge` echoed back; anything else is 403.
//! - `POST` takes one delivery through the intake (`kit/whatsapp.rs`): signature first,
//!   then the body read, every event made durable, and only then 200. No outbound call is
//!   made inside the request (media are fetched by the media worker).
//!
//! Answers: 401 a missing or wrong `X-Hub-Signature-256`; 400 a body that is not a
//! WhatsApp delivery; 404 a number not served here; 413 a body over
//! `whatsapp.max_webhook_bytes`. None of them stores anything. Tests:
//! e2e `whatsapp::the_webhook_verifies_signs_and_stores_each_wamid_once`,
//! `whatsapp::every_fixture_arrives_through_the_real_server`.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::kit::AppState;
use crate::kit::error::ApiError;
use crate::kit::whatsapp::{IntakeError, intake};

async fn verify(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mode = q.get("hub.mode").map(String::as_str);
    let token = q.get("hub.verify_token").map(String::as_str).unwrap_or("");
    match (mode, q.get("hub.challenge")) {
        (Some("subscribe"), Some(challenge)) if state.whatsapp.verify_token_known(token) => {
            (StatusCode::OK, challenge.clone()).into_response()
        }
        _ => (StatusCode::FORBIDDEN, "verification refused").into_response(),
    }
}

async fn deliver(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    match intake(&state, signature, &body).await {
        Ok(accepted) => Ok((StatusCode::OK, Json(json!(accepted)))),
        Err(e) => {
            tracing::warn!(error = %e, bytes = body.len(), "whatsapp delivery refused");
            Err(match e {
                IntakeError::Signature => ApiError::Unauthorized,
                IntakeError::Invalid(m) => ApiError::BadRequest(m),
                IntakeError::UnknownNumber(id) => {
                    ApiError::NotFound(format!("no WhatsApp number here has id {id}"))
                }
                IntakeError::Store(e) => ApiError::from(e),
            })
        }
    }
}

pub fn routes(state: &AppState) -> axum::Router<AppState> {
    axum::Router::new().route(
        "/webhooks/whatsapp",
        axum::routing::get(verify)
            .post(deliver)
            .layer(axum::extract::DefaultBodyLimit::max(
                state.config.whatsapp.max_webhook_bytes,
            )),
    )
}
