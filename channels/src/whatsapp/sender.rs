//! The Graph API client and the WhatsApp [`Sender`]: messages out through
//! `POST {base}/{phone_number_id}/messages`, files uploaded first
//! (`POST {base}/{phone_number_id}/media`), read marks and the typing indicator, media of
//! inbound messages fetched (`GET {base}/{media_id}` for a short-lived URL, then the bytes,
//! both with the number's token), and message templates listed
//! (`GET {base}/{business_account_id}/message_templates`). The base URL is a setting, so
//! tests point it at a fake.
//!
//! Each number sends at most its `messages_per_second`: a send waits for its slot rather
//! than being refused by Meta. The 24-hour window is checked before any request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::Value;
use switchboard_core::blob::BlobStore;
use switchboard_core::clock::Ids;
use switchboard_core::dispatcher::{Outgoing, SendError, SendReceipt, Sender};
use switchboard_core::domain::Channel;

use super::outbound::{self, GraphError, Refusal};

/// One business number, as the sender needs it. The token never reaches a log.
#[derive(Clone)]
pub struct Number {
    /// The inbox it serves (`whatsapp:<name>`).
    pub inbox: String,
    pub phone_number_id: String,
    pub business_account_id: Option<String>,
    pub token: String,
    pub messages_per_second: u32,
}

impl std::fmt::Debug for Number {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Number")
            .field("inbox", &self.inbox)
            .field("phone_number_id", &self.phone_number_id)
            .finish_non_exhaustive()
    }
}

/// A file behind a media id: where to fetch it (for a few minutes) and what Meta says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaInfo {
    pub url: String,
    pub mime_type: Option<String>,
    pub file_size: Option<u64>,
}

/// A message template as the Graph API lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TemplateInfo {
    pub name: String,
    pub language: String,
    pub status: String,
    pub category: String,
    /// The body's text, with `{{1}}`… where parameters go.
    pub body: String,
    pub params: usize,
}

/// The Graph API, for every number.
#[derive(Clone)]
pub struct Graph {
    http: reqwest::Client,
    base: String,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph").field("base", &self.base).finish()
    }
}

fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    h.get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// A 200 that lacks what it should carry.
fn malformed(what: &str) -> GraphError {
    GraphError {
        http: 200,
        code: None,
        message: what.to_owned(),
        details: None,
        retry_after: None,
    }
}

fn unreachable(e: &reqwest::Error) -> GraphError {
    GraphError {
        http: 0,
        code: None,
        message: format!("the Graph API cannot be reached: {e}"),
        details: None,
        retry_after: None,
    }
}

impl Graph {
    pub fn new(base: &str, timeout: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    async fn answer(r: reqwest::Response) -> Result<Vec<u8>, GraphError> {
        let status = r.status().as_u16();
        let wait = retry_after(r.headers());
        let body = r.bytes().await.map_err(|e| unreachable(&e))?;
        if (200..300).contains(&status) {
            Ok(body.to_vec())
        } else {
            Err(GraphError::read(status, &body, wait))
        }
    }

    /// Posts a message body; the sent message's `wamid`.
    pub async fn post_message(&self, number: &Number, body: &Value) -> Result<String, GraphError> {
        let r = self
            .http
            .post(format!("{}/{}/messages", self.base, number.phone_number_id))
            .bearer_auth(&number.token)
            .json(body)
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        let body = Self::answer(r).await?;
        outbound::sent_id(&body)
            .ok_or_else(|| malformed("the Graph API answered without a message id"))
    }

    /// Marks a customer's message read, showing the typing indicator if asked.
    pub async fn mark_read(
        &self,
        number: &Number,
        wamid: &str,
        typing: bool,
    ) -> Result<(), GraphError> {
        let r = self
            .http
            .post(format!("{}/{}/messages", self.base, number.phone_number_id))
            .bearer_auth(&number.token)
            .json(&outbound::mark_read(wamid, typing))
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        Self::answer(r).await.map(|_| ())
    }

    /// Uploads a file; its media id.
    pub async fn upload(
        &self,
        number: &Number,
        bytes: &[u8],
        mime: &str,
        filename: &str,
    ) -> Result<String, GraphError> {
        let boundary = format!("sb{:032x}", rand_u128());
        let safe_name: String = filename
            .chars()
            .filter(|c| !matches!(c, '"' | '\r' | '\n' | '\\'))
            .collect();
        let mut body = Vec::with_capacity(bytes.len() + 512);
        for (name, value) in [("messaging_product", "whatsapp"), ("type", mime)] {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{safe_name}\"\r\nContent-Type: {mime}\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let r = self
            .http
            .post(format!("{}/{}/media", self.base, number.phone_number_id))
            .bearer_auth(&number.token)
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        let body = Self::answer(r).await?;
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        v.get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| malformed("the upload answered without a media id"))
    }

    /// Where a media id's bytes are, for the next few minutes.
    pub async fn media_info(
        &self,
        number: &Number,
        media_id: &str,
    ) -> Result<MediaInfo, GraphError> {
        let r = self
            .http
            .get(format!("{}/{media_id}", self.base))
            .query(&[("phone_number_id", number.phone_number_id.as_str())])
            .bearer_auth(&number.token)
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        let body = Self::answer(r).await?;
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let url = v
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("the media answer has no URL"))?;
        Ok(MediaInfo {
            url: url.to_owned(),
            mime_type: v
                .get("mime_type")
                .and_then(Value::as_str)
                .map(str::to_owned),
            file_size: v.get("file_size").and_then(|s| match s {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            }),
        })
    }

    /// The bytes at a media URL, refusing more than `max` (read as they come: a file that
    /// grows past the limit is dropped, not kept in memory).
    pub async fn download(
        &self,
        number: &Number,
        url: &str,
        max: u64,
    ) -> Result<Vec<u8>, GraphError> {
        let mut r = self
            .http
            .get(url)
            .bearer_auth(&number.token)
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        if !r.status().is_success() {
            return Self::answer(r).await;
        }
        let mut out = Vec::new();
        while let Some(chunk) = r.chunk().await.map_err(|e| unreachable(&e))? {
            out.extend_from_slice(&chunk);
            if out.len() as u64 > max {
                return Err(GraphError {
                    http: 413,
                    code: None,
                    message: format!("the file is over the {max}-byte limit"),
                    details: None,
                    retry_after: None,
                });
            }
        }
        Ok(out)
    }

    /// The business account's approved and pending templates.
    pub async fn templates(&self, number: &Number) -> Result<Vec<TemplateInfo>, GraphError> {
        let Some(waba) = &number.business_account_id else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut url = format!("{}/{waba}/message_templates?limit=100", self.base);
        // Pages are followed through `paging.next`, as far as 20 pages.
        for _ in 0..20 {
            let r = self
                .http
                .get(&url)
                .bearer_auth(&number.token)
                .send()
                .await
                .map_err(|e| unreachable(&e))?;
            let body = Self::answer(r).await?;
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            for t in v
                .get("data")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.push(template_info(t));
            }
            match v
                .get("paging")
                .and_then(|p| p.get("next"))
                .and_then(Value::as_str)
            {
                Some(next) => url = next.to_owned(),
                None => break,
            }
        }
        Ok(out)
    }
}

fn template_info(t: &Value) -> TemplateInfo {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let body = t
        .get("components")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("BODY"))
        .map(|c| text(c, "text"))
        .unwrap_or_default();
    let params = (1..=20)
        .take_while(|i| body.contains(&format!("{{{{{i}}}}}")))
        .count();
    TemplateInfo {
        name: text(t, "name"),
        language: text(t, "language"),
        status: text(t, "status"),
        category: text(t, "category"),
        body,
        params,
    }
}

fn rand_u128() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    let a = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let b = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (u128::from(a) << 64) | u128::from(b)
}

/// When each number may send next.
#[derive(Debug, Default)]
struct Pace {
    next: tokio::sync::Mutex<HashMap<String, Instant>>,
}

impl Pace {
    /// Waits for this number's next slot.
    async fn wait(&self, number: &Number) {
        let gap = Duration::from_secs(1) / number.messages_per_second.max(1);
        let at = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = next
                .get(&number.phone_number_id)
                .copied()
                .filter(|t| *t > now)
                .unwrap_or(now);
            next.insert(number.phone_number_id.clone(), slot + gap);
            slot
        };
        tokio::time::sleep_until(at.into()).await;
    }
}

/// The business numbers, by inbox; numbers added or changed on the settings page take
/// effect at once.
#[derive(Debug, Default)]
pub struct Numbers {
    by_inbox: RwLock<HashMap<String, Number>>,
}

impl Numbers {
    pub fn set(&self, numbers: Vec<Number>) {
        let map = numbers.into_iter().map(|n| (n.inbox.clone(), n)).collect();
        *self.by_inbox.write().unwrap_or_else(|p| p.into_inner()) = map;
    }

    pub fn for_inbox(&self, inbox: &str) -> Option<Number> {
        self.by_inbox
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(inbox)
            .cloned()
    }
}

/// The WhatsApp channel's outbound side.
pub struct WhatsappSender {
    pub graph: Graph,
    pub numbers: Arc<Numbers>,
    blobs: Arc<dyn BlobStore>,
    ids: Ids,
    pace: Pace,
}

impl std::fmt::Debug for WhatsappSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsappSender").finish_non_exhaustive()
    }
}

fn refused(r: Refusal) -> SendError {
    SendError::Permanent(r.to_string())
}

impl WhatsappSender {
    pub fn new(graph: Graph, numbers: Arc<Numbers>, blobs: Arc<dyn BlobStore>, ids: Ids) -> Self {
        Self {
            graph,
            numbers,
            blobs,
            ids,
            pace: Pace::default(),
        }
    }

    async fn post(&self, number: &Number, body: &Value) -> Result<String, SendError> {
        self.pace.wait(number).await;
        self.graph
            .post_message(number, body)
            .await
            .map_err(|e| outbound::classify(&e))
    }
}

#[async_trait]
impl Sender for WhatsappSender {
    fn channel(&self) -> Channel {
        Channel::Whatsapp
    }

    async fn send(&self, o: &Outgoing) -> Result<SendReceipt, SendError> {
        let number = self
            .numbers
            .for_inbox(&o.conversation.inbox)
            .ok_or_else(|| {
                SendError::Permanent(format!(
                    "no WhatsApp number serves inbox {}",
                    o.conversation.inbox
                ))
            })?;
        let to = o
            .recipients
            .iter()
            .find(|r| r.role == "to")
            .ok_or_else(|| SendError::Permanent("the contact has no WhatsApp number".into()))?;
        let m = &o.message;
        let content = m.content.as_ref();
        let template = content.is_some_and(|c| c.template.is_some());
        if !template && !outbound::window_open(o.last_inbound_at, self.ids.now_ms()) {
            let last = o
                .last_inbound_at
                .map_or_else(|| "never".to_owned(), |t| format!("at {t} ms"));
            return Err(refused(Refusal::WindowClosed(last)));
        }
        let reply_to = content.and_then(|c| c.reply_to.as_deref());
        let mut first: Option<String> = None;
        // Files go one per message; the words ride on the first as its caption when they fit.
        let mut caption_used = false;
        for a in &m.attachments {
            let bytes = self
                .blobs
                .get(&a.blob)
                .await
                .map_err(|e| SendError::transient(format!("attachment {}: {e}", a.name)))?;
            self.pace.wait(&number).await;
            let media_id = self
                .graph
                .upload(&number, &bytes, &a.mime, &a.name)
                .await
                .map_err(|e| outbound::classify(&e))?;
            let caption = (!caption_used
                && !m.text.trim().is_empty()
                && m.text.chars().count() <= outbound::MAX_CAPTION
                && matches!(
                    outbound::media_kind(&a.mime),
                    "image" | "video" | "document"
                ))
            .then_some(m.text.as_str());
            caption_used |= caption.is_some();
            let body =
                outbound::media(&to.identity, &media_id, &a.mime, &a.name, caption, reply_to)
                    .map_err(refused)?;
            let id = self.post(&number, &body).await?;
            first.get_or_insert(id);
        }
        let has_words = !m.text.trim().is_empty();
        let rich = content.is_some_and(|c| {
            c.reaction.is_some()
                || c.template.is_some()
                || !c.buttons.is_empty()
                || c.list.is_some()
        });
        if rich || (has_words && !caption_used) || first.is_none() {
            let body =
                outbound::message(&to.identity, &m.text, content, reply_to).map_err(refused)?;
            let id = self.post(&number, &body).await?;
            first.get_or_insert(id);
        }
        Ok(SendReceipt { external_id: first })
    }
}
