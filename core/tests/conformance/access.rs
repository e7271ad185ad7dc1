//! Access on every backend: what each role sees, ids outside the caller's scope, tokens
//! that expire or are revoked, and single-use websocket tickets.

use switchboard_core::domain::{Role, Tier};
use switchboard_core::store::ConversationFilter;

use crate::on_every_backend;
use crate::support::Env;

on_every_backend!(
    each_role_sees_its_own_and_nothing_else,
    tokens_expire_and_are_revoked,
    websocket_tickets_are_single_use_and_short_lived,
);

async fn open(env: &Env, visitor: &str) -> String {
    env.open(env.envelope(visitor, &format!("{visitor}-1"), "hi"))
        .await
}

async fn each_role_sees_its_own_and_nothing_else(env: Env) {
    let s = &env.store;
    let acme = s.create_company(&env.ids, "Acme").await.unwrap();
    let globex = s.create_company(&env.ids, "Globex").await.unwrap();
    // Five conversations: Acme's (N1, team billing), Globex's (N1, no team), one at N2,
    // one of team sales, one assigned to a support agent.
    let acme_conv = open(&env, "acme").await;
    let globex_conv = open(&env, "globex").await;
    let n2_conv = open(&env, "n2").await;
    let sales_conv = open(&env, "sales").await;
    let mine_conv = open(&env, "mine").await;
    for (conv, company) in [(&acme_conv, &acme), (&globex_conv, &globex)] {
        let contact: String =
            sqlx::query_scalar("SELECT contact_id FROM conversations WHERE id = $1")
                .bind(conv)
                .fetch_one(s.pool())
                .await
                .unwrap();
        s.set_contact_company(&contact, company).await.unwrap();
    }
    let support = s
        .create_user(&env.ids, "n1@x.com", None, Role::Support, Some(Tier::N1))
        .await
        .unwrap();
    s.add_user_team(&support.id, "billing").await.unwrap();
    for (sql, conv) in [
        (
            "UPDATE conversations SET team = 'billing' WHERE id = $1",
            &acme_conv,
        ),
        (
            "UPDATE conversations SET tier = 'N2' WHERE id = $1",
            &n2_conv,
        ),
        (
            "UPDATE conversations SET team = 'sales' WHERE id = $1",
            &sales_conv,
        ),
    ] {
        sqlx::query(sql).bind(conv).execute(s.pool()).await.unwrap();
    }
    sqlx::query(
        "UPDATE conversations SET assignee_id = $1, tier = 'N3', team = 'sales' WHERE id = $2",
    )
    .bind(&support.id)
    .bind(&mine_conv)
    .execute(s.pool())
    .await
    .unwrap();
    let coordinator = s
        .create_user(&env.ids, "coord@x.com", None, Role::Coordinator, None)
        .await
        .unwrap();
    s.add_user_company(&coordinator.id, &acme).await.unwrap();
    let admin = s
        .create_user(&env.ids, "admin@x.com", None, Role::Admin, None)
        .await
        .unwrap();
    let supervisor = s
        .create_user(&env.ids, "sup@x.com", None, Role::Supervisor, None)
        .await
        .unwrap();

    let sees = |ids: Vec<switchboard_core::domain::Conversation>| {
        let mut v: Vec<String> = ids.into_iter().map(|c| c.id).collect();
        v.sort();
        v
    };
    let sorted = |mut v: Vec<&String>| {
        v.sort();
        v.into_iter().cloned().collect::<Vec<_>>()
    };
    let all = ConversationFilter::default();
    let support_c = s.caller(&support).await.unwrap();
    assert_eq!(
        sees(s.conversations_for(&support_c, &all).await.unwrap()),
        sorted(vec![&acme_conv, &globex_conv, &mine_conv]),
        "its team's and no team's at N1, and its own"
    );
    let coord_c = s.caller(&coordinator).await.unwrap();
    assert_eq!(
        sees(s.conversations_for(&coord_c, &all).await.unwrap()),
        vec![acme_conv.clone()]
    );
    for u in [&admin, &supervisor] {
        let c = s.caller(u).await.unwrap();
        assert_eq!(s.conversations_for(&c, &all).await.unwrap().len(), 5);
    }
    // An id outside the scope is "not found", exactly like an id that does not exist.
    for (caller, conv) in [
        (&support_c, &n2_conv),
        (&support_c, &sales_conv),
        (&coord_c, &globex_conv),
    ] {
        let err = s.conversation_for(caller, conv).await.unwrap_err();
        assert!(matches!(err, switchboard_core::Error::NotFound(_)), "{err}");
        assert!(s.messages_for(caller, conv, None, 0).await.is_err());
    }
    assert!(s.conversation_for(&support_c, &mine_conv).await.is_ok());
    // Dead letters too: each is listed only to those who may see its conversation.
    for conv in [&acme_conv, &globex_conv] {
        let m = env.agent_says(conv, "undeliverable").await;
        s.add_dead_letter(&env.ids, &m, "550 no such user", 1)
            .await
            .unwrap();
    }
    let theirs = s.dead_letters_for(&coord_c).await.unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].conversation_id, acme_conv);
    let admin_c = s.caller(&admin).await.unwrap();
    assert_eq!(s.dead_letters_for(&admin_c).await.unwrap().len(), 2);

    // The same rule decides which realtime events an agent's socket forwards.
    for conv in [&acme_conv, &globex_conv, &n2_conv, &sales_conv, &mine_conv] {
        let scope = s.conversation(conv).await.unwrap().scope();
        assert_eq!(
            support_c.may_see(&scope),
            s.conversation_for(&support_c, conv).await.is_ok(),
            "{conv}"
        );
        assert_eq!(
            coord_c.may_see(&scope),
            s.conversation_for(&coord_c, conv).await.is_ok()
        );
    }
}

async fn tokens_expire_and_are_revoked(env: Env) {
    let s = &env.store;
    let u = s
        .create_user(&env.ids, "a@x.com", None, Role::Support, None)
        .await
        .unwrap();
    let now = env.ids.now_ms();
    let short = s
        .issue_expiring_api_token(&env.ids, &u.id, "short", Some(60_000))
        .await
        .unwrap();
    assert!(s.user_by_token(&short, now).await.unwrap().is_some());
    assert!(
        s.user_by_token(&short, now + 120_000)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    let long = s.issue_api_token(&env.ids, &u.id, "long").await.unwrap();
    let other = s.issue_api_token(&env.ids, &u.id, "other").await.unwrap();
    assert!(s.revoke_api_token(&long, now).await.unwrap());
    assert!(!s.revoke_api_token(&long, now).await.unwrap(), "once");
    assert!(s.user_by_token(&long, now).await.unwrap().is_none());
    assert!(s.user_by_token(&other, now).await.unwrap().is_some());
    assert_eq!(s.revoke_user_tokens(&u.id, now).await.unwrap(), 2);
    assert!(s.user_by_token(&other, now).await.unwrap().is_none());
}

async fn websocket_tickets_are_single_use_and_short_lived(env: Env) {
    let s = &env.store;
    let u = s
        .create_user(&env.ids, "a@x.com", None, Role::Support, None)
        .await
        .unwrap();
    let now = env.ids.now_ms();
    let t = s.issue_ws_ticket(&env.ids, &u.id, 30_000).await.unwrap();
    assert_eq!(s.redeem_ws_ticket(&t, now).await.unwrap().unwrap().id, u.id);
    assert!(
        s.redeem_ws_ticket(&t, now).await.unwrap().is_none(),
        "single use"
    );
    let stale = s.issue_ws_ticket(&env.ids, &u.id, 30_000).await.unwrap();
    assert!(
        s.redeem_ws_ticket(&stale, now + 60_000)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert!(
        s.redeem_ws_ticket(&stale, now).await.unwrap().is_none(),
        "and gone"
    );
    assert!(
        s.redeem_ws_ticket("sbw_forged", now)
            .await
            .unwrap()
            .is_none()
    );
}
