//! Portal ticket creation over HTTP against the server binary: `--clients` clients of one
//! company, each signed in by a magic link, open tickets with the portal's own form
//! (`POST /portal/tickets`, multipart, a subject and a message). Two runs:
//!
//! - throughput: `--concurrency` requests in flight at all times for `--tickets` tickets;
//! - latency at a fixed rate (`--rate` per second for `--seconds`), open loop: each
//!   request is timed from when it was due, so a slow answer delays nothing after it
//!   (no coordinated omission).
//!
//! Then it checks that every ticket has its first message stored (nothing accepted is
//! lost; the message is stored with its ticket, so this is at once) and says how long
//! after the last answer it saw them all.
//!
//! `cargo build --release && cargo run --release -p switchboard-bench --bin ticket-bench --
//! --backend postgres` (PostgreSQL + Redis from `SB_TEST_PG`, `SB_TEST_REDIS`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::Parser;
use switchboard_bench::Served;
use switchboard_core::clock::{Ids, SystemClock};
use switchboard_core::store::{NewLink, Store};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "postgres")]
    backend: String,
    #[arg(long, default_value_t = 8)]
    clients: usize,
    #[arg(long, default_value_t = 6_000)]
    tickets: usize,
    /// Tickets opened before measuring (then the database gathers its statistics, as
    /// its autovacuum does in a running business); 0 measures a fresh database.
    #[arg(long, default_value_t = 3_000)]
    warmup: usize,
    #[arg(long, default_value_t = 48)]
    concurrency: usize,
    #[arg(long, default_value_t = 500)]
    rate: u64,
    #[arg(long, default_value_t = 6)]
    seconds: u64,
    #[arg(long, default_value = "target/release/switchboard")]
    bin: String,
    /// Leaves the database behind for a look at it (PostgreSQL: `sb_bench_tickets_*`).
    #[arg(long)]
    keep: bool,
}

fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// A signed-in client: its session cookie and CSRF token.
#[derive(Clone)]
struct Client {
    cookie: String,
    csrf: String,
}

const BOUNDARY: &str = "----sbbench4f9a2c";

fn form(c: &Client, key: &str, n: usize) -> Vec<u8> {
    let mut body = String::new();
    for (k, v) in [
        ("_csrf", c.csrf.as_str()),
        ("key", key),
        ("subject", &format!("A impressora trava (#{n})")),
        ("category", "technical"),
        (
            "message",
            "Trava sempre na segunda página. Número de série XJ-2231. Já troquei o toner.",
        ),
    ] {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    body.into_bytes()
}

async fn open_ticket(
    http: &reqwest::Client,
    base: &str,
    c: &Client,
    key: &str,
    n: usize,
) -> Result<()> {
    let r = http
        .post(format!("{base}/portal/tickets"))
        .header("cookie", &c.cookie)
        .header("origin", base)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(form(c, key, n))
        .send()
        .await?;
    if r.status().as_u16() != 303 {
        let status = r.status();
        bail!(
            "ticket: {status}: {:.300}",
            r.text().await.unwrap_or_default()
        );
    }
    Ok(())
}

/// Opens `total` tickets with `concurrency` requests in flight; each one's time in ms.
async fn closed_loop(
    http: &reqwest::Client,
    base: &str,
    clients: &Arc<Vec<Client>>,
    concurrency: usize,
    prefix: &'static str,
    total: usize,
) -> Result<Vec<f64>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let (http, base, clients, next) =
            (http.clone(), base.to_owned(), clients.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut times = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    return Ok::<_, anyhow::Error>(times);
                }
                let c = &clients[(n + w) % clients.len()];
                let t = Instant::now();
                open_ticket(&http, &base, c, &format!("{prefix}{n}"), n).await?;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }));
    }
    let mut times = Vec::new();
    for w in workers {
        times.extend(w.await??);
    }
    Ok(times)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let db =
        switchboard_bench::Database::create(&args.backend, dir.path(), "sb_bench_tickets").await?;
    let ids = Ids::new(Arc::new(SystemClock));
    let store = Store::connect(&db.url).await?;
    store.migrate(ids.now_ms()).await?;
    let company = store.create_company(&ids, "Globex").await?;
    let mut tokens = Vec::new();
    for i in 0..args.clients {
        let contact = ids.new_id();
        sqlx::query(
            "INSERT INTO contacts (id, name, company_id, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&contact)
        .bind(format!("Client {i}"))
        .bind(&company)
        .bind(ids.now_ms())
        .execute(store.pool())
        .await?;
        tokens.push(
            store
                .create_magic_link(
                    &ids,
                    &NewLink {
                        contact_id: &contact,
                        email: &format!("client{i}@globex.example"),
                        purpose: "login",
                        ttl_ms: 3_600_000,
                    },
                )
                .await?,
        );
    }

    // The server, and each client signed in with its link.
    let served = Served::start(&args.bin, dir.path(), &db).await?;
    let (http, base) = (served.http.clone(), served.base.clone());
    let mut clients = Vec::new();
    for token in &tokens {
        let cookie = served.sign_in(token, "/portal/tickets").await?;
        let csrf = served.csrf(&cookie, "/portal/tickets/new").await?;
        clients.push(Client { cookie, csrf });
    }
    let clients = Arc::new(clients);

    // A business that has been running: tickets already there, the planner's statistics
    // gathered.
    if args.warmup > 0 {
        closed_loop(&http, &base, &clients, args.concurrency, "w", args.warmup).await?;
        sqlx::query("ANALYZE").execute(store.pool()).await?;
    }

    // Throughput: a fixed number of requests in flight.
    let started = Instant::now();
    let mut closed =
        closed_loop(&http, &base, &clients, args.concurrency, "t", args.tickets).await?;
    let throughput_s = started.elapsed().as_secs_f64();
    closed.sort_by(f64::total_cmp);

    // Latency at a fixed rate, open loop.
    let count = usize::try_from(args.rate * args.seconds)?;
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    let begin = tokio::time::Instant::now() + Duration::from_millis(100);
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        let due = begin + interval * u32::try_from(i)?;
        tokio::time::sleep_until(due).await;
        let (http, base, clients) = (http.clone(), base.clone(), clients.clone());
        tasks.push(tokio::spawn(async move {
            let c = &clients[i % clients.len()];
            open_ticket(&http, &base, c, &format!("r{i}"), i).await?;
            Ok::<_, anyhow::Error>(due.elapsed().as_secs_f64() * 1000.0)
        }));
    }
    let mut open = Vec::with_capacity(count);
    for t in tasks {
        open.push(t.await??);
    }
    let answered = Instant::now();
    open.sort_by(f64::total_cmp);

    // Every ticket's first message stored.
    let total = args.warmup + args.tickets + count;
    let store = Store::connect(&db.url).await?;
    let drained = loop {
        let stored: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages m JOIN tickets t ON t.conversation_id = m.conversation_id",
        )
        .fetch_one(store.pool())
        .await?;
        let tickets: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tickets")
            .fetch_one(store.pool())
            .await?;
        if usize::try_from(tickets)? != total {
            bail!("{tickets} tickets for {total} forms");
        }
        if stored == tickets {
            break answered.elapsed().as_secs_f64() * 1000.0;
        }
        if answered.elapsed() > Duration::from_secs(120) {
            bail!("only {stored} of {tickets} first messages stored after 120 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    store.close().await;
    served.stop();
    if args.keep {
        eprintln!("database kept: {}", db.url);
    } else {
        db.drop().await?;
    }

    println!(
        "ticket creation ({}), {} clients, {} tickets there before: {} tickets with {} in flight in {:.2} s = {:.0} tickets/s \
         (p50 {:.1} ms, p99 {:.1} ms); at {}/s for {} s: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms; \
         every first message stored {:.0} ms after the last answer",
        args.backend,
        args.clients,
        args.warmup,
        args.tickets,
        args.concurrency,
        throughput_s,
        args.tickets as f64 / throughput_s,
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
