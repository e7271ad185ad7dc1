//! What the benchmark programs share: a fresh database on the backend asked for (with
//! the environment a server needs to use it), and reading a process's memory.

use anyhow::{Result, bail};
use switchboard_core::store::Store;

/// Runs one statement on the PostgreSQL server at `url` (creating or dropping databases).
pub async fn pg_admin(url: &str, sql: &str) -> Result<()> {
    use sqlx::{Connection, Executor};
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await?;
    conn.execute(sqlx::AssertSqlSafe(sql.to_owned())).await?;
    Ok(())
}

/// A fresh database for one run: SQLite in `dir`, or a new PostgreSQL database (with
/// Redis for the stream) named after `tag`, dropped by [`Database::drop`].
pub struct Database {
    pub url: String,
    /// What a server needs to use it: `DATABASE_URL`, `REDIS_URL` and a key prefix of its
    /// own (none for SQLite, the default).
    pub env: Vec<(String, String)>,
    pg: Option<(String, String)>,
}

impl Database {
    /// `backend`: `sqlite` or `postgres` (which uses `SB_TEST_PG` and `SB_TEST_REDIS`).
    pub async fn create(backend: &str, dir: &std::path::Path, tag: &str) -> Result<Self> {
        match backend {
            "sqlite" => Ok(Self {
                url: Store::sqlite_url(dir),
                env: Vec::new(),
                pg: None,
            }),
            "postgres" => {
                let admin = std::env::var("SB_TEST_PG")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
                let redis = std::env::var("SB_TEST_REDIS")
                    .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
                let id = uuid::Uuid::new_v4().simple().to_string();
                let name = format!("{tag}_{id}");
                pg_admin(&admin, &format!("CREATE DATABASE {name}")).await?;
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
                let url = format!("{base}/{name}");
                Ok(Self {
                    env: vec![
                        ("DATABASE_URL".into(), url.clone()),
                        ("REDIS_URL".into(), redis),
                        ("SWITCHBOARD_REDIS_PREFIX".into(), format!("{tag}:{id}")),
                    ],
                    url,
                    pg: Some((admin, name)),
                })
            }
            other => bail!("unknown backend {other}: sqlite or postgres"),
        }
    }

    /// Drops a PostgreSQL database (SQLite's goes with its directory).
    pub async fn drop(self) -> Result<()> {
        if let Some((admin, name)) = self.pg {
            pg_admin(
                &admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await?;
        }
        Ok(())
    }
}

/// A `/proc/<pid>/status` field in KiB (`VmRSS:`, `VmHWM:`).
pub fn status_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("{field} not found"))
}

/// A free port on loopback.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The value of a cookie a response sets.
pub fn cookie_of(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
}

/// The CSRF token of a page's forms.
pub fn csrf_in(html: &str) -> Option<String> {
    let at = html.find("name=\"_csrf\" value=\"")? + 20;
    Some(html[at..].split('"').next()?.to_owned())
}
