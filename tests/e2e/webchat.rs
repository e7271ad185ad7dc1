//! A visitor and an agent talk through the web-chat socket and the agent API.

use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};

use crate::support::{Backend, Server, eventually};
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
