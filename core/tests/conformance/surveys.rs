//! Surveys: one per subject however often and from however many nodes it is made; two
//! answers at once keep one; the caller's rule decides whether an answer may change; the
//! link's token answers its own survey only; results grouped by agent, team, company and
//! month, scoped to what the caller may see.

use switchboard_core::domain::Role;
use switchboard_core::store::{NewSurvey, SurveyGroup};

use crate::on_every_backend;
use crate::support::Env;
use crate::tickets::client;

on_every_backend!(a_survey_is_made_once_answered_once_and_counted_in_scope);

fn new<'a>(subject: &'a str, contact: &'a str, expires_at: i64) -> NewSurvey<'a> {
    NewSurvey {
        subject,
        contact_id: contact,
        company_id: None,
        conversation_id: None,
        visit_id: None,
        number: 7,
        agent_id: None,
        technician_id: None,
        team: Some("n1"),
        channel: "email",
        lang: "pt-BR",
        expires_at,
    }
}

async fn a_survey_is_made_once_answered_once_and_counted_in_scope(env: Env) {
    let s = &env.store;
    let acme = s.create_company(&env.ids, "Acme").await.unwrap();
    let globex = s.create_company(&env.ids, "Globex").await.unwrap();
    let ana = client(&env, "ana@acme.example", &acme).await;
    let gil = client(&env, "gil@globex.example", &globex).await;
    let agent = s
        .create_user(&env.ids, "rui@desk.test", Some("Rui"), Role::Support, None)
        .await
        .unwrap();
    let coordinator = s
        .create_user(&env.ids, "cora@desk.test", None, Role::Coordinator, None)
        .await
        .unwrap();
    s.add_user_company(&coordinator.id, &globex).await.unwrap();
    let admin = s
        .create_user(&env.ids, "adm@desk.test", None, Role::Admin, None)
        .await
        .unwrap();
    let far = env.ids.now_ms() + 86_400_000;
    let (ana_contact, gil_contact) = (ana.contact_id.as_str(), gil.contact_id.as_str());

    // Made from five places at once: one survey.
    let mut first = new("conversation:one", ana_contact, far);
    first.company_id = Some(&acme);
    first.agent_id = Some(&agent.id);
    let made = futures::future::join_all((0..5).map(|_| s.create_survey(&env.ids, &first))).await;
    let made: Vec<_> = made.into_iter().filter_map(|r| r.unwrap()).collect();
    assert_eq!(made.len(), 1, "one survey per subject");
    let one = made[0].clone();
    assert!(one.token.len() >= 32, "the link's token is long");
    assert!(one.answered_at.is_none());
    // Bad input changes nothing.
    let mut bad = new("conversation:bad", ana_contact, far);
    bad.channel = "pigeon";
    assert!(s.create_survey(&env.ids, &bad).await.is_err());

    // Waiting on the client's home, for its own contact only.
    let now = env.ids.now_ms();
    assert_eq!(s.waiting_surveys(&ana, now, 5).await.unwrap().len(), 1);
    assert!(s.waiting_surveys(&gil, now, 5).await.unwrap().is_empty());
    assert!(s.survey_by_token("sv_not-a-token").await.is_err());

    // Out of range, or empty: refused, nothing kept.
    for (csat, nps) in [
        (Some(0), None),
        (Some(6), None),
        (None, Some(11)),
        (None, None),
    ] {
        assert!(
            s.answer_survey(&env.ids, &one.token, csat, nps, None, |_| Ok(()))
                .await
                .is_err()
        );
    }
    assert!(
        s.survey_by_token(&one.token)
            .await
            .unwrap()
            .answered_at
            .is_none()
    );

    // Two answers at once: both are kept in turn on one row, never two answers; the first
    // answer's time stands.
    let answers = futures::future::join(
        s.answer_survey(
            &env.ids,
            &one.token,
            Some(5),
            Some(10),
            Some("Ótimo"),
            |_| Ok(()),
        ),
        s.answer_survey(&env.ids, &one.token, Some(4), Some(9), None, |_| Ok(())),
    )
    .await;
    assert!(answers.0.is_ok() && answers.1.is_ok(), "{answers:?}");
    let kept = s.survey_by_token(&one.token).await.unwrap();
    assert!(kept.answered_at.is_some());
    assert!(kept.csat == Some(5) || kept.csat == Some(4));
    assert!(s.waiting_surveys(&ana, now, 5).await.unwrap().is_empty());
    // The rule refuses a change: nothing moves.
    let refused = s
        .answer_survey(&env.ids, &one.token, Some(1), Some(0), None, |now| {
            assert!(
                now.answered_at.is_some(),
                "the rule sees the answer as kept"
            );
            Err("settled".to_owned())
        })
        .await;
    assert!(refused.is_err());
    assert_eq!(s.survey_by_token(&one.token).await.unwrap(), kept);
    // A change allowed by the rule: the same row, changed_at set.
    let changed = s
        .answer_survey(
            &env.ids,
            &one.token,
            Some(2),
            Some(3),
            Some("Demorou"),
            |_| Ok(()),
        )
        .await
        .unwrap();
    assert_eq!(changed.id, kept.id);
    assert_eq!(changed.answered_at, kept.answered_at);
    assert!(changed.changed_at.is_some());
    assert_eq!((changed.csat, changed.nps), (Some(2), Some(3)));

    // A Globex survey, answered: promoter, satisfied.
    let mut second = new("visit:two", gil_contact, far);
    second.company_id = Some(&globex);
    let two = s.create_survey(&env.ids, &second).await.unwrap().unwrap();
    s.answer_survey(&env.ids, &two.token, Some(5), Some(10), None, |_| Ok(()))
        .await
        .unwrap();

    // Results: the admin sees both companies; the coordinator only Globex; an agent none.
    let (from, to) = (0, env.ids.now_ms() + 1);
    let ac = s.caller(&admin).await.unwrap();
    let by_company = s
        .survey_answers(&ac, SurveyGroup::Company, from, to)
        .await
        .unwrap();
    assert_eq!(by_company.len(), 2, "one answer each, a change kept as one");
    let acme_rows: Vec<_> = by_company.iter().filter(|r| r.key == acme).collect();
    assert_eq!(acme_rows.len(), 1);
    assert_eq!(acme_rows[0].name, "Acme");
    assert_eq!((acme_rows[0].csat, acme_rows[0].nps), (Some(2), Some(3)));
    assert_eq!(acme_rows[0].answered_at, kept.answered_at.unwrap());
    let by_agent = s
        .survey_answers(&ac, SurveyGroup::Agent, from, to)
        .await
        .unwrap();
    assert!(
        by_agent
            .iter()
            .any(|r| r.key == agent.id && r.name == "Rui")
    );
    let by_team = s
        .survey_answers(&ac, SurveyGroup::Team, from, to)
        .await
        .unwrap();
    assert_eq!(by_team.len(), 2);
    assert!(by_team.iter().all(|r| r.key == "n1" && r.csat.is_some()));
    let cc = s.caller(&coordinator).await.unwrap();
    let theirs = s
        .survey_answers(&cc, SurveyGroup::Company, from, to)
        .await
        .unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].key, globex);
    let agc = s.caller(&agent).await.unwrap();
    assert!(
        s.survey_answers(&agc, SurveyGroup::Company, from, to)
            .await
            .unwrap()
            .is_empty()
    );
    // Outside the window: nothing.
    assert!(
        s.survey_answers(&ac, SurveyGroup::Company, 0, 1)
            .await
            .unwrap()
            .is_empty()
    );
}
