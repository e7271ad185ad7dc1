//! Files a visitor sends: images (PNG, JPEG, GIF, WebP) and PDF only, told by their
//! content and never by their name; named so that a saved copy opens as what it is; and
//! vouched for by a receipt the server signs when it stores the upload, so a message can
//! carry only a file this server stored for this visitor, with the type it found.

use hmac::Mac;
use serde::{Deserialize, Serialize};
use switchboard_core::blob::{BlobKey, KnownType};
use switchboard_core::domain::Attachment;

use super::visitor::VisitorSigner;

/// Files one message may carry.
pub const MAX_ATTACHMENTS: usize = 4;
/// Longest file name kept, in characters (the extension is kept whole).
pub const MAX_NAME_CHARS: usize = 100;
/// Bytes of the receipt's truncated tag.
const RECEIPT_BYTES: usize = 16;
/// Separates receipts from visitor ids signed under the same secret.
const DOMAIN: &[u8] = b"switchboard webchat attachment v1\0";

/// The type of an upload, if the widget accepts it: its magic bytes decide.
pub fn accepted_type(head: &[u8]) -> Option<KnownType> {
    KnownType::sniff(head)
}

fn extensions(t: KnownType) -> &'static [&'static str] {
    match t {
        KnownType::Png => &["png"],
        KnownType::Jpeg => &["jpg", "jpeg", "jpe", "jfif"],
        KnownType::Gif => &["gif"],
        KnownType::Webp => &["webp"],
        KnownType::Pdf => &["pdf"],
    }
}

/// A safe name for an upload of type `t`: the last path part of what the visitor's
/// browser said, without control characters, at most [`MAX_NAME_CHARS`], ending in an
/// extension of its real type (`photo.html` holding a PNG becomes `photo.html.png`), so
/// a downloaded copy never opens as something else.
pub fn file_name(raw: &str, t: KnownType) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| {
            !c.is_control() && !matches!(c, '"' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    let ext = t.extension();
    let has_ext = cleaned.rsplit_once('.').is_some_and(|(stem, e)| {
        !stem.is_empty() && extensions(t).iter().any(|x| x.eq_ignore_ascii_case(e))
    });
    let (stem, suffix) = if cleaned.is_empty() {
        (
            if t.is_image() { "image" } else { "document" },
            format!(".{ext}"),
        )
    } else if has_ext {
        let (stem, e) = cleaned.rsplit_once('.').unwrap_or((cleaned, ext));
        (stem, format!(".{e}"))
    } else {
        (cleaned, format!(".{ext}"))
    };
    let room = MAX_NAME_CHARS.saturating_sub(suffix.chars().count());
    let stem: String = stem.chars().take(room).collect();
    format!("{}{suffix}", stem.trim_end())
}

/// An attachment as the upload answers it and as a message names it again: what was
/// stored, and the server's receipt for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Uploaded {
    pub name: String,
    pub mime: String,
    pub size: u64,
    pub blob: String,
    pub token: String,
}

impl VisitorSigner {
    fn receipt_mac(
        &self,
        visitor: &str,
        name: &str,
        mime: &str,
        size: u64,
        blob: &str,
    ) -> super::visitor::HmacSha256 {
        let mut mac = self.keyed_for(DOMAIN);
        for part in [visitor, blob, mime, &size.to_string(), name] {
            mac.update(part.as_bytes());
            mac.update(b"\0");
        }
        mac
    }

    /// The upload answer for `attachment`, stored for `visitor`.
    pub fn receipt(&self, visitor: &str, attachment: &Attachment) -> Uploaded {
        let tag = self
            .receipt_mac(
                visitor,
                &attachment.name,
                &attachment.mime,
                attachment.size,
                attachment.blob.as_str(),
            )
            .finalize()
            .into_bytes();
        Uploaded {
            name: attachment.name.clone(),
            mime: attachment.mime.clone(),
            size: attachment.size,
            blob: attachment.blob.as_str().to_owned(),
            token: hex::encode(&tag[..RECEIPT_BYTES]),
        }
    }

    /// The attachment a message names, if its receipt was signed here for this visitor
    /// (so its type and size are the ones the server found); `None` otherwise.
    pub fn check_receipt(&self, visitor: &str, u: &Uploaded) -> Option<Attachment> {
        let tag = hex::decode(&u.token)
            .ok()
            .filter(|t| t.len() == RECEIPT_BYTES)?;
        self.receipt_mac(visitor, &u.name, &u.mime, u.size, &u.blob)
            .verify_truncated_left(&tag)
            .ok()?;
        KnownType::from_mime(&u.mime)?;
        Some(Attachment {
            name: u.name.clone(),
            mime: u.mime.clone(),
            size: u.size,
            blob: BlobKey::parse(&u.blob).ok()?,
            content_id: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_and_control_characters_and_end_in_their_real_type() {
        let cases = [
            ("photo.png", KnownType::Png, "photo.png"),
            ("IMG_0042.JPEG", KnownType::Jpeg, "IMG_0042.JPEG"),
            ("scan.jpg", KnownType::Jpeg, "scan.jpg"),
            (
                "C:\\Users\\ana\\Desktop\\invoice.pdf",
                KnownType::Pdf,
                "invoice.pdf",
            ),
            ("../../etc/passwd", KnownType::Png, "passwd.png"),
            ("evil.html", KnownType::Png, "evil.html.png"),
            ("report.pdf.exe", KnownType::Pdf, "report.pdf.exe.pdf"),
            ("bad\u{0}na\nme\".gif", KnownType::Gif, "badname.gif"),
            ("gnp.\u{202e}exe", KnownType::Png, "gnp.exe.png"),
            (".hidden", KnownType::Webp, "hidden.webp"),
            (".png", KnownType::Png, "png.png"),
            ("", KnownType::Png, "image.png"),
            ("   ", KnownType::Pdf, "document.pdf"),
            ("/", KnownType::Gif, "image.gif"),
        ];
        for (raw, t, want) in cases {
            assert_eq!(file_name(raw, t), want, "{raw:?}");
        }
        let long = format!("{}.png", "é".repeat(300));
        let name = file_name(&long, KnownType::Png);
        assert_eq!(name.chars().count(), MAX_NAME_CHARS);
        assert!(name.ends_with(".png"));
    }

    fn signer() -> VisitorSigner {
        VisitorSigner::new(b"0123456789abcdef0123456789abcdef").unwrap()
    }

    fn photo() -> Attachment {
        Attachment {
            name: "printer.png".into(),
            mime: "image/png".into(),
            size: 2048,
            blob: BlobKey::of(b"printer"),
            content_id: None,
        }
    }

    #[test]
    fn a_receipt_vouches_for_exactly_what_was_stored_for_that_visitor() {
        let s = signer();
        let a = photo();
        let u = s.receipt("v1", &a);
        assert_eq!(u.token.len(), RECEIPT_BYTES * 2);
        assert_eq!(s.check_receipt("v1", &u), Some(a.clone()));
        // Another visitor, or any field changed, or another secret: refused.
        assert_eq!(s.check_receipt("v2", &u), None);
        let changed = [
            Uploaded {
                name: "printer.html".into(),
                ..u.clone()
            },
            Uploaded {
                mime: "text/html".into(),
                ..u.clone()
            },
            Uploaded {
                size: 1,
                ..u.clone()
            },
            Uploaded {
                blob: BlobKey::of(b"other").as_str().into(),
                ..u.clone()
            },
            Uploaded {
                token: "00".repeat(RECEIPT_BYTES),
                ..u.clone()
            },
            Uploaded {
                token: u.token[..16].into(),
                ..u.clone()
            },
            Uploaded {
                token: "not hex".into(),
                ..u.clone()
            },
        ];
        for c in changed {
            assert_eq!(s.check_receipt("v1", &c), None, "{c:?}");
        }
        let other = VisitorSigner::new(b"fedcba9876543210fedcba9876543210").unwrap();
        assert_eq!(other.check_receipt("v1", &u), None);
        // A receipt is not a visitor id, and a visitor id is not a receipt.
        assert!(!s.verify(&u.token));
        // Only the accepted types are ever vouched for, even if signed.
        let html = Attachment {
            mime: "text/html".into(),
            ..a
        };
        assert_eq!(s.check_receipt("v1", &s.receipt("v1", &html)), None);
    }
}
