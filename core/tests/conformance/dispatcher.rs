//! Delivery with retries, backoff and the dead-letter list, on every backend.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use switchboard_core::clock::{Ids, ManualClock};
use switchboard_core::dispatcher::{
    DispatchOptions, Dispatcher, Outgoing, SendError, SendReceipt, Sender,
};
use switchboard_core::domain::{AuthorKind, Channel, DeliveryState, Message};
use switchboard_core::store::{Backend, ConversationFilter, NewOutbound, Queued};

use crate::on_every_backend;
use crate::support::Env;

on_every_backend!(
    fails_three_times_then_delivers_once,
    always_failing_goes_to_dead_letters_and_is_retryable,
    permanent_errors_are_not_retried,
    a_replayed_job_does_not_send_twice,
    housekeeping_folds_search_words_older_than_a_minute,
    a_dead_nodes_job_is_sent_once_it_falls_silent,
);

/// Fails the first `fail_first` sends (or all of them while `always_fail` is set).
#[derive(Debug, Default)]
struct Flaky {
    fail_first: usize,
    permanent: bool,
    always_fail: std::sync::atomic::AtomicBool,
    calls: AtomicUsize,
    delivered: AtomicUsize,
}

#[async_trait]
impl Sender for Flaky {
    fn channel(&self) -> Channel {
        Channel::Webchat
    }
    async fn send(&self, out: &Outgoing) -> Result<SendReceipt, SendError> {
        let m = &out.message;
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if self.permanent {
            return Err(SendError::Permanent("address rejected".into()));
        }
        if n < self.fail_first || self.always_fail.load(Ordering::SeqCst) {
            return Err(SendError::transient(format!("timeout on call {n}")));
        }
        self.delivered.fetch_add(1, Ordering::SeqCst);
        Ok(SendReceipt {
            external_id: Some(format!("ext-{}", m.id)),
        })
    }
}

async fn setup(env: &Env, sender: Arc<Flaky>) -> (Dispatcher, Message) {
    env.store
        .ingest_batch(&[env.envelope("v", "1", "help")])
        .await
        .unwrap();
    let conv = env
        .store
        .conversations(&ConversationFilter::default())
        .await
        .unwrap()
        .remove(0);
    let outbox = env.outbox();
    let Queued::New(message, _) = outbox
        .queue(&NewOutbound::text(
            &conv.id,
            AuthorKind::Agent,
            None,
            "on it",
        ))
        .await
        .unwrap()
    else {
        panic!("queued")
    };
    let mut senders: HashMap<Channel, Arc<dyn Sender>> = HashMap::new();
    senders.insert(Channel::Webchat, sender);
    let dispatcher = Dispatcher::new(
        outbox,
        senders,
        env.metrics.clone(),
        "d1".into(),
        DispatchOptions {
            max_attempts: 5,
            backoff_base: Duration::from_millis(5),
            backoff_max: Duration::from_millis(40),
            ..Default::default()
        },
    );
    (dispatcher, message)
}

async fn fails_three_times_then_delivers_once(env: Env) {
    let sender = Arc::new(Flaky {
        fail_first: 3,
        ..Default::default()
    });
    let (d, m) = setup(&env, sender.clone()).await;
    settle(&d, &env, &m.id).await;
    assert_eq!(sender.calls.load(Ordering::SeqCst), 4);
    assert_eq!(sender.delivered.load(Ordering::SeqCst), 1);
    let m = env.store.message(&m.id).await.unwrap();
    assert_eq!(m.delivery_state, DeliveryState::Sent);
    assert_eq!(
        m.external_id.as_deref(),
        Some(format!("ext-{}", m.id).as_str())
    );
    let attempts: i64 = sqlx::query_scalar("SELECT attempts FROM messages WHERE id = $1")
        .bind(&m.id)
        .fetch_one(env.store.pool())
        .await
        .unwrap();
    assert_eq!(attempts, 4);
    assert!(env.store.dead_letters().await.unwrap().is_empty());
}

async fn always_failing_goes_to_dead_letters_and_is_retryable(env: Env) {
    let sender = Arc::new(Flaky::default());
    sender.always_fail.store(true, Ordering::SeqCst);
    let (d, m) = setup(&env, sender.clone()).await;
    settle(&d, &env, &m.id).await;
    assert_eq!(sender.calls.load(Ordering::SeqCst), 5);
    let dead = env.store.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].message_id, m.id);
    assert_eq!(dead[0].attempts, 5);
    assert!(dead[0].error.contains("timeout"), "{}", dead[0].error);
    assert_eq!(
        env.store.message(&m.id).await.unwrap().delivery_state,
        DeliveryState::Failed
    );

    // The channel recovers; an admin retries the dead letter.
    sender.always_fail.store(false, Ordering::SeqCst);
    d.outbox.retry_dead_letter(&dead[0].id).await.unwrap();
    assert!(env.store.dead_letters().await.unwrap().is_empty());
    d.step(Duration::from_millis(200)).await.unwrap();
    assert_eq!(
        env.store.message(&m.id).await.unwrap().delivery_state,
        DeliveryState::Sent
    );
    assert_eq!(sender.delivered.load(Ordering::SeqCst), 1);
    assert!(
        d.outbox.retry_dead_letter(&dead[0].id).await.is_err(),
        "a dead letter is retried once"
    );
}

async fn permanent_errors_are_not_retried(env: Env) {
    let sender = Arc::new(Flaky {
        permanent: true,
        ..Default::default()
    });
    let (d, _) = setup(&env, sender.clone()).await;
    d.step(Duration::from_millis(200)).await.unwrap();
    assert_eq!(sender.calls.load(Ordering::SeqCst), 1);
    assert_eq!(env.store.dead_letters().await.unwrap().len(), 1);
}

async fn a_replayed_job_does_not_send_twice(env: Env) {
    let sender = Arc::new(Flaky::default());
    let (d, m) = setup(&env, sender.clone()).await;
    d.outbox.enqueue(&m.id).await.unwrap();
    d.outbox.enqueue(&m.id).await.unwrap();
    while d.step(Duration::from_millis(100)).await.unwrap() > 0 {}
    assert_eq!(sender.delivered.load(Ordering::SeqCst), 1);
}

/// A node takes a job and dies before sending it. On Redis another node's housekeeping
/// sends it once the dead node has been silent for `silent_after`, long before
/// `reclaim_idle`, and only once; one process's embedded stream has no other node.
async fn a_dead_nodes_job_is_sent_once_it_falls_silent(env: Env) {
    use switchboard_core::dispatcher::GROUP;
    use switchboard_core::stream::OUTBOUND;
    const SILENT: Duration = Duration::from_millis(500);
    let sender = Arc::new(Flaky::default());
    let (mut d, m) = setup(&env, sender.clone()).await;
    d.options.silent_after = SILENT;
    env.stream.ensure_group(OUTBOUND, GROUP).await.unwrap();
    let taken = env
        .stream
        .read(OUTBOUND, GROUP, "node-a", 10, Duration::from_millis(50))
        .await
        .unwrap();
    assert_eq!(taken.len(), 1, "node-a took the job");
    // node-a dies here. While it may be alive, nothing is taken from it.
    d.housekeeping().await.unwrap();
    assert_eq!(sender.calls.load(Ordering::SeqCst), 0);
    tokio::time::sleep(SILENT + Duration::from_millis(200)).await;
    d.housekeeping().await.unwrap();
    let redis = env.stream.kind() == "redis";
    assert_eq!(sender.delivered.load(Ordering::SeqCst), usize::from(redis));
    let state = env.store.message(&m.id).await.unwrap().delivery_state;
    assert_eq!(
        state,
        if redis {
            DeliveryState::Sent
        } else {
            DeliveryState::Queued
        }
    );
    // Later housekeeping sends nothing more.
    tokio::time::sleep(SILENT + Duration::from_millis(200)).await;
    d.housekeeping().await.unwrap();
    assert_eq!(sender.calls.load(Ordering::SeqCst), usize::from(redis));
}

/// The dispatcher's housekeeping folds PostgreSQL's search words rows of messages older
/// than a minute into their conversations' search rows (migration 40) and leaves newer
/// ones; SQLite has nothing to fold.
async fn housekeeping_folds_search_words_older_than_a_minute(env: Env) {
    let (d, fresh) = setup(&env, Arc::new(Flaky::default())).await;
    let two_minutes_ago = Ids::new(Arc::new(ManualClock::new(env.ids.now_ms() - 120_000)));
    let mut old = env.envelope("w", "2", "impressora antiga");
    old.id = two_minutes_ago.new_id();
    env.store.ingest_batch(&[old.clone()]).await.unwrap();
    let rows = |id: String| {
        let pool = env.store.pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM conversation_words WHERE first_message_id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    if env.store.backend() == Backend::Postgres {
        assert_eq!(rows(old.id.clone()).await, 1);
    }
    d.step(Duration::from_millis(20)).await.unwrap();
    d.housekeeping().await.unwrap();
    if env.store.backend() == Backend::Postgres {
        assert_eq!(rows(old.id.clone()).await, 0, "folded");
        assert_eq!(rows(fresh.id.clone()).await, 1, "too new to fold");
    }
}

/// Runs the dispatcher (reads and its schedule sweep) until the message is sent or failed.
pub async fn settle(d: &Dispatcher, env: &Env, message_id: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        d.step(Duration::from_millis(20)).await.unwrap();
        d.housekeeping().await.unwrap();
        let state = env.store.message(message_id).await.unwrap().delivery_state;
        if matches!(state, DeliveryState::Sent | DeliveryState::Failed) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {state} after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

mod second_pass {
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use async_trait::async_trait;
    use switchboard_core::dispatcher::{
        DispatchOptions, Dispatcher, Outgoing, SendError, SendReceipt, Sender,
    };
    use switchboard_core::domain::{AuthorKind, Channel, DeliveryState, Identity, RichContent};
    use switchboard_core::store::{NewOutbound, Queued};
    use tokio_util::sync::CancellationToken;

    use crate::on_every_backend;
    use crate::support::Env;

    on_every_backend!(
        senders_get_recipients_thread_settings_and_content,
        a_down_channel_does_not_slow_the_others,
        a_send_that_hangs_past_reclaim_is_never_sent_twice,
        the_sweep_does_not_requeue_a_backlog_every_time,
    );

    /// Records what it was given; fails the first call with a retry-after.
    #[derive(Debug, Default)]
    struct Recorder {
        seen: std::sync::Mutex<Vec<Outgoing>>,
    }

    #[async_trait]
    impl Sender for Recorder {
        fn channel(&self) -> Channel {
            Channel::Email
        }
        async fn send(&self, out: &Outgoing) -> Result<SendReceipt, SendError> {
            let mut seen = self.seen.lock().unwrap();
            seen.push(out.clone());
            if seen.len() == 1 {
                return Err(SendError::Transient {
                    error: "421 try later".into(),
                    retry_after: Some(Duration::from_secs(120)),
                });
            }
            Ok(SendReceipt {
                external_id: Some(format!("<{}@sb>", out.message.id)),
            })
        }
    }

    fn dispatcher(
        env: &Env,
        name: &str,
        senders: Vec<Arc<dyn Sender>>,
        o: DispatchOptions,
    ) -> Dispatcher {
        let map: HashMap<Channel, Arc<dyn Sender>> =
            senders.into_iter().map(|s| (s.channel(), s)).collect();
        Dispatcher::new(env.outbox(), map, env.metrics.clone(), name.into(), o)
    }

    async fn queue(env: &Env, conversation: &str, text: &str) -> String {
        env.agent_says(conversation, text).await.id
    }

    async fn conversation(env: &Env, e: switchboard_core::domain::Envelope) -> String {
        env.open(e).await
    }

    async fn senders_get_recipients_thread_settings_and_content(env: Env) {
        let mut e = env.email("ana@x.com", "<q1@x>", "question");
        e.subject = Some("Printer E-302".into());
        e.cc = vec![Identity::email("carol@x.com").unwrap()];
        let conv = conversation(&env, e).await;
        env.store
            .put_inbox(
                &env.ids,
                "email:support",
                Channel::Email,
                &serde_json::json!({"from": "support@shop.example"}),
            )
            .await
            .unwrap();
        let mut new = NewOutbound::text(&conv, AuthorKind::Agent, None, "Did this solve it?");
        new.content = Some(RichContent {
            quick_replies: vec!["Yes".into(), "Talk to a person".into()],
            ..Default::default()
        });
        let Queued::New(m, _) = env.outbox().queue(&new).await.unwrap() else {
            panic!()
        };
        let rec = Arc::new(Recorder::default());
        let d = dispatcher(&env, "d1", vec![rec.clone()], DispatchOptions::default());
        d.step(Duration::from_millis(200)).await.unwrap();
        // The transient failure's retry-after is kept in the database; the worker is free.
        let (state, ..) = env.store.delivery(&m.id).await.unwrap();
        assert_eq!(state, DeliveryState::Queued);
        let next: i64 = sqlx::query_scalar("SELECT next_attempt_at FROM messages WHERE id = $1")
            .bind(&m.id)
            .fetch_one(env.store.pool())
            .await
            .unwrap();
        let wait = next - env.ids.now_ms();
        assert!((100_000..=121_000).contains(&wait), "retry in {wait} ms");
        let seen = rec.seen.lock().unwrap().clone();
        let out = &seen[0];
        let to: Vec<(&str, &str)> = out
            .recipients
            .iter()
            .map(|r| (r.identity.value(), r.role))
            .collect();
        assert_eq!(to, vec![("ana@x.com", "to"), ("carol@x.com", "cc")]);
        assert_eq!(out.references, vec!["<q1@x>".to_owned()]);
        assert_eq!(out.subject.as_deref(), Some("Printer E-302"));
        assert_eq!(out.inbox_settings["from"], "support@shop.example");
        assert_eq!(
            out.message.content.as_ref().unwrap().quick_replies,
            vec!["Yes".to_owned(), "Talk to a person".to_owned()]
        );
    }

    /// Never answers (a channel that is down and times out).
    #[derive(Debug, Default)]
    struct Hanging {
        calls: AtomicUsize,
    }

    #[async_trait]
    impl Sender for Hanging {
        fn channel(&self) -> Channel {
            Channel::Email
        }
        async fn send(&self, _: &Outgoing) -> Result<SendReceipt, SendError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(60)).await;
            Err(SendError::transient("never"))
        }
    }

    #[derive(Debug, Default)]
    struct Instant {
        sent: AtomicUsize,
    }

    #[async_trait]
    impl Sender for Instant {
        fn channel(&self) -> Channel {
            Channel::Webchat
        }
        async fn send(&self, o: &Outgoing) -> Result<SendReceipt, SendError> {
            self.sent.fetch_add(1, Ordering::SeqCst);
            Ok(SendReceipt {
                external_id: Some(o.message.id.clone()),
            })
        }
    }

    async fn a_down_channel_does_not_slow_the_others(env: Env) {
        let mail = conversation(&env, env.email("ana@x.com", "<m@x>", "hi")).await;
        let chat = conversation(&env, env.envelope("v", "1", "hi")).await;
        for i in 0..30 {
            queue(&env, &mail, &format!("mail {i}")).await;
        }
        let mut chats = Vec::new();
        for i in 0..10 {
            chats.push(queue(&env, &chat, &format!("chat {i}")).await);
        }
        let hanging = Arc::new(Hanging::default());
        let instant = Arc::new(Instant::default());
        let d = dispatcher(
            &env,
            "d1",
            vec![hanging.clone(), instant.clone()],
            DispatchOptions {
                concurrency: 8,
                per_channel: 4,
                send_timeout: Duration::from_secs(30),
                lease: Duration::from_secs(45),
                sweep_every: Duration::from_millis(100),
                ..Default::default()
            },
        );
        let stop = CancellationToken::new();
        let started = tokio::time::Instant::now();
        let task = tokio::spawn(d.run(stop.clone()));
        loop {
            let mut done = 0;
            for id in &chats {
                if env.store.delivery(id).await.unwrap().0 == DeliveryState::Sent {
                    done += 1;
                }
            }
            if done == chats.len() {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "web chat held up: {done} sent"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(instant.sent.load(Ordering::SeqCst), 10);
        assert!(
            hanging.calls.load(Ordering::SeqCst) <= 4,
            "at most per_channel hung sends"
        );
        stop.cancel();
        task.abort();
    }

    /// Hangs on its first call for longer than the reclaim time; answers later calls.
    /// Counts overlapping calls for the same message.
    #[derive(Debug, Default)]
    struct SlowFirst {
        calls: AtomicUsize,
        in_flight: AtomicUsize,
        overlap: AtomicUsize,
        completed: AtomicUsize,
    }

    struct Flight<'a>(&'a AtomicUsize);
    impl Drop for Flight<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[async_trait]
    impl Sender for SlowFirst {
        fn channel(&self) -> Channel {
            Channel::Webchat
        }
        async fn send(&self, o: &Outgoing) -> Result<SendReceipt, SendError> {
            if self.in_flight.fetch_add(1, Ordering::SeqCst) > 0 {
                self.overlap.fetch_add(1, Ordering::SeqCst);
            }
            let _flight = Flight(&self.in_flight);
            if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            self.completed.fetch_add(1, Ordering::SeqCst);
            Ok(SendReceipt {
                external_id: Some(o.message.id.clone()),
            })
        }
    }

    async fn a_send_that_hangs_past_reclaim_is_never_sent_twice(env: Env) {
        let chat = conversation(&env, env.envelope("v", "1", "hi")).await;
        let id = queue(&env, &chat, "once only").await;
        let sender = Arc::new(SlowFirst::default());
        let options = DispatchOptions {
            reclaim_idle: Duration::from_millis(100),
            send_timeout: Duration::from_millis(700),
            lease: Duration::from_millis(1000),
            sweep_every: Duration::from_millis(50),
            backoff_base: Duration::from_millis(10),
            ..Default::default()
        };
        let d1 = dispatcher(&env, "d1", vec![sender.clone()], options.clone());
        let d2 = dispatcher(&env, "d2", vec![sender.clone()], options);
        let stop = CancellationToken::new();
        let t1 = tokio::spawn(d1.run(stop.clone()));
        let t2 = tokio::spawn(d2.run(stop.clone()));
        let started = tokio::time::Instant::now();
        while env.store.delivery(&id).await.unwrap().0 != DeliveryState::Sent {
            assert!(started.elapsed() < Duration::from_secs(8), "not sent");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Both nodes keep sweeping and reclaiming for a while: nothing more goes out.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        stop.cancel();
        let _ = tokio::join!(t1, t2);
        assert_eq!(
            sender.overlap.load(Ordering::SeqCst),
            0,
            "never two sends at once"
        );
        assert_eq!(
            sender.completed.load(Ordering::SeqCst),
            1,
            "sent exactly once"
        );
        assert!(
            sender.calls.load(Ordering::SeqCst) >= 2,
            "the hung call was abandoned"
        );
    }

    async fn the_sweep_does_not_requeue_a_backlog_every_time(env: Env) {
        let chat = conversation(&env, env.envelope("v", "1", "hi")).await;
        for i in 0..50 {
            queue(&env, &chat, &format!("backlog {i}")).await;
        }
        let now = env.ids.now_ms();
        // Freshly queued messages have their jobs on the stream: nothing to sweep.
        assert!(
            env.store
                .take_due(now, 300_000, 500)
                .await
                .unwrap()
                .is_empty()
        );
        // Long after, still queued (a lost job, or a long backlog): swept once ...
        let later = now + 301_000;
        assert_eq!(
            env.store.take_due(later, 300_000, 500).await.unwrap().len(),
            50
        );
        // ... and not again at the next sweep, nor a minute on.
        assert!(
            env.store
                .take_due(later + 1_000, 300_000, 500)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            env.store
                .take_due(later + 60_000, 300_000, 500)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
