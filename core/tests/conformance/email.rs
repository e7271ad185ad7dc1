//! The email channel's rows on every backend: the IMAP cursor, the mailbox status, the
//! anchor a reply address threads by, the notice throttle and a contact's preferences.

use switchboard_core::store::EmailCursor;

use crate::on_every_backend;
use crate::support::Env;

on_every_backend!(
    the_imap_cursor_moves_forward_and_follows_a_new_numbering,
    mailbox_status_counts_and_says_why,
    a_reply_address_threads_by_our_newest_sent_message,
    notices_are_throttled_per_conversation_and_follow_the_contacts_wish,
    a_mailbox_is_read_by_one_node_at_a_time,
);

async fn a_mailbox_is_read_by_one_node_at_a_time(env: Env) {
    let s = &env.store;
    let inbox = "email:support";
    assert!(s.take_email_lease(inbox, "a", 1_000, 100).await.unwrap());
    assert!(
        !s.take_email_lease(inbox, "b", 1_050, 100).await.unwrap(),
        "a holds it"
    );
    assert!(
        s.take_email_lease(inbox, "a", 1_090, 100).await.unwrap(),
        "renewed to 1190"
    );
    assert!(!s.take_email_lease(inbox, "b", 1_150, 100).await.unwrap());
    assert!(
        s.take_email_lease(inbox, "b", 1_200, 100).await.unwrap(),
        "a's lapsed"
    );
    assert!(!s.take_email_lease(inbox, "a", 1_210, 100).await.unwrap());
    s.release_email_lease(inbox, "a").await.unwrap();
    assert_eq!(
        s.email_lease_holder(inbox).await.unwrap().as_deref(),
        Some("b"),
        "only the holder lets go"
    );
    s.release_email_lease(inbox, "b").await.unwrap();
    assert!(
        s.take_email_lease(inbox, "a", 1_220, 100).await.unwrap(),
        "let go: taken at once"
    );
    assert!(
        s.take_email_lease("email:sales", "b", 1_220, 100)
            .await
            .unwrap(),
        "per mailbox"
    );
}

async fn the_imap_cursor_moves_forward_and_follows_a_new_numbering(env: Env) {
    let s = &env.store;
    assert_eq!(s.email_cursor("email:support").await.unwrap(), None);
    let c = |v, u| EmailCursor {
        uid_validity: v,
        last_uid: u,
    };
    s.set_email_cursor("email:support", c(7, 100), 1)
        .await
        .unwrap();
    s.set_email_cursor("email:support", c(7, 40), 2)
        .await
        .unwrap();
    assert_eq!(
        s.email_cursor("email:support").await.unwrap(),
        Some(c(7, 100)),
        "never backwards within one numbering"
    );
    s.set_email_cursor("email:support", c(9, 3), 3)
        .await
        .unwrap();
    assert_eq!(
        s.email_cursor("email:support").await.unwrap(),
        Some(c(9, 3)),
        "a new UIDVALIDITY starts over"
    );
    assert_eq!(s.email_cursor("email:sales").await.unwrap(), None);
    // UIDs are 32-bit unsigned: the largest fits.
    s.set_email_cursor("email:sales", c(u32::MAX, u32::MAX), 4)
        .await
        .unwrap();
    assert_eq!(
        s.email_cursor("email:sales").await.unwrap(),
        Some(c(u32::MAX, u32::MAX))
    );
}

async fn mailbox_status_counts_and_says_why(env: Env) {
    let s = &env.store;
    s.set_email_status("email:support", true, "connected (IDLE)", 5, 1)
        .await
        .unwrap();
    s.set_email_status("email:support", true, "connected (IDLE)", 3, 2)
        .await
        .unwrap();
    s.set_email_status("email:sales", false, "the server refused the login", 0, 3)
        .await
        .unwrap();
    s.set_email_cursor(
        "email:support",
        EmailCursor {
            uid_validity: 1,
            last_uid: 8,
        },
        2,
    )
    .await
    .unwrap();
    let all = s.email_statuses().await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].inbox, "email:sales");
    assert!(!all[0].ok && all[0].detail.contains("refused"));
    assert_eq!(all[0].last_uid, None);
    assert_eq!(
        (all[1].ok, all[1].fetched, all[1].last_uid),
        (true, 8, Some(8))
    );
}

async fn a_reply_address_threads_by_our_newest_sent_message(env: Env) {
    let conv = env
        .open(env.email("ana@example.com", "n1@example.com", "hi"))
        .await;
    assert_eq!(
        env.store.thread_anchor(&conv).await.unwrap().as_deref(),
        Some("n1@example.com"),
        "before we wrote: the customer's mail"
    );
    env.agent_sent(&conv, "first", "sb-1@acme.test").await;
    env.agent_sent(&conv, "second", "sb-2@acme.test").await;
    env.agent_says(&conv, "not sent yet").await;
    assert_eq!(
        env.store.thread_anchor(&conv).await.unwrap().as_deref(),
        Some("sb-2@acme.test")
    );
    assert_eq!(
        env.store
            .thread_anchor("no-such-conversation")
            .await
            .unwrap(),
        None
    );
}

async fn notices_are_throttled_per_conversation_and_follow_the_contacts_wish(env: Env) {
    let s = &env.store;
    let a = env
        .open(env.email("ana@example.com", "n1@example.com", "hi"))
        .await;
    let b = env
        .open(env.email("bo@example.com", "n2@example.com", "hi"))
        .await;
    let minute = 60_000;
    assert!(
        s.take_notice_slot(&a, 1_000_000, 10 * minute)
            .await
            .unwrap()
    );
    assert!(
        !s.take_notice_slot(&a, 1_000_000 + minute, 10 * minute)
            .await
            .unwrap()
    );
    assert!(
        s.take_notice_slot(&b, 1_000_000 + minute, 10 * minute)
            .await
            .unwrap(),
        "per conversation"
    );
    assert!(
        s.take_notice_slot(&a, 1_000_000 + 10 * minute, 10 * minute)
            .await
            .unwrap()
    );
    let contact = s.conversation(&a).await.unwrap().contact_id;
    assert_eq!(
        s.contact_mail_preferences(&contact).await.unwrap(),
        (None, true)
    );
    s.set_contact_mail_preferences(&contact, Some("pt-BR"), false)
        .await
        .unwrap();
    assert_eq!(
        s.contact_mail_preferences(&contact).await.unwrap(),
        (Some("pt-BR".to_owned()), false)
    );
    s.set_contact_mail_preferences(&contact, None, true)
        .await
        .unwrap();
    assert_eq!(
        s.contact_mail_preferences(&contact).await.unwrap(),
        (Some("pt-BR".to_owned()), true),
        "the language stays when none is given"
    );
    assert!(
        s.set_contact_mail_preferences("nobody", None, true)
            .await
            .is_err()
    );
}
