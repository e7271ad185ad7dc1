use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors of the core. Surfaces (HTTP, websocket, CLI) map these to their own codes.
#[derive(Debug, Error)]
pub enum Error {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// The caller may see what it asked for, but not do this to it (a supervisor's
    /// write, an agent editing another's canned response).
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("encoding: {0}")]
    Json(#[from] serde_json::Error),
    #[error("stream: {0}")]
    Stream(String),
    #[error("io: {0}")]
    Io(String),
    #[error("migration: {0}")]
    Migration(String),
    #[error("shutting down")]
    ShuttingDown,
}

impl Error {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::Invalid(msg.into())
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::NotFound(msg.into())
    }
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Self::Forbidden(msg.into())
    }
}
