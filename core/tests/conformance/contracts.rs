//! Contracts: a company's machines in slots (a swap hands the slot over), scoped reads,
//! and a period closed once with its invoice, however often and however concurrently the
//! job runs.

use switchboard_core::domain::Role;
use switchboard_core::store::{
    Caller, ClosedPeriod, NewContract, NewInvoice, NewMachine, PeriodInvoice,
};

use crate::on_every_backend;
use crate::support::Env;
use crate::tickets::client;

on_every_backend!(a_period_is_billed_once_however_often_it_is_closed);

pub(crate) fn caller(role: Role, companies: &[&str]) -> Caller {
    Caller {
        user_id: "u".into(),
        role,
        tier: None,
        teams: vec![],
        companies: companies.iter().map(|c| (*c).to_owned()).collect(),
    }
}

async fn a_period_is_billed_once_however_often_it_is_closed(env: Env) {
    let s = &env.store;
    let acme = s.create_company(&env.ids, "Acme").await.unwrap();
    let globex = s.create_company(&env.ids, "Globex").await.unwrap();
    let ana = client(&env, "ana@acme.example", &acme).await;
    let gil = client(&env, "gil@globex.example", &globex).await;
    let machine = |company, serial| NewMachine {
        company_id: company,
        location: None,
        maker: Some("Kyocera"),
        model: "TASKalfa 3554ci",
        serial,
        asset_tag: None,
        installed_on: None,
        status: "in_service",
    };
    let m1 = s
        .add_machine(&env.ids, &machine(&acme, "K-1"))
        .await
        .unwrap();
    let m2 = s
        .add_machine(&env.ids, &machine(&acme, "K-2"))
        .await
        .unwrap();
    let other = s
        .add_machine(&env.ids, &machine(&globex, "G-1"))
        .await
        .unwrap();
    let new = |number, contact| NewContract {
        company_id: &acme,
        contact_id: contact,
        number,
        period: "monthly",
        currency: "BRL",
        fee: 30_000,
        terms: "{}",
        start_day: 20_000,
        renewal_day: Some(20_365),
        end_day: None,
        read_before: Some(3),
    };
    let c = s
        .add_contract(&env.ids, &new("CT-1", &ana.contact_id))
        .await
        .unwrap();
    // A number is one contract of its company; bad terms are refused and change nothing.
    assert!(
        s.add_contract(&env.ids, &new("CT-1", &ana.contact_id))
            .await
            .is_err()
    );
    assert!(
        s.add_contract(&env.ids, &new("CT-2", &gil.contact_id))
            .await
            .is_err()
    );
    for bad in [
        NewContract {
            period: "weekly",
            ..new("B1", &ana.contact_id)
        },
        NewContract {
            fee: -1,
            ..new("B2", &ana.contact_id)
        },
        NewContract {
            end_day: Some(19_000),
            ..new("B3", &ana.contact_id)
        },
        NewContract {
            currency: "XYZ1",
            ..new("B4", &ana.contact_id)
        },
        NewContract {
            number: " ",
            ..new("B5", &ana.contact_id)
        },
    ] {
        assert!(s.add_contract(&env.ids, &bad).await.is_err(), "{bad:?}");
    }
    assert_eq!(s.contracts_for_client(&ana).await.unwrap().len(), 1);

    // Scopes: the client's own company only; a coordinator its companies only.
    assert!(s.contracts_for_client(&gil).await.unwrap().is_empty());
    assert!(s.contract_for_client_by_number(&gil, "CT-1").await.is_err());
    assert_eq!(
        s.contract_for_client_by_number(&ana, "CT-1")
            .await
            .unwrap()
            .id,
        c.id
    );
    let coord = caller(Role::Coordinator, &[&globex]);
    assert!(s.contract_for_agent(&coord, &c.id).await.is_err());
    assert!(
        s.contracts_for_agent(&coord, &acme)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.machine_for_agent(&coord, &m1.id).await.is_err());
    let seen = s.machines_for_agent(&coord, None, 100).await.unwrap();
    assert_eq!(
        seen.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        vec![other.id.as_str()]
    );
    // The limit counts only what the caller may see: Globex's one machine sorts after
    // Acme's two, and a coordinator of Globex still gets it with a limit of one.
    let seen = s.machines_for_agent(&coord, None, 1).await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].id, other.id);
    assert!(
        s.machines_for_agent(&coord, Some(&acme), 100)
            .await
            .unwrap()
            .is_empty()
    );
    let admin = caller(Role::Admin, &[]);
    assert_eq!(
        s.machines_for_agent(&admin, Some(&acme), 100)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(s.contract_for_agent(&admin, &c.id).await.unwrap().id, c.id);

    // Slots: another company's machine is refused; a machine serves one contract; a
    // machine put in a taken slot takes it over from that day.
    s.attach_machine(&c.id, &m1.id, "1", 20_000).await.unwrap();
    assert!(
        s.attach_machine(&c.id, &other.id, "2", 20_000)
            .await
            .is_err()
    );
    assert!(s.attach_machine(&c.id, &m1.id, "2", 20_010).await.is_err());
    s.attach_machine(&c.id, &m2.id, "1", 20_015).await.unwrap();
    let slots = s.contract_machines(&c.id).await.unwrap();
    assert_eq!(slots.len(), 2);
    assert_eq!(
        (slots[0].machine_id.as_str(), slots[0].to_day),
        (m1.id.as_str(), Some(20_015))
    );
    assert_eq!(
        (slots[1].machine_id.as_str(), slots[1].to_day),
        (m2.id.as_str(), None)
    );
    assert_eq!(
        s.contract_of_machine(&m1.id, 20_014)
            .await
            .unwrap()
            .map(|c| c.id),
        Some(c.id.clone())
    );
    assert_eq!(s.contract_of_machine(&m1.id, 20_015).await.unwrap(), None);
    assert!(
        s.detach_machine(&c.id, &m1.id, 20_020).await.is_err(),
        "it left already"
    );

    // The period, closed by eight at once and then again: one row, one invoice, one number.
    let number = |n: u64| format!("OV-{n:04}");
    let document = r#"{"lines":[]}"#;
    let invoice = || NewInvoice {
        kind: "invoice",
        company_id: Some(&acme),
        contact_id: &ana.contact_id,
        status: "draft",
        currency: "BRL",
        document,
        subtotal: 34_000,
        tax: 0,
        total: 34_000,
        issue_day: 20_031,
        due_day: Some(20_041),
        external_id: None,
    };
    let closed = ClosedPeriod {
        contract_id: c.id.clone(),
        n: 0,
        from_day: 20_000,
        to_day: 20_031,
        calculation: r#"{"n":0}"#.into(),
        invoice_id: None,
        closed_at: 0,
    };
    let ids = &env.ids;
    let runs = (0..8).map(|_| {
        let closed = closed.clone();
        async move {
            let inv = invoice();
            let p = PeriodInvoice {
                invoice: inv,
                counter: "overage",
                number: &number,
            };
            s.close_period(ids, &closed, Some(&p)).await
        }
    });
    let outcomes = futures::future::join_all(runs).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let won: Vec<&ClosedPeriod> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().ok()?.as_ref())
        .collect();
    assert_eq!(won.len(), 1, "{outcomes:?}");
    let inv = s
        .invoice(won[0].invoice_id.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!((inv.number.as_str(), inv.total), ("OV-0001", 34_000));
    let p = PeriodInvoice {
        invoice: invoice(),
        counter: "overage",
        number: &number,
    };
    assert_eq!(
        s.close_period(&env.ids, &closed, Some(&p)).await.unwrap(),
        None
    );
    let periods = s.contract_periods(&c.id, 10).await.unwrap();
    assert_eq!(periods.len(), 1);
    // The next period takes the next number: none was spent by the runs that lost.
    let next = ClosedPeriod {
        n: 1,
        from_day: 20_031,
        to_day: 20_059,
        ..closed.clone()
    };
    let p = PeriodInvoice {
        invoice: invoice(),
        counter: "overage",
        number: &number,
    };
    let second = s
        .close_period(&env.ids, &next, Some(&p))
        .await
        .unwrap()
        .unwrap();
    let inv = s
        .invoice(second.invoice_id.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(inv.number, "OV-0002");
    // A period that bills nothing is closed without an invoice.
    let quiet = ClosedPeriod {
        n: 2,
        from_day: 20_059,
        to_day: 20_090,
        ..closed
    };
    let stored = s
        .close_period(&env.ids, &quiet, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.invoice_id, None);
    assert_eq!(
        s.contract_periods(&c.id, 10)
            .await
            .unwrap()
            .iter()
            .map(|p| p.n)
            .collect::<Vec<_>>(),
        vec![2, 1, 0]
    );
    // The job's pages and bulk readings.
    assert_eq!(s.contracts_after("", 10).await.unwrap().len(), 1);
    assert!(s.contracts_after(&c.id, 10).await.unwrap().is_empty());
}
