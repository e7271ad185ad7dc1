//! The agent API (JSON, bearer tokens): enough to work conversations end to end. The
//! inbox UI builds on it.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use switchboard_core::domain::{Role, Status, User};
use switchboard_core::realtime::{Event, Shared};
use switchboard_core::store::{Caller, ConversationFilter, Queued};

use crate::app::AppState;
use crate::error::ApiError;

/// Longest reply text, in bytes.
const MAX_REPLY: usize = 64 * 1024;

/// How long a websocket ticket may wait to be used.
const TICKET_TTL_MS: i64 = 30_000;

/// One route of the API, as the router and the OpenAPI document see it.
#[derive(Debug, Clone)]
pub struct ApiRoute {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    /// JSON Schema of the request body, for routes that take one.
    pub body: Option<serde_json::Value>,
    pub access: crate::web::Access,
}

fn route(
    method: &'static str,
    path: &'static str,
    access: crate::web::Access,
    summary: &'static str,
    body: Option<serde_json::Value>,
    handler: axum::routing::MethodRouter<AppState>,
) -> (ApiRoute, axum::routing::MethodRouter<AppState>) {
    (
        ApiRoute {
            method,
            path,
            summary,
            body,
            access,
        },
        handler,
    )
}

/// A JSON Schema object with these required string/number/boolean properties.
fn schema(props: &[(&str, &str)], required: &[&str]) -> Option<serde_json::Value> {
    let properties: serde_json::Map<String, serde_json::Value> = props
        .iter()
        .map(|(name, ty)| ((*name).to_owned(), json!({ "type": ty })))
        .collect();
    Some(
        json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": false }),
    )
}

/// A JSON Schema object with these properties (any JSON Schema each).
fn obj(props: serde_json::Value, required: &[&str]) -> Option<serde_json::Value> {
    Some(
        json!({ "type": "object", "properties": props, "required": required, "additionalProperties": false }),
    )
}

/// Every API route (paths below `/api/v1`), with the access it needs and its description.
pub fn table() -> Vec<(ApiRoute, axum::routing::MethodRouter<AppState>)> {
    use crate::api_inbox as ai;
    use crate::billing_api as b;
    use crate::web::Access::{Admin, Agent as A, AgentWrite, Reports};
    use axum::routing::{get, post};
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
            "Reply to the customer through the conversation's channel",
            schema(&[("text", "string")], &["text"]),
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
            "/dead-letters",
            Reports,
            "Messages that could not be delivered",
            None,
            get(list_dead_letters),
        ),
        route(
            "POST",
            "/dead-letters/{id}/retry",
            Admin,
            "Queue a dead letter for delivery again",
            None,
            post(retry_dead_letter),
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
            Reports,
            "Open conversations, response and resolution times, SLA breaches, volume",
            None,
            get(ai::dashboard),
        ),
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
            "POST",
            "/companies",
            Admin,
            "A client company (the CRM profile)",
            schema(&[("name", "string")], &["name"]),
            post(b::create_company),
        ),
        route(
            "POST",
            "/companies/{id}/contacts",
            Admin,
            "Put a contact in a company",
            schema(&[("contact_id", "string")], &["contact_id"]),
            post(b::add_company_contact),
        ),
        route(
            "GET",
            "/invoices",
            Reports,
            "Invoices, newest first (company_id, status, limit)",
            None,
            get(b::list_invoices),
        ),
        route(
            "POST",
            "/invoices",
            Admin,
            "Create an invoice from its lines (totals are computed); external_id makes a push idempotent; send: true mails it",
            document_schema(),
            post(b::create_invoice),
        ),
        route(
            "POST",
            "/invoices/import",
            Admin,
            "Import invoices from CSV (one row per line item; rows sharing external_id make one invoice); all rows are checked first",
            None,
            post(b::import_invoices),
        ),
        route(
            "GET",
            "/estimates",
            Reports,
            "Estimates, newest first",
            None,
            get(b::list_estimates),
        ),
        route(
            "POST",
            "/estimates",
            Admin,
            "Create an estimate from its lines",
            document_schema(),
            post(b::create_estimate),
        ),
        route(
            "GET",
            "/documents/{id}",
            Reports,
            "An invoice or estimate with its ledger",
            None,
            get(b::get_document),
        ),
        route(
            "POST",
            "/documents/{id}/send",
            Admin,
            "Mail the document to its client with a sign-in link, and show its card",
            None,
            post(b::send_document),
        ),
        route(
            "POST",
            "/documents/{id}/void",
            Admin,
            "Void an invoice",
            None,
            post(b::void_document),
        ),
        route(
            "DELETE",
            "/tokens/current",
            A,
            "Revoke the token this request carries (a leaked integration's, say)",
            None,
            axum::routing::delete(revoke_current_token),
        ),
        route(
            "POST",
            "/documents/{id}/payments",
            Admin,
            "Record a payment or refund (reference recorded once)",
            obj(
                json!({"amount": {"type": "integer"}, "currency": {"type": "string"}, "reference": {"type": "string"}, "kind": {"enum": ["payment", "refund"]}}),
                &["amount", "currency", "reference"],
            ),
            post(b::record_payment),
        ),
    ]
}

fn document_schema() -> Option<serde_json::Value> {
    obj(
        json!({
            "contact_id": {"type": "string"},
            "company_id": {"type": "string"},
            "currency": {"type": "string"},
            "issue_date": {"type": "string", "format": "date"},
            "due_date": {"type": "string", "format": "date"},
            "external_id": {"type": "string"},
            "send": {"type": "boolean"},
            "document": {"type": "object", "properties": {
                "lines": {"type": "array", "items": {"type": "object", "properties": {
                    "description": {"type": "string"},
                    "quantity_milli": {"type": "integer"},
                    "unit_price": {"type": "integer"},
                    "tax_rate_bp": {"type": "integer"},
                    "tax_inclusive": {"type": "boolean"}
                }, "required": ["description", "quantity_milli", "unit_price"]}},
                "notes": {"type": "string"},
                "terms": {"type": "string"},
                "rounding": {"enum": ["per_line", "per_invoice"]}
            }, "required": ["lines"]}
        }),
        &["contact_id", "currency", "document"],
    )
}

/// An authenticated agent, with what it may see.
pub struct Agent(pub User, pub Caller);

impl FromRequestParts<AppState> for Agent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Only from the header: a token in a URL ends up in logs and browser history. The
        // events socket takes a single-use ticket instead (see `events_ticket`).
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        let user = state
            .store
            .user_by_token(token.trim(), state.ids.now_ms())
            .await?
            .ok_or(ApiError::Unauthorized)?;
        agent(state, user).await
    }
}

/// `DELETE /api/v1/tokens/current`: the token of this request stops working.
pub async fn revoke_current_token(
    State(state): State<AppState>,
    _agent: Agent,
    headers: axum::http::HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized)?;
    let revoked = state
        .store
        .revoke_api_token(token.trim(), state.ids.now_ms())
        .await?;
    Ok(Json(json!({ "revoked": revoked })))
}

async fn agent(state: &AppState, user: User) -> Result<Agent, ApiError> {
    if !user.role.is_agent() {
        return Err(ApiError::Forbidden("this API is for agents".into()));
    }
    let caller = state.store.caller(&user).await?;
    Ok(Agent(user, caller))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    inbox: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

pub async fn list_conversations(
    State(state): State<AppState>,
    Agent(_, caller): Agent,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let filter = ConversationFilter {
        status: q.status.as_deref().map(Status::parse).transpose()?,
        inbox: q.inbox,
        contact_id: None,
        before: q.before,
        limit: q.limit.unwrap_or(50),
    };
    let conversations = state.store.conversations_for(&caller, &filter).await?;
    Ok(Json(json!({ "conversations": conversations })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreadQuery {
    after: Option<String>,
    limit: Option<i64>,
}

pub async fn get_conversation(
    State(state): State<AppState>,
    Agent(_, caller): Agent,
    Path(id): Path<String>,
    query: Result<Query<ThreadQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let conversation = state.store.conversation_for(&caller, &id).await?;
    let messages = state
        .store
        .messages_for(&caller, &id, q.after.as_deref(), q.limit.unwrap_or(200))
        .await?;
    Ok(Json(
        json!({ "conversation": conversation, "messages": messages }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    text: String,
}

/// Posts an agent reply. An `Idempotency-Key` header makes a retried request a no-op.
pub async fn post_reply(
    State(state): State<AppState>,
    Agent(user, caller): Agent,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<Reply>, JsonRejection>,
) -> Result<Response, ApiError> {
    state.workflow.writable(&caller, &id).await?;
    let Json(reply) = body?;
    if reply.text.len() > MAX_REPLY {
        return Err(ApiError::TooLarge(format!(
            "reply is {} bytes; the limit is {MAX_REPLY}",
            reply.text.len()
        )));
    }
    let idempotency_key = match headers.get("idempotency-key") {
        Some(v) => {
            let v = v
                .to_str()
                .map_err(|_| ApiError::BadRequest("Idempotency-Key must be ASCII".into()))?;
            if v.is_empty() || v.len() > 200 {
                return Err(ApiError::BadRequest(
                    "Idempotency-Key must be 1-200 characters".into(),
                ));
            }
            Some(format!("api:{}:{v}", user.id))
        }
        None => None,
    };
    let message = match state
        .workflow
        .reply(&caller, &state.outbox, &id, &reply.text, idempotency_key)
        .await?
    {
        Queued::New(m, _) | Queued::Seen(m) => m,
        Queued::BotSilenced => {
            return Err(ApiError::Internal(switchboard_core::Error::Conflict(
                "an agent reply was taken for the bot's".into(),
            )));
        }
    };
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!({ "message": message })),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Typing {
    on: bool,
}

/// Shows the client that an agent is typing.
pub async fn post_typing(
    State(state): State<AppState>,
    Agent(_, caller): Agent,
    Path(id): Path<String>,
    body: Result<Json<Typing>, JsonRejection>,
) -> Result<axum::http::StatusCode, ApiError> {
    // Scope first: a conversation out of reach is "not found" whatever the body says.
    let conversation = state.workflow.writable(&caller, &id).await?;
    let Json(typing) = body?;
    let event = Event::Typing {
        contact_id: conversation.contact_id.clone(),
        scope: Some(conversation.scope()),
        from: "agent".into(),
        on: typing.on,
    };
    if let Err(e) = state.realtime.publish(&event).await {
        tracing::debug!(error = %e, "typing not published");
    }
    Ok(axum::http::StatusCode::NO_CONTENT)
}

fn require(user: &User, roles: &[Role]) -> Result<(), ApiError> {
    if roles.contains(&user.role) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "a {} cannot do this",
            user.role
        )))
    }
}

pub async fn list_dead_letters(
    State(state): State<AppState>,
    Agent(user, caller): Agent,
) -> Result<Json<serde_json::Value>, ApiError> {
    require(&user, &[Role::Admin, Role::Supervisor, Role::Coordinator])?;
    Ok(Json(
        json!({ "dead_letters": state.store.dead_letters_for(&caller).await? }),
    ))
}

pub async fn retry_dead_letter(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    require(&user, &[Role::Admin])?;
    let message_id = state.outbox.retry_dead_letter(&id).await?;
    Ok(Json(json!({ "message_id": message_id, "state": "queued" })))
}

/// A single-use ticket, valid for 30 s, that opens the caller's events socket:
/// `GET /api/v1/events?ticket=…`. Browsers cannot put a bearer token on a websocket, and
/// a token in a URL would end up in logs; a used or stale ticket is worth nothing.
pub async fn events_ticket(
    State(state): State<AppState>,
    Agent(user, _): Agent,
) -> Result<Json<serde_json::Value>, ApiError> {
    let ticket = state
        .store
        .issue_ws_ticket(&state.ids, &user.id, TICKET_TTL_MS)
        .await?;
    Ok(Json(
        json!({ "ticket": ticket, "expires_in_ms": TICKET_TTL_MS }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    ticket: String,
}

/// Realtime events for agents, as JSON text frames: only those of conversations the
/// agent may see, decided from each event's scope without a database read.
pub async fn events(
    State(state): State<AppState>,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|_| ApiError::Unauthorized)?;
    let user = state
        .store
        .redeem_ws_ticket(q.ticket.trim(), state.ids.now_ms())
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let Agent(_, caller) = agent(&state, user).await?;
    Ok(ws
        .read_buffer_size(crate::http::WS_READ_BUFFER)
        .on_upgrade(move |socket| agent_socket(state, caller, socket)))
}

async fn agent_socket(state: AppState, caller: Caller, mut socket: WebSocket) {
    let mut events = state.realtime.subscribe();
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => {
                let _ = socket.send(WsMessage::Close(Some(axum::extract::ws::CloseFrame { code: 1001, reason: "server stopping".into() }))).await;
                return;
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(WsMessage::Close(_))) | None => return,
                Some(Ok(_)) => {}
                Some(Err(_)) => return,
            },
            event = events.recv_shared() => {
                let event = match event {
                    Ok(e) => e,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Shared::new(Event::Resync),
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                let visible = match event.scope() {
                    Some(scope) => caller.may_see(&scope),
                    // Resync concerns everyone; a visitor typing before it has a
                    // conversation is for those who see everything.
                    None => matches!(event.event(), Event::Resync) || caller.may_see_everything(),
                };
                if !visible {
                    continue;
                }
                let text = event.json();
                if text.is_empty() {
                    continue;
                }
                if socket.send(WsMessage::Text(text.into())).await.is_err() {
                    return;
                }
            }
        }
    }
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such API route".into())
}
