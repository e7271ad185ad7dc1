//! `switchboard whatsapp parse FILE.json --json`, the command-line contract of DESIGN.md,
//! over every payload in `../shared/fixtures/whatsapp`.

use std::process::Command;

use serde_json::Value;

use crate::support::BIN;

fn parse_cli(file: &std::path::Path) -> std::process::Output {
    Command::new(BIN)
        .args(["whatsapp", "parse"])
        .arg(file)
        .arg("--json")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap()
}

fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/whatsapp")
}

fn events(name: &str) -> Vec<Value> {
    let out = parse_cli(&fixtures().join(name));
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
}

#[test]
fn whatsapp_parse_prints_every_fixtures_events() {
    let mut files = 0;
    for f in std::fs::read_dir(fixtures()).unwrap() {
        let name = f.unwrap().file_name().into_string().unwrap();
        for e in events(&name) {
            for key in ["kind", "type", "wamid", "phone_number_id", "timestamp"] {
                assert!(e.get(key).is_some(), "{name}: {key} missing from {e}");
            }
        }
        files += 1;
    }
    assert!(files >= 26);

    let text = &events("message_text.json")[0];
    assert_eq!(text["kind"], "message");
    assert_eq!(text["type"], "text");
    assert_eq!(text["text"], "Body Text");
    assert_eq!(text["from"], "972987654321");
    assert_eq!(text["profile_name"], "Test Name");
    let image = &events("message_image.json")[0];
    assert_eq!(image["media"]["id"], "65463453");
    assert_eq!(image["media"]["mime_type"], "image/jpeg");
    let reply = &events("message_reply.json")[0];
    assert_eq!(reply["reply_to"], "wamid.xyzxyz==");
    let forwarded = &events("message_forwarded.json")[0];
    assert_eq!(forwarded["forwarded"], true);
    let read = &events("status_read.json")[0];
    assert_eq!(
        (read["kind"].as_str(), read["status"].as_str()),
        (Some("status"), Some("read"))
    );
    let failed = &events("status_failed.json")[0];
    assert_eq!(failed["errors"][0]["code"], 130_472);
    let unsupported = &events("message_unsupported.json")[0];
    assert_eq!(unsupported["type"], "unsupported");
    assert_eq!(unsupported["errors"][0]["code"], 131_051);
}

#[test]
fn whatsapp_parse_refuses_what_is_not_a_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"object":"instagram","entry":[]}"#).unwrap();
    let out = parse_cli(&bad);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a WhatsApp Business webhook"));
}
