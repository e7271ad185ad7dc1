//! The web-chat widget's protocol: JSON frames over a websocket. The widget itself is a
//! vendored script ([`WIDGET_JS`]) embedded with one `<script>` tag.
//!
//! Client → server frames: `message` (with a client id that makes resends idempotent, and
//! the receipts of files uploaded before), `typing`, `history`, `identify` (the pre-chat
//! form, or the address left while nobody is at work), `ping`. Server → client frames:
//! `welcome` (with whether people are away and when they are back), `ack`, `message`
//! (with the agent's name), `typing`, `history`, `identified`, `resync`, `pong`, `error`.
//!
//! Who may connect: [`VisitorSigner`] issues the visitor ids (signed, so only the server
//! makes them) and [`OriginAllowList`] says which pages may embed the widget. Files go
//! over HTTP; [`attachment`] says which are taken and signs the receipt a message names
//! them by.
//!
//! The modules: the frame parsing (pure and tested on its own), the envelope a widget
//! message becomes and what the widget is shown are here; signed visitor ids in
//! `visitor.rs`, the origin allow-list in `origin.rs` and files in `attachment.rs`
//! (accepted types, safe names, signed receipts), all pure; the vendored `widget.js` (en,
//! es, pt-BR); and the web-chat `Sender` (`sender.rs`).

pub mod attachment;
mod origin;
mod sender;
mod visitor;

use serde::{Deserialize, Serialize};
use switchboard_core::blob::KnownType;
use switchboard_core::domain::{
    Attachment, AuthorKind, Channel, Direction, Envelope, Identity, IdentityKind, Message,
};

pub use attachment::{MAX_ATTACHMENTS, Uploaded};
pub use origin::{BadOrigin, Origin, OriginAllowList};
pub use sender::WebchatSender;
pub use visitor::{MIN_SECRET_BYTES, RANDOM_BYTES, ShortSecret, VisitorSigner};

/// The widget script, served at `/widget.js`.
pub const WIDGET_JS: &str = include_str!("widget.js");

/// Longest client id a widget may send.
const MAX_CLIENT_ID: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    Message {
        client_id: String,
        /// May be empty when the message carries files.
        text: String,
        /// Files uploaded before, each named by the receipt the upload answered.
        #[serde(default)]
        attachments: Vec<Uploaded>,
    },
    Typing {
        on: bool,
    },
    History {
        #[serde(default)]
        conversation: Option<String>,
        #[serde(default)]
        after: Option<String>,
    },
    Identify {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        email: Option<String>,
    },
    Ping,
}

/// Why a frame was refused. The connection stays open; nothing is stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("frame is not valid UTF-8")]
    InvalidUtf8,
    #[error("frame is not a valid message: {0}")]
    Malformed(String),
    #[error("message text is empty")]
    EmptyText,
    #[error("a message carries at most {MAX_ATTACHMENTS} files")]
    TooManyAttachments,
    #[error("client_id must be 1-64 characters [A-Za-z0-9_-]")]
    BadClientId,
    #[error("{0}")]
    BadIdentity(String),
}

impl FrameError {
    /// The stable code the widget switches on.
    pub fn code(&self) -> &'static str {
        match self {
            FrameError::TooLarge { .. } => "too_large",
            FrameError::InvalidUtf8 => "invalid_utf8",
            FrameError::Malformed(_) => "bad_frame",
            FrameError::EmptyText => "empty_text",
            FrameError::TooManyAttachments => "too_many_attachments",
            FrameError::BadClientId => "bad_client_id",
            FrameError::BadIdentity(_) => "bad_identity",
        }
    }
}

/// Parses a frame's bytes (text frames arrive as UTF-8, binary frames are read as UTF-8
/// JSON too). `limit` bounds the frame size.
pub fn parse_frame(bytes: &[u8], limit: usize) -> Result<ClientFrame, FrameError> {
    if bytes.len() > limit {
        return Err(FrameError::TooLarge {
            size: bytes.len(),
            limit,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|_| FrameError::InvalidUtf8)?;
    let frame: ClientFrame =
        serde_json::from_str(text).map_err(|e| FrameError::Malformed(e.to_string()))?;
    match &frame {
        ClientFrame::Message {
            client_id,
            text,
            attachments,
        } => {
            if client_id.is_empty()
                || client_id.len() > MAX_CLIENT_ID
                || !client_id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(FrameError::BadClientId);
            }
            if text.trim().is_empty() && attachments.is_empty() {
                return Err(FrameError::EmptyText);
            }
            if attachments.len() > MAX_ATTACHMENTS {
                return Err(FrameError::TooManyAttachments);
            }
        }
        ClientFrame::Identify { name, email } => {
            if let Some(email) = email {
                Identity::new(IdentityKind::Email, email)
                    .map_err(|e| FrameError::BadIdentity(e.to_string()))?;
            }
            if name.as_ref().is_some_and(|n| n.chars().count() > 200) {
                return Err(FrameError::BadIdentity(
                    "name is longer than 200 characters".into(),
                ));
            }
        }
        _ => {}
    }
    Ok(frame)
}

/// What a visitor told the pre-chat form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VisitorProfile {
    pub name: Option<String>,
    pub email: Option<Identity>,
}

/// The envelope for a widget message. The external id joins visitor and client id, so a
/// widget resending after a reconnect never stores a message twice. `attachments` are
/// the files whose receipts checked out.
#[allow(clippy::too_many_arguments)]
pub fn envelope(
    id: String,
    inbox: &str,
    visitor: &Identity,
    profile: &VisitorProfile,
    client_id: &str,
    text: &str,
    attachments: Vec<Attachment>,
    now_ms: i64,
) -> Envelope {
    let mut e = Envelope::new(
        id,
        Channel::Webchat,
        inbox,
        &format!("{}:{}", visitor.value(), client_id),
        visitor.clone(),
        text,
        now_ms,
    );
    e.sender_name = profile.name.clone().filter(|n| !n.trim().is_empty());
    // What the visitor typed into the form is a claim, not proof: stored unverified.
    e.extra_identities = profile.email.iter().cloned().collect();
    e.attachments = attachments;
    e
}

/// The widget's client id inside a web-chat external id (`visitor:client`), if the
/// message is this visitor's own.
pub fn own_client_id<'a>(visitor: &Identity, external_id: &'a str) -> Option<&'a str> {
    external_id.strip_prefix(visitor.value())?.strip_prefix(':')
}

/// A message as the widget shows it: no internal ids of agents or contacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WidgetMessage {
    pub id: String,
    pub conversation_id: String,
    /// `you`, `agent`, `bot` or `system`.
    pub author: &'static str,
    /// The agent's display name, when it has one (never its address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author_name: Option<String>,
    pub text: String,
    pub created_at: i64,
    /// The widget's own id for messages it sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<WidgetAttachment>,
    /// Answers offered as buttons ("Yes, thanks", "Talk to a person"): clicking one sends
    /// its text.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quick_replies: Vec<String>,
    /// Help-center articles the message points at.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub articles: Vec<switchboard_core::domain::ArticleRef>,
}

/// A file as the widget shows it; the widget fetches it from
/// `/webchat/attachments/{blob}` with its visitor id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WidgetAttachment {
    pub name: String,
    /// One of the types shown inline, else `application/octet-stream`.
    pub mime: &'static str,
    pub size: u64,
    pub blob: String,
}

impl WidgetAttachment {
    pub fn from_attachment(a: &Attachment) -> Self {
        Self {
            name: a.name.clone(),
            mime: KnownType::from_mime(&a.mime).map_or("application/octet-stream", KnownType::mime),
            size: a.size,
            blob: a.blob.as_str().to_owned(),
        }
    }
}

impl WidgetMessage {
    pub fn from_message(m: &Message, visitor: &Identity) -> Self {
        let author = match (m.direction, m.author_kind) {
            (Direction::Inbound, _) => "you",
            (_, AuthorKind::Agent) => "agent",
            (_, AuthorKind::Bot) => "bot",
            _ => "system",
        };
        let client_id = match m.direction {
            Direction::Inbound => m
                .external_id
                .as_deref()
                .and_then(|e| own_client_id(visitor, e))
                .map(str::to_owned),
            Direction::Outbound => None,
        };
        Self {
            id: m.id.clone(),
            conversation_id: m.conversation_id.clone(),
            author,
            author_name: None,
            text: m.text.clone(),
            created_at: m.created_at,
            client_id,
            attachments: m
                .attachments
                .iter()
                .map(WidgetAttachment::from_attachment)
                .collect(),
            quick_replies: m
                .content
                .as_ref()
                .map(|c| c.quick_replies.clone())
                .unwrap_or_default(),
            articles: m
                .content
                .as_ref()
                .map(|c| c.articles.clone())
                .unwrap_or_default(),
        }
    }

    /// With the agent's display name; a blank one is no name.
    pub fn with_author_name(mut self, name: Option<String>) -> Self {
        self.author_name = name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
        self
    }
}

/// Whether people are at work, as the widget is told when it connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Away {
    /// When the next opening hours begin (epoch ms); `None` when none are set.
    pub next_open_at: Option<i64>,
}

impl Away {
    /// Away unless the next opening is now.
    pub fn at(now_ms: i64, next_opening: Option<i64>) -> Option<Self> {
        (next_opening != Some(now_ms)).then_some(Self {
            next_open_at: next_opening,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    Welcome {
        visitor: &'a str,
        prechat: bool,
        identified: bool,
        title: &'a str,
        /// Present while nobody is at work.
        #[serde(skip_serializing_if = "Option::is_none")]
        away: Option<Away>,
        /// The largest file the widget may send.
        max_attachment_bytes: u64,
        /// The business's brand colour, `#rrggbb`.
        accent: &'a str,
        /// The help center has published articles: the widget offers to search them.
        help: bool,
    },
    Ack {
        client_id: &'a str,
        id: &'a str,
    },
    Message {
        message: WidgetMessage,
    },
    Typing {
        on: bool,
    },
    History {
        messages: Vec<WidgetMessage>,
    },
    /// The address the visitor left was taken (kept as a claim, never as proof).
    Identified,
    Resync,
    Pong,
    Error {
        code: &'a str,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<&'a str>,
    },
}

impl ServerFrame<'_> {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"type":"error","code":"internal","message":"encoding failed"}"#.to_owned()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_frames_parse() {
        let f = parse_frame(br#"{"type":"message","client_id":"c-1","text":"hi"}"#, 1024).unwrap();
        assert_eq!(
            f,
            ClientFrame::Message {
                client_id: "c-1".into(),
                text: "hi".into(),
                attachments: Vec::new(),
            }
        );
        let with_file = format!(
            r#"{{"type":"message","client_id":"c-2","text":"","attachments":[{{"name":"a.png","mime":"image/png","size":3,"blob":"{}","token":"t"}}]}}"#,
            "a".repeat(64)
        );
        let ClientFrame::Message {
            text, attachments, ..
        } = parse_frame(with_file.as_bytes(), 1024).unwrap()
        else {
            panic!("not a message");
        };
        assert_eq!((text.as_str(), attachments.len()), ("", 1));
        assert_eq!(
            parse_frame(br#"{"type":"ping"}"#, 1024).unwrap(),
            ClientFrame::Ping
        );
        assert_eq!(
            parse_frame(br#"{"type":"history"}"#, 1024).unwrap(),
            ClientFrame::History {
                conversation: None,
                after: None
            }
        );
    }

    #[test]
    fn bad_frames_are_refused_with_a_code() {
        let cases: &[(&[u8], &str)] = &[
            (b"not json", "bad_frame"),
            (br#"{"type":"launch"}"#, "bad_frame"),
            (br#"{"type":"message","text":"no id"}"#, "bad_frame"),
            (
                br#"{"type":"message","client_id":"a","text":"x","extra":1}"#,
                "bad_frame",
            ),
            (
                br#"{"type":"message","client_id":"a b","text":"x"}"#,
                "bad_client_id",
            ),
            (
                br#"{"type":"message","client_id":"a","text":"   "}"#,
                "empty_text",
            ),
            (br#"{"type":"identify","email":"nope"}"#, "bad_identity"),
            (br#"{"type":"message","client_id":"a"}"#, "bad_frame"),
            (
                br#"{"type":"message","client_id":"a","text":"","attachments":[]}"#,
                "empty_text",
            ),
            (
                br#"{"type":"message","client_id":"a","text":"x","attachments":[{"name":"a"}]}"#,
                "bad_frame",
            ),
            (b"\xff\xfe{}", "invalid_utf8"),
        ];
        for (bytes, code) in cases {
            let e = parse_frame(bytes, 1024).unwrap_err();
            assert_eq!(e.code(), *code, "{:?}: {e}", String::from_utf8_lossy(bytes));
        }
        let big = format!(
            r#"{{"type":"message","client_id":"a","text":"{}"}}"#,
            "x".repeat(2000)
        );
        assert_eq!(
            parse_frame(big.as_bytes(), 1024).unwrap_err().code(),
            "too_large"
        );
    }

    #[test]
    fn resends_share_an_idempotency_key() {
        let v = Identity::new(IdentityKind::Visitor, "v1").unwrap();
        let p = VisitorProfile::default();
        let a = envelope(
            "id1".into(),
            "webchat:default",
            &v,
            &p,
            "c1",
            "hi",
            Vec::new(),
            1,
        );
        let b = envelope(
            "id2".into(),
            "webchat:default",
            &v,
            &p,
            "c1",
            "hi",
            Vec::new(),
            2,
        );
        assert_eq!(a.idempotency_key(), b.idempotency_key());
        assert_eq!(own_client_id(&v, &a.external_id), Some("c1"));
        let v10 = Identity::new(IdentityKind::Visitor, "v10").unwrap();
        assert_eq!(
            own_client_id(
                &v,
                &envelope("id3".into(), "i", &v10, &p, "c1", "hi", Vec::new(), 3).external_id
            ),
            None
        );
    }
}

#[cfg(test)]
mod shown {
    use super::*;
    use switchboard_core::blob::BlobKey;
    use switchboard_core::domain::DeliveryState;

    fn message(author_kind: AuthorKind, attachments: Vec<Attachment>) -> Message {
        Message {
            id: "m1".into(),
            conversation_id: "c1".into(),
            direction: Direction::Outbound,
            author_kind,
            author_id: Some("agent-internal-id".into()),
            channel: Channel::Webchat,
            text: "see the manual".into(),
            full_text: None,
            html: None,
            attachments,
            content: None,
            delivery_state: DeliveryState::Sent,
            delivery_error: None,
            delivery_detail: None,
            external_id: None,
            created_at: 1_700_000_000_000,
            internal: false,
        }
    }

    #[test]
    fn the_widget_sees_names_and_files_but_no_internal_ids_or_unsafe_types() {
        let v = Identity::new(IdentityKind::Visitor, "v1").unwrap();
        let file = |name: &str, mime: &str| Attachment {
            name: name.into(),
            mime: mime.into(),
            size: 10,
            blob: BlobKey::of(name.as_bytes()),
            content_id: None,
        };
        let m = message(
            AuthorKind::Agent,
            vec![
                file("manual.pdf", "application/pdf"),
                file("page.html", "text/html"),
            ],
        );
        let shown = WidgetMessage::from_message(&m, &v).with_author_name(Some(" Ana Lima ".into()));
        let json = serde_json::to_value(&shown).unwrap();
        assert_eq!(json["author"], "agent");
        assert_eq!(json["author_name"], "Ana Lima");
        assert_eq!(json["attachments"][0]["mime"], "application/pdf");
        assert_eq!(json["attachments"][1]["mime"], "application/octet-stream");
        assert_eq!(
            json["attachments"][1]["blob"],
            BlobKey::of(b"page.html").as_str()
        );
        assert!(!json.to_string().contains("agent-internal-id"), "{json}");
        // A blank name is no name; a message without files lists none.
        let bare = WidgetMessage::from_message(&message(AuthorKind::Bot, Vec::new()), &v)
            .with_author_name(Some("  ".into()));
        let json = serde_json::to_value(&bare).unwrap();
        assert!(
            json.get("author_name").is_none() && json.get("attachments").is_none(),
            "{json}"
        );
    }

    #[test]
    fn away_unless_open_now() {
        assert_eq!(Away::at(100, Some(100)), None);
        assert_eq!(
            Away::at(100, Some(500)),
            Some(Away {
                next_open_at: Some(500)
            })
        );
        assert_eq!(Away::at(100, None), Some(Away { next_open_at: None }));
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Random bytes, and random mutations of good frames, never panic the parser and never
    /// yield a message with an empty text or an unsafe client id.
    #[test]
    fn arbitrary_input_is_refused_or_parsed_never_a_panic() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
        let seeds: [&[u8]; 4] = [
            br#"{"type":"message","client_id":"c-1","text":"hello"}"#,
            br#"{"type":"identify","name":"Ana","email":"ana@example.com"}"#,
            br#"{"type":"history","conversation":"x","after":"y"}"#,
            br#"{"type":"typing","on":true}"#,
        ];
        for round in 0..20_000 {
            let bytes: Vec<u8> = if round % 2 == 0 {
                let n = rng.random_range(0..200);
                (0..n).map(|_| rng.random()).collect()
            } else {
                let mut b = seeds[round % seeds.len()].to_vec();
                for _ in 0..rng.random_range(1..6) {
                    let i = rng.random_range(0..b.len());
                    match rng.random_range(0..3) {
                        0 => b[i] = rng.random(),
                        1 => {
                            b.remove(i);
                        }
                        _ => b.insert(i, rng.random()),
                    }
                }
                b
            };
            if let Ok(ClientFrame::Message {
                client_id,
                text,
                attachments,
            }) = parse_frame(&bytes, 1024)
            {
                assert!(!text.trim().is_empty() || !attachments.is_empty());
                assert!(attachments.len() <= MAX_ATTACHMENTS);
                assert!(
                    client_id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                );
            }
        }
    }
}
