//! Agent accounts on every backend: passwords, TOTP with its recovery codes, sessions and
//! their limits, reset and invitation links, deactivation and an admin's edits. Time moves
//! only through a `ManualClock`.

use std::sync::Arc;

use switchboard_core::auth::totp;
use switchboard_core::clock::{Ids, ManualClock};
use switchboard_core::domain::{Role, Tier, User};
use switchboard_core::error::Error;
use switchboard_core::store::{
    LinkPurpose, SECOND_FACTOR_LOCK_MS, SECOND_FACTOR_MAX_FAILURES, SessionLimits, Store,
    UserUpdate,
};

use crate::on_every_backend;
use crate::support::Env;

on_every_backend!(
    passwords_are_set_checked_and_refused,
    totp_codes_are_taken_once_within_one_step,
    recovery_codes_are_single_use,
    one_code_used_twice_at_once_passes_once,
    wrong_codes_lock_the_second_factor_for_a_while,
    sessions_end_when_idle_and_at_the_absolute_limit,
    rotation_kills_the_old_token,
    logout_ends_one_session_or_all,
    reset_links_are_single_use_and_expire,
    invited_users_choose_their_password,
    deactivation_blocks_login_sessions_and_tokens,
    admins_edit_users_within_the_rules,
);

const START: i64 = 1_700_000_000_000;
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const PASSWORD: &str = "correct horse battery";

fn manual_ids() -> (Arc<ManualClock>, Ids) {
    let clock = Arc::new(ManualClock::new(START));
    let ids = Ids::new(clock.clone());
    (clock, ids)
}

async fn agent(store: &Store, ids: &Ids, email: &str, role: Role) -> User {
    let tier = (role == Role::Support).then_some(Tier::N1);
    let user = store
        .create_user(ids, email, Some("Ana"), role, tier)
        .await
        .unwrap();
    store
        .set_password(&user.id, PASSWORD, ids.now_ms())
        .await
        .unwrap();
    user
}

fn is_invalid(e: &Error) -> bool {
    matches!(e, Error::Invalid(_))
}

async fn passwords_are_set_checked_and_refused(env: Env) {
    let s = &env.store;
    let (_, ids) = manual_ids();
    let user = s
        .create_user(&ids, "ana@acme.com", None, Role::Support, None)
        .await
        .unwrap();
    assert!(!s.user_password_set(&user.id).await.unwrap());
    // No password yet: nothing logs in, not even an empty one.
    assert!(
        s.check_password("ana@acme.com", "")
            .await
            .unwrap()
            .is_none()
    );

    for (weak, why) in [
        ("short", "at least 10"),
        ("aaaaaaaaaaaa", "repeated"),
        ("ana@acme.com", "email"),
    ] {
        let e = s.set_password(&user.id, weak, START).await.unwrap_err();
        assert!(is_invalid(&e) && e.to_string().contains(why), "{weak}: {e}");
    }
    assert!(!s.user_password_set(&user.id).await.unwrap());

    s.set_password(&user.id, PASSWORD, START).await.unwrap();
    assert!(s.user_password_set(&user.id).await.unwrap());
    let found = s.check_password(" Ana@Acme.com ", PASSWORD).await.unwrap();
    assert_eq!(found.map(|u| u.id), Some(user.id.clone()));
    assert!(
        s.check_password("ana@acme.com", "correct horse battery!")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.check_password("nobody@acme.com", PASSWORD)
            .await
            .unwrap()
            .is_none()
    );
    let stored: Option<String> =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(&user.id)
            .fetch_one(s.pool())
            .await
            .unwrap();
    assert!(
        stored.unwrap().starts_with("$argon2id$"),
        "only the hash is kept"
    );

    // A new password ends the user's sessions, but the one changing it can keep theirs.
    let a = s.create_session(&ids, &user.id, true).await.unwrap();
    let b = s.create_session(&ids, &user.id, true).await.unwrap();
    s.set_password_keeping_session(&user.id, "another good one", Some(a.as_str()), START)
        .await
        .unwrap();
    let limits = SessionLimits::default();
    assert!(s.session(&a, START, &limits).await.unwrap().is_some());
    assert!(s.session(&b, START, &limits).await.unwrap().is_none());
    s.set_password(&user.id, PASSWORD, START).await.unwrap();
    assert!(s.session(&a, START, &limits).await.unwrap().is_none());
    assert!(
        s.check_password("ana@acme.com", "another good one")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.check_password("ana@acme.com", PASSWORD)
            .await
            .unwrap()
            .is_some()
    );

    // Deactivated: the right password no longer logs in; reactivated, it does again.
    s.set_user_active(&user.id, false, START).await.unwrap();
    assert!(
        s.check_password("ana@acme.com", PASSWORD)
            .await
            .unwrap()
            .is_none()
    );
    s.set_user_active(&user.id, true, START).await.unwrap();
    assert!(
        s.check_password("ana@acme.com", PASSWORD)
            .await
            .unwrap()
            .is_some()
    );

    s.record_login(&user.id, START + 5).await.unwrap();
    let listed = s.list_users().await.unwrap();
    assert_eq!(listed[0].last_login_at, Some(START + 5));
}

/// Enrols `user` in TOTP at the clock's time; returns the secret and the recovery codes.
async fn enrol(s: &Store, clock: &ManualClock, user: &User) -> (Vec<u8>, Vec<String>) {
    let b32 = s.begin_totp(&user.id, None, START).await.unwrap();
    let secret = totp::from_base32(&b32).unwrap();
    assert_eq!(secret.len(), 20);
    assert!(
        !s.totp_enabled(&user.id).await.unwrap(),
        "not before confirmation"
    );
    let now = clock_now(clock);
    let codes = s
        .confirm_totp(&user.id, &totp::code(&secret, totp::step_at(now), 6), now)
        .await
        .unwrap();
    (secret, codes)
}

fn clock_now(clock: &ManualClock) -> i64 {
    use switchboard_core::clock::Clock;
    clock.now_ms()
}

async fn totp_codes_are_taken_once_within_one_step(env: Env) {
    let s = &env.store;
    let (clock, ids) = manual_ids();
    let user = agent(s, &ids, "ana@acme.com", Role::Support).await;
    assert!(
        !s.check_second_factor(&user.id, "123456", START)
            .await
            .unwrap()
    );

    let b32 = s.begin_totp(&user.id, None, START).await.unwrap();
    let secret = totp::from_base32(&b32).unwrap();
    let step = totp::step_at(START);
    let wrong = s
        .confirm_totp(&user.id, &totp::code(&secret, step + 2, 6), START)
        .await
        .unwrap_err();
    assert!(is_invalid(&wrong), "{wrong}");
    assert!(!s.totp_enabled(&user.id).await.unwrap());
    let confirmed_with = totp::code(&secret, step, 6);
    let codes = s
        .confirm_totp(&user.id, &confirmed_with, START)
        .await
        .unwrap();
    assert_eq!(codes.len(), 10);
    assert!(s.totp_enabled(&user.id).await.unwrap());
    assert!(s.user_by_id(&user.id).await.unwrap().unwrap().totp_enabled);
    assert_eq!(s.remaining_recovery_codes(&user.id).await.unwrap(), 10);
    // The code that confirmed enrolment is spent.
    assert!(
        !s.check_second_factor(&user.id, &confirmed_with, START)
            .await
            .unwrap()
    );

    clock.advance(10 * totp::STEP_MS);
    let now = clock_now(&clock);
    let at = |delta: i64| totp::code(&secret, totp::step_at(now) + delta, 6);
    // Two steps away either side: refused, though never used.
    assert!(!s.check_second_factor(&user.id, &at(-2), now).await.unwrap());
    assert!(!s.check_second_factor(&user.id, &at(2), now).await.unwrap());
    // One step either side: taken, each once, and only in increasing order.
    assert!(s.check_second_factor(&user.id, &at(-1), now).await.unwrap());
    assert!(
        !s.check_second_factor(&user.id, &at(-1), now).await.unwrap(),
        "replay"
    );
    let spaced = format!("{} {}", &at(0)[..3], &at(0)[3..]);
    assert!(s.check_second_factor(&user.id, &spaced, now).await.unwrap());
    assert!(
        !s.check_second_factor(&user.id, &at(0), now).await.unwrap(),
        "replay"
    );
    assert!(s.check_second_factor(&user.id, &at(1), now).await.unwrap());
    assert!(
        !s.check_second_factor(&user.id, &at(1), now).await.unwrap(),
        "replay"
    );
    assert!(
        !s.check_second_factor(&user.id, "abcdef", now)
            .await
            .unwrap()
    );

    // Another user's codes are not this one's.
    let other = agent(s, &ids, "bo@acme.com", Role::Support).await;
    assert!(!s.check_second_factor(&other.id, &at(0), now).await.unwrap());

    // Enrolling again needs a current code (a stolen session alone cannot swap the
    // factor), and leaves the current factor on until the new one is confirmed.
    let refused = s.begin_totp(&user.id, None, now).await.unwrap_err();
    assert!(matches!(refused, Error::Forbidden(_)), "{refused}");
    assert!(s.begin_totp(&user.id, Some("000000"), now).await.is_err());
    let again =
        totp::from_base32(&s.begin_totp(&user.id, Some(&codes[0]), now).await.unwrap()).unwrap();
    assert_ne!(again, secret);
    assert!(s.totp_enabled(&user.id).await.unwrap());

    s.disable_totp(&user.id).await.unwrap();
    assert!(!s.totp_enabled(&user.id).await.unwrap());
    assert_eq!(s.remaining_recovery_codes(&user.id).await.unwrap(), 0);
    clock.advance(10 * totp::STEP_MS);
    let now = clock_now(&clock);
    let fresh = totp::code(&secret, totp::step_at(now), 6);
    assert!(!s.check_second_factor(&user.id, &fresh, now).await.unwrap());
    assert!(
        !s.check_second_factor(&user.id, &codes[0], now)
            .await
            .unwrap()
    );
    let e = s.confirm_totp(&user.id, &fresh, now).await.unwrap_err();
    assert!(
        is_invalid(&e),
        "disabling drops the pending enrolment too: {e}"
    );
}

async fn recovery_codes_are_single_use(env: Env) {
    let s = &env.store;
    let (clock, ids) = manual_ids();
    let user = agent(s, &ids, "ana@acme.com", Role::Support).await;
    let (_, codes) = enrol(s, &clock, &user).await;
    for c in &codes {
        assert_eq!(c.len(), 9, "{c}");
    }
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT code_hash FROM recovery_codes WHERE user_id = $1")
            .bind(&user.id)
            .fetch_all(s.pool())
            .await
            .unwrap();
    assert_eq!(stored.len(), 10);
    assert!(
        codes.iter().all(|c| !stored.contains(c)),
        "only hashes are kept"
    );

    let now = clock_now(&clock);
    // Typed in capitals without the dash, it is the same code.
    let typed = codes[3].replace('-', "").to_uppercase();
    assert!(s.check_second_factor(&user.id, &typed, now).await.unwrap());
    assert!(
        !s.check_second_factor(&user.id, &codes[3], now)
            .await
            .unwrap(),
        "used"
    );
    assert_eq!(s.remaining_recovery_codes(&user.id).await.unwrap(), 9);
    assert!(
        !s.check_second_factor(&user.id, "zzzz-zzzz", now)
            .await
            .unwrap()
    );

    // Another user cannot use them.
    let other = agent(s, &ids, "bo@acme.com", Role::Support).await;
    enrol(s, &clock, &other).await;
    assert!(
        !s.check_second_factor(&other.id, &codes[4], now)
            .await
            .unwrap()
    );

    // New codes replace all the old ones.
    let fresh = s.regenerate_recovery_codes(&user.id).await.unwrap();
    assert_eq!(s.remaining_recovery_codes(&user.id).await.unwrap(), 10);
    assert!(
        !s.check_second_factor(&user.id, &codes[4], now)
            .await
            .unwrap()
    );
    assert!(
        s.check_second_factor(&user.id, &fresh[0], now)
            .await
            .unwrap()
    );
}

async fn one_code_used_twice_at_once_passes_once(env: Env) {
    let s = &env.store;
    let (clock, ids) = manual_ids();
    let user = agent(s, &ids, "ana@acme.com", Role::Support).await;
    let (secret, codes) = enrol(s, &clock, &user).await;
    for (round, recovery) in codes.iter().take(5).enumerate() {
        clock.advance(totp::STEP_MS);
        let now = clock_now(&clock);
        let code = totp::code(&secret, totp::step_at(now), 6);
        let (a, b) = tokio::join!(
            s.check_second_factor(&user.id, &code, now),
            s.check_second_factor(&user.id, &code, now)
        );
        assert!(
            a.unwrap() ^ b.unwrap(),
            "TOTP round {round}: exactly one passes"
        );
        let (a, b) = tokio::join!(
            s.check_second_factor(&user.id, recovery, now),
            s.check_second_factor(&user.id, recovery, now)
        );
        assert!(
            a.unwrap() ^ b.unwrap(),
            "recovery round {round}: exactly one passes"
        );
    }
    assert_eq!(s.remaining_recovery_codes(&user.id).await.unwrap(), 5);
}

async fn wrong_codes_lock_the_second_factor_for_a_while(env: Env) {
    let s = &env.store;
    let (clock, ids) = manual_ids();
    let user = agent(s, &ids, "ana@acme.com", Role::Support).await;
    let (secret, codes) = enrol(s, &clock, &user).await;
    let right = |clock: &ManualClock| {
        let now = clock_now(clock);
        (totp::code(&secret, totp::step_at(now), 6), now)
    };
    let wrong = |code: &str| {
        let last = (code.as_bytes()[5] - b'0' + 1) % 10;
        format!("{}{last}", &code[..5])
    };

    // A right code in between starts the count again.
    clock.advance(totp::STEP_MS);
    let (code, now) = right(&clock);
    for _ in 1..SECOND_FACTOR_MAX_FAILURES {
        assert!(
            !s.check_second_factor(&user.id, &wrong(&code), now)
                .await
                .unwrap()
        );
    }
    assert!(s.check_second_factor(&user.id, &code, now).await.unwrap());
    clock.advance(totp::STEP_MS);
    let (code, now) = right(&clock);
    for _ in 1..SECOND_FACTOR_MAX_FAILURES {
        assert!(
            !s.check_second_factor(&user.id, &wrong(&code), now)
                .await
                .unwrap()
        );
    }
    // The last wrong code in a row locks it: then even right codes are refused.
    assert!(
        !s.check_second_factor(&user.id, "zzzz-zzzz", now)
            .await
            .unwrap()
    );
    let e = s
        .check_second_factor(&user.id, &code, now)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e}");
    let e = s
        .check_second_factor(&user.id, &codes[0], now)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e}");
    assert_eq!(s.remaining_recovery_codes(&user.id).await.unwrap(), 10);
    // Other users are not affected.
    let other = agent(s, &ids, "bo@acme.com", Role::Support).await;
    let (other_secret, _) = enrol(s, &clock, &other).await;
    clock.advance(totp::STEP_MS);
    let now = clock_now(&clock);
    let other_code = totp::code(&other_secret, totp::step_at(now), 6);
    assert!(
        s.check_second_factor(&other.id, &other_code, now)
            .await
            .unwrap()
    );

    clock.advance(SECOND_FACTOR_LOCK_MS - totp::STEP_MS - 1);
    let (code, now) = right(&clock);
    assert!(s.check_second_factor(&user.id, &code, now).await.is_err());
    clock.advance(1);
    let (code, now) = right(&clock);
    assert!(s.check_second_factor(&user.id, &code, now).await.unwrap());
}

async fn sessions_end_when_idle_and_at_the_absolute_limit(env: Env) {
    let s = &env.store;
    let (clock, ids) = manual_ids();
    let user = agent(s, &ids, "ana@acme.com", Role::Support).await;
    let defaults = SessionLimits::default();
    assert_eq!(
        (defaults.idle_ms, defaults.absolute_ms),
        (2 * HOUR, 12 * HOUR)
    );
    let limits = SessionLimits {
        idle_ms: 30 * MINUTE,
        absolute_ms: 2 * HOUR,
    };

    let token = s.create_session(&ids, &user.id, false).await.unwrap();
    assert!(token.len() >= 64, "at least 256 bits: {token}");
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM sessions")
        .fetch_all(s.pool())
        .await
        .unwrap();
    assert!(!stored.contains(&token), "only the hash is kept");
    let first = s.session(&token, START, &limits).await.unwrap().unwrap();
    assert_eq!(first.user.id, user.id);
    assert_eq!((first.created_at, first.last_seen_at), (START, START));
    assert!(!first.second_factor_done);
    assert_eq!(first.csrf_token.len(), 64);
    assert!(first.csrf_matches(&first.csrf_token.clone()));

    // Used within a minute: not written again. After a minute: last_seen_at moves.
    let s30 = s
        .session(&token, START + 30_000, &limits)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s30.last_seen_at, START);
    let s61 = s
        .session(&token, START + 61_000, &limits)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s61.last_seen_at, START + 61_000);

    // Kept alive by use every 29 minutes, but not past two hours from the login.
    let mut now = START + 61_000;
    while now + 29 * MINUTE < START + 2 * HOUR {
        now += 29 * MINUTE;
        assert!(
            s.session(&token, now, &limits).await.unwrap().is_some(),
            "at {now}"
        );
    }
    assert!(
        s.session(&token, START + 2 * HOUR, &limits)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.session(&token, START + 2 * HOUR - 1, &limits)
            .await
            .unwrap()
            .is_none(),
        "an ended session stays ended"
    );

    // Idle for the idle limit: gone.
    clock.advance(3 * HOUR);
    let now = clock_now(&clock);
    let unused = s.create_session(&ids, &user.id, true).await.unwrap();
    assert!(
        s.session(&unused, now + 30 * MINUTE, &limits)
            .await
            .unwrap()
            .is_none()
    );
    let idle = s.create_session(&ids, &user.id, true).await.unwrap();
    assert!(
        s.session(&idle, now + 29 * MINUTE, &limits)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.session(&idle, now + 59 * MINUTE - 1, &limits)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.session(&idle, now + 89 * MINUTE, &limits)
            .await
            .unwrap()
            .is_none()
    );

    // Housekeeping drops what is past its limits and leaves the rest.
    let live = s.create_session(&ids, &user.id, true).await.unwrap();
    let stale = s.create_session(&ids, &user.id, true).await.unwrap();
    s.session(&live, now + 20 * MINUTE, &limits)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        s.purge_expired_sessions(now + 40 * MINUTE, &limits)
            .await
            .unwrap(),
        1
    );
    assert!(
        s.session(&live, now + 40 * MINUTE, &limits)
            .await
            .unwrap()
            .is_some()
    );
    assert!(s.session(&stale, now + 1, &limits).await.unwrap().is_none());
}

async fn rotation_kills_the_old_token(env: Env) {
    let s = &env.store;
    let (clock, ids) = manual_ids();
    let user = agent(s, &ids, "ana@acme.com", Role::Admin).await;
    let (secret, _) = enrol(s, &clock, &user).await;
    let limits = SessionLimits::default();
    let old = s.create_session(&ids, &user.id, false).await.unwrap();
    let before = s.session(&old, START, &limits).await.unwrap().unwrap();
    assert!(!before.is_complete(), "TOTP on, second factor not passed");

    clock.advance(totp::STEP_MS);
    let now = clock_now(&clock);
    assert!(
        s.check_second_factor(&user.id, &totp::code(&secret, totp::step_at(now), 6), now)
            .await
            .unwrap()
    );
    let new = s.rotate_session(&ids, &old, true).await.unwrap();
    assert_ne!(new, old);
    assert!(s.session(&old, now, &limits).await.unwrap().is_none());
    let after = s.session(&new, now, &limits).await.unwrap().unwrap();
    assert!(after.second_factor_done && after.is_complete());
    assert_eq!(after.created_at, before.created_at, "the login time stays");
    assert_ne!(after.csrf_token, before.csrf_token);
    let e = s.rotate_session(&ids, &old, true).await.unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e}");
    // The absolute limit still counts from the login.
    let short = SessionLimits {
        idle_ms: HOUR,
        absolute_ms: totp::STEP_MS,
    };
    assert!(s.session(&new, now, &short).await.unwrap().is_none());
}

async fn logout_ends_one_session_or_all(env: Env) {
    let s = &env.store;
    let (_, ids) = manual_ids();
    let ana = agent(s, &ids, "ana@acme.com", Role::Support).await;
    let bo = agent(s, &ids, "bo@acme.com", Role::Support).await;
    let limits = SessionLimits::default();
    let laptop = s.create_session(&ids, &ana.id, true).await.unwrap();
    let phone = s.create_session(&ids, &ana.id, true).await.unwrap();
    let tablet = s.create_session(&ids, &ana.id, true).await.unwrap();
    let bos = s.create_session(&ids, &bo.id, true).await.unwrap();
    let e = s
        .create_session(&ids, "no-such-user", true)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e}");

    s.end_session(&laptop).await.unwrap();
    assert!(s.session(&laptop, START, &limits).await.unwrap().is_none());
    assert!(s.session(&phone, START, &limits).await.unwrap().is_some());
    assert_eq!(s.end_all_sessions(&ana.id).await.unwrap(), 2);
    for t in [&phone, &tablet] {
        assert!(s.session(t, START, &limits).await.unwrap().is_none());
    }
    assert!(
        s.session(&bos, START, &limits).await.unwrap().is_some(),
        "others stay"
    );
    assert_eq!(s.end_all_sessions(&ana.id).await.unwrap(), 0);
}

async fn reset_links_are_single_use_and_expire(env: Env) {
    let s = &env.store;
    let (clock, ids) = manual_ids();
    let user = agent(s, &ids, "ana@acme.com", Role::Support).await;
    let limits = SessionLimits::default();
    let session = s.create_session(&ids, &user.id, true).await.unwrap();

    let older = s
        .issue_account_link(&ids, &user.id, LinkPurpose::Reset, HOUR)
        .await
        .unwrap();
    let link = s
        .issue_account_link(&ids, &user.id, LinkPurpose::Reset, HOUR)
        .await
        .unwrap();
    assert!(
        s.account_link_user(&older, LinkPurpose::Reset, START)
            .await
            .unwrap()
            .is_none(),
        "a new reset link kills the older one"
    );
    let peeked = s
        .account_link_user(&link, LinkPurpose::Reset, START)
        .await
        .unwrap();
    assert_eq!(peeked.map(|u| u.id), Some(user.id.clone()));
    // Peeking does not use it; nor does the wrong purpose find it.
    assert!(
        s.account_link_user(&link, LinkPurpose::Reset, START)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.account_link_user(&link, LinkPurpose::Invite, START)
            .await
            .unwrap()
            .is_none()
    );
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM account_links")
        .fetch_all(s.pool())
        .await
        .unwrap();
    assert!(!stored.contains(&link));

    // A refused password leaves the link usable.
    let e = s
        .use_account_link(&link, LinkPurpose::Reset, "short", START)
        .await
        .unwrap_err();
    assert!(is_invalid(&e), "{e}");
    let done = s
        .use_account_link(&link, LinkPurpose::Reset, "a brand new secret", START + 1)
        .await
        .unwrap();
    assert_eq!(done.id, user.id);
    assert!(
        s.check_password("ana@acme.com", "a brand new secret")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.check_password("ana@acme.com", PASSWORD)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.session(&session, START + 1, &limits)
            .await
            .unwrap()
            .is_none(),
        "a reset ends every session"
    );
    let again = s
        .use_account_link(&link, LinkPurpose::Reset, "yet another secret", START + 2)
        .await
        .unwrap_err();
    assert!(is_invalid(&again), "single use: {again}");

    // Two requests with one link at once: one sets the password, the other is refused.
    let link = s
        .issue_account_link(&ids, &user.id, LinkPurpose::Reset, HOUR)
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        s.use_account_link(&link, LinkPurpose::Reset, "first of the two", START + 3),
        s.use_account_link(&link, LinkPurpose::Reset, "second of the two", START + 3)
    );
    assert!(a.is_ok() ^ b.is_ok(), "{a:?} {b:?}");
    let winner = if a.is_ok() {
        "first of the two"
    } else {
        "second of the two"
    };
    assert!(
        s.check_password("ana@acme.com", winner)
            .await
            .unwrap()
            .is_some()
    );

    // Expired an hour after it was issued.
    let late = s
        .issue_account_link(&ids, &user.id, LinkPurpose::Reset, HOUR)
        .await
        .unwrap();
    clock.advance(HOUR);
    let now = clock_now(&clock);
    assert!(
        s.account_link_user(&late, LinkPurpose::Reset, now - 1)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.account_link_user(&late, LinkPurpose::Reset, now)
            .await
            .unwrap()
            .is_none()
    );
    let e = s
        .use_account_link(&late, LinkPurpose::Reset, "yet another secret", now)
        .await
        .unwrap_err();
    assert!(is_invalid(&e), "{e}");
    assert!(
        s.check_password("ana@acme.com", winner)
            .await
            .unwrap()
            .is_some()
    );

    let e = s
        .issue_account_link(&ids, "no-such-user", LinkPurpose::Reset, HOUR)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e}");
}

async fn invited_users_choose_their_password(env: Env) {
    let s = &env.store;
    let (_, ids) = manual_ids();
    let (user, link) = s
        .invite_user(
            &ids,
            "new@acme.com",
            Some("Nina"),
            Role::Support,
            Some(Tier::N2),
            7 * 24 * HOUR,
        )
        .await
        .unwrap();
    assert_eq!(user.tier, Some(Tier::N2));
    assert!(!s.user_password_set(&user.id).await.unwrap());
    let listed = s.list_users().await.unwrap();
    let summary = listed.iter().find(|u| u.user.id == user.id).unwrap();
    assert!(!summary.password_set && summary.user.active);
    assert!(
        s.check_password("new@acme.com", "")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.account_link_user(&link, LinkPurpose::Reset, START)
            .await
            .unwrap()
            .is_none()
    );
    let invited = s
        .account_link_user(&link, LinkPurpose::Invite, START)
        .await
        .unwrap();
    assert_eq!(invited.map(|u| u.email), Some("new@acme.com".into()));

    let e = s
        .use_account_link(&link, LinkPurpose::Invite, "new@acme.com", START)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("email"), "{e}");
    s.use_account_link(&link, LinkPurpose::Invite, "my own good secret", START)
        .await
        .unwrap();
    assert!(s.user_password_set(&user.id).await.unwrap());
    let logged = s
        .check_password("new@acme.com", "my own good secret")
        .await
        .unwrap();
    assert_eq!(logged.map(|u| u.id), Some(user.id.clone()));
    assert!(
        s.use_account_link(&link, LinkPurpose::Invite, "someone else's", START)
            .await
            .is_err()
    );
    // Inviting an email that exists is a conflict, and makes no link.
    let e = s
        .invite_user(&ids, "NEW@acme.com", None, Role::Admin, None, HOUR)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e}");
}

async fn deactivation_blocks_login_sessions_and_tokens(env: Env) {
    let s = &env.store;
    let (_, ids) = manual_ids();
    let admin = agent(s, &ids, "boss@acme.com", Role::Admin).await;
    let user = agent(s, &ids, "ana@acme.com", Role::Support).await;
    let limits = SessionLimits::default();
    let session = s.create_session(&ids, &user.id, true).await.unwrap();
    let token = s.issue_api_token(&ids, &user.id, "cli").await.unwrap();
    let ticket = s.issue_ws_ticket(&ids, &user.id, MINUTE).await.unwrap();
    let link = s
        .issue_account_link(&ids, &user.id, LinkPurpose::Reset, HOUR)
        .await
        .unwrap();
    assert!(s.user_by_token(&token, START).await.unwrap().is_some());

    s.set_user_active(&user.id, false, START).await.unwrap();
    assert!(
        s.check_password("ana@acme.com", PASSWORD)
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.session(&session, START, &limits).await.unwrap().is_none());
    assert!(s.user_by_token(&token, START).await.unwrap().is_none());
    assert!(s.redeem_ws_ticket(&ticket, START).await.unwrap().is_none());
    assert!(s.user_by_id(&user.id).await.unwrap().is_none());
    assert!(
        s.account_link_user(&link, LinkPurpose::Reset, START)
            .await
            .unwrap()
            .is_none()
    );
    let late = s.issue_api_token(&ids, &user.id, "late").await.unwrap();
    assert!(
        s.user_by_token(&late, START).await.unwrap().is_none(),
        "a token issued meanwhile does not work either"
    );
    assert!(s.create_session(&ids, &user.id, true).await.is_err());
    assert!(
        s.issue_account_link(&ids, &user.id, LinkPurpose::Reset, HOUR)
            .await
            .is_err()
    );
    let seen = s.user_including_inactive(&user.id).await.unwrap().unwrap();
    assert!(!seen.active);
    let listed = s.list_users().await.unwrap();
    assert!(
        !listed
            .iter()
            .find(|u| u.user.id == user.id)
            .unwrap()
            .user
            .active
    );

    // Back again: the password works, but what deactivation ended stays ended.
    s.set_user_active(&user.id, true, START).await.unwrap();
    assert!(
        s.check_password("ana@acme.com", PASSWORD)
            .await
            .unwrap()
            .is_some()
    );
    assert!(s.user_by_id(&user.id).await.unwrap().is_some());
    assert!(s.session(&session, START, &limits).await.unwrap().is_none());
    assert!(s.user_by_token(&token, START).await.unwrap().is_none());
    let fresh = s.create_session(&ids, &user.id, true).await.unwrap();
    assert!(s.session(&fresh, START, &limits).await.unwrap().is_some());
    // The flag alone refuses a session, whatever left it in place.
    sqlx::query("UPDATE users SET active = 0 WHERE id = $1")
        .bind(&user.id)
        .execute(s.pool())
        .await
        .unwrap();
    assert!(s.session(&fresh, START, &limits).await.unwrap().is_none());
    s.set_user_active(&user.id, true, START).await.unwrap();

    // The last active admin stays.
    let e = s
        .set_user_active(&admin.id, false, START)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e}");
    let second = agent(s, &ids, "deputy@acme.com", Role::Admin).await;
    s.set_user_active(&admin.id, false, START).await.unwrap();
    let e = s
        .set_user_active(&second.id, false, START)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e}");
    let e = s
        .set_user_active("no-such-user", false, START)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e}");
}

async fn admins_edit_users_within_the_rules(env: Env) {
    let s = &env.store;
    let (_, ids) = manual_ids();
    let admin = agent(s, &ids, "boss@acme.com", Role::Admin).await;
    let user = agent(s, &ids, "ana@acme.com", Role::Support).await;
    let acme = s.create_company(&ids, "Acme").await.unwrap();
    let globex = s.create_company(&ids, "Globex").await.unwrap();
    assert_eq!((user.locale.as_str(), user.capacity), ("en", 10));

    let refused = [
        (
            UserUpdate {
                role: Some(Role::Coordinator),
                tier: Some(Tier::N2),
                ..Default::default()
            },
            "tier",
        ),
        (
            UserUpdate {
                locale: Some("fr".into()),
                ..Default::default()
            },
            "language",
        ),
        (
            UserUpdate {
                capacity: Some(0),
                ..Default::default()
            },
            "capacity",
        ),
        (
            UserUpdate {
                capacity: Some(101),
                ..Default::default()
            },
            "capacity",
        ),
        (
            UserUpdate {
                role: Some(Role::ClientUser),
                ..Default::default()
            },
            "client",
        ),
        (
            UserUpdate {
                companies: Some(vec![acme.clone(), "no-such-company".into()]),
                ..Default::default()
            },
            "company",
        ),
    ];
    for (update, why) in refused {
        let e = s.update_user(&user.id, &update).await.unwrap_err();
        assert!(
            is_invalid(&e) && e.to_string().contains(why),
            "{update:?}: {e}"
        );
    }
    // Nothing of a refused edit stays.
    let unchanged = s.user_by_id(&user.id).await.unwrap().unwrap();
    assert_eq!(unchanged, user);
    assert!(s.caller(&user).await.unwrap().companies.is_empty());

    let edited = s
        .update_user(
            &user.id,
            &UserUpdate {
                name: Some("  Ana Souza ".into()),
                tier: Some(Tier::N3),
                teams: Some(vec!["billing".into(), " sales".into(), "billing".into()]),
                locale: Some("pt-br".into()),
                capacity: Some(25),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(edited.name.as_deref(), Some("Ana Souza"));
    assert_eq!(edited.tier, Some(Tier::N3));
    assert_eq!(edited.locale, "pt-BR");
    assert_eq!(edited.capacity, 25);
    assert_eq!(s.caller(&edited).await.unwrap().teams, ["billing", "sales"]);

    // A coordinator has companies and no tier.
    let coordinator = s
        .update_user(
            &user.id,
            &UserUpdate {
                role: Some(Role::Coordinator),
                companies: Some(vec![globex.clone(), acme.clone()]),
                teams: Some(vec!["sales".into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (coordinator.role, coordinator.tier),
        (Role::Coordinator, None)
    );
    let caller = s.caller(&coordinator).await.unwrap();
    let mut expected = vec![acme.clone(), globex.clone()];
    expected.sort();
    assert_eq!(caller.companies, expected);
    assert_eq!(caller.teams, ["sales"]);
    // Back to support: a tier again, N1 unless said.
    let support = s
        .update_user(
            &user.id,
            &UserUpdate {
                role: Some(Role::Support),
                name: Some(String::new()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((support.tier, support.name), (Some(Tier::N1), None));

    let listed = s.list_users().await.unwrap();
    let ana = listed.iter().find(|u| u.user.id == user.id).unwrap();
    assert_eq!(ana.teams, ["sales"]);
    assert_eq!(ana.companies, expected);
    assert!(ana.password_set);
    assert_eq!(
        listed
            .iter()
            .map(|u| u.user.email.as_str())
            .collect::<Vec<_>>(),
        ["ana@acme.com", "boss@acme.com"]
    );

    // The last admin is not demoted.
    let e = s
        .update_user(
            &admin.id,
            &UserUpdate {
                role: Some(Role::Supervisor),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e}");
    let e = s
        .update_user("no-such-user", &UserUpdate::default())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e}");
}
