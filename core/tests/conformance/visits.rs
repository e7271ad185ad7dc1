//! Technicians' visits: booked once per form, given to technicians only, for a request of
//! the machine's own company; each step made once however many people race it, the
//! machine's status following; a technician sees the companies of its machines and
//! visits and nothing else; a reading reminder is claimed once.

use switchboard_core::domain::{Channel, Role};
use switchboard_core::store::{
    Caller, ConversationFilter, NewMachine, NewTicket, NewVisit, VisitChange, VisitQuery,
};

use crate::on_every_backend;
use crate::support::Env;
use crate::tickets::client;

on_every_backend!(
    visits_are_booked_once_changed_once_and_seen_only_in_scope,
    a_reading_reminder_is_claimed_once
);

fn machine<'a>(company: &'a str, serial: &'a str) -> NewMachine<'a> {
    NewMachine {
        company_id: company,
        location: Some("Sala 3"),
        maker: Some("Ricoh"),
        model: "IM C3000",
        serial,
        asset_tag: None,
        installed_on: None,
        status: "in_service",
    }
}

const HOUR: i64 = 3_600_000;

fn booking<'a>(
    machine: &'a str,
    technician: &'a str,
    key: &'a str,
    conversation: Option<&'a str>,
) -> NewVisit<'a> {
    NewVisit {
        machine_id: machine,
        conversation_id: conversation,
        technician_id: technician,
        window_from: 1_800_000_000_000,
        window_to: 1_800_000_000_000 + 3 * HOUR,
        key,
        created_by: None,
    }
}

/// The step rules, reduced for the store's test: `scheduled → on_site → done`.
fn step(
    to: &'static str,
    machine: Option<&'static str>,
) -> impl FnOnce(&switchboard_core::store::Visit) -> switchboard_core::Result<VisitChange> + Send {
    move |v| {
        let ok = matches!(
            (v.status.as_str(), to),
            ("scheduled", "on_site")
                | ("on_site" | "scheduled", "done")
                | ("scheduled", "cancelled")
        );
        if !ok {
            return Err(switchboard_core::Error::invalid(format!(
                "a visit {} cannot become {to}",
                v.status
            )));
        }
        Ok(VisitChange {
            status: to.to_owned(),
            machine_status: machine.map(str::to_owned),
            work_done: (to == "done").then(|| "Fusor trocado".to_owned()),
            ..Default::default()
        })
    }
}

async fn visits_are_booked_once_changed_once_and_seen_only_in_scope(env: Env) {
    let s = &env.store;
    let acme = s.create_company(&env.ids, "Acme").await.unwrap();
    let globex = s.create_company(&env.ids, "Globex").await.unwrap();
    let ana = client(&env, "ana@acme.example", &acme).await;
    let gil = client(&env, "gil@globex.example", &globex).await;
    let m = s
        .add_machine(&env.ids, &machine(&acme, "E174M1"))
        .await
        .unwrap();
    let g = s
        .add_machine(&env.ids, &machine(&globex, "G-200"))
        .await
        .unwrap();
    let tech = s
        .create_user(
            &env.ids,
            "marcos@acme.test",
            Some("Marcos"),
            Role::Technician,
            None,
        )
        .await
        .unwrap();
    let other_tech = s
        .create_user(
            &env.ids,
            "lia@acme.test",
            Some("Lia"),
            Role::Technician,
            None,
        )
        .await
        .unwrap();
    let support = s
        .create_user(&env.ids, "sam@acme.test", None, Role::Support, None)
        .await
        .unwrap();
    let coordinator = s
        .create_user(&env.ids, "cora@acme.test", None, Role::Coordinator, None)
        .await
        .unwrap();
    s.add_user_company(&coordinator.id, &globex).await.unwrap();
    let ids = &env.ids;
    let ticket = |scope, key| async move {
        s.open_ticket(
            ids,
            scope,
            &NewTicket {
                inbox: "email:support",
                channel: Channel::Email,
                subject: "Parou de imprimir",
                category: "technical",
                client_key: key,
                first: None,
            },
        )
        .await
        .unwrap()
    };
    let acme_ticket = ticket(&ana, "t1").await.0;
    let globex_ticket = ticket(&gil, "t2").await.0;

    // Before any visit the technician works for no company: it sees nothing.
    let tc = s.caller(&tech).await.unwrap();
    assert!(tc.companies.is_empty());
    assert!(s.machine_for_agent(&tc, &m.id).await.is_err());
    assert!(
        s.conversations_for(&tc, &ConversationFilter::default())
            .await
            .unwrap()
            .is_empty()
    );

    // Bad bookings change nothing: not a technician, a request of another company, an
    // unknown machine, a window that ends first.
    let refused = [
        booking(&m.id, &support.id, "b1", None),
        booking(&m.id, &tech.id, "b2", Some(&globex_ticket.conversation_id)),
        booking("nope", &tech.id, "b3", None),
        NewVisit {
            window_to: 1_800_000_000_000,
            ..booking(&m.id, &tech.id, "b4", None)
        },
    ];
    for b in &refused {
        assert!(s.schedule_visit(&env.ids, b).await.is_err(), "{b:?}");
    }
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM visits")
            .fetch_one(s.pool())
            .await
            .unwrap()
    };
    assert_eq!(count().await, 0);

    // Booked once per form, numbered, even when sent twice at once.
    let b = booking(&m.id, &tech.id, "k1", Some(&acme_ticket.conversation_id));
    let (one, two) = tokio::join!(
        s.schedule_visit(&env.ids, &b),
        s.schedule_visit(&env.ids, &b)
    );
    let (one, two) = (one.unwrap(), two.unwrap());
    assert_eq!(one.0.id, two.0.id);
    assert!(one.1 ^ two.1, "one of the two booked it");
    let v = one.0;
    assert_eq!(
        (v.status.as_str(), v.technician.as_str(), v.company.as_str()),
        ("scheduled", "Marcos", "Acme")
    );
    assert_eq!(count().await, 1);
    // The same key on another machine is a conflict, not a visit.
    assert!(
        s.schedule_visit(&env.ids, &booking(&g.id, &tech.id, "k1", None))
            .await
            .is_err()
    );
    let (second, _) = s
        .schedule_visit(&env.ids, &booking(&m.id, &tech.id, "k2", None))
        .await
        .unwrap();
    assert_eq!(second.number, v.number + 1);

    // Now the technician works for Acme: Acme's machine, visits and request, not Globex's.
    let tc = s.caller(&tech).await.unwrap();
    assert_eq!(tc.companies, vec![acme.clone()]);
    assert!(s.visit_for_agent(&tc, &v.id).await.is_ok());
    assert!(s.machine_for_agent(&tc, &m.id).await.is_ok());
    assert!(s.machine_for_agent(&tc, &g.id).await.is_err());
    let convs = s
        .conversations_for(&tc, &ConversationFilter::default())
        .await
        .unwrap();
    assert!(convs.iter().any(|c| c.id == acme_ticket.conversation_id));
    assert!(
        convs
            .iter()
            .all(|c| c.company_id.as_deref() == Some(acme.as_str()))
    );
    assert!(
        s.conversation_for(&tc, &globex_ticket.conversation_id)
            .await
            .is_err()
    );
    // Another technician, the coordinator of Globex and Globex's client see none of it.
    let oc = s.caller(&other_tech).await.unwrap();
    let cc = s.caller(&coordinator).await.unwrap();
    for c in [&oc, &cc] {
        assert!(matches!(
            s.visit_for_agent(c, &v.id).await,
            Err(switchboard_core::Error::NotFound(_))
        ));
        let q = VisitQuery {
            limit: 100,
            ..Default::default()
        };
        assert!(s.visits_for_agent(c, &q).await.unwrap().is_empty());
    }
    assert!(s.visit_for_client(&gil, &v.id).await.is_err());
    assert_eq!(s.visit_for_client(&ana, &v.id).await.unwrap().id, v.id);
    // The map's one read: each of the company's machines' latest visits, as that machine's
    // own list gives them, and nothing of another company's.
    let all = s.latest_visits_for_client(&ana, 100).await.unwrap();
    assert!(!all.is_empty() && all.iter().all(|x| x.company_id == acme));
    let mut machines: Vec<&str> = all.iter().map(|x| x.machine_id.as_str()).collect();
    machines.dedup();
    for machine in machines {
        let theirs: Vec<&str> = all
            .iter()
            .filter(|x| x.machine_id == machine)
            .map(|x| x.id.as_str())
            .collect();
        let own: Vec<String> = s
            .machine_visits(machine, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|x| x.id)
            .collect();
        assert_eq!(theirs, own);
        let first = s.latest_visits_for_client(&ana, 1).await.unwrap();
        let first: Vec<&str> = first
            .iter()
            .filter(|x| x.machine_id == machine)
            .map(|x| x.id.as_str())
            .collect();
        assert_eq!(first, [own[0].as_str()]);
    }
    assert!(
        s.latest_visits_for_client(&gil, 5)
            .await
            .unwrap()
            .iter()
            .all(|x| x.company_id == globex)
    );
    let mine = VisitQuery {
        technician_id: Some(&tech.id),
        open: true,
        limit: 10,
        ..Default::default()
    };
    assert_eq!(s.visits_for_agent(&tc, &mine).await.unwrap().len(), 2);
    let sc = s.caller(&support).await.unwrap();
    assert_eq!(
        s.visits_for_agent(
            &sc,
            &VisitQuery {
                limit: 10,
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .len(),
        2
    );
    assert_eq!(s.ticket_visits(&acme_ticket).await.unwrap().len(), 1);

    // A step made twice at once, from the same page (the same version): once.
    let (a, b) = tokio::join!(
        s.change_visit(
            &env.ids,
            &v.id,
            Some(v.version),
            step("on_site", Some("maintenance"))
        ),
        s.change_visit(
            &env.ids,
            &v.id,
            Some(v.version),
            step("on_site", Some("maintenance"))
        ),
    );
    assert!(a.is_ok() ^ b.is_ok(), "{a:?} {b:?}");
    let on_site = a.or(b).unwrap();
    assert_eq!(on_site.status, "on_site");
    assert_eq!(on_site.version, v.version + 1);
    assert_eq!(s.machine(&m.id).await.unwrap().status, "maintenance");
    // A step the rules refuse changes nothing.
    assert!(
        s.change_visit(&env.ids, &v.id, None, step("cancelled", None))
            .await
            .is_err()
    );
    // Finished: the machine back in service, the visit its last.
    let done = s
        .change_visit(&env.ids, &v.id, None, step("done", Some("in_service")))
        .await
        .unwrap();
    assert_eq!(
        (done.status.as_str(), done.machine_status.as_deref()),
        ("done", Some("in_service"))
    );
    assert_eq!(done.work_done.as_deref(), Some("Fusor trocado"));
    let after = s.machine(&m.id).await.unwrap();
    assert_eq!(after.status, "in_service");
    assert!(after.last_visit_at.is_some());
    // Given to a user who is not a technician: refused, nothing changed.
    let moved = s
        .change_visit(&env.ids, &second.id, None, |_| {
            Ok(VisitChange {
                status: "scheduled".into(),
                technician_id: Some(support.id.clone()),
                ..Default::default()
            })
        })
        .await;
    assert!(moved.is_err());
    assert_eq!(s.visit(&second.id).await.unwrap().technician_id, tech.id);
    // A machine's responsible technician is a technician.
    assert!(
        s.set_machine_technician(&env.ids, &g.id, Some(&support.id))
            .await
            .is_err()
    );
    s.set_machine_technician(&env.ids, &g.id, Some(&other_tech.id))
        .await
        .unwrap();
    let oc: Caller = s.caller(&other_tech).await.unwrap();
    assert_eq!(oc.companies, vec![globex.clone()]);
    assert!(s.machine_for_agent(&oc, &g.id).await.is_ok());
    assert!(s.visit_for_agent(&oc, &v.id).await.is_err());
}

async fn a_reading_reminder_is_claimed_once(env: Env) {
    let s = &env.store;
    let acme = s.create_company(&env.ids, "Acme").await.unwrap();
    let ana = client(&env, "ana@acme.example", &acme).await;
    let c = s
        .add_contract(
            &env.ids,
            &switchboard_core::store::NewContract {
                company_id: &acme,
                contact_id: &ana.contact_id,
                number: "CT-1",
                period: "monthly",
                currency: "BRL",
                fee: 10_000,
                terms: "{}",
                start_day: 20_000,
                renewal_day: None,
                end_day: None,
                read_before: Some(3),
            },
        )
        .await
        .unwrap();
    let claims = futures::future::join_all(
        (0..5).map(|_| s.claim_reading_reminder(&env.ids, &c.id, 7, "email")),
    )
    .await;
    let won = claims.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(won, 1);
    assert!(
        !s.claim_reading_reminder(&env.ids, &c.id, 7, "email")
            .await
            .unwrap()
    );
    assert!(
        s.claim_reading_reminder(&env.ids, &c.id, 8, "email")
            .await
            .unwrap()
    );
}
