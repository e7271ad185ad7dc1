//! Redis restarted while agents and widgets are connected: realtime resumes by itself.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::support::{Backend, Server, eventually, free_port, next_json};

/// A Redis of the test's own, with AOF on, so it can be stopped and started.
/// A redis-server of the test's own, run as docs/OPERATIONS.md advises (AOF on).
pub(crate) struct OwnRedis {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl OwnRedis {
    pub(crate) fn start() -> Self {
        let mut r = Self {
            child: None,
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
        };
        r.spawn();
        r
    }

    pub(crate) fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                // `everysec` postpones the write while an fsync runs yet answers anyway,
                // so a kill -9 on a busy disk loses acknowledged entries; `always` never.
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        self.child = Some(child);
        crate::support::wait_listening(self.port, "redis-server", 5);
    }

    /// A clean stop: SIGTERM, Redis flushes its AOF and exits.
    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status()
                .unwrap();
            c.wait().unwrap();
        }
    }

    /// A crash: SIGKILL, nothing flushed beyond what Redis wrote before answering.
    pub(crate) fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_realtime_resumes() {
    let mut redis = OwnRedis::start();
    let server = Server::start_with(Backend::PostgresRedis, &[("REDIS_URL", &redis.url())]).await;
    let agent = server.add_user("ana@example.com", "support");
    let mut events = server.agent_events(&agent).await;
    let mut widget = server.widget(None).await;
    widget.say("before", "before the restart").await;
    widget.expect("ack").await;
    let conversation = loop {
        let e = next_json(&mut events).await;
        if e["type"] == "message" {
            break e["scope"]["conversation_id"].as_str().unwrap().to_owned();
        }
    };

    redis.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // While Redis is down the server says so rather than pretending.
    let ready = server.http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    redis.spawn();
    server.wait_ready().await;

    // Both sides are told to re-read what they may have missed.
    assert_eq!(widget.expect("resync").await["type"], "resync");
    loop {
        if next_json(&mut events).await["type"] == "resync" {
            break;
        }
    }

    // A widget message reaches the agent in real time again (the widget resends until acked).
    let mut acked = false;
    for _ in 0..50 {
        widget.say("after", "after the restart").await;
        let f = widget.next().await;
        if f["type"] == "ack" {
            acked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(acked, "message accepted after the restart");
    loop {
        let e = next_json(&mut events).await;
        if e["type"] == "message" && e["message"]["text"] == "after the restart" {
            break;
        }
    }
    // And an agent reply reaches the widget.
    let (status, _) = server
        .post(
            &agent,
            &format!("/api/v1/conversations/{conversation}/messages"),
            &json!({"text": "we are back"}),
        )
        .await;
    assert_eq!(status, 201);
    loop {
        let f = widget.expect("message").await;
        if f["message"]["text"] == "we are back" {
            break;
        }
    }
    eventually(10, || async {
        server
            .thread(&agent, &conversation)
            .await
            .iter()
            .any(|m| m["text"] == "we are back" && m["delivery_state"] == "sent")
    })
    .await;
}
