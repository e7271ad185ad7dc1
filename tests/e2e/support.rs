//! Starting the real `switchboard` binary against real services, and talking to it the
//! way a widget, an agent and an operator do.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

pub fn pg_admin_url() -> String {
    std::env::var("SB_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("SB_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A fresh PostgreSQL database; returns its url.
pub async fn fresh_pg() -> String {
    use sqlx::Executor;
    sqlx::any::install_default_drivers();
    let admin = pg_admin_url();
    let name = format!("sbt_{}", uuid::Uuid::new_v4().simple());
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
        .await
        .unwrap();
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
}

/// A port free to listen on, below the kernel's ephemeral range. Servers restarted on their
/// port (a test's own Redis) must find it free again, and a port of the ephemeral range may
/// meanwhile have become the source port of any outgoing connection on the machine.
pub fn free_port() -> u16 {
    use std::hash::BuildHasher;
    let low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768)
        .max(10001);
    for attempt in 0..1000u64 {
        let r = std::collections::hash_map::RandomState::new().hash_one(attempt);
        let port = 10000 + u16::try_from(r % u64::from(low - 10000)).unwrap();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port below {low}");
}

/// Waits until something listens on `port` (a server the test started), up to `seconds`.
pub fn wait_listening(port: u16, what: &str, seconds: u64) {
    for _ in 0..seconds * 20 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{what} did not start");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite and the embedded stream: the defaults.
    Embedded,
    /// PostgreSQL and Redis.
    PostgresRedis,
}

pub struct Server {
    child: Option<Child>,
    pub port: u16,
    pub env: HashMap<String, String>,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
}

impl Server {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, &[]).await
    }

    pub async fn start_with(backend: Backend, extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut env = HashMap::new();
        env.insert("SWITCHBOARD_LISTEN".into(), format!("127.0.0.1:{port}"));
        env.insert(
            "SWITCHBOARD_DATA_DIR".into(),
            dir.path().display().to_string(),
        );
        env.insert(
            "SWITCHBOARD_PUBLIC_URL".into(),
            format!("http://127.0.0.1:{port}"),
        );
        env.insert("SWITCHBOARD_SHUTDOWN_GRACE_MS".into(), "5000".into());
        env.insert(
            "SWITCHBOARD_DISPATCHER__BACKOFF_BASE_MS".into(),
            "20".into(),
        );
        // Load tests send thousands of messages per socket; the flood test sets its own.
        env.insert(
            "SWITCHBOARD_WEBCHAT__MAX_MESSAGES_PER_MINUTE".into(),
            "1000000".into(),
        );
        // Every test socket comes from 127.0.0.1; the cap test sets its own.
        env.insert(
            "SWITCHBOARD_WEBCHAT__MAX_SOCKETS_PER_IP".into(),
            "1000".into(),
        );
        if backend == Backend::PostgresRedis {
            // Another node of a deployment (or a test's own server) names its database.
            if !extra.iter().any(|(k, _)| *k == "DATABASE_URL") {
                env.insert("DATABASE_URL".into(), fresh_pg().await);
            }
            env.insert("REDIS_URL".into(), redis_url());
            env.insert(
                "SWITCHBOARD_REDIS_PREFIX".into(),
                format!("sbt:{}", uuid::Uuid::new_v4().simple()),
            );
        }
        for (k, v) in extra {
            env.insert((*k).into(), (*v).into());
        }
        let mut server = Self {
            child: None,
            port,
            env,
            dir,
            http: reqwest::Client::new(),
        };
        server.spawn().await;
        server
    }

    /// The database the server uses.
    pub fn database_url(&self) -> String {
        self.env
            .get("DATABASE_URL")
            .cloned()
            .unwrap_or_else(|| switchboard_core::store::Store::sqlite_url(self.dir.path()))
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "RUST_LOG",
                std::env::var("SB_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .envs(&self.env)
            .current_dir(self.dir.path());
        cmd
    }

    /// Runs a CLI command against this server's configuration.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        self.command().args(args).output().unwrap()
    }

    /// [`Server::cli`] with `input` written to the command's standard input (then closed)
    /// and `extra` added to its environment.
    pub fn cli_with_input(
        &self,
        args: &[&str],
        extra: &[(&str, &str)],
        input: &str,
    ) -> std::process::Output {
        let mut child = self
            .command()
            .envs(extra.iter().copied())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Imports knowledge-base articles (JSON lines) on the command line, then starts the
    /// server again: the bot learns the articles at start.
    pub async fn import_kb(&mut self, jsonl: &str) {
        let file = self.dir.path().join("faq.jsonl");
        std::fs::write(&file, jsonl).unwrap();
        let out = self.cli(&["kb", "import", file.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.terminate();
        self.spawn().await;
    }

    pub async fn spawn(&mut self) {
        let mut cmd = self.command();
        cmd.arg("serve").stdin(Stdio::null());
        // A test that reads the log (`SBT_CAPTURE_LOG` in its env) gets it in a file.
        if self.env.contains_key("SBT_CAPTURE_LOG") {
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.path().join("server.log"))
                .unwrap();
            cmd.stderr(log.try_clone().unwrap()).stdout(log);
        }
        let child = cmd.spawn().unwrap();
        self.child = Some(child);
        self.wait_ready().await;
    }

    pub async fn wait_ready(&self) {
        for _ in 0..300 {
            if let Ok(r) = self.http.get(self.url("/readyz")).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server on port {} never became ready", self.port);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// What the server wrote to its log so far (with `SBT_CAPTURE_LOG` set).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// The server's resident memory in KiB, from /proc.
    pub fn rss_kib(&self) -> u64 {
        let pid = self.child.as_ref().unwrap().id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// `kill -9`: no shutdown, no flush, nothing.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM and wait for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().unwrap();
        Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status()
            .unwrap();
        c.wait().unwrap()
    }

    /// Another node of the same deployment: this one's database, Redis (and key prefix)
    /// and configuration file, with `extra` settings of its own.
    pub async fn another_node(&self, extra: &[(&str, &str)]) -> Server {
        let shared: Vec<(&str, String)> = [
            "DATABASE_URL",
            "REDIS_URL",
            "SWITCHBOARD_REDIS_PREFIX",
            "SWITCHBOARD_CONFIG",
        ]
        .into_iter()
        .filter_map(|k| Some((k, self.env.get(k)?.clone())))
        .collect();
        let mut env: Vec<(&str, &str)> = shared.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.extend_from_slice(extra);
        Server::start_with(Backend::PostgresRedis, &env).await
    }

    /// An agent with an API token, made through the CLI.
    pub fn add_user(&self, email: &str, role: &str) -> String {
        let out = self.cli(&["user", "add", "--email", email, "--role", role]);
        assert!(
            out.status.success(),
            "user add failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["token"].as_str().unwrap().to_owned()
    }

    pub async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn conversations(&self, token: &str) -> Vec<Value> {
        let (status, body) = self.get(token, "/api/v1/conversations?limit=500").await;
        assert_eq!(status, 200, "{body}");
        body["conversations"].as_array().unwrap().clone()
    }

    pub async fn thread(&self, token: &str, conversation: &str) -> Vec<Value> {
        let (status, body) = self
            .get(
                token,
                &format!("/api/v1/conversations/{conversation}?limit=10000"),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["messages"].as_array().unwrap().clone()
    }

    /// A new visitor writes `text`; returns its widget and, once routed, the conversation.
    pub async fn visitor_writes(&self, token: &str, text: &str) -> (Widget, String) {
        let mut w = self.widget(None).await;
        w.say("c1", text).await;
        w.expect("ack").await;
        let visitor_conversation = || async {
            let convs = self.conversations(token).await;
            convs
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned())
                .next()
        };
        eventually(10, || async { visitor_conversation().await.is_some() }).await;
        (w, visitor_conversation().await.unwrap())
    }

    /// An agent's realtime events socket.
    pub async fn agent_events(&self, token: &str) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
        let ticket = self.events_ticket(token).await;
        let url = format!("ws://127.0.0.1:{}/api/v1/events?ticket={ticket}", self.port);
        tokio_tungstenite::connect_async(url).await.unwrap().0
    }

    /// A single-use ticket for the agent events socket.
    pub async fn events_ticket(&self, token: &str) -> String {
        let r: serde_json::Value = self
            .http
            .post(self.url("/api/v1/events/tickets"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["ticket"].as_str().unwrap().to_owned()
    }

    pub async fn widget(&self, visitor: Option<&str>) -> Widget {
        Widget::connect(self.port, visitor).await
    }

    /// A widget socket opened with extra request headers (`Origin`, `Cookie`); a refused
    /// upgrade gives its HTTP status and JSON body.
    pub async fn try_widget(
        &self,
        visitor: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Widget, (u16, Value)> {
        Widget::try_connect(self.port, visitor, headers).await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A web-chat widget's socket.
pub struct Widget {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub visitor: String,
}

impl Widget {
    pub async fn connect(port: u16, visitor: Option<&str>) -> Self {
        match Self::try_connect(port, visitor, &[]).await {
            Ok(w) => w,
            Err((status, body)) => panic!("widget socket refused: {status} {body}"),
        }
    }

    pub async fn try_connect(
        port: u16,
        visitor: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Self, (u16, Value)> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = match visitor {
            Some(v) => format!("ws://127.0.0.1:{port}/webchat/ws?visitor={v}"),
            None => format!("ws://127.0.0.1:{port}/webchat/ws"),
        };
        let mut request = url.into_client_request().unwrap();
        for (name, value) in headers {
            request.headers_mut().append(
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
                    .unwrap(),
                value.parse().unwrap(),
            );
        }
        let mut ws = match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => ws,
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let body = response
                    .body()
                    .as_deref()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or(Value::Null);
                return Err((response.status().as_u16(), body));
            }
            Err(e) => panic!("widget socket failed: {e}"),
        };
        let welcome = next_json(&mut ws).await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        let visitor = welcome["visitor"].as_str().unwrap().to_owned();
        Ok(Self { ws, visitor })
    }

    pub async fn send_json(&mut self, v: Value) {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn say(&mut self, client_id: &str, text: &str) {
        self.send_json(json!({"type": "message", "client_id": client_id, "text": text}))
            .await;
    }

    /// The next frame of a type, skipping others.
    pub async fn expect(&mut self, kind: &str) -> Value {
        loop {
            let v = next_json(&mut self.ws).await;
            if v["type"] == kind {
                return v;
            }
        }
    }

    pub async fn next(&mut self) -> Value {
        next_json(&mut self.ws).await
    }
}

pub async fn next_json(ws: &mut WebSocketStream<MaybeTlsStream<TcpStream>>) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("no frame within 10 s")
            .expect("socket ended")
            .expect("socket error");
        match msg {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Close(c) => panic!("socket closed: {c:?}"),
            _ => continue,
        }
    }
}

/// Reads until the server closes the socket; returns the close code.
pub async fn close_code(ws: &mut WebSocketStream<MaybeTlsStream<TcpStream>>) -> u16 {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("no close within 10 s")
        {
            Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

/// Waits until `check` passes, for up to `secs`.
pub async fn eventually<F, Fut>(secs: u64, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not met within {secs} s");
}
