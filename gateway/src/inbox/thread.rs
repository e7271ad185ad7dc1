//! A conversation over the JSON API: the list, a thread, replies, typing, and the agents'
//! realtime events socket (opened with a single-use ticket).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use switchboard_core::domain::Status;
use switchboard_core::realtime::{Event, Shared};
use switchboard_core::store::{Caller, ConversationFilter, Queued};

use crate::kit::AppState;
use crate::kit::api::{Agent, agent};
use crate::kit::error::ApiError;

/// Longest reply text, in bytes.
const MAX_REPLY: usize = 64 * 1024;

/// How long a websocket ticket may wait to be used.
const TICKET_TTL_MS: i64 = 30_000;

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
    #[serde(default)]
    text: String,
    #[serde(default)]
    reply_to: Option<String>,
    #[serde(default)]
    template: Option<switchboard_core::domain::Template>,
    #[serde(default)]
    reaction: Option<crate::kit::whatsapp::ReactionRequest>,
    #[serde(default)]
    buttons: Vec<switchboard_core::domain::Button>,
    #[serde(default)]
    list: Option<switchboard_core::domain::ListContent>,
}

/// Posts an agent reply. An `Idempotency-Key` header makes a retried request a no-op.
pub async fn post_reply(
    State(state): State<AppState>,
    Agent(user, caller): Agent,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<Reply>, JsonRejection>,
) -> Result<Response, ApiError> {
    let conversation = state.workflow.writable(&caller, &id).await?;
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
    let (text, content) = crate::kit::whatsapp::prepare_reply(
        &state,
        &conversation,
        &reply.text,
        crate::kit::whatsapp::Extras {
            reply_to: reply.reply_to,
            template: reply.template,
            reaction: reply.reaction,
            buttons: reply.buttons,
            list: reply.list,
        },
    )
    .await?;
    let message = match state
        .workflow
        .reply_with(&caller, &state.outbox, &id, &text, content, idempotency_key)
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
    if typing.on {
        crate::kit::whatsapp::seen(&state, &conversation, true);
    }
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
        .read_buffer_size(crate::kit::http::WS_READ_BUFFER)
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
