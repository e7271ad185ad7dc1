//! Mail delivered over HTTP: a relay POSTs one raw RFC 5322 message to
//! `/webhooks/email/{inbox}`, presenting the inbox's secret as a bearer token. The message
//! is read as the email channel reads mail (`channels::email`) and appended to the inbound
//! stream; the answer says it is durable. Fetching the same message twice stores it once
//! (its `Message-ID`, or the hash of its bytes, is the idempotency key).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use switchboard_core::stream::INBOUND;

pub mod intake;
pub mod mailboxes;
pub mod notices;
pub mod poller;

use intake::{IntakeError, OverAllowance, read_mail};

use crate::app::AppState;
use crate::error::ApiError;

/// How many mails one sender may bring into one inbox: a GCRA allowance per
/// (inbox, address), refilled over the hour.
pub struct SenderLimits {
    limiter: governor::DefaultKeyedRateLimiter<String>,
}

impl std::fmt::Debug for SenderLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SenderLimits")
    }
}

impl SenderLimits {
    pub fn new(per_hour: u32) -> Self {
        let quota = crate::web::auth::allowance(per_hour, std::time::Duration::from_secs(3600));
        Self {
            limiter: governor::RateLimiter::keyed(quota),
        }
    }

    /// Takes one mail from `sender` into `inbox`; false when its allowance is spent.
    pub fn allow(&self, inbox: &str, sender: &str) -> bool {
        crate::web::auth::trim(&self.limiter);
        self.limiter
            .check_key(&format!(
                "{inbox}\n{}",
                crate::web::auth::address_key(sender)
            ))
            .is_ok()
    }
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    // Hashed first, so the comparison does not show the secret's length either.
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    switchboard_core::auth::constant_time_eq(&x, &y)
}

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
