//! Events made ready for the inbound stream: a message becomes an [`Envelope`] whatever
//! its type (its words in `text`, what it carries besides in `content`), a status becomes
//! a delivery [`Receipt`]. Pure: the caller gives the id and the time of acceptance.
//!
//! The text is what the customer said, or, when a message has no words (a photo without
//! caption, a place, a reaction), a short bracketed line that names it, so that previews,
//! search and the bot read something; the inbox draws the content itself.

use serde_json::{Value, json};
use switchboard_core::domain::{
    Channel, DeliveryState, Envelope, Identity, Inbound, Location, Reaction, Receipt, RemoteMedia,
    RichContent,
};

use super::webhook::Event;

/// Why an event cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("message {0} names no sender (neither a WhatsApp id nor a user id)")]
    NoSender(String),
    #[error("event has no id")]
    NoId,
}

/// The identity a message's sender is known by: the WhatsApp id (the phone's digits),
/// else the business-scoped user id Meta sends when the number is hidden.
pub fn sender(e: &Event) -> Option<Identity> {
    e.from
        .as_deref()
        .and_then(|f| Identity::whatsapp(f).ok())
        .or_else(|| {
            e.user_id
                .as_deref()
                .and_then(|u| Identity::whatsapp_user(u).ok())
        })
}

/// The inbound entry of one event; `None` for a status this build does not track (a
/// `deleted` or `warning` notice of Meta's).
pub fn to_inbound(
    e: &Event,
    inbox: &str,
    id: String,
    received_at: i64,
) -> Result<Option<Inbound>, Refused> {
    if e.wamid.is_empty() {
        return Err(Refused::NoId);
    }
    if e.kind == "status" {
        return Ok(receipt(e, received_at).map(Inbound::Receipt));
    }
    let from = sender(e).ok_or_else(|| Refused::NoSender(e.wamid.clone()))?;
    let (text, content) = words_and_content(e);
    let mut env = Envelope::new(
        id,
        Channel::Whatsapp,
        inbox,
        &e.wamid,
        from,
        &text,
        received_at,
    );
    env.sender_name.clone_from(&e.profile_name);
    if let Some(r) = e.reply_to.as_ref().or(e.original_wamid.as_ref()) {
        env.replies_to.push(r.clone());
    }
    env.content = (!content.is_empty()).then_some(content);
    Ok(Some(Inbound::Message(Box::new(env))))
}

fn receipt(e: &Event, at: i64) -> Option<Receipt> {
    let state = match e.kind_of.as_str() {
        "sent" => DeliveryState::Sent,
        "delivered" => DeliveryState::Delivered,
        // A voice note played is a read one.
        "read" | "played" => DeliveryState::Read,
        "failed" => DeliveryState::Failed,
        _ => return None,
    };
    let first = e.errors.first();
    let mut detail = serde_json::Map::new();
    if let Some(p) = &e.pricing {
        detail.insert("pricing".into(), p.clone());
    }
    if let Some(c) = &e.conversation {
        detail.insert("conversation".into(), json!(c));
    }
    if e.errors.len() > 1 || first.is_some_and(|f| f.details.is_some()) {
        detail.insert("errors".into(), json!(e.errors));
    }
    Some(Receipt {
        channel: Channel::Whatsapp,
        external_id: e.wamid.clone(),
        state,
        error_code: first.map(|f| f.code.to_string()),
        error_title: first.map(|f| match &f.details {
            Some(d) if !d.is_empty() && d != &f.title => format!("{}: {d}", f.title),
            _ => f.title.clone(),
        }),
        at: if e.timestamp > 0 {
            e.timestamp.saturating_mul(1000)
        } else {
            at
        },
        detail: (!detail.is_empty()).then(|| Value::Object(detail).to_string()),
    })
}

/// A media id's kind as the inbox names it: a voice note apart from an audio file.
/// An edit carries the new message's media under its own type, so the kind is read from
/// the file's type there.
fn media_kind(e: &Event) -> String {
    let voice = e.media.as_ref().and_then(|m| m.voice) == Some(true);
    match e.kind_of.as_str() {
        "audio" if voice => "voice".into(),
        k @ ("image" | "video" | "audio" | "document" | "sticker") => k.into(),
        _ => {
            let mime = e
                .media
                .as_ref()
                .and_then(|m| m.mime_type.as_deref())
                .unwrap_or("");
            match mime.split('/').next() {
                Some(k @ ("image" | "video" | "audio")) => k.into(),
                _ => "document".into(),
            }
        }
    }
}

fn words_and_content(e: &Event) -> (String, RichContent) {
    let mut c = RichContent {
        reply_to: e.reply_to.clone(),
        forwarded: e
            .forwarded
            .then_some(e.frequently_forwarded)
            .or(e.frequently_forwarded.then_some(true)),
        ..RichContent::default()
    };
    let mut raw = serde_json::Map::new();
    let words = e.text.clone().or_else(|| e.caption.clone());
    let text = if let Some(m) = &e.media {
        let kind = media_kind(e);
        c.media = Some(RemoteMedia {
            id: m.id.clone(),
            kind: kind.clone(),
            mime: m.mime_type.clone(),
            filename: m.filename.clone(),
            sha256: m.sha256.clone(),
            state: "pending".into(),
            reason: None,
        });
        match (words, &m.filename) {
            // A document's name says what it is ("Factura_F-10293.pdf") beside the
            // client's caption: the caption first (their words), the file on its own line.
            (Some(w), Some(f)) if !w.trim().is_empty() && kind == "document" => {
                format!("{w}\n[{kind}: {f}]")
            }
            (Some(w), _) if !w.trim().is_empty() => w,
            (_, Some(f)) => format!("[{kind}: {f}]"),
            _ => format!("[{kind}]"),
        }
    } else if let Some(r) = &e.reaction {
        c.reaction = Some(Reaction {
            emoji: r.emoji.clone(),
            to: r.wamid.clone(),
        });
        if r.emoji.is_empty() {
            "[reaction removed]".into()
        } else {
            format!("[reaction {}]", r.emoji)
        }
    } else if let Some(l) = &e.location {
        c.location = Some(Location {
            latitude: l.latitude.to_string(),
            longitude: l.longitude.to_string(),
            name: l.name.clone(),
            address: l.address.clone(),
        });
        let place: Vec<&str> = [l.name.as_deref(), l.address.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect();
        if place.is_empty() {
            format!("[location {}, {}]", l.latitude, l.longitude)
        } else {
            format!("[location] {}", place.join(", "))
        }
    } else if let Some(f) = &e.form {
        raw.insert("form".into(), f.clone());
        let line = form_line(f);
        if line.is_empty() {
            "[form]".into()
        } else {
            format!("[form] {line}")
        }
    } else if let Some(i) = &e.interactive {
        raw.insert("interactive".into(), json!(i));
        i.title.clone()
    } else if let Some(b) = &e.button {
        raw.insert("button".into(), json!(b));
        b.text.clone()
    } else if let Some(cards) = &e.contacts {
        raw.insert("contacts".into(), cards.clone());
        format!("[contact] {}", contact_line(cards))
    } else if let Some(o) = &e.order {
        raw.insert("order".into(), o.clone());
        let items = o
            .get("product_items")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        // What was ordered, not only how many lines: "TONER-TK-3182 × 2".
        let what: Vec<String> = items
            .iter()
            .filter_map(|i| {
                let id = i.get("product_retailer_id").and_then(Value::as_str)?;
                Some(
                    match i.get("quantity").and_then(|q| {
                        q.as_i64()
                            .or_else(|| q.as_str().and_then(|s| s.trim().parse().ok()))
                    }) {
                        Some(q) => format!("{id} × {q}"),
                        None => id.to_owned(),
                    },
                )
            })
            .collect();
        let note = o.get("text").and_then(Value::as_str).unwrap_or("");
        let n = items.len();
        if what.is_empty() {
            format!("[order: {n} items] {note}").trim().to_owned()
        } else {
            format!("[order: {n} items: {}] {note}", what.join(", "))
                .trim()
                .to_owned()
        }
    } else if e.kind_of == "revoke" {
        "[message deleted]".into()
    } else {
        words.unwrap_or_default()
    };
    if let Some(o) = &e.original_wamid {
        raw.insert(e.kind_of.clone(), json!({ "original_wamid": o }));
    }
    if let Some(n) = &e.new_wa_id {
        raw.insert("new_wa_id".into(), json!(n));
    }
    if let Some(r) = &e.referral {
        raw.insert("referral".into(), r.clone());
    }
    if !e.errors.is_empty() {
        raw.insert("errors".into(), json!(e.errors));
    }
    if let Some(r) = &e.raw {
        raw.insert("raw".into(), r.clone());
    }
    if !raw.is_empty() {
        c.raw = Some(Value::Object(raw).to_string());
    }
    // Whatever a message is, its line names something: a kind of message this reader does
    // not know (or knows without words) is named by its type.
    let text = if text.trim().is_empty() {
        let body = e.raw.as_ref().and_then(|r| r.get(e.kind_of.as_str()));
        let what = body.and_then(|b| b.get("type")).and_then(Value::as_str);
        match what {
            Some(t) => {
                let said = body
                    .and_then(|b| b.get(t))
                    .map(answer_of)
                    .unwrap_or_default();
                if said.is_empty() {
                    format!("[{}: {t}]", e.kind_of)
                } else {
                    format!("[{}: {t}] {said}", e.kind_of)
                }
            }
            None if ["text", "unsupported", "request_welcome"].contains(&e.kind_of.as_str()) => {
                format!("[{}]", e.kind_of)
            }
            // A kind no mark names (Meta's older `unknown`, one yet to come): unsupported
            // here, so the bot reads it as no words.
            None => format!("[unsupported: {}]", e.kind_of),
        }
    } else {
        text
    };
    let text = match (e.kind_of.as_str(), &e.original_wamid) {
        ("edit", Some(_)) => format!("[edited] {text}"),
        _ => text,
    };
    (text, c)
}

/// A Flow's answers in one line, `field: answer; …`, by field name; a field's
/// name read as words (`numero_serie` → `numero serie`), a list's items joined.
fn form_line(form: &Value) -> String {
    fn answer(v: &Value) -> String {
        match v {
            Value::String(s) => s.trim().to_owned(),
            Value::Array(items) => items
                .iter()
                .map(answer)
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(", "),
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }
    match form {
        Value::Object(fields) => fields
            .iter()
            .map(|(k, v)| (k.replace('_', " "), answer(v)))
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{}: {v}", k.trim()))
            .collect::<Vec<_>>()
            .join("; "),
        other => answer(other),
    }
}

/// Shared contact cards in one line: each card's name and first phone.
fn contact_line(cards: &Value) -> String {
    let list = cards.as_array().map(Vec::as_slice).unwrap_or_default();
    list.iter()
        .map(|card| {
            // The name as the phone shows it, else its parts.
            let parts = card.get("name").unwrap_or(&Value::Null);
            let name = match parts.get("formatted_name").and_then(Value::as_str) {
                Some(n) if !n.trim().is_empty() => n.trim().to_owned(),
                _ => ["prefix", "first_name", "middle_name", "last_name", "suffix"]
                    .iter()
                    .filter_map(|k| parts.get(*k).and_then(Value::as_str))
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .collect::<Vec<_>>()
                    .join(" "),
            };
            let name = name.as_str();
            let phone = card
                .get("phones")
                .and_then(Value::as_array)
                .and_then(|p| p.first())
                .and_then(|p| p.get("phone"))
                .and_then(Value::as_str)
                .unwrap_or("");
            [name, phone]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a client answered in an interactive reply of a kind this reader has no words for
/// (a call permission, one yet to come): its text fields, in order, and a permanent
/// choice as such ("accept, permanent"). Times and ids are left to the raw payload.
fn answer_of(body: &Value) -> String {
    let Some(fields) = body.as_object() else {
        return String::new();
    };
    let mut said: Vec<String> = fields
        .iter()
        .filter(|(name, _)| !name.ends_with("_source") && !name.ends_with("id"))
        .filter_map(|(_, v)| v.as_str())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.chars().count() <= 200)
        .map(str::to_owned)
        .collect();
    if fields.get("is_permanent").and_then(Value::as_bool) == Some(true) {
        said.push("permanent".to_owned());
    }
    said.join(", ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::whatsapp::read;

    fn fixture(name: &str) -> Vec<Inbound> {
        let path = format!(
            "{}/../../shared/fixtures/whatsapp/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let body = std::fs::read(&path).unwrap();
        read(&body)
            .unwrap()
            .iter()
            .enumerate()
            .filter_map(|(i, e)| to_inbound(e, "whatsapp:main", format!("id{i}"), 1_000).unwrap())
            .collect()
    }

    fn message(name: &str) -> Envelope {
        match fixture(name).remove(0) {
            Inbound::Message(e) => *e,
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn every_fixture_becomes_stream_entries_none_dropped() {
        let dir = format!(
            "{}/../../shared/fixtures/whatsapp",
            env!("CARGO_MANIFEST_DIR")
        );
        for f in std::fs::read_dir(&dir).unwrap() {
            let path = f.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            let events = read(&std::fs::read(&path).unwrap()).unwrap();
            let entries = fixture(&name);
            assert_eq!(entries.len(), events.len(), "{name}");
            for entry in entries {
                // What the router reads back is what was written.
                let payload = entry.to_payload().unwrap();
                assert_eq!(Inbound::parse(&payload).unwrap(), entry, "{name}");
                if let Inbound::Message(e) = entry {
                    assert!(!e.text.trim().is_empty(), "{name}: no words");
                    // The number, else (a revoke names only the user) the user id.
                    assert!(
                        matches!(e.sender.kind().as_str(), "whatsapp" | "whatsapp_user"),
                        "{name}: {}",
                        e.sender
                    );
                }
            }
        }
    }

    #[test]
    fn each_kind_keeps_what_it_carries() {
        let t = message("message_text.json");
        assert_eq!(
            (t.text.as_str(), t.sender_name.as_deref()),
            ("Body Text", Some("Test Name"))
        );
        assert_eq!(t.content, None);
        let img = message("message_image.json");
        let media = img.content.unwrap().media.unwrap();
        assert_eq!(
            (media.kind.as_str(), media.state.as_str()),
            ("image", "pending")
        );
        assert_eq!(media.mime.as_deref(), Some("image/jpeg"));
        let voice = message("message_voice.json")
            .content
            .unwrap()
            .media
            .unwrap();
        assert_eq!(voice.kind, "voice");
        let doc = message("message_document.json");
        assert!(doc.content.unwrap().media.unwrap().filename.is_some());
        let r = message("message_reaction.json");
        let reaction = r.content.unwrap().reaction.unwrap();
        assert!(!reaction.emoji.is_empty() && reaction.to.starts_with("wamid."));
        let reply = message("message_reply.json");
        assert_eq!(
            reply.replies_to.first(),
            reply.content.unwrap().reply_to.as_ref()
        );
        let loc = message("message_current_location.json");
        assert!(loc.text.starts_with("[location"), "{}", loc.text);
        assert!(loc.content.unwrap().location.is_some());
        let list = message("interactive_list_reply.json");
        assert!(!list.text.starts_with('['), "{}", list.text);
        let unsupported = message("message_unsupported.json");
        assert!(unsupported.content.unwrap().raw.unwrap().contains("131051"));
        let referral = message("message_referral.json");
        assert!(referral.content.unwrap().raw.unwrap().contains("referral"));
        let revoke = message("deleted_message_revoke.json");
        assert_eq!(revoke.text, "[message deleted]");
        assert_eq!(revoke.replies_to.len(), 1);
        let fwd = message("message_forwarded.json");
        assert!(fwd.content.unwrap().forwarded.is_some());
    }

    #[test]
    fn statuses_become_receipts_with_meta_s_error() {
        let Inbound::Receipt(failed) = fixture("status_failed.json").remove(0) else {
            panic!("not a receipt")
        };
        assert_eq!(failed.state, DeliveryState::Failed);
        assert_eq!(failed.error_code.as_deref(), Some("130472"));
        assert!(failed.error_title.unwrap().contains("experiment"));
        let Inbound::Receipt(played) = fixture("status_played.json").remove(0) else {
            panic!("not a receipt")
        };
        assert_eq!(played.state, DeliveryState::Read);
        let Inbound::Receipt(sent) = fixture("status_sent.json").remove(0) else {
            panic!("not a receipt")
        };
        assert_eq!(sent.state, DeliveryState::Sent);
        assert!(sent.detail.unwrap().contains("pricing"));
    }

    /// The line of the one message of a delivery whose `messages` list is `message`.
    fn line_of(message: &str) -> String {
        let body = format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"changes":[{{"value":{{
            "metadata":{{"phone_number_id":"1"}},
            "contacts":[{{"profile":{{"name":"Lu"}},"wa_id":"5511999990000"}}],
            "messages":[{message}]}}}}]}}]}}"#
        );
        let events = read(body.as_bytes()).unwrap();
        match to_inbound(&events[0], "w", "i".into(), 1).unwrap() {
            Some(Inbound::Message(e)) => e.text,
            other => panic!("{other:?}"),
        }
    }

    /// Every line this reader makes for a message with no words of the client's carries one
    /// of core's marks, so the bot reads it as no question; over the shared fixtures and
    /// the written sets (the kinds Meta documents).
    #[test]
    fn every_wordless_line_has_a_mark() {
        use switchboard_core::domain::WORDLESS_MARKS;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut dirs = vec![root.join("../../shared/fixtures/whatsapp")];
        dirs.extend(["whatsapp1", "whatsapp2"].map(|d| root.join("tests/data").join(d)));
        let mut lines = 0;
        for dir in dirs {
            for f in std::fs::read_dir(&dir).unwrap() {
                let Ok(events) = read(&std::fs::read(f.unwrap().path()).unwrap()) else {
                    continue;
                };
                for e in events.iter().filter(|e| e.kind != "status") {
                    let Ok(Some(Inbound::Message(env))) = to_inbound(e, "w", "i".into(), 1) else {
                        continue;
                    };
                    // The client's own words: a text, a caption, a choice, an edit's text.
                    let own = [&e.text, &e.caption].iter().any(|t| t.is_some())
                        || e.interactive.is_some()
                        || e.button.is_some()
                        || e.reaction.as_ref().is_some_and(|r| !r.emoji.is_empty());
                    if own || e.kind_of == "edit" {
                        continue;
                    }
                    lines += 1;
                    assert!(
                        WORDLESS_MARKS.iter().any(|m| env.text.starts_with(m)),
                        "{}: {:?}",
                        e.kind_of,
                        env.text
                    );
                }
            }
        }
        assert!(lines >= 30, "{lines}");
    }

    #[test]
    fn every_message_s_line_says_what_it_is() {
        let head = r#""from":"5511999990000","id":"wamid.X","timestamp":"1""#;
        // A Flow's answers, by field name, without its token; answers that are not an
        // object, or no answers at all, still say something.
        let flow = line_of(&format!(
            r#"{{{head},"type":"interactive","interactive":{{"type":"nfm_reply","nfm_reply":{{
            "name":"flow","body":"Sent","response_json":"{{\"flow_token\":\"t-1\",\"serie\":\"X9\",\"pecas\":[\"toner\",\"cilindro\"],\"qtd\":2}}"}}}}}}"#
        ));
        assert_eq!(flow, "[form] pecas: toner, cilindro; qtd: 2; serie: X9");
        let odd = line_of(&format!(
            r#"{{{head},"type":"interactive","interactive":{{"type":"nfm_reply","nfm_reply":{{"response_json":"not json"}}}}}}"#
        ));
        assert_eq!(odd, "[form] response: not json");
        let bare = line_of(&format!(
            r#"{{{head},"type":"interactive","interactive":{{"type":"nfm_reply","nfm_reply":{{"body":"Sent"}}}}}}"#
        ));
        assert_eq!(bare, "[form] response: Sent");
        // An interactive answer of a kind this reader does not know, and a message type
        // Meta does not deliver, are named, never blank.
        let call = line_of(&format!(
            r#"{{{head},"type":"interactive","interactive":{{"type":"call_permission_reply","call_permission_reply":{{"response":"accept"}}}}}}"#
        ));
        assert_eq!(call, "[interactive: call_permission_reply] accept");
        let always = line_of(&format!(
            r#"{{{head},"type":"interactive","interactive":{{"type":"call_permission_reply","call_permission_reply":{{"response":"reject","is_permanent":true,"response_source":"user_action"}}}}}}"#
        ));
        assert_eq!(
            always,
            "[interactive: call_permission_reply] reject, permanent"
        );
        let poll = line_of(&format!(
            r#"{{{head},"type":"unsupported","unsupported":{{"type":"poll_creation"}},"errors":[{{"code":131051,"title":"Message type unknown"}}]}}"#
        ));
        assert_eq!(poll, "[unsupported: poll_creation]");
        let empty = line_of(&format!(
            r#"{{{head},"type":"text","text":{{"body":"  "}}}}"#
        ));
        assert_eq!(empty, "[text]");
        // A contact card without a formatted name is known by the name's parts.
        let card = line_of(&format!(
            r#"{{{head},"type":"contacts","contacts":[{{"name":{{"first_name":"Rosa","last_name":"Lima"}},"phones":[{{"phone":"+55 11 4000-1234"}}]}}]}}"#
        ));
        assert_eq!(card, "[contact] Rosa Lima +55 11 4000-1234");
    }

    #[test]
    fn a_hidden_number_is_known_by_its_user_id() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{
            "metadata":{"phone_number_id":"1"},
            "contacts":[{"profile":{"name":"Ana"},"user_id":"BR.1234567890123"}],
            "messages":[{"id":"wamid.A","timestamp":"1","type":"text","text":{"body":"oi"}}]}}]}]}"#;
        let events = read(body).unwrap();
        let Some(Inbound::Message(e)) = to_inbound(&events[0], "w", "i".into(), 1).unwrap() else {
            panic!()
        };
        assert_eq!(e.sender.kind().as_str(), "whatsapp_user");
        assert_eq!(e.sender.value(), "BR.1234567890123");
        let nobody = br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{
            "metadata":{"phone_number_id":"1"},
            "messages":[{"id":"wamid.B","timestamp":"1","type":"text","text":{"body":"oi"}}]}}]}]}"#;
        let events = read(nobody).unwrap();
        assert_eq!(
            to_inbound(&events[0], "w", "i".into(), 1),
            Err(Refused::NoSender("wamid.B".into()))
        );
    }

    /// `want` holds only what the case's writer was sure of: every key it names must be
    /// in `got` with the same value (numbers compared as numbers, objects by their keys).
    fn agrees(got: &Value, want: &Value) -> bool {
        match (got, want) {
            (Value::Object(g), Value::Object(w)) => w.iter().all(|(k, v)| {
                g.get(k).is_some_and(|gv| agrees(gv, v))
                    || (v == &json!(false) && g.get(k).is_none())
            }),
            (Value::Array(g), Value::Array(w)) => {
                g.len() == w.len() && g.iter().zip(w).all(|(a, b)| agrees(a, b))
            }
            (Value::Number(g), Value::Number(w)) => g.as_f64() == w.as_f64(),
            _ => got == want,
        }
    }

    /// The sets of deliveries written apart from this reader (`tests/data/whatsapp*/`,
    /// from Meta's documented format): each event as the set's `expected.jsonl` says, and
    /// the words an agent must see in each message's line.
    #[test]
    fn written_deliveries_read_as_their_writers_expect() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        let mut sets: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.join("expected.jsonl").is_file() && p.to_string_lossy().contains("whatsapp")
            })
            .collect();
        sets.sort();
        let (mut cases, mut missed) = (0, Vec::new());
        for set in &sets {
            let expected = std::fs::read_to_string(set.join("expected.jsonl")).unwrap();
            for line in expected.lines().filter(|l| !l.trim().is_empty()) {
                let case: Value = serde_json::from_str(line).unwrap();
                let file = case["file"].as_str().unwrap();
                let body = std::fs::read(set.join(file)).unwrap();
                cases += 1;
                let name = format!("{}/{file}", set.file_name().unwrap().to_string_lossy());
                let got = read(&body);
                if case["error"] == json!(true) {
                    if let Ok(events) = got {
                        missed.push(format!(
                            "{name}: read as {} events, expected refused",
                            events.len()
                        ));
                    }
                    continue;
                }
                let events = match got {
                    Ok(e) => e,
                    Err(e) => {
                        missed.push(format!("{name}: refused: {e}"));
                        continue;
                    }
                };
                let want = case["events"].as_array().unwrap();
                let mut wrong = Vec::new();
                if events.len() != want.len() {
                    wrong.push(format!(
                        "  {} events, expected {}",
                        events.len(),
                        want.len()
                    ));
                }
                for (i, (e, w)) in events.iter().zip(want).enumerate() {
                    let g = serde_json::to_value(e).unwrap();
                    for (key, value) in w.as_object().unwrap() {
                        if key == "words" {
                            continue;
                        }
                        let have = g.get(key).cloned().unwrap_or(Value::Null);
                        if !agrees(&g, &json!({ key: value })) {
                            wrong.push(format!("  event {i} {key}: got {have}, expected {value}"));
                        }
                    }
                    let words = w["words"].as_array().map(Vec::as_slice).unwrap_or_default();
                    if e.kind == "status" {
                        continue;
                    }
                    match to_inbound(e, "whatsapp:main", format!("id{i}"), 1_000) {
                        Ok(Some(Inbound::Message(env))) => {
                            let line = env.text.to_lowercase();
                            if line.trim().is_empty() {
                                wrong.push(format!("  event {i}: no words"));
                            }
                            for word in words.iter().filter_map(Value::as_str) {
                                if !line.contains(&word.to_lowercase()) {
                                    wrong.push(format!(
                                        "  event {i}: {word:?} not in {:?}",
                                        env.text
                                    ));
                                }
                            }
                        }
                        other => wrong.push(format!("  event {i}: stored as {other:?}")),
                    }
                }
                if !wrong.is_empty() {
                    missed.push(format!("{name}:\n{}", wrong.join("\n")));
                }
            }
        }
        assert!(cases >= 100, "{cases} cases");
        assert!(
            missed.is_empty(),
            "{} of {cases} deliveries read otherwise:\n\n{}",
            missed.len(),
            missed.join("\n\n")
        );
    }
}
