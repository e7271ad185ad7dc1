//! Agents' notifications of events: each once per user, kind and event however often and
//! from however many nodes it is added at once; another user's and another kind's are
//! their own; the unread count follows reading.

use switchboard_core::domain::Role;
use switchboard_core::store::{NewNotification, NotificationKind};

use crate::on_every_backend;
use crate::support::Env;

on_every_backend!(an_event_notifies_each_user_once);

async fn an_event_notifies_each_user_once(env: Env) {
    let s = &env.store;
    let conv = env
        .open(env.email("ana@globex.example", "m1@globex.example", "Oi"))
        .await;
    let c = s.conversation(&conv).await.unwrap();
    let rui = s
        .create_user(&env.ids, "rui@desk.test", Some("Rui"), Role::Support, None)
        .await
        .unwrap();
    let lia = s
        .create_user(&env.ids, "lia@desk.test", Some("Lia"), Role::Support, None)
        .await
        .unwrap();
    // The same message seen by five nodes at once: one notification.
    let added = futures::future::join_all((0..5).map(|_| {
        let list = [NewNotification {
            user_id: &rui.id,
            kind: NotificationKind::Reply,
            conversation: &c,
            message_id: None,
            event: "msg-1",
        }];
        let s = s.clone();
        let ids = env.ids.clone();
        async move { s.add_notifications_once(&ids, &list).await.unwrap().len() }
    }))
    .await;
    assert_eq!(added.iter().sum::<usize>(), 1, "{added:?}");
    // Another event, another kind of the same event, another user: each their own.
    for (user_id, kind, event) in [
        (&rui.id, NotificationKind::Reply, "msg-2"),
        (&rui.id, NotificationKind::Survey, "msg-1"),
        (&lia.id, NotificationKind::Reply, "msg-1"),
    ] {
        let made = s
            .add_notifications_once(
                &env.ids,
                &[NewNotification {
                    user_id,
                    kind,
                    conversation: &c,
                    message_id: None,
                    event,
                }],
            )
            .await
            .unwrap();
        assert_eq!(made.len(), 1, "{user_id} {kind:?} {event}");
    }
    assert_eq!(s.unread_notifications(&rui.id).await.unwrap(), 3);
    assert_eq!(s.unread_notifications(&lia.id).await.unwrap(), 1);
    let list = s.notifications(&rui.id, false).await.unwrap();
    assert_eq!(list.len(), 3);
    assert!(list.iter().all(|n| n.conversation_number == c.number));
    s.mark_notifications_read(&rui.id, None, env.ids.now_ms())
        .await
        .unwrap();
    assert_eq!(s.unread_notifications(&rui.id).await.unwrap(), 0);
    assert_eq!(
        s.unread_notifications(&lia.id).await.unwrap(),
        1,
        "hers stay"
    );
}
