//! Allowances shared by every node: `n` uses per period per key, all usable at once and
//! refilled evenly (GCRA), kept in the database so a second node is no second allowance
//! (sign-in and second-factor attempts, sign-in links).
//!
//! One statement per use: the key's row moves its "theoretical arrival time" forward by
//! one interval only when that time stays within one period of now, so two nodes taking
//! the last use at once cannot both get it.

use super::Store;
use crate::error::Result;

impl Store {
    /// Takes one use of `key`'s allowance of `n` per `period_ms`; false when it is spent.
    pub async fn take_allowance(
        &self,
        key: &str,
        n: u32,
        period_ms: i64,
        now: i64,
    ) -> Result<bool> {
        let period = period_ms.max(1);
        let interval = (period / i64::from(n.max(1))).max(1);
        let taken = sqlx::query(
            "INSERT INTO rate_limits (key, tat) VALUES ($1, $2 + $3) \
             ON CONFLICT (key) DO UPDATE \
             SET tat = (CASE WHEN rate_limits.tat > $2 THEN rate_limits.tat ELSE $2 END) + $3 \
             WHERE (CASE WHEN rate_limits.tat > $2 THEN rate_limits.tat ELSE $2 END) + $3 <= $2 + $4",
        )
        .bind(key)
        .bind(now)
        .bind(interval)
        .bind(period)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(taken == 1)
    }

    /// Forgets the keys whose allowance is whole again; returns how many.
    pub async fn forget_whole_allowances(&self, now: i64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM rate_limits WHERE tat <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
