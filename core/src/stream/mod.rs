//! The conversation stream: durable topics with consumer groups. Redis Streams when
//! `REDIS_URL` is set; otherwise [`embedded::EmbeddedStream`], a table in the store's own
//! database. Both pass one conformance suite (`core/tests/conformance/stream.rs`).
//!
//! Contract: `append` returns only once the entry is durable; an entry read by a group
//! stays pending until acked; pending entries idle longer than a limit are reclaimed by
//! another consumer (a consumer that died mid-batch loses nothing).
//!
//! **Architecture Invariant:** a consumer never drops a read that may have claimed entries
//! (reads are not raced against shutdown), and consumer names are stable per process and
//! never shared by two processes: `SWITCHBOARD_NODE_ID`, or the host, a tag of the data
//! directory and a slot held by a file lock
//! (`app::tests::two_processes_on_one_host_never_share_a_consumer_name`); so a restarted
//! node resumes its own pending entries at once (`Stream::pending_for`); other nodes' dead
//! entries are reclaimed after an idle time.
//!
//! Adding a consumer: a group name of its own on a topic (`ensure_group`), a consumer name
//! from `AppState::consumer_name`, `pending_for` at start, `stream::consume` for the read
//! loop (bounded concurrency, housekeeping, graceful stop), `reclaim` in housekeeping, and
//! effects made idempotent in the database (a unique key), since entries can be handed out
//! again; acknowledge after the effect commits.

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

    /// Takes over up to `max` entries pending for other consumers of the group that have
    /// not asked the stream for anything for `silent` or longer (their node died), once
    /// the entries themselves are as old: sooner than [`Stream::reclaim`]'s idle time,
    /// which must outlast a slow batch of a live consumer. The call also marks `consumer`
    /// alive for `silent`: one that calls this more often than that is never taken from.
    /// Several takers never share an entry (the first resets its idle time). One
    /// process's embedded stream has no other consumers.
    async fn reclaim_from_silent(
        &self,
        _topic: &str,
        _group: &str,
        _consumer: &str,
        _silent: Duration,
        _max: usize,
    ) -> Result<Vec<Entry>> {
        Ok(Vec::new())
    }

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

/// How a worker consumes a group (the dispatcher's and the bot's loops).
#[derive(Debug, Clone)]
pub struct Consume<'a> {
    pub topic: &'a str,
    pub group: &'a str,
    pub consumer: &'a str,
    /// Entries handled at once.
    pub concurrency: usize,
    /// How long a read waits for entries (it is not raced against shutdown: a read
    /// dropped after it claimed entries would leave them pending until reclaimed).
    pub block: std::time::Duration,
    /// How often `housekeeping` runs.
    pub every: std::time::Duration,
}

/// Reads the group's entries until `shutdown`, handing each to `handle` on a task of its
/// own (at most `concurrency` at once) and running `housekeeping` every so often; then
/// lets the tasks under way finish and flushes what the stream holds back.
pub async fn consume<H, HF, K, KF>(
    stream: &std::sync::Arc<dyn Stream>,
    how: Consume<'_>,
    shutdown: &tokio_util::sync::CancellationToken,
    handle: H,
    mut housekeeping: K,
) where
    H: Fn(Entry) -> HF,
    HF: std::future::Future<Output = ()> + Send + 'static,
    K: FnMut() -> KF,
    KF: std::future::Future<Output = ()>,
{
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(how.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut last_housekeeping = tokio::time::Instant::now();
    while !shutdown.is_cancelled() {
        match stream
            .read(how.topic, how.group, how.consumer, 64, how.block)
            .await
        {
            Ok(entries) => {
                for entry in entries {
                    let Ok(permit) = permits.clone().acquire_owned().await else {
                        break;
                    };
                    let work = handle(entry);
                    tasks.spawn(async move {
                        work.await;
                        drop(permit);
                    });
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, topic = how.topic, group = how.group, "cannot read the stream");
                // The stream may have lost its group (a Redis restarted without its data).
                let _ = stream.ensure_group(how.topic, how.group).await;
                tokio::select! {
                    () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {},
                    () = shutdown.cancelled() => break,
                }
            }
        }
        while tasks.try_join_next().is_some() {}
        if last_housekeeping.elapsed() >= how.every {
            last_housekeeping = tokio::time::Instant::now();
            housekeeping().await;
        }
    }
    while tasks.join_next().await.is_some() {}
    if let Err(e) = stream.flush().await {
        tracing::warn!(error = %e, group = how.group, "could not flush the stream");
    }
}
