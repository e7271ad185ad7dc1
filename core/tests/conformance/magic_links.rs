//! Portal sign-in links on every backend: one use, expiry, only a hash kept, tampered and
//! unknown tokens, and racing uses.

use switchboard_core::store::{LinkState, NewLink};

use crate::on_every_backend;
use crate::support::Env;

on_every_backend!(
    a_link_signs_in_once_before_it_expires,
    racing_uses_of_one_link_sign_in_once,
);

async fn a_link_signs_in_once_before_it_expires(env: Env) {
    let s = &env.store;
    let conv = env
        .open(env.email("ana@example.com", "n1@example.com", "hi"))
        .await;
    let contact = s.conversation(&conv).await.unwrap().contact_id;
    let now = env.ids.now_ms();
    let new = NewLink {
        contact_id: &contact,
        email: "Ana@Example.com",
        purpose: "login",
        ttl_ms: 15 * 60_000,
    };
    let token = s.create_magic_link(&env.ids, &new).await.unwrap();
    assert_eq!(token.len(), 64, "256 bits");
    // Only the hash is kept.
    let stored: Vec<String> = sqlx::query_scalar("SELECT hash FROM magic_links")
        .fetch_all(s.pool())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], token);
    // Looking does not use it (a mail scanner's GET).
    for _ in 0..3 {
        assert!(matches!(
            s.magic_link_state(&token, now).await.unwrap(),
            LinkState::Usable { .. }
        ));
    }
    // Tampered, truncated, or not a token: nothing.
    let mut tampered = token.clone().into_bytes();
    tampered[10] = if tampered[10] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(tampered).unwrap();
    for bad in [
        tampered.as_str(),
        &token[..63],
        "",
        "not a token",
        &stored[0],
    ] {
        assert_eq!(
            s.magic_link_state(bad, now).await.unwrap(),
            LinkState::Unknown,
            "{bad}"
        );
        assert_eq!(s.use_magic_link(bad, now).await.unwrap(), None, "{bad}");
    }
    // Used once, by the right contact and address; then never again.
    let used = s
        .use_magic_link(&token.to_uppercase(), now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(used.contact_id, contact);
    assert_eq!(used.email, "ana@example.com");
    assert_eq!(used.purpose, "login");
    assert_eq!(s.use_magic_link(&token, now).await.unwrap(), None);
    assert_eq!(
        s.magic_link_state(&token, now).await.unwrap(),
        LinkState::Used
    );
    // Expired: shown as such, and unusable.
    let late = s.create_magic_link(&env.ids, &new).await.unwrap();
    let after = now + 15 * 60_000 + 60_000;
    assert_eq!(
        s.magic_link_state(&late, after).await.unwrap(),
        LinkState::Expired
    );
    assert_eq!(s.use_magic_link(&late, after).await.unwrap(), None);
    assert!(
        s.create_magic_link(&env.ids, &NewLink { ttl_ms: 0, ..new })
            .await
            .is_err()
    );
}

async fn racing_uses_of_one_link_sign_in_once(env: Env) {
    let s = &env.store;
    let conv = env
        .open(env.email("bo@example.com", "n2@example.com", "hi"))
        .await;
    let contact = s.conversation(&conv).await.unwrap().contact_id;
    let now = env.ids.now_ms();
    for _ in 0..5 {
        let token = s
            .create_magic_link(
                &env.ids,
                &NewLink {
                    contact_id: &contact,
                    email: "bo@example.com",
                    purpose: "invoice",
                    ttl_ms: 7 * 86_400_000,
                },
            )
            .await
            .unwrap();
        let uses = (0..8).map(|_| {
            let s = s.clone();
            let token = token.clone();
            tokio::spawn(async move { s.use_magic_link(&token, now).await.unwrap() })
        });
        let mut signed_in = 0;
        for u in uses {
            if u.await.unwrap().is_some() {
                signed_in += 1;
            }
        }
        assert_eq!(signed_in, 1, "one of eight racing uses signs in");
    }
}
