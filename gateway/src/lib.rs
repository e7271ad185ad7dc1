//! The `switchboard` binary's library.
//!
//! Three layers, which `tidy.rs` checks: `config` and `kit` below (what every surface
//! shares), one folder per surface above them (none imports another), and `app` and
//! `cli` on top, which only compose.

pub mod config;
pub mod kit;

pub mod account;
pub mod admin;
pub mod billing;
pub mod email;
pub mod inbox;
pub mod kb;
pub mod ops;
pub mod portal;
pub mod webchat;

pub mod app;
pub mod cli;

#[cfg(test)]
mod tidy;

/// Logs to stderr: text for people, JSON (`log_format = "json"`) for collectors.
/// `RUST_LOG` filters (default `info`).
pub fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
