//! End-to-end tests: the real binary, real PostgreSQL and Redis, real sockets.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup should stop the test

mod graph;
mod support;

mod api;
mod cluster;
mod crash;
mod email;
mod equipment;
mod inbox;
mod kb;
mod lifecycle;
mod mail;
mod ops;
mod portal;
mod realtime;
mod stripe;
mod surveys;
mod tickets;
mod trust;
mod webchat;
mod webhooks;
mod whatsapp;
