//! Throughput and latency of the conversation backbone: envelope accepted (appended to
//! the inbound stream) → message persisted by the router and its event published.
//!
//! `cargo run --release -p switchboard-bench` runs everything (SQLite + embedded stream,
//! PostgreSQL + Redis) and PostgreSQL's own single-row insert rate (pgbench) for scale;
//! `--quick` is a short smoke run. Results go to stdout; docs/BENCHMARKS.md keeps them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use switchboard_core::clock::{Ids, SystemClock};
use switchboard_core::domain::{Channel, Envelope, Identity, IdentityKind};
use switchboard_core::metrics::Metrics;
use switchboard_core::realtime::{Event, LocalRealtime, Realtime, RedisRealtime};
use switchboard_core::router::{Router, RouterOptions};
use switchboard_core::store::Store;
use switchboard_core::stream::embedded::EmbeddedStream;
use switchboard_core::stream::redis::RedisStream;
use switchboard_core::stream::{INBOUND, Stream};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
struct Args {
    /// embedded, pg-redis or all.
    #[arg(long, default_value = "all")]
    backend: String,
    /// Messages in the sustained-throughput run.
    #[arg(long, default_value_t = 50_000)]
    messages: usize,
    /// Concurrent producers (like open widget sockets) in the throughput run.
    #[arg(long, default_value_t = 64)]
    producers: usize,
    /// Distinct contacts the messages come from.
    #[arg(long, default_value_t = 2_000)]
    contacts: usize,
    /// Rate of the latency run, messages per second.
    #[arg(long, default_value_t = 1_000)]
    rate: u64,
    /// Seconds of the latency run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// A short smoke run (5,000 messages, 3 s of latency).
    #[arg(long)]
    quick: bool,
    /// Outgoing-webhook subscriptions to every message and new conversation: the intake
    /// then records a delivery per event and subscription (none is posted here).
    #[arg(long, default_value_t = 0)]
    webhooks: usize,
    /// SQL run on each backend's database after its migrations, before any message: for
    /// measuring what a part of the schema costs (`--after-migrate "DROP INDEX …"`).
    #[arg(long)]
    after_migrate: Option<String>,
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg: String,
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis: String,
}

struct Rig {
    name: &'static str,
    store: Store,
    stream: Arc<dyn Stream>,
    realtime: Arc<dyn Realtime>,
    ids: Ids,
    shutdown: CancellationToken,
    db_url: Option<String>,
    _dir: tempfile::TempDir,
}

impl Rig {
    async fn embedded() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let ids = Ids::new(Arc::new(SystemClock));
        let store = Store::connect(&Store::sqlite_url(dir.path())).await?;
        store.migrate(ids.now_ms()).await?;
        let stream = Arc::new(EmbeddedStream::new(store.clone(), ids.clock().clone()));
        Ok(Self {
            name: "SQLite + embedded stream",
            store,
            stream,
            realtime: Arc::new(LocalRealtime::default()),
            ids,
            shutdown: CancellationToken::new(),
            db_url: None,
            _dir: dir,
        })
    }

    async fn pg_redis(pg: &str, redis_url: &str) -> anyhow::Result<Self> {
        let db = fresh_pg(pg).await?;
        let ids = Ids::new(Arc::new(SystemClock));
        let store = Store::connect(&db).await?;
        let db_url = Some(db.clone());
        store.migrate(ids.now_ms()).await?;
        let prefix = format!("sbbench:{}", uuid::Uuid::new_v4().simple());
        let stream = RedisStream::connect(redis_url, &prefix).await?;
        let shutdown = CancellationToken::new();
        let realtime =
            RedisRealtime::connect(stream.client().clone(), &prefix, shutdown.clone()).await?;
        Ok(Self {
            name: "PostgreSQL + Redis",
            store,
            stream: Arc::new(stream),
            realtime: Arc::new(realtime),
            ids,
            shutdown,
            db_url,
            _dir: tempfile::tempdir()?,
        })
    }

    async fn after_migrate(&self, args: &Args) -> anyhow::Result<()> {
        if let Some(sql) = &args.after_migrate {
            println!("  after the migrations: {sql}");
            sqlx_exec(&self.store, sql).await?;
        }
        Ok(())
    }

    /// Subscribes `n` webhooks to every message and new conversation.
    async fn subscribe(&self, n: usize) -> anyhow::Result<()> {
        let events = [
            "message.created".to_owned(),
            "conversation.opened".to_owned(),
        ];
        for i in 0..n {
            self.store
                .add_webhook(
                    &self.ids,
                    &switchboard_core::store::HookInput {
                        url: &format!("https://hooks.example.com/{i}"),
                        description: "bench",
                        events: &events,
                        active: true,
                    },
                )
                .await?;
        }
        if n > 0 {
            println!("  with {n} webhook subscription(s) to messages and new conversations");
        }
        Ok(())
    }

    fn start_router(&self, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        let router = Router {
            store: self.store.clone(),
            stream: self.stream.clone(),
            realtime: self.realtime.clone(),
            ids: self.ids.clone(),
            metrics: Arc::new(Metrics::default()),
            consumer: "bench".into(),
            options: RouterOptions::for_backend(self.store.backend()),
        };
        tokio::spawn(router.run(stop))
    }

    fn envelope(&self, contact: usize, seq: usize) -> Envelope {
        // A visitor id of this shape is always valid.
        let sender = Identity::new(IdentityKind::Visitor, &format!("bench-{contact}"))
            .unwrap_or_else(|e| panic!("bench visitor id: {e}"));
        Envelope::new(
            self.ids.new_id(),
            Channel::Webchat,
            "webchat:bench",
            &format!("b{contact}-{seq}"),
            sender,
            &format!(
                "benchmark message {seq} from contact {contact}: the printer on floor two shows E-302 again"
            ),
            self.ids.now_ms(),
        )
    }
}

async fn fresh_pg(admin: &str) -> anyhow::Result<String> {
    let name = format!("sb_bench_{}", uuid::Uuid::new_v4().simple());
    let store = Store::connect(admin).await?;
    sqlx_exec(&store, &format!("CREATE DATABASE {name}")).await?;
    store.close().await;
    let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
    Ok(format!("{base}/{name}"))
}

async fn sqlx_exec(store: &Store, sql: &str) -> anyhow::Result<()> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(store.pool())
        .await?;
    Ok(())
}

/// When each envelope was accepted, by id; the event listener turns it into a latency.
type Pending = Arc<Mutex<HashMap<String, Instant>>>;

/// Counts published message events and records accept→persist latencies.
fn listen(
    realtime: &Arc<dyn Realtime>,
    pending: Pending,
    expect: usize,
) -> tokio::task::JoinHandle<Vec<(Instant, Duration)>> {
    let mut events = realtime.subscribe();
    tokio::spawn(async move {
        let mut latencies = Vec::with_capacity(expect);
        while latencies.len() < expect {
            match tokio::time::timeout(Duration::from_secs(60), events.recv()).await {
                Ok(Ok(Event::Message { message, .. })) => {
                    let started = pending
                        .lock()
                        .map(|mut p| p.remove(&message.id))
                        .unwrap_or(None);
                    if let Some(t) = started {
                        latencies.push((t, t.elapsed()));
                    }
                }
                Ok(Ok(_)) => {}
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(n))) => {
                    eprintln!("listener lagged by {n} events");
                }
                Ok(Err(_)) | Err(_) => break,
            }
        }
        latencies
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn throughput(rig: &Rig, args: &Args) -> anyhow::Result<serde_json::Value> {
    let n = args.messages;
    let pending: Pending = Arc::new(Mutex::new(HashMap::with_capacity(n)));
    let listener = listen(&rig.realtime, pending.clone(), n);
    let stop = CancellationToken::new();
    let router = rig.start_router(stop.clone());
    let started = Instant::now();
    let mut producers = Vec::new();
    for p in 0..args.producers {
        let stream = rig.stream.clone();
        let pending = pending.clone();
        let envs: Vec<Envelope> = (0..n)
            .filter(|i| i % args.producers == p)
            .map(|i| rig.envelope(i % args.contacts, i))
            .collect();
        producers.push(tokio::spawn(async move {
            for e in envs {
                let json = serde_json::to_string(&e)?;
                if let Ok(mut p) = pending.lock() {
                    p.insert(e.id.clone(), Instant::now());
                }
                stream.append(INBOUND, &json).await?;
            }
            anyhow::Ok(())
        }));
    }
    for p in producers {
        p.await??;
    }
    let accepted_in = started.elapsed();
    let mut latencies: Vec<Duration> = listener.await?.into_iter().map(|(_, d)| d).collect();
    let elapsed = started.elapsed();
    stop.cancel();
    let _ = router.await;
    latencies.sort();
    let rate = latencies.len() as f64 / elapsed.as_secs_f64();
    println!(
        "  sustained: {} messages in {:.2} s = {:.0} msg/s persisted+published (accepted in {:.2} s = {:.0}/s); accept→persist p50 {:.1} ms, p99 {:.1} ms",
        latencies.len(),
        elapsed.as_secs_f64(),
        rate,
        accepted_in.as_secs_f64(),
        n as f64 / accepted_in.as_secs_f64(),
        percentile(&latencies, 50.0).as_secs_f64() * 1e3,
        percentile(&latencies, 99.0).as_secs_f64() * 1e3,
    );
    anyhow::ensure!(
        latencies.len() == n,
        "only {} of {n} messages were persisted",
        latencies.len()
    );
    Ok(serde_json::json!({"messages": n, "seconds": elapsed.as_secs_f64(), "per_second": rate}))
}

async fn latency(rig: &Rig, args: &Args, when: &str) -> anyhow::Result<serde_json::Value> {
    // Each run sends fresh external ids, so none is taken for a replay of an earlier run.
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // One second of warm-up (connections, statement caches) is sent but not counted.
    let warmup = usize::try_from(args.rate)?;
    let total = usize::try_from(args.rate * args.seconds)? + warmup;
    let pending: Pending = Arc::new(Mutex::new(HashMap::with_capacity(total)));
    let listener = listen(&rig.realtime, pending.clone(), total);
    let shutdown = CancellationToken::new();
    let router = rig.start_router(shutdown.clone());
    let mut tick = tokio::time::interval(Duration::from_nanos(1_000_000_000 / args.rate.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sends = tokio::task::JoinSet::new();
    let mut counted_from = Instant::now();
    for i in 0..total {
        tick.tick().await;
        if i == warmup {
            counted_from = Instant::now();
        }
        let e = rig.envelope(10_000 + i % args.contacts, run * 10_000_000 + i);
        let stream = rig.stream.clone();
        let pending = pending.clone();
        sends.spawn(async move {
            let json = serde_json::to_string(&e)?;
            if let Ok(mut p) = pending.lock() {
                p.insert(e.id.clone(), Instant::now());
            }
            stream.append(INBOUND, &json).await?;
            anyhow::Ok(())
        });
        while let Some(r) = sends.try_join_next() {
            r??;
        }
    }
    while let Some(r) = sends.join_next().await {
        r??;
    }
    let all = listener.await?;
    anyhow::ensure!(
        all.len() == total,
        "only {} of {total} messages were persisted",
        all.len()
    );
    let mut latencies: Vec<Duration> = all
        .into_iter()
        .filter(|(t, _)| *t >= counted_from)
        .map(|(_, d)| d)
        .collect();
    shutdown.cancel();
    let _ = router.await;
    latencies.sort();
    let (p50, p99, max) = (
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or_default(),
    );
    println!(
        "  at {} msg/s for {} s ({when}): accept→persist p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} messages)",
        args.rate,
        args.seconds,
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3,
        latencies.len()
    );
    Ok(
        serde_json::json!({"rate": args.rate, "p50_ms": p50.as_secs_f64() * 1e3, "p99_ms": p99.as_secs_f64() * 1e3, "max_ms": max.as_secs_f64() * 1e3}),
    )
}

/// The database's own limit for one-row transactions, for scale.
async fn single_row_inserts(store: &Store, seconds: u64, clients: usize) -> anyhow::Result<f64> {
    sqlx_exec(
        store,
        "CREATE TABLE IF NOT EXISTS bench_insert (id TEXT PRIMARY KEY, payload TEXT NOT NULL)",
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                sqlx::query("INSERT INTO bench_insert (id, payload) VALUES ($1, $2)")
                    .bind(format!("{c}-{n}"))
                    .bind("benchmark payload of about the size of a chat message")
                    .execute(store.pool())
                    .await?;
                n += 1;
            }
            anyhow::Ok(n)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    Ok(total as f64 / seconds as f64)
}

/// pgbench with a one-row INSERT script, when pgbench is installed.
fn pgbench(db_url: &str, seconds: u64, clients: usize) -> Option<f64> {
    let dir = tempfile::tempdir().ok()?;
    let script = dir.path().join("insert.sql");
    std::fs::write(&script, "INSERT INTO bench_insert (id, payload) VALUES (md5(random()::text || clock_timestamp()::text), 'benchmark payload of about the size of a chat message');\n").ok()?;
    let out = std::process::Command::new("pgbench")
        .args([
            "-n",
            "-T",
            &seconds.to_string(),
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-f",
        ])
        .arg(&script)
        .arg(db_url)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| {
            l.trim_start_matches("tps = ")
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if args.quick {
        args.messages = args.messages.min(5_000);
        args.seconds = args.seconds.min(3);
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    println!(
        "switchboard-bench: {} messages, {} producers, {} contacts, {cores} cores",
        args.messages, args.producers, args.contacts
    );
    let mut report = serde_json::Map::new();
    if matches!(args.backend.as_str(), "embedded" | "all") {
        let rig = Rig::embedded().await?;
        println!("{}", rig.name);
        rig.after_migrate(&args).await?;
        rig.subscribe(args.webhooks).await?;
        // Latency at a steady rate first, on a fresh database; again after the burst,
        // while the database digests it (checkpoints, autovacuum).
        let l = latency(&rig, &args, "fresh").await?;
        let t = throughput(&rig, &args).await?;
        let l_after = latency(&rig, &args, "after the burst").await?;
        let l = serde_json::json!({"fresh": l, "after_burst": l_after});
        let base = single_row_inserts(&rig.store, if args.quick { 1 } else { 5 }, 1).await?;
        println!("  SQLite single-row insert transactions (synchronous=FULL, WAL): {base:.0}/s");
        println!(
            "  intake / single-row rate: {:.2}",
            t["per_second"].as_f64().unwrap_or(0.0) / base
        );
        report.insert(
            "embedded".into(),
            serde_json::json!({"throughput": t, "latency": l, "sqlite_single_row_tps": base}),
        );
    }
    if matches!(args.backend.as_str(), "pg-redis" | "all") {
        let rig = Rig::pg_redis(&args.pg, &args.redis).await?;
        println!("{}", rig.name);
        rig.after_migrate(&args).await?;
        rig.subscribe(args.webhooks).await?;
        // Latency at a steady rate first, on a fresh database; again after the burst,
        // while the database digests it (checkpoints, autovacuum).
        let l = latency(&rig, &args, "fresh").await?;
        let t = throughput(&rig, &args).await?;
        let l_after = latency(&rig, &args, "after the burst").await?;
        let l = serde_json::json!({"fresh": l, "after_burst": l_after});
        let secs = if args.quick { 2 } else { 10 };
        let inproc = single_row_inserts(&rig.store, secs, 8).await?;
        println!(
            "  PostgreSQL single-row inserts from this process (8 connections): {inproc:.0}/s"
        );
        let pgb = rig.db_url.as_deref().and_then(|u| pgbench(u, secs, 8));
        match pgb {
            Some(tps) => {
                println!("  pgbench single-row INSERT (8 clients): {tps:.0} tps");
                println!(
                    "  intake / pgbench: {:.2}",
                    t["per_second"].as_f64().unwrap_or(0.0) / tps
                );
            }
            None => println!("  pgbench not available"),
        }
        report.insert("pg_redis".into(), serde_json::json!({"throughput": t, "latency": l, "pg_single_row_inproc": inproc, "pgbench_tps": pgb}));
        rig.shutdown.cancel();
        if let Some(url) = &rig.db_url {
            rig.store.close().await;
            let name = url.rsplit('/').next().unwrap_or_default();
            let admin = Store::connect(&args.pg).await?;
            sqlx_exec(&admin, &format!("DROP DATABASE IF EXISTS {name}")).await?;
        }
    }
    println!("{}", serde_json::Value::Object(report));
    Ok(())
}
