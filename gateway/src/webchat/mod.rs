//! The web-chat websocket: one socket per widget. Frames are parsed by
//! `switchboard_channels::webchat`; here they meet the stream, the store and the
//! realtime bus. A refused frame gets an `error` frame and the socket stays open.
//!
//! Before the upgrade: the page's origin must be allowed, the client's address must be
//! under its socket cap, and the visitor id presented must carry the server's signature
//! (else the socket gets a new id, and with it no one else's history).
//!
//! On connect the widget is told whether people are at work (the configured business
//! hours, by the server's clock) and, if not, when they are back. Agents' messages carry
//! the agent's display name, never its address. Files travel over HTTP
//! ([`attachments`]); a message names them by the receipt the upload answered.
//!
//! **Architecture Invariant:** the widget socket takes only a visitor id the server signed
//! (HMAC-SHA256 under `webchat.visitor_secret`, else a key kept in the database's `secrets`
//! table) and gives any other id a fresh one before reading anything, so knowing the id
//! format reads no one's chat (e2e `webchat::only_visitor_ids_the_server_signed_are_taken`,
//! `webchat::a_configured_visitor_secret_is_shared_and_the_default_is_per_database`).
//!
//! **Architecture Invariant:** with `webchat.allowed_origins` set, a widget upgrade whose
//! `Origin` is missing or not listed gets 403 `origin_not_allowed` and no socket (e2e
//! `webchat::only_allowed_origins_open_a_socket`).
//!
//! **Architecture Invariant:** every widget socket holds its client address's slot until
//! its session is dropped, however it ends, and an upgrade over
//! `webchat.max_sockets_per_ip` gets 429 `too_many_sockets` (e2e
//! `webchat::sockets_per_address_are_capped`).

pub mod attachments;

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use switchboard_channels::webchat::{
    self, Away, ClientFrame, FrameError, ServerFrame, Uploaded, VisitorProfile, WidgetMessage,
};
use switchboard_core::clock::random_bytes;
use switchboard_core::domain::{
    Attachment, AuthorKind, Channel, Direction, Identity, IdentityKind, Message,
};
use switchboard_core::metrics::ChannelLabel;
use switchboard_core::realtime::{Event, Shared};
use switchboard_core::store::ConversationFilter;
use switchboard_core::stream::INBOUND;
use tokio::sync::broadcast::error::RecvError;

use crate::kit::AppState;
use crate::kit::error::ApiError;
use crate::kit::limits::SocketSlot;

#[derive(Debug, Deserialize)]
pub struct WsQuery {
    visitor: Option<String>,
}

pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            kv.trim()
                .strip_prefix(name)?
                .strip_prefix('=')
                .map(str::to_owned)
        })
}

pub async fn upgrade(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    query: Result<Query<WsQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if !state.allowed_origins.allows(origin) {
        tracing::debug!(
            origin = origin.unwrap_or("-"),
            "widget socket refused: origin"
        );
        return ApiError::OriginNotAllowed.into_response();
    }
    let cap = state.config.webchat.max_sockets_per_ip;
    let Some(slot) = state.widget_sockets.try_open(peer.ip(), cap) else {
        tracing::debug!(peer = %peer.ip(), "widget socket refused: too many open");
        return ApiError::TooManySockets.into_response();
    };
    // Only an id this server signed is taken: anyone can present an id, and the id alone
    // decides whose conversation the socket reads. Anything else gets a fresh one.
    // The cookie first, where there is one: an id in a URL is a copy in every log.
    let presented = cookie(&headers, "sb_visitor")
        .into_iter()
        .chain(query.ok().and_then(|Query(q)| q.visitor));
    let visitor = presented
        .filter(|v| state.visitors.verify(v))
        .find_map(|v| Identity::new(IdentityKind::Visitor, &v).ok())
        .or_else(|| Identity::visitor(&state.visitors.issue(random_bytes())).ok());
    // An issued id always parses as a visitor id; this only keeps the types honest.
    let Some(visitor) = visitor else {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let limit = state.config.webchat.max_message_bytes;
    // The protocol limit sits above the configured one so that a frame over the limit
    // gets a clear error while the socket stays open.
    let hard_limit = (limit * 4).max(64 * 1024);
    ws.read_buffer_size(crate::kit::http::WS_READ_BUFFER)
        .max_message_size(hard_limit)
        .max_frame_size(hard_limit)
        .on_upgrade(move |socket| Session::new(state, visitor, slot).run(socket))
}

/// A widget socket's message allowance: `n` per minute, in bursts of up to `n` (GCRA, by
/// `governor`).
fn per_minute(n: u32) -> governor::DefaultDirectRateLimiter {
    let n = std::num::NonZeroU32::new(n.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
    governor::RateLimiter::direct(governor::Quota::per_minute(n))
}

struct Session {
    state: AppState,
    /// Held, never read: dropping the session gives the address's socket slot back.
    _slot: SocketSlot,
    limiter: governor::DefaultDirectRateLimiter,
    visitor: Identity,
    contact_id: Option<String>,
    /// The scope of the visitor's latest web-chat conversation, once known: its typing
    /// events carry it, so only the agents who may see the conversation see them.
    scope: Option<switchboard_core::domain::Scope>,
    identified: bool,
    profile: VisitorProfile,
    /// Agents' display names by user id (`None`: no name, or no longer an agent).
    names: HashMap<String, Option<String>>,
}

impl Session {
    fn new(state: AppState, visitor: Identity, slot: SocketSlot) -> Self {
        let limiter = per_minute(state.config.webchat.max_messages_per_minute);
        Self {
            state,
            _slot: slot,
            limiter,
            visitor,
            contact_id: None,
            scope: None,
            identified: false,
            profile: VisitorProfile::default(),
            names: HashMap::new(),
        }
    }

    /// The message as the widget shows it, with its agent's name. Never an address: a
    /// user without a name shows none.
    async fn shown(&mut self, m: &Message) -> WidgetMessage {
        let shown = WidgetMessage::from_message(m, &self.visitor);
        let Some(agent) = m
            .author_id
            .as_ref()
            .filter(|_| m.direction == Direction::Outbound && m.author_kind == AuthorKind::Agent)
        else {
            return shown;
        };
        let name = match self.names.get(agent) {
            Some(name) => name.clone(),
            None => {
                let name = match self.state.store.user_by_id(agent).await {
                    Ok(user) => user.and_then(|u| u.name),
                    Err(e) => {
                        tracing::debug!(error = %e, "cannot read an agent's name");
                        return shown;
                    }
                };
                self.names.insert(agent.clone(), name.clone());
                name
            }
        };
        shown.with_author_name(name)
    }

    /// Whether nobody is at work now, and when they are back.
    fn away(&self) -> Option<Away> {
        let now = self.state.ids.now_ms();
        let next = switchboard_core::sla::next_opening(&self.state.workflow.sla.calendar, now);
        Away::at(now, next)
    }

    async fn run(mut self, mut socket: WebSocket) {
        let mut events = self.state.realtime.subscribe();
        match self.state.store.contact_for_identity(&self.visitor).await {
            Ok(Some(contact)) => {
                self.identified = self
                    .state
                    .store
                    .contact_identities(&contact)
                    .await
                    .map(|ids| ids.iter().any(|(i, _)| i.kind() == IdentityKind::Email))
                    .unwrap_or(false);
                self.contact_id = Some(contact);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot look up visitor"),
        }
        let welcome = ServerFrame::Welcome {
            visitor: self.visitor.value(),
            prechat: self.state.config.webchat.prechat_form,
            identified: self.identified,
            title: &self.state.config.webchat.title,
            away: self.away(),
            max_attachment_bytes: self.state.config.webchat.max_attachment_bytes,
            accent: &self.state.config.web.accent,
            help: self.state.kb.get().is_some_and(|kb| !kb.brain().is_empty()),
        };
        if send(&mut socket, &welcome).await.is_err() {
            return;
        }
        loop {
            tokio::select! {
                () = self.state.shutdown.cancelled() => {
                    let _ = socket.send(WsMessage::Close(Some(CloseFrame { code: 1001, reason: "server stopping".into() }))).await;
                    return;
                }
                incoming = socket.recv() => {
                    let bytes = match incoming {
                        None | Some(Ok(WsMessage::Close(_))) => return,
                        Some(Ok(WsMessage::Text(t))) => t.as_bytes().to_vec(),
                        Some(Ok(WsMessage::Binary(b))) => b.to_vec(),
                        Some(Ok(_)) => continue, // ping/pong are answered by the protocol layer
                        Some(Err(e)) => {
                            // The protocol layer refused the frame. A text frame that is not
                            // UTF-8 must fail the connection (RFC 6455 §8.1): say why, close
                            // with 1007, and the widget reconnects and resends. Other
                            // protocol errors leave nothing to read.
                            let text = e.to_string();
                            let utf8 = text.to_lowercase().contains("utf-8") || text.to_lowercase().contains("utf8");
                            let (code, close) = if utf8 { ("invalid_utf8", 1007) } else { ("bad_frame", 1002) };
                            let frame = ServerFrame::Error { code, message: format!("frame refused: {text}"), client_id: None };
                            let _ = send(&mut socket, &frame).await;
                            let _ = socket.send(WsMessage::Close(Some(CloseFrame { code: close, reason: code.into() }))).await;
                            return;
                        }
                    };
                    if self.handle(&mut socket, &bytes).await.is_err() {
                        return;
                    }
                }
                event = events.recv_shared() => {
                    let event = match event {
                        Ok(e) => e,
                        Err(RecvError::Lagged(_)) => Shared::new(Event::Resync),
                        Err(RecvError::Closed) => return,
                    };
                    if self.forward(&mut socket, &event).await.is_err() {
                        return;
                    }
                }
            }
        }
    }

    async fn handle(&mut self, socket: &mut WebSocket, bytes: &[u8]) -> Result<(), axum::Error> {
        let limit = self.state.config.webchat.max_message_bytes;
        let frame = match webchat::parse_frame(bytes, limit) {
            Ok(f) => f,
            Err(e) => return refuse(socket, &e, client_id_of(bytes).as_deref()).await,
        };
        match frame {
            ClientFrame::Ping => send(socket, &ServerFrame::Pong).await,
            ClientFrame::Identify { name, email } => {
                // The away form leaves an address only: a name given before stays.
                if name.is_some() {
                    self.profile.name = name;
                }
                self.profile.email =
                    email.and_then(|e| Identity::new(IdentityKind::Email, &e).ok());
                self.identified |= self.profile.email.is_some();
                // Every message of this socket carries the address as a claim; a visitor
                // who wrote before gets the claim on its contact now, in case it writes
                // nothing more. Typed, never proved: it decides nothing.
                if let (Some(email), Some(contact)) = (&self.profile.email, &self.contact_id) {
                    let now = self.state.ids.now_ms();
                    if let Err(e) = self.state.store.claim_identity(contact, email, now).await {
                        return send(socket, &internal(&e)).await;
                    }
                }
                send(socket, &ServerFrame::Identified).await
            }
            ClientFrame::Typing { on } => {
                if let Some(contact_id) = &self.contact_id {
                    let event = Event::Typing {
                        scope: self.scope.clone(),
                        contact_id: contact_id.clone(),
                        from: "contact".into(),
                        on,
                    };
                    let _ = self.state.realtime.publish(&event).await;
                }
                Ok(())
            }
            ClientFrame::History {
                conversation,
                after,
            } => self.history(socket, conversation, after).await,
            ClientFrame::Message {
                client_id,
                text,
                attachments,
            } => self.accept(socket, &client_id, &text, &attachments).await,
        }
    }

    async fn accept(
        &mut self,
        socket: &mut WebSocket,
        client_id: &str,
        text: &str,
        uploaded: &[Uploaded],
    ) -> Result<(), axum::Error> {
        if self.limiter.check().is_err() {
            let frame = ServerFrame::Error {
                code: "rate_limited",
                message: "too many messages; wait a moment and it will be sent".into(),
                client_id: Some(client_id),
            };
            return send(socket, &frame).await;
        }
        if self.state.config.webchat.prechat_form && !self.identified {
            let frame = ServerFrame::Error {
                code: "prechat_required",
                message: "please tell us your name and email first".into(),
                client_id: Some(client_id),
            };
            return send(socket, &frame).await;
        }
        let state = &self.state;
        // Only files this server stored for this visitor, as it stored them.
        let attachments: Option<Vec<Attachment>> = uploaded
            .iter()
            .map(|u| state.visitors.check_receipt(self.visitor.value(), u))
            .collect();
        let Some(attachments) = attachments else {
            let frame = ServerFrame::Error {
                code: "bad_attachment",
                message: "a file of this message was not uploaded here; send it again".into(),
                client_id: Some(client_id),
            };
            return send(socket, &frame).await;
        };
        let envelope = webchat::envelope(
            state.ids.new_id(),
            &state.config.webchat.inbox,
            &self.visitor,
            &self.profile,
            client_id,
            text,
            attachments,
            state.ids.now_ms(),
        );
        let appended = match serde_json::to_string(&envelope) {
            Ok(json) => state.stream.append(INBOUND, &json).await,
            Err(e) => Err(e.into()),
        };
        match appended {
            Ok(_) => {
                state
                    .metrics
                    .accepted
                    .get_or_create(&ChannelLabel {
                        channel: Channel::Webchat.to_string(),
                    })
                    .inc();
                send(
                    socket,
                    &ServerFrame::Ack {
                        client_id,
                        id: &envelope.id,
                    },
                )
                .await
            }
            Err(e) => {
                tracing::warn!(error = %e, "web-chat message not accepted");
                let frame = ServerFrame::Error {
                    code: "unavailable",
                    message: "message not accepted; it will be sent again".into(),
                    client_id: Some(client_id),
                };
                send(socket, &frame).await
            }
        }
    }

    async fn history(
        &mut self,
        socket: &mut WebSocket,
        conversation: Option<String>,
        after: Option<String>,
    ) -> Result<(), axum::Error> {
        if self.contact_id.is_none() {
            self.contact_id = self
                .state
                .store
                .contact_for_identity(&self.visitor)
                .await
                .ok()
                .flatten();
        }
        let Some(contact_id) = self.contact_id.clone() else {
            if conversation.is_some() {
                return send(socket, &unknown_conversation()).await;
            }
            return send(
                socket,
                &ServerFrame::History {
                    messages: Vec::new(),
                },
            )
            .await;
        };
        let filter = ConversationFilter {
            contact_id: Some(contact_id),
            inbox: Some(self.state.config.webchat.inbox.clone()),
            limit: 20,
            ..Default::default()
        };
        let mut conversations = match self.state.store.conversations(&filter).await {
            Ok(c) => c,
            Err(e) => return send(socket, &internal(&e)).await,
        };
        if let Some(wanted) = &conversation {
            conversations.retain(|c| &c.id == wanted);
            if conversations.is_empty() {
                return send(socket, &unknown_conversation()).await;
            }
        }
        if self.scope.is_none() {
            self.scope = conversations.first().map(|c| c.scope());
        }
        let mut messages = Vec::new();
        for c in &conversations {
            match self
                .state
                .store
                .messages(&c.id, after.as_deref(), 500)
                .await
            {
                Ok(ms) => {
                    for m in ms
                        .iter()
                        .filter(|m| m.author_kind != AuthorKind::System && !m.internal)
                    {
                        messages.push(self.shown(m).await);
                    }
                }
                Err(e) => return send(socket, &internal(&e)).await,
            }
        }
        messages.sort_by(|a, b| a.id.cmp(&b.id));
        send(socket, &ServerFrame::History { messages }).await
    }

    async fn forward(&mut self, socket: &mut WebSocket, event: &Event) -> Result<(), axum::Error> {
        if self.contact_id.is_none()
            && let Event::Message { message, scope } = event
            && message.direction == Direction::Inbound
            && message.channel == Channel::Webchat
            && message
                .external_id
                .as_deref()
                .is_some_and(|e| webchat::own_client_id(&self.visitor, e).is_some())
        {
            self.contact_id = Some(scope.contact_id.clone());
        }
        if matches!(event, Event::Resync) {
            return send(socket, &ServerFrame::Resync).await;
        }
        let Some(mine) = &self.contact_id else {
            return Ok(());
        };
        // Only this visitor's own web-chat conversations: not its email or WhatsApp ones,
        // and never another contact's.
        if event.contact_id() != Some(mine.as_str()) {
            return Ok(());
        }
        if let Some(inbox) = event.inbox()
            && inbox != self.state.config.webchat.inbox
        {
            return Ok(());
        }
        if let Some(scope) = event.scope() {
            self.scope = Some(scope.into_owned());
        }
        match event {
            // Internal notes of the support side (handoff summaries) are not the visitor's.
            Event::Message { message, .. }
                if message.author_kind == AuthorKind::System || message.internal =>
            {
                Ok(())
            }
            Event::Message { message, .. } => {
                let message = self.shown(message).await;
                send(socket, &ServerFrame::Message { message }).await
            }
            Event::Typing { from, on, .. } if from == "agent" => {
                send(socket, &ServerFrame::Typing { on: *on }).await
            }
            _ => Ok(()),
        }
    }
}

fn unknown_conversation() -> ServerFrame<'static> {
    ServerFrame::Error {
        code: "unknown_conversation",
        message: "no such conversation".into(),
        client_id: None,
    }
}

fn internal(e: &switchboard_core::Error) -> ServerFrame<'static> {
    tracing::error!(error = %e, "web-chat store error");
    ServerFrame::Error {
        code: "internal",
        message: "something went wrong; try again".into(),
        client_id: None,
    }
}

/// The client id of a refused frame, when one can be read, so the widget knows which
/// message was refused.
fn client_id_of(bytes: &[u8]) -> Option<String> {
    let prefix = &bytes[..bytes.len().min(512)];
    let text = String::from_utf8_lossy(prefix);
    let start = text.find("\"client_id\"")? + "\"client_id\"".len();
    let rest = text[start..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let id: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect();
    (!id.is_empty()).then_some(id)
}

async fn refuse(
    socket: &mut WebSocket,
    e: &FrameError,
    client_id: Option<&str>,
) -> Result<(), axum::Error> {
    send(
        socket,
        &ServerFrame::Error {
            code: e.code(),
            message: e.to_string(),
            client_id,
        },
    )
    .await
}

async fn send(socket: &mut WebSocket, frame: &ServerFrame<'_>) -> Result<(), axum::Error> {
    socket.send(WsMessage::Text(frame.to_json().into())).await
}

/// The widget's routes: its script, its demo page, its socket and its uploads.
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/chat", get(chat_page))
        .route("/widget.js", get(widget_js))
        .route("/webchat/ws", get(upgrade))
        .route(
            "/webchat/attachments",
            post(attachments::upload)
                .options(attachments::preflight)
                // The upload sets its own limit, checked as the body streams in.
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/webchat/attachments/{key}", get(attachments::download))
}

async fn widget_js() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        switchboard_channels::webchat::WIDGET_JS,
    )
        .into_response()
}

async fn chat_page(State(state): State<AppState>) -> Html<String> {
    let title = crate::kit::http::html_escape(&state.config.webchat.title);
    // The default title is said in the visitor's language by the widget itself.
    let title_attr = if state.config.webchat.title == crate::config::WebchatConfig::default().title
    {
        String::new()
    } else {
        format!(" data-title=\"{title}\"")
    };
    Html(format!(
        "<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content='width=device-width,initial-scale=1'>\
         <title>{title}</title><body style='font:16px system-ui;max-width:40em;margin:2em auto;padding:0 1em'>\
         <h1>{title}</h1><p>This page embeds the chat widget with one tag:</p>\
         <pre>&lt;script src=\"{base}/widget.js\" async&gt;&lt;/script&gt;</pre>\
         <script src=\"/widget.js\"{title_attr} data-accent=\"{accent}\" async></script>",
        base = crate::kit::http::html_escape(state.config.public_url.trim_end_matches('/')),
        accent = crate::kit::http::html_escape(&state.config.web.accent),
    ))
}
