//! The router on every backend: threading from the stream, replays, bursts across
//! consumers, poison entries, realtime events and the bot hook.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use switchboard_core::error::{Error, Result};
use switchboard_core::realtime::{Event, Realtime};
use switchboard_core::store::ConversationFilter;
use switchboard_core::stream::{Entry, INBOUND, Stream};

use crate::on_every_backend;
use crate::support::Env;

on_every_backend!(
    routes_and_publishes,
    replayed_entries_are_stored_once,
    two_routers_one_burst_one_conversation,
    unreadable_entries_are_parked_not_lost,
    a_dead_routers_batch_is_finished_by_another,
    two_nodes_storing_the_same_new_senders_in_either_order_never_deadlock,
    a_read_whose_reply_was_lost_is_redone_when_the_stream_answers,
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
    let r1 = env.router("r1");
    let r2 = env.router("r2");
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

async fn a_dead_routers_batch_is_finished_by_another(env: Env) {
    let mut dead = env.router("dead");
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
    let mut alive = env.router("alive");
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

/// Every subscriber of a node gets the same shared event, and its JSON is the event as
/// `serde_json` writes it: on the in-process bus and through Redis, where it is the text
/// that was published.
#[tokio::test]
async fn subscribers_share_each_event_and_its_json_on_both_buses() {
    use switchboard_core::realtime::{LocalRealtime, RedisRealtime};
    let shutdown = tokio_util::sync::CancellationToken::new();
    let redis = RedisRealtime::connect(
        redis::Client::open(crate::support::redis_url()).unwrap(),
        &format!("sbt:{}", uuid::Uuid::new_v4().simple()),
        shutdown.clone(),
    )
    .await
    .unwrap();
    let buses: [Arc<dyn Realtime>; 2] = [Arc::new(LocalRealtime::default()), Arc::new(redis)];
    for bus in buses {
        let mut a = bus.subscribe();
        let mut b = bus.subscribe();
        let event = Event::Typing {
            scope: None,
            contact_id: "contact-1".into(),
            from: "contact".into(),
            on: true,
        };
        bus.publish(&event).await.unwrap();
        let wait = Duration::from_secs(5);
        let first = tokio::time::timeout(wait, a.recv_shared())
            .await
            .unwrap()
            .unwrap();
        let second = tokio::time::timeout(wait, b.recv_shared())
            .await
            .unwrap()
            .unwrap();
        assert!(
            Arc::ptr_eq(&first, &second),
            "one value for all subscribers"
        );
        assert_eq!(first.event(), &event);
        assert_eq!(first.json(), serde_json::to_string(&event).unwrap());
        assert!(std::ptr::eq(first.json(), second.json()), "written once");
    }
    shutdown.cancel();
}

/// Two nodes' routers read the first messages of the same new visitors in opposite
/// orders (each batch holds one message of each), and store them at the same moment:
/// both batches are stored, with one contact and one conversation per visitor, and
/// neither waits on the other in a circle (PostgreSQL's deadlock check would fail one
/// after a second). Red when new identities are inserted in the batch's order.
async fn two_nodes_storing_the_same_new_senders_in_either_order_never_deadlock(env: Env) {
    const PAIRS: usize = 40;
    let started = std::time::Instant::now();
    for i in 0..PAIRS {
        let (x, y) = (format!("x{i}"), format!("y{i}"));
        let one = [
            env.envelope(&x, &format!("{x}-1"), "first"),
            env.envelope(&y, &format!("{y}-1"), "first"),
        ];
        let other = [
            env.envelope(&y, &format!("{y}-2"), "second"),
            env.envelope(&x, &format!("{x}-2"), "second"),
        ];
        let (a, b) = tokio::join!(env.store.ingest_batch(&one), env.store.ingest_batch(&other));
        a.unwrap();
        b.unwrap();
    }
    let conversations = env
        .store
        .conversations(&switchboard_core::store::ConversationFilter {
            limit: 1_000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        conversations.len(),
        2 * PAIRS,
        "one conversation per visitor"
    );
    for c in &conversations {
        assert_eq!(env.store.messages(&c.id, None, 0).await.unwrap().len(), 2);
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

/// A stream that hands out entries and then loses the reply of one read, as a Redis killed
/// after it took entries for a consumer and before its answer arrived: the entries are
/// pending for that consumer and nobody has seen them.
#[derive(Debug)]
struct LosesOneReply {
    inner: Arc<dyn Stream>,
    lose: AtomicBool,
}

#[async_trait::async_trait]
impl Stream for LosesOneReply {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    async fn append(&self, topic: &str, payload: &str) -> Result<String> {
        self.inner.append(topic, payload).await
    }
    async fn append_batch(&self, topic: &str, payloads: &[String]) -> Result<Vec<String>> {
        self.inner.append_batch(topic, payloads).await
    }
    async fn ensure_group(&self, topic: &str, group: &str) -> Result<()> {
        self.inner.ensure_group(topic, group).await
    }
    async fn read(
        &self,
        topic: &str,
        group: &str,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Entry>> {
        let entries = self.inner.read(topic, group, consumer, max, block).await?;
        if !entries.is_empty() && self.lose.swap(false, Ordering::SeqCst) {
            return Err(Error::Stream("connection reset by peer".into()));
        }
        Ok(entries)
    }
    async fn ack(&self, topic: &str, group: &str, ids: &[String]) -> Result<()> {
        self.inner.ack(topic, group, ids).await
    }
    async fn reclaim(
        &self,
        topic: &str,
        group: &str,
        consumer: &str,
        min_idle: Duration,
        max: usize,
    ) -> Result<Vec<Entry>> {
        self.inner
            .reclaim(topic, group, consumer, min_idle, max)
            .await
    }
    async fn reclaim_from_silent(
        &self,
        topic: &str,
        group: &str,
        consumer: &str,
        silent: Duration,
        max: usize,
    ) -> Result<Vec<Entry>> {
        self.inner
            .reclaim_from_silent(topic, group, consumer, silent, max)
            .await
    }
    async fn pending_for(
        &self,
        topic: &str,
        group: &str,
        consumer: &str,
        max: usize,
    ) -> Result<Vec<Entry>> {
        self.inner.pending_for(topic, group, consumer, max).await
    }
    async fn depth(&self, topic: &str, group: &str) -> Result<u64> {
        self.inner.depth(topic, group).await
    }
    async fn trim(&self, topic: &str) -> Result<()> {
        self.inner.trim(topic).await
    }
    async fn health(&self) -> Result<()> {
        self.inner.health().await
    }
    async fn flush(&self) -> Result<()> {
        self.inner.flush().await
    }
}

/// Entries a read took whose reply was lost are this node's own pending ones: the router
/// redoes them as soon as the stream answers again, not after `reclaim_idle`.
async fn a_read_whose_reply_was_lost_is_redone_when_the_stream_answers(env: Env) {
    let mut router = env.plain_router();
    router.options.reclaim_idle = Duration::from_secs(600);
    router.stream = Arc::new(LosesOneReply {
        inner: env.stream.clone(),
        lose: AtomicBool::new(true),
    });
    for i in 0..5 {
        let e = env.envelope("v", &format!("{i}"), &format!("text {i}"));
        env.inbound(&e).await;
    }
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(router.run(shutdown.clone()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut stored = 0;
    while tokio::time::Instant::now() < deadline {
        stored = env.store.count_messages(None).await.unwrap();
        if stored == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    running.await.unwrap();
    assert_eq!(stored, 5, "the entries of the lost reply were not redone");
    assert_eq!(
        env.stream
            .depth(INBOUND, switchboard_core::router::GROUP)
            .await
            .unwrap(),
        0
    );
}
