//! Agent sockets: how long a web-chat message takes to reach every open agent event socket
//! (`/inbox/events`), and what an idle agent socket costs the server in memory.
//!
//! It starts the release `switchboard` binary (build it first: `cargo build --release`),
//! opens `--agents` agent sockets (admins, so every socket sees every message), measures the
//! server's resident memory before and after, then sends `--messages` web-chat messages at
//! `--rate` per second from `--widgets` widget sockets and records when each message event
//! reaches each agent socket. Every (socket, message) pair must arrive exactly once.
//!
//! `cargo run --release -p switchboard-bench --bin fanout-bench -- --backend sqlite`
//! (or `--backend postgres`, which uses `SB_TEST_PG` and `SB_TEST_REDIS`).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use futures::{SinkExt, StreamExt};
use switchboard_core::clock::{Ids, SystemClock};
use switchboard_core::store::Store;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[derive(Debug, Parser)]
struct Args {
    /// sqlite (with the embedded stream) or postgres (with Redis).
    #[arg(long, default_value = "sqlite")]
    backend: String,
    /// Open agent event sockets.
    #[arg(long, default_value_t = 500)]
    agents: usize,
    /// Widget sockets the messages come from (one conversation each).
    #[arg(long, default_value_t = 50)]
    widgets: usize,
    /// Messages sent in all.
    #[arg(long, default_value_t = 2_000)]
    messages: usize,
    /// Messages per second, across all widgets.
    #[arg(long, default_value_t = 200)]
    rate: u64,
    /// The server binary.
    #[arg(long, default_value = "target/release/switchboard")]
    bin: String,
}

const MARK: &str = "fanout-";

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut env: Vec<(String, String)> = vec![
        ("SWITCHBOARD_LISTEN".into(), format!("127.0.0.1:{port}")),
        (
            "SWITCHBOARD_DATA_DIR".into(),
            dir.path().display().to_string(),
        ),
        (
            "SWITCHBOARD_PUBLIC_URL".into(),
            format!("http://127.0.0.1:{port}"),
        ),
        (
            "SWITCHBOARD_WEBCHAT__MAX_MESSAGES_PER_MINUTE".into(),
            "1000000".into(),
        ),
        (
            "SWITCHBOARD_WEBCHAT__MAX_SOCKETS_PER_IP".into(),
            "100000".into(),
        ),
    ];
    let db = switchboard_bench::Database::create(&args.backend, dir.path(), "sbfanout").await?;
    env.extend(db.env.iter().cloned());
    let db_url = db.url.clone();

    // Agents and their sessions, written before the server starts.
    let ids = Ids::new(Arc::new(SystemClock));
    let store = Store::connect(&db_url).await?;
    store.migrate(ids.now_ms()).await?;
    let cookies: Vec<String> =
        switchboard_bench::admins_with_sessions(&store, &ids, args.agents, "agent")
            .await?
            .into_iter()
            .map(|(_, cookie)| cookie)
            .collect();
    store.close().await;

    let mut server = Server::start(&args.bin, &env, dir.path(), port).await?;
    let before = server.rss_kib()?;

    // The agent sockets.
    let sent_at: Arc<Vec<AtomicU64>> =
        Arc::new((0..args.messages).map(|_| AtomicU64::new(0)).collect());
    let epoch = Instant::now();
    let mut agents = Vec::with_capacity(args.agents);
    for cookie in &cookies {
        let mut request = format!("ws://127.0.0.1:{port}/inbox/events").into_client_request()?;
        request.headers_mut().insert("cookie", cookie.parse()?);
        request
            .headers_mut()
            .insert("origin", format!("http://127.0.0.1:{port}").parse()?);
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .context("agent socket")?;
        agents.push(ws);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = server.rss_kib()?;
    let per_socket = (after.saturating_sub(before)) as f64 / args.agents as f64;
    println!(
        "{} agent sockets: server RSS {before} KiB -> {after} KiB, {per_socket:.0} KiB per idle socket",
        args.agents
    );

    let expected = args.messages;
    let mut readers = Vec::with_capacity(args.agents);
    for ws in agents {
        let sent_at = sent_at.clone();
        readers.push(tokio::spawn(async move {
            let (_, mut rx) = ws.split();
            let mut seen = vec![false; expected];
            let mut got = 0usize;
            let mut duplicates = 0usize;
            let mut latencies = Vec::with_capacity(expected);
            let mut frames = 0usize;
            let deadline = tokio::time::sleep(Duration::from_secs(3600));
            tokio::pin!(deadline);
            while got < expected {
                let frame = tokio::select! {
                    f = rx.next() => f,
                    () = &mut deadline => break,
                };
                let Some(Ok(Message::Text(text))) = frame else {
                    if matches!(frame, None | Some(Err(_))) {
                        break;
                    }
                    continue;
                };
                let now = epoch.elapsed().as_micros() as u64;
                frames += 1;
                // A message event names its type first; its text carries the number.
                if !text.starts_with("{\"type\":\"message\"") {
                    continue;
                }
                let Some(at) = text.find(MARK) else { continue };
                let digits: String = text[at + MARK.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                let Ok(n) = digits.parse::<usize>() else {
                    continue;
                };
                if n >= expected {
                    continue;
                }
                if seen[n] {
                    duplicates += 1;
                    continue;
                }
                seen[n] = true;
                got += 1;
                let sent = sent_at[n].load(Ordering::Acquire);
                latencies.push((n as u32, now.saturating_sub(sent)));
            }
            (latencies, duplicates, frames)
        }));
    }

    // The widgets, each with its first message already sent (a conversation open).
    let mut widgets = Vec::with_capacity(args.widgets);
    for _ in 0..args.widgets {
        let request = format!("ws://127.0.0.1:{port}/webchat/ws").into_client_request()?;
        let (mut ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .context("widget socket")?;
        // The welcome frame.
        let _ = ws.next().await;
        // The conversation is opened before the timed part: what is timed is messages
        // of open conversations.
        let hello = serde_json::json!({"type": "message", "client_id": "hello", "text": "hello"});
        ws.send(Message::Text(hello.to_string().into())).await?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) if t.contains("\"ack\"") => break,
                Some(Ok(_)) => {}
                _ => bail!("widget socket closed before its first message was accepted"),
            }
        }
        widgets.push(ws);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let per_widget = args.rate as f64 / args.widgets as f64;
    let server_cpu_before = server.cpu_seconds()?;
    let client_cpu_before = cpu_seconds("self")?;
    let started = Instant::now();
    let mut senders = Vec::new();
    for (w, ws) in widgets.into_iter().enumerate() {
        let sent_at = sent_at.clone();
        let (widgets_n, messages) = (args.widgets, args.messages);
        senders.push(tokio::spawn(async move {
            let (mut tx, mut rx) = ws.split();
            // Acks and echoes are read and dropped so the socket never backs up.
            let drain = tokio::spawn(async move { while rx.next().await.is_some() {} });
            let interval = Duration::from_secs_f64(1.0 / per_widget);
            let mut n = w;
            let mut k = 0u32;
            while n < messages {
                // Evenly spread: widget w sends at w/widgets of each interval.
                let due = started
                    + interval.mul_f64(f64::from(k) + w as f64 / widgets_n as f64);
                tokio::time::sleep_until(due.into()).await;
                let text = format!("{MARK}{n} help with my order");
                let frame = serde_json::json!({"type": "message", "client_id": format!("c{n}"), "text": text});
                sent_at[n].store(epoch.elapsed().as_micros() as u64, Ordering::Release);
                if tx.send(Message::Text(frame.to_string().into())).await.is_err() {
                    break;
                }
                n += widgets_n;
                k += 1;
            }
            tokio::time::sleep(Duration::from_secs(30)).await;
            drain.abort();
        }));
    }

    let mut all = Vec::with_capacity(args.agents * args.messages);
    // Per message: when the first socket got it, and when the last did.
    let mut first = vec![u64::MAX; args.messages];
    let mut last = vec![0u64; args.messages];
    let mut duplicates = 0;
    let mut frames = 0;
    for r in readers {
        let (l, d, f) = tokio::time::timeout(Duration::from_secs(120), r)
            .await
            .context("agents did not receive every message within 2 minutes")??;
        for (n, latency) in l {
            let n = n as usize;
            first[n] = first[n].min(latency);
            last[n] = last[n].max(latency);
            all.push(latency);
        }
        duplicates += d;
        frames += f;
    }
    let elapsed = started.elapsed();
    let server_cpu = server.cpu_seconds()? - server_cpu_before;
    let client_cpu = cpu_seconds("self")? - client_cpu_before;
    for s in senders {
        s.abort();
    }
    let missing = args.agents * args.messages - all.len();
    println!(
        "{} messages at {}/s from {} widgets to {} agent sockets ({} backend), {:.1} s",
        args.messages,
        args.rate,
        args.widgets,
        args.agents,
        args.backend,
        elapsed.as_secs_f64()
    );
    if all.is_empty() {
        bail!("no message reached an agent socket");
    }
    println!(
        "widget send -> agent socket: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        quantile(&mut all, 0.50),
        quantile(&mut all, 0.95),
        quantile(&mut all, 0.99),
        quantile(&mut all, 1.0)
    );
    let mut spread: Vec<u64> = first
        .iter()
        .zip(&last)
        .filter(|(f, _)| **f != u64::MAX)
        .map(|(f, l)| l - f)
        .collect();
    let mut first: Vec<u64> = first.into_iter().filter(|f| *f != u64::MAX).collect();
    println!(
        "first socket to get each message: p50 {:.1} ms, p99 {:.1} ms; first to last socket: p50 {:.1} ms, p99 {:.1} ms",
        quantile(&mut first, 0.50),
        quantile(&mut first, 0.99),
        quantile(&mut spread, 0.50),
        quantile(&mut spread, 0.99),
    );
    println!(
        "deliveries {} (missing {missing}, duplicated {duplicates}); {frames} frames in all",
        all.len()
    );
    println!(
        "CPU during the run: server {server_cpu:.1} s, this program {client_cpu:.1} s, over {:.1} s on {} cores",
        elapsed.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );
    server.stop();
    db.drop().await?;
    if missing > 0 || duplicates > 0 {
        bail!("{missing} deliveries missing, {duplicates} duplicated");
    }
    Ok(())
}

/// The `p` quantile of microseconds, in milliseconds.
fn quantile(values: &mut [u64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_unstable();
    let i = ((values.len() as f64 * p).ceil() as usize).clamp(1, values.len()) - 1;
    values[i] as f64 / 1000.0
}

/// User and system CPU time of a process (`self` or a pid), in seconds.
fn cpu_seconds(pid: &str) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("unreadable stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks =
        |i: usize| -> Result<f64> { Ok(fields.get(i).context("short stat")?.parse::<f64>()?) };
    // utime and stime are fields 14 and 15 of the line: 12 and 13 after the name.
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

struct Server {
    child: Child,
}

impl Server {
    async fn start(
        bin: &str,
        env: &[(String, String)],
        dir: &std::path::Path,
        port: u16,
    ) -> Result<Self> {
        // Resolved before the server's working directory changes.
        let bin = std::fs::canonicalize(bin)
            .with_context(|| format!("{bin} not found (run `cargo build --release` first)"))?;
        let child = Command::new(&bin)
            .arg("serve")
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(dir)
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let server = Self { child };
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the server did not listen within 30 s")
    }

    fn rss_kib(&self) -> Result<u64> {
        switchboard_bench::status_kib(self.child.id(), "VmRSS:")
    }

    fn cpu_seconds(&self) -> Result<f64> {
        cpu_seconds(&self.child.id().to_string())
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
