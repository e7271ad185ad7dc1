//! The bot's record: one row per inbound message it has handled.
//!
//! A run is claimed before the bot acts (`outcome = 'running'`), so two deliveries of one
//! message handled at once (a replayed webhook, a reclaim on another node) cannot both act:
//! the second finds the claim and stands back, and tries again later. A claim left by a
//! worker that died is taken over once it is older than the lease (or, when the worker's
//! node has fallen silent, than `silent_after`), so no message is left unanswered.

use super::Store;
use crate::error::Result;

/// How a claim on a bot run went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotClaim {
    /// This worker holds the run and must finish it.
    Mine,
    /// Another worker holds it, under its lease: it may still die before finishing.
    Held,
    /// The run is over.
    Done,
}

impl Store {
    /// Claims the bot's run on a message: inserted, or taken over from a claim older than
    /// `stale_before` (a worker that died mid-run).
    pub async fn claim_bot_run(
        &self,
        message_id: &str,
        conversation_id: &str,
        now: i64,
        stale_before: i64,
    ) -> Result<BotClaim> {
        let inserted = sqlx::query(
            "INSERT INTO bot_runs (message_id, conversation_id, outcome, created_at) \
             VALUES ($1, $2, 'running', $3) ON CONFLICT DO NOTHING",
        )
        .bind(message_id)
        .bind(conversation_id)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(BotClaim::Mine);
        }
        let taken = sqlx::query(
            "UPDATE bot_runs SET created_at = $2 \
             WHERE message_id = $1 AND outcome = 'running' AND created_at < $3",
        )
        .bind(message_id)
        .bind(now)
        .bind(stale_before)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if taken == 1 {
            return Ok(BotClaim::Mine);
        }
        let outcome: Option<String> =
            sqlx::query_scalar("SELECT outcome FROM bot_runs WHERE message_id = $1")
                .bind(message_id)
                .fetch_optional(&self.pool)
                .await?;
        // Released by its holder in between (it failed): held, so tried again.
        Ok(match outcome.as_deref() {
            Some("running") | None => BotClaim::Held,
            Some(_) => BotClaim::Done,
        })
    }

    /// Records how a claimed run ended (or records a run that was never claimed).
    pub async fn record_bot_run(
        &self,
        message_id: &str,
        conversation_id: &str,
        outcome: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO bot_runs (message_id, conversation_id, outcome, created_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (message_id) DO UPDATE SET outcome = excluded.outcome \
             WHERE bot_runs.outcome = 'running'",
        )
        .bind(message_id)
        .bind(conversation_id)
        .bind(outcome)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Lets go of a claim after a failure, so the entry's next delivery runs at once.
    pub async fn release_bot_run(&self, message_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM bot_runs WHERE message_id = $1 AND outcome = 'running'")
            .bind(message_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
