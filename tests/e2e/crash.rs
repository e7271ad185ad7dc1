//! `kill -9` in the middle of 10,000 inbound web-chat messages: after a restart every
//! acknowledged message is stored exactly once, in order per conversation; widgets that
//! resend what was not acknowledged end with all 10,000 stored once.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{Backend, Server, Widget, eventually};

const VISITORS: usize = 20;
const PER_VISITOR: usize = 500;
const KILL_AFTER_ACKS: usize = 4_000;

/// Redis itself killed with SIGKILL mid-burst (run with AOF, as docs/OPERATIONS.md
/// advises), then restarted on its data: nothing acknowledged is lost (acknowledged
/// messages are never resent, yet all end up stored), nothing is stored twice, and the
/// router and dispatcher carry on by themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_kill_9_mid_burst() {
    let mut redis = crate::realtime::OwnRedis::start();
    let server = Server::start_with(Backend::PostgresRedis, &[("REDIS_URL", &redis.url())]).await;
    let agent = server.add_user("ana@example.com", "support");
    let acks = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for v in 0..VISITORS {
        let w = server.widget(None).await;
        tasks.push(tokio::spawn(persistent_blast(w, v, acks.clone())));
    }
    eventually(60, || {
        let acks = acks.clone();
        async move { acks.load(Ordering::SeqCst) >= KILL_AFTER_ACKS }
    })
    .await;
    redis.kill9();
    let acked_at_kill = acks.load(Ordering::SeqCst);
    assert!(acked_at_kill < VISITORS * PER_VISITOR, "killed mid-burst");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    redis.spawn();
    server.wait_ready().await;
    for t in tasks {
        t.await.unwrap();
    }
    // Waits for all to be stored; on a timeout says how many and which are missing.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    let stored = loop {
        let stored = stored_texts(&server, &agent).await;
        let count = stored.values().map(Vec::len).sum::<usize>();
        if count >= VISITORS * PER_VISITOR {
            break stored;
        }
        if tokio::time::Instant::now() >= deadline {
            let missing: Vec<String> = (0..VISITORS)
                .flat_map(|v| {
                    let thread = thread_of(&stored, v);
                    (0..PER_VISITOR)
                        .map(move |i| text(v, i))
                        .filter(move |t| !thread.contains(t))
                })
                .take(20)
                .collect();
            // Where they are: parked after failing (the database refused them), still
            // pending on the stream (read and never acknowledged), or gone from Redis.
            sqlx::any::install_default_drivers();
            let parked = match sqlx::AnyPool::connect(&server.database_url()).await {
                Ok(pool) => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM stream_parked")
                    .fetch_one(&pool)
                    .await
                    .map_or_else(|e| e.to_string(), |n| n.to_string()),
                Err(e) => e.to_string(),
            };
            let pending = match redis::Client::open(redis.url()) {
                Ok(c) => match c.get_multiplexed_async_connection().await {
                    Ok(mut conn) => {
                        let groups: redis::RedisResult<redis::Value> = redis::cmd("XINFO")
                            .arg("GROUPS")
                            .arg(format!(
                                "{}:stream:inbound",
                                server
                                    .env
                                    .get("SWITCHBOARD_REDIS_PREFIX")
                                    .map_or("switchboard", String::as_str)
                            ))
                            .query_async(&mut conn)
                            .await;
                        format!("{groups:?}")
                    }
                    Err(e) => e.to_string(),
                },
                Err(e) => e.to_string(),
            };
            panic!(
                "{count} of {} stored after 120 s ({acked_at_kill} acknowledged at the kill); missing e.g. {missing:?}; parked: {parked}; inbound groups: {pending}",
                VISITORS * PER_VISITOR
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    assert_eq!(stored.len(), VISITORS, "one conversation per visitor");
    for v in 0..VISITORS {
        // A message refused at the instant Redis came back may be resent after the next
        // one was taken, so order is checked as a set here; the other crash tests check it.
        let mut thread = thread_of(&stored, v);
        thread.sort();
        let expected: Vec<String> = (0..PER_VISITOR).map(|i| text(v, i)).collect();
        assert_eq!(thread, expected, "visitor {v}: all, once each");
    }
    // The dispatcher recovered too: a reply goes out.
    let conversation = server.conversations(&agent).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = server
        .http
        .post(server.url(&format!("/api/v1/conversations/{conversation}/messages")))
        .bearer_auth(&agent)
        .json(&json!({"text": "we are back"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    eventually(30, || async {
        server
            .thread(&agent, &conversation)
            .await
            .iter()
            .any(|m| m["text"] == "we are back" && m["delivery_state"] == "sent")
    })
    .await;
}

/// Sends every message once, and resends (same client id) only those refused while the
/// stream was unavailable, until all are acknowledged. Acknowledged ones are never resent.
async fn persistent_blast(w: Widget, v: usize, acks: Arc<AtomicUsize>) {
    let (mut tx, mut rx) = w.ws.split();
    let mut pending: std::collections::BTreeSet<usize> = (0..PER_VISITOR).collect();
    let mut to_send: Vec<usize> = (0..PER_VISITOR).collect();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    while !pending.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "visitor {v}: {} unacknowledged",
            pending.len()
        );
        for i in to_send.drain(..) {
            let frame =
                json!({"type": "message", "client_id": format!("v{v}-{i}"), "text": text(v, i)});
            tx.send(Message::Text(frame.to_string().into()))
                .await
                .unwrap();
        }
        let mut refused = Vec::new();
        loop {
            let next = tokio::time::timeout(std::time::Duration::from_millis(700), rx.next()).await;
            let Ok(Some(Ok(Message::Text(t)))) = next else {
                break;
            };
            let f: serde_json::Value = serde_json::from_str(&t).unwrap();
            let index = f["client_id"]
                .as_str()
                .and_then(|c| c.rsplit('-').next())
                .and_then(|i| i.parse::<usize>().ok());
            match (f["type"].as_str(), index) {
                (Some("ack"), Some(i)) if pending.remove(&i) => {
                    acks.fetch_add(1, Ordering::SeqCst);
                }
                (Some("error"), Some(i)) => {
                    assert_eq!(f["code"], "unavailable", "{f}");
                    refused.push(i);
                }
                _ => {}
            }
            if pending.is_empty() {
                break;
            }
        }
        // Resend what was refused, and anything neither acknowledged nor refused.
        refused.retain(|i| pending.contains(i));
        to_send = if refused.is_empty() {
            pending.iter().copied().collect()
        } else {
            refused
        };
        to_send.sort_unstable();
        to_send.dedup();
        if !to_send.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_burst_embedded() {
    kill_9_mid_burst(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_burst_postgres_redis() {
    kill_9_mid_burst(Backend::PostgresRedis).await;
}

fn text(v: usize, i: usize) -> String {
    format!("visitor {v} message {i:04}")
}

/// Sends every message in `range` without waiting, and collects acks until the socket
/// dies or all are acknowledged. Returns the acknowledged indexes.
async fn blast(
    w: Widget,
    v: usize,
    todo: Vec<usize>,
    acks: Arc<AtomicUsize>,
) -> (String, Vec<usize>) {
    let visitor = w.visitor.clone();
    let (mut tx, mut rx) = w.ws.split();
    let wanted = todo.len();
    let writer = tokio::spawn(async move {
        for i in todo {
            let frame =
                json!({"type": "message", "client_id": format!("v{v}-{i}"), "text": text(v, i)});
            if tx
                .send(Message::Text(frame.to_string().into()))
                .await
                .is_err()
            {
                break;
            }
        }
        tx
    });
    let mut acked = Vec::new();
    while acked.len() < wanted {
        let Some(Ok(msg)) = rx.next().await else {
            break;
        };
        let Message::Text(t) = msg else { continue };
        let f: serde_json::Value = serde_json::from_str(&t).unwrap();
        if f["type"] == "ack" {
            let cid = f["client_id"].as_str().unwrap();
            acked.push(cid.rsplit('-').next().unwrap().parse::<usize>().unwrap());
            acks.fetch_add(1, Ordering::SeqCst);
        } else if f["type"] == "error" {
            panic!("refused: {f}");
        }
    }
    writer.abort();
    (visitor, acked)
}

async fn kill_9_mid_burst(backend: Backend) {
    let mut server = Server::start(backend).await;
    let agent = server.add_user("ana@example.com", "support");
    let acks = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for v in 0..VISITORS {
        let w = server.widget(None).await;
        let acks = acks.clone();
        // The socket dies under it; whatever was acknowledged is returned.
        tasks.push(tokio::spawn(blast(w, v, (0..PER_VISITOR).collect(), acks)));
    }
    eventually(60, || {
        let acks = acks.clone();
        async move { acks.load(Ordering::SeqCst) >= KILL_AFTER_ACKS }
    })
    .await;
    server.kill9();
    let mut acked_before: HashMap<usize, (String, Vec<usize>)> = HashMap::new();
    for (v, t) in tasks.into_iter().enumerate() {
        acked_before.insert(v, t.await.unwrap());
    }
    let total_acked: usize = acked_before.values().map(|(_, a)| a.len()).sum();
    assert!(
        (KILL_AFTER_ACKS..VISITORS * PER_VISITOR).contains(&total_acked),
        "killed after {total_acked} acks"
    );

    server.spawn().await;

    // Every message acknowledged before the crash is stored exactly once, in order.
    // Routing the backlog takes a moment after the restart; the restarted node resumes
    // what it had taken at once, well before another node would reclaim it (30 s).
    // On a timeout it says which acknowledged messages are missing.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let stored = loop {
        let stored = stored_texts(&server, &agent).await;
        let missing: Vec<String> = acked_before
            .iter()
            .flat_map(|(v, (_, acked))| {
                let thread = thread_of(&stored, *v);
                acked
                    .iter()
                    .map(|i| text(*v, *i))
                    .filter(|t| !thread.contains(t))
                    .collect::<Vec<_>>()
            })
            .collect();
        if missing.is_empty() {
            break stored;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {total_acked} acknowledged messages not stored 20 s after the restart, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(20)]
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    for (v, (_, acked)) in &acked_before {
        let thread = thread_of(&stored, *v);
        for i in acked {
            assert_eq!(
                thread.iter().filter(|t| **t == text(*v, *i)).count(),
                1,
                "visitor {v} message {i} stored once"
            );
        }
        let mut sorted = thread.clone();
        sorted.sort();
        assert_eq!(thread, sorted, "visitor {v}: in order");
    }

    // The widgets come back and resend what was not acknowledged.
    let mut resends = Vec::new();
    for (v, (visitor, acked)) in acked_before {
        let w = server.widget(Some(&visitor)).await;
        let todo: Vec<usize> = (0..PER_VISITOR).filter(|i| !acked.contains(i)).collect();
        let acks = Arc::new(AtomicUsize::new(0));
        resends.push(tokio::spawn(async move {
            let n = todo.len();
            let (_, got) = blast(w, v, todo, acks).await;
            assert_eq!(got.len(), n);
        }));
    }
    for r in resends {
        r.await.unwrap();
    }
    eventually(120, || async {
        let stored = stored_texts(&server, &agent).await;
        stored.values().map(Vec::len).sum::<usize>() == VISITORS * PER_VISITOR
    })
    .await;
    let stored = stored_texts(&server, &agent).await;
    assert_eq!(stored.len(), VISITORS, "one conversation per visitor");
    for v in 0..VISITORS {
        let thread = thread_of(&stored, v);
        let expected: Vec<String> = (0..PER_VISITOR).map(|i| text(v, i)).collect();
        assert_eq!(
            thread, expected,
            "visitor {v}: all 500, once each, in order"
        );
    }
}

/// Conversation id → texts in thread order.
pub(crate) async fn stored_texts(server: &Server, agent: &str) -> HashMap<String, Vec<String>> {
    try_stored_texts(server, agent)
        .await
        .unwrap_or_else(|refused| panic!("{refused}"))
}

/// Every conversation's texts by id, as an agent reads them through the API; the first
/// refused read (what, status and body) when one is refused.
pub(crate) async fn try_stored_texts(
    server: &Server,
    agent: &str,
) -> Result<HashMap<String, Vec<String>>, String> {
    let (status, body) = server.get(agent, "/api/v1/conversations?limit=500").await;
    if status != 200 {
        return Err(format!("conversations: {status} {body}"));
    }
    let mut out = HashMap::new();
    for c in body["conversations"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap().to_owned();
        let (status, body) = server
            .get(agent, &format!("/api/v1/conversations/{id}?limit=10000"))
            .await;
        if status != 200 {
            return Err(format!("conversation {id}: {status} {body}"));
        }
        let texts = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect();
        out.insert(id, texts);
    }
    Ok(out)
}

fn thread_of(stored: &HashMap<String, Vec<String>>, v: usize) -> Vec<String> {
    let prefix = format!("visitor {v} message");
    stored
        .values()
        .find(|t| t.first().is_some_and(|m| m.starts_with(&prefix)))
        .cloned()
        .unwrap_or_default()
}
