//! One webhook delivery, read into events. The field names follow the command-line
//! contract of `switchboard whatsapp parse` (DESIGN.md): `kind`, `type`, `wamid`, `from`,
//! `profile_name`, `phone_number_id`, `display_phone_number`, `timestamp`, `text`,
//! `caption`, `media`, `reply_to`, `forwarded`, `frequently_forwarded`, `reaction`,
//! `location`, `contacts`, `interactive`, `button`, `referral`, `order`, `form`, `status`,
//! `recipient_id`, `conversation`, `pricing`, `errors`.
//!
//! The payload's shape is Meta's (`object` = `whatsapp_business_account`, `entry[]`,
//! `changes[]`, `value` with `metadata`, `contacts`, `messages`, `statuses`). Every
//! message becomes an event whatever its `type`; what a type carries that has no field of
//! its own here stays in `raw`.

use serde::Serialize;
use serde_json::Value;

/// Why a body is not a WhatsApp webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not a WhatsApp Business webhook (object is {0:?})")]
    NotWhatsApp(String),
    #[error("no entry list")]
    NoEntries,
}

/// A file or media attached to a message (fetched later by its `id`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Media {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// A voice note (audio recorded in the app), not a sent audio file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reaction {
    /// Empty when the reaction was removed.
    pub emoji: String,
    pub wamid: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A reply button or list row the customer chose.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Choice {
    pub id: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A template's quick-reply button the customer pressed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Button {
    pub text: String,
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConversationInfo {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// One of Meta's errors (a failed status, an unsupported message).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetaError {
    pub code: i64,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// One normalized event of a delivery.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Event {
    /// `message`, `status` or `system`.
    pub kind: &'static str,
    /// The message type (`text`, `image`, …) or the status (`sent`, `read`, …) or the
    /// system notice's type (`user_changed_number`, …).
    #[serde(rename = "type")]
    pub kind_of: String,
    pub wamid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The business-scoped user id, which stands in for `from` when a user hides it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_name: Option<String>,
    pub phone_number_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_phone_number: Option<String>,
    /// Seconds since 1970, as Meta sends it.
    pub timestamp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<Media>,
    /// The message this one answers (`context.id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub forwarded: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub frequently_forwarded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reaction: Option<Reaction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Shared contact cards, as sent (names, phones, emails, urls, addresses, org,
    /// birthday).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interactive: Option<Choice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub button: Option<Button>,
    /// The click-to-WhatsApp ad or post the customer came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referral: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<Value>,
    /// A WhatsApp Flow's answers (`nfm_reply`), by the Flow's field names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form: Option<Value>,
    /// The message an `edit` changes or a `revoke` deletes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_wamid: Option<String>,
    /// A number change's new WhatsApp id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_wa_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pricing: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<MetaError>,
    /// The message or status as it came, for what has no field here (`unsupported`, an
    /// unknown type, a system notice's detail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<Value>,
}

fn s(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(x) => Some(x.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn s_or_empty(v: &Value, key: &str) -> String {
    s(v, key).unwrap_or_default()
}

/// Meta sends times as strings of seconds; a number is taken too.
fn seconds(v: &Value, key: &str) -> i64 {
    match v.get(key) {
        Some(Value::String(x)) => x.trim().parse().unwrap_or(0),
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

/// Reads one webhook delivery into its events, in the order they came.
pub fn read(body: &[u8]) -> Result<Vec<Event>, ReadError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| ReadError::NotJson(e.to_string()))?;
    let object = s_or_empty(&root, "object");
    if object != "whatsapp_business_account" {
        return Err(ReadError::NotWhatsApp(object));
    }
    let entries = root
        .get("entry")
        .and_then(Value::as_array)
        .ok_or(ReadError::NoEntries)?;
    let mut events = Vec::new();
    for entry in entries {
        for change in entry
            .get("changes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(value) = change.get("value") {
                read_value(value, &mut events);
            }
        }
    }
    Ok(events)
}

/// The events of one change's `value`: its messages, then its statuses.
fn read_value(value: &Value, out: &mut Vec<Event>) {
    let metadata = value.get("metadata").cloned().unwrap_or(Value::Null);
    let phone_number_id = s_or_empty(&metadata, "phone_number_id");
    let display = s(&metadata, "display_phone_number");
    let contacts: Vec<&Value> = value
        .get("contacts")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    for m in value
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mut e = message(m);
        e.phone_number_id.clone_from(&phone_number_id);
        e.display_phone_number.clone_from(&display);
        // The sender's profile: the contact with its WhatsApp id (or, for a hidden
        // number, its user id), else the only one.
        let profile = contacts
            .iter()
            .find(|c| e.from.is_some() && s(c, "wa_id") == e.from)
            .or_else(|| {
                contacts
                    .iter()
                    .find(|c| e.user_id.is_some() && s(c, "user_id") == e.user_id)
            })
            .or_else(|| (contacts.len() == 1).then(|| &contacts[0]));
        if let Some(c) = profile {
            e.profile_name = c.get("profile").and_then(|p| s(p, "name"));
            if e.user_id.is_none() {
                e.user_id = s(c, "user_id");
            }
            if e.from.is_none() {
                e.from = s(c, "wa_id");
            }
        }
        out.push(e);
    }
    for st in value
        .get("statuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mut e = status(st);
        e.phone_number_id.clone_from(&phone_number_id);
        e.display_phone_number.clone_from(&display);
        out.push(e);
    }
}

fn errors(v: &Value) -> Vec<MetaError> {
    v.get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| MetaError {
            code: e.get("code").and_then(Value::as_i64).unwrap_or(0),
            title: s_or_empty(e, "title"),
            message: s(e, "message"),
            details: e.get("error_data").and_then(|d| s(d, "details")),
        })
        .collect()
}

fn media(v: &Value) -> Option<Media> {
    Some(Media {
        id: s(v, "id")?,
        mime_type: s(v, "mime_type"),
        sha256: s(v, "sha256"),
        filename: s(v, "filename"),
        voice: v.get("voice").and_then(Value::as_bool),
    })
}

/// One inbound message; `edit` carries the new message inside it.
fn message(m: &Value) -> Event {
    let kind_of = s(m, "type").unwrap_or_else(|| "unsupported".to_owned());
    let mut e = Event {
        kind: if kind_of == "system" {
            "system"
        } else {
            "message"
        },
        wamid: s_or_empty(m, "id"),
        from: s(m, "from"),
        user_id: s(m, "from_user_id"),
        timestamp: seconds(m, "timestamp"),
        errors: errors(m),
        ..Event::default()
    };
    if let Some(ctx) = m.get("context") {
        e.reply_to = s(ctx, "id");
        e.forwarded = ctx.get("forwarded").and_then(Value::as_bool) == Some(true);
        e.frequently_forwarded =
            ctx.get("frequently_forwarded").and_then(Value::as_bool) == Some(true);
        if e.frequently_forwarded {
            e.forwarded = true;
        }
    }
    e.referral = m.get("referral").cloned();
    content(&kind_of, m, &mut e);
    // A system notice is typed by what happened (`user_changed_number`, …).
    e.kind_of = if kind_of == "system" {
        m.get("system")
            .and_then(|b| s(b, "type"))
            .unwrap_or(kind_of)
    } else {
        kind_of
    };
    e
}

/// What a message of type `t` carries, into the event's fields.
fn content(t: &str, m: &Value, e: &mut Event) {
    let body = m.get(t).cloned().unwrap_or(Value::Null);
    match t {
        "text" => e.text = s(&body, "body"),
        "image" | "video" | "audio" | "document" | "sticker" => {
            e.media = media(&body);
            e.caption = s(&body, "caption");
        }
        "location" => {
            e.location = Some(Location {
                latitude: body.get("latitude").and_then(Value::as_f64).unwrap_or(0.0),
                longitude: body.get("longitude").and_then(Value::as_f64).unwrap_or(0.0),
                name: s(&body, "name"),
                address: s(&body, "address"),
                url: s(&body, "url"),
            });
        }
        "contacts" => e.contacts = Some(body),
        "reaction" => {
            e.reaction = Some(Reaction {
                emoji: s_or_empty(&body, "emoji"),
                wamid: s_or_empty(&body, "message_id"),
            });
        }
        "interactive" if body.get("type").and_then(Value::as_str) == Some("nfm_reply") => {
            e.form = flow_answers(body.get("nfm_reply").unwrap_or(&Value::Null));
            e.raw = Some(m.clone());
        }
        "interactive" => {
            let kind = s_or_empty(&body, "type");
            match body.get(&kind) {
                Some(chosen) if kind == "button_reply" || kind == "list_reply" => {
                    e.interactive = Some(Choice {
                        id: s_or_empty(chosen, "id"),
                        title: s_or_empty(chosen, "title"),
                        description: s(chosen, "description"),
                    });
                }
                // Another kind of answer (a call permission, …): kept as it came.
                _ => e.raw = Some(m.clone()),
            }
        }
        "button" => {
            e.button = Some(Button {
                text: s_or_empty(&body, "text"),
                payload: s_or_empty(&body, "payload"),
            });
        }
        "order" => e.order = Some(body),
        "edit" => {
            e.original_wamid = s(&body, "original_message_id");
            // The edited message, as a message of its own type.
            if let Some(new) = body.get("message") {
                let t = s_or_empty(new, "type");
                content(&t, new, e);
            }
        }
        "revoke" => e.original_wamid = s(&body, "original_message_id"),
        "system" => {
            e.text = s(&body, "body");
            // `new_wa_id` until webhooks v11, `wa_id` since.
            e.new_wa_id = s(&body, "wa_id").or_else(|| s(&body, "new_wa_id"));
            e.raw = Some(m.clone());
        }
        _ => e.raw = Some(m.clone()),
    }
}

/// A Flow's answers: `response_json` is a JSON object inside a string; the token that
/// only matches the answer to the Flow sent is left out. A response that is not an object
/// is kept as the one answer `response`; without one, the Flow's `body` (`Sent`) is.
fn flow_answers(reply: &Value) -> Option<Value> {
    let parsed = match reply.get("response_json") {
        Some(Value::String(json)) => {
            serde_json::from_str::<Value>(json).unwrap_or_else(|_| Value::String(json.clone()))
        }
        Some(other) => other.clone(),
        None => return s(reply, "body").map(|b| serde_json::json!({ "response": b })),
    };
    Some(match parsed {
        Value::Object(mut fields) => {
            fields.remove("flow_token");
            Value::Object(fields)
        }
        other => serde_json::json!({ "response": other }),
    })
}

/// A delivery status of a message we sent.
fn status(st: &Value) -> Event {
    let conversation = st.get("conversation").map(|c| ConversationInfo {
        id: s_or_empty(c, "id"),
        origin: c.get("origin").and_then(|o| s(o, "type")),
        expires_at: c
            .get("expiration_timestamp")
            .map(|_| seconds(c, "expiration_timestamp")),
    });
    let state = s_or_empty(st, "status");
    Event {
        kind: "status",
        kind_of: state.clone(),
        wamid: s_or_empty(st, "id"),
        timestamp: seconds(st, "timestamp"),
        status: Some(state),
        recipient_id: s(st, "recipient_id"),
        conversation,
        pricing: st.get("pricing").cloned(),
        errors: errors(st),
        ..Event::default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn fixture(name: &str) -> Vec<Event> {
        let path = format!(
            "{}/../../shared/fixtures/whatsapp/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        read(&body).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn one(name: &str) -> Event {
        let mut events = fixture(name);
        assert_eq!(events.len(), 1, "{name}: {events:?}");
        events.remove(0)
    }

    #[test]
    fn every_fixture_reads_to_one_event_per_message_or_status() {
        let dir = format!(
            "{}/../../shared/fixtures/whatsapp",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut n = 0;
        for f in std::fs::read_dir(&dir).unwrap() {
            let path = f.unwrap().path();
            let body = std::fs::read(&path).unwrap();
            let raw: Value = serde_json::from_slice(&body).unwrap();
            let mut expected = 0;
            for entry in raw["entry"].as_array().unwrap() {
                for c in entry["changes"].as_array().unwrap() {
                    for key in ["messages", "statuses"] {
                        expected += c["value"][key].as_array().map_or(0, Vec::len);
                    }
                }
            }
            let events = read(&body).unwrap();
            assert_eq!(events.len(), expected, "{}", path.display());
            for e in &events {
                assert!(!e.wamid.is_empty() && e.timestamp > 0, "{e:?}");
                assert!(!e.kind_of.is_empty(), "{e:?}");
            }
            n += 1;
        }
        assert!(n >= 26, "{n} fixtures");
    }

    #[test]
    fn messages_carry_their_content() {
        let t = one("message_text.json");
        assert_eq!((t.kind, t.kind_of.as_str()), ("message", "text"));
        assert_eq!(t.text.as_deref(), Some("Body Text"));
        assert_eq!(t.from.as_deref(), Some("972987654321"));
        assert_eq!(t.profile_name.as_deref(), Some("Test Name"));
        assert_eq!(t.phone_number_id, "1122334455667");
        assert_eq!(t.timestamp, 1_697_043_223);

        let f = one("message_forwarded.json");
        assert!(f.forwarded && !f.frequently_forwarded);
        assert_eq!(f.user_id.as_deref(), Some("US.13491208655302741918"));

        let r = one("message_reply.json");
        assert_eq!(r.reply_to.as_deref(), Some("wamid.xyzxyz=="));

        let v = one("message_voice.json");
        assert_eq!(v.media.as_ref().unwrap().voice, Some(true));
        assert_eq!(
            v.media.unwrap().mime_type.as_deref(),
            Some("audio/ogg; codecs=opus")
        );

        let d = one("message_document.json");
        let m = d.media.unwrap();
        assert_eq!(m.filename.as_deref(), Some("filename.pdf"));
        assert_eq!(m.id, "1234567890987654321");
        assert_eq!(d.caption.as_deref(), Some("caption"));

        let l = one("message_current_location.json");
        let loc = l.location.unwrap();
        assert!((loc.latitude - 12.25089).abs() < 1e-9 && (loc.longitude - 43.90539).abs() < 1e-9);

        let x = one("message_reaction.json");
        assert_eq!(
            x.reaction,
            Some(Reaction {
                emoji: "😮".into(),
                wamid: "wamid.yzxyzx=".into()
            })
        );

        let c = one("message_contacts.json");
        assert_eq!(c.contacts.unwrap().as_array().unwrap().len(), 3);

        let ad = one("message_referral.json");
        assert_eq!(ad.referral.unwrap()["ctwa_clid"], "CTWA_CLID");
        assert_eq!(ad.text.as_deref(), Some("BODY"));
    }

    #[test]
    fn choices_edits_revokes_and_unknown_types_are_kept() {
        let b = one("interactive_button_reply.json");
        assert_eq!(b.interactive.unwrap().id, "callback_data");
        let l = one("interactive_list_reply_with_description.json");
        assert_eq!(
            l.interactive.unwrap().description.as_deref(),
            Some("description")
        );
        let q = one("template_quick_reply_button.json");
        assert_eq!(
            q.button,
            Some(Button {
                text: "title".into(),
                payload: "callback_data".into()
            })
        );
        let ed = one("edited_message_image.json");
        assert_eq!(ed.kind_of, "edit");
        assert!(ed.original_wamid.unwrap().starts_with("wamid.HBgLMTQxMjU1"));
        assert_eq!(ed.caption.as_deref(), Some("Updated image caption"));
        assert_eq!(ed.media.unwrap().id, "1234567890");
        let rv = one("deleted_message_revoke.json");
        assert_eq!(
            rv.original_wamid.as_deref(),
            Some("<ORIGINAL_WHATSAPP_MESSAGE_ID>")
        );
        let u = one("message_unsupported.json");
        assert_eq!(u.kind_of, "unsupported");
        assert_eq!(u.errors[0].code, 131_051);
        assert!(u.raw.is_some());
        let n = one("system_phone_number_change.json");
        assert_eq!(
            (n.kind, n.kind_of.as_str(), n.status.as_deref()),
            ("system", "user_changed_number", None)
        );
        assert_eq!(n.new_wa_id.as_deref(), Some("972912345678"));
        let i = one("system_identity_change.json");
        assert_eq!(i.kind_of, "customer_identity_changed");
    }

    #[test]
    fn statuses_carry_their_conversation_pricing_and_errors() {
        let s = one("status_sent.json");
        assert_eq!((s.kind, s.kind_of.as_str()), ("status", "sent"));
        let c = s.conversation.unwrap();
        assert_eq!(c.expires_at, Some(1_698_339_900));
        assert_eq!(c.origin.as_deref(), Some("service"));
        assert_eq!(s.pricing.unwrap()["category"], "service");
        assert_eq!(s.recipient_id.as_deref(), Some("972987654321"));
        for (f, want) in [
            ("status_delivered.json", "delivered"),
            ("status_read.json", "read"),
            ("status_played.json", "played"),
        ] {
            assert_eq!(one(f).status.as_deref(), Some(want));
        }
        let failed = one("status_failed.json");
        assert_eq!(failed.errors[0].code, 130_472);
        assert!(
            failed.errors[0]
                .details
                .as_deref()
                .unwrap()
                .contains("experiment")
        );
    }

    #[test]
    fn what_is_not_a_webhook_is_refused_and_odd_messages_are_kept() {
        assert!(matches!(read(b"not json"), Err(ReadError::NotJson(_))));
        assert!(matches!(
            read(br#"{"object":"page","entry":[]}"#),
            Err(ReadError::NotWhatsApp(_))
        ));
        assert_eq!(
            read(br#"{"object":"whatsapp_business_account"}"#),
            Err(ReadError::NoEntries)
        );
        // A type nobody knows yet, without `from` (a hidden number): kept, with its raw
        // payload and the sender from the contact's id.
        let body = r#"{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{
            "metadata":{"phone_number_id":"1"},
            "contacts":[{"profile":{"name":"Zé"},"wa_id":"5511999990000","user_id":"BR.1"}],
            "messages":[{"id":"wamid.n","timestamp":"5","type":"hologram","hologram":{"x":1}}]}}]}]}"#;
        let e = &read(body.as_bytes()).unwrap()[0];
        assert_eq!(e.kind_of, "hologram");
        assert_eq!(e.from.as_deref(), Some("5511999990000"));
        assert_eq!(e.profile_name.as_deref(), Some("Zé"));
        assert_eq!(e.raw.as_ref().unwrap()["hologram"]["x"], 1);
    }

    #[test]
    fn hidden_numbers_find_their_own_profile_and_old_field_names_are_read() {
        // Two senders without numbers in one delivery: each message names its user id
        // (`from_user_id`), and each finds its own contact by it.
        let body = r#"{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{
            "metadata":{"phone_number_id":"1"},
            "contacts":[{"profile":{"name":"Ana"},"user_id":"BR.1"},{"profile":{"name":"Bia"},"user_id":"BR.2"}],
            "messages":[
              {"from_user_id":"BR.2","id":"wamid.b","timestamp":"5","type":"text","text":{"body":"oi"}},
              {"from_user_id":"BR.1","id":"wamid.a","timestamp":"6","type":"text","text":{"body":"ola"}}]}}]}]}"#;
        let events = read(body.as_bytes()).unwrap();
        let who: Vec<_> = events
            .iter()
            .map(|e| (e.user_id.as_deref(), e.profile_name.as_deref()))
            .collect();
        assert_eq!(
            who,
            [(Some("BR.2"), Some("Bia")), (Some("BR.1"), Some("Ana"))]
        );
        // A number change as webhooks up to v11 wrote it.
        let old = r#"{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{
            "metadata":{"phone_number_id":"1"},
            "messages":[{"from":"5511999990000","id":"wamid.s","timestamp":"7","type":"system",
              "system":{"body":"Ze changed from 5511999990000 to 5511988880000","new_wa_id":"5511988880000","type":"user_changed_number"}}]}}]}]}"#;
        let e = &read(old.as_bytes()).unwrap()[0];
        assert_eq!(e.new_wa_id.as_deref(), Some("5511988880000"));
    }
}
