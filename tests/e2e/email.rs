//! `switchboard email parse FILE.eml --json`, the command-line contract of DESIGN.md.

use std::process::Command;

use serde_json::Value;

use crate::support::BIN;

fn parse_cli(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(["email", "parse"])
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap()
}

#[test]
fn email_parse_prints_the_contract_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let eml = dir.path().join("reply.eml");
    std::fs::write(
        &eml,
        "From: Ana Lima <ana@example.com>\r\nTo: support@acme.test\r\nSubject: Re: fuser\r\n\
         Message-ID: <r1@example.com>\r\nIn-Reply-To: <sb-1@acme.test>\r\n\
         References: <sb-0@acme.test> <sb-1@acme.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Obrigada, funcionou!\r\n\r\nEm ter., 3 de mar. de 2026 às 10:02, Suporte <support@acme.test> escreveu:\r\n\
         > Desligue e ligue de novo.\r\n",
    )
    .unwrap();
    let out = parse_cli(&[eml.to_str().unwrap(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "from",
        "to",
        "cc",
        "subject",
        "message_id",
        "in_reply_to",
        "references",
        "reply_text",
        "quoted_text",
        "html",
        "attachments",
        "auto_submitted",
    ] {
        assert!(v.get(key).is_some(), "{key} missing from {v}");
    }
    assert_eq!(v["from"], "ana@example.com");
    assert_eq!(v["reply_text"], "Obrigada, funcionou!");
    assert_eq!(v["in_reply_to"], "sb-1@acme.test");
    assert_eq!(v["references"][1], "sb-1@acme.test");
    assert_eq!(v["auto_submitted"], false);
    assert!(v["quoted_text"].as_str().unwrap().contains("Desligue"));

    // A file that is not a message: a clear error and a failing exit, nothing printed.
    let empty = dir.path().join("empty.eml");
    std::fs::write(&empty, "").unwrap();
    let out = parse_cli(&[empty.to_str().unwrap(), "--json"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an email message"));
}

const RELAY_SECRET: &str = "relay-secret-of-enough-length-42";

fn mail(from: &str, message_id: &str, refs: &str, body: &str) -> String {
    let refs = if refs.is_empty() {
        String::new()
    } else {
        format!("In-Reply-To: <{refs}>\r\nReferences: <{refs}>\r\n")
    };
    format!(
        "From: {from}\r\nTo: support@acme.test\r\nSubject: Toner\r\nMessage-ID: <{message_id}>\r\n{refs}\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

/// A server with the email inbox `support` taking posted mail, `settings` added to its
/// `[email]` section; its admin's API token; the folder holding its configuration.
async fn email_server(settings: &str) -> (crate::support::Server, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        format!(
            "[email]\n{settings}[[email.inboxes]]\nname = \"support\"\naddress = \"support@acme.test\"\nhttp_secret = \"{RELAY_SECRET}\"\n"
        ),
    )
    .unwrap();
    let server = crate::support::Server::start_with(
        crate::support::Backend::Embedded,
        &[("SWITCHBOARD_CONFIG", config.to_str().unwrap())],
    )
    .await;
    let (_, admin) = crate::inbox::add_agent(&server, "admin@example.com", "admin", &[]);
    (server, admin, dir)
}

async fn post_mail(
    server: &crate::support::Server,
    inbox: &str,
    secret: Option<&str>,
    raw: &str,
) -> (u16, Value) {
    let mut req = server
        .http
        .post(server.url(&format!("/webhooks/email/{inbox}")))
        .header("content-type", "message/rfc822")
        .body(raw.to_owned());
    if let Some(s) = secret {
        req = req.bearer_auth(s);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Mail a relay POSTs: the inbox's secret is required, bad input is refused and stores
/// nothing, a message opens a conversation with only the visible reply as its text, the
/// same message twice is stored once, a follow-up joins its thread, a new mail from the
/// same person opens its own conversation, an auto-reply opens nothing, and a stranger
/// quoting a real Message-ID gets a conversation of their own.
#[tokio::test]
async fn mail_posted_by_a_relay_threads_and_refuses_what_it_must() {
    let (server, admin, _dir) = email_server("").await;
    let first = mail(
        "Ana <ana@example.com>",
        "n1@example.com",
        "",
        "The toner leaks.",
    );

    assert_eq!(post_mail(&server, "support", None, &first).await.0, 401);
    assert_eq!(
        post_mail(
            &server,
            "support",
            Some("wrong-secret-wrong-secret"),
            &first
        )
        .await
        .0,
        401
    );
    assert_eq!(
        post_mail(&server, "sales", Some(RELAY_SECRET), &first)
            .await
            .0,
        404
    );
    let (status, body) = post_mail(&server, "support", Some(RELAY_SECRET), "   ").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid", "{body}");
    assert!(
        server.conversations(&admin).await.is_empty(),
        "nothing stored"
    );

    let (status, body) = post_mail(&server, "support", Some(RELAY_SECRET), &first).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["message_id"], "n1@example.com");
    assert_eq!(
        post_mail(&server, "support", Some(RELAY_SECRET), &first)
            .await
            .0,
        202
    );
    crate::support::eventually(10, || async {
        server.conversations(&admin).await.len() == 1
    })
    .await;
    let convs = server.conversations(&admin).await;
    let conv = convs[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(convs[0]["channel"], "email");

    // The customer follows up on their own mail, quoting it: same conversation, only the
    // new text visible.
    let follow = mail(
        "ana@example.com",
        "n2@example.com",
        "n1@example.com",
        "It also smells.\r\n\r\nOn Tue, 3 Mar 2026 at 10:02, Ana <ana@example.com> wrote:\r\n> The toner leaks.",
    );
    assert_eq!(
        post_mail(&server, "support", Some(RELAY_SECRET), &follow)
            .await
            .0,
        202
    );
    crate::support::eventually(10, || async {
        server.thread(&admin, &conv).await.len() == 2
    })
    .await;
    let thread = server.thread(&admin, &conv).await;
    let texts: Vec<&str> = thread.iter().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(
        texts,
        ["The toner leaks.", "It also smells."],
        "stored once, reply only"
    );

    // An auto-reply opens nothing; a new mail opens its own conversation; a stranger
    // quoting the real Message-ID does not get into Ana's.
    let away = format!(
        "Auto-Submitted: auto-replied\r\n{}",
        mail("ana@example.com", "a1@example.com", "", "I am away.")
    );
    assert_eq!(
        post_mail(&server, "support", Some(RELAY_SECRET), &away)
            .await
            .0,
        202
    );
    let fresh = mail("ana@example.com", "n3@example.com", "", "A new question.");
    assert_eq!(
        post_mail(&server, "support", Some(RELAY_SECRET), &fresh)
            .await
            .0,
        202
    );
    let stranger = mail(
        "eve@evil.test",
        "e1@evil.test",
        "n1@example.com",
        "Let me in.",
    );
    assert_eq!(
        post_mail(&server, "support", Some(RELAY_SECRET), &stranger)
            .await
            .0,
        202
    );
    crate::support::eventually(10, || async {
        server.conversations(&admin).await.len() == 3
    })
    .await;
    let thread = server.thread(&admin, &conv).await;
    assert_eq!(thread.len(), 2, "nothing else joined Ana's conversation");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        server.conversations(&admin).await.len(),
        3,
        "the auto-reply opened nothing"
    );
}

/// Attachments of posted mail are kept as blobs the agent can open (inline images
/// included, their `cid:` pointing at them); one over `email.max_attachment_bytes` is left
/// out and named after the text, and the message is still stored.
#[tokio::test]
async fn mail_attachments_are_kept_and_an_oversized_one_is_named() {
    let (server, admin, _dir) = email_server("max_attachment_bytes = 100000\n").await;
    // base64 of 150,000 bytes, in 76-character lines.
    let big: String = {
        use std::fmt::Write;
        let raw = "QUFB".repeat(50_000);
        let mut out = String::new();
        for chunk in raw.as_bytes().chunks(76) {
            let _ = write!(out, "{}\r\n", std::str::from_utf8(chunk).unwrap());
        }
        out
    };
    let raw = format!(
        "From: ana@example.com\r\nTo: support@acme.test\r\nSubject: photo\r\nMessage-ID: <att1@example.com>\r\n\
         Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n\
         --m\r\nContent-Type: multipart/related; boundary=\"r\"\r\n\r\n\
         --r\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>The panel shows this: <img src=\"cid:panel@x\"></p>\r\n\
         --r\r\nContent-Type: image/png\r\nContent-ID: <panel@x>\r\nContent-Disposition: inline; filename=\"panel.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgoAAAANSUhEUg==\r\n\
         --r--\r\n\
         --m\r\nContent-Type: application/zip; name=\"logs.zip\"\r\nContent-Disposition: attachment; filename=\"logs.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{big}\
         --m--\r\n"
    );
    let (status, body) = post_mail(&server, "support", Some(RELAY_SECRET), &raw).await;
    assert_eq!(status, 202, "{body}");
    crate::support::eventually(10, || async {
        server.conversations(&admin).await.len() == 1
    })
    .await;
    let conv = server.conversations(&admin).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let thread = server.thread(&admin, &conv).await;
    let m = &thread[0];
    let text = m["text"].as_str().unwrap();
    assert!(text.contains("The panel shows this"), "{m}");
    assert!(
        text.contains("[Attachment not kept: logs.zip (150000 bytes, over the 100000-byte limit)]"),
        "{text}"
    );
    let atts = m["attachments"].as_array().unwrap();
    assert_eq!(atts.len(), 1, "{m}");
    assert_eq!(atts[0]["name"], "panel.png");
    let key = atts[0]["blob"].as_str().unwrap();
    let html = m["html"].as_str().unwrap_or_default();
    assert!(
        html.contains(&format!("/blobs/{key}")),
        "the cid: image points at its blob: {html}"
    );
    // The agent opens it from the pages.
    let mut b = crate::inbox::Browser::sign_in(&server, "admin@example.com").await;
    let r = b.fetch(&format!("/blobs/{key}")).await;
    assert_eq!(r.status().as_u16(), 200);
    let _ = b.get("/conversations").await;
}

/// A sender over its hourly allowance is refused (429, nothing stored) while others go
/// on; our own mail coming back is kept but opens nothing.
#[tokio::test]
async fn a_looping_sender_is_held_back_and_our_own_mail_opens_nothing() {
    let (server, admin, _dir) = email_server("max_mails_per_sender_per_hour = 2\n").await;
    for i in 0..2 {
        let m = mail(
            "robot@example.com",
            &format!("r{i}@example.com"),
            "",
            "ping",
        );
        assert_eq!(
            post_mail(&server, "support", Some(RELAY_SECRET), &m)
                .await
                .0,
            202
        );
    }
    let third = mail("robot@example.com", "r2@example.com", "", "ping");
    let (status, body) = post_mail(&server, "support", Some(RELAY_SECRET), &third).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    let other = mail("ana@example.com", "a1@example.com", "", "hello");
    assert_eq!(
        post_mail(&server, "support", Some(RELAY_SECRET), &other)
            .await
            .0,
        202
    );
    let own = mail(
        "Support <SUPPORT@acme.test>",
        "o1@acme.test",
        "",
        "our own notice",
    );
    let (status, body) = post_mail(&server, "support", Some(RELAY_SECRET), &own).await;
    assert_eq!(status, 202);
    assert_eq!(body["auto_submitted"], true, "{body}");
    crate::support::eventually(10, || async {
        server.conversations(&admin).await.len() == 3
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let convs = server.conversations(&admin).await;
    assert_eq!(
        convs.len(),
        3,
        "robot's two and Ana's; not the third, not our own"
    );
}
