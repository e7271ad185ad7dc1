//! One raw message, from IMAP or from a relay's POST, made ready for the inbound stream:
//! read (`channels::email`), its attachments stored as blobs, threaded by what it carries
//! (a verified `reply+` address, our Message-IDs, a verified `[ref:…]` marker), machine
//! mail and our own mail looping back marked so they open nothing, and a bounce of ours
//! turned into a failed-delivery receipt.

use sha2::{Digest, Sha256};
use switchboard_channels::email::dsn::read_bounce;
use switchboard_channels::email::envelope::{Context, envelope};
use switchboard_channels::email::parse::{ParseError, ParsedEmail, parse_with_attachments};
use switchboard_core::blob::BlobKind;
use switchboard_core::domain::{Attachment, Channel, DeliveryState, Inbound, Receipt};

use crate::config::EmailInbox;
use crate::kit::AppState;

/// What the stream receives for one message.
#[derive(Debug)]
pub struct Intake {
    /// Stream payloads: the envelope, then a receipt when the message is a bounce of ours.
    pub lines: Vec<String>,
    pub id: String,
    pub external_id: String,
    pub auto_submitted: bool,
    pub incomplete: bool,
    pub bounce_of: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Invalid(String),
    /// The sender's hourly allowance is spent (HTTP refuses; IMAP keeps it aside).
    #[error("the sender's hourly allowance is spent")]
    RateLimited,
    #[error(transparent)]
    Store(#[from] switchboard_core::Error),
}

/// How a message that exceeds its sender's allowance is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverAllowance {
    /// Refused (a relay tries again later).
    Refuse,
    /// Kept, but as machine mail: it opens nothing (IMAP cannot refuse).
    KeepAside,
}

/// Whether a Message-ID is one we made (`<our message id>@<one of our domains>`).
pub fn is_our_message_id(state: &AppState, message_id: &str) -> bool {
    let Some((local, domain)) = message_id.rsplit_once('@') else {
        return false;
    };
    local.len() == 36
        && local.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        && state.mailboxes.is_own_domain(domain)
}

pub async fn read_mail(
    state: &AppState,
    inbox: &EmailInbox,
    raw: &[u8],
    received_at: Option<i64>,
    over: OverAllowance,
) -> Result<Intake, IntakeError> {
    let (mut parsed, bytes) = parse_with_attachments(raw).map_err(|e| {
        tracing::warn!(inbox = %inbox.name, error = %e, bytes = raw.len(), "mail refused");
        match e {
            ParseError::TooLarge { .. } => IntakeError::TooLarge(e.to_string()),
            ParseError::NotAMessage(_) => IntakeError::Invalid(e.to_string()),
        }
    })?;
    if let Some(from) = parsed.from.as_deref() {
        if !state.email_senders.allow(&inbox.name, from) {
            tracing::warn!(inbox = %inbox.name, from, "the sender's hourly allowance is spent");
            match over {
                OverAllowance::Refuse => return Err(IntakeError::RateLimited),
                OverAllowance::KeepAside => parsed.auto_submitted = true,
            }
        }
        // Our own mail come back (a forwarding rule, an auto-reply to ourselves): kept,
        // but it opens nothing and never reaches the bot.
        if state.mailboxes.is_own_address(from) {
            parsed.auto_submitted = true;
        }
    }
    if parsed
        .message_id
        .as_deref()
        .is_some_and(|m| is_our_message_id(state, m))
    {
        parsed.auto_submitted = true;
    }
    if parsed.incomplete {
        tracing::warn!(inbox = %inbox.name, "mail stored incomplete: its MIME structure is cut");
    }
    let (attachments, cid_urls, not_kept) = keep_attachments(state, inbox, &parsed, &bytes).await;
    let (token_reply, marker_reply) = thread_links(state, &parsed).await?;
    let cx = Context {
        id: state.ids.new_id(),
        inbox: inbox.inbox(),
        received_at: received_at.unwrap_or_else(|| state.ids.now_ms()),
        token_reply,
        marker_reply,
        fallback_message_id: format!("sha256:{}", hex::encode(Sha256::digest(raw))),
        attachments,
        cid_urls,
        not_kept,
    };
    let env = envelope(&parsed, &cx).map_err(|e| {
        tracing::warn!(inbox = %inbox.name, error = %e, "mail refused");
        IntakeError::Invalid(e.to_string())
    })?;
    let mut lines = vec![Inbound::Message(Box::new(env.clone())).to_payload()?];
    let mut bounce_of = None;
    if parsed.bounce
        && let Some(b) = read_bounce(raw)
    {
        {
            let ours = b
                .original_ids
                .iter()
                .find(|id| is_our_message_id(state, id))
                .cloned();
            if let (true, Some(id)) = (b.failed, ours) {
                let receipt = Receipt {
                    channel: Channel::Email,
                    external_id: id.clone(),
                    state: DeliveryState::Failed,
                    error_code: b.status.clone(),
                    error_title: Some(
                        b.diagnostic
                            .clone()
                            .unwrap_or_else(|| "the mail could not be delivered".into()),
                    ),
                    at: cx.received_at,
                    detail: None,
                };
                lines.push(Inbound::Receipt(receipt).to_payload()?);
                bounce_of = Some(id);
            }
        }
    }
    Ok(Intake {
        lines,
        id: env.id.clone(),
        external_id: env.external_id.clone(),
        auto_submitted: env.auto_submitted,
        incomplete: parsed.incomplete,
        bounce_of,
    })
}

/// The conversations a verified reply address (To, Cc) and a verified marker (the text)
/// name, as one of their messages' channel ids each.
async fn thread_links(
    state: &AppState,
    p: &ParsedEmail,
) -> Result<(Option<String>, Option<String>), IntakeError> {
    let tokens = &state.reply_tokens;
    let by_address = tokens.conversation_among(p.to.iter().chain(&p.cc).map(String::as_str));
    let by_marker = tokens.conversation_in_text(&p.full_text).or_else(|| {
        p.html
            .as_deref()
            .and_then(|h| tokens.conversation_in_text(h))
    });
    let anchor = |c: Option<String>| {
        let store = state.store.clone();
        async move {
            match c {
                Some(c) => store.thread_anchor(&c).await,
                None => Ok(None),
            }
        }
    };
    let a = anchor(by_address).await?;
    let m = anchor(by_marker).await?;
    Ok((a, m))
}

type Kept = (
    Vec<Attachment>,
    std::collections::HashMap<String, String>,
    Vec<String>,
);

/// Attachments and inline images go to the blob store; one over its limit is left out
/// and named after the text.
async fn keep_attachments(
    state: &AppState,
    inbox: &EmailInbox,
    parsed: &ParsedEmail,
    bytes: &[Vec<u8>],
) -> Kept {
    let mut attachments = Vec::new();
    let mut cid_urls = std::collections::HashMap::new();
    let mut not_kept = Vec::new();
    let limit = state.config.email.max_attachment_bytes;
    for (info, content) in parsed.attachments.iter().zip(bytes) {
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
    (attachments, cid_urls, not_kept)
}
