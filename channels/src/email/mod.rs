//! The email channel. Inbound mail arrives with the whole thread quoted below (or above)
//! the few lines the customer actually wrote; agents and bots should see those lines, and
//! the rest should stay available without cluttering the conversation.
//!
//! [`split_reply`] does that split on the plain-text body. It is pure (no IO, no parsing of
//! MIME), so it can be tested on real bodies and fuzzed on its own. [`parse`] reads a raw
//! message (charsets, transfer encodings, HTML-only mail, attachments, machine-sent mail);
//! [`token`] makes and checks the `reply+<token>@` addresses that thread replies.
//!
//! The pure side: `reply.rs` splits a plain-text body into the visible reply and the
//! removed rest (quotes, "On … wrote:" lines in a dozen languages,
//! Outlook/Gmail/Apple/Thunderbird/Yahoo header blocks, forwards, signatures), `parse.rs`
//! reads a raw message with `mail-parser` 0.11 (charsets, transfer encodings, every text
//! part in order, `format=flowed` joined, HTML-only mail read by `html.rs` as a reader sees it, attachments and `cid:` parts, messages forwarded as `message/rfc822` attachments,
//! auto-replies and bounces, cut MIME marked `incomplete`), `tnef.rs` opens Outlook's
//! `winmail.dat` (its files, and its plain, HTML or compressed RTF text when the mail has
//! no other), `dsn.rs` reads a delivery
//! status notification (the returned message's id, failed or delayed, the remote server's
//! words), `envelope.rs` turns a read message into the backbone's envelope (`replies_to`
//! nearest first: the conversation a verified reply address names, In-Reply-To, References
//! from the newest, then a verified marker; its own thread key
//! `email:<first Message-ID of the chain>`; the visible reply as text, a forwarded message
//! after it as a forward, the whole text beside it), `token.rs` issues and verifies reply
//! addresses `<prefix>+<token>@` and `[ref:<token>]` markers (HMAC-SHA256, 80-bit tag),
//! `compose.rs` writes our mail (multipart text + HTML in one localized layout, thread
//! headers, `Auto-Submitted` on mail no person wrote), all pure.
//!
//! The IO: `imap.rs` (`async-imap` over TCP, STARTTLS or TLS with rustls; password,
//! `XOAUTH2` or `OAUTHBEARER`; UID search, fetch in batches with sizes first, mark
//! processed, IDLE), `smtp.rs` (the email `Sender`, `lettre`: 2xx sent, 4xx/refused/timeout
//! transient, 5xx permanent; the Message-ID is our message id at the mailbox's domain, so a
//! retry carries the same id), `oauth.rs` (refresh-token exchange, access token kept until
//! a minute before expiry) and `server.rs` (URLs, TLS roots: STARTTLS is required off this
//! machine; on it, used when a CA file is given, plain text otherwise).

#[cfg(feature = "io")]
pub mod compose;
#[cfg(feature = "io")]
pub mod dsn;
#[cfg(feature = "io")]
pub mod envelope;
mod html;
#[cfg(feature = "io")]
pub mod imap;
mod legacy;
#[cfg(feature = "io")]
pub mod oauth;
pub mod parse;
mod reply;
#[cfg(feature = "io")]
pub mod server;
#[cfg(feature = "io")]
pub mod smtp;
pub mod tnef;
#[cfg(feature = "io")]
pub mod token;

pub use reply::{Split, split_reply};
