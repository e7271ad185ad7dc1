//! Portal tickets on every backend: a ticket is a conversation of its own that its portal
//! messages, the agent's mailed answers and the client's mailed replies all thread into;
//! a form sent twice opens one ticket; a message to a resolved ticket opens that ticket
//! again instead of another conversation; a client admin sees the company's tickets, a
//! client user its own, nobody another company's; internal notes never reach the client.

use std::sync::Arc;

use switchboard_channels::portal::{Submission, envelope};
use switchboard_core::changes::Change;
use switchboard_core::domain::{Channel, Identity, Role, Status, TicketStatus};
use switchboard_core::metrics::Metrics;
use switchboard_core::store::{ClientScope, IngestOutcome, NewTicket, TicketQuery};
use switchboard_core::workflow::Workflow;

use crate::on_every_backend;
use crate::support::Env;

on_every_backend!(tickets_thread_everything_into_one_conversation_and_stay_in_scope);

async fn client(env: &Env, email: &str, company: &str) -> ClientScope {
    let conv = env
        .open(env.email(email, &format!("{email}-first"), "hello"))
        .await;
    let c = env.store.conversation(&conv).await.unwrap().contact_id;
    env.store.set_contact_company(&c, company).await.unwrap();
    env.store
        .portal_user_for_link(&env.ids, &c, email)
        .await
        .unwrap()
}

fn new_ticket<'a>(subject: &'a str, key: &'a str) -> NewTicket<'a> {
    NewTicket {
        inbox: "email:support",
        channel: Channel::Email,
        subject,
        category: "technical",
        client_key: key,
    }
}

async fn ingest(env: &Env, e: switchboard_core::domain::Envelope) -> String {
    match &env.store.ingest_batch(&[e]).await.unwrap()[0] {
        IngestOutcome::Stored(i) => i.conversation.id.clone(),
        other => panic!("{other:?}"),
    }
}

async fn tickets_thread_everything_into_one_conversation_and_stay_in_scope(env: Env) {
    let acme = env.store.create_company(&env.ids, "Acme").await.unwrap();
    let globex = env.store.create_company(&env.ids, "Globex").await.unwrap();
    let ana = client(&env, "ana@acme.example", &acme).await;
    let bruno = client(&env, "bruno@acme.example", &acme).await;
    let gil = client(&env, "gil@globex.example", &globex).await;
    assert_eq!(ana.role, Role::ClientAdmin);
    assert_eq!(bruno.role, Role::ClientUser);

    // Bad input opens nothing.
    for (subject, key) in [("  ", "k0"), (&*"x".repeat(201), "k0"), ("Hi", "")] {
        assert!(
            env.store
                .open_ticket(&env.ids, &ana, &new_ticket(subject, key))
                .await
                .is_err()
        );
    }
    let (none, total) = env
        .store
        .client_tickets(&ana, &TicketQuery::default())
        .await
        .unwrap();
    assert!(none.is_empty() && total == 0);

    let (t, c, card, fresh) = env
        .store
        .open_ticket(&env.ids, &ana, &new_ticket("Printer jams", "k1"))
        .await
        .unwrap();
    assert!(fresh);
    assert_eq!(
        t.number, c.number,
        "the ticket's number is its conversation's"
    );
    assert_eq!(c.thread_key, format!("ticket:{}", t.id));
    assert_eq!(c.status, Status::Open);
    assert!(!c.bot_active, "no bot on a ticket");
    assert_eq!(card.payload, t.card());
    let (again, c2, _, fresh) = env
        .store
        .open_ticket(&env.ids, &ana, &new_ticket("Printer jams", "k1"))
        .await
        .unwrap();
    assert!(!fresh);
    assert_eq!(
        (again.id.as_str(), c2.id.as_str()),
        (t.id.as_str(), c.id.as_str())
    );

    // The portal's first message threads into it, as the verified address.
    let who = Identity::email(&ana.email).unwrap();
    let submission = |key: Option<&'static str>, text: &'static str| {
        envelope(
            env.ids.new_id(),
            Submission {
                inbox: "email:support",
                ticket_id: &t.id,
                key,
                sender: &who,
                sender_name: Some("Ana"),
                subject: "Printer jams",
                text,
                attachments: vec![],
            },
            env.ids.now_ms(),
        )
    };
    assert_eq!(ingest(&env, submission(None, "It jams.")).await, c.id);
    // A second ticket is another conversation, though the contact and inbox are the same.
    let (t2, c3, _, _) = env
        .store
        .open_ticket(&env.ids, &ana, &new_ticket("Toner", "k2"))
        .await
        .unwrap();
    assert_ne!(c3.id, c.id);

    // The agent's mailed answer, and the client's mailed reply to it, join the ticket.
    env.agent_sent(&c.id, "Try the rear tray.", "m1@acme.example")
        .await;
    let mut reply = env.email(&ana.email, "r1@acme.example", "Still jams.");
    reply.replies_to = vec!["m1@acme.example".into()];
    assert_eq!(ingest(&env, reply).await, c.id);
    // Only mail counts in the mail thread's references.
    let refs = env.store.thread_references(&c.id, "~", 20).await.unwrap();
    assert_eq!(
        refs,
        vec!["m1@acme.example".to_owned(), "r1@acme.example".to_owned()]
    );

    // Notes stay with the agents.
    let wf = Workflow::new(
        env.store.clone(),
        env.realtime.clone(),
        env.ids.clone(),
        Arc::new(Metrics::default()),
    );
    let admin = env
        .store
        .create_user(
            &env.ids,
            "boss@acme.example",
            Some("Boss"),
            Role::Admin,
            None,
        )
        .await
        .unwrap();
    let caller = env.store.caller(&admin).await.unwrap();
    wf.add_note(&caller, &c.id, "customer is grumpy")
        .await
        .unwrap();
    let seen = env.store.ticket_messages(&t).await.unwrap();
    let texts: Vec<&str> = seen.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["It jams.", "Try the rear tray.", "Still jams."]);

    // Resolved, then a portal message: the same conversation opens again.
    wf.change(&caller, &c.id, &Change::Status(Status::Resolved), None)
        .await
        .unwrap();
    let (mine, _) = env
        .store
        .client_tickets(
            &ana,
            &TicketQuery {
                state: Some("resolved".into()),
                ..TicketQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].status, TicketStatus::Resolved);
    assert_eq!(
        ingest(&env, submission(Some("r2"), "Again today.")).await,
        c.id
    );
    assert_eq!(
        env.store.conversation(&c.id).await.unwrap().status,
        Status::Open
    );

    // Scope: the admin sees the company's, a user its own, another company nothing.
    let (bt, ..) = env
        .store
        .open_ticket(&env.ids, &bruno, &new_ticket("Bruno's", "k1"))
        .await
        .unwrap();
    let numbers = |s: &ClientScope| {
        let store = env.store.clone();
        let s = s.clone();
        async move {
            let (list, total) = store
                .client_tickets(&s, &TicketQuery::default())
                .await
                .unwrap();
            assert_eq!(list.len() as i64, total);
            let mut n: Vec<i64> = list.iter().map(|t| t.number).collect();
            n.sort_unstable();
            n
        }
    };
    let mut all = vec![t.number, t2.number, bt.number];
    all.sort_unstable();
    assert_eq!(numbers(&ana).await, all);
    assert_eq!(numbers(&bruno).await, vec![bt.number]);
    assert!(numbers(&gil).await.is_empty());
    for n in [t.number, t2.number, bt.number] {
        assert!(env.store.client_ticket(&gil, n).await.unwrap().is_none());
    }
    assert!(
        env.store
            .client_ticket(&bruno, t.number)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        env.store
            .client_ticket(&ana, bt.number)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        env.store
            .client_tickets(
                &ana,
                &TicketQuery {
                    state: Some("nonsense".into()),
                    ..TicketQuery::default()
                }
            )
            .await
            .is_err()
    );
    assert_eq!(
        env.store
            .ticket_of_conversation(&c.id)
            .await
            .unwrap()
            .map(|x| x.id),
        Some(t.id.clone())
    );
}
