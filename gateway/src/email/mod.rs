//! Mail delivered over HTTP: a relay POSTs one raw RFC 5322 message to
//! `/webhooks/email/{inbox}`, presenting the inbox's secret as a bearer token. The message
//! is read as the email channel reads mail (`channels::email`) and appended to the inbound
//! stream; the answer says it is durable. Fetching the same message twice stores it once
//! (its `Message-ID`, or the hash of its bytes, is the idempotency key).
//!
//! This is the HTTP way into the one intake every message takes, from IMAP or HTTP
//! (`kit/mail/`, described there). Tests of the relay path:
//! `email::mail_posted_by_a_relay_threads_and_refuses_what_it_must`,
//! `email::mail_attachments_are_kept_and_an_oversized_one_is_named`,
//! `email::a_looping_sender_is_held_back_and_our_own_mail_opens_nothing`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};
use switchboard_core::stream::INBOUND;

use crate::kit::auth::same_secret;
use crate::kit::mail::intake::{IntakeError, OverAllowance, read_mail};

use crate::kit::AppState;
use crate::kit::error::ApiError;

pub async fn inbound(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let not_found = || ApiError::NotFound("no email inbox takes mail over HTTP here".into());
    let inbox = state
        .mailboxes
        .get(&name)
        .map(|m| m.inbox)
        .ok_or_else(not_found)?;
    let inbox = &inbox;
    let secret = inbox.http_secret.as_ref().ok_or_else(not_found)?;
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !presented.is_some_and(|p| same_secret(p.trim(), secret.expose())) {
        return Err(ApiError::Unauthorized);
    }
    let intake = read_mail(&state, inbox, &body, None, OverAllowance::Refuse)
        .await
        .map_err(|e| match e {
            IntakeError::TooLarge(m) => ApiError::TooLarge(m),
            IntakeError::Invalid(m) => ApiError::Invalid(m),
            IntakeError::RateLimited => ApiError::RateLimited,
            IntakeError::Store(e) => ApiError::from(e),
        })?;
    state.stream.append_batch(INBOUND, &intake.lines).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "id": intake.id,
            "message_id": intake.external_id,
            "auto_submitted": intake.auto_submitted,
            "incomplete": intake.incomplete,
            "bounce_of": intake.bounce_of,
        })),
    ))
}

/// The inbound-mail webhook, with room for one whole message.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route(
        "/webhooks/email/{inbox}",
        axum::routing::post(inbound).layer(axum::extract::DefaultBodyLimit::max(
            switchboard_channels::email::parse::MAX_MESSAGE_BYTES,
        )),
    )
}
