//! Domain types shared by every crate. Values that have rules (`Channel`, `Status`, `Tier`,
//! `Role`) parse from their stored text and refuse anything else.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

text_enum!(
    /// Where a message came from or goes to.
    Channel { Webchat => "webchat", Email => "email", Whatsapp => "whatsapp", Portal => "portal", Api => "api" }
);
text_enum!(
    /// How a contact is recognised on a channel. One contact may have many identities.
    IdentityKind { Email => "email", Phone => "phone", Whatsapp => "whatsapp", Visitor => "visitor" }
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
        ClientUser => "client_user", ClientAdmin => "client_admin"
    }
);
text_enum!(
    /// Structured content shown as a card inside a conversation.
    CardKind {
        Invoice => "invoice", Estimate => "estimate", Payment => "payment", Ticket => "ticket",
        Survey => "survey"
    }
);

impl Role {
    pub fn is_agent(self) -> bool {
        matches!(
            self,
            Role::Support | Role::Coordinator | Role::Supervisor | Role::Admin
        )
    }
    /// Whether this role may write into conversations (supervisors only read).
    pub fn can_reply(self) -> bool {
        matches!(self, Role::Support | Role::Coordinator | Role::Admin)
    }
}

/// How a contact is recognised: `(kind, value)`, with the value normalized.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identity {
    pub kind: IdentityKind,
    pub value: String,
}

impl Identity {
    /// Normalizes and checks the value for its kind.
    pub fn new(kind: IdentityKind, value: &str) -> Result<Self> {
        let v = value.trim();
        let value = match kind {
            IdentityKind::Email => {
                let v = v.to_lowercase();
                let (local, domain) = v
                    .split_once('@')
                    .ok_or_else(|| Error::invalid(format!("email address {v:?} has no @")))?;
                if local.is_empty() || domain.is_empty() || domain.contains('@') || v.len() > 254 {
                    return Err(Error::invalid(format!("email address {v:?} is not valid")));
                }
                v
            }
            IdentityKind::Phone | IdentityKind::Whatsapp => {
                let digits: String = v.chars().filter(char::is_ascii_digit).collect();
                if !(6..=15).contains(&digits.len()) {
                    return Err(Error::invalid(format!("phone number {v:?} is not valid")));
                }
                digits
            }
            IdentityKind::Visitor => {
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
                v.to_owned()
            }
        };
        Ok(Self { kind, value })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub name: String,
    pub mime: String,
    pub size: u64,
    /// Key in the blob store.
    pub blob: String,
}

/// A normalized inbound message from any channel: what channel adapters append to the
/// inbound stream. `id` is taken when the message is accepted and becomes the message id,
/// so ids order messages by acceptance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: String,
    pub channel: Channel,
    /// The inbox (one channel account, e.g. a web-chat site or a mailbox) it arrived at.
    pub inbox: String,
    /// The channel's own id of the message (WhatsApp `wamid`, email `Message-ID`, widget
    /// client id). `(channel, external_id)` is the idempotency key.
    pub external_id: String,
    pub sender: Identity,
    #[serde(default)]
    pub sender_name: Option<String>,
    /// Further identities the sender gave (e.g. the email typed into a pre-chat form).
    #[serde(default)]
    pub extra_identities: Vec<Identity>,
    /// External ids this message replies to (email `In-Reply-To`/`References`).
    #[serde(default)]
    pub replies_to: Vec<String>,
    #[serde(default)]
    pub subject: Option<String>,
    pub text: String,
    /// Already sanitized by the channel adapter.
    #[serde(default)]
    pub html: Option<String>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    pub received_at: i64,
}

impl Envelope {
    pub fn idempotency_key(&self) -> String {
        format!("{}:{}", self.channel, self.external_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: String,
    pub number: i64,
    pub inbox: String,
    pub channel: Channel,
    pub contact_id: String,
    pub company_id: Option<String>,
    pub subject: Option<String>,
    pub status: Status,
    pub priority: Priority,
    pub tier: Tier,
    pub assignee_id: Option<String>,
    pub team: Option<String>,
    pub labels: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_message_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    pub conversation_id: String,
    pub direction: Direction,
    pub author_kind: AuthorKind,
    pub author_id: Option<String>,
    pub channel: Channel,
    pub text: String,
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    pub delivery_state: DeliveryState,
    pub external_id: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub tier: Option<Tier>,
    pub created_at: i64,
}

/// A card shown inside a conversation. The payload's variant is the card's kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Card {
    pub id: String,
    pub conversation_id: String,
    pub payload: CardPayload,
    pub created_at: i64,
}

/// What each kind of card carries. Money is in minor units with an ISO 4217 code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CardPayload {
    Invoice {
        number: String,
        amount_minor: i64,
        currency: String,
        #[serde(default)]
        due_at: Option<i64>,
        status: String,
    },
    Estimate {
        number: String,
        amount_minor: i64,
        currency: String,
        #[serde(default)]
        valid_until: Option<i64>,
        status: String,
    },
    Payment {
        #[serde(default)]
        invoice_number: Option<String>,
        amount_minor: i64,
        currency: String,
        status: String,
    },
    Ticket {
        number: String,
        title: String,
        status: String,
    },
    Survey {
        question: String,
        scale: u8,
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
        }
    }

    /// Checks the values the types cannot: currencies, amounts, empty texts, scales.
    pub fn validate(&self) -> Result<()> {
        let money = |amount: i64, currency: &str| {
            if amount < 0 {
                return Err(Error::invalid("amount_minor must not be negative"));
            }
            if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
                return Err(Error::invalid(format!(
                    "currency {currency:?} is not an ISO 4217 code like EUR"
                )));
            }
            Ok(())
        };
        let text = |name: &str, value: &str| {
            if value.trim().is_empty() {
                Err(Error::invalid(format!("{name} is empty")))
            } else {
                Ok(())
            }
        };
        match self {
            CardPayload::Invoice {
                number,
                amount_minor,
                currency,
                status,
                ..
            }
            | CardPayload::Estimate {
                number,
                amount_minor,
                currency,
                status,
                ..
            } => {
                text("number", number)?;
                text("status", status)?;
                money(*amount_minor, currency)
            }
            CardPayload::Payment {
                amount_minor,
                currency,
                status,
                ..
            } => {
                text("status", status)?;
                money(*amount_minor, currency)
            }
            CardPayload::Ticket {
                number,
                title,
                status,
            } => {
                text("number", number)?;
                text("title", title)?;
                text("status", status)
            }
            CardPayload::Survey { question, scale } => {
                text("question", question)?;
                if !(2..=10).contains(scale) {
                    return Err(Error::invalid("survey scale must be 2 to 10"));
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(e.value, "ana@example.com");
        assert!(Identity::new(IdentityKind::Email, "nope").is_err());
        assert!(Identity::new(IdentityKind::Email, "a@b@c").is_err());
        let p = Identity::new(IdentityKind::Whatsapp, "+55 (11) 91234-5678").unwrap();
        assert_eq!(p.value, "5511912345678");
        assert!(Identity::new(IdentityKind::Phone, "12").is_err());
        assert!(Identity::new(IdentityKind::Visitor, "abc/../x").is_err());
    }
}
