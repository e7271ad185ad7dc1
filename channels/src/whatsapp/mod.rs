//! WhatsApp Business Cloud API: the pure side. [`webhook::read`] turns one webhook
//! delivery (the JSON Meta POSTs) into normalized events: one per message, status or
//! system notice it carries, in order, none dropped. A message of a kind this reader does
//! not know is kept as `unsupported` with its raw payload; only a body that is not a
//! WhatsApp webhook at all is refused, with the reason.
//!
//! No IO here: the signature check, media download, the `Sender` and the gateway wiring
//! build on these types.

pub mod webhook;

pub use webhook::{Event, ReadError, read};
