//! Portal tickets on every backend: a ticket is a conversation of its own that its portal
//! messages, the agent's mailed answers and the client's mailed replies all thread into;
//! a form sent twice opens one ticket; a message to a resolved ticket opens that ticket
//! again instead of another conversation; a client admin sees the company's tickets, a
//! client user its own, nobody another company's; internal notes never reach the client.

use std::sync::Arc;

use switchboard_channels::portal::{Submission, envelope};
use switchboard_core::changes::Change;
use switchboard_core::domain::{AuthorKind, Channel, Identity, Role, Status, TicketStatus};
use switchboard_core::metrics::Metrics;
use switchboard_core::store::{
    Caller, ClientScope, FirstMessage, IngestOutcome, ListItem, ListQuery, NewOutbound, NewTicket,
    Queued, TicketQuery, View,
};
use switchboard_core::workflow::Workflow;

use crate::on_every_backend;
use crate::support::Env;

on_every_backend!(tickets_thread_everything_into_one_conversation_and_stay_in_scope);

/// A portal client of `company` (who wrote in by mail first).
pub(crate) async fn client(env: &Env, email: &str, company: &str) -> ClientScope {
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
        first: None,
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

    let (t, c, card, fresh, _) = env
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
    let (again, c2, _, fresh, _) = env
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
    let (t2, c3, ..) = env
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

/// The conversations the inbox's search finds by `words`, in the list's order.
async fn found_by(env: &Env, caller: &Caller, words: &str) -> Vec<String> {
    let mut q = ListQuery::new(View::All);
    q.filter.search = Some(words.into());
    let page = env.store.inbox_list(caller, &q).await.unwrap();
    page.items.into_iter().map(|i| i.conversation.id).collect()
}

/// A conversation's row in the inbox list.
async fn inbox_row(env: &Env, caller: &Caller, conversation_id: &str) -> ListItem {
    let page = env
        .store
        .inbox_list(caller, &ListQuery::new(View::All))
        .await
        .unwrap();
    page.items
        .into_iter()
        .find(|i| i.conversation.id == conversation_id)
        .unwrap()
}

on_every_backend!(tickets_sent_together_open_in_one_batch_each_with_its_own_answer);
on_every_backend!(a_ticket_is_stored_with_its_first_message);

/// A ticket's first message is stored in the ticket's own transaction: the conversation
/// shows it (its time, its preview, its words found by the inbox's search) as if the
/// router had threaded it, a form sent again stores no second one, and an envelope of the
/// same message that was already on the stream (an older node's) is a duplicate.
async fn a_ticket_is_stored_with_its_first_message(env: Env) {
    let acme = env.store.create_company(&env.ids, "Acme").await.unwrap();
    let ana = client(&env, "ana@acme.example", &acme).await;
    let bruno = client(&env, "bruno@acme.example", &acme).await;
    let with = |subject: &'static str, key: &'static str, text: &'static str| NewTicket {
        first: Some(FirstMessage {
            text,
            attachments: &[],
        }),
        ..new_ticket(subject, key)
    };
    let batch = vec![
        (&ana, with("Printer jams", "a1", "The tray squeaks loudly")),
        (&bruno, with("Toner", "b1", "Cyan cartridge empty")),
        (&ana, with("Printer jams", "a1", "The tray squeaks loudly")),
    ];
    let out = env.store.open_tickets(&env.ids, &batch).await.unwrap();
    let ok = |i: usize| out[i].as_ref().unwrap_or_else(|e| panic!("form {i}: {e}"));
    for (i, scope, text) in [
        (0, &ana, "The tray squeaks loudly"),
        (1, &bruno, "Cyan cartridge empty"),
    ] {
        let (t, c, _, new, m) = ok(i);
        assert!(new);
        let m = m.as_ref().expect("a new ticket carries its first message");
        assert_eq!(m.text, text);
        assert_eq!(m.conversation_id, c.id);
        assert_eq!(m.author_id.as_deref(), Some(scope.contact_id.as_str()));
        assert_eq!(m.channel, Channel::Portal);
        assert_eq!(m.created_at, c.last_message_at);
        let stored = env.store.ticket_messages(t).await.unwrap();
        assert_eq!(stored.len(), 1, "{stored:?}");
        assert_eq!(stored[0].id, m.id);
        assert_eq!(stored[0].text, text);
        assert_eq!(stored[0].author_kind, AuthorKind::Contact);
        let conv = env.store.conversation(&c.id).await.unwrap();
        assert_eq!(conv.last_message_at, m.created_at);
        let preview: String = sqlx::query_scalar(
            "SELECT preview FROM conversation_activity WHERE conversation_id = $1",
        )
        .bind(&c.id)
        .fetch_one(env.store.pool())
        .await
        .unwrap();
        assert_eq!(preview, text, "the inbox row previews the client's words");
    }
    // The form twice in the batch: one ticket, one message.
    assert!(!ok(2).3 && ok(2).4.is_none());
    assert_eq!(ok(2).0.id, ok(0).0.id);
    // Sent again later: the same ticket, still one message.
    let again = env
        .store
        .open_tickets(
            &env.ids,
            &[(&ana, with("Printer jams", "a1", "The tray squeaks loudly"))],
        )
        .await
        .unwrap();
    let again = again[0].as_ref().unwrap();
    assert!(!again.3 && again.4.is_none());
    assert_eq!(env.store.ticket_messages(&again.0).await.unwrap().len(), 1);

    // The inbox's search finds the ticket by the words of its first message.
    let admin = env
        .store
        .create_user(&env.ids, "admin@x.com", None, Role::Admin, None)
        .await
        .unwrap();
    let caller = env.store.caller(&admin).await.unwrap();
    assert_eq!(
        found_by(&env, &caller, "squeaks").await,
        [ok(0).1.id.clone()]
    );
    // By its subject and its client too, as any conversation.
    assert_eq!(found_by(&env, &caller, "jams").await, [ok(0).1.id.clone()]);
    assert_eq!(
        found_by(&env, &caller, "cartridge toner").await,
        [ok(1).1.id.clone()]
    );
    assert!(
        found_by(&env, &caller, "bruno").await.contains(&ok(1).1.id),
        "found by its client's address"
    );

    // The inbox row is the one the triggers write for a conversation whose contact wrote
    // once (PostgreSQL's batch writes it itself; SQLite's triggers do): previewed, the
    // client waiting since the message, unread, unresolved.
    let (_, c, _, _, m) = ok(0);
    let m = m.as_ref().unwrap();
    let row: (Option<String>, Option<i64>, Option<String>, Option<i64>, i64) = sqlx::query_as(
        "SELECT preview_message_id, last_inbound_at, last_reply_id, waiting_since, unresolved FROM conversation_activity WHERE conversation_id = $1",
    )
    .bind(&c.id)
    .fetch_one(env.store.pool())
    .await
    .unwrap();
    assert_eq!(
        row,
        (
            Some(m.id.clone()),
            Some(m.created_at),
            None,
            Some(m.created_at),
            1
        )
    );
    let item = inbox_row(&env, &caller, &c.id).await;
    assert_eq!(item.preview, "The tray squeaks loudly");
    assert_eq!(item.preview_author, "contact");
    assert_eq!(item.waiting_since, Some(m.created_at));
    assert!(item.unread);
    // Later messages update the row as for any conversation: an agent's answer is the
    // preview, nobody waits, and its words are found.
    let answer = env
        .store
        .insert_outbound(
            &env.ids,
            &NewOutbound::text(&c.id, AuthorKind::Agent, None, "Replacing the roller"),
        )
        .await
        .unwrap();
    assert!(matches!(answer, Queued::New(..)), "{answer:?}");
    let item = inbox_row(&env, &caller, &c.id).await;
    assert_eq!(item.preview, "Replacing the roller");
    assert_eq!(item.preview_author, "agent");
    assert_eq!(item.waiting_since, None);
    assert_eq!(
        found_by(&env, &caller, "roller").await,
        std::slice::from_ref(&c.id)
    );

    // The same message as an envelope on the stream (from a node that still sent it
    // there): a duplicate, not a second message.
    let (t, ..) = ok(1);
    let bruno_id = Identity::email(&bruno.email).unwrap();
    let e = envelope(
        env.ids.new_id(),
        Submission {
            inbox: "email:support",
            ticket_id: &t.id,
            key: None,
            sender: &bruno_id,
            sender_name: None,
            subject: "Toner",
            text: "Cyan cartridge empty",
            attachments: vec![],
        },
        env.ids.now_ms(),
    );
    let outcome = env.store.ingest_batch(&[e]).await.unwrap();
    assert!(
        matches!(outcome[0], IngestOutcome::Duplicate { .. }),
        "{outcome:?}"
    );
    assert_eq!(env.store.ticket_messages(t).await.unwrap().len(), 1);
}

/// The portal's group commit: forms sent at the same moment are opened by one
/// transaction, yet each keeps its own answer. Bad input refuses that form alone; a form
/// sent twice in the batch, or sent before, is the ticket it opened; every new ticket
/// has its own number, conversation (for people, SLA running), card and audit line; a
/// client whose contact was merged gets its ticket on the surviving contact.
async fn tickets_sent_together_open_in_one_batch_each_with_its_own_answer(env: Env) {
    let acme = env.store.create_company(&env.ids, "Acme").await.unwrap();
    let globex = env.store.create_company(&env.ids, "Globex").await.unwrap();
    let ana = client(&env, "ana@acme.example", &acme).await;
    let gil = client(&env, "gil@globex.example", &globex).await;
    let (before, ..) = env
        .store
        .open_ticket(&env.ids, &ana, &new_ticket("Sent before", "old"))
        .await
        .unwrap();
    let long = "x".repeat(201);
    let batch = vec![
        (&ana, new_ticket("Printer jams", "a1")),
        (&gil, new_ticket("Invoice question", "g1")),
        (&ana, new_ticket("   ", "a2")),
        (&ana, new_ticket("Printer jams", "a1")),
        (&ana, new_ticket("Sent before", "old")),
        (&gil, new_ticket(&long, "g2")),
        (&gil, new_ticket("Toner", "g3")),
    ];
    let out = env.store.open_tickets(&env.ids, &batch).await.unwrap();
    assert_eq!(out.len(), batch.len());
    let ok = |i: usize| out[i].as_ref().unwrap_or_else(|e| panic!("form {i}: {e}"));
    for i in [2, 5] {
        assert!(
            matches!(out[i], Err(switchboard_core::Error::Invalid(_))),
            "form {i}: {:?}",
            out[i].as_ref().map(|o| &o.0)
        );
    }
    let fresh: Vec<usize> = [0, 1, 6].into();
    for &i in &fresh {
        let (t, c, card, new, _) = ok(i);
        assert!(new, "form {i} opens a ticket");
        assert_eq!(t.number, c.number);
        assert_eq!(c.thread_key, format!("ticket:{}", t.id));
        assert_eq!(card.payload, t.card());
        assert_eq!(card.conversation_id, c.id);
        assert_eq!(t.subject, batch[i].1.subject);
        assert_eq!(t.contact_id, batch[i].0.contact_id);
        assert_eq!(t.company_id, batch[i].0.company_id);
        let stored = env.store.conversation(&c.id).await.unwrap();
        assert!(!stored.bot_active);
        assert_eq!(stored.status, Status::Open);
        let since: Option<i64> =
            sqlx::query_scalar("SELECT people_since FROM conversations WHERE id = $1")
                .bind(&c.id)
                .fetch_one(env.store.pool())
                .await
                .unwrap();
        assert!(since.is_some(), "form {i}: its SLA clocks run");
    }
    let mut numbers: Vec<i64> = fresh.iter().map(|&i| ok(i).0.number).collect();
    numbers.push(before.number);
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), 4, "every ticket has its own number");
    // The same form twice in the batch: one ticket, the second told it is not new.
    assert!(!ok(3).3);
    assert_eq!(ok(3).0.id, ok(0).0.id);
    assert_eq!(ok(3).1.id, ok(0).1.id);
    // Sent before: the ticket it opened then.
    assert!(!ok(4).3);
    assert_eq!(ok(4).0.id, before.id);
    // Each company sees its own, and each new ticket has one audit line.
    let (mine, total) = env
        .store
        .client_tickets(&ana, &TicketQuery::default())
        .await
        .unwrap();
    assert_eq!(total, 2, "{mine:?}");
    let (theirs, total) = env
        .store
        .client_tickets(&gil, &TicketQuery::default())
        .await
        .unwrap();
    assert_eq!(total, 2, "{theirs:?}");
    let log = env.store.client_audit_log(&gil, 50).await.unwrap();
    let tickets: Vec<&str> = log
        .iter()
        .filter(|a| a.action == "ticket")
        .filter_map(|a| a.subject.as_deref())
        .collect();
    assert_eq!(tickets.len(), 2, "{log:?}");
    assert!(tickets.contains(&format!("#{}", ok(1).0.number).as_str()));
    let ana_log = env.store.client_audit_log(&ana, 50).await.unwrap();
    assert_eq!(
        ana_log.iter().filter(|a| a.action == "ticket").count(),
        2,
        "{ana_log:?}"
    );

    // A merged contact: the ticket lands on the survivor.
    let other = env
        .open(env.email("ana.home@mail.example", "home-first", "hi"))
        .await;
    let other = env.store.conversation(&other).await.unwrap().contact_id;
    env.store
        .merge_contacts(&env.ids, &ana.contact_id, &other)
        .await
        .unwrap();
    let out = env
        .store
        .open_tickets(&env.ids, &[(&ana, new_ticket("After the merge", "m1"))])
        .await
        .unwrap();
    let (t, c, ..) = out[0].as_ref().unwrap();
    assert_eq!(t.contact_id, other);
    assert_eq!(c.contact_id, other);
    let again = env
        .store
        .open_ticket(&env.ids, &ana, &new_ticket("After the merge", "m1"))
        .await
        .unwrap();
    assert_eq!((again.0.id.as_str(), again.3), (t.id.as_str(), false));

    // An empty batch opens nothing.
    assert!(
        env.store
            .open_tickets(&env.ids, &[])
            .await
            .unwrap()
            .is_empty()
    );
}
