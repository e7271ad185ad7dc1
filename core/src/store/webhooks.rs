//! Outgoing webhooks' tables: subscriptions, one delivery per subscription and event, and
//! each attempt's answer (the delivery log). A delivery is `pending` until claimed,
//! `sending` under a lease (`next_attempt_at` is then the lease's end, so a node that dies
//! mid-post hands it over when the lease runs out), then `delivered`, `failed`, or
//! `pending` again with its next attempt's time. Tests: conformance `webhooks.rs`.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::Store;
use crate::clock::{Ids, random_bytes};
use crate::error::{Error, Result};

/// The event kinds a subscription may want.
pub const HOOK_KINDS: &[&str] = &[
    "conversation.opened",
    "conversation.resolved",
    "message.created",
    "ticket.created",
    "invoice.paid",
    "reading.entered",
    "survey.answered",
];

/// A subscription. Its secret signs every request; only admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub secret: String,
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A subscription as typed.
#[derive(Debug, Clone)]
pub struct HookInput<'a> {
    pub url: &'a str,
    pub description: &'a str,
    pub events: &'a [String],
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookDelivery {
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub kind: String,
    pub payload: String,
    /// `pending`, `sending`, `delivered` or `failed`.
    pub state: String,
    /// Attempts since it was queued (or sent again by hand).
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

/// One attempt's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookAttempt {
    pub id: String,
    pub delivery_id: String,
    pub at: i64,
    pub status: Option<i64>,
    pub duration_ms: i64,
    /// The start of the receiver's answer.
    pub response: Option<String>,
    /// Why no answer came.
    pub error: Option<String>,
}

/// A delivery taken for one attempt, with where it goes and the key to sign it.
#[derive(Debug, Clone)]
pub struct HookClaim {
    pub delivery: HookDelivery,
    pub url: String,
    pub secret: String,
}

/// An event to record for every subscription that wants its kind.
#[derive(Debug, Clone)]
pub struct NewHookEvent {
    pub event_id: String,
    pub kind: &'static str,
    pub payload: String,
}

/// What an attempt brought.
#[derive(Debug, Clone)]
pub struct HookResult {
    pub status: Option<i64>,
    pub duration_ms: i64,
    pub response: Option<String>,
    pub error: Option<String>,
}

/// What becomes of the delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookNext {
    Delivered,
    Retry { at: i64 },
    Failed,
}

/// Active subscriptions `(id, kinds)` as read at a time (epoch ms). Events are recorded on
/// the intake path, so the list is read at most once a second; this node's own changes
/// clear it at once, another node's are seen within the second.
#[derive(Debug, Clone, Default)]
pub(crate) struct HookCache(std::sync::Arc<std::sync::Mutex<Option<(i64, ActiveHooks)>>>);

/// Active subscriptions: `(id, kinds)`.
type ActiveHooks = std::sync::Arc<Vec<(String, Vec<String>)>>;

/// Deliveries written by one statement (5 bind values each).
const HOOK_ROWS_PER_STATEMENT: usize = 400;

/// How long the list of subscriptions is trusted.
const HOOK_CACHE_MS: i64 = 1000;

impl HookCache {
    fn get(&self, now: i64) -> Option<ActiveHooks> {
        let held = self.0.lock().unwrap_or_else(|p| p.into_inner());
        held.as_ref()
            .filter(|(at, _)| (0..HOOK_CACHE_MS).contains(&(now - at)))
            .map(|(_, hooks)| hooks.clone())
    }

    fn put(&self, now: i64, hooks: ActiveHooks) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((now, hooks));
    }

    fn clear(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

const HOOK_COLUMNS: &str = "id, url, description, events, secret, active, created_at, updated_at";
const DELIVERY_COLUMNS: &str = "id, webhook_id, event_id, kind, payload, state, attempts, next_attempt_at, last_status, last_error, created_at, finished_at";

fn webhook(r: &AnyRow) -> Result<Webhook> {
    let events: String = r.try_get("events")?;
    Ok(Webhook {
        id: r.try_get("id")?,
        url: r.try_get("url")?,
        description: r.try_get("description")?,
        events: serde_json::from_str(&events)?,
        secret: r.try_get("secret")?,
        active: r.try_get::<i64, _>("active")? != 0,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn delivery(r: &AnyRow) -> Result<HookDelivery> {
    Ok(HookDelivery {
        id: r.try_get("id")?,
        webhook_id: r.try_get("webhook_id")?,
        event_id: r.try_get("event_id")?,
        kind: r.try_get("kind")?,
        payload: r.try_get("payload")?,
        state: r.try_get("state")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        last_status: r.try_get("last_status")?,
        last_error: r.try_get("last_error")?,
        created_at: r.try_get("created_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

/// The kinds as typed, checked and in the order of [`HOOK_KINDS`].
fn checked(input: &HookInput<'_>) -> Result<(String, String)> {
    let url = crate::webhooks::check_url(input.url)?;
    if let Some(unknown) = input
        .events
        .iter()
        .find(|e| !HOOK_KINDS.contains(&e.as_str()))
    {
        return Err(Error::invalid(format!(
            "'{unknown}' is not an event kind; the kinds are {}",
            HOOK_KINDS.join(", ")
        )));
    }
    let kinds: Vec<&str> = HOOK_KINDS
        .iter()
        .copied()
        .filter(|k| input.events.iter().any(|e| e == k))
        .collect();
    if kinds.is_empty() {
        return Err(Error::invalid("choose at least one event"));
    }
    if input.description.chars().count() > 200 {
        return Err(Error::invalid(
            "the description is longer than 200 characters",
        ));
    }
    Ok((url, serde_json::to_string(&kinds)?))
}

impl Store {
    /// Adds a subscription with a fresh secret (`whsec_` and 256 random bits, hex).
    pub async fn add_webhook(&self, ids: &Ids, input: &HookInput<'_>) -> Result<Webhook> {
        let (url, events) = checked(input)?;
        let id = ids.new_id();
        let now = ids.now_ms();
        let secret = format!("whsec_{}", hex::encode(random_bytes::<32>()));
        sqlx::query(
            "INSERT INTO webhooks (id, url, description, events, secret, active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(&id)
        .bind(&url)
        .bind(input.description.trim())
        .bind(&events)
        .bind(&secret)
        .bind(i64::from(input.active))
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.hook_cache.clear();
        self.webhook(&id).await
    }

    pub async fn update_webhook(
        &self,
        id: &str,
        input: &HookInput<'_>,
        now: i64,
    ) -> Result<Webhook> {
        let (url, events) = checked(input)?;
        let n = sqlx::query(
            "UPDATE webhooks SET url = $1, description = $2, events = $3, active = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(&url)
        .bind(input.description.trim())
        .bind(&events)
        .bind(i64::from(input.active))
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        self.hook_cache.clear();
        if n == 0 {
            return Err(Error::not_found(format!("webhook {id}")));
        }
        self.webhook(id).await
    }

    /// Removes a subscription with its deliveries and their log.
    pub async fn remove_webhook(&self, id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE webhook_id = $1)",
        )
        .bind(id)
        .execute(&mut **tx)
        .await?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        let n = sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(Error::not_found(format!("webhook {id}")));
        }
        tx.commit().await?;
        self.hook_cache.clear();
        Ok(())
    }

    pub async fn webhook(&self, id: &str) -> Result<Webhook> {
        let sql = format!("SELECT {HOOK_COLUMNS} FROM webhooks WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found(format!("webhook {id}")))?;
        webhook(&row)
    }

    /// Every subscription, oldest first.
    pub async fn webhooks(&self) -> Result<Vec<Webhook>> {
        let sql = format!("SELECT {HOOK_COLUMNS} FROM webhooks ORDER BY created_at, id");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(webhook)
            .collect()
    }

    /// Records each event once for every active subscription that wants its kind; returns
    /// the deliveries made now (an event recorded before makes none). Without a
    /// subscription that wants them this writes nothing and takes no transaction.
    pub async fn record_hook_events(
        &self,
        ids: &Ids,
        events: &[NewHookEvent],
    ) -> Result<Vec<String>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let now = ids.now_ms();
        let hooks = self.active_hooks(now, &self.pool).await?;
        let wanted = wanted(&hooks, events);
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let made = insert_deliveries(&mut tx, ids, now, &wanted).await?;
        tx.commit().await?;
        Ok(made)
    }

    /// [`Store::record_hook_events`] inside the caller's transaction: the router records a
    /// batch's events with its messages, so they are stored together or not at all. Reads
    /// through the transaction too: a writer holding a connection never waits for a second.
    pub(crate) async fn record_hook_events_in(
        &self,
        tx: &mut super::ingest::Tx,
        ids: &Ids,
        events: &[NewHookEvent],
    ) -> Result<Vec<String>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let now = ids.now_ms();
        let hooks = self.active_hooks(now, &mut **tx).await?;
        let wanted = wanted(&hooks, events);
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        insert_deliveries(tx, ids, now, &wanted).await
    }

    /// The active subscriptions, from the cache or read through `exec`.
    async fn active_hooks<'c, E>(&self, now: i64, exec: E) -> Result<ActiveHooks>
    where
        E: sqlx::Executor<'c, Database = sqlx::Any>,
    {
        if let Some(h) = self.hook_cache.get(now) {
            return Ok(h);
        }
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, events FROM webhooks WHERE active = 1")
                .fetch_all(exec)
                .await?;
        let mut hooks = Vec::with_capacity(rows.len());
        for (id, kinds) in rows {
            hooks.push((id, serde_json::from_str::<Vec<String>>(&kinds)?));
        }
        let hooks = std::sync::Arc::new(hooks);
        self.hook_cache.put(now, hooks.clone());
        Ok(hooks)
    }

    /// Deliveries due whose job is not on the stream (a retry whose time came, a job lost
    /// before it was appended, a lease run out); marks them put back.
    pub async fn take_due_hooks(
        &self,
        now: i64,
        lost_after_ms: i64,
        limit: i64,
    ) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "UPDATE webhook_deliveries SET enqueued_at = $1 WHERE id IN (SELECT id FROM webhook_deliveries \
               WHERE state IN ('pending', 'sending') AND next_attempt_at <= $1 \
                 AND (enqueued_at IS NULL OR enqueued_at < next_attempt_at OR enqueued_at < $2) \
               ORDER BY next_attempt_at LIMIT $3) RETURNING id",
        )
        .bind(now)
        .bind(now - lost_after_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Deliveries waiting (pending or under way), for the metrics and the soak.
    pub async fn hooks_waiting(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE state IN ('pending', 'sending')",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Takes a due delivery for one attempt under a lease of `lease_ms`; `None` when it is
    /// done, not due, held by another node, or its subscription is paused or gone.
    pub async fn claim_hook(&self, id: &str, now: i64, lease_ms: i64) -> Result<Option<HookClaim>> {
        let taken = sqlx::query(
            "UPDATE webhook_deliveries SET state = 'sending', next_attempt_at = $1 \
             WHERE id = $2 AND state IN ('pending', 'sending') AND next_attempt_at <= $3 \
               AND webhook_id IN (SELECT id FROM webhooks WHERE active = 1)",
        )
        .bind(now + lease_ms)
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if taken == 0 {
            return Ok(None);
        }
        let delivery = self.hook_delivery(id).await?;
        let hook = self.webhook(&delivery.webhook_id).await?;
        Ok(Some(HookClaim {
            delivery,
            url: hook.url,
            secret: hook.secret,
        }))
    }

    /// Logs an attempt and moves the delivery on.
    pub async fn record_hook_attempt(
        &self,
        ids: &Ids,
        id: &str,
        result: &HookResult,
        next: HookNext,
    ) -> Result<()> {
        let now = ids.now_ms();
        let (state, next_at, finished) = match next {
            HookNext::Delivered => ("delivered", now, Some(now)),
            HookNext::Failed => ("failed", now, Some(now)),
            HookNext::Retry { at } => ("pending", at, None),
        };
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO webhook_attempts (id, delivery_id, at, status, duration_ms, response, error) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(ids.new_id())
        .bind(id)
        .bind(now)
        .bind(result.status)
        .bind(result.duration_ms)
        .bind(result.response.as_deref())
        .bind(result.error.as_deref())
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, next_attempt_at = $2, \
               last_status = $3, last_error = $4, finished_at = $5 WHERE id = $6",
        )
        .bind(state)
        .bind(next_at)
        .bind(result.status)
        .bind(result.error.as_deref())
        .bind(finished)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn hook_delivery(&self, id: &str) -> Result<HookDelivery> {
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found(format!("delivery {id}")))?;
        delivery(&row)
    }

    /// A subscription's latest deliveries, newest first.
    pub async fn hook_deliveries(&self, webhook_id: &str, limit: i64) -> Result<Vec<HookDelivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(webhook_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(delivery)
            .collect()
    }

    /// A delivery's attempts, newest first.
    pub async fn hook_attempts(&self, delivery_id: &str) -> Result<Vec<HookAttempt>> {
        let rows = sqlx::query(
            "SELECT id, delivery_id, at, status, duration_ms, response, error FROM webhook_attempts \
             WHERE delivery_id = $1 ORDER BY at DESC, id DESC",
        )
        .bind(delivery_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(HookAttempt {
                    id: r.try_get("id")?,
                    delivery_id: r.try_get("delivery_id")?,
                    at: r.try_get("at")?,
                    status: r.try_get("status")?,
                    duration_ms: r.try_get("duration_ms")?,
                    response: r.try_get("response")?,
                    error: r.try_get("error")?,
                })
            })
            .collect()
    }

    /// Puts a delivery back to be sent now with a fresh count of attempts ("send again");
    /// one under way is left to finish.
    pub async fn resend_hook(&self, id: &str, now: i64) -> Result<()> {
        let n = sqlx::query(
            "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = $1, \
               enqueued_at = $1, finished_at = NULL WHERE id = $2 AND state <> 'sending'",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n == 0 {
            self.hook_delivery(id).await?;
            return Err(Error::invalid("this delivery is being sent right now"));
        }
        Ok(())
    }

    /// Forgets deliveries finished before `before`, with their attempts; returns how many.
    pub async fn forget_old_hooks(&self, before: i64) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "DELETE FROM webhook_attempts WHERE delivery_id IN \
             (SELECT id FROM webhook_deliveries WHERE finished_at < $1)",
        )
        .bind(before)
        .execute(&mut **tx)
        .await?;
        let n = sqlx::query("DELETE FROM webhook_deliveries WHERE finished_at < $1")
            .bind(before)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }
}

/// Each (subscription, event) pair where the subscription wants the event's kind.
fn wanted<'a>(
    hooks: &'a ActiveHooks,
    events: &'a [NewHookEvent],
) -> Vec<(&'a String, &'a NewHookEvent)> {
    let mut wanted = Vec::new();
    for (hook, kinds) in hooks.iter() {
        for e in events {
            if kinds.iter().any(|k| k == e.kind) {
                wanted.push((hook, e));
            }
        }
    }
    wanted
}

/// Writes deliveries, many rows per statement (a batch of the router's is hundreds of
/// events); the rows an earlier sighting of the event stored are skipped and not returned.
async fn insert_deliveries(
    tx: &mut super::ingest::Tx,
    ids: &Ids,
    now: i64,
    wanted: &[(&String, &NewHookEvent)],
) -> Result<Vec<String>> {
    let mut made = Vec::with_capacity(wanted.len());
    for chunk in wanted.chunks(HOOK_ROWS_PER_STATEMENT) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = i * 5;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, 'pending', 0, $1, $1, $1)",
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO webhook_deliveries (id, webhook_id, event_id, kind, payload, state, attempts, next_attempt_at, enqueued_at, created_at) \
             VALUES {} ON CONFLICT (webhook_id, event_id) DO NOTHING RETURNING id",
            rows.join(", ")
        );
        let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql)).bind(now);
        for (hook, e) in chunk {
            q = q
                .bind(ids.new_id())
                .bind(*hook)
                .bind(&e.event_id)
                .bind(e.kind)
                .bind(&e.payload);
        }
        made.extend(q.fetch_all(&mut **tx).await?);
    }
    Ok(made)
}
