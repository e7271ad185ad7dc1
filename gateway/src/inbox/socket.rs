//! The inbox's websocket: the events of conversations the agent may see, decided from each
//! event's scope without a database read; in the other direction, which conversation the
//! agent has open (the "also viewing" indicator) and typing in the composer. Opened with
//! the session cookie, from a page of this host only. While it is open the agent counts
//! as online for auto-assignment.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::SinkExt;
use serde::Deserialize;
use switchboard_core::realtime::{Event, Shared};
use switchboard_core::store::Caller;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use crate::kit::AppState;
use crate::kit::session::WebAgent;

/// How often an open socket marks its agent online.
const HEARTBEAT: Duration = Duration::from_secs(30);
/// Largest frame an agent page sends.
const MAX_FRAME: usize = 4 * 1024;
/// Most events sent in one write.
const BURST: usize = 64;

pub async fn upgrade(
    State(state): State<AppState>,
    agent: WebAgent,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // Cookies ride along on cross-site websocket handshakes: only this host's pages may
    // open one.
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(|o| o.split_once("://").map_or(o, |(_, h)| h));
    if origin_host.is_none() || origin_host != host {
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    let name = crate::kit::view::display_name(&agent.user);
    ws.read_buffer_size(crate::kit::http::WS_READ_BUFFER)
        .max_message_size(MAX_FRAME)
        .on_upgrade(move |socket| run(state, agent.caller, agent.token, name, socket))
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Incoming {
    Viewing { conversation_id: Option<String> },
    Typing { conversation_id: String, on: bool },
}

async fn run(state: AppState, caller: Caller, token: String, name: String, mut socket: WebSocket) {
    let mut events = state.realtime.subscribe();
    let mut beat = tokio::time::interval(HEARTBEAT);
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => {
                let _ = socket.send(WsMessage::Close(Some(axum::extract::ws::CloseFrame { code: 1001, reason: "server stopping".into() }))).await;
                return;
            }
            _ = beat.tick() => {
                // A session ended elsewhere (signed out everywhere, a new password, the
                // user removed) closes its sockets too.
                let live = state
                    .store
                    .session_is_live(&token, state.ids.now_ms(), &crate::kit::session::limits(&state))
                    .await;
                if matches!(live, Ok(false)) {
                    let _ = socket.send(WsMessage::Close(Some(axum::extract::ws::CloseFrame { code: 4001, reason: "signed out".into() }))).await;
                    return;
                }
                if let Err(e) = state.store.heartbeat(&caller.user_id, state.ids.now_ms()).await {
                    tracing::debug!(error = %e, "presence not recorded");
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(WsMessage::Text(text))) => {
                    if let Ok(msg) = serde_json::from_str::<Incoming>(&text) {
                        incoming_message(&state, &caller, &name, msg).await;
                    }
                }
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            event = events.recv_shared() => {
                let mut event = match event {
                    Ok(e) => e,
                    Err(RecvError::Lagged(_)) => Shared::new(Event::Resync),
                    Err(RecvError::Closed) => return,
                };
                // Events come in bursts (a router batch): whatever is already waiting goes
                // out in the same write.
                let mut queued = 0;
                loop {
                    // The JSON is written once for every socket that sends it.
                    if visible(&caller, &event) && !event.json().is_empty() {
                        if socket.feed(WsMessage::Text(event.json().into())).await.is_err() {
                            return;
                        }
                        queued += 1;
                    }
                    if queued >= BURST {
                        break;
                    }
                    event = match events.try_recv_shared() {
                        Ok(e) => e,
                        Err(TryRecvError::Lagged(_)) => Shared::new(Event::Resync),
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Closed) => return,
                    };
                }
                if queued > 0 && socket.flush().await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Whether an agent may see an event: by its scope (which names the one recipient of an
/// event addressed to somebody).
pub fn visible(caller: &Caller, event: &Event) -> bool {
    match event.scope() {
        Some(scope) => caller.may_see(&scope),
        None => matches!(event, Event::Resync) || caller.may_see_everything(),
    }
}

async fn incoming_message(state: &AppState, caller: &Caller, name: &str, msg: Incoming) {
    match msg {
        Incoming::Viewing {
            conversation_id: Some(id),
        } => {
            let Ok(c) = state.store.conversation_for(caller, &id).await else {
                return;
            };
            let event = Event::Viewing {
                scope: c.scope(),
                user_id: caller.user_id.clone(),
                name: name.to_owned(),
                conversation_id: c.id,
            };
            let _ = state.realtime.publish(&event).await;
        }
        Incoming::Viewing {
            conversation_id: None,
        } => {}
        Incoming::Typing {
            conversation_id,
            on,
        } => {
            let Ok(c) = state.store.conversation_for(caller, &conversation_id).await else {
                return;
            };
            if !caller.may_write(&c.scope()) {
                return;
            }
            let event = Event::Typing {
                contact_id: c.contact_id.clone(),
                scope: Some(c.scope()),
                from: "agent".into(),
                on,
            };
            let _ = state.realtime.publish(&event).await;
        }
    }
}
