#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup should stop the test

//! One conformance suite for the core's seams, run on every backend pair: SQLite and
//! PostgreSQL stores, embedded and Redis streams.

mod support;

mod access;
mod accounts;
mod attachments;
mod billing;
mod bot;
mod client_companies;
mod contracts;
mod dispatcher;
mod email;
mod equipment;
mod inbound;
mod inbox;
mod kb;
mod magic_links;
mod notices;
mod notifications;
mod portal;
mod rate_limits;
mod router;
mod sites;
mod sso;
mod store;
mod stream;
mod surveys;
mod threads;
mod tickets;
mod visits;
mod webhooks;
mod whatsapp;
mod workflow;
