//! WhatsApp webhook deliveries against the server binary, and the reader's parse rate.
//!
//! - parse: `switchboard_channels::whatsapp::read` over every payload of
//!   `../shared/fixtures/whatsapp`, again and again for about a second: deliveries and
//!   events per second, and MB/s.
//! - latency at a fixed rate (`--rate` per second for `--seconds`), open loop: each
//!   request timed from when it was due; first, on a server with nothing else to do.
//! - throughput: `--concurrency` signed deliveries in flight at all times (one text
//!   message each, as Meta sends them, from `--senders` numbers) for `--deliveries`;
//!   each answered 200 only once durable.
//!
//! Then it waits until every message is stored, and says how long after the last answer.
//!
//! `cargo build --release && cargo run --release -p switchboard-bench --bin whatsapp-bench
//! -- --backend postgres` (PostgreSQL + Redis from `SB_TEST_PG`, `SB_TEST_REDIS`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::Parser;
use switchboard_bench::Served;
use switchboard_core::store::Store;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "postgres")]
    backend: String,
    #[arg(long, default_value_t = 20_000)]
    deliveries: usize,
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Distinct customers writing.
    #[arg(long, default_value_t = 1_000)]
    senders: usize,
    #[arg(long, default_value_t = 1_000)]
    rate: u64,
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    #[arg(long, default_value = "target/release/switchboard")]
    bin: String,
    #[arg(long, default_value = "../shared/fixtures/whatsapp")]
    fixtures: String,
}

fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// Every delivery of a run, made and signed before it starts: the load client's own work
/// stays out of the measured seconds (Meta's servers, not ours, build them). Customers'
/// text messages from `senders` numbers.
fn deliveries(count: usize, senders: usize, tag: &str) -> Vec<(Vec<u8>, String)> {
    (0..count)
        .map(|n| {
            switchboard_bench::whatsapp_text(
                &format!("55119{:08}", n % senders),
                &format!("Cliente {}", n % senders),
                &format!("wamid.bench.{tag}.{n}"),
                "Bom dia, a impressora do financeiro voltou a travar o papel na bandeja 2, podem mandar alguém?",
            )
        })
        .collect()
}

/// The reader alone, over the fixtures, for about a second.
fn parse_rate(dir: &str) -> Result<String> {
    let mut bodies = Vec::new();
    for f in std::fs::read_dir(dir)? {
        bodies.push(std::fs::read(f?.path())?);
    }
    if bodies.is_empty() {
        bail!("no payloads in {dir}");
    }
    let (mut deliveries, mut events, mut bytes) = (0usize, 0usize, 0usize);
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(1) {
        for b in &bodies {
            events += switchboard_channels::whatsapp::read(b)
                .map(|e| e.len())
                .unwrap_or(0);
            bytes += b.len();
            deliveries += 1;
        }
    }
    let s = t.elapsed().as_secs_f64();
    Ok(format!(
        "reader: {:.0} deliveries/s, {:.0} events/s, {:.1} MB/s over {} fixture payloads",
        deliveries as f64 / s,
        events as f64 / s,
        bytes as f64 / s / 1e6,
        bodies.len()
    ))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    println!("{}", parse_rate(&args.fixtures)?);
    let dir = tempfile::tempdir()?;
    let mut db =
        switchboard_bench::Database::create(&args.backend, dir.path(), "sb_bench_whatsapp").await?;
    let config = dir.path().join("whatsapp.toml");
    std::fs::write(
        &config,
        switchboard_bench::whatsapp_config("http://127.0.0.1:9"),
    )?;
    db.env
        .push(("SWITCHBOARD_CONFIG".into(), config.display().to_string()));
    // Without the bot, so the benchmark measures the channel and the backbone.
    db.env
        .push(("SWITCHBOARD_BOT__ENABLED".into(), "false".into()));
    let served = Served::start(&args.bin, dir.path(), &db).await?;
    let (http, base) = (served.http.clone(), served.base.clone());

    // Latency at a fixed rate, open loop.
    let count = usize::try_from(args.rate * args.seconds)?;
    let paced = Arc::new(deliveries(count, args.senders, "r"));
    let sustained = Arc::new(deliveries(args.deliveries, args.senders, "t"));
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    let begin = tokio::time::Instant::now() + Duration::from_millis(100);
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        let due = begin + interval * u32::try_from(i)?;
        tokio::time::sleep_until(due).await;
        let (http, base, paced) = (http.clone(), base.clone(), paced.clone());
        tasks.push(tokio::spawn(async move {
            switchboard_bench::post_whatsapp(&http, &base, &paced[i]).await?;
            Ok::<_, anyhow::Error>(due.elapsed().as_secs_f64() * 1000.0)
        }));
    }
    let mut open = Vec::with_capacity(count);
    for t in tasks {
        open.push(t.await??);
    }
    open.sort_by(f64::total_cmp);
    // The router catches up before the next run.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Throughput: a fixed number of deliveries in flight.
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (http, base, next) = (http.clone(), base.clone(), next.clone());
        let (total, sustained) = (args.deliveries, sustained.clone());
        workers.push(tokio::spawn(async move {
            let mut times = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    return Ok::<_, anyhow::Error>(times);
                }
                let t = Instant::now();
                switchboard_bench::post_whatsapp(&http, &base, &sustained[n]).await?;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }));
    }
    let mut closed = Vec::new();
    for w in workers {
        closed.extend(w.await??);
    }
    let throughput_s = started.elapsed().as_secs_f64();
    closed.sort_by(f64::total_cmp);

    let answered = Instant::now();
    // Every accepted message stored.
    let total = args.deliveries + count;
    let store = Store::connect(&db.url).await?;
    let drained = loop {
        let stored: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE channel = 'whatsapp'")
                .fetch_one(store.pool())
                .await?;
        if usize::try_from(stored)? >= total {
            break answered.elapsed().as_secs_f64() * 1000.0;
        }
        if answered.elapsed() > Duration::from_secs(180) {
            bail!("only {stored} of {total} messages stored after 180 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    store.close().await;
    served.stop();
    db.drop().await?;

    println!(
        "whatsapp webhook ({}), {} customers: {} deliveries with {} in flight in {:.2} s = {:.0} messages/s \
         (p50 {:.1} ms, p99 {:.1} ms); at {}/s for {} s: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms; \
         every message stored {:.0} ms after the last answer",
        args.backend,
        args.senders,
        args.deliveries,
        args.concurrency,
        throughput_s,
        args.deliveries as f64 / throughput_s,
        quantile(&closed, 0.50),
        quantile(&closed, 0.99),
        args.rate,
        args.seconds,
        quantile(&open, 0.50),
        quantile(&open, 0.95),
        quantile(&open, 0.99),
        open.last().copied().unwrap_or(f64::NAN),
        drained,
    );
    Ok(())
}
