//! What every surface shares, importing no surface: the shared state and the services it
//! holds (the ticket desk, the knowledge base, the email mailboxes with their readers, the WhatsApp numbers with the media fetcher),
//! sessions and CSRF, the extractors, errors with stable codes, the languages, the page
//! layout and rendering, blob responses and uploads, rate limits, response headers and
//! the billing operations agents, the API and clients all use.

pub mod api;
pub mod auth;
pub mod billing;
pub mod blobs;
pub mod desk;
pub mod equipment;
pub mod error;
pub mod handover;
pub mod http;
pub mod i18n;
pub mod kb;
pub mod limits;
pub mod machines;
pub mod mail;
pub mod notices;
pub mod notify;
pub mod oidc;
pub mod page;
pub mod reminders;
pub mod session;
pub mod settings;
pub mod state;
pub mod surveys;
pub mod uploads;
pub mod view;
pub mod visits;
pub mod webhooks;
pub mod whatsapp;
pub mod words;

pub use state::AppState;
