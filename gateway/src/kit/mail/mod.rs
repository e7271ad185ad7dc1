//! The email mailboxes (the configuration file's and the settings page's), their IMAP
//! readers, the intake every mail goes through (webhook or IMAP), and the notices mailed
//! to clients.
//!
//! `intake.rs` is the one path every message takes, from IMAP or HTTP (the relay webhook in
//! `email/mod.rs`): read, attachments and inline images kept as blobs (any over
//! `email.max_attachment_bytes` named after the text), a verified reply address or marker
//! resolved to its conversation's newest sent message, machine mail, our own mail and our
//! own Message-IDs coming back marked so they open nothing, a sender over its hourly
//! allowance held back, a bounce of ours turned into a failed-delivery receipt.
//!
//! `poller.rs` reads each IMAP mailbox: select, compare UIDVALIDITY with the cursor in
//! `email_cursors`, list UIDs after the cursor (or the backfill window), fetch 200 at a
//! time, append the batch's envelopes to the inbound stream in one call, and only then mark
//! them processed on the server and move the cursor; a message that cannot be read is
//! logged and passed. A crash or a server restart between those steps loses nothing:
//! unmarked messages are fetched again and their idempotency keys store them once. With
//! several nodes on one database, one reads each mailbox: it holds the mailbox's lease in
//! `email_leases` and renews it every round and every batch (IDLE waits at most 30 s; the
//! lease lasts 90 s); the others try every 5 s and take over when it lapses, or at once
//! when the holder stops and lets go (conformance
//! `email::a_mailbox_is_read_by_one_node_at_a_time`, e2e
//! `mail::two_nodes_share_a_mailbox_one_reading_at_a_time`).
//!
//! `mailboxes.rs` holds the inboxes this node serves (the configuration file's and those
//! added on the settings page, kept in `email_mailboxes` with their credentials) and each
//! IMAP mailbox's reader task: a page change restarts that reader and updates the sender at
//! once (e2e `mail::a_mailbox_added_on_the_settings_page_reads_and_sends_at_once`).
//! `notices.rs` mails a status notice (a `workflow::StatusNotices` hook) through the
//! conversation, throttled per conversation in `email_notices` and skipped for contacts who
//! want none.
//!
//! Tests against real servers (`tests/support/mailserver.py`: Dovecot for IMAP and LMTP run
//! as `nobody` from a config in a temp dir, a capturing `aiosmtpd` SMTP server relaying to
//! it, and an OAuth2 token and introspection endpoint for Dovecot's `oauth2` passdb): e2e
//! `mail::a_customer_thread_round_trips_through_real_servers`,
//! `mail::server_restarts_and_outages_lose_nothing_and_send_nothing_twice` (PostgreSQL +
//! Redis), `mail::oauth2_mailboxes_log_in_with_refresh_tokens_over_tls`; the relay path's
//! tests are listed in `email/mod.rs`; the store's email rows on every backend in
//! conformance `email::*`.

pub mod intake;
pub mod mailboxes;
pub mod notices;
pub mod poller;
