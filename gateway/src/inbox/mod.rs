//! The agents' inbox: the conversation list and its views, a conversation's page and
//! every action on it, saved replies, the palette, the dashboard, the agents' live socket,
//! and the same actions over the JSON API.

pub mod api;
pub mod dashboard;
pub mod notifications;
pub mod pages;
pub mod saved;
pub mod socket;
pub mod thread;

use axum::Router;
use axum::routing::{get, post};
use serde_json::json;

use crate::kit::AppState;
use crate::kit::api::{ApiRoute, obj, route, schema};
use crate::kit::page::{Table, guarded, r};

/// The inbox's pages, behind the session and CSRF guard.
pub fn routes(state: &AppState) -> Router<AppState> {
    guarded(state, table())
}

/// This surface's pages, with the access each needs (the route-scope test walks it).
pub fn table() -> Table {
    use crate::kit::page::Access::*;
    vec![
        r("GET", "/conversations", Agent, get(pages::page)),
        r(
            "GET",
            "/conversations/list",
            Agent,
            get(pages::list_fragment),
        ),
        r(
            "GET",
            "/conversations/views",
            Agent,
            get(pages::views_fragment),
        ),
        r("POST", "/conversations/bulk", AgentWrite, post(pages::bulk)),
        r(
            "GET",
            "/conversations/{number}",
            Agent,
            get(pages::conversation_page),
        ),
        r(
            "GET",
            "/conversations/{number}/thread",
            Agent,
            get(pages::thread_fragment),
        ),
        r(
            "POST",
            "/conversations/{number}/messages",
            AgentWrite,
            post(pages::post_message),
        ),
        r(
            "POST",
            "/conversations/{number}/assign",
            AgentWrite,
            post(pages::assign),
        ),
        r(
            "POST",
            "/conversations/{number}/status",
            AgentWrite,
            post(pages::set_status),
        ),
        r(
            "POST",
            "/conversations/{number}/snooze",
            AgentWrite,
            post(pages::snooze),
        ),
        r(
            "POST",
            "/conversations/{number}/priority",
            AgentWrite,
            post(pages::set_priority),
        ),
        r(
            "POST",
            "/conversations/{number}/tier",
            AgentWrite,
            post(pages::set_tier),
        ),
        r(
            "POST",
            "/conversations/{number}/labels",
            AgentWrite,
            post(pages::set_labels),
        ),
        r(
            "POST",
            "/conversations/{number}/merge",
            AgentWrite,
            post(pages::merge_conversation),
        ),
        r(
            "GET",
            "/conversations/{number}/contact-matches",
            Agent,
            get(pages::contact_matches),
        ),
        r(
            "POST",
            "/conversations/{number}/merge-contact",
            AgentWrite,
            post(pages::merge_contact),
        ),
        r(
            "GET",
            "/blobs/{key}",
            Agent,
            get(crate::kit::blobs::agent_blob),
        ),
        r("GET", "/canned", Agent, get(pages::canned)),
        r("GET", "/saved-replies", Agent, get(saved::list)),
        r("GET", "/saved-replies/new", Agent, get(saved::new_page)),
        r(
            "POST",
            "/saved-replies/new",
            AgentWrite,
            post(saved::create),
        ),
        r("GET", "/saved-replies/{id}", Agent, get(saved::edit_page)),
        r(
            "POST",
            "/saved-replies/{id}",
            AgentWrite,
            post(saved::update),
        ),
        r(
            "POST",
            "/saved-replies/{id}/delete",
            AgentWrite,
            post(saved::delete),
        ),
        r("GET", "/palette", Agent, get(pages::palette)),
        r("GET", "/inbox/events", Agent, get(socket::upgrade)),
        r("GET", "/dashboard", Board, get(dashboard::page)),
        r("GET", "/notifications", Agent, get(notifications::page)),
        r(
            "POST",
            "/notifications/read",
            Agent,
            post(notifications::read_all),
        ),
    ]
}

/// This surface's routes of the agent API (under `/api/v1`), with the access each needs.
pub fn api_routes() -> Vec<(ApiRoute, axum::routing::MethodRouter<AppState>)> {
    use self::api as ai;
    use self::thread::*;
    use crate::kit::page::Access::{Agent as A, AgentWrite, Board};
    vec![
        route(
            "GET",
            "/conversations",
            A,
            "Conversations the caller may see, latest activity first",
            None,
            get(list_conversations),
        ),
        route(
            "GET",
            "/conversations/{id}",
            A,
            "A conversation and its thread",
            None,
            get(get_conversation),
        ),
        route(
            "POST",
            "/conversations/{id}/messages",
            AgentWrite,
            "Reply to the customer through the conversation's channel (WhatsApp: quote a message, react, send reply buttons, a list or an approved template)",
            obj(
                serde_json::json!({
                    "text": { "type": "string" },
                    "reply_to": { "type": "string" },
                    "template": { "type": "object", "properties": {
                        "name": { "type": "string" }, "language": { "type": "string" },
                        "params": { "type": "array", "items": { "type": "string" } } },
                        "required": ["name", "language"] },
                    "reaction": { "type": "object", "properties": {
                        "message_id": { "type": "string" }, "emoji": { "type": "string" } },
                        "required": ["message_id", "emoji"] },
                    "buttons": { "type": "array", "items": { "type": "object", "properties": {
                        "id": { "type": "string" }, "title": { "type": "string" } }, "required": ["id", "title"] } },
                    "list": { "type": "object", "properties": {
                        "button": { "type": "string" },
                        "rows": { "type": "array", "items": { "type": "object", "properties": {
                            "id": { "type": "string" }, "title": { "type": "string" } }, "required": ["id", "title"] } } },
                        "required": ["button", "rows"] }
                }),
                &[],
            ),
            post(post_reply),
        ),
        route(
            "POST",
            "/conversations/{id}/typing",
            AgentWrite,
            "Show the customer that an agent is typing",
            schema(&[("on", "boolean")], &["on"]),
            post(post_typing),
        ),
        route(
            "GET",
            "/events",
            A,
            "Realtime events (websocket; open with a ticket)",
            None,
            get(events),
        ),
        route(
            "POST",
            "/events/tickets",
            A,
            "A single-use ticket that opens the events socket",
            None,
            post(events_ticket),
        ),
        route(
            "GET",
            "/inbox",
            A,
            "A page of a view (mine, unassigned, all, team:NAME, tier:N2) with filters, sort, search and a cursor",
            None,
            get(ai::inbox),
        ),
        route(
            "GET",
            "/inbox/counts",
            A,
            "Unresolved and unread conversations per view",
            None,
            get(ai::counts),
        ),
        route(
            "POST",
            "/conversations/{id}/assign",
            AgentWrite,
            "Assign to an agent (assignee_id null: unassign)",
            obj(
                json!({"assignee_id": {"type": ["string", "null"]}, "version": {"type": "integer"}}),
                &[],
            ),
            post(ai::assign),
        ),
        route(
            "POST",
            "/conversations/{id}/status",
            AgentWrite,
            "Open, pending, snoozed (with until) or resolved",
            obj(
                json!({"status": {"enum": ["open", "pending", "snoozed", "resolved"]}, "until": {"type": "integer"}, "version": {"type": "integer"}}),
                &["status"],
            ),
            post(ai::status),
        ),
        route(
            "POST",
            "/conversations/{id}/priority",
            AgentWrite,
            "Set the priority",
            obj(
                json!({"priority": {"enum": ["none", "low", "medium", "high", "urgent"]}, "version": {"type": "integer"}}),
                &["priority"],
            ),
            post(ai::priority),
        ),
        route(
            "POST",
            "/conversations/{id}/tier",
            AgentWrite,
            "Escalate (up) or de-escalate (down) with a reason kept in the thread",
            obj(
                json!({"direction": {"enum": ["up", "down"]}, "reason": {"type": "string"}, "version": {"type": "integer"}}),
                &["direction", "reason"],
            ),
            post(ai::tier),
        ),
        route(
            "POST",
            "/conversations/{id}/team",
            AgentWrite,
            "Move to a team (null: none); a tier is refused (it changes through /tier, with a reason)",
            obj(
                json!({"team": {"type": ["string", "null"]}, "version": {"type": "integer"}}),
                &[],
            ),
            post(ai::team),
        ),
        route(
            "POST",
            "/conversations/{id}/labels",
            AgentWrite,
            "Replace the labels",
            obj(
                json!({"labels": {"type": "array", "items": {"type": "string"}}, "version": {"type": "integer"}}),
                &["labels"],
            ),
            post(ai::labels),
        ),
        route(
            "POST",
            "/conversations/{id}/notes",
            AgentWrite,
            "An internal note; @mentions notify agents",
            schema(&[("text", "string")], &["text"]),
            post(ai::note),
        ),
        route(
            "POST",
            "/conversations/{id}/merge",
            AgentWrite,
            "Merge into another conversation of the same contact",
            schema(&[("into", "string")], &["into"]),
            post(ai::merge_conversation),
        ),
        route(
            "POST",
            "/conversations/bulk",
            AgentWrite,
            "One change (status, assignee_id, unassign, priority or labels) on many conversations",
            obj(
                json!({"ids": {"type": "array", "items": {"type": "string"}}, "status": {"type": "string"}, "assignee_id": {"type": "string"}, "unassign": {"type": "boolean"}, "priority": {"type": "string"}, "labels": {"type": "array", "items": {"type": "string"}}}),
                &["ids"],
            ),
            post(ai::bulk),
        ),
        route(
            "POST",
            "/contacts/{id}/merge",
            AgentWrite,
            "Merge a contact into another",
            schema(&[("into", "string")], &["into"]),
            post(ai::merge_contact),
        ),
        route(
            "POST",
            "/contacts/{id}/email-preferences",
            AgentWrite,
            "A contact's mail language (en, es, pt-BR) and whether they get status notices by email",
            schema(
                &[("language", "string"), ("notices", "boolean")],
                &["notices"],
            ),
            post(ai::contact_email_preferences),
        ),
        route(
            "POST",
            "/contacts/{id}/notice-channel",
            AgentWrite,
            "The channel a contact's notices (a request's status, an invoice issued) go by: email or whatsapp",
            schema(&[("channel", "string")], &["channel"]),
            post(ai::contact_notice_channel),
        ),
        route(
            "GET",
            "/canned-responses",
            A,
            "Saved replies, optionally of one locale",
            None,
            get(ai::canned_list),
        ),
        route(
            "POST",
            "/canned-responses",
            AgentWrite,
            "Add a saved reply",
            schema(
                &[
                    ("shortcut", "string"),
                    ("locale", "string"),
                    ("title", "string"),
                    ("body", "string"),
                ],
                &["shortcut", "locale", "title", "body"],
            ),
            post(ai::canned_create),
        ),
        route(
            "POST",
            "/canned-responses/{id}",
            AgentWrite,
            "Change a saved reply",
            schema(
                &[
                    ("shortcut", "string"),
                    ("locale", "string"),
                    ("title", "string"),
                    ("body", "string"),
                ],
                &["shortcut", "locale", "title", "body"],
            ),
            post(ai::canned_update),
        ),
        route(
            "DELETE",
            "/canned-responses/{id}",
            AgentWrite,
            "Remove a saved reply",
            None,
            axum::routing::delete(ai::canned_delete),
        ),
        route(
            "GET",
            "/notifications",
            A,
            "The caller's mentions and assignments",
            None,
            get(ai::notifications),
        ),
        route(
            "POST",
            "/notifications/read",
            A,
            "Mark notifications read (ids null: all)",
            obj(
                json!({"ids": {"type": ["array", "null"], "items": {"type": "string"}}}),
                &[],
            ),
            post(ai::notifications_read),
        ),
        route(
            "GET",
            "/dashboard",
            Board,
            "Open conversations, response and resolution times, SLA breaches, volume",
            None,
            get(ai::dashboard),
        ),
    ]
}
