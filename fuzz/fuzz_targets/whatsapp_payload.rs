//! `POST /webhooks/whatsapp`: the signature check over any body and header, then any JSON body
//! through `inbound::parse` (messages, statuses, errors), for our number and for none.
#![no_main]

use chrono::{TimeZone, Utc};
use coordinator::channels::whatsapp::{inbound, webhook};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    // The header is whatever the first line is, the body the rest: a valid HMAC is out of
    // reach for the fuzzer, but the header's reading (prefix, hex, length) is not.
    let (header, rest) = match body.iter().position(|b| *b == b'\n') {
        Some(at) => (&body[..at], &body[at + 1..]),
        None => (body, &[][..]),
    };
    assert!(!webhook::signature_valid(
        "app-secret",
        rest,
        std::str::from_utf8(header).ok()
    ));
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    let now = Utc.with_ymd_and_hms(2030, 1, 15, 12, 0, 0).unwrap();
    for ours in [Some("106540352242922"), None] {
        let notification = inbound::parse(&value, ours, now);
        for event in &notification.events {
            assert!(event.received_at <= now, "a message from the future");
            let _ = event.identity();
        }
    }
});
