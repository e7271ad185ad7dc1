//! Outgoing webhooks on every backend: an event becomes one delivery per subscription that
//! wants its kind, however often it is seen; deliveries go through the outbound stream,
//! signed, and are retried with backoff until a 2xx; 410 and the last attempt fail them;
//! "send again" starts over; paused subscriptions get nothing; the log is pruned.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use switchboard_core::dispatcher::{DispatchOptions, Dispatcher};
use switchboard_core::store::{HookInput, Webhook};
use switchboard_core::webhooks::{HookPoster, HookResponse, verify};

use crate::on_every_backend;
use crate::support::Env;

on_every_backend!(
    events_reach_their_subscribers_once_signed_and_retried,
    bad_subscriptions_are_refused_and_change_nothing,
    a_large_batch_is_recorded_once,
    a_delivery_held_by_a_dead_node_is_taken_over_after_its_lease,
);

/// Answers each address and event kind with the statuses it is given, in turn (then
/// 200; 0 is no answer), and keeps what it got.
#[derive(Debug, Default)]
struct Receiver {
    answers: Mutex<HashMap<String, Vec<u16>>>,
    got: Mutex<Vec<(String, String, String, String)>>,
}

impl Receiver {
    fn answer(&self, url: &str, kind: &str, statuses: &[u16]) {
        self.answers
            .lock()
            .unwrap()
            .insert(format!("{url} {kind}"), statuses.to_vec());
    }
    fn got(&self) -> Vec<(String, String, String, String)> {
        self.got.lock().unwrap().clone()
    }
}

#[async_trait]
impl HookPoster for Receiver {
    async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: &str,
    ) -> Result<HookResponse, String> {
        let header = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        self.got.lock().unwrap().push((
            url.into(),
            header("switchboard-event"),
            header("switchboard-signature"),
            body.into(),
        ));
        let status = {
            let mut answers = self.answers.lock().unwrap();
            let list = answers
                .entry(format!("{url} {}", header("switchboard-event")))
                .or_default();
            if list.is_empty() { 200 } else { list.remove(0) }
        };
        if status == 0 {
            return Err("could not connect".into());
        }
        Ok(HookResponse {
            status,
            body: format!("answer {status}"),
        })
    }
}

fn dispatcher(env: &Env, receiver: Arc<Receiver>) -> Dispatcher {
    Dispatcher::new(
        env.outbox(),
        HashMap::new(),
        env.metrics.clone(),
        "d1".into(),
        DispatchOptions {
            hook_max_attempts: 3,
            hook_backoff_base: Duration::from_millis(20),
            hook_backoff_max: Duration::from_millis(80),
            ..Default::default()
        },
    )
    .with_hooks(receiver)
}

async fn add(env: &Env, url: &str, kinds: &[&str]) -> Webhook {
    let events: Vec<String> = kinds.iter().map(|k| (*k).to_owned()).collect();
    env.store
        .add_webhook(
            &env.ids,
            &HookInput {
                url,
                description: "ERP",
                events: &events,
                active: true,
            },
        )
        .await
        .unwrap()
}

/// Runs the dispatcher until every delivery is finished.
async fn settle(d: &Dispatcher, env: &Env) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        d.step(Duration::from_millis(20)).await.unwrap();
        d.housekeeping().await.unwrap();
        if env.store.hooks_waiting().await.unwrap() == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "deliveries still waiting after 15 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn events_reach_their_subscribers_once_signed_and_retried(env: Env) {
    let receiver = Arc::new(Receiver::default());
    let d = dispatcher(&env, receiver.clone());
    let erp = add(
        &env,
        "https://erp.example.com/in",
        &["message.created", "conversation.opened"],
    )
    .await;
    let books = add(&env, "http://127.0.0.1:9/books", &["conversation.opened"]).await;
    let paused = add(&env, "https://old.example.com/", &["message.created"]).await;
    env.store
        .update_webhook(
            &paused.id,
            &HookInput {
                url: &paused.url,
                description: "",
                events: &paused.events,
                active: false,
            },
            env.ids.now_ms(),
        )
        .await
        .unwrap();
    // The ERP fails twice (a 500, then no answer) and takes the third; the books answer
    // 410 Gone: given up at once.
    receiver.answer(&erp.url, "message.created", &[500, 0]);
    receiver.answer(&erp.url, "conversation.opened", &[500, 0]);
    receiver.answer(&books.url, "conversation.opened", &[410]);

    // A client writes; the router stores it, and the same entry is seen a second time (a
    // reclaim after a crash).
    let e = env.envelope("v1", "w1", "the copier jams on tray 2");
    env.inbound(&e).await;
    let router = env.plain_router();
    while router.step(Duration::from_millis(50)).await.unwrap() > 0 {}
    env.inbound(&e).await;
    while router.step(Duration::from_millis(50)).await.unwrap() > 0 {}
    settle(&d, &env).await;

    let got = receiver.got();
    let to = |url: &str, kind: &str| {
        got.iter()
            .filter(|(u, k, ..)| u == url && k == kind)
            .count()
    };
    assert_eq!(
        to(&erp.url, "message.created"),
        3,
        "500, no answer, 200: {got:?}"
    );
    assert_eq!(to(&erp.url, "conversation.opened"), 3);
    assert_eq!(to(&books.url, "conversation.opened"), 1, "410 is final");
    assert_eq!(to(&books.url, "message.created"), 0, "not subscribed");
    assert_eq!(to(&paused.url, "message.created"), 0, "paused");
    // Every request is signed with its own subscription's secret, over the exact body.
    let now = env.ids.now_ms() / 1000;
    for (url, _, sig, body) in &got {
        let secret = if url == &erp.url {
            &erp.secret
        } else {
            &books.secret
        };
        assert!(verify(secret, sig, body, now), "{sig} over {body}");
        assert!(!verify(&paused.secret, sig, body, now));
    }
    let body: serde_json::Value = serde_json::from_str(
        &got.iter()
            .find(|(_, k, ..)| k == "message.created")
            .unwrap()
            .3,
    )
    .unwrap();
    assert_eq!(body["type"], "message.created");
    assert_eq!(body["data"]["message"]["text"], "the copier jams on tray 2");
    assert!(body["id"].as_str().unwrap().starts_with("message.created:"));

    // The log: one delivery per subscription and event, with each attempt's answer.
    let log = env.store.hook_deliveries(&erp.id, 10).await.unwrap();
    assert_eq!(log.len(), 2);
    assert!(
        log.iter()
            .all(|d| d.state == "delivered" && d.attempts == 3)
    );
    let attempts = env.store.hook_attempts(&log[0].id).await.unwrap();
    let answers: Vec<_> = attempts.iter().map(|a| a.status).collect();
    assert_eq!(answers, [Some(200), None, Some(500)], "newest first");
    assert_eq!(attempts[1].error.as_deref(), Some("could not connect"));
    assert_eq!(attempts[0].response.as_deref(), Some("answer 200"));
    let gone = env.store.hook_deliveries(&books.id, 10).await.unwrap();
    assert_eq!(gone.len(), 1);
    assert_eq!(
        (gone[0].state.as_str(), gone[0].last_status),
        ("failed", Some(410))
    );

    // An agent's reply is an event too; the ERP now fails for good after 3 attempts.
    receiver.answer(&erp.url, "message.created", &[503, 503, 503]);
    let conversation =
        serde_json::from_str::<serde_json::Value>(&got[0].3).unwrap()["data"]["conversation"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let reply = env
        .agent_says(&conversation, "a technician is on the way")
        .await;
    settle(&d, &env).await;
    let log = env.store.hook_deliveries(&erp.id, 10).await.unwrap();
    let failed = log
        .iter()
        .find(|d| d.event_id == format!("message.created:{}", reply.id))
        .unwrap();
    assert_eq!(
        (failed.state.as_str(), failed.attempts, failed.last_status),
        ("failed", 3, Some(503))
    );

    // "Send again": one more attempt, which the ERP now takes.
    env.store
        .resend_hook(&failed.id, env.ids.now_ms())
        .await
        .unwrap();
    env.outbox()
        .stream
        .append(
            switchboard_core::stream::OUTBOUND,
            &serde_json::to_string(&switchboard_core::dispatcher::Job::hook(failed.id.clone()))
                .unwrap(),
        )
        .await
        .unwrap();
    settle(&d, &env).await;
    let again = env.store.hook_delivery(&failed.id).await.unwrap();
    assert_eq!((again.state.as_str(), again.attempts), ("delivered", 1));
    assert_eq!(env.store.hook_attempts(&failed.id).await.unwrap().len(), 4);

    // Finished deliveries older than the cut leave the log with their attempts.
    let forgotten = env
        .store
        .forget_old_hooks(env.ids.now_ms() + 1)
        .await
        .unwrap();
    assert_eq!(forgotten, 4);
    assert!(
        env.store
            .hook_attempts(&failed.id)
            .await
            .unwrap()
            .is_empty()
    );

    // Removing a subscription stops its events.
    env.store.remove_webhook(&erp.id).await.unwrap();
    let before = receiver.got().len();
    env.inbound(&env.envelope("v2", "w2", "toner please")).await;
    while router.step(Duration::from_millis(50)).await.unwrap() > 0 {}
    settle(&d, &env).await;
    let after = receiver.got();
    assert_eq!(
        after[before..]
            .iter()
            .filter(|(u, ..)| u == &erp.url)
            .count(),
        0
    );
    assert_eq!(
        after.len(),
        before + 1,
        "the books hear of the new conversation"
    );
}

async fn bad_subscriptions_are_refused_and_change_nothing(env: Env) {
    let kinds = vec!["message.created".to_owned()];
    let input = |url: &'static str, events: &'static [&'static str]| {
        (
            url,
            events.iter().map(|e| (*e).to_owned()).collect::<Vec<_>>(),
        )
    };
    for (url, events) in [
        input("http://erp.example.com/in", &["message.created"]),
        input("https://erp.example.com/in", &[]),
        input("https://erp.example.com/in", &["message.deleted"]),
        input("not an address", &["message.created"]),
    ] {
        let r = env
            .store
            .add_webhook(
                &env.ids,
                &HookInput {
                    url,
                    description: "",
                    events: &events,
                    active: true,
                },
            )
            .await;
        assert!(
            matches!(r, Err(switchboard_core::Error::Invalid(_))),
            "{url} {events:?}: {r:?}"
        );
    }
    assert!(env.store.webhooks().await.unwrap().is_empty());
    let h = add(&env, "https://erp.example.com/in", &["message.created"]).await;
    let r = env
        .store
        .update_webhook(
            &h.id,
            &HookInput {
                url: "ftp://erp.example.com",
                description: "",
                events: &kinds,
                active: true,
            },
            env.ids.now_ms(),
        )
        .await;
    assert!(r.is_err());
    assert_eq!(env.store.webhook(&h.id).await.unwrap(), h, "unchanged");
    assert!(h.secret.starts_with("whsec_") && h.secret.len() == 6 + 64);
    let other = add(&env, "https://erp.example.com/in", &["message.created"]).await;
    assert_ne!(h.secret, other.secret);
}

/// More events than one statement writes, seen twice: one delivery each.
async fn a_large_batch_is_recorded_once(env: Env) {
    add(&env, "https://erp.example.com/in", &["message.created"]).await;
    add(
        &env,
        "https://books.example.com/in",
        &["message.created", "ticket.created"],
    )
    .await;
    let events: Vec<_> = (0..450)
        .map(|i| switchboard_core::store::NewHookEvent {
            event_id: format!("message.created:m{i}"),
            kind: "message.created",
            payload: format!("{{\"n\":{i}}}"),
        })
        .chain(std::iter::once(switchboard_core::store::NewHookEvent {
            event_id: "ticket.created:t1".into(),
            kind: "ticket.created",
            payload: "{}".into(),
        }))
        .collect();
    let made = env
        .store
        .record_hook_events(&env.ids, &events)
        .await
        .unwrap();
    assert_eq!(made.len(), 901, "450 × 2 messages and one ticket");
    let unique: std::collections::HashSet<_> = made.iter().collect();
    assert_eq!(unique.len(), 901);
    let again = env
        .store
        .record_hook_events(&env.ids, &events)
        .await
        .unwrap();
    assert!(again.is_empty(), "seen before: {}", again.len());
    assert_eq!(env.store.hooks_waiting().await.unwrap(), 901);

    // The router's batch records its events in its own transaction: they are there as
    // soon as the batch is, before any job reaches the stream.
    let e = env.envelope("v9", "w9", "papel atolado");
    let (outcomes, made) = env
        .store
        .ingest_batch_with_hooks(&env.ids, std::slice::from_ref(&e))
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(made.len(), 2, "the message, for both subscriptions");
    assert_eq!(env.store.hooks_waiting().await.unwrap(), 903);
    let (_, again) = env
        .store
        .ingest_batch_with_hooks(&env.ids, &[e])
        .await
        .unwrap();
    assert!(again.is_empty(), "a replayed envelope records nothing");
}

/// A node that dies mid-post holds its delivery only for the lease: no other node takes it
/// before, the sweep hands it on after.
async fn a_delivery_held_by_a_dead_node_is_taken_over_after_its_lease(env: Env) {
    let h = add(&env, "https://erp.example.com/in", &["ticket.created"]).await;
    let events = [switchboard_core::store::NewHookEvent {
        event_id: "ticket.created:t1".into(),
        kind: "ticket.created",
        payload: "{}".into(),
    }];
    let made = env
        .store
        .record_hook_events(&env.ids, &events)
        .await
        .unwrap();
    let d = &made[0];
    let t0 = env.ids.now_ms() + 1;
    let lease = 15_000;
    // Node A takes it and dies before answering.
    let claim = env.store.claim_hook(d, t0, lease).await.unwrap().unwrap();
    assert_eq!(
        (claim.url.as_str(), claim.secret.as_str()),
        (h.url.as_str(), h.secret.as_str())
    );
    // Within the lease nobody else takes it, and the sweep leaves it.
    assert!(
        env.store
            .claim_hook(d, t0 + 1_000, lease)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        env.store
            .take_due_hooks(t0 + 1_000, 300_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // After it, the sweep puts it back once, and node B takes it.
    let due = env
        .store
        .take_due_hooks(t0 + lease + 1, 300_000, 10)
        .await
        .unwrap();
    assert_eq!(due, std::slice::from_ref(d));
    assert!(
        env.store
            .take_due_hooks(t0 + lease + 2, 300_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        env.store
            .claim_hook(d, t0 + lease + 3, lease)
            .await
            .unwrap()
            .is_some()
    );
}
