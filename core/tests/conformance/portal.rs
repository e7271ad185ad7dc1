//! The portal's store on every backend: a client sees its own company's documents and
//! nobody else's, never a draft; the totals per currency add up to the cent; the status the
//! database derives is the one `portal::status` derives; a link makes one portal user per
//! contact, the company's first being its admin, and never signs in a staff account.

use switchboard_core::domain::Role;
use switchboard_core::store::{ClientScope, DocumentQuery, Invite, NewInvoice, SessionLimits};
use switchboard_portal::status::{Shown, Stored, invoice as shown};

use crate::on_every_backend;
use crate::support::Env;

on_every_backend!(
    clients_see_their_company_only_and_totals_add_up,
    the_database_derives_the_status_portal_derives,
    links_make_one_portal_user_per_contact,
    invitations_never_move_another_companys_people,
    moving_a_contact_moves_its_portal_scope,
    a_link_signs_in_its_own_address_only,
);

const TODAY: i64 = 20_780;

async fn contact(env: &Env, who: &str, company: Option<&str>) -> String {
    let conv = env
        .open(env.email(who, &format!("{who}-m@example.com"), "hi"))
        .await;
    let c = env.store.conversation(&conv).await.unwrap().contact_id;
    if let Some(company) = company {
        env.store.set_contact_company(&c, company).await.unwrap();
    }
    c
}

#[allow(clippy::too_many_arguments)]
async fn doc(
    env: &Env,
    contact: &str,
    company: Option<&str>,
    status: &str,
    currency: &str,
    total: i64,
    paid: i64,
    due: Option<i64>,
) -> String {
    let n = NewInvoice {
        kind: "invoice",
        company_id: company,
        contact_id: contact,
        status: if status == "void" { "sent" } else { status },
        currency,
        document: "{\"lines\":[]}",
        subtotal: total,
        tax: 0,
        total,
        issue_day: TODAY - 40,
        due_day: due,
        external_id: None,
    };
    let inv = env
        .store
        .create_invoice(&env.ids, &n, "invoice", &|s| format!("INV-{s:05}"))
        .await
        .unwrap();
    if paid > 0 {
        env.store
            .record_payment(
                &env.ids,
                &inv.id,
                "payment",
                paid,
                currency,
                "manual",
                &format!("p-{}", inv.id),
            )
            .await
            .unwrap();
    }
    if status == "void" {
        env.store
            .set_document_status(&inv.id, &["sent"], "void", 1)
            .await
            .unwrap();
    }
    inv.number
}

fn query(status: Option<&str>) -> DocumentQuery {
    DocumentQuery {
        kind: "invoice".into(),
        status: status.map(str::to_owned),
        sort: "issued".into(),
        descending: true,
        page: 1,
        per_page: 50,
        today: TODAY,
    }
}

async fn clients_see_their_company_only_and_totals_add_up(env: Env) {
    let acme = env.store.create_company(&env.ids, "Acme").await.unwrap();
    let globex = env.store.create_company(&env.ids, "Globex").await.unwrap();
    let ana = contact(&env, "ana@acme.example", Some(&acme)).await;
    let bob = contact(&env, "bob@acme.example", Some(&acme)).await;
    let gil = contact(&env, "gil@globex.example", Some(&globex)).await;
    let draft = doc(&env, &ana, Some(&acme), "draft", "EUR", 99_999, 0, None).await;
    let overdue = doc(
        &env,
        &bob,
        Some(&acme),
        "sent",
        "EUR",
        12_345,
        2_345,
        Some(TODAY - 1),
    )
    .await;
    let _paid = doc(
        &env,
        &ana,
        Some(&acme),
        "sent",
        "EUR",
        5_000,
        5_000,
        Some(TODAY - 10),
    )
    .await;
    let _open = doc(
        &env,
        &ana,
        Some(&acme),
        "viewed",
        "EUR",
        7_000,
        0,
        Some(TODAY + 5),
    )
    .await;
    let _usd = doc(&env, &ana, Some(&acme), "sent", "USD", 1_050, 50, None).await;
    let _void = doc(
        &env,
        &ana,
        Some(&acme),
        "void",
        "EUR",
        4_000,
        0,
        Some(TODAY - 3),
    )
    .await;
    let theirs = doc(&env, &gil, Some(&globex), "sent", "EUR", 777, 0, None).await;

    let a = env
        .store
        .portal_user_for_link(&env.ids, &ana, "ana@acme.example")
        .await
        .unwrap();
    assert_eq!(a.role, Role::ClientAdmin, "the company's first portal user");
    assert_eq!(a.company_id.as_deref(), Some(acme.as_str()));
    let b = env
        .store
        .portal_user_for_link(&env.ids, &bob, "bob@acme.example")
        .await
        .unwrap();
    assert_eq!(b.role, Role::ClientUser);
    let g = env
        .store
        .portal_user_for_link(&env.ids, &gil, "gil@globex.example")
        .await
        .unwrap();

    let (docs, count) = env.store.client_documents(&a, &query(None)).await.unwrap();
    assert_eq!(count, 5, "{docs:?}");
    assert!(
        docs.iter()
            .all(|d| d.company_id.as_deref() == Some(acme.as_str()))
    );
    assert!(
        !docs.iter().any(|d| d.number == draft),
        "drafts are never shown"
    );
    assert!(
        env.store
            .client_document(&a, "invoice", &draft)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        env.store
            .client_document(&a, "invoice", &theirs)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        env.store
            .client_document(&g, "invoice", &overdue)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        env.store
            .client_document(&b, "invoice", &overdue)
            .await
            .unwrap()
            .is_some()
    );
    let picked = env
        .store
        .client_documents_by_number(&a, &[theirs.clone(), overdue.clone(), draft.clone()])
        .await
        .unwrap();
    assert_eq!(
        picked.iter().map(|d| d.number.clone()).collect::<Vec<_>>(),
        vec![overdue.clone()]
    );

    let (only, n) = env
        .store
        .client_documents(&a, &query(Some("overdue")))
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(only[0].number, overdue);
    let mut q = query(None);
    q.per_page = 2;
    q.page = 3;
    let (last, n) = env.store.client_documents(&a, &q).await.unwrap();
    assert_eq!((last.len(), n), (1, 5));
    q.page = 10;
    let (past, n) = env.store.client_documents(&a, &q).await.unwrap();
    assert_eq!(
        (past.len(), n),
        (0, 5),
        "past the end, the count still holds"
    );
    assert!(
        env.store
            .client_documents(&a, &query(Some("nonsense")))
            .await
            .is_err()
    );

    // Worked out by hand: EUR paid 2,345 + 5,000; outstanding 10,000 (overdue) + 7,000
    // (open); the void one owes nothing; USD paid 50, outstanding 1,000.
    let totals = env.store.client_totals(&a, TODAY).await.unwrap();
    assert_eq!(totals.len(), 2);
    let eur = &totals[0];
    assert_eq!(
        (
            eur.currency.as_str(),
            eur.paid,
            eur.outstanding,
            eur.overdue
        ),
        ("EUR", 7_345, 17_000, 10_000)
    );
    let usd = &totals[1];
    assert_eq!(
        (
            usd.currency.as_str(),
            usd.paid,
            usd.outstanding,
            usd.overdue
        ),
        ("USD", 50, 1_000, 0)
    );
    let gt = env.store.client_totals(&g, TODAY).await.unwrap();
    assert_eq!(gt.len(), 1);
    assert_eq!(gt[0].outstanding, 777);

    // The audit log: each client its own; the admin the company's; never another's.
    for (s, action) in [(&a, "login"), (&b, "view"), (&g, "login")] {
        env.store
            .audit(
                &env.ids,
                s.company_id.as_deref(),
                &s.contact_id,
                Some(&s.user_id),
                action,
                None,
                None,
            )
            .await
            .unwrap();
    }
    assert_eq!(env.store.client_audit_log(&a, 50).await.unwrap().len(), 2);
    assert_eq!(env.store.client_audit_log(&b, 50).await.unwrap().len(), 1);
    let gl = env.store.client_audit_log(&g, 50).await.unwrap();
    assert_eq!(gl.len(), 1);
    assert_eq!(gl[0].who.as_deref(), Some("gil@globex.example"));

    // Viewing marks Viewed once; a void invoice cannot be sent again.
    let inv = env
        .store
        .client_document(&a, "invoice", &overdue)
        .await
        .unwrap()
        .unwrap();
    assert!(env.store.mark_invoice_viewed(&inv.id, 5).await.unwrap());
    assert!(!env.store.mark_invoice_viewed(&inv.id, 6).await.unwrap());
    assert_eq!(env.store.invoice(&inv.id).await.unwrap().viewed_at, Some(5));
    let void = env
        .store
        .document_by_number("invoice", &_void)
        .await
        .unwrap();
    assert!(
        env.store
            .set_document_status(&void.id, &["draft"], "sent", 7)
            .await
            .is_err()
    );
}

async fn the_database_derives_the_status_portal_derives(env: Env) {
    let acme = env.store.create_company(&env.ids, "Acme").await.unwrap();
    let ana = contact(&env, "ana@acme.example", Some(&acme)).await;
    let mut expected = std::collections::HashMap::new();
    for stored in ["sent", "viewed", "void"] {
        for (total, paid) in [(1_000, 0), (1_000, 400), (1_000, 1_000)] {
            for due in [None, Some(TODAY - 1), Some(TODAY), Some(TODAY + 1)] {
                let number = doc(&env, &ana, Some(&acme), stored, "EUR", total, paid, due).await;
                let s = match stored {
                    "sent" => Stored::Sent,
                    "viewed" => Stored::Viewed,
                    _ => Stored::Void,
                };
                let want = serde_json::to_value(shown(s, total, paid, due, TODAY)).unwrap();
                expected.insert(number, want.as_str().unwrap().to_owned());
            }
        }
    }
    let a = env
        .store
        .portal_user_for_link(&env.ids, &ana, "ana@acme.example")
        .await
        .unwrap();
    let mut seen = 0;
    for status in [
        "sent",
        "viewed",
        "partially_paid",
        "paid",
        "overdue",
        "void",
    ] {
        let mut q = query(Some(status));
        q.per_page = 200;
        let (docs, _) = env.store.client_documents(&a, &q).await.unwrap();
        for d in docs {
            assert_eq!(
                expected[&d.number], status,
                "{} ({}, {}/{}, due {:?})",
                d.number, d.status, d.paid, d.total, d.due_day
            );
            seen += 1;
        }
    }
    assert_eq!(seen, expected.len());
    let _ = Shown::Paid;
}

async fn links_make_one_portal_user_per_contact(env: Env) {
    let ana = contact(&env, "ana@example.com", None).await;
    let first: ClientScope = env
        .store
        .portal_user_for_link(&env.ids, &ana, "ana@example.com")
        .await
        .unwrap();
    let again = env
        .store
        .portal_user_for_link(&env.ids, &ana, "ANA@example.com")
        .await
        .unwrap();
    assert_eq!(first, again);
    assert_eq!(first.role, Role::ClientUser, "no company: no admin");
    assert_eq!(
        env.store
            .contact_for_portal_email("ana@example.com")
            .await
            .unwrap(),
        Some(ana.clone())
    );
    assert_eq!(
        env.store
            .contact_for_portal_email("nobody@example.com")
            .await
            .unwrap(),
        None
    );
    assert!(
        env.store
            .portal_user(&first.user_id)
            .await
            .unwrap()
            .is_some()
    );
    // The session is read with the same scope (the portal's pages use that one).
    assert_eq!(
        session_scope(&env, &first.user_id).await,
        Some(first.clone())
    );

    // An agent's address is never signed in by a link, whoever it was mailed to.
    let staff = env
        .store
        .create_user(&env.ids, "boss@example.com", None, Role::Admin, None)
        .await
        .unwrap();
    let eve = contact(&env, "eve@example.com", None).await;
    assert!(
        env.store
            .portal_user_for_link(&env.ids, &eve, "boss@example.com")
            .await
            .is_err()
    );
    assert!(env.store.portal_user(&staff.id).await.unwrap().is_none());
    assert_eq!(
        session_scope(&env, &staff.id).await,
        None,
        "staff have no portal scope"
    );
}

/// The portal scope a new session of `user_id` is read with.
async fn session_scope(env: &Env, user_id: &str) -> Option<ClientScope> {
    let token = env
        .store
        .create_session(&env.ids, user_id, true)
        .await
        .unwrap();
    env.store
        .session(&token, env.ids.now_ms(), &SessionLimits::default())
        .await
        .unwrap()
        .unwrap()
        .client
}

async fn invitations_never_move_another_companys_people(env: Env) {
    let acme = env.store.create_company(&env.ids, "Acme").await.unwrap();
    let globex = env.store.create_company(&env.ids, "Globex").await.unwrap();
    let ana_c = contact(&env, "ana@acme.example", Some(&acme)).await;
    let gil_c = contact(&env, "gil@globex.example", Some(&globex)).await;
    let loner = contact(&env, "lou@example.com", None).await;
    contact(&env, "gina@globex.example", Some(&globex)).await;
    let ana = env
        .store
        .portal_user_for_link(&env.ids, &ana_c, "ana@acme.example")
        .await
        .unwrap();
    let gil = env
        .store
        .portal_user_for_link(&env.ids, &gil_c, "gil@globex.example")
        .await
        .unwrap();
    assert!(ana.is_admin() && gil.is_admin());
    env.store
        .create_user(&env.ids, "boss@example.com", None, Role::Admin, None)
        .await
        .unwrap();
    let invite = |email: &'static str, role| Invite {
        email,
        name: None,
        role,
        ttl_ms: 86_400_000,
    };
    let join = |token: String| {
        let env = &env;
        async move {
            let link = env
                .store
                .use_magic_link(&token, env.ids.now_ms())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(link.purpose, "invite");
            env.store.join_by_invitation(&env.ids, &link).await
        }
    };
    let company_of = |c: String| {
        let env = &env;
        async move { env.store.contact_company(&c).await.unwrap().flatten() }
    };
    // Refused at once: bad input, someone already in.
    for email in ["ana@acme.example", "nope"] {
        assert!(
            env.store
                .invite_portal_user(&env.ids, &ana, &invite(email, Role::ClientUser))
                .await
                .is_err(),
            "{email}"
        );
    }
    // Staff, another company's contact or user: invited like anyone (the answer says
    // nothing), and their links are refused when used; nobody moved meanwhile.
    for email in [
        "boss@example.com",
        "gil@globex.example",
        "gina@globex.example",
    ] {
        let invited = env
            .store
            .invite_portal_user(&env.ids, &ana, &invite(email, Role::ClientAdmin))
            .await
            .unwrap();
        assert!(join(invited.token).await.is_err(), "{email}");
    }
    assert_eq!(
        company_of(gil_c.clone()).await.as_deref(),
        Some(globex.as_str())
    );
    assert_eq!(
        env.store
            .portal_user(&gil.user_id)
            .await
            .unwrap()
            .unwrap()
            .company_id,
        Some(globex.clone())
    );
    // A contact of no company stays so until its owner uses the link, then joins.
    let lou_invited = env
        .store
        .invite_portal_user(
            &env.ids,
            &ana,
            &Invite {
                name: Some("Lou"),
                ..invite("lou@example.com", Role::ClientAdmin)
            },
        )
        .await
        .unwrap();
    assert_eq!(company_of(loner.clone()).await, None);
    let pending = env
        .store
        .pending_invitations(&ana, env.ids.now_ms())
        .await
        .unwrap();
    assert!(pending.iter().any(|p| p.email == "lou@example.com"));
    let lou = join(lou_invited.token).await.unwrap();
    assert_eq!(lou.contact_id, loner);
    assert_eq!(lou.company_id.as_deref(), Some(acme.as_str()));
    assert_eq!(lou.role, Role::ClientAdmin);
    assert_eq!(
        company_of(loner.clone()).await.as_deref(),
        Some(acme.as_str())
    );
    // A new address gets a contact of its own, of no company until it joins.
    let new = env
        .store
        .invite_portal_user(
            &env.ids,
            &ana,
            &invite("New@Acme.example", Role::ClientUser),
        )
        .await
        .unwrap();
    assert_eq!(new.email, "new@acme.example");
    let new = join(new.token).await.unwrap();
    let users = env.store.company_portal_users(&ana).await.unwrap();
    assert_eq!(users.len(), 3);
    assert!(users.iter().all(|u| u.email != "gil@globex.example"));
    // Only admins manage; nobody removes themselves, another company's user or the last admin.
    assert!(env.store.company_portal_users(&new).await.is_err());
    assert!(
        env.store
            .remove_portal_user(&ana, &ana.user_id, 1)
            .await
            .is_err()
    );
    assert!(
        env.store
            .remove_portal_user(&ana, &gil.user_id, 1)
            .await
            .is_err()
    );
    assert!(
        env.store
            .remove_portal_user(&gil, &new.user_id, 1)
            .await
            .is_err()
    );
    env.store
        .remove_portal_user(&ana, &lou.user_id, 1)
        .await
        .unwrap();
    env.store
        .remove_portal_user(&ana, &new.user_id, 1)
        .await
        .unwrap();
    assert!(env.store.portal_user(&new.user_id).await.unwrap().is_none());
    assert_eq!(env.store.company_portal_users(&ana).await.unwrap().len(), 1);
    // Invited again after removal: back in, the same user.
    let again = env
        .store
        .invite_portal_user(
            &env.ids,
            &ana,
            &invite("new@acme.example", Role::ClientUser),
        )
        .await
        .unwrap();
    let back = join(again.token).await.unwrap();
    assert_eq!(back.user_id, new.user_id);
    env.store
        .set_company_requires_2fa(&ana, true)
        .await
        .unwrap();
    assert!(
        env.store
            .portal_user(&back.user_id)
            .await
            .unwrap()
            .unwrap()
            .company_requires_2fa
    );
    assert!(
        env.store
            .set_company_requires_2fa(&back, false)
            .await
            .is_err()
    );
}

/// A portal user's company is its contact's: moving the contact moves what the portal
/// shows and ends its sessions.
async fn moving_a_contact_moves_its_portal_scope(env: Env) {
    let acme = env.store.create_company(&env.ids, "Acme").await.unwrap();
    let globex = env.store.create_company(&env.ids, "Globex").await.unwrap();
    let ana_c = contact(&env, "ana@acme.example", Some(&acme)).await;
    let ana = env
        .store
        .portal_user_for_link(&env.ids, &ana_c, "ana@acme.example")
        .await
        .unwrap();
    let token = env
        .store
        .create_session(&env.ids, &ana.user_id, true)
        .await
        .unwrap();
    env.store
        .set_contact_company(&ana_c, &globex)
        .await
        .unwrap();
    assert!(
        env.store
            .session(&token, env.ids.now_ms(), &SessionLimits::default())
            .await
            .unwrap()
            .is_none(),
        "the move ended the session"
    );
    assert_eq!(
        env.store
            .portal_user(&ana.user_id)
            .await
            .unwrap()
            .unwrap()
            .company_id,
        Some(globex.clone())
    );
    assert_eq!(
        session_scope(&env, &ana.user_id).await.unwrap().company_id,
        Some(globex)
    );
}

/// A link signs in its own address's portal user: a second address of the contact (one
/// a merge brought, say) opens no one's portal.
async fn a_link_signs_in_its_own_address_only(env: Env) {
    let acme = env.store.create_company(&env.ids, "Acme").await.unwrap();
    let ana_c = contact(&env, "ana@acme.example", Some(&acme)).await;
    let eve_c = contact(&env, "eve@evil.example", None).await;
    env.store
        .portal_user_for_link(&env.ids, &ana_c, "ana@acme.example")
        .await
        .unwrap();
    env.store
        .merge_contacts(&env.ids, &eve_c, &ana_c)
        .await
        .unwrap();
    assert!(
        env.store
            .portal_user_for_link(&env.ids, &ana_c, "eve@evil.example")
            .await
            .is_err()
    );
    assert!(
        env.store
            .user_by_email("eve@evil.example")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        env.store
            .merge_crosses_boundary(&ana_c, &eve_c)
            .await
            .unwrap()
    );
}
