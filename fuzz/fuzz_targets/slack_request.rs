//! `POST /webhooks/slack`: the signature check over any signature, timestamp and body, then any
//! body read as Slack posts them (Events API JSON, a slash command form, an interaction form
//! with its JSON `payload`), as the handler does after the check.
#![no_main]

use coordinator::channels::slack::signature::Verifier;
use coordinator::channels::slack::webhook::{read, Incoming, Read};
use coordinator::config::Secret;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let verifier = Verifier::new(Secret::new("8f742231b10e8888abcd99yyyzzz85a5"));
    let text = String::from_utf8_lossy(body);
    let mut parts = text.splitn(3, '\n');
    let (signature, timestamp) = (parts.next(), parts.next());
    let now = timestamp.and_then(|t| t.trim().parse().ok()).unwrap_or(0);
    assert!(verifier.verify(signature, timestamp, body, now).is_err());
    for is_form in [false, true] {
        if let Read::Store(incoming) = read(is_form, body) {
            let event = match &incoming {
                Incoming::Event(event) => event.as_ref(),
                Incoming::Interaction(stored) => &stored.event,
            };
            assert!(!event.text.contains('\0'), "NUL reached the conversation");
            let _ = event.identity();
            // A response URL (a credential) never travels in a chat id.
            assert!(!event.chat_id.contains("http"), "{}", event.chat_id);
        }
    }
});
