//! The agent inbox's list on every backend: views, filters and sorts; the caller's scope
//! through every view, filter, search and count; keyset pages while conversations
//! arrive; accent-insensitive search in Portuguese, Spanish and English; search input that
//! looks like query syntax; unread state and counts.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use switchboard_core::changes::{Change, apply};
use switchboard_core::clock::{Ids, ManualClock};
use switchboard_core::domain::{
    AuthorKind, Channel, Conversation, Envelope, Identity, IdentityKind, Priority, Role, Status,
    Tier,
};
use switchboard_core::error::Error;
use switchboard_core::realtime::Realtime;
use switchboard_core::store::{
    Backend, Caller, IngestOutcome, ListFilter, ListItem, ListQuery, NewOutbound, Queued, SortBy,
    Store, View, ViewCount,
};

use crate::on_every_backend;
use crate::support::Env;

on_every_backend!(
    views_filters_and_sorts_show_what_they_say,
    no_view_filter_search_or_count_leaves_the_callers_scope,
    keyset_pages_visit_each_conversation_once_while_new_ones_arrive,
    search_ignores_accents_in_portuguese_spanish_and_english,
    search_follows_renames_merges_and_long_threads,
    a_search_finds_the_same_named_walked_and_folded,
    nodes_folding_at_once_fold_different_conversations,
    query_syntax_in_a_search_is_just_words,
    unread_state_and_counts_follow_reads_and_new_messages,
    a_search_matching_thousands_keeps_order_scope_and_pages,
    notes_and_merged_conversations_keep_the_list_true,
    view_counts_follow_every_change_and_equal_a_recount,
);

/// A test's world: the store, and a clock that moves only when told.
struct World {
    env: Env,
    clock: Arc<ManualClock>,
    ids: Ids,
    realtime: Arc<dyn Realtime>,
}

impl World {
    fn new(env: Env) -> Self {
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        let ids = Ids::new(clock.clone());
        let realtime: Arc<dyn Realtime> = env.realtime.clone();
        Self {
            env,
            clock,
            ids,
            realtime,
        }
    }

    fn now(&self) -> i64 {
        self.ids.now_ms()
    }

    /// A message from a contact, one second after the last event; the conversation it
    /// landed in.
    async fn inbound(
        &self,
        channel: Channel,
        from: &str,
        name: Option<&str>,
        text: &str,
    ) -> Conversation {
        self.clock.advance(1000);
        let (inbox, sender) = match channel {
            Channel::Email => ("email:support", Identity::email(from).unwrap()),
            Channel::Whatsapp => ("whatsapp:main", Identity::whatsapp(from).unwrap()),
            _ => (
                "webchat:default",
                Identity::new(IdentityKind::Visitor, from).unwrap(),
            ),
        };
        let mut e = Envelope::new(
            self.ids.new_id(),
            channel,
            inbox,
            &self.ids.new_id(),
            sender,
            text,
            self.now(),
        );
        e.sender_name = name.map(str::to_owned);
        match &self.env.store.ingest_batch(&[e]).await.unwrap()[0] {
            IngestOutcome::Stored(i) => i.conversation.clone(),
            other => panic!("{other:?}"),
        }
    }

    /// A web-chat visitor writes.
    async fn chat(&self, visitor: &str, text: &str) -> Conversation {
        self.inbound(Channel::Webchat, visitor, None, text).await
    }

    /// An agent answers, one second after the last event.
    async fn reply(&self, conversation: &str, text: &str) {
        self.clock.advance(1000);
        let out = self
            .env
            .store
            .insert_outbound(
                &self.ids,
                &NewOutbound::text(conversation, AuthorKind::Agent, None, text),
            )
            .await
            .unwrap();
        assert!(matches!(out, Queued::New(..)), "{out:?}");
    }

    async fn change(&self, conversation: &str, change: Change) {
        apply(
            &self.env.store,
            &self.realtime,
            &self.ids,
            conversation,
            &change,
        )
        .await
        .unwrap();
    }

    async fn agent(&self, email: &str, role: Role, tier: Option<Tier>, teams: &[&str]) -> Caller {
        let s = &self.env.store;
        let user = s
            .create_user(&self.ids, email, None, role, tier)
            .await
            .unwrap();
        for t in teams {
            s.add_user_team(&user.id, t).await.unwrap();
        }
        s.caller(&user).await.unwrap()
    }

    async fn page(&self, caller: &Caller, q: &ListQuery) -> Vec<ListItem> {
        let page = self.env.store.inbox_list(caller, q).await.unwrap();
        page.items
    }

    /// The ids a view and filter list, all of them, in order.
    async fn ids(&self, caller: &Caller, view: View, filter: ListFilter) -> Vec<String> {
        self.sorted(caller, view, filter, SortBy::LastActivity)
            .await
    }

    async fn sorted(
        &self,
        caller: &Caller,
        view: View,
        filter: ListFilter,
        sort: SortBy,
    ) -> Vec<String> {
        let q = ListQuery {
            view,
            filter,
            sort,
            after: None,
            limit: 200,
        };
        self.page(caller, &q)
            .await
            .into_iter()
            .map(|i| i.conversation.id)
            .collect()
    }

    async fn search(&self, caller: &Caller, text: &str) -> Vec<ListItem> {
        search_page(&self.env.store, caller, text).await
    }

    async fn search_ids(&self, caller: &Caller, text: &str) -> HashSet<String> {
        found(&self.env.store, caller, text).await
    }
}

fn set(ids: &[&Conversation]) -> HashSet<String> {
    ids.iter().map(|c| c.id.clone()).collect()
}

fn list(ids: &[&Conversation]) -> Vec<String> {
    ids.iter().map(|c| c.id.clone()).collect()
}

fn count(counts: &[ViewCount], view: &View) -> (i64, i64) {
    counts
        .iter()
        .find(|c| &c.view == view)
        .map(|c| (c.open, c.unread))
        .unwrap_or_else(|| panic!("no count for {view:?} in {counts:?}"))
}

fn filter() -> ListFilter {
    ListFilter::default()
}

async fn views_filters_and_sorts_show_what_they_say(env: Env) {
    let w = World::new(env);
    let s = &w.env.store;
    let admin = w.agent("admin@x.com", Role::Admin, None, &[]).await;
    let alice = w
        .agent("alice@x.com", Role::Support, Some(Tier::N1), &["alpha"])
        .await;
    let acme = s.create_company(&w.ids, "Acme").await.unwrap();

    let c1 = w
        .inbound(Channel::Email, "ana@acme.com", Some("Ana"), "first")
        .await;
    let c2 = w.chat("visitor-2", "hello").await;
    let c3 = w
        .inbound(Channel::Whatsapp, "5511988887777", None, "oi")
        .await;
    let c4 = w
        .inbound(Channel::Email, "old@x.com", None, "old thing")
        .await;
    let c5 = w.chat("visitor-5", "snoozing").await;
    let c6 = w
        .inbound(Channel::Email, "six@x.com", None, "question")
        .await;

    s.set_contact_company(&c1.contact_id, &acme).await.unwrap();
    w.change(&c1.id, Change::Team(Some("alpha".into()))).await;
    w.change(&c1.id, Change::Assignee(Some(alice.user_id.clone())))
        .await;
    w.change(&c1.id, Change::Priority(Priority::High)).await;
    w.change(&c1.id, Change::Labels(vec!["Billing".into()]))
        .await;
    w.change(&c2.id, Change::Team(Some("alpha".into()))).await;
    w.change(&c2.id, Change::Priority(Priority::Urgent)).await;
    w.change(&c3.id, Change::Team(Some("beta".into()))).await;
    w.change(&c3.id, Change::Tier(Tier::N2)).await;
    w.change(&c3.id, Change::Labels(vec!["billing".into(), "vip".into()]))
        .await;
    w.change(&c4.id, Change::Status(Status::Resolved)).await;
    w.change(&c5.id, Change::Priority(Priority::Low)).await;
    w.change(&c5.id, Change::Labels(vec!["vip".into(), "50%_off".into()]))
        .await;
    w.change(&c5.id, Change::Snooze(w.ids.now_ms() + 3_600_000))
        .await;
    w.change(&c6.id, Change::Team(Some("beta".into()))).await;
    w.change(&c6.id, Change::Tier(Tier::N2)).await;
    w.change(&c6.id, Change::Assignee(Some(admin.user_id.clone())))
        .await;

    // Activity: c1's contact writes again; c2 is answered and writes again; c6 is answered.
    w.inbound(Channel::Email, "ana@acme.com", Some("Ana"), "second")
        .await;
    w.reply(&c2.id, "we are on it").await;
    w.reply(&c6.id, "answer\n\n  in   two lines").await;
    let c2_again = w.chat("visitor-2", "still there?").await;
    assert_eq!(c2_again.id, c2.id);
    let c2_waits_since = w.now();
    // A customer message opens a pending conversation again: set it pending after.
    w.change(&c2.id, Change::Status(Status::Pending)).await;

    // Views.
    assert_eq!(
        w.ids(&admin, View::Mine, filter()).await,
        list(&[&c6]),
        "mine"
    );
    assert_eq!(
        w.ids(&alice, View::Mine, filter()).await,
        list(&[&c1]),
        "alice's"
    );
    assert_eq!(
        w.ids(&admin, View::Unassigned, filter()).await,
        list(&[&c2, &c5, &c3])
    );
    assert_eq!(
        w.ids(&admin, View::All, filter()).await,
        list(&[&c2, &c6, &c1, &c5, &c3]),
        "everything unresolved, latest activity first"
    );
    assert_eq!(
        w.ids(&admin, View::Team("alpha".into()), filter()).await,
        list(&[&c2, &c1])
    );
    assert_eq!(
        w.ids(&admin, View::Team("beta".into()), filter()).await,
        list(&[&c6, &c3])
    );
    assert_eq!(
        w.ids(&admin, View::Tier(Tier::N2), filter()).await,
        list(&[&c6, &c3])
    );
    assert_eq!(
        w.ids(&admin, View::Tier(Tier::N1), filter()).await,
        list(&[&c2, &c1, &c5])
    );

    // Filters.
    let by = |f: ListFilter| f;
    let cases: Vec<(ListFilter, Vec<&Conversation>)> = vec![
        (
            by(ListFilter {
                statuses: vec![Status::Resolved],
                ..filter()
            }),
            vec![&c4],
        ),
        (
            by(ListFilter {
                statuses: vec![Status::Pending],
                ..filter()
            }),
            vec![&c2],
        ),
        (
            by(ListFilter {
                statuses: vec![Status::Snoozed],
                ..filter()
            }),
            vec![&c5],
        ),
        (
            by(ListFilter {
                statuses: vec![Status::Open, Status::Resolved],
                ..filter()
            }),
            vec![&c6, &c1, &c4, &c3],
        ),
        (
            by(ListFilter {
                channel: Some(Channel::Whatsapp),
                ..filter()
            }),
            vec![&c3],
        ),
        (
            by(ListFilter {
                channel: Some(Channel::Email),
                ..filter()
            }),
            vec![&c6, &c1],
        ),
        (
            by(ListFilter {
                priority: Some(Priority::Urgent),
                ..filter()
            }),
            vec![&c2],
        ),
        (
            by(ListFilter {
                label: Some("billing".into()),
                ..filter()
            }),
            vec![&c1, &c3],
        ),
        (
            by(ListFilter {
                label: Some(" VIP ".into()),
                ..filter()
            }),
            vec![&c5, &c3],
        ),
        // A label is matched whole, and LIKE's wildcards in it are plain characters.
        (
            by(ListFilter {
                label: Some("bill".into()),
                ..filter()
            }),
            vec![],
        ),
        (
            by(ListFilter {
                label: Some("50%_off".into()),
                ..filter()
            }),
            vec![&c5],
        ),
        (
            by(ListFilter {
                label: Some("5%".into()),
                ..filter()
            }),
            vec![],
        ),
        (
            by(ListFilter {
                label: Some("50__off".into()),
                ..filter()
            }),
            vec![],
        ),
        (
            by(ListFilter {
                company_id: Some(acme.clone()),
                ..filter()
            }),
            vec![&c1],
        ),
        (
            by(ListFilter {
                assignee_id: Some(alice.user_id.clone()),
                ..filter()
            }),
            vec![&c1],
        ),
        (
            by(ListFilter {
                label: Some("billing".into()),
                channel: Some(Channel::Email),
                statuses: vec![Status::Open],
                ..filter()
            }),
            vec![&c1],
        ),
    ];
    for (f, want) in cases {
        assert_eq!(
            w.ids(&admin, View::All, f.clone()).await,
            list(&want),
            "{f:?}"
        );
    }

    // Sorts: the longest waiting first (c6 was answered: nobody waits there); the most
    // urgent first, then by latest activity.
    assert_eq!(
        w.sorted(&admin, View::All, filter(), SortBy::Waiting).await,
        list(&[&c1, &c3, &c5, &c2, &c6])
    );
    assert_eq!(
        w.sorted(&admin, View::All, filter(), SortBy::Priority)
            .await,
        list(&[&c2, &c1, &c5, &c6, &c3])
    );

    // What a row shows.
    let items = w
        .page(
            &admin,
            &ListQuery {
                limit: 10,
                ..ListQuery::new(View::All)
            },
        )
        .await;
    let row = |c: &Conversation| {
        items
            .iter()
            .find(|i| i.conversation.id == c.id)
            .unwrap()
            .clone()
    };
    let r1 = row(&c1);
    assert_eq!(r1.contact_name.as_deref(), Some("Ana"));
    assert_eq!(r1.contact_handle.as_deref(), Some("ana@acme.com"));
    assert_eq!(r1.company_name.as_deref(), Some("Acme"));
    assert_eq!(r1.preview, "second");
    assert_eq!(r1.preview_author, "contact");
    assert_eq!(r1.waiting_since, Some(c1.created_at));
    assert_eq!(r1.conversation.labels, vec!["billing"]);
    assert_eq!(r1.snippet, None);
    let r3 = row(&c3);
    assert_eq!(r3.contact_name, None);
    assert_eq!(r3.contact_handle.as_deref(), Some("5511988887777"));
    assert_eq!(r3.company_name, None);
    let r6 = row(&c6);
    assert_eq!(r6.preview, "answer in two lines");
    assert_eq!(r6.preview_author, "agent");
    assert_eq!(r6.waiting_since, None);
    let r2 = row(&c2);
    assert_eq!(r2.preview, "still there?");
    assert_eq!(r2.waiting_since, Some(c2_waits_since));
    assert_eq!(r2.contact_handle.as_deref(), Some("visitor-2"));
    // A long message is one line of at most 140 characters.
    w.reply(&c3.id, &"palavra ".repeat(100)).await;
    let long = w
        .page(&admin, &ListQuery::new(View::Team("beta".into())))
        .await;
    let p = &long
        .iter()
        .find(|i| i.conversation.id == c3.id)
        .unwrap()
        .preview;
    assert_eq!(p.chars().count(), 140, "{p}");
    assert!(p.ends_with('…'));

    // Teams in use.
    assert_eq!(s.teams().await.unwrap(), vec!["alpha", "beta"]);
}

async fn no_view_filter_search_or_count_leaves_the_callers_scope(env: Env) {
    let w = World::new(env);
    let s = &w.env.store;
    let alice = w
        .agent("alice@x.com", Role::Support, Some(Tier::N1), &["alpha"])
        .await;
    let bob = w
        .agent("bob@x.com", Role::Support, Some(Tier::N1), &["beta"])
        .await;
    let acme = s.create_company(&w.ids, "Acme").await.unwrap();
    let globex = s.create_company(&w.ids, "Globex").await.unwrap();
    let coordinator = {
        let user = s
            .create_user(&w.ids, "coord@x.com", None, Role::Coordinator, None)
            .await
            .unwrap();
        s.add_user_company(&user.id, &acme).await.unwrap();
        s.caller(&user).await.unwrap()
    };
    // The company filter offers a coordinator its own companies only; the support side
    // every company.
    let names = |v: Vec<(String, String)>| v.into_iter().map(|(_, n)| n).collect::<Vec<_>>();
    assert_eq!(
        names(s.companies_for(&coordinator).await.unwrap()),
        ["Acme"]
    );
    assert_eq!(
        names(s.companies_for(&alice).await.unwrap()),
        ["Acme", "Globex"]
    );

    let text = "a impressora quebrou de novo";
    let a1 = w
        .inbound(Channel::Email, "ana@acme.com", Some("Ana Alpha"), text)
        .await;
    let a2 = w.chat("alpha-visitor", text).await;
    let b1 = w
        .inbound(Channel::Email, "bruno@globex.com", Some("Bruno Beta"), text)
        .await;
    let b2 = w.chat("beta-visitor", text).await;
    let open = w.chat("no-team", text).await;
    s.set_contact_company(&a1.contact_id, &acme).await.unwrap();
    s.set_contact_company(&b1.contact_id, &globex)
        .await
        .unwrap();
    for c in [&a1, &a2] {
        w.change(&c.id, Change::Team(Some("alpha".into()))).await;
        w.change(&c.id, Change::Labels(vec!["printer".into()]))
            .await;
    }
    for c in [&b1, &b2] {
        w.change(&c.id, Change::Team(Some("beta".into()))).await;
        w.change(&c.id, Change::Labels(vec!["printer".into()]))
            .await;
    }
    w.change(&b2.id, Change::Assignee(Some(bob.user_id.clone())))
        .await;
    let beta = set(&[&b1, &b2]);

    // Every view and filter alice could ask for, with and without a search.
    let views = [
        View::Mine,
        View::Unassigned,
        View::All,
        View::Team("alpha".into()),
        View::Team("beta".into()),
        View::Tier(Tier::N1),
        View::Tier(Tier::N2),
    ];
    let filters = [
        filter(),
        ListFilter {
            statuses: Status::ALL.to_vec(),
            ..filter()
        },
        ListFilter {
            label: Some("printer".into()),
            ..filter()
        },
        ListFilter {
            company_id: Some(globex.clone()),
            ..filter()
        },
        ListFilter {
            assignee_id: Some(bob.user_id.clone()),
            ..filter()
        },
        ListFilter {
            channel: Some(Channel::Email),
            ..filter()
        },
    ];
    let mut seen: HashSet<String> = HashSet::new();
    for view in &views {
        for f in &filters {
            for search in [None, Some("impressora"), Some("bruno beta"), Some("globex")] {
                let f = ListFilter {
                    search: search.map(str::to_owned),
                    ..f.clone()
                };
                for sort in [SortBy::LastActivity, SortBy::Waiting, SortBy::Priority] {
                    let got = w.sorted(&alice, view.clone(), f.clone(), sort).await;
                    assert!(
                        got.iter().all(|id| !beta.contains(id)),
                        "{view:?} {f:?} {sort:?} showed team beta's conversations to alice"
                    );
                    seen.extend(got);
                }
            }
        }
    }
    // The same queries do find them for bob, and alice sees her own.
    assert_eq!(seen, set(&[&a1, &a2, &open]));
    let bobs = w.ids(&bob, View::All, filter()).await;
    assert!(beta.iter().all(|id| bobs.contains(id)));
    assert_eq!(
        w.search_ids(&bob, "bruno beta").await,
        set(&[&b1]),
        "the search works"
    );

    // Contacts: only those with a conversation the caller may see.
    assert!(
        s.search_contacts(&alice, "bruno", 10)
            .await
            .unwrap()
            .is_empty()
    );
    let hits = s.search_contacts(&bob, "bruno", 10).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].contact_id, b1.contact_id);
    assert_eq!(hits[0].name.as_deref(), Some("Bruno Beta"));
    assert_eq!(hits[0].company_name.as_deref(), Some("Globex"));
    assert_eq!(
        hits[0].identities,
        vec![Identity::email("bruno@globex.com").unwrap()]
    );

    // Counts: alice's badges count what she sees and nothing else; she has no team beta
    // badge, nor one for a tier above hers.
    let counts = s.inbox_counts(&alice).await.unwrap();
    assert_eq!(count(&counts, &View::All), (3, 3));
    assert_eq!(count(&counts, &View::Unassigned), (3, 3));
    assert_eq!(count(&counts, &View::Mine), (0, 0));
    assert_eq!(count(&counts, &View::Team("alpha".into())), (2, 2));
    assert_eq!(count(&counts, &View::Tier(Tier::N1)), (3, 3));
    assert!(counts.iter().all(|c| c.view != View::Team("beta".into())));
    assert!(counts.iter().all(|c| c.view != View::Tier(Tier::N2)));
    let counts = s.inbox_counts(&bob).await.unwrap();
    assert_eq!(count(&counts, &View::All), (3, 3));
    assert_eq!(count(&counts, &View::Mine), (1, 1));

    // A coordinator: its companies' conversations, whatever the view or search.
    for view in &views {
        for search in [None, Some("impressora")] {
            let f = ListFilter {
                search: search.map(str::to_owned),
                statuses: Status::ALL.to_vec(),
                ..filter()
            };
            let got = w.ids(&coordinator, view.clone(), f).await;
            assert!(
                got.iter().all(|id| id == &a1.id),
                "{view:?} {search:?}: {got:?}"
            );
        }
    }
    assert_eq!(w.ids(&coordinator, View::All, filter()).await, list(&[&a1]));
    assert_eq!(
        count(&s.inbox_counts(&coordinator).await.unwrap(), &View::All),
        (1, 1)
    );
    assert!(
        s.search_contacts(&coordinator, "bruno", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.search_contacts(&coordinator, "ana", 10).await.unwrap()[0].contact_id,
        a1.contact_id
    );
}

async fn keyset_pages_visit_each_conversation_once_while_new_ones_arrive(env: Env) {
    let w = World::new(env);
    let s = &w.env.store;
    let admin = w.agent("admin@x.com", Role::Admin, None, &[]).await;
    let priorities = [
        Priority::None,
        Priority::Urgent,
        Priority::Low,
        Priority::High,
        Priority::Medium,
    ];
    let mut originals: Vec<Conversation> = Vec::new();
    for i in 0..23 {
        let c = w.chat(&format!("v{i}"), "hello").await;
        w.change(&c.id, Change::Priority(priorities[i % priorities.len()]))
            .await;
        if i % 3 == 0 {
            // Answered: nobody waits here.
            w.reply(&c.id, "hi").await;
        }
        originals.push(c);
    }
    // Conversations with the same activity time: the id decides between them.
    let before = w.now();
    for i in 0..4 {
        let e = Envelope::new(
            w.ids.new_id(),
            Channel::Webchat,
            "webchat:default",
            &format!("same-{i}"),
            Identity::new(IdentityKind::Visitor, &format!("same-{i}")).unwrap(),
            "same time",
            before + 500,
        );
        match &s.ingest_batch(&[e]).await.unwrap()[0] {
            IngestOutcome::Stored(i) => originals.push(i.conversation.clone()),
            other => panic!("{other:?}"),
        }
    }
    let original: HashSet<String> = originals.iter().map(|c| c.id.clone()).collect();

    let mut arrivals = 0;
    for sort in [SortBy::LastActivity, SortBy::Waiting, SortBy::Priority] {
        let mut q = ListQuery {
            sort,
            limit: 5,
            ..ListQuery::new(View::All)
        };
        let mut visits: HashMap<String, usize> = HashMap::new();
        let mut keys: Vec<ListItem> = Vec::new();
        let mut pages = 0;
        loop {
            let page = s.inbox_list(&admin, &q).await.unwrap();
            pages += 1;
            assert!(page.items.len() <= 5);
            for item in &page.items {
                *visits.entry(item.conversation.id.clone()).or_default() += 1;
                keys.push(item.clone());
            }
            // New conversations arrive between pages.
            for _ in 0..2 {
                arrivals += 1;
                w.chat(&format!("new-{arrivals}"), "a new one").await;
            }
            match page.next {
                Some(next) => q.after = Some(next),
                None => break,
            }
            assert!(pages < 100, "{sort:?}: paging does not end");
        }
        for id in &original {
            assert_eq!(
                visits.get(id),
                Some(&1),
                "{sort:?}: {id} visited {visits:?}"
            );
        }
        assert!(
            visits.values().all(|&n| n == 1),
            "{sort:?}: a conversation was visited twice"
        );
        // In order, across pages.
        let key = |i: &ListItem| -> (i64, i64, String) {
            let c = &i.conversation;
            match sort {
                SortBy::LastActivity => (-c.last_message_at, 0, rev(&c.id)),
                SortBy::Waiting => (i.waiting_since.unwrap_or(i64::MAX), 0, c.id.clone()),
                SortBy::Priority => (-rank(c.priority), -c.last_message_at, rev(&c.id)),
            }
        };
        for pair in keys.windows(2) {
            assert!(
                key(&pair[0]) < key(&pair[1]),
                "{sort:?}: {:?} before {:?}",
                key(&pair[0]),
                key(&pair[1])
            );
        }
    }

    // A cursor is only good for the order it came from, and nothing else is one.
    let first = s
        .inbox_list(
            &admin,
            &ListQuery {
                limit: 2,
                ..ListQuery::new(View::All)
            },
        )
        .await
        .unwrap();
    let next = first.next.unwrap();
    for (sort, after) in [
        (SortBy::Waiting, next.clone()),
        (SortBy::LastActivity, "not a cursor".into()),
        (SortBy::LastActivity, format!("{next}00")),
        (SortBy::LastActivity, "7c7c7c".into()),
    ] {
        let q = ListQuery {
            sort,
            after: Some(after),
            ..ListQuery::new(View::All)
        };
        assert!(
            matches!(s.inbox_list(&admin, &q).await, Err(Error::Invalid(_))),
            "{q:?}"
        );
    }
}

/// An id whose order is reversed, for keys sorted by id descending.
fn rev(id: &str) -> String {
    id.chars()
        .map(|c| char::from_u32(0x10_0000 - c as u32).unwrap_or(c))
        .collect()
}

fn rank(p: Priority) -> i64 {
    match p {
        Priority::Urgent => 4,
        Priority::High => 3,
        Priority::Medium => 2,
        Priority::Low => 1,
        Priority::None => 0,
    }
}

async fn search_ignores_accents_in_portuguese_spanish_and_english(env: Env) {
    let w = World::new(env);
    let s = &w.env.store;
    let admin = w.agent("admin@x.com", Role::Admin, None, &[]).await;
    let pt = w
        .inbound(
            Channel::Email,
            "joao@exemplo.com.br",
            Some("João Conceição"),
            "Preciso de uma ação urgente sobre a fatura de março",
        )
        .await;
    let es = w
        .inbound(
            Channel::Whatsapp,
            "34600111222",
            Some("Begoña Muñoz"),
            "El pago del año pasado no aparece en mi cuenta",
        )
        .await;
    let en = w
        .inbound(
            Channel::Email,
            "zoe@example.com",
            Some("Zoë Smith"),
            "My naïve café order never arrived",
        )
        .await;
    let _noise = w.chat("noise", "nothing to see here").await;

    for (query, want) in [
        ("acao", vec![&pt]),
        ("AÇÃO", vec![&pt]),
        ("Acção", vec![]),
        ("fatur", vec![&pt]),
        ("marco", vec![&pt]),
        ("joao", vec![&pt]),
        ("conceicao", vec![&pt]),
        ("joao@exemplo.com.br", vec![&pt]),
        ("exemplo", vec![&pt]),
        ("ano", vec![&es]),
        ("año", vec![&es]),
        ("begona munoz", vec![&es]),
        ("MUÑOZ pago", vec![&es]),
        ("34600111222", vec![&es]),
        ("+34 600 111 222", vec![&es]),
        ("naive", vec![&en]),
        ("cafe", vec![&en]),
        ("zoe", vec![&en]),
        ("acao pago", vec![]),
        ("inexistente", vec![]),
    ] {
        assert_eq!(w.search_ids(&admin, query).await, set(&want), "{query:?}");
    }

    // The matched words are marked in plain text; a match on the contact only has no
    // snippet (the row shows the contact).
    let hit = w.search(&admin, "acao").await;
    let snippet = hit[0].snippet.as_deref().unwrap();
    assert!(snippet.contains("\u{2}ação\u{3}"), "{snippet:?}");
    assert!(!snippet.contains('<'), "{snippet:?}");
    let hit = w.search(&admin, "fatura marco").await;
    let snippet = hit[0].snippet.as_deref().unwrap();
    assert!(
        snippet.contains("\u{2}fatura\u{3}") && snippet.contains("\u{2}março\u{3}"),
        "{snippet:?}"
    );
    let hit = w.search(&admin, "begona").await;
    assert_eq!(hit[0].snippet, None);

    // Contacts by name or identity, not by what they wrote.
    let hits = s.search_contacts(&admin, "joao", 10).await.unwrap();
    assert_eq!(
        hits.iter()
            .map(|h| h.contact_id.as_str())
            .collect::<Vec<_>>(),
        vec![pt.contact_id.as_str()]
    );
    assert_eq!(hits[0].conversations, 1);
    assert!(
        s.search_contacts(&admin, "pago", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.search_contacts(&admin, "zoe smith", 10).await.unwrap()[0].contact_id,
        en.contact_id
    );
}

async fn search_follows_renames_merges_and_long_threads(env: Env) {
    let w = World::new(env);
    let s = &w.env.store;
    let admin = w.agent("admin@x.com", Role::Admin, None, &[]).await;

    // A name given later (the contact had none).
    let nameless = w
        .inbound(Channel::Email, "inigo@x.com", None, "primeira mensagem")
        .await;
    assert!(w.search_ids(&admin, "inigo").await.contains(&nameless.id));
    assert!(!w.search_ids(&admin, "montoya").await.contains(&nameless.id));
    w.inbound(
        Channel::Email,
        "inigo@x.com",
        Some("Íñigo Montoya"),
        "segunda",
    )
    .await;
    assert_eq!(w.search_ids(&admin, "montoya").await, set(&[&nameless]));

    // A merge: the merged contact's conversation is found by the survivor's name and
    // identities, and the survivor's by the merged one's identities.
    let from = w.chat("visitor-77", "quero cancelar").await;
    let into = w
        .inbound(Channel::Email, "rosa@x.com", Some("Rosa Parques"), "oi")
        .await;
    assert!(
        !w.search_ids(&admin, "rosa cancelar")
            .await
            .contains(&from.id)
    );
    s.merge_contacts(&w.ids, &from.contact_id, &into.contact_id)
        .await
        .unwrap();
    assert_eq!(w.search_ids(&admin, "rosa cancelar").await, set(&[&from]));
    assert_eq!(
        w.search_ids(&admin, "visitor 77 parques").await,
        set(&[&from, &into])
    );

    // A long thread: its first and last words are found, each with the contact's name.
    let long = w
        .inbound(
            Channel::Email,
            "long@x.com",
            Some("Longa Conversa"),
            "alfafirst",
        )
        .await;
    for i in 0..120 {
        let text = format!("mensagem {i} {}", "texto comprido ".repeat(10));
        if i % 2 == 0 {
            w.reply(&long.id, &text).await;
        } else {
            w.inbound(Channel::Email, "long@x.com", None, &text).await;
        }
    }
    w.inbound(Channel::Email, "long@x.com", None, "omegalast")
        .await;
    for query in [
        "alfafirst",
        "omegalast",
        "longa omegalast",
        "longa alfafirst",
        // Words of two messages far apart, each a search row of its own.
        "alfafirst omegalast",
        "mensagem 3 mensagem 117",
    ] {
        assert_eq!(w.search_ids(&admin, query).await, set(&[&long]), "{query}");
    }
    // Each message's words were added as a row of their own, none rewritten: on SQLite
    // an FTS row per message beside the conversation's (contact and subject), on
    // PostgreSQL a words row per statement of messages (here one message each).
    let rows: i64 = match s.backend() {
        Backend::Sqlite => sqlx::query_scalar(
            "SELECT COUNT(*) FROM conversation_fts WHERE rowid >= $1 AND rowid < $2",
        )
        .bind(long.number << 16)
        .bind((long.number + 1) << 16)
        .fetch_one(s.pool())
        .await
        .unwrap(),
        Backend::Postgres => {
            sqlx::query_scalar("SELECT COUNT(*) FROM conversation_words WHERE conversation_id = $1")
                .bind(&long.id)
                .fetch_one(s.pool())
                .await
                .unwrap()
        }
    };
    let expected = match s.backend() {
        Backend::Sqlite => 1 + 122,
        Backend::Postgres => 122,
    };
    assert_eq!(rows, expected);
    let snippet = w.search(&admin, "omegalast").await[0].snippet.clone();
    assert!(
        snippet.as_deref().unwrap().contains("\u{2}omegalast\u{3}"),
        "{snippet:?}"
    );
}

/// The first 200 conversations `caller` finds by `text` through `store`, latest first.
async fn search_page(store: &Store, caller: &Caller, text: &str) -> Vec<ListItem> {
    let q = ListQuery {
        view: View::All,
        filter: ListFilter {
            search: Some(text.into()),
            ..ListFilter::default()
        },
        sort: SortBy::LastActivity,
        after: None,
        limit: 200,
    };
    match store.inbox_list(caller, &q).await {
        Ok(page) => page.items,
        Err(e) => panic!("search {text:?} failed: {e}"),
    }
}

/// The conversations `caller` finds by `text` through `store`.
async fn found(store: &Store, caller: &Caller, text: &str) -> HashSet<String> {
    search_page(store, caller, text)
        .await
        .into_iter()
        .map(|i| i.conversation.id)
        .collect()
}

/// Words spread over a thread's messages, its contact and its subject are found alike
/// whether the search names its few matches to the list or the list tests each
/// conversation it walks, and before or after PostgreSQL folds the words rows into the
/// search rows (migration 40); words written after a fold join those folded.
async fn a_search_finds_the_same_named_walked_and_folded(env: Env) {
    let w = World::new(env);
    let s = &w.env.store;
    let walk = s.clone().with_few_matches(0);
    let admin = w.agent("admin@x.com", Role::Admin, None, &[]).await;
    let alice = w
        .agent("alice@x.com", Role::Support, Some(Tier::N1), &["alpha"])
        .await;

    let a = w
        .inbound(
            Channel::Email,
            "ana@x.com",
            Some("Ana Souza"),
            "impressora parada",
        )
        .await;
    w.reply(&a.id, "vamos enviar um técnico amanhã").await;
    w.inbound(
        Channel::Email,
        "ana@x.com",
        None,
        "obrigada, o toner novo chegou",
    )
    .await;
    let b = w
        .inbound(
            Channel::Whatsapp,
            "+5511999990000",
            Some("Bruno Lima"),
            "fatura duplicada",
        )
        .await;
    w.inbound(
        Channel::Whatsapp,
        "+5511999990000",
        None,
        "o boleto venceu ontem",
    )
    .await;
    let c = w
        .chat("visitante-9", "toner acabou, preciso de boleto")
        .await;
    let d = w.chat("visitante-10", "nada a ver").await;
    sqlx::query(
        "UPDATE conversations SET team = CASE WHEN id IN ($1, $2) THEN 'alpha' ELSE 'beta' END",
    )
    .bind(&a.id)
    .bind(&c.id)
    .execute(s.pool())
    .await
    .unwrap();

    let cases: Vec<(&str, HashSet<String>)> = vec![
        ("toner", set(&[&a, &c])),
        ("boleto toner", set(&[&c])),
        ("ana toner", set(&[&a])),
        ("souza impressora chegou", set(&[&a])),
        ("tecnico obrigada", set(&[&a])),
        ("fatura boleto", set(&[&b])),
        ("lima boleto", set(&[&b])),
        ("souza fatura", set(&[])),
        ("impress", set(&[&a])),
        ("nada", set(&[&d])),
    ];
    let check = |when: &'static str| {
        let (cases, walk, admin, alice) = (&cases, &walk, &admin, &alice);
        let alphas = [a.id.clone(), c.id.clone()];
        async move {
            for (text, want) in cases {
                assert_eq!(&found(s, admin, text).await, want, "{text:?} named, {when}");
                assert_eq!(
                    &found(walk, admin, text).await,
                    want,
                    "{text:?} walked, {when}"
                );
                let mine: HashSet<String> = want
                    .iter()
                    .filter(|id| alphas.contains(id))
                    .cloned()
                    .collect();
                assert_eq!(
                    found(s, alice, text).await,
                    mine,
                    "{text:?} in scope, {when}"
                );
                assert_eq!(
                    found(walk, alice, text).await,
                    mine,
                    "{text:?} in scope walked, {when}"
                );
            }
        }
    };
    check("before a fold").await;

    let words = || async {
        match s.backend() {
            Backend::Sqlite => 0,
            Backend::Postgres => {
                sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM conversation_words")
                    .fetch_one(s.pool())
                    .await
                    .unwrap()
            }
        }
    };
    // Only what was written before the time given is folded.
    assert_eq!(
        s.fold_search_words(w.now() - 60_000, 1000).await.unwrap(),
        0
    );
    let folded = s.fold_search_words(w.now() + 1, 1000).await.unwrap();
    match s.backend() {
        Backend::Sqlite => assert_eq!(folded, 0),
        Backend::Postgres => {
            assert_eq!(folded, 4);
            assert_eq!(words().await, 0);
        }
    }
    check("after a fold").await;

    // A word written after the fold, searched with words folded before.
    w.inbound(Channel::Email, "ana@x.com", None, "zebra no papel")
        .await;
    for text in ["toner zebra", "zebra souza", "zebra"] {
        assert_eq!(found(s, &admin, text).await, set(&[&a]), "{text}");
        assert_eq!(found(&walk, &admin, text).await, set(&[&a]), "{text}");
    }
    // A fold limited to one conversation leaves the others' rows for the next one.
    w.chat("visitante-9", "zebra também").await;
    if s.backend() == Backend::Postgres {
        assert_eq!(words().await, 2);
        assert_eq!(s.fold_search_words(w.now() + 1, 1).await.unwrap(), 1);
        assert_eq!(words().await, 1);
    }
    for text in ["zebra", "zebra boleto", "zebra souza toner"] {
        let want = match text {
            "zebra" => set(&[&a, &c]),
            "zebra boleto" => set(&[&c]),
            _ => set(&[&a]),
        };
        assert_eq!(found(s, &admin, text).await, want, "{text}");
        assert_eq!(found(&walk, &admin, text).await, want, "{text}");
    }
}

/// Two nodes folding at the same time: what one holds, the other passes over for the next
/// conversations, rather than folding nothing (migration 41). SQLite folds nothing.
async fn nodes_folding_at_once_fold_different_conversations(env: Env) {
    let w = World::new(env);
    let s = &w.env.store;
    if s.backend() == Backend::Sqlite {
        assert_eq!(s.fold_search_words(w.now() + 1, 10).await.unwrap(), 0);
        return;
    }
    let mut chats = Vec::new();
    for v in 0..4 {
        chats.push(w.chat(&format!("dobra-{v}"), "toner acabando").await.id);
    }
    chats.sort();
    // The first two conversations are being folded by another node (its statement holds
    // their search rows).
    let mut other = s.pool().begin().await.unwrap();
    for id in &chats[..2] {
        sqlx::query("SELECT 1 FROM conversation_search WHERE conversation_id = $1 FOR UPDATE")
            .bind(id)
            .fetch_one(&mut *other)
            .await
            .unwrap();
    }
    let folded = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        s.fold_search_words(w.now() + 1, 2),
    )
    .await
    .expect("a fold never waits for another")
    .unwrap();
    assert_eq!(folded, 2, "the two conversations nobody holds are folded");
    let left: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT conversation_id FROM conversation_words ORDER BY conversation_id",
    )
    .fetch_all(s.pool())
    .await
    .unwrap();
    assert_eq!(
        left,
        chats[..2].to_vec(),
        "the held ones wait for the next fold"
    );
    other.rollback().await.unwrap();
    assert_eq!(s.fold_search_words(w.now() + 1, 10).await.unwrap(), 2);
}

async fn query_syntax_in_a_search_is_just_words(env: Env) {
    let w = World::new(env);
    let s = &w.env.store;
    let admin = w.agent("admin@x.com", Role::Admin, None, &[]).await;
    let boleto = w.chat("v1", "boleto vencido").await;
    let pix = w.chat("v2", "pix recusado").await;
    let near = w.chat("v3", "near me").await;
    let everything = set(&[&boleto, &pix, &near]);

    for (query, want) in [
        (r#""boleto"#, set(&[&boleto])),
        (r#"boleto""#, set(&[&boleto])),
        (r#""boleto""#, set(&[&boleto])),
        ("boleto*", set(&[&boleto])),
        ("bol*", set(&[&boleto])),
        ("-boleto", set(&[&boleto])),
        ("!pix", set(&[&pix])),
        ("^boleto", set(&[&boleto])),
        ("boleto:*", set(&[&boleto])),
        // Operators are words to look for, not operators.
        ("boleto OR pix", set(&[])),
        ("pix | boleto", set(&[])),
        ("pix & boleto", set(&[])),
        ("boleto -pix", set(&[])),
        ("NOT pix", set(&[])),
        ("NEAR(boleto pix)", set(&[])),
        ("NEAR(near", set(&[&near])),
        ("body:pix", set(&[])),
        ("{body}: pix", set(&[])),
        ("contact:boleto", set(&[])),
        ("boleto <-> vencido", set(&[&boleto])),
        ("a:b:c", set(&[])),
        ("'; DROP TABLE conversations; --", set(&[])),
        // Nothing left once cleaned: no search.
        ("", everything.clone()),
        ("*", everything.clone()),
        (":", everything.clone()),
        ("-", everything.clone()),
        ("\"\"", everything.clone()),
        ("( ) ^ * : - ' \\ % _ & | ! < >", everything.clone()),
        ("\u{301}", everything.clone()),
    ] {
        assert_eq!(w.search_ids(&admin, query).await, want, "{query:?}");
        s.search_contacts(&admin, query, 10)
            .await
            .unwrap_or_else(|e| panic!("contacts {query:?}: {e}"));
    }
    assert_eq!(w.ids(&admin, View::All, filter()).await.len(), 3);
}

async fn unread_state_and_counts_follow_reads_and_new_messages(env: Env) {
    let w = World::new(env);
    let s = &w.env.store;
    let alice = w
        .agent("alice@x.com", Role::Support, Some(Tier::N1), &["alpha"])
        .await;
    let bob = w
        .agent("bob@x.com", Role::Support, Some(Tier::N1), &["alpha"])
        .await;
    let admin = w.agent("admin@x.com", Role::Admin, None, &[]).await;
    let u1 = w.chat("u1", "one").await;
    let u2 = w.chat("u2", "two").await;
    let u3 = w.chat("u3", "three").await;
    for c in [&u1, &u2, &u3] {
        w.change(&c.id, Change::Team(Some("alpha".into()))).await;
    }
    w.change(&u3.id, Change::Assignee(Some(alice.user_id.clone())))
        .await;
    let unread = |items: &[ListItem]| -> HashSet<String> {
        items
            .iter()
            .filter(|i| i.unread)
            .map(|i| i.conversation.id.clone())
            .collect()
    };
    let all = ListQuery::new(View::All);

    // Nobody has opened anything: all unread.
    assert_eq!(unread(&w.page(&alice, &all).await), set(&[&u1, &u2, &u3]));
    let counts = s.inbox_counts(&alice).await.unwrap();
    assert_eq!(count(&counts, &View::All), (3, 3));
    assert_eq!(count(&counts, &View::Mine), (1, 1));
    assert_eq!(count(&counts, &View::Unassigned), (2, 2));
    assert_eq!(count(&counts, &View::Team("alpha".into())), (3, 3));
    assert_eq!(count(&counts, &View::Tier(Tier::N1)), (3, 3));

    // Alice opens u1: read for her, not for bob (who does not see alice's u3).
    w.clock.advance(1000);
    s.mark_read(&alice.user_id, &u1.id, w.now()).await.unwrap();
    assert_eq!(unread(&w.page(&alice, &all).await), set(&[&u2, &u3]));
    assert_eq!(unread(&w.page(&bob, &all).await), set(&[&u1, &u2]));
    assert_eq!(
        count(&s.inbox_counts(&alice).await.unwrap(), &View::All),
        (3, 2)
    );

    // An agent's answer does not make it unread; the contact's next message does.
    w.reply(&u1.id, "hello").await;
    assert_eq!(unread(&w.page(&alice, &all).await), set(&[&u2, &u3]));
    w.chat("u1", "thanks").await;
    assert_eq!(unread(&w.page(&alice, &all).await), set(&[&u1, &u2, &u3]));
    assert_eq!(
        count(&s.inbox_counts(&alice).await.unwrap(), &View::All),
        (3, 3)
    );

    // Reads never go back in time; marking unread does.
    w.clock.advance(1000);
    let read_at = w.now();
    s.mark_read(&alice.user_id, &u1.id, read_at).await.unwrap();
    s.mark_read(&alice.user_id, &u1.id, read_at - 60_000)
        .await
        .unwrap();
    assert_eq!(unread(&w.page(&alice, &all).await), set(&[&u2, &u3]));
    s.mark_unread(&alice.user_id, &u1.id).await.unwrap();
    assert_eq!(unread(&w.page(&alice, &all).await), set(&[&u1, &u2, &u3]));
    s.mark_read(&alice.user_id, &u1.id, read_at).await.unwrap();

    // Mine and its badge.
    s.mark_read(&alice.user_id, &u3.id, read_at).await.unwrap();
    let counts = s.inbox_counts(&alice).await.unwrap();
    assert_eq!(count(&counts, &View::Mine), (1, 0));
    assert_eq!(count(&counts, &View::Unassigned), (2, 1));
    assert_eq!(count(&counts, &View::All), (3, 1));

    // Resolved conversations leave the badges.
    w.change(&u2.id, Change::Status(Status::Resolved)).await;
    let counts = s.inbox_counts(&alice).await.unwrap();
    assert_eq!(count(&counts, &View::All), (2, 0));
    assert_eq!(count(&counts, &View::Unassigned), (1, 0));

    // Resolved, it leaves every order of the list; opened again, it is back in each.
    for sort in [SortBy::LastActivity, SortBy::Waiting, SortBy::Priority] {
        let ids = w.sorted(&alice, View::All, filter(), sort).await;
        assert!(!ids.contains(&u2.id), "{sort:?}");
    }
    w.change(&u2.id, Change::Status(Status::Open)).await;
    for sort in [SortBy::LastActivity, SortBy::Waiting, SortBy::Priority] {
        let ids = w.sorted(&alice, View::All, filter(), sort).await;
        assert!(ids.contains(&u2.id), "{sort:?}");
    }
    w.change(&u2.id, Change::Status(Status::Resolved)).await;

    // Admins get a badge for every team and tier.
    let counts = s.inbox_counts(&admin).await.unwrap();
    assert_eq!(
        counts.iter().map(|c| c.view.clone()).collect::<Vec<_>>(),
        vec![
            View::Mine,
            View::Unassigned,
            View::All,
            View::Team("alpha".into()),
            View::Tier(Tier::N1),
            View::Tier(Tier::N2),
            View::Tier(Tier::N3),
        ]
    );
    assert_eq!(count(&counts, &View::All), (2, 2));

    // An unknown conversation.
    assert!(matches!(
        s.mark_read(&alice.user_id, "no-such-conversation", read_at)
            .await,
        Err(Error::NotFound(_))
    ));
}

/// Past a few thousand matches the list walks its order and tests each conversation
/// against the search instead of reading the matches: the same rows, order, scope and
/// pages.
async fn a_search_matching_thousands_keeps_order_scope_and_pages(env: Env) {
    let w = World::new(env);
    let s = &w.env.store;
    let alice = w
        .agent("alice@x.com", Role::Support, Some(Tier::N1), &["alpha"])
        .await;
    let n = 3200;
    for chunk in 0..(n / 400) {
        w.clock.advance(1000);
        let batch: Vec<Envelope> = (0..400)
            .map(|i| {
                let k = chunk * 400 + i;
                Envelope::new(
                    w.ids.new_id(),
                    Channel::Webchat,
                    "webchat:default",
                    &format!("many-{k}"),
                    Identity::new(IdentityKind::Visitor, &format!("many-{k}")).unwrap(),
                    &format!(
                        "palavra comum {}",
                        if k % 800 < 2 { "raríssima" } else { "" }
                    ),
                    w.now() + i64::try_from(i).unwrap(),
                )
            })
            .collect();
        s.ingest_batch(&batch).await.unwrap();
    }
    // Every other one is team beta's, out of alice's scope.
    sqlx::query(
        "UPDATE conversations SET team = CASE WHEN number % 2 = 0 THEN 'beta' ELSE 'alpha' END",
    )
    .execute(s.pool())
    .await
    .unwrap();
    let all: Vec<Conversation> = s
        .conversations_for(
            &alice,
            &switchboard_core::store::ConversationFilter {
                limit: 500,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(all.iter().all(|c| c.team.as_deref() == Some("alpha")));

    let mut q = ListQuery {
        filter: ListFilter {
            search: Some("comum".into()),
            ..filter()
        },
        limit: 200,
        ..ListQuery::new(View::All)
    };
    let mut seen: Vec<ListItem> = Vec::new();
    loop {
        let page = s.inbox_list(&alice, &q).await.unwrap();
        seen.extend(page.items);
        match page.next {
            Some(next) => q.after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), n / 2, "every match in scope, once");
    assert!(
        seen.iter()
            .all(|i| i.conversation.team.as_deref() == Some("alpha"))
    );
    assert!(
        seen.windows(2).all(
            |p| (p[0].conversation.last_message_at, &p[0].conversation.id)
                > (p[1].conversation.last_message_at, &p[1].conversation.id)
        ),
        "latest activity first"
    );
    assert!(seen.iter().all(|i| {
        i.snippet
            .as_deref()
            .is_some_and(|s| s.contains("\u{2}comum\u{3}"))
    }));
    // The same first page as listing without the search (every conversation matches).
    let plain = w.ids(&alice, View::All, filter()).await;
    assert_eq!(
        seen.iter()
            .take(200)
            .map(|i| i.conversation.id.clone())
            .collect::<Vec<_>>(),
        plain
    );
    // A rarer word among them is still found, and a word nobody wrote finds nothing.
    let rare = w.search(&alice, "rarissima").await;
    // One of each pair is alice's.
    assert_eq!(rare.len(), n / 800);
    assert!(w.search(&alice, "ninguem").await.is_empty());
}

/// An internal note is searched but is neither the row's latest message nor an answer;
/// messages moved by a merge of conversations are found in, and wait in, the target.
async fn notes_and_merged_conversations_keep_the_list_true(env: Env) {
    use switchboard_core::metrics::Metrics;
    use switchboard_core::workflow::Workflow;
    let w = World::new(env);
    let wf = Workflow::new(
        w.env.store.clone(),
        w.realtime.clone(),
        w.ids.clone(),
        Arc::new(Metrics::default()),
    );
    let admin = w.agent("admin@x.com", Role::Admin, None, &[]).await;
    let row = |items: Vec<ListItem>, id: &str| {
        items.into_iter().find(|i| i.conversation.id == id).unwrap()
    };

    let c = w.chat("v1", "primeira pergunta").await;
    w.clock.advance(1000);
    wf.add_note(&admin, &c.id, "nota interna xyzzy")
        .await
        .unwrap();
    let r = row(w.page(&admin, &ListQuery::new(View::All)).await, &c.id);
    assert_eq!(r.preview, "primeira pergunta");
    assert_eq!(r.preview_author, "contact");
    assert_eq!(r.waiting_since, Some(c.created_at), "a note is no answer");
    assert_eq!(w.search_ids(&admin, "xyzzy").await, set(&[&c]));

    // Two threads of one contact, merged.
    let email = |thread: &str, text: &str| {
        let mut e = Envelope::new(
            w.ids.new_id(),
            Channel::Email,
            "email:support",
            &w.ids.new_id(),
            Identity::email("rui@x.com").unwrap(),
            text,
            w.now(),
        );
        e.thread = Some(thread.into());
        e
    };
    w.clock.advance(1000);
    let first = match &w
        .env
        .store
        .ingest_batch(&[email("a", "pedido zebra")])
        .await
        .unwrap()[0]
    {
        IngestOutcome::Stored(i) => i.conversation.clone(),
        other => panic!("{other:?}"),
    };
    w.clock.advance(1000);
    let second = match &w
        .env
        .store
        .ingest_batch(&[email("b", "fatura quokka")])
        .await
        .unwrap()[0]
    {
        IngestOutcome::Stored(i) => i.conversation.clone(),
        other => panic!("{other:?}"),
    };
    assert_ne!(first.id, second.id);
    w.reply(&second.id, "vamos ver").await;
    w.clock.advance(1000);
    let later = w.now();
    w.env
        .store
        .ingest_batch(&[email("a", "zebra outra vez")])
        .await
        .unwrap();
    w.clock.advance(1000);
    wf.merge_conversations(&admin, &first.id, &second.id)
        .await
        .unwrap();
    assert_eq!(w.search_ids(&admin, "zebra").await, set(&[&second]));
    let r = row(w.page(&admin, &ListQuery::new(View::All)).await, &second.id);
    // The answer came after the first moved message, not after the second one; the
    // merge's own lines are internal.
    assert_eq!(
        r.waiting_since,
        Some(later),
        "a moved message waits for an answer"
    );
    assert_eq!(r.preview, "zebra outra vez");
}

/// Each caller's view counts as the tallies give them equal a recount from the
/// conversations themselves.
async fn same_counts(s: &switchboard_core::store::Store, callers: &[Caller], step: &str) {
    for c in callers {
        let got = s.inbox_counts(c).await.unwrap();
        let want = s.inbox_counts_recounted(c).await.unwrap();
        assert_eq!(got, want, "{step}: the counts of a {:?}", c.role);
    }
}

/// The view counts come from tallies kept by triggers (migration 39); for a caller of
/// every role they equal a recount through every kind of change: new conversations and
/// messages, answers, status, assignee, team, tier and company changes, reads and unreads,
/// a merge, portal tickets, the tallies folded in between; and, at the end, messages,
/// reads, assignments and resolutions of one conversation at the same moment.
async fn view_counts_follow_every_change_and_equal_a_recount(env: Env) {
    use switchboard_core::metrics::Metrics;
    use switchboard_core::store::NewTicket;
    use switchboard_core::workflow::Workflow;
    let w = World::new(env);
    let s = &w.env.store;
    let wf = Workflow::new(
        w.env.store.clone(),
        w.realtime.clone(),
        w.ids.clone(),
        Arc::new(Metrics::default()),
    );
    let acme = s.create_company(&w.ids, "Acme").await.unwrap();
    let globex = s.create_company(&w.ids, "Globex").await.unwrap();
    let with_companies = |email: &'static str, role: Role, companies: Vec<String>| {
        let w = &w;
        async move {
            let user = s
                .create_user(&w.ids, email, None, role, None)
                .await
                .unwrap();
            for c in &companies {
                s.add_user_company(&user.id, c).await.unwrap();
            }
            s.caller(&user).await.unwrap()
        }
    };
    let callers = vec![
        w.agent("admin@x.com", Role::Admin, None, &[]).await,
        w.agent("sup@x.com", Role::Supervisor, None, &[]).await,
        w.agent("alice@x.com", Role::Support, Some(Tier::N1), &["alpha"])
            .await,
        w.agent(
            "bob@x.com",
            Role::Support,
            Some(Tier::N2),
            &["alpha", "beta"],
        )
        .await,
        with_companies("coord@x.com", Role::Coordinator, vec![acme.clone()]).await,
        with_companies("tech@x.com", Role::Technician, vec![globex.clone()]).await,
        with_companies("lone@x.com", Role::Technician, vec![]).await,
    ];
    let agents: Vec<String> = callers[2..].iter().map(|c| c.user_id.clone()).collect();
    let readers: Vec<String> = callers.iter().map(|c| c.user_id.clone()).collect();

    // A fixed pseudo-random walk, the same on every backend.
    let mut state: u64 = 0x5eed_1234;
    let mut pick = move |n: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(state >> 33).unwrap() % n
    };
    let senders = [
        "v0",
        "v1",
        "v2",
        "v3",
        "v4",
        "v5",
        "ana@acme.com",
        "rui@acme.com",
        "eva@globex.com",
        "ivo@other.com",
    ];
    let mut conversations: Vec<Conversation> = Vec::new();
    for step in 0..240 {
        let label = format!("step {step}");
        match pick(10) {
            0..=2 => {
                let from = senders[pick(senders.len())];
                let c = if from.contains('@') {
                    w.inbound(Channel::Email, from, None, "a copiadora parou")
                        .await
                } else {
                    w.chat(from, "a impressora nao liga").await
                };
                if !conversations.iter().any(|k| k.id == c.id) {
                    conversations.push(c);
                }
            }
            _ if conversations.is_empty() => {}
            3 => {
                let c = &conversations[pick(conversations.len())];
                w.reply(&c.id, "vamos verificar").await;
            }
            4 => {
                let c = conversations[pick(conversations.len())].id.clone();
                let status = [Status::Resolved, Status::Open, Status::Pending][pick(3)];
                w.change(&c, Change::Status(status)).await;
            }
            5 => {
                let c = conversations[pick(conversations.len())].id.clone();
                let who = pick(agents.len() + 1);
                w.change(&c, Change::Assignee(agents.get(who).cloned()))
                    .await;
            }
            6 => {
                let c = conversations[pick(conversations.len())].id.clone();
                let team = [Some("alpha"), Some("beta"), None][pick(3)];
                w.change(&c, Change::Team(team.map(str::to_owned))).await;
                let tier = [Tier::N1, Tier::N2, Tier::N3][pick(3)];
                w.change(&c, Change::Tier(tier)).await;
            }
            7 => {
                let c = &conversations[pick(conversations.len())];
                let reader = &readers[pick(readers.len())];
                w.clock.advance(500);
                s.mark_read(reader, &c.id, w.now()).await.unwrap();
            }
            8 => {
                let c = &conversations[pick(conversations.len())];
                let reader = &readers[pick(readers.len())];
                s.mark_unread(reader, &c.id).await.unwrap();
            }
            _ => {
                let c = &conversations[pick(conversations.len())];
                let company = [&acme, &globex][pick(2)];
                s.set_contact_company(&c.contact_id, company).await.unwrap();
            }
        }
        same_counts(s, &callers, &label).await;
        if step % 60 == 59 {
            s.fold_inbox_tallies().await.unwrap();
            same_counts(s, &callers, &format!("{label}, folded")).await;
        }
    }

    // A merge of two threads of one contact, one of them read.
    let email = |thread: &str, text: &str| {
        let mut e = Envelope::new(
            w.ids.new_id(),
            Channel::Email,
            "email:support",
            &w.ids.new_id(),
            Identity::email("zeca@acme.com").unwrap(),
            text,
            w.now(),
        );
        e.thread = Some(thread.into());
        e
    };
    let mut threads = Vec::new();
    for (thread, text) in [("t1", "toner acabou"), ("t2", "fatura errada")] {
        w.clock.advance(1000);
        match &s.ingest_batch(&[email(thread, text)]).await.unwrap()[0] {
            IngestOutcome::Stored(i) => threads.push(i.conversation.clone()),
            other => panic!("{other:?}"),
        }
    }
    s.set_contact_company(&threads[0].contact_id, &acme)
        .await
        .unwrap();
    w.clock.advance(1000);
    for r in &readers {
        s.mark_read(r, &threads[0].id, w.now()).await.unwrap();
    }
    w.change(&threads[1].id, Change::Assignee(Some(agents[0].clone())))
        .await;
    same_counts(s, &callers, "two threads").await;
    w.clock.advance(1000);
    wf.merge_conversations(&callers[0], &threads[0].id, &threads[1].id)
        .await
        .unwrap();
    same_counts(s, &callers, "merged").await;

    // Portal tickets (on PostgreSQL one statement writes their inbox rows itself).
    let client = crate::tickets::client(&w.env, "lia@acme.com", &acme).await;
    let batch = vec![
        (
            &client,
            NewTicket {
                inbox: "email:support",
                channel: Channel::Email,
                subject: "Copiadora travando",
                category: "technical",
                client_key: "k1",
                first: Some(switchboard_core::store::FirstMessage {
                    text: "trava no papel A3",
                    attachments: &[],
                }),
            },
        ),
        (
            &client,
            NewTicket {
                inbox: "email:support",
                channel: Channel::Email,
                subject: "Segunda via",
                category: "billing",
                client_key: "k2",
                first: None,
            },
        ),
    ];
    for out in s.open_tickets(&w.env.ids, &batch).await.unwrap() {
        out.unwrap();
    }
    same_counts(s, &callers, "tickets").await;

    // At the same moment, on one conversation: the contact writes, agents open it, it is
    // assigned and moved, and another is resolved; the counts still add up.
    for round in 0..12 {
        let c = conversations[pick(conversations.len())].clone();
        let other = conversations[pick(conversations.len())].id.clone();
        let reader = readers[pick(readers.len())].clone();
        let agent = agents[pick(agents.len())].clone();
        w.clock.advance(1000);
        let now = w.now();
        tokio::join!(
            w.chat(senders[round % 6], "mais uma mensagem"),
            async { s.mark_read(&reader, &c.id, now).await.unwrap() },
            w.change(&c.id, Change::Assignee(Some(agent))),
            w.change(&other, Change::Status(Status::Resolved)),
            async { s.mark_read(&readers[0], &other, now).await.unwrap() },
        );
        same_counts(s, &callers, &format!("round {round}")).await;
    }

    let rows = |table: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(s.pool())
            .await
            .unwrap()
    };
    let before = rows("inbox_tally").await + rows("inbox_seen").await;
    let folded = s.fold_inbox_tallies().await.unwrap();
    let after = rows("inbox_tally").await + rows("inbox_seen").await;
    assert!(
        folded > 0 && after < before,
        "{before} rows folded to {after}"
    );
    same_counts(s, &callers, "folded at the end").await;
    // Nothing more to fold: a second fold leaves the rows as they are.
    s.fold_inbox_tallies().await.unwrap();
    assert_eq!(rows("inbox_tally").await + rows("inbox_seen").await, after);
}
