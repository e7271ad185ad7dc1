//! The client's notices: one per event and contact however often and from however many
//! nodes it is recorded; claimed for sending by one node only, a contact's together; read
//! and marked only by their own contact; preferences per kind.

use switchboard_core::store::NewNotice;

use crate::on_every_backend;
use crate::support::Env;
use crate::tickets::client;

on_every_backend!(notices_are_recorded_once_claimed_once_and_kept_to_their_contact);

fn notice<'a>(contact: &'a str, event: &'a str, sent_by: Option<&'a str>) -> NewNotice<'a> {
    NewNotice {
        contact_id: contact,
        company_id: None,
        kind: "visit_scheduled",
        event,
        params: r#"{"n": 7}"#,
        link: "/portal/machines/x",
        sent_by,
    }
}

async fn notices_are_recorded_once_claimed_once_and_kept_to_their_contact(env: Env) {
    let s = &env.store;
    let acme = s.create_company(&env.ids, "Acme").await.unwrap();
    let ana = client(&env, "ana@acme.example", &acme).await;
    let bea = client(&env, "bea@acme.example", &acme).await;

    // The same event from five places at once: one notice.
    let n = notice(&ana.contact_id, "visit:1:scheduled", None);
    let all = futures::future::join_all((0..5).map(|_| s.add_notice(&env.ids, &n))).await;
    assert_eq!(
        all.into_iter()
            .filter(|r| r.as_ref().unwrap().is_some())
            .count(),
        1
    );
    // The same event for another contact is its own.
    assert!(
        s.add_notice(
            &env.ids,
            &notice(&bea.contact_id, "visit:1:scheduled", None)
        )
        .await
        .unwrap()
        .is_some()
    );
    // One sent by its own mail already never waits to go.
    s.add_notice(
        &env.ids,
        &notice(&ana.contact_id, "invoice:1:issued", Some("email")),
    )
    .await
    .unwrap();
    s.add_notice(
        &env.ids,
        &notice(&ana.contact_id, "visit:2:scheduled", None),
    )
    .await
    .unwrap();
    // Bad input changes nothing.
    let mut bad = notice(&ana.contact_id, "x", None);
    bad.kind = "lottery";
    assert!(s.add_notice(&env.ids, &bad).await.is_err());
    assert!(
        s.add_notice(&env.ids, &notice(&ana.contact_id, "y", Some("pigeon")))
            .await
            .is_err()
    );

    // Each contact reads its own only.
    assert_eq!(s.notices_for_client(&ana, 50).await.unwrap().len(), 3);
    assert_eq!(s.notices_for_client(&bea, 50).await.unwrap().len(), 1);
    assert_eq!(s.unread_notices(&ana).await.unwrap(), 3);
    let beas = s.notices_for_client(&bea, 50).await.unwrap()[0].id.clone();
    assert_eq!(
        s.mark_notices_read(&ana, Some(&[beas]), env.ids.now_ms())
            .await
            .unwrap(),
        0,
        "Ana cannot mark Bea's"
    );
    assert_eq!(s.unread_notices(&bea).await.unwrap(), 1);

    // Two nodes claim at once: every waiting notice once, a contact's together.
    let later = env.ids.now_ms() + 1_000;
    let (a, b) = tokio::join!(
        s.claim_waiting_notices(&env.ids, later, 0, 10),
        s.claim_waiting_notices(&env.ids, later, 0, 10)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut claimed: Vec<String> = a.iter().chain(b.iter()).map(|n| n.id.clone()).collect();
    claimed.sort();
    let total = claimed.len();
    claimed.dedup();
    assert_eq!((total, claimed.len()), (3, 3), "{a:?} {b:?}");
    for side in [&a, &b] {
        for n in side.iter() {
            assert!(
                side.iter().filter(|m| m.contact_id == n.contact_id).count()
                    == if n.contact_id == ana.contact_id { 2 } else { 1 },
                "a contact's waiting notices go together"
            );
        }
    }
    // Claimed ones are not claimed again until their claim lapses; sent ones never.
    assert!(
        s.claim_waiting_notices(&env.ids, later, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let ids: Vec<String> = a.iter().chain(b.iter()).map(|n| n.id.clone()).collect();
    s.notices_sent(&env.ids, &ids, "email").await.unwrap();
    assert!(
        s.claim_waiting_notices(&env.ids, later, later, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Not settled yet: a notice this new waits for others.
    s.add_notice(
        &env.ids,
        &notice(&ana.contact_id, "visit:3:scheduled", None),
    )
    .await
    .unwrap();
    assert!(
        s.claim_waiting_notices(&env.ids, env.ids.now_ms() - 60_000, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Preferences per kind, the contact's notice channel otherwise.
    assert_eq!(
        s.notice_channel_for(&ana.contact_id, "invoice_paid")
            .await
            .unwrap(),
        "email"
    );
    s.set_notice_preference(&ana.contact_id, "invoice_paid", "none")
        .await
        .unwrap();
    assert_eq!(
        s.notice_channel_for(&ana.contact_id, "invoice_paid")
            .await
            .unwrap(),
        "none"
    );
    assert!(
        s.set_notice_preference(&ana.contact_id, "invoice_paid", "fax")
            .await
            .is_err()
    );
    assert!(
        s.set_notice_preference(&ana.contact_id, "lottery", "email")
            .await
            .is_err()
    );
    assert_eq!(
        s.notice_preferences(&ana.contact_id).await.unwrap(),
        vec![("invoice_paid".to_owned(), "none".to_owned())]
    );
    // Marking all read marks the contact's own.
    s.mark_notices_read(&ana, None, env.ids.now_ms())
        .await
        .unwrap();
    assert_eq!(s.unread_notices(&ana).await.unwrap(), 0);
    assert_eq!(s.unread_notices(&bea).await.unwrap(), 1);
}
