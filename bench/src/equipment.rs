//! Equipment against the server binary:
//!
//! - the period close: `--contracts` contracts of `--machines-per` machines each (half
//!   pooled, half per machine, a tenth quarterly), a year of monthly readings per machine
//!   with one machine in seven missing its last (estimated), each contract with
//!   `--periods` periods ended (1: a month's close), closed by `switchboard equipment
//!   close` as of the month's first day: its wall time, the periods and invoices it made,
//!   and its peak RSS (VmHWM, sampled while it runs) at a fifth of the size and at full
//!   size (memory flat means the two are close); then run again (nothing to do: each
//!   period is billed once);
//! - the machine page: one client's machine with `--years` years of monthly readings and a
//!   finished visit a quarter, `GET /portal/machines/{id}` `--requests` times:
//!   p50/p95/p99.
//!
//! `cargo build --release && cargo run --release -p switchboard-bench --bin equipment-bench`
//! (`--backend postgres` uses `SB_TEST_PG`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::Parser;
use switchboard_bench::{Database, Served, status_kib};
use switchboard_core::clock::{Ids, SystemClock};
use switchboard_core::store::{NewLink, Store};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "sqlite")]
    backend: String,
    #[arg(long, default_value_t = 2_000)]
    contracts: usize,
    #[arg(long, default_value_t = 5)]
    machines_per: usize,
    #[arg(long, default_value_t = 5)]
    years: i64,
    #[arg(long, default_value_t = 400)]
    requests: usize,
    /// Periods each contract has to close (1: one month's close; 12: a year caught up).
    #[arg(long, default_value_t = 1)]
    periods: i64,
    #[arg(long, default_value = "target/release/switchboard")]
    bin: String,
}

const DAY_MS: i64 = 86_400_000;

fn day_of(y: i64, m: i64, d: i64) -> i64 {
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The first day of the month `k` months after January 2026.
fn month(k: i64) -> i64 {
    let total = 2026 * 12 + k;
    day_of(total.div_euclid(12), total.rem_euclid(12) + 1, 1)
}

/// A value to insert.
#[derive(Debug, Clone)]
enum V {
    S(String),
    I(i64),
}

fn s(v: impl Into<String>) -> V {
    V::S(v.into())
}

/// Inserts rows many at a time (`batch` rows a statement).
async fn insert_many(
    pool: &sqlx::AnyPool,
    head: &str,
    width: usize,
    rows: &[Vec<V>],
    batch: usize,
) -> Result<()> {
    for chunk in rows.chunks(batch) {
        let mut sql = String::from(head);
        sql.push_str(" VALUES ");
        for (i, _) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            for j in 0..width {
                if j > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("${}", i * width + j + 1));
            }
            sql.push(')');
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in chunk {
            for v in row {
                q = match v {
                    V::S(t) => q.bind(t.clone()),
                    V::I(n) => q.bind(*n),
                };
            }
        }
        q.execute(pool).await?;
    }
    Ok(())
}

/// The fleet: `contracts` companies, each with a contact, a contract and `per` machines
/// with a year of monthly readings.
async fn seed(
    store: &Store,
    ids: &Ids,
    contracts: usize,
    per: usize,
    periods: i64,
    tag: &str,
) -> Result<()> {
    let pool = store.pool();
    let now = ids.now_ms();
    let mut companies = Vec::new();
    let mut contacts = Vec::new();
    let mut machines = Vec::new();
    let mut contract_rows = Vec::new();
    let mut slots = Vec::new();
    let mut readings = Vec::new();
    for c in 0..contracts {
        let quarterly = c % 10 == 0;
        let start = month(-periods * if quarterly { 3 } else { 1 });
        let company = ids.new_id();
        let contact = ids.new_id();
        companies.push(vec![s(&company), s(format!("Company {tag}{c}")), V::I(now)]);
        contacts.push(vec![
            s(&contact),
            s(format!("Client {c}")),
            s(&company),
            V::I(now),
        ]);
        let pooled = c % 2 == 0;
        let terms = format!(
            r#"{{"pooling":"{}","tax_rate_bp":0,"allowances":[{{"counter":"mono","included":{},"tiers":[{{"from":0,"per_thousand":3500}},{{"from":20000,"per_thousand":2800}}]}},{{"counter":"colour","included":1000,"tiers":[{{"from":0,"per_thousand":29000}}]}}]}}"#,
            if pooled { "pooled" } else { "per_machine" },
            if pooled { 5_000 * per } else { 5_000 },
        );
        let contract = ids.new_id();
        contract_rows.push(vec![
            s(&contract),
            s(&company),
            s(contact),
            s(format!("CT-{tag}{c}")),
            s(if quarterly { "quarterly" } else { "monthly" }),
            s("BRL"),
            V::I(45_000),
            s(terms),
            V::I(start),
            V::I(now),
            V::I(now),
        ]);
        for i in 0..per {
            let machine = ids.new_id();
            let n = c * per + i;
            machines.push(vec![
                s(&machine),
                s(&company),
                s("IM C3000"),
                s(format!("SN{tag}{n:07}")),
                s("in_service"),
                V::I(now),
                V::I(now),
            ]);
            slots.push(vec![
                s(&contract),
                s(&machine),
                s((i + 1).to_string()),
                V::I(start),
            ]);
            let volume = 3_000 + (n as i64 % 17) * 700;
            for k in 0..=12i64 {
                // One machine in seven missed its last reading: it is estimated.
                if n % 7 == 3 && k == 12 {
                    continue;
                }
                readings.push(vec![
                    s(ids.new_id()),
                    s(&machine),
                    V::I(month(-12 + k) - 1),
                    V::I(100_000 + volume * k * (90 + (k * 7 + n as i64) % 20) / 100),
                    V::I(20_000 + volume / 5 * k),
                    s("agent"),
                    s(format!("seed:{machine}:{k}")),
                    V::I(now),
                ]);
            }
        }
    }
    insert_many(
        pool,
        "INSERT INTO companies (id, name, created_at)",
        3,
        &companies,
        300,
    )
    .await?;
    insert_many(
        pool,
        "INSERT INTO contacts (id, name, company_id, created_at)",
        4,
        &contacts,
        200,
    )
    .await?;
    insert_many(
        pool,
        "INSERT INTO machines (id, company_id, model, serial, status, created_at, updated_at)",
        7,
        &machines,
        100,
    )
    .await?;
    insert_many(
        pool,
        "INSERT INTO contracts (id, company_id, contact_id, number, period, currency, fee, terms, start_day, created_at, updated_at)",
        11,
        &contract_rows,
        60,
    )
    .await?;
    insert_many(
        pool,
        "INSERT INTO contract_machines (contract_id, machine_id, slot, from_day)",
        4,
        &slots,
        200,
    )
    .await?;
    insert_many(
        pool,
        "INSERT INTO meter_readings (id, machine_id, day, mono, colour, source, key, created_at)",
        8,
        &readings,
        100,
    )
    .await?;
    Ok(())
}

/// Runs `switchboard equipment close` as of `today`: (seconds, peak RSS in KiB, report).
fn close(
    bin: &str,
    dir: &std::path::Path,
    db: &Database,
    today: &str,
) -> Result<(f64, u64, String)> {
    let started = Instant::now();
    let mut child = std::process::Command::new(bin)
        .args(["equipment", "close", "--today", today])
        .env("RUST_LOG", "warn")
        .env("SWITCHBOARD_DATA_DIR", dir)
        .envs(db.env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let pid = child.id();
    let mut peak = 0;
    loop {
        if let Ok(kib) = status_kib(pid, "VmHWM:") {
            peak = peak.max(kib);
        }
        if child.try_wait()?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output()?;
    let secs = started.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!("close failed: {:?}", out.status);
    }
    Ok((
        secs,
        peak,
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
    ))
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let bin = std::fs::canonicalize(&args.bin)?
        .to_string_lossy()
        .into_owned();
    let ids = Ids::new(Arc::new(SystemClock));
    // The contracts start `periods` periods before this day.
    let today = "2026-01-01";

    // The period close at a fifth of the size, then at full size.
    let mut results = Vec::new();
    for (label, contracts) in [("fifth", args.contracts / 5), ("full", args.contracts)] {
        let dir = tempfile::tempdir()?;
        let db = Database::create(&args.backend, dir.path(), "sb_bench_equipment").await?;
        let store = Store::connect(&db.url).await?;
        store.migrate(ids.now_ms()).await?;
        let t0 = Instant::now();
        seed(
            &store,
            &ids,
            contracts,
            args.machines_per,
            args.periods,
            label,
        )
        .await?;
        let seeded = t0.elapsed().as_secs_f64();
        store.close().await;
        let (secs, rss, report) = close(&bin, dir.path(), &db, today)?;
        let (again, _, report_again) = close(&bin, dir.path(), &db, today)?;
        println!(
            "{} close: {contracts} contracts, {} machines (seeded in {seeded:.1} s): {secs:.2} s, peak RSS {:.1} MiB, {report}; again: {again:.2} s, {report_again}",
            args.backend,
            contracts * args.machines_per,
            rss as f64 / 1024.0
        );
        results.push(serde_json::json!({
            "size": label, "contracts": contracts, "machines": contracts * args.machines_per,
            "seconds": secs, "peak_rss_kib": rss, "report": serde_json::from_str::<serde_json::Value>(&report)?,
            "again_seconds": again, "again": serde_json::from_str::<serde_json::Value>(&report_again)?,
        }));
        db.drop().await?;
    }

    // The machine page with `years` of monthly readings.
    let dir = tempfile::tempdir()?;
    let db = Database::create(&args.backend, dir.path(), "sb_bench_machine").await?;
    let store = Store::connect(&db.url).await?;
    store.migrate(ids.now_ms()).await?;
    let company = store.create_company(&ids, "Globex").await?;
    let contact = ids.new_id();
    sqlx::query(
        "INSERT INTO contacts (id, name, company_id, created_at) VALUES ($1, 'Ana', $2, $3)",
    )
    .bind(&contact)
    .bind(&company)
    .bind(ids.now_ms())
    .execute(store.pool())
    .await?;
    let machine = store
        .add_machine(
            &ids,
            &switchboard_core::store::NewMachine {
                company_id: &company,
                location: Some("Galpão 1"),
                maker: Some("Ricoh"),
                model: "IM C3000",
                serial: "E174M123456",
                asset_tag: Some("PAT-001"),
                installed_on: None,
                status: "in_service",
            },
        )
        .await?;
    let months = args.years * 12;
    let today_day = ids.now_ms().div_euclid(DAY_MS);
    let mut rows = Vec::new();
    for k in 0..=months {
        rows.push(vec![
            s(ids.new_id()),
            s(&machine.id),
            V::I(today_day - (months - k) * 30),
            V::I(10_000 + k * 6_500),
            V::I(2_000 + k * 1_300),
            s("portal"),
            s(format!("m{k}")),
            V::I(ids.now_ms()),
        ]);
    }
    insert_many(
        store.pool(),
        "INSERT INTO meter_readings (id, machine_id, day, mono, colour, source, key, created_at)",
        8,
        &rows,
        100,
    )
    .await?;
    // A visit a quarter over the same years, each done with its report's fields: the page
    // lists them with the readings.
    let tech = store
        .create_user(
            &ids,
            "marcos@acme.test",
            Some("Marcos Lima"),
            switchboard_core::domain::Role::Technician,
            None,
        )
        .await?;
    let mut visits = Vec::new();
    for q in 0..args.years * 4 {
        let at = (today_day - (months - q * 3) * 30) * DAY_MS + 9 * 3_600_000;
        visits.push(vec![
            s(ids.new_id()),
            V::I(q + 1),
            s(&machine.id),
            s(&company),
            s(&tech.id),
            s("done"),
            V::I(at),
            V::I(at + 3 * 3_600_000),
            V::I(at + 1_800_000),
            V::I(at + 5_400_000),
            s("Limpeza e troca do rolo de alimentação."),
            s(r#"[{"name":"rolo de alimentação","quantity":1}]"#),
            s("Ana Souza"),
            s("in_service"),
            s(format!("v{q}")),
            V::I(ids.now_ms()),
            V::I(ids.now_ms()),
        ]);
    }
    insert_many(
        store.pool(),
        "INSERT INTO visits (id, number, machine_id, company_id, technician_id, status, window_from, window_to, arrived_at, done_at, work_done, parts, signed_by, machine_status, key, created_at, updated_at)",
        17,
        &visits,
        100,
    )
    .await?;
    let token = store
        .create_magic_link(
            &ids,
            &NewLink {
                contact_id: &contact,
                email: "ana@globex.example",
                purpose: "login",
                ttl_ms: 3_600_000,
            },
        )
        .await?;
    store.close().await;
    let served = Served::start(&bin, dir.path(), &db).await?;
    let cookie = served.sign_in(&token, "/portal").await?;
    let url = format!("{}/portal/machines/{}", served.base, machine.id);
    let mut times = Vec::with_capacity(args.requests);
    for i in 0..args.requests + 20 {
        let started = Instant::now();
        let r = served
            .http
            .get(&url)
            .header("cookie", &cookie)
            .send()
            .await?;
        let status = r.status();
        let body = r.text().await?;
        if !status.is_success() || !body.contains("E174M123456") || !body.contains("machine-visits")
        {
            bail!("{url}: {status}");
        }
        // The first few warm the caches.
        if i >= 20 {
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    let (p50, p95, p99) = (pct(&times, 0.5), pct(&times, 0.95), pct(&times, 0.99));
    println!(
        "{} machine page, {} readings, {} visits: p50 {p50:.2} ms, p95 {p95:.2} ms, p99 {p99:.2} ms ({} requests)",
        args.backend,
        months + 1,
        args.years * 4,
        args.requests
    );
    served.stop();
    db.drop().await?;
    println!(
        "{}",
        serde_json::json!({"bench": "equipment", "backend": args.backend, "close": results,
            "machine_page": {"readings": months + 1, "visits": args.years * 4, "p50_ms": p50, "p95_ms": p95, "p99_ms": p99}})
    );
    Ok(())
}
