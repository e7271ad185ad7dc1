//! A group's client admin and the companies granted to it: granted once, only to a client
//! admin; listed with its own; a session works in a granted one and falls back to its own
//! when the grant is taken back; a company not granted is refused and changes nothing.

use switchboard_core::store::SessionLimits;

use crate::on_every_backend;
use crate::support::Env;
use crate::tickets::client;

on_every_backend!(a_session_works_only_in_companies_granted_to_its_admin);

async fn a_session_works_only_in_companies_granted_to_its_admin(env: Env) {
    let s = &env.store;
    let holding = s.create_company(&env.ids, "Holding").await.unwrap();
    let filial = s.create_company(&env.ids, "Filial").await.unwrap();
    let outra = s.create_company(&env.ids, "Outra").await.unwrap();
    let ana = client(&env, "ana@holding.example", &holding).await;
    let bia = client(&env, "bia@holding.example", &holding).await;
    assert!(
        ana.is_admin() && !bia.is_admin(),
        "the first of a company is its admin"
    );
    assert!(
        s.grant_client_company(&env.ids, &ana.user_id, &filial)
            .await
            .unwrap()
    );
    assert!(
        !s.grant_client_company(&env.ids, &ana.user_id, &filial)
            .await
            .unwrap()
    );
    assert!(
        !s.grant_client_company(&env.ids, &ana.user_id, &holding)
            .await
            .unwrap(),
        "its own"
    );
    assert!(
        s.grant_client_company(&env.ids, &bia.user_id, &filial)
            .await
            .is_err(),
        "a client user"
    );
    assert!(
        s.grant_client_company(&env.ids, &ana.user_id, "no-such")
            .await
            .is_err()
    );
    let names: Vec<String> = s
        .client_companies(&ana)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert_eq!(names, ["Filial", "Holding"]);
    assert_eq!(s.client_companies(&bia).await.unwrap().len(), 1);

    let token = s
        .create_session(&env.ids, &ana.user_id, true)
        .await
        .unwrap();
    let ids = env.ids.clone();
    let company = |token: String| {
        let ids = ids.clone();
        async move {
            s.session(&token, ids.now_ms(), &SessionLimits::default())
                .await
                .unwrap()
                .unwrap()
                .client
                .unwrap()
                .company_id
        }
    };
    assert_eq!(
        company(token.clone()).await.as_deref(),
        Some(holding.as_str())
    );
    s.set_session_company(&ana, &token, Some(&filial))
        .await
        .unwrap();
    assert_eq!(
        company(token.clone()).await.as_deref(),
        Some(filial.as_str())
    );
    assert!(
        s.set_session_company(&ana, &token, Some(&outra))
            .await
            .is_err()
    );
    assert_eq!(
        company(token.clone()).await.as_deref(),
        Some(filial.as_str()),
        "unchanged"
    );
    // Bia's session cannot be moved by Ana's scope, nor can Bia move hers.
    let bia_token = s
        .create_session(&env.ids, &bia.user_id, true)
        .await
        .unwrap();
    s.set_session_company(&ana, &bia_token, Some(&filial))
        .await
        .unwrap();
    assert_eq!(
        company(bia_token.clone()).await.as_deref(),
        Some(holding.as_str())
    );
    assert!(
        s.set_session_company(&bia, &bia_token, Some(&filial))
            .await
            .is_err()
    );
    // Taken back: the next read is in her own company.
    assert!(
        s.revoke_client_company(&ana.user_id, &filial)
            .await
            .unwrap()
    );
    assert_eq!(
        company(token.clone()).await.as_deref(),
        Some(holding.as_str())
    );
    assert_eq!(s.client_companies(&ana).await.unwrap().len(), 1);
}
