//! The bot as a consumer group of its own, on every backend: structured answers, handoff,
//! silence once a person joins, exactly once after a crash, and a slow bot that does not
//! slow ingest.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use switchboard_core::bot::{
    BotAnswer, BotDecision, BotHook, BotInput, BotOptions, BotOutcome, BotWorker,
};
use switchboard_core::domain::{ArticleRef, AuthorKind, Handoff, RichContent, Tier};
use switchboard_core::realtime::{Event, Realtime};
use switchboard_core::store::ConversationFilter;
use switchboard_core::stream::INBOUND;
use tokio_util::sync::CancellationToken;

use crate::on_every_backend;
use crate::support::Env;

on_every_backend!(
    the_bot_answers_hands_off_and_then_stays_silent,
    a_crash_between_effect_and_ack_changes_nothing,
    a_slow_bot_does_not_slow_ingest,
    two_deliveries_handled_at_once_ask_the_bot_once,
    a_dead_nodes_message_is_answered_once_it_falls_silent,
);

/// Answers with a quick reply and an article; "person" also hands off to N2.
#[derive(Debug, Default)]
struct Scripted {
    asked: AtomicUsize,
    delay: Duration,
}

#[async_trait]
impl BotHook for Scripted {
    async fn on_message(&self, input: &BotInput<'_>) -> switchboard_core::Result<BotDecision> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        let answer = BotAnswer {
            text: format!("echo: {}", input.message.text),
            content: RichContent {
                quick_replies: vec!["Yes".into(), "Talk to a person".into()],
                articles: vec![ArticleRef {
                    id: "kb-1".into(),
                    title: "Clearing a paper jam".into(),
                    url: "/help/en/paper-jam".into(),
                }],
                ..Default::default()
            },
            confidence: 0.8,
        };
        let handoff = input.message.text.contains("person").then(|| Handoff {
            tier: Tier::N2,
            reason: "asked for a person".into(),
            summary: Some("Asked about a paper jam; offered the jam guide".into()),
        });
        Ok(BotDecision {
            answer: Some(answer),
            handoff,
        })
    }
}

fn worker(env: &Env, consumer: &str, bot: Arc<dyn BotHook>) -> BotWorker {
    BotWorker {
        store: env.store.clone(),
        stream: env.stream.clone(),
        outbox: env.outbox(),
        realtime: env.realtime.clone(),
        ids: env.ids.clone(),
        bot,
        consumer: consumer.into(),
        options: BotOptions {
            reclaim_idle: Duration::from_secs(60),
            ..Default::default()
        },
    }
}

async fn read_bot(env: &Env, consumer: &str) -> Vec<switchboard_core::stream::Entry> {
    env.stream
        .ensure_group(INBOUND, switchboard_core::bot::GROUP)
        .await
        .unwrap();
    env.stream
        .read(
            INBOUND,
            switchboard_core::bot::GROUP,
            consumer,
            100,
            Duration::from_millis(200),
        )
        .await
        .unwrap()
}

/// The stored message of an envelope, and its conversation.
async fn stored(env: &Env, envelope: &switchboard_core::domain::Envelope) -> (String, String) {
    let message_id = env
        .store
        .message_id_by_key(&envelope.idempotency_key())
        .await
        .unwrap()
        .unwrap();
    let conversation_id = env
        .store
        .message(&message_id)
        .await
        .unwrap()
        .conversation_id;
    (message_id, conversation_id)
}

async fn route(env: &Env) {
    let router = env.plain_router();
    while router.step(Duration::from_millis(50)).await.unwrap() > 0 {}
}

async fn the_bot_answers_hands_off_and_then_stays_silent(env: Env) {
    let bot = Arc::new(Scripted::default());
    let w = worker(&env, "b1", bot.clone());
    let mut events = env.realtime.subscribe();
    env.inbound(&env.envelope("v", "1", "paper jam")).await;
    route(&env).await;
    for e in read_bot(&env, "b1").await {
        assert_eq!(w.handle(&e).await.unwrap(), BotOutcome::Answered);
    }
    let conv = env
        .store
        .conversations(&ConversationFilter::default())
        .await
        .unwrap()
        .remove(0);
    let thread = env.store.messages(&conv.id, None, 0).await.unwrap();
    assert_eq!(thread.len(), 2);
    assert_eq!(thread[1].author_kind, AuthorKind::Bot);
    let content = thread[1].content.as_ref().unwrap();
    assert_eq!(content.quick_replies[1], "Talk to a person");
    assert_eq!(content.articles[0].id, "kb-1");

    // Answer and hand off together.
    env.inbound(&env.envelope("v", "2", "I want a person"))
        .await;
    route(&env).await;
    while events.try_recv().is_ok() {}
    for e in read_bot(&env, "b1").await {
        assert_eq!(
            w.handle(&e).await.unwrap(),
            BotOutcome::AnsweredAndHandedOff
        );
    }
    let conv = env.store.conversation(&conv.id).await.unwrap();
    assert_eq!(conv.tier, Tier::N2);
    assert!(!conv.bot_active);
    let mut handoff_seen = false;
    while let Ok(e) = events.try_recv() {
        if let Event::Handoff { scope, handoff } = e {
            assert_eq!(scope.tier, Tier::N2, "the event carries the new scope");
            assert_eq!(handoff.reason, "asked for a person");
            handoff_seen = true;
        }
    }
    assert!(handoff_seen);
    let thread = env.store.messages(&conv.id, None, 0).await.unwrap();
    let system: Vec<_> = thread
        .iter()
        .filter(|m| m.author_kind == AuthorKind::System)
        .collect();
    assert_eq!(system.len(), 1);
    assert!(system[0].text.contains("asked for a person"));
    assert!(system[0].text.contains("offered the jam guide"));

    // A person is involved now: the bot never speaks here again.
    let asked = bot.asked.load(Ordering::SeqCst);
    env.inbound(&env.envelope("v", "3", "hello?")).await;
    route(&env).await;
    for e in read_bot(&env, "b1").await {
        assert_eq!(w.handle(&e).await.unwrap(), BotOutcome::Skipped);
    }
    assert_eq!(bot.asked.load(Ordering::SeqCst), asked, "not even asked");
    assert_eq!(env.count_by(&conv.id, AuthorKind::Bot).await, 2);

    // An agent reply in another conversation silences the bot there too, even for a
    // message the bot is asked about afterwards.
    env.inbound(&env.envelope("w", "w1", "hi")).await;
    route(&env).await;
    let other = env
        .store
        .conversations(&ConversationFilter::default())
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id != conv.id)
        .unwrap();
    env.agent_says(&other.id, "Hi, Bea here").await;
    for e in read_bot(&env, "b1").await {
        assert_eq!(w.handle(&e).await.unwrap(), BotOutcome::Skipped);
    }
    assert_eq!(env.count_by(&other.id, AuthorKind::Bot).await, 0);
}

async fn a_crash_between_effect_and_ack_changes_nothing(env: Env) {
    let bot = Arc::new(Scripted::default());
    env.inbound(&env.envelope("v", "1", "paper jam")).await;
    route(&env).await;
    // The first worker applies the bot's answer and dies before acknowledging.
    let crashed = worker(&env, "node-a-bot", bot.clone());
    for e in read_bot(&env, "node-a-bot").await {
        crashed.handle(&e).await.unwrap();
    }
    // Even had it died before recording its run, the answer's key keeps it single.
    sqlx::query("DELETE FROM bot_runs")
        .execute(env.store.pool())
        .await
        .unwrap();
    // The node restarts: its worker resumes the pending entry.
    let stop = CancellationToken::new();
    let restarted = tokio::spawn(worker(&env, "node-a-bot", bot.clone()).run(stop.clone()));
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.cancel();
    restarted.await.unwrap();
    let conv = env
        .store
        .conversations(&ConversationFilter::default())
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        env.count_by(&conv.id, AuthorKind::Bot).await,
        1,
        "answered exactly once"
    );
    assert_eq!(
        env.stream
            .depth(INBOUND, switchboard_core::bot::GROUP)
            .await
            .unwrap(),
        0,
        "and acknowledged"
    );
}

async fn a_slow_bot_does_not_slow_ingest(env: Env) {
    const N: usize = 100;
    let router_run = |env: &Env, stop: CancellationToken| {
        let mut r = env.router("r-slow");
        r.options.block = Duration::from_millis(50);
        tokio::spawn(r.run(stop))
    };
    let stored = |env: &Env| {
        let store = env.store.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM messages WHERE direction = 'inbound'",
            )
            .fetch_one(store.pool())
            .await
            .unwrap()
        }
    };
    let ingest = |env: &Env, round: usize| {
        let envelopes: Vec<String> = (0..N)
            .map(|i| {
                serde_json::to_string(&env.envelope(
                    &format!("s{round}-{i}"),
                    &format!("{round}-{i}"),
                    "hi",
                ))
                .unwrap()
            })
            .collect();
        let stream = env.stream.clone();
        async move { stream.append_batch(INBOUND, &envelopes).await.unwrap() }
    };

    // Without a bot.
    let stop = CancellationToken::new();
    let router = router_run(&env, stop.clone());
    let t0 = tokio::time::Instant::now();
    ingest(&env, 0).await;
    while stored(&env).await < N as i64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let without = t0.elapsed();

    // With a bot that takes 2 s per message, running beside the router.
    let bot = Arc::new(Scripted {
        delay: Duration::from_secs(2),
        ..Default::default()
    });
    let mut w = worker(&env, "slow-bot", bot.clone());
    w.options.concurrency = N;
    let bot_task = tokio::spawn(w.run(stop.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t1 = tokio::time::Instant::now();
    ingest(&env, 1).await;
    while stored(&env).await < 2 * N as i64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let with = t1.elapsed();
    assert!(
        with < without * 3 + Duration::from_millis(500) && with < Duration::from_secs(2),
        "ingest of {N} took {without:?} without the bot and {with:?} with a 2 s bot"
    );
    // The bot answers every message of both rounds, each once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let answers: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages WHERE author_kind = 'bot' AND direction = 'outbound'",
        )
        .fetch_one(env.store.pool())
        .await
        .unwrap();
        if answers == 2 * N as i64 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{answers} answers");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    let _ = tokio::join!(router, bot_task);
    assert_eq!(bot.asked.load(Ordering::SeqCst), 2 * N);
}

async fn two_deliveries_handled_at_once_ask_the_bot_once(env: Env) {
    let bot = Arc::new(Scripted {
        delay: Duration::from_millis(300),
        ..Default::default()
    });
    // A replayed webhook: the same message enters the stream twice.
    let envelope = env.envelope("v", "1", "reading 12345");
    env.inbound(&envelope).await;
    env.inbound(&envelope).await;
    route(&env).await;
    let entries = read_bot(&env, "b1").await;
    assert_eq!(entries.len(), 2, "both deliveries reach the bot");
    let a = worker(&env, "b1", bot.clone());
    let b = worker(&env, "b2", bot.clone());
    let (x, y) = tokio::join!(a.handle(&entries[0]), b.handle(&entries[1]));
    assert_eq!(bot.asked.load(Ordering::SeqCst), 1, "{x:?} {y:?}");
    // The one that found the other's claim left its entry for later (the other might
    // have died before finishing); tried again, it finds the run done.
    let (done, later) = if x.is_ok() { (x, 1) } else { (y, 0) };
    assert_eq!(done.unwrap(), BotOutcome::Answered);
    let again = if later == 1 { &b } else { &a };
    assert_eq!(
        again.handle(&entries[later]).await.unwrap(),
        BotOutcome::Skipped
    );
    assert_eq!(bot.asked.load(Ordering::SeqCst), 1);

    // A claim left by a worker that died is taken over once it is older than the lease.
    let envelope = env.envelope("w", "2", "another reading");
    env.inbound(&envelope).await;
    route(&env).await;
    let entries = read_bot(&env, "b1").await;
    let (message_id, conversation_id) = stored(&env, &envelope).await;
    sqlx::query(
        "INSERT INTO bot_runs (message_id, conversation_id, outcome, created_at) VALUES ($1, $2, 'running', 1)",
    )
    .bind(&message_id)
    .bind(&conversation_id)
    .execute(env.store.pool())
    .await
    .unwrap();
    for e in &entries {
        a.handle(e).await.unwrap();
    }
    assert_eq!(
        bot.asked.load(Ordering::SeqCst),
        2,
        "the stale claim was taken over"
    );
    let outcome: String = sqlx::query_scalar("SELECT outcome FROM bot_runs WHERE message_id = $1")
        .bind(&message_id)
        .fetch_one(env.store.pool())
        .await
        .unwrap();
    assert_eq!(outcome, "answered", "the run was finished and recorded");
}

/// A node reads a message, claims the bot's run on it, and dies before answering. On
/// Redis another node takes the entry and the claim once the dead node has been silent
/// for `silent_after`, long before `reclaim_idle`, and answers once; one process's
/// embedded stream has no other node to take over from.
async fn a_dead_nodes_message_is_answered_once_it_falls_silent(env: Env) {
    const SILENT: Duration = Duration::from_millis(500);
    let bot = Arc::new(Scripted::default());
    let envelope = env.envelope("v", "1", "the copier shows J-22");
    env.inbound(&envelope).await;
    route(&env).await;
    let taken = read_bot(&env, "node-a-bot").await;
    assert_eq!(taken.len(), 1);
    let (message_id, conversation_id) = stored(&env, &envelope).await;
    let now = env.ids.now_ms();
    let claim = env
        .store
        .claim_bot_run(&message_id, &conversation_id, now, now - 30_000)
        .await
        .unwrap();
    assert_eq!(claim, switchboard_core::store::BotClaim::Mine);
    // node-a dies here, its claim and its entry left behind.
    let mut live = worker(&env, "node-b-bot", bot.clone());
    live.options.silent_after = SILENT;
    let live = Arc::new(live);
    // While node-a may be alive, nothing is taken.
    assert_eq!(live.housekeeping().await.unwrap(), 0);
    tokio::time::sleep(SILENT + Duration::from_millis(200)).await;
    let took = live.housekeeping().await.unwrap();
    let answers = env.count_by(&conversation_id, AuthorKind::Bot).await;
    if env.stream.kind() == "redis" {
        assert_eq!((took, answers), (1, 1), "taken over and answered");
        assert_eq!(
            env.stream
                .depth(INBOUND, switchboard_core::bot::GROUP)
                .await
                .unwrap(),
            0,
            "and acknowledged"
        );
        // Again later: nothing more.
        tokio::time::sleep(SILENT + Duration::from_millis(200)).await;
        assert_eq!(live.housekeeping().await.unwrap(), 0);
    } else {
        assert_eq!((took, answers), (0, 0));
    }
    assert_eq!(
        env.count_by(&conversation_id, AuthorKind::Bot).await,
        answers
    );
    assert_eq!(bot.asked.load(Ordering::SeqCst), answers);
}
