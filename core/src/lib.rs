//! The domain, the store, the conversation stream, the router and the dispatcher.
//!
//! Nothing here knows HTTP, HTML or a channel's wire format: channel adapters turn their
//! input into [`domain::Envelope`]s, and implement [`dispatcher::Sender`] for output.

pub mod clock;
pub mod dispatcher;
pub mod domain;
pub mod error;
pub mod metrics;
pub mod realtime;
pub mod router;
pub mod store;
pub mod stream;

pub use clock::{Clock, Ids, SystemClock};
pub use error::{Error, Result};
