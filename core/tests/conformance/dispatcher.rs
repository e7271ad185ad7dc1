//! Delivery with retries, backoff and the dead-letter list, on every backend.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use switchboard_core::dispatcher::{
    DispatchOptions, Dispatcher, Outgoing, SendError, SendReceipt, Sender,
};
use switchboard_core::domain::{AuthorKind, Channel, DeliveryState, Message};
use switchboard_core::store::{ConversationFilter, NewOutbound, Queued};

use crate::on_every_backend;
use crate::support::Env;

on_every_backend!(
    fails_three_times_then_delivers_once,
    always_failing_goes_to_dead_letters_and_is_retryable,
    permanent_errors_are_not_retried,
    a_replayed_job_does_not_send_twice,
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
