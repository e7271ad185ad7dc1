//! Outgoing webhooks: what an event sends, how its request is signed, and how an event is
//! recorded and put on its way.
//!
//! An event (a message stored, a conversation opened or resolved, a ticket opened, an
//! invoice paid, a meter reading entered, a survey answered) becomes one delivery per
//! subscription that wants its kind (`Store::record_hook_events`; an event seen twice is
//! one delivery; the router records a batch's events in the batch's own transaction), whose
//! job goes on the outbound stream beside the messages' jobs. The
//! dispatcher posts it ([`HookPoster`]), signed like Stripe's: the header
//! `Switchboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with the
//! subscription's secret, and retries failures with backoff from the database.
//!
//! Deliveries are at least once and unordered: a receiver keys on the payload's `id` and
//! orders by `created_at`. Tests: conformance `webhooks.rs`, e2e `webhooks.rs`.

use std::sync::Arc;

use async_trait::async_trait;
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::clock::Ids;
use crate::dispatcher::Job;
use crate::domain::{Conversation, Message, Status};
use crate::error::{Error, Result};
use crate::store::{IngestOutcome, NewHookEvent, Store};
use crate::stream::{OUTBOUND, Stream};

/// The request header that carries the signature.
pub const SIGNATURE_HEADER: &str = "Switchboard-Signature";
/// How far a signature's time may be from the receiver's clock before it is refused.
pub const TOLERANCE_SECS: i64 = 300;

/// The signature header's value for `body` sent at `t` (unix seconds).
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    format!("t={t},v1={}", hex::encode(mac(secret, t, body)))
}

fn mac(secret: &str, t: i64, body: &str) -> Vec<u8> {
    // HMAC takes a key of any length.
    let mut m = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// What a receiver does: true when `header` signs `body` with `secret` within
/// [`TOLERANCE_SECS`] of `now` (unix seconds). Any `v1` of several may match (a secret
/// being rotated); the comparison takes the same time whatever the bytes.
pub fn verify(secret: &str, header: &str, body: &str, now: i64) -> bool {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (now - t).abs() > TOLERANCE_SECS {
        return false;
    }
    let want = mac(secret, t, body);
    sigs.iter().any(|s| {
        s.len() == want.len() && s.iter().zip(&want).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    })
}

/// Where a subscription may point: `https://` anywhere, or `http://` on this machine's
/// loopback (a receiver beside the server). Nothing else: a plain-text request over a
/// network would show the payload to whoever is on the way.
pub fn check_url(url: &str) -> Result<String> {
    let url = url.trim();
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| Error::invalid(format!("'{url}' is not a web address")))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(Error::invalid(
            "a webhook address must not carry a user name or password",
        ));
    }
    let bad = || Error::invalid(format!("'{url}' is not a web address"));
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6.split_once(']').ok_or_else(bad)?;
            match after {
                "" => (h, None),
                _ => (h, Some(after.strip_prefix(':').ok_or_else(bad)?)),
            }
        }
        None => match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    if port.is_some_and(|p| p.parse::<u16>().is_err())
        || host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        || url.chars().any(char::is_whitespace)
    {
        return Err(bad());
    }
    let loopback = matches!(host, "127.0.0.1" | "::1" | "localhost");
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(url.to_owned()),
        "http" if loopback => Ok(url.to_owned()),
        "http" => Err(Error::invalid(
            "a webhook address must begin with https:// (plain http only to this machine)",
        )),
        _ => Err(Error::invalid("a webhook address must begin with https://")),
    }
}

/// A receiver's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookResponse {
    pub status: u16,
    /// The start of the body, for the delivery log.
    pub body: String,
}

/// Posts a signed delivery; the gateway's is an HTTP client that follows no redirects.
#[async_trait]
pub trait HookPoster: Send + Sync + std::fmt::Debug {
    /// `Err` when no answer came (refused, timed out, TLS).
    async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: &str,
    ) -> std::result::Result<HookResponse, String>;
}

/// An event as it will be sent: `{"id", "type", "created_at", "data"}`.
#[derive(Debug, Clone, Serialize)]
pub struct HookEvent {
    /// Stable for the event (`message.created:<message id>`), so a replay is one delivery.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub created_at: i64,
    pub data: serde_json::Value,
}

/// An event of `kind` about the object `object_id`, with `data` as its body.
pub fn event(kind: &'static str, object_id: &str, at: i64, data: impl Serialize) -> HookEvent {
    HookEvent {
        id: format!("{kind}:{object_id}"),
        kind,
        created_at: at,
        data: serde_json::to_value(data).unwrap_or(serde_json::Value::Null),
    }
}

/// `message.created`: a message stored (a client's, an agent's, the bot's); internal notes
/// stay inside.
pub fn message_created(c: &Conversation, m: &Message) -> Option<HookEvent> {
    if m.internal {
        return None;
    }
    Some(event(
        "message.created",
        &m.id,
        m.created_at,
        serde_json::json!({ "message": m, "conversation": summary(c) }),
    ))
}

/// `conversation.opened`.
pub fn conversation_opened(c: &Conversation) -> HookEvent {
    event(
        "conversation.opened",
        &c.id,
        c.created_at,
        serde_json::json!({ "conversation": c }),
    )
}

/// `conversation.resolved`: each resolution of a conversation is an event of its own.
pub fn conversation_resolved(c: &Conversation) -> HookEvent {
    event(
        "conversation.resolved",
        &format!("{}:{}", c.id, c.version),
        c.updated_at,
        serde_json::json!({ "conversation": c }),
    )
}

fn summary(c: &Conversation) -> serde_json::Value {
    serde_json::json!({
        "id": c.id, "number": c.number, "inbox": c.inbox, "channel": c.channel,
        "contact_id": c.contact_id, "company_id": c.company_id, "subject": c.subject,
        "status": c.status,
    })
}

/// Tells the subscriptions of `conversation.resolved` (a `StatusNotices` hook).
#[derive(Debug)]
pub struct ResolvedHooks {
    pub store: Store,
    pub stream: Arc<dyn Stream>,
    pub ids: Ids,
}

#[async_trait]
impl crate::workflow::StatusNotices for ResolvedHooks {
    async fn status_changed(&self, before: &Conversation, after: &Conversation) {
        if after.status == Status::Resolved && before.status != Status::Resolved {
            emit(
                &self.store,
                &self.stream,
                &self.ids,
                &[conversation_resolved(after)],
            )
            .await;
        }
    }
}

/// The webhook events of a batch the router threaded: each new conversation, each message.
pub fn ingest_events(outcomes: &[IngestOutcome]) -> Result<Vec<NewHookEvent>> {
    let mut events = Vec::new();
    for o in outcomes {
        let IngestOutcome::Stored(i) = o else {
            continue;
        };
        if i.new_conversation {
            events.push(conversation_opened(&i.conversation));
        }
        events.extend(message_created(&i.conversation, &i.message));
    }
    new_events(&events)
}

fn new_events(events: &[HookEvent]) -> Result<Vec<NewHookEvent>> {
    events
        .iter()
        .map(|e| {
            Ok(NewHookEvent {
                event_id: e.id.clone(),
                kind: e.kind,
                payload: serde_json::to_string(e)?,
            })
        })
        .collect()
}

/// Puts the jobs of deliveries just recorded on the outbound stream; one that fails to be
/// appended is found by the dispatcher's sweep.
pub async fn enqueue(stream: &Arc<dyn Stream>, deliveries: Vec<String>) {
    if deliveries.is_empty() {
        return;
    }
    let jobs: std::result::Result<Vec<_>, _> = deliveries
        .into_iter()
        .map(|d| serde_json::to_string(&Job::hook(d)))
        .collect();
    let appended = match jobs {
        Ok(jobs) => stream.append_batch(OUTBOUND, &jobs).await.map(|_| ()),
        Err(e) => Err(e.into()),
    };
    if let Err(e) = appended {
        tracing::warn!(error = %e, "webhook jobs wait for the dispatcher's sweep");
    }
}

/// Records `events` for every subscription that wants them and puts their jobs on the
/// outbound stream. Never fails its caller: a delivery whose job could not be appended
/// is found by the dispatcher's sweep, and an error is logged.
pub async fn emit(store: &Store, stream: &Arc<dyn Stream>, ids: &Ids, events: &[HookEvent]) {
    if events.is_empty() {
        return;
    }
    if let Err(e) = try_emit(store, stream, ids, events).await {
        tracing::warn!(error = %e, "webhook events not recorded");
    }
}

async fn try_emit(
    store: &Store,
    stream: &Arc<dyn Stream>,
    ids: &Ids,
    events: &[HookEvent],
) -> Result<()> {
    let deliveries = store.record_hook_events(ids, &new_events(events)?).await?;
    enqueue(stream, deliveries).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_nothing_else_does() {
        let body = r#"{"id":"message.created:m1"}"#;
        let h = signature("whsec_1", 1_800_000_000, body);
        assert!(h.starts_with("t=1800000000,v1="));
        assert!(verify("whsec_1", &h, body, 1_800_000_100));
        // Another secret, another body, a stale time, a mangled header.
        assert!(!verify("whsec_2", &h, body, 1_800_000_100));
        assert!(!verify(
            "whsec_1",
            &h,
            &body.replace("m1", "m2"),
            1_800_000_100
        ));
        assert!(!verify(
            "whsec_1",
            &h,
            body,
            1_800_000_000 + TOLERANCE_SECS + 1
        ));
        assert!(!verify("whsec_1", "v1=00", body, 1_800_000_000));
        // A rotated secret: either v1 may match.
        let old = signature("old", 1_800_000_000, body);
        let both = format!("{h},{}", old.split_once(',').map(|x| x.1).unwrap_or(""));
        assert!(verify("old", &both, body, 1_800_000_000));
    }

    #[test]
    fn addresses_are_https_or_loopback() {
        assert!(check_url("https://erp.example.com/hooks").is_ok());
        assert!(check_url(" http://127.0.0.1:9000/x ").is_ok());
        assert!(check_url("http://localhost/x").is_ok());
        assert!(check_url("http://[::1]:8080/x").is_ok());
        assert!(check_url("https://erp.example.com:8443/in?k=1").is_ok());
        for bad in [
            "http://erp.example.com/hooks",
            "ftp://x",
            "erp.example.com",
            "",
            "https://user:pw@erp.example.com/",
            "javascript:alert(1)",
            "https://",
            "https://erp.example.com:99999/",
            "https://erp example.com/",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
