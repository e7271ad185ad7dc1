//! Attachments and typed addresses on every backend: a blob is read only through a
//! message the reader may see, and an address a visitor leaves is a claim, never proof.

use switchboard_core::blob::BlobKey;
use switchboard_core::domain::{Attachment, AuthorKind, Identity, Role, Tier};
use switchboard_core::store::{NewOutbound, Queued};

use crate::on_every_backend;
use crate::support::Env;

on_every_backend!(
    attachments_are_read_only_through_messages_the_reader_may_see,
    a_typed_address_is_kept_as_a_claim_and_proves_nothing,
);

fn attachment(name: &str, content: &[u8]) -> Attachment {
    Attachment {
        name: name.into(),
        mime: "image/png".into(),
        size: content.len() as u64,
        blob: BlobKey::of(content),
        content_id: None,
    }
}

async fn contact_of(env: &Env, conversation: &str) -> String {
    sqlx::query_scalar("SELECT contact_id FROM conversations WHERE id = $1")
        .bind(conversation)
        .fetch_one(env.store.pool())
        .await
        .unwrap()
}

async fn attachments_are_read_only_through_messages_the_reader_may_see(env: Env) {
    let s = &env.store;
    let inbox = "webchat:default";
    // Ana's visitor sends a photo; Bob's visitor sends nothing of it.
    let photo = attachment("printer.png", b"a photo of the printer");
    let mut e = env.envelope("ana", "ana-1", "");
    e.attachments = vec![photo.clone()];
    let ana_conv = env.open(e).await;
    let ana = contact_of(&env, &ana_conv).await;
    let bob_conv = env.open(env.envelope("bob", "bob-1", "hello")).await;
    let bob = contact_of(&env, &bob_conv).await;

    assert_eq!(
        s.attachment_for_contact(&ana, inbox, &photo.blob)
            .await
            .unwrap(),
        photo
    );
    assert!(
        s.attachment_for_contact(&bob, inbox, &photo.blob)
            .await
            .is_err(),
        "another contact"
    );
    assert!(
        s.attachment_for_contact(&ana, "webchat:other", &photo.blob)
            .await
            .is_err(),
        "another inbox"
    );
    let never = BlobKey::of(b"never stored");
    assert!(s.attachment_for_contact(&ana, inbox, &never).await.is_err());

    // An agent's reply with a file: the contact reads it too.
    let manual = Attachment {
        mime: "application/pdf".into(),
        ..attachment("manual.pdf", b"%PDF-1.7 the manual")
    };
    let mut reply = NewOutbound::text(&ana_conv, AuthorKind::Agent, None, "here");
    reply.attachments = vec![manual.clone()];
    let Queued::New(reply, _) = env.outbox().queue(&reply).await.unwrap() else {
        panic!("not queued");
    };
    assert_eq!(
        s.attachment_for_contact(&ana, inbox, &manual.blob)
            .await
            .unwrap(),
        manual
    );

    // Once the message is an internal note, the contact no longer reads its file; agents do.
    sqlx::query("UPDATE messages SET internal = 1 WHERE id = $1")
        .bind(&reply.id)
        .execute(s.pool())
        .await
        .unwrap();
    assert!(
        s.attachment_for_contact(&ana, inbox, &manual.blob)
            .await
            .is_err()
    );

    let admin = s
        .create_user(&env.ids, "admin@x.com", None, Role::Admin, None)
        .await
        .unwrap();
    let admin = s.caller(&admin).await.unwrap();
    assert_eq!(
        s.attachment_for(&admin, &manual.blob).await.unwrap(),
        manual
    );
    assert_eq!(s.attachment_for(&admin, &photo.blob).await.unwrap(), photo);
    assert!(s.attachment_for(&admin, &never).await.is_err());

    // A support agent of team beta may not see team alpha's conversation, nor its files.
    sqlx::query("UPDATE conversations SET team = 'alpha' WHERE id = $1")
        .bind(&ana_conv)
        .execute(s.pool())
        .await
        .unwrap();
    let beta = s
        .create_user(&env.ids, "beta@x.com", None, Role::Support, Some(Tier::N1))
        .await
        .unwrap();
    s.add_user_team(&beta.id, "beta").await.unwrap();
    let beta = s.caller(&beta).await.unwrap();
    assert!(s.attachment_for(&beta, &photo.blob).await.is_err());
    let alpha = s
        .create_user(&env.ids, "alpha@x.com", None, Role::Support, Some(Tier::N1))
        .await
        .unwrap();
    s.add_user_team(&alpha.id, "alpha").await.unwrap();
    let alpha = s.caller(&alpha).await.unwrap();
    assert_eq!(s.attachment_for(&alpha, &photo.blob).await.unwrap(), photo);
    // A coordinator sees only its companies' conversations: none here.
    let coordinator = s
        .create_user(&env.ids, "coord@x.com", None, Role::Coordinator, None)
        .await
        .unwrap();
    let coordinator = s.caller(&coordinator).await.unwrap();
    assert!(s.attachment_for(&coordinator, &photo.blob).await.is_err());

    // Merged into Bob, Ana's conversation is Bob's: Bob reads its files, Ana's old id
    // resolves to Bob.
    let merged = s.merge_contacts(&env.ids, &ana, &bob).await.unwrap();
    assert_eq!(merged.survivor, bob);
    assert_eq!(
        s.attachment_for_contact(&bob, inbox, &photo.blob)
            .await
            .unwrap(),
        photo
    );
}

async fn a_typed_address_is_kept_as_a_claim_and_proves_nothing(env: Env) {
    let s = &env.store;
    let conv = env.open(env.envelope("maria", "maria-1", "hi")).await;
    let maria = contact_of(&env, &conv).await;
    let typed = Identity::email("Maria@Example.com").unwrap();
    let now = env.ids.now_ms();

    assert_eq!(s.claim_identity(&maria, &typed, now).await.unwrap(), maria);
    // Again: nothing new.
    s.claim_identity(&maria, &typed, now).await.unwrap();
    let ids = s.contact_identities(&maria).await.unwrap();
    let claims: Vec<_> = ids.iter().filter(|(i, _)| i == &typed).collect();
    assert_eq!(claims, [&(typed.clone(), false)], "{ids:?}");
    // Typed is not proved: the address belongs to nobody.
    assert_eq!(s.contact_for_identity(&typed).await.unwrap(), None);

    // A contact that proved the address gets no claim of it besides.
    let proved = Identity::email("owner@example.com").unwrap();
    s.verify_identity(&env.ids, &maria, &proved).await.unwrap();
    s.claim_identity(&maria, &proved, now).await.unwrap();
    let ids = s.contact_identities(&maria).await.unwrap();
    assert_eq!(
        ids.iter().filter(|(i, _)| i == &proved).collect::<Vec<_>>(),
        [&(proved.clone(), true)]
    );

    // An unknown contact is refused.
    assert!(s.claim_identity("nobody", &typed, now).await.is_err());
}
