//! The inbox's workflow in the database: conversations changed under their row lock with
//! a version check, presence and capacity for auto-assignment (a round-robin cursor per
//! team that every node shares), snoozes woken by the clock, SLA bookkeeping (pauses,
//! breaches), merges, and the rows the supervisor dashboard is made of.

use std::collections::HashMap;

use sqlx::{AssertSqlSafe, Row};

use super::{Backend, Store, WriteTx, rows};
use crate::clock::Ids;
use crate::dashboard::{Breaches, DashboardRows, Timing};
use crate::domain::{Conversation, Message, Priority, Status, Tier};
use crate::error::{Error, Result};
use crate::sla::SlaInput;

/// Online means a heartbeat within this long.
pub const ONLINE_MS: i64 = 90_000;

/// A conversation as a change sees it: the row and its SLA bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConversationState {
    pub conversation: Conversation,
    pub people_since: Option<i64>,
    pub pending_since: Option<i64>,
    pub resolved_at: Option<i64>,
    pub merged_into: Option<String>,
}

impl ConversationState {
    /// Moves to `status`, keeping the bookkeeping right: pending starts and ends an SLA
    /// pause, resolving stamps the time, leaving a snooze forgets its time.
    pub fn set_status(&mut self, status: Status, snoozed_until: Option<i64>, now: i64) {
        let c = &mut self.conversation;
        if status == Status::Pending {
            self.pending_since = self.pending_since.or(Some(now));
        } else {
            self.pending_since = None;
        }
        if status == Status::Resolved {
            self.resolved_at = self.resolved_at.or(Some(now));
        } else {
            self.resolved_at = None;
        }
        c.snoozed_until = if status == Status::Snoozed {
            snoozed_until
        } else {
            None
        };
        c.status = status;
    }

    /// A person takes the conversation: the bot stops for good, the SLA clocks run.
    pub fn assign(&mut self, assignee: Option<String>, now: i64) {
        if assignee.is_some() {
            self.conversation.bot_active = false;
            self.people_since = self.people_since.or(Some(now));
        }
        self.conversation.assignee_id = assignee;
    }
}

const STATE_COLUMNS: &str = "people_since, pending_since, resolved_at, merged_into";

fn stale(current: i64, expected: i64) -> Error {
    Error::Conflict(format!(
        "this conversation changed since you opened it: it is at version {current} now, you had version {expected}; reload it and try again"
    ))
}

impl Store {
    /// Reads a conversation for a change and holds it until `tx` ends (a row lock on
    /// PostgreSQL; SQLite has one writer). A stale `expected_version` is a conflict.
    pub(crate) async fn lock_conversation(
        &self,
        tx: &mut WriteTx,
        id: &str,
        expected_version: Option<i64>,
    ) -> Result<ConversationState> {
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {}, {STATE_COLUMNS} FROM conversations WHERE id = $1{lock}",
            rows::CONVERSATION_COLUMNS
        )))
        .bind(id)
        .fetch_optional(&mut ***tx)
        .await?
        .ok_or_else(|| Error::not_found(format!("conversation {id}")))?;
        let state = ConversationState {
            conversation: rows::conversation(&row)?,
            people_since: row.try_get("people_since")?,
            pending_since: row.try_get("pending_since")?,
            resolved_at: row.try_get("resolved_at")?,
            merged_into: row.try_get("merged_into")?,
        };
        if let Some(expected) = expected_version
            && expected != state.conversation.version
        {
            return Err(stale(state.conversation.version, expected));
        }
        Ok(state)
    }

    /// Writes a changed conversation (read by [`Store::lock_conversation`] in the same
    /// transaction): its columns, a new version, and the SLA pause it starts or ends.
    /// Returns the conversation as stored.
    pub(crate) async fn save_conversation(
        &self,
        tx: &mut WriteTx,
        before: &ConversationState,
        after: &ConversationState,
        now: i64,
    ) -> Result<Conversation> {
        let c = &after.conversation;
        let paused_ms = match (before.pending_since, after.pending_since) {
            (Some(since), None) => (now - since).max(0),
            _ => 0,
        };
        let done = sqlx::query(
            "UPDATE conversations SET status = $1, priority = $2, tier = $3, assignee_id = $4, team = $5, labels = $6, \
             snoozed_until = $7, bot_active = $8, people_since = $9, pending_since = $10, resolved_at = $11, \
             pending_ms = pending_ms + $12, merged_into = $13, version = version + 1, updated_at = $14 \
             WHERE id = $15 AND version = $16",
        )
        .bind(c.status.as_str())
        .bind(c.priority.as_str())
        .bind(c.tier.as_str())
        .bind(c.assignee_id.as_deref())
        .bind(c.team.as_deref())
        .bind(serde_json::to_string(&c.labels)?)
        .bind(c.snoozed_until)
        .bind(i64::from(c.bot_active))
        .bind(after.people_since)
        .bind(after.pending_since)
        .bind(after.resolved_at)
        .bind(paused_ms)
        .bind(after.merged_into.as_deref())
        .bind(now)
        .bind(&c.id)
        .bind(before.conversation.version)
        .execute(&mut ***tx)
        .await
        .map_err(|e| {
            if super::is_unique_violation(&e) {
                Error::Conflict(
                    "the thread already has an open conversation; merge the two instead".into(),
                )
            } else {
                e.into()
            }
        })?;
        if done.rows_affected() == 0 {
            return Err(stale(
                before.conversation.version + 1,
                before.conversation.version,
            ));
        }
        match (before.pending_since, after.pending_since) {
            (None, Some(since)) => {
                sqlx::query("INSERT INTO sla_pauses (conversation_id, started_at, ended_at) VALUES ($1, $2, NULL) ON CONFLICT DO NOTHING")
                    .bind(&c.id)
                    .bind(since)
                    .execute(&mut ***tx)
                    .await?;
            }
            (Some(_), None) => {
                sqlx::query("UPDATE sla_pauses SET ended_at = $1 WHERE conversation_id = $2 AND ended_at IS NULL")
                    .bind(now)
                    .bind(&c.id)
                    .execute(&mut ***tx)
                    .await?;
            }
            _ => {}
        }
        let mut saved = c.clone();
        saved.version = before.conversation.version + 1;
        saved.updated_at = now;
        Ok(saved)
    }

    /// Records a lifecycle event of a conversation (audit trail, outgoing webhooks).
    pub(crate) async fn record_event(
        tx: &mut WriteTx,
        ids: &Ids,
        conversation_id: Option<&str>,
        kind: &str,
        payload: &serde_json::Value,
    ) -> Result<()> {
        sqlx::query("INSERT INTO events (id, conversation_id, kind, payload, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(ids.new_id())
            .bind(conversation_id)
            .bind(kind)
            .bind(payload.to_string())
            .bind(ids.now_ms())
            .execute(&mut ***tx)
            .await?;
        Ok(())
    }

    /// Stores a message only agents see: a note (`author_kind` agent) or a system line of
    /// the support side. Never queued, never sent, never in the customer's history.
    pub(crate) async fn insert_internal(
        tx: &mut WriteTx,
        ids: &Ids,
        conversation: &Conversation,
        author_kind: crate::domain::AuthorKind,
        author_id: Option<&str>,
        text: &str,
    ) -> Result<Message> {
        let now = ids.now_ms();
        let message = Message {
            id: ids.new_id(),
            conversation_id: conversation.id.clone(),
            direction: crate::domain::Direction::Outbound,
            author_kind,
            author_id: author_id.map(str::to_owned),
            channel: conversation.channel,
            text: text.to_owned(),
            full_text: None,
            html: None,
            attachments: Vec::new(),
            content: None,
            delivery_state: crate::domain::DeliveryState::Sent,
            delivery_error: None,
            delivery_detail: None,
            external_id: None,
            created_at: now,
            internal: true,
        };
        sqlx::query(
            "INSERT INTO messages (id, conversation_id, direction, author_kind, author_id, channel, text, attachments, delivery_state, attempts, internal, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, '[]', $8, 0, 1, $9, $9)",
        )
        .bind(&message.id)
        .bind(&message.conversation_id)
        .bind(message.direction.as_str())
        .bind(message.author_kind.as_str())
        .bind(message.author_id.as_deref())
        .bind(message.channel.as_str())
        .bind(&message.text)
        .bind(message.delivery_state.as_str())
        .bind(now)
        .execute(&mut ***tx)
        .await?;
        Ok(message)
    }

    /// Records that an agent is online (its inbox is open); online means seen within the
    /// last 90 seconds.
    pub async fn heartbeat(&self, user_id: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO agent_presence (user_id, last_seen_at) VALUES ($1, $2) \
             ON CONFLICT (user_id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
        )
        .bind(user_id)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
                Error::not_found(format!("user {user_id}"))
            }
            _ => e.into(),
        })?;
        Ok(())
    }

    /// The agents online at `now`, by id.
    pub async fn online_agents(&self, now: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT user_id FROM agent_presence WHERE last_seen_at >= $1 ORDER BY user_id",
        )
        .bind(now - ONLINE_MS)
        .fetch_all(&self.pool)
        .await?)
    }

    /// How many unresolved conversations auto-assignment gives an agent at most.
    pub async fn set_agent_capacity(&self, user_id: &str, capacity: i64) -> Result<()> {
        if !(0..=1000).contains(&capacity) {
            return Err(Error::invalid("capacity must be between 0 and 1000"));
        }
        let done = sqlx::query("UPDATE users SET capacity = $1 WHERE id = $2")
            .bind(capacity)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("user {user_id}")));
        }
        Ok(())
    }

    pub async fn agent_capacity(&self, user_id: &str) -> Result<i64> {
        sqlx::query_scalar("SELECT capacity FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found(format!("user {user_id}")))
    }

    /// Picks the next online support agent of the conversation's team (round robin, one
    /// cursor per team shared by every node) whose tier reaches the conversation's and
    /// whose unresolved conversations are under its capacity, assigns it and notifies it.
    /// `None` when
    /// the conversation is taken or resolved already, or nobody is free.
    /// Starts the SLA clocks of conversations that went straight to people, in one
    /// statement per 500.
    pub(crate) async fn mark_people_since(&self, ids: &[String], now: i64) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        // Rows are locked in id order, as the messages' trigger locks them: two nodes
        // marking and storing into the same conversations never wait on each other in a
        // circle (PostgreSQL; SQLite has one writer).
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        let lock = if self.backend == super::Backend::Postgres {
            "ORDER BY id FOR NO KEY UPDATE"
        } else {
            ""
        };
        let mut tx = self.begin_write().await?;
        for chunk in ids.chunks(500) {
            let marks = (0..chunk.len())
                .map(|i| format!("${}", i + 2))
                .collect::<Vec<_>>()
                .join(",");
            let mut q = sqlx::query(AssertSqlSafe(format!(
                "UPDATE conversations SET people_since = $1 WHERE id IN \
                 (SELECT id FROM conversations WHERE people_since IS NULL AND id IN ({marks}) {lock})"
            )))
            .bind(now);
            for id in chunk {
                q = q.bind(id);
            }
            q.execute(&mut **tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Whether any support agent is online now: without one, nothing can be assigned and
    /// the per-conversation round robin is skipped.
    pub(crate) async fn any_agent_online(&self, now: i64) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 FROM users u JOIN agent_presence p ON p.user_id = u.id \
             WHERE u.role = 'support' AND p.last_seen_at >= $1 LIMIT 1",
        )
        .bind(now - super::ONLINE_MS)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    pub(crate) async fn assign_round_robin(
        &self,
        ids: &Ids,
        conversation_id: &str,
    ) -> Result<Option<(Conversation, super::Notification)>> {
        let now = ids.now_ms();
        let mut tx = self.begin_write().await?;
        let before = self
            .lock_conversation(&mut tx, conversation_id, None)
            .await?;
        let c = &before.conversation;
        if c.assignee_id.is_some() || c.status == Status::Resolved {
            return Ok(None);
        }
        let team = c.team.clone().unwrap_or_default();
        sqlx::query("INSERT INTO assignment_cursors (team, last_user_id, updated_at) VALUES ($1, NULL, $2) ON CONFLICT DO NOTHING")
            .bind(&team)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let last: Option<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT last_user_id FROM assignment_cursors WHERE team = $1{lock}"
        )))
        .bind(&team)
        .fetch_one(&mut **tx)
        .await?;
        let tiers: &[&str] = match c.tier {
            Tier::N1 => &["N1", "N2", "N3"],
            Tier::N2 => &["N2", "N3"],
            Tier::N3 => &["N3"],
        };
        let team_rule = if c.team.is_some() {
            "AND EXISTS (SELECT 1 FROM user_teams t WHERE t.user_id = u.id AND t.team = $5)"
        } else {
            "AND $5 = ''"
        };
        let candidates: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT u.id FROM users u JOIN agent_presence p ON p.user_id = u.id \
             WHERE u.role = 'support' AND u.tier IN ($1, $2, $3) AND p.last_seen_at >= $4 {team_rule} \
             AND (SELECT COUNT(*) FROM conversations o WHERE o.assignee_id = u.id AND o.status <> 'resolved') < u.capacity \
             ORDER BY u.id"
        )))
        .bind(tiers[0])
        .bind(tiers[tiers.len().min(2) - 1])
        .bind(tiers[tiers.len() - 1])
        .bind(now - ONLINE_MS)
        .bind(&team)
        .fetch_all(&mut **tx)
        .await?;
        let Some(agent) = next_in_turn(&candidates, last.as_deref()) else {
            return Ok(None);
        };
        sqlx::query(
            "UPDATE assignment_cursors SET last_user_id = $1, updated_at = $2 WHERE team = $3",
        )
        .bind(&agent)
        .bind(now)
        .bind(&team)
        .execute(&mut **tx)
        .await?;
        let mut after = before.clone();
        after.assign(Some(agent.clone()), now);
        let saved = self
            .save_conversation(&mut tx, &before, &after, now)
            .await?;
        Self::record_event(
            &mut tx,
            ids,
            Some(conversation_id),
            "conversation_changed",
            &serde_json::json!({"change": "assignee", "value": agent, "by": "round_robin"}),
        )
        .await?;
        let notification = Self::add_notification(
            &mut tx,
            ids,
            &agent,
            super::NotificationKind::Assigned,
            &saved,
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(Some((saved, notification)))
    }

    /// Opens every snoozed conversation whose time has come; returns them as they are now.
    pub(crate) async fn wake_due(&self, ids: &Ids, now: i64) -> Result<Vec<Conversation>> {
        let mut tx = self.begin_write().await?;
        let woken: Vec<String> = sqlx::query_scalar(
            "UPDATE conversations SET status = 'open', snoozed_until = NULL, version = version + 1, updated_at = $1 \
             WHERE status = 'snoozed' AND snoozed_until <= $1 RETURNING id",
        )
        .bind(now)
        .fetch_all(&mut **tx)
        .await?;
        for id in &woken {
            Self::record_event(
                &mut tx,
                ids,
                Some(id),
                "conversation_changed",
                &serde_json::json!({"change": "status", "value": "open", "by": "snooze"}),
            )
            .await?;
        }
        tx.commit().await?;
        let mut out = Vec::with_capacity(woken.len());
        for id in woken {
            out.push(self.conversation(&id).await?);
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// The SLA facts of one conversation.
    pub(crate) async fn sla_input(&self, conversation_id: &str) -> Result<SlaInput> {
        let row = sqlx::query(
            "SELECT priority, people_since, first_response_at, resolved_at FROM conversations WHERE id = $1",
        )
        .bind(conversation_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("conversation {conversation_id}")))?;
        let mut pauses = self.pauses(&[conversation_id.to_owned()]).await?;
        Ok(SlaInput {
            priority: Priority::parse(&row.try_get::<String, _>("priority")?)?,
            people_since: row.try_get("people_since")?,
            first_response_at: row.try_get("first_response_at")?,
            resolved_at: row.try_get("resolved_at")?,
            pauses: pauses.remove(conversation_id).unwrap_or_default(),
        })
    }

    /// What the SLA needs of several conversations (ones the caller was allowed to list),
    /// in two queries whatever their number.
    pub(crate) async fn sla_inputs(&self, ids: &[String]) -> Result<HashMap<String, SlaInput>> {
        let mut pauses = self.pauses(ids).await?;
        let mut out = HashMap::new();
        for chunk in ids.chunks(500) {
            let list = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(",");
            let mut q = sqlx::query(AssertSqlSafe(format!(
                "SELECT id, priority, people_since, first_response_at, resolved_at FROM conversations WHERE id IN ({list})"
            )));
            for id in chunk {
                q = q.bind(id.as_str());
            }
            for row in q.fetch_all(&self.pool).await? {
                let id: String = row.try_get("id")?;
                let input = SlaInput {
                    priority: Priority::parse(&row.try_get::<String, _>("priority")?)?,
                    people_since: row.try_get("people_since")?,
                    first_response_at: row.try_get("first_response_at")?,
                    resolved_at: row.try_get("resolved_at")?,
                    pauses: pauses.remove(&id).unwrap_or_default(),
                };
                out.insert(id, input);
            }
        }
        Ok(out)
    }

    /// The pending intervals of some conversations.
    async fn pauses(&self, ids: &[String]) -> Result<HashMap<String, Vec<(i64, Option<i64>)>>> {
        let mut out: HashMap<String, Vec<(i64, Option<i64>)>> = HashMap::new();
        for chunk in ids.chunks(500) {
            let list = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(",");
            let mut q = sqlx::query(AssertSqlSafe(format!(
                "SELECT conversation_id, started_at, ended_at FROM sla_pauses WHERE conversation_id IN ({list}) ORDER BY started_at"
            )));
            for id in chunk {
                q = q.bind(id.as_str());
            }
            for row in q.fetch_all(&self.pool).await? {
                out.entry(row.try_get(0)?)
                    .or_default()
                    .push((row.try_get(1)?, row.try_get(2)?));
            }
        }
        Ok(out)
    }

    /// Conversations whose SLA may have been missed and is not marked yet: people took
    /// them over at least `min_age_ms` ago, and the clock is still running or stopped
    /// after `since` (so a reply that came late between two sweeps is still judged).
    pub(crate) async fn sla_candidates(
        &self,
        now: i64,
        min_age_ms: i64,
        since: i64,
    ) -> Result<Vec<(String, SlaInput, bool, bool)>> {
        let rows = sqlx::query(
            "SELECT id, priority, people_since, first_response_at, resolved_at, \
             first_response_breached_at, resolution_breached_at FROM conversations \
             WHERE people_since IS NOT NULL AND people_since <= $1 AND ( \
               (first_response_breached_at IS NULL AND ((first_response_at IS NULL AND (resolved_at IS NULL OR resolved_at >= $2)) OR first_response_at >= $2)) \
               OR (resolution_breached_at IS NULL AND (resolved_at IS NULL OR resolved_at >= $2))) \
             ORDER BY people_since LIMIT 5000",
        )
        .bind(now - min_age_ms)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        let ids: Vec<String> = rows
            .iter()
            .map(|r| r.try_get::<String, _>("id"))
            .collect::<Result<_, _>>()?;
        let mut pauses = self.pauses(&ids).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get("id")?;
            let fr_marked = row
                .try_get::<Option<i64>, _>("first_response_breached_at")?
                .is_some();
            let res_marked = row
                .try_get::<Option<i64>, _>("resolution_breached_at")?
                .is_some();
            let input = SlaInput {
                priority: Priority::parse(&row.try_get::<String, _>("priority")?)?,
                people_since: row.try_get("people_since")?,
                first_response_at: row.try_get("first_response_at")?,
                resolved_at: row.try_get("resolved_at")?,
                pauses: pauses.remove(&id).unwrap_or_default(),
            };
            out.push((id, input, fr_marked, res_marked));
        }
        Ok(out)
    }

    /// Marks a missed target once (`kind`: `first_response` or `resolution`); true if this
    /// call marked it.
    pub(crate) async fn mark_breach(
        &self,
        ids: &Ids,
        conversation_id: &str,
        kind: &str,
        due_at: i64,
    ) -> Result<bool> {
        let column = match kind {
            "first_response" => "first_response_breached_at",
            "resolution" => "resolution_breached_at",
            other => return Err(Error::invalid(format!("unknown SLA target {other:?}"))),
        };
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(AssertSqlSafe(format!(
            "UPDATE conversations SET {column} = $1 WHERE id = $2 AND {column} IS NULL"
        )))
        .bind(due_at)
        .bind(conversation_id)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        Self::record_event(
            &mut tx,
            ids,
            Some(conversation_id),
            "sla_breached",
            &serde_json::json!({"target": kind, "due_at": due_at}),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}

impl Store {
    /// What a dashboard is made of, within the caller's scope: the open conversations,
    /// the first responses, resolutions and breaches of `[from, to)`, and the
    /// conversations opened then.
    pub(crate) async fn dashboard_rows(
        &self,
        caller: &super::Caller,
        from: i64,
        to: i64,
    ) -> Result<DashboardRows> {
        let (scope, binds) = caller.condition(3);
        let query = |sql: String| {
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(from).bind(to);
            for b in &binds {
                q = q.bind(b.clone());
            }
            q
        };
        let mut out = DashboardRows::default();
        // $1 and $2 are bound everywhere; a condition that needs no window says so.
        for row in query(format!(
            "SELECT tier, channel, created_at FROM conversations WHERE status <> 'resolved' AND $1 <= $2 AND {scope}"
        ))
        .fetch_all(&self.pool)
        .await?
        {
            out.open.push((
                Tier::parse(&row.try_get::<String, _>(0)?)?,
                row.try_get(1)?,
                row.try_get(2)?,
            ));
        }
        let timing = |row: &sqlx::any::AnyRow| -> Result<Timing> {
            Ok(Timing {
                tier: Tier::parse(&row.try_get::<String, _>(0)?)?,
                team: row.try_get(1)?,
                agent: row.try_get(2)?,
                ms: row.try_get::<i64, _>(3)?.max(0),
            })
        };
        for row in query(format!(
            "SELECT tier, team, first_responder_id, first_response_at - COALESCE(people_since, created_at) FROM conversations \
             WHERE first_response_at >= $1 AND first_response_at < $2 AND {scope}"
        ))
        .fetch_all(&self.pool)
        .await?
        {
            out.first_responses.push(timing(&row)?);
        }
        for row in query(format!(
            "SELECT tier, team, assignee_id, resolved_at - COALESCE(people_since, created_at) FROM conversations \
             WHERE status = 'resolved' AND resolved_at >= $1 AND resolved_at < $2 AND merged_into IS NULL AND {scope}"
        ))
        .fetch_all(&self.pool)
        .await?
        {
            out.resolutions.push(timing(&row)?);
        }
        let row = query(format!(
            "SELECT COALESCE(SUM(CASE WHEN first_response_breached_at >= $1 AND first_response_breached_at < $2 THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN resolution_breached_at >= $1 AND resolution_breached_at < $2 THEN 1 ELSE 0 END), 0) \
             FROM conversations WHERE {scope}"
        ))
        .fetch_one(&self.pool)
        .await?;
        out.breaches = Breaches {
            first_response: row.try_get::<i64, _>(0)?,
            resolution: row.try_get::<i64, _>(1)?,
        };
        for row in query(format!(
            "SELECT created_at, channel FROM conversations WHERE created_at >= $1 AND created_at < $2 AND {scope}"
        ))
        .fetch_all(&self.pool)
        .await?
        {
            out.created.push((row.try_get(0)?, row.try_get(1)?));
        }
        Ok(out)
    }
}

/// The first candidate after `last` in id order, wrapping around.
fn next_in_turn(candidates: &[String], last: Option<&str>) -> Option<String> {
    let after = last.and_then(|l| candidates.iter().find(|c| c.as_str() > l));
    after.or_else(|| candidates.first()).cloned()
}

#[cfg(test)]
mod tests {
    use super::next_in_turn;

    #[test]
    fn round_robin_continues_after_the_last_and_wraps() {
        let c: Vec<String> = ["a", "c", "e"].iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(next_in_turn(&c, None).as_deref(), Some("a"));
        assert_eq!(next_in_turn(&c, Some("a")).as_deref(), Some("c"));
        // The last one went offline meanwhile: the next one after it still.
        assert_eq!(next_in_turn(&c, Some("b")).as_deref(), Some("c"));
        assert_eq!(next_in_turn(&c, Some("e")).as_deref(), Some("a"));
        assert_eq!(next_in_turn(&[], Some("e")), None);
    }
}
