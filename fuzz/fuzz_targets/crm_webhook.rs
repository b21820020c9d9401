//! `POST /webhooks/crm`: the signature check over any body and header, then any JSON body read
//! as CRM events with the built-in mapping, and each usable event's object mapped to our fields.
#![no_main]

use coordinator::integrations::crm::{self, inbound, Mapping};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let header = String::from_utf8_lossy(body.split(|b| *b == b'\n').next().unwrap_or_default());
    assert!(!crm::verify("crm-secret", body, &header));
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    let mapping = Mapping::built_in();
    for event in inbound::events(&value, &mapping).into_iter().flatten() {
        assert!(!event.external_id.is_empty());
        if let Some(object) = mapping.objects.get(&event.object) {
            let _ = object.fields_of(&event.data);
        }
    }
});
