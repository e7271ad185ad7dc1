//! Domain types shared by every crate. Values that have rules (`Channel`, `Status`, `Tier`,
//! `Role`) parse from their stored text and refuse anything else.
//!
//! **Architecture Invariant:** an `Identity` exists only normalized: its fields are private
//! and deserialization goes through `Identity::new` (email lower-cased and checked, phone
//! in E.164 through `phonenumber`, WhatsApp digits)
//! (`domain::tests::identities_deserialize_only_through_their_parser`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::html::SanitizedHtml;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        // Serialized as their stored text, so JSON, SQL and the CLI all say the same.
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Result<Self> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(Error::invalid(format!(
                        concat!("unknown ", stringify!($name), " {:?}; expected one of: {}"),
                        other,
                        [$($text),+].join(", ")
                    ))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

text_enum!(
    /// Where a message came from or goes to.
    Channel { Webchat => "webchat", Email => "email", Whatsapp => "whatsapp", Portal => "portal", Api => "api" }
);
text_enum!(
    /// How a contact is recognised on a channel. One contact may have many identities.
    IdentityKind {
        Email => "email", Phone => "phone", Whatsapp => "whatsapp", WhatsappUser => "whatsapp_user",
        Visitor => "visitor"
    }
);
text_enum!(
    /// Conversation status. Every status but `resolved` keeps the conversation open for threading.
    Status { Open => "open", Pending => "pending", Snoozed => "snoozed", Resolved => "resolved" }
);
text_enum!(Priority { None => "none", Low => "low", Medium => "medium", High => "high", Urgent => "urgent" });
text_enum!(
    /// Support tiers: the bot answers at N1 and hands over upwards.
    Tier { N1 => "N1", N2 => "N2", N3 => "N3" }
);
text_enum!(Direction { Inbound => "inbound", Outbound => "outbound" });
text_enum!(AuthorKind { Contact => "contact", Agent => "agent", Bot => "bot", System => "system" });
text_enum!(
    /// Delivery of an outbound message. Inbound messages are `received`.
    DeliveryState {
        Received => "received", Queued => "queued", Sending => "sending", Sent => "sent", Delivered => "delivered",
        Read => "read", Failed => "failed"
    }
);
text_enum!(
    Role {
        Support => "support", Coordinator => "coordinator", Supervisor => "supervisor", Admin => "admin",
        Technician => "technician", ClientUser => "client_user", ClientAdmin => "client_admin"
    }
);
text_enum!(
    /// Structured content shown as a card inside a conversation.
    CardKind {
        Invoice => "invoice", Estimate => "estimate", Payment => "payment", Ticket => "ticket",
        Survey => "survey", Machine => "machine", Visit => "visit"
    }
);

impl Role {
    pub fn is_agent(self) -> bool {
        matches!(
            self,
            Role::Support | Role::Coordinator | Role::Supervisor | Role::Admin | Role::Technician
        )
    }
    /// Whether this role may write into conversations (supervisors only read).
    pub fn can_reply(self) -> bool {
        matches!(
            self,
            Role::Support | Role::Coordinator | Role::Admin | Role::Technician
        )
    }
}

/// How a contact is recognised: `(kind, value)`, with the value normalized. The fields are
/// private and deserialization goes through [`Identity::new`], so an identity that is not
/// normalized cannot exist anywhere in the system.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Identity {
    kind: IdentityKind,
    value: String,
}

impl<'de> Deserialize<'de> for Identity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            kind: IdentityKind,
            value: String,
        }
        let raw = Raw::deserialize(d)?;
        Identity::new(raw.kind, &raw.value).map_err(serde::de::Error::custom)
    }
}

impl Identity {
    /// Parses and normalizes a value for its kind; the one way to make an identity.
    pub fn new(kind: IdentityKind, value: &str) -> Result<Self> {
        match kind {
            IdentityKind::Email => Self::email(value),
            IdentityKind::Phone => Self::phone(value),
            IdentityKind::Whatsapp => Self::whatsapp(value),
            IdentityKind::WhatsappUser => Self::whatsapp_user(value),
            IdentityKind::Visitor => Self::visitor(value),
        }
    }

    /// An email address, lower-cased: `Ana@Example.COM` and `ana@example.com` are one person.
    pub fn email(value: &str) -> Result<Self> {
        let v = value.trim().to_lowercase();
        let (local, domain) = v
            .split_once('@')
            .ok_or_else(|| Error::invalid(format!("email address {v:?} has no @")))?;
        let domain_ok = !domain.is_empty()
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\\\"".contains(c));
        if !domain_ok || !local_ok || v.len() > 254 {
            return Err(Error::invalid(format!("email address {v:?} is not valid")));
        }
        Ok(Self {
            kind: IdentityKind::Email,
            value: v,
        })
    }

    /// A phone number in E.164 (`+5511912345678`). It must carry its country code: a
    /// number typed without one cannot be told apart from another country's.
    pub fn phone(value: &str) -> Result<Self> {
        let v = value.trim();
        let parsed = phonenumber::parse(None, v)
            .map_err(|e| Error::invalid(format!("phone number {v:?} is not valid: {e}")))?;
        if !phonenumber::is_valid(&parsed) {
            return Err(Error::invalid(format!(
                "phone number {v:?} is not a valid number"
            )));
        }
        Ok(Self {
            kind: IdentityKind::Phone,
            value: parsed.format().mode(phonenumber::Mode::E164).to_string(),
        })
    }

    /// A WhatsApp id: the digits of the number, as the Cloud API sends them (`wa_id`).
    pub fn whatsapp(value: &str) -> Result<Self> {
        let v = value.trim();
        let digits: String = v
            .strip_prefix('+')
            .unwrap_or(v)
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
            .collect();
        if !(6..=15).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(Error::invalid(format!("WhatsApp id {v:?} is not valid")));
        }
        Ok(Self {
            kind: IdentityKind::Whatsapp,
            value: digits,
        })
    }

    /// A WhatsApp business-scoped user id (`US.13491208655302741918`): what Meta sends
    /// instead of the number when a user hides it. A country code, a dot, then letters,
    /// digits and dots.
    pub fn whatsapp_user(value: &str) -> Result<Self> {
        let v = value.trim();
        let ok = v.len() <= 128
            && v.split_once('.').is_some_and(|(cc, rest)| {
                cc.len() == 2
                    && cc.chars().all(|c| c.is_ascii_uppercase())
                    && !rest.is_empty()
                    && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
            });
        if !ok {
            return Err(Error::invalid(format!(
                "WhatsApp user id {v:?} is not valid"
            )));
        }
        Ok(Self {
            kind: IdentityKind::WhatsappUser,
            value: v.to_owned(),
        })
    }

    /// A web-chat visitor id, as the server issued it.
    pub fn visitor(value: &str) -> Result<Self> {
        let v = value.trim();
        if v.is_empty()
            || v.len() > 64
            || !v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::invalid(
                "visitor id must be 1-64 characters [A-Za-z0-9_-]",
            ));
        }
        Ok(Self {
            kind: IdentityKind::Visitor,
            value: v.to_owned(),
        })
    }

    pub fn kind(&self) -> IdentityKind {
        self.kind
    }

    pub fn value(&self) -> &str {
        &self.value
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub name: String,
    pub mime: String,
    pub size: u64,
    /// Key in the blob store (the SHA-256 of the content); only a well-formed key can be
    /// read, so an attachment never names a path.
    pub blob: crate::blob::BlobKey,
    /// `Content-ID` of an inline part, referenced from HTML as `cid:…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_id: Option<String>,
}

/// The envelope schema this build writes (3 added `content`). Older entries read as this
/// version with the new fields empty; fields a build does not know are kept in `unknown` and written
/// back out, so a rolling upgrade loses nothing.
pub const ENVELOPE_VERSION: u32 = 3;

fn envelope_v1() -> u32 {
    1
}

/// The key that stores an inbound message once: its channel and the channel's own id of
/// it. A message stored without passing through an envelope (a ticket's first) uses it too.
pub fn idempotency_key(channel: Channel, external_id: &str) -> String {
    format!("{channel}:{external_id}")
}

/// A normalized inbound message from any channel: what channel adapters append to the
/// inbound stream. `id` is taken when the message is accepted and becomes the message id,
/// so ids order messages by acceptance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(default = "envelope_v1")]
    pub v: u32,
    pub id: String,
    pub channel: Channel,
    /// The inbox (one channel account, e.g. a web-chat site or a mailbox) it arrived at.
    pub inbox: String,
    /// The channel's own id of the message (WhatsApp `wamid`, email `Message-ID`, widget
    /// client id). `(channel, external_id)` is the idempotency key.
    pub external_id: String,
    /// Who sent it, as the channel vouches for it (a mailbox's From, a `wa_id`, a visitor
    /// id the server issued).
    pub sender: Identity,
    #[serde(default)]
    pub sender_name: Option<String>,
    /// Recipients as the message names them (email To and Cc). Cc'd people become
    /// participants of the conversation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<Identity>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<Identity>,
    /// Identities the sender merely typed (a pre-chat email, a phone number in a form).
    /// Stored unverified: they never attract another sender's messages.
    #[serde(default)]
    pub extra_identities: Vec<Identity>,
    /// External ids this message replies to (email `In-Reply-To`/`References`, WhatsApp
    /// `context.id`), nearest first.
    #[serde(default)]
    pub replies_to: Vec<String>,
    /// The thread inside the inbox, as the channel decides it. `None` is the contact's
    /// default thread (web chat, WhatsApp: one open conversation per contact and inbox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    /// The visible new text (quotes and signature removed where the channel can).
    pub text: String,
    /// The whole text as received, when it differs from `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_text: Option<String>,
    #[serde(default)]
    pub html: Option<SanitizedHtml>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// Structured content the channel carries beside the text (a reaction, a place, a
    /// reply's context, media still to fetch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<RichContent>,
    /// An auto-reply, a bounce, a vacation notice: never opens a conversation and never
    /// reaches the bot.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_submitted: bool,
    pub received_at: i64,
    /// Fields of a newer schema, kept as they came and written back out. Collected by
    /// [`Inbound::parse`] only from entries of a newer version than this build's, so the
    /// common case parses without buffering.
    #[serde(flatten, skip_deserializing)]
    pub unknown: std::collections::BTreeMap<String, serde_json::Value>,
}

impl Envelope {
    /// An envelope with only what every message has; the other fields start empty.
    pub fn new(
        id: String,
        channel: Channel,
        inbox: &str,
        external_id: &str,
        sender: Identity,
        text: &str,
        received_at: i64,
    ) -> Self {
        Self {
            v: ENVELOPE_VERSION,
            id,
            channel,
            inbox: inbox.to_owned(),
            external_id: external_id.to_owned(),
            sender,
            sender_name: None,
            to: Vec::new(),
            cc: Vec::new(),
            extra_identities: Vec::new(),
            replies_to: Vec::new(),
            thread: None,
            subject: None,
            text: text.to_owned(),
            full_text: None,
            html: None,
            attachments: Vec::new(),
            content: None,
            auto_submitted: false,
            received_at,
            unknown: Default::default(),
        }
    }

    pub fn idempotency_key(&self) -> String {
        idempotency_key(self.channel, &self.external_id)
    }

    /// The thread key this envelope asks for.
    pub fn thread_key(&self) -> &str {
        self.thread.as_deref().unwrap_or(DEFAULT_THREAD)
    }
}

/// The thread key of a contact's default conversation in an inbox.
/// How a channel's reader begins the line of a message that holds no words of the client
/// (a voice note, a photo, a sticker, a place, a card, a reaction taken back): a bracketed
/// mark. The WhatsApp reader writes them (`channels::whatsapp::inbound`, its test
/// `every_wordless_line_has_a_mark`); the bot reads such a line as no question
/// (`bots::policy::own_words`).
pub const WORDLESS_MARKS: &[&str] = &[
    "[image",
    "[video",
    "[audio",
    "[voice",
    "[sticker",
    "[document",
    "[location",
    "[contact]",
    "[form]",
    "[order:",
    "[message deleted]",
    "[unsupported",
    "[interactive",
    "[request_welcome]",
    "[reaction removed]",
    "[text]",
];

pub const DEFAULT_THREAD: &str = "default";

/// A delivery status update from a channel (WhatsApp `statuses`, an email DSN) for one of
/// our outbound messages, named by the channel's id for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub channel: Channel,
    pub external_id: String,
    pub state: DeliveryState,
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub error_title: Option<String>,
    pub at: i64,
    /// What the channel says about the delivery beyond its state (WhatsApp's pricing and
    /// conversation), as JSON text, kept with the receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The fields of [`Envelope`] this build knows.
const ENVELOPE_FIELDS: &[&str] = &[
    "v",
    "id",
    "channel",
    "inbox",
    "external_id",
    "sender",
    "sender_name",
    "to",
    "cc",
    "extra_identities",
    "replies_to",
    "thread",
    "subject",
    "text",
    "full_text",
    "html",
    "attachments",
    "content",
    "auto_submitted",
    "received_at",
];

/// What travels on the inbound stream: messages, and receipts for messages we sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    Message(Box<Envelope>),
    Receipt(Receipt),
}

#[derive(Serialize, Deserialize)]
struct ReceiptEntry {
    receipt: Receipt,
}

impl Inbound {
    /// The stream payload. An envelope is written as itself (so entries of older nodes
    /// read the same); a receipt as `{"receipt": …}`.
    pub fn to_payload(&self) -> Result<String> {
        Ok(match self {
            Inbound::Message(e) => serde_json::to_string(e)?,
            Inbound::Receipt(r) => serde_json::to_string(&ReceiptEntry { receipt: r.clone() })?,
        })
    }

    pub fn parse(payload: &str) -> Result<Self> {
        if payload.trim_start().starts_with("{\"receipt\"") {
            let entry: ReceiptEntry = serde_json::from_str(payload)?;
            return Ok(Inbound::Receipt(entry.receipt));
        }
        let mut envelope: Envelope = serde_json::from_str(payload)?;
        if envelope.v > ENVELOPE_VERSION {
            // Written by a newer node: keep what this build does not know.
            let mut all: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(payload)?;
            for known in ENVELOPE_FIELDS {
                all.remove(*known);
            }
            envelope.unknown = all.into_iter().collect();
        }
        Ok(Inbound::Message(Box::new(envelope)))
    }
}

impl DeliveryState {
    /// How far along a message is. A receipt applies only if it moves the state forward;
    /// `failed` is recorded but never undoes `read`.
    pub fn rank(self) -> u8 {
        match self {
            DeliveryState::Received => 0,
            DeliveryState::Queued => 1,
            DeliveryState::Sending => 2,
            DeliveryState::Sent => 3,
            DeliveryState::Delivered => 4,
            DeliveryState::Failed => 5,
            DeliveryState::Read => 6,
        }
    }
}

/// A conversation handed to people: to which tier, why, and what the bot gathered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    pub tier: Tier,
    pub reason: String,
    #[serde(default)]
    pub summary: Option<String>,
}

/// What a subscriber needs to decide who may see an event, without reading the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    pub conversation_id: String,
    pub inbox: String,
    pub contact_id: String,
    pub company_id: Option<String>,
    pub tier: Tier,
    pub team: Option<String>,
    pub assignee_id: Option<String>,
    /// Set on events addressed to one user (a notification): only that user receives
    /// them, whatever its role. `None` for events about a conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: String,
    pub number: i64,
    pub inbox: String,
    pub channel: Channel,
    pub contact_id: String,
    pub company_id: Option<String>,
    /// The thread inside the inbox; one unresolved conversation per contact, inbox and
    /// thread key.
    pub thread_key: String,
    pub subject: Option<String>,
    pub status: Status,
    pub priority: Priority,
    pub tier: Tier,
    pub assignee_id: Option<String>,
    pub team: Option<String>,
    pub labels: Vec<String>,
    /// Whether the bot may still speak here: false for good once a person is involved.
    pub bot_active: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_message_at: i64,
    /// Incremented by every change; a change that names the version it was based on is
    /// refused when the conversation moved on meanwhile.
    #[serde(default)]
    pub version: i64,
    /// A snoozed conversation opens again at this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snoozed_until: Option<i64>,
}

impl Conversation {
    pub fn scope(&self) -> Scope {
        Scope {
            conversation_id: self.id.clone(),
            inbox: self.inbox.clone(),
            contact_id: self.contact_id.clone(),
            company_id: self.company_id.clone(),
            tier: self.tier,
            team: self.team.clone(),
            assignee_id: self.assignee_id.clone(),
            recipient: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    pub conversation_id: String,
    pub direction: Direction,
    pub author_kind: AuthorKind,
    pub author_id: Option<String>,
    pub channel: Channel,
    /// The visible text (for email: the reply without quotes and signature).
    pub text: String,
    /// The whole text as received, when it differs from `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_text: Option<String>,
    pub html: Option<SanitizedHtml>,
    pub attachments: Vec<Attachment>,
    /// Structured content beside the text (quick replies, buttons, a template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<RichContent>,
    pub delivery_state: DeliveryState,
    /// Why delivery failed, in the channel's or the server's own words (a bounce's
    /// diagnostic, an SMTP 5xx), when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_error: Option<String>,
    /// What the channel last said about the delivery beyond its state (WhatsApp's pricing
    /// and conversation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_detail: Option<serde_json::Value>,
    pub external_id: Option<String>,
    pub created_at: i64,
    /// An internal note (or a system message of the support side): shown to agents only,
    /// never sent to the customer nor shown in the customer's history.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
}

/// Structured content a channel renders its own way: web-chat quick replies, WhatsApp
/// buttons, lists and templates, article links. Channels that cannot show a part fall
/// back to the message text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RichContent {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quick_replies: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<ListContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Template>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub articles: Vec<ArticleRef>,
    /// How sure the bot was of this answer, in thousandths: shown to agents, never sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<u16>,
    /// The channel's id of the message this one answers (WhatsApp `context`), when the
    /// channel names one. Outbound: the message to quote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// A reaction to another message instead of text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaction: Option<Reaction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// A file the channel still holds: fetched after the message is stored, then kept as
    /// an attachment (or marked unavailable, with the reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<RemoteMedia>,
    /// The message was forwarded (`Some(true)`: many times).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded: Option<bool>,
    /// What the channel sent that has no field here (shared contacts, an ad referral, an
    /// order, an unsupported message, a status's pricing), as its JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
}

/// A reaction: `emoji` on the message the channel calls `to`; an empty emoji removes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    pub emoji: String,
    pub to: String,
}

/// A shared place. Degrees as text, as the channel sent them (no float equality games).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub latitude: String,
    pub longitude: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// A file named by the channel (a WhatsApp media id) and what became of fetching it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteMedia {
    pub id: String,
    /// `image`, `audio`, `voice`, `video`, `document`, `sticker`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// `pending`, `kept` (now an attachment) or `unavailable`.
    pub state: String,
    /// Why it is unavailable, in words an agent can act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListContent {
    pub button: String,
    pub rows: Vec<Button>,
}

/// A channel's pre-approved message (WhatsApp templates) with its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub name: String,
    pub language: String,
    #[serde(default)]
    pub params: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleRef {
    pub id: String,
    pub title: String,
    pub url: String,
}

impl RichContent {
    pub fn is_empty(&self) -> bool {
        self == &RichContent::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub tier: Option<Tier>,
    pub created_at: i64,
    /// False once an admin deactivates the account: no login, no session, no API token.
    #[serde(default = "yes")]
    pub active: bool,
    /// The language of the agent's pages and mail: one of [`LOCALES`].
    #[serde(default = "default_locale")]
    pub locale: String,
    /// How many open conversations the agent takes at once (1 to 100).
    #[serde(default = "default_capacity")]
    pub capacity: i64,
    #[serde(default)]
    pub totp_enabled: bool,
}

/// The languages agents can choose for their pages and mail.
pub const LOCALES: [&str; 3] = ["en", "es", "pt-BR"];
pub const DEFAULT_LOCALE: &str = "en";
pub const DEFAULT_CAPACITY: i64 = 10;
pub const MAX_CAPACITY: i64 = 100;

fn yes() -> bool {
    true
}

fn default_locale() -> String {
    DEFAULT_LOCALE.to_owned()
}

fn default_capacity() -> i64 {
    DEFAULT_CAPACITY
}

/// The supported locale `s` names, in its canonical spelling (`pt-br` is `pt-BR`).
pub fn parse_locale(s: &str) -> Result<&'static str> {
    let s = s.trim().replace('_', "-");
    LOCALES
        .iter()
        .find(|l| l.eq_ignore_ascii_case(&s))
        .copied()
        .ok_or_else(|| {
            Error::invalid(format!(
                "unknown language {s:?}; expected one of: {}",
                LOCALES.join(", ")
            ))
        })
}

text_enum!(InvoiceStatus {
    Draft => "draft", Sent => "sent", Viewed => "viewed", PartiallyPaid => "partially_paid",
    Paid => "paid", Overdue => "overdue", Void => "void"
});
text_enum!(EstimateStatus {
    Draft => "draft", Sent => "sent", Accepted => "accepted", Declined => "declined",
    Expired => "expired"
});
text_enum!(PaymentStatus {
    Pending => "pending", Succeeded => "succeeded", Failed => "failed", Refunded => "refunded",
    PartiallyRefunded => "partially_refunded"
});
text_enum!(TicketStatus { Open => "open", Pending => "pending", Resolved => "resolved", Closed => "closed" });

/// A card shown inside a conversation. It points to its subject (an invoice, a ticket, …)
/// by the payload's kind and id; a conversation shows one card per subject, updated in
/// place when the subject changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Card {
    pub id: String,
    pub conversation_id: String,
    pub payload: CardPayload,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What each kind of card carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CardPayload {
    Invoice {
        /// The invoice's id: the card's subject.
        id: String,
        number: String,
        amount: Money,
        #[serde(default)]
        due_at: Option<i64>,
        status: InvoiceStatus,
    },
    Estimate {
        id: String,
        number: String,
        amount: Money,
        #[serde(default)]
        valid_until: Option<i64>,
        status: EstimateStatus,
    },
    Payment {
        id: String,
        #[serde(default)]
        invoice_number: Option<String>,
        amount: Money,
        status: PaymentStatus,
    },
    Ticket {
        id: String,
        number: String,
        title: String,
        status: TicketStatus,
    },
    Survey {
        id: String,
        question: String,
        scale: u8,
        /// The answer once given (`CSAT 4/5 · NPS 9`), as the client gave it.
        #[serde(default)]
        answer: Option<String>,
    },
    /// The machine a request is about, as the desk needs it at a glance.
    Machine {
        /// The machine's id: the card's subject.
        id: String,
        model: String,
        serial: String,
        #[serde(default)]
        location: Option<String>,
        /// `in_service`, `down`, `maintenance` or `removed`.
        status: String,
        /// What is asked: `failure`, `toner`, `support` or `reading`.
        request: String,
        /// The toner colours asked for.
        #[serde(default)]
        toner: Vec<String>,
        #[serde(default)]
        contract: Option<String>,
        /// The last reading, as `YYYY-MM-DD: mono N, colour N`.
        #[serde(default)]
        last_reading: Option<String>,
        /// The machine's requests still open, this one included.
        open_requests: u32,
    },
    /// A technician's visit to a machine, as the client and the desk follow it.
    Visit {
        /// The visit's id: the card's subject.
        id: String,
        number: i64,
        /// The machine, as `model · serial`.
        machine: String,
        technician: String,
        /// The window, as instants (epoch milliseconds).
        window_from: i64,
        window_to: i64,
        /// `scheduled`, `on_site`, `done` or `cancelled`.
        status: String,
        /// The window in the business's local time, as people read it.
        #[serde(default)]
        when: String,
        /// A report PDF is kept.
        #[serde(default)]
        report: bool,
    },
}

impl CardPayload {
    pub fn kind(&self) -> CardKind {
        match self {
            CardPayload::Invoice { .. } => CardKind::Invoice,
            CardPayload::Estimate { .. } => CardKind::Estimate,
            CardPayload::Payment { .. } => CardKind::Payment,
            CardPayload::Ticket { .. } => CardKind::Ticket,
            CardPayload::Survey { .. } => CardKind::Survey,
            CardPayload::Machine { .. } => CardKind::Machine,
            CardPayload::Visit { .. } => CardKind::Visit,
        }
    }

    /// The id of what the card shows.
    pub fn subject_id(&self) -> &str {
        match self {
            CardPayload::Invoice { id, .. }
            | CardPayload::Estimate { id, .. }
            | CardPayload::Payment { id, .. }
            | CardPayload::Ticket { id, .. }
            | CardPayload::Survey { id, .. }
            | CardPayload::Machine { id, .. }
            | CardPayload::Visit { id, .. } => id,
        }
    }

    /// Checks the values the types cannot: empty texts, scales.
    pub fn validate(&self) -> Result<()> {
        let text = |name: &str, value: &str| {
            if value.trim().is_empty() {
                Err(Error::invalid(format!("{name} is empty")))
            } else {
                Ok(())
            }
        };
        text("id", self.subject_id())?;
        match self {
            CardPayload::Invoice { number, .. } | CardPayload::Estimate { number, .. } => {
                text("number", number)
            }
            CardPayload::Payment { .. } => Ok(()),
            CardPayload::Ticket { number, title, .. } => {
                text("number", number)?;
                text("title", title)
            }
            CardPayload::Survey {
                question, scale, ..
            } => {
                text("question", question)?;
                if !(2..=10).contains(scale) {
                    return Err(Error::invalid("survey scale must be 2 to 10"));
                }
                Ok(())
            }
            CardPayload::Machine {
                model,
                serial,
                request,
                ..
            } => {
                text("model", model)?;
                text("serial", serial)?;
                text("request", request)
            }
            CardPayload::Visit {
                machine,
                technician,
                status,
                window_from,
                window_to,
                ..
            } => {
                text("machine", machine)?;
                text("technician", technician)?;
                text("status", status)?;
                if window_to <= window_from {
                    return Err(Error::invalid("a visit's window ends after it starts"));
                }
                Ok(())
            }
        }
    }
}

pub use crate::money::{Currency, Money};

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn enums_round_trip_and_refuse_unknown_text() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()).unwrap(), *s);
        }
        let err = Status::parse("closed").unwrap_err().to_string();
        assert!(err.contains("open, pending, snoozed, resolved"), "{err}");
        assert_eq!(Tier::parse("N2").unwrap(), Tier::N2);
        assert_eq!(serde_json::to_string(&Tier::N2).unwrap(), "\"N2\"");
        assert_eq!(
            serde_json::from_str::<Role>("\"client_admin\"").unwrap(),
            Role::ClientAdmin
        );
        assert!(serde_json::from_str::<Role>("\"root\"").is_err());
    }

    #[test]
    fn identities_are_normalized_and_checked() {
        let e = Identity::new(IdentityKind::Email, " Ana@Example.COM ").unwrap();
        assert_eq!(e.value(), "ana@example.com");
        for bad in [
            "nope",
            "a@b@c",
            "@x.com",
            "a@",
            "a b@x.com",
            "a@x..com",
            "<a>@x.com",
        ] {
            assert!(Identity::email(bad).is_err(), "{bad}");
        }
        let p = Identity::phone("+55 (11) 91234-5678").unwrap();
        assert_eq!(p.value(), "+5511912345678");
        assert_eq!(p.kind(), IdentityKind::Phone);
        assert_eq!(
            Identity::phone("+1 415-555-2671").unwrap().value(),
            "+14155552671"
        );
        // No country code, too short, letters: refused rather than guessed.
        for bad in ["11 91234-5678", "+12", "+55 11 9abc", ""] {
            assert!(Identity::phone(bad).is_err(), "{bad}");
        }
        let w = Identity::new(IdentityKind::Whatsapp, "+55 (11) 91234-5678").unwrap();
        assert_eq!(w.value(), "5511912345678");
        assert!(Identity::whatsapp("12").is_err());
        assert!(Identity::whatsapp("5511abc").is_err());
        assert!(Identity::new(IdentityKind::Visitor, "abc/../x").is_err());
    }

    #[test]
    fn identities_deserialize_only_through_their_parser() {
        let i: Identity = serde_json::from_str(r#"{"kind":"email","value":"Ana@X.com"}"#).unwrap();
        assert_eq!(i.value(), "ana@x.com");
        assert!(serde_json::from_str::<Identity>(r#"{"kind":"email","value":"nope"}"#).is_err());
        assert!(serde_json::from_str::<Identity>(r#"{"kind":"phone","value":"123"}"#).is_err());
    }

    #[test]
    fn envelopes_keep_fields_they_do_not_know() {
        // An entry written by a newer node: a field this build does not know survives a
        // read and a write.
        let newer = r#"{"v":4,"id":"m1","channel":"email","inbox":"support","external_id":"<a@x>","sender":{"kind":"email","value":"ana@x.com"},"text":"hi","received_at":1,"priority_hint":"urgent","labels":["vip"]}"#;
        let Inbound::Message(e) = Inbound::parse(newer).unwrap() else {
            panic!()
        };
        assert_eq!(e.v, 4);
        assert_eq!(e.unknown["priority_hint"], "urgent");
        let again: serde_json::Value = serde_json::to_value(&*e).unwrap();
        assert_eq!(again["priority_hint"], "urgent");
        assert_eq!(again["labels"][0], "vip");
        // A version 1 entry reads with the new fields empty.
        let older = r#"{"id":"m1","channel":"webchat","inbox":"w","external_id":"v:1","sender":{"kind":"visitor","value":"v"},"sender_name":null,"extra_identities":[],"replies_to":[],"subject":null,"text":"hi","html":null,"attachments":[],"received_at":1}"#;
        let e: Envelope = serde_json::from_str(older).unwrap();
        assert_eq!(e.v, 1);
        assert!(e.cc.is_empty() && !e.auto_submitted && e.unknown.is_empty());
        assert_eq!(e.thread_key(), DEFAULT_THREAD);
        // An unnormalized identity inside an envelope is refused.
        let bad = older.replace(
            r#""kind":"visitor","value":"v""#,
            r#""kind":"email","value":"x""#,
        );
        assert!(serde_json::from_str::<Envelope>(&bad).is_err());
    }

    #[test]
    fn inbound_entries_are_messages_or_receipts() {
        let r = Receipt {
            channel: Channel::Whatsapp,
            external_id: "wamid.1".into(),
            state: DeliveryState::Read,
            error_code: None,
            error_title: None,
            at: 5,
            detail: None,
        };
        let payload = Inbound::Receipt(r.clone()).to_payload().unwrap();
        assert_eq!(Inbound::parse(&payload).unwrap(), Inbound::Receipt(r));
        let e = Envelope::new(
            "m".into(),
            Channel::Webchat,
            "w",
            "v:1",
            Identity::visitor("v").unwrap(),
            "hi",
            1,
        );
        let payload = Inbound::Message(Box::new(e.clone())).to_payload().unwrap();
        assert_eq!(
            Inbound::parse(&payload).unwrap(),
            Inbound::Message(Box::new(e))
        );
        assert!(Inbound::parse("{\"receipt\":{}}").is_err());
    }

    #[test]
    fn delivery_states_rank_forward() {
        use DeliveryState::*;
        assert!(Read.rank() > Delivered.rank());
        assert!(
            Failed.rank() < Read.rank(),
            "failed after read does not regress"
        );
        assert!(Failed.rank() > Sent.rank());
    }

    #[test]
    fn cards_name_their_subject_and_refuse_bad_values() {
        let card: CardPayload = serde_json::from_str(
            r#"{"kind":"invoice","id":"inv_1","number":"INV-1","amount":{"amount_minor":100,"currency":"EUR"},"status":"paid"}"#,
        )
        .unwrap();
        assert_eq!(card.subject_id(), "inv_1");
        assert_eq!(card.kind(), CardKind::Invoice);
        assert!(serde_json::from_str::<CardPayload>(
            r#"{"kind":"invoice","id":"inv_1","number":"INV-1","amount":{"amount_minor":100,"currency":"EUR"},"status":"settled"}"#,
        )
        .is_err());
    }
}
