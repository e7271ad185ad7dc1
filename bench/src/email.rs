//! Parse-only rate of the email channel's reader over the reply fixtures: each of the 64
//! bodies in `../shared/fixtures/email_replies` wrapped as a raw RFC 5322 message, read by
//! `email::parse::parse` (MIME, charset, headers, reply split) and by `split_reply` alone.
//! Also counts the fixtures whose visible reply equals the expected one, and the same on
//! our own written set (`channels/tests/data/replies.txt`: mail clients' formats in pt, es,
//! en and others).
//!
//! Then the rate over the raw messages written apart from the reader
//! (`channels/tests/data/mime/*.eml`: Outlook, Gmail, Apple Mail, Thunderbird, webmails,
//! copiers; charsets, HTML-only, flowed, attachments, reports), read whole.
//!
//! `cargo run --release -p switchboard-bench --bin email-bench`

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use switchboard_channels::email::parse::parse;
use switchboard_channels::email::split_reply;

fn main() -> anyhow::Result<()> {
    let dir = std::env::var("SB_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"))
        .join("email_replies");
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("{}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "input") {
            let body = std::fs::read_to_string(&path)?;
            let expected = std::fs::read_to_string(path.with_extension("expected"))?;
            cases.push((body, expected));
        }
    }
    cases.sort();
    let passed = cases
        .iter()
        .filter(|(body, expected)| split_reply(body).reply.trim() == expected.trim())
        .count();
    println!(
        "reply fixtures: {passed} of {} give the expected visible reply",
        cases.len()
    );
    let ours_path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../channels/tests/data/replies.txt");
    let ours =
        std::fs::read_to_string(&ours_path).with_context(|| format!("{}", ours_path.display()))?;
    let mut written = 0;
    let mut right = 0;
    for block in ours.split("=== case: ").skip(1) {
        let Some((body, reply)) = block
            .split_once('\n')
            .and_then(|(_, rest)| rest.split_once("\n=== reply\n"))
            .and_then(|(body, rest)| Some((body, rest.split_once("\n=== end")?.0)))
        else {
            anyhow::bail!("{}: a case without its reply", ours_path.display());
        };
        written += 1;
        if split_reply(body).reply == reply.trim_end() {
            right += 1;
        }
    }
    println!("our written reply cases: {right} of {written} give the expected visible reply");

    let raws: Vec<Vec<u8>> = cases
        .iter()
        .enumerate()
        .map(|(i, (body, _))| {
            format!(
                "From: Client {i} <client{i}@example.com>\r\nTo: support@acme.test\r\nSubject: Re: case {i}\r\n\
                 Message-ID: <m{i}@example.com>\r\nIn-Reply-To: <sb{i}@acme.test>\r\n\
                 Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}",
                body.replace("\r\n", "\n").replace('\n', "\r\n")
            )
            .into_bytes()
        })
        .collect();
    let bytes: usize = raws.iter().map(Vec::len).sum();
    let rounds = 300;
    let started = Instant::now();
    let mut words = 0usize;
    for _ in 0..rounds {
        for raw in &raws {
            words += parse(raw)?.reply_text.len();
        }
    }
    let parse_rate = (rounds * raws.len()) as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    for _ in 0..rounds {
        for (body, _) in &cases {
            words += split_reply(body).reply.len();
        }
    }
    let split_rate = (rounds * cases.len()) as f64 / started.elapsed().as_secs_f64();
    println!(
        "parse (MIME + headers + reply split): {parse_rate:.0} messages/s; split alone: {split_rate:.0} bodies/s \
         ({} messages, {:.1} KiB on average; {words} characters kept)",
        raws.len(),
        bytes as f64 / raws.len() as f64 / 1024.0
    );
    let mime_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../channels/tests/data/mime");
    let mut mails = Vec::new();
    for entry in std::fs::read_dir(&mime_dir).with_context(|| format!("{}", mime_dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "eml") {
            mails.push(std::fs::read(&path)?);
        }
    }
    let bytes: usize = mails.iter().map(Vec::len).sum();
    let rounds = 200;
    let started = Instant::now();
    for _ in 0..rounds {
        for raw in &mails {
            words += parse(raw)?.reply_text.len();
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "parse, the written raw mail: {:.0} messages/s, {:.1} MiB/s ({} messages, {:.1} KiB on average; {words} characters kept)",
        (rounds * mails.len()) as f64 / secs,
        (rounds * bytes) as f64 / secs / 1024.0 / 1024.0,
        mails.len(),
        bytes as f64 / mails.len().max(1) as f64 / 1024.0
    );
    Ok(())
}
