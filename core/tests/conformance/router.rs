//! The router on every backend: threading from the stream, replays, bursts across
//! consumers, poison entries, realtime events and the bot hook.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use switchboard_core::domain::{AuthorKind, DeliveryState, Tier};
use switchboard_core::realtime::{Event, Realtime};
use switchboard_core::router::{BotDecision, BotHook};
use switchboard_core::store::{ConversationFilter, Ingested};
use switchboard_core::stream::INBOUND;

use crate::on_every_backend;
use crate::support::Env;

on_every_backend!(
    routes_and_publishes,
    replayed_entries_are_stored_once,
    two_routers_one_burst_one_conversation,
    unreadable_entries_are_parked_not_lost,
    bot_replies_and_hands_off,
    a_dead_routers_batch_is_finished_by_another,
);

async fn drain(router: &switchboard_core::router::Router) {
    while router.step(Duration::from_millis(100)).await.unwrap() > 0 {}
}

async fn routes_and_publishes(env: Env) {
    let mut events = env.realtime.subscribe();
    let router = env.plain_router();
    for i in 0..3 {
        let e = env.envelope("v", &format!("{i}"), &format!("text {i}"));
        env.inbound(&e).await;
    }
    drain(&router).await;
    let convs = env
        .store
        .conversations(&ConversationFilter::default())
        .await
        .unwrap();
    assert_eq!(convs.len(), 1);
    let thread = env.store.messages(&convs[0].id, None, 0).await.unwrap();
    assert_eq!(
        thread.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["text 0", "text 1", "text 2"]
    );
    assert!(matches!(
        events.recv().await.unwrap(),
        Event::ConversationOpened { .. }
    ));
    for i in 0..3 {
        let Event::Message { message, .. } = events.recv().await.unwrap() else {
            panic!()
        };
        assert_eq!(message.text, format!("text {i}"));
    }
    assert_eq!(
        env.stream
            .depth(INBOUND, switchboard_core::router::GROUP)
            .await
            .unwrap(),
        0
    );
}

async fn replayed_entries_are_stored_once(env: Env) {
    let router = env.plain_router();
    let e = env.envelope("v", "same", "once");
    let json = serde_json::to_string(&e).unwrap();
    for _ in 0..3 {
        env.stream.append(INBOUND, &json).await.unwrap();
    }
    drain(&router).await;
    assert_eq!(env.store.count_messages(None).await.unwrap(), 1);
}

async fn two_routers_one_burst_one_conversation(env: Env) {
    let r1 = env.router("r1", Arc::new(switchboard_core::router::NoBot));
    let r2 = env.router("r2", Arc::new(switchboard_core::router::NoBot));
    for i in 0..200 {
        let e = env.envelope("burst", &format!("{i}"), "x");
        env.inbound(&e).await;
    }
    let (a, b) = tokio::join!(
        async {
            let mut r = r1.clone();
            r.options.batch = 7;
            drain(&r).await
        },
        async {
            let mut r = r2.clone();
            r.options.batch = 5;
            drain(&r).await
        }
    );
    let _ = (a, b);
    let convs = env
        .store
        .conversations(&ConversationFilter::default())
        .await
        .unwrap();
    assert_eq!(convs.len(), 1);
    assert_eq!(env.store.count_messages(None).await.unwrap(), 200);
}

async fn unreadable_entries_are_parked_not_lost(env: Env) {
    let router = env.plain_router();
    env.stream.append(INBOUND, "{not json").await.unwrap();
    let good = env.envelope("v", "ok", "fine");
    env.inbound(&good).await;
    drain(&router).await;
    assert_eq!(env.store.count_messages(None).await.unwrap(), 1);
    let parked: Vec<(String, String)> = sqlx::query_as("SELECT payload, error FROM stream_parked")
        .fetch_all(env.store.pool())
        .await
        .unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].0, "{not json");
    assert!(
        parked[0].1.contains("unreadable envelope"),
        "{}",
        parked[0].1
    );
    assert_eq!(
        env.stream
            .depth(INBOUND, switchboard_core::router::GROUP)
            .await
            .unwrap(),
        0
    );
}

#[derive(Debug)]
struct ScriptedBot;

#[async_trait]
impl BotHook for ScriptedBot {
    async fn on_message(&self, ingested: &Ingested) -> switchboard_core::Result<BotDecision> {
        Ok(if ingested.message.text.contains("human") {
            BotDecision::Handoff {
                tier: Tier::N2,
                reason: "asked for a person".into(),
            }
        } else {
            BotDecision::Reply {
                text: format!("echo: {}", ingested.message.text),
            }
        })
    }
}

async fn bot_replies_and_hands_off(env: Env) {
    let router = env.router("r1", Arc::new(ScriptedBot));
    let e = env.envelope("v", "1", "opening hours?");
    env.inbound(&e).await;
    drain(&router).await;
    let conv = env
        .store
        .conversations(&ConversationFilter::default())
        .await
        .unwrap()
        .remove(0);
    let thread = env.store.messages(&conv.id, None, 0).await.unwrap();
    assert_eq!(thread.len(), 2);
    assert_eq!(thread[1].author_kind, AuthorKind::Bot);
    assert_eq!(thread[1].text, "echo: opening hours?");
    assert_eq!(thread[1].delivery_state, DeliveryState::Queued);
    // Its delivery job is on the outbound stream.
    env.stream
        .ensure_group(switchboard_core::stream::OUTBOUND, "dispatcher")
        .await
        .unwrap();
    assert_eq!(
        env.stream
            .depth(switchboard_core::stream::OUTBOUND, "dispatcher")
            .await
            .unwrap(),
        1
    );

    let e = env.envelope("v", "2", "I want a human");
    env.inbound(&e).await;
    drain(&router).await;
    let conv = env.store.conversation(&conv.id).await.unwrap();
    assert_eq!(conv.tier, Tier::N2);
    let reason: String = sqlx::query_scalar("SELECT payload FROM events WHERE kind = 'handoff'")
        .fetch_one(env.store.pool())
        .await
        .unwrap();
    assert!(reason.contains("asked for a person"));
}

async fn a_dead_routers_batch_is_finished_by_another(env: Env) {
    let mut dead = env.router("dead", Arc::new(switchboard_core::router::NoBot));
    dead.options.reclaim_idle = Duration::from_millis(100);
    for i in 0..5 {
        let e = env.envelope("v", &format!("{i}"), "x");
        env.inbound(&e).await;
    }
    // The dead router read the entries and never processed them.
    let taken = env
        .stream
        .read(
            INBOUND,
            switchboard_core::router::GROUP,
            "dead",
            10,
            Duration::from_millis(50),
        )
        .await
        .unwrap();
    assert_eq!(taken.len(), 5);
    let mut alive = env.router("alive", Arc::new(switchboard_core::router::NoBot));
    alive.options.reclaim_idle = Duration::from_millis(100);
    assert_eq!(alive.step(Duration::from_millis(10)).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(alive.housekeeping().await.unwrap(), 5);
    assert_eq!(env.store.count_messages(None).await.unwrap(), 5);
    assert_eq!(
        env.stream
            .depth(INBOUND, switchboard_core::router::GROUP)
            .await
            .unwrap(),
        0
    );
}
