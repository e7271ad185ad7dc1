//! Machines and meter readings: a client sees only its company's machines; a reading is
//! checked against the machine's history and stored once, however it is repeated and
//! however many submissions race.

use switchboard_core::store::{NewMachine, NewReading, ReadingOutcome};

use crate::on_every_backend;
use crate::support::Env;
use crate::tickets::client;

on_every_backend!(machines_stay_in_their_company_and_readings_are_stored_once);

fn reading<'a>(machine: &'a str, key: &'a str, day: i64, mono: i64) -> NewReading<'a> {
    NewReading {
        machine_id: machine,
        day,
        mono: Some(mono),
        colour: None,
        scans: None,
        source: "portal",
        user_id: None,
        photo: None,
        key,
        confirmed: false,
    }
}

/// The check the portal crate's rules make, reduced for the store's test: never below the
/// last reading; more than 10,000 pages since it asks first.
fn check(
    mono: i64,
) -> impl FnOnce(&[switchboard_core::store::MeterReading]) -> Result<Vec<String>, String> + Send {
    move |history| {
        let Some(last) = history.last().and_then(|r| r.mono) else {
            return Ok(vec![]);
        };
        if mono < last {
            return Err(format!("below the previous reading of {last}"));
        }
        Ok(if mono - last > 10_000 {
            vec!["mono".into()]
        } else {
            vec![]
        })
    }
}

async fn machines_stay_in_their_company_and_readings_are_stored_once(env: Env) {
    let s = &env.store;
    let acme = s.create_company(&env.ids, "Acme").await.unwrap();
    let globex = s.create_company(&env.ids, "Globex").await.unwrap();
    let ana = client(&env, "ana@acme.example", &acme).await;
    let gil = client(&env, "gil@globex.example", &globex).await;
    let new = |company, serial, tag| NewMachine {
        company_id: company,
        location: Some("2º andar"),
        maker: Some("Ricoh"),
        model: "MP 301",
        serial,
        asset_tag: tag,
        installed_on: Some(19_000),
        status: "in_service",
    };
    let a = s
        .add_machine(&env.ids, &new(&acme, "E174M123456", Some("PAT-1")))
        .await
        .unwrap();
    let g = s
        .add_machine(&env.ids, &new(&globex, "G100", Some("PAT-1")))
        .await
        .unwrap();
    // A serial is one machine; a tag one per company; bad input is named.
    assert!(
        s.add_machine(&env.ids, &new(&globex, "E174M123456", None))
            .await
            .is_err()
    );
    assert!(
        s.add_machine(&env.ids, &new(&acme, "OTHER", Some("PAT-1")))
            .await
            .is_err()
    );
    let blank = NewMachine {
        serial: " ",
        ..new(&acme, "x", None)
    };
    assert!(s.add_machine(&env.ids, &blank).await.is_err());
    let odd = NewMachine {
        status: "broken",
        ..new(&acme, "ODD1", None)
    };
    assert!(s.add_machine(&env.ids, &odd).await.is_err());
    assert!(
        s.add_machine(&env.ids, &new("no-such-company", "Z1", None))
            .await
            .is_err()
    );

    // An import is all or nothing: one serial already stored refuses the whole file.
    let file = [new(&acme, "IMP-1", None), new(&acme, "G100", None)];
    let e = s.add_machines(&env.ids, &file).await.unwrap_err();
    assert!(e.to_string().contains("G100"), "{e}");
    assert!(s.add_machines(&env.ids, &file[..1]).await.is_ok());
    assert_eq!(s.machines_for_client(&ana).await.unwrap().len(), 2);
    let imported = s
        .machines_for_client(&ana)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.serial == "IMP-1")
        .unwrap();

    // Each client sees its own company's machine only.
    let mine: Vec<String> = s
        .machines_for_client(&ana)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(mine.len(), 2);
    assert!(mine.contains(&a.id) && mine.contains(&imported.id));
    assert_eq!(s.machine_for_client(&ana, &a.id).await.unwrap(), a);
    assert!(s.machine_for_client(&gil, &a.id).await.is_err());
    assert!(s.machine_for_client(&ana, &g.id).await.is_err());

    // A reading, then the same submission again, then the same counts under another key
    // (the portal and WhatsApp): one reading.
    let first = s
        .record_reading(&env.ids, &reading(&a.id, "k1", 100, 40_000), check(40_000))
        .await
        .unwrap();
    let ReadingOutcome::Stored(first) = first else {
        panic!("{first:?}")
    };
    for key in ["k1", "k2"] {
        let again = s
            .record_reading(&env.ids, &reading(&a.id, key, 100, 40_000), check(40_000))
            .await
            .unwrap();
        assert_eq!(again, ReadingOutcome::Duplicate(first.clone()), "{key}");
    }
    // Below the last: refused with the check's words, nothing stored.
    let low = s
        .record_reading(&env.ids, &reading(&a.id, "k3", 120, 39_000), check(39_000))
        .await
        .unwrap_err();
    assert!(
        low.to_string()
            .contains("below the previous reading of 40000"),
        "{low}"
    );
    // A big jump: confirmed first, then stored.
    let jump = s
        .record_reading(&env.ids, &reading(&a.id, "k4", 130, 60_000), check(60_000))
        .await
        .unwrap();
    assert_eq!(jump, ReadingOutcome::Confirm(vec!["mono".into()]));
    assert_eq!(s.meter_readings(&a.id, 100).await.unwrap().len(), 1);
    let confirmed = NewReading {
        confirmed: true,
        ..reading(&a.id, "k4", 130, 60_000)
    };
    assert!(matches!(
        s.record_reading(&env.ids, &confirmed, check(60_000))
            .await
            .unwrap(),
        ReadingOutcome::Stored(_)
    ));
    // Another machine's key is refused; an unknown machine is not found.
    assert!(
        s.record_reading(&env.ids, &reading(&g.id, "k1", 100, 5), check(5))
            .await
            .is_err()
    );
    assert!(
        s.record_reading(&env.ids, &reading("nope", "k9", 100, 5), check(5))
            .await
            .is_err()
    );

    // Five submissions of one reading at once, each with its own key: stored once.
    let keys: Vec<String> = (0..5).map(|i| format!("race-{i}")).collect();
    let ids = &env.ids;
    let races = keys.iter().map(|k| {
        let r = reading(&a.id, k, 140, 61_000);
        async move { s.record_reading(ids, &r, check(61_000)).await }
    });
    let outcomes = futures::future::join_all(races).await;
    let stored = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(ReadingOutcome::Stored(_))))
        .count();
    assert_eq!(stored, 1, "{outcomes:?}");
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let all = s.meter_readings(&a.id, 100).await.unwrap();
    let days: Vec<i64> = all.iter().map(|r| r.day).collect();
    assert_eq!(days, vec![100, 130, 140], "oldest first");
    // Each machine's latest, in one query; a machine never read has none.
    let last = s
        .last_readings(&[a.id.clone(), g.id.clone()])
        .await
        .unwrap();
    assert_eq!(last.len(), 1, "{last:?}");
    assert_eq!(
        (last[0].machine_id.as_str(), last[0].day),
        (a.id.as_str(), 140)
    );
}
