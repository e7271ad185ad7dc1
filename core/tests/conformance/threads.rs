//! Threading on every backend: thread keys, replies to our own messages, verified and
//! claimed identities, and merging contacts.

use switchboard_core::domain::{Identity, Status};
use switchboard_core::realtime::Realtime;
use switchboard_core::store::{ConversationFilter, IngestOutcome, Ingested};

use crate::on_every_backend;
use crate::support::Env;

on_every_backend!(
    several_open_conversations_per_contact,
    replies_to_our_messages_thread_back_only_for_participants,
    typed_identities_never_attract_the_real_owners_mail,
    merges_move_everything_and_chains_resolve,
    a_message_arriving_mid_merge_lands_once_on_the_survivor,
    changes_are_recorded_and_published_with_their_scope,
);

async fn changes_are_recorded_and_published_with_their_scope(env: Env) {
    use switchboard_core::changes::{Change, apply};
    use switchboard_core::domain::{Priority, Role, Tier};
    use switchboard_core::realtime::Event;
    let s = &env.store;
    let realtime: std::sync::Arc<dyn Realtime> = env.realtime.clone();
    let out = s
        .ingest_batch(&[env.envelope("v", "1", "hi")])
        .await
        .unwrap();
    let conv = stored(&out)[0].conversation.id.clone();
    let agent = s
        .create_user(&env.ids, "bea@x.com", None, Role::Support, Some(Tier::N2))
        .await
        .unwrap();
    let client = s
        .create_user(&env.ids, "c@acme.example", None, Role::ClientUser, None)
        .await
        .unwrap();
    let mut events = env.realtime.subscribe();
    let changes = [
        Change::Assignee(Some(agent.id.clone())),
        Change::Tier(Tier::N2),
        Change::Team(Some("billing".into())),
        Change::Priority(Priority::High),
        Change::Labels(vec!["VIP".into(), " printer ".into(), "vip".into()]),
        Change::Status(Status::Pending),
    ];
    for change in &changes {
        apply(s, &realtime, &env.ids, &conv, change).await.unwrap();
        match events.recv().await.unwrap() {
            Event::ConversationChanged {
                change: name,
                conversation,
            } => {
                assert_eq!(name, change.name());
                assert_eq!(conversation.id, conv);
            }
            other => panic!("{other:?}"),
        }
    }
    let c = s.conversation(&conv).await.unwrap();
    assert_eq!(c.assignee_id.as_deref(), Some(agent.id.as_str()));
    assert!(!c.bot_active, "a person joined");
    assert_eq!(
        (c.tier, c.team.as_deref(), c.priority),
        (Tier::N2, Some("billing"), Priority::High)
    );
    assert_eq!(c.labels, vec!["printer".to_owned(), "vip".to_owned()]);
    assert_eq!(c.status, Status::Pending);
    let scope = c.scope();
    assert_eq!(scope.assignee_id, c.assignee_id);
    // Refused changes change nothing and publish nothing.
    for bad in [
        Change::Assignee(Some(client.id.clone())),
        Change::Assignee(Some("nobody".into())),
        Change::Labels(vec!["".into()]),
        Change::Labels((0..21).map(|i| format!("l{i}")).collect()),
    ] {
        assert!(
            apply(s, &realtime, &env.ids, &conv, &bad).await.is_err(),
            "{bad:?}"
        );
    }
    assert!(
        apply(s, &realtime, &env.ids, "no-such", &Change::Tier(Tier::N1))
            .await
            .is_err()
    );
    assert!(events.try_recv().is_err());
    assert_eq!(s.conversation(&conv).await.unwrap(), c);
    let recorded: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM events WHERE kind = 'conversation_changed' AND conversation_id = $1",
    )
    .bind(&conv)
    .fetch_one(s.pool())
    .await
    .unwrap();
    assert_eq!(recorded, 6);
}

fn stored(out: &[IngestOutcome]) -> Vec<&Ingested> {
    out.iter()
        .filter_map(|o| match o {
            IngestOutcome::Stored(i) => Some(i.as_ref()),
            _ => None,
        })
        .collect()
}

async fn several_open_conversations_per_contact(env: Env) {
    let s = &env.store;
    let mut a = env.email("ana@x.com", "<a1@x>", "printer jam");
    a.thread = Some("ticket-1".into());
    let mut b = env.email("ana@x.com", "<b1@x>", "invoice question");
    b.thread = Some("ticket-2".into());
    let mut a2 = env.email("ana@x.com", "<a2@x>", "still jammed");
    a2.thread = Some("ticket-1".into());
    let out = s.ingest_batch(&[a, b, a2]).await.unwrap();
    let st = stored(&out);
    assert_ne!(
        st[0].conversation.id, st[1].conversation.id,
        "two open tickets"
    );
    assert_eq!(st[0].conversation.id, st[2].conversation.id);
    assert_eq!(st[0].conversation.thread_key, "ticket-1");

    // A burst into one new thread from many concurrent transactions opens one conversation.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let mut e = env.email("ana@x.com", &format!("<burst{i}@x>"), "burst");
        e.thread = Some("burst".into());
        let s = s.clone();
        tasks.push(tokio::spawn(async move { s.ingest_batch(&[e]).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let open = s
        .conversations(&ConversationFilter {
            status: Some(Status::Open),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(open.len(), 3, "{open:?}");
    let burst = open.iter().find(|c| c.thread_key == "burst").unwrap();
    assert_eq!(s.count_messages(Some(&burst.id)).await.unwrap(), 20);
}

async fn replies_to_our_messages_thread_back_only_for_participants(env: Env) {
    let s = &env.store;
    let mut first = env.email("ana@x.com", "<q1@x>", "where is my order?");
    first.thread = Some("<q1@x>".into());
    first.cc = vec![Identity::email("carol@x.com").unwrap()];
    let out = s.ingest_batch(&[first]).await.unwrap();
    let conv = stored(&out)[0].conversation.clone();
    env.agent_sent(&conv.id, "here you go", "<our-1@sb>").await;

    // Ana answers our reply, even under a new subject (her own new thread key): it joins.
    let mut back = env.email("ana@x.com", "<q2@x>", "thanks!");
    back.thread = Some("<q2@x>".into());
    back.replies_to = vec!["<our-1@sb>".into()];
    // Bob somehow names our message too: he is not a participant, so he gets his own.
    let mut bob = env.email("bob@y.com", "<b1@y>", "me too");
    bob.thread = Some("<b1@y>".into());
    bob.replies_to = vec!["<our-1@sb>".into()];
    // Carol was Cc'd: she takes part.
    let mut carol = env.email("carol@x.com", "<c1@x>", "adding a detail");
    carol.thread = Some("<c1@x>".into());
    carol.replies_to = vec!["<unknown@z>".into(), "<our-1@sb>".into()];
    let out = s.ingest_batch(&[back, bob, carol]).await.unwrap();
    let st = stored(&out);
    assert_eq!(st[0].conversation.id, conv.id);
    assert_ne!(st[1].conversation.id, conv.id, "no cross-customer merge");
    assert!(st[1].new_conversation);
    assert_eq!(st[2].conversation.id, conv.id);

    // A reply to a resolved conversation opens it again.
    switchboard_core::changes::apply(
        s,
        &(env.realtime.clone() as std::sync::Arc<dyn Realtime>),
        &env.ids,
        &conv.id,
        &switchboard_core::changes::Change::Status(Status::Resolved),
    )
    .await
    .unwrap();
    let mut late = env.email("ana@x.com", "<q3@x>", "it broke again");
    late.thread = Some("<q3@x>".into());
    late.replies_to = vec!["<our-1@sb>".into()];
    let out = s.ingest_batch(&[late]).await.unwrap();
    let st = stored(&out);
    assert_eq!(st[0].conversation.id, conv.id);
    assert!(st[0].reopened);
    assert_eq!(s.conversation(&conv.id).await.unwrap().status, Status::Open);

    // Without any link, a known contact's new mail opens its own conversation.
    let mut fresh = env.email("ana@x.com", "<q4@x>", "another topic");
    fresh.thread = Some("<q4@x>".into());
    let out = s.ingest_batch(&[fresh]).await.unwrap();
    assert!(stored(&out)[0].new_conversation);
}

async fn typed_identities_never_attract_the_real_owners_mail(env: Env) {
    let s = &env.store;
    let mut events = env.realtime.subscribe();
    let router = env.plain_router();
    // A visitor types ana@x.com into the pre-chat form.
    let mut visitor = env.envelope("visitor-1", "v1", "hi, I am Ana");
    visitor.extra_identities = vec![Identity::email("ana@x.com").unwrap()];
    env.inbound(&visitor).await;
    while router
        .step(std::time::Duration::from_millis(50))
        .await
        .unwrap()
        > 0
    {}
    let visitor_contact = s
        .contact_for_identity(&Identity::visitor("visitor-1").unwrap())
        .await
        .unwrap()
        .unwrap();
    while events.try_recv().is_ok() {}

    // The real ana@x.com writes: her own contact and conversation.
    let mail = env.email("ana@x.com", "<real@x>", "my private invoice details");
    env.inbound(&mail).await;
    while router
        .step(std::time::Duration::from_millis(50))
        .await
        .unwrap()
        > 0
    {}
    let owner = s
        .contact_for_identity(&Identity::email("ana@x.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_ne!(owner, visitor_contact);
    let visitors_conversations = s
        .conversations(&ConversationFilter {
            contact_id: Some(visitor_contact.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(visitors_conversations.len(), 1);
    assert_eq!(
        s.count_messages(Some(&visitors_conversations[0].id))
            .await
            .unwrap(),
        1,
        "nothing of the mail joined the visitor's conversation"
    );
    // Every event of the mail is scoped to the owner, so the visitor's socket (which
    // filters on its contact) sees none of it.
    let mut seen = 0;
    while let Ok(e) = events.try_recv() {
        seen += 1;
        assert_eq!(e.contact_id(), Some(owner.as_str()), "{e:?}");
    }
    assert!(seen >= 2, "opened and message events: {seen}");

    // Proof (a link sent to ana@x.com was used from the visitor's session): one person.
    let survivor = s
        .verify_identity(
            &env.ids,
            &visitor_contact,
            &Identity::email("ana@x.com").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(survivor, owner);
    assert_eq!(
        s.contact_for_identity(&Identity::visitor("visitor-1").unwrap())
            .await
            .unwrap()
            .as_deref(),
        Some(owner.as_str())
    );
}

async fn merges_move_everything_and_chains_resolve(env: Env) {
    let s = &env.store;
    let mut contacts = Vec::new();
    for v in ["a", "b", "c"] {
        let out = s
            .ingest_batch(&[env.envelope(&format!("merge-{v}"), &format!("{v}1"), "hello")])
            .await
            .unwrap();
        contacts.push(stored(&out)[0].contact_id.clone());
    }
    let (a, b, c) = (&contacts[0], &contacts[1], &contacts[2]);
    assert!(s.merge_contacts(&env.ids, a, a).await.is_err());
    let m = s.merge_contacts(&env.ids, a, b).await.unwrap();
    assert_eq!(m.conversations, 1);
    s.merge_contacts(&env.ids, b, c).await.unwrap();
    // A chain a → b → c resolves to c in one step, whichever identity is asked.
    for v in ["a", "b", "c"] {
        let who = s
            .contact_for_identity(&Identity::visitor(&format!("merge-{v}")).unwrap())
            .await
            .unwrap();
        assert_eq!(who.as_deref(), Some(c.as_str()), "{v}");
    }
    assert_eq!(s.surviving_contact(a).await.unwrap(), *c);
    // Their three open conversations all belong to c, each still its own thread.
    let convs = s
        .conversations(&ConversationFilter {
            contact_id: Some(c.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(convs.len(), 3);
    assert!(convs.iter().all(|x| x.status == Status::Open));
    // New messages from a's visitor id join c's default thread; nothing new opens.
    let out = s
        .ingest_batch(&[env.envelope("merge-a", "a2", "again")])
        .await
        .unwrap();
    let st = stored(&out);
    assert_eq!(st[0].contact_id, *c);
    assert!(!st[0].new_conversation);
    let authors: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE author_id = $1")
        .bind(c)
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(authors, 4, "authored messages moved to the survivor");
}

async fn a_message_arriving_mid_merge_lands_once_on_the_survivor(env: Env) {
    let s = &env.store;
    for round in 0..4 {
        let from_v = format!("mid-from-{round}");
        let into_v = format!("mid-into-{round}");
        let out = s
            .ingest_batch(&[
                env.envelope(&from_v, &format!("{round}-f0"), "hi"),
                env.envelope(&into_v, &format!("{round}-i0"), "hi"),
            ])
            .await
            .unwrap();
        let st = stored(&out);
        let (from, into) = (st[0].contact_id.clone(), st[1].contact_id.clone());
        let mut tasks = Vec::new();
        for i in 0..10 {
            let e = env.envelope(&from_v, &format!("{round}-m{i}"), "mid-merge");
            let s = s.clone();
            tasks.push(tokio::spawn(async move { s.ingest_batch(&[e]).await }));
        }
        let merge = {
            let (s, ids, from, into) = (s.clone(), env.ids.clone(), from.clone(), into.clone());
            tokio::spawn(async move { s.merge_contacts(&ids, &from, &into).await })
        };
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        merge.await.unwrap().unwrap();
        let on_merged: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM conversations WHERE contact_id = $1")
                .bind(&from)
                .fetch_one(s.pool())
                .await
                .unwrap();
        assert_eq!(
            on_merged, 0,
            "round {round}: nothing left on the merged contact"
        );
        let landed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.contact_id = $1 AND m.text = 'mid-merge'",
        )
        .bind(&into)
        .fetch_one(s.pool())
        .await
        .unwrap();
        assert_eq!(
            landed, 10,
            "round {round}: every message once, on the survivor"
        );
    }
}
