//! Visitor ids the server alone can issue: `<24 hex random>_<32 hex tag>`, where the tag is
//! HMAC-SHA256 over the random part under a server secret, truncated to 128 bits. A widget
//! keeps its id and presents it on every connection; an id whose tag does not verify was
//! not made here (guessed, forged, or made under another secret) and is ignored.
//!
//! Pure: the caller supplies the randomness and the secret, so this does no IO.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub(super) type HmacSha256 = Hmac<Sha256>;

/// Bytes of randomness in an id (24 hex characters).
pub const RANDOM_BYTES: usize = 12;
/// Bytes of the truncated tag (32 hex characters).
const TAG_BYTES: usize = 16;
/// Shortest secret accepted: anything shorter is guessable offline from one issued id.
pub const MIN_SECRET_BYTES: usize = 16;
/// Separates this use of the secret from any other it may get later.
const DOMAIN: &[u8] = b"switchboard webchat visitor v1\0";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the visitor secret must be at least {MIN_SECRET_BYTES} bytes")]
pub struct ShortSecret;

/// Issues and verifies visitor ids under one secret.
#[derive(Clone)]
pub struct VisitorSigner {
    // Keyed once; each id clones it, which skips re-deriving the HMAC pads.
    mac: HmacSha256,
}

impl fmt::Debug for VisitorSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VisitorSigner(***)")
    }
}

impl VisitorSigner {
    pub fn new(secret: &[u8]) -> Result<Self, ShortSecret> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ShortSecret);
        }
        // HMAC takes keys of any length, so this cannot fail once the length is checked.
        let mac = HmacSha256::new_from_slice(secret).map_err(|_| ShortSecret)?;
        Ok(Self { mac })
    }

    fn keyed(&self, random_hex: &str) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(DOMAIN);
        mac.update(random_hex.as_bytes());
        mac
    }

    /// The secret's MAC for another use, separated from ids (and from any other use) by
    /// its `domain`.
    pub(super) fn keyed_for(&self, domain: &[u8]) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(domain);
        mac
    }

    /// A new id from `random` (which must come from a CSPRNG).
    pub fn issue(&self, random: [u8; RANDOM_BYTES]) -> String {
        let random_hex = hex::encode(random);
        let tag = self.keyed(&random_hex).finalize().into_bytes();
        format!("{random_hex}_{}", hex::encode(&tag[..TAG_BYTES]))
    }

    /// The id of someone this server has already signed in (a portal client, by its
    /// contact): the same id each time for the same `subject`, and as unguessable as any
    /// other without the secret.
    pub fn issue_for(&self, subject: &str) -> String {
        let mut mac = self.keyed_for(b"switchboard signed-in visitor v1\0");
        mac.update(subject.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut random = [0u8; RANDOM_BYTES];
        random.copy_from_slice(&digest[..RANDOM_BYTES]);
        self.issue(random)
    }

    /// A tag that binds `subject` under the secret, for `domain`: a form carries back
    /// something the server gave it (a file stored before a question) and the server knows
    /// it gave it.
    pub fn tag(&self, domain: &[u8], subject: &str) -> String {
        let mut mac = self.keyed_for(domain);
        mac.update(subject.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `tag` is [`VisitorSigner::tag`] of `subject` for `domain` (in constant time).
    pub fn check_tag(&self, domain: &[u8], subject: &str, tag: &str) -> bool {
        let Ok(bytes) = hex::decode(tag) else {
            return false;
        };
        let mut mac = self.keyed_for(domain);
        mac.update(subject.as_bytes());
        mac.verify_slice(&bytes).is_ok()
    }

    /// Whether `id` was issued under this secret. The tag is compared in constant time, so
    /// timing tells an attacker nothing about how much of a forged tag was right.
    pub fn verify(&self, id: &str) -> bool {
        let Some((random_hex, tag_hex)) = id.split_once('_') else {
            return false;
        };
        if random_hex.len() != RANDOM_BYTES * 2
            || tag_hex.len() != TAG_BYTES * 2
            || !is_lower_hex(random_hex)
            || !is_lower_hex(tag_hex)
        {
            return false;
        }
        let Ok(tag) = hex::decode(tag_hex) else {
            return false;
        };
        self.keyed(random_hex).verify_truncated_left(&tag).is_ok()
    }
}

/// Lowercase only: one id has one spelling, so it names one contact.
fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::domain::{Identity, IdentityKind};

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn signer() -> VisitorSigner {
        VisitorSigner::new(SECRET).unwrap()
    }

    #[test]
    fn tags_bind_their_subject_domain_and_secret() {
        let s = signer();
        let t = s.tag(b"reading photo", "contact-1\0{\"blob\":\"ab\"}");
        assert!(s.check_tag(b"reading photo", "contact-1\0{\"blob\":\"ab\"}", &t));
        assert!(!s.check_tag(b"reading photo", "contact-2\0{\"blob\":\"ab\"}", &t));
        assert!(!s.check_tag(b"other use", "contact-1\0{\"blob\":\"ab\"}", &t));
        assert!(!s.check_tag(b"reading photo", "contact-1\0{\"blob\":\"ab\"}", "zz"));
        let other = VisitorSigner::new(&[9u8; 32]).unwrap();
        assert!(!other.check_tag(b"reading photo", "contact-1\0{\"blob\":\"ab\"}", &t));
    }

    #[test]
    fn issued_ids_verify_and_fit_the_visitor_identity_rule() {
        let s = signer();
        let id = s.issue([7; RANDOM_BYTES]);
        assert_eq!(id.len(), 24 + 1 + 32, "{id}");
        let (random, tag) = id.split_once('_').unwrap();
        assert_eq!(random, "07".repeat(RANDOM_BYTES));
        assert!(is_lower_hex(tag) && tag.len() == 32, "{id}");
        assert!(s.verify(&id));
        assert_eq!(
            Identity::new(IdentityKind::Visitor, &id).unwrap().value(),
            id
        );
        // The same randomness under the same secret gives the same id; other randomness,
        // another id.
        assert_eq!(s.issue([7; RANDOM_BYTES]), id);
        assert_ne!(s.issue([8; RANDOM_BYTES]), id);
    }

    #[test]
    fn a_tampered_tag_does_not_verify() {
        let s = signer();
        let id = s.issue([1; RANDOM_BYTES]);
        // Every single-character change of the tag, and a tag borrowed from another id.
        let (random, tag) = id.split_once('_').unwrap();
        for i in 0..tag.len() {
            let mut t = tag.as_bytes().to_vec();
            t[i] = if t[i] == b'0' { b'1' } else { b'0' };
            let forged = format!("{random}_{}", String::from_utf8(t).unwrap());
            assert!(!s.verify(&forged), "{forged}");
        }
        let other = s.issue([2; RANDOM_BYTES]);
        let (_, other_tag) = other.split_once('_').unwrap();
        assert!(!s.verify(&format!("{random}_{other_tag}")));
        // A changed random part with the original tag.
        let forged = format!("{}{}", "1".repeat(24), &id[24..]);
        assert!(!s.verify(&forged), "{forged}");
    }

    #[test]
    fn another_secret_does_not_verify() {
        let id = signer().issue([3; RANDOM_BYTES]);
        let other = VisitorSigner::new(b"fedcba9876543210fedcba9876543210").unwrap();
        assert!(!other.verify(&id));
        assert!(other.verify(&other.issue([3; RANDOM_BYTES])));
        assert_ne!(other.issue([3; RANDOM_BYTES]), id);
    }

    #[test]
    fn wrong_lengths_and_non_hex_do_not_verify() {
        let s = signer();
        let id = s.issue([4; RANDOM_BYTES]);
        let (random, tag) = id.split_once('_').unwrap();
        let cases = [
            String::new(),
            "_".into(),
            random.to_owned(),
            format!("{random}_"),
            format!("_{tag}"),
            format!("{random}{tag}"),
            format!("{random}_{tag}0"),
            format!("{random}_{}", &tag[..31]),
            format!("{random}0_{tag}"),
            format!("{}_{tag}", &random[..23]),
            // A shorter tag that is a correct prefix: truncation is fixed, not negotiable.
            format!("{random}_{}", &tag[..16]),
            format!("{random}_{tag}_{tag}"),
            id.to_uppercase(),
            format!("{random}_{}g", &tag[..31]),
            format!("{}x_{tag}", &random[..23]),
            format!("{random}-{tag}"),
            format!(" {id}"),
            format!("{random}_{}é", &tag[..30]),
        ];
        for case in cases {
            assert!(!s.verify(&case), "{case:?}");
        }
        assert!(s.verify(&id));
    }

    #[test]
    fn short_secrets_are_refused_and_debug_hides_the_key() {
        assert_eq!(VisitorSigner::new(b"").unwrap_err(), ShortSecret);
        assert!(VisitorSigner::new(&[0; MIN_SECRET_BYTES - 1]).is_err());
        assert!(VisitorSigner::new(&[0; MIN_SECRET_BYTES]).is_ok());
        let shown = format!("{:?}", signer());
        assert!(!shown.contains("0123"), "{shown}");
    }
}
