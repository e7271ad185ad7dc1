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
