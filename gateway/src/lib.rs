//! The `switchboard` binary's library: configuration, wiring, the HTTP server (ops
//! endpoints, agent API, web-chat socket), workers and the command line.

pub mod api;
pub mod api_inbox;
pub mod app;
pub mod billing;
pub mod billing_api;
pub mod cli;
pub mod config;
pub mod demo;
pub mod email;
pub mod error;
pub mod help;
pub mod http;
pub mod kb;
pub mod kb_cli;
pub mod openapi;
pub mod portal;
pub mod web;
pub mod webchat;

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
