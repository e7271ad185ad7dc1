//! Portal sign-in links: how long checking and using one takes in the store, on SQLite
//! and on PostgreSQL. Issues `--links` links for one contact, then for each measures the
//! confirmation page's look (`magic_link_state`) and the sign-in's use (`use_magic_link`),
//! one after another, and reports percentiles.
//!
//! `cargo run --release -p switchboard-bench --bin magic-link-bench -- --backend sqlite`
//! (or `--backend postgres`, which uses `SB_TEST_PG`).

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail};
use clap::Parser;
use switchboard_core::clock::{Ids, SystemClock};
use switchboard_core::store::{LinkState, NewLink, Store};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "sqlite")]
    backend: String,
    #[arg(long, default_value_t = 5_000)]
    links: usize,
}

fn quantile(sorted: &[f64], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let db =
        switchboard_bench::Database::create(&args.backend, dir.path(), "sb_bench_links").await?;
    let url = db.url.clone();
    let ids = Ids::new(Arc::new(SystemClock));
    let store = Store::connect(&url).await?;
    store.migrate(ids.now_ms()).await?;
    let contact = ids.new_id();
    sqlx::query("INSERT INTO contacts (id, name, created_at) VALUES ($1, 'Bench', $2)")
        .bind(&contact)
        .bind(ids.now_ms())
        .execute(store.pool())
        .await?;
    let mut tokens = Vec::with_capacity(args.links);
    for _ in 0..args.links {
        tokens.push(
            store
                .create_magic_link(
                    &ids,
                    &NewLink {
                        contact_id: &contact,
                        email: "bench@example.com",
                        purpose: "invoice",
                        ttl_ms: 7 * 86_400_000,
                    },
                )
                .await?,
        );
    }
    let (mut look, mut use_) = (Vec::new(), Vec::new());
    for t in &tokens {
        let now = ids.now_ms();
        let started = Instant::now();
        let state = store.magic_link_state(t, now).await?;
        look.push(started.elapsed().as_secs_f64() * 1000.0);
        if !matches!(state, LinkState::Usable { .. }) {
            bail!("a fresh link is not usable");
        }
        let started = Instant::now();
        if store.use_magic_link(t, now).await?.is_none() {
            bail!("a fresh link could not be used");
        }
        use_.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    store.close().await;
    db.drop().await?;
    look.sort_by(f64::total_cmp);
    use_.sort_by(f64::total_cmp);
    let r = |v: &[f64]| {
        (
            v.iter().sum::<f64>() / v.len() as f64,
            quantile(v, 0.5),
            quantile(v, 0.99),
        )
    };
    let (lm, l50, l99) = r(&look);
    let (um, u50, u99) = r(&use_);
    println!(
        "{}",
        serde_json::json!({
            "backend": args.backend,
            "links": args.links,
            "look_ms": {"mean": (lm * 1000.0).round() / 1000.0, "p50": (l50 * 1000.0).round() / 1000.0, "p99": (l99 * 1000.0).round() / 1000.0},
            "use_ms": {"mean": (um * 1000.0).round() / 1000.0, "p50": (u50 * 1000.0).round() / 1000.0, "p99": (u99 * 1000.0).round() / 1000.0},
        })
    );
    Ok(())
}
