//! WhatsApp's rows of the store: the channel a contact's notices go by, and the one-time
//! "continue on WhatsApp" codes (used once, never after they expire, once when two nodes
//! race).

use crate::on_every_backend;
use crate::support::Env;

on_every_backend!(notice_channels_and_continuation_codes_hold,);

async fn notice_channels_and_continuation_codes_hold(env: Env) {
    let s = &env.store;
    let conversation = env.open(env.envelope("ana", "ana-1", "hello")).await;
    let contact: String = sqlx::query_scalar("SELECT contact_id FROM conversations WHERE id = $1")
        .bind(&conversation)
        .fetch_one(s.pool())
        .await
        .unwrap();

    // Mail unless chosen otherwise; only email or whatsapp; an unknown contact is named.
    assert_eq!(s.contact_notice_channel(&contact).await.unwrap(), "email");
    s.set_contact_notice_channel(&contact, "whatsapp")
        .await
        .unwrap();
    assert_eq!(
        s.contact_notice_channel(&contact).await.unwrap(),
        "whatsapp"
    );
    assert!(s.set_contact_notice_channel(&contact, "sms").await.is_err());
    assert_eq!(
        s.contact_notice_channel(&contact).await.unwrap(),
        "whatsapp"
    );
    assert!(
        s.set_contact_notice_channel("nobody", "email")
            .await
            .is_err()
    );
    // No WhatsApp conversation yet: no number they write to.
    assert_eq!(s.whatsapp_inbox_of(&contact).await.unwrap(), None);

    // A code works once, and not after it expires; the table keeps no code itself.
    let now = env.ids.now_ms();
    s.put_wa_handover("ABCD-EFGH", &contact, now, now + 60_000)
        .await
        .unwrap();
    let stored: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM whatsapp_handovers WHERE code_hash = 'ABCD-EFGH'")
            .fetch_one(s.pool())
            .await
            .unwrap();
    assert_eq!(stored, 0, "only the hash is kept");
    assert_eq!(s.take_wa_handover("WXYZ-0000", now).await.unwrap(), None);
    assert_eq!(
        s.take_wa_handover("ABCD-EFGH", now + 61_000).await.unwrap(),
        None,
        "expired"
    );
    s.put_wa_handover("JKMN-PQRS", &contact, now, now + 60_000)
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        s.take_wa_handover("JKMN-PQRS", now + 1),
        s.take_wa_handover("JKMN-PQRS", now + 1)
    );
    let taken: Vec<String> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(taken, vec![contact.clone()], "used once");
    assert_eq!(
        s.take_wa_handover("JKMN-PQRS", now + 2).await.unwrap(),
        None
    );
}
