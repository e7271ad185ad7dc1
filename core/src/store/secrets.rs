//! Server secrets kept in the database, so every node sharing it signs and verifies with
//! the same key without anyone configuring one.

use super::Store;
use crate::clock::{Ids, random_bytes};
use crate::error::Result;

impl Store {
    /// The secret called `name`, made (256 random bits, hex) the first time it is asked
    /// for. Two nodes asking at once both insert; the primary key keeps the first, and both
    /// read back that one.
    pub async fn secret_or_create(&self, ids: &Ids, name: &str) -> Result<String> {
        let fresh = hex::encode(random_bytes::<32>());
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(&fresh)
        .bind(ids.now_ms())
        .execute(&mut **tx)
        .await?;
        tx.commit().await?;
        let value: String = sqlx::query_scalar("SELECT value FROM secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(value)
    }
}
