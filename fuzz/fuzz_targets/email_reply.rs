//! Any text, split into the visible reply and the rest: never a panic, no line lost, and a
//! body with text never loses it all.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_channels::email::split_reply;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    let split = split_reply(body);
    let words = |s: &str| s.split_whitespace().count();
    assert_eq!(
        words(&split.reply) + words(&split.rest),
        words(&body.replace("\r\n", "\n").replace('\r', "\n")),
        "every word is in the reply or the rest"
    );
});
