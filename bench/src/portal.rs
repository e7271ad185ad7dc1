//! The client portal against the server binary: a company with `--invoices` invoices
//! (three lines each), one client signed in by a magic link, then
//!
//! - the invoice list (`GET /portal`, 25 a page, pages and sorts varied): p50/p95/p99;
//! - Download All of `--zip` invoices (`POST /portal/invoices/zip`): time to the first
//!   byte, to the whole ZIP, its size, and the server's peak RSS (VmHWM) before and after;
//! - PDF renders per second on one core, in-process (`portal::pdf::render`);
//! - sign-in by magic link over HTTP (`--signins`, one link each): the confirmation page
//!   (`GET /portal/link/{token}`) and its use (`POST`), p50/p99.
//!
//! `cargo build --release && cargo run --release -p switchboard-bench --bin portal-bench`
//! (`--backend postgres` uses `SB_TEST_PG`).

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;
use futures::StreamExt;
use switchboard_bench::{Served, cookie_of, csrf_in, status_kib};
use switchboard_core::clock::{Ids, SystemClock};
use switchboard_core::store::{NewInvoice, NewLink, Store};
use switchboard_portal::document::{DocLine, Document, Party};
use switchboard_portal::locale::Lang;
use switchboard_portal::pdf::{PdfInvoice, render};
use switchboard_portal::totals::{Discount, Rounding};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "sqlite")]
    backend: String,
    #[arg(long, default_value_t = 5_000)]
    invoices: usize,
    #[arg(long, default_value_t = 1_000)]
    zip: usize,
    #[arg(long, default_value_t = 400)]
    requests: usize,
    #[arg(long, default_value_t = 200)]
    pdfs: usize,
    /// Sign-ins by magic link over HTTP, each with a link of its own.
    #[arg(long, default_value_t = 300)]
    signins: usize,
    #[arg(long, default_value = "target/release/switchboard")]
    bin: String,
}

fn quantile(sorted: &[f64], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

fn document(i: usize) -> Document {
    Document {
        lines: vec![
            DocLine {
                description: format!("Manutenção preventiva, visita {i}"),
                quantity_milli: 1_500,
                unit_price: 12_345,
                discount: Discount::None,
                tax_rate_bp: 2_300,
                tax_inclusive: false,
            },
            DocLine {
                description: "Toner preto de alto rendimento".into(),
                quantity_milli: 2_000,
                unit_price: 5_000,
                discount: Discount::Percent(1_000),
                tax_rate_bp: 2_300,
                tax_inclusive: false,
            },
            DocLine {
                description: "Deslocamento".into(),
                quantity_milli: 1_000,
                unit_price: 3_000,
                discount: Discount::None,
                tax_rate_bp: 0,
                tax_inclusive: false,
            },
        ],
        rounding: Rounding::PerLine,
        notes: "Obrigado pela preferência.".into(),
        terms: "Pagamento em até 30 dias.".into(),
        bill_to: Party::default(),
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();

    // PDF renders per second, one core.
    let doc = document(1);
    let totals = doc.totals()?;
    let business = Party {
        name: "Acme Serviços".into(),
        address: vec!["Rua Augusta 100".into(), "São Paulo".into()],
        tax_id: String::new(),
    };
    let started = Instant::now();
    let mut bytes = 0usize;
    for _ in 0..args.pdfs {
        bytes += render(&PdfInvoice {
            lang: Lang::PtBr,
            kind: "invoice",
            number: "INV-2026-00001",
            status: "sent",
            business: &business,
            accent: "#2456c7",
            bill_to: &business,
            issue_day: 20_780,
            due_day: Some(20_810),
            currency: "BRL",
            exponent: 2,
            document: &doc,
            totals: &totals,
            paid: 0,
        })?
        .len();
    }
    let pdf_rate = args.pdfs as f64 / started.elapsed().as_secs_f64();
    let pdf_size = bytes / args.pdfs.max(1);

    // The data: one company, one contact, many invoices.
    let dir = tempfile::tempdir()?;
    let db =
        switchboard_bench::Database::create(&args.backend, dir.path(), "sb_bench_portal").await?;
    let ids = Ids::new(Arc::new(SystemClock));
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
    let seeding = Instant::now();
    let mut numbers = Vec::with_capacity(args.invoices);
    for i in 0..args.invoices {
        let d = document(i);
        let t = d.totals()?;
        let paid = i % 3 == 0;
        let inv = store
            .create_invoice(
                &ids,
                &NewInvoice {
                    kind: "invoice",
                    company_id: Some(&company),
                    contact_id: &contact,
                    status: "sent",
                    currency: "BRL",
                    document: &d.to_json(),
                    subtotal: t.subtotal,
                    tax: t.tax,
                    total: t.total,
                    issue_day: 19_000 + i64::try_from(i % 1_700)?,
                    due_day: Some(19_030 + i64::try_from(i % 1_700)?),
                    external_id: None,
                },
                "invoice",
                &|n| format!("INV-{n:06}"),
            )
            .await?;
        if paid {
            store
                .record_payment(
                    &ids,
                    &inv.id,
                    "payment",
                    inv.total,
                    "BRL",
                    "manual",
                    &format!("p{i}"),
                )
                .await?;
        }
        numbers.push(inv.number);
    }
    let seeded_s = seeding.elapsed().as_secs_f64();
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
    let mut links = Vec::with_capacity(args.signins);
    for _ in 0..args.signins {
        links.push(
            store
                .create_magic_link(
                    &ids,
                    &NewLink {
                        contact_id: &contact,
                        email: "ana@globex.example",
                        purpose: "login",
                        ttl_ms: 3_600_000,
                    },
                )
                .await?,
        );
    }
    store.close().await;

    // The server, and the client signed in with the link.
    let served = Served::start(&args.bin, dir.path(), &db).await?;
    let pid = served.child.id();
    let (http, base) = (served.http.clone(), served.base.clone());
    let cookie = served.sign_in(&token, "/portal").await?;
    let csrf = served.csrf(&cookie, "/portal").await?;

    // Sign-ins over HTTP: the confirmation page (the link checked, not used), then its
    // POST (the link used once, a new session, the client's cookies).
    let mut confirm = Vec::with_capacity(links.len());
    let mut use_link = Vec::with_capacity(links.len());
    for token in &links {
        let link = format!("{base}/portal/link/{token}");
        let started = Instant::now();
        let page = http.get(&link).send().await?;
        let pre = cookie_of(&page, "__Host-sb_csrf").context("no CSRF cookie")?;
        let form_csrf = csrf_in(&page.text().await?).context("no CSRF field")?;
        confirm.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        let r = http
            .post(&link)
            .header("cookie", format!("__Host-sb_csrf={pre}"))
            .header("origin", &base)
            .form(&[("_csrf", form_csrf.as_str()), ("next", "/portal")])
            .send()
            .await?;
        use_link.push(started.elapsed().as_secs_f64() * 1000.0);
        if r.status().as_u16() != 303 || cookie_of(&r, "__Host-sb_session").is_none() {
            bail!("a sign-in failed: {}", r.status());
        }
    }
    confirm.sort_by(f64::total_cmp);
    use_link.sort_by(f64::total_cmp);

    // The list.
    let pages = args.invoices.div_ceil(25).max(1);
    let sorts = ["issued", "status", "number", "total", "due"];
    let mut list = Vec::with_capacity(args.requests);
    for i in 0..args.requests {
        let url = format!(
            "{base}/portal/invoices?sort={}&dir={}&page={}",
            sorts[i % sorts.len()],
            if i % 2 == 0 { "desc" } else { "asc" },
            1 + (i * 7) % pages
        );
        let started = Instant::now();
        let r = http.get(&url).header("cookie", &cookie).send().await?;
        if !r.status().is_success() {
            bail!("{url}: {}", r.status());
        }
        let body = r.bytes().await?;
        list.push(started.elapsed().as_secs_f64() * 1000.0);
        if body.len() < 1000 {
            bail!("{url}: a short page");
        }
    }
    list.sort_by(f64::total_cmp);
    // A light page behind the same session, for what the list itself costs.
    let mut light = Vec::with_capacity(100);
    for _ in 0..100 {
        let started = Instant::now();
        let r = http
            .get(format!("{base}/portal/login"))
            .header("cookie", &cookie)
            .send()
            .await?;
        r.bytes().await?;
        light.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    light.sort_by(f64::total_cmp);

    // Download All.
    let rss_before = status_kib(pid, "VmHWM:")?;
    let mut form: Vec<(&str, &str)> = vec![("_csrf", csrf.as_str())];
    form.extend(numbers.iter().take(args.zip).map(|n| ("n", n.as_str())));
    let started = Instant::now();
    let r = http
        .post(format!("{base}/portal/invoices/zip"))
        .header("cookie", &cookie)
        .header("origin", &base)
        .form(&form)
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("zip: {}", r.status());
    }
    let mut stream = r.bytes_stream();
    let mut first = None;
    let mut size = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if first.is_none() && !chunk.is_empty() {
            first = Some(started.elapsed().as_secs_f64() * 1000.0);
        }
        size += chunk.len();
    }
    let zip_s = started.elapsed().as_secs_f64();
    let rss_after = status_kib(pid, "VmHWM:")?;
    served.stop();
    let _ = db.drop().await;

    println!(
        "portal, {} invoices on {}: list p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms ({} requests); \
         Download All of {}: first byte {:.0} ms, whole {:.2} s, {:.1} MB; server peak RSS {:.0} MB before, {:.0} MB after; \
         PDF {:.0}/s on one core ({} KB each); sign-in by link over HTTP ({}): confirmation p50 {:.2} / p99 {:.2} ms, \
         use p50 {:.2} / p99 {:.2} ms; seeding {:.1} s",
        args.invoices,
        args.backend,
        quantile(&list, 0.5),
        quantile(&list, 0.95),
        quantile(&list, 0.99),
        list.len(),
        args.zip.min(numbers.len()),
        first.unwrap_or(0.0),
        zip_s,
        size as f64 / 1_048_576.0,
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        pdf_rate,
        pdf_size / 1024,
        confirm.len(),
        quantile(&confirm, 0.5),
        quantile(&confirm, 0.99),
        quantile(&use_link, 0.5),
        quantile(&use_link, 0.99),
        seeded_s,
    );
    println!(
        "{}",
        serde_json::json!({
            "backend": args.backend,
            "invoices": args.invoices,
            "list_ms": {"p50": quantile(&list, 0.5), "p95": quantile(&list, 0.95), "p99": quantile(&list, 0.99)},
            "light_page_ms": {"p50": quantile(&light, 0.5), "p95": quantile(&light, 0.95)},
            "zip": {"invoices": args.zip.min(numbers.len()), "first_byte_ms": first, "seconds": zip_s, "bytes": size,
                    "peak_rss_kib_before": rss_before, "peak_rss_kib_after": rss_after},
            "pdf_per_second_one_core": pdf_rate,
            "signin_ms": {"n": confirm.len(),
                          "confirm": {"p50": quantile(&confirm, 0.5), "p99": quantile(&confirm, 0.99)},
                          "use": {"p50": quantile(&use_link, 0.5), "p99": quantile(&use_link, 0.99)}},
        })
    );
    Ok(())
}
