//! Sites and the supervisor board's rows: a site is one company's, named once there; a
//! machine is placed only at a site of its own company; clients and agents read the sites
//! of the companies they may see; the board's machines down and contracts keep to the
//! caller's companies, and a support agent has no board.

use switchboard_core::domain::Role;
use switchboard_core::store::{NewContract, NewMachine, NewSite};

use crate::contracts::caller;
use crate::on_every_backend;
use crate::support::Env;
use crate::tickets::client;

on_every_backend!(sites_stay_in_their_company_and_the_board_in_the_callers);

async fn sites_stay_in_their_company_and_the_board_in_the_callers(env: Env) {
    let s = &env.store;
    let acme = s.create_company(&env.ids, "Acme").await.unwrap();
    let globex = s.create_company(&env.ids, "Globex").await.unwrap();
    let ana = client(&env, "ana@acme.example", &acme).await;
    let gil = client(&env, "gil@globex.example", &globex).await;
    let site = |company, name, point| NewSite {
        company_id: company,
        name,
        address: Some("Av. Paulista, 1578 — São Paulo"),
        point,
    };
    let made = s
        .add_sites(
            &env.ids,
            &[
                site(&acme, "Matriz", Some((-23_561_414, -46_655_881))),
                site(&acme, "Depósito", None),
            ],
        )
        .await
        .unwrap();
    assert_eq!(made.len(), 2);
    let (matriz, deposito) = (&made[0], &made[1]);
    assert_eq!(
        (matriz.lat_e6, matriz.lon_e6),
        (Some(-23_561_414), Some(-46_655_881)),
        "kept exactly"
    );
    let plant = s
        .add_sites(&env.ids, &[site(&globex, "Matriz", None)])
        .await
        .unwrap()
        .remove(0);
    // A name twice in one company, or an import with one bad row: nothing added.
    for bad in [
        vec![site(&acme, "Filial", None), site(&acme, " Matriz ", None)],
        vec![site(&acme, "Filial", Some((91_000_000, 0)))],
        vec![site(&acme, "Filial", None), site(&acme, "  ", None)],
        vec![
            site(&acme, "Filial", None),
            site("no-such-company", "X", None),
        ],
    ] {
        assert!(s.add_sites(&env.ids, &bad).await.is_err(), "{bad:?}");
    }
    assert_eq!(s.sites_for_client(&ana).await.unwrap().len(), 2);
    assert_eq!(
        s.sites_for_client(&gil).await.unwrap(),
        vec![plant.clone()],
        "a client reads its own company's sites"
    );
    let coordinator = caller(Role::Coordinator, &[&globex]);
    assert!(
        s.sites_for_agent(&coordinator, &acme)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.sites_for_agent(&coordinator, &globex)
            .await
            .unwrap()
            .len(),
        1
    );

    // A machine goes to its own company's site, never another's.
    let machine = |company, serial| NewMachine {
        company_id: company,
        location: None,
        maker: Some("Ricoh"),
        model: "IM C3000",
        serial,
        asset_tag: None,
        installed_on: None,
        status: "in_service",
    };
    let m = s
        .add_machine(&env.ids, &machine(&acme, "R-1"))
        .await
        .unwrap();
    let g = s
        .add_machine(&env.ids, &machine(&globex, "G-1"))
        .await
        .unwrap();
    s.set_machine_site(&env.ids, &m.id, Some(&matriz.id))
        .await
        .unwrap();
    assert_eq!(
        s.machine(&m.id).await.unwrap().site_id.as_deref(),
        Some(matriz.id.as_str())
    );
    assert!(
        s.set_machine_site(&env.ids, &m.id, Some(&plant.id))
            .await
            .is_err()
    );
    assert!(
        s.set_machine_site(&env.ids, &g.id, Some(&deposito.id))
            .await
            .is_err()
    );
    assert!(
        s.set_machine_site(&env.ids, &m.id, Some("no-such-site"))
            .await
            .is_err()
    );
    assert_eq!(
        s.machine(&m.id).await.unwrap().site_id.as_deref(),
        Some(matriz.id.as_str()),
        "refused moves change nothing"
    );
    assert_eq!(s.machine(&g.id).await.unwrap().site_id, None);
    s.set_machine_site(&env.ids, &m.id, None).await.unwrap();
    assert_eq!(s.machine(&m.id).await.unwrap().site_id, None);

    // The board: a machine down and a client-read contract at each company.
    s.set_machine_status(&env.ids, &m.id, "down").await.unwrap();
    s.set_machine_status(&env.ids, &g.id, "down").await.unwrap();
    for (company, contact, mach) in [
        (&acme, &ana.contact_id, &m.id),
        (&globex, &gil.contact_id, &g.id),
    ] {
        let c = s
            .add_contract(
                &env.ids,
                &NewContract {
                    company_id: company,
                    contact_id: contact,
                    number: "CT-1",
                    period: "monthly",
                    currency: "BRL",
                    fee: 30_000,
                    terms: "{}",
                    start_day: 20_000,
                    renewal_day: None,
                    end_day: None,
                    read_before: Some(5),
                },
            )
            .await
            .unwrap();
        s.attach_machine(&c.id, mach, "1", 20_000).await.unwrap();
    }
    let today = 20_400;
    let all = s
        .board_rows(&caller(Role::Supervisor, &[]), today)
        .await
        .unwrap();
    assert_eq!(all.machines_down.len(), 2);
    assert_eq!(all.contracts.len(), 2);
    assert_eq!(all.serving.len(), 2);
    assert_eq!(all.machines.len(), 2);
    assert_eq!(all.companies.len(), 2);
    let theirs = s.board_rows(&coordinator, today).await.unwrap();
    assert_eq!(
        theirs
            .machines_down
            .iter()
            .map(|m| m.serial.as_str())
            .collect::<Vec<_>>(),
        ["G-1"]
    );
    assert!(theirs.contracts.iter().all(|c| c.company_id == globex));
    assert_eq!(theirs.contracts.len(), 1);
    assert!(theirs.machines.iter().all(|m| m.company_id == globex));
    assert_eq!(
        theirs.companies,
        vec![(globex.clone(), "Globex".to_owned())]
    );
    let none = s
        .board_rows(&caller(Role::Coordinator, &[]), today)
        .await
        .unwrap();
    assert!(none.machines_down.is_empty() && none.contracts.is_empty());
    for role in [Role::Support, Role::Technician, Role::ClientAdmin] {
        assert!(
            s.board_rows(&caller(role, &[&acme]), today).await.is_err(),
            "{role:?} has no board"
        );
    }
    // Before the contracts began, none is in force.
    let early = s
        .board_rows(&caller(Role::Admin, &[]), 19_999)
        .await
        .unwrap();
    assert!(early.contracts.is_empty() && early.serving.is_empty());
}
