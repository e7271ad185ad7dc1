//! What we send, as the Cloud API's JSON, and what its answers mean. Pure: the request
//! bodies for text, media, reactions, reply buttons, lists, templates, mark-as-read and the
//! typing indicator; Meta's limits checked before anything is sent; the 24-hour
//! customer-service window; and Meta's error codes sorted into "try again later" and "will
//! never work" (with words an agent can act on).

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_core::dispatcher::SendError;
use switchboard_core::domain::{Identity, IdentityKind, RichContent};

/// The customer-service window: free-form messages only this long after the customer last
/// wrote; outside it only approved templates.
pub const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// Meta's limits on interactive messages.
pub const MAX_BUTTONS: usize = 3;
pub const MAX_BUTTON_TITLE: usize = 20;
pub const MAX_ROWS: usize = 10;
pub const MAX_ROW_TITLE: usize = 24;
pub const MAX_ROW_DESCRIPTION: usize = 72;
pub const MAX_LIST_BUTTON: usize = 20;
pub const MAX_INTERACTIVE_BODY: usize = 1024;
pub const MAX_ID: usize = 256;
pub const MAX_TEXT: usize = 4096;
pub const MAX_CAPTION: usize = 1024;

/// Why a message cannot go as it is (said before any request is made).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "the 24-hour window is closed (the customer last wrote {0}): only an approved template can be sent; choose one"
    )]
    WindowClosed(String),
    #[error("{0}")]
    OverLimit(String),
    #[error("nothing to send")]
    Empty,
}

/// Whether a free-form message may be sent now, given when the customer last wrote.
pub fn window_open(last_inbound_at: Option<i64>, now_ms: i64) -> bool {
    last_inbound_at.is_some_and(|t| now_ms - t < WINDOW_MS)
}

/// How long the window stays open, in milliseconds (0 when closed).
pub fn window_left(last_inbound_at: Option<i64>, now_ms: i64) -> i64 {
    last_inbound_at.map_or(0, |t| (t + WINDOW_MS - now_ms).max(0))
}

/// The base of every message body: to whom. A hidden number is written to by user id.
fn base(to: &Identity) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("messaging_product".into(), json!("whatsapp"));
    m.insert("recipient_type".into(), json!("individual"));
    if to.kind() == IdentityKind::WhatsappUser {
        m.insert("recipient".into(), json!(to.value()));
    } else {
        m.insert("to".into(), json!(to.value()));
    }
    m
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn limit(what: &str, s: &str, max: usize) -> Result<(), Refusal> {
    if chars(s) > max {
        return Err(Refusal::OverLimit(format!(
            "{what} is {} characters; WhatsApp takes at most {max}",
            chars(s)
        )));
    }
    Ok(())
}

/// The body of a message with words and, optionally, rich content. `reply_to` quotes an
/// earlier message. Media go through [`media`].
pub fn message(
    to: &Identity,
    text: &str,
    content: Option<&RichContent>,
    reply_to: Option<&str>,
) -> Result<Value, Refusal> {
    let mut m = base(to);
    let c = content.cloned().unwrap_or_default();
    if let Some(r) = &c.reaction {
        m.insert("type".into(), json!("reaction"));
        m.insert(
            "reaction".into(),
            json!({ "message_id": r.to, "emoji": r.emoji }),
        );
        return Ok(Value::Object(m));
    }
    if let Some(t) = &c.template {
        m.insert("type".into(), json!("template"));
        let mut template = json!({ "name": t.name, "language": { "code": t.language } });
        if !t.params.is_empty() {
            let params: Vec<Value> = t
                .params
                .iter()
                .map(|p| json!({ "type": "text", "text": p }))
                .collect();
            template["components"] = json!([{ "type": "body", "parameters": params }]);
        }
        m.insert("template".into(), template);
    } else if !c.buttons.is_empty() {
        limit("the message", text, MAX_INTERACTIVE_BODY)?;
        if c.buttons.len() > MAX_BUTTONS {
            return Err(Refusal::OverLimit(format!(
                "{} reply buttons; WhatsApp takes at most {MAX_BUTTONS}",
                c.buttons.len()
            )));
        }
        let mut buttons = Vec::new();
        for b in &c.buttons {
            limit(&format!("button {:?}", b.title), &b.title, MAX_BUTTON_TITLE)?;
            limit("a button id", &b.id, MAX_ID)?;
            buttons.push(json!({ "type": "reply", "reply": { "id": b.id, "title": b.title } }));
        }
        m.insert("type".into(), json!("interactive"));
        m.insert(
            "interactive".into(),
            json!({ "type": "button", "body": { "text": non_empty(text)? }, "action": { "buttons": buttons } }),
        );
    } else if let Some(list) = &c.list {
        limit("the message", text, MAX_INTERACTIVE_BODY)?;
        limit("the list's button", &list.button, MAX_LIST_BUTTON)?;
        if list.rows.is_empty() || list.rows.len() > MAX_ROWS {
            return Err(Refusal::OverLimit(format!(
                "{} list rows; WhatsApp takes 1 to {MAX_ROWS}",
                list.rows.len()
            )));
        }
        let mut rows = Vec::new();
        for r in &list.rows {
            limit("a row id", &r.id, MAX_ID)?;
            // A row's title is cut to fit (an article's title is often longer); the whole
            // title goes in the description.
            let (title, description) = if chars(&r.title) > MAX_ROW_TITLE {
                (
                    format!(
                        "{}…",
                        r.title.chars().take(MAX_ROW_TITLE - 1).collect::<String>()
                    ),
                    Some(
                        r.title
                            .chars()
                            .take(MAX_ROW_DESCRIPTION)
                            .collect::<String>(),
                    ),
                )
            } else {
                (r.title.clone(), None)
            };
            let mut row = json!({ "id": r.id, "title": title });
            if let Some(d) = description {
                row["description"] = json!(d);
            }
            rows.push(row);
        }
        m.insert("type".into(), json!("interactive"));
        m.insert(
            "interactive".into(),
            json!({ "type": "list", "body": { "text": non_empty(text)? },
                    "action": { "button": list.button, "sections": [{ "title": short(&list.button, MAX_ROW_TITLE), "rows": rows }] } }),
        );
    } else {
        limit("the message", text, MAX_TEXT)?;
        m.insert("type".into(), json!("text"));
        m.insert(
            "text".into(),
            json!({ "preview_url": text.contains("https://"), "body": non_empty(text)? }),
        );
    }
    if let Some(r) = reply_to {
        m.insert("context".into(), json!({ "message_id": r }));
    }
    Ok(Value::Object(m))
}

fn short(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn non_empty(text: &str) -> Result<&str, Refusal> {
    if text.trim().is_empty() {
        Err(Refusal::Empty)
    } else {
        Ok(text)
    }
}

/// WhatsApp's media kinds, from a file's type: what the message's `type` is.
pub fn media_kind(mime: &str) -> &'static str {
    match mime {
        "image/jpeg" | "image/png" => "image",
        "image/webp" => "sticker",
        m if m.starts_with("video/") => "video",
        m if m.starts_with("audio/") => "audio",
        _ => "document",
    }
}

/// The body of a media message: the file uploaded as `media_id`.
pub fn media(
    to: &Identity,
    media_id: &str,
    mime: &str,
    filename: &str,
    caption: Option<&str>,
    reply_to: Option<&str>,
) -> Result<Value, Refusal> {
    let kind = media_kind(mime);
    let mut m = base(to);
    let mut body = json!({ "id": media_id });
    if let Some(c) = caption.filter(|c| !c.trim().is_empty())
        && matches!(kind, "image" | "video" | "document")
    {
        limit("the caption", c, MAX_CAPTION)?;
        body["caption"] = json!(c);
    }
    if kind == "document" {
        body["filename"] = json!(filename);
    }
    m.insert("type".into(), json!(kind));
    m.insert(kind.into(), body);
    if let Some(r) = reply_to {
        m.insert("context".into(), json!({ "message_id": r }));
    }
    Ok(Value::Object(m))
}

/// Marks a customer's message read (the blue ticks), with the typing indicator if asked.
pub fn mark_read(wamid: &str, typing: bool) -> Value {
    let mut v = json!({ "messaging_product": "whatsapp", "status": "read", "message_id": wamid });
    if typing {
        v["typing_indicator"] = json!({ "type": "text" });
    }
    v
}

/// One error of the Graph API, as its JSON says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError {
    pub http: u16,
    pub code: Option<i64>,
    pub message: String,
    pub details: Option<String>,
    /// The server's `Retry-After`, when it gave one.
    pub retry_after: Option<Duration>,
}

impl GraphError {
    /// Reads an error answer (`{"error": {"code", "message", "error_data": {"details"}}}`);
    /// an answer that is not JSON keeps its first words.
    pub fn read(http: u16, body: &[u8], retry_after: Option<Duration>) -> Self {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let e = v.get("error").cloned().unwrap_or(Value::Null);
        let message = e
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into());
        Self {
            http,
            code: e.get("code").and_then(Value::as_i64),
            message,
            details: e
                .get("error_data")
                .and_then(|d| d.get("details"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            retry_after,
        }
    }

    fn words(&self) -> String {
        let code = self.code.map(|c| format!(" ({c})")).unwrap_or_default();
        match &self.details {
            Some(d) if !d.is_empty() => format!("{}{code}: {d}", self.message),
            _ => format!("{}{code}", self.message),
        }
    }
}

/// Meta's codes that mean "not now": throttling (4, 80007, 130429, 131048, 131056),
/// temporary trouble (1, 2, 131000, 131016, 133004), and any 429 or 5xx.
pub fn transient(e: &GraphError) -> bool {
    matches!(
        e.code,
        Some(1 | 2 | 4 | 80007 | 130429 | 131000 | 131016 | 131048 | 131056 | 133004)
    ) || e.http == 429
        || e.http >= 500
        || e.http == 0
}

/// What the dispatcher does with an error: retry the throttled and the temporary (after
/// the server's own delay when it gives one), dead-letter the rest with Meta's words.
/// Re-engagement (131047) says what to do about it.
pub fn classify(e: &GraphError) -> SendError {
    if e.code == Some(131047) {
        return SendError::Permanent(format!(
            "more than 24 hours have passed since the customer last wrote: send an approved template instead (WhatsApp {})",
            e.words()
        ));
    }
    if transient(e) {
        return SendError::Transient {
            error: format!("WhatsApp: {}", e.words()),
            retry_after: e.retry_after,
        };
    }
    SendError::Permanent(format!("WhatsApp: {}", e.words()))
}

/// The `wamid` of a sent message, from the answer (`{"messages": [{"id": …}]}`).
pub fn sent_id(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get("messages")?
        .as_array()?
        .first()?
        .get("id")?
        .as_str()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use switchboard_core::domain::{Button, ListContent, Reaction, Template};

    fn ana() -> Identity {
        Identity::whatsapp("5511987654321").unwrap()
    }

    #[test]
    fn text_reply_and_reaction_bodies() {
        let v = message(&ana(), "Olá!", None, Some("wamid.X")).unwrap();
        assert_eq!(
            v,
            json!({"messaging_product":"whatsapp","recipient_type":"individual","to":"5511987654321",
                   "type":"text","text":{"preview_url":false,"body":"Olá!"},"context":{"message_id":"wamid.X"}})
        );
        let c = RichContent {
            reaction: Some(Reaction {
                emoji: "👍".into(),
                to: "wamid.Y".into(),
            }),
            ..RichContent::default()
        };
        let v = message(&ana(), "", Some(&c), None).unwrap();
        assert_eq!(v["reaction"], json!({"message_id":"wamid.Y","emoji":"👍"}));
        assert_eq!(message(&ana(), "  ", None, None), Err(Refusal::Empty));
    }

    #[test]
    fn interactive_limits_are_checked_before_sending() {
        let b = |t: &str| Button {
            id: t.to_lowercase(),
            title: t.into(),
            url: None,
        };
        let c = RichContent {
            buttons: vec![b("Sim"), b("Falar com alguém")],
            ..RichContent::default()
        };
        let v = message(&ana(), "Resolveu?", Some(&c), None).unwrap();
        assert_eq!(v["interactive"]["type"], "button");
        assert_eq!(
            v["interactive"]["action"]["buttons"][1]["reply"]["title"],
            "Falar com alguém"
        );
        let four = RichContent {
            buttons: vec![b("a"), b("b"), b("c"), b("d")],
            ..RichContent::default()
        };
        assert!(matches!(
            message(&ana(), "x", Some(&four), None),
            Err(Refusal::OverLimit(_))
        ));
        let long = RichContent {
            buttons: vec![b("Um título longo demais para o botão")],
            ..RichContent::default()
        };
        assert!(matches!(
            message(&ana(), "x", Some(&long), None),
            Err(Refusal::OverLimit(_))
        ));
        let list = RichContent {
            list: Some(ListContent {
                button: "Artigos".into(),
                rows: vec![b("Como trocar o toner da impressora Ricoh MP 301")],
            }),
            ..RichContent::default()
        };
        let v = message(&ana(), "Escolha", Some(&list), None).unwrap();
        let row = &v["interactive"]["action"]["sections"][0]["rows"][0];
        assert_eq!(row["title"].as_str().unwrap().chars().count(), 24);
        assert!(row["description"].as_str().unwrap().starts_with("Como"));
    }

    #[test]
    fn template_with_parameters_and_language() {
        let c = RichContent {
            template: Some(Template {
                name: "ticket_update".into(),
                language: "pt_BR".into(),
                params: vec!["4521".into(), "resolvido".into()],
            }),
            ..RichContent::default()
        };
        let v = message(&ana(), "", Some(&c), None).unwrap();
        assert_eq!(
            v["template"],
            json!({"name":"ticket_update","language":{"code":"pt_BR"},"components":[{"type":"body","parameters":[
                {"type":"text","text":"4521"},{"type":"text","text":"resolvido"}]}]})
        );
    }

    #[test]
    fn the_window_and_meta_s_codes() {
        let now = 100 * WINDOW_MS;
        assert!(window_open(Some(now - WINDOW_MS + 1), now));
        assert!(!window_open(Some(now - WINDOW_MS), now));
        assert!(!window_open(None, now));
        assert_eq!(window_left(Some(now - 1000), now), WINDOW_MS - 1000);
        let e = |http, code| GraphError {
            http,
            code,
            message: "m".into(),
            details: None,
            retry_after: None,
        };
        assert!(matches!(
            classify(&e(429, Some(130429))),
            SendError::Transient { .. }
        ));
        assert!(matches!(
            classify(&e(400, Some(131056))),
            SendError::Transient { .. }
        ));
        assert!(matches!(
            classify(&e(503, None)),
            SendError::Transient { .. }
        ));
        let SendError::Permanent(why) = classify(&e(400, Some(131047))) else {
            panic!()
        };
        assert!(why.contains("template"), "{why}");
        assert!(matches!(
            classify(&e(400, Some(131026))),
            SendError::Permanent(_)
        ));
        let read = GraphError::read(
            400,
            br#"{"error":{"message":"(#131047) Re-engagement message","code":131047,"error_data":{"details":"Message failed to send because more than 24 hours have passed"}}}"#,
            None,
        );
        assert_eq!(read.code, Some(131047));
        assert!(read.details.unwrap().contains("24 hours"));
    }

    #[test]
    fn a_hidden_number_is_written_to_by_user_id() {
        let u = Identity::whatsapp_user("BR.987654321").unwrap();
        let v = message(&u, "oi", None, None).unwrap();
        assert_eq!(v["recipient"], "BR.987654321");
        assert!(v.get("to").is_none());
    }
}
