//! The `switchboard` binary's library.
//!
//! Three layers, which `tidy.rs` checks: `config` and `kit` below (what every surface
//! shares), one folder per surface above them (none imports another), and `app` and
//! `cli` on top, which only compose.
//!
//! File by file: `config.rs` (TOML + env, secrets redacted), `app.rs` (`Application::build`
//! / `run_until_stopped`, worker wiring, the routes, graceful shutdown), `kit/state.rs`
//! (`AppState`), `kit/http.rs` (request ids, request logs with credentials redacted, the
//! security headers), `ops/mod.rs` (`/healthz`, `/readyz`, `/metrics` with its detail for
//! the operator only), `kit/api.rs` (the agent API's route type and `Agent`) and
//! `inbox/thread.rs` (the conversation handlers and the events socket), `webchat/mod.rs`
//! (the widget socket: origin check, per-address socket cap, visitor id check, per-socket
//! rate limit, agents' names, business hours) and `webchat/attachments.rs` (the widget's
//! uploads and downloads), the agent pages (`inbox/`, `account/`, `admin/`, `billing/`,
//! `equipment/`, `kb/`; `kit/blobs.rs` serves every stored file), `kit/error.rs` (the API's error codes),
//! `cli/mod.rs` (one module per command group) and `cli/demo.rs`.
//!
//! **Architecture Invariant:** business rules live in `core` or a channel crate; the
//! gateway wires and translates.

pub mod config;
pub mod kit;

pub mod account;
pub mod admin;
pub mod billing;
pub mod email;
pub mod equipment;
pub mod inbox;
pub mod kb;
pub mod ops;
pub mod portal;
pub mod webchat;
pub mod whatsapp;

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
