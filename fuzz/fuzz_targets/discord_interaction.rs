//! `POST /webhooks/discord`: the Ed25519 check over any signature, timestamp and body, then any
//! JSON body read as an interaction and normalized (`to_event`, `ephemeral`), as the handler
//! does after the check.
#![no_main]

use coordinator::channels::discord::inbound::Verifier;
use coordinator::channels::discord::interaction::{deferred, to_event, Interaction};
use libfuzzer_sys::fuzz_target;

/// Any valid Ed25519 public key will do: no fuzzer input is signed by it.
const PUBLIC_KEY: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

fuzz_target!(|body: &[u8]| {
    let verifier = Verifier::from_hex(PUBLIC_KEY).expect("a valid key");
    let text = String::from_utf8_lossy(body);
    let mut parts = text.splitn(3, '\n');
    let (signature, timestamp) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    assert!(!verifier.verify(signature, timestamp, body));
    let _ = Verifier::from_hex(&text);

    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    let Ok(interaction) = serde_json::from_value::<Interaction>(value) else {
        return;
    };
    let _ = interaction.ephemeral();
    let _ = deferred(&interaction);
    if let Some(event) = to_event(&interaction) {
        assert!(!event.text.contains('\0'), "NUL reached the conversation");
        let _ = event.identity();
    }
});
