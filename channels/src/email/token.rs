//! Reply addresses that name a conversation and cannot be forged: `reply+<token>@domain`,
//! where the token is the conversation's id (32 hex digits) and an HMAC-SHA256 tag of it
//! under a server secret, truncated to 80 bits. Mail sent to such an address threads into
//! that conversation only if the tag verifies (and, as for every reply, only if the sender
//! is one of its participants); a guessed or altered token is an ordinary new mail.
//!
//! Pure: the caller supplies the secret, so this does no IO.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the truncated tag (20 hex digits): with the id, the token keeps the address's
/// local part under the 64 characters RFC 5321 allows.
const TAG_BYTES: usize = 10;
/// Shortest secret accepted.
pub const MIN_SECRET_BYTES: usize = 16;
/// Separates this use of the secret from any other.
const DOMAIN: &[u8] = b"switchboard email reply token v1\0";
/// The local part before the token.
pub const PREFIX: &str = "reply";
/// What opens the marker in the text.
const MARKER: &str = "[ref:";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the reply-token secret must be at least {MIN_SECRET_BYTES} bytes")]
pub struct ShortSecret;

/// Issues and reads reply addresses under one secret.
#[derive(Clone)]
pub struct ReplyTokens {
    mac: HmacSha256,
}

impl fmt::Debug for ReplyTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReplyTokens(***)")
    }
}

/// A conversation id as 32 lower-case hex digits (a UUID with or without dashes).
fn compact(id: &str) -> Option<String> {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    (hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

/// The compact id back in the 8-4-4-4-12 form the store uses.
fn dashed(hex: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

impl ReplyTokens {
    pub fn new(secret: &[u8]) -> Result<Self, ShortSecret> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ShortSecret);
        }
        let mac = HmacSha256::new_from_slice(secret).map_err(|_| ShortSecret)?;
        Ok(Self { mac })
    }

    fn tag(&self, hex_id: &str) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(DOMAIN);
        mac.update(hex_id.as_bytes());
        mac
    }

    /// The token of a conversation, or `None` for an id that is not a UUID.
    pub fn token(&self, conversation_id: &str) -> Option<String> {
        let hex_id = compact(conversation_id)?;
        let tag = self.tag(&hex_id).finalize().into_bytes();
        Some(format!("{hex_id}{}", hex::encode(&tag[..TAG_BYTES])))
    }

    /// The reply address of a conversation at `domain`: `reply+<token>@domain`.
    pub fn address(&self, conversation_id: &str, domain: &str) -> Option<String> {
        self.address_with(PREFIX, conversation_id, domain)
    }

    /// The reply address with another local part before the `+`: a mailbox's own
    /// (`support+<token>@acme.test`) reaches it by plus addressing, which Gmail,
    /// Microsoft 365 and most servers deliver without any routing set up.
    pub fn address_with(
        &self,
        prefix: &str,
        conversation_id: &str,
        domain: &str,
    ) -> Option<String> {
        Some(format!(
            "{prefix}+{}@{domain}",
            self.token(conversation_id)?
        ))
    }

    /// The conversation an address names, if it is a reply address whose tag verifies.
    /// Case is ignored (some mail systems change it); the tag is compared in constant time.
    /// The local part before the `+` may be any (the tag alone is the proof).
    pub fn conversation_in(&self, address: &str) -> Option<String> {
        let (local, _) = address.trim().rsplit_once('@')?;
        let (prefix, token) = local.rsplit_once('+')?;
        if prefix.is_empty() || token.len() != 32 + TAG_BYTES * 2 {
            return None;
        }
        let token = token.to_ascii_lowercase();
        let (hex_id, tag_hex) = token.split_at(32);
        if !hex_id.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let tag = hex::decode(tag_hex).ok()?;
        self.tag(hex_id).verify_truncated_left(&tag).ok()?;
        Some(dashed(hex_id))
    }

    /// The marker put at the foot of our mail's text, for mail clients that drop the
    /// reply address and the thread headers but keep the quoted text: `[ref:<token>]`.
    pub fn marker(&self, conversation_id: &str) -> Option<String> {
        Some(format!("{MARKER}{}]", self.token(conversation_id)?))
    }

    /// The conversation named by the first verified marker in `text` (the quoted history
    /// of a reply), if any. Forged or altered markers name nothing.
    pub fn conversation_in_text(&self, text: &str) -> Option<String> {
        let len = 32 + TAG_BYTES * 2;
        let mut rest = text;
        while let Some(at) = rest.find(MARKER) {
            let after = &rest[at + MARKER.len()..];
            let token: String = after.chars().take(len).collect();
            if token.len() == len
                && after[len..].starts_with(']')
                && let Some(id) = self.conversation_in(&format!("{PREFIX}+{token}@x"))
            {
                return Some(id);
            }
            rest = after;
        }
        None
    }

    /// The first conversation named by a verified reply address among `addresses` (the
    /// To and Cc of a mail), if any.
    pub fn conversation_among<'a>(
        &self,
        addresses: impl IntoIterator<Item = &'a str>,
    ) -> Option<String> {
        addresses.into_iter().find_map(|a| self.conversation_in(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "01936f6e-8b1c-7a2d-9e4f-0123456789ab";

    fn tokens() -> ReplyTokens {
        ReplyTokens::new(b"a secret of thirty-two bytes!!!!").unwrap()
    }

    #[test]
    fn an_issued_address_names_its_conversation() {
        let t = tokens();
        let addr = t.address(ID, "acme.test").unwrap();
        let local = addr.split('@').next().unwrap();
        assert!(local.len() <= 64, "{local}");
        assert!(addr.starts_with("reply+01936f6e8b1c7a2d9e4f0123456789ab"));
        assert_eq!(t.conversation_in(&addr).as_deref(), Some(ID));
        assert_eq!(t.conversation_in(&addr.to_uppercase()).as_deref(), Some(ID));
        let plus = t.address_with("support", ID, "acme.test").unwrap();
        assert!(plus.starts_with("support+"));
        assert_eq!(t.conversation_in(&plus).as_deref(), Some(ID));
        assert_eq!(
            t.conversation_among(["support@acme.test", addr.as_str()])
                .as_deref(),
            Some(ID)
        );
    }

    #[test]
    fn forged_altered_or_foreign_tokens_name_nothing() {
        let t = tokens();
        let addr = t.address(ID, "acme.test").unwrap();
        // Another conversation's id with this tag.
        let other = addr.replacen("01936f6e", "01936f6f", 1);
        assert_eq!(t.conversation_in(&other), None);
        // One digit of the tag changed.
        let (head, tail) = addr.split_at(addr.find('@').unwrap() - 1);
        let flipped = format!(
            "{head}{}{}",
            if tail.starts_with('0') { '1' } else { '0' },
            &tail[1..]
        );
        assert_eq!(t.conversation_in(&flipped), None);
        // Issued under another secret.
        let foreign = ReplyTokens::new(b"another secret, also long enough").unwrap();
        assert_eq!(
            t.conversation_in(&foreign.address(ID, "acme.test").unwrap()),
            None
        );
        // Shapes that are not tokens.
        for bad in [
            "reply@acme.test",
            "reply+@acme.test",
            "reply+zz@acme.test",
            "+01936f6e8b1c7a2d9e4f0123456789ab0123456789abcdef0123@acme.test",
            "support+01936f6e8b1c7a2d9e4f0123456789ab@acme.test",
            "no-at-sign",
            "",
        ] {
            assert_eq!(t.conversation_in(bad), None, "{bad}");
        }
        assert_eq!(t.token("not-a-uuid"), None);
        // Markers in quoted text: only a verified one names the conversation.
        let marker = t.marker(ID).unwrap();
        let quoted = format!("Thanks!\n\n> Hello Ana,\n> try this.\n> {marker}\n");
        assert_eq!(t.conversation_in_text(&quoted).as_deref(), Some(ID));
        let forged = quoted.replacen("[ref:01936f6e", "[ref:01936f6f", 1);
        assert_eq!(t.conversation_in_text(&forged), None);
        assert_eq!(t.conversation_in_text("[ref:] [ref:zz] [ref:"), None);
        let foreign_marker = foreign.marker(ID).unwrap();
        assert_eq!(t.conversation_in_text(&foreign_marker), None);
        assert!(ReplyTokens::new(b"short").is_err());
    }
}
