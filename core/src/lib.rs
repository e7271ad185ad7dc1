//! The domain, the store, the conversation stream, the router and the dispatcher.
//!
//! Nothing here knows HTTP or a channel's wire format: channel adapters turn their input
//! into [`domain::Envelope`]s, and implement [`dispatcher::Sender`] for output. Of HTML it
//! knows only how to make inbound markup safe: [`html::SanitizedHtml`].

pub mod auth;
pub mod blob;
pub mod bot;
pub mod canned;
pub mod cards;
pub mod changes;
pub mod clock;
pub mod dashboard;
pub mod dispatcher;
pub mod domain;
pub mod error;
pub mod html;
pub mod mentions;
pub mod metrics;
pub mod money;
pub mod realtime;
pub mod router;
pub mod sla;
pub mod store;
pub mod stream;
pub mod text;
pub mod workflow;

pub use clock::{Clock, Ids, SystemClock};
pub use error::{Error, Result};
