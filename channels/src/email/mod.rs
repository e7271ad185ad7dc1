//! The email channel. Inbound mail arrives with the whole thread quoted below (or above)
//! the few lines the customer actually wrote; agents and bots should see those lines, and
//! the rest should stay available without cluttering the conversation.
//!
//! [`split_reply`] does that split on the plain-text body. It is pure (no IO, no parsing of
//! MIME), so it can be tested on real bodies and fuzzed on its own. [`parse`] reads a raw
//! message (charsets, transfer encodings, HTML-only mail, attachments, machine-sent mail);
//! [`token`] makes and checks the `reply+<token>@` addresses that thread replies.

pub mod compose;
pub mod dsn;
pub mod envelope;
pub mod imap;
pub mod oauth;
pub mod parse;
mod reply;
pub mod server;
pub mod smtp;
pub mod token;

pub use reply::{Split, split_reply};
