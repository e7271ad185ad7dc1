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
use switchboard_channels::email::envelope::{Context, envelope};
use switchboard_channels::email::parse::{ParseError, parse_with_attachments};
use switchboard_core::blob::BlobKind;
use switchboard_core::domain::Attachment;
use switchboard_core::stream::INBOUND;

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
        self.limiter
            .check_key(&format!("{inbox}\n{sender}"))
            .is_ok()
    }
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

pub async fn inbound(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let not_found = || ApiError::NotFound("no email inbox takes mail over HTTP here".into());
    let inbox = state
        .config
        .email
        .inboxes
        .iter()
        .find(|i| i.name == name)
        .ok_or_else(not_found)?;
    let secret = inbox.http_secret.as_ref().ok_or_else(not_found)?;
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !presented.is_some_and(|p| same_secret(p.trim(), secret.expose())) {
        return Err(ApiError::Unauthorized);
    }
    let (mut parsed, bytes) = parse_with_attachments(&body).map_err(|e| {
        tracing::warn!(inbox = %inbox.name, error = %e, bytes = body.len(), "mail refused");
        match e {
            ParseError::TooLarge { .. } => ApiError::TooLarge(e.to_string()),
            ParseError::NotAMessage(_) => ApiError::Invalid(e.to_string()),
        }
    })?;
    if let Some(from) = parsed.from.as_deref() {
        if !state.email_senders.allow(&inbox.name, from) {
            tracing::warn!(inbox = %inbox.name, from, "mail refused: the sender's hourly allowance is spent");
            return Err(ApiError::RateLimited);
        }
        // Our own mail come back (a forwarding rule, an auto-reply to ourselves): kept,
        // but it opens nothing and never reaches the bot.
        if state
            .config
            .email
            .inboxes
            .iter()
            .any(|i| i.address.eq_ignore_ascii_case(from))
        {
            parsed.auto_submitted = true;
        }
    }
    if parsed.incomplete {
        tracing::warn!(inbox = %inbox.name, "mail stored incomplete: its MIME structure is cut");
    }
    // Attachments and inline images go to the blob store; one over its limit is left out
    // and named after the text.
    let mut attachments = Vec::new();
    let mut cid_urls = std::collections::HashMap::new();
    let mut not_kept = Vec::new();
    let limit = state.config.email.max_attachment_bytes;
    for (info, content) in parsed.attachments.iter().zip(&bytes) {
        if content.len() as u64 > limit {
            tracing::warn!(inbox = %inbox.name, name = %info.name, size = content.len(), limit, "attachment not kept: over the limit");
            not_kept.push(format!(
                "[Attachment not kept: {} ({} bytes, over the {limit}-byte limit)]",
                info.name,
                content.len()
            ));
            continue;
        }
        match state.blobs.put(BlobKind::Attachment, content).await {
            Ok(blob) => {
                if let Some(cid) = &info.content_id {
                    // Absolute: the stored HTML keeps only http(s) image sources.
                    cid_urls.insert(
                        cid.clone(),
                        format!(
                            "{}/blobs/{}",
                            state.config.public_url.trim_end_matches('/'),
                            blob.key().as_str()
                        ),
                    );
                }
                attachments.push(Attachment {
                    name: info.name.clone(),
                    mime: info.mime.clone(),
                    size: blob.size(),
                    blob: blob.key().clone(),
                    content_id: info.content_id.clone(),
                });
            }
            Err(e) => {
                tracing::warn!(inbox = %inbox.name, name = %info.name, size = info.size, error = %e, "attachment not kept");
                not_kept.push(format!(
                    "[Attachment not kept: {} ({} bytes): {e}]",
                    info.name, info.size
                ));
            }
        }
    }
    let cx = Context {
        id: state.ids.new_id(),
        inbox: inbox.inbox(),
        received_at: state.ids.now_ms(),
        token_reply: None,
        fallback_message_id: format!("sha256:{}", hex::encode(Sha256::digest(&body))),
        attachments,
        cid_urls,
        not_kept,
    };
    let env = envelope(&parsed, &cx).map_err(|e| {
        tracing::warn!(inbox = %inbox.name, error = %e, "mail refused");
        ApiError::Invalid(e.to_string())
    })?;
    let line = serde_json::to_string(&env).map_err(switchboard_core::Error::from)?;
    state.stream.append(INBOUND, &line).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "id": env.id,
            "message_id": env.external_id,
            "auto_submitted": env.auto_submitted,
            "incomplete": parsed.incomplete,
        })),
    ))
}
