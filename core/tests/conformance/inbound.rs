//! What flows in, on every backend: envelope v2 through the stream, noise set aside,
//! delivery receipts, and batch appends.

use std::time::Duration;

use switchboard_core::blob::{BlobKind, BlobStore, LocalBlobStore};
use switchboard_core::domain::Attachment;
use switchboard_core::domain::{Channel, DeliveryState, Identity, Inbound, Receipt};
use switchboard_core::html::SanitizedHtml;
use switchboard_core::realtime::{Event, Realtime};
use switchboard_core::store::{ConversationFilter, IngestOutcome};
use switchboard_core::stream::INBOUND;

use crate::on_every_backend;
use crate::support::Env;

on_every_backend!(
    envelope_v2_keeps_everything_through_stream_and_store,
    auto_submitted_mail_opens_nothing_and_is_kept,
    receipts_move_forward_and_wait_for_unknown_messages,
    a_batch_is_appended_and_acknowledged_in_one_call,
    blobs_nothing_refers_to_are_collected,
);

/// A stored file that no message carries (an upload never sent, a refused form's) is
/// deleted once it is older than the collector's limit; one a message carries stays.
async fn blobs_nothing_refers_to_are_collected(env: Env) {
    let dir = tempfile::tempdir().unwrap();
    let blobs = LocalBlobStore::new(dir.path());
    let kept = blobs
        .put(BlobKind::Attachment, b"%PDF-1.4 the meter reading")
        .await
        .unwrap();
    let stray = blobs
        .put(BlobKind::Attachment, b"%PDF-1.4 never sent")
        .await
        .unwrap();
    let mut e = env.email("ana@x.com", "<gc@x>", "The reading, attached.");
    e.attachments = vec![Attachment {
        name: "reading.pdf".into(),
        mime: "application/pdf".into(),
        size: kept.size(),
        blob: kept.key().clone(),
        content_id: None,
    }];
    env.stream
        .append(INBOUND, &serde_json::to_string(&e).unwrap())
        .await
        .unwrap();
    drain(&env).await;
    // Files carry the wall clock's time.
    let wall = |offset: i64| {
        use switchboard_core::clock::Clock;
        switchboard_core::clock::SystemClock.now_ms() + offset
    };
    // Younger than the limit: nothing goes.
    assert_eq!(
        env.store
            .collect_blobs(&blobs, wall(-3_600_000))
            .await
            .unwrap(),
        0
    );
    assert!(blobs.exists(stray.key()).await.unwrap());
    // Older: the stray one goes, the carried one stays.
    assert_eq!(
        env.store
            .collect_blobs(&blobs, wall(3_600_000))
            .await
            .unwrap(),
        1
    );
    assert!(!blobs.exists(stray.key()).await.unwrap());
    assert!(blobs.exists(kept.key()).await.unwrap());
    assert_eq!(
        blobs.get(kept.key()).await.unwrap(),
        b"%PDF-1.4 the meter reading"
    );
}

async fn drain(env: &Env) {
    let router = env.plain_router();
    while router.step(Duration::from_millis(50)).await.unwrap() > 0 {}
}

async fn envelope_v2_keeps_everything_through_stream_and_store(env: Env) {
    let mut e = env.email("ana@x.com", "<v2@x>", "The printer is jammed.");
    e.full_text = Some("The printer is jammed.\n\nOn Monday you wrote:\n> hello".into());
    e.html = Some(SanitizedHtml::sanitize(
        "<p>The printer is jammed.</p><script>alert(1)</script><img src=x onerror=alert(1)>",
    ));
    e.cc = vec![Identity::email("Carol@X.com").unwrap()];
    e.to = vec![Identity::email("support@shop.example").unwrap()];
    e.subject = Some("Printer".into());
    // An attachment is a reference to a stored blob.
    let dir = tempfile::tempdir().unwrap();
    let blobs = LocalBlobStore::new(dir.path());
    let pdf = b"%PDF-1.4 a photo of the display".to_vec();
    let stored = blobs.put(BlobKind::Attachment, &pdf).await.unwrap();
    e.attachments = vec![Attachment {
        name: "display.pdf".into(),
        mime: "application/pdf".into(),
        size: stored.size(),
        blob: stored.key().clone(),
        content_id: None,
    }];
    // Written by a newer node (schema 3) with a field this build does not know.
    e.v = switchboard_core::domain::ENVELOPE_VERSION + 1;
    e.unknown
        .insert("priority_hint".into(), serde_json::json!("urgent"));
    // Written as a newer node would: the unknown field rides along through the stream.
    let payload = serde_json::to_string(&e).unwrap();
    assert!(payload.contains("priority_hint"));
    env.stream.append(INBOUND, &payload).await.unwrap();
    drain(&env).await;
    let conv = env
        .store
        .conversations(&ConversationFilter::default())
        .await
        .unwrap()
        .remove(0);
    let m = env
        .store
        .messages(&conv.id, None, 0)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(m.text, "The printer is jammed.");
    assert!(m.full_text.as_deref().unwrap().contains("> hello"));
    let html = m.html.unwrap();
    assert!(html.as_str().contains("<p>The printer is jammed.</p>"));
    assert!(!html.as_str().contains("script") && !html.as_str().contains("onerror"));
    let extra: Option<String> = sqlx::query_scalar("SELECT extra FROM messages WHERE id = $1")
        .bind(&m.id)
        .fetch_one(env.store.pool())
        .await
        .unwrap();
    assert!(
        extra.unwrap().contains("priority_hint"),
        "unknown fields kept"
    );
    let participants: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM conversation_participants WHERE conversation_id = $1",
    )
    .bind(&conv.id)
    .fetch_one(env.store.pool())
    .await
    .unwrap();
    assert_eq!(participants, 1, "the Cc'd person takes part");
    // An unnormalized identity, or an attachment naming a path instead of a blob, cannot
    // even be read from the stream: parked with the reason, never stored.
    let bad = payload.replace("ana@x.com", "not-an-address");
    env.stream.append(INBOUND, &bad).await.unwrap();
    let traversal = payload
        .replace("<v2@x>", "<v2b@x>")
        .replace(stored.key().as_str(), "../../../etc/passwd");
    env.stream.append(INBOUND, &traversal).await.unwrap();
    drain(&env).await;
    let parked: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM stream_parked")
        .fetch_one(env.store.pool())
        .await
        .unwrap();
    assert_eq!(parked, 2);
    assert_eq!(env.store.count_messages(None).await.unwrap(), 1);
}

async fn auto_submitted_mail_opens_nothing_and_is_kept(env: Env) {
    let s = &env.store;
    let mut bounce = env.email("mailer-daemon@x.com", "<dsn1@x>", "Delivery failed");
    bounce.auto_submitted = true;
    let out = s.ingest_batch(&[bounce.clone()]).await.unwrap();
    assert!(matches!(
        &out[0],
        IngestOutcome::Ignored {
            conversation_id: None,
            ..
        }
    ));
    // Replayed: still kept once.
    s.ingest_batch(&[bounce]).await.unwrap();
    assert!(
        s.conversations(&ConversationFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    let contacts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contacts")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(contacts, 0, "no contact for an auto-reply");

    // An out-of-office answer to one of our messages is kept with that conversation.
    let conv = env.open(env.email("ana@x.com", "<q@x>", "question")).await;
    env.agent_sent(&conv, "answer", "<ours@sb>").await;
    let mut ooo = env.email("ana@x.com", "<ooo@x>", "I am out of office");
    ooo.auto_submitted = true;
    ooo.replies_to = vec!["<ours@sb>".into()];
    let out = s.ingest_batch(&[ooo]).await.unwrap();
    assert!(
        matches!(&out[0], IngestOutcome::Ignored { conversation_id: Some(c), .. } if *c == conv)
    );
    assert_eq!(
        s.count_messages(Some(&conv)).await.unwrap(),
        2,
        "not in the thread"
    );
    let noise: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inbound_noise")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(noise, 2);
}

async fn receipts_move_forward_and_wait_for_unknown_messages(env: Env) {
    let s = &env.store;
    let mut events = env.realtime.subscribe();
    let conv = env.open(env.envelope("v", "1", "hi")).await;
    let mut sent = Vec::new();
    for _ in 0..2 {
        let m = env.agent_says(&conv, "reply").await;
        s.claim_for_sending(&m.id, env.ids.now_ms(), 1000)
            .await
            .unwrap();
        sent.push(m.id);
    }
    s.record_sent(&env.ids, &sent[0], 1, Some("wamid.1"))
        .await
        .unwrap();
    let receipt = |ext: &str, state, code: Option<&str>| {
        Inbound::Receipt(Receipt {
            channel: Channel::Webchat,
            external_id: ext.into(),
            state,
            error_code: code.map(str::to_owned),
            error_title: code.map(|_| "Message undeliverable".to_owned()),
            at: env.ids.now_ms(),
            // A read receipt carries the channel's pricing, kept on the message.
            detail: (state == DeliveryState::Read)
                .then(|| format!(r#"{{"pricing":{{"category":"service","for":"{ext}"}}}}"#)),
        })
        .to_payload()
        .unwrap()
    };
    // Receipts in a batch: delivered, read, a late delivered, failed after read; and a
    // read for a message whose send call has not answered yet.
    let batch = vec![
        receipt("wamid.1", DeliveryState::Delivered, None),
        receipt("wamid.1", DeliveryState::Read, None),
        receipt("wamid.1", DeliveryState::Delivered, None),
        receipt("wamid.1", DeliveryState::Failed, Some("131026")),
        receipt("wamid.2", DeliveryState::Read, None),
    ];
    env.stream.append_batch(INBOUND, &batch).await.unwrap();
    drain(&env).await;
    assert_eq!(s.delivery(&sent[0]).await.unwrap().0, DeliveryState::Read);
    let mut states = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let Event::Delivery { state, scope, .. } = e {
            assert_eq!(scope.conversation_id, conv);
            states.push(state);
        }
    }
    assert_eq!(states, vec![DeliveryState::Delivered, DeliveryState::Read]);
    let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM delivery_receipts")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(kept, 5, "every receipt is recorded");
    // The second message's send call answers now: the receipt that came first applies.
    let state = s
        .record_sent(&env.ids, &sent[1], 1, Some("wamid.2"))
        .await
        .unwrap();
    assert_eq!(state, DeliveryState::Read);
    assert_eq!(s.delivery(&sent[1]).await.unwrap().0, DeliveryState::Read);
    for (id, ext) in [(&sent[0], "wamid.1"), (&sent[1], "wamid.2")] {
        let detail = s.message(id).await.unwrap().delivery_detail.unwrap();
        assert_eq!(detail["pricing"]["for"], ext, "{detail}");
    }
    // A failure on a message that was only sent is applied, with the provider's words.
    let third = env.agent_sent(&conv, "third", "wamid.3").await;
    env.stream
        .append(
            INBOUND,
            &receipt("wamid.3", DeliveryState::Failed, Some("131026")),
        )
        .await
        .unwrap();
    drain(&env).await;
    let (state, code, title) = s.delivery(&third.id).await.unwrap();
    assert_eq!(state, DeliveryState::Failed);
    assert_eq!(code.as_deref(), Some("131026"));
    assert_eq!(title.as_deref(), Some("Message undeliverable"));
}

async fn a_batch_is_appended_and_acknowledged_in_one_call(env: Env) {
    let payloads: Vec<String> = (0..1500).map(|i| format!("entry {i}")).collect();
    let ids = env.stream.append_batch("batch", &payloads).await.unwrap();
    assert_eq!(ids.len(), 1500);
    env.stream.ensure_group("batch", "g").await.unwrap();
    let mut got = Vec::new();
    while got.len() < 1500 {
        let entries = env
            .stream
            .read("batch", "g", "c1", 2000, Duration::from_millis(200))
            .await
            .unwrap();
        assert!(!entries.is_empty());
        got.extend(entries);
    }
    let texts: Vec<&str> = got.iter().map(|e| e.payload.as_str()).collect();
    assert_eq!(
        texts,
        payloads.iter().map(String::as_str).collect::<Vec<_>>(),
        "in order"
    );
    let read_ids: Vec<String> = got.iter().map(|e| e.id.clone()).collect();
    assert_eq!(read_ids, ids);
    env.stream.ack("batch", "g", &read_ids).await.unwrap();
    env.stream.flush().await.unwrap();
    assert_eq!(env.stream.depth("batch", "g").await.unwrap(), 0);
    assert!(
        env.stream
            .append_batch("batch", &[])
            .await
            .unwrap()
            .is_empty()
    );
}
