//! Soak: three `switchboard serve` nodes on one PostgreSQL and one Redis, behind a
//! round-robin TCP balancer of this program's own, under a steady mixed load for a long
//! time: web-chat visitors (each writes `--per-visitor` messages, one every `--pace`
//! seconds as a person types them, then leaves and a new one comes), signed WhatsApp webhook deliveries, and agents' event sockets open on every node.
//!
//! First it finds the peak: web-chat visitors through the balancer, each with
//! `--window` messages unacknowledged at a time, for `--peak-seconds`, counted as stored
//! (until the streams are empty again), not as accepted onto the stream. Then it runs at
//! `--share` of that peak (or at `--rate` messages per second when given) for `--minutes`,
//! open loop: each message is timed from when it was due, so a slow answer delays nothing
//! after it. Every `--sample` seconds it records the nodes' resident memory, the
//! latencies of the window (web chat: send to acknowledgement; WhatsApp: request to 200)
//! and the stream's depth (`/metrics`: entries not yet finished, inbound and outbound).
//! At the end every acknowledged message must be stored exactly once, and the peak is
//! measured again on the filled database; the figures are printed, written as CSV, and
//! drawn as an SVG (`--plot`).
//!
//! `cargo build --release -p switchboard -p switchboard-bench && target/release/soak-bench
//! --minutes 30 --plot docs/soak.svg` (PostgreSQL and Redis from `SB_TEST_PG`,
//! `SB_TEST_REDIS`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use switchboard_bench::{Database, Served};
use switchboard_core::clock::{Ids, SystemClock};
use switchboard_core::store::Store;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[derive(Debug, Parser)]
struct Args {
    /// How long the steady load runs.
    #[arg(long, default_value_t = 30.0)]
    minutes: f64,
    /// Seconds per sample (one row of the table, one point of the plot).
    #[arg(long, default_value_t = 30)]
    sample: u64,
    /// Messages per second in all; 0 runs at `--share` of the measured peak.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    #[arg(long, default_value_t = 0.3)]
    share: f64,
    /// Of the steady load, the share that comes as WhatsApp deliveries.
    #[arg(long, default_value_t = 0.2)]
    whatsapp: f64,
    #[arg(long, default_value_t = 15)]
    peak_seconds: u64,
    /// Web-chat visitors writing at once while the peak is measured (each a conversation
    /// of its own, as at a desk: a peak over a few conversations is a cheaper load).
    #[arg(long, default_value_t = 1000)]
    visitors: usize,
    /// Seconds between a visitor's messages in the steady run: as many visitors write at
    /// once as the web-chat rate times this (a person types a line every few seconds; a
    /// visitor writing 30 lines a second is a stress test of one conversation, not a desk).
    #[arg(long, default_value_t = 2.0)]
    pace: f64,
    /// Messages unacknowledged at a time per visitor while the peak is measured.
    #[arg(long, default_value_t = 1)]
    window: usize,
    /// Messages each visitor writes before leaving (a new visitor takes its place).
    #[arg(long, default_value_t = 20)]
    per_visitor: usize,
    /// Agents' event sockets per node.
    #[arg(long, default_value_t = 4)]
    agents: usize,
    /// Agents' replies per second (each after reading the conversation list), through
    /// the balancer: the dispatcher's share of the load.
    #[arg(long, default_value_t = 10.0)]
    replies: f64,
    /// Leading share of the run left out of the memory and latency verdicts.
    #[arg(long, default_value_t = 0.2)]
    warmup: f64,
    #[arg(long, default_value = "target/release/switchboard")]
    bin: String,
    /// Where the plot goes (SVG) and, beside it with `.csv`, the samples.
    #[arg(long, default_value = "target/soak.svg")]
    plot: String,
}

/// A TCP balancer on loopback: each connection goes to the next node in turn.
async fn balancer(ports: Vec<u16>) -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let next = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let (ports, next) = (ports.clone(), next.clone());
            tokio::spawn(async move {
                let _ = client.set_nodelay(true);
                let i = next.fetch_add(1, Ordering::Relaxed) % ports.len();
                if let Ok(mut node) = TcpStream::connect(("127.0.0.1", ports[i])).await {
                    let _ = node.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut node).await;
                }
            });
        }
    });
    Ok(port)
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// A new visitor's widget socket, after its welcome frame.
async fn widget(port: u16) -> Result<Socket> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/webchat/ws"))
        .await
        .context("widget socket")?;
    match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
        Ok(Some(Ok(_))) => Ok(ws),
        _ => bail!("no welcome frame"),
    }
}

fn chat(client_id: &str, n: usize) -> Message {
    let text = format!(
        "Olá, a copiadora do 2º andar mostra o erro J-{n} de novo e não imprime frente e verso, podem ver? [{client_id}]"
    );
    Message::Text(
        json!({"type": "message", "client_id": client_id, "text": text})
            .to_string()
            .into(),
    )
}

/// The acknowledged client id in a widget frame, if it is an acknowledgement; an error
/// frame is an error.
fn ack_of(frame: &Message) -> Result<Option<String>> {
    let Ok(text) = frame.to_text() else {
        return Ok(None);
    };
    let Ok(f) = serde_json::from_str::<Value>(text) else {
        return Ok(None);
    };
    match f["type"].as_str() {
        Some("ack") => Ok(f["client_id"].as_str().map(str::to_owned)),
        Some("error") => bail!("refused: {f}"),
        _ => Ok(None),
    }
}

/// What the load records, read and reset by the sampler.
#[derive(Default)]
struct Window {
    /// Microseconds from when a message was due to its acknowledgement (web chat) or
    /// to the 200 (WhatsApp).
    chat: Vec<u32>,
    whatsapp: Vec<u32>,
    errors: usize,
}

struct Load {
    window: Mutex<Window>,
    /// The marks of the messages acknowledged (the client id a message's text ends
    /// with, in brackets).
    acked: Mutex<Vec<String>>,
    stop: AtomicBool,
}

impl Load {
    fn acked(&self, mark: String) {
        if let Ok(mut a) = self.acked.lock() {
            a.push(mark);
        }
    }

    fn record(&self, whatsapp: bool, due: Instant) {
        let us = u32::try_from(due.elapsed().as_micros()).unwrap_or(u32::MAX);
        if let Ok(mut w) = self.window.lock() {
            if whatsapp {
                w.whatsapp.push(us);
            } else {
                w.chat.push(us);
            }
        }
    }

    fn error(&self) {
        if let Ok(mut w) = self.window.lock() {
            w.errors += 1;
        }
    }
}

/// The peak, as stored: web-chat visitors with `window` messages in flight each, for
/// `seconds`, then until the nodes have finished everything acknowledged (the streams'
/// depth back to 0). Returns (messages stored per second, over the whole time;
/// acknowledged per second, while sending). A message is acknowledged once it is on the
/// stream, before it is stored: the acknowledgement rate alone says how fast the nodes
/// accept, not how fast they keep up.
async fn peak(
    lb: u16,
    visitors: usize,
    window: usize,
    seconds: u64,
    node: &Served,
) -> Result<(f64, f64)> {
    let acked = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for v in 0..visitors {
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            while Instant::now() < until {
                let (mut tx, mut rx) = widget(lb).await?.split();
                let mut inflight = 0;
                // Each visitor writes a conversation's worth, then a new one comes.
                for _ in 0..100 {
                    while inflight < window {
                        tx.send(chat(&format!("p{v}-{n}"), n)).await?;
                        n += 1;
                        inflight += 1;
                    }
                    let frame = rx.next().await.context("socket closed")??;
                    if ack_of(&frame)?.is_some() {
                        inflight -= 1;
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                    if Instant::now() >= until {
                        break;
                    }
                }
                while inflight > 0 {
                    let frame = rx.next().await.context("socket closed")??;
                    if ack_of(&frame)?.is_some() {
                        inflight -= 1;
                    }
                }
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let sent = started.elapsed();
    while depth(&node.http, &node.base).await? > 0 {
        if started.elapsed() > sent + Duration::from_secs(300) {
            bail!("the peak's entries were not finished within 5 minutes");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let n = acked.load(Ordering::Relaxed) as f64;
    Ok((n / started.elapsed().as_secs_f64(), n / sent.as_secs_f64()))
}

/// One visitor slot of the steady load: visitors one after the other, each writing
/// `per_visitor` messages at `rate` per second from this slot, timed from when each
/// was due.
async fn visitor_slot(
    lb: u16,
    slot: usize,
    rate: f64,
    offset: Duration,
    per_visitor: usize,
    load: Arc<Load>,
) {
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now() + offset;
    let mut k = 0u32;
    let mut visitor = 0usize;
    while !load.stop.load(Ordering::Relaxed) {
        visitor += 1;
        let Ok(ws) = widget(lb).await else {
            load.error();
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let (mut tx, mut rx) = ws.split();
        let mut due: HashMap<String, Instant> = HashMap::new();
        let mut sent = 0;
        while (sent < per_visitor || !due.is_empty()) && !load.stop.load(Ordering::Relaxed) {
            let next = start + interval * k;
            let sending = sent < per_visitor;
            tokio::select! {
                () = tokio::time::sleep_until(next.into()), if sending => {
                    let id = format!("s{slot}-{visitor}-{sent}");
                    if tx.send(chat(&id, sent)).await.is_err() {
                        load.error();
                        break;
                    }
                    due.insert(id, next);
                    sent += 1;
                    k += 1;
                }
                frame = rx.next() => {
                    let Some(Ok(frame)) = frame else {
                        load.error();
                        break;
                    };
                    match ack_of(&frame) {
                        Ok(Some(id)) => {
                            if let Some(at) = due.remove(&id) {
                                load.record(false, at);
                                load.acked(id);
                            }
                        }
                        Ok(None) => {}
                        Err(_) => load.error(),
                    }
                }
            }
        }
        let _ = tx.send(Message::Close(None)).await;
    }
}

/// One signed WhatsApp delivery, marked `w{n}`, from one of 5,000 customers.
fn delivery(n: u32) -> (Vec<u8>, String) {
    let customer = n % 5_000;
    switchboard_bench::whatsapp_text(
        &format!("55219{customer:08}"),
        &format!("Cliente {customer}"),
        &format!("wamid.soak.{n}"),
        &format!("boa tarde, o contador da maquina deu {n} paginas esse mes, ta certo? [w{n}]"),
    )
}

/// WhatsApp deliveries at `rate` per second through the balancer, open loop.
async fn whatsapp(base: String, rate: f64, load: Arc<Load>) {
    let http = reqwest::Client::new();
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let mut n = 0u32;
    while !load.stop.load(Ordering::Relaxed) {
        let due = start + interval * n;
        tokio::time::sleep_until(due.into()).await;
        let (http, base, load) = (http.clone(), base.clone(), load.clone());
        let delivery = delivery(n);
        tokio::spawn(async move {
            if switchboard_bench::post_whatsapp(&http, &base, &delivery)
                .await
                .is_ok()
            {
                load.record(true, due);
                load.acked(format!("w{n}"));
            } else {
                load.error();
            }
        });
        n += 1;
    }
}

/// WhatsApp's Graph API as far as sending goes: every request is answered 200 with a
/// message id, as the documented `POST /{version}/{phone number id}/messages` answers
/// (keep-alive; a request's body is read by its `content-length`). Counts the requests.
async fn graph(sent: Arc<AtomicUsize>) -> Result<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let sent = sent.clone();
            tokio::spawn(async move {
                let mut buf: Vec<u8> = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while buf.len() < end + 4 + length {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..end + 4 + length);
                    let n = sent.fetch_add(1, Ordering::Relaxed);
                    let body = format!(
                        "{{\"messaging_product\":\"whatsapp\",\"contacts\":[{{\"input\":\"x\",\"wa_id\":\"x\"}}],\"messages\":[{{\"id\":\"wamid.soak.out.{n}\"}}]}}"
                    );
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if socket.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(port)
}

/// Agents at work through the balancer, `rate` times a second: the first page of the
/// conversation list, then a reply to one of its conversations. Counts the replies
/// accepted.
async fn replies(base: String, token: String, rate: f64, load: Arc<Load>, done: Arc<AtomicUsize>) {
    let http = reqwest::Client::new();
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let mut n = 0u32;
    while !load.stop.load(Ordering::Relaxed) {
        tokio::time::sleep_until((start + interval * n).into()).await;
        n += 1;
        let (http, base, token, load, done) = (
            http.clone(),
            base.clone(),
            token.clone(),
            load.clone(),
            done.clone(),
        );
        tokio::spawn(async move {
            let page: Option<Value> = match http
                .get(format!("{base}/api/v1/conversations?limit=20"))
                .bearer_auth(&token)
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => r.json().await.ok(),
                _ => None,
            };
            let Some(id) = page.as_ref().and_then(|p| {
                let list = p["conversations"].as_array()?;
                list.get(n as usize % list.len().max(1))?["id"]
                    .as_str()
                    .map(str::to_owned)
            }) else {
                load.error();
                return;
            };
            let r = http
                .post(format!("{base}/api/v1/conversations/{id}/messages"))
                .bearer_auth(&token)
                .json(&json!({"text": format!("Oi! Já vamos verificar a máquina, obrigado pelo aviso ({n}).")}))
                .send()
                .await;
            if r.is_ok_and(|r| r.status().is_success()) {
                done.fetch_add(1, Ordering::Relaxed);
            } else {
                load.error();
            }
        });
    }
}

/// An agent's event socket on one node, counting the frames it receives.
async fn agent(port: u16, cookie: String, frames: Arc<AtomicUsize>) -> Result<()> {
    let mut request = format!("ws://127.0.0.1:{port}/inbox/events").into_client_request()?;
    request.headers_mut().insert("cookie", cookie.parse()?);
    request
        .headers_mut()
        .insert("origin", format!("http://127.0.0.1:{port}").parse()?);
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .context("agent socket")?;
    tokio::spawn(async move {
        let (_, mut rx) = ws.split();
        while let Some(Ok(_)) = rx.next().await {
            frames.fetch_add(1, Ordering::Relaxed);
        }
    });
    Ok(())
}

/// The stream's depth on a node's `/metrics`: entries not yet finished, all topics.
async fn depth(http: &reqwest::Client, base: &str) -> Result<u64> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|l| l.contains("queue_depth{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum())
}

/// The `p` quantile of microseconds, in milliseconds.
fn quantile(values: &mut [u32], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_unstable();
    let i = ((values.len() as f64 * p).ceil() as usize).clamp(1, values.len()) - 1;
    f64::from(values[i]) / 1000.0
}

/// One sample of the run.
struct Sample {
    minute: f64,
    rss_mib: [f64; 3],
    chat_p50: f64,
    chat_p99: f64,
    whatsapp_p99: f64,
    messages: usize,
    errors: usize,
    depth: u64,
    agent_frames: usize,
}

impl Sample {
    const HEADER: &str = "minute,rss_a_mib,rss_b_mib,rss_c_mib,chat_p50_ms,chat_p99_ms,whatsapp_p99_ms,messages,errors,depth,agent_frames";

    /// The sample as a line of the CSV (printed as the run goes, and written at the end).
    fn csv(&self) -> String {
        format!(
            "{:.2},{:.1},{:.1},{:.1},{:.2},{:.2},{:.2},{},{},{},{}",
            self.minute,
            self.rss_mib[0],
            self.rss_mib[1],
            self.rss_mib[2],
            self.chat_p50,
            self.chat_p99,
            self.whatsapp_p99,
            self.messages,
            self.errors,
            self.depth,
            self.agent_frames
        )
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let mut db = Database::create("postgres", dir.path(), "sb_bench_soak").await?;

    // Agents, with sessions, written before the nodes start.
    let ids = Ids::new(Arc::new(SystemClock));
    let store = Store::connect(&db.url).await?;
    store.migrate(ids.now_ms()).await?;
    let admins =
        switchboard_bench::admins_with_sessions(&store, &ids, args.agents.max(1) * 3, "agente")
            .await?;
    let token = store.issue_api_token(&ids, &admins[0].0, "soak").await?;
    store.close().await;

    let graph_sent = Arc::new(AtomicUsize::new(0));
    let graph_port = graph(graph_sent.clone()).await?;
    let config = dir.path().join("whatsapp.toml");
    std::fs::write(
        &config,
        switchboard_bench::whatsapp_config(&format!("http://127.0.0.1:{graph_port}")),
    )?;
    db.env
        .push(("SWITCHBOARD_CONFIG".into(), config.display().to_string()));
    for (k, v) in [
        ("SWITCHBOARD_WEBCHAT__MAX_MESSAGES_PER_MINUTE", "1000000"),
        ("SWITCHBOARD_WEBCHAT__MAX_SOCKETS_PER_IP", "100000"),
    ] {
        db.env.push((k.into(), v.into()));
    }
    let mut nodes = Vec::new();
    for name in ["a", "b", "c"] {
        let home = dir.path().join(name);
        std::fs::create_dir_all(&home)?;
        nodes.push(
            Served::start_with(&args.bin, &home, &db, &[("SWITCHBOARD_NODE_ID", name)]).await?,
        );
    }
    let ports: Vec<u16> = nodes
        .iter()
        .filter_map(|n| n.base.rsplit(':').next()?.parse().ok())
        .collect();
    let lb = balancer(ports.clone()).await?;
    let lb_base = format!("http://127.0.0.1:{lb}");

    let frames = Arc::new(AtomicUsize::new(0));
    for (i, (_, cookie)) in admins.into_iter().enumerate() {
        agent(ports[i % 3], cookie, frames.clone()).await?;
    }

    let (peak, accepted) =
        peak(lb, args.visitors, args.window, args.peak_seconds, &nodes[0]).await?;
    let rate = if args.rate > 0.0 {
        args.rate
    } else {
        peak * args.share
    };
    let chat_rate = rate * (1.0 - args.whatsapp);
    let whatsapp_rate = rate * args.whatsapp;
    println!(
        "peak web chat through the balancer: {peak:.0} msg/s stored ({accepted:.0} msg/s accepted while \
         sending; {} visitors, {} in flight each); steady load {rate:.0} msg/s ({chat_rate:.0} web chat, \
         {whatsapp_rate:.0} WhatsApp) for {} min",
        args.visitors, args.window, args.minutes
    );
    let pg = Store::connect(&db.url).await?;

    let load = Arc::new(Load {
        window: Mutex::new(Window::default()),
        acked: Mutex::new(Vec::new()),
        stop: AtomicBool::new(false),
    });
    let mut tasks = Vec::new();
    let slots = ((chat_rate * args.pace).round() as usize).max(1);
    println!(
        "{slots} web-chat visitors at once, a message every {:.1} s each",
        args.pace
    );
    let per_slot = chat_rate / slots as f64;
    for slot in 0..slots {
        let offset = Duration::from_secs_f64(slot as f64 / slots as f64 / per_slot);
        tasks.push(tokio::spawn(visitor_slot(
            lb,
            slot,
            per_slot,
            offset,
            args.per_visitor,
            load.clone(),
        )));
    }
    if whatsapp_rate > 0.0 {
        tasks.push(tokio::spawn(whatsapp(
            lb_base.clone(),
            whatsapp_rate,
            load.clone(),
        )));
    }
    let replied = Arc::new(AtomicUsize::new(0));
    if args.replies > 0.0 {
        tasks.push(tokio::spawn(replies(
            lb_base.clone(),
            token.clone(),
            args.replies,
            load.clone(),
            replied.clone(),
        )));
    }

    let begin = Instant::now();
    let total = Duration::from_secs_f64(args.minutes * 60.0);
    let mut samples: Vec<Sample> = Vec::new();
    println!("{}", Sample::HEADER);
    let mut frames_before = frames.load(Ordering::Relaxed);
    while begin.elapsed() < total {
        let left = total.saturating_sub(begin.elapsed());
        tokio::time::sleep(left.min(Duration::from_secs(args.sample))).await;
        let w = std::mem::take(&mut *load.window.lock().map_err(|_| anyhow::anyhow!("lock"))?);
        let (mut chat, mut wa) = (w.chat, w.whatsapp);
        let mut rss = [0.0; 3];
        for (r, n) in rss.iter_mut().zip(&nodes) {
            *r = switchboard_bench::status_kib(n.child.id(), "VmRSS:")? as f64 / 1024.0;
        }
        let now_frames = frames.load(Ordering::Relaxed);
        let s = Sample {
            minute: begin.elapsed().as_secs_f64() / 60.0,
            rss_mib: rss,
            chat_p50: quantile(&mut chat, 0.50),
            chat_p99: quantile(&mut chat, 0.99),
            whatsapp_p99: quantile(&mut wa, 0.99),
            messages: chat.len() + wa.len(),
            errors: w.errors,
            depth: depth(&nodes[0].http, &nodes[0].base)
                .await
                .unwrap_or(u64::MAX),
            agent_frames: now_frames - frames_before,
        };
        frames_before = now_frames;
        println!("{}", s.csv());
        samples.push(s);
    }
    load.stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(15), t).await;
    }

    // Every acknowledged message stored once: each acknowledged mark is found among the
    // stored messages' marks, and no mark is stored twice.
    let acked: Vec<String> =
        std::mem::take(&mut *load.acked.lock().map_err(|_| anyhow::anyhow!("lock"))?);
    let stop = Instant::now();
    let (missing, twice) = loop {
        let (marks, twice) = stored_marks(&pg).await?;
        let missing = acked.iter().filter(|m| !marks.contains(*m)).count();
        if missing == 0 || stop.elapsed() > Duration::from_secs(60) {
            break (missing, twice);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let drained = stop.elapsed();
    // Agents' replies: each sent once (WhatsApp's, counted by the Graph API).
    let mut unsent = 0;
    let mut wa_sent = 0;
    while stop.elapsed() < Duration::from_secs(90) {
        (unsent, wa_sent) = outbound(&pg).await?;
        if unsent == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let graph_requests = graph_sent.load(Ordering::Relaxed);
    println!(
        "agents' replies accepted: {}; not sent yet {:.0} s after the load stopped: {unsent}; \
         WhatsApp replies sent {wa_sent}, requests the Graph API answered {graph_requests}",
        replied.load(Ordering::Relaxed),
        stop.elapsed().as_secs_f64()
    );
    pg.close().await;
    println!(
        "acknowledged {} ({} WhatsApp): {missing} not stored, {twice} stored twice; all stored {:.1} s after the load stopped",
        acked.len(),
        acked.iter().filter(|m| m.starts_with('w')).count(),
        drained.as_secs_f64()
    );
    verdict(&samples, args.warmup);
    // The peak again, on the database the run has filled: what the share was of by now.
    let (end_peak, end_accepted) =
        self::peak(lb, args.visitors, args.window, args.peak_seconds, &nodes[0]).await?;
    println!(
        "peak web chat through the balancer at the end, after the steady run's {} messages: {end_peak:.0} msg/s \
         stored ({end_accepted:.0} accepted; at the start {peak:.0}); the steady load was {:.0} % of it",
        acked.len(),
        rate / end_peak * 100.0
    );
    write_plot(&samples, &args.plot, rate, peak)?;
    for n in nodes {
        n.stop();
    }
    db.drop().await?;
    if missing > 0 || twice > 0 {
        bail!("{missing} acknowledged messages not stored, {twice} stored twice");
    }
    if unsent > 0 || wa_sent != graph_requests {
        bail!(
            "{unsent} replies not sent; {wa_sent} WhatsApp replies sent in {graph_requests} requests"
        );
    }
    Ok(())
}

/// Outbound messages not sent yet (queued, sending), and WhatsApp ones sent.
async fn outbound(store: &Store) -> Result<(usize, usize)> {
    let (unsent, wa): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE delivery_state IN ('queued', 'sending')), \
                count(*) FILTER (WHERE channel = 'whatsapp' AND delivery_state IN ('sent', 'delivered', 'read')) \
         FROM messages WHERE direction = 'outbound' AND internal = 0",
    )
    .fetch_one(store.pool())
    .await?;
    Ok((usize::try_from(unsent)?, usize::try_from(wa)?))
}

/// The marks of the inbound messages stored, and how many marks are stored more than once.
async fn stored_marks(store: &Store) -> Result<(std::collections::HashSet<String>, usize)> {
    let marks: Vec<String> = sqlx::query_scalar(
        "SELECT substring(text from '\\[([a-z0-9-]+)\\]$') FROM messages \
         WHERE direction = 'inbound' AND text LIKE '%]'",
    )
    .fetch_all(store.pool())
    .await?;
    let n = marks.len();
    let set: std::collections::HashSet<String> = marks.into_iter().collect();
    let twice = n - set.len();
    Ok((set, twice))
}

/// Memory, latency and depth after the warm-up: first third against last third.
fn verdict(samples: &[Sample], warmup: f64) {
    let skip = ((samples.len() as f64) * warmup).ceil() as usize;
    let steady = &samples[skip.min(samples.len())..];
    if steady.len() < 3 {
        println!("too few samples after the warm-up for a verdict");
        return;
    }
    let third = steady.len() / 3;
    let (first, last) = (&steady[..third], &steady[steady.len() - third..]);
    let mean =
        |s: &[Sample], f: &dyn Fn(&Sample) -> f64| s.iter().map(f).sum::<f64>() / s.len() as f64;
    for node in 0..3 {
        let (a, b) = (
            mean(first, &|s| s.rss_mib[node]),
            mean(last, &|s| s.rss_mib[node]),
        );
        println!(
            "node {}: RSS {a:.1} MiB in the first third after warm-up, {b:.1} MiB in the last ({:+.1} %)",
            ["a", "b", "c"][node],
            (b - a) / a * 100.0
        );
    }
    let (a, b) = (mean(first, &|s| s.chat_p99), mean(last, &|s| s.chat_p99));
    println!("web chat p99: {a:.1} ms in the first third, {b:.1} ms in the last");
    let worst = steady.iter().map(|s| s.chat_p99).fold(0.0, f64::max);
    println!("worst sample's web chat p99 after warm-up: {worst:.1} ms");
    let depth_max = steady.iter().map(|s| s.depth).max().unwrap_or(0);
    let depth_end = steady.last().map_or(0, |s| s.depth);
    println!("stream depth after warm-up: at most {depth_max}, {depth_end} at the end");
}

/// The samples as CSV and as an SVG: memory per node, web-chat latency, stream depth.
fn write_plot(samples: &[Sample], path: &str, rate: f64, peak: f64) -> Result<()> {
    let mut csv = format!("{}\n", Sample::HEADER);
    for s in samples {
        let _ = writeln!(csv, "{}", s.csv());
    }
    std::fs::write(
        std::path::Path::new(path).with_extension("csv"),
        csv.as_bytes(),
    )?;

    let (w, panel, gap, left, top) = (760.0, 150.0, 50.0, 70.0, 40.0);
    let height = top + 3.0 * panel + 3.0 * gap + 20.0;
    let span = samples.last().map_or(1.0, |s| s.minute).max(0.1);
    let x = |m: f64| left + (m / span) * (w - left - 20.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {height}\" width=\"{w}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n\
         <text x=\"{left}\" y=\"22\" font-size=\"14\" font-weight=\"bold\">Soak: three nodes, {rate:.0} msg/s ({:.0} % of a {peak:.0} msg/s peak), {span:.1} min</text>\n",
        rate / peak * 100.0
    );
    type Series = (&'static str, &'static str, fn(&Sample) -> f64);
    fn line(name: &'static str, colour: &'static str, f: fn(&Sample) -> f64) -> Series {
        (name, colour, f)
    }
    let panels: [(&str, Vec<Series>); 3] = [
        (
            "RSS per node (MiB)",
            vec![
                line("a", "#2563eb", |s| s.rss_mib[0]),
                line("b", "#16a34a", |s| s.rss_mib[1]),
                line("c", "#d97706", |s| s.rss_mib[2]),
            ],
        ),
        (
            "Web chat, due to acknowledged (ms)",
            vec![
                line("p50", "#64748b", |s| s.chat_p50),
                line("p99", "#dc2626", |s| s.chat_p99),
            ],
        ),
        (
            "Stream entries not yet finished",
            vec![line("depth", "#7c3aed", |s| s.depth as f64)],
        ),
    ];
    for (i, (title, series)) in panels.iter().enumerate() {
        let y0 = top + i as f64 * (panel + gap) + 20.0;
        let max = series
            .iter()
            .flat_map(|(_, _, f)| samples.iter().map(*f))
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max)
            .max(1.0)
            * 1.15;
        let y = |v: f64| y0 + panel - (v / max) * panel;
        let _ = writeln!(
            svg,
            "<text x=\"{left}\" y=\"{}\" font-weight=\"bold\">{title}</text>\n\
             <rect x=\"{left}\" y=\"{y0}\" width=\"{}\" height=\"{panel}\" fill=\"none\" stroke=\"#cbd5e1\"/>",
            y0 - 6.0,
            w - left - 20.0
        );
        for k in 0..=4 {
            let v = max * f64::from(k) / 4.0;
            let _ = writeln!(
                svg,
                "<line x1=\"{left}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#f1f5f9\"/>\
                 <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#475569\">{v:.0}</text>",
                w - 20.0,
                left - 6.0,
                y(v) + 4.0,
                yy = y(v)
            );
        }
        for (j, (name, colour, f)) in series.iter().enumerate() {
            let points: Vec<String> = samples
                .iter()
                .filter(|s| f(s).is_finite())
                .map(|s| format!("{:.1},{:.1}", x(s.minute), y(f(s))))
                .collect();
            let _ = writeln!(
                svg,
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" fill=\"{colour}\" text-anchor=\"end\">{name}</text>",
                points.join(" "),
                w - 24.0 - j as f64 * 40.0,
                y0 + 14.0
            );
        }
    }
    let base = top + 3.0 * panel + 2.0 * gap + 20.0;
    let digits = usize::from(span < 10.0);
    for k in 0..=6 {
        let m = span * f64::from(k) / 6.0;
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#475569\">{m:.digits$}</text>",
            x(m),
            base + 16.0
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#475569\">minutes</text>\n</svg>",
        x(span / 2.0),
        base + 34.0
    );
    std::fs::write(path, svg)?;
    println!(
        "plot: {path}; samples: {}",
        std::path::Path::new(path).with_extension("csv").display()
    );
    Ok(())
}
