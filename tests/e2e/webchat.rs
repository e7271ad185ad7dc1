//! A visitor and an agent talk through the web-chat socket and the agent API.

use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};

use crate::support::{Backend, Server, Widget, eventually};
use futures::SinkExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_embedded() {
    round_trip(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_postgres_redis() {
    round_trip(Backend::PostgresRedis).await;
}

async fn round_trip(backend: Backend) {
    let server = Server::start(backend).await;
    let agent = server.add_user("ana@example.com", "support");
    let mut events = server.agent_events(&agent).await;

    let mut widget = server.widget(None).await;
    let visitor = widget.visitor.clone();
    widget.say("c1", "My printer shows E-302").await;
    let ack = widget.expect("ack").await;
    assert_eq!(ack["client_id"], "c1");
    // The widget sees its own message once it is stored.
    let echoed = widget.expect("message").await;
    assert_eq!(echoed["message"]["author"], "you");
    assert_eq!(echoed["message"]["client_id"], "c1");

    // The agent is told in real time.
    let opened = crate::support::next_json(&mut events).await;
    assert_eq!(opened["type"], "conversation_opened", "{opened}");
    let conversation = opened["conversation"]["id"].as_str().unwrap().to_owned();
    assert_eq!(opened["conversation"]["number"], 1001);

    let list = server.conversations(&agent).await;
    assert_eq!(list.len(), 1);
    let thread = server.thread(&agent, &conversation).await;
    assert_eq!(thread.len(), 1);
    assert_eq!(thread[0]["text"], "My printer shows E-302");
    assert_eq!(thread[0]["direction"], "inbound");

    // The visitor's typing reaches the agent.
    widget
        .send_json(json!({"type": "typing", "on": true}))
        .await;
    loop {
        let e = crate::support::next_json(&mut events).await;
        if e["type"] == "typing" {
            assert_eq!(e["from"], "contact");
            assert_eq!(e["on"], true);
            break;
        }
    }

    // Typing reaches the widget.
    let r = server
        .http
        .post(server.url(&format!("/api/v1/conversations/{conversation}/typing")))
        .bearer_auth(&agent)
        .json(&json!({"on": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(widget.expect("typing").await["on"], true);

    let (status, body) = server
        .post(
            &agent,
            &format!("/api/v1/conversations/{conversation}/messages"),
            &json!({"text": "Looking into it"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let reply_id = body["message"]["id"].as_str().unwrap().to_owned();
    let got = widget.expect("message").await;
    assert_eq!(got["message"]["author"], "agent");
    assert_eq!(got["message"]["text"], "Looking into it");
    assert!(
        got["message"].get("author_id").is_none(),
        "no internal ids leak to the widget"
    );

    // The dispatcher delivers it.
    eventually(10, || async {
        let thread = server.thread(&agent, &conversation).await;
        thread
            .iter()
            .any(|m| m["id"] == reply_id.as_str() && m["delivery_state"] == "sent")
    })
    .await;

    // History is restored for the same visitor on a new socket (a reload).
    drop(widget);
    let mut again = server.widget(Some(&visitor)).await;
    again.send_json(json!({"type": "history"})).await;
    let history = again.expect("history").await;
    let texts: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["My printer shows E-302", "Looking into it"]);

    // A resend of an acknowledged message (a reconnect that lost the ack) stores nothing new.
    again.say("c1", "My printer shows E-302").await;
    again.expect("ack").await;
    again.say("c2", "thanks").await;
    again.expect("ack").await;
    eventually(10, || async {
        server.thread(&agent, &conversation).await.len() == 3
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(server.thread(&agent, &conversation).await.len(), 3);

    // Another visitor sees none of it.
    let mut stranger = server.widget(None).await;
    stranger.send_json(json!({"type": "history"})).await;
    assert_eq!(
        stranger.expect("history").await["messages"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    stranger
        .send_json(json!({"type": "history", "conversation": conversation}))
        .await;
    assert_eq!(
        stranger.expect("error").await["code"],
        "unknown_conversation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_get_errors_and_the_socket_stays_usable() {
    let server = Server::start_with(
        Backend::Embedded,
        &[("SWITCHBOARD_WEBCHAT__MAX_MESSAGE_BYTES", "1024")],
    )
    .await;
    let agent = server.add_user("ana@example.com", "support");
    let mut w = server.widget(None).await;

    let cases: Vec<(Message, &str)> = vec![
        (Message::Text("{not json".into()), "bad_frame"),
        (
            Message::Text(json!({"type": "launch_missiles"}).to_string().into()),
            "bad_frame",
        ),
        (
            Message::Text(
                json!({"type": "message", "client_id": "x"})
                    .to_string()
                    .into(),
            ),
            "bad_frame",
        ),
        (
            Message::Text(
                json!({"type": "message", "client_id": "x", "text": "  "})
                    .to_string()
                    .into(),
            ),
            "empty_text",
        ),
        (
            Message::Text(
                json!({"type": "message", "client_id": "../../x", "text": "hi"})
                    .to_string()
                    .into(),
            ),
            "bad_client_id",
        ),
        (
            Message::Binary(vec![0xff, 0xfe, 0x7b, 0x7d].into()),
            "invalid_utf8",
        ),
        (
            Message::Text(
                json!({"type": "message", "client_id": "big", "text": "x".repeat(5000)})
                    .to_string()
                    .into(),
            ),
            "too_large",
        ),
    ];
    for (frame, code) in cases {
        w.ws.send(frame).await.unwrap();
        let e = w.expect("error").await;
        assert_eq!(e["code"], code, "{e}");
        assert!(!e["message"].as_str().unwrap().is_empty());
    }
    // The too-large message's client id is named so the widget stops resending it.
    w.ws.send(Message::Text(
        json!({"type": "message", "client_id": "big2", "text": "y".repeat(2000)})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    assert_eq!(w.expect("error").await["client_id"], "big2");

    // Unknown conversation ids are refused without saying whether they exist.
    w.send_json(json!({"type": "history", "conversation": "00000000-0000-7000-8000-000000000000"}))
        .await;
    assert_eq!(w.expect("error").await["code"], "unknown_conversation");

    // Still usable, and only the good message was stored.
    w.send_json(json!({"type": "ping"})).await;
    w.expect("pong").await;
    w.say("ok-1", "finally a real question").await;
    w.expect("ack").await;
    eventually(10, || async {
        server.conversations(&agent).await.len() == 1
    })
    .await;
    let conv = server.conversations(&agent).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let thread = server.thread(&agent, &conv).await;
    assert_eq!(thread.len(), 1);
    assert_eq!(thread[0]["text"], "finally a real question");

    // A text frame that is not UTF-8 at all: the protocol requires failing the connection
    // (RFC 6455 §8.1). The widget is told why, the socket closes with 1007, and the same
    // visitor reconnects and carries on.
    let visitor = w.visitor.clone();
    let header = FrameHeader {
        opcode: OpCode::Data(Data::Text),
        is_final: true,
        ..Default::default()
    };
    let raw = Frame::from_payload(header, vec![b'{', 0xc3, 0x28, b'}'].into());
    w.ws.send(Message::Frame(raw)).await.unwrap();
    let e = w.expect("error").await;
    assert_eq!(e["code"], "invalid_utf8", "{e}");
    let code = crate::support::close_code(&mut w.ws).await;
    assert_eq!(code, 1007);
    let mut again = server.widget(Some(&visitor)).await;
    again.say("ok-2", "still here").await;
    again.expect("ack").await;
    eventually(10, || async {
        server.thread(&agent, &conv).await.len() == 2
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prechat_form_when_configured() {
    let server = Server::start_with(
        Backend::Embedded,
        &[("SWITCHBOARD_WEBCHAT__PRECHAT_FORM", "true")],
    )
    .await;
    let agent = server.add_user("ana@example.com", "support");
    let mut w = server.widget(None).await;
    let visitor = w.visitor.clone();
    w.say("c1", "hello?").await;
    let e = w.expect("error").await;
    assert_eq!(e["code"], "prechat_required");
    assert_eq!(e["client_id"], "c1");
    w.send_json(json!({"type": "identify", "name": "Maria", "email": "nope"}))
        .await;
    assert_eq!(w.expect("error").await["code"], "bad_identity");
    w.send_json(json!({"type": "identify", "name": "Maria", "email": "Maria@Acme.example"}))
        .await;
    w.say("c1", "hello?").await;
    w.expect("ack").await;
    eventually(10, || async {
        server.conversations(&agent).await.len() == 1
    })
    .await;
    // Next visit the visitor is known and not asked again.
    drop(w);
    let mut ws = crate::support::Widget::connect(server.port, Some(&visitor)).await;
    ws.say("c2", "me again").await;
    ws.expect("ack").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_widget_is_slowed_down() {
    let server = Server::start_with(
        Backend::Embedded,
        &[("SWITCHBOARD_WEBCHAT__MAX_MESSAGES_PER_MINUTE", "5")],
    )
    .await;
    let agent = server.add_user("ana@example.com", "support");
    let mut w = server.widget(None).await;
    let mut acked = 0;
    let mut limited = 0;
    for i in 0..8 {
        w.say(&format!("f{i}"), "spam").await;
        loop {
            let f = w.next().await;
            match f["type"].as_str() {
                Some("ack") => acked += 1,
                Some("error") => {
                    assert_eq!(f["code"], "rate_limited", "{f}");
                    assert_eq!(f["client_id"], format!("f{i}"));
                    limited += 1;
                }
                _ => continue,
            }
            break;
        }
    }
    assert_eq!((acked, limited), (5, 3));
    eventually(10, || async {
        server.conversations(&agent).await.len() == 1
    })
    .await;
    let conv = server.conversations(&agent).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(server.thread(&agent, &conv).await.len(), 5);
}

/// The shape of a server-issued visitor id: `<24 lowercase hex>_<32 lowercase hex>`.
fn is_issued_id(id: &str) -> bool {
    let lower_hex = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    id.split_once('_')
        .is_some_and(|(r, t)| r.len() == 24 && t.len() == 32 && lower_hex(r) && lower_hex(t))
}

/// The texts of the history a widget is sent.
pub(crate) async fn history_texts(w: &mut Widget) -> Vec<String> {
    w.send_json(json!({"type": "history"})).await;
    w.expect("history").await["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

fn visitor_cookie(visitor: &str) -> String {
    format!("theme=dark; sb_visitor={visitor}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_visitor_ids_the_server_signed_are_taken() {
    let mut server = Server::start(Backend::Embedded).await;
    let mut real = server.widget(None).await;
    let visitor = real.visitor.clone();
    assert!(is_issued_id(&visitor), "{visitor}");
    real.say("c1", "my account number is 4711").await;
    real.expect("ack").await;
    real.expect("message").await; // stored and routed
    drop(real);

    let (random, tag) = visitor.split_once('_').unwrap();
    let mut wrong_tag = tag.to_owned();
    let last = if tag.ends_with('0') { "1" } else { "0" };
    wrong_tag.replace_range(31.., last);
    let forgeries = [
        // The real visitor's random part with a tag one character off.
        format!("{random}_{wrong_tag}"),
        // The real tag on another random part.
        format!("{}_{tag}", "0".repeat(24)),
        format!("{random}_{}", "0".repeat(32)),
        // An unsigned id of the kind the server once accepted.
        "0123456789abcdef0123456789abcdef".to_owned(),
    ];
    let mut issued = Vec::new();
    for forged in &forgeries {
        let cookie = visitor_cookie(forged);
        let by_query = server.widget(Some(forged)).await;
        let by_cookie = server
            .try_widget(None, &[("cookie", &cookie)])
            .await
            .unwrap_or_else(|e| panic!("refused: {e:?}"));
        for mut w in [by_query, by_cookie] {
            assert_ne!(&w.visitor, forged, "a forged id is never taken");
            assert_ne!(w.visitor, visitor);
            assert!(is_issued_id(&w.visitor), "{}", w.visitor);
            assert!(history_texts(&mut w).await.is_empty(), "{forged}");
            issued.push(w.visitor.clone());
        }
    }
    let mut distinct = issued.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), issued.len(), "every replacement id is new");

    // The real id, in the query or the cookie, gets its history back: also after a restart,
    // since the key is kept in the database. A forged query does not hide a good cookie.
    server.terminate();
    server.spawn().await;
    let cookie = visitor_cookie(&visitor);
    let forged = &forgeries[0];
    let again = [
        server.widget(Some(&visitor)).await,
        server
            .try_widget(None, &[("cookie", &cookie)])
            .await
            .unwrap_or_else(|e| panic!("refused: {e:?}")),
        server
            .try_widget(Some(forged), &[("cookie", &cookie)])
            .await
            .unwrap_or_else(|e| panic!("refused: {e:?}")),
    ];
    for mut w in again {
        assert_eq!(w.visitor, visitor);
        assert_eq!(history_texts(&mut w).await, ["my account number is 4711"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_visitor_secret_is_shared_and_the_default_is_per_database() {
    // Two nodes with separate databases: ids from one verify on the other only when both
    // are given the same secret.
    let secret = (
        "SWITCHBOARD_WEBCHAT__VISITOR_SECRET",
        "0123456789abcdef0123456789abcdef",
    );
    let a = Server::start_with(Backend::Embedded, &[secret]).await;
    let b = Server::start_with(Backend::Embedded, &[secret]).await;
    let visitor = a.widget(None).await.visitor;
    assert_eq!(b.widget(Some(&visitor)).await.visitor, visitor);

    let c = Server::start(Backend::Embedded).await;
    let d = Server::start(Backend::Embedded).await;
    let visitor = c.widget(None).await.visitor;
    assert_eq!(c.widget(Some(&visitor)).await.visitor, visitor);
    let elsewhere = d.widget(Some(&visitor)).await.visitor;
    assert_ne!(elsewhere, visitor);
    assert!(is_issued_id(&elsewhere));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_allowed_origins_open_a_socket() {
    let server = Server::start_with(
        Backend::Embedded,
        &[(
            "SWITCHBOARD_WEBCHAT__ALLOWED_ORIGINS",
            "https://shop.example.com, http://localhost:3000",
        )],
    )
    .await;
    let refused: [&[(&str, &str)]; 6] = [
        &[],
        &[("origin", "https://evil.example.com")],
        &[("origin", "http://shop.example.com")],
        &[("origin", "https://shop.example.com.evil.example")],
        &[("origin", "http://localhost:3001")],
        &[("origin", "null")],
    ];
    for headers in refused {
        let Err((status, body)) = server.try_widget(None, headers).await else {
            panic!("{headers:?} was let in");
        };
        assert_eq!(status, 403, "{headers:?}: {body}");
        assert_eq!(body["error"]["code"], "origin_not_allowed", "{body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    for origin in [
        "https://shop.example.com",
        "HTTPS://Shop.Example.COM:443",
        "http://localhost:3000",
    ] {
        let mut w = server
            .try_widget(None, &[("origin", origin)])
            .await
            .unwrap_or_else(|e| panic!("{origin} refused: {e:?}"));
        w.say("c1", "hello").await;
        w.expect("ack").await;
    }
}

/// Opens a widget socket as soon as the server has a slot free again (a closed socket's
/// slot comes back once its session has ended).
async fn widget_once_free(server: &Server) -> Widget {
    for _ in 0..200 {
        match server.try_widget(None, &[]).await {
            Ok(w) => return w,
            Err((429, _)) => tokio::time::sleep(std::time::Duration::from_millis(25)).await,
            Err(e) => panic!("refused: {e:?}"),
        }
    }
    panic!("no socket slot came free within 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_per_address_are_capped() {
    let server = Server::start_with(
        Backend::Embedded,
        &[("SWITCHBOARD_WEBCHAT__MAX_SOCKETS_PER_IP", "3")],
    )
    .await;
    // With no allow list any origin may connect (the demo's default).
    let mut open = Vec::new();
    for origin in ["https://one.example", "https://two.example", "null"] {
        open.push(
            server
                .try_widget(None, &[("origin", origin)])
                .await
                .unwrap_or_else(|e| panic!("refused: {e:?}")),
        );
    }
    let refused = || async {
        let Err((status, body)) = server.try_widget(None, &[]).await else {
            panic!("a socket over the cap was let in");
        };
        assert_eq!(status, 429, "{body}");
        assert_eq!(body["error"]["code"], "too_many_sockets", "{body}");
    };
    refused().await;
    refused().await;

    // A socket closed politely frees its slot, and refused attempts took none: exactly one
    // more fits.
    let mut closed = open.pop().unwrap();
    closed.ws.close(None).await.unwrap();
    let mut fresh = widget_once_free(&server).await;
    refused().await;
    fresh.say("c1", "still works").await;
    fresh.expect("ack").await;
    open.push(fresh);

    // So does one whose connection just drops.
    drop(open.pop());
    open.push(widget_once_free(&server).await);
    refused().await;
}

/// A visitor types someone else's address into the pre-chat form; a real email from that
/// address then arrives (appended to the inbound stream as the email channel does): it
/// opens a contact and a conversation of its own, and nothing of it reaches the visitor's
/// socket or history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_address_never_draws_its_owners_mail_into_the_widget() {
    use std::sync::Arc;
    use std::time::Duration;

    use futures::StreamExt;
    use switchboard_core::clock::{Ids, SystemClock};
    use switchboard_core::domain::{Channel, Envelope, Identity};
    use switchboard_core::store::Store;
    use switchboard_core::stream::embedded::EmbeddedStream;
    use switchboard_core::stream::{INBOUND, Stream};

    let server = Server::start(Backend::Embedded).await;
    let admin = server.add_user("boss@example.com", "admin");
    let mut events = server.agent_events(&admin).await;
    let mut w = server.widget(None).await;
    w.send_json(json!({"type": "identify", "name": "Not Ana", "email": "ana@x.example"}))
        .await;
    w.say("c1", "hi, I am Ana").await;
    w.expect("ack").await;
    w.expect("message").await;

    let db = server.dir.path().join("switchboard.db");
    let store = Store::connect(&format!("sqlite://{}?mode=rwc", db.display()))
        .await
        .unwrap();
    let ids = Ids::new(Arc::new(SystemClock));
    let stream = EmbeddedStream::new(store.clone(), ids.clock().clone());
    let mut mail = Envelope::new(
        ids.new_id(),
        Channel::Email,
        "email:support",
        "<real@x.example>",
        Identity::email("ana@x.example").unwrap(),
        "my private invoice details",
        ids.now_ms(),
    );
    mail.thread = Some("<real@x.example>".into());
    stream
        .append(INBOUND, &serde_json::to_string(&mail).unwrap())
        .await
        .unwrap();

    // The support side sees it arrive, in a conversation of its own.
    let mail_conversation = loop {
        let e = crate::support::next_json(&mut events).await;
        if e["type"] == "message" && e["message"]["text"] == "my private invoice details" {
            break e["scope"]["conversation_id"].clone();
        }
    };
    let list = server.conversations(&admin).await;
    assert_eq!(list.len(), 2, "{list:?}");
    let mail_conv = list.iter().find(|c| c["id"] == mail_conversation).unwrap();
    assert_eq!(mail_conv["channel"], "email");
    let chat = list.iter().find(|c| c["id"] != mail_conversation).unwrap();
    assert_ne!(
        chat["contact_id"], mail_conv["contact_id"],
        "a contact of its own"
    );

    // The visitor's socket hears nothing of it, and its history does not show it.
    let heard = tokio::time::timeout(Duration::from_millis(1500), w.ws.next()).await;
    if let Ok(Some(Ok(Message::Text(t)))) = &heard {
        assert!(!t.contains("private invoice"), "{t}");
    }
    w.send_json(json!({"type": "history"})).await;
    let history = w.expect("history").await;
    assert!(
        !history.to_string().contains("private invoice"),
        "{history}"
    );
    assert!(history.to_string().contains("hi, I am Ana"));
    store.close().await;
}

// ---- files, agents' names, business hours ----

/// A file's first bytes make its type; the rest is filler.
pub(crate) fn png(len: usize) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    b.resize(len, 7);
    b
}

fn pdf(len: usize) -> Vec<u8> {
    let mut b = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    b.resize(len, b' ');
    b
}

pub(crate) struct Upload {
    pub(crate) status: u16,
    pub(crate) body: serde_json::Value,
    headers: reqwest::header::HeaderMap,
}

pub(crate) async fn upload(
    server: &Server,
    visitor: Option<&str>,
    name: &str,
    declared: &str,
    bytes: Vec<u8>,
    headers: &[(&str, &str)],
) -> Upload {
    let mut query = vec![("name", name)];
    if let Some(v) = visitor {
        query.push(("visitor", v));
    }
    let mut req = server
        .http
        .post(server.url("/webchat/attachments"))
        .query(&query)
        .header("content-type", declared)
        .body(bytes);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.json().await.unwrap_or(serde_json::Value::Null);
    Upload {
        status,
        body,
        headers,
    }
}

/// An upload sent in chunks with no length declared, so only the server's count of what
/// arrives can stop it; returns the status.
async fn chunked_upload(server: &Server, visitor: &str, total: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let head = format!(
        "POST /webchat/attachments?visitor={visitor}&name=big.png HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Content-Type: image/png\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let body = png(total);
    for chunk in body.chunks(1000) {
        let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
        frame.extend_from_slice(chunk);
        frame.extend_from_slice(b"\r\n");
        // The server may answer and close before the end: that is the point.
        if s.write_all(&frame).await.is_err() {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        s.read_to_end(&mut answer),
    )
    .await;
    let text = String::from_utf8_lossy(&answer);
    text.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0)
}

/// Every file the blob store holds (temporary ones included).
fn stored_files(server: &Server) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&server.dir.path().join("blobs"), &mut out);
    out
}

async fn download(
    server: &Server,
    key: &str,
    visitor: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = server
        .http
        .get(server.url(&format!("/webchat/attachments/{key}")));
    if let Some(v) = visitor {
        req = req.query(&[("visitor", v)]);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.bytes().await.unwrap().to_vec())
}

pub(crate) async fn send_files(
    w: &mut Widget,
    client_id: &str,
    text: &str,
    files: &[&serde_json::Value],
) {
    w.send_json(
        json!({"type": "message", "client_id": client_id, "text": text, "attachments": files}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_taken_by_content_and_size_and_given_back_only_to_their_owner_embedded() {
    files_round_trip(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_taken_by_content_and_size_and_given_back_only_to_their_owner_postgres_redis() {
    files_round_trip(Backend::PostgresRedis).await;
}

async fn files_round_trip(backend: Backend) {
    let server = Server::start_with(
        backend,
        &[("SWITCHBOARD_WEBCHAT__MAX_ATTACHMENT_BYTES", "4096")],
    )
    .await;
    let mut ana = server.widget(None).await;
    let mut bob = server.widget(None).await;
    bob.say("b1", "I am someone else").await;
    bob.expect("ack").await;

    // Accepted by content: the declared type and the name do not matter.
    let photo = upload(
        &server,
        Some(&ana.visitor),
        "printer.png",
        "text/plain",
        png(3000),
        &[],
    )
    .await;
    assert_eq!(photo.status, 201, "{}", photo.body);
    let photo = photo.body["attachment"].clone();
    assert_eq!(photo["mime"], "image/png");
    assert_eq!(photo["name"], "printer.png");
    assert_eq!(photo["size"], 3000);
    let renamed = upload(
        &server,
        Some(&ana.visitor),
        "notes.pdf",
        "application/pdf",
        png(100),
        &[],
    )
    .await;
    assert_eq!(renamed.status, 201, "{}", renamed.body);
    assert_eq!(renamed.body["attachment"]["mime"], "image/png");
    assert_eq!(renamed.body["attachment"]["name"], "notes.pdf.png");
    let manual = upload(
        &server,
        Some(&ana.visitor),
        "manual.pdf",
        "application/pdf",
        pdf(4096),
        &[],
    )
    .await;
    assert_eq!(manual.status, 201, "exactly the limit: {}", manual.body);
    let manual = manual.body["attachment"].clone();
    assert_eq!(manual["mime"], "application/pdf");

    // Refused by content, whatever it claims to be.
    let html = b"<!doctype html><script>alert(document.cookie)</script>".to_vec();
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec();
    for (name, declared, bytes) in [
        ("x.png", "image/png", html),
        ("logo.svg", "image/svg+xml", svg),
        ("a.gif", "image/gif", b"GIF88a not really".to_vec()),
        ("zip.pdf", "application/pdf", b"PK\x03\x04 a zip".to_vec()),
    ] {
        let r = upload(&server, Some(&ana.visitor), name, declared, bytes, &[]).await;
        assert_eq!(r.status, 415, "{name}: {}", r.body);
        assert_eq!(r.body["error"]["code"], "unsupported_type");
    }
    let empty = upload(
        &server,
        Some(&ana.visitor),
        "e.png",
        "image/png",
        Vec::new(),
        &[],
    )
    .await;
    assert_eq!(empty.status, 422, "{}", empty.body);
    // Refused by size: a declared length over the limit, and a body that only turns out
    // too large as it streams in.
    let big = upload(
        &server,
        Some(&ana.visitor),
        "big.png",
        "image/png",
        png(4097),
        &[],
    )
    .await;
    assert_eq!(big.status, 413, "{}", big.body);
    assert_eq!(big.body["error"]["code"], "too_large");
    assert!(
        big.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("4 KiB")
    );
    assert_eq!(chunked_upload(&server, &ana.visitor, 9000).await, 413);
    assert_eq!(chunked_upload(&server, &ana.visitor, 2500).await, 201);
    // Only a visitor id the server signed may upload.
    for v in [None, Some("0123456789abcdef0123456789abcdef")] {
        let r = upload(&server, v, "p.png", "image/png", png(50), &[]).await;
        assert_eq!(r.status, 403, "{v:?}: {}", r.body);
    }
    // Nothing refused was kept: four files stored (the chunked one included).
    eventually(5, || async { stored_files(&server).len() == 4 }).await;

    // Not yet in a message: nobody gets it back, not even its uploader.
    let key = photo["blob"].as_str().unwrap().to_owned();
    assert_eq!(download(&server, &key, Some(&ana.visitor)).await.0, 404);

    // A message carries it; the widget is shown it.
    send_files(&mut ana, "f1", "this is the error", &[&photo]).await;
    ana.expect("ack").await;
    let shown = ana.expect("message").await;
    let files = &shown["message"]["attachments"];
    assert_eq!(files[0]["blob"], key.as_str(), "{shown}");
    assert_eq!(files[0]["mime"], "image/png");
    assert_eq!(files[0]["name"], "printer.png");
    send_files(&mut ana, "f2", "", &[&manual]).await;
    ana.expect("ack").await;
    ana.expect("message").await;

    // The owner gets it back, inert: its stored type, nosniff, images inline, PDF saved.
    let (status, headers, bytes) = download(&server, &key, Some(&ana.visitor)).await;
    assert_eq!(status, 200);
    assert_eq!(bytes, png(3000));
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline;")
    );
    let manual_key = manual["blob"].as_str().unwrap();
    let (status, headers, bytes) = download(&server, manual_key, Some(&ana.visitor)).await;
    assert_eq!((status, bytes.len()), (200, 4096));
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment;") && disposition.contains("manual.pdf"),
        "{disposition}"
    );

    // Anyone else: not found, as for a key never stored.
    for (who, v) in [
        ("another visitor", Some(bob.visitor.as_str())),
        ("no visitor", None),
        (
            "a forged visitor",
            Some("0123456789abcdef01234567_0123456789abcdef0123456789abcdef"),
        ),
    ] {
        assert_eq!(download(&server, &key, v).await.0, 404, "{who}");
    }
    let unknown = "0".repeat(64);
    assert_eq!(download(&server, &unknown, Some(&ana.visitor)).await.0, 404);
    assert_eq!(
        download(&server, "..%2F..%2Fetc%2Fpasswd", Some(&ana.visitor))
            .await
            .0,
        404
    );

    // Another visitor cannot send Ana's receipt as its own, nor a receipt with its type
    // changed: refused, nothing stored.
    send_files(&mut bob, "stolen", "mine now", &[&photo]).await;
    let e = bob.expect("error").await;
    assert_eq!(
        (e["code"].as_str(), e["client_id"].as_str()),
        (Some("bad_attachment"), Some("stolen"))
    );
    let mut forged = renamed.body["attachment"].clone();
    forged["mime"] = json!("application/pdf");
    send_files(&mut ana, "forged", "", &[&forged]).await;
    assert_eq!(ana.expect("error").await["code"], "bad_attachment");
    assert_eq!(download(&server, &key, Some(&bob.visitor)).await.0, 404);

    // Agents get it from the inbox: one who may see the conversation, and nobody else.
    crate::inbox::add_agent(&server, "boss@example.com", "admin", &[]);
    let out = server.cli(&["company", "add", "--name", "Acme"]);
    let acme: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    crate::inbox::add_agent(
        &server,
        "cory@example.com",
        "coordinator",
        &["--company", acme["id"].as_str().unwrap()],
    );
    let boss = crate::inbox::Browser::sign_in(&server, "boss@example.com").await;
    let r = boss.fetch(&format!("/blobs/{key}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.bytes().await.unwrap().to_vec(), png(3000));
    let r = boss.fetch(&format!("/blobs/{manual_key}")).await;
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let cory = crate::inbox::Browser::sign_in(&server, "cory@example.com").await;
    assert_eq!(
        cory.fetch(&format!("/blobs/{key}")).await.status(),
        404,
        "another scope"
    );
    assert_eq!(boss.fetch(&format!("/blobs/{unknown}")).await.status(), 404);
    let uploaded_only = renamed.body["attachment"]["blob"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        boss.fetch(&format!("/blobs/{uploaded_only}"))
            .await
            .status(),
        404,
        "in no message"
    );
    // Signed out: sent to sign in, no file.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(server.url(&format!("/blobs/{key}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_keep_to_allowed_origins_and_the_visitors_allowance() {
    let server = Server::start_with(
        Backend::Embedded,
        &[
            (
                "SWITCHBOARD_WEBCHAT__ALLOWED_ORIGINS",
                "https://shop.example.com",
            ),
            ("SWITCHBOARD_WEBCHAT__MAX_MESSAGES_PER_MINUTE", "3"),
        ],
    )
    .await;
    let shop = [("origin", "https://shop.example.com")];
    let w = server.try_widget(None, &shop).await.unwrap();
    let v = w.visitor.clone();
    // Another site's page may not upload, nor a request that names no page.
    for headers in [&[("origin", "https://evil.example")][..], &[][..]] {
        let r = upload(&server, Some(&v), "p.png", "image/png", png(10), headers).await;
        assert_eq!(r.status, 403, "{headers:?}");
        assert_eq!(r.body["error"]["code"], "origin_not_allowed");
        assert!(r.headers.get("access-control-allow-origin").is_none());
    }
    // The shop's page may, and its browser is let read the answer.
    let preflight = server
        .http
        .request(reqwest::Method::OPTIONS, server.url("/webchat/attachments"))
        .header("origin", "https://shop.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://shop.example.com"
    );
    assert!(
        preflight.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("content-type")
    );
    let evil = server
        .http
        .request(reqwest::Method::OPTIONS, server.url("/webchat/attachments"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(evil.status(), 403);
    // The first is well over the pages' own body limit (256 KiB): files have their own.
    let mut statuses = Vec::new();
    for i in 0..5 {
        let size = if i == 0 { 3 * 1024 * 1024 } else { 10 + i };
        let r = upload(&server, Some(&v), "p.png", "image/png", png(size), &shop).await;
        if r.status == 201 {
            assert_eq!(
                r.headers["access-control-allow-origin"],
                "https://shop.example.com"
            );
        } else {
            assert_eq!(r.body["error"]["code"], "rate_limited");
        }
        statuses.push(r.status);
    }
    assert_eq!(statuses, [201, 201, 201, 429, 429]);
    // The allowance is the visitor's own: another visitor still has all of it.
    let other = server.try_widget(None, &shop).await.unwrap();
    let r = upload(
        &server,
        Some(&other.visitor),
        "p.png",
        "image/png",
        png(10),
        &shop,
    )
    .await;
    assert_eq!(r.status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_reply_shows_its_name_never_its_address_and_notes_stay_inside() {
    let server = Server::start(Backend::Embedded).await;
    let named = {
        let out = server.cli(&[
            "user",
            "add",
            "--email",
            "ana.lima@example.com",
            "--role",
            "admin",
            "--name",
            "Ana Lima",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["token"].as_str().unwrap().to_owned()
    };
    let (_, nameless) = crate::inbox::add_agent(&server, "nameless@example.com", "admin", &[]);
    let (mut w, conv) = server.visitor_writes(&named, "hello?").await;
    w.expect("message").await;
    for token in [&named, &nameless] {
        let (status, body) = server
            .post(
                token,
                &format!("/api/v1/conversations/{conv}/messages"),
                &json!({"text": "Hi, how can I help?"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let first = w.expect("message").await;
    assert_eq!(first["message"]["author"], "agent");
    assert_eq!(first["message"]["author_name"], "Ana Lima");
    let second = w.expect("message").await;
    assert_eq!(second["message"]["author"], "agent");
    assert!(second["message"].get("author_name").is_none(), "{second}");
    assert!(first["message"]["created_at"].as_i64().unwrap() > 0);

    // An internal note, written on the agent's page: never shown to the visitor.
    let mut page = crate::inbox::Browser::sign_in(&server, "nameless@example.com").await;
    let (status, body) = page
        .post(
            "/conversations/1001/messages",
            &[("text", "secret note: VIP customer"), ("mode", "note")],
        )
        .await;
    assert_eq!(status, 303, "{body:.300}");
    let (status, _) = server
        .post(
            &named,
            &format!("/api/v1/conversations/{conv}/messages"),
            &json!({"text": "after the note"}),
        )
        .await;
    assert_eq!(status, 201);
    let next = w.expect("message").await;
    assert_eq!(
        next["message"]["text"], "after the note",
        "the note came first: {next}"
    );

    // History: the same names, no address anywhere, no note.
    w.send_json(json!({"type": "history"})).await;
    let history = w.expect("history").await;
    let text = history.to_string();
    let names: Vec<Option<&str>> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["author"] == "agent")
        .map(|m| m["author_name"].as_str())
        .collect();
    assert_eq!(names, [Some("Ana Lima"), None, Some("Ana Lima")]);
    for leak in ["@example.com", "secret note", "author_id"] {
        assert!(!text.contains(leak), "{leak} in {text}");
    }
    assert!(!first.to_string().contains("@example.com"));
}

/// Today and tomorrow (UTC) as `YYYY-MM-DD`, and the instant the day after begins.
fn today_tomorrow_and_after() -> (String, String, i64) {
    use switchboard_core::clock::{Clock, SystemClock};
    const DAY: i64 = 86_400_000;
    let now = SystemClock.now_ms();
    let cal = switchboard_core::sla::BusinessCalendar::always();
    let today = now - now.rem_euclid(DAY);
    let date = |ms: i64| cal.local_date(ms).unwrap().to_string();
    (date(today), date(today + DAY), today + 2 * DAY)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_business_hours_the_widget_says_when_people_are_back_and_takes_an_address() {
    let (today, tomorrow, back) = today_tomorrow_and_after();
    let holidays = format!("{today},{tomorrow}");
    let all_day = ["00:00-24:00"; 7].join(",");
    let server = Server::start_with(
        Backend::Embedded,
        &[
            ("SWITCHBOARD_BUSINESS_HOURS__TIME_ZONE", "UTC"),
            ("SWITCHBOARD_BUSINESS_HOURS__WEEK", &all_day),
            ("SWITCHBOARD_BUSINESS_HOURS__HOLIDAYS", &holidays),
        ],
    )
    .await;
    let (ws, _) = tokio_tungstenite::connect_async(server.url("/webchat/ws").replace("http", "ws"))
        .await
        .unwrap();
    let mut ws = ws;
    let welcome = crate::support::next_json(&mut ws).await;
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["away"]["next_open_at"], back, "{welcome}");
    assert_eq!(welcome["identified"], false);
    let visitor = welcome["visitor"].as_str().unwrap().to_owned();
    drop(ws);

    // The visitor writes, then leaves an address: taken, kept on its contact as a claim.
    let mut w = server.widget(Some(&visitor)).await;
    w.say("c1", "anyone there?").await;
    w.expect("ack").await;
    w.expect("message").await;
    w.send_json(json!({"type": "identify", "email": "not-an-address"}))
        .await;
    assert_eq!(w.expect("error").await["code"], "bad_identity");
    w.send_json(json!({"type": "identify", "email": "Maria@Example.com"}))
        .await;
    w.expect("identified").await;

    let db = server.dir.path().join("switchboard.db");
    let store = switchboard_core::store::Store::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let visitor_id = switchboard_core::domain::Identity::visitor(&visitor).unwrap();
    let contact = store
        .contact_for_identity(&visitor_id)
        .await
        .unwrap()
        .unwrap();
    let typed = switchboard_core::domain::Identity::email("maria@example.com").unwrap();
    let ids = store.contact_identities(&contact).await.unwrap();
    assert!(
        ids.contains(&(typed.clone(), false)),
        "kept unverified: {ids:?}"
    );
    // Typed, never proved: the address belongs to no one.
    assert_eq!(store.contact_for_identity(&typed).await.unwrap(), None);
    store.close().await;

    // Next time the visitor is known to have left an address, and people are still away.
    let (ws, _) = tokio_tungstenite::connect_async(format!(
        "{}?visitor={visitor}",
        server.url("/webchat/ws").replace("http", "ws")
    ))
    .await
    .unwrap();
    let mut ws = ws;
    let welcome = crate::support::next_json(&mut ws).await;
    assert_eq!(welcome["identified"], true, "{welcome}");
    assert_eq!(welcome["away"]["next_open_at"], back);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_hours_bring_no_away_notice_and_no_hours_at_all_bring_no_time() {
    let all_day = ["00:00-24:00"; 7].join(",");
    let open = Server::start_with(
        Backend::Embedded,
        &[("SWITCHBOARD_BUSINESS_HOURS__WEEK", &all_day)],
    )
    .await;
    let welcome = welcome_of(&open).await;
    assert!(welcome.get("away").is_none(), "{welcome}");
    assert_eq!(welcome["max_attachment_bytes"], 10 * 1024 * 1024);

    // Closed every day: away, with no time to promise.
    let config = tempfile::tempdir().unwrap();
    let file = config.path().join("closed.toml");
    std::fs::write(
        &file,
        "[business_hours]\nweek = [\"\", \"\", \"\", \"\", \"\", \"\", \"\"]\n",
    )
    .unwrap();
    let closed = Server::start_with(
        Backend::Embedded,
        &[("SWITCHBOARD_CONFIG", file.to_str().unwrap())],
    )
    .await;
    let welcome = welcome_of(&closed).await;
    assert!(welcome["away"].is_object(), "{welcome}");
    assert!(welcome["away"]["next_open_at"].is_null(), "{welcome}");
}

async fn welcome_of(server: &Server) -> serde_json::Value {
    let (mut ws, _) =
        tokio_tungstenite::connect_async(server.url("/webchat/ws").replace("http", "ws"))
            .await
            .unwrap();
    crate::support::next_json(&mut ws).await
}
