//! The conversation stream: durable topics with consumer groups. Redis Streams when
//! `REDIS_URL` is set; otherwise [`embedded::EmbeddedStream`], a table in the store's own
//! database. Both pass one conformance suite (`core/tests/conformance/stream.rs`).
//!
//! Contract: `append` returns only once the entry is durable; an entry read by a group
//! stays pending until acked; pending entries idle longer than a limit are reclaimed by
//! another consumer (a consumer that died mid-batch loses nothing).

pub mod embedded;
pub mod redis;

use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;

/// Topic of inbound envelopes (channel adapters → router).
pub const INBOUND: &str = "inbound";
/// Topic of outbound delivery jobs (replies → dispatcher).
pub const OUTBOUND: &str = "outbound";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Stream position, opaque to consumers.
    pub id: String,
    pub payload: String,
    /// How many times this entry has been handed out, this time included.
    pub deliveries: u64,
}

#[async_trait]
pub trait Stream: Send + Sync + std::fmt::Debug {
    /// `"redis"` or `"embedded"`.
    fn kind(&self) -> &'static str;

    /// Appends one entry; returns once it is durable.
    async fn append(&self, topic: &str, payload: &str) -> Result<String>;

    /// Appends many entries in order with one durable write (a webhook or an IMAP fetch
    /// carries many); returns their ids, in order, once all are durable.
    async fn append_batch(&self, topic: &str, payloads: &[String]) -> Result<Vec<String>>;

    /// Creates the group if missing. A new group starts at the beginning of the topic.
    async fn ensure_group(&self, topic: &str, group: &str) -> Result<()>;

    /// Hands out up to `max` entries new to the group, waiting up to `block` for some.
    async fn read(
        &self,
        topic: &str,
        group: &str,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Entry>>;

    /// Marks entries done for the group.
    async fn ack(&self, topic: &str, group: &str, ids: &[String]) -> Result<()>;

    /// Takes over up to `max` entries pending longer than `min_idle` in the group.
    async fn reclaim(
        &self,
        topic: &str,
        group: &str,
        consumer: &str,
        min_idle: Duration,
        max: usize,
    ) -> Result<Vec<Entry>>;

    /// Hands back the entries still pending for `consumer` itself, whatever their idle
    /// time: what a restarted node had taken before it stopped.
    async fn pending_for(
        &self,
        topic: &str,
        group: &str,
        consumer: &str,
        max: usize,
    ) -> Result<Vec<Entry>>;

    /// Entries not yet done by the group: not yet read plus pending.
    async fn depth(&self, topic: &str, group: &str) -> Result<u64>;

    /// Drops entries every group has acknowledged.
    async fn trim(&self, topic: &str) -> Result<()>;

    async fn health(&self) -> Result<()>;

    /// Writes anything the implementation holds back (deferred acknowledgements); called
    /// by consumers when they stop.
    async fn flush(&self) -> Result<()> {
        Ok(())
    }
}
