//! What `switchboard backup` and `restore` ask of the database itself.

use std::path::Path;

use super::{Backend, Store};
use crate::error::{Error, Result};

impl Store {
    /// A consistent copy of a SQLite database into a new file, taken while others write
    /// (`VACUUM INTO`). PostgreSQL is copied by `pg_dump` instead.
    pub async fn copy_sqlite_into(&self, file: &Path) -> Result<()> {
        if self.backend() != Backend::Sqlite {
            return Err(Error::Invalid(
                "only a SQLite database is copied this way".into(),
            ));
        }
        let path = file
            .to_str()
            .ok_or_else(|| Error::Invalid("the backup file's path is not UTF-8".into()))?;
        sqlx::query("VACUUM INTO $1")
            .bind(path)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether the database has anyone in it (a restore would replace them).
    pub async fn holds_users(&self) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }
}
