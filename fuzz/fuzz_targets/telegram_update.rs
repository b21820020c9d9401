//! `POST /webhooks/telegram`: any body, read as the handler reads it (the `Update` JSON, then
//! `to_event`), with and without a known bot username (mentions in groups).
#![no_main]

use coordinator::channels::telegram::inbound::read_webhook_body;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(Some(event)) = read_webhook_body(body, Some("coord_bot")) {
        assert!(!event.text.contains('\0'), "NUL reached the conversation");
        let _ = event.identity();
    }
    let _ = read_webhook_body(body, None);
});
