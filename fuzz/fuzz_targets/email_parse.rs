//! Any bytes, read as a raw message: never a panic, never a stall, and a plain-text
//! message that is read keeps every word of its text in the visible reply or the rest
//! (HTML is cut at its quote before it becomes text, so its words are counted apart).
//! The same bytes read as Outlook's TNEF and as compressed RTF: never a panic, and a
//! file read from a stream lies within it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_channels::email::parse::parse;
use switchboard_channels::email::tnef;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = parse(data)
        && p.html.is_none()
    {
        let words = |s: &str| s.split_whitespace().count();
        assert_eq!(
            words(&p.reply_text) + words(&p.quoted_text),
            words(&p.full_text),
            "every word is in the reply or the rest"
        );
    }
    if let Some(t) = tnef::read(data) {
        assert!(t.files.iter().all(|f| f.data.len() <= data.len()));
        let _ = t.text();
    }
    if let Some(rtf) = tnef::decompress_rtf(data) {
        let _ = tnef::rtf_text(&rtf);
    }
    let _ = tnef::rtf_text(data);
});
