//! Any bytes as a WhatsApp webhook delivery: never a panic, and a body that reads gives one
//! event per message and status it carries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_channels::whatsapp::read;

fuzz_target!(|data: &[u8]| {
    let Ok(events) = read(data) else {
        return;
    };
    let Ok(root) = serde_json::from_slice::<serde_json::Value>(data) else {
        panic!("read a body that is not JSON");
    };
    let mut carried = 0;
    for entry in root["entry"].as_array().into_iter().flatten() {
        for change in entry["changes"].as_array().into_iter().flatten() {
            for key in ["messages", "statuses"] {
                carried += change["value"][key].as_array().map_or(0, Vec::len);
            }
        }
    }
    assert_eq!(events.len(), carried, "one event per message and status");
});
