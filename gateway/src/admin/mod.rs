//! Administration: users (invite, change, deactivate), the email inboxes' and the
//! WhatsApp numbers' settings, and outgoing webhooks, as pages and over the JSON API.

pub mod api;
pub mod pages;
pub mod webhooks;
pub mod whatsapp;

use axum::Router;
use axum::routing::{get, post};
use serde_json::json;

use crate::kit::AppState;
use crate::kit::api::{ApiRoute, obj, route};
use crate::kit::page::{Table, guarded, r};

/// The admin pages, behind the session and CSRF guard.
pub fn routes(state: &AppState) -> Router<AppState> {
    guarded(state, table())
}

/// This surface's pages, with the access each needs (the route-scope test walks it).
pub fn table() -> Table {
    use crate::kit::page::Access::*;
    vec![
        r("GET", "/admin/users", Admin, get(pages::list)),
        r("GET", "/admin/email", Admin, get(pages::email)),
        r("GET", "/admin/email/new", Admin, get(pages::email_new_page)),
        r("POST", "/admin/email/new", Admin, post(pages::email_create)),
        r(
            "GET",
            "/admin/email/{name}/edit",
            Admin,
            get(pages::email_edit_page),
        ),
        r(
            "POST",
            "/admin/email/{name}/edit",
            Admin,
            post(pages::email_update),
        ),
        r(
            "POST",
            "/admin/email/{name}/delete",
            Admin,
            post(pages::email_delete),
        ),
        r(
            "POST",
            "/admin/email/{name}/test",
            Admin,
            post(pages::email_test),
        ),
        r("GET", "/admin/whatsapp", Admin, get(whatsapp::list)),
        r("GET", "/admin/whatsapp/new", Admin, get(whatsapp::new_page)),
        r("POST", "/admin/whatsapp/new", Admin, post(whatsapp::create)),
        r(
            "GET",
            "/admin/whatsapp/{name}/edit",
            Admin,
            get(whatsapp::edit_page),
        ),
        r(
            "POST",
            "/admin/whatsapp/{name}/edit",
            Admin,
            post(whatsapp::update),
        ),
        r(
            "POST",
            "/admin/whatsapp/{name}/delete",
            Admin,
            post(whatsapp::delete),
        ),
        r(
            "POST",
            "/admin/whatsapp/{name}/sync",
            Admin,
            post(whatsapp::sync),
        ),
        r("GET", "/admin/webhooks", Admin, get(webhooks::list)),
        r("GET", "/admin/webhooks/new", Admin, get(webhooks::new_page)),
        r("POST", "/admin/webhooks/new", Admin, post(webhooks::create)),
        r("GET", "/admin/webhooks/{hook}", Admin, get(webhooks::show)),
        r(
            "POST",
            "/admin/webhooks/{hook}",
            Admin,
            post(webhooks::update),
        ),
        r(
            "POST",
            "/admin/webhooks/{hook}/delete",
            Admin,
            post(webhooks::delete),
        ),
        r(
            "POST",
            "/admin/webhooks/{hook}/deliveries/{delivery}/resend",
            Admin,
            post(webhooks::resend_page),
        ),
        r("GET", "/admin/users/new", Admin, get(pages::new_page)),
        r("POST", "/admin/users/new", Admin, post(pages::create)),
        r("GET", "/admin/users/{user}", Admin, get(pages::edit_page)),
        r("POST", "/admin/users/{user}", Admin, post(pages::update)),
        r(
            "POST",
            "/admin/users/{user}/active",
            Admin,
            post(pages::set_active),
        ),
    ]
}

/// This surface's routes of the agent API (under `/api/v1`), with the access each needs.
pub fn api_routes() -> Vec<(ApiRoute, axum::routing::MethodRouter<AppState>)> {
    use self::api as ai;
    use crate::kit::page::Access::Admin;
    vec![
        route(
            "GET",
            "/users",
            Admin,
            "Every user with teams and companies",
            None,
            get(ai::users),
        ),
        route(
            "POST",
            "/users",
            Admin,
            "Invite a user; returns the link to choose a password",
            obj(
                json!({"email": {"type": "string"}, "name": {"type": "string"}, "role": {"enum": ["support", "coordinator", "supervisor", "admin"]}, "tier": {"enum": ["N1", "N2", "N3"]}}),
                &["email", "role"],
            ),
            post(ai::invite),
        ),
        route(
            "POST",
            "/users/{id}",
            Admin,
            "Change a user: name, role, tier, teams, companies, locale, capacity, active",
            obj(
                json!({"name": {"type": "string"}, "role": {"type": "string"}, "tier": {"type": "string"}, "teams": {"type": "array", "items": {"type": "string"}}, "companies": {"type": "array", "items": {"type": "string"}}, "locale": {"enum": ["en", "es", "pt-BR"]}, "capacity": {"type": "integer"}, "active": {"type": "boolean"}}),
                &[],
            ),
            post(ai::update_user),
        ),
        route(
            "POST",
            "/users/{id}/reset-link",
            Admin,
            "A password-reset link for a user",
            None,
            post(ai::reset_link),
        ),
        route(
            "GET",
            "/webhooks",
            Admin,
            "Every webhook subscription, with its secret, and the event kinds",
            None,
            get(webhooks::api_list),
        ),
        route(
            "POST",
            "/webhooks",
            Admin,
            "Subscribe an address (https://) to event kinds; returns it with its signing secret",
            obj(
                json!({"url": {"type": "string"}, "description": {"type": "string"}, "events": {"type": "array", "items": {"enum": switchboard_core::store::HOOK_KINDS}}, "active": {"type": "boolean"}}),
                &["url", "events"],
            ),
            post(webhooks::api_create),
        ),
        route(
            "GET",
            "/webhooks/{id}",
            Admin,
            "A subscription and its latest deliveries",
            None,
            get(webhooks::api_show),
        ),
        route(
            "POST",
            "/webhooks/{id}",
            Admin,
            "Change a subscription: address, description, events, active",
            obj(
                json!({"url": {"type": "string"}, "description": {"type": "string"}, "events": {"type": "array", "items": {"enum": switchboard_core::store::HOOK_KINDS}}, "active": {"type": "boolean"}}),
                &[],
            ),
            post(webhooks::api_update),
        ),
        route(
            "DELETE",
            "/webhooks/{id}",
            Admin,
            "Remove a subscription with its delivery log",
            None,
            axum::routing::delete(webhooks::api_delete),
        ),
        route(
            "GET",
            "/webhooks/{id}/deliveries/{delivery}",
            Admin,
            "A delivery with its attempts and the receiver's answers",
            None,
            get(webhooks::api_delivery),
        ),
        route(
            "POST",
            "/webhooks/{id}/deliveries/{delivery}/resend",
            Admin,
            "Send a delivery again now",
            None,
            post(webhooks::api_resend),
        ),
    ]
}
