//! The agent API refuses bad input clearly and changes nothing.

use serde_json::json;

use crate::support::{Backend, Server, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_and_change_nothing() {
    let server = Server::start(Backend::Embedded).await;
    let agent = server.add_user("ana@example.com", "support");
    let supervisor = server.add_user("sue@example.com", "supervisor");
    let client = server.add_user("client@acme.example", "client_user");
    let (_widget, conv) = server.visitor_writes(&agent, "hi").await;
    let path = format!("/api/v1/conversations/{conv}/messages");

    // No token, a wrong token, a client's token.
    let r = server
        .http
        .get(server.url("/api/v1/conversations"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(server.get("sbt_nope", "/api/v1/conversations").await.0, 401);
    let (status, body) = server.get(&client, "/api/v1/conversations").await;
    assert_eq!(status, 403, "{body}");

    // A token in the URL is not accepted: only the Authorization header.
    let r = server
        .http
        .get(server.url(&format!("/api/v1/conversations?token={agent}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The events socket opens with a ticket, once; not with a token, a used or a forged
    // ticket.
    let ws = |q: String| {
        let port = server.port;
        async move {
            tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/api/v1/events?{q}"))
                .await
        }
    };
    assert!(ws(format!("token={agent}")).await.is_err());
    let ticket = server.events_ticket(&agent).await;
    assert!(ws(format!("ticket={ticket}")).await.is_ok());
    assert!(ws(format!("ticket={ticket}")).await.is_err(), "single use");
    assert!(ws("ticket=sbw_forged".into()).await.is_err());
    let r = server
        .http
        .post(server.url("/api/v1/events/tickets"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a ticket needs a token");

    // Unknown ids and routes.
    let (status, body) = server
        .get(&agent, "/api/v1/conversations/does-not-exist")
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    let (status, _) = server
        .post(
            &agent,
            "/api/v1/conversations/does-not-exist/messages",
            &json!({"text": "x"}),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(server.get(&agent, "/api/v1/nothing-here").await.0, 404);

    // Malformed and invalid bodies.
    let r = server
        .http
        .post(server.url(&path))
        .bearer_auth(&agent)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let (status, body) = server.post(&agent, &path, &json!({"text": "   "})).await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = server.post(&agent, &path, &json!({"txt": "typo"})).await;
    assert_eq!(status, 422);
    let (status, body) = server
        .post(&agent, &path, &json!({"text": "x".repeat(70_000)}))
        .await;
    assert_eq!(status, 413, "{body}");
    let (status, _) = server
        .get(&agent, "/api/v1/conversations?status=closed")
        .await;
    assert_eq!(status, 422);

    // Supervisors read but do not write.
    let (status, _) = server
        .post(&supervisor, &path, &json!({"text": "hello"}))
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        server
            .get(&supervisor, &format!("/api/v1/conversations/{conv}"))
            .await
            .0,
        200
    );

    assert_eq!(
        server.thread(&agent, &conv).await.len(),
        1,
        "nothing was stored"
    );

    // A retried request with the same Idempotency-Key stores one reply.
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = server
            .http
            .post(server.url(&path))
            .bearer_auth(&agent)
            .header("idempotency-key", "k-1")
            .json(&json!({"text": "once"}))
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = r.json().await.unwrap();
        ids.push(body["message"]["id"].as_str().unwrap().to_owned());
    }
    assert!(ids.iter().all(|i| i == &ids[0]));
    assert_eq!(server.thread(&agent, &conv).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_and_retried_from_cli_and_api() {
    // A reply on a channel with no sender can never be delivered: it becomes a dead letter.
    let server = Server::start(Backend::Embedded).await;
    let admin = server.add_user("admin@example.com", "admin");
    let agent = server.add_user("ana@example.com", "support");
    let (_widget, conv) = server.visitor_writes(&admin, "hi").await;
    // Pretend the conversation came from a channel that has no sender in this build.
    let db = server.dir.path().join("switchboard.db");
    let out = std::process::Command::new("python3")
        .args(["-c", &format!("import sqlite3;c=sqlite3.connect('{}');c.execute(\"UPDATE conversations SET channel='api'\");c.commit()", db.display())])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, body) = server
        .post(
            &agent,
            &format!("/api/v1/conversations/{conv}/messages"),
            &json!({"text": "reply"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let message_id = body["message"]["id"].as_str().unwrap().to_owned();

    eventually(10, || async {
        server.get(&admin, "/api/v1/dead-letters").await.1["dead_letters"]
            .as_array()
            .is_some_and(|d| d.len() == 1)
    })
    .await;
    let (_, body) = server.get(&admin, "/api/v1/dead-letters").await;
    let dead = &body["dead_letters"][0];
    assert_eq!(dead["message_id"], message_id.as_str());
    assert!(
        dead["error"].as_str().unwrap().contains("no sender"),
        "{dead}"
    );
    assert_eq!(server.get(&agent, "/api/v1/dead-letters").await.0, 403);

    let out = server.cli(&["deadletter", "list", "--json"]);
    assert!(out.status.success());
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[0]["message_id"], message_id.as_str());

    // Retry from the API: back to queued, and (still no sender) dead again.
    let dead_id = dead["id"].as_str().unwrap();
    let (status, body) = server
        .post(
            &admin,
            &format!("/api/v1/dead-letters/{dead_id}/retry"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = server
        .post(
            &agent,
            &format!("/api/v1/dead-letters/{dead_id}/retry"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 403);
    eventually(10, || async {
        server.get(&admin, "/api/v1/dead-letters").await.1["dead_letters"]
            .as_array()
            .is_some_and(|d| d.len() == 1)
    })
    .await;

    // Retry from the CLI, by message id; an unknown id is a clear error.
    let out = server.cli(&["deadletter", "retry", &message_id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = server.cli(&["deadletter", "retry", "nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
}
