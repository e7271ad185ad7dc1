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
async fn history_texts(w: &mut Widget) -> Vec<String> {
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
