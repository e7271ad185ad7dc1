//! The bot's record: one row per inbound message it has handled.

use super::Store;
use crate::error::Result;

impl Store {
    /// Whether the bot has handled this inbound message.
    pub async fn bot_done(&self, message_id: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bot_runs WHERE message_id = $1")
            .bind(message_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    pub async fn record_bot_run(
        &self,
        message_id: &str,
        conversation_id: &str,
        outcome: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query("INSERT INTO bot_runs (message_id, conversation_id, outcome, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(message_id)
            .bind(conversation_id)
            .bind(outcome)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
