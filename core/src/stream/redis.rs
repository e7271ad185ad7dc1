//! Redis Streams: `XADD`, consumer groups with `XREADGROUP`, `XACK`, and `XAUTOCLAIM` for
//! entries a dead consumer left pending. One key per topic under the configured prefix.
//!
//! Durability is Redis's own: run it with `appendonly yes` (see docs/OPERATIONS.md).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::streams::{
    StreamAutoClaimReply, StreamClaimReply, StreamInfoConsumersReply, StreamInfoGroupsReply,
    StreamPendingCountReply, StreamReadReply,
};
use tokio::sync::Mutex;

use super::{Entry, Stream};
use crate::error::{Error, Result};

const FIELD: &str = "p";

#[derive(Clone)]
pub struct RedisStream {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
    /// Connections for blocking reads: a blocked `XREADGROUP` would hold up every other
    /// command on a shared connection.
    blocking: Arc<Mutex<Vec<ConnectionManager>>>,
}

impl fmt::Debug for RedisStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStream")
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// Commands fail fast while Redis is away (one reconnect try each), so callers see the
/// outage at once instead of queueing behind a long reconnect.
pub(crate) fn config(response_timeout: Duration) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(response_timeout))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500))
}

/// Runs a command again when the connection broke under it: after Redis restarts, the
/// first command on each old connection fails with a broken pipe while the manager
/// reconnects. Only for commands whose repetition is harmless (a repeated XADD is
/// deduplicated downstream by the envelope's idempotency key).
pub(crate) async fn retry_dropped<T, F, Fut>(mut f: F) -> redis::RedisResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = redis::RedisResult<T>>,
{
    let mut tries = 0;
    loop {
        match f().await {
            Err(e) if tries < 2 && (e.is_connection_dropped() || e.is_io_error()) => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(50 * tries)).await;
            }
            other => return other,
        }
    }
}

fn entry_of(id: &redis::streams::StreamId, deliveries: u64) -> Result<Entry> {
    let payload: String = id
        .get(FIELD)
        .ok_or_else(|| Error::Stream(format!("entry {} has no payload", id.id)))?;
    Ok(Entry {
        id: id.id.clone(),
        payload,
        deliveries,
    })
}

/// Parses a stream id `ms-seq` into a sortable pair.
fn id_pair(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

impl RedisStream {
    pub async fn connect(url: &str, prefix: &str) -> Result<Self> {
        let client = redis::Client::open(url)?;
        let conn =
            ConnectionManager::new_with_config(client.clone(), config(Duration::from_secs(5)))
                .await?;
        Ok(Self {
            client,
            conn,
            prefix: prefix.to_owned(),
            blocking: Arc::new(Mutex::new(Vec::new())),
        })
    }

    pub fn key(&self, topic: &str) -> String {
        format!("{}:stream:{}", self.prefix, topic)
    }

    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    async fn blocking_conn(&self, block: Duration) -> Result<ConnectionManager> {
        if let Some(c) = self.blocking.lock().await.pop() {
            return Ok(c);
        }
        Ok(ConnectionManager::new_with_config(
            self.client.clone(),
            config(block + Duration::from_secs(5)),
        )
        .await?)
    }

    /// Entries this consumer has just claimed, with their delivery counts.
    async fn taken(
        &self,
        topic: &str,
        group: &str,
        consumer: &str,
        claimed: &[redis::streams::StreamId],
    ) -> Result<Vec<Entry>> {
        let ids: Vec<String> = claimed.iter().map(|c| c.id.clone()).collect();
        // The entries are ours now; a failed count must not leave them waiting another
        // idle period, so an unknown count reads as a redelivery.
        let deliveries = match self.deliveries(topic, group, consumer, &ids).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "delivery counts unknown for reclaimed entries");
                vec![2; ids.len()]
            }
        };
        claimed
            .iter()
            .zip(deliveries)
            .map(|(id, d)| entry_of(id, d))
            .collect()
    }

    async fn deliveries(
        &self,
        topic: &str,
        group: &str,
        consumer: &str,
        ids: &[String],
    ) -> Result<Vec<u64>> {
        let (Some(first), Some(last)) = (ids.first(), ids.last()) else {
            return Ok(Vec::new());
        };
        let reply: StreamPendingCountReply = redis::cmd("XPENDING")
            .arg(self.key(topic))
            .arg(group)
            .arg(first)
            .arg(last)
            .arg(ids.len())
            .arg(consumer)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(ids
            .iter()
            .map(|id| {
                reply
                    .ids
                    .iter()
                    .find(|p| &p.id == id)
                    .map_or(2, |p| u64::try_from(p.times_delivered).unwrap_or(2))
            })
            .collect())
    }
}

#[async_trait]
impl Stream for RedisStream {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn append(&self, topic: &str, payload: &str) -> Result<String> {
        let key = self.key(topic);
        let id: String = retry_dropped(|| {
            let mut conn = self.conn.clone();
            let cmd = redis::cmd("XADD")
                .arg(&key)
                .arg("*")
                .arg(FIELD)
                .arg(payload)
                .to_owned();
            async move { cmd.query_async(&mut conn).await }
        })
        .await?;
        Ok(id)
    }

    /// One `MULTI`/`EXEC` of `XADD`s: all the entries are added, or none.
    async fn append_batch(&self, topic: &str, payloads: &[String]) -> Result<Vec<String>> {
        if payloads.is_empty() {
            return Ok(Vec::new());
        }
        let key = self.key(topic);
        let mut pipe = redis::pipe();
        pipe.atomic();
        for p in payloads {
            pipe.cmd("XADD").arg(&key).arg("*").arg(FIELD).arg(p);
        }
        let ids: Vec<String> = retry_dropped(|| {
            let mut conn = self.conn.clone();
            let pipe = pipe.clone();
            async move { pipe.query_async(&mut conn).await }
        })
        .await?;
        Ok(ids)
    }

    async fn ensure_group(&self, topic: &str, group: &str) -> Result<()> {
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(self.key(topic))
            .arg(group)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut self.conn.clone())
            .await;
        match created {
            Ok(()) => Ok(()),
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn read(
        &self,
        topic: &str,
        group: &str,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Entry>> {
        let mut conn = self.blocking_conn(block).await?;
        let reply: redis::RedisResult<Option<StreamReadReply>> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(group)
            .arg(consumer)
            .arg("COUNT")
            .arg(max.max(1))
            .arg("BLOCK")
            .arg(u64::try_from(block.as_millis()).unwrap_or(1000).max(1))
            .arg("STREAMS")
            .arg(self.key(topic))
            .arg(">")
            .query_async(&mut conn)
            .await;
        let reply = reply?;
        self.blocking.lock().await.push(conn);
        let mut out = Vec::new();
        for key in reply.map(|r| r.keys).unwrap_or_default() {
            for id in &key.ids {
                out.push(entry_of(id, 1)?);
            }
        }
        Ok(out)
    }

    async fn ack(&self, topic: &str, group: &str, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let _: i64 = redis::cmd("XACK")
            .arg(self.key(topic))
            .arg(group)
            .arg(ids)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    async fn reclaim(
        &self,
        topic: &str,
        group: &str,
        consumer: &str,
        min_idle: Duration,
        max: usize,
    ) -> Result<Vec<Entry>> {
        // XAUTOCLAIM scans a bounded part of the pending list per call: follow its cursor
        // so an idle entry behind many newer ones is still reached (a few calls at most).
        let mut claimed = Vec::new();
        let mut start = "0-0".to_owned();
        for _ in 0..16 {
            let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
                .arg(self.key(topic))
                .arg(group)
                .arg(consumer)
                .arg(u64::try_from(min_idle.as_millis()).unwrap_or(u64::MAX))
                .arg(&start)
                .arg("COUNT")
                .arg(max.max(1).saturating_sub(claimed.len()).max(1))
                .query_async(&mut self.conn.clone())
                .await?;
            claimed.extend(reply.claimed);
            start = reply.next_stream_id;
            if start == "0-0" || claimed.len() >= max.max(1) {
                break;
            }
        }
        self.taken(topic, group, consumer, &claimed).await
    }

    async fn reclaim_from_silent(
        &self,
        topic: &str,
        group: &str,
        consumer: &str,
        silent: Duration,
        max: usize,
    ) -> Result<Vec<Entry>> {
        // Redis's idle time of a consumer is since it last got or claimed entries (before
        // 7.2 a read that finds nothing new does not count), so a live consumer on a quiet
        // stream looks idle: each caller also says it is alive in a key that lives
        // `silent`, and only a consumer with neither is taken from.
        let silent_ms = u64::try_from(silent.as_millis()).unwrap_or(u64::MAX).max(1);
        let alive = |name: &str| format!("{}:alive:{group}:{name}", self.key(topic));
        redis::cmd("SET")
            .arg(alive(consumer))
            .arg(1)
            .arg("PX")
            .arg(silent_ms)
            .query_async::<()>(&mut self.conn.clone())
            .await?;
        let info: StreamInfoConsumersReply = redis::cmd("XINFO")
            .arg("CONSUMERS")
            .arg(self.key(topic))
            .arg(group)
            .query_async(&mut self.conn.clone())
            .await?;
        let mut claimed = Vec::new();
        for gone in info.consumers.iter().filter(|c| {
            c.name != consumer && c.pending > 0 && u64::try_from(c.idle).unwrap_or(0) >= silent_ms
        }) {
            let room = max.max(1).saturating_sub(claimed.len());
            if room == 0 {
                break;
            }
            let live: bool = redis::cmd("EXISTS")
                .arg(alive(&gone.name))
                .query_async(&mut self.conn.clone())
                .await?;
            if live {
                continue;
            }
            let pending: StreamPendingCountReply = redis::cmd("XPENDING")
                .arg(self.key(topic))
                .arg(group)
                .arg("IDLE")
                .arg(silent_ms)
                .arg("-")
                .arg("+")
                .arg(room)
                .arg(&gone.name)
                .query_async(&mut self.conn.clone())
                .await?;
            if pending.ids.is_empty() {
                continue;
            }
            tracing::info!(
                consumer = %gone.name,
                silent_ms = gone.idle,
                entries = pending.ids.len(),
                "taking over a silent consumer's entries"
            );
            let reply: StreamClaimReply = redis::cmd("XCLAIM")
                .arg(self.key(topic))
                .arg(group)
                .arg(consumer)
                .arg(silent_ms)
                .arg(
                    pending
                        .ids
                        .iter()
                        .map(|p| p.id.as_str())
                        .collect::<Vec<_>>(),
                )
                .query_async(&mut self.conn.clone())
                .await?;
            claimed.extend(reply.ids);
        }
        self.taken(topic, group, consumer, &claimed).await
    }

    async fn pending_for(
        &self,
        topic: &str,
        group: &str,
        consumer: &str,
        max: usize,
    ) -> Result<Vec<Entry>> {
        // Reading from id 0 instead of `>` returns the consumer's own pending entries.
        let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(group)
            .arg(consumer)
            .arg("COUNT")
            .arg(max.max(1))
            .arg("STREAMS")
            .arg(self.key(topic))
            .arg("0")
            .query_async(&mut self.conn.clone())
            .await?;
        let ids: Vec<redis::streams::StreamId> = reply
            .map(|r| r.keys)
            .unwrap_or_default()
            .into_iter()
            .flat_map(|k| k.ids)
            .collect();
        let names: Vec<String> = ids.iter().map(|i| i.id.clone()).collect();
        let deliveries = self.deliveries(topic, group, consumer, &names).await?;
        // An entry trimmed away while pending comes back without fields: nothing to redo.
        ids.iter()
            .zip(deliveries)
            .filter(|(id, _)| id.map.contains_key(FIELD))
            .map(|(id, d)| entry_of(id, d))
            .collect()
    }

    async fn depth(&self, topic: &str, group: &str) -> Result<u64> {
        let info: redis::RedisResult<StreamInfoGroupsReply> = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(self.key(topic))
            .query_async(&mut self.conn.clone())
            .await;
        let info = match info {
            Ok(i) => i,
            Err(e) if e.to_string().contains("no such key") => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        Ok(info
            .groups
            .iter()
            .find(|g| g.name == group)
            .map_or(0, |g| (g.lag.unwrap_or(0) + g.pending) as u64))
    }

    async fn trim(&self, topic: &str) -> Result<()> {
        let key = self.key(topic);
        let info: StreamInfoGroupsReply = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(&key)
            .query_async(&mut self.conn.clone())
            .await?;
        let mut keep_from: Option<(u64, u64)> = None;
        for g in &info.groups {
            // Keep everything from the oldest pending entry, or else from the last one
            // delivered to this group.
            let mut oldest = id_pair(&g.last_delivered_id);
            if g.pending > 0 {
                let summary: (i64, Option<String>, Option<String>, redis::Value) =
                    redis::cmd("XPENDING")
                        .arg(&key)
                        .arg(&g.name)
                        .query_async(&mut self.conn.clone())
                        .await?;
                if let Some(min) = summary.1 {
                    oldest = oldest.min(id_pair(&min));
                }
            }
            keep_from = Some(keep_from.map_or(oldest, |k| k.min(oldest)));
        }
        if let Some((ms, seq)) = keep_from {
            let _: i64 = redis::cmd("XTRIM")
                .arg(&key)
                .arg("MINID")
                .arg(format!("{ms}-{seq}"))
                .query_async(&mut self.conn.clone())
                .await?;
        }
        Ok(())
    }

    async fn health(&self) -> Result<()> {
        let _: String = redis::cmd("PING")
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }
}
