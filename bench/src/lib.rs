//! What the benchmark programs share: a fresh database on the backend asked for (with
//! the environment a server needs to use it), reading a process's memory, signed-in
//! admins, and WhatsApp's side of a webhook.

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

/// The server binary, started for a benchmark on a free port with `db`'s settings, and
/// an HTTP client for it that follows no redirects.
pub struct Served {
    pub child: std::process::Child,
    pub base: String,
    pub http: reqwest::Client,
}

impl Served {
    pub async fn start(bin: &str, dir: &std::path::Path, db: &Database) -> Result<Self> {
        Self::start_with(bin, dir, db, &[]).await
    }

    /// [`Served::start`] with more settings (`extra` comes after `db`'s).
    pub async fn start_with(
        bin: &str,
        dir: &std::path::Path,
        db: &Database,
        extra: &[(&str, &str)],
    ) -> Result<Self> {
        use anyhow::Context;
        let port = free_port()?;
        let bin = std::fs::canonicalize(bin)
            .with_context(|| format!("{bin} not found (run `cargo build --release` first)"))?;
        let child = std::process::Command::new(&bin)
            .arg("serve")
            .env("RUST_LOG", "warn")
            .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}"))
            .env("SWITCHBOARD_DATA_DIR", dir)
            .env("SWITCHBOARD_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .envs(db.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra.iter().copied())
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .context("starting the server")?;
        let served = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(256)
                .build()?,
        };
        let t0 = std::time::Instant::now();
        while !served
            .http
            .get(format!("{}/readyz", served.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            if t0.elapsed() > std::time::Duration::from_secs(60) {
                bail!("the server was not ready within 60 s");
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Ok(served)
    }

    /// Signs a client in with a magic link (its confirmation page, then the POST);
    /// returns the session's `cookie` header value.
    pub async fn sign_in(&self, token: &str, next: &str) -> Result<String> {
        use anyhow::Context;
        let link = format!("{}/portal/link/{token}", self.base);
        let page = self.http.get(&link).send().await?;
        let pre = cookie_of(&page, "__Host-sb_csrf").context("no CSRF cookie")?;
        let csrf = csrf_in(&page.text().await?).context("no CSRF field")?;
        let signed = self
            .http
            .post(&link)
            .header("cookie", format!("__Host-sb_csrf={pre}"))
            .header("origin", &self.base)
            .form(&[("_csrf", csrf.as_str()), ("next", next)])
            .send()
            .await?;
        let session = cookie_of(&signed, "__Host-sb_session").context("not signed in")?;
        Ok(format!("__Host-sb_session={session}"))
    }

    /// The CSRF token of a signed-in page's forms.
    pub async fn csrf(&self, cookie: &str, path: &str) -> Result<String> {
        use anyhow::Context;
        let page = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", cookie)
            .send()
            .await?
            .text()
            .await?;
        csrf_in(&page).with_context(|| format!("no CSRF on {path}"))
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `n` admins (`{tag}{i}@bench.example`), each with a session: their ids and `cookie`
/// header values, written before a server starts.
pub async fn admins_with_sessions(
    store: &Store,
    ids: &switchboard_core::clock::Ids,
    n: usize,
    tag: &str,
) -> Result<Vec<(String, String)>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let user = store
            .create_user(
                ids,
                &format!("{tag}{i}@bench.example"),
                Some(&format!("Agent {i}")),
                switchboard_core::domain::Role::Admin,
                None,
            )
            .await?;
        let token = store.create_session(ids, &user.id, true).await?;
        out.push((user.id, format!("__Host-sb_session={token}")));
    }
    Ok(out)
}

/// The WhatsApp business number of the benchmarks.
pub const WHATSAPP_NUMBER: &str = "1122334455667";
pub const WHATSAPP_SECRET: &str = "bench-whatsapp-app-secret";

/// A configuration file's text with the benchmarks' WhatsApp number, its Graph API at
/// `graph_url`.
pub fn whatsapp_config(graph_url: &str) -> String {
    format!(
        "[whatsapp]\ngraph_url = \"{graph_url}\"\n[[whatsapp.numbers]]\nname = \"main\"\n\
         phone_number_id = \"{WHATSAPP_NUMBER}\"\ntoken = \"bench-token\"\napp_secret = \"{WHATSAPP_SECRET}\"\n\
         verify_token = \"bench-verify\"\n"
    )
}

/// One signed delivery, as Meta sends it: a customer's text message. The body and its
/// `x-hub-signature-256`.
pub fn whatsapp_text(from: &str, name: &str, wamid: &str, text: &str) -> (Vec<u8>, String) {
    let body = serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "999", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "551140040000", "phone_number_id": WHATSAPP_NUMBER },
            "contacts": [{ "profile": { "name": name }, "wa_id": from }],
            "messages": [{ "from": from, "id": wamid, "timestamp": "1760000000",
                "type": "text", "text": { "body": text } }]
        }}]}]
    });
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let signature =
        switchboard_channels::whatsapp::signature::sign(WHATSAPP_SECRET.as_bytes(), &body);
    (body, signature)
}

/// Posts a delivery to `{base}/webhooks/whatsapp`; any answer but 200 is an error.
pub async fn post_whatsapp(
    http: &reqwest::Client,
    base: &str,
    (body, signature): &(Vec<u8>, String),
) -> Result<()> {
    let r = http
        .post(format!("{base}/webhooks/whatsapp"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(body.clone())
        .send()
        .await?;
    if r.status().as_u16() != 200 {
        let status = r.status();
        bail!(
            "delivery: {status}: {:.300}",
            r.text().await.unwrap_or_default()
        );
    }
    Ok(())
}
