//! The knowledge base: the public help center, and the agents' article pages, the bot's
//! gaps and learning from replies.

pub mod help;
pub mod pages;

use axum::Router;
use axum::routing::{get, post};

use crate::kit::AppState;
use crate::kit::page::{Table, guarded, r};

/// The KB pages (behind the session and CSRF guard) and the help center.
pub fn routes(state: &AppState) -> Router<AppState> {
    guarded(state, table()).merge(help::router(state.clone()))
}

/// This surface's pages, with the access each needs (the route-scope test walks it).
pub fn table() -> Table {
    use crate::kit::page::Access::*;
    vec![
        r("GET", "/kb", Agent, get(pages::list)),
        r("GET", "/kb/new", AgentWrite, get(pages::new_page)),
        r("POST", "/kb/new", AgentWrite, post(pages::create)),
        r("GET", "/kb/gaps", Agent, get(pages::gaps)),
        r("POST", "/kb/learn", AgentWrite, post(pages::learn)),
        r("GET", "/kb/{article}/edit", Agent, get(pages::edit_page)),
        r(
            "POST",
            "/kb/{article}/edit",
            AgentWrite,
            post(pages::update),
        ),
        r(
            "POST",
            "/kb/from-reply/{message}",
            AgentWrite,
            post(pages::from_reply),
        ),
    ]
}
