//! The domain, the store, the conversation stream, the router and the dispatcher.
//!
//! Nothing here knows HTTP or a channel's wire format: channel adapters turn their input
//! into [`domain::Envelope`]s, and implement [`dispatcher::Sender`] for output. Of HTML it
//! knows only how to make inbound markup safe: [`html::SanitizedHtml`].
//!
//! Module by module: domain types (`domain.rs`: channels, identities built only by parsing
//! constructors, envelopes v2, receipts, scopes, rich content, conversations, messages,
//! typed card payloads; `money.rs`: ISO 4217 currencies and minor units), the `Clock` and
//! id generator (`clock.rs`), the `Store` (`store/`: one file per area — `ingest.rs`
//! threads envelopes in named steps, `outbound.rs` queues, claims, schedules and receipts,
//! `contacts.rs` merges and proofs, `access.rs` scopes callers, tokens and tickets,
//! `secrets.rs` keeps server secrets shared by the nodes, `cards.rs`, `conversations.rs`,
//! `users.rs`), the `Stream` trait with `embedded.rs` and `redis.rs`, the `Realtime` bus,
//! the `Router`, the `Dispatcher` with its `Sender` trait and `Outbox`, conversation
//! changes with their events (`changes.rs`), the bot's seam (`bot.rs`: `BotHook` and the
//! `BotWorker` consumer group), card events (`cards.rs`), the `BlobStore` (`blob.rs`; files
//! no message carries are collected a week after they came, `Store::collect_blobs`,
//! conformance `inbound::blobs_nothing_refers_to_are_collected`) and `SanitizedHtml`
//! (`html.rs`).
//!
//! The inbox's logic: `auth.rs` (argon2id passwords, RFC 6238 TOTP, recovery codes) with
//! `store/accounts.rs` (sessions, reset and invitation links, user administration);
//! `store/inbox.rs` (views, filters, sorts, keyset pages, unread state, counts and
//! full-text search: SQLite FTS5, PostgreSQL `tsvector` with `unaccent`); `workflow.rs`
//! with `store/workflow.rs` (versioned changes, assignment with round robin, escalation,
//! snoozes, notes and mentions, merges, bulk changes, the SLA sweep, the dashboard),
//! `sla.rs` (business calendars in any time zone, targets, clocks paused while pending),
//! `canned.rs`, `mentions.rs` and `dashboard.rs`. Metrics live in `metrics.rs`. Migrations
//! run through sqlx's `Migrator` (checksummed; on PostgreSQL one node migrates at a time
//! under its advisory lock).
//!
//! `Store::session` reads a portal user's scope with the session (`Session::client`), so a
//! portal request reads the database once before its handler.

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
pub mod webhooks;
pub mod workflow;

pub use clock::{Clock, Ids, SystemClock};
pub use error::{Error, Result};
