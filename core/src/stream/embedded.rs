//! The embedded stream: entries in the store's database, appended through one writer task
//! that commits concurrent appends together (group commit), so durability costs one sync
//! per batch rather than per entry.
//!
//! **Architecture Invariant:** the embedded stream takes entry sequence numbers from a
//! counter row locked until commit, so sequence order is commit order and a consumer
//! group's cursor never skips an entry that committed late. A batch append is one
//! transaction (embedded) or one `MULTI`/`EXEC` (Redis, `redis.rs`)
//! (`inbound::a_batch_is_appended_and_acknowledged_in_one_call`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, Row};
use tokio::sync::{Notify, mpsc, oneshot};

use super::{Entry, Stream};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::store::Store;

/// The most entries one group commit or one read takes.
const MAX_BATCH: usize = 512;
/// How long the writer waits for more appends before committing a small batch.
const APPEND_LINGER: Duration = Duration::from_millis(1);
/// How long a woken reader waits for more entries before claiming.
const READ_LINGER: Duration = Duration::from_millis(3);
/// How often a reader looks for entries appended by other nodes.
const POLL: Duration = Duration::from_millis(100);

struct AppendRequest {
    topic: String,
    payloads: Vec<String>,
    /// The sequence number of the request's first entry.
    reply: oneshot::Sender<Result<i64, String>>,
}

#[derive(Clone)]
pub struct EmbeddedStream {
    store: Store,
    clock: Arc<dyn Clock>,
    appends: mpsc::Sender<AppendRequest>,
    appended: Arc<Notify>,
    /// Acknowledgements not yet written: they ride along with the group's next claim, so
    /// a router cycle costs one commit fewer. Lost on a crash, they only make entries be
    /// handed out again, which consumers already treat as a no-op.
    acks: Arc<std::sync::Mutex<Vec<(String, String, i64)>>>,
}

/// Written at once past this many deferred acknowledgements.
const MAX_DEFERRED_ACKS: usize = 4096;

impl fmt::Debug for EmbeddedStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedStream")
            .field("backend", &self.store.backend())
            .finish()
    }
}

impl EmbeddedStream {
    /// Starts the writer task; it ends when the last handle is dropped.
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 8);
        let appended = Arc::new(Notify::new());
        tokio::spawn(writer(store.clone(), clock.clone(), rx, appended.clone()));
        Self {
            store,
            clock,
            appends: tx,
            appended,
            acks: Arc::default(),
        }
    }

    fn take_acks(&self) -> Vec<(String, String, i64)> {
        self.acks
            .lock()
            .map(|mut a| std::mem::take(&mut *a))
            .unwrap_or_default()
    }

    /// Deletes deferred acknowledgements' pending rows inside `tx`.
    async fn write_acks(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        acks: &[(String, String, i64)],
    ) -> Result<()> {
        let mut by_group: std::collections::BTreeMap<(&str, &str), Vec<i64>> =
            std::collections::BTreeMap::new();
        for (topic, group, seq) in acks {
            by_group.entry((topic, group)).or_default().push(*seq);
        }
        for ((topic, group), seqs) in by_group {
            for chunk in seqs.chunks(MAX_BATCH) {
                let sql = format!(
                    "DELETE FROM stream_pending WHERE topic = $1 AND grp = $2 AND seq IN ({})",
                    in_list(3, chunk.len())
                );
                let mut q = sqlx::query(AssertSqlSafe(sql)).bind(topic).bind(group);
                for seq in chunk {
                    q = q.bind(*seq);
                }
                q.execute(&mut **tx).await?;
            }
        }
        Ok(())
    }

    /// Writes deferred acknowledgements now.
    async fn flush_acks(&self) -> Result<()> {
        let acks = self.take_acks();
        if acks.is_empty() {
            return Ok(());
        }
        let mut tx = self.store.begin_write().await?;
        Self::write_acks(&mut tx, &acks).await?;
        tx.commit().await
    }

    /// Whether the group has entries it has not been handed: a read that takes no lock.
    async fn has_new(&self, topic: &str, group: &str) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT e.seq FROM stream_entries e JOIN stream_groups g ON g.topic = e.topic AND g.grp = $2 WHERE e.topic = $1 AND e.seq > g.last_seq LIMIT 1",
        )
        .bind(topic)
        .bind(group)
        .fetch_optional(self.store.pool())
        .await?;
        Ok(found.is_some())
    }

    async fn claim_new(
        &self,
        topic: &str,
        group: &str,
        consumer: &str,
        max: usize,
    ) -> Result<Vec<Entry>> {
        let max = max.clamp(1, MAX_BATCH);
        let has_acks = self.acks.lock().map(|a| !a.is_empty()).unwrap_or(false);
        if !has_acks && !self.has_new(topic, group).await? {
            return Ok(Vec::new());
        }
        loop {
            let mut tx = self.store.begin_write().await?;
            let acks = self.take_acks();
            Self::write_acks(&mut tx, &acks).await?;
            let last: i64 = sqlx::query_scalar(
                "SELECT last_seq FROM stream_groups WHERE topic = $1 AND grp = $2",
            )
            .bind(topic)
            .bind(group)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or_else(|| Error::Stream(format!("no group {group} on topic {topic}")))?;
            let rows = sqlx::query("SELECT seq, payload FROM stream_entries WHERE topic = $1 AND seq > $2 ORDER BY seq LIMIT $3")
                .bind(topic)
                .bind(last)
                .bind(i64::try_from(max).unwrap_or(64))
                .fetch_all(&mut **tx)
                .await?;
            let Some(newest) = rows.last() else {
                tx.commit().await?; // keep the acknowledgements written above
                return Ok(Vec::new());
            };
            let newest: i64 = newest.try_get("seq")?;
            // Optimistic: another consumer of the group may have moved the cursor.
            let moved = sqlx::query("UPDATE stream_groups SET last_seq = $1 WHERE topic = $2 AND grp = $3 AND last_seq = $4")
                .bind(newest)
                .bind(topic)
                .bind(group)
                .bind(last)
                .execute(&mut **tx)
                .await?;
            if moved.rows_affected() == 0 {
                tx.commit().await?; // keep the acknowledgements written above
                continue;
            }
            let now = self.clock.now_ms();
            let mut sql = String::from(
                "INSERT INTO stream_pending (topic, grp, seq, consumer, claimed_at, deliveries) VALUES ",
            );
            for i in 0..rows.len() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("($1, $2, ${}, $3, $4, 1)", i + 5));
            }
            let mut q = sqlx::query(AssertSqlSafe(sql))
                .bind(topic)
                .bind(group)
                .bind(consumer)
                .bind(now);
            let mut entries = Vec::with_capacity(rows.len());
            for row in &rows {
                let seq: i64 = row.try_get("seq")?;
                q = q.bind(seq);
                entries.push(Entry {
                    id: seq.to_string(),
                    payload: row.try_get("payload")?,
                    deliveries: 1,
                });
            }
            q.execute(&mut **tx).await?;
            tx.commit().await?;
            return Ok(entries);
        }
    }
}

fn parse_seqs(ids: &[String]) -> Result<Vec<i64>> {
    ids.iter()
        .map(|id| {
            id.parse::<i64>()
                .map_err(|_| Error::Stream(format!("bad entry id {id:?}")))
        })
        .collect()
}

/// Entries for `(seq, deliveries)` rows of taken-over pending entries, with their payloads
/// read in one query, in stream order.
async fn with_payloads(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    topic: &str,
    taken: &[sqlx::any::AnyRow],
) -> Result<Vec<Entry>> {
    let mut deliveries = std::collections::BTreeMap::new();
    for row in taken {
        deliveries.insert(
            row.try_get::<i64, _>("seq")?,
            row.try_get::<i64, _>("deliveries")?,
        );
    }
    if deliveries.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT seq, payload FROM stream_entries WHERE topic = $1 AND seq IN ({}) ORDER BY seq",
        in_list(2, deliveries.len())
    );
    let mut q = sqlx::query(AssertSqlSafe(sql)).bind(topic);
    for seq in deliveries.keys() {
        q = q.bind(*seq);
    }
    let rows = q.fetch_all(&mut **tx).await?;
    rows.iter()
        .map(|row| {
            let seq: i64 = row.try_get("seq")?;
            Ok(Entry {
                id: seq.to_string(),
                payload: row.try_get("payload")?,
                deliveries: deliveries
                    .get(&seq)
                    .and_then(|d| u64::try_from(*d).ok())
                    .unwrap_or(1),
            })
        })
        .collect()
}

fn in_list(first: usize, n: usize) -> String {
    (0..n)
        .map(|i| format!("${}", first + i))
        .collect::<Vec<_>>()
        .join(",")
}

async fn writer(
    store: Store,
    clock: Arc<dyn Clock>,
    mut rx: mpsc::Receiver<AppendRequest>,
    appended: Arc<Notify>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // A short linger lets appends arriving together share one commit (one sync),
        // which keeps the disk's sync budget for the router at steady rates.
        if batch.len() < MAX_BATCH / 8 {
            tokio::time::sleep(APPEND_LINGER).await;
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(req) => batch.push(req),
                    Err(_) => break,
                }
            }
        }
        let result = commit_batch(&store, clock.now_ms(), &batch).await;
        match result {
            Ok(last) => {
                let total: usize = batch.iter().map(|r| r.payloads.len()).sum();
                let mut next = last - i64::try_from(total).unwrap_or(0) + 1;
                for req in batch.drain(..) {
                    let n = i64::try_from(req.payloads.len()).unwrap_or(0);
                    let _ = req.reply.send(Ok(next));
                    next += n;
                }
                appended.notify_waiters();
            }
            Err(e) => {
                tracing::warn!(error = %e, entries = batch.len(), "stream append failed");
                let msg = e.to_string();
                for req in batch.drain(..) {
                    let _ = req.reply.send(Err(msg.clone()));
                }
            }
        }
    }
}

async fn commit_batch(store: &Store, now: i64, batch: &[AppendRequest]) -> Result<i64> {
    let entries: Vec<(&str, &str)> = batch
        .iter()
        .flat_map(|r| r.payloads.iter().map(|p| (r.topic.as_str(), p.as_str())))
        .collect();
    let n = i64::try_from(entries.len()).unwrap_or(0);
    let mut tx = store.begin_write().await?;
    // The counter row stays locked until commit: seq order is commit order.
    let last = Store::take_counter(&mut tx, "stream_seq", n).await?;
    let mut seq = last - n + 1;
    // Within SQLite's bind limit (three per entry, plus the time).
    for chunk in entries.chunks(8000) {
        let mut sql =
            String::from("INSERT INTO stream_entries (seq, topic, payload, created_at) VALUES ");
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            let b = 2 + i * 3;
            sql.push_str(&format!("(${}, ${}, ${}, $1)", b, b + 1, b + 2));
        }
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(now);
        for (topic, payload) in chunk {
            q = q.bind(seq).bind(*topic).bind(*payload);
            seq += 1;
        }
        q.execute(&mut **tx).await?;
    }
    tx.commit().await?;
    Ok(last)
}

#[async_trait]
impl Stream for EmbeddedStream {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    async fn append(&self, topic: &str, payload: &str) -> Result<String> {
        let ids = self.append_batch(topic, &[payload.to_owned()]).await?;
        ids.into_iter()
            .next()
            .ok_or_else(|| Error::Stream("append returned no id".into()))
    }

    async fn append_batch(&self, topic: &str, payloads: &[String]) -> Result<Vec<String>> {
        if payloads.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.appends
            .send(AppendRequest {
                topic: topic.to_owned(),
                payloads: payloads.to_vec(),
                reply,
            })
            .await
            .map_err(|_| Error::ShuttingDown)?;
        match answer.await {
            Ok(Ok(first)) => Ok((0..payloads.len())
                .map(|i| (first + i64::try_from(i).unwrap_or(0)).to_string())
                .collect()),
            Ok(Err(e)) => Err(Error::Stream(e)),
            Err(_) => Err(Error::ShuttingDown),
        }
    }

    async fn ensure_group(&self, topic: &str, group: &str) -> Result<()> {
        sqlx::query("INSERT INTO stream_groups (topic, grp, last_seq) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING")
            .bind(topic)
            .bind(group)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    async fn read(
        &self,
        topic: &str,
        group: &str,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Entry>> {
        let deadline = tokio::time::Instant::now() + block;
        loop {
            let woken = self.appended.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let entries = self.claim_new(topic, group, consumer, max).await?;
            let now = tokio::time::Instant::now();
            if !entries.is_empty() || now >= deadline {
                return Ok(entries);
            }
            let wait = (deadline - now).min(POLL);
            if tokio::time::timeout(wait, woken).await.is_ok() {
                // Woken by an append: let a few more arrive so one claim and one
                // routing transaction serve them all.
                tokio::time::sleep(READ_LINGER).await;
            }
        }
    }

    async fn ack(&self, topic: &str, group: &str, ids: &[String]) -> Result<()> {
        let seqs = parse_seqs(ids)?;
        let deferred = match self.acks.lock() {
            Ok(mut acks) => {
                acks.extend(
                    seqs.into_iter()
                        .map(|s| (topic.to_owned(), group.to_owned(), s)),
                );
                acks.len()
            }
            Err(_) => return Err(Error::Stream("acknowledgement list poisoned".into())),
        };
        if deferred > MAX_DEFERRED_ACKS {
            self.flush_acks().await?;
        }
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
        self.flush_acks().await?;
        let mut tx = self.store.begin_write().await?;
        // Read the time once the write lock is held: a claim stamped before a wait for the
        // lock would look idle for that long already, and be taken over again too soon.
        let now = self.clock.now_ms();
        let cutoff = now - i64::try_from(min_idle.as_millis()).unwrap_or(i64::MAX);
        let seqs: Vec<i64> = sqlx::query_scalar(
            "SELECT seq FROM stream_pending WHERE topic = $1 AND grp = $2 AND claimed_at <= $3 ORDER BY seq LIMIT $4",
        )
        .bind(topic)
        .bind(group)
        .bind(cutoff)
        .bind(i64::try_from(max.clamp(1, MAX_BATCH)).unwrap_or(64))
        .fetch_all(&mut **tx)
        .await?;
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        // Re-checking claimed_at in the UPDATE keeps two reclaimers from taking one entry.
        let sql = format!(
            "UPDATE stream_pending SET consumer = $1, claimed_at = $2, deliveries = deliveries + 1 WHERE topic = $3 AND grp = $4 AND claimed_at <= $5 AND seq IN ({}) RETURNING seq, deliveries",
            in_list(6, seqs.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql))
            .bind(consumer)
            .bind(now)
            .bind(topic)
            .bind(group)
            .bind(cutoff);
        for s in &seqs {
            q = q.bind(*s);
        }
        let taken = q.fetch_all(&mut **tx).await?;
        let entries = with_payloads(&mut tx, topic, &taken).await?;
        tx.commit().await?;
        Ok(entries)
    }

    async fn pending_for(
        &self,
        topic: &str,
        group: &str,
        consumer: &str,
        max: usize,
    ) -> Result<Vec<Entry>> {
        self.flush_acks().await?;
        let mut tx = self.store.begin_write().await?;
        let rows = sqlx::query(
            "UPDATE stream_pending SET claimed_at = $1, deliveries = deliveries + 1 WHERE topic = $2 AND grp = $3 AND consumer = $4 \
             AND seq IN (SELECT seq FROM stream_pending WHERE topic = $2 AND grp = $3 AND consumer = $4 ORDER BY seq LIMIT $5) RETURNING seq, deliveries",
        )
        .bind(self.clock.now_ms())
        .bind(topic)
        .bind(group)
        .bind(consumer)
        .bind(i64::try_from(max.clamp(1, MAX_BATCH)).unwrap_or(64))
        .fetch_all(&mut **tx)
        .await?;
        let entries = with_payloads(&mut tx, topic, &rows).await?;
        tx.commit().await?;
        Ok(entries)
    }

    async fn depth(&self, topic: &str, group: &str) -> Result<u64> {
        self.flush_acks().await?;
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM stream_entries e WHERE e.topic = $1 AND e.seq > g.last_seq) AS unread, \
                    (SELECT COUNT(*) FROM stream_pending p WHERE p.topic = $1 AND p.grp = $2) AS pending \
             FROM stream_groups g WHERE g.topic = $1 AND g.grp = $2",
        )
        .bind(topic)
        .bind(group)
        .fetch_optional(self.store.pool())
        .await?;
        let Some(row) = row else { return Ok(0) };
        let unread: i64 = row.try_get("unread")?;
        let pending: i64 = row.try_get("pending")?;
        Ok(u64::try_from(unread + pending).unwrap_or(0))
    }

    async fn trim(&self, topic: &str) -> Result<()> {
        self.flush_acks().await?;
        sqlx::query(
            "DELETE FROM stream_entries WHERE topic = $1 \
               AND seq <= (SELECT MIN(last_seq) FROM stream_groups WHERE topic = $1) \
               AND NOT EXISTS (SELECT 1 FROM stream_pending p WHERE p.topic = $1 AND p.seq = stream_entries.seq)",
        )
        .bind(topic)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    async fn flush(&self) -> Result<()> {
        self.flush_acks().await
    }

    async fn health(&self) -> Result<()> {
        if self.appends.is_closed() {
            return Err(Error::ShuttingDown);
        }
        self.store.ping().await
    }
}
