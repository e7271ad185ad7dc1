//! Channel adapters. Each turns its wire input into normalized
//! [`switchboard_core::domain::Envelope`]s and implements the outbound
//! [`switchboard_core::dispatcher::Sender`] for its channel. Parsing is pure: no IO, no
//! HTTP framework, so it can be tested and fuzzed on its own.

pub mod email;
pub mod portal;
pub mod webchat;
