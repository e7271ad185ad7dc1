//! Surveys end to end: a request resolved by mail sends one survey mail with its link; the
//! link only opens the survey (a scanner's GET, a HEAD, a link-following bot, a score in
//! the link: nothing is recorded); only the form's POST records, one answer kept and
//! changed within the day; the conversation's card follows the answer.

use serde_json::json;

use crate::inbox::Browser;
use crate::support::{Backend, Server, eventually};

async fn rows(server: &Server, sql: &str) -> Vec<(Option<i64>, Option<i64>, Option<i64>)> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&server.database_url())
        .await
        .unwrap();
    let out = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    out
}

/// (csat, nps, answered_at) of every survey.
async fn surveys(server: &Server) -> Vec<(Option<i64>, Option<i64>, Option<i64>)> {
    rows(server, "SELECT csat, nps, answered_at FROM surveys").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_survey_link_opens_and_only_its_form_records_once() {
    let mut mail = crate::mail::MailServer::start(&["--user", "support@acme.test:imap-pass"]).await;
    let (server, admin) = crate::mail::server_for(
        &mail,
        Backend::Embedded,
        "[portal]\nnotice_batch_seconds = 1\n",
    )
    .await;
    // The company's ERP subscribes to answers.
    let (hook_url, got) = crate::webhooks::receiver(0).await;
    let (code, body) = server
        .post(
            &admin,
            "/api/v1/webhooks",
            &json!({"url": hook_url, "events": ["survey.answered"]}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let from = "ana@globex.example";
    crate::trust::writes_in(
        &mail,
        &server,
        &admin,
        from,
        "toner-1@globex.example",
        "",
        "A impressora do financeiro parou, mancha tudo de toner.",
    )
    .await;
    let (conv, _) = crate::trust::conversation_with(&server, &admin, "mancha tudo de toner").await;
    // Rui answers it: the survey rates his work, and he hears of the answer once.
    let (rui_id, rui) = crate::inbox::add_agent(&server, "rui@acme.test", "support", &[]);
    let (code, body) = server
        .post(
            &admin,
            &format!("/api/v1/conversations/{conv}/assign"),
            &json!({"assignee_id": rui_id}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let rated = || {
        let (server, rui) = (&server, &rui);
        async move {
            let (_, v) = server.get(rui, "/api/v1/notifications").await;
            v["notifications"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|n| n["kind"] == "survey")
                .count()
        }
    };
    let status = |s: &'static str| {
        let (server, admin, conv) = (&server, &admin, &conv);
        async move {
            let (code, body) = server
                .post(
                    admin,
                    &format!("/api/v1/conversations/{conv}/status"),
                    &json!({"status": s}),
                )
                .await;
            assert_eq!(code, 200, "{body}");
        }
    };
    status("resolved").await;
    // The survey mail: its link, in the client's words.
    let survey_mails = || {
        mail.captured_for(from)
            .into_iter()
            .filter(|(m, _)| m.full_text.contains("/survey/sv_"))
            .collect::<Vec<_>>()
    };
    eventually(30, || async { !survey_mails().is_empty() }).await;
    let text = survey_mails()[0].0.full_text.clone();
    let at = text.find("/survey/sv_").unwrap();
    let path: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "/_-".contains(*c))
        .collect();
    // Resolved again after a reopen: still one survey, one mail.
    status("open").await;
    status("resolved").await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(survey_mails().len(), 1, "one survey mail");
    assert_eq!(surveys(&server).await.len(), 1, "one survey per request");

    // Scanners: GET, HEAD, a bot following links, a score in the link. Nothing recorded.
    let http = reqwest::Client::new();
    let r = http.get(server.url(&path)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("name=\"csat\"") && page.contains("name=\"nps\""),
        "{page:.3000}"
    );
    assert_eq!(
        http.head(server.url(&path)).send().await.unwrap().status(),
        200
    );
    let r = http
        .get(server.url(&format!("{path}?csat=5&nps=10")))
        .header(
            "user-agent",
            "Mozilla/5.0 (compatible; SafeLinks-Scanner/1.0)",
        )
        .send()
        .await
        .unwrap();
    let page = r.text().await.unwrap();
    assert!(
        page.contains("value=\"5\" checked"),
        "a score in the link only preselects"
    );
    for link in ["/help", "/portal"] {
        http.get(server.url(link)).send().await.unwrap();
    }
    // A form from elsewhere (no token, another origin): refused.
    let r = http
        .post(server.url(&path))
        .header("origin", "https://evil.example")
        .form(&[("csat", "1"), ("nps", "0")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        surveys(&server).await,
        vec![(None, None, None)],
        "nothing recorded"
    );
    // Another token opens nothing.
    assert_eq!(
        http.get(server.url("/survey/sv_guess"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // The client answers from the link: kept once.
    let mut b = Browser::new(&server);
    assert_eq!(b.get(&path).await.0, 200);
    let (s, page) = b.post(&path, &[("nps", "11")]).await;
    assert_eq!(s, 422, "{page:.2000}");
    assert!(
        page.contains("role=\"alert\""),
        "the refusal says why: {page:.3000}"
    );
    assert_eq!(surveys(&server).await[0].2, None);
    let (s, page) = b
        .post(
            &path,
            &[("csat", "4"), ("nps", "9"), ("comment", "Rápido, obrigado")],
        )
        .await;
    assert_eq!(s, 200, "{page:.2000}");
    assert!(page.contains("id=\"survey-thanks\""), "{page:.3000}");
    let first = surveys(&server).await;
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].0, first[0].1), (Some(4), Some(9)));
    // Answered again within the day: the one answer changes, its time stands.
    let (s, _) = b.post(&path, &[("csat", "5"), ("nps", "10")]).await;
    assert_eq!(s, 200);
    let now = surveys(&server).await;
    assert_eq!(now.len(), 1);
    assert_eq!(
        (now[0].0, now[0].1, now[0].2),
        (Some(5), Some(10), first[0].2)
    );
    assert_eq!(rated().await, 1, "told once, not again for the change");
    let logged = rows(
        &server,
        "SELECT COUNT(*), NULL, NULL FROM portal_audit WHERE action = 'survey_answered'",
    )
    .await;
    assert_eq!(logged[0].0, Some(2), "each answer in the activity log");
    // The ERP hears of the answer and of its change, without the link's token.
    crate::support::eventually(15, || {
        let n = got.lock().unwrap().len();
        async move { n == 2 }
    })
    .await;
    let answers: Vec<serde_json::Value> = got
        .lock()
        .unwrap()
        .iter()
        .map(|(kind, _, body)| {
            assert_eq!(kind, "survey.answered");
            assert!(!body.contains(path.rsplit('/').next().unwrap()), "{body}");
            serde_json::from_str(body).unwrap()
        })
        .collect();
    let mut scores: Vec<_> = answers
        .iter()
        .map(|a| {
            (
                a["data"]["survey"]["csat"].clone(),
                a["data"]["survey"]["nps"].clone(),
            )
        })
        .collect();
    scores.sort_by_key(|s| s.0.as_i64());
    assert_eq!(scores, [(json!(4), json!(9)), (json!(5), json!(10))]);
    // Opening it afterwards shows the answer, records nothing.
    let (_, page) = b.get(&path).await;
    assert!(page.contains("id=\"survey-thanks\""));
    assert_eq!(surveys(&server).await, now);

    // The conversation's card shows the answer, one card updated in place.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&server.database_url())
        .await
        .unwrap();
    let cards: Vec<String> = sqlx::query_scalar("SELECT payload FROM cards WHERE kind = 'survey'")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(cards.len(), 1, "{cards:?}");
    assert!(cards[0].contains("CSAT 5/5 · NPS 10"), "{cards:?}");

    // The supervisor's dashboard counts it: a promoter, satisfied.
    crate::inbox::add_agent(&server, "sue@acme.test", "supervisor", &[]);
    let mut sue = Browser::sign_in(&server, "sue@acme.test").await;
    let (s, board) = sue.get("/dashboard").await;
    assert_eq!(s, 200);
    let at = board
        .find("id=\"satisfaction\"")
        .expect("the satisfaction part");
    let part = &board[at..];
    assert!(
        part.contains(">+100<") && part.contains(">100%<"),
        "{part:.3000}"
    );

    // A day later the answer stands: refused, nothing changes.
    crate::inbox::sql(
        &server,
        "UPDATE surveys SET answered_at = answered_at - 90000000",
        &[],
    )
    .await;
    let before = surveys(&server).await;
    let (s, _) = b.post(&path, &[("csat", "1")]).await;
    assert_eq!(s, 409);
    assert_eq!(surveys(&server).await, before);
    mail.cmd("quit").await;
}
