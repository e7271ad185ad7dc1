//! A fake of Meta's Graph API, on loopback, following the documented request and answer
//! shapes of the Cloud API: `POST /{phone-number-id}/messages` answers
//! `{"messaging_product":"whatsapp","contacts":[…],"messages":[{"id":"wamid…"}]}` (or an
//! error queued by the test, `{"error":{"message","type","code","error_data":{"details"}}}`),
//! `POST /{phone-number-id}/media` answers `{"id"}`, `GET /{media-id}` answers
//! `{"url","mime_type","sha256","file_size","id","messaging_product"}` with a URL back into
//! this fake, and `GET /{waba-id}/message_templates` lists templates. Every request is
//! recorded for the test to read.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Request {
    pub method: &'static str,
    pub path: String,
    pub auth: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Request {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(Debug, Clone)]
pub struct FakeMedia {
    pub bytes: Vec<u8>,
    pub mime: String,
    /// The first this-many asks for the file fail with a 500.
    pub failures: u32,
    /// The size the info answer claims (the real size when `None`).
    pub claimed_size: Option<u64>,
}

#[derive(Debug, Default)]
pub struct Fake {
    pub requests: Vec<Request>,
    /// Answers for the next message sends, in order; a 200 with a fresh wamid when empty.
    pub answers: VecDeque<(u16, Value)>,
    pub media: HashMap<String, FakeMedia>,
    pub templates: Vec<Value>,
    sent: u64,
}

#[derive(Clone)]
pub struct FakeGraph {
    pub port: u16,
    pub state: Arc<Mutex<Fake>>,
}

impl FakeGraph {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(Fake::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = axum::Router::new()
            .route("/{id}/messages", axum::routing::post(messages))
            .route("/{id}/media", axum::routing::post(upload))
            .route("/{id}/message_templates", axum::routing::get(templates))
            .route("/dl/{id}", axum::routing::get(download))
            .route("/{id}", axum::routing::get(media_info))
            .with_state(state.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { port, state }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The JSON bodies of the message sends so far (read marks included).
    pub fn sends(&self) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/messages"))
            .map(Request::json)
            .collect()
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn answer_next(&self, status: u16, body: Value) {
        self.state.lock().unwrap().answers.push_back((status, body));
    }

    pub fn add_media(&self, id: &str, media: FakeMedia) {
        self.state
            .lock()
            .unwrap()
            .media
            .insert(id.to_owned(), media);
    }
}

/// Meta's error answer.
pub fn error(code: i64, message: &str, details: &str) -> Value {
    json!({ "error": { "message": message, "type": "OAuthException", "code": code,
                       "error_data": { "messaging_product": "whatsapp", "details": details },
                       "fbtrace_id": "AbCdEf" } })
}

type Shared = State<Arc<Mutex<Fake>>>;

fn record(
    state: &Mutex<Fake>,
    method: &'static str,
    path: String,
    headers: &HeaderMap,
    body: &[u8],
) {
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    state.lock().unwrap().requests.push(Request {
        method,
        path,
        auth: h("authorization"),
        content_type: h("content-type"),
        body: body.to_vec(),
    });
}

async fn messages(
    State(state): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&state, "POST", format!("/{id}/messages"), &headers, &body);
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if v.get("status").and_then(Value::as_str) == Some("read") {
        return axum::Json(json!({ "success": true })).into_response();
    }
    let mut s = state.lock().unwrap();
    if let Some((status, answer)) = s.answers.pop_front() {
        let code = StatusCode::from_u16(status).unwrap();
        return (code, axum::Json(answer)).into_response();
    }
    s.sent += 1;
    let to = v.get("to").cloned().unwrap_or(Value::Null);
    axum::Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{ "input": to, "wa_id": to }],
        "messages": [{ "id": format!("wamid.fake.{}", s.sent) }]
    }))
    .into_response()
}

async fn upload(
    State(state): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&state, "POST", format!("/{id}/media"), &headers, &body);
    let n = state.lock().unwrap().requests.len();
    axum::Json(json!({ "id": format!("media.up.{n}") })).into_response()
}

async fn media_info(State(state): Shared, Path(id): Path<String>, headers: HeaderMap) -> Response {
    record(&state, "GET", format!("/{id}"), &headers, b"");
    let port = {
        // The download URL points back here, on the port the request came to.
        headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let mut s = state.lock().unwrap();
    let Some(m) = s.media.get_mut(&id) else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(error(100, "Unsupported get request", "no such media")),
        )
            .into_response();
    };
    if m.failures > 0 {
        m.failures -= 1;
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(error(1, "An unknown error occurred", "try again")),
        )
            .into_response();
    }
    axum::Json(json!({
        "messaging_product": "whatsapp",
        "url": format!("http://{port}/dl/{id}"),
        "mime_type": m.mime,
        "sha256": "abc",
        "file_size": m.claimed_size.unwrap_or(m.bytes.len() as u64),
        "id": id
    }))
    .into_response()
}

async fn download(State(state): Shared, Path(id): Path<String>, headers: HeaderMap) -> Response {
    record(&state, "GET", format!("/dl/{id}"), &headers, b"");
    let s = state.lock().unwrap();
    match s.media.get(&id) {
        Some(m) if headers.get("authorization").is_some() => {
            ([("content-type", m.mime.clone())], m.bytes.clone()).into_response()
        }
        Some(_) => StatusCode::UNAUTHORIZED.into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn templates(State(state): Shared, Path(id): Path<String>, headers: HeaderMap) -> Response {
    record(
        &state,
        "GET",
        format!("/{id}/message_templates"),
        &headers,
        b"",
    );
    let s = state.lock().unwrap();
    axum::Json(
        json!({ "data": s.templates, "paging": { "cursors": { "before": "a", "after": "b" } } }),
    )
    .into_response()
}
