//! `switchboard whatsapp parse FILE.json --json`, the command-line contract of DESIGN.md,
//! over every payload in `../shared/fixtures/whatsapp`.

use std::process::Command;

use serde_json::Value;

use crate::support::BIN;

fn parse_cli(file: &std::path::Path) -> std::process::Output {
    Command::new(BIN)
        .args(["whatsapp", "parse"])
        .arg(file)
        .arg("--json")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap()
}

fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/whatsapp")
}

fn events(name: &str) -> Vec<Value> {
    let out = parse_cli(&fixtures().join(name));
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
}

#[test]
fn whatsapp_parse_prints_every_fixtures_events() {
    let mut files = 0;
    for f in std::fs::read_dir(fixtures()).unwrap() {
        let name = f.unwrap().file_name().into_string().unwrap();
        for e in events(&name) {
            for key in ["kind", "type", "wamid", "phone_number_id", "timestamp"] {
                assert!(e.get(key).is_some(), "{name}: {key} missing from {e}");
            }
        }
        files += 1;
    }
    assert!(files >= 26);

    let text = &events("message_text.json")[0];
    assert_eq!(text["kind"], "message");
    assert_eq!(text["type"], "text");
    assert_eq!(text["text"], "Body Text");
    assert_eq!(text["from"], "972987654321");
    assert_eq!(text["profile_name"], "Test Name");
    let image = &events("message_image.json")[0];
    assert_eq!(image["media"]["id"], "65463453");
    assert_eq!(image["media"]["mime_type"], "image/jpeg");
    let reply = &events("message_reply.json")[0];
    assert_eq!(reply["reply_to"], "wamid.xyzxyz==");
    let forwarded = &events("message_forwarded.json")[0];
    assert_eq!(forwarded["forwarded"], true);
    let read = &events("status_read.json")[0];
    assert_eq!(
        (read["kind"].as_str(), read["status"].as_str()),
        (Some("status"), Some("read"))
    );
    let failed = &events("status_failed.json")[0];
    assert_eq!(failed["errors"][0]["code"], 130_472);
    let unsupported = &events("message_unsupported.json")[0];
    assert_eq!(unsupported["type"], "unsupported");
    assert_eq!(unsupported["errors"][0]["code"], 131_051);
}

#[test]
fn whatsapp_parse_refuses_what_is_not_a_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"object":"instagram","entry":[]}"#).unwrap();
    let out = parse_cli(&bad);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a WhatsApp Business webhook"));
}

// ---------------------------------------------------------------------------------------
// The channel through the real server, with a fake Graph API.

use std::time::Duration;

use serde_json::json;

use crate::graph::{FakeGraph, FakeMedia, error};
use crate::support::{Backend, Server, eventually};

/// The business number of every fixture.
pub(crate) const PNID: &str = "1122334455667";
pub(crate) const APP_SECRET: &str = "e2e-whatsapp-app-secret";
const VERIFY: &str = "verify-me-please";
const TOKEN: &str = "EAAG-e2e-system-user-token";

async fn whatsapp_server(backend: Backend, graph: &FakeGraph, extra: &[(&str, &str)]) -> Server {
    let dir = tempfile::tempdir().unwrap().keep();
    let config = dir.join("whatsapp.toml");
    std::fs::write(
        &config,
        format!(
            "[whatsapp]\ngraph_url = \"{}\"\nmedia_attempts = 3\nmax_media_bytes = 1048576\n\
             [[whatsapp.numbers]]\nname = \"main\"\nphone_number_id = \"{PNID}\"\nbusiness_account_id = \"999\"\n\
             token = \"{TOKEN}\"\napp_secret = \"{APP_SECRET}\"\nverify_token = \"{VERIFY}\"\nteam = \"whatsapp-team\"\n\
             display_phone_number = \"+55 11 90000-0000\"\n",
            graph.url()
        ),
    )
    .unwrap();
    let mut env: Vec<(&str, &str)> = vec![("SWITCHBOARD_CONFIG", config.to_str().unwrap())];
    env.extend_from_slice(extra);
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Server::start_with(backend, &env).await
}

async fn deliver(server: &Server, body: &[u8], secret: Option<&str>) -> (u16, Value) {
    let mut r = server
        .http
        .post(server.url("/webhooks/whatsapp"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(s) = secret {
        r = r.header(
            "x-hub-signature-256",
            switchboard_channels::whatsapp::signature::sign(s.as_bytes(), body),
        );
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn fixture(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(fixtures().join(name)).unwrap()).unwrap()
}

/// A fixture with its messages' ids made its own (many fixtures share `wamid.xyzxyz`).
fn unique(name: &str) -> Vec<u8> {
    let mut v = fixture(name);
    for entry in v["entry"].as_array_mut().unwrap() {
        for c in entry["changes"].as_array_mut().unwrap() {
            // Some fixtures carry a placeholder for the business number.
            c["value"]["metadata"]["phone_number_id"] = json!(PNID);
            if let Some(ms) = c["value"]["messages"].as_array_mut() {
                for (i, m) in ms.iter_mut().enumerate() {
                    m["id"] = json!(format!("wamid.{name}.{i}"));
                }
            }
        }
    }
    serde_json::to_vec(&v).unwrap()
}

/// A one-message text delivery from `from`.
pub(crate) fn text_from(from: &str, wamid: &str, text: &str) -> Vec<u8> {
    text_to(PNID, from, wamid, text)
}

/// A one-message text delivery from `from` to the number `pnid`.
fn text_to(pnid: &str, from: &str, wamid: &str, text: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "999", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "5511900000000", "phone_number_id": pnid },
            "contacts": [{ "profile": { "name": "Cliente" }, "wa_id": from }],
            "messages": [{ "from": from, "id": wamid, "timestamp": "1760000000", "type": "text", "text": { "body": text } }]
        }}]}]
    }))
    .unwrap()
}

/// A status delivery for one of our messages.
fn status(wamid: &str, state: &str, error_code: Option<i64>) -> Vec<u8> {
    let mut st = json!({ "id": wamid, "status": state, "timestamp": "1760000100", "recipient_id": "5511987654321",
        "conversation": { "id": "c1", "origin": { "type": "service" } },
        "pricing": { "billable": true, "pricing_model": "PMP", "category": "service" } });
    if let Some(code) = error_code {
        st["errors"] = json!([{ "code": code, "title": "Message undeliverable",
            "error_data": { "details": "the number is not on WhatsApp" } }]);
    }
    serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "999", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "5511900000000", "phone_number_id": PNID },
            "statuses": [st] }}]}]
    }))
    .unwrap()
}

/// The first `Some` that `f` gives within `secs`.
async fn wait_for<T, F, Fut>(secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn only_conversation(server: &Server, token: &str) -> Value {
    let mut all = wait_for(20, || async {
        let all = server.conversations(token).await;
        (!all.is_empty()).then_some(all)
    })
    .await;
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_webhook_verifies_signs_and_stores_each_wamid_once() {
    for backend in [Backend::Embedded, Backend::PostgresRedis] {
        let graph = FakeGraph::start().await;
        let server = whatsapp_server(backend, &graph, &[]).await;
        let agent = server.add_user("ana@example.com", "admin");
        // Setup check.
        let verify = |token: &str| {
            server.url(&format!(
                "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444"
            ))
        };
        let r = server.http.get(verify(VERIFY)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "1158201444");
        let r = server.http.get(verify("wrong-token")).send().await.unwrap();
        assert_eq!(r.status(), 403);

        let body = text_from("5511987654321", "wamid.once", "Minha impressora parou");
        // Refused, storing nothing: no signature, a wrong one, a body that is not a
        // delivery, a number not served here, a body over the limit.
        assert_eq!(deliver(&server, &body, None).await.0, 401);
        assert_eq!(
            deliver(&server, &body, Some("another-app-secret")).await.0,
            401
        );
        let mut tampered = body.clone();
        let signed = switchboard_channels::whatsapp::signature::sign(APP_SECRET.as_bytes(), &body);
        tampered[40] ^= 1;
        let r = server
            .http
            .post(server.url("/webhooks/whatsapp"))
            .header("x-hub-signature-256", signed)
            .body(tampered)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let (code, err) = deliver(
            &server,
            b"{\"object\": \"whatsapp_business_acc",
            Some(APP_SECRET),
        )
        .await;
        assert_eq!(code, 400, "{err}");
        let other = String::from_utf8(body.clone())
            .unwrap()
            .replace(PNID, "9999999999");
        let (code, err) = deliver(&server, other.as_bytes(), Some(APP_SECRET)).await;
        assert_eq!(
            (code, err["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{err}"
        );
        // 10 MB: refused once the body passes the limit, without reading the rest (a
        // client still writing when the answer comes may see its pipe closed, so the
        // answer is read over a plain socket while the body keeps coming).
        {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut sock = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
                .await
                .unwrap();
            let head = format!(
                "POST /webhooks/whatsapp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
                 X-Hub-Signature-256: sha256=00\r\nContent-Length: {}\r\n\r\n{{\"object\":",
                10 * 1024 * 1024
            );
            sock.write_all(head.as_bytes()).await.unwrap();
            let (mut rd, mut wr) = sock.into_split();
            // The body keeps coming; the server stops reading it at its limit.
            let writer = tokio::spawn(async move {
                let chunk = vec![b'a'; 64 * 1024];
                for _ in 0..160 {
                    if wr.write_all(&chunk).await.is_err() {
                        break;
                    }
                }
            });
            let mut answer = vec![0u8; 64];
            let n = tokio::time::timeout(Duration::from_secs(20), rd.read(&mut answer))
                .await
                .unwrap()
                .unwrap();
            writer.abort();
            let line = String::from_utf8_lossy(&answer[..n]).to_string();
            assert!(line.starts_with("HTTP/1.1 413"), "{line}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(server.conversations(&agent).await.is_empty());

        // Accepted, and a redelivery stores nothing new.
        let (code, accepted) = deliver(&server, &body, Some(APP_SECRET)).await;
        assert_eq!(
            (code, accepted["messages"].as_u64()),
            (200, Some(1)),
            "{accepted}"
        );
        assert_eq!(deliver(&server, &body, Some(APP_SECRET)).await.0, 200);
        let c = only_conversation(&server, &agent).await;
        let id = c["id"].as_str().unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let thread = server.thread(&agent, id).await;
        assert_eq!(thread.len(), 1, "{thread:?}");
        assert_eq!(thread[0]["text"], "Minha impressora parou");
        assert_eq!(thread[0]["external_id"], "wamid.once");
        assert_eq!(c["channel"], "whatsapp");
        assert_eq!(c["inbox"], "whatsapp:main");
        assert_eq!(c["team"], "whatsapp-team", "{c}");
        // The webhook made no call to Meta (only the start-up's template sync went out).
        let calls = graph.requests();
        assert!(
            calls.iter().all(|r| r.path == "/999/message_templates"),
            "{calls:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_fixture_arrives_through_the_real_server() {
    let graph = FakeGraph::start().await;
    let jpeg = b"\xff\xd8\xff\xe0 a tiny photo".to_vec();
    graph.add_media(
        "65463453",
        FakeMedia {
            bytes: jpeg.clone(),
            mime: "image/jpeg".into(),
            failures: 1,
            claimed_size: None,
        },
    );
    graph.add_media(
        "1234567890987654321",
        FakeMedia {
            bytes: b"OggS voice".to_vec(),
            mime: "audio/ogg".into(),
            failures: 0,
            claimed_size: None,
        },
    );
    // Never given: shown as unavailable after the tries.
    graph.add_media(
        "765756756",
        FakeMedia {
            bytes: vec![0; 10],
            mime: "video/mp4".into(),
            failures: 100,
            claimed_size: None,
        },
    );
    // Over the limit: refused and named.
    graph.add_media(
        "1234567890",
        FakeMedia {
            bytes: vec![0; 10],
            mime: "image/jpeg".into(),
            failures: 0,
            claimed_size: Some(50 * 1024 * 1024),
        },
    );
    let server = whatsapp_server(Backend::Embedded, &graph, &[]).await;
    let agent = server.add_user("ana@example.com", "admin");
    let mut expected = 0;
    for f in std::fs::read_dir(fixtures()).unwrap() {
        let name = f.unwrap().file_name().into_string().unwrap();
        if name.starts_with("status_") {
            continue;
        }
        let (code, accepted) = deliver(&server, &unique(&name), Some(APP_SECRET)).await;
        assert_eq!(code, 200, "{name}: {accepted}");
        expected += accepted["messages"].as_u64().unwrap();
    }
    assert!(expected >= 21, "{expected}");
    // Most fixtures come from one number; the edit from another, the revoke names only the
    // user id: their conversations are read together.
    let all_messages = || async {
        let mut all = Vec::new();
        for c in server.conversations(&agent).await {
            all.extend(server.thread(&agent, c["id"].as_str().unwrap()).await);
        }
        all
    };
    let by = |thread: &[Value], wamid: &str| -> Value {
        thread
            .iter()
            .find(|m| m["external_id"] == wamid)
            .cloned()
            .unwrap_or_else(|| panic!("{wamid} not in the thread"))
    };
    let thread = wait_for(30, || async {
        let thread = all_messages().await;
        (thread.len() as u64 == expected
            && [
                "message_image.json",
                "message_video.json",
                "edited_message_image.json",
            ]
            .iter()
            .all(|f| {
                by(&thread, &format!("wamid.{f}.0"))["content"]["media"]["state"] != "pending"
            }))
        .then_some(thread)
    })
    .await;
    let main = by(&thread, "wamid.message_text.json.0")["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        thread
            .iter()
            .filter(|m| m["conversation_id"] == main.as_str())
            .count() as u64
            >= expected - 2,
        "one number's messages share one conversation"
    );
    let id = main;
    assert_eq!(
        by(&thread, "wamid.message_text.json.0")["text"],
        "Body Text"
    );
    // A photo fetched after one failed try: kept as an attachment of its message.
    let image = by(&thread, "wamid.message_image.json.0");
    assert_eq!(image["content"]["media"]["state"], "kept", "{image}");
    assert_eq!(image["attachments"][0]["mime"], "image/jpeg");
    let blob = image["attachments"][0]["blob"].as_str().unwrap();
    let blobs = switchboard_core::blob::LocalBlobStore::in_data_dir(server.dir.path());
    let key = switchboard_core::blob::BlobKey::parse(blob).unwrap();
    assert_eq!(
        switchboard_core::blob::BlobStore::get(&blobs, &key)
            .await
            .unwrap(),
        jpeg
    );
    // Fetched with the number's token, never inside the webhook request.
    assert!(
        graph
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/dl/"))
            .all(|r| r.auth == format!("Bearer {TOKEN}"))
    );
    // A file never given: the message stays, saying why.
    let video = by(&thread, "wamid.message_video.json.0");
    assert_eq!(video["content"]["media"]["state"], "unavailable", "{video}");
    assert!(
        video["content"]["media"]["reason"]
            .as_str()
            .unwrap()
            .contains("did not give"),
        "{video}"
    );
    let edited = by(&thread, "wamid.edited_message_image.json.0");
    assert_eq!(edited["content"]["media"]["state"], "unavailable");
    assert!(
        edited["content"]["media"]["reason"]
            .as_str()
            .unwrap()
            .contains("limit"),
        "{edited}"
    );
    let voice = by(&thread, "wamid.message_voice.json.0");
    assert_eq!(voice["content"]["media"]["kind"], "voice");
    let reply = by(&thread, "wamid.message_reply.json.0");
    assert_eq!(reply["content"]["reply_to"], "wamid.xyzxyz==");
    let reaction = by(&thread, "wamid.message_reaction.json.0");
    assert!(
        reaction["content"]["reaction"]["emoji"]
            .as_str()
            .is_some_and(|e| !e.is_empty())
    );
    let unsupported = by(&thread, "wamid.message_unsupported.json.0");
    assert!(
        unsupported["content"]["raw"]
            .as_str()
            .unwrap()
            .contains("131051")
    );
    let location = by(&thread, "wamid.message_current_location.json.0");
    assert!(location["content"]["location"]["latitude"].is_string());
    let button = by(&thread, "wamid.template_quick_reply_button.json.0");
    assert!(!button["text"].as_str().unwrap().is_empty());

    // Statuses move our message forward only, and one for a message not sent yet waits.
    let (_, sent) = server
        .post(
            &agent,
            &format!("/api/v1/conversations/{id}/messages"),
            &json!({ "text": "Olá! Já vamos ver." }),
        )
        .await;
    let first = sent["message"]["id"].as_str().unwrap().to_owned();
    let state_of = |mid: String| {
        let server = &server;
        let agent = agent.clone();
        let id = id.clone();
        async move {
            server
                .thread(&agent, &id)
                .await
                .into_iter()
                .find(|m| m["id"] == mid.as_str())
                .map(|m| {
                    (
                        m["delivery_state"].as_str().unwrap_or("").to_owned(),
                        m["delivery_error"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .unwrap_or_default()
        }
    };
    eventually(20, || async { state_of(first.clone()).await.0 == "sent" }).await;
    for (st, want) in [
        ("delivered", "delivered"),
        ("sent", "delivered"),
        ("read", "read"),
        ("failed", "read"),
    ] {
        deliver(
            &server,
            &status("wamid.fake.1", st, (st == "failed").then_some(131026)),
            Some(APP_SECRET),
        )
        .await;
        eventually(10, || async { state_of(first.clone()).await.0 == want }).await;
    }
    // Meta's pricing and conversation are kept on the message.
    let detail = server
        .thread(&agent, &id)
        .await
        .into_iter()
        .find(|m| m["id"] == first.as_str())
        .map(|m| m["delivery_detail"].clone())
        .unwrap_or_default();
    assert_eq!(detail["pricing"]["category"], "service", "{detail}");
    assert_eq!(detail["conversation"]["id"], "c1", "{detail}");
    // The receipt comes before the send has recorded its id.
    deliver(
        &server,
        &status("wamid.fake.2", "delivered", None),
        Some(APP_SECRET),
    )
    .await;
    deliver(
        &server,
        &status("wamid.fake.3", "failed", Some(131026)),
        Some(APP_SECRET),
    )
    .await;
    let (_, second) = server
        .post(
            &agent,
            &format!("/api/v1/conversations/{id}/messages"),
            &json!({ "text": "Segunda" }),
        )
        .await;
    let second = second["message"]["id"].as_str().unwrap().to_owned();
    eventually(20, || async {
        state_of(second.clone()).await.0 == "delivered"
    })
    .await;
    // A receipt that waited brings its detail along.
    let waited = server
        .thread(&agent, &id)
        .await
        .into_iter()
        .find(|m| m["id"] == second.as_str())
        .map(|m| m["delivery_detail"].clone())
        .unwrap_or_default();
    assert_eq!(waited["pricing"]["billable"], true, "{waited}");
    let (_, third) = server
        .post(
            &agent,
            &format!("/api/v1/conversations/{id}/messages"),
            &json!({ "text": "Terceira" }),
        )
        .await;
    let third = third["message"]["id"].as_str().unwrap().to_owned();
    eventually(20, || async { state_of(third.clone()).await.0 == "failed" }).await;
    assert!(state_of(third).await.1.contains("not on WhatsApp"));
}

/// Moves every message of the database back by `hours` (the window's clock).
async fn age_messages(server: &Server, hours: i64) {
    let store = switchboard_core::store::Store::connect(&server.database_url())
        .await
        .unwrap();
    sqlx::query("UPDATE messages SET created_at = created_at - $1")
        .bind(hours * 3_600_000)
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sends_reach_the_graph_api_in_meta_s_shapes() {
    let graph = FakeGraph::start().await;
    graph.state.lock().unwrap().templates = vec![
        json!({ "name": "ticket_update", "language": "pt_BR", "status": "APPROVED", "category": "UTILITY", "id": "1",
                "components": [{ "type": "BODY", "text": "Seu chamado {{1}} está {{2}}." }] }),
        json!({ "name": "promo", "language": "pt_BR", "status": "REJECTED", "category": "MARKETING", "id": "2",
                "components": [{ "type": "BODY", "text": "Oferta" }] }),
    ];
    let server = whatsapp_server(Backend::Embedded, &graph, &[]).await;
    let agent = server.add_user("ana@example.com", "admin");
    deliver(
        &server,
        &text_from("5511987654321", "wamid.in.1", "Oi, preciso de toner"),
        Some(APP_SECRET),
    )
    .await;
    let c = only_conversation(&server, &agent).await;
    let id = c["id"].as_str().unwrap().to_owned();
    let customer = server.thread(&agent, &id).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = |body: Value| {
        let server = &server;
        let agent = agent.clone();
        let id = id.clone();
        async move {
            server
                .post(
                    &agent,
                    &format!("/api/v1/conversations/{id}/messages"),
                    &body,
                )
                .await
        }
    };
    let wait_sends = |n: usize| {
        let graph = graph.clone();
        async move {
            eventually(20, || async { graph.sends().len() >= n }).await;
            graph.sends()
        }
    };
    let to = "5511987654321";
    // Text, quoting the customer's message.
    assert_eq!(
        reply(json!({ "text": "Claro! Qual o modelo?", "reply_to": customer }))
            .await
            .0,
        201
    );
    let sends = wait_sends(1).await;
    assert_eq!(
        sends[0],
        json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text",
                "text": { "preview_url": false, "body": "Claro! Qual o modelo?" },
                "context": { "message_id": "wamid.in.1" } })
    );
    let auth: Vec<String> = graph.requests().iter().map(|r| r.auth.clone()).collect();
    assert!(
        auth.iter().all(|a| a == &format!("Bearer {TOKEN}")),
        "{auth:?}"
    );
    // A reaction, reply buttons, a list.
    reply(json!({ "reaction": { "message_id": customer, "emoji": "👍" } })).await;
    let sends = wait_sends(2).await;
    assert_eq!(sends[1]["type"], "reaction");
    assert_eq!(
        sends[1]["reaction"],
        json!({ "message_id": "wamid.in.1", "emoji": "👍" })
    );
    reply(json!({ "text": "Resolveu?", "buttons": [{ "id": "yes", "title": "Sim, resolveu" }, { "id": "human", "title": "Falar com alguém" }] })).await;
    let sends = wait_sends(3).await;
    assert_eq!(
        sends[2]["interactive"],
        json!({ "type": "button", "body": { "text": "Resolveu?" }, "action": { "buttons": [
            { "type": "reply", "reply": { "id": "yes", "title": "Sim, resolveu" } },
            { "type": "reply", "reply": { "id": "human", "title": "Falar com alguém" } } ] } })
    );
    let (code, err) = reply(json!({ "text": "x", "buttons": [{ "id": "a", "title": "a" }, { "id": "b", "title": "b" }, { "id": "c", "title": "c" }, { "id": "d", "title": "d" }] })).await;
    assert_eq!(
        code, 422,
        "four buttons are refused before anything is stored: {err}"
    );
    reply(json!({ "text": "Qual artigo?", "list": { "button": "Artigos", "rows": [{ "id": "kb-1", "title": "Trocar o toner" }, { "id": "kb-2", "title": "Papel atolado" }] } })).await;
    let sends = wait_sends(4).await;
    assert_eq!(sends[3]["interactive"]["type"], "list");
    assert_eq!(
        sends[3]["interactive"]["action"]["sections"][0]["rows"][1],
        json!({ "id": "kb-2", "title": "Papel atolado" })
    );
    // Mark-as-read with the typing indicator when the agent types.
    let r = server
        .http
        .post(server.url(&format!("/api/v1/conversations/{id}/typing")))
        .bearer_auth(&agent)
        .json(&json!({ "on": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let sends = wait_sends(5).await;
    assert_eq!(
        sends[4],
        json!({ "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.in.1", "typing_indicator": { "type": "text" } })
    );

    // Throttled by Meta: retried, and sent once.
    graph.answer_next(
        429,
        error(
            130429,
            "(#130429) Rate limit hit",
            "Cloud API message throughput has been reached",
        ),
    );
    let (_, m) = reply(json!({ "text": "Um momento" })).await;
    let throttled = m["message"]["id"].as_str().unwrap().to_owned();
    eventually(20, || async {
        server
            .thread(&agent, &id)
            .await
            .iter()
            .any(|x| x["id"] == throttled.as_str() && x["delivery_state"] == "sent")
    })
    .await;
    let tries = graph
        .sends()
        .iter()
        .filter(|s| s["text"]["body"] == "Um momento")
        .count();
    assert_eq!(tries, 2, "one refused, one accepted");
    // Re-engagement refused by Meta: the agent is told to use a template.
    graph.answer_next(400, error(131047, "(#131047) Re-engagement message", "Message failed to send because more than 24 hours have passed since the customer last replied to this number."));
    let (_, m) = reply(json!({ "text": "Ainda precisa?" })).await;
    let late = m["message"]["id"].as_str().unwrap().to_owned();
    eventually(20, || async {
        server.thread(&agent, &id).await.iter().any(|x| {
            x["id"] == late.as_str()
                && x["delivery_state"] == "failed"
                && x["delivery_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("template"))
        })
    })
    .await;

    // A day later the window is closed: free text is refused before any request, a
    // template is offered and goes.
    age_messages(&server, 25).await;
    let before = graph.sends().len();
    let (code, err) = reply(json!({ "text": "Olá de novo" })).await;
    assert_eq!(
        (code, err["error"]["code"].as_str()),
        (422, Some("window_closed")),
        "{err}"
    );
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ticket_update"),
        "{err}"
    );
    let (code, err) = reply(json!({ "template": { "name": "promo", "language": "pt_BR" } })).await;
    assert_eq!(code, 422, "a rejected template is refused: {err}");
    let (code, m) = reply(json!({ "template": { "name": "ticket_update", "language": "pt_BR", "params": ["4521", "resolvido"] } })).await;
    assert_eq!(code, 201, "{m}");
    assert_eq!(m["message"]["text"], "Seu chamado 4521 está resolvido.");
    let sends = wait_sends(before + 1).await;
    assert_eq!(sends.len(), before + 1);
    assert_eq!(
        sends[before]["template"],
        json!({ "name": "ticket_update", "language": { "code": "pt_BR" }, "components": [{ "type": "body", "parameters": [
            { "type": "text", "text": "4521" }, { "type": "text", "text": "resolvido" } ] }] })
    );
}

/// Two nodes: a number added on one node's settings page is served by the other without a
/// restart (its webhook check and its deliveries, through the `settings` topic), and a
/// number removed on the second is refused by the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_added_on_one_node_is_served_by_another() {
    use crate::inbox::Browser;
    let graph = FakeGraph::start().await;
    let first = whatsapp_server(Backend::PostgresRedis, &graph, &[]).await;
    let second = first.another_node(&[]).await;
    let (_, admin) = crate::inbox::add_agent(&first, "rita@acme.test", "admin", &[]);
    const SALES: &str = "2233445566778";
    const SECRET: &str = "sales-app-secret-0123";
    let check = |server: &Server| {
        let url = server.url(
            "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=sales-verify-token&hub.challenge=42",
        );
        let http = server.http.clone();
        async move { http.get(url).send().await.unwrap().status().as_u16() }
    };
    let hello = text_to(
        SALES,
        "5521977776666",
        "wamid.sales.1",
        "quero um orçamento",
    );
    assert_eq!(check(&second).await, 403, "not a number of ours yet");
    assert_ne!(deliver(&second, &hello, Some(SECRET)).await.0, 200);

    let mut rita = Browser::sign_in(&first, "rita@acme.test").await;
    rita.get("/admin/whatsapp/new").await;
    let (status, page) = rita
        .post(
            "/admin/whatsapp/new",
            &[
                ("name", "vendas"),
                ("display_phone_number", "+55 11 3003-0000"),
                ("phone_number_id", SALES),
                ("team", "vendas"),
                ("token", "EAAG-sales-token"),
                ("app_secret", SECRET),
                ("verify_token", "sales-verify-token"),
            ],
        )
        .await;
    assert_eq!(status, 303, "{page}");
    // The other node takes it into use from the settings topic, no restart.
    eventually(20, || async { check(&second).await == 200 }).await;
    let (code, r) = deliver(&second, &hello, Some(SECRET)).await;
    assert_eq!(code, 200, "{r}");
    eventually(20, || async {
        second
            .conversations(&admin)
            .await
            .iter()
            .any(|c| c["inbox"] == "whatsapp:vendas" && c["team"] == "vendas")
    })
    .await;

    // Removed on the second node: the first refuses it.
    let mut rita = Browser::sign_in(&second, "rita@acme.test").await;
    rita.get("/admin/whatsapp").await;
    let (status, page) = rita.post("/admin/whatsapp/vendas/delete", &[]).await;
    assert_eq!(status, 303, "{page}");
    eventually(20, || async { check(&first).await == 403 }).await;
    let later = text_to(SALES, "5521977776666", "wamid.sales.2", "ainda aí?");
    assert_ne!(deliver(&first, &later, Some(SECRET)).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_messages_from_a_new_number_through_two_nodes_make_one_conversation_in_order() {
    let graph = FakeGraph::start().await;
    let first = whatsapp_server(Backend::PostgresRedis, &graph, &[]).await;
    let second = first.another_node(&[]).await;
    let agent = first.add_user("ana@example.com", "admin");
    // Ten senders' worth of concurrency: each lane posts its five in order, lanes at once,
    // alternating nodes; one lane's messages must keep their order.
    let started = std::time::Instant::now();
    let lanes = (0..10).map(|lane| {
        let (a, b) = (&first, &second);
        async move {
            for k in 0..5 {
                let n = lane * 5 + k;
                let node = if n % 2 == 0 { a } else { b };
                let body = text_from(
                    "5511955554444",
                    &format!("wamid.burst.{lane}.{k}"),
                    &format!("lane {lane} msg {k}"),
                );
                let (code, r) = deliver(node, &body, Some(APP_SECRET)).await;
                assert_eq!(code, 200, "{r}");
            }
        }
    });
    futures::future::join_all(lanes).await;
    let took = started.elapsed();
    let c = only_conversation(&first, &agent).await;
    let id = c["id"].as_str().unwrap().to_owned();
    let thread = wait_for(30, || async {
        let thread = first.thread(&agent, &id).await;
        (thread.len() == 50).then_some(thread)
    })
    .await;
    for lane in 0..10 {
        let order: Vec<String> = thread
            .iter()
            .filter_map(|m| m["text"].as_str())
            .filter(|t| t.starts_with(&format!("lane {lane} ")))
            .map(str::to_owned)
            .collect();
        let want: Vec<String> = (0..5).map(|k| format!("lane {lane} msg {k}")).collect();
        assert_eq!(order, want);
    }
    assert_eq!(first.conversations(&agent).await.len(), 1);
    eprintln!("50 deliveries through two nodes in {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_goes_up_first_then_as_a_document_and_nothing_goes_outside_the_window() {
    use std::sync::Arc;
    use switchboard_channels::whatsapp::sender::{Graph, Number, Numbers, WhatsappSender};
    use switchboard_core::blob::{BlobKind, BlobStore, LocalBlobStore};
    use switchboard_core::clock::{Ids, SystemClock};
    use switchboard_core::dispatcher::{Outgoing, SendError, Sender};
    use switchboard_core::domain::Identity;
    use switchboard_core::store::Recipient;

    let graph = FakeGraph::start().await;
    let dir = tempfile::tempdir().unwrap();
    let blobs: Arc<dyn BlobStore> = Arc::new(LocalBlobStore::in_data_dir(dir.path()));
    let pdf = b"%PDF-1.7 invoice".to_vec();
    let blob = blobs.put(BlobKind::Attachment, &pdf).await.unwrap();
    let numbers = Arc::new(Numbers::default());
    numbers.set(vec![Number {
        inbox: "whatsapp:main".into(),
        phone_number_id: PNID.into(),
        business_account_id: None,
        token: TOKEN.into(),
        messages_per_second: 50,
    }]);
    let ids = Ids::new(Arc::new(SystemClock));
    let sender = WhatsappSender::new(
        Graph::new(&graph.url(), Duration::from_secs(5)).unwrap(),
        numbers,
        blobs,
        ids.clone(),
    );
    let conversation = json!({ "id": "c1", "number": 1, "inbox": "whatsapp:main", "channel": "whatsapp",
        "contact_id": "k1", "company_id": null, "thread_key": "default", "subject": null, "status": "open",
        "priority": "none", "tier": "N1", "assignee_id": null, "team": null, "labels": [], "bot_active": false,
        "created_at": 0, "updated_at": 0, "last_message_at": 0, "version": 0, "snoozed_until": null });
    let message = json!({ "id": "m1", "conversation_id": "c1", "direction": "outbound", "author_kind": "agent",
        "author_id": "u1", "channel": "whatsapp", "text": "Sua fatura de novembro", "html": null,
        "attachments": [{ "name": "fatura-123.pdf", "mime": "application/pdf", "size": pdf.len(), "blob": blob.key().as_str() }],
        "delivery_state": "queued", "external_id": null, "created_at": 0 });
    let mut outgoing = Outgoing {
        conversation: serde_json::from_value(conversation).unwrap(),
        message: serde_json::from_value(message).unwrap(),
        recipients: vec![Recipient {
            identity: Identity::whatsapp("5511987654321").unwrap(),
            role: "to",
        }],
        references: Vec::new(),
        subject: None,
        inbox_settings: json!({}),
        last_inbound_at: Some(ids.now_ms() - 60_000),
    };
    let receipt = sender.send(&outgoing).await.unwrap();
    assert!(receipt.external_id.unwrap().starts_with("wamid.fake."));
    let requests = graph.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    let upload = &requests[0];
    assert_eq!(upload.path, format!("/{PNID}/media"));
    assert!(
        upload
            .content_type
            .starts_with("multipart/form-data; boundary=")
    );
    let body = String::from_utf8_lossy(&upload.body);
    assert!(
        body.contains("name=\"messaging_product\"\r\n\r\nwhatsapp"),
        "{body}"
    );
    assert!(
        body.contains("filename=\"fatura-123.pdf\"") && body.contains("%PDF-1.7 invoice"),
        "{body}"
    );
    let media_id = "media.up.1";
    assert_eq!(
        requests[1].json(),
        json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "to": "5511987654321", "type": "document",
                "document": { "id": media_id, "caption": "Sua fatura de novembro", "filename": "fatura-123.pdf" } })
    );
    // Two days after the customer last wrote: refused with the reason, no request made.
    outgoing.last_inbound_at = Some(ids.now_ms() - 48 * 3_600_000);
    let Err(SendError::Permanent(why)) = sender.send(&outgoing).await else {
        panic!("sent outside the window")
    };
    assert!(
        why.contains("24-hour window") && why.contains("template"),
        "{why}"
    );
    assert_eq!(graph.requests().len(), 2);
}

/// An interactive reply (a tapped list row) from `from`.
fn list_reply_from(from: &str, wamid: &str, id: &str, title: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "999", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "5511900000000", "phone_number_id": PNID },
            "contacts": [{ "profile": { "name": "Cliente" }, "wa_id": from }],
            "messages": [{ "from": from, "id": wamid, "timestamp": "1760000000", "type": "interactive",
                "interactive": { "type": "list_reply", "list_reply": { "id": id, "title": title } } }]
        }}]}]
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unsure_bot_offers_a_list_of_close_articles_and_answers_the_one_tapped() {
    let graph = FakeGraph::start().await;
    // Never sure enough to answer outright; a list whenever articles are close.
    let mut server = whatsapp_server(
        Backend::Embedded,
        &graph,
        &[
            ("SWITCHBOARD_BOT__ENABLED", "true"),
            ("SWITCHBOARD_BOT__THRESHOLD_OTHER", "1.01"),
            ("SWITCHBOARD_BOT__CHOICES_FLOOR", "0"),
        ],
    )
    .await;
    let admin = server.add_user("ana@example.com", "admin");
    server
        .import_kb(concat!(
            r#"{"id":"toner","title":"Ordering toner for your copier","body":"Order toner from the portal, under Supplies.","lang":"en","questions":["how do I order toner","I need toner","toner is empty"]}"#,
            "\n",
            r#"{"id":"jam","title":"Clearing a paper jam","body":"Open the front door and pull the paper gently.","lang":"en","questions":["paper is stuck","the copier jammed","paper jam in the tray"]}"#,
            "\n",
            r#"{"id":"invoice","title":"Your invoice","body":"Invoices are in the portal.","lang":"en","questions":["where is my invoice","send me the invoice"]}"#,
            "\n"
        ))
        .await;

    let from = "5511912340000";
    deliver(
        &server,
        &text_from(
            from,
            "wamid.bot.1",
            "the toner is empty and the paper is stuck",
        ),
        Some(APP_SECRET),
    )
    .await;
    eventually(20, || async { !graph.sends().is_empty() }).await;
    let list = graph.sends()[0].clone();
    assert_eq!(list["to"], from);
    assert_eq!(list["interactive"]["type"], "list", "{list}");
    let rows = list["interactive"]["action"]["sections"][0]["rows"]
        .as_array()
        .unwrap()
        .clone();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(
        ids.contains(&"bot:article:toner") && ids.contains(&"bot:article:jam"),
        "{ids:?}"
    );
    assert_eq!(ids.last(), Some(&"bot:person"));
    // The row's title is cut to WhatsApp's 24 characters; the tap comes back with it.
    let toner = rows
        .iter()
        .find(|r| r["id"] == "bot:article:toner")
        .unwrap();
    let title = toner["title"].as_str().unwrap();
    assert!(title.chars().count() <= 24, "{title}");
    deliver(
        &server,
        &list_reply_from(from, "wamid.bot.2", "bot:article:toner", title),
        Some(APP_SECRET),
    )
    .await;
    eventually(20, || async { graph.sends().len() >= 2 }).await;
    let answer = graph.sends()[1].clone();
    assert_eq!(answer["interactive"]["type"], "button", "{answer}");
    let body = answer["interactive"]["body"]["text"].as_str().unwrap();
    assert!(body.starts_with("Ordering toner for your copier"), "{body}");
    let c = only_conversation(&server, &admin).await;
    assert_eq!(c["status"], "open", "{c}");
    assert_ne!(c["tier"], "N2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn notices_go_by_whatsapp_to_clients_who_prefer_it() {
    let graph = FakeGraph::start().await;
    graph.state.lock().unwrap().templates = vec![
        json!({ "name": "request_status", "language": "pt_BR", "status": "APPROVED", "category": "UTILITY", "id": "1",
                "components": [{ "type": "BODY", "text": "Sua solicitação #{{1}} agora está: {{2}}." }] }),
        json!({ "name": "invoice_issued", "language": "pt_BR", "status": "APPROVED", "category": "UTILITY", "id": "2",
                "components": [{ "type": "BODY", "text": "Fatura {{1}} de {{2}}, vence em {{3}}: {{4}}" }] }),
    ];
    let server = whatsapp_server(Backend::Embedded, &graph, &[]).await;
    let admin = server.add_user("ana@example.com", "admin");
    let from = "5511987650000";
    deliver(
        &server,
        &text_from(from, "wamid.n.1", "Oi"),
        Some(APP_SECRET),
    )
    .await;
    let wa = only_conversation(&server, &admin).await;
    let contact = wa["contact_id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/contacts/{contact}/notice-channel");
    let (code, _) = server
        .post(&admin, &path, &json!({ "channel": "sms" }))
        .await;
    assert_eq!(code, 422, "an unknown channel is refused");
    let store = switchboard_core::store::Store::connect(&server.database_url())
        .await
        .unwrap();
    assert_eq!(
        store.contact_notice_channel(&contact).await.unwrap(),
        "email"
    );
    let ids = switchboard_core::clock::Ids::new(std::sync::Arc::new(
        switchboard_core::clock::SystemClock,
    ));
    // A request of theirs off WhatsApp (a portal ticket's conversation).
    let request = |thread: &'static str| {
        let (store, ids, contact) = (store.clone(), ids.clone(), contact.clone());
        async move {
            store
                .open_conversation_for(
                    &ids,
                    &contact,
                    "portal",
                    switchboard_core::domain::Channel::Portal,
                    thread,
                    Some("Toner"),
                    switchboard_core::domain::Status::Open,
                )
                .await
                .unwrap()
        }
    };
    let set_status = |id: String, status: &'static str| {
        let (server, admin) = (&server, admin.clone());
        async move {
            let (code, v) = server
                .post(
                    &admin,
                    &format!("/api/v1/conversations/{id}/status"),
                    &json!({ "status": status }),
                )
                .await;
            assert_eq!(code, 200, "{v}");
        }
    };
    // Preferring mail (the default): nothing goes to WhatsApp.
    let first = request("ticket:1").await;
    set_status(first.id.clone(), "pending").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(graph.sends().is_empty(), "{:?}", graph.sends());

    let (code, v) = server
        .post(&admin, &path, &json!({ "channel": "whatsapp" }))
        .await;
    assert_eq!(
        (code, v["channel"].as_str()),
        (200, Some("whatsapp")),
        "{v}"
    );
    // Inside the 24-hour window: the notice in words.
    let second = request("ticket:2").await;
    set_status(second.id.clone(), "resolved").await;
    eventually(20, || async { !graph.sends().is_empty() }).await;
    let sent = graph.sends()[0].clone();
    assert_eq!(
        (sent["to"].as_str(), sent["type"].as_str()),
        (Some(from), Some("text")),
        "{sent}"
    );
    assert!(
        sent["text"]["body"]
            .as_str()
            .unwrap()
            .contains(&format!("#{}", second.number)),
        "{sent}"
    );
    // In the WhatsApp conversation the agents see it went.
    assert!(
        server
            .thread(&admin, wa["id"].as_str().unwrap())
            .await
            .iter()
            .any(|m| m["text"] == sent["text"]["body"]),
        "the notice shows in the WhatsApp conversation"
    );

    // A day later the window is closed: the approved template, with the number and the
    // status, in the client's language.
    age_messages(&server, 25).await;
    let third = request("ticket:3").await;
    set_status(third.id.clone(), "pending").await;
    eventually(20, || async { graph.sends().len() >= 2 }).await;
    let sent = graph.sends()[1].clone();
    assert_eq!(sent["type"], "template", "{sent}");
    assert_eq!(sent["template"]["name"], "request_status");
    let params = &sent["template"]["components"][0]["parameters"];
    assert_eq!(params[0]["text"], third.number.to_string(), "{sent}");

    // An invoice goes the same way, with the portal page's plain address: no sign-in link,
    // and no email address needed.
    let (code, inv) = server
        .post(
            &admin,
            "/api/v1/invoices",
            &json!({ "contact_id": contact, "currency": "BRL", "send": true,
                     "document": { "lines": [{ "description": "Toner", "quantity_milli": 1000, "unit_price": 10000 }] } }),
        )
        .await;
    assert_eq!(code, 201, "{inv}");
    eventually(20, || async { graph.sends().len() >= 3 }).await;
    let sent = graph.sends()[2].clone();
    assert_eq!(sent["template"]["name"], "invoice_issued", "{sent}");
    let params = sent["template"]["components"][0]["parameters"]
        .as_array()
        .unwrap();
    let number = inv["number"].as_str().unwrap();
    assert_eq!(params[0]["text"], number);
    let url = params[3]["text"].as_str().unwrap();
    assert!(
        url.ends_with(&format!("/portal/invoices/{number}")),
        "{url}"
    );
    assert!(!sent.to_string().contains("/portal/link/"), "{sent}");
    assert_eq!(inv["status"], "sent", "{inv}");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_portal_chat_continues_on_whatsapp_with_a_one_time_code() {
    let graph = FakeGraph::start().await;
    let server = whatsapp_server(Backend::Embedded, &graph, &[]).await;
    let admin = server.add_user("ana@example.com", "admin");
    // A client who chatted in the portal.
    let (_w, _) = server
        .visitor_writes(&admin, "Preciso de ajuda com a fatura")
        .await;
    let contact = server.conversations(&admin).await[0]["contact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut b = crate::trust::client(&server, &contact, "bia@cliente.test").await;
    let (s, page) = b.get("/portal/account").await;
    assert_eq!(s, 200);
    assert!(page.contains("id=\"continue-whatsapp\""), "{page:.2000}");
    let r = b.post_response("/portal/whatsapp", &[]).await;
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with("https://wa.me/5511900000000?text="), "{to}");
    let text = percent_decode(to.split("text=").nth(1).unwrap());
    let code = switchboard_gateway::kit::handover::code_in(&text).expect("a code in the message");
    // Someone else's message with a code that was never made: a new contact.
    deliver(
        &server,
        &text_from("5511955550000", "wamid.h.0", "codigo ABCD-EFGH"),
        Some(APP_SECRET),
    )
    .await;
    // The client sends it from WhatsApp: the number joins their contact.
    deliver(
        &server,
        &text_from("5511955551111", "wamid.h.1", &text),
        Some(APP_SECRET),
    )
    .await;
    eventually(20, || async {
        server.conversations(&admin).await.len() == 3
    })
    .await;
    let all = server.conversations(&admin).await;
    let on_whatsapp: Vec<&Value> = all.iter().filter(|c| c["channel"] == "whatsapp").collect();
    assert_eq!(on_whatsapp.len(), 2, "{all:?}");
    let mine = on_whatsapp
        .iter()
        .find(|c| c["contact_id"] == contact.as_str())
        .expect("the client's WhatsApp conversation is theirs");
    assert!(mine["id"].is_string());
    // Used once: the same code from another number links nothing.
    deliver(
        &server,
        &text_from("5511955552222", "wamid.h.2", &text),
        Some(APP_SECRET),
    )
    .await;
    eventually(20, || async {
        server.conversations(&admin).await.len() == 4
    })
    .await;
    let owners: Vec<String> = server
        .conversations(&admin)
        .await
        .iter()
        .filter(|c| c["contact_id"] == contact.as_str())
        .map(|c| c["channel"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(owners.len(), 2, "{owners:?}");
    // Notices by WhatsApp, chosen on the account page, now that the number is linked.
    let (s, page) = b
        .post("/portal/account/notices", &[("channel", "whatsapp")])
        .await;
    assert_eq!(s, 200, "{page:.500}");
    assert!(page.contains("value=\"whatsapp\" checked"), "{page:.3000}");
    let (s, _) = b
        .post("/portal/account/notices", &[("channel", "sms")])
        .await;
    assert_eq!(s, 422);
    assert!(
        !server.log().contains(&code),
        "the code never reaches the log"
    );
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// A reading sent in words on WhatsApp: stored once (the same delivery again, and the
/// same counts typed on the portal the same day, are the reading already stored) and
/// answered in the client's words; one below the last is refused in words.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reading_sent_on_whatsapp_is_stored_once_and_answered() {
    let graph = FakeGraph::start().await;
    let server = whatsapp_server(
        Backend::Embedded,
        &graph,
        &[("SWITCHBOARD_BOT__ENABLED", "true")],
    )
    .await;
    let admin = server.add_user("ana@example.com", "admin");
    let from = "5511955550000";
    deliver(
        &server,
        &text_from(from, "wamid.r.0", "Oi, bom dia"),
        Some(APP_SECRET),
    )
    .await;
    let conv = only_conversation(&server, &admin).await;
    let contact = conv["contact_id"].as_str().unwrap().to_owned();
    let globex = crate::trust::company(&server, &admin, "Globex", &[&contact]).await;
    let (ric, _, _) = crate::equipment::fleet(&server, &admin, &globex, &contact).await;
    let (s, v) = server
        .post(
            &admin,
            &format!("/api/v1/machines/{ric}/readings"),
            &json!({"mono": 10_000, "date": "2025-12-31", "key": "base"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    // The greeting may have been handed to people; the bot answers this conversation again.
    crate::inbox::sql(
        &server,
        "UPDATE conversations SET bot_active = 1 WHERE contact_id = $1",
        &[&contact],
    )
    .await;
    let sent_before = graph.sends().len();
    let reading = text_from(from, "wamid.r.1", "Leitura da ric-1001: 12.345 páginas");
    for _ in 0..2 {
        let (s, _) = deliver(&server, &reading, Some(APP_SECRET)).await;
        assert_eq!(s, 200);
    }
    let answer = wait_for(20, || async {
        graph
            .sends()
            .iter()
            .skip(sent_before)
            .find(|s| {
                s["text"]["body"]
                    .as_str()
                    .is_some_and(|t| t.contains("RIC-1001"))
            })
            .cloned()
    })
    .await;
    let text = answer["text"]["body"].as_str().unwrap();
    assert!(
        text.contains("Leitura salva") && text.contains("12.345"),
        "{text}"
    );
    let readings = || async {
        server
            .get(&admin, &format!("/api/v1/machines/{ric}"))
            .await
            .1["readings"]
            .as_array()
            .unwrap()
            .clone()
    };
    let rs = readings().await;
    assert_eq!(rs.len(), 2, "{rs:?}");
    assert_eq!(rs[1]["source"], "whatsapp");
    assert_eq!(rs[1]["mono"], 12_345);

    // The same counts on the portal the same day: the reading already stored.
    let mut b = crate::trust::client(&server, &contact, "ana@globex.example").await;
    let (_, page) = b.get(&format!("/portal/machines/{ric}")).await;
    let key = crate::tickets::form_key(&page);
    let (s, _, to) = b
        .post_multipart(
            &format!("/portal/machines/{ric}/readings"),
            &[("key", &key), ("mono", "12345")],
            &[],
        )
        .await;
    assert_eq!(s, 303);
    assert!(to.unwrap().ends_with("saved=again"));
    assert_eq!(readings().await.len(), 2);

    // Below the last: refused in words, nothing stored.
    let n = graph.sends().len();
    deliver(
        &server,
        &text_from(from, "wamid.r.2", "leitura da RIC-1001 9.000"),
        Some(APP_SECRET),
    )
    .await;
    let refusal = wait_for(20, || async {
        graph
            .sends()
            .iter()
            .skip(n)
            .find(|s| {
                s["text"]["body"]
                    .as_str()
                    .is_some_and(|t| t.contains("RIC-1001"))
            })
            .cloned()
    })
    .await;
    let text = refusal["text"]["body"].as_str().unwrap();
    assert!(text.contains("menor que a leitura anterior"), "{text}");
    assert_eq!(readings().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_survey_on_whatsapp_is_answered_with_one_tap_and_only_by_its_client() {
    let graph = FakeGraph::start().await;
    let server = whatsapp_server(
        Backend::Embedded,
        &graph,
        &[("SWITCHBOARD_PORTAL__NOTICE_BATCH_SECONDS", "0")],
    )
    .await;
    let admin = server.add_user("ana@example.com", "admin");
    let from = "5511976540000";
    deliver(
        &server,
        &text_from(
            from,
            "wamid.sv.1",
            "A impressora voltou a funcionar, obrigado",
        ),
        Some(APP_SECRET),
    )
    .await;
    let wa = only_conversation(&server, &admin).await;
    let id = wa["id"].as_str().unwrap().to_owned();
    let (code, v) = server
        .post(
            &admin,
            &format!("/api/v1/conversations/{id}/status"),
            &json!({ "status": "resolved" }),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    // The survey goes back on WhatsApp as a list of the five answers.
    let sent = wait_for(20, || async {
        graph
            .sends()
            .into_iter()
            .find(|s| s["interactive"]["type"] == "list")
    })
    .await;
    let rows = sent["interactive"]["action"]["sections"][0]["rows"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rows.len(), 5, "{sent}");
    assert!(
        sent["interactive"]["body"]["text"]
            .as_str()
            .unwrap()
            .contains("/survey/")
    );
    let four = rows
        .iter()
        .find(|r| r["title"].as_str().unwrap().starts_with("4 "))
        .unwrap();
    let row_id = four["id"].as_str().unwrap();
    assert!(row_id.starts_with("survey:"), "{row_id}");

    let store = switchboard_core::store::Store::connect(&server.database_url())
        .await
        .unwrap();
    let survey = || async {
        store
            .survey_by_subject(&format!("conversation:{id}"))
            .await
            .unwrap()
            .unwrap()
    };
    // Someone else's number choosing the same row answers nothing: it is their message.
    let (code, _) = deliver(
        &server,
        &list_reply_from(
            "5511911110000",
            "wamid.sv.x",
            row_id,
            "1 · Very unsatisfied",
        ),
        Some(APP_SECRET),
    )
    .await;
    assert_eq!(code, 200);
    // The client's tap, delivered twice: one answer, the conversation stays resolved.
    for _ in 0..2 {
        let (code, _) = deliver(
            &server,
            &list_reply_from(from, "wamid.sv.2", row_id, four["title"].as_str().unwrap()),
            Some(APP_SECRET),
        )
        .await;
        assert_eq!(code, 200);
    }
    let s = survey().await;
    assert_eq!((s.csat, s.nps), (Some(4), None), "{s:?}");
    assert!(s.answered_at.is_some() && s.changed_at.is_none(), "{s:?}");
    let thanks = wait_for(20, || async {
        graph.sends().into_iter().find(|m| {
            m["to"] == from
                && m["text"]["body"]
                    .as_str()
                    .is_some_and(|t| t.contains("Thank you for your answer"))
        })
    })
    .await;
    assert!(
        thanks["text"]["body"]
            .as_str()
            .unwrap()
            .contains(&format!("/survey/{}", s.token))
    );
    let (_, conv) = server
        .get(&admin, &format!("/api/v1/conversations/{id}"))
        .await;
    assert_eq!(conv["conversation"]["status"], "resolved", "{conv}");
    // The other number's tap is kept, as a message of its own conversation.
    eventually(20, || async {
        server
            .conversations(&admin)
            .await
            .iter()
            .any(|c| c["id"].as_str() != Some(id.as_str()))
    })
    .await;
    store.close().await;
}
