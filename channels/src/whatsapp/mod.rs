//! WhatsApp Business Cloud API.
//!
//! - [`webhook::read`] turns one webhook delivery (the JSON Meta POSTs) into normalized
//!   events: one per message, status or system notice it carries, in order, none dropped.
//!   A message of a kind this reader does not know is kept as `unsupported` with its raw
//!   payload; only a body that is not a WhatsApp webhook at all is refused, with the reason.
//! - [`inbound`] makes each event a stream entry: a message an envelope (its words, and what
//!   it carries besides as rich content), a status a delivery receipt.
//! - [`outbound`] builds the JSON we send and reads Meta's answers (pure).
//! - [`sender`] is the IO: the Graph API client and the dispatcher's `Sender`.
//! - [`signature`] checks `X-Hub-Signature-256`.

#[cfg(feature = "io")]
pub mod inbound;
#[cfg(feature = "io")]
pub mod outbound;
#[cfg(feature = "io")]
pub mod sender;
#[cfg(feature = "io")]
pub mod signature;
pub mod webhook;

pub use webhook::{Event, ReadError, read};
