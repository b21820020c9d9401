//! `POST /webhooks/zendesk`: the signature check (base64 HMAC over timestamp + body) with any
//! signature and timestamp, then any JSON body searched for the ticket it is about.
#![no_main]

use coordinator::integrations::zendesk::webhook::{ticket_id, verify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let text = String::from_utf8_lossy(body);
    let mut lines = text.splitn(3, '\n');
    let (signature, timestamp) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    assert!(!verify("zendesk-secret", timestamp, body, signature));
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    if let Some(id) = ticket_id(&value) {
        assert!(id > 0);
    }
});
