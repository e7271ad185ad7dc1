//! A client company's own sign-in: an address its provider verified signs in that
//! company's person, made when provisioning is on; an address of another company (a
//! verified identity or a portal user there), a staff address, or an unknown address with
//! provisioning off is refused, and nothing moves between companies.

use switchboard_core::Error;
use switchboard_core::domain::Role;

use crate::on_every_backend;
use crate::support::Env;
use crate::tickets::client;

on_every_backend!(a_company_provider_signs_in_only_its_own_people);

async fn a_company_provider_signs_in_only_its_own_people(env: Env) {
    let s = &env.store;
    let globex = s.create_company(&env.ids, "Globex").await.unwrap();
    let initech = s.create_company(&env.ids, "Initech").await.unwrap();
    let refused = |r: switchboard_core::Result<_>, why: &str| match r {
        Err(Error::Conflict(m)) => assert!(m.contains(why), "{m} should say {why}"),
        other => panic!("expected a refusal ({why}), got {other:?}"),
    };

    // Someone Globex already knows: the same portal user as by a link.
    let ana = client(&env, "ana@globex.example", &globex).await;
    let again = s
        .sso_portal_user(&env.ids, &globex, "Ana@Globex.example", None, false)
        .await
        .unwrap();
    assert_eq!(again.user_id, ana.user_id);

    // Unknown: refused without provisioning, made a Globex person with it.
    refused(
        s.sso_portal_user(&env.ids, &globex, "new@globex.example", None, false)
            .await,
        "no person",
    );
    let new = s
        .sso_portal_user(&env.ids, &globex, "new@globex.example", Some("Nova"), true)
        .await
        .unwrap();
    assert_eq!(new.company_id.as_deref(), Some(globex.as_str()));
    assert!(!new.is_admin(), "Globex has its admin already");

    // Initech's person, through Globex's provider: refused, and still Initech's.
    let ivo = client(&env, "ivo@initech.example", &initech).await;
    refused(
        s.sso_portal_user(&env.ids, &globex, "ivo@initech.example", None, true)
            .await,
        "another company",
    );
    let ivo_contact = s
        .verified_owner(&switchboard_core::domain::Identity::email("ivo@initech.example").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        s.contact_company(&ivo_contact).await.unwrap().flatten(),
        Some(initech.clone())
    );
    assert_eq!(
        s.sso_portal_user(&env.ids, &initech, "ivo@initech.example", None, false)
            .await
            .unwrap()
            .user_id,
        ivo.user_id
    );

    // A staff address, and a provider whose company is gone.
    s.create_user(&env.ids, "rita@acme.example", None, Role::Admin, None)
        .await
        .unwrap();
    refused(
        s.sso_portal_user(&env.ids, &globex, "rita@acme.example", None, true)
            .await,
        "staff",
    );
    refused(
        s.sso_portal_user(&env.ids, "no-such", "x@globex.example", None, true)
            .await,
        "does not exist",
    );
    // Bad input changes nothing.
    assert!(
        s.sso_portal_user(&env.ids, &globex, "not an address", None, true)
            .await
            .is_err()
    );
}
