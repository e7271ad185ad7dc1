//! The store on both databases.

use switchboard_core::domain::{Identity, IdentityKind, Role, Status, Tier};
use switchboard_core::store::{ConversationFilter, IngestOutcome};

use crate::on_every_backend;
use crate::support::Env;

on_every_backend!(
    migrations_run_once,
    users_tokens_and_conflicts,
    threading_and_idempotency,
    a_burst_opens_one_conversation,
    replies_thread_and_identities_join,
    cards_are_typed_and_checked,
    secrets_are_made_once_and_kept,
);

async fn secrets_are_made_once_and_kept(env: Env) {
    let s = &env.store;
    // Nodes starting together race to make it; all of them get the one that was kept.
    let (a, b, c) = tokio::join!(
        s.secret_or_create(&env.ids, "webchat.visitor"),
        s.secret_or_create(&env.ids, "webchat.visitor"),
        s.secret_or_create(&env.ids, "webchat.visitor"),
    );
    let a = a.unwrap();
    assert_eq!(a.len(), 64, "{a}");
    assert!(
        a.bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{a}"
    );
    assert_eq!((b.unwrap(), c.unwrap()), (a.clone(), a.clone()));
    assert_eq!(
        s.secret_or_create(&env.ids, "webchat.visitor")
            .await
            .unwrap(),
        a
    );
    let other = s.secret_or_create(&env.ids, "other").await.unwrap();
    assert_ne!(other, a, "each name has its own secret");
}

async fn cards_are_typed_and_checked(env: Env) {
    use std::sync::Arc;
    use switchboard_core::domain::{CardKind, CardPayload, InvoiceStatus, Money};
    use switchboard_core::realtime::{Event, Realtime};
    let s = &env.store;
    let realtime: Arc<dyn Realtime> = env.realtime.clone();
    let mut events = env.realtime.subscribe();
    s.ingest_batch(&[env.envelope("v", "1", "my invoice?")])
        .await
        .unwrap();
    s.ingest_batch(&[env.envelope("w", "2", "mine too")])
        .await
        .unwrap();
    let convs = s
        .conversations(&ConversationFilter::default())
        .await
        .unwrap();
    let invoice = |status| CardPayload::Invoice {
        id: "inv_42".into(),
        number: "INV-2026-0042".into(),
        amount: Money::new(129_900, "BRL").unwrap(),
        due_at: Some(1_800_000_000_000),
        status,
    };
    let card = switchboard_core::cards::show(
        s,
        &realtime,
        &env.ids,
        &convs[0].id,
        invoice(InvoiceStatus::Sent),
    )
    .await
    .unwrap();
    assert_eq!(card.payload.kind(), CardKind::Invoice);
    assert!(
        matches!(events.recv().await.unwrap(), Event::CardAdded { scope, .. } if scope.conversation_id == convs[0].id)
    );
    // Showing the same subject again updates the card in place.
    let again = switchboard_core::cards::show(
        s,
        &realtime,
        &env.ids,
        &convs[0].id,
        invoice(InvoiceStatus::Viewed),
    )
    .await
    .unwrap();
    assert_eq!(again.id, card.id);
    assert!(matches!(
        events.recv().await.unwrap(),
        Event::CardUpdated { .. }
    ));
    // The same invoice in a second conversation; then it is paid: both cards turn Paid.
    switchboard_core::cards::show(
        s,
        &realtime,
        &env.ids,
        &convs[1].id,
        invoice(InvoiceStatus::Viewed),
    )
    .await
    .unwrap();
    let _ = events.recv().await.unwrap();
    let paid = switchboard_core::cards::update_subject(
        s,
        &realtime,
        &env.ids,
        &invoice(InvoiceStatus::Paid),
    )
    .await
    .unwrap();
    assert_eq!(paid.len(), 2);
    for _ in 0..2 {
        match events.recv().await.unwrap() {
            Event::CardUpdated { card, scope } => {
                assert_eq!(card.conversation_id, scope.conversation_id);
                assert!(matches!(
                    card.payload,
                    CardPayload::Invoice {
                        status: InvoiceStatus::Paid,
                        ..
                    }
                ));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        s.cards(&convs[0].id).await.unwrap().len(),
        1,
        "updated in place, not added"
    );
    assert_eq!(
        s.cards_of_subject(CardKind::Invoice, "inv_42")
            .await
            .unwrap()
            .len(),
        2
    );
    // Bad values never reach the store.
    let empty = CardPayload::Ticket {
        id: "t1".into(),
        number: " ".into(),
        title: "Printer".into(),
        status: switchboard_core::domain::TicketStatus::Open,
    };
    assert!(s.put_card(&env.ids, &convs[0].id, empty).await.is_err());
    assert!(
        s.put_card(
            &env.ids,
            "no-such-conversation",
            invoice(InvoiceStatus::Sent)
        )
        .await
        .is_err()
    );
    assert!(serde_json::from_str::<CardPayload>(r#"{"kind":"invoice","number":"1"}"#).is_err());
    assert!(Money::new(10, "reais").is_err());
    assert_eq!(
        s.cards(&convs[0].id).await.unwrap().len(),
        1,
        "refused cards stored nothing"
    );
}

async fn migrations_run_once(env: Env) {
    assert_eq!(env.store.migrate(env.ids.now_ms()).await.unwrap(), 0);
}

async fn users_tokens_and_conflicts(env: Env) {
    let s = &env.store;
    let u = s
        .create_user(
            &env.ids,
            "Agent@Example.com",
            Some("Ana"),
            Role::Support,
            Some(Tier::N2),
        )
        .await
        .unwrap();
    assert_eq!(u.email, "agent@example.com");
    assert_eq!(u.tier, Some(Tier::N2));
    let dup = s
        .create_user(&env.ids, "agent@example.com", None, Role::Admin, None)
        .await
        .unwrap_err();
    assert!(dup.to_string().contains("already exists"), "{dup}");
    assert!(
        s.create_user(&env.ids, "not-an-email", None, Role::Admin, None)
            .await
            .is_err()
    );
    assert!(
        s.create_user(&env.ids, "b@example.com", None, Role::Admin, Some(Tier::N1))
            .await
            .is_err()
    );
    let token = s.issue_api_token(&env.ids, &u.id, "test").await.unwrap();
    let now = env.ids.now_ms();
    assert_eq!(
        s.user_by_token(&token, now).await.unwrap().unwrap().id,
        u.id
    );
    assert!(s.user_by_token("sbt_wrong", now).await.unwrap().is_none());
}

async fn threading_and_idempotency(env: Env) {
    let s = &env.store;
    let a = env.envelope("visitor-a", "1", "hello");
    let b = env.envelope("visitor-a", "2", "again");
    let out = s.ingest_batch(&[a.clone(), b]).await.unwrap();
    let (IngestOutcome::Stored(first), IngestOutcome::Stored(second)) = (&out[0], &out[1]) else {
        panic!("{out:?}")
    };
    assert!(first.new_conversation);
    assert!(!second.new_conversation);
    assert_eq!(first.conversation.id, second.conversation.id);
    assert_eq!(first.conversation.number, 1001);
    assert_eq!(first.conversation.status, Status::Open);
    assert_eq!(first.conversation.tier, Tier::N1);

    // A replay of the same envelope changes nothing.
    let mut replay = a.clone();
    replay.id = env.ids.new_id();
    let again = s.ingest_batch(&[replay]).await.unwrap();
    assert_eq!(
        again,
        vec![IngestOutcome::Duplicate {
            message_id: a.id.clone()
        }]
    );
    assert_eq!(
        s.count_messages(Some(&first.conversation.id))
            .await
            .unwrap(),
        2
    );
    let thread = s.messages(&first.conversation.id, None, 0).await.unwrap();
    assert_eq!(
        thread.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["hello", "again"]
    );
    let after = s
        .messages(&first.conversation.id, Some(&thread[0].id), 0)
        .await
        .unwrap();
    assert_eq!(after.len(), 1);

    // Resolved lately, a chat opens again on the contact's next message.
    sqlx::query("UPDATE conversations SET status = 'resolved'")
        .execute(s.pool())
        .await
        .unwrap();
    let out = s
        .ingest_batch(&[env.envelope("visitor-a", "2b", "one more thing")])
        .await
        .unwrap();
    let IngestOutcome::Stored(reopened) = &out[0] else {
        panic!()
    };
    assert!(!reopened.new_conversation);
    assert!(reopened.reopened);
    assert_eq!(reopened.conversation.id, first.conversation.id);
    assert_eq!(
        s.conversation(&first.conversation.id).await.unwrap().status,
        Status::Open
    );

    // Resolved more than a week ago, the next message opens a new conversation with the
    // next number.
    sqlx::query("UPDATE conversations SET status = 'resolved', updated_at = $1")
        .bind(env.ids.now_ms() - 8 * 24 * 3_600_000)
        .execute(s.pool())
        .await
        .unwrap();
    let out = s
        .ingest_batch(&[env.envelope("visitor-a", "3", "new issue")])
        .await
        .unwrap();
    let IngestOutcome::Stored(third) = &out[0] else {
        panic!()
    };
    assert!(third.new_conversation);
    assert_eq!(third.conversation.number, 1002);
    assert_eq!(third.contact_id, first.contact_id);
    let open = s
        .conversations(&ConversationFilter {
            status: Some(Status::Open),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    assert!(s.conversation("no-such-id").await.is_err());
}

async fn a_burst_opens_one_conversation(env: Env) {
    // 40 transactions at once, each with one message from the same new contact.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let s = env.store.clone();
        let e = env.envelope("burst", &format!("b{i}"), "hi");
        tasks.push(tokio::spawn(async move { s.ingest_batch(&[e]).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let all = env
        .store
        .conversations(&ConversationFilter::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(
        env.store.count_messages(Some(&all[0].id)).await.unwrap(),
        40
    );
    let contacts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contacts")
        .fetch_one(env.store.pool())
        .await
        .unwrap();
    assert_eq!(contacts, 1);
}

async fn replies_thread_and_identities_join(env: Env) {
    let s = &env.store;
    let mut first = env.envelope("v1", "m1", "hi");
    first.extra_identities = vec![Identity::new(IdentityKind::Email, "Ana@Example.com").unwrap()];
    first.sender_name = Some("Ana".into());
    s.ingest_batch(&[first]).await.unwrap();
    let by_email = s
        .contact_for_identity(&Identity::new(IdentityKind::Email, "ana@example.com").unwrap())
        .await
        .unwrap();
    let by_visitor = s
        .contact_for_identity(&Identity::new(IdentityKind::Visitor, "v1").unwrap())
        .await
        .unwrap();
    // The typed email is a claim, not proof: it belongs to nobody's threading.
    assert!(by_email.is_none());
    assert!(by_visitor.is_some());
    let ids = s
        .contact_identities(by_visitor.as_deref().unwrap())
        .await
        .unwrap();
    assert!(
        ids.contains(&(Identity::email("ana@example.com").unwrap(), false)),
        "{ids:?}"
    );

    // A message on another inbox that replies to m1 joins m1's conversation.
    let mut reply = env.envelope("v1", "m2", "re: hi");
    reply.inbox = "webchat:other".into();
    reply.replies_to = vec!["m1".into()];
    s.ingest_batch(&[reply]).await.unwrap();
    assert_eq!(
        s.conversations(&ConversationFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
}

mod batch {
    use switchboard_core::domain::{Identity, IdentityKind, Status};
    use switchboard_core::store::{ConversationFilter, IngestOutcome};

    use crate::on_every_backend;
    use crate::support::Env;

    on_every_backend!(one_batch_many_senders_replays_and_snoozes);

    /// One batch mixing new and known senders, a replay inside the batch, a replay of an
    /// earlier batch, a named sender, and a snoozed conversation that a message wakes.
    async fn one_batch_many_senders_replays_and_snoozes(env: Env) {
        let s = &env.store;
        let known = env.envelope("known", "k0", "earlier");
        s.ingest_batch(std::slice::from_ref(&known)).await.unwrap();
        sqlx::query("UPDATE conversations SET status = 'snoozed'")
            .execute(s.pool())
            .await
            .unwrap();

        let mut named = env.envelope("new-a", "a1", "a first");
        named.sender_name = Some("Ana".into());
        named.extra_identities =
            vec![Identity::new(IdentityKind::Email, "ana@example.com").unwrap()];
        let mut replay_of_earlier = known.clone();
        replay_of_earlier.id = env.ids.new_id();
        let batch = vec![
            named,
            env.envelope("known", "k1", "known again"),
            env.envelope("new-b", "b1", "b first"),
            env.envelope("new-a", "a2", "a second"),
            env.envelope("new-b", "b1", "b first, resent"),
            replay_of_earlier,
        ];
        let out = s.ingest_batch(&batch).await.unwrap();
        assert_eq!(out.len(), 6);
        let stored: Vec<&switchboard_core::store::Ingested> = out
            .iter()
            .filter_map(|o| match o {
                IngestOutcome::Stored(i) => Some(i.as_ref()),
                _ => None,
            })
            .collect();
        assert_eq!(stored.len(), 4);
        assert_eq!(
            out[4],
            IngestOutcome::Duplicate {
                message_id: batch[2].id.clone()
            }
        );
        assert_eq!(
            out[5],
            IngestOutcome::Duplicate {
                message_id: known.id.clone()
            }
        );
        // new-a's two messages share one new conversation; only the first opened it.
        let (a1, a2) = (stored[0], stored[3]);
        assert!(stored[2].new_conversation);
        assert_eq!(a1.conversation.id, a2.conversation.id);
        assert!(a1.new_conversation && !a2.new_conversation);
        // The known sender's snoozed conversation is woken, not replaced.
        assert!(!stored[1].new_conversation);
        assert_eq!(stored[1].conversation.status, Status::Open);
        let all = s
            .conversations(&ConversationFilter::default())
            .await
            .unwrap();
        assert_eq!(all.len(), 3);
        let numbers: std::collections::BTreeSet<i64> = all.iter().map(|c| c.number).collect();
        assert_eq!(numbers, [1001, 1002, 1003].into_iter().collect());
        assert!(all.iter().all(|c| c.status == Status::Open));
        let woken = all
            .iter()
            .find(|c| c.id == stored[1].conversation.id)
            .unwrap();
        assert_eq!(woken.last_message_at, batch[1].received_at);
        let ana = s.contact_identities(&a1.contact_id).await.unwrap();
        assert!(ana.contains(&(
            Identity::new(IdentityKind::Email, "ana@example.com").unwrap(),
            false
        )));
        let name: Option<String> = sqlx::query_scalar("SELECT name FROM contacts WHERE id = $1")
            .bind(&a1.contact_id)
            .fetch_one(s.pool())
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("Ana"));
        assert_eq!(s.count_messages(None).await.unwrap(), 5);
    }
}

mod tls {
    /// PostgreSQL over TLS (`sslmode=require`): the driver is built with rustls, and the
    /// session really is encrypted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_connections_can_require_tls() {
        let url = crate::support::fresh_pg().await;
        let store = switchboard_core::store::Store::connect(&format!("{url}?sslmode=require"))
            .await
            .unwrap();
        let ssl: bool =
            sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert!(ssl);
        store.close().await;
    }

    /// `rediss://` is understood (TLS is compiled in): against a server without TLS the
    /// connection fails in the handshake, not for want of TLS support.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_urls_may_ask_for_tls() {
        let plain = crate::support::redis_url();
        let tls = plain.replacen("redis://", "rediss://", 1);
        let err = switchboard_core::stream::redis::RedisStream::connect(&tls, "sbt:tls")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            !err.to_lowercase().contains("not enabled") && !err.contains("feature"),
            "{err}"
        );
    }
}

mod migrations {
    /// Nodes starting together on a new PostgreSQL database: each migration runs once
    /// (the migrator's advisory lock), and every node starts.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nodes_starting_together_migrate_once() {
        let url = crate::support::fresh_pg().await;
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                let store = switchboard_core::store::Store::connect(&url).await.unwrap();
                let ran = store.migrate(0).await.unwrap();
                store.close().await;
                ran
            }));
        }
        let mut ran = Vec::new();
        for t in tasks {
            ran.push(t.await.unwrap());
        }
        let store = switchboard_core::store::Store::connect(&url).await.unwrap();
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(
            usize::try_from(applied).unwrap(),
            switchboard_core::store::Store::migrations().len()
        );
        // Had a migration run twice, its CREATE TABLE would have failed that node.
        assert_eq!(ran.len(), 4);
        // An applied migration edited afterwards is refused at start-up.
        sqlx::query("UPDATE _sqlx_migrations SET checksum = $1 WHERE version = 1")
            .bind(vec![0u8; 48])
            .execute(store.pool())
            .await
            .unwrap();
        let err = store.migrate(0).await.unwrap_err().to_string();
        assert!(
            err.contains("modified") || err.contains("checksum"),
            "{err}"
        );
        store.close().await;
    }
}
