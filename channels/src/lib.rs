//! Channel adapters. Each turns its wire input into normalized
//! [`switchboard_core::domain::Envelope`]s and implements the outbound
//! [`switchboard_core::dispatcher::Sender`] for its channel. Parsing is pure: no IO, no
//! HTTP framework, so it can be tested and fuzzed on its own.
//!
//! **Architecture Invariant:** `channels` knows nothing about axum or SQL; parsing does no
//! IO.
//!
//! Adding a channel: a module here that turns wire input into `Envelope`s (pure parsing, no
//! IO; identities through their constructors; HTML through `SanitizedHtml::sanitize_with`;
//! attachments through the `BlobStore`; a thread key and `replies_to` for threading;
//! `auto_submitted` for noise) and appends them with `Stream::append_batch` before
//! answering the sender; receipts as `Inbound::Receipt`. Its `Sender` gets an `Outgoing`
//! (recipients, references, subject, inbox settings, rich content) and answers `Transient`
//! (with a retry-after) or `Permanent`. Register the sender in `gateway/src/app.rs`.

//! Without the default `io` feature only the pure readers build: `email::parse`,
//! `email::split_reply` and `whatsapp::read` (what the fuzz targets take).

pub mod email;
#[cfg(feature = "io")]
pub mod portal;
#[cfg(feature = "io")]
pub mod webchat;
pub mod whatsapp;
