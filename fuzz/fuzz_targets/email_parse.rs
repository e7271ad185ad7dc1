//! Any bytes, read as a raw message: never a panic, never a stall, and a message that is
//! read keeps every word of its text in the visible reply or the rest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_channels::email::parse::parse;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = parse(data) {
        let words = |s: &str| s.split_whitespace().count();
        assert_eq!(
            words(&p.reply_text) + words(&p.quoted_text),
            words(&p.full_text),
            "every word is in the reply or the rest"
        );
    }
});
