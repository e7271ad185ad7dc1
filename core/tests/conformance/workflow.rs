//! The inbox's workflow on every backend: who may write, stale versions, concurrent
//! replies, escalation, snoozes, reopening, merges, bulk actions, internal notes,
//! mentions, canned responses, round-robin assignment, SLA breaches and the dashboard.
//! Time is a manual clock throughout: nothing sleeps.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use switchboard_core::bot::{self, BotDecision, BotHook, BotInput, BotOptions, BotWorker};
use switchboard_core::changes::Change;
use switchboard_core::clock::{Ids, ManualClock};
use switchboard_core::dispatcher::{
    DispatchOptions, Dispatcher, Outbox, Outgoing, SendError, SendReceipt, Sender,
};
use switchboard_core::domain::{
    AuthorKind, CardPayload, Channel, Conversation, Envelope, Handoff, Identity, IdentityKind,
    Message, Priority, Role, Status, TicketStatus, Tier, User,
};
use switchboard_core::metrics::Metrics;
use switchboard_core::realtime::Subscription;
use switchboard_core::realtime::{Event, Realtime};
use switchboard_core::store::{
    Caller, CannedInput, ConversationFilter, IngestOutcome, Ingested, NotificationKind, Queued,
};
use switchboard_core::stream::INBOUND;
use switchboard_core::workflow::Workflow;
use switchboard_core::{Error, Result};

use crate::on_every_backend;
use crate::support::Env;

on_every_backend!(
    supervisors_read_everything_and_write_nothing,
    a_stale_version_is_refused_and_changes_nothing,
    two_agents_replying_at_once_are_both_stored_in_order,
    escalation_needs_a_reason_and_leaves_a_line_for_agents,
    a_snooze_is_woken_by_the_clock,
    a_customer_message_reopens_pending_snoozed_and_resolved,
    merging_moves_messages_and_cards_and_resolves_the_source,
    bulk_actions_apply_where_they_may_and_report_the_rest,
    notes_never_reach_the_customer,
    a_mention_notifies_only_agents_who_may_see,
    canned_responses_are_seeded_in_three_languages_and_filled_in,
    round_robin_spreads_among_online_agents_under_capacity,
    an_sla_breach_is_marked_and_counted_once,
    the_dashboard_adds_up_a_known_day,
    people_get_a_conversation_at_handoff_or_at_once_without_a_bot,
);

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
/// Monday 2024-05-06 09:00 UTC: the default SLA calendar opens then.
const T0: i64 = 1_714_986_000_000;

struct Fx {
    env: Env,
    clock: Arc<ManualClock>,
    ids: Ids,
    wf: Workflow,
    outbox: Outbox,
}

impl Fx {
    fn new(env: Env) -> Self {
        Self::at(env, T0)
    }

    fn at(env: Env, start: i64) -> Self {
        let clock = Arc::new(ManualClock::new(start));
        let ids = Ids::new(clock.clone());
        let realtime: Arc<dyn Realtime> = env.realtime.clone();
        let wf = Workflow::new(
            env.store.clone(),
            realtime.clone(),
            ids.clone(),
            Arc::new(Metrics::default()),
        );
        let outbox = Outbox {
            store: env.store.clone(),
            stream: env.stream.clone(),
            ids: ids.clone(),
            realtime,
        };
        Self {
            env,
            clock,
            ids,
            wf,
            outbox,
        }
    }

    fn now(&self) -> i64 {
        self.ids.now_ms()
    }

    /// Moves the clock forward to `t`.
    fn set_time(&self, t: i64) {
        assert!(t >= self.now(), "the clock only moves forward");
        self.clock.advance(t - self.now());
    }

    fn webchat(&self, visitor: &str, n: u32, text: &str) -> Envelope {
        Envelope::new(
            self.ids.new_id(),
            Channel::Webchat,
            "webchat:default",
            &format!("{visitor}-{n}"),
            Identity::new(IdentityKind::Visitor, visitor).unwrap(),
            text,
            self.now(),
        )
    }

    fn email(&self, from: &str, message_id: &str, thread: &str, text: &str) -> Envelope {
        let mut e = Envelope::new(
            self.ids.new_id(),
            Channel::Email,
            "email:support",
            message_id,
            Identity::email(from).unwrap(),
            text,
            self.now(),
        );
        e.thread = Some(thread.into());
        e
    }

    async fn ingest(&self, e: Envelope) -> Ingested {
        match self.env.store.ingest_batch(&[e]).await.unwrap().remove(0) {
            IngestOutcome::Stored(i) => *i,
            other => panic!("{other:?}"),
        }
    }

    async fn open(&self, visitor: &str) -> Conversation {
        self.ingest(self.webchat(visitor, 1, "hello"))
            .await
            .conversation
    }

    async fn user(
        &self,
        email: &str,
        name: &str,
        role: Role,
        tier: Option<Tier>,
        teams: &[&str],
    ) -> (User, Caller) {
        let s = &self.env.store;
        let u = s
            .create_user(&self.ids, email, Some(name), role, tier)
            .await
            .unwrap();
        for t in teams {
            s.add_user_team(&u.id, t).await.unwrap();
        }
        let c = s.caller(&u).await.unwrap();
        (u, c)
    }

    async fn admin(&self) -> Caller {
        self.user("admin@x.com", "Ada Admin", Role::Admin, None, &[])
            .await
            .1
    }

    async fn conversation(&self, id: &str) -> Conversation {
        self.env.store.conversation(id).await.unwrap()
    }

    /// The whole thread, notes included, as an admin reads it.
    async fn thread(&self, admin: &Caller, id: &str) -> Vec<Message> {
        self.env
            .store
            .messages_for(admin, id, None, 0)
            .await
            .unwrap()
    }

    async fn count(&self, sql: &str, id: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .bind(id)
            .fetch_one(self.env.store.pool())
            .await
            .unwrap()
    }

    async fn scalar(&self, sql: &str, id: &str) -> Option<i64> {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .bind(id)
            .fetch_one(self.env.store.pool())
            .await
            .unwrap()
    }

    fn events(&self) -> Subscription {
        self.env.realtime.subscribe()
    }
}

fn is_forbidden<T: std::fmt::Debug>(r: Result<T>) -> bool {
    matches!(r, Err(Error::Forbidden(_)))
}

fn is_not_found<T: std::fmt::Debug>(r: Result<T>) -> bool {
    matches!(r, Err(Error::NotFound(_)))
}

fn is_invalid<T: std::fmt::Debug>(r: Result<T>) -> bool {
    matches!(r, Err(Error::Invalid(_)))
}

fn drain(rx: &mut Subscription) -> Vec<Event> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        out.push(e);
    }
    out
}

async fn supervisors_read_everything_and_write_nothing(env: Env) {
    let fx = Fx::new(env);
    let (wf, s) = (&fx.wf, &fx.env.store);
    let c = fx.open("sup-v").await;
    let other = fx.open("sup-w").await;
    let (_, sup) = fx
        .user("sue@x.com", "Sue", Role::Supervisor, None, &[])
        .await;
    let admin = fx.admin().await;
    assert!(sup.may_see(&c.scope()) && !sup.may_write(&c.scope()));
    assert!(admin.may_write(&c.scope()));
    assert_eq!(
        s.conversation_for(&sup, &c.id).await.unwrap().id,
        c.id,
        "a supervisor reads"
    );
    let mut events = fx.events();
    assert!(is_forbidden(
        wf.change(&sup, &c.id, &Change::Priority(Priority::High), None)
            .await
    ));
    assert!(is_forbidden(
        wf.assign(&sup, &c.id, Some(&sup.user_id), None).await
    ));
    assert!(is_forbidden(wf.add_note(&sup, &c.id, "a note").await));
    assert!(is_forbidden(
        wf.reply(&sup, &fx.outbox, &c.id, "hello", None).await
    ));
    assert!(is_forbidden(
        wf.escalate(&sup, &c.id, "needs N2", None).await
    ));
    assert!(is_forbidden(
        wf.snooze(&sup, &c.id, fx.now() + HOUR, None).await
    ));
    assert!(is_forbidden(
        wf.merge_conversations(&sup, &other.id, &c.id).await
    ));
    assert!(is_forbidden(
        wf.merge_contacts(&sup, &other.contact_id, &c.contact_id)
            .await
    ));
    let bulk = wf
        .bulk(
            &sup,
            std::slice::from_ref(&c.id),
            &Change::Status(Status::Resolved),
        )
        .await
        .unwrap();
    assert!(matches!(bulk[0].outcome, Err(Error::Forbidden(_))));
    let canned = CannedInput {
        shortcut: "mine".into(),
        locale: "en".into(),
        title: "Mine".into(),
        body: "Hello".into(),
    };
    assert!(is_forbidden(s.create_canned(&fx.ids, &sup, &canned).await));
    // Nothing changed, nothing was written, nothing was published.
    assert_eq!(fx.conversation(&c.id).await, c);
    assert_eq!(fx.thread(&admin, &c.id).await.len(), 1);
    assert!(drain(&mut events).is_empty());

    // Someone who may not see a conversation is told it does not exist.
    wf.change(&admin, &c.id, &Change::Team(Some("sales".into())), None)
        .await
        .unwrap();
    let (_, billing) = fx
        .user(
            "n1@x.com",
            "Nico",
            Role::Support,
            Some(Tier::N1),
            &["billing"],
        )
        .await;
    assert!(is_not_found(
        wf.change(&billing, &c.id, &Change::Priority(Priority::Low), None)
            .await
    ));
    assert!(is_not_found(wf.add_note(&billing, &c.id, "x").await));
    // A coordinator writes in its companies' conversations only.
    let acme = s.create_company(&fx.ids, "Acme").await.unwrap();
    s.set_contact_company(&c.contact_id, &acme).await.unwrap();
    let (coord_user, _) = fx
        .user("coord@x.com", "Cora", Role::Coordinator, None, &[])
        .await;
    s.add_user_company(&coord_user.id, &acme).await.unwrap();
    let coord = s.caller(&coord_user).await.unwrap();
    assert!(is_not_found(
        wf.change(&coord, &other.id, &Change::Priority(Priority::Low), None)
            .await
    ));
    let changed = wf
        .change(&coord, &c.id, &Change::Priority(Priority::Urgent), None)
        .await
        .unwrap();
    assert_eq!(changed.priority, Priority::Urgent);
}

async fn a_stale_version_is_refused_and_changes_nothing(env: Env) {
    let fx = Fx::new(env);
    let wf = &fx.wf;
    let c = fx.open("stale").await;
    let (_, ana) = fx
        .user("ana@x.com", "Ana", Role::Support, Some(Tier::N1), &[])
        .await;
    let (_, bob) = fx
        .user("bob@x.com", "Bob", Role::Support, Some(Tier::N1), &[])
        .await;
    // Both opened the conversation at the same version; Ana changes it first.
    let seen = c.version;
    let after = wf
        .change(&ana, &c.id, &Change::Priority(Priority::High), Some(seen))
        .await
        .unwrap();
    assert_eq!(after.version, seen + 1);
    let mut events = fx.events();
    let refused = [
        wf.change(&bob, &c.id, &Change::Status(Status::Resolved), Some(seen))
            .await,
        wf.change(&bob, &c.id, &Change::Labels(vec!["vip".into()]), Some(seen))
            .await,
        wf.escalate(&bob, &c.id, "billing dispute", Some(seen))
            .await,
    ];
    for r in refused {
        match r {
            Err(Error::Conflict(m)) => {
                assert!(m.contains("changed since you opened it"), "{m}");
                assert!(m.contains(&format!("version {}", seen + 1)), "{m}");
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(fx.conversation(&c.id).await, after, "nothing changed");
    assert!(drain(&mut events).is_empty(), "nothing published");
    assert_eq!(
        fx.count(
            "SELECT COUNT(*) FROM messages WHERE conversation_id = $1",
            &c.id
        )
        .await,
        1,
        "no escalation line"
    );
    assert_eq!(
        fx.count(
            "SELECT COUNT(*) FROM events WHERE kind = 'conversation_changed' AND conversation_id = $1",
            &c.id
        )
        .await,
        1
    );
    // With the version it reads now, Bob's change goes through.
    let done = wf
        .change(
            &bob,
            &c.id,
            &Change::Status(Status::Resolved),
            Some(after.version),
        )
        .await
        .unwrap();
    assert_eq!((done.status, done.version), (Status::Resolved, seen + 2));
}

async fn two_agents_replying_at_once_are_both_stored_in_order(env: Env) {
    let fx = Fx::new(env);
    let wf = &fx.wf;
    let c = fx.open("replies").await;
    let (_, ana) = fx
        .user("ana@x.com", "Ana", Role::Support, Some(Tier::N1), &[])
        .await;
    let (_, bob) = fx
        .user("bob@x.com", "Bob", Role::Support, Some(Tier::N1), &[])
        .await;
    let (a, b) = tokio::join!(
        wf.reply(&ana, &fx.outbox, &c.id, "I can help with that", None),
        wf.reply(&bob, &fx.outbox, &c.id, "Looking into it", None),
    );
    let (Queued::New(a, _), Queued::New(b, _)) = (a.unwrap(), b.unwrap()) else {
        panic!("both stored")
    };
    let admin = fx.admin().await;
    let thread = fx.thread(&admin, &c.id).await;
    let agents: Vec<&Message> = thread
        .iter()
        .filter(|m| m.author_kind == AuthorKind::Agent)
        .collect();
    assert_eq!(agents.len(), 2);
    let mut expected = [a.id.clone(), b.id.clone()];
    expected.sort();
    assert_eq!(
        agents.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
        expected,
        "the thread is in acceptance order"
    );
    assert!(thread.windows(2).all(|w| w[0].id < w[1].id));
    // Replies take no version and move none: a change based on what was read before
    // them still applies.
    wf.change(
        &ana,
        &c.id,
        &Change::Status(Status::Pending),
        Some(c.version),
    )
    .await
    .unwrap();
    let (_, sup) = fx
        .user("sue@x.com", "Sue", Role::Supervisor, None, &[])
        .await;
    assert!(is_forbidden(
        wf.reply(&sup, &fx.outbox, &c.id, "me too", None).await
    ));
}

async fn escalation_needs_a_reason_and_leaves_a_line_for_agents(env: Env) {
    let fx = Fx::new(env);
    let wf = &fx.wf;
    let c = fx.open("esc").await;
    let admin = fx.admin().await;
    let (nico, n1) = fx
        .user("nico@x.com", "Nico", Role::Support, Some(Tier::N1), &[])
        .await;
    let c = wf
        .assign(&admin, &c.id, Some(&nico.id), Some(c.version))
        .await
        .unwrap();
    for reason in ["", "   "] {
        assert!(is_invalid(wf.escalate(&n1, &c.id, reason, None).await));
    }
    assert_eq!(fx.conversation(&c.id).await, c, "refused: nothing changed");
    let mut events = fx.events();
    let up = wf
        .escalate(&n1, &c.id, "refund above my limit", Some(c.version))
        .await
        .unwrap();
    assert_eq!(up.tier, Tier::N2);
    assert_eq!(
        up.assignee_id, None,
        "an N1 assignee cannot keep an N2 conversation"
    );
    let thread = fx.thread(&admin, &c.id).await;
    let line = thread.last().unwrap();
    assert_eq!(line.author_kind, AuthorKind::System);
    assert!(line.internal);
    assert!(
        line.text
            .starts_with("Escalated from N1 to N2 by Nico: refund above my limit"),
        "{}",
        line.text
    );
    assert!(line.text.contains("Nico was unassigned"), "{}", line.text);
    let customer_side = fx.env.store.messages(&c.id, None, 0).await.unwrap();
    assert!(customer_side.iter().all(|m| m.id != line.id));
    let published = drain(&mut events);
    assert!(published.iter().any(|e| matches!(e,
        Event::Note { message, .. } if message.id == line.id)));
    assert!(published.iter().any(|e| matches!(e,
        Event::ConversationChanged { change, conversation } if change == "tier" && conversation.tier == Tier::N2)));
    // Nico is N1: the conversation is out of its sight now.
    assert!(is_not_found(wf.escalate(&n1, &c.id, "again", None).await));
    // The tier changes only with a reason.
    assert!(is_invalid(
        wf.change(&admin, &c.id, &Change::Tier(Tier::N3), None)
            .await
    ));
    let top = wf
        .escalate(&admin, &c.id, "engineering needed", None)
        .await
        .unwrap();
    assert_eq!(top.tier, Tier::N3);
    assert!(is_invalid(wf.escalate(&admin, &c.id, "more", None).await));
    assert!(is_invalid(wf.de_escalate(&admin, &c.id, " ", None).await));
    let down = wf
        .de_escalate(&admin, &c.id, "a known issue after all", None)
        .await
        .unwrap();
    assert_eq!(down.tier, Tier::N2);
    let last = fx.thread(&admin, &c.id).await.pop().unwrap();
    assert!(
        last.text
            .starts_with("De-escalated from N3 to N2 by Ada Admin: a known issue after all"),
        "{}",
        last.text
    );
    assert_eq!(
        fx.count(
            "SELECT COUNT(*) FROM events WHERE kind IN ('escalated', 'de_escalated') AND conversation_id = $1",
            &c.id
        )
        .await,
        3
    );
}

async fn a_snooze_is_woken_by_the_clock(env: Env) {
    let fx = Fx::new(env);
    let wf = &fx.wf;
    let c = fx.open("snooze").await;
    let (_, ana) = fx
        .user("ana@x.com", "Ana", Role::Support, Some(Tier::N1), &[])
        .await;
    assert!(is_invalid(
        wf.change(&ana, &c.id, &Change::Status(Status::Snoozed), None)
            .await
    ));
    assert!(is_invalid(wf.snooze(&ana, &c.id, fx.now(), None).await));
    let until = fx.now() + HOUR;
    let snoozed = wf
        .snooze(&ana, &c.id, until, Some(c.version))
        .await
        .unwrap();
    assert_eq!(
        (snoozed.status, snoozed.snoozed_until),
        (Status::Snoozed, Some(until))
    );
    fx.clock.advance(HOUR - 1);
    assert!(wf.wake_snoozed(fx.now()).await.unwrap().is_empty());
    assert_eq!(fx.conversation(&c.id).await.status, Status::Snoozed);
    fx.clock.advance(1);
    let mut events = fx.events();
    assert_eq!(wf.wake_snoozed(fx.now()).await.unwrap(), vec![c.id.clone()]);
    let woken = fx.conversation(&c.id).await;
    assert_eq!(
        (woken.status, woken.snoozed_until, woken.version),
        (Status::Open, None, snoozed.version + 1)
    );
    assert!(drain(&mut events).iter().any(|e| matches!(e,
        Event::ConversationChanged { change, conversation } if change == "status" && conversation.id == c.id && conversation.status == Status::Open)));
    // Woken once.
    assert!(wf.wake_snoozed(fx.now()).await.unwrap().is_empty());
    assert!(fx.wf.tick().await.unwrap().0.is_empty());
}

async fn a_customer_message_reopens_pending_snoozed_and_resolved(env: Env) {
    let fx = Fx::new(env);
    let (wf, s) = (&fx.wf, &fx.env.store);
    let c = fx.open("reopen").await;
    let (_, ana) = fx
        .user("ana@x.com", "Ana", Role::Support, Some(Tier::N1), &[])
        .await;
    // Pending: the customer answers after ten minutes.
    let pending = wf
        .change(&ana, &c.id, &Change::Status(Status::Pending), None)
        .await
        .unwrap();
    fx.clock.advance(10 * MIN);
    let back = fx.ingest(fx.webchat("reopen", 2, "here it is")).await;
    assert_eq!(back.conversation.id, c.id);
    assert!(back.woke);
    assert_eq!(back.conversation.status, Status::Open);
    let now = fx.conversation(&c.id).await;
    assert_eq!(now.status, Status::Open);
    assert_eq!(now.version, pending.version + 1);
    assert_eq!(back.conversation.version, now.version);
    assert_eq!(
        fx.scalar("SELECT pending_ms FROM conversations WHERE id = $1", &c.id)
            .await,
        Some(10 * MIN)
    );
    assert_eq!(
        fx.count(
            "SELECT COUNT(*) FROM sla_pauses WHERE ended_at IS NULL AND conversation_id = $1",
            &c.id
        )
        .await,
        0,
        "the SLA pause ended"
    );
    // Snoozed: a message before the time opens it.
    wf.snooze(&ana, &c.id, fx.now() + 24 * HOUR, None)
        .await
        .unwrap();
    let back = fx.ingest(fx.webchat("reopen", 3, "any news?")).await;
    assert!(back.woke);
    let now = fx.conversation(&c.id).await;
    assert_eq!((now.status, now.snoozed_until), (Status::Open, None));
    // An open conversation stays as it is.
    let back = fx.ingest(fx.webchat("reopen", 4, "hello?")).await;
    assert!(!back.woke && !back.reopened);
    assert_eq!(fx.conversation(&c.id).await.version, now.version);

    // Resolved: a reply to one of our messages opens it again.
    let mail = fx
        .ingest(fx.email("ana@client.com", "<m1@client>", "<m1@client>", "my printer"))
        .await
        .conversation;
    let Queued::New(ours, _) = wf
        .reply(
            &ana,
            &fx.outbox,
            &mail.id,
            "try turning it off and on",
            None,
        )
        .await
        .unwrap()
    else {
        panic!("queued")
    };
    s.claim_for_sending(&ours.id, fx.now(), 1000)
        .await
        .unwrap()
        .unwrap();
    s.record_sent(&fx.ids, &ours.id, 1, Some("<ours-1@sb>"))
        .await
        .unwrap();
    let resolved = wf
        .change(&ana, &mail.id, &Change::Status(Status::Resolved), None)
        .await
        .unwrap();
    assert!(
        fx.scalar(
            "SELECT resolved_at FROM conversations WHERE id = $1",
            &mail.id
        )
        .await
        .is_some()
    );
    let mut again = fx.email(
        "ana@client.com",
        "<m2@client>",
        "<m2@client>",
        "still broken",
    );
    again.replies_to = vec!["<ours-1@sb>".into()];
    let back = fx.ingest(again).await;
    assert!(back.reopened);
    let now = fx.conversation(&mail.id).await;
    assert_eq!(now.status, Status::Open);
    assert_eq!(now.version, resolved.version + 1);
    assert_eq!(
        fx.scalar(
            "SELECT resolved_at FROM conversations WHERE id = $1",
            &mail.id
        )
        .await,
        None
    );
}

async fn merging_moves_messages_and_cards_and_resolves_the_source(env: Env) {
    let fx = Fx::new(env);
    let (wf, s) = (&fx.wf, &fx.env.store);
    let admin = fx.admin().await;
    let (_, ana) = fx
        .user("ana@x.com", "Ana", Role::Support, Some(Tier::N1), &[])
        .await;
    let target = fx
        .ingest(fx.email("carl@client.com", "<t1@c>", "<t1@c>", "invoice question"))
        .await
        .conversation;
    let source = fx
        .ingest(fx.email("carl@client.com", "<s1@c>", "<s1@c>", "same invoice, again"))
        .await
        .conversation;
    assert_eq!(source.contact_id, target.contact_id);
    assert_ne!(source.id, target.id);
    let ticket = |id: &str, title: &str| CardPayload::Ticket {
        id: id.into(),
        number: format!("T-{id}"),
        title: title.into(),
        status: TicketStatus::Open,
    };
    s.put_card(&fx.ids, &target.id, ticket("1", "Invoice"))
        .await
        .unwrap();
    s.put_card(&fx.ids, &source.id, ticket("1", "Invoice"))
        .await
        .unwrap();
    s.put_card(&fx.ids, &source.id, ticket("2", "Refund"))
        .await
        .unwrap();
    let source_message = fx.thread(&admin, &source.id).await.remove(0);

    assert!(is_invalid(
        wf.merge_conversations(&ana, &source.id, &source.id).await
    ));
    let merged = wf
        .merge_conversations(&ana, &source.id, &target.id)
        .await
        .unwrap();
    assert_eq!(merged.id, target.id);
    let thread = fx.thread(&admin, &target.id).await;
    assert!(thread.iter().any(|m| m.id == source_message.id));
    assert!(
        thread.iter().any(|m| m.author_kind == AuthorKind::System
            && m.text.contains(&format!("#{}", source.number)))
    );
    let left = fx.thread(&admin, &source.id).await;
    assert_eq!(left.len(), 1, "only the pointer stays behind");
    assert_eq!(left[0].author_kind, AuthorKind::System);
    assert!(
        left[0].text.contains(&format!("#{}", target.number)),
        "{}",
        left[0].text
    );
    let source_now = fx.conversation(&source.id).await;
    assert_eq!(source_now.status, Status::Resolved);
    assert_eq!(
        sqlx::query_scalar::<_, Option<String>>(
            "SELECT merged_into FROM conversations WHERE id = $1"
        )
        .bind(&source.id)
        .fetch_one(s.pool())
        .await
        .unwrap(),
        Some(target.id.clone())
    );
    let cards = s.cards(&target.id).await.unwrap();
    assert_eq!(cards.len(), 2, "one card per subject");
    assert!(s.cards(&source.id).await.unwrap().is_empty());
    assert!(is_invalid(
        wf.merge_conversations(&ana, &source.id, &target.id).await
    ));
    // Another contact's conversation is not mixed in.
    let other = fx.open("someone-else").await;
    assert!(is_invalid(
        wf.merge_conversations(&ana, &other.id, &target.id).await
    ));

    // Contacts: merged by those who may change them.
    let (_, sales) = fx
        .user(
            "sam@x.com",
            "Sam",
            Role::Support,
            Some(Tier::N1),
            &["sales"],
        )
        .await;
    wf.change(
        &admin,
        &other.id,
        &Change::Team(Some("billing".into())),
        None,
    )
    .await
    .unwrap();
    assert!(is_not_found(
        wf.merge_contacts(&sales, &other.contact_id, &target.contact_id)
            .await
    ));
    let m = wf
        .merge_contacts(&admin, &other.contact_id, &target.contact_id)
        .await
        .unwrap();
    assert_eq!(m.survivor, target.contact_id);
}

async fn bulk_actions_apply_where_they_may_and_report_the_rest(env: Env) {
    let fx = Fx::new(env);
    let wf = &fx.wf;
    let admin = fx.admin().await;
    let mine = fx.open("bulk-1").await;
    let theirs = fx.open("bulk-2").await;
    wf.change(
        &admin,
        &theirs.id,
        &Change::Team(Some("sales".into())),
        None,
    )
    .await
    .unwrap();
    let theirs = fx.conversation(&theirs.id).await;
    let (_, nico) = fx
        .user(
            "nico@x.com",
            "Nico",
            Role::Support,
            Some(Tier::N1),
            &["billing"],
        )
        .await;
    let ids = vec![
        mine.id.clone(),
        theirs.id.clone(),
        "no-such".to_owned(),
        mine.id.clone(),
    ];
    let out = wf
        .bulk(&nico, &ids, &Change::Priority(Priority::High))
        .await
        .unwrap();
    assert_eq!(out.len(), 3, "each conversation once");
    assert_eq!(out[0].conversation_id, mine.id);
    assert_eq!(out[0].outcome.as_ref().unwrap().priority, Priority::High);
    assert!(matches!(out[1].outcome, Err(Error::NotFound(_))));
    assert!(matches!(out[2].outcome, Err(Error::NotFound(_))));
    assert_eq!(fx.conversation(&mine.id).await.priority, Priority::High);
    assert_eq!(fx.conversation(&theirs.id).await, theirs, "left alone");
    // An invalid change fails for each and changes none.
    let out = wf
        .bulk(&admin, &ids[..2], &Change::Labels(vec!["".into()]))
        .await
        .unwrap();
    assert!(
        out.iter()
            .all(|r| matches!(r.outcome, Err(Error::Invalid(_))))
    );
    let too_many: Vec<String> = (0..501).map(|i| format!("c{i}")).collect();
    assert!(is_invalid(
        wf.bulk(&admin, &too_many, &Change::Priority(Priority::Low))
            .await
    ));
}

/// Counts the sends it is asked for.
#[derive(Debug, Default)]
struct CountingSender {
    calls: AtomicUsize,
}

#[async_trait]
impl Sender for CountingSender {
    fn channel(&self) -> Channel {
        Channel::Webchat
    }
    async fn send(&self, _: &Outgoing) -> std::result::Result<SendReceipt, SendError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(SendReceipt { external_id: None })
    }
}

async fn notes_never_reach_the_customer(env: Env) {
    let fx = Fx::new(env);
    let (wf, s) = (&fx.wf, &fx.env.store);
    let c = fx.open("visitor-note").await;
    let (_, ana) = fx
        .user("ana@x.com", "Ana", Role::Support, Some(Tier::N1), &[])
        .await;
    assert!(is_invalid(wf.add_note(&ana, &c.id, "  ").await));
    let mut events = fx.events();
    let note = wf
        .add_note(&ana, &c.id, "customer sounds upset, keep it short")
        .await
        .unwrap();
    assert!(note.internal);
    assert_eq!(note.author_kind, AuthorKind::Agent);
    // Agents read it in the thread.
    let agent_view = s.messages_for(&ana, &c.id, None, 0).await.unwrap();
    assert!(agent_view.iter().any(|m| m.id == note.id && m.internal));
    // The widget's history and resume read the visitor's web-chat conversations of its
    // inbox and their messages exactly like this (gateway/src/webchat/mod.rs): no note.
    let filter = ConversationFilter {
        contact_id: Some(c.contact_id.clone()),
        inbox: Some("webchat:default".into()),
        limit: 20,
        ..Default::default()
    };
    for conv in s.conversations(&filter).await.unwrap() {
        let history = s.messages(&conv.id, None, 500).await.unwrap();
        assert!(!history.is_empty());
        assert!(history.iter().all(|m| m.id != note.id && !m.internal));
        // Resuming after the last message the widget saw.
        let first = history[0].id.clone();
        let resumed = s.messages(&conv.id, Some(&first), 500).await.unwrap();
        assert!(resumed.iter().all(|m| m.id != note.id));
    }
    // Published only as a note, which names no contact: no widget forwards it.
    let published = drain(&mut events);
    assert_eq!(published.len(), 1, "{published:?}");
    match &published[0] {
        e @ Event::Note { message, .. } => {
            assert_eq!(message.id, note.id);
            assert_eq!(e.contact_id(), None);
        }
        other => panic!("{other:?}"),
    }
    // Never queued, never sent: even a job naming it sends nothing.
    assert_eq!(
        s.claim_for_sending(&note.id, fx.now(), 1000).await.unwrap(),
        None
    );
    let due = s.take_due(fx.now() + HOUR, 0, 100).await.unwrap();
    assert!(!due.contains(&note.id));
    let sender = Arc::new(CountingSender::default());
    let mut senders: HashMap<Channel, Arc<dyn Sender>> = HashMap::new();
    senders.insert(Channel::Webchat, sender.clone());
    let d = Dispatcher::new(
        fx.outbox.clone(),
        senders,
        Arc::new(Metrics::default()),
        "notes".into(),
        DispatchOptions::default(),
    );
    d.step(Duration::from_millis(10)).await.unwrap();
    fx.outbox.enqueue(&note.id).await.unwrap();
    while d.step(Duration::from_millis(50)).await.unwrap() > 0 {}
    d.deliver(&note.id).await.unwrap();
    assert_eq!(sender.calls.load(Ordering::SeqCst), 0);
    assert!(s.message(&note.id).await.unwrap().internal);
}

async fn a_mention_notifies_only_agents_who_may_see(env: Env) {
    let fx = Fx::new(env);
    let (wf, s) = (&fx.wf, &fx.env.store);
    let admin = fx.admin().await;
    let c = fx.open("mention").await;
    let c = wf
        .change(&admin, &c.id, &Change::Team(Some("sales".into())), None)
        .await
        .unwrap();
    let (_, ana) = fx
        .user(
            "ana@x.com",
            "Ana",
            Role::Support,
            Some(Tier::N1),
            &["sales"],
        )
        .await;
    let (bea, bea_c) = fx
        .user(
            "bea.lima@x.com",
            "Bea Lima",
            Role::Support,
            Some(Tier::N1),
            &["sales"],
        )
        .await;
    let (carl, carl_c) = fx
        .user(
            "carl@x.com",
            "Carl Dias",
            Role::Support,
            Some(Tier::N1),
            &["billing"],
        )
        .await;
    let (dan, _) = fx
        .user(
            "dan@x.com",
            "Dan",
            Role::Support,
            Some(Tier::N1),
            &["sales"],
        )
        .await;
    let mut events = fx.events();
    let note = wf
        .add_note(
            &ana,
            &c.id,
            "@bea.lima could you check the invoice? cc @\"Carl Dias\", @ana and @nobody",
        )
        .await
        .unwrap();
    let bea_n = s.notifications(&bea.id, true).await.unwrap();
    assert_eq!(bea_n.len(), 1);
    assert_eq!(bea_n[0].kind, NotificationKind::Mention);
    assert_eq!(bea_n[0].message_id.as_deref(), Some(note.id.as_str()));
    assert_eq!(bea_n[0].conversation_number, c.number);
    assert!(
        s.notifications(&carl.id, false).await.unwrap().is_empty(),
        "Carl may not see the conversation"
    );
    assert!(s.notifications(&dan.id, false).await.unwrap().is_empty());
    assert!(
        s.notifications(&ana.user_id, false)
            .await
            .unwrap()
            .is_empty(),
        "no notification for mentioning oneself"
    );
    let published = drain(&mut events);
    let notifications: Vec<&Event> = published
        .iter()
        .filter(|e| matches!(e, Event::Notification { .. }))
        .collect();
    assert_eq!(notifications.len(), 1);
    let scope = notifications[0].scope().unwrap().into_owned();
    assert_eq!(scope.recipient.as_deref(), Some(bea.id.as_str()));
    assert!(bea_c.may_see(&scope), "the recipient receives it");
    assert!(
        !admin.may_see(&scope),
        "nobody else does, an admin included"
    );
    assert!(!carl_c.may_see(&scope));
    assert_eq!(notifications[0].contact_id(), None, "never a widget's");
    // Read: all of them, or some.
    assert_eq!(wf.mark_notifications_read(&bea_c, None).await.unwrap(), 1);
    assert!(s.notifications(&bea.id, true).await.unwrap().is_empty());
    assert!(
        s.notifications(&bea.id, false).await.unwrap()[0]
            .read_at
            .is_some()
    );
    // Being assigned notifies too.
    wf.assign(&admin, &c.id, Some(&dan.id), None).await.unwrap();
    let dan_n = s.notifications(&dan.id, true).await.unwrap();
    assert_eq!(dan_n.len(), 1);
    assert_eq!(dan_n[0].kind, NotificationKind::Assigned);
    let ids = vec![dan_n[0].id.clone()];
    assert_eq!(
        s.mark_notifications_read(&bea.id, Some(&ids), fx.now())
            .await
            .unwrap(),
        0,
        "another user's notification is left alone"
    );
    assert_eq!(
        s.mark_notifications_read(&dan.id, Some(&ids), fx.now())
            .await
            .unwrap(),
        1
    );
}

async fn canned_responses_are_seeded_in_three_languages_and_filled_in(env: Env) {
    let fx = Fx::new(env);
    let (wf, s) = (&fx.wf, &fx.env.store);
    for locale in ["en", "es", "pt-BR"] {
        let all = s.canned_responses(Some(locale)).await.unwrap();
        let shortcuts: Vec<&str> = all.iter().map(|c| c.shortcut.as_str()).collect();
        assert_eq!(
            shortcuts,
            vec![
                "details",
                "escalation",
                "follow-up",
                "greeting",
                "resolution"
            ],
            "{locale}"
        );
        assert!(all.iter().all(|c| c.body.contains("{{contact.name}}")));
    }
    let es = s.canned_by_prefix("/gr", "es").await.unwrap();
    assert_eq!(es.len(), 1);
    assert_eq!(
        (es[0].shortcut.as_str(), es[0].locale.as_str()),
        ("greeting", "es")
    );
    let pt = s.canned_by_prefix("/res", "pt_br").await.unwrap();
    assert_eq!(pt[0].id, "std-resolution-pt-BR");
    let fallback = s.canned_by_prefix("/", "fr").await.unwrap();
    assert!(fallback.len() == 5 && fallback.iter().all(|c| c.locale == "en"));
    assert!(s.canned_by_prefix("/zzz", "en").await.unwrap().is_empty());

    let c = fx.open("canned").await;
    let (bea_u, bea) = fx
        .user("bea@x.com", "Bea", Role::Support, Some(Tier::N1), &[])
        .await;
    // No name yet: the polite fallbacks.
    let en = wf
        .render_canned_for(&bea, &c.id, "std-greeting-en")
        .await
        .unwrap();
    assert_eq!(
        en,
        "Hi there, thanks for getting in touch! I'm Bea, and I'll be looking after you today. How can I help?"
    );
    let pt = wf
        .render_canned_for(&bea, &c.id, "std-greeting-pt-BR")
        .await
        .unwrap();
    assert!(
        pt.starts_with("Olá! Que bom que você entrou em contato. Eu sou Bea"),
        "{pt}"
    );
    sqlx::query("UPDATE contacts SET name = 'María' WHERE id = $1")
        .bind(&c.contact_id)
        .execute(s.pool())
        .await
        .unwrap();
    let es = wf
        .render_canned_for(&bea, &c.id, "std-greeting-es")
        .await
        .unwrap();
    assert_eq!(
        es,
        "¡Hola, María! Gracias por escribirnos. Soy Bea y hoy me encargo de ayudarte. ¿En qué te puedo ayudar?"
    );
    let esc = wf
        .render_canned_for(&bea, &c.id, "std-escalation-en")
        .await
        .unwrap();
    assert!(esc.contains(&format!("(#{})", c.number)), "{esc}");
    assert!(!esc.contains("{{"), "{esc}");

    // Agents add their own; admins edit any, agents only theirs.
    let mine = CannedInput {
        shortcut: "/Refund".into(),
        locale: "en".into(),
        title: "Refund on its way".into(),
        body: "Hi {{contact.name}}, your refund is on its way.".into(),
    };
    let created = s.create_canned(&fx.ids, &bea, &mine).await.unwrap();
    assert_eq!(
        (created.shortcut.as_str(), created.created_by.as_deref()),
        ("refund", Some(bea_u.id.as_str()))
    );
    assert!(matches!(
        s.create_canned(&fx.ids, &bea, &mine).await,
        Err(Error::Conflict(_))
    ));
    let bad = CannedInput {
        shortcut: "two words".into(),
        ..mine.clone()
    };
    assert!(is_invalid(s.create_canned(&fx.ids, &bea, &bad).await));
    let (_, bob) = fx
        .user("bob@x.com", "Bob", Role::Support, Some(Tier::N1), &[])
        .await;
    let edit = CannedInput {
        body: "Hi {{contact.name}}, the refund was sent today.".into(),
        ..mine.clone()
    };
    assert!(is_forbidden(
        s.update_canned(&fx.ids, &bob, &created.id, &edit).await
    ));
    assert!(is_forbidden(
        s.update_canned(&fx.ids, &bea, "std-greeting-en", &edit)
            .await
    ));
    let admin = fx.admin().await;
    let edited = s
        .update_canned(&fx.ids, &admin, &created.id, &edit)
        .await
        .unwrap();
    assert_eq!(edited.body, edit.body);
    assert!(is_forbidden(s.delete_canned(&bob, &created.id).await));
    s.delete_canned(&bea, &created.id).await.unwrap();
    assert!(is_not_found(s.canned_response(&created.id).await));
}

async fn round_robin_spreads_among_online_agents_under_capacity(env: Env) {
    let fx = Fx::new(env);
    let (wf, s) = (&fx.wf, &fx.env.store);
    let admin = fx.admin().await;
    let (a1, _) = fx
        .user(
            "a1@x.com",
            "A1",
            Role::Support,
            Some(Tier::N1),
            &["billing"],
        )
        .await;
    let (a2, _) = fx
        .user(
            "a2@x.com",
            "A2",
            Role::Support,
            Some(Tier::N1),
            &["billing"],
        )
        .await;
    let (a3, _) = fx
        .user(
            "a3@x.com",
            "A3",
            Role::Support,
            Some(Tier::N1),
            &["billing"],
        )
        .await;
    let (a4, _) = fx
        .user("a4@x.com", "A4", Role::Support, Some(Tier::N1), &["sales"])
        .await;
    let now = fx.now();
    for u in [&a1, &a2, &a4] {
        s.heartbeat(&u.id, now).await.unwrap();
    }
    // A3 was last seen just over 90 seconds ago: offline.
    s.heartbeat(&a3.id, now - 90_001).await.unwrap();
    assert_eq!(s.online_agents(now).await.unwrap().len(), 3);
    s.set_agent_capacity(&a2.id, 1).await.unwrap();
    assert_eq!(s.agent_capacity(&a2.id).await.unwrap(), 1);
    assert!(is_invalid(s.set_agent_capacity(&a2.id, -1).await));

    let mut got = Vec::new();
    for i in 0..4 {
        let c = fx.open(&format!("rr-{i}")).await;
        wf.change(&admin, &c.id, &Change::Team(Some("billing".into())), None)
            .await
            .unwrap();
        let assigned = wf.auto_assign(&c.id).await.unwrap().unwrap();
        assert!(!assigned.bot_active);
        got.push(assigned.assignee_id.unwrap());
        // Taken already: nothing happens.
        assert!(wf.auto_assign(&c.id).await.unwrap().is_none());
    }
    assert_eq!(
        got,
        vec![a1.id.clone(), a2.id.clone(), a1.id.clone(), a1.id.clone()],
        "A2 takes one (its capacity), A3 is offline, A4 is in another team"
    );
    let a1_notes = s.notifications(&a1.id, false).await.unwrap();
    assert_eq!(a1_notes.len(), 3);
    assert!(
        a1_notes
            .iter()
            .all(|n| n.kind == NotificationKind::Assigned)
    );

    // The cursor lives in the database: another node continues where this one stopped.
    let node2 = Workflow::new(
        s.clone(),
        fx.env.realtime.clone(),
        fx.ids.clone(),
        Arc::new(Metrics::default()),
    );
    s.set_agent_capacity(&a2.id, 10).await.unwrap();
    let c = fx.open("rr-node2").await;
    wf.change(&admin, &c.id, &Change::Team(Some("billing".into())), None)
        .await
        .unwrap();
    let next = node2.auto_assign(&c.id).await.unwrap().unwrap();
    assert_eq!(next.assignee_id.as_deref(), Some(a2.id.as_str()));

    // An N2 conversation waits for an N2 agent.
    let c = fx.open("rr-n2").await;
    wf.change(&admin, &c.id, &Change::Team(Some("billing".into())), None)
        .await
        .unwrap();
    wf.escalate(&admin, &c.id, "needs a specialist", None)
        .await
        .unwrap();
    assert!(wf.auto_assign(&c.id).await.unwrap().is_none());
    let (n2, _) = fx
        .user(
            "n2@x.com",
            "N2",
            Role::Support,
            Some(Tier::N2),
            &["billing"],
        )
        .await;
    s.heartbeat(&n2.id, fx.now()).await.unwrap();
    let taken = wf.auto_assign(&c.id).await.unwrap().unwrap();
    assert_eq!(taken.assignee_id.as_deref(), Some(n2.id.as_str()));
    // Time passes without heartbeats: nobody is online any more.
    fx.clock.advance(91_000);
    let c = fx.open("rr-late").await;
    assert!(wf.auto_assign(&c.id).await.unwrap().is_none());
    assert!(is_not_found(s.heartbeat("nobody", fx.now()).await));
}

async fn an_sla_breach_is_marked_and_counted_once(env: Env) {
    let fx = Fx::new(env);
    let (wf, s) = (&fx.wf, &fx.env.store);
    let admin = fx.admin().await;
    let (ana, _) = fx
        .user("ana@x.com", "Ana", Role::Support, Some(Tier::N1), &[])
        .await;
    // Urgent: a first response within 15 minutes, resolution within 4 hours.
    let c = fx.open("sla-1").await;
    wf.change(&admin, &c.id, &Change::Priority(Priority::Urgent), None)
        .await
        .unwrap();
    assert!(
        wf.sla_state(&admin, &c.id, fx.now())
            .await
            .unwrap()
            .first_response
            .is_none(),
        "no SLA before people have it"
    );
    wf.assign(&admin, &c.id, Some(&ana.id), None).await.unwrap();
    fx.clock.advance(10 * MIN);
    let state = wf.sla_state(&admin, &c.id, fx.now()).await.unwrap();
    let fr = state.first_response.unwrap();
    assert_eq!(fr.due_at, Some(T0 + 15 * MIN));
    assert_eq!(fr.remaining_ms, Some(5 * MIN));
    assert!(
        wf.sla_sweep(fx.now())
            .await
            .unwrap()
            .first_response
            .is_empty()
    );

    // A second one goes pending four minutes in; its clock stands still meanwhile.
    fx.clock.advance(6 * MIN);
    let c2 = fx.open("sla-2").await;
    wf.change(&admin, &c2.id, &Change::Priority(Priority::Urgent), None)
        .await
        .unwrap();
    wf.assign(&admin, &c2.id, Some(&ana.id), None)
        .await
        .unwrap();
    fx.clock.advance(4 * MIN);
    wf.change(&admin, &c2.id, &Change::Status(Status::Pending), None)
        .await
        .unwrap();

    // 09:20: the first conversation's first response is five minutes late. Two nodes
    // sweep at once; it is marked and counted once.
    let node2 = Workflow::new(
        s.clone(),
        fx.env.realtime.clone(),
        fx.ids.clone(),
        Arc::new(Metrics::default()),
    );
    let (one, two) = tokio::join!(wf.sla_sweep(fx.now()), node2.sla_sweep(fx.now()));
    let (one, two) = (one.unwrap(), two.unwrap());
    let mut marked = one.first_response.clone();
    marked.extend(two.first_response.clone());
    assert_eq!(marked, vec![c.id.clone()]);
    let counted = wf.metrics.sla_breaches_of("first_response")
        + node2.metrics.sla_breaches_of("first_response");
    assert_eq!(counted, 1);
    assert_eq!(
        fx.scalar(
            "SELECT first_response_breached_at FROM conversations WHERE id = $1",
            &c.id
        )
        .await,
        Some(T0 + 15 * MIN)
    );
    assert!(
        wf.sla_sweep(fx.now())
            .await
            .unwrap()
            .first_response
            .is_empty()
    );
    assert!(
        node2
            .sla_sweep(fx.now())
            .await
            .unwrap()
            .first_response
            .is_empty()
    );
    let counted_after = wf.metrics.sla_breaches_of("first_response")
        + node2.metrics.sla_breaches_of("first_response");
    assert_eq!(counted_after, 1, "counted once");
    let text = if one.first_response.is_empty() {
        node2.metrics.encode()
    } else {
        wf.metrics.encode()
    };
    assert!(
        text.contains("switchboard_sla_breaches_total{kind=\"first_response\"} 1"),
        "{text}"
    );

    // Two hours later the pending one has still not breached; the customer answers and
    // eleven minutes are left.
    fx.clock.advance(2 * HOUR);
    assert!(
        wf.sla_sweep(fx.now())
            .await
            .unwrap()
            .first_response
            .is_empty()
    );
    let paused = wf.sla_state(&admin, &c2.id, fx.now()).await.unwrap();
    assert!(paused.paused);
    assert_eq!(paused.first_response.unwrap().remaining_ms, Some(11 * MIN));
    fx.ingest(fx.webchat("sla-2", 2, "sorry, I was away")).await;
    fx.clock.advance(11 * MIN);
    assert!(
        wf.sla_sweep(fx.now())
            .await
            .unwrap()
            .first_response
            .is_empty()
    );
    fx.clock.advance(1);
    let late = wf.sla_sweep(fx.now()).await.unwrap();
    assert_eq!(late.first_response, vec![c2.id.clone()]);

    // The first one is not resolved four business hours in: a resolution breach, once.
    let c_state = wf.sla_state(&admin, &c.id, fx.now()).await.unwrap();
    assert!(c_state.first_response.unwrap().breached);
    fx.set_time(T0 + 4 * HOUR + MIN);
    let res = wf.sla_sweep(fx.now()).await.unwrap();
    assert_eq!(res.resolution, vec![c.id.clone()]);
    assert!(wf.sla_sweep(fx.now()).await.unwrap().resolution.is_empty());
    assert_eq!(wf.metrics.sla_breaches_of("resolution"), 1);
}

async fn the_dashboard_adds_up_a_known_day(env: Env) {
    let fx = Fx::at(env, T0 - 24 * HOUR);
    let wf = &fx.wf;
    let admin = fx.admin().await;
    let (ana, ana_c) = fx
        .user("ana@x.com", "Ana", Role::Support, Some(Tier::N1), &[])
        .await;
    let (bob, bob_c) = fx
        .user("bob@x.com", "Bob", Role::Support, Some(Tier::N2), &[])
        .await;
    // Sunday 09:00: one conversation that nobody has taken.
    fx.set_time(T0 - 24 * HOUR);
    let c0 = fx.open("dash-0").await;
    // Monday 09:00: Ana takes one, answers in 10 minutes and resolves it in an hour.
    fx.set_time(T0);
    let c1 = fx.open("dash-1").await;
    wf.assign(&admin, &c1.id, Some(&ana.id), None)
        .await
        .unwrap();
    // 09:05: an urgent email goes to N2 and to Bob, who answers in 30 minutes (late).
    fx.set_time(T0 + 5 * MIN);
    let c2 = fx
        .ingest(fx.email("eve@client.com", "<e1@c>", "<e1@c>", "server down"))
        .await
        .conversation;
    wf.change(&admin, &c2.id, &Change::Priority(Priority::Urgent), None)
        .await
        .unwrap();
    wf.escalate(&admin, &c2.id, "outage", None).await.unwrap();
    wf.assign(&admin, &c2.id, Some(&bob.id), None)
        .await
        .unwrap();
    fx.set_time(T0 + 10 * MIN);
    wf.reply(&ana_c, &fx.outbox, &c1.id, "on it", None)
        .await
        .unwrap();
    fx.set_time(T0 + 35 * MIN);
    wf.reply(&bob_c, &fx.outbox, &c2.id, "looking", None)
        .await
        .unwrap();
    fx.set_time(T0 + HOUR);
    wf.change(&ana_c, &c1.id, &Change::Status(Status::Resolved), None)
        .await
        .unwrap();
    // 10:30: a new chat.
    fx.set_time(T0 + 90 * MIN);
    let _c3 = fx.open("dash-3").await;
    fx.set_time(T0 + 2 * HOUR);
    let now = fx.now();
    wf.sla_sweep(now).await.unwrap();

    let d = wf.dashboard(&admin, now, 2).await.unwrap();
    assert_eq!(d.open_total, 3);
    assert_eq!(
        d.open_by_tier,
        [("N1", 2), ("N2", 1), ("N3", 0)]
            .map(|(k, v)| (k.to_owned(), v))
            .into()
    );
    assert_eq!(
        d.open_by_channel,
        [("email", 1), ("webchat", 2)]
            .map(|(k, v)| (k.to_owned(), v))
            .into()
    );
    let ages: Vec<(&str, i64)> = d
        .open_by_age
        .iter()
        .map(|b| (b.label.as_str(), b.count))
        .collect();
    assert_eq!(
        ages,
        vec![
            ("<1h", 1),
            ("1-4h", 1),
            ("4-24h", 0),
            ("1-3d", 1),
            (">3d", 0)
        ]
    );
    let fr = d.first_response.overall.clone().unwrap();
    assert_eq!((fr.count, fr.median_ms, fr.p90_ms), (2, 10 * MIN, 30 * MIN));
    let by_tier: Vec<(&str, i64)> = d
        .first_response
        .by_tier
        .iter()
        .map(|t| (t.key.as_str(), t.median_ms))
        .collect();
    assert_eq!(by_tier, vec![("N1", 10 * MIN), ("N2", 30 * MIN)]);
    let by_agent: Vec<(&str, i64)> = d
        .first_response
        .by_agent
        .iter()
        .map(|t| (t.label.as_str(), t.median_ms))
        .collect();
    assert_eq!(by_agent.len(), 2);
    assert!(by_agent.contains(&("Ana", 10 * MIN)) && by_agent.contains(&("Bob", 30 * MIN)));
    let res = d.resolution.overall.clone().unwrap();
    assert_eq!((res.count, res.median_ms), (1, HOUR));
    assert_eq!(d.resolution.by_agent[0].label, "Ana");
    assert_eq!(d.breaches.first_response, 1);
    assert_eq!(d.breaches.resolution, 0);
    let volume: Vec<(&str, i64)> = d.volume.iter().map(|v| (v.day.as_str(), v.total)).collect();
    assert_eq!(volume, vec![("2024-05-05", 1), ("2024-05-06", 3)]);
    assert_eq!(d.volume[1].by_channel.get("email"), Some(&1));
    assert_eq!(d.volume[1].by_channel.get("webchat"), Some(&2));
    // One day only: yesterday's conversation is still open, but not new.
    let today = wf.dashboard(&admin, now, 1).await.unwrap();
    assert_eq!(today.volume.len(), 1);
    assert_eq!(today.open_total, 3);
    // A supervisor sees the same; a support agent only its own part.
    let (_, sup) = fx
        .user("sue@x.com", "Sue", Role::Supervisor, None, &[])
        .await;
    assert_eq!(wf.dashboard(&sup, now, 2).await.unwrap(), d);
    let mine = wf.dashboard(&bob_c, now, 2).await.unwrap();
    assert_eq!(mine.first_response.overall.unwrap().count, 1);
    assert_eq!(mine.resolution.overall, None);
    assert!(is_invalid(wf.dashboard(&admin, now, 0).await));
    let _ = c0;
}

/// Hands every message to N2.
#[derive(Debug)]
struct HandsOff;

#[async_trait]
impl BotHook for HandsOff {
    async fn on_message(&self, _: &BotInput<'_>) -> Result<BotDecision> {
        Ok(BotDecision {
            answer: None,
            handoff: Some(Handoff {
                tier: Tier::N2,
                reason: "a billing question".into(),
                summary: None,
            }),
        })
    }
}

async fn people_get_a_conversation_at_handoff_or_at_once_without_a_bot(env: Env) {
    // The router and the bot run on the system clock here, as in production.
    let (s, ids) = (&env.store, &env.ids);
    let n1 = s
        .create_user(ids, "n1@x.com", Some("N1"), Role::Support, Some(Tier::N1))
        .await
        .unwrap();
    let n2 = s
        .create_user(ids, "n2@x.com", Some("N2"), Role::Support, Some(Tier::N2))
        .await
        .unwrap();
    for u in [&n1, &n2] {
        s.heartbeat(&u.id, ids.now_ms()).await.unwrap();
    }
    env.stream.ensure_group(INBOUND, bot::GROUP).await.unwrap();

    // No bot runs: the router gives a new conversation to people at once.
    let mut router = env.router("r-people");
    router.options.people_first = true;
    env.inbound(&env.envelope("nobot", "nobot-1", "hello"))
        .await;
    while router.step(Duration::from_millis(50)).await.unwrap() > 0 {}
    let first = s
        .conversations(&ConversationFilter::default())
        .await
        .unwrap()
        .remove(0);
    assert_eq!(first.assignee_id.as_deref(), Some(n1.id.as_str()));
    let since: Option<i64> =
        sqlx::query_scalar("SELECT people_since FROM conversations WHERE id = $1")
            .bind(&first.id)
            .fetch_one(s.pool())
            .await
            .unwrap();
    assert!(since.is_some(), "its SLA clocks run");

    // A bot runs: the conversation waits for it, and its handoff offers it to N2.
    env.inbound(&env.envelope("withbot", "withbot-1", "my invoice?"))
        .await;
    let plain = env.plain_router();
    while plain.step(Duration::from_millis(50)).await.unwrap() > 0 {}
    let second = s
        .conversations(&ConversationFilter::default())
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id != first.id)
        .unwrap();
    assert_eq!(second.assignee_id, None, "the bot has it first");
    let worker = BotWorker {
        store: s.clone(),
        stream: env.stream.clone(),
        outbox: env.outbox(),
        realtime: env.realtime.clone(),
        ids: ids.clone(),
        bot: Arc::new(HandsOff),
        consumer: "b-people".into(),
        options: BotOptions::default(),
    };
    let entries = env
        .stream
        .read(
            INBOUND,
            bot::GROUP,
            "b-people",
            100,
            Duration::from_millis(200),
        )
        .await
        .unwrap();
    for e in &entries {
        worker.handle(e).await.unwrap();
    }
    let second = s.conversation(&second.id).await.unwrap();
    assert_eq!(second.tier, Tier::N2);
    assert_eq!(second.assignee_id.as_deref(), Some(n2.id.as_str()));
}
