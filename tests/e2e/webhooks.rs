//! Outgoing webhooks against the real binary and a real HTTP receiver on loopback: an
//! admin subscribes over the API; a client's chat, its resolution and a meter reading
//! reach the receiver signed with the subscription's secret; a receiver that fails is
//! tried again until it answers; the log shows each attempt; "send again" sends again;
//! nobody but an admin sees any of it, and a delivery is reached only through its own
//! subscription.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use switchboard_core::webhooks::verify;

use crate::support::{Backend, Server, eventually};

/// What the receiver got: (event kind, signature header, body).
pub(crate) type Got = Arc<Mutex<Vec<(String, String, String)>>>;

/// A receiver on 127.0.0.1 that answers 500 to the first `fail_first` requests, then 200.
pub(crate) async fn receiver(fail_first: usize) -> (String, Got) {
    let got: Got = Arc::default();
    let kept = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let kept = kept.clone();
            async move {
                let h = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                let mut list = kept.lock().unwrap();
                list.push((
                    h("switchboard-event"),
                    h("switchboard-signature"),
                    String::from_utf8_lossy(&body).into_owned(),
                ));
                if list.len() <= fail_first {
                    (StatusCode::INTERNAL_SERVER_ERROR, "busy")
                } else {
                    (StatusCode::OK, "thanks")
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

fn kinds(got: &Got) -> Vec<String> {
    got.lock()
        .unwrap()
        .iter()
        .map(|(k, ..)| k.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_a_subscriber_signed_retried_and_logged() {
    let server = Server::start_with(
        Backend::PostgresRedis,
        &[
            ("SWITCHBOARD_DISPATCHER__HOOK_BACKOFF_BASE_MS", "100"),
            ("SWITCHBOARD_DISPATCHER__HOOK_BACKOFF_MAX_MS", "400"),
        ],
    )
    .await;
    let admin = server.add_user("root@acme.test", "admin");
    let agent = server.add_user("ana@acme.test", "support");
    // The first request fails: the first event comes a second time.
    let (url, got) = receiver(1).await;

    // Bad subscriptions: refused, nothing stored; agents may not subscribe.
    for body in [
        json!({"url": "http://erp.example.com/hook", "events": ["message.created"]}),
        json!({"url": url, "events": []}),
        json!({"url": url, "events": ["message.deleted"]}),
        json!({"url": url, "events": ["message.created"], "colour": "red"}),
    ] {
        let (s, v) = server.post(&admin, "/api/v1/webhooks", &body).await;
        assert!(s == 400 || s == 422, "{body}: {s} {v}");
    }
    let (s, _) = server
        .post(
            &agent,
            "/api/v1/webhooks",
            &json!({"url": url, "events": ["message.created"]}),
        )
        .await;
    assert_eq!(s, 403);
    assert_eq!(server.get(&agent, "/api/v1/webhooks").await.0, 403);
    let (s, v) = server.get(&admin, "/api/v1/webhooks").await;
    assert_eq!((s, v["webhooks"].as_array().unwrap().len()), (200, 0));

    let (s, v) = server
        .post(
            &admin,
            "/api/v1/webhooks",
            &json!({"url": url, "description": "ERP", "events": ["conversation.opened", "message.created", "conversation.resolved", "reading.entered"]}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let hook = v["webhook"]["id"].as_str().unwrap().to_owned();
    let secret = v["webhook"]["secret"].as_str().unwrap().to_owned();

    // A client writes on the web chat; an agent answers and resolves.
    let (_widget, conversation) = server.visitor_writes(&admin, "a impressora travou").await;
    let (s, v) = server
        .post(
            &agent,
            &format!("/api/v1/conversations/{conversation}/messages"),
            &json!({"text": "Já vamos ver"}),
        )
        .await;
    assert!(s == 200 || s == 201, "{v}");
    let (s, v) = server
        .post(
            &agent,
            &format!("/api/v1/conversations/{conversation}/status"),
            &json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    // A meter reading of the client's machine.
    let ana = crate::trust::visitor_contact(&server, &admin, "Oi, sou a Ana da Globex").await;
    let globex = crate::trust::company(&server, &admin, "Globex", &[&ana]).await;
    let (ric, _, _) = crate::equipment::fleet(&server, &admin, &globex, &ana).await;
    let (s, v) = server
        .post(
            &admin,
            &format!("/api/v1/machines/{ric}/readings"),
            &json!({"mono": 12_000, "date": "2026-01-31", "key": "jan"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");

    // Every event arrives, the refused first one a second time.
    let want = [
        "conversation.opened",
        "message.created",
        "conversation.resolved",
        "reading.entered",
    ];
    eventually(30, || {
        let k = kinds(&got);
        let list = got.lock().unwrap().clone();
        async move {
            let retried = list.iter().filter(|(_, _, b)| *b == list[0].2).count() == 2;
            retried
                && want.iter().all(|w| k.iter().any(|x| x == w))
                && k.iter().filter(|x| *x == "message.created").count() >= 2
        }
    })
    .await;
    use switchboard_core::clock::Clock;
    let now = switchboard_core::clock::SystemClock.now_ms() / 1000;
    let list = got.lock().unwrap().clone();
    let mut texts = Vec::new();
    for (kind, sig, body) in &list {
        assert!(verify(&secret, sig, body, now), "{kind}: {sig}");
        assert!(!verify("whsec_other", sig, body, now));
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["type"], kind.as_str());
        if kind == "message.created" {
            texts.push(v["data"]["message"]["text"].as_str().unwrap().to_owned());
        }
        if kind == "reading.entered" {
            assert_eq!(v["data"]["reading"]["mono"], 12_000);
        }
    }
    assert!(
        texts.iter().any(|t| t == "a impressora travou"),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t == "Já vamos ver"), "{texts:?}");
    // Each event once, but for the one refused (500) and sent again.
    let opened = |c: &str| {
        list.iter()
            .filter(|(k, _, b)| k == "conversation.opened" && b.contains(c))
            .count()
    };
    assert!(opened(&conversation) >= 1);
    let first_body = &list[0].2;
    assert_eq!(list.iter().filter(|(_, _, b)| b == first_body).count(), 2);

    // The log: the retried delivery shows both answers, newest first.
    let (s, v) = server
        .get(&admin, &format!("/api/v1/webhooks/{hook}"))
        .await;
    assert_eq!(s, 200, "{v}");
    let deliveries = v["deliveries"].as_array().unwrap().clone();
    assert!(deliveries.iter().all(|d| d["state"] == "delivered"), "{v}");
    let first_id: String = serde_json::from_str::<Value>(first_body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let retried = deliveries
        .iter()
        .find(|d| d["event_id"] == first_id.as_str())
        .unwrap();
    let delivery = retried["id"].as_str().unwrap();
    let (s, v) = server
        .get(
            &admin,
            &format!("/api/v1/webhooks/{hook}/deliveries/{delivery}"),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let answers: Vec<_> = v["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["status"].clone(), a["response"].clone()))
        .collect();
    assert_eq!(
        answers,
        [(json!(200), json!("thanks")), (json!(500), json!("busy"))]
    );

    // "Send again" posts it once more.
    let before = got.lock().unwrap().len();
    let (s, v) = server
        .post(
            &admin,
            &format!("/api/v1/webhooks/{hook}/deliveries/{delivery}/resend"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    eventually(15, || {
        let n = got.lock().unwrap().len();
        async move { n == before + 1 }
    })
    .await;
    assert_eq!(&got.lock().unwrap()[before].2, first_body);

    // Another subscription's address does not reach this delivery; agents see nothing.
    let (_, other) = server
        .post(
            &admin,
            "/api/v1/webhooks",
            &json!({"url": url, "events": ["ticket.created"]}),
        )
        .await;
    let other = other["webhook"]["id"].as_str().unwrap().to_owned();
    for path in [
        format!("/api/v1/webhooks/{other}/deliveries/{delivery}"),
        format!("/api/v1/webhooks/{other}/deliveries/{delivery}/resend"),
        "/api/v1/webhooks/nope".to_owned(),
    ] {
        let s = if path.ends_with("resend") {
            server.post(&admin, &path, &json!({})).await.0
        } else {
            server.get(&admin, &path).await.0
        };
        assert_eq!(s, 404, "{path}");
    }
    assert_eq!(
        server
            .get(&agent, &format!("/api/v1/webhooks/{hook}"))
            .await
            .0,
        403
    );

    // Paused: no more events; the secret never reaches the log.
    let (s, v) = server
        .post(
            &admin,
            &format!("/api/v1/webhooks/{hook}"),
            &json!({"active": false}),
        )
        .await;
    assert_eq!((s, v["webhook"]["active"].clone()), (200, json!(false)));
    let before = got.lock().unwrap().len();
    let _ = server.visitor_writes(&admin, "outra coisa").await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(got.lock().unwrap().len(), before, "paused");
    assert!(
        !server.log().contains(&secret),
        "the secret reached the log"
    );
}
